#!/usr/bin/env bash
# Benchmark of `grow expand`: 2× HyperCloning of a synthetic ~252M-parameter Llama
# (float32, hidden 1024, 16 layers, GQA 16/8 heads, FFN 2816, vocab 32000, untied
# head; made by bench/synthllama -layers 16, not committed). Reports wall and CPU time and
# peak RSS of `grow expand --no-check`, the time `cp -r` needs to copy the same
# output bytes, and the limits of docs/performance.md: peak RSS ≤ 3 × the largest
# output tensor (f32) + 128 MiB, throughput ≥ 0.6 × cp.
#
# The two commands run RUNS times (default 3), alternately, each after a sync;
# the best run of each is compared, since on a shared machine other processes
# slow single runs down. Each command starts after a sync and SETTLE seconds
# (default 5) of quiet. Inputs are deleted at the end (KEEP=1 keeps them).
# FLAGS (default "--method hypercloning --width-factor 2") are the grow expand flags and
# LIMIT (default 0.60) the throughput limit against cp; LARGEST (default the [32000, 2048]
# float32 head of ×2 growth) the largest output tensor in bytes, for the RSS limit.
# Usage: bench/expand.sh [workdir]
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-$(mktemp -d -t growbench.XXXXXX)}
RUNS=${RUNS:-3}
mkdir -p "$WORK"
cleanup() { [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK/src" "$WORK/out" "$WORK/out-cp"; }
trap cleanup EXIT

go build -o "$WORK/grow" ./cmd/grow
[ -f "$WORK/src/model.safetensors" ] || go run ./bench/synthllama -layers 16 -o "$WORK/src"
src_bytes=$(du -sb "$WORK/src" | cut -f1)
cat "$WORK"/src/*.safetensors > /dev/null # source in the page cache for every run

best_g=""; best_c=""; best_rss=0; best_cpu=""
for i in $(seq "$RUNS"); do
	# both commands start on a settled file system: deleting gigabytes on a
	# "discard" mount keeps the disk busy for seconds after the rm returns
	rm -rf "$WORK/out" "$WORK/out-cp"; sync; sleep "${SETTLE:-5}"
	/usr/bin/time -f '%e %M %U %S' -o "$WORK/time.txt" \
		"$WORK/grow" expand "$WORK/src" -o "$WORK/out" ${FLAGS:---method hypercloning --width-factor 2} --no-check --quiet
	read -r g kb u s < "$WORK/time.txt"
	sync; sleep "${SETTLE:-5}"
	/usr/bin/time -f '%e' -o "$WORK/time-cp.txt" cp -r "$WORK/out" "$WORK/out-cp"
	read -r c < "$WORK/time-cp.txt"
	echo "run $i: grow ${g}s (cpu user ${u}s sys ${s}s, peak RSS $((kb / 1024)) MiB), cp ${c}s, load $(cut -d' ' -f1 /proc/loadavg)"
	if [ -z "$best_g" ] || awk -v a="$g" -v b="$best_g" 'BEGIN{exit !(a<b)}'; then best_g=$g; best_cpu="user ${u}s sys ${s}s"; fi
	if [ -z "$best_c" ] || awk -v a="$c" -v b="$best_c" 'BEGIN{exit !(a<b)}'; then best_c=$c; fi
	[ "$kb" -gt "$best_rss" ] && best_rss=$kb
done
out_bytes=$(du -sb "$WORK/out" | cut -f1)

largest=${LARGEST:-$((32000 * 2048 * 4))} # embed / lm_head [32000, 2048] float32 under ×2
limit_kb=$(( (3 * largest + 128 * 1024 * 1024) / 1024 ))
echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//'), $(uname -sr), $(df -T "$WORK" | awk 'NR==2 {print $2}')"
echo "source bytes: $src_bytes  output bytes: $out_bytes  largest output tensor (f32): $largest"
echo "grow expand best: ${best_g}s ($best_cpu); peak RSS (worst run) $((best_rss / 1024)) MiB, limit $((limit_kb / 1024)) MiB"
echo "cp -r best: ${best_c}s"
awk -v g="$best_g" -v c="$best_c" -v b="$out_bytes" -v lim="${LIMIT:-0.60}" 'BEGIN {
	printf "throughput: grow %.0f MB/s, cp %.0f MB/s, ratio %.2f (limit ≥ %s)\n", b/g/1e6, b/c/1e6, c/g, lim }'
[ "$best_rss" -le "$limit_kb" ] && echo "RSS: within limit" || echo "RSS: OVER LIMIT"
