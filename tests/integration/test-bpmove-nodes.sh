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
copies() { real_copies "$1" | wc -l; }
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

# --- a tree from node to node ------------------------------------------------
# root -> A -> G, root -> B, each with 512 KiB of its own that it checks at
# the end; moved master -> 0 -> 1 whole.  G ends with 3, A with 4 (after
# reaping G), B waits until killed; the root reaps A and B and ends with 7.
ppid_of() { ps -o ppid= -p "$1" | tr -d ' '; }
children_of() { cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep . | sort -n | tr '\n' ' '; }
nchildren_is() { [ "$(children_of "$1" | wc -w)" = "$2" ]; }
mkdir "$out_dir/tree"
python3 -c '
import hashlib, os, sys, time
out = sys.argv[1]
def run(name, code, forks=(), wait_go=True):
    data = bytearray(os.urandom(1 << 19))
    before = hashlib.sha256(data).hexdigest()
    kids = [f() for f in forks]
    while wait_go and not os.path.exists(out + "/go"):
        time.sleep(0.05)
    while not wait_go:
        time.sleep(1)
    statuses = [os.waitpid(k, 0)[1] for k in kids]
    with open("%s/%s" % (out, name), "w") as f:
        f.write("%s %d %d %s %s" % (hashlib.sha256(data).hexdigest() == before, os.getpid(),
                                    os.getppid(), statuses,
                                    open("/proc/sys/kernel/hostname").read().strip()))
    os._exit(code)
def child(name, code, forks=(), wait_go=True):
    pid = os.fork()
    if pid == 0:
        run(name, code, forks, wait_go)
    return pid
grandchild = lambda: child("G", 3)
run("root", 7, [lambda: child("A", 4, [grandchild]), lambda: child("B", 0, (), False)])
' "$out_dir/tree" </dev/null >/dev/null 2>&1 &
root=$!
wait_for 5 nchildren_is "$root" 2
read -r A B <<<"$(children_of "$root")"
wait_for 5 nchildren_is "$A" 1
G=$(children_of "$A" | tr -d ' ')
check "a python3 with 2 children and a grandchild moves to node 0" bpmove "$root" 0
t0=$(date +%s%N)
check "and from node 0 to node 1, the whole tree" bpmove "$root" 1
echo "# tree node 0 -> node 1: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
for p in "$root" "$A" "$B" "$G"; do
	check_eq "bpstat -p lists $p on node 1" "1" "$(node_of "$p")"
	check_eq "one copy of $p runs" "1" "$(copies "$p")"
done
check_eq "on node 1, A's real parent is the root's copy" "$(real_of "$root")" "$(ppid_of "$(real_of "$A")")"
check_eq "and G's is A's copy" "$(real_of "$A")" "$(ppid_of "$(real_of "$G")")"
check_eq "B's real parent is the root's copy" "$(real_of "$root")" "$(ppid_of "$(real_of "$B")")"
check_eq "the ghosts keep the tree's shape" "$root $root $A" "$(ppid_of "$A") $(ppid_of "$B") $(ppid_of "$G")"
kill -TERM "$B"
check "SIGTERM to B's ghost ends the real B on node 1, and its ghost" wait_for 5 gone "$B"
touch "$out_dir/tree/go"
wait "$root"
check_eq "the root's parent's wait() gets exit code 7 from node 1" "7" "$?"
check_eq "the root reaped A (exit 4) and B (SIGTERM), its memory intact, on n1" \
	"True $root [1024, 15] n1" "$(cut -d' ' -f1,2,4- "$out_dir/tree/root")"
check_eq "A: its pid and parent, reaped G (exit 3), memory intact, on n1" \
	"True $A $root [768] n1" "$(cat "$out_dir/tree/A")"
check_eq "G: its pid and parent, memory intact, on n1" "True $G $A [] n1" "$(cat "$out_dir/tree/G")"
for p in "$A" "$G"; do
	check "the ghost of $p ends too, no zombie left" wait_for 5 gone "$p"
done
check_eq "bpstat -p forgets them" "" "$(bpstat -p | awk -v a="$root" -v b="$A" -v c="$B" -v d="$G" '$1 == a || $1 == b || $1 == c || $1 == d')"

# --- a signal to a child's ghost while its tree moves between nodes ------------
# The child holds 150 MiB, so the move takes a while; the signal sent
# meanwhile is held by the master and reaches the child once, wherever it
# runs then.
python3 -c '
import os, signal, sys, time
out = sys.argv[1]
if os.fork() == 0:
    data = bytearray(os.urandom(150 << 20))
    def note(s, f):
        with open(out, "a") as f:
            f.write(open("/proc/sys/kernel/hostname").read().strip() + "\n")
    signal.signal(signal.SIGUSR1, note)
    open(out + ".ready", "w").close()
    while True:
        time.sleep(1)
