#!/usr/bin/env python3
"""bench/migration.py - what a move costs, against baselines measured in
the same run on the same local cluster (these machines are noisy, so only
the ratios mean something).

For processes holding 16 MiB, 256 MiB and 1 GiB of random bytes (every page
touched, nothing compressible), moved from the master to node 0:

  total          bpmove, from the command to the process running on the
                 node (full copy); for --lazy, also the time until every
                 page is on the node (the ghost is made then)
  freeze         how long the process did not run: it writes its
                 CLOCK_MONOTONIC time into its stdout pipe every
                 millisecond, and the largest gap between two of its own
                 readings is the freeze (plus up to 1 ms of the period).
                 The largest gap before the move is printed too (noise)
  raw copy       the same number of bytes (the process's resident size)
                 sent over TCP from the master to a receiver in node 0, over
                 the same veth link, which reads them into one 1 MiB buffer
  kept copy      the same, into fresh memory of the whole size (what a
                 receiver that keeps the bytes, as a restore must, pays);
                 for context, the targets are against the raw copy

Targets (issue 3): total <= 1.3 x raw copy + 60 ms; --lazy freeze <= 50 ms
at 1 GiB.  Each is printed as met or NOT met.

Also: the signal round trip through a ghost (kill on the master -> handler
on the node -> a byte back on stdout) and the stdout throughput through a
ghost, against the same process before it moved.

With --tree, a process tree instead: a ticking root with two children,
each holding MiB of random bytes (the root ticks; the whole tree is frozen
together, so its gap is the tree's freeze), moved from the master to node 0
full copy and --lazy, three times each; "all in" for --lazy is until every
original of the tree is its ghost (every page of every member across).

Run as root from the top of the tree after scripts/build build, with no
other cluster running (the lock the tests take too):
    flock -o /run/bproc-cluster.lock bench/migration.py [MiB ...]
    flock -o /run/bproc-cluster.lock bench/migration.py --tree [MiB ...]
"""
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(TOP, "build")
os.environ["PATH"] = f"{BUILD}/daemons:{BUILD}/clients:" + os.environ["PATH"]
os.environ["LD_LIBRARY_PATH"] = f"{BUILD}/clients/libbproc"
NODE_ADDR = "10.223.0.10"

# A process holding MIB MiB of random bytes that writes its monotonic
# clock (8 bytes, nanoseconds) to stdout every millisecond.
TICKER = r'''
import os, sys, time
os.closerange(3, 1024)
n = int(sys.argv[1]) << 20
data = bytearray(n)
with open("/dev/urandom", "rb", buffering=0) as f:
    view = memoryview(data)
    got = 0
    while got < n:
        got += f.readinto(view[got:got + (64 << 20)])
os.write(1, b"r")
while True:
    os.write(1, time.monotonic_ns().to_bytes(8, "little"))
    time.sleep(0.001)
'''

# TICKER's tree: two children each fill MIB MiB of random bytes (and say so
# on a pipe), then sleep; the root waits for both, then ticks as TICKER.
TREE_TICKER = r'''
import os, sys, time
os.closerange(3, 1024)
n = int(sys.argv[1]) << 20
r, w = os.pipe()
for _ in range(2):
    if os.fork() == 0:
        os.close(r)
        os.dup2(os.open("/dev/null", os.O_WRONLY), 1)
        data = bytearray(n)
        with open("/dev/urandom", "rb", buffering=0) as f:
            view = memoryview(data)
            got = 0
            while got < n:
                got += f.readinto(view[got:got + (64 << 20)])
        os.write(w, b"c")
        os.close(w)
        while True:
            time.sleep(1)
os.close(w)
got = b""
while len(got) < 2:
    got += os.read(r, 2 - len(got))
os.close(r)
os.write(1, b"r")
while True:
    os.write(1, time.monotonic_ns().to_bytes(8, "little"))
    time.sleep(0.001)
'''

