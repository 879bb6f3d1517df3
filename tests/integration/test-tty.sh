#!/usr/bin/env bash
# A process on a terminal moves and keeps its terminal: an interactive bash
# on a pseudo-terminal (python3's pty module plays the user) starts a
# program in the foreground; it is moved with bpmove; then lines typed at
# the terminal reach it, its output appears there, Ctrl-C, Ctrl-Z and a
# window resize reach it, and the shell sees its end ($? 130 for Ctrl-C).
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
                seen += os.read(fd, 65536).decode(errors="replace")
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

type_("exit\n")
os.waitpid(pid, 0)
sys.exit(1 if failures else 0)
EOF

python3 "$out_dir/user.py" "$out_dir"
status=$?
if [ "$status" -ne 0 ]; then
	test_failures=$((test_failures + 1))
	for log in /run/bproc/cluster/master.log /run/bproc/cluster/*/slave.log; do
		echo "# $log:"
		tail -15 "$log" | sed 's/^/#   /'
	done
fi
finish
