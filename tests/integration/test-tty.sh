#!/usr/bin/env bash
# A process on a terminal moves and keeps its terminal: an interactive bash
# on a pseudo-terminal (python3's pty module plays the user) starts a
# program in the foreground; it is moved with bpmove; then lines typed at
# the terminal reach it, its output appears there, Ctrl-C, Ctrl-Z and a
# window resize reach it, and the shell sees its end ($? 130 for Ctrl-C).
# Then one goes on from node to node and back to the master, its terminal
# with it; and a tree in the foreground moves, and Ctrl-Z, fg and Ctrl-C
# reach all of it.
. "$(dirname "$0")/lib.sh"

cluster_up 2
out_dir=$(mktemp -d "$(dirname "$(command -v bpmaster)")/../tty-test.XXXXXX")
trap 'rm -rf "$out_dir"; cluster_down' EXIT

cat >"$out_dir/user.py" <<'EOF'
import fcntl, os, pty, re, select, struct, subprocess, sys, termios, time

failures = 0
def ok(cond, what, detail=""):
    global failures
    print(("ok - " if cond else "not ok - ") + what, flush=True)
    if not cond:
        failures += 1
        for line in detail.splitlines()[-15:]:
            print("#   " + line, flush=True)

def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

pid, fd = pty.fork()
if pid == 0:
    os.environ["PS1"] = "$ "
    os.environ["TERM"] = "dumb"
    os.execvp("bash", ["bash", "--norc", "--noprofile", "-i"])
set_size(fd, 40, 100)
seen = ""
everything = []  # all that came, for counting

def expect(pattern, timeout=10):
    """Read the terminal until pattern shows up in what came since the last call."""
    global seen
    deadline = time.time() + timeout
    while True:
        m = re.search(pattern, seen)
        if m:
            seen = seen[m.end():]
            return m
        left = deadline - time.time()
        if left <= 0:
            return None
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                got = os.read(fd, 65536).decode(errors="replace")
                seen += got
                everything.append(got)
            except OSError:
                return None

def type_(text):
    os.write(fd, text.encode())

