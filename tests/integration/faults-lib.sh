# tests/integration/faults-lib.sh - what the fault tests share
# (test-faults.sh, test-faults-source.sh, test-faults-master.sh,
# test-faults-waiting.sh): the
# process they move (it keeps a buffer and, on SIGUSR1, says whether it is
# intact and where it runs), the checks of where it runs and how many hold
# its pid, the restarts of one slave with a fault, and what a launch said
# of each node.  Sourced after
# lib.sh; not a test itself.

rounds=${FAULT_ROUNDS:-5}
# Where the daemons' freezer cgroups are (migrate/freezer.c).
cg=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)/bproc
# The hierarchy with the memory controller (migrate/memory_room.c): v1's
# memory mount, or else the cgroup2 root; its limit and usage files.
memcg=$(awk '$9 == "cgroup" && $NF ~ /(^|,)memory(,|$)/ { print $5; exit }' /proc/self/mountinfo)
if [ -n "$memcg" ]; then
	mem_limit=memory.limit_in_bytes
else
	memcg=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
	mem_limit=memory.max
fi
# The memory cgroup a restore ran in under slave-memory-full is gone.
no_cage_left() { ! ls "$memcg/bproc" 2>/dev/null | grep -q -- '-restore-'; }
M=$(mktemp -d /var/tmp/faults-test.XXXXXX)
cleanup() {
	[ -n "${small:-}" ] && kill "$small" "$big" 2>/dev/null
	[ -n "${cm:-}" ] && kill -KILL "$cm" 2>/dev/null
	rm -rf "$M"
	cluster_down
	# The memory cgroup a slave was put in (emptied by the slave's end).
	[ -n "${tight:-}" ] && [ -d "$tight" ] && rmdir "$tight" 2>/dev/null
	true
}
trap cleanup EXIT

# A process that keeps a buffer and, on SIGUSR1, says whether it is intact
# and on which host it runs.
# (prog_report: all of it but its loop.)
prog_report='
import hashlib, os, signal, sys, time
data = bytearray(os.urandom(int(sys.argv[1])))
before = hashlib.sha256(data).digest()
def report(sig, frame):
    ok = hashlib.sha256(data).digest() == before
    host = open("/proc/sys/kernel/hostname").read().strip()
    print("alive", ok, host, flush=True)
signal.signal(signal.SIGUSR1, report)
'
prog="$prog_report"'
while True:
    time.sleep(0.05)
'
here=$(cat /proc/sys/kernel/hostname)

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
node_clean() {
	[ -z "$(real_copies "$1")" ] &&
		[ -z "$(bpcluster exec 0 ls /run/bproc/images 2>/dev/null)" ] &&
		! bpstat -p | grep -q "^$1	"
}

# How many processes have pid $1 in their own namespace: the ghost and
# one real process, never two.
holders() { grep -l "^NSpid:.*[[:space:]]$1$" /proc/[0-9]*/status 2>/dev/null | wc -l; }
# Node $1's slave started again, with the fault point $2 ("": none).
slave_with() {
	bpcluster kill-slave "$1" >/dev/null 2>&1
	wait_for 10 node_is "$1" down
	BPROC_FAULT=$2 bpcluster start-slave "$1" >/dev/null
	wait_for 10 node_is "$1" up
}
slave0_with() { slave_with 0 "$1"; }
slave1_with() { slave_with 1 "$1"; }
# It answers from node $2, whole, and is held by its ghost and one process.
whole_on() {
	local n
	n=$(wc -l <"$M/$1")
	kill -USR1 "${!1}"
	wait_for 5 more_lines "$M/$1" "$n" && [ "$(tail -1 "$M/$1")" = "alive True n$2" ] &&
		[ "$(holders "${!1}")" = 2 ] && bpstat -p | grep -q "^${!1}	$2$"
}
size_of() { if [ "$1" = small ]; then echo $((256 << 10)); else echo $((24 << 20)); fi; }
# Thawed, out of the move's cgroup; and no node keeps an image of it.
src_clean() {
	local r
	r=$(real_of "$1") && [ -n "$r" ] && ! grep -q "move-" "/proc/$r/cgroup" &&
		[ -z "$(bpcluster exec 0 ls /run/bproc/images 2>/dev/null)" ] &&
		[ -z "$(bpcluster exec 1 ls /run/bproc/images 2>/dev/null)" ]
}
both_up() { node_is 0 up && node_is 1 up; }
two_holders() { [ "$(holders "$1")" = 2 ]; }
no_holders() { [ "$(holders "$1")" = 0 ]; }
# Node $1's part in a launch's output $2: 1 if it ran once, or failed
# once, or said it waits for the next master (once, perhaps then ran).
node_verdict() {
	local ran failed waited
	ran=$(grep -c "^launched-n$1$" <<<"$2")
	failed=$(grep -c "node $1: cannot move there: the master died during the move" <<<"$2")
	waited=$(grep -c "node $1: the master went away during the move (the program, frozen before it ran, waits for the next master)" <<<"$2")
	case "$ran$failed$waited" in 100 | 010 | 001 | 101) echo 1 ;; *) echo "ran $ran, failed $failed, waited $waited" ;; esac
}
# Pid $1 runs the ghost program here.
is_ghost() { case "$(readlink "/proc/$1/exe")" in *bproc-ghost*) return 0 ;; esac; return 1; }
# Process $1 runs on node $2 under its ghost here, once (its ghost and one
# real process), and answers a SIGUSR1 through its ghost with a line
# matching $4 in file $5; $3 names the check.
check_answers_on() {
	local k=$1 node=$2 what=$3 pattern=$4 file=$5
	kill -USR1 "$k"
	if wait_for 5 grep -q "$pattern" "$file" && is_ghost "$k" && wait_for 5 two_holders "$k" &&
		bpstat -p | grep -q "^$k	$node$"; then
		ok "$what"
	else
		not_ok "$what"
		echo "#   exe $(readlink "/proc/$k/exe"); holders $(holders "$k"); $(bpstat -p | grep "^$k	")"
		grep "$k" "$file" | tail -2 | sed 's/^/#   /'
	fi
}
# bpmove $2 to node $3 under a master started with the fault point $1,
# which kills it there (a check, named $4); then the master started again
# without it.  Node $3 is up before and after.
move_as_master_dies() {
	local fault=$1 p=$2 node=$3 what=$4 fired
	BPROC_FAULT=$fault bpcluster restart-master
	wait_for 10 node_is "$node" up
	fired=$(grep -c "fault injected: $fault" /run/bproc/cluster/master.log)
	bpmove "$p" "$node" >/dev/null 2>&1
	check_eq "$what" "$((fired + 1))" "$(grep -c "fault injected: $fault" /run/bproc/cluster/master.log)"
	bpcluster restart-master
	wait_for 10 node_is "$node" up
}
