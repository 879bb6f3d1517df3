#!/usr/bin/env bash
# Encrypted links (`encrypt yes`, bpcluster up N --encrypt): everything
# works, and nothing passes in the clear: the links, bpcp's data in every
# direction, and the page streams of big, lazy and node-to-node moves.  The
# proof is the traffic itself, captured on the bridge and on a node's link:
# markers that are plain to see without encryption are nowhere to be found
# with it.  A sealed record altered on the way (fault seal-alter) fails the
# move, which leaves the process running where it was, and fails the copy.
. "$(dirname "$0")/lib.sh"

M=$(mktemp -d /var/tmp/encrypt-test.XXXXXX)
trap 'rm -f "$M/stop"; touch "$M/stop"; rm -rf "$M"; cluster_down' EXIT

# Capture every frame on the given interfaces into FILE until $M/stop
# appears (at most 120 s).
sniff() {
	rm -f "$M/stop"
	python3 - "$M/stop" "$@" <<'PY' &
import os, socket, sys, time
stop, out, names = sys.argv[1], sys.argv[2], sys.argv[3:]
socks = []
for n in names:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    # Room for a burst of pages in flight: a capture that drops proves nothing.
    s.setsockopt(socket.SOL_SOCKET, 33, 256 << 20)  # SO_RCVBUFFORCE
    s.bind((n, 0))
    s.setblocking(False)
    socks.append(s)
data = bytearray()
end = time.time() + 120
while time.time() < end and not os.path.exists(stop):
    for s in socks:
        try:
            while True:
                data += s.recv(65535)
        except BlockingIOError:
            pass
    time.sleep(0.002)
for s in socks:  # what is still queued
    try:
        while True:
            data += s.recv(65535)
    except BlockingIOError:
        pass
open(out, "wb").write(data)
PY
	sniffer=$!
	sleep 0.3 # listening before anything is sent
}
sniff_stop() {
	sleep 0.5
	touch "$M/stop"
	wait "$sniffer"
}
seen() { grep -qa "$1" "$2"; }
unseen() { ! grep -qa "$1" "$2"; }

# A process of SIZE MiB with MARKER all through its memory; it writes the
# SHA-256 of its memory to $M/mem-MARKER at start and again on SIGUSR1.
memory() {
	python3 -u -c '
import hashlib, os, signal, sys, time
size, marker, out = int(sys.argv[1]) << 20, sys.argv[2].encode(), sys.argv[3]
b = bytearray(os.urandom(1 << 20)) * (size >> 20)
for i in range(0, size, 4096):
    b[i:i + len(marker)] = marker
def say(*_):
    with open(out, "a") as f:
        f.write(hashlib.sha256(b).hexdigest() + "\n")
say()
signal.signal(signal.SIGUSR1, say)
while True:
    time.sleep(0.05)
' "$1" "$2" "$M/mem-$2" </dev/null >/dev/null 2>&1 &
	echo $!
	wait_for 20 test -s "$M/mem-$2"
}
two_lines() { [ "$(wc -l <"$1")" -ge 2 ]; }
# The process's memory is what it was: it says the same SHA-256 again.
memory_whole() {
	local p=$1 marker=$2
	kill -USR1 "$p" || return 1
	wait_for 20 two_lines "$M/mem-$marker" || return 1
	[ "$(sed -n 1p "$M/mem-$marker")" = "$(sed -n 2p "$M/mem-$marker")" ]
}

# A file with a marker in it, between random bytes.
python3 -c '
import os, sys
with open(sys.argv[1], "wb") as f:
    for i in range(64):
        f.write(os.urandom(128 << 10) + (sys.argv[2] * 100).encode())
' "$M/file" "file-marker-$$-"

# --- in the clear: the sniffer sees the markers --------------------------
cluster_up 2
sniff "$M/plain.cap" bpbr0 bpv1
out=$(bpsh 0 echo "output-in-the-clear-$$")
p=$(memory 100 "plain-memory-$$")
check "without encryption a 100 MiB process moves (its page stream)" bpmove "$p" 0
check "bpcp works" bpcp "$M/file" 0:/tmp/plain
sniff_stop
check_eq "bpsh works" "output-in-the-clear-$$" "$out"
check "and the capture shows its output" seen "output-in-the-clear-$$" "$M/plain.cap"
check "and the moved process's memory" seen "plain-memory-$$" "$M/plain.cap"
check "and the copied file" seen "file-marker-$$" "$M/plain.cap"
kill "$p" 2>/dev/null
cluster_down

