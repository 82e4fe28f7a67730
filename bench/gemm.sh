#!/usr/bin/env bash
# bench/gemm.sh: matrix-product throughput of internal/gemm against OpenBLAS
# (through numpy) on this machine, in one run, on the same shapes.
#
#   bench/gemm.sh                    # single thread, every kernel, best of 3
#   THREADS=2 COUNT=5 bench/gemm.sh  # both sides limited to 2 threads
#   KERNELS=avx512 bench/gemm.sh     # one kernel (avx512, avx2 or go)
#
# grow's side is BenchmarkGemm of internal/gemm with -cpu $THREADS: every
# micro-kernel this CPU runs (the portable Go one included) on cubes, the
# forward pass's shapes of a 100M and a 7B Llama and attention's two products;
# the shapes are read from the benchmark names. OpenBLAS's side is numpy's
# matmul on the same shapes and precision, limited to $THREADS threads with
# OPENBLAS_NUM_THREADS and threadpoolctl, with OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE unset for that one command so that OpenBLAS picks the kernel
# it would pick for this CPU (the kernel it runs is printed). The two sides
# alternate shape by shape, COUNT rounds, so that load from other processes
# hits both alike; each cell is the best of its COUNT measurements.
# GFLOPS = 2·m·n·k / time.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-1}
COUNT=${COUNT:-3}
KERNELS=${KERNELS:-avx512|avx2|go}
PYTHON=${GROW_PYTHON:-$HOME/.cache/grow/venv/bin/python}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/grow-gemm-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

echo "machine: $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//')," \
	"$(grep -o -w -E 'avx512f|avx2|fma' /proc/cpuinfo | sort -u | tr '\n' ' ')$(uname -sr), $(go version | cut -d' ' -f3)"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- internal/gemm || echo ' (internal/gemm modified)'), load $(cut -d' ' -f1-3 /proc/loadavg)"
go test -c -o "$WORK/gemm.test" ./internal/gemm

env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS="$THREADS" \
	"$PYTHON" - "$WORK/gemm.test" "$THREADS" "$COUNT" "$KERNELS" <<'PY'
import re, subprocess, sys, time
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

test, threads, count, kernels_re = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
# BenchmarkGemm/f32/avx512/7B-down/128x4096x14336-Bt[-2]  N  ns/op  G GFLOPS
pat = re.compile(r"^BenchmarkGemm/(f32|f64)/(\w+)/([\w-]+)/((\d+)x(\d+)x(\d+)(-Bt)?)(?:-\d+)?\s.*?([\d.]+) GFLOPS")

def grow(bench, benchtime="1s"):
    out = subprocess.run([test, "-test.run", "^$", "-test.bench", bench, "-test.benchtime", benchtime,
                          "-test.cpu", str(threads)], capture_output=True, text=True, check=True).stdout
    return [m.groups() for m in map(pat.match, out.splitlines()) if m]

def timeit(f, reps=1):
    t = time.perf_counter()
    for _ in range(reps):
        f()
    return time.perf_counter() - t

def openblas(dtype, M, N, K, bt):
    rng = np.random.default_rng(1)
    a = rng.random((M, K), dtype=dtype)
    b = rng.random((N, K) if bt else (K, N), dtype=dtype)
    f = (lambda: a @ b.T) if bt else (lambda: a @ b)
    f()
    reps = max(1, int(0.3 / max(1e-7, timeit(f))))  # about 0.3 s per measurement
    return reps * 2.0 * M * N * K / timeit(f, reps) / 1e9

# The shapes and kernels, from one quick pass over the benchmarks.
kernels, shapes = [], []
for prec, kern, name, dims, M, N, K, bt, _ in grow(f"^BenchmarkGemm$/^f(32|64)$/^({kernels_re})$/", "1x"):
    kernels += [kern] if kern not in kernels else []
    shapes += [(prec, name, dims, int(M), int(N), int(K), bool(bt))] if (prec, name, dims, int(M), int(N), int(K), bool(bt)) not in shapes else []

if not shapes:
    sys.exit(f"no benchmark matches the kernels {kernels_re!r}")
best = {}
with threadpool_limits(threads):
    for i in threadpool_info():
        print(f"OpenBLAS: numpy {np.__version__}, {i.get('internal_api')} {i.get('version')}, "
              f"kernel {i.get('architecture')}, {i.get('num_threads')} thread(s)")
    for r in range(count):
        for prec, name, dims, M, N, K, bt in shapes:
            for _, kern, _, _, _, _, _, _, g in grow(f"^BenchmarkGemm$/^{prec}$/^({kernels_re})$/^{name}$/^{dims}$"):
                best[(prec, name, dims, kern)] = max(best.get((prec, name, dims, kern), 0.0), float(g))
            ob = openblas(np.float32 if prec == "f32" else np.float64, M, N, K, bt)
            best[(prec, name, dims, "OpenBLAS")] = max(best.get((prec, name, dims, "OpenBLAS"), 0.0), ob)
        print(f"round {r + 1} of {count} done, load {open('/proc/loadavg').read().split()[0]}", flush=True)

print(f"\ngrow: BenchmarkGemm -cpu {threads}; OpenBLAS: numpy, {threads} thread(s); best of {count}; GFLOPS\n")
asm = [k for k in kernels if k != "go"]
head = "| prec | shape | m×n×k | " + " | ".join(f"grow {k}" for k in kernels) + " | OpenBLAS | " + \
    " | ".join(f"{k} / OpenBLAS" for k in asm) + " |"
print(head)
print("|" + "---|" * (head.count(" | ") + 1))
for prec, name, dims, M, N, K, bt in shapes:
    ob = best[(prec, name, dims, "OpenBLAS")]
    g = [best.get((prec, name, dims, k)) for k in kernels]
    cells = [f"{x:.1f}" if x else "—" for x in g]
    ratios = [f"{100 * x / ob:.0f}%" if x else "—" for k, x in zip(kernels, g) if k != "go"]
    print(f"| {prec} | {name} | {M}×{N}×{K}{'·Bᵀ' if bt else ''} | " + " | ".join(cells) +
          f" | {ob:.1f} | " + " | ".join(ratios) + " |")
PY