os.wait()
' "$out_dir/usr1" </dev/null >/dev/null 2>&1 &
root=$!
wait_for 30 test -e "$out_dir/usr1.ready"
C=$(children_of "$root" | tr -d ' ')
check "a tree with a 150 MiB child moves to node 0" bpmove "$root" 0
bpmove "$root" 1 &
mover=$!
sleep 0.15
kill -USR1 "$C"
wait "$mover"
check_eq "it moved on to node 1" "1 1" "$(node_of "$root") $(node_of "$C")"
check "the child's handler ran" wait_for 5 test -s "$out_dir/usr1"
sleep 0.5
check_eq "once" "1" "$(cat "$out_dir/usr1" 2>/dev/null | wc -l)"
kill -KILL "$C" "$root"
wait "$root" 2>/dev/null

# --- a child born on node 0 goes with its parent to node 1 --------------------
mkdir "$out_dir/born"
python3 -c '
import os, sys, time
out = sys.argv[1]
def wait_file(name):
    while not os.path.exists(out + "/" + name):
        time.sleep(0.05)
wait_file("fork")
kid = os.fork()
if kid == 0:
    wait_file("end")
    with open(out + "/kid", "w") as f:
        f.write("%d %d %s" % (os.getpid(), os.getppid(),
                              open("/proc/sys/kernel/hostname").read().strip()))
    os._exit(5)
st = os.waitpid(kid, 0)[1]
with open(out + "/parent", "w") as f:
    f.write("%d %d" % (kid, st))
' "$out_dir/born" </dev/null >/dev/null 2>&1 &
p=$!
sleep 0.3
born_on() { bpstat -p | awk -v p="$p" -v n="$1" '$2 == n && $1 != p { print $1 }'; }
born_is() { [ "$(born_on "$1")" = "$2" ]; }
check "a process that forks later moves to node 0" bpmove "$p" 0
touch "$out_dir/born/fork"
has_born() { [ -n "$(born_on "$1")" ]; }
wait_for 5 has_born 0
kid=$(born_on 0)
check_match "its child, born on node 0, shows there" "^[0-9]+$" "$kid"
check "the parent moves from node 0 to node 1 with it" bpmove "$p" 1
check_eq "bpstat -p: the parent on node 1" "1" "$(node_of "$p")"
check_eq "and its child born on node 0, now on node 1" "$kid" "$(born_on 1)"
check_eq "nothing of them on node 0" "" "$(born_on 0)"
touch "$out_dir/born/end"
wait "$p"
check_eq "the parent ends well on node 1" "0" "$?"
check_eq "the child ran on n1 with its pid and parent" "$kid $p n1" "$(cat "$out_dir/born/kid")"
check_eq "and its parent reaped its exit code 5" "$kid 1280" "$(cat "$out_dir/born/parent")"
check "bpstat -p forgets the child" wait_for 5 born_is 1 ""

# --- a pipe within the tree stays within it from node to node ------------------
# bash's stdout is a pipe to its own child cat: it moves whole, never
# forwarded through a slave.
bash -c 'exec > >(exec cat >"$1"); for i in $(seq 1 60); do echo "$i"; sleep 0.05; done' \
	bash "$out_dir/inner" </dev/null 2>/dev/null &
p=$!
wait_for 5 test -s "$out_dir/inner"
check "a bash whose stdout is a pipe to its child cat moves to node 0" bpmove "$p" 0
check "and on to node 1" bpmove "$p" 1
wait "$p"
check "the cat ends" wait_for 5 bash -c "[ \$(wc -l <'$out_dir/inner') -ge 60 ]"
check_eq "every line reached cat's file once, in order" "$(seq 1 60)" "$(cat "$out_dir/inner")"

# --- a node-to-node move refused before anything is frozen --------------------
# On node 0 it opens a TCP connection (to itself): refused on node 0, with
# the resource named, while it runs on.
python3 -u -c '
import os, signal, socket, time
held = []
def hold(s, f):
    l = socket.socket()
    l.bind(("127.0.0.1", 0))
    l.listen(1)
    c = socket.create_connection(l.getsockname())
    a = l.accept()[0]
    l.close()
    held.extend([c, a])
signal.signal(signal.SIGUSR1, hold)
for i in range(150):
    print(i, len(held), flush=True)
    time.sleep(0.02)
