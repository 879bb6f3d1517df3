#!/usr/bin/env bash
# bpmove of a process tree: a process moves with its children and
# grandchildren, each keeps its pid and parent and leaves its own ghost;
# children forked on the node after the move show in bpstat -p; a tree
# move that fails leaves the whole tree running here.  With --lazy too
# (master -> node -> node): the tree runs on the node at once, its memory
# pulled after it; a failure before the commit leaves it where it was, a
# page stream broken after it kills it on both sides.
. "$(dirname "$0")/lib.sh"

cluster_up 2
out_dir=$(mktemp -d "$(dirname "$(command -v bpmaster)")/../bptree-test.XXXXXX")
trap 'rm -rf "$out_dir"; cluster_down' EXIT

# The real process of a ghost, as the host sees it (pid namespaces nest).
is_zombie() { [ "$(ps -o stat= -p "$1" | cut -c1)" = Z ]; }
ppid_of() { ps -o ppid= -p "$1" | tr -d ' '; }
exe_of() { readlink "/proc/$1/exe"; }
children_of() { cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep . | sort -n | tr '\n' ' '; }
on_node() { bpstat -p | awk -v n="$1" '$2 == n' | wc -l; }
# For wait_for, which runs a command again and again:
nchildren_is() { [ "$(children_of "$1" | wc -w)" = "$2" ]; }
on_node_is() { [ "$(on_node "$1")" = "$2" ]; }

# --- a python3 with 2 children and a grandchild ------------------------------
# root -> A -> G, root -> B.  Each holds 512 KiB of its own and checks it
# after the move (moves above 48 MiB of image need streaming, not there yet);
# G ends with 3, A with 4 (after reaping G), B waits until killed; the root
# reaps A and B and ends with 7.  "go" lets them finish.
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
        f.write("%s %d %d %s" % (hashlib.sha256(data).hexdigest() == before, os.getpid(),
                                 os.getppid(), statuses))
    os._exit(code)
def child(name, code, forks=(), wait_go=True):
    pid = os.fork()
    if pid == 0:
        run(name, code, forks, wait_go)
    return pid
grandchild = lambda: child("G", 3)
run("root", 7, [lambda: child("A", 4, [grandchild]), lambda: child("B", 0, (), False)])
' "$out_dir" </dev/null >/dev/null 2>&1 &
root=$!
wait_for 5 nchildren_is "$root" 2
read -r A B <<<"$(children_of "$root")"
wait_for 5 nchildren_is "$A" 1
G=$(children_of "$A" | tr -d ' ')
check "bpmove a python3 with 2 children and a grandchild" bpmove "$root" 1
for p in "$root" "$A" "$B" "$G"; do
	check_match "process $p is a ghost on the master" "bproc-ghost" "$(exe_of "$p")"
	check "process $p runs in node 1 with its pid" test -n "$(real_of "$p")"
	check_match "bpstat -p lists $p on node 1" "^$p	1$" "$(bpstat -p)"
done
procs_of() { bpstat -l | awk -v n="$1" '$1 == n { print $NF }'; }
procs_is() { [ "$(procs_of "$1")" = "$2" ]; }
if wait_for 5 procs_is 1 4; then ok "bpstat -l counts 4 processes on node 1"; else not_ok "bpstat -l counts 4 processes on node 1 (says $(procs_of 1))"; fi
check_eq "the children's ghosts are the root's children" "$root $root" "$(ppid_of "$A") $(ppid_of "$B")"
check_eq "the grandchild's ghost is the child's" "$A" "$(ppid_of "$G")"
check_eq "the root's ghost is still this shell's child" "$$" "$(ppid_of "$root")"
check_match "ps on the master shows the tree under the process's name" "python3 -c" "$(ps -o args= -p "$G")"
check_eq "on the node, A's real parent is the root's copy" "$(real_of "$root")" "$(ppid_of "$(real_of "$A")")"
check_eq "and G's is A's copy" "$(real_of "$A")" "$(ppid_of "$(real_of "$G")")"
realB=$(real_of "$B")
kill -TERM "$B"
# The real B is dead, waiting for its real parent (a zombie) until the root reaps it.
if wait_for 5 is_zombie "$realB"; then ok "SIGTERM to B's ghost reaches the real B"; else not_ok "SIGTERM to B's ghost reaches the real B"; fi
if wait_for 5 gone "$B"; then ok "and B's ghost goes, no zombie left"; else not_ok "B's ghost goes ($(ps -o stat= -p "$B"))"; fi
touch "$out_dir/go"
wait "$root"
check_eq "the root's parent sees its exit code 7" "7" "$?"
check_eq "G: memory intact, same pid, parent A" "True $G $A []" "$(cat "$out_dir/G" 2>&1)"
check_eq "A: memory intact, reaped G's exit 3" "True $A $root [768]" "$(cat "$out_dir/A" 2>&1)"
# On the node, the root's parent is the keeper of its restore (a process of
# the node, see criu_run.c): its real parent is here.
check_match "root: reaped A's exit 4 and B's SIGTERM" "^True $root [0-9]+ \[1024, 15\]$" "$(cat "$out_dir/root" 2>&1)"
for p in "$A" "$G"; do
	if wait_for 5 gone "$p"; then ok "the ghost of $p ended, no zombie left"; else not_ok "the ghost of $p ended ($(ps -o stat= -p "$p"))"; fi
