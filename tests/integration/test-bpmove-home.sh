#!/usr/bin/env bash
# Moves back to the master: a process that runs on a node comes back into
# the master's home node (a pid namespace on the master, daemons/master_home.c)
# with its pid as its own, its memory, its output pipe, the master's files,
# and its ghost for signals and wait(); moves that cannot be done leave it
# where it was.
. "$(dirname "$0")/lib.sh"

cluster_up 2
out_dir=$(mktemp -d "$(dirname "$(command -v bpmaster)")/../bpmove-home-test.XXXXXX")
# Something only the master has: a symbolic link in its /tmp, which the
# process reads with readlink(), holding no fd (an fd of a file the node
# lacks, caught open by the freeze, fails the move on the node).
master_file=/tmp/bpmove-home-master-only.$$
ln -sfn "only-on-the-master-$$" "$master_file"
trap 'rm -rf "$out_dir" "$master_file" /tmp/bpmove-home-node-file; cluster_down' EXIT

# The real processes of a ghost, as the host sees them (pid namespaces nest).
node_of() { bpstat -p | awk -v p="$1" '$1 == p { print $2 }'; }
lines() { wc -l <"$1"; }
grows() { local n=$2; wait_for 10 bash -c "[ \$(wc -l <'$1') -gt $n ]"; }
home_slave() { pgrep -P "$(cat /run/bproc/cluster/master.pid)" -x bpslave; }

check "bpmaster started its home node's bpslave" wait_for 5 home_slave
check_eq "bpstat does not list it as a node" "0 1" "$(bpstat -n | tr '\n' ' ' | sed 's/ $//')"

