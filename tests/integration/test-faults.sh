#!/usr/bin/env bash
# Moves interrupted on purpose, each fault at its step, several times
# (common/fault.h: the daemons fail where BPROC_FAULT says): the move fails
# with its reason, and the process runs on where it was, unchanged (its
# memory's SHA-256), out of the freezer, no ghost; the node keeps nothing of
# it; and it still moves once the faults are gone.  For a small process
# (its pages go with its images) and a 24 MiB one (the page stream).
. "$(dirname "$0")/lib.sh"

rounds=${FAULT_ROUNDS:-3}
M=$(mktemp -d /var/tmp/faults-test.XXXXXX)
cleanup() {
	[ -n "${small:-}" ] && kill "$small" "$big" 2>/dev/null
	rm -rf "$M"
	cluster_down
}
trap cleanup EXIT

# A process that keeps a buffer and, on SIGUSR1, says whether it is intact
# and on which host it runs.
prog='
import hashlib, os, signal, sys, time
data = bytearray(os.urandom(int(sys.argv[1])))
before = hashlib.sha256(data).digest()
def report(sig, frame):
    ok = hashlib.sha256(data).digest() == before
    host = open("/proc/sys/kernel/hostname").read().strip()
    print("alive", ok, host, flush=True)
signal.signal(signal.SIGUSR1, report)
while True:
    time.sleep(0.05)
'
python3 -u -c "$prog" $((256 << 10)) </dev/null >"$M/small" 2>&1 &
small=$!
python3 -u -c "$prog" $((24 << 20)) </dev/null >"$M/big" 2>&1 &
big=$!
disown "$small" "$big"  # their ends (killed at the end) are not news
here=$(cat /proc/sys/kernel/hostname)
sleep 0.5

more_lines() { [ "$(wc -l <"$1")" -gt "$2" ]; }

# It runs here, as itself: not a ghost, not frozen, memory intact.
runs_here() {
	local p=$1 out=$2 n
	case "$(readlink /proc/$p/exe)" in *bproc-ghost) return 1 ;; esac
	grep -q "bproc/move-" /proc/$p/cgroup && return 1
	n=$(wc -l <"$out")
	kill -USR1 "$p" || return 1
	wait_for 5 more_lines "$out" "$n" || return 1
	[ "$(tail -1 "$out")" = "alive True $here" ]
}
# A process whose pid in its namespace is $1, other than $1 itself: a copy.
copy_of() { grep -l "^NSpid:.*[[:space:]]$1$" /proc/[0-9]*/status 2>/dev/null | grep -v "^/proc/$1/"; }
node_clean() {
	[ -z "$(copy_of "$1")" ] &&
		[ -z "$(bpcluster exec 0 ls /run/bproc/images 2>/dev/null)" ] &&
		! bpstat -p | grep -q "^$1	"
}

try_moves() {
	local fault=$1 size p out
	for size in small big; do
		[ "$fault" = slave-prepare ] && [ "$size" = small ] && continue
		p=${!size}
		out="$M/$size"
		for ((i = 1; i <= rounds; i++)); do
			wait_for 10 node_is 0 up || { not_ok "$fault: node 0 back up"; return; }
			msg=$(bpmove "$p" 0 2>&1)
			st=$?
			if [ "$st" -ne 0 ] && [ -n "$msg" ]; then
				ok "$fault, $size process, round $i: the move fails (${msg:0:90})"
			else
				not_ok "$fault, $size process, round $i: the move fails (exit $st: $msg)"
			fi
			if runs_here "$p" "$out"; then
				ok "$fault, $size, round $i: it runs on here, unchanged"
			else
				not_ok "$fault, $size, round $i: it runs on here, unchanged"
				tail -2 "$out" | sed 's/^/#   /'
			fi
			if [ "$fault" = slave-die ]; then
				wait_for 10 node_is 0 down
				bpcluster start-slave 0 >/dev/null
			fi
			if wait_for 10 node_is 0 up && wait_for 5 node_clean "$p"; then
				ok "$fault, $size, round $i: node 0 keeps nothing of it"
			else
				not_ok "$fault, $size, round $i: node 0 keeps nothing of it"
			fi
		done
	done
}

for fault in master-dump master-ghost slave-prepare slave-disk-full slave-restore slave-die slave-cut; do
	# The daemons started now (and a slave restarted) fail there.
	export BPROC_FAULT=$fault
	cluster_up 1 >/dev/null
	try_moves "$fault"
	unset BPROC_FAULT
	bpcluster down >/dev/null
done

# Without faults, both still move, and come back in one piece.
cluster_up 1 >/dev/null
check "with no fault the small one moves" bpmove "$small" 0
check "and the big one" bpmove "$big" 0
for p in small big; do
	n=$(wc -l <"$M/$p")
	kill -USR1 "${!p}"
	wait_for 5 more_lines "$M/$p" "$n"
	check_eq "the $p one is whole on node 0" "alive True n0" "$(tail -1 "$M/$p")"
done
finish