HOLDER = r'''
import os, signal, sys, time
os.closerange(3, 1024)
data = bytearray(int(sys.argv[1]) << 20)
for i in range(0, len(data), 4096):
    data[i] = 1
def pong(sig, frame):
    os.write(1, b"x")
signal.signal(signal.SIGUSR1, pong)
def stream(sig, frame):
    chunk = b"y" * 65536
    for _ in range(int(sys.argv[2]) * 16):
        os.write(1, chunk)
signal.signal(signal.SIGUSR2, stream)
os.write(1, b"r")
while True:
    time.sleep(1)
'''


class Ticker:
    """A ticking process and a thread that collects its timestamps."""

    def __init__(self, mib, program=TICKER):
        self.p = subprocess.Popen([sys.executable, "-c", program, str(mib)],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL)
        assert self.p.stdout.read(1) == b"r"
        self.stamps = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        buf = b""
        while True:
            chunk = self.p.stdout.read1(65536)
            if not chunk:
                return
            buf += chunk
            whole = len(buf) - len(buf) % 8
            vals = [v for (v,) in struct.iter_unpack("<Q", buf[:whole])]
            buf = buf[whole:]
            with self.lock:
                self.stamps.extend(vals)

    def mark(self):
        with self.lock:
            return len(self.stamps)

    def largest_gap(self, start, end=None):
        with self.lock:
            s = self.stamps[start:end]
        if len(s) < 2:
            return float("nan")
        return max(b - a for a, b in zip(s, s[1:])) / 1e9

    def stop(self):
        for pid in tree_pids(self.p.pid)[1:]:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.p.kill()
        self.p.wait()


def tree_pids(root):
    """root and its descendants, parents first."""
    pids = [root]
    for pid in pids:
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    pids += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return pids


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def bpmove(pid, lazy=False, node=0):
    cmd = ["bpmove"] + (["--lazy"] if lazy else []) + [str(pid), str(node)]
    t = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t


def is_ghost(pid):
    try:
        return os.readlink(f"/proc/{pid}/exe").endswith("bproc-ghost")
    except OSError:
        return False


# The receivers of the raw copy.  DISCARD reads into one 1 MiB buffer over
# and over (the baseline of the targets); KEEP reads into fresh memory of
# the whole size, as a restored process's memory is: it pays what any
# receiver that keeps the bytes pays for new pages, which on these VMs is
# most of the cost (see docs/performance.md, "Where a full copy's time goes").
RECEIVER_DISCARD = ("c,_=s.accept(); n=0; b=bytearray(1<<20)\n"
                    "while True:\n"
                    "    k=c.recv_into(b)\n"
                    "    if not k: break\n"
                    "    n+=k\n")
RECEIVER_KEEP = ("import mmap\n"
                 "c,_=s.accept(); m=mmap.mmap(-1, int(sys.argv[1])); v=memoryview(m); n=0\n"
                 "while n < len(m):\n"
                 "    k=c.recv_into(v[n:])\n"
                 "    if not k: break\n"
                 "    n+=k\n")


def raw_copy(nbytes, keep=False):
    """Send nbytes from the master to a receiver in node 0, over TCP."""
    receiver = subprocess.Popen(
        ["bpcluster", "exec", "0", sys.executable, "-c",
         "import socket,sys\n"
         "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
         "s.bind(('0.0.0.0', 5999)); s.listen(1); print('ready', flush=True)\n"
         + (RECEIVER_KEEP if keep else RECEIVER_DISCARD) +
         "c.sendall(b'k')\n", str(nbytes)],
        stdout=subprocess.PIPE)
    assert receiver.stdout.readline().strip() == b"ready"
    buf = os.urandom(1 << 20)
    t = time.perf_counter()
    s = socket.create_connection((NODE_ADDR, 5999))
    left = nbytes
    while left > 0:
        k = min(left, len(buf))
        s.sendall(buf[:k])
        left -= k
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
    elapsed = time.perf_counter() - t
    s.close()
    receiver.wait()
    return elapsed


def one_move(mib, lazy, program=TICKER):
    t = Ticker(mib, program)
    nbytes = sum(rss_bytes(pid) for pid in tree_pids(t.p.pid))
    time.sleep(0.5)
    before = t.mark()
    moved = bpmove(t.p.pid, lazy)
    all_in = moved
    if lazy:
        t0 = time.perf_counter() - moved
        while not is_ghost(t.p.pid) and time.perf_counter() - t0 < 120:
            time.sleep(0.002)
        all_in = time.perf_counter() - t0
    time.sleep(0.5)
    noise = t.largest_gap(0, before)
    freeze = t.largest_gap(max(before - 1, 0))
    t.stop()
    return nbytes, moved, all_in, freeze, noise


