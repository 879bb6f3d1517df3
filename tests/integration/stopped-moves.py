#!/usr/bin/env python3
"""stopped-moves.py OUT_DIR - for test-bpmove-stopped.sh: processes moved
while stopped, with this program as their parent on the master, waiting
with waitpid(WUNTRACED | WCONTINUED).  Prints what it sees, one line per
check ("key: value"); the test compares the values.

A: a sleep stopped by SIGSTOP (the stop collected), moved master -> node 0
   -> node 1 -> master (its home node), then continued, stopped, continued
   and ended by SIGTERM through its ghost.
B: a sleep stopped by SIGTSTP, the stop not collected before it moves to
   node 0: the parent collects it afterwards, once.
C: bash with two sleeps, the first stopped by SIGSTOP, moved as a tree
   master -> 0 -> 1 -> master; then SIGCONT, SIGSTOP, SIGCONT to the
   stopped one's ghost, and both ended: bash's wait on the node gets their
   statuses, ours gets bash's.
D: a sleep stopped by SIGSTOP moved with --lazy master -> node 0 -> node 1,
   then continued and killed.
E: a python3 with four threads stopped by SIGSTOP, moved master -> node 0:
   every thread of the copy stopped, then all run after a SIGCONT."""
import os
import signal
import subprocess
import sys
import time

from ghostproc import next_wait_status, real_all, real_of, stat_of

out = sys.argv[1]
TREE = """
sleep 300 & c1=$!
sleep 300 & c2=$!
echo "$c1 $c2" > "$1/kids"
wait $c1; echo "c1 $?" >> "$1/statuses"
wait $c2; echo "c2 $?" >> "$1/statuses"
exit 5
"""


def say(key, value):
    print("%s: %s" % (key, value), flush=True)


def state(pid):
    s = stat_of(pid) if pid else []
    return s[0] if s else "gone"


def ids(pid):
    """Its parent, process group and session."""
    return tuple(stat_of(pid)[1:4])


def node_of(pid):
    lines = subprocess.run(["bpstat", "-p"], capture_output=True, text=True).stdout.split("\n")
    for line in lines:
        f = line.split()
        if len(f) == 2 and f[0] == str(pid):
            return f[1]
    return "none"


def is_ghost(pid):
    try:
        return os.path.basename(os.readlink("/proc/%d/exe" % pid)) == "bproc-ghost"
    except OSError:
        return False


def stopped(st):
    return st in ("T", "t")


def running(st):
    return st in ("R", "S", "D")


def settle(pred, secs=5):
    """Whether pred holds twice in a row, 50 ms apart, within secs.  Once
    is not enough: a ghost passes through a tracing stop ("t") each time a
    signal reaches it, until the master lets it go on, so a look can see a
    stop that is not one; and looking again after the loop, as this once
    did, could see such a passing stop and say no."""
    end = time.monotonic() + secs
    while True:
        if pred():
            time.sleep(0.05)
            if pred():
                return True
        if time.monotonic() >= end:
            return False
        time.sleep(0.02)


def decode(st):
    if os.WIFSTOPPED(st):
        return "stopped %s" % signal.Signals(os.WSTOPSIG(st)).name
    if os.WIFCONTINUED(st):
        return "continued"
    if os.WIFSIGNALED(st):
        return "killed %s" % signal.Signals(os.WTERMSIG(st)).name
    return "exit %d" % os.WEXITSTATUS(st)


def status(pid):
    """The next thing waitpid tells of pid, within 5 s."""
    st = next_wait_status(pid)
    return "nothing in 5 s" if st is None else decode(st)


def events(pid):
    """What waitpid has to tell of pid now, without waiting."""
    seen = []
    while True:
        got, st = os.waitpid(pid, os.WUNTRACED | os.WCONTINUED | os.WNOHANG)
        if got == 0:
            break
        seen.append(decode(st))
        if not (os.WIFSTOPPED(st) or os.WIFCONTINUED(st)):
            break
    return " ".join(seen) or "none"


def spawn(argv):
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)
        os.execvp(argv[0], argv)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass  # it did first
    return pid


def move(pid, node, *opts):
    r = subprocess.run(["bpmove", *opts, str(pid), node], capture_output=True, text=True)
    return "%d %s" % (r.returncode, r.stderr.strip())


def where(node):
    return "-1" if node == "master" else node


def both_stopped(pid):
    """Its ghost and its one real process are stopped (the original a
    move between nodes leaves on its source goes a moment after)."""
    real = real_all(pid)
    return len(real) == 1 and stopped(state(pid)) and stopped(state(real[0]))


def both_run(pid):
    real = real_all(pid)
    return len(real) == 1 and running(state(pid)) and running(state(real[0]))


def shown(pid):
    """How a moved process looks: its ghost, its state, its real state."""
    real = real_of(pid)
    return "ghost %s %s real %s" % (is_ghost(pid), "stopped" if stopped(state(pid)) else state(pid),
                                    "stopped" if real and stopped(state(real)) else state(real))


time.sleep(0)