' </dev/null 2>&1 | cat >"$out_dir/tcp" &
sleep 0.3
p=$(pgrep -f 'socket.create_connection' | head -1)
bpmove "$p" 0
kill -USR1 "$p"
wait_for 5 grep -q " 2$" "$out_dir/tcp"
out=$(bpmove "$p" 1 2>&1)
check_match "a process holding a TCP connection on node 0 is refused there, naming it" \
	"node 0: process $p cannot move: fd [0-9]+ is a TCP connection 127.0.0.1:[0-9]+ -> 127.0.0.1:[0-9]+" "$out"
check_eq "the process is still on node 0" "0" "$(node_of "$p")"
check_eq "one copy of it runs" "1" "$(copies "$p")"
n=$(lines "$out_dir/tcp")
check "and it runs on there" grows "$out_dir/tcp" "$n"
wait
check_eq "every line once and in order" "$(seq 0 149)" "$(cut -d' ' -f1 "$out_dir/tcp")"

# --- a node-to-node move refused by the target: the process stays -----------
# On node 0 it opens a file in node 0's own /tmp, which node 1 does not
# have: node 1 says so before anything is frozen, and it runs on, on node 0.
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
check_match "a move to a node without a file it has open says which, before freezing" \
	"node 0: process $p cannot move: fd [0-9]+, /tmp/bproc-held-$p, is not on node 1" "$out"
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

# --- node to node post-copy: bpmove --lazy ----------------------------------------
# Restored on node 1 at once, its memory pulled from node 0's CRIU on demand;
# node 0 keeps the frozen original until every page is across, then kills it.
python3 -c '
import hashlib, os, signal
data = bytearray(os.urandom(200 << 20))
before = hashlib.sha256(data).hexdigest()
signal.signal(signal.SIGUSR1, lambda s, f: None)
print("ready", flush=True)
signal.pause()
print(before == hashlib.sha256(data).hexdigest(), open("/proc/sys/kernel/hostname").read().strip(), flush=True)
' </dev/null >"$out_dir/lazy" 2>&1 &
lz=$!
wait_for 30 grep -q ready "$out_dir/lazy"
check "a 200 MiB python3 moves to node 0" bpmove "$lz" 0
t0=$(date +%s%N)
check "bpmove --lazy moves it on to node 1" bpmove --lazy "$lz" 1
echo "# --lazy node 0 -> node 1 of 200 MiB: $(( ($(date +%s%N) - t0) / 1000000 )) ms to bpmove's return"
check_eq "bpstat -p: on node 1" "1" "$(node_of "$lz")"
copies_is() { [ "$(copies "$1")" = "$2" ]; }
check "once every page is across, node 0's original is gone: one copy" wait_for 30 copies_is "$lz" 1
check_match "node 0 served its pages after the commit, then let the original go" \
	"move [0-9]+: process $lz runs on node 1; its pages follow on demand.*move [0-9]+: every page of process $lz is on node 1" \
	"$(tr '\n' ' ' </run/bproc/cluster/n0/slave.log)"
kill -USR1 "$lz"
wait "$lz"
check_eq "it exits normally" "0" "$?"
check_eq "its 200 MiB are intact, and it ran on n1" "True n1" "$(tail -1 "$out_dir/lazy")"
check "node 0 kept nothing of it" test -z "$(bpcluster exec 0 ls /run/bproc/images 2>/dev/null)"

# A lazy move whose page stream breaks after the commit: the copy lacks
# memory and the original is behind it, so the process is lost on both nodes
# and its parent sees SIGKILL.
python3 -c '
import os, signal
data = bytearray(os.urandom(300 << 20))
print("ready", flush=True)
signal.pause()
' </dev/null >"$out_dir/lazybroken" 2>&1 &
lz=$!
wait_for 30 grep -q ready "$out_dir/lazybroken"
bpmove "$lz" 0
if bpmove --lazy "$lz" 1; then
	ok "bpmove --lazy of a 300 MiB python3 from node 0 to node 1"
	kill -9 $(pgrep -f "criu lazy-pages") 2>/dev/null
else
	not_ok "bpmove --lazy of a 300 MiB python3 from node 0 to node 1"
	kill -9 "$lz"
fi
wait "$lz" 2>/dev/null
check_eq "when its page stream breaks, its parent sees SIGKILL" "137" "$?"
if wait_for 10 copies_is "$lz" 0; then ok "no copy of it is left on either node"; else
	not_ok "no copy of it is left on either node"
	for r in $(real_copies "$lz"); do grep -E "^(State|NSpid|PPid)" "/proc/$r/status" | tr '\n' ' ' | sed 's/^/#   /'; echo; done
fi
check_eq "bpstat -p forgets it" "" "$(node_of "$lz")"

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
