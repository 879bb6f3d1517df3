#!/usr/bin/env bash
# The master daemon restarts (SIGKILL, as a crash, then started again):
# the processes on the nodes run on, the new master takes their ghosts
# back when the slaves reconnect, and signals, output and wait() work as
# before.  So do those that came back to the master (its home node): the
# home slave outlives the crash and the new master connects to it again.
. "$(dirname "$0")/lib.sh"

cluster_up 2
M=$(mktemp -d /var/tmp/restart-test.XXXXXX)
trap 'rm -rf "$M"; cluster_down' EXIT

# A counter that prints a line every 50 ms into a pipe read here, and
# exits 5 on SIGUSR1; and a sleep.
exec 3> >(cat >"$M/out")
python3 -u -c '
import signal, sys, time
signal.signal(signal.SIGUSR1, lambda s, f: sys.exit(5))
i = 0
while True:
    print(i, flush=True)
    i += 1
    time.sleep(0.05)
' </dev/null >&3 2>&1 &
counter=$!
exec 3>&-
sleep 300 </dev/null >/dev/null 2>&1 &
sleeper=$!
sleep 0.3
check "the counter moves to node 0" bpmove "$counter" 0
check "the sleep moves to node 1" bpmove "$sleeper" 1
last() { tail -1 "$M/out"; }
sleep 0.3
before=$(last)

# bpctl's settings: kept in the master's store (SQLite), read back.
check "bpctl -S 1 -m 0100 -u nobody" bpctl -S 1 -m 0100 -u nobody
check "bpcluster restart-master" bpcluster restart-master
check "both nodes are up again" wait_for 10 bash -c '[ "$(bpstat -s 0)" = up ] && [ "$(bpstat -s 1)" = up ]'
master=$(cat /run/bproc/cluster/master.pid)
check_match "the new master took the ghosts back" "ghost $counter taken back.*node 0" \
	"$(tr '\n' ' ' </run/bproc/cluster/master.log)"
check_eq "it traces the counter's ghost" "$master" "$(awk '/^TracerPid/ { print $2 }' /proc/$counter/status)"
check_match "the ghost is still the ghost" "bproc-ghost" "$(readlink /proc/$counter/exe)"
check_match "node 1 keeps its mode and owner" "^1 +up +---x------ +nobody " "$(bpstat 1 | tail -1)"
check_match "bpstat -p: the counter on node 0" "^$counter	0$" "$(bpstat -p)"
check_match "bpstat -p: the sleep on node 1" "^$sleeper	1$" "$(bpstat -p)"
grows() { [ "$(last)" -gt "$1" ]; }
if wait_for 5 grows $((before + 20)); then
	ok "its output goes on through the new master ($before, then $(last))"
else
	not_ok "its output goes on through the new master ($before, then $(last))"
