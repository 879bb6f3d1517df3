#!/usr/bin/env bash
# Stops and continues of the processes below the root of a moved tree show
# on their ghosts: a SIGSTOP or SIGCONT sent to a child's ghost reaches the
# real child, and the child's stop (sent there, or its own) stops its ghost
# on the master, whose parent there sees it with waitpid(WUNTRACED).  After
# a tree moved to a node and after it moved on to another.  And the parent
# sees the signal that stopped it (SIGTSTP as SIGTSTP).
. "$(dirname "$0")/lib.sh"

cluster_up 2
out_dir=$(mktemp -d "$(dirname "$(command -v bpmaster)")/../bpstops-test.XXXXXX")
trap 'rm -rf "$out_dir"; cluster_down' EXIT

# The real process of a ghost, as the host sees it (pid namespaces nest).
exe_of() { readlink "/proc/$1/exe"; }
children_of() { cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep . | sort -n | tr '\n' ' '; }
nchildren_is() { [ "$(children_of "$1" | wc -w)" = "$2" ]; }
# A ghost in a stop is traced (bpmaster is its tracer): ps says t.
stopped() { case "$(state_of "$1")" in T | t) ;; *) return 1 ;; esac; }
running() { case "$(state_of "$1")" in R | S | D) ;; *) return 1 ;; esac; }
# Its ghost (on the master) and its real process (on the node) both so.
both() {
	local want=$1 pid=$2 real
	real=$(real_of "$pid")
	[ -n "$real" ] && "$want" "$pid" && "$want" "$real"
}
# The state of process $1 as its node's own /proc shows it (its pid there
# is its pid on the master), read from inside its namespaces.
node_state_of() {
	nsenter -t "$(real_of "$1")" -p -m sh -c "cut -d' ' -f3 /proc/$1/stat" 2>/dev/null || true
}

