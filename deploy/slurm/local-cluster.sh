#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for CI and for trying the sliced check
# (deploy/slurm/check.sh) before running it on a real cluster.
#
#   deploy/slurm/local-cluster.sh install  install Debian's Slurm packages (if missing) and nothing else
#   deploy/slurm/local-cluster.sh start    install (if missing), configure and start; prints the SLURM_CONF to export
#   deploy/slurm/local-cluster.sh status   says whether it runs (exit 0) or not (exit 1)
#   deploy/slurm/local-cluster.sh stop     stops the daemons it started
#
# Needs Debian or Ubuntu and root. The packages are Debian's (slurmctld slurmd slurm-client munge),
# installed with apt-get --no-install-recommends only when a command is missing. No systemd is needed:
# the daemons are started directly. The controller and the node both listen on 127.0.0.1; the node is
# named after `hostname -s` and gets this machine's CPUs and memory (as `slurmd -C` reports them).
# Process tracking is proctrack/linuxproc and task/none (no cgroups, which containers often lack);
# accounting is off (no slurmdbd, so no sacct): a job's tasks are read with `scontrol -o show job`
# while the controller remembers them (MinJobAge) and from the jobcomp/filetxt log after that.
#
# Everything it writes lives in one directory, GROW_SLURM_DIR (default /var/lib/grow-slurm):
# slurm.conf, the controller's state, the node's spool, logs, the jobcomp log and the PIDs of the
# daemons it started (started/*.pid). `stop` signals only those PIDs, and only while they still name
# the daemon recorded; a munged that was already running is used and left alone. Every wait is
# bounded (GROW_SLURM_WAIT seconds, default 30).
#
# Measured on Debian 12 (2 cores, no systemd, root): install 4-5 s, start under a second, stop 0.25 s,
# a 4-task job array of a trivial command 1.7 s (docs/scale.md).
set -euo pipefail

dir="${GROW_SLURM_DIR:-/var/lib/grow-slurm}"
wait_s="${GROW_SLURM_WAIT:-30}"
apt_s="${GROW_SLURM_APT_TIMEOUT:-120}" # bound of each apt-get command
conf="$dir/slurm.conf"
started="$dir/started"
munge_socket=/run/munge/munge.socket.2
packages=(slurmctld slurmd slurm-client munge)

log() { printf 'local-cluster: %s\n' "$*" >&2; }
die() {
	printf 'local-cluster: error: %s\n' "$*" >&2
	exit 1
}

usage() {
	cat <<EOF
usage: $0 install|start|stop|status

A single-node Slurm cluster on this machine (Debian/Ubuntu, as root), for CI and for trying
deploy/slurm/check.sh. Its files (slurm.conf, state, logs, the PIDs of the daemons it started)
live in \$GROW_SLURM_DIR (now $dir). After start, point the Slurm commands at it with
  export SLURM_CONF=$conf
EOF
}

