#!/usr/bin/env bash
# The check of grow (https://github.com/grow-ml/grow) sliced over a Slurm job array, then merged:
#
#   1. grow check SRC DST --plan-slices N                 the block ranges A:B, one per line
#   2. sbatch --array=0-(K-1) check-array.sbatch ...      task i: grow check SRC DST --blocks A:B --json
#   3. squeue, polled (bounded by --timeout)              until no task is pending or running
#   4. scontrol -o show job (or the jobcomp/filetxt log)  every task's end state: all COMPLETED, all reports there
#   5. grow check --merge slice-*.json                    the verdict of the whole check, printed
#
# It exits as grow check does: 0 PASS, 1 FAIL, 3 nothing to verify; 2 for a bad command line; 4 when
# the sliced check could not be completed (a task FAILED, was CANCELLED, hit its TIMEOUT or lost its
# node, a report is missing, the --timeout ran out or a Slurm command failed): that message names the
# slice (A:B) and the task (JOBID_i). It never waits unbounded: at --timeout it cancels the job and
# fails; interrupted (INT/TERM), it cancels the job too. It does not use `sbatch --wait` (which polls
# every 10 s) nor sacct (which needs Slurm's accounting daemon).
#
# The grow binary, SRC, DST and the work directory must be on a filesystem that the compute nodes
# see at the same paths (the usual shared /home or project filesystem).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
prog="check.sh"

usage() {
	cat <<EOF
usage: $0 SRC DST [options] [-- grow check flags]

Checks DST against SRC with grow's sliced check on a Slurm cluster: the blocks of DST are cut into
at most N slices (grow check --plan-slices), each checked by one task of a job array
(deploy/slurm/check-array.sbatch, grow check --blocks A:B --json), and the slice reports are merged
into the verdict of the whole check (grow check --merge), printed as grow check prints it.

Options:
  --slices N        at most N slices, one array task each (default 4)
  --partition P     the Slurm partition (default: the cluster's default)
  --grow BIN        the grow binary, on a filesystem the nodes see (default: grow on PATH)
  --workdir DIR     where the slices file, the reports and the task logs go, seen by every node
                    (default: a new grow-check.XXXXXX in the current directory, removed after a PASS)
  --timeout S       give up after S seconds: cancel the job and fail (default 21600, 6 hours)
  --poll S          seconds between two squeue polls (default 2)
  --json            print the merged report as JSON (grow check --merge --json)
  --sbatch-arg ARG  one more sbatch option for the array (repeatable: --sbatch-arg=--account=A
                    --sbatch-arg=--time=1:00:00 --sbatch-arg=--mem=8G)
  -- FLAGS          grow check flags for every slice (--probes, --seq-len, --seed, --precision, --tol,
                    --expect, --hidden-map, --ids-file with a path the nodes see)
  -h, --help        this text

Exit status: 0 PASS, 1 FAIL, 3 nothing to verify (as grow check); 2 bad command line; 4 the sliced
check did not complete (a task failed or was cancelled, a report is missing, --timeout ran out).

Example:
  $0 /shared/llama-7b /shared/llama-7b-x2 --slices 8 --partition cpu --grow /shared/bin/grow
EOF
}

say() { printf '%s: %s\n' "$prog" "$*" >&2; }
usage_error() {
	printf '%s: %s (see %s -h)\n' "$prog" "$*" "$0" >&2
	exit 2
}
incomplete() {
	printf '%s: INCOMPLETE: %s\n' "$prog" "$*" >&2
	exit 4
}

# --- command line ---------------------------------------------------------------------------------
src="" dst="" slices=4 partition="" grow_bin="" workdir="" timeout_s=21600 poll_s=2 json=0
sbatch_args=() check_flags=()
positional=()
while [ $# -gt 0 ]; do
	case "$1" in
	-h | --help)
		usage
		exit 0
		;;
	--slices | --partition | --grow | --workdir | --timeout | --poll | --sbatch-arg)
		[ $# -ge 2 ] || usage_error "$1 needs a value"
		case "$1" in
		--slices) slices=$2 ;;
		--partition) partition=$2 ;;
		--grow) grow_bin=$2 ;;
		--workdir) workdir=$2 ;;
		--timeout) timeout_s=$2 ;;
		--poll) poll_s=$2 ;;
		--sbatch-arg) sbatch_args+=("$2") ;;
		esac
		shift 2
		;;
	--slices=* | --partition=* | --grow=* | --workdir=* | --timeout=* | --poll=* | --sbatch-arg=*)
		opt=${1%%=*} val=${1#*=}
		set -- "$opt" "$val" "${@:2}"
		;;
	--json)
		json=1
		shift
		;;
	--)
		shift
		check_flags=("$@")
		break
		;;
	-*) usage_error "unknown option $1" ;;
	*)
		positional+=("$1")
		shift
		;;
	esac