# --- A: stopped by SIGSTOP, moved around, then continued -------------------
a = spawn(["sleep", "300"])
time.sleep(0.2)
os.kill(a, signal.SIGSTOP)
say("a stop", status(a))
a_ids = ids(a)
for node in ("0", "1", "master"):
    t0 = time.monotonic()
    say("a move %s" % node, move(a, node))
    say("a move %s ms" % node, "%d" % ((time.monotonic() - t0) * 1000))
    settle(lambda: node_of(a) == where(node) and both_stopped(a), 2)
    say("a on %s" % node, node_of(a))
    say("a %s" % node, shown(a))
    say("a ids %s" % node, ids(a) == a_ids)
    time.sleep(0.2)
    say("a events %s" % node, events(a))
os.kill(a, signal.SIGCONT)
say("a cont", status(a))
say("a runs", settle(lambda: both_run(a)))
os.kill(a, signal.SIGSTOP)
say("a stop again", status(a))
say("a stopped again", settle(lambda: both_stopped(a)))
os.kill(a, signal.SIGCONT)
say("a cont again", status(a))
os.kill(a, signal.SIGTERM)
say("a end", status(a))

# --- B: stopped by SIGTSTP, its stop collected after the move --------------
b = spawn(["sleep", "300"])
time.sleep(0.2)
os.kill(b, signal.SIGTSTP)
settle(lambda: stopped(state(b)))
say("b move 0", move(b, "0"))
settle(lambda: both_stopped(b), 2)
say("b 0", shown(b))
say("b stop", status(b))
say("b events", events(b))
say("b move 1", move(b, "1"))
settle(lambda: node_of(b) == "1" and both_stopped(b), 2)
say("b 1", shown(b))
say("b events 1", events(b))
os.kill(b, signal.SIGCONT)
say("b cont", status(b))
say("b runs", settle(lambda: both_run(b)))
os.kill(b, signal.SIGKILL)
say("b end", status(b))

# --- C: a tree with a stopped child ----------------------------------------
root = spawn(["bash", "-c", TREE, "_", out])
settle(lambda: os.path.exists(out + "/kids") and len(open(out + "/kids").read().split()) == 2)
c1, c2 = (int(x) for x in open(out + "/kids").read().split())
os.kill(c1, signal.SIGSTOP)
settle(lambda: stopped(state(c1)))
c1_ids, c2_ids, root_ids = ids(c1), ids(c2), ids(root)
for node in ("0", "1", "master"):
    t0 = time.monotonic()
    say("tree move %s" % node, move(root, node))
    say("tree move %s ms" % node, "%d" % ((time.monotonic() - t0) * 1000))
    settle(lambda: node_of(c1) == where(node) and both_stopped(c1) and both_run(c2), 2)
    say("tree on %s" % node, " ".join(node_of(p) for p in (root, c1, c2)))
    say("c1 %s" % node, shown(c1))
    say("c2 %s" % node, shown(c2))
    say("root %s" % node, shown(root))
    say("ids %s" % node, (ids(root), ids(c1), ids(c2)) == (root_ids, c1_ids, c2_ids))
    say("root events %s" % node, events(root))
os.kill(c1, signal.SIGCONT)
say("c1 runs", settle(lambda: both_run(c1)))
os.kill(c1, signal.SIGSTOP)
say("c1 stops", settle(lambda: both_stopped(c1)))
say("c1 stops shown", shown(c1))
os.kill(c1, signal.SIGCONT)
say("c1 runs again", settle(lambda: both_run(c1)))
time.sleep(0.2)
os.kill(c1, signal.SIGTERM)
time.sleep(0.2)
os.kill(c2, signal.SIGKILL)
say("root end", status(root))
say("statuses", " ".join(open(out + "/statuses").read().split("\n")).strip())

# --- D: stopped, moved with --lazy ----------------------------------------
d = spawn(["sleep", "300"])
time.sleep(0.2)
os.kill(d, signal.SIGSTOP)
say("d stop", status(d))
for node in ("0", "1"):
    say("d move %s" % node, move(d, node, "--lazy"))
    settle(lambda: node_of(d) == node and is_ghost(d) and both_stopped(d), 3)
    say("d %s" % node, shown(d))
    time.sleep(0.2)
    say("d events %s" % node, events(d))
os.kill(d, signal.SIGCONT)
say("d cont", status(d))
say("d runs", settle(lambda: both_run(d)))
os.kill(d, signal.SIGKILL)
say("d end", status(d))

# --- E: four threads, stopped ---------------------------------------------
THREADS = """import threading, time
for i in range(3):
    threading.Thread(target=time.sleep, args=(300,), daemon=True).start()
time.sleep(300)
"""
e = spawn(["python3", "-c", THREADS])
settle(lambda: len(os.listdir("/proc/%d/task" % e)) == 4)
os.kill(e, signal.SIGSTOP)
say("e stop", status(e))


def thread_states(pid):
    real = real_of(pid)
    try:
        return " ".join(sorted("stopped" if stopped(state(int(t))) else state(int(t))
                               for t in os.listdir("/proc/%d/task" % real)))
    except (OSError, TypeError):
        return "none"


say("e move 0", move(e, "0"))
settle(lambda: thread_states(e) == "stopped stopped stopped stopped" and both_stopped(e), 2)
say("e 0", shown(e))
say("e threads", thread_states(e))
say("e events", events(e))
os.kill(e, signal.SIGCONT)
say("e cont", status(e))
say("e runs", settle(lambda: both_run(e) and all(running(x) for x in thread_states(e).split())))
os.kill(e, signal.SIGKILL)
say("e end", status(e))