# The tree: the root (bash) forks C1 (sleep) and C2 (sh), which stops
# itself (kill -STOP $$) when told to, and says it went on.
tree='
until_file() { while [ ! -e "$1" ]; do sleep 0.05; done; }
sleep 300 &
c1=$!
sh -c "while [ ! -e \"\$1/stop-self\" ]; do sleep 0.05; done; rm -f \"\$1/stop-self\"
       kill -STOP \$\$; echo on >> \"\$1/went-on\"
       while [ ! -e \"\$1/stop-self\" ]; do sleep 0.05; done
       kill -STOP \$\$; echo on >> \"\$1/went-on\"; exec sleep 300" _ "$1" &
c2=$!
until_file "$1/root-go"
kill -KILL $c1 $c2
wait
exit 6'
bash -c "$tree" _ "$out_dir" </dev/null >/dev/null 2>&1 &
root=$!
# Its children (not the sleeps of its wait loop).
wait_for 5 pgrep -P "$root" -x sh
C1=$(pgrep -P "$root" -f "^sleep 300$")
C2=$(pgrep -P "$root" -x sh)

stops_hold() {
	local where=$1 c1real
	c1real=$(real_of "$C1")
	kill -STOP "$C1"
	if wait_for 5 both stopped "$C1"; then
		ok "$where: SIGSTOP to a child's ghost stops the real child, and its ghost"
	else
		not_ok "$where: SIGSTOP to a child's ghost stops it (ghost $(state_of "$C1"), real $(state_of "$c1real"))"
	fi
	check_eq "$where: the child is stopped in its node's /proc" "T" "$(node_state_of "$C1")"
	check "$where: its parent (the root) runs on" both running "$root"
	kill -CONT "$C1"
	if wait_for 5 both running "$C1"; then
		ok "$where: SIGCONT to its ghost continues both"
	else
		not_ok "$where: SIGCONT continues both (ghost $(state_of "$C1"), real $(state_of "$c1real"))"
	fi
	sleep 0.3
	check "$where: and they stay running" both running "$C1"
	touch "$out_dir/stop-self"
	if wait_for 5 both stopped "$C2"; then
		ok "$where: a child that stops itself on the node: its ghost stops"
	else
		not_ok "$where: a child that stops itself: its ghost stops (ghost $(state_of "$C2"), real $(state_of "$(real_of "$C2")"))"
	fi
	kill -CONT "$C2"
	if wait_for 5 both running "$C2"; then
		ok "$where: SIGCONT to its ghost: it goes on"
	else
		not_ok "$where: SIGCONT to its ghost: it goes on (ghost $(state_of "$C2"))"
	fi
}

check "bpmove the tree to node 1" bpmove "$root" 1
for p in "$root" "$C1" "$C2"; do
	check_match "process $p is a ghost on the master" "bproc-ghost" "$(exe_of "$p")"
done
stops_hold "on node 1"
check_eq "the child went on once" "on" "$(cat "$out_dir/went-on" 2>&1)"

check "bpmove the tree on from node 1 to node 0" bpmove "$root" 0
stops_hold "on node 0"
check_eq "the child went on twice" "on on" "$(tr '\n' ' ' <"$out_dir/went-on" | sed 's/ $//')"

touch "$out_dir/root-go"
wait_for 10 ended "$root" || kill -KILL "$root"
wait "$root"
check_eq "the root's parent gets its exit code" "6" "$?"

# --- the parent on the master sees the stop with waitpid(WUNTRACED) ------------------
# A subreaper on the master: when the root ends, the child's ghost is its
# child, and it waits for the child's stops and continues.
timeout 60 python3 -c '
import ctypes, os, signal, subprocess, sys, time
out = sys.argv[1]
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
def wait_file(name):
    while not os.path.exists(out + "/" + name):
        time.sleep(0.05)
root = os.fork()
if root == 0:
    os.execvp("bash", ["bash", "-c", """
sh -c "while [ ! -e \\"\\$1/stop-now\\" ]; do sleep 0.05; done; kill -STOP \\$\\$; exec sleep 300" _ "$1" &
echo $! > "$1/child"
while [ ! -e "$1/root-end" ]; do sleep 0.05; done""", "_", out])
wait_file("child")
child = int(open(out + "/child").read())
r = subprocess.run(["bpmove", str(root), "1"], capture_output=True, text=True)
print("moved", r.returncode, r.stderr.strip(), flush=True)
open(out + "/root-end", "w").close()
_, st = os.waitpid(root, 0)
print("root", os.waitstatus_to_exitcode(st), flush=True)
print("parent", open("/proc/%d/stat" % child).read().rsplit(")", 1)[1].split()[1] == str(os.getpid()), flush=True)
def on_alarm(sig, frame):
    raise TimeoutError
signal.signal(signal.SIGALRM, on_alarm)
def status():
    t0 = time.monotonic()
    signal.alarm(5)
    try:
        _, st = os.waitpid(child, os.WUNTRACED | os.WCONTINUED)
    except TimeoutError:
        real = subprocess.run(["sh", "-c", "grep -l \"^NSpid:.*[[:space:]]%d$\" /proc/[0-9]*/status | grep -v /proc/%d/ | head -1 | cut -d/ -f3" % (child, child)], capture_output=True, text=True).stdout.strip()
        state = lambda p: open("/proc/%s/stat" % p).read().rsplit(")", 1)[1].split()[0] if p else "?"
        print("nothing in 5 s: ghost %s, real %s" % (state(child), state(real)), file=sys.stderr, flush=True)
        return "nothing in 5 s", 0
    finally:
        signal.alarm(0)
    ms = (time.monotonic() - t0) * 1000
    if os.WIFSTOPPED(st):
        return "stopped %s" % signal.Signals(os.WSTOPSIG(st)).name, ms
    if os.WIFCONTINUED(st):
        return "continued", ms
    return "ended 0x%x" % st, ms
open(out + "/stop-now", "w").close()
s, ms = status()
print(s, flush=True)
os.kill(child, signal.SIGCONT)
s, ms = status()
print(s, flush=True)
t0 = time.monotonic()
os.kill(child, signal.SIGSTOP)
s, _ = status()
print("stop ms %d" % ((time.monotonic() - t0) * 1000), file=sys.stderr, flush=True)
print(s, flush=True)
os.kill(child, signal.SIGCONT)
print(status()[0], flush=True)
os.kill(child, signal.SIGKILL)
_, st = os.waitpid(child, 0)
print("killed", os.WIFSIGNALED(st) and os.WTERMSIG(st) == signal.SIGKILL, flush=True)
' "$out_dir" </dev/null >"$out_dir/waits" 2>"$out_dir/waits.err"
lines() { sed -n "$1p" "$out_dir/waits"; }
check_eq "the child's tree moves to node 1" "moved 0 " "$(lines 1)"
check_eq "its root ends there" "root 0" "$(lines 2)"
check_eq "the child's ghost is the subreaper's child" "parent True" "$(lines 3)"
check_eq "its kill -STOP \$\$ on the node: waitpid(WUNTRACED) on the master says stopped by SIGSTOP" "stopped SIGSTOP" "$(lines 4)"
check_eq "SIGCONT to its ghost: WIFCONTINUED" "continued" "$(lines 5)"
check_eq "SIGSTOP to its ghost: stopped by SIGSTOP" "stopped SIGSTOP" "$(lines 6)"
check_eq "SIGCONT again: WIFCONTINUED" "continued" "$(lines 7)"
check_eq "SIGKILL: it dies of it" "killed True" "$(lines 8)"
sed 's/^/# /' "$out_dir/waits.err"

# --- the stop signal: the parent on the master sees the one that stopped it --
# (stop-signals.py says how: a root in a group of its own, and a grandchild
# whose group is held on the node too, each a child of the waiter.)
timeout 90 python3 "$(dirname "$0")/stop-signals.py" "$out_dir" </dev/null >"$out_dir/sigs" 2>"$out_dir/sigs.err"
sigs() { sed -n "$1p" "$out_dir/sigs"; }
check_eq "a tree whose root is in a group of its own moves to node 1" "moved 0 " "$(sigs 1)"
check_eq "SIGTSTP to the root's ghost: its parent's waitpid says stopped by SIGTSTP" "root stopped SIGTSTP" "$(sigs 2)"
check_eq "SIGCONT to it: WIFCONTINUED" "root continued" "$(sigs 3)"
check_eq "SIGSTOP to it: stopped by SIGSTOP" "root stopped SIGSTOP" "$(sigs 4)"
check_eq "SIGCONT again: WIFCONTINUED" "root continued" "$(sigs 5)"
check_eq "a grandchild's ghost is the subreaper's child once its parent ended" "k parent True" "$(sigs 6)"
check_eq "its own SIGTSTP on the node (its group held there): stopped by SIGTSTP" "k stopped SIGTSTP" "$(sigs 7)"
check_eq "the real grandchild is stopped on the node" "k real T" "$(sigs 8)"
check_eq "SIGCONT to its ghost: WIFCONTINUED" "k continued" "$(sigs 9)"
check_eq "SIGTSTP to its ghost: stopped by SIGTSTP" "k stopped SIGTSTP" "$(sigs 10)"
check_eq "SIGCONT again: WIFCONTINUED" "k continued" "$(sigs 11)"
check_eq "the root dies of SIGKILL" "root killed True" "$(sigs 12)"
sed 's/^/# /' "$out_dir/sigs.err"

# --- SIGCONT and SIGSTOP at once to a stopped ghost ---------------------------
# Its parent sees it continued, then stopped (or only stopped: waitpid may
# fold the two), each time, as for a process here.  The SIGSTOP flushes the
# SIGCONT before the ghost takes it (the kernel does that), so the SIGCONT
# is not passed on; nor, here, would a process's SIGCONT handler run (tried
# on this machine: 0 runs in 10).  Ten times.
timeout 120 python3 -c '
import os, signal, subprocess, sys, time
child = os.fork()
if child == 0:
    os.execvp("sleep", ["sleep", "300"])
time.sleep(0.3)
r = subprocess.run(["bpmove", str(child), "1"], capture_output=True, text=True)
print("moved", r.returncode, r.stderr.strip(), flush=True)
def on_alarm(sig, frame):
    raise TimeoutError
signal.signal(signal.SIGALRM, on_alarm)
def status():
    signal.alarm(5)
    try:
        _, st = os.waitpid(child, os.WUNTRACED | os.WCONTINUED)
    except TimeoutError:
        return "nothing in 5 s"
    finally:
        signal.alarm(0)
    if os.WIFSTOPPED(st):
        return "stopped"
    return "continued" if os.WIFCONTINUED(st) else "ended"
os.kill(child, signal.SIGSTOP)
first = status()
seen = []
for i in range(10):
    os.kill(child, signal.SIGCONT)
    os.kill(child, signal.SIGSTOP)
    a = status()
    b = status() if a == "continued" else "-"
    seen.append(a + "," + b)
# The continue may be told, or folded into the stop that follows (as for
# a process here: waitpid reports the last of them).
ends = set(seen) <= {"continued,stopped", "stopped,-"}
print(first, "each ends stopped" if ends else " ".join(seen), flush=True)
os.kill(child, signal.SIGKILL)
_, st = os.waitpid(child, 0)
print("killed", os.WIFSIGNALED(st) and os.WTERMSIG(st) == signal.SIGKILL, flush=True)
' </dev/null >"$out_dir/contstop" 2>&1
cs() { sed -n "$1p" "$out_dir/contstop"; }
check_eq "a sleep moves to node 1" "moved 0 " "$(cs 1)"
check_eq "SIGCONT and SIGSTOP at once, 10 times: its parent sees it stopped each time" \
	"stopped each ends stopped" "$(cs 2)"
check_eq "then SIGKILL ends it" "killed True" "$(cs 3)"
finish
