#!/usr/bin/env python3
"""bench/bpsh.py - launch time of `bpsh NODES true`, against baselines
measured in the same run on a local cluster (these machines are noisy, so
only the ratios mean something).

  local       fork+exec of /bin/true on the master (subprocess), the floor
  exec        `bpcluster exec 0 true`: a process started straight inside a
              node's namespaces, no bproc at all
  bpsh 1      `bpsh 0 true`, from the command's start to its end (exec,
              stop, dump, send, restore, ghost, commit, run, exit back)
  bpsh all    `bpsh -a true` on every node, with 4, 8 and 16 nodes
  ssh 1       `ssh NODE true` to node 0
  pdsh        `pdsh -R ssh -w NODES true`, to 1 node and to every node

The ssh baseline is made fair: sshd runs inside each node's namespaces on
the node's own address (bpcluster exec), with a fresh ed25519 host key,
public-key authentication only, no PAM, no DNS lookups, no motd or lastlog;
the user is `bpbench`, whose shell is /bin/sh with no start-up files to
read (root's shell start-up costs 0.5 s a command here).  openssh-server
and pdsh are installed from Debian if missing.

Each is run ROUNDS times, alternating; the medians are compared.  Target
(issue 4): bpsh on all nodes at least 3x faster than pdsh, at every size.

Then the fan-out of a launch (launchfanout, bproc.conf(5)): `bpsh -a true`
on the same 4, 8 and 16 nodes with the master sending every copy itself
(launchfanout 0) and through a tree of slaves (widths 2 and 4), the master
restarted with the other setting between rounds (the slaves stay), three
launches after a warm-up each time.  `--fanout` runs only this part.

Run as root from the top of the tree after scripts/build build, holding the
cluster lock:
    flock -o /run/bproc-cluster.lock bench/bpsh.py
"""
import os
import shutil
import sys
import socket
import statistics
import subprocess
import tempfile
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


FANOUT_WIDTHS = (0, 2, 4)
CONFIG = "/run/bproc/cluster/config"


