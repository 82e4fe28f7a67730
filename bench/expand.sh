#!/usr/bin/env bash
# Benchmark of `grow expand`: 2× HyperCloning of a synthetic ~252M-parameter Llama
# (float32, untied head, GQA). Reports wall time and peak RSS of grow expand, the
# time `cp` needs to copy the same output bytes, and the two limits of
# docs/performance.md: peak RSS ≤ 3 × largest output tensor (f32) + 128 MiB and
# throughput ≥ 0.6 × cp. Inputs are generated here and deleted at the end
# (KEEP=1 keeps them). Usage: bench/expand.sh [workdir]
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-$(mktemp -d -t growbench.XXXXXX)}
mkdir -p "$WORK"
cleanup() { [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK/src" "$WORK/out" "$WORK/out-cp"; }
trap cleanup EXIT

go build -o "$WORK/grow" ./cmd/grow
go run ./bench/expandsynth -o "$WORK/src"
src_bytes=$(du -sb "$WORK/src" | cut -f1)
sync
# Warm the page cache with the source so both runs read it from memory.
cat "$WORK"/src/*.safetensors > /dev/null

rm -rf "$WORK/out"
/usr/bin/time -f '%e %M' -o "$WORK/time.txt" \
	"$WORK/grow" expand "$WORK/src" -o "$WORK/out" --method hypercloning --width-factor 2 --no-check --quiet
sync
read -r grow_s grow_kb < "$WORK/time.txt"
out_bytes=$(du -sb "$WORK/out" | cut -f1)

rm -rf "$WORK/out-cp"
/usr/bin/time -f '%e %M' -o "$WORK/time-cp.txt" cp -r "$WORK/out" "$WORK/out-cp"
sync
read -r cp_s _ < "$WORK/time-cp.txt"

# Largest output tensor: embed / lm_head [32000, 2048] float32.
largest=$((32000 * 2048 * 4))
limit_kb=$(( (3 * largest + 128 * 1024 * 1024) / 1024 ))
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "cpu: $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//')"
echo "source bytes: $src_bytes  output bytes: $out_bytes"
echo "grow expand: ${grow_s}s, peak RSS $((grow_kb / 1024)) MiB (limit $((limit_kb / 1024)) MiB)"
echo "cp -r of the output: ${cp_s}s"
awk -v g="$grow_s" -v c="$cp_s" -v b="$out_bytes" 'BEGIN {
	printf "throughput: grow %.0f MB/s, cp %.0f MB/s, ratio %.2f (limit ≥ 0.60)\n", b/g/1e6, b/c/1e6, c/g }'
[ "$grow_kb" -le "$limit_kb" ] && echo "RSS: within limit" || echo "RSS: OVER LIMIT"