fi
kill -USR1 "$counter"
wait "$counter"
check_eq "a signal through the ghost ends it; wait() says 5" "5" "$?"
missing=$(python3 -c '
import sys
l = [int(x) for x in open(sys.argv[1]).read().split()]
print(len(set(range(max(l) + 1)) - set(l)))' "$M/out")
# What was on its way through the master that was killed is lost.
if [ "$missing" -le 3 ]; then
	ok "of its $(($(last) + 1)) lines, $missing lost in the crash (at most what was in flight)"
else
	not_ok "of its $(($(last) + 1)) lines, $missing lost in the crash"
fi
kill -TERM "$sleeper"
wait "$sleeper"
check_eq "SIGTERM through the other ghost; wait() says 143" "143" "$?"
check_eq "nothing left on the nodes" "" "$(bpstat -p | awk 'NR > 1')"

# --- the home node outlives the master -------------------------------------------
# A python3 holding 16 MiB with its checksum goes master -> 0 -> master (the
# home node, daemons/master_home.c); the master is killed twice: idle
# (restart-master), and by the fault master-die-moveout as it moves the
# process on from the home node to node 1.  Each time the home slave, its
# pid namespace and the process run on, and the new master takes them back.
home_pid() { cat /run/bproc/home/slave.pid 2>/dev/null; }
node_of() { bpstat -p | awk -v p="$1" '$1 == p { print $2 }'; }
at() { [ "$(node_of "$1")" = "$2" ]; }
lines() { wc -l <"$M/home"; }
more_lines() { [ "$(lines)" -gt "$1" ]; }
exec 3> >(cat >"$M/home")
python3 -u -c '
import hashlib, os, signal, sys, time
data = bytearray(os.urandom(1 << 20)) * 16
before = hashlib.sha256(data).hexdigest()
signal.signal(signal.SIGTERM, lambda s, f: sys.exit(41))
signal.signal(signal.SIGUSR1, lambda s, f: print("usr1", flush=True))
i = 0
while True:
    print(i, hashlib.sha256(data).hexdigest() == before, os.getpid(), flush=True)
    i += 1
    time.sleep(0.05)
' </dev/null >&3 2>&1 &
p=$!
exec 3>&-
wait_for 5 grep -q . "$M/home"
check "it moves to node 0" bpmove "$p" 0
check "and back to the master (its home node)" bpmove "$p" master
check_eq "bpstat -p: at -1" "-1" "$(node_of "$p")"
# (Its original on node 0 may take a moment to be reaped there.)
one_real() { [ "$(real_copies "$p" | wc -l)" = 1 ]; }
check "one real copy of it runs" wait_for 5 one_real
real=$(real_of "$p")
hs=$(home_pid)
check_match "the home slave's pid is in /run/bproc/home/slave.pid" "^[0-9]+$" "$hs"
check_match "the real task runs python3 in the home node" "python3" "$(readlink /proc/$real/exe 2>&1)"

# still_home WHAT N: after a restart, everything as before it; the masters
# so far took the ghost back N times.
still_home() {
	check "$1: both nodes are up again" wait_for 10 bash -c '[ "$(bpstat -s 0)" = up ] && [ "$(bpstat -s 1)" = up ]'
	check_eq "$1: the same home slave runs" "$hs" "$(home_pid)"
	check "$1: it is alive" kill -0 "$hs"
	check_eq "$1: the process runs on in it, the same task" "$real" "$(real_copies "$p")"
	check "$1: bpstat -p lists it at -1" wait_for 10 at "$p" -1
	echo "# $1: listed at -1 again $(( ($(date +%s%N) - t0) / 1000000 )) ms after the restart"
	check_eq "$1: the new master took its ghost back" "$2" \
		"$(grep -c "ghost $p taken back" /run/bproc/cluster/master.log)"
	check_eq "$1: the new master traces the ghost" "$(cat /run/bproc/cluster/master.pid)" \
		"$(awk '/^TracerPid/ { print $2 }' /proc/$p/status)"
	local n
	n=$(lines)
	check "$1: its output goes on" wait_for 5 more_lines $((n + 5))
	check_eq "$1: the checksum holds, getpid() is the original pid" "True $p" \
		"$(grep -v usr1 "$M/home" | tail -1 | cut -d' ' -f2-)"
	n=$(grep -c usr1 "$M/home")
	kill -USR1 "$p"
	check "$1: SIGUSR1 through its ghost reaches it" \
		wait_for 5 bash -c "[ \$(grep -c usr1 '$M/home') -gt $n ]"
}

t0=$(date +%s%N)
check "bpcluster restart-master (SIGKILL)" bpcluster restart-master
still_home "restart-master" 1
check_match "the new master says it took the home slave back" \
	"home node: bpslave $hs, started by a master before us, runs on" \
	"$(cat /run/bproc/cluster/master.log)"

BPROC_FAULT=master-die-moveout bpcluster restart-master
wait_for 10 bash -c '[ "$(bpstat -s 0)" = up ] && [ "$(bpstat -s 1)" = up ] && bpstat -p | grep -q "^$p	-1$"'
out=$(bpmove "$p" 1 2>&1)
st=$?
check_match "master-die-moveout: the move from the home node fails with the master (exit $st)" \
	"^[1-9]" "$st${out:+ $out}"
check_match "master-die-moveout: the master died there" "fault injected: master-die-moveout" \
	"$(cat /run/bproc/cluster/master.log)"
t0=$(date +%s%N)
check "bpcluster restart-master (without the fault)" bpcluster restart-master
still_home "after master-die-moveout" 3

check "then it moves on to node 1" bpmove "$p" 1
check_eq "bpstat -p: at 1" "1" "$(node_of "$p")"
check "and back to the master" bpmove "$p" master
check_eq "bpstat -p: at -1" "-1" "$(node_of "$p")"
n=$(lines)
check "its output goes on" wait_for 5 more_lines $((n + 3))
check_eq "the memory checksum held everywhere" "" "$(grep -v -e usr1 -e " True $p\$" "$M/home" || true)"
kill -TERM "$p"
wait "$p"
check_eq "SIGTERM through its ghost runs its handler; wait() says 41" "41" "$?"

# Stopping the cluster stops the home node too, even one that a master
# killed for good (not started again) left: nothing of it is left.
hs=$(home_pid)
# (Zombies do not count: in a container, pid 1 may never reap them.)
runs() { ! ended "$1"; }
master=$(cat /run/bproc/cluster/master.pid)
kill -KILL "$master"
check "the master killed for good" wait_for 5 ended "$master"
check "its home slave runs on" runs "$hs"
check "bpcluster down" bpcluster down
check_fails "the home slave is gone" runs "$hs"
check_fails "and /run/bproc/home" test -e /run/bproc/home
check_eq "no bpslave, bproc-init or bproc-keeper is left" "" \
	"$(ps -eo stat=,comm= | awk '$1 !~ /^Z/ && ($2 == "bpmaster" || $2 == "bpslave" || $2 == "bproc-init" || $2 == "bproc-keeper")')"
finish
