#!/usr/bin/env python3
"""bench/load.py - the master under load: many remote processes, many
signals through their ghosts and steady output from all of them, for
minutes; bpmaster's memory and descriptors are sampled all along.

  1. an 8-node local cluster; PROCS (500) small perl processes started on
     the master, each writing a 200-byte line every 100 ms into one pipe
     that this script drains, and a line "sig" for every SIGUSR1;
  2. each is moved to node i % 8 (bpmove): 500 ghosts on the master;
  3. for SECONDS (120), SIGUSR1 to random ghosts at RATE (1000) a second;
  4. all are killed through their ghosts, and the cluster must forget them.

Issue 5 asks for the master's memory flat at the end: printed as the
resident size and open descriptors of bpmaster before the processes, once
they all run, every 10 s under load, and after they are gone.

Run as root from the top of the tree after scripts/build build, with no
other cluster running:
    bench/load.py [PROCS [SECONDS [RATE]]]
"""
import os
import random
import signal
import subprocess
import sys
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(TOP, "build")
os.environ["PATH"] = f"{BUILD}/daemons:{BUILD}/clients:" + os.environ["PATH"]
os.environ["LD_LIBRARY_PATH"] = f"{BUILD}/clients/libbproc"
NODES = 8

WORKER = r'''
$| = 1;
$SIG{USR1} = sub { print "sig\n" };
my $line = ("x" x 199) . "\n";
while (1) { print $line; select(undef, undef, undef, 0.1); }
'''


def master_pid():
    with open("/run/bproc/cluster/master.pid") as f:
        return int(f.read())


def master_usage():
    pid = master_pid()
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


class Drain(threading.Thread):
    """Reads the workers' common pipe; counts bytes and 'sig' lines."""

    def __init__(self, fd):
        super().__init__(daemon=True)
        self.fd = fd
        self.bytes = 0
        self.sigs = 0
        self.partial = b""

    def run(self):
        while True:
            data = os.read(self.fd, 1 << 16)
            if not data:
                return
            self.bytes += len(data)
            data = self.partial + data
            lines = data.split(b"\n")
            self.partial = lines.pop()
            self.sigs += sum(1 for ln in lines if ln == b"sig")


def sample(label, rows):
    rss, fds = master_usage()
    rows.append((label, rss, fds))
    print(f"  {label:<28} bpmaster RSS {rss / 1024:7.1f} MiB, {fds:4d} fds", flush=True)


def main():
    procs = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 120
    rate = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    os.closerange(3, 1024)
    subprocess.run(["bpcluster", "down"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["bpcluster", "up", str(NODES)], check=True, stdout=subprocess.DEVNULL)
    rows = []
    workers = []
    rfd, wfd = os.pipe()
    drain = Drain(rfd)
    drain.start()
    try:
        sample("cluster up, no processes", rows)
        t = time.monotonic()
        failed = 0
        for i in range(procs):
            p = subprocess.Popen(["perl", "-e", WORKER], stdin=subprocess.DEVNULL, stdout=wfd,
                                 stderr=subprocess.DEVNULL)
            time.sleep(0.01)
            r = subprocess.run(["bpmove", str(p.pid), str(i % NODES)], capture_output=True,
                               text=True)
            if r.returncode != 0:
                failed += 1
                print(f"  bpmove {p.pid}: {r.stderr.strip()}")
            workers.append(p)
        launch = time.monotonic() - t
        remote = subprocess.run(["bpstat", "-p"], capture_output=True, text=True).stdout
        nremote = len(remote.splitlines()) - 1
        print(f"  {procs} processes moved over {NODES} nodes in {launch:.1f} s "
              f"({failed} moves failed); bpstat -p lists {nremote}", flush=True)
        sample(f"{procs} remote processes", rows)

        sent = 0
        start = time.monotonic()
        bytes0, sigs0 = drain.bytes, drain.sigs
        next_sample = start + 10
        pids = [p.pid for p in workers]
        while time.monotonic() - start < seconds:
            tick = time.monotonic()
            for _ in range(rate // 100):
                try:
                    os.kill(random.choice(pids), signal.SIGUSR1)
                    sent += 1
                except ProcessLookupError:
                    pass
            if time.monotonic() >= next_sample:
                sample(f"under load, {int(time.monotonic() - start)} s", rows)
                next_sample += 10
            time.sleep(max(0.0, 0.01 - (time.monotonic() - tick)))
        elapsed = time.monotonic() - start
        time.sleep(1)  # the last replies
        out = drain.bytes - bytes0
        got = drain.sigs - sigs0
        print(f"  {elapsed:.0f} s: {sent} signals sent ({sent / elapsed:.0f}/s), {got} handled "
              f"and answered ({100 * got / max(sent, 1):.1f}%); {out / 2**20:.1f} MiB of output "
              f"through the ghosts ({out / 2**20 / elapsed:.2f} MiB/s)", flush=True)
        sample("end of load", rows)

        for p in workers:
            p.send_signal(signal.SIGTERM)
        for p in workers:
            p.wait()
        statuses = {p.returncode for p in workers}
        time.sleep(1)
        remote = subprocess.run(["bpstat", "-p"], capture_output=True, text=True).stdout
        print(f"  all killed through their ghosts: wait() statuses {sorted(statuses)}; "
              f"bpstat -p lists {len(remote.splitlines()) - 1}", flush=True)
        sample("processes gone", rows)
    finally:
        for p in workers:
            if p.poll() is None:
                p.kill()
        subprocess.run(["bpcluster", "down"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        os.close(wfd)
    loaded = [r for r in rows if r[0].startswith("under load")]
    if loaded:
        first, last = loaded[0], rows[-2]
        growth = (last[1] - first[1]) / 1024
        print(f"RSS under load: {first[1] / 1024:.1f} -> {last[1] / 1024:.1f} MiB "
              f"({growth:+.1f} MiB); fds {first[2]} -> {last[2]}; after: {rows[-1][1] / 1024:.1f} MiB, "
              f"{rows[-1][2]} fds (before: {rows[0][1] / 1024:.1f} MiB, {rows[0][2]} fds)")


if __name__ == "__main__":
    main()