done
[ "${#positional[@]}" = 2 ] || usage_error "want SRC and DST, got ${#positional[@]} arguments"
[[ "$slices" =~ ^[1-9][0-9]*$ ]] || usage_error "--slices wants a positive integer, got '$slices'"
[[ "$timeout_s" =~ ^[1-9][0-9]*$ ]] || usage_error "--timeout wants a positive number of seconds, got '$timeout_s'"
[[ "$poll_s" =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage_error "--poll wants a number of seconds, got '$poll_s'"

# Absolute paths: the tasks run elsewhere, in another directory.
abs_dir() { (cd "$1" 2>/dev/null && pwd -P) || usage_error "$2 $1 is not a directory"; }
src=$(abs_dir "${positional[0]}" SRC)
dst=$(abs_dir "${positional[1]}" DST)
if [ -z "$grow_bin" ]; then
	grow_bin=$(command -v grow) || usage_error "no grow on PATH; give --grow BIN"
elif [[ "$grow_bin" != */* ]]; then
	grow_bin=$(command -v "$grow_bin") || usage_error "no $grow_bin on PATH"
fi
grow_bin="$(cd "$(dirname "$grow_bin")" && pwd -P)/$(basename "$grow_bin")"
[ -x "$grow_bin" ] || usage_error "--grow $grow_bin is not an executable file"
for cmd in sbatch squeue scontrol scancel; do
	command -v "$cmd" >/dev/null 2>&1 || incomplete "no $cmd on PATH: this needs a Slurm client (and SLURM_CONF, or /etc/slurm/slurm.conf)"
done
script="$here/check-array.sbatch"
[ -r "$script" ] || incomplete "cannot read $script"

remove_workdir=0
if [ -z "$workdir" ]; then
	workdir=$(mktemp -d "$PWD/grow-check.XXXXXX")
	remove_workdir=1
else
	mkdir -p "$workdir"
	workdir=$(cd "$workdir" && pwd -P)
	if [ -d "$workdir/reports" ] && [ -n "$(ls -A "$workdir/reports")" ]; then
		usage_error "--workdir $workdir already holds reports (of an earlier check); give a new one or empty $workdir/reports"
	fi
fi
mkdir -p "$workdir/reports" "$workdir/logs"
reports="$workdir/reports"

# --- 1. the plan ----------------------------------------------------------------------------------
plan_rc=0
"$grow_bin" check "$src" "$dst" --plan-slices "$slices" >"$workdir/slices" 2>"$workdir/plan.err" || plan_rc=$?
if [ "$plan_rc" != 0 ]; then
	cat "$workdir/plan.err" >&2
	if [ "$plan_rc" = 2 ]; then
		usage_error "grow check --plan-slices refused the command line (exit 2)"
	fi
	incomplete "grow check $src $dst --plan-slices $slices failed (exit $plan_rc)"
fi
mapfile -t plan <"$workdir/slices"
k=${#plan[@]}
[ "$k" -ge 1 ] || incomplete "grow check --plan-slices printed no slice"
for s in "${plan[@]}"; do
	[[ "$s" =~ ^[0-9]+:[0-9]+$ ]] || incomplete "grow check --plan-slices printed '$s', not a block range A:B"
done
say "$k slice(s) of $dst: ${plan[*]}"

# --- 2. the array -----------------------------------------------------------------------------------
jobid=""
cancel_job() {
	[ -n "$jobid" ] || return 0
	timeout 30 scancel "$jobid" >/dev/null 2>&1 || say "warning: scancel $jobid failed; cancel it by hand"
}
trap 'say "interrupted: cancelling job ${jobid:-(none yet)}"; cancel_job; exit 130' INT
trap 'say "terminated: cancelling job ${jobid:-(none yet)}"; cancel_job; exit 143' TERM

submit=(sbatch --parsable --array="0-$((k - 1))" --job-name=grow-check
	--output="$workdir/logs/task-%a.out" --chdir="$workdir")
[ -n "$partition" ] && submit+=(--partition="$partition")
submit+=(${sbatch_args[@]+"${sbatch_args[@]}"} "$script"
	--grow "$grow_bin" --src "$src" --dst "$dst" --slices-file "$workdir/slices" --report-dir "$reports"
	-- ${check_flags[@]+"${check_flags[@]}"})
out=""
if ! out=$(timeout 120 "${submit[@]}" 2>&1); then
	printf '%s\n' "$out" >&2
	incomplete "sbatch failed: ${submit[*]}"
fi
jobid=${out%%;*}
jobid=$(printf '%s' "$jobid" | tail -n 1 | tr -d '[:space:]')
[[ "$jobid" =~ ^[0-9]+$ ]] || incomplete "sbatch --parsable printed '$out', not a job id"
say "submitted job array $jobid ($k task(s)); work directory $workdir"

# --- 3. wait, bounded -------------------------------------------------------------------------------
deadline=$((SECONDS + timeout_s))
last=""
while :; do
	err=""
	if q=$(timeout 60 squeue -h -r -j "$jobid" -o '%T' 2>"$workdir/squeue.err"); then
		[ -z "$q" ] && break
		now=$(printf '%s\n' "$q" | sort | uniq -c | awk '{ printf "%s%d %s", (NR > 1 ? ", " : ""), $1, tolower($2) }')
		if [ "$now" != "$last" ]; then
			say "job $jobid: $now"
			last=$now
		fi
	else
		err=$(cat "$workdir/squeue.err")
		# A job that ended more than MinJobAge ago is no longer known to the controller: it is done.
		case "$err" in *"Invalid job id"*) break ;; esac
		say "squeue failed (will retry): ${err:-exit status non-zero}"
	fi
	if [ "$SECONDS" -ge "$deadline" ]; then
		cancel_job
		missing=()
		for ((i = 0; i < k; i++)); do
			[ -s "$reports/slice-$(printf '%05d' "$i").json" ] || missing+=("${plan[$i]} (task ${jobid}_$i)")
		done
		incomplete "timed out after $timeout_s s (--timeout): cancelled job $jobid; slices without a report: ${missing[*]:-none}"
	fi
	sleep "$poll_s"
done

# --- 4. every task's end state --------------------------------------------------------------------
declare -A state=() exitcode=()
# parse_records: reads `Key=Value ...` records (scontrol -o show job, or jobcomp/filetxt lines) and
# fills state[] and exitcode[] for the tasks of this array (ArrayTaskId may be a range such as 3-7%2).
parse_records() {
	local line ids st ec part a b n
	while IFS= read -r line; do
		[[ " $line " == *" ArrayJobId=$jobid "* ]] || continue
		ids=$(sed -n 's/.*[[:space:]]ArrayTaskId=\([^[:space:]]*\).*/\1/p' <<<"$line")
		st=$(sed -n 's/.*[[:space:]]JobState=\([^[:space:]]*\).*/\1/p' <<<"$line")
		ec=$(sed -n 's/.*[[:space:]]ExitCode=\([^[:space:]]*\).*/\1/p' <<<"$line")
		ids=${ids%%\%*}
		if [ -z "$ids" ] || [ -z "$st" ]; then continue; fi
		IFS=, read -ra parts <<<"$ids"
		for part in "${parts[@]}"; do
			if [[ "$part" =~ ^([0-9]+)-([0-9]+)$ ]]; then
				a=${BASH_REMATCH[1]} b=${BASH_REMATCH[2]}
			elif [[ "$part" =~ ^[0-9]+$ ]]; then
				a=$part b=$part
			else
				continue
			fi
			for ((n = a; n <= b; n++)); do
				state[$n]=$st
				exitcode[$n]=${ec:-?}
			done
		done
	done
}
source_of_states="scontrol -o show job $jobid"
if rec=$(timeout 60 scontrol -o show job "$jobid" 2>/dev/null); then
	parse_records <<<"$rec"
fi
if [ "${#state[@]}" -lt "$k" ]; then
	# The controller forgot the job (it ended over MinJobAge ago): the jobcomp/filetxt log, if the
	# cluster keeps one readable here, still has every task's record.
	config=$(timeout 60 scontrol show config 2>/dev/null || true)
	comptype=$(awk -F' *= *' '$1 == "JobCompType" { print $2 }' <<<"$config")
	comploc=$(awk -F' *= *' '$1 == "JobCompLoc" { print $2 }' <<<"$config")
	if [ "$comptype" = jobcomp/filetxt ] && [ -r "$comploc" ]; then
		parse_records <"$comploc"
		source_of_states="the jobcomp log $comploc"
	fi
fi

failed=()
unknown=0
for ((i = 0; i < k; i++)); do
	slice=${plan[$i]}
	task="${jobid}_$i"
	report="$reports/slice-$(printf '%05d' "$i").json"
	st=${state[$i]:-}
	log="$workdir/logs/task-$i.out"
	if [ -z "$st" ]; then
		unknown=$((unknown + 1))
	fi
	if [ -n "$st" ] && [ "$st" != COMPLETED ]; then
		failed+=("slice $slice (task $task) ended $st (exit ${exitcode[$i]}), log $log")
	elif [ ! -s "$report" ]; then
		failed+=("slice $slice (task $task) ended ${st:-in an unknown state} but wrote no report $report, log $log")
	else
		continue
	fi
	if [ -s "$log" ]; then
		say "the last lines of task $task's log ($log):"
		tail -n 5 "$log" | sed 's/^/    /' >&2
	fi
done
say "end states of job $jobid's tasks read from $source_of_states"
if [ "$unknown" -gt 0 ]; then
	say "warning: the end state of $unknown task(s) is unknown ($source_of_states had none; no readable jobcomp/filetxt log): judged by their reports alone"
fi
if [ "${#failed[@]}" -gt 0 ]; then
	for f in "${failed[@]}"; do say "$f"; done
	incomplete "${#failed[@]} of $k slice(s) of job $jobid have no verdict: $(printf '%s; ' "${failed[@]%% (task*}" | sed 's/; $//'); the check is not proven"
fi

# --- 5. merge -------------------------------------------------------------------------------------
files=()
for ((i = 0; i < k; i++)); do files+=("$reports/slice-$(printf '%05d' "$i").json"); done
merge=("$grow_bin" check --merge "${files[@]}")
[ "$json" = 1 ] && merge+=(--json)
rc=0
"${merge[@]}" || rc=$?
case "$rc" in
0 | 1 | 3)
	say "merged $k slice report(s) of job $jobid (grow check --merge exited $rc)"
	if [ "$remove_workdir" = 1 ] && [ "$rc" = 0 ]; then
		rm -rf "$workdir"
	else
		say "reports and task logs kept in $workdir"
	fi
	exit "$rc"
	;;
*) incomplete "grow check --merge of the $k reports in $reports failed (exit $rc)" ;;
esac