done
check_eq "bpstat -p forgets the whole tree" "0" "$(bpstat -p | grep -cE "^($root|$A|$B|$G)	" || true)"

# --- a shell pipeline, moved while its data is in a pipe ------------------------
bash -c 'seq 1 300000 | (sleep 1; md5sum > "$1/pipeline"); exit 4' _ "$out_dir" </dev/null >/dev/null 2>&1 &
p=$!
wait_for 5 nchildren_is "$p" 2
check "bpmove a shell pipeline (bash, seq blocked on a full pipe, a subshell)" bpmove "$p" 0
wait "$p"
check_eq "the shell's exit code" "4" "$?"
check_eq "every byte went through the pipe on the node" "$(seq 1 300000 | md5sum)" "$(cat "$out_dir/pipeline" 2>&1)"

# --- a child that outlives the root still writes to the root's stdout pipe ---------
# The reader (cat) is this shell's, on the master: the pipe is forwarded.
late_shell='
until_file() { while [ ! -e "$1" ]; do sleep 0.05; done; }
(until_file "$1/child-go"; echo late; echo done > "$1/late") &
until_file "$1/shell-go"
echo early
exit 3'
exec {w}> >(cat >"$out_dir/late-out")
bash -c "$late_shell" _ "$out_dir" </dev/null >&$w 2>&1 &
p=$!
exec {w}>&-
sleep 0.3
check "bpmove a shell whose child outlives it" bpmove "$p" 1
touch "$out_dir/shell-go"
wait "$p"
check_eq "the shell's exit code" "3" "$?"
touch "$out_dir/child-go"
if wait_for 5 test -s "$out_dir/late"; then
	ok "its child writes to the pipe after the shell ended, and goes on (no SIGPIPE)"
else
	not_ok "its child writes to the pipe after the shell ended, and goes on (no SIGPIPE)"
fi
has_lines() { [ "$(cat "$1")" = "$(printf 'early\nlate')" ]; }
if wait_for 5 has_lines "$out_dir/late-out"; then
	ok "what it writes after the shell ended reaches the reader on the master"
else
	not_ok "what it writes after the shell ended reaches the reader on the master"
	sed 's/^/#   /' "$out_dir/late-out"
fi

# The same with the reader inside the tree: bash -c ... > >(cat) makes cat
# a child of that bash, so the pipe moves whole, not forwarded.
rm -f "$out_dir/late" "$out_dir/shell-go" "$out_dir/child-go"
bash -c "$late_shell" _ "$out_dir" </dev/null > >(cat >"$out_dir/late-inner") 2>&1 &
p=$!
sleep 0.3
check "bpmove a shell that writes into a process substitution (its own child)" bpmove "$p" 0
touch "$out_dir/shell-go"
wait "$p"
check_eq "the shell's exit code" "3" "$?"
touch "$out_dir/child-go"
if wait_for 5 has_lines "$out_dir/late-inner"; then
	ok "everything reaches the reader, which moved with it"