# alive NAME: the PID recorded for NAME still runs the program NAME (a recycled PID does not count,
# nor a zombie: a daemon's parent is init, which in a container may be slow to reap it).
alive() {
	local name=$1 pid comm state
	[ -f "$started/$name.pid" ] || return 1
	pid=$(cat "$started/$name.pid")
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
	state=$(sed -n 's/^State:[[:space:]]*\([A-Za-z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null) || return 1
	[ "$state" != Z ] && [ "$state" != X ] || return 1
	# comm is at most 15 characters; Debian's binaries are slurmctld-wlm/slurmd-wlm behind alternatives.
	[[ "$comm" == "$name"* || "$name" == "$comm"* ]]
}

# read_pidfile FILE: wait (bounded) for a daemon's own pid file and print the PID in it.
read_pidfile() {
	local file=$1 i pid
	for ((i = 0; i < wait_s * 10; i++)); do
		if [ -s "$file" ]; then
			pid=$(tr -dc '0-9' <"$file")
			if [ -n "$pid" ] && [ -d "/proc/$pid" ]; then
				echo "$pid"
				return 0
			fi
		fi
		sleep 0.1
	done
	return 1
}

install_packages() {
	local missing=0 cmd
	for cmd in slurmctld slurmd sbatch squeue scontrol sinfo munged munge unmunge; do
		command -v "$cmd" >/dev/null 2>&1 || missing=1
	done
	[ "$missing" = 0 ] && return 0
	command -v apt-get >/dev/null 2>&1 || die "Slurm is not installed and there is no apt-get (Debian/Ubuntu) to install it: install ${packages[*]}"
	log "installing ${packages[*]} (apt-get --no-install-recommends)"
	# Debian's maintainer scripts would start the daemons with the package's default configuration;
	# a policy-rc.d that answers 101 (the mechanism invoke-rc.d documents) keeps them from it. One
	# already present is left as it is.
	local policy=/usr/sbin/policy-rc.d made_policy=0
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\n# written by grow deploy/slurm/local-cluster.sh for one apt-get install\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		made_policy=1
	fi
	local t0=$SECONDS rc=0
	export DEBIAN_FRONTEND=noninteractive
	if ! timeout "$apt_s" apt-get install -y --no-install-recommends "${packages[@]}" >"$dir/apt.log" 2>&1; then
		log "apt-get install failed; running apt-get update and trying again"
		if timeout "$apt_s" apt-get update >>"$dir/apt.log" 2>&1; then
			timeout "$apt_s" apt-get install -y --no-install-recommends "${packages[@]}" >>"$dir/apt.log" 2>&1 || rc=$?
		else
			rc=$?
		fi
	fi
	[ "$made_policy" = 1 ] && rm -f "$policy"
	if [ "$rc" != 0 ]; then
		tail -n 20 "$dir/apt.log" >&2
		die "could not install ${packages[*]} (apt-get exit $rc; log: $dir/apt.log; in grow's CI, GROW_SKIP_SLURM=1 skips the Slurm step)"
	fi
	log "installed in $((SECONDS - t0)) s"
}

write_conf() {
	local node cpus_line
	node=$(hostname -s)
	# `slurmd -C` prints this machine's node line (CPUs, sockets, cores, threads, RealMemory) as
	# slurmd itself will detect it, so the configuration cannot disagree with the node.
	cpus_line=$(slurmd -C 2>/dev/null | sed -n 's/^NodeName=[^ ]* //p' | head -n 1)
	if [ -z "$cpus_line" ]; then
		local mem_mb
		mem_mb=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
		cpus_line="CPUs=$(nproc) RealMemory=$mem_mb"
	fi
	cat >"$conf.tmp" <<EOF
# Written by grow deploy/slurm/local-cluster.sh: a single-node cluster on 127.0.0.1.
ClusterName=grow-local
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SchedulerType=sched/backfill
# Schedule at once on every event instead of batching submissions (3 s by default): a 4-task array
# on 2 CPUs then takes under 2 s here instead of 5.
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.log
MinJobAge=300
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=60
NodeName=$node NodeAddr=127.0.0.1 $cpus_line State=UNKNOWN
PartitionName=grow Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
	mv "$conf.tmp" "$conf"
}

munge_works() { munge -n -S "$munge_socket" 2>/dev/null | unmunge -S "$munge_socket" >/dev/null 2>&1; }

start_munge() {
	if munge_works; then
		log "munged already runs (socket $munge_socket); using it"
		return 0
	fi
	local key=/etc/munge/munge.key
	if [ ! -s "$key" ]; then
		log "creating $key"
		mkdir -p /etc/munge
		if command -v mungekey >/dev/null 2>&1; then
			mungekey --create --keyfile="$key"
		else
			dd if=/dev/urandom of="$key" bs=1 count=1024 status=none
		fi
		chown munge:munge "$key"
		chmod 400 "$key"
	fi
	# munged refuses to run as root; its directories must belong to the munge user.
	mkdir -p /run/munge /var/log/munge /var/lib/munge
	chown munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge
	chmod 755 /run/munge
	rm -f /run/munge/munged.pid
	setpriv --reuid=munge --regid=munge --init-groups munged || die "munged did not start (see /var/log/munge/munged.log)"
	local pid
	pid=$(read_pidfile /run/munge/munged.pid) || die "munged wrote no pid file within $wait_s s (see /var/log/munge/munged.log)"
	echo "$pid" >"$started/munged.pid"
	local i
	for ((i = 0; i < wait_s * 10; i++)); do
		munge_works && return 0
		sleep 0.1
	done
	die "munged (PID $pid) does not answer on $munge_socket after $wait_s s"
}

# start_daemon NAME PIDFILE ARGS...: start a Slurm daemon (it daemonizes itself) and record its PID.
start_daemon() {
	local name=$1 pidfile=$2 pid
	shift 2
	if alive "$name"; then
		return 0
	fi
	rm -f "$pidfile"
	"$name" "$@" || die "$name did not start (see $dir/log/$name.log)"
	pid=$(read_pidfile "$pidfile") || die "$name wrote no pid file within $wait_s s (see $dir/log/$name.log)"
	echo "$pid" >"$started/$name.pid"
}

wait_idle() {
	local node=$1 i state=""
	for ((i = 0; i < wait_s * 5; i++)); do
		state=$(sinfo -h -n "$node" -o '%T' 2>/dev/null | head -n 1 || true)
		case "$state" in
		idle | mixed | allocated | completing) return 0 ;;
		down* | drain* | fail*)
			scontrol update NodeName="$node" State=RESUME >/dev/null 2>&1 || true
			;;
		esac
		sleep 0.2
	done
	tail -n 20 "$dir/log/slurmd.log" >&2 2>/dev/null || true
	die "node $node is not idle after $wait_s s (its state: ${state:-unknown}); logs in $dir/log"
}

