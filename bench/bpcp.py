#!/usr/bin/env python3
"""bench/bpcp.py - bpcp of one large file against a raw TCP copy of the same
bytes over the same link, measured in the same run on a local cluster
(these machines are noisy, so only the ratio means something).

  bpcp        `bpcp FILE 0:/tmp/bpcp`, master -> node 0, timed from the
              command's start to its end (asking the daemons, the worker,
              the copy, the answer)
  raw copy    a Python sender on the master does socket.sendfile() of the
              same file to a Python receiver in node 0, which writes it to
              the node's /tmp with 1 MiB reads; timed from connect() to the
              receiver's acknowledgement once the last byte is written
  node->node  `bpcp 0:/tmp/bpcp 1:/tmp/bpcp` (no baseline: for orientation)

Both write into the node's /tmp (a tmpfs) from the same source file, which
is in the page cache for both.  Each is run ROUNDS times, alternating; the
medians are compared.

Run as root from the top of the tree after scripts/build build, holding the
cluster lock:
    flock -o /run/bproc-cluster.lock bench/bpcp.py [MiB]     (default 1024)
"""
import os
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(TOP, "build")
os.environ["PATH"] = f"{BUILD}/daemons:{BUILD}/clients:" + os.environ["PATH"]
os.environ["LD_LIBRARY_PATH"] = f"{BUILD}/clients/libbproc"
NODE_ADDR = "10.223.0.10"
ROUNDS = 3

RECEIVER = r'''
import os, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5998)); s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
fd = os.open("/tmp/raw", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
buf = bytearray(1 << 20); view = memoryview(buf)
while True:
    n = c.recv_into(buf)
    if not n:
        break
    os.write(fd, view[:n])
os.close(fd)
c.sendall(b"k")
'''


def raw_copy(path):
    import socket
    receiver = subprocess.Popen(["bpcluster", "exec", "0", sys.executable, "-c", RECEIVER],
                                stdout=subprocess.PIPE)
    assert receiver.stdout.readline().strip() == b"ready"
    with open(path, "rb") as f:
        t = time.perf_counter()
        s = socket.create_connection((NODE_ADDR, 5998))
        s.sendfile(f)
        s.shutdown(socket.SHUT_WR)
        assert s.recv(1) == b"k"
        elapsed = time.perf_counter() - t
    s.close()
    receiver.wait()
    subprocess.run(["bpcluster", "exec", "0", "rm", "-f", "/tmp/raw"], check=True)
    return elapsed


def timed(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t


def node_sum(node, path):
    out = subprocess.run(["bpcluster", "exec", str(node), "sha256sum", path],
                         check=True, capture_output=True, text=True).stdout
    return out.split()[0]


def main():
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    src = f"/var/tmp/bpcp-bench.{os.getpid()}"
    subprocess.run(["bpcluster", "down"], capture_output=True)
    subprocess.run(["bpcluster", "up", "2"], check=True)
    try:
        with open(src, "wb") as f:
            for _ in range(mib):
                f.write(os.urandom(1 << 20))
        want = subprocess.run(["sha256sum", src], check=True, capture_output=True,
                              text=True).stdout.split()[0]
        raw, bp, nn = [], [], []
        for _ in range(ROUNDS):
            raw.append(raw_copy(src))
            bp.append(timed(["bpcp", src, "0:/tmp/bpcp"]))
            nn.append(timed(["bpcp", "0:/tmp/bpcp", "1:/tmp/bpcp"]))
            subprocess.run(["bpcluster", "exec", "1", "rm", "-f", "/tmp/bpcp"], check=True)
        bpcp_ok = node_sum(0, "/tmp/bpcp") == want
        r, b, n = statistics.median(raw), statistics.median(bp), statistics.median(nn)
        print(f"{mib} MiB, median of {ROUNDS} rounds (all: raw {['%.3f' % x for x in raw]}, "
              f"bpcp {['%.3f' % x for x in bp]}, node->node {['%.3f' % x for x in nn]})")
        print(f"raw TCP copy master->node 0: {r:.3f} s  {mib / r:.0f} MiB/s")
        print(f"bpcp master->node 0:         {b:.3f} s  {mib / b:.0f} MiB/s  "
              f"(contents {'identical' if bpcp_ok else 'DIFFER'})")
        print(f"bpcp node 0->node 1:         {n:.3f} s  {mib / n:.0f} MiB/s")
        print(f"ratio bpcp / raw: {b / r:.2f}  (target: at most 1.2)")
        return 0 if bpcp_ok else 1
    finally:
        os.unlink(src) if os.path.exists(src) else None
        subprocess.run(["bpcluster", "down"], capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
