#!/usr/bin/env python3
"""bench/encrypt.py - what encrypting the links (`encrypt yes`) costs,
against the same cluster in the clear, measured in the same run (these
machines are noisy: only the ratios mean something).

  launch 1     `bpsh 0 true`
  launch 4     `bpsh -a true` on 4 nodes (one dump, four images sent)
  output       256 MiB of `head -c` on node 0 through bpsh's pipes (the
               bytes come back over the master's link as Output messages)
  move 24M     bpmove of a process holding 24 MiB of random bytes to node 0
  move 256M    the same with 256 MiB (both take CRIU's page stream, sealed
               by a relay when encrypted: common/seal_relay.h)
  bpcp 256M    bpcp of a 256 MiB file of random bytes to node 0 (a direct
               connection to the node's worker, sealed when encrypted)

The cluster is brought up in the clear and encrypted in turn, ROUNDS
times; each case is the median of its runs.  Run as root from the top of
the tree after scripts/build build, with no other cluster running:
    flock -o /run/bproc-cluster.lock bench/encrypt.py
"""
import os
import statistics
import subprocess
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(TOP, "build")
os.environ["PATH"] = f"{BUILD}/daemons:{BUILD}/clients:" + os.environ["PATH"]
os.environ["LD_LIBRARY_PATH"] = f"{BUILD}/clients/libbproc"
ROUNDS = 3
RUNS = 7


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def timed(cmd, **kw):
    t = time.perf_counter()
    sh(*cmd, stdin=subprocess.DEVNULL, **kw)
    return time.perf_counter() - t


def output_time():
    t = time.perf_counter()
    p = subprocess.run("bpsh 0 head -c 268435456 /dev/zero | wc -c", shell=True, check=True,
                       capture_output=True, text=True)
    assert p.stdout.strip() == "268435456", p.stdout
    return time.perf_counter() - t


def move_time(mib):
    p = subprocess.Popen(["python3", "-c",
                          f"import os, sys, time; b = os.urandom({mib} << 20); print(flush=True); "
                          "time.sleep(120)"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    p.stdout.readline()  # its memory is all there
    try:
        return timed(["bpmove", str(p.pid), "0"])
    finally:
        p.kill()
        p.wait()
        p.stdout.close()


BIG_FILE = "/var/tmp/bproc-bench-encrypt.256M"


def bpcp_time():
    return timed(["bpcp", BIG_FILE, "0:/tmp/bench-encrypt"])


def measure(times):
    for _ in range(RUNS):
        times["launch 1"].append(timed(["bpsh", "0", "true"]))
        times["launch 4"].append(timed(["bpsh", "-a", "true"]))
    for _ in range(2):
        times["output"].append(output_time())
        times["move 24M"].append(move_time(24))
        times["move 256M"].append(move_time(256))
        times["bpcp 256M"].append(bpcp_time())


def main():
    cases = ["launch 1", "launch 4", "output", "move 24M", "move 256M", "bpcp 256M"]
    with open(BIG_FILE, "wb") as f:
        for _ in range(256):
            f.write(os.urandom(1 << 20))
    res = {mode: {c: [] for c in cases} for mode in ("clear", "sealed")}
    sh("bpcluster", "down", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(ROUNDS):
        for mode in ("clear", "sealed"):
            up = ["bpcluster", "up", "4"] + (["--encrypt"] if mode == "sealed" else [])
            sh(*up, stdout=subprocess.DEVNULL)
            time.sleep(0.5)
            try:
                measure(res[mode])
            finally:
                sh("bpcluster", "down", stdout=subprocess.DEVNULL)
    print(f"{'case':<10} {'clear s':>9} {'sealed s':>9} {'ratio':>6}")
    for c in cases:
        a = statistics.median(res["clear"][c])
        b = statistics.median(res["sealed"][c])
        extra = ""
        if c in ("output", "move 256M", "bpcp 256M"):
            extra = f"   ({256 / a:.0f} vs {256 / b:.0f} MiB/s)"
        print(f"{c:<10} {a:9.4f} {b:9.4f} {b / a:6.2f}{extra}")
    os.unlink(BIG_FILE)


if __name__ == "__main__":
    main()