# --- encrypted ----------------------------------------------------------------
cluster_up 2 --encrypt
check_match "the master's configuration says so" "^encrypt yes$" "$(cat /run/bproc/cluster/config)"
sniff "$M/sealed.cap" bpbr0 bpv1
out=$(bpsh -p 0-1 echo "output-sealed-$$")
check_eq "bpsh works" "0: output-sealed-$$ 1: output-sealed-$$" "$(sort <<<"$out" | tr '\n' ' ' | sed 's/ $//')"

big=$(memory 100 "big-memory-$$")
check "a 100 MiB process moves to node 0 (sealed page stream)" bpmove "$big" 0
check "and from node 0 to node 1, straight" bpmove "$big" 1
check_match "bpstat -p: on node 1" "^$big	1$" "$(bpstat -p)"
check "its memory is whole" memory_whole "$big" "big-memory-$$"
kill "$big"

lazy=$(memory 64 "lazy-memory-$$")
check "a 64 MiB process moves with --lazy (its pages served sealed)" bpmove --lazy "$lazy" 0
check_match "bpstat -p: on node 0" "^$lazy	0$" "$(bpstat -p)"
check "its memory is whole" memory_whole "$lazy" "lazy-memory-$$"
# Once its pages are all across (till then it is still moving): on to node 1,
# --lazy again, its pages served sealed by node 0's CRIU.
check "and with --lazy from node 0 to node 1" wait_for 30 bpmove --lazy "$lazy" 1
check_match "bpstat -p: on node 1" "^$lazy	1$" "$(bpstat -p)"
check "its memory is whole there" memory_whole "$lazy" "lazy-memory-$$"
kill "$lazy"

check "bpcp master -> node 0" bpcp "$M/file" 0:/tmp/sealed0
check "bpcp node 0 -> node 1" bpcp 0:/tmp/sealed0 1:/tmp/sealed1
check "bpcp node 1 -> master" bpcp 1:/tmp/sealed1 "$M/back1"
check "bpcp node 0 -> master" bpcp 0:/tmp/sealed0 "$M/back0"
check "what came back from node 1 is the file" cmp "$M/file" "$M/back1"
check "what came back from node 0 is the file" cmp "$M/file" "$M/back0"
sniff_stop

# An interrupted bpcp stops a sealed node-to-node copy (its relay closes a
# second after bpcp, and the sending worker's progress then has nowhere to go).
slave0=$(cat /run/bproc/cluster/n0/slave.pid)
slave1=$(cat /run/bproc/cluster/n1/slave.pid)
workers() { ps --ppid "$slave0,$slave1" -o comm= | grep -c '^bpslave$'; }
no_workers() { [ "$(workers)" -eq 0 ]; }
two_workers() { [ "$(workers)" -eq 2 ]; }
nsenter -t "$slave0" -m truncate -s 8G /tmp/sparse
bpcp 0:/tmp/sparse 1:/tmp/sparse </dev/null >/dev/null 2>&1 &
copy=$!
wait_for 5 two_workers
sleep 1
check "a long sealed copy node 0 -> node 1 is under way" two_workers
kill "$copy"
check "bpcp interrupted: both workers are gone within 5 s" wait_for 5 no_workers
nsenter -t "$slave0" -m rm -f /tmp/sparse
nsenter -t "$slave1" -m rm -f /tmp/sparse
check "the capture is not empty" test -s "$M/sealed.cap"
check "but holds no output in the clear" unseen "output-sealed-$$" "$M/sealed.cap"
check "nor the big process's memory" unseen "big-memory-$$" "$M/sealed.cap"
check "nor the lazy one's" unseen "lazy-memory-$$" "$M/sealed.cap"
check "nor the copied file" unseen "file-marker-$$" "$M/sealed.cap"
cluster_down

# --- a sealed record altered on the way ----------------------------------------
BPROC_FAULT=seal-alter cluster_up 1 --encrypt
p=$(memory 100 "altered-$$")
out=$(bpmove "$p" 0 2>&1)
st=$?
check "a move whose page stream is altered fails" test "$st" -ne 0
check_eq "and the process runs on here" "" "$(bpstat -p | grep "^$p	")"
check "unchanged" memory_whole "$p" "altered-$$"
kill "$p"
out=$(bpcp "$M/file" 0:/tmp/altered 2>&1)
st=$?
check "a copy whose stream is altered fails" test "$st" -ne 0
check_match "saying the transfer broke off" "transfer broke off" "$out"
check_match "the relay said why, in the slave's log" "does not open" \
	"$(cat /run/bproc/cluster/n0/slave.log)"
finish
