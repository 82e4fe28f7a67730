#!/usr/bin/env bash
# Benchmark of depth growth: identity blocks and layer duplication of the synthetic 252M Llama
# (bench/synthllama -layers 16) to 1.5× its depth (24 layers), each against cp of the same output
# bytes in the same run, with the limits of issue 9: throughput ≥ 0.8 × cp and peak RSS ≤ 3 × the
# largest tensor (the [32000, 1024] float32 embedding / head, 131 MB) + 128 MiB. Copied layers are
# byte copies of the source's tensors, so the work is mostly the kernel's.
# Usage: bench/depth.sh [workdir]   (RUNS, SETTLE and KEEP as in bench/expand.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-$(mktemp -d -t growdepth.XXXXXX)}
largest=$((32000 * 1024 * 4))
echo "== identity blocks 16 -> 24"
FLAGS="--method identity --layers 24" LIMIT=0.80 LARGEST=$largest KEEP=1 bash bench/expand.sh "$WORK"
echo
echo "== duplicate 0-16,4-12 (16 -> 24)"
FLAGS="--method duplicate --ranges 0-16,4-12" LIMIT=0.80 LARGEST=$largest KEEP=${KEEP:-0} bash bench/expand.sh "$WORK"
