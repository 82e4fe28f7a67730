#!/usr/bin/env bash
# The test of the sliced check on a Slurm job array (deploy/slurm/check.sh), run by CI against the
# local cluster (deploy/slurm/local-cluster.sh start) and usable on any Slurm cluster:
#
#   export SLURM_CONF=...   (what local-cluster.sh start prints; not needed on a configured cluster)
#   bash deploy/slurm/test.sh
#
# What it asserts, failing loudly otherwise:
#   1. For testdata/stories260k and its HyperCloning ×2 output, check.sh with 1, 2 and 5 slices exits
#      as `grow check SRC DST` run whole, and its merged report (grow check --merge --json) equals the
#      whole one (grow check --json): verdict, outcome and every other string exactly; every number
#      exactly with 1 slice, and with 2 and 5 within the EXACT class's own f64 rule,
#      1e-9·max(1, max|logits|), because a slice restarts from the source's hidden states mapped to the
#      result's width, so its numbers may differ from the whole pass's in the last bits.
#   2. An edited output (one weight of block 3's MLP changed by +1) fails the sliced check (exit 1) with
#      5 and 2 slices, and the merged verdict names the slice that holds block 3, and no other, as
#      failing ("[failing slice 3:4]").
#   3. A task cancelled mid-run (scancel of one array task, made slow by the sbatch's test hook) makes
#      check.sh fail (exit 4) naming that slice and task, within a bounded time.
#   4. --timeout cancels the job and fails (exit 4) within a bounded time.
#
# The work files go to a new directory under GROW_SLURM_TEST_DIR (default: TMPDIR or /tmp; on a
# multi-node cluster, give a directory every node sees), removed after a pass and kept after a failure.
# GROW=BIN uses that grow binary instead of building one from this checkout.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$(pwd -P)
check="$root/deploy/slurm/check.sh"
src="$root/testdata/stories260k"
t_start=$SECONDS

fail() {
	printf '\ndeploy/slurm/test.sh: FAIL: %s\n' "$*" >&2
	printf 'work files kept in %s\n' "$tmp" >&2
	exit 1
}
step() { printf '\n== slurm test: %s\n' "$*"; }

for cmd in sbatch squeue scontrol scancel sinfo; do
	command -v "$cmd" >/dev/null 2>&1 || {
		echo "deploy/slurm/test.sh: no $cmd: this needs a Slurm cluster (bash deploy/slurm/local-cluster.sh start)" >&2
		exit 1
	}
done
if ! timeout 30 sinfo -h >/dev/null 2>&1; then
	echo "deploy/slurm/test.sh: sinfo cannot reach a controller (SLURM_CONF=${SLURM_CONF:-unset}); start one with deploy/slurm/local-cluster.sh start" >&2
	exit 1
fi

base="${GROW_SLURM_TEST_DIR:-${TMPDIR:-/tmp}}"
mkdir -p "$base"
tmp=$(mktemp -d "$base/grow-slurm-test.XXXXXX")
bg_pid=""
cleanup() {
	local rc=$?
	if [ -n "$bg_pid" ] && kill -0 "$bg_pid" 2>/dev/null; then
		kill "$bg_pid" 2>/dev/null || true
	fi
	if [ "$rc" = 0 ]; then rm -rf "$tmp"; fi
}
trap cleanup EXIT

step "build grow and the test helper"
if [ -n "${GROW:-}" ]; then
	grow="$(cd "$(dirname "$GROW")" && pwd -P)/$(basename "$GROW")"
else
	grow="$tmp/grow"
	CGO_ENABLED=0 go build -o "$grow" ./cmd/grow
fi
helper="$tmp/slurmtest"
CGO_ENABLED=0 go build -o "$helper" ./deploy/slurm/slurmtest

step "grow expand stories260k: HyperCloning ×2"
dst="$tmp/stories260k-x2"
"$grow" expand "$src" -o "$dst" --method hypercloning --width-factor 2 --force --no-check -q
"$grow" inspect "$dst" --json >"$tmp/inspect.json"
layers=$("$helper" jsonget "$tmp/inspect.json" layers)
[[ "$layers" =~ ^[0-9]+$ ]] || fail "cannot read the number of blocks of $dst from grow inspect --json"