else
	not_ok "everything reaches the reader, which moved with it"
	sed 's/^/#   /' "$out_dir/late-inner"
fi

# --- children forked on the node after the move ------------------------------------
# After "fork", the moved process forks c1 and c2, c1 forks a grandchild;
# they end on "end", and the process on "exit".
python3 -c '
import os, sys, time
out = sys.argv[1]
def wait_file(name):
    while not os.path.exists(out + "/" + name):
        time.sleep(0.05)
def child(grandchild):
    pid = os.fork()
    if pid:
        return pid
    g = child(False) if grandchild else 0
    wait_file("end")
    if g:
        os.waitpid(g, 0)
    os._exit(0)
wait_file("fork")
kids = [child(True), child(False)]
for k in kids:
    os.waitpid(k, 0)
wait_file("exit")
' "$out_dir" </dev/null >/dev/null 2>&1 &
p=$!
sleep 0.3
check "bpmove a process that forks later" bpmove "$p" 0
check_eq "bpstat -p: one process on node 0" "1" "$(on_node 0)"
touch "$out_dir/fork"
if wait_for 5 on_node_is 0 4; then
	ok "its 2 children and a grandchild, born on the node, show on node 0"
else
	not_ok "its children born on the node show on node 0"
	bpstat -p | sed 's/^/#   /'
fi
check_eq "the node's own pids, not ghosts" "3" "$(bpstat -p | awk '$2 == 0' | grep -vc "^$p	" || true)"
# Those pids are node 0's own; on the master they may be other processes.
born=$(bpstat -p | awk -v p="$p" '$2 == 0 && $1 != p { print $1 }')
mislabelled=""
for b in $born; do
	ps -eo pid,comm | bpstat -P | grep -Eq "^0 +$b " && mislabelled="$mislabelled $b"
done
check_eq "ps | bpstat -P puts no node in front of master processes with those pids" "" "$mislabelled"
check_match "but the moved process itself is on node 0" "^0 +$p " "$(ps -eo pid,comm | bpstat -P)"
touch "$out_dir/end"
if wait_for 5 on_node_is 0 1; then ok "they vanish from bpstat -p when they end"; else not_ok "they vanish from bpstat -p"; bpstat -p | sed 's/^/#   /'; fi
touch "$out_dir/exit"
wait "$p"
check_eq "then the process ends (exit 0)" "0" "$?"
check_eq "and bpstat -p lists nothing on node 0" "0" "$(on_node 0)"

# --- a tree move that fails leaves the whole tree here, running ----------------------
# The grandchild holds a file lock, which does not move: the move is refused
# (before anything is frozen: migrate/movable.c looks at every process of
# the tree), and the tree runs on here.
python3 -c '
import fcntl, os, sys, time
out = sys.argv[1]
def child(name, grandchild):
    pid = os.fork()
    if pid:
        return pid
    kids = [child(name + "g", False)] if grandchild else []
    if not kids:
        lock = open(out + "/lockfile", "w")
        fcntl.flock(lock, fcntl.LOCK_EX)
    n = 0
    while not os.path.exists(out + "/go-locked"):
        n += 1
        time.sleep(0.02)
    for k in kids:
        os.waitpid(k, 0)
    with open(out + "/" + name, "w") as f:
        f.write("%d" % os.getppid())
    os._exit(0)
k = child("c", True)
os.waitpid(k, 0)
sys.exit(5)
' "$out_dir" </dev/null >/dev/null 2>&1 &
p=$!
wait_for 5 test -e "$out_dir/lockfile"
c=$(children_of "$p" | tr -d ' ')
wait_for 5 nchildren_is "$c" 1
g=$(children_of "$c" | tr -d ' ')
out=$(bpmove "$p" 1 2>&1)
check_match "moving a tree whose grandchild holds a file lock fails, naming it" "process $p cannot move: its descendant $g: fd [0-9]+ .*holds a file lock" "$out"
for q in "$p" "$c" "$g"; do
	check_match "process $q runs on here" "python3" "$(exe_of "$q")"
	check_eq "process $q is out of the freezer" "" "$(grep bproc/ /proc/"$q"/cgroup || true)"