# --- master -> 0 -> master -> 1 -> master ---------------------------------------
# Each line: count, checksum still right, getpid(), what it reads of a file
# that only the master has (the nodes have a /tmp of their own).
(set -o pipefail; python3 -u -c '
import hashlib, os, signal, sys, time
data = bytearray(os.urandom(1 << 20)) * 16
before = hashlib.sha256(data).hexdigest()
signal.signal(signal.SIGTERM, lambda s, f: sys.exit(40))
i = 0
while True:
    try:
        seen = os.readlink(sys.argv[1])
    except OSError:
        seen = "missing"
    print(i, hashlib.sha256(data).hexdigest() == before, os.getpid(), seen, flush=True)
    i += 1
    time.sleep(0.03)
' "$master_file" </dev/null 2>&1 | cat >"$out_dir/trip") &
job=$!
wait_for 5 grep -q . "$out_dir/trip"
p=$(head -1 "$out_dir/trip" | cut -d' ' -f3)

out=$(bpmove "$p" master 2>&1)
check_eq "a process that never left: bpmove to the master fails" "1" "$?"
check_match "saying it already runs there" "process $p already runs on the master" "$out"

# hop NODE WHERE SEEN: move there; its lines then say what it sees of the
# master's file there (lines it wrote before may still be on their way).
hop() {
	check "bpmove $p $1 ($2)" bpmove "$p" "$1"
	check "on $2 it runs, and sees the master's file as: $3" \
		wait_for 10 bash -c "tail -1 '$out_dir/trip' | grep -q ' $3\$'"
}
only="only-on-the-master-$$"
hop 0 "node 0" missing
t0=$(date +%s%N)
check "bpmove $p master (node 0 -> home node)" bpmove "$p" master
echo "# node 0 -> master: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
check "back on the master, it runs and reads the master's file" \
	wait_for 10 bash -c "tail -1 '$out_dir/trip' | grep -q ' $only\$'"
check_eq "bpstat -p shows it on the master (-1)" "-1" "$(node_of "$p")"
real=$(real_of "$p")
check_match "ps on the master: the ghost and one real task, another host pid" "^[0-9]+$" "$real"
if [ -n "$real" ] && [ "$real" != "$p" ]; then ok "the real task's host pid ($real) is not the ghost's ($p)"; else not_ok "host pid of the real task: '$real'"; fi
check_match "the ghost runs bproc-ghost" "bproc-ghost" "$(readlink /proc/$p/exe)"
check_match "the real task runs python3" "python3" "$(readlink /proc/$real/exe 2>&1)"
annotated=$(ps -eo pid,args | bpstat -P)
check_match "bpstat -P marks the ghost -1" "python3" "$(awk -v p="$p" '$1 == "-1" && $2 == p' <<<"$annotated")"
check_match "and leaves the real task unmarked" "python3" "$(awk -v r="$real" '$1 == r' <<<"$annotated")"
out=$(bpmove "$p" -1 2>&1)
check_match "moving it to the master again: it is there" "already runs on the master" "$out"

hop 1 "node 1" missing
hop -1 "the master again" "$only"
check_eq "bpstat -p: on the master again" "-1" "$(node_of "$p")"
check_eq "exactly one real copy of it runs" "1" "$(real_copies "$p" | wc -l)"

kill -TERM "$p"
wait "$job"
check_eq "SIGTERM to the ghost runs its handler; the parent's wait() gets exit 40" "40" "$?"
check_eq "getpid() was the original pid everywhere" "$p" "$(cut -d' ' -f3 "$out_dir/trip" | sort -u)"
check_eq "the memory checksum held on every hop" "" "$(grep -v ' True ' "$out_dir/trip" || true)"
check_eq "every line reached the pipe on the master once, in order" \
	"$(seq 0 $(( $(lines "$out_dir/trip") - 1 )))" "$(cut -d' ' -f1 "$out_dir/trip")"
check_eq "no ghost or copy is left" "" "$(real_copies "$p"; [ -d /proc/$p ] && echo "ghost $p")"

# --- failures leave it where it was ---------------------------------------------
# It opens a file once one is there: on node 0, a file of the node's own
# /tmp, which the master does not have, so its restore in the home node fails.
rm -f /tmp/bpmove-home-node-file
(set -o pipefail; python3 -u -c '
import os, sys, time
f = None
for i in range(1200):
    if f is None and os.path.exists("/tmp/bpmove-home-node-file"):
        f = open("/tmp/bpmove-home-node-file")
    print(i, os.getpid(), f is not None, flush=True)
    time.sleep(0.05)
' </dev/null 2>&1 | cat >"$out_dir/fail") &
job=$!
wait_for 5 grep -q . "$out_dir/fail"
p=$(head -1 "$out_dir/fail" | cut -d' ' -f2)
check "bpmove $p 0" bpmove "$p" 0
bpcluster exec 0 touch /tmp/bpmove-home-node-file
check "on node 0 it opened a file of the node's" wait_for 5 bash -c "tail -1 '$out_dir/fail' | grep -q True"
out=$(bpmove "$p" master 2>&1)
check_eq "a move to the master that cannot restore it fails" "1" "$?"
check_match "saying why" "bpmove-home-node-file|restore" "$out"
echo "$out" | sed 's/^/#   /'
check_eq "and it stays on node 0" "0" "$(node_of "$p")"
n=$(lines "$out_dir/fail")
check "running" grows "$out_dir/fail" "$n"
# Now the master has the file too (the home node sees the master's /tmp).
touch /tmp/bpmove-home-node-file

hs=$(home_slave)
kill -KILL "$hs"
out=$(bpmove "$p" master 2>&1)
check_eq "with the home slave just killed, the move fails" "1" "$?"
check_match "saying why" "home node|went down|node -4|down" "$out"
echo "$out" | sed 's/^/#   /'
check_eq "and it stays on node 0" "0" "$(node_of "$p")"
n=$(lines "$out_dir/fail")
check "running there, unchanged" grows "$out_dir/fail" "$n"
check "bpmaster starts its home node again" wait_for 10 bash -c "h=\$(pgrep -P $(cat /run/bproc/cluster/master.pid) -x bpslave) && [ \"\$h\" != $hs ]"
check "then the move to the master works" wait_for 10 bpmove "$p" master
check_eq "it is on the master" "-1" "$(node_of "$p")"

# Its home slave dies while it runs there: as for any node, its ghost ends
# as killed.
kill -KILL "$(home_slave)"
wait "$job"
check_eq "the home slave killed: the parent's wait() sees SIGKILL" "137" "$?"
# The kernel kills the namespace's processes as its init dies: soon after.
no_copy() { [ -z "$(real_copies "$p")" ]; }
check "no copy is left" wait_for 5 no_copy
check_eq "bpstat -p forgets it" "" "$(node_of "$p")"

finish