def verdict(ok):
    return "met" if ok else "NOT met"


def tree_main(sizes, runs=3):
    """A root and two children of MiB each: full copy against --lazy."""
    print("%-15s %-5s %3s %8s %8s %8s %8s" %
          ("tree", "mode", "run", "MiB rss", "bpmove s", "all in s", "freeze s"))
    for mib in sizes:
        for lazy in (False, True):
            for run in range(1, runs + 1):
                nbytes, moved, all_in, freeze, noise = one_move(mib, lazy, TREE_TICKER)
                print("%-15s %-5s %3d %8.0f %8.3f %8.3f %8.3f  noise gap %.3f s"
                      % (f"root + 2x{mib} MiB", "lazy" if lazy else "full", run,
                         nbytes / 2**20, moved, all_in, freeze, noise), flush=True)


def main():
    tree = sys.argv[1:2] == ["--tree"]
    args = sys.argv[2:] if tree else sys.argv[1:]
    sizes = [int(a) for a in args] or ([64, 256] if tree else [16, 256, 1024])
    subprocess.run(["bpcluster", "down"], stdout=subprocess.DEVNULL)
    subprocess.run(["bpcluster", "up", "1"], check=True, stdout=subprocess.DEVNULL)
    try:
        if tree:
            tree_main(sizes)
            return
        print("%-9s %-5s %8s %8s %8s %8s %8s %8s %8s  %s" %
              ("process", "mode", "MiB rss", "raw s", "kept s", "bpmove s", "all in s",
               "freeze s", "ratio", "target total <= 1.3 raw + 60 ms / lazy freeze <= 50 ms"))
        for mib in sizes:
            for lazy in (False, True):
                nbytes, moved, all_in, freeze, noise = one_move(mib, lazy)
                raw = raw_copy(nbytes)
                kept = raw_copy(nbytes, keep=True)
                mode = "lazy" if lazy else "full"
                if lazy:
                    target = "freeze %s" % verdict(freeze <= 0.050)
                else:
                    target = "total %s (limit %.3f s)" % (verdict(moved <= 1.3 * raw + 0.060),
                                                         1.3 * raw + 0.060)
                print("%-9s %-5s %8.0f %8.3f %8.3f %8.3f %8.3f %8.3f %8.2f  %s; noise gap %.3f s"
                      % (f"{mib} MiB", mode, nbytes / 2**20, raw, kept, moved, all_in, freeze,
                         all_in / raw, target, noise), flush=True)

        p = subprocess.Popen([sys.executable, "-c", HOLDER, "1", "16"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        assert p.stdout.read(1) == b"r"
        local_rt = round_trips(p)
        local_tp = throughput(p)
        bpmove(p.pid)
        remote_rt = round_trips(p)
        remote_tp = throughput(p)
        p.kill()
        p.wait()
        print("signal round trip: local %.3f ms, through the ghost %.3f ms (ratio %.1f)"
              % (local_rt * 1e3, remote_rt * 1e3, remote_rt / local_rt))
        print("stdout throughput: local %.0f MiB/s, through the ghost %.0f MiB/s (ratio %.2f)"
              % (local_tp, remote_tp, remote_tp / local_tp))
    finally:
        subprocess.run(["bpcluster", "down"], stdout=subprocess.DEVNULL)


def round_trips(p, n=200):
    t = time.perf_counter()
    for _ in range(n):
        os.kill(p.pid, signal.SIGUSR1)
        assert p.stdout.read(1) == b"x"
    return (time.perf_counter() - t) / n


def throughput(p, mib=16):
    t = time.perf_counter()
    os.kill(p.pid, signal.SIGUSR2)
    left = mib << 20
    while left > 0:
        left -= len(p.stdout.read1(min(left, 1 << 20)))
    return mib / (time.perf_counter() - t)


if __name__ == "__main__":
    main()