done
check_eq "nothing of it is on node 1" "0" "$(on_node 1)"
touch "$out_dir/go-locked"
wait "$p"
check_eq "and the tree finishes here: exit code 5" "5" "$?"
check_eq "with its links as they were" "$p $c" "$(cat "$out_dir/c" 2>&1) $(cat "$out_dir/cg" 2>&1)"

# --- --lazy: the whole tree restored at once, its memory after it -------------------
# A python3 root with two children, A and B, each holding MIB MiB with its
# checksum.  They report through a pipe to the root (a pipe inside the tree
# moves whole), which appends each report to a file: on SIGUSR1, and once
# at start, a child reports "NAME MEMORY-INTACT PID PPID HOST COUNT".
# SIGTERM ends A with 10, B with 11; the root reaps both and ends with 7.
# With a host name as third argument, A forks a grandchild as soon as it
# runs there (which writes its pid into G and waits).
lazy_tree='
import hashlib, os, signal, sys, time
out, mib = sys.argv[1], int(sys.argv[2])
fork_on = sys.argv[3] if len(sys.argv) > 3 else None
host = lambda: open("/proc/sys/kernel/hostname").read().strip()
r, w = os.pipe()
def child(name, code):
    pid = os.fork()
    if pid:
        return pid
    os.close(r)
    data = bytearray(os.urandom(mib << 20))
    before = hashlib.sha256(data).hexdigest()
    count = [0]
    def report(sig, frame):
        count[0] += 1
        os.write(w, ("%s %s %d %d %s %d\n" % (name, hashlib.sha256(data).hexdigest() == before,
                                              os.getpid(), os.getppid(), host(), count[0])).encode())
    signal.signal(signal.SIGUSR1, report)
    signal.signal(signal.SIGTERM, lambda s, f: os._exit(code))
    report(0, None)
    while not fork_on:
        signal.pause()
    while name != "A" or host() != fork_on:
        time.sleep(0.02)
    if os.fork() == 0:
        with open(out + "/G", "w") as f:
            f.write("%d" % os.getpid())
    while True:
        signal.pause()
kids = [child("A", 10), child("B", 11)]
os.close(w)
with os.fdopen(r) as reports:
    for line in iter(reports.readline, ""):
        with open(out + "/reports", "a") as f:
            f.write(line)
st = [os.waitpid(k, 0)[1] for k in kids]
with open(out + "/root", "w") as f:
    f.write("%d %s %s" % (os.getpid(), st, host()))
sys.exit(7)
'
master_host=$(cat /proc/sys/kernel/hostname)
node_of() { bpstat -p | awk -v p="$1" '$1 == p { print $2 }'; }
copies() { grep -l "^NSpid:.*[[:space:]]$1$" /proc/[0-9]*/status 2>/dev/null | grep -vc "^/proc/$1/"; }
copies_are() { local n=$1; shift; for q; do [ "$(copies "$q")" = "$n" ] || return 1; done; }
ghosts_made() { for q; do [[ "$(exe_of "$q")" == *bproc-ghost ]] || return 1; done; }
nreports() { grep -c "^$1 " "$out_dir/reports" 2>/dev/null; }
more_reports() { [ "$(nreports "$1")" -gt "$2" ]; }
# ask NAME PID: SIGUSR1 to PID (the child, or its ghost); its new report,
# without the count.
ask() {
	local n
	n=$(nreports "$1")
	kill -USR1 "$2"
	wait_for 20 more_reports "$1" "$n" && grep "^$1 " "$out_dir/reports" | tail -1 | cut -d' ' -f1-5
}
start_lazy_tree() {
	rm -f "$out_dir/reports" "$out_dir/root" "$out_dir/G"
	python3 -c "$lazy_tree" "$out_dir" "$@" </dev/null >/dev/null 2>&1 &
	lr=$!
	wait_for 30 more_reports A 0
	wait_for 30 more_reports B 0
	A=$(grep "^A " "$out_dir/reports" | cut -d' ' -f3)
	B=$(grep "^B " "$out_dir/reports" | cut -d' ' -f3)
}
slave1_with() {
	bpcluster kill-slave 1 >/dev/null 2>&1
	wait_for 10 node_is 1 down
	BPROC_FAULT=$1 bpcluster start-slave 1 >/dev/null
	wait_for 10 node_is 1 up
}

