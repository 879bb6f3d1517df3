#!/usr/bin/env python3
"""bench/migration.py - what a move costs, against baselines measured in
the same run on the same local cluster (these machines are noisy, so only
the ratios mean something).

  move time        bpmove of a process holding N MiB, from the command to
                   the process running on the node (it does not run from
                   the freeze to the commit, so this is also its freeze time)
  raw copy         the same number of bytes over TCP from the master to the
                   node, over the same veth link
  signal round trip  kill(ghost, SIGUSR1) -> handler on the node writes a
                   byte -> it comes back through the ghost's stdout pipe;
                   baseline: the same process before it moved
  stdout throughput  MiB/s written by a moved process into a pipe read on
                   the master; baseline: before it moved

Run as root from the top of the tree after scripts/build build:
    bench/migration.py
"""
import os
import signal
import socket
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(TOP, "build")
os.environ["PATH"] = f"{BUILD}/daemons:{BUILD}/clients:" + os.environ["PATH"]
os.environ["LD_LIBRARY_PATH"] = f"{BUILD}/clients/libbproc"
NODE_ADDR = "10.223.0.10"

HOLDER = r'''
import os, signal, sys, time
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


def start_holder(mib, stream_mib=16):
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(mib), str(stream_mib)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert p.stdout.read(1) == b"r"
    return p


def move(pid, node=0):
    t = time.perf_counter()
    subprocess.run(["bpmove", str(pid), str(node)], check=True)
    return time.perf_counter() - t


def raw_copy(nbytes):
    """Send nbytes from the master to a receiver in node 0, over TCP."""
    receiver = subprocess.Popen(
        ["bpcluster", "exec", "0", sys.executable, "-c",
         "import socket,sys\n"
         "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
         "s.bind(('0.0.0.0', 5999)); s.listen(1); print('ready', flush=True)\n"
         "c,_=s.accept(); n=0\n"
         "while True:\n"
         "    b=c.recv(1<<20)\n"
         "    if not b: break\n"
         "    n+=len(b)\n"
         "c.sendall(b'k')\n"],
        stdout=subprocess.PIPE)
    assert receiver.stdout.readline().strip() == b"ready"
    buf = b"z" * (1 << 20)
    t = time.perf_counter()
    s = socket.create_connection((NODE_ADDR, 5999))
    left = nbytes
    while left > 0:
        s.sendall(buf[:min(left, len(buf))])
        left -= min(left, len(buf))
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
    elapsed = time.perf_counter() - t
    s.close()
    receiver.wait()
    return elapsed


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


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def main():
    subprocess.run(["bpcluster", "down"], stdout=subprocess.DEVNULL)
    subprocess.run(["bpcluster", "up", "1"], check=True, stdout=subprocess.DEVNULL)
    try:
        print("%-10s %10s %10s %10s %8s" % ("process", "bytes", "move s", "raw TCP s", "ratio"))
        for mib in (1, 16, 32):
            p = start_holder(mib)
            nbytes = rss_bytes(p.pid)
            moved = move(p.pid)
            raw = raw_copy(nbytes)
            print("%-10s %10d %10.3f %10.3f %8.1f" % (f"{mib} MiB", nbytes, moved, raw, moved / raw))
            p.kill()
            p.wait()

        p = start_holder(1)
        local_rt = round_trips(p)
        local_tp = throughput(p)
        move(p.pid)
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


if __name__ == "__main__":
    main()
