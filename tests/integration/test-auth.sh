#!/usr/bin/env bash
# Daemons trust each other only with the cluster's secret: a peer without it
# registers as no node (not even from a node's own address, where it would
# otherwise replace the real slave), is cut off when it stalls, and a slave
# with the wrong secret stays down with a message that says why.
. "$(dirname "$0")/lib.sh"

cluster_up 4
master=10.223.0.1:2223

# A frame: magic 0xB9C0, version 1, length, then a Msg holding
# Hello{role: SLAVE} (field 10) - what a slave sent first before the secret.
fake_hello() {
	python3 -c '
import socket, struct, sys, time
host, port = sys.argv[1].split(":")
s = socket.create_connection((host, int(port)), timeout=5)
payload = bytes([0x52, 0x02, 0x08, 0x01])
s.sendall(struct.pack(">HHI", 0xB9C0, 1, len(payload)) + payload)
s.settimeout(5)
got = b""
try:
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
except socket.timeout:
    print("still open after 5 s")
    sys.exit(1)
print("closed after %d bytes" % len(got))
' "$1"
}

out=$(bpcluster exec 2 bash -c "$(declare -f fake_hello); fake_hello $master" 2>&1)
check_match "a Hello without the handshake, from node 2's address: cut off" "^closed after 0 bytes" "$out"
check_eq "node 2 is still up, with its real slave" "up" "$(node_state 2)"
check_match "the master says why" "before the link was authenticated" "$(cat /run/bproc/cluster/master.log)"

# A peer that connects and says nothing is cut within the auth timeout.
out=$(bpcluster exec 1 python3 -c '
import socket, sys, time
s = socket.create_connection(("10.223.0.1", 2223), timeout=10)
s.settimeout(10)
t = time.monotonic()
try:
    data = s.recv(1)
except socket.timeout:
    print("still open after 10 s"); sys.exit(1)
print("cut after %.1f s" % (time.monotonic() - t))
' 2>&1)
check_match "a silent peer is cut off" "^cut after [0-9.]+ s" "$out"
check_match "the master says it did not authenticate" "did not authenticate in time" "$(cat /run/bproc/cluster/master.log)"
check_eq "node 1 is still up" "up" "$(node_state 1)"

# A slave with the wrong secret.
bpcluster kill-slave 3
if wait_for 5 node_is 3 down; then ok "node 3 is down"; else not_ok "node 3 goes down"; fi
slave=$(command -v bpslave)
out=$(bpcluster exec 3 bash -c "umask 077; echo 'not the secret of this cluster' >/tmp/wrong
printf 'secretfile /tmp/wrong\n' >/tmp/wrong.conf
timeout 3 $slave -f -c /tmp/wrong.conf $master >/tmp/wrong.log 2>&1; cat /tmp/wrong.log" 2>&1 </dev/null)
check_match "a slave with the wrong secret refuses the master's proof" "does not know the cluster secret" "$out"
check_eq "and node 3 stays down" "down" "$(node_state 3)"

bpcluster exec 3 bash -c "chmod 644 /tmp/wrong; $slave -f -c /tmp/wrong.conf $master" >/dev/null 2>&1 </dev/null
check_eq "a secret others may read: the slave refuses to start" "1" "$?"
out=$(bpcluster exec 3 bash -c "$slave -f -c /tmp/wrong.conf $master" 2>&1 </dev/null)
check_match "and says so" "may be read or written by others" "$out"

check "bpcluster start-slave 3" bpcluster start-slave 3
if wait_for 5 node_is 3 up; then ok "with the cluster's secret node 3 is up again"; else not_ok "node 3 up again"; fi

# Clients of the master's socket that misbehave: one sends half a frame and
# holds it open, another floods it with NodeListRequests (Msg{id: 1,
# node_list_request: {}}) and never reads a reply.  Others are served
# meanwhile, and the flooder is cut off once its replies fill its queue.
out=$(timeout 60 python3 -c '
import socket, struct, subprocess, time
path = "/run/bproc/bproc.sock"
payload = bytes([0x08, 0x01, 0xA2, 0x01, 0x00])
frame = struct.pack(">HHI", 0xB9C0, 1, len(payload)) + payload
half = socket.socket(socket.AF_UNIX)
half.connect(path)
half.sendall(frame[:5])
flood = socket.socket(socket.AF_UNIX)
flood.connect(path)
flood.setblocking(False)
blob, t0, cut = frame * 1000, time.monotonic(), "not-cut-in-20-s"
while time.monotonic() - t0 < 20:
    try:
        flood.send(blob)
    except BlockingIOError:
        time.sleep(0.01)
    except OSError:
        cut = "cut"
        break
t = time.monotonic()
r = subprocess.run(["bpstat", "-n", "allup"], capture_output=True, text=True, timeout=20)
print(cut, r.returncode, "%.2f" % (time.monotonic() - t), ",".join(r.stdout.split()))
' 2>&1)
read -r cut served secs nodes <<<"$out"
check_eq "a client that floods the master and reads nothing is cut off" "cut" "$cut"
check_match "the master says why" "peer does not read its messages" "$(cat /run/bproc/cluster/master.log)"
check_eq "with half a frame held open by another, bpstat is answered (in $secs s)" "0" "$served"
check_eq "and it lists the nodes that are up" "0,1,2,3" "$nodes"
finish