step "the whole check: grow check SRC DST --json"
whole_rc=0
"$grow" check "$src" "$dst" --json >"$tmp/whole.json" || whole_rc=$?
[ "$whole_rc" = 0 ] || fail "grow check of the HyperCloning ×2 output exits $whole_rc, not 0 (PASS): the test needs a passing pair"

# run_check NAME ARGS...: check.sh SRC DST ARGS, stdout to NAME.out, stderr to NAME.err, with a bound
# on its own run (it has --timeout too); sets rc.
run_check() {
	local name=$1
	shift
	rc=0
	timeout 300 "$check" "$@" --grow "$grow" --workdir "$tmp/$name" --poll 0.2 --timeout 240 \
		>"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
	[ "$rc" != 124 ] || fail "check.sh $* did not end within 300 s (log $tmp/$name.err)"
}

# slice_of WORKDIR BLOCK: the line A:B of WORKDIR/slices with A <= BLOCK < B.
slice_of() {
	awk -F: -v b="$2" '$1 <= b && b < $2 { print; exit }' "$1/slices"
}

for n in 1 2 5; do
	step "check.sh with --slices $n equals the whole check"
	run_check "slices$n" "$src" "$dst" --slices "$n" --json
	cat "$tmp/slices$n.err"
	[ "$rc" = "$whole_rc" ] || fail "check.sh --slices $n exits $rc, grow check whole $whole_rc (log $tmp/slices$n.err)"
	want=$((n < layers ? n : layers))
	got=$(wc -l <"$tmp/slices$n/slices")
	[ "$got" = "$want" ] || fail "--plan-slices $n gave $got slices for $layers blocks, want $want"
	if [ "$n" = 1 ]; then rel=0; else rel=1e-9; fi
	# merged_from lists the slices merged: the plan, in order.
	"$helper" jsonget "$tmp/slices$n.out" merged_from >"$tmp/merged_from$n" || fail "the merged report has no merged_from"
	cmp -s "$tmp/merged_from$n" "$tmp/slices$n/slices" ||
		fail "merged_from ($(tr '\n' ' ' <"$tmp/merged_from$n")) is not the plan ($(tr '\n' ' ' <"$tmp/slices$n/slices"))"
	# cost (seconds, GFLOPS, reads) measures the run, not the models: not compared.
	if ! "$helper" jsondiff -rel "$rel" -scale max_abs_logit -ignore cost,merged_from \
		"$tmp/whole.json" "$tmp/slices$n.out" >"$tmp/diff$n.txt" 2>&1; then
		cat "$tmp/diff$n.txt" >&2
		fail "the merged report of $n slices differs from the whole check (tolerance ${rel}·max(1, max|logits|))"
	fi
	echo "merged report of $n slice(s) ($(tr '\n' ' ' <"$tmp/slices$n/slices")) = whole report (numbers: $([ "$rel" = 0 ] && echo identical || echo "within 1e-9·max(1, max|logits|)"))"
done

step "an edited output fails, naming the slice that holds the edit"
edited="$tmp/stories260k-x2-edited"
cp -r "$dst" "$edited"
block=3
"$helper" patch "$edited/model.safetensors" "model.layers.$block.mlp.down_proj.weight" 0 1
edit_rc=0
"$grow" check "$src" "$edited" >/dev/null 2>&1 || edit_rc=$?
[ "$edit_rc" = 1 ] || fail "grow check of the edited output exits $edit_rc, not 1 (FAIL)"
for n in 5 2; do
	run_check "edited$n" "$src" "$edited" --slices "$n"
	cat "$tmp/edited$n.out" "$tmp/edited$n.err" | tail -n 5
	[ "$rc" = 1 ] || fail "check.sh --slices $n of the edited output exits $rc, not 1 (FAIL)"
	holder=$(slice_of "$tmp/edited$n" "$block")
	[ -n "$holder" ] || fail "no slice of $tmp/edited$n/slices holds block $block"
	# What grow check --merge printed (check.sh's own lines list every slice of the plan).
	{ cat "$tmp/edited$n.out"; grep -v '^check.sh: ' "$tmp/edited$n.err" || true; } >"$tmp/edited$n.merge"
	named=$(grep -o 'failing slice [0-9]*:[0-9]*' "$tmp/edited$n.merge" | sort -u | sed 's/^failing slice //' | tr '\n' ' ')
	[ "$named" = "$holder " ] ||
		fail "the failure of $n slices names the failing slice(s) '${named}', want only $holder, which holds block $block (output $tmp/edited$n.out)"
	echo "edited block $block: FAIL names only slice $holder ([failing slice $holder])"
