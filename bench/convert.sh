#!/usr/bin/env bash
# bench/convert.sh: peak memory and speed of `grow convert` on a synthetic
# Llama-shaped checkpoint of about 1 GiB, against `cp -r` of the same directory.
#
#   bench/convert.sh            # 5 runs of each
#   RUNS=3 LAYERS=18 bench/convert.sh
#
# Everything is written to a temporary directory that is removed at the end.
# Both commands read a source that is in the page cache (a first cp warms it) and
# write into the page cache; `sync` runs before each timed command so that one
# run's write-back does not slow the next. Peak RSS is the kernel's VmHWM (via
# /usr/bin/time when present): grow reads with pread, so page-cache pages do not
# count, only the process's own memory.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
LAYERS=${LAYERS:-18}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/grow-convert-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

go build -o "$WORK/grow" ./cmd/grow
go build -o "$WORK/synthllama" ./bench/synthllama
go build -o "$WORK/convertcopy" ./bench/convertcopy

# Use `grow convert` when it works; otherwise the same read → write path
# (checkpoint.Open + WriteDir with CopyEntry) through bench/convertcopy.
CONVERT=("$WORK/grow" convert)
if ! "$WORK/grow" convert testdata/stories260k -o "$WORK/probe" --quiet >/dev/null 2>&1; then
	echo "note: 'grow convert' is not available; measuring bench/convertcopy (checkpoint.Open + WriteDir + CopyEntry)"
	CONVERT=("$WORK/convertcopy")
fi
rm -rf "$WORK/probe"

"$WORK/synthllama" -o "$WORK/src" -layers "$LAYERS"
BYTES=$(du -sb "$WORK/src" | cut -f1)

# measure NAME CMD...: appends "NAME wall_seconds peak_rss_kib" to $WORK/results.
measure() {
	local name=$1
	shift
	sync
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f "%e %M" -o "$WORK/time.out" "$@" >/dev/null
		echo "$name $(cat "$WORK/time.out")" >>"$WORK/results"
	else
		local start end pid hwm=0 v
		start=$(date +%s.%N)
		"$@" >/dev/null &
		pid=$!
		while kill -0 "$pid" 2>/dev/null; do
			v=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
			[ -n "$v" ] && [ "$v" -gt "$hwm" ] && hwm=$v
			sleep 0.02
		done
		wait "$pid"
		end=$(date +%s.%N)
		echo "$name $(echo "$end - $start" | bc) $hwm" >>"$WORK/results"
	fi
}

# One untimed conversion, checked: every tensor of the output equals the source.
"${CONVERT[@]}" "$WORK/src" -o "$WORK/out" --quiet
"$WORK/convertcopy" "$WORK/src" -o "$WORK/out" -verify
rm -rf "$WORK/out"

cp -r "$WORK/src" "$WORK/warm" && rm -rf "$WORK/warm" # page cache warm-up
: >"$WORK/results"
for _ in $(seq "$RUNS"); do
	measure cp cp -r "$WORK/src" "$WORK/cp"
	rm -rf "$WORK/cp"
	measure convert "${CONVERT[@]}" "$WORK/src" -o "$WORK/out" --quiet
	rm -rf "$WORK/out"
	measure convert-bf16 "${CONVERT[@]}" "$WORK/src" -o "$WORK/out" --dtype bf16 --quiet
	rm -rf "$WORK/out"
done

echo
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo)"
echo "disk:    $(df -h "$WORK" | awk 'NR==2 {print $1 " (" $2 ")"}'), $(findmnt -no FSTYPE -T "$WORK" 2>/dev/null || echo '?')"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min averages at the end)"
echo "source:  $BYTES bytes ($(awk -v b="$BYTES" 'BEGIN {printf "%.2f GiB", b/1073741824}')), $RUNS runs each, command: ${CONVERT[*]##*/}"
echo
awk -v bytes="$BYTES" '
	{ wall[$1] = wall[$1] " " $2; if ($3 > rss[$1]) rss[$1] = $3; n[$1]++ }
	function median(s,   a, k, i, j, t) {
		k = split(s, a, " ")
		for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
	}
	END {
		printf "| command | runs (s) | median (s) | GB/s | speed vs cp | peak RSS (MiB) |\n|---|---|---|---|---|---|\n"
		mc = median(wall["cp"])
		split("cp convert convert-bf16", order, " ")
		for (i = 1; i <= 3; i++) {
			c = order[i]; if (!(c in wall)) continue
			m = median(wall[c])
			printf "| %s |%s | %.2f | %.2f | %.2f× | %.1f |\n", c, wall[c], m, bytes / m / 1e9, mc / m, rss[c] / 1024
		}
	}' "$WORK/results"