cmd_start() {
	[ "$(id -u)" = 0 ] || die "must run as root (it installs packages and starts munged, slurmctld and slurmd)"
	mkdir -p "$dir" "$started"
	if alive slurmctld && alive slurmd; then
		log "already running ($dir)"
		echo "export SLURM_CONF=$conf"
		return 0
	fi
	local t0=$SECONDS
	install_packages
	command -v setpriv >/dev/null 2>&1 || die "setpriv (util-linux) is needed to start munged as the munge user"
	# A controller not started by this script (another cluster, or Debian's service) holds the ports.
	if ! alive slurmctld && pgrep -x slurmctld >/dev/null 2>&1; then
		die "a slurmctld this script did not start is running (PID $(pgrep -x slurmctld | head -n 1)); stop it first"
	fi
	if ! alive slurmd && pgrep -x slurmd >/dev/null 2>&1; then
		die "a slurmd this script did not start is running (PID $(pgrep -x slurmd | head -n 1)); stop it first"
	fi
	mkdir -p "$dir/state" "$dir/spool" "$dir/run" "$dir/log"
	write_conf
	export SLURM_CONF="$conf"
	start_munge
	start_daemon slurmctld "$dir/run/slurmctld.pid" -f "$conf"
	local i
	for ((i = 0; i < wait_s * 5; i++)); do
		scontrol ping 2>/dev/null | grep -q 'is UP' && break
		sleep 0.2
	done
	scontrol ping 2>/dev/null | grep -q 'is UP' || die "slurmctld does not answer scontrol ping after $wait_s s (see $dir/log/slurmctld.log)"
	local node
	node=$(hostname -s)
	start_daemon slurmd "$dir/run/slurmd.pid" -f "$conf" -N "$node"
	wait_idle "$node"
	log "running: node $node idle, partition grow (started in $((SECONDS - t0)) s; logs in $dir/log)"
	echo "export SLURM_CONF=$conf"
}

# stop_one NAME [PIDFILE...]: TERM the recorded daemon, wait (bounded), KILL if it lingers, and remove
# its pid files (Debian's init scripts trip over stale ones later).
stop_one() {
	local name=$1 pid i
	shift
	if alive "$name"; then
		pid=$(cat "$started/$name.pid")
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < wait_s * 10; i++)); do
			alive "$name" || break
			sleep 0.1
		done
		if alive "$name"; then
			log "$name (PID $pid) ignored TERM for $wait_s s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
			sleep 0.2
		fi
		log "stopped $name (PID $pid)"
	fi
	rm -f "$started/$name.pid" "$@"
}

cmd_stop() {
	[ "$(id -u)" = 0 ] || die "must run as root"
	if [ ! -d "$started" ]; then
		log "not running (nothing started from $dir)"
		return 0
	fi
	local name any=0
	for name in slurmd slurmctld munged; do
		alive "$name" && any=1
	done
	stop_one slurmd "$dir/run/slurmd.pid"
	stop_one slurmctld "$dir/run/slurmctld.pid"
	if [ -f "$started/munged.pid" ]; then
		stop_one munged /run/munge/munged.pid
	fi
	if [ "$any" = 1 ]; then log "stopped"; else log "not running (nothing to stop)"; fi
}

cmd_status() {
	local name ok=0
	for name in munged slurmctld slurmd; do
		if alive "$name"; then
			log "$name runs (PID $(cat "$started/$name.pid"))"
		elif [ "$name" = munged ]; then
			if munge_works; then log "munged: not started by this script, but one answers"; else
				log "munged does not run"
				ok=1
			fi
		else
			log "$name does not run"
			ok=1
		fi
	done
	if [ "$ok" = 0 ]; then
		SLURM_CONF="$conf" sinfo >&2 || ok=1
		echo "export SLURM_CONF=$conf"
	fi
	return "$ok"
}

case "${1:-}" in
install)
	[ "$(id -u)" = 0 ] || die "must run as root (it installs packages)"
	mkdir -p "$dir"
	install_packages
	;;
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
-h | --help | help)
	usage
	exit 0
	;;
*)
	usage >&2
	exit 2
	;;
esac