def set_fanout(n, width):
    with open(CONFIG) as f:
        lines = [line for line in f if not line.startswith("launchfanout")]
    with open(CONFIG, "w") as f:
        f.writelines(lines + [f"launchfanout {width}\n"])
    subprocess.run(["bpcluster", "restart-master"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wait_up(n)


def measure_fanout(n):
    times = {w: [] for w in FANOUT_WIDTHS}
    for _ in range(ROUNDS):
        for w in FANOUT_WIDTHS:
            set_fanout(n, w)
            timed(["bpsh", "-a", "true"])  # the new master's first launch
            times[w] += [timed(["bpsh", "-a", "true"]) for _ in range(3)]
    return {w: statistics.median(v) for w, v in times.items()}


def fanout_report(fan):
    print(f"{'bpsh -a true':<14}" + "".join(f"{'width ' + str(w):>10}" for w in FANOUT_WIDTHS)
          + "".join(f"{'w' + str(w) + ' / w0':>10}" for w in FANOUT_WIDTHS[1:]))
    for n, med in fan.items():
        print(f"{str(n) + ' nodes':<14}" + "".join(f"{med[w]:10.4f}" for w in FANOUT_WIDTHS)
              + "".join(f"{med[w] / med[0]:10.2f}" for w in FANOUT_WIDTHS[1:]))


def fanout_only():
    fan = {}
    try:
        for n in (4, 8, 16):
            cluster(n)
            timed(["bpsh", "0", "true"])  # warm CRIU's caches once
            fan[n] = measure_fanout(n)
    finally:
        subprocess.run(["bpcluster", "down"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    fanout_report(fan)


def apt_install(*packages):
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(cmd, env=env, capture_output=True).returncode != 0:
        # apt's _apt downloader cannot resolve names on some machines here
        subprocess.run(cmd[:1] + ["-o", "APT::Sandbox::User=root"] + cmd[1:], env=env,
                       check=True, capture_output=True)


def node_addr(n):
    return f"10.223.0.{10 + n}"


class Ssh:
    """sshd on every node of the cluster, and the client side of it."""
    USER = "bpbench"
    HOME = "/var/tmp/bpbench-home"

    def __init__(self):
        if not shutil.which("pdsh") or not os.path.exists("/usr/sbin/sshd"):
            apt_install("openssh-server", "pdsh")
        if subprocess.run(["id", self.USER], capture_output=True).returncode != 0:
            subprocess.run(["useradd", "-r", "-M", "-d", self.HOME, "-s", "/bin/sh", self.USER],
                           check=True)
        # No password, but not locked: sshd without PAM refuses a locked account.
        subprocess.run(["usermod", "-p", "*", self.USER], check=True)
        # Not /tmp or /run: a node has its own.
        self.dir = tempfile.mkdtemp(prefix="bpbench-ssh.", dir="/var/tmp")
        self.key = f"{self.dir}/id"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.key], check=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{self.dir}/host"],
                       check=True)
        os.makedirs(f"{self.HOME}/.ssh", exist_ok=True)
        shutil.copy(f"{self.key}.pub", f"{self.HOME}/.ssh/authorized_keys")
        subprocess.run(["chown", "-R", f"{self.USER}:", self.HOME], check=True)
        os.chmod(f"{self.HOME}/.ssh", 0o700)
        with open(f"{self.dir}/sshd_config", "w") as f:
            f.write(f"""Port 22
HostKey {self.dir}/host
AuthorizedKeysFile {self.HOME}/.ssh/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PermitRootLogin no
PrintMotd no
PrintLastLog no
PidFile none
""")
        self.daemons = []
        self.client = ["-i", self.key, "-o", "StrictHostKeyChecking=no",
                       "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                       "-o", "BatchMode=yes"]

    def start(self, n):
        """sshd in each of nodes 0..n-1, listening on the node's address."""
        self.stop()
        for i in range(n):
            self.daemons.append(subprocess.Popen(
                ["bpcluster", "exec", str(i), "sh", "-c",
                 f"mkdir -p /run/sshd && exec /usr/sbin/sshd -D -f {self.dir}/sshd_config "
                 f"-o ListenAddress={node_addr(i)}"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for i in range(n):
            for _ in range(100):
                try:
                    socket.create_connection((node_addr(i), 22), timeout=0.5).close()
                    break
                except OSError:
                    time.sleep(0.05)
            else:
                raise SystemExit(f"sshd on node {i} did not start")
        subprocess.run(self.ssh(0), check=True, stdin=subprocess.DEVNULL)  # it works

    def ssh(self, node):
        return ["ssh", *self.client, "-l", self.USER, node_addr(node), "true"]

    def pdsh(self, n):
        return ["env", "PDSH_SSH_ARGS_APPEND=" + " ".join(self.client), "pdsh", "-R", "ssh",
                "-l", self.USER, "-w", ",".join(node_addr(i) for i in range(n)), "true"]

    def stop(self):
        for d in self.daemons:
            d.kill()
            d.wait()
        self.daemons = []
        subprocess.run(["pkill", "-f", f"sshd -D -f {self.dir}/sshd_config"],
                       stdout=subprocess.DEVNULL)

    def remove(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def main():
    # Close whatever we inherited (the lock's fd would follow the
    # processes bpsh moves, and a locked file cannot move).
    os.closerange(3, 1024)
    if "--fanout" in sys.argv[1:]:
        return fanout_only()
    results = {}
    fan = {}
    ssh = Ssh()
    try:
        for n in (4, 8, 16):
            cluster(n)
            ssh.start(n)
            timed(["bpsh", "0", "true"])  # warm CRIU's caches once
            cases = [(f"bpsh all ({n})", ["bpsh", "-a", "true"]),
                     (f"pdsh all ({n})", ssh.pdsh(n))]
            if n == 4:
                cases = [("local", ["/bin/true"]),
                         ("exec", ["bpcluster", "exec", "0", "true"]),
                         ("bpsh 1", ["bpsh", "0", "true"]),
                         ("ssh 1", ssh.ssh(0)),
                         ("pdsh 1", ssh.pdsh(1))] + cases
            results.update(measure(cases))
            ssh.stop()
            fan[n] = measure_fanout(n)
    finally:
        ssh.remove()
        subprocess.run(["bpcluster", "down"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    base = results["exec"]
    print(f"{'case':<16} {'median s':>9} {'x exec':>8} {'x local':>8}")
    for name, t in results.items():
        print(f"{name:<16} {t:9.4f} {t / base:8.1f} {t / results['local']:8.1f}")
    print()
    for label, b, p in [("1 node", "bpsh 1", "pdsh 1")] + \
            [(f"{n} nodes", f"bpsh all ({n})", f"pdsh all ({n})") for n in (4, 8, 16)]:
        ratio = results[p] / results[b]
        print(f"{label:<9} pdsh / bpsh = {ratio:5.2f}  target >= 3: "
              f"{'met' if ratio >= 3 else 'NOT met'}")
    # Each step and the whole range: a step's ratio carries the noise of
    # two medians (about 8% each here), the range's is the steadier one.
    for n0, n1 in ((4, 8), (8, 16), (4, 16)):
        grow = results[f"bpsh all ({n1})"] / results[f"bpsh all ({n0})"]
        print(f"bpsh all, {n0} -> {n1} nodes: x{grow:.2f} for x{n1 / n0:.0f} the nodes "
              f"({'slower than the node count' if grow < n1 / n0 else 'NOT slower than the node count'})")
    print()
    fanout_report(fan)


if __name__ == "__main__":
    main()
