#!/usr/bin/env bash
# bench/gemm.sh: matrix-product throughput of internal/gemm against OpenBLAS
# (through numpy) on this machine, in one run, on the same shapes.
#
#   bench/gemm.sh                    # single thread, every kernel, best of 3
#   THREADS=2 COUNT=5 bench/gemm.sh  # both sides limited to 2 threads
#   KERNELS=avx512 bench/gemm.sh     # one kernel (avx512, avx2 or go)
#
# grow's side is `go test ./internal/gemm -bench Gemm -cpu $THREADS` (every
# micro-kernel this CPU runs, the portable Go one included, on cubes, the
# forward pass's shapes of a 100M and a 7B Llama and attention's two
# products); the shapes are read from the benchmark names. OpenBLAS's side is
# numpy's matmul, in float32 and float64, limited to $THREADS threads with
# OPENBLAS_NUM_THREADS and threadpoolctl, with OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE unset for that one command so that OpenBLAS picks the
# kernel it would pick for this CPU (the kernel it runs is printed). Both
# report the best of COUNT measurements; GFLOPS = 2·m·n·k / time.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-1}
COUNT=${COUNT:-3}
KERNELS=${KERNELS:-.}
PYTHON=${GROW_PYTHON:-$HOME/.cache/grow/venv/bin/python}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/grow-gemm-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

echo "machine: $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//')," \
	"$(grep -o -w -E 'avx512f|avx2|fma' /proc/cpuinfo | sort -u | tr '\n' ' ')$(uname -sr), $(go version | cut -d' ' -f3)"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- internal/gemm || echo ' (internal/gemm modified)'), load $(cut -d' ' -f1-3 /proc/loadavg)"

go test ./internal/gemm -run '^$' -bench "Gemm/f(32|64)/($KERNELS)/" -cpu "$THREADS" -count "$COUNT" | tee "$WORK/go.txt" | grep -c GFLOPS | sed 's/$/ grow measurements/'

env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS="$THREADS" \
	"$PYTHON" - "$WORK/go.txt" "$THREADS" "$COUNT" <<'PY'
import re, sys, time
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

gofile, threads, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
# BenchmarkGemm/f32/avx512/7B-down/128x4096x14336-Bt[-2]  N  ns/op  G GFLOPS
pat = re.compile(r"^BenchmarkGemm/(f32|f64)/(\w+)/([\w-]+)/(\d+)x(\d+)x(\d+)(-Bt)?(?:-\d+)?\s.*?([\d.]+) GFLOPS")
best, kernels, shapes = {}, [], []
for line in open(gofile):
    m = pat.match(line)
    if not m:
        continue
    prec, kern, name, M, N, K, bt, g = m.groups()
    shape = (name, int(M), int(N), int(K), bool(bt))
    key = (prec, kern, shape)
    best[key] = max(best.get(key, 0.0), float(g))
    if kern not in kernels:
        kernels.append(kern)
    if shape not in shapes:
        shapes.append(shape)

def openblas(dtype, M, N, K, bt):
    rng = np.random.default_rng(1)
    a = rng.random((M, K), dtype=dtype)
    b = rng.random((N, K) if bt else (K, N), dtype=dtype)
    f = (lambda: a @ b.T) if bt else (lambda: a @ b)
    f()
    reps = max(1, int(0.2 / max(1e-7, timeit(f))))  # about 0.2 s per measurement
    return max(reps * 2.0 * M * N * K / timeit(f, reps) / 1e9 for _ in range(count))

def timeit(f, reps=1):
    t = time.perf_counter()
    for _ in range(reps):
        f()
    return time.perf_counter() - t

with threadpool_limits(threads):
    for i in threadpool_info():
        print(f"OpenBLAS: numpy {np.__version__}, {i.get('internal_api')} {i.get('version')}, "
              f"kernel {i.get('architecture')}, {i.get('num_threads')} thread(s)")
    print(f"grow: go test ./internal/gemm -bench Gemm -cpu {threads}; best of {count}; GFLOPS\n")
    head = "| prec | shape (m×n×k) | " + " | ".join(f"grow {k}" for k in kernels) + " | OpenBLAS | " + \
        " | ".join(f"{k} / OpenBLAS" for k in kernels if k != "go") + " |"
    print(head)
    print("|" + "---|" * head.count(" | ") + "---|")
    for prec, dtype in (("f32", np.float32), ("f64", np.float64)):
        for shape in shapes:
            name, M, N, K, bt = shape
            ob = openblas(dtype, M, N, K, bt)
            g = [best.get((prec, k, shape)) for k in kernels]
            cells = [f"{x:.1f}" if x else "—" for x in g]
            ratios = [f"{100 * x / ob:.0f}%" if x else "—" for k, x in zip(kernels, g) if k != "go"]
            print(f"| {prec} | {name} {M}×{N}×{K}{'·Bᵀ' if bt else ''} | " + " | ".join(cells) +
                  f" | {ob:.1f} | " + " | ".join(ratios) + " |")
PY