def move(what):
    """Start what in the foreground, wait for 'ready PID', move PID to node 1."""
    type_(what + "\n")
    m = expect(r"ready (\d+)\r?\n")
    if not m:
        return None, "no 'ready' from the program:\n" + seen
    p = int(m.group(1))
    r = subprocess.run(["bpmove", str(p), "1"], capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr
    listed = subprocess.run(["bpstat", "-p"], capture_output=True, text=True).stdout
    if not re.search(r"^%d\t1$" % p, listed, re.M):
        return None, "bpstat -p:\n" + listed
    return p, ""

expect(r"\$ ")

# 1. python3: lines in, output out, isatty and tcgetattr on the node, Ctrl-C
prog = r'''
import os, signal, sys, termios
def winch(*a):
    c, r = os.get_terminal_size(0)
    print("size %dx%d" % (c, r), flush=True)
signal.signal(signal.SIGWINCH, winch)
print("ready", os.getpid(), flush=True)
while True:
    line = input()
    print("got[%s] tty=%s attrs=%s" % (line, os.isatty(0), isinstance(termios.tcgetattr(0), list)), flush=True)
'''
with open(sys.argv[1] + "/prog.py", "w") as f:
    f.write(prog)
p, why = move("python3 " + sys.argv[1] + "/prog.py")
ok(p is not None, "bpmove a python3 reading its terminal, in the foreground", why)
type_("hello there\n")
m = expect(r"got\[(.*?)\] tty=(\w+) attrs=(\w+)")
ok(m is not None and m.group(1) == "hello there", "a line typed at the terminal reaches it on the node", seen)
ok(m is not None and m.group(2) == "True" and m.group(3) == "True",
   "on the node its stdin is a terminal and tcgetattr works", seen)
type_("second\n")
ok(expect(r"got\[second\]") is not None, "and the next line", seen)
# the echo comes from the master's terminal, once
type_("once\n")
m = expect(r"got\[once\]")
ok(m is not None, "a third line", seen)
set_size(fd, 50, 120)  # as a terminal emulator does: the kernel sends SIGWINCH
ok(expect(r"size 120x50") is not None, "a window resize reaches it with the new size", seen)
type_("\x03")
# what is typed next is the shell's once it is back (the signal takes a
# round trip to the node meanwhile)
expect(r"\$ ")
type_("echo status=$?\n")
m = expect(r"status=(\d+)")
ok(m is not None and m.group(1) == "130", "Ctrl-C at the terminal kills it: the shell's $? is 130",
   "got " + (m.group(1) if m else seen))

# 2. cat: echo and output, Ctrl-Z, fg, Ctrl-D
p, why = move("sh -c 'echo ready $$; exec cat'")
ok(p is not None, "bpmove cat in the foreground", why)
type_("abc\n")
m = expect(r"abc\r\n(abc)\r\n")
ok(m is not None, "a line typed appears once as typed (echo) and once from cat", seen)
type_("\x1a")
ok(expect(r"Stopped") is not None, "Ctrl-Z stops it: the shell says Stopped", seen)
state = subprocess.run(["ps", "-o", "stat=", "-p", str(p)], capture_output=True, text=True).stdout.strip()
ok(state[:1] in ("T", "t"), "and its ghost is stopped", "state " + state)
expect(r"\$ ")
# The shell's job table names the stop signal it read from the ghost's
# wait status: "Stopped" (SIGTSTP), "Stopped (signal)" (SIGSTOP).
type_("jobs -l\n")
m = expect(r"Stopped([^\r\n]*)\r\n")
ok(m is not None and "(" not in m.group(1), "jobs -l: stopped by SIGTSTP, as on the node",
   "got " + (m.group(0) if m else seen))
expect(r"\$ ")
type_("fg\n")
time.sleep(0.5)
type_("after\n")
ok(expect(r"after\r\n(after)\r\n") is not None, "after fg it reads and writes again", seen)
type_("\x04")
expect(r"\$ ")
type_("echo status=$?\n")
m = expect(r"status=(\d+)")
ok(m is not None and m.group(1) == "0", "Ctrl-D is its end of file: cat exits 0",
   "got " + (m.group(1) if m else seen))

# 3. node to node and back: a python3 reading input() goes master -> 0 ->
# 1 -> master (its home node), with lines typed between the moves; each
# reply comes back once (none lost, none twice), a line typed while it
# does not read goes along unread, the settings it gives its terminal on a
# node go along (VTIME, harmless in canonical mode), Ctrl-Z and fg after a
# move between nodes, Ctrl-C ends it ($? 130).
trip = r'''
import os, socket, sys, termios, time
print("ready", os.getpid(), flush=True)
n = 0
def vtime(a):  # bytes in canonical mode, an int in raw mode
    v = a[6][termios.VTIME]
    return v if isinstance(v, int) else ord(v)
while True:
    line = input()
    n += 1
    if line == "settime":
        a = termios.tcgetattr(0)
        a[6][termios.VTIME] = bytes([7])
        termios.tcsetattr(0, termios.TCSANOW, a)
    if line == "nap":
        time.sleep(3)
    a = termios.tcgetattr(0)
    print("reply%d[%s] host=%s tty=%s echo=%d vtime=%d" % (n, line, socket.gethostname(),
          os.isatty(0), 1 if a[3] & termios.ECHO else 0, vtime(a)), flush=True)
'''
with open(sys.argv[1] + "/trip.py", "w") as f:
    f.write(trip)
def reply(n, line, timeout=10):
    """Wait for reply n to line."""
    return expect(r"reply%d\[%s\] host=(\S+) tty=(\w+) echo=(\d) vtime=(\d+)" % (n, re.escape(line)), timeout)
def hop(p, node, where):
    t0 = time.time()
    r = subprocess.run(["bpmove", str(p), node], capture_output=True, text=True)
    took = time.time() - t0
    listed = subprocess.run(["bpstat", "-p"], capture_output=True, text=True).stdout
    want = "-1" if node == "master" else node
    good = r.returncode == 0 and re.search(r"^%d\t%s$" % (p, want), listed, re.M)
    ok(good, "bpmove to %s (%s) in %.2f s" % (node, where, took), r.stderr + listed)
    return good

type_("python3 " + sys.argv[1] + "/trip.py\n")
m = expect(r"ready (\d+)\r?\n")
tp = int(m.group(1)) if m else 0
ok(m is not None, "a second python3 reading its terminal starts", seen)
first = len(everything)
hop(tp, "0", "master -> node 0")
type_("settime\n")
m = reply(1, "settime")
ok(m is not None and m.group(2) == "True" and m.group(3) == "0" and m.group(4) == "7",
   "on node 0: a line reaches it; it sets VTIME on its terminal (echo off there)", seen)
# A move that fails (node 1's restore, once): what it had not read goes
# back into node 0's pty, and it reads it there.
r = subprocess.run(["bash", "-c", '. "$1"; bpcluster kill-slave 1 >/dev/null 2>&1; '
                    'wait_for 10 node_is 1 down && BPROC_FAULT=slave-restore:1 '
                    'bpcluster start-slave 1 >/dev/null && wait_for 10 node_is 1 up',
                    "slave1", sys.argv[2]], capture_output=True, text=True)
ok(r.returncode == 0, "node 1's slave restarted to fail its next restore", r.stdout + r.stderr)
type_("nap\n")
time.sleep(0.3)
type_("kept\n")
time.sleep(0.7)
r = subprocess.run(["bpmove", str(tp), "1"], capture_output=True, text=True)
ok(r.returncode != 0 and "fault injected" in r.stderr, "a move to node 1 whose restore fails fails",
   r.stderr)
m2 = reply(2, "nap")
m3 = reply(3, "kept")
ok(m2 is not None and m3 is not None,
   "it runs on on node 0 and reads the line it had not read before that move", seen)
hop(tp, "1", "node 0 -> node 1")
type_("on one\n")
m = reply(4, "on one")
ok(m is not None, "after node 0 -> node 1: a typed line reaches it", seen)
ok(m is not None and m.group(2) == "True" and m.group(3) == "0" and m.group(4) == "7",
   "on node 1 its stdin is a terminal with the settings it gave it on node 0",
   m.group(0) if m else seen)
type_("\x1a")
ok(expect(r"Stopped") is not None, "Ctrl-Z after a move between nodes: Stopped", seen)
expect(r"\$ ")
type_("fg\n")
time.sleep(0.5)
type_("after fg\n")
ok(reply(5, "after fg") is not None, "fg: it reads again on node 1", seen)
# A line typed while it naps waits unread in node 1's pty; it goes along.
type_("nap\n")
time.sleep(0.3)
type_("unread\n")
time.sleep(0.7)
hop(tp, "master", "node 1 -> the master's home node")
m6 = reply(6, "nap")
m7 = reply(7, "unread", 15)
ok(m6 is not None and m7 is not None, "the line typed before the move, unread on node 1, reaches it on the master", seen)
type_("home\n")
m = reply(8, "home")
ok(m is not None and m.group(2) == "True" and m.group(4) == "7",
   "on the master (home node): a typed line reaches it; a terminal with its settings",
   m.group(0) if m else seen)
time.sleep(0.5)
expect(r"never", 0.5)  # whatever else comes, to count it
log = "".join(everything[first:])
counts = [len(re.findall(r"reply%d\[" % i, log)) for i in range(1, 9)]
ok(counts == [1] * 8, "each of its 8 replies came back once", "counts %s" % counts)
echoes = [len(re.findall(r"(?<!\[)%s\r\n" % re.escape(w), log))
          for w in ("settime", "kept", "on one", "after fg", "home")]
ok(echoes == [1] * 5, "each typed line shows once (the master's echo only)",
   "counts %s in %r" % (echoes, log[-600:]))
logs = {n: open("/run/bproc/cluster/n%d/slave.log" % n).read() for n in (0, 1)}
ok("not read yet given back" in logs[0] and "not read yet go with it" in logs[1],
   "node 0 gave back the unread line of the failed move; node 1 sent one with its move",
   "".join(l for n in (0, 1) for l in logs[n].splitlines(True) if "not read yet" in l))
seen = ""
type_("\x03")
expect(r"\$ ")
type_("echo status=$?\n")
m = expect(r"status=(\d+)")
ok(m is not None and m.group(1) == "130", "Ctrl-C ends it on the home node: $? is 130",
   "got " + (m.group(1) if m else seen))

# 4. job control over a moved tree: a python3 with two children (all in
# the job's process group) in the foreground, moved to node 1 with its
# tree; Ctrl-Z stops all three (the shell says Stopped, every ghost is
# stopped), fg runs them again, Ctrl-C ends all three ($? 130) and nothing
# of the tree is left.
tree = r'''
import os, sys, time
kids = []
for _ in range(2):
    k = os.fork()
    if k == 0:
        while True:
            time.sleep(0.05)
    kids.append(k)
print("ready", os.getpid(), *kids, flush=True)
while True:
    line = input()
    alive = sum(1 for k in kids if os.waitpid(k, os.WNOHANG) == (0, 0))
    host = open("/proc/sys/kernel/hostname").read().strip()
    print("tree[%s] kids=%d host=%s" % (line, alive, host), flush=True)
'''
with open(sys.argv[1] + "/tree.py", "w") as f:
    f.write(tree)
def states(pids):
    out = subprocess.run(["ps", "-o", "stat=", "-p", ",".join(map(str, pids))],
                         capture_output=True, text=True).stdout
    return [l.strip()[:1] for l in out.splitlines()]
def settle(cond, timeout=5):
    deadline = time.time() + timeout
    while not cond() and time.time() < deadline:
        time.sleep(0.05)
    return cond()
seen = ""
type_("python3 " + sys.argv[1] + "/tree.py\n")
m = expect(r"ready (\d+) (\d+) (\d+)\r?\n")
members = [int(g) for g in m.groups()] if m else []
ok(m is not None, "a python3 with two children starts in the foreground", seen)
r = subprocess.run(["bpmove", str(members[0] if members else 0), "1"], capture_output=True, text=True)
listed = subprocess.run(["bpstat", "-p"], capture_output=True, text=True).stdout
ok(r.returncode == 0 and members and
   all(re.search(r"^%d\t1$" % p, listed, re.M) for p in members),
   "bpmove of the tree's root: all three on node 1", r.stderr + listed)
type_("one\n")
ok(expect(r"tree\[one\] kids=2 host=n1") is not None, "a typed line reaches the root on node 1; its children live", seen)
type_("\x1a")
ok(expect(r"Stopped") is not None, "Ctrl-Z: the shell says Stopped", seen)
# (t: in a stop as seen by their tracer, the master)
ok(members and settle(lambda: all(s in ("T", "t") for s in states(members)) and len(states(members)) == 3),
   "and the three ghosts are stopped",
   "states %s" % (states(members) if members else None))
expect(r"\$ ")
type_("fg\n")
ok(members and settle(lambda: all(s in ("S", "R") for s in states(members))),
   "fg: the three ghosts run again", "states %s" % (states(members) if members else None))
type_("two\n")
ok(expect(r"tree\[two\] kids=2 host=n1") is not None, "and the root reads again on node 1, its children alive", seen)
type_("\x03")
expect(r"\$ ")
type_("echo status=$?\n")
m = expect(r"status=(\d+)")
ok(m is not None and m.group(1) == "130", "Ctrl-C ends the job: $? is 130",
   "got " + (m.group(1) if m else seen))
def tree_gone():
    listed = subprocess.run(["bpstat", "-p"], capture_output=True, text=True).stdout
    return states(members) == [] and not any(re.search(r"^%d\t" % p, listed, re.M) for p in members)
ok(members and settle(tree_gone), "nothing of the tree is left: no ghost, nothing in bpstat -p",
   "states %s" % (states(members) if members else None))

type_("exit\n")
os.waitpid(pid, 0)
sys.exit(1 if failures else 0)
EOF

python3 "$out_dir/user.py" "$out_dir" "$(dirname "$0")/lib.sh"
status=$?
if [ "$status" -ne 0 ]; then
	test_failures=$((test_failures + 1))
	for log in /run/bproc/cluster/master.log /run/bproc/cluster/*/slave.log; do
		echo "# $log:"
		tail -15 "$log" | sed 's/^/#   /'
	done
fi
finish