# Node 1's restores fail twice (the copies killed there, before the commit).
slave1_with slave-restore:2
start_lazy_tree 32
out=$(bpmove --lazy "$lr" 1 2>&1)
check_match "a lazy tree move whose restore fails on node 1 fails" "fault injected" "$out"
for q in "$lr" "$A" "$B"; do
	check_match "process $q runs on here" "python3" "$(exe_of "$q")"
	check_eq "process $q is out of the freezer" "" "$(grep bproc/ /proc/"$q"/cgroup || true)"
done
check_eq "nothing of it is on node 1" "0 0" "$(on_node 1) $(bpcluster exec 1 ls /run/bproc/images 2>/dev/null | wc -l)"
check_eq "A runs on here, its memory intact" "A True $A $lr $master_host" "$(ask A "$A")"

t0=$(date +%s%N)
check "bpmove --lazy of the tree (a root, two children of 32 MiB) to node 0" bpmove --lazy "$lr" 0
echo "# --lazy tree master -> node 0: $(( ($(date +%s%N) - t0) / 1000000 )) ms to bpmove's return"
# Right away, while the originals are likely still held by CRIU: the
# signal waits in A's original and reaches the copy with its ghost.
check_eq "SIGUSR1 to A's ghost reaches A on node 0, its 32 MiB intact there" \
	"A True $A $lr n0" "$(ask A "$A")"
for q in "$lr" "$A" "$B"; do
	check_eq "bpstat -p lists $q on node 0" "0" "$(node_of "$q")"
done
check "once every page is across, each original is its ghost" wait_for 30 ghosts_made "$lr" "$A" "$B"
check "one copy of each runs" copies_are 1 "$lr" "$A" "$B"
check_eq "the ghosts keep the tree's shape" "$lr $lr $$" "$(ppid_of "$A") $(ppid_of "$B") $(ppid_of "$lr")"
check_eq "on node 0, A's and B's real parent is the root's copy" \
	"$(real_of "$lr") $(real_of "$lr")" "$(ppid_of "$(real_of "$A")") $(ppid_of "$(real_of "$B")")"
check_eq "SIGUSR1 to B's ghost reaches B, its 32 MiB intact" "B True $B $lr n0" "$(ask B "$B")"
check_match "the master made the ghosts once every page was across" \
	"every page of $lr \(3 in its tree\) is on node 0; its ghosts are in place" \
	"$(cat /run/bproc/cluster/master.log)"

out=$(bpmove --lazy "$lr" 1 2>&1)
check_match "from node 0 to node 1, a lazy tree move whose restore fails there fails" "fault injected" "$out"
check "the tree runs on on node 0, one copy of each" wait_for 10 copies_are 1 "$lr" "$A" "$B"
check_eq "bpstat -p: on node 0" "0 0 0" "$(node_of "$lr") $(node_of "$A") $(node_of "$B")"
check_eq "B runs on on node 0, its memory intact" "B True $B $lr n0" "$(ask B "$B")"

t0=$(date +%s%N)
check "bpmove --lazy of the tree from node 0 to node 1" bpmove --lazy "$lr" 1
echo "# --lazy tree node 0 -> node 1: $(( ($(date +%s%N) - t0) / 1000000 )) ms to bpmove's return"
check_eq "SIGUSR1 to B's ghost reaches B on node 1, its 32 MiB intact there" \
	"B True $B $lr n1" "$(ask B "$B")"
check_eq "bpstat -p: on node 1" "1 1 1" "$(node_of "$lr") $(node_of "$A") $(node_of "$B")"
check "once every page is across, node 0 lets the originals go: one copy of each" \
	wait_for 30 copies_are 1 "$lr" "$A" "$B"
check_match "node 0 served the pages after the commit, then let the tree go" \
	"move [0-9]+: every page of process $lr is on node 1" "$(cat /run/bproc/cluster/n0/slave.log)"
check_eq "on node 1, A's and B's real parent is the root's copy" \
	"$(real_of "$lr") $(real_of "$lr")" "$(ppid_of "$(real_of "$A")") $(ppid_of "$(real_of "$B")")"
