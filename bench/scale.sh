#!/usr/bin/env bash
# bench/scale.sh: the proof at scale (docs/performance.md, "Checks at scale").
#
#   bench/scale.sh [workdir]                 # all three parts
#   PARTS="252m 1b" bench/scale.sh [workdir]  # some of them
#
# 252m: `grow expand` (HyperCloning ×2) of the synthetic 252M Llama of
#       bench/expand.sh with its default check (8 probes × 32 tokens, f64):
#       wall time, peak RSS, the check's achieved GFLOPS (its "cost" line) and,
#       in the same run, OpenBLAS's DGEMM rate (numpy, threadpoolctl limited to
#       the thread count grow uses, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset
#       for that one command) on a 1024³ product and on a product shaped like
#       the check's (256 positions through a 2048×5632 matrix).
# 1b:   the same for a synthetic 1.1B Llama (hidden 2048, 22 layers, 32 heads, 4
#       key/value heads, FFN 5632, vocabulary 32000, F32).
# 7b:   a synthetic 7B-shaped Llama (hidden 4096, 32 layers, 32/8 heads, FFN
#       14336, vocabulary 32000, BF16, about 13.5 GB): `grow probe` of 16 tokens
#       and `grow check M M --probes 1 --seq-len 16`, wall time and peak RSS.
#
# The models are made by bench/synthllama (random weights, not committed) and
# deleted at the end (KEEP=1 keeps them). Each grow command runs once, its
# inputs in the page cache where they fit. Limits (issue "the proof at any
# size"): 252m peak RSS ≤ 1.5 GB and check GFLOPS ≥ 40% of OpenBLAS; 1b EXACT
# with peak RSS ≤ 3 GB; 7b peak RSS ≤ 2 GB.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-$(mktemp -d -t growscale.XXXXXX)}
PARTS=${PARTS:-252m 1b 7b}
PYTHON=${GROW_PYTHON:-$HOME/.cache/grow/venv/bin/python}
THREADS=$(nproc)
mkdir -p "$WORK"
cleanup() { [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"/m-* ; }
trap cleanup EXIT

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)," \
	"$(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//'), $(uname -sr), $(go version | cut -d' ' -f3)"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD), load $(cut -d' ' -f1-3 /proc/loadavg)"
CGO_ENABLED=0 go build -o "$WORK/grow" ./cmd/grow

# openblas prints numpy/OpenBLAS DGEMM GFLOPS on THREADS threads: a 1024³
# product and one shaped like a check's (256 × 2048 · 2048 × 5632).
openblas() {
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS="$THREADS" "$PYTHON" - "$THREADS" <<'PY'
import sys, time
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits
threads = int(sys.argv[1])
def rate(m, n, k):
    a, b = np.random.default_rng(1).random((m, k)), np.random.default_rng(2).random((k, n))
    a @ b
    best = 1e9
    for _ in range(5):
        t = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - t)
    return 2.0 * m * n * k / best / 1e9
with threadpool_limits(threads):
    info = threadpool_info()[0]
    print(f"openblas {info.get('version')} kernel {info.get('architecture')} threads {info.get('num_threads')}: "
          f"dgemm 1024^3 {rate(1024, 1024, 1024):.1f} GFLOPS, 256x5632x2048 {rate(256, 5632, 2048):.1f} GFLOPS")
PY
}

# timed CMD...: runs CMD under /usr/bin/time, its output into $WORK/out.txt;
# sets secs and rss_mb.
timed() {
	/usr/bin/time -f '%e %M' -o "$WORK/time.txt" "$@" >"$WORK/out.txt" 2>&1 || {
		cat "$WORK/out.txt"
		echo "FAILED: $*"
		exit 1
	}
	read -r secs kb <"$WORK/time.txt"
	rss_mb=$((kb / 1024))
}

# expand_part NAME SYNTH-FLAGS: make the model, expand it ×2 with the check.
expand_part() {
	local name=$1
	shift
	[ -f "$WORK/m-$name/config.json" ] || go run ./bench/synthllama "$@" -o "$WORK/m-$name" >/dev/null
	cat "$WORK/m-$name"/*.safetensors >/dev/null
	rm -rf "$WORK/m-$name-x2"
	timed "$WORK/grow" expand "$WORK/m-$name" -o "$WORK/m-$name-x2" --method hypercloning --width-factor 2
	local est cost verdict gflops
	est=$(grep '^estimate' "$WORK/out.txt")
	cost=$(grep '^cost' "$WORK/out.txt")
	verdict=$(grep '^verdict' "$WORK/out.txt")
	gflops=$(sed -n 's/.*(\([0-9.]*\) GFLOPS achieved.*/\1/p' "$WORK/out.txt")
	echo
	echo "== $name ×2 expand with its default check: ${secs} s, peak RSS ${rss_mb} MiB"
	echo "   $est"
	echo "   $cost"
	echo "   $verdict"
	ob=$(openblas)
	echo "   $ob"
	local ref
	ref=$(sed -n 's/.*dgemm 1024^3 \([0-9.]*\) GFLOPS.*/\1/p' <<<"$ob")
	awk -v g="$gflops" -v o="$ref" 'BEGIN { printf "   check / OpenBLAS dgemm 1024^3: %.0f%%\n", 100 * g / o }'
	rm -rf "$WORK/m-$name-x2"
}

for part in $PARTS; do
	case $part in
	252m) expand_part 252m -layers 16 ;;
	1b) expand_part 1b -hidden 2048 -layers 22 -heads 32 -kv-heads 4 -ffn 5632 -vocab 32000 ;;
	7b)
		[ -f "$WORK/m-7b/config.json" ] || go run ./bench/synthllama -hidden 4096 -layers 32 -heads 32 -kv-heads 8 \
			-ffn 14336 -vocab 32000 -dtype bf16 -o "$WORK/m-7b" >/dev/null
		echo
		echo "== 7B-shaped BF16 ($(du -sh "$WORK/m-7b" | cut -f1)), page cache cold or partly warm"
		timed "$WORK/grow" probe "$WORK/m-7b" --ids 1,450,2000,31999,7,7,12,900,15000,3,4,5,6,7,8,9
		echo "   grow probe, 16 tokens: ${secs} s, peak RSS ${rss_mb} MiB"
		timed "$WORK/grow" check "$WORK/m-7b" "$WORK/m-7b" --probes 1 --seq-len 16
		echo "   grow check M M --probes 1 --seq-len 16: ${secs} s, peak RSS ${rss_mb} MiB"
		echo "   $(grep '^estimate' "$WORK/out.txt")"
		echo "   $(grep '^cost' "$WORK/out.txt")"
		echo "   $(grep '^verdict' "$WORK/out.txt")"
		;;
	*)
		echo "unknown part $part (want 252m, 1b or 7b)" >&2
		exit 2
		;;
	esac
done