done

step "a task cancelled mid-run fails the check, naming its slice"
name=cancelled
GROW_SLURM_TEST_SLEEP_TASK=1 GROW_SLURM_TEST_SLEEP_S=300 \
	"$check" "$src" "$dst" --slices 5 --grow "$grow" --workdir "$tmp/$name" --poll 0.2 --timeout 240 \
	>"$tmp/$name.out" 2>"$tmp/$name.err" &
bg_pid=$!
jobid=""
for ((i = 0; i < 300; i++)); do
	jobid=$(sed -n 's/.*submitted job array \([0-9]*\) .*/\1/p' "$tmp/$name.err")
	[ -n "$jobid" ] && squeue -h -r -j "$jobid" -o '%i %T' 2>/dev/null | grep -q "^${jobid}_1 RUNNING" && break
	sleep 0.1
done
[ -n "$jobid" ] || fail "check.sh did not submit within 30 s (log $tmp/$name.err)"
squeue -h -r -j "$jobid" -o '%i %T' | grep -q "^${jobid}_1 RUNNING" || fail "task ${jobid}_1 did not run within 30 s"
scancel "${jobid}_1"
echo "scancel ${jobid}_1"
t0=$SECONDS
for ((i = 0; i < 600; i++)); do
	kill -0 "$bg_pid" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$bg_pid" 2>/dev/null; then
	fail "check.sh still runs 60 s after scancel ${jobid}_1: it hangs (log $tmp/$name.err)"
fi
rc=0
wait "$bg_pid" || rc=$?
bg_pid=""
tail -n 3 "$tmp/$name.err"
[ "$rc" = 4 ] || fail "check.sh exits $rc after a cancelled task, not 4 (incomplete)"
holder=$(sed -n 2p "$tmp/$name/slices")
grep -q "slice $holder (task ${jobid}_1) ended CANCELLED" "$tmp/$name.err" ||
	fail "check.sh's message does not name slice $holder, task ${jobid}_1, CANCELLED (log $tmp/$name.err)"
echo "cancelled task ${jobid}_1: check.sh failed in $((SECONDS - t0)) s, naming slice $holder"

step "--timeout cancels the job and fails"
name=timeout
t0=$SECONDS
rc=0
GROW_SLURM_TEST_SLEEP_TASK=0 GROW_SLURM_TEST_SLEEP_S=300 timeout 60 \
	"$check" "$src" "$dst" --slices 2 --grow "$grow" --workdir "$tmp/$name" --poll 0.2 --timeout 3 \
	>"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
tail -n 1 "$tmp/$name.err"
[ "$rc" = 4 ] || fail "check.sh --timeout 3 exits $rc, not 4 (log $tmp/$name.err)"
grep -q "timed out after 3 s" "$tmp/$name.err" || fail "check.sh --timeout 3 does not say it timed out (log $tmp/$name.err)"
jobid=$(sed -n 's/.*submitted job array \([0-9]*\) .*/\1/p' "$tmp/$name.err")
for ((i = 0; i < 150; i++)); do
	[ -z "$(squeue -h -j "$jobid" -o %i 2>/dev/null)" ] && break
	sleep 0.2
done
[ -z "$(squeue -h -j "$jobid" -o %i 2>/dev/null)" ] || fail "job $jobid still queued 30 s after check.sh's timeout cancelled it"
echo "--timeout 3: failed in $((SECONDS - t0)) s and job $jobid is gone"

step "the command line"
"$check" -h | grep -q '^usage:' || fail "check.sh -h prints no usage"
rc=0
"$check" "$src" >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "check.sh with one argument exits $rc, not 2"

step "all Slurm checks passed in $((SECONDS - t_start)) s"