check_eq "A on node 1: its 32 MiB intact, same pid, same parent" "A True $A $lr n1" "$(ask A "$A")"
kill -TERM "$A"
wait_for 10 gone "$A"
kill -TERM "$B"
wait "$lr"
check_eq "the root's parent sees its exit code 7" "7" "$?"
check_eq "the root reaped A's 10 and B's 11 on node 1" "$lr [2560, 2816] n1" "$(cat "$out_dir/root" 2>&1)"
check "node 0 and node 1 kept no images" \
	test -z "$(bpcluster exec 0 ls /run/bproc/images 2>/dev/null)$(bpcluster exec 1 ls /run/bproc/images 2>/dev/null)"

# SIGKILL to a child's ghost right after the commit, most likely while CRIU
# still holds its original: its copy is killed too (when the ghosts are
# made), and the rest of the tree runs on.
start_lazy_tree 64
check "bpmove --lazy of a tree of 2 x 64 MiB to node 0" bpmove --lazy "$lr" 0
realB=$(real_of "$B")
kill -KILL "$B"
# Dead, waiting for its real parent (a zombie) until the root reaps it.
check "SIGKILL to B's ghost: the real B dies on node 0" wait_for 20 is_zombie "$realB"
check_eq "A runs on on node 0, its memory intact" "A True $A $lr n0" "$(ask A "$A")"
kill -TERM "$A"
wait "$lr"
check_eq "the root ends with 7" "7" "$?"
check_eq "it reaped A's 10 and B's SIGKILL on node 0" "$lr [2560, 9] n0" "$(cat "$out_dir/root" 2>&1)"
if grep -q "process $B was killed while its pages were served" /run/bproc/cluster/master.log; then
	echo "# (B was killed while CRIU held its original)"
fi

# A lazy tree move whose page stream breaks after the commit: the copies lack
# memory and the originals are behind them; the whole tree is lost on both
# sides, and the root's parent sees SIGKILL.  So is the grandchild A forked
# on node 1 meanwhile (its pages came from the same stream).  From the
# master, then between nodes.
for from in master 0; do
	start_lazy_tree 192 n1
	g=""
	[ "$from" = 0 ] && bpmove "$lr" 0
	if bpmove --lazy "$lr" 1; then
		ok "bpmove --lazy of a tree of 2 x 192 MiB from $from to node 1"
		wait_for 10 test -s "$out_dir/G"
		g=$(cat "$out_dir/G")
		check_match "from $from: A forks a grandchild on node 1, in bpstat -p" "^$g	1$" "$(bpstat -p)"
		kill -9 $(pgrep -f "criu lazy-pages") 2>/dev/null
		if wait_for 10 copies_are 0 "$g"; then ok "from $from: the grandchild is killed with the tree"; else
			not_ok "from $from: the grandchild is killed with the tree"
		fi
	else
		not_ok "bpmove --lazy of a tree of 2 x 192 MiB from $from to node 1"
		kill -9 "$lr" "$A" "$B"
	fi
	wait "$lr" 2>/dev/null
	check_eq "from $from: when the page stream breaks, the root's parent sees SIGKILL" "137" "$?"
	if wait_for 10 copies_are 0 "$lr" "$A" "$B"; then ok "from $from: no copy is left on any node"; else
		not_ok "from $from: no copy is left on any node"
	fi
	check "from $from: nor any original or ghost" wait_for 10 eval "gone $A && gone $B"
	check_eq "from $from: bpstat -p forgets the tree" "" "$(node_of "$lr")$(node_of "$A")$(node_of "$B")$(node_of "$g")"
done

# --- a tree to a node that is down ----------------------------------------------------
bash -c 'sleep 300 & sleep 300 & wait' </dev/null >/dev/null 2>&1 &
p=$!
wait_for 5 nchildren_is "$p" 2
kids=$(children_of "$p")
bpcluster kill-slave 1
if wait_for 5 node_is 1 down; then ok "node 1 is down"; else not_ok "node 1 goes down"; fi
out=$(bpmove "$p" 1 2>&1)
check_match "moving a tree to a down node fails" "node 1 is down" "$out"
check "the shell runs on here" alive "$p"
check_eq "with both its children" "$kids" "$(children_of "$p")"
pkill -P "$p" sleep 2>/dev/null
wait "$p"
finish
