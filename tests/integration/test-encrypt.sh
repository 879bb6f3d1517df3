#!/usr/bin/env bash
# Encrypted links (`encrypt yes`, bpcluster up N --encrypt): everything
# still works that can, nothing passes in the clear, and what would pass in
# the clear is refused, saying so.  The proof is the traffic itself,
# captured on the bridge and on a node's link: a marker that is plain to
# see without encryption is nowhere to be found with it.
. "$(dirname "$0")/lib.sh"

M=$(mktemp -d /var/tmp/encrypt-test.XXXXXX)
trap 'rm -rf "$M"; cluster_down' EXIT

# Capture every frame on the given interfaces for SECONDS into FILE.
sniff() {
	python3 - "$@" <<'PY' &
import socket, sys, time
secs, out, names = float(sys.argv[1]), sys.argv[2], sys.argv[3:]
socks = []
for n in names:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    # Room for a whole image in flight: a capture that drops proves nothing.
    s.setsockopt(socket.SOL_SOCKET, 33, 256 << 20)  # SO_RCVBUFFORCE
    s.bind((n, 0))
    s.setblocking(False)
    socks.append(s)
data = bytearray()
end = time.time() + secs
while time.time() < end:
    for s in socks:
        try:
            while True:
                data += s.recv(65535)
        except BlockingIOError:
            pass
    time.sleep(0.002)
open(out, "wb").write(data)
PY
	sleep 0.3 # listening before anything is sent
}
seen() { grep -qa "$1" "$2"; }

# A process with a marker in its memory that prints it back on SIGUSR1.
marked() {
	python3 -u -c '
import signal, sys, time
secret = ("the-" + "memory-" + sys.argv[1]).encode() * 1000
signal.signal(signal.SIGUSR1, lambda s, f: print(secret[:30].decode(), flush=True))
while True:
    time.sleep(0.05)
' "$1" </dev/null >"$M/marked-$1" 2>&1 &
	echo $!
}

# --- in the clear: the sniffer sees the markers --------------------------
cluster_up 2
sniff 3 "$M/plain.cap" bpbr0 bpv1
out=$(bpsh 0 echo "output-in-the-clear-$$")
p=$(marked plain$$)
sleep 0.3
bpmove "$p" 0 && bpmove "$p" 1
wait %1 2>/dev/null; sleep 3
check_eq "without encryption bpsh works" "output-in-the-clear-$$" "$out"
check "and the capture shows its output" seen "output-in-the-clear-$$" "$M/plain.cap"
check "and the moved process's memory" seen "the-memory-plain$$" "$M/plain.cap"
kill "$p" 2>/dev/null
cluster_down

# --- encrypted ----------------------------------------------------------------
cluster_up 2 --encrypt
check_match "the master's configuration says so" "^encrypt yes$" "$(cat /run/bproc/cluster/config)"
sniff 4 "$M/sealed.cap" bpbr0 bpv1
out=$(bpsh -p 0-1 echo "output-sealed-$$")
p=$(marked sealed$$)
sleep 0.3
check "bpmove to node 0" bpmove "$p" 0
check "and from node 0 to node 1, straight" bpmove "$p" 1
sleep 4
check_eq "bpsh works" "0: output-sealed-$$ 1: output-sealed-$$" "$(sort <<<"$out" | tr '\n' ' ' | sed 's/ $//')"
kill -USR1 "$p"
wait_for 5 test -s "$M/marked-sealed$$"
want=$(python3 -c 'import sys; print(("the-memory-" + sys.argv[1]) * 2)' "sealed$$")
check_eq "the moved process's memory is whole, on node 1" "${want:0:30}" "$(cat "$M/marked-sealed$$")"
check_match "bpstat -p: on node 1" "^$p	1$" "$(bpstat -p)"
check "the capture is not empty" test -s "$M/sealed.cap"
check "but holds no output in the clear" bash -c "! grep -qa 'output-sealed-$$' '$M/sealed.cap'"
check "nor the process's memory" bash -c "! grep -qa 'the-memory-sealed$$' '$M/sealed.cap'"
kill "$p"

# What would go in the clear is refused, saying why.
python3 -c 'import time; b = bytearray(64 << 20); b[::4096] = b"x" * len(b[::4096]); time.sleep(60)' \
	</dev/null >/dev/null 2>&1 &
big=$!
sleep 0.5
out=$(bpmove "$big" 0 2>&1)
check_match "a process of 64 MiB is refused: its pages would go in the clear" \
	"links are encrypted.*in the clear" "$out"
check "and runs on here" kill -0 "$big"
kill "$big"
sleep 300 </dev/null >/dev/null 2>&1 &
s=$!
out=$(bpmove --lazy "$s" 0 2>&1)
check_match "--lazy is refused" "links are encrypted: --lazy" "$out"
kill "$s"
echo hello >"$M/file"
out=$(bpcp "$M/file" 0:/tmp/enc-test 2>&1)
check_match "bpcp is refused (its data connections are not sealed yet)" "bpcp's are not yet" "$out"
finish
