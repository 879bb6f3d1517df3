#!/usr/bin/env python3
"""stop-signals.py OUT_DIR - for test-bpmove-stops.sh: a parent on the master
that waits with waitpid(WUNTRACED | WCONTINUED) for the stops of a moved
root and of a moved grandchild, and prints what it sees, one line each.

R, our child in a group of its own (so held: we are in the same session,
in another group), moves with its children J and M and M's child K; K
leads a group of its own, which J joins.  Once M ends, K's ghost is ours
(we are a subreaper), and K's group is still held on the node too (by J,
whose parent R is in the same session): the kernel delivers K's own
SIGTSTP there, as it would here."""
import ctypes
import os
import signal
import subprocess
import sys
import time

from ghostproc import next_wait_status, real_of, stat_of

out = sys.argv[1]
TREE = """
import os, signal, sys, time
out = sys.argv[1]
def wait_file(name):
    while not os.path.exists(out + "/" + name):
        time.sleep(0.05)
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
if os.fork() == 0:
    if os.fork() == 0:
        os.setpgid(0, 0)
        # Whole or not at all: the others read it as soon as it exists.
        open(out + "/k.new", "w").write(str(os.getpid()))
        os.rename(out + "/k.new", out + "/k")
        wait_file("k-tstp")
        os.kill(os.getpid(), signal.SIGTSTP)
        time.sleep(300)
        os._exit(0)
    wait_file("m-end")
    os._exit(0)
wait_file("k")
k = int(open(out + "/k").read())
if os.fork() == 0:
    os.setpgid(0, k)
    open(out + "/j", "w").close()
    time.sleep(300)
    os._exit(0)
time.sleep(300)
"""


def wait_file(name):
    while not os.path.exists(out + "/" + name):
        time.sleep(0.05)


def status(pid):
    st = next_wait_status(pid)
    if st is None:
        return "nothing in 5 s"
    if os.WIFSTOPPED(st):
        return "stopped %s" % signal.Signals(os.WSTOPSIG(st)).name
    if os.WIFCONTINUED(st):
        return "continued"
    return "ended 0x%x" % st


def say(*what):
    print(*what, flush=True)


ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
r = os.fork()
if r == 0:
    os.setpgid(0, 0)
    os.execvp("python3", ["python3", "-c", TREE, out])
try:
    os.setpgid(r, r)
except OSError:
    pass  # it did first
wait_file("j")
k = int(open(out + "/k").read())
res = subprocess.run(["bpmove", str(r), "1"], capture_output=True, text=True)
say("moved", res.returncode, res.stderr.strip())

# The root: SIGTSTP to its ghost stops it (on the node with SIGSTOP where
# the kernel would drop the SIGTSTP there), and its parent sees SIGTSTP.
for sig in (signal.SIGTSTP, signal.SIGCONT, signal.SIGSTOP, signal.SIGCONT):
    os.kill(r, sig)
    say("root", status(r))

# K: its parent M ends, so K (its ghost) is ours.
open(out + "/m-end", "w").close()
for _ in range(100):
    if stat_of(k)[1] == str(os.getpid()):
        break
    time.sleep(0.05)
say("k parent", stat_of(k)[1] == str(os.getpid()))
open(out + "/k-tstp", "w").close()
say("k", status(k))
real = real_of(k)
say("k real", stat_of(real)[0] if real else "?")
for sig in (signal.SIGCONT, signal.SIGTSTP, signal.SIGCONT):
    os.kill(k, sig)
    say("k", status(k))
os.kill(k, signal.SIGKILL)
os.kill(r, signal.SIGKILL)
_, st = os.waitpid(r, 0)
say("root killed", os.WIFSIGNALED(st) and os.WTERMSIG(st) == signal.SIGKILL)
