#!/usr/bin/env bash
# Moves between nodes and moves asked on a node: a process goes from node
# to node straight between the slaves, keeping its pid, memory, output
# pipe, signals and wait() status; libbproc moves its caller and forks
# children onto nodes; moves that must fail leave the process where it was.
. "$(dirname "$0")/lib.sh"

cluster_up 3
build=$(dirname "$(command -v bpmaster)")/..
out_dir=$(mktemp -d "$build/bpmove-nodes-test.XXXXXX")
trap 'rm -rf "$out_dir"; cluster_down' EXIT

# The real processes of a ghost, as the host sees them (pid namespaces nest).
real_of() { grep -l "^NSpid:.*[[:space:]]$1$" /proc/[0-9]*/status 2>/dev/null | grep -v "^/proc/$1/" | cut -d/ -f3; }
copies() { real_of "$1" | wc -l; }
node_of() { bpstat -p | awk -v p="$1" '$1 == p { print $2 }'; }
lines() { wc -l <"$1"; }
# Wait until the file has grown past n lines: the process runs.
grows() { local n=$2; wait_for 10 bash -c "[ \$(wc -l <'$1') -gt $n ]"; }

# --- memory and a stdout pipe, from the master to node 0, 1 and 2 ------------
# (In a subshell with pipefail, so its status is python3's exit code.)
(set -o pipefail; python3 -u -c '
import hashlib, os, sys, time
data = bytearray(os.urandom(1 << 20)) * 16
before = hashlib.sha256(data).hexdigest()
for i in range(150):
    print(i, hashlib.sha256(data).hexdigest() == before, os.getpid(), flush=True)
    time.sleep(0.02)
sys.exit(7)
' </dev/null 2>&1 | cat >"$out_dir/hops") &
job=$!
sleep 0.4
p=$(pgrep -f 'range\(150\)' | head -1)
check "bpmove from the master to node 0" bpmove "$p" 0
grows "$out_dir/hops" "$(lines "$out_dir/hops")"
check "bpmove from node 0 to node 1" bpmove "$p" 1
check_eq "bpstat -p shows it on node 1" "1" "$(node_of "$p")"
check_eq "exactly one copy of it runs" "1" "$(copies "$p")"
n=$(lines "$out_dir/hops")
check "it runs on node 1" grows "$out_dir/hops" "$n"
check "bpmove from node 1 to node 2" bpmove "$p" 2
check_eq "bpstat -p shows it on node 2" "2" "$(node_of "$p")"
out=$(bpmove "$p" 2 2>&1)
check_match "a move to the node it is on is refused" "already runs on node 2" "$out"
wait "$job"
check_eq "its parent's wait() gets exit code 7 from node 2" "7" "$?"
expected=$(seq 0 149)
check_eq "every line arrives once, in order, across three moves" "$expected" \
	"$(cut -d' ' -f1 "$out_dir/hops")"
check_eq "the memory checksum holds on every node" "" "$(grep -v ' True ' "$out_dir/hops" || true)"
check_eq "the same pid everywhere" "$p" "$(cut -d' ' -f3 "$out_dir/hops" | sort -u)"

# --- wait() status after node to node --------------------------------------------
python3 -c '
import os, signal, sys, time
signal.signal(signal.SIGUSR1, lambda s, f: sys.exit(42))
time.sleep(30)
' </dev/null >/dev/null 2>&1 &
p=$!
sleep 0.3
bpmove "$p" 0 && bpmove "$p" 1
check_eq "a python3 with a SIGUSR1 handler went 0 -> 1" "1" "$(node_of "$p")"
kill -USR1 "$p"
wait "$p"
check_eq "kill -USR1 on the master runs its handler on node 1 (exit 42)" "42" "$?"

sleep 30 </dev/null >/dev/null 2>&1 &
p=$!
bpmove "$p" 1 && bpmove "$p" 0
check_eq "a sleep went 1 -> 0" "0" "$(node_of "$p")"
kill -STOP "$p"
check "a stop of it shows on its ghost" wait_for 5 bash -c "ps -o stat= -p $p | grep -q [tT]"
kill -CONT "$p"
check "and a continue" wait_for 5 bash -c "ps -o stat= -p $p | grep -vq [tT]"
kill -TERM "$p"
wait "$p"
check_eq "SIGTERM after node to node: wait() says killed by it (143)" "143" "$?"
check_eq "bpstat -p forgets it" "" "$(node_of "$p")"

# --- a node-to-node move that fails at the target: the process stays -------
# On node 0 it opens a file in node 0's own /tmp, which node 1 does not
# have: the restore on node 1 fails, and it must run on, on node 0.
python3 -u -c '
import os, signal, sys, time
held = []
def hold(s, f):
    held.append(open("/tmp/bproc-held-%d" % os.getpid(), "w"))
signal.signal(signal.SIGUSR1, hold)
for i in range(150):
    print(i, len(held), flush=True)
    time.sleep(0.02)
sys.exit(len(held) + 10)
' </dev/null 2>&1 | cat >"$out_dir/fails" &
sleep 0.3
p=$(pgrep -f 'bproc-held' | head -1)
bpmove "$p" 0
kill -USR1 "$p"
wait_for 5 grep -q " 1$" "$out_dir/fails"
out=$(bpmove "$p" 1 2>&1)
check_match "a move whose restore fails on node 1 says why" "node 1: .*criu" "$out"
check_eq "the process is still on node 0" "0" "$(node_of "$p")"
check_eq "one copy of it runs" "1" "$(copies "$p")"
n=$(lines "$out_dir/fails")
check "and it runs on there" grows "$out_dir/fails" "$n"
wait
check_eq "every line once and in order, none lost to the failed move" "$(seq 0 149)" \
	"$(cut -d' ' -f1 "$out_dir/fails")"

# --- asked on a node ----------------------------------------------------------------
python3 -u -c '
import time
for i in range(200):
    print(i, flush=True)
    time.sleep(0.02)
' </dev/null 2>&1 | cat >"$out_dir/asked" &
sleep 0.3
p=$(pgrep -f 'range\(200\)' | head -1)
bpmove "$p" 0
check "bpmove run on node 0 moves it from node 0 to node 1" bpcluster exec 0 bpmove "$p" 1
check_eq "it is on node 1" "1" "$(node_of "$p")"
check "bpmove run on node 2 moves it from node 1 to node 0" bpcluster exec 2 bpmove "$p" 0
check_eq "it is on node 0" "0" "$(node_of "$p")"
out=$(bpcluster exec 1 bpmove 1 0 2>&1)
check_match "a node's own process cannot be named from a node" "does not run on a node" "$out"

bpcluster kill-slave 2 KILL
wait_for 10 node_is 2 down
out=$(bpcluster exec 0 bpmove "$p" 2 2>&1)
check_match "a move to a down node, asked on node 0, is refused" "node 2 is down" "$out"
check_eq "the process stays on node 0" "0" "$(node_of "$p")"
n=$(lines "$out_dir/asked")
check "and runs on" grows "$out_dir/asked" "$n"
wait
check_eq "every line once and in order" "$(seq 0 199)" "$(cat "$out_dir/asked")"

# --- node to node above the old 48 MiB limit: its pages stream ------------------
# From the source's CRIU straight into a page server on the target.
python3 -c '
import hashlib, os, signal
data = bytearray(os.urandom(200 << 20))
before = hashlib.sha256(data).hexdigest()
signal.signal(signal.SIGUSR1, lambda s, f: None)
print("ready", flush=True)
signal.pause()
print(before == hashlib.sha256(data).hexdigest(), open("/proc/sys/kernel/hostname").read().strip(), flush=True)
' </dev/null >"$out_dir/big" 2>&1 &
big=$!
wait_for 30 grep -q ready "$out_dir/big"
check "a 200 MiB python3 moves to node 0" bpmove "$big" 0
check "and from node 0 to node 1, straight" bpmove "$big" 1
check_eq "bpstat -p: on node 1" "1" "$(node_of "$big")"
kill -USR1 "$big"
wait "$big"
check_eq "it exits normally" "0" "$?"
check_eq "its 200 MiB are intact, and it ran on n1" "True n1" "$(tail -1 "$out_dir/big")"
check "node 0 kept nothing of it" test -z "$(bpcluster exec 0 ls /run/bproc/images 2>/dev/null)"

# --- libbproc: bproc_rfork, bproc_vrfork, bproc_move of the caller --------------
"$build/tests/move-self" 0 1 2 </dev/null 2>&1 | cat >"$out_dir/self"
out=$(cat "$out_dir/self")
vpids=$(sed -n 's/^vexecmove r=3 pids \([0-9]*\) \([0-9]*\)$/\1 \2/p' <<<"$out")
check_match "bproc_vexecmove starts 3 processes" "^[0-9]+ [0-9]+$" "$vpids"
check_match "the first runs /bin/sh on node 0, with its own pid" "^vexec on n0 pid ${vpids% *}$" "$out"
check_match "the second on node 1, with its own" "^vexec on n1 pid ${vpids#* }$" "$out"
check_match "their exit codes reach the caller's wait()" \
	"vexec child 0 exit=3.*vexec child 1 exit=3" "$(tr '\n' ' ' <<<"$out")"
check_match "the one for the down node says why and exits 127" \
	"node 2: cannot move there: node 2 is down.*vexec child 2 exit=127" "$(tr '\n' ' ' <<<"$out")"
check_match "one dump served both nodes" \
	"process (${vpids% *}|${vpids#* }), its image made from the dump of (${vpids% *}|${vpids#* })" \
	"$(cat /run/bproc/cluster/master.log)"
check_match "the program starts on the master" "^start r=0 err=- node=-1 pid=[0-9]+ mem=ok$" "$out"
check_match "bproc_rfork: the child runs on node 0" "^rfork child node=0 " "$out"
check_match "and the parent's wait() gets its exit code" "^rfork child exit=17$" "$out"
check_match "bproc_vrfork: child 0 on node 0" "^vrfork child 0 node=0$" "$out"
check_match "child 1 on node 1" "^vrfork child 1 node=1$" "$out"
check_match "both reaped with their codes" "vrfork child 0 exit=20.*vrfork child 1 exit=21" "$(tr '\n' ' ' <<<"$out")"
pid=$(sed -n 's/^start .* pid=\([0-9]*\) .*/\1/p' <<<"$out")
check_match "bproc_move(0) returns 0 on node 0, same pid, memory intact" \
	"^move-a r=0 err=- node=0 pid=$pid mem=ok$" "$out"
check_match "bproc_move(1) from node 0 returns 0 on node 1" \
	"^move-b r=0 err=- node=1 pid=$pid mem=ok$" "$out"
check_match "bproc_move(BPROC_NODE_MASTER) from node 1 returns 0 on the master, same pid" \
	"^move-master r=0 err=- node=-1 pid=$pid mem=ok$" "$out"
check_match "bproc_move to a down node fails and it stays on the master" \
	"^move-down r=-1 err=node 2 is down node=-1 pid=$pid mem=ok$" "$out"
check_match "bproc_rfork_io: the child ends well" "^rfork_io child exit=0$" "$out"
check_eq "its stdout was a file on node 0" "rfork_io child node=0" \
	"$(bpcluster exec 0 cat /tmp/move-self-rfork-io 2>&1)"
check_match "bproc_rexec_io: the program ran" "^rexec_io child exit=0$" "$out"
check_eq "on node 1, its stdout a file there" "rexec_io on n1" \
	"$(bpcluster exec 1 cat /tmp/move-self-rexec-io 2>&1)"
check_match "a child whose io cannot be set up on the node exits 127" \
	"^rfork_io to a file the node cannot make exit=127$" "$out"

finish
