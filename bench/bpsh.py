#!/usr/bin/env python3
"""bench/bpsh.py - launch time of `bpsh NODES true`, against baselines
measured in the same run on a local cluster (these machines are noisy, so
only the ratios mean something).

  local       fork+exec of /bin/true on the master (subprocess), the floor
  exec        `bpcluster exec 0 true`: a process started straight inside a
              node's namespaces, no bproc at all
  bpsh 1      `bpsh 0 true`, from the command's start to its end (exec,
              stop, dump, send, restore, ghost, commit, run, exit back)
  bpsh all    `bpsh -a true` on every node, with 4 and with 8 nodes

Each is run ROUNDS times, alternating; the medians are compared.  pdsh over
ssh is not measured here (no sshd on the nodes yet): see docs/performance.md.

Run as root from the top of the tree after scripts/build build, holding the
cluster lock:
    flock -o /run/bproc-cluster.lock bench/bpsh.py
"""
import os
import statistics
import subprocess
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(TOP, "build")
os.environ["PATH"] = f"{BUILD}/daemons:{BUILD}/clients:" + os.environ["PATH"]
os.environ["LD_LIBRARY_PATH"] = f"{BUILD}/clients/libbproc"
ROUNDS = 7


def timed(cmd):
    t = time.monotonic()
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    return time.monotonic() - t


def wait_up(n):
    for _ in range(100):
        out = subprocess.run(["bpstat", "-s", "all"], capture_output=True, text=True).stdout
        if out.split().count("up") == n:
            return
        time.sleep(0.1)
    raise SystemExit(f"the cluster did not come up with {n} nodes")


def cluster(n):
    subprocess.run(["bpcluster", "down"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["bpcluster", "up", str(n)], check=True, stdout=subprocess.DEVNULL)
    wait_up(n)


def measure(cases):
    times = {name: [] for name, _ in cases}
    for _ in range(ROUNDS):
        for name, cmd in cases:
            times[name].append(timed(cmd))
    return {name: statistics.median(v) for name, v in times.items()}


def main():
    # Close whatever we inherited (the lock's fd would follow the
    # processes bpsh moves, and a locked file cannot move).
    os.closerange(3, 1024)
    results = {}
    try:
        cluster(4)
        timed(["bpsh", "0", "true"])  # warm CRIU's caches once
        results.update(measure([
            ("local", ["/bin/true"]),
            ("exec", ["bpcluster", "exec", "0", "true"]),
            ("bpsh 1", ["bpsh", "0", "true"]),
            ("bpsh all (4)", ["bpsh", "-a", "true"]),
        ]))
        cluster(8)
        timed(["bpsh", "0", "true"])
        results.update(measure([("bpsh all (8)", ["bpsh", "-a", "true"])]))
    finally:
        subprocess.run(["bpcluster", "down"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    base = results["exec"]
    print(f"{'case':<14} {'median s':>9} {'x exec':>8} {'x local':>8}")
    for name, t in results.items():
        print(f"{name:<14} {t:9.4f} {t / base:8.1f} {t / results['local']:8.1f}")
    print(f"per node, 4 -> 8 nodes: {(results['bpsh all (8)'] - results['bpsh all (4)']) / 4:.4f} s")


if __name__ == "__main__":
    main()
