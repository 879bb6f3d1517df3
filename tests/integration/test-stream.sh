#!/usr/bin/env bash
# Streaming moves: the memory pages go straight from the dumping CRIU to a
# CRIU on the node (page server), so a process far above the old 48 MiB
# limit moves (1 GiB here); `bpmove --lazy` restores at once and pulls pages on demand;
# a page stream that breaks mid-move leaves the process running on the
# master, unchanged.
. "$(dirname "$0")/lib.sh"

cluster_up 2
out_dir=$(mktemp -d "$(dirname "$(command -v bpmaster)")/../stream-test.XXXXXX")
trap 'rm -rf "$out_dir"; cluster_down' EXIT

on_master() { alive "$1" && readlink "/proc/$1/exe" | grep -q python3; }

# A python3 holding MIB MiB of random bytes: it writes "ready", then, on
# SIGUSR1 (which reaches it through its ghost), "SUM SUM PID" with the
# SHA-256 of its buffer computed at start and now; it ends a second later.
holder() {
	exec python3 -c '
import hashlib, os, signal, sys, time
mib = int(sys.argv[1])
chunk = os.urandom(1 << 20)
data = bytearray(mib << 20)
for i in range(mib):
    # each MiB differs, and nothing compresses
    data[i << 20:(i + 1) << 20] = hashlib.sha256(chunk + i.to_bytes(4, "little")).digest() * 32768
before = hashlib.sha256(data).hexdigest()
signal.signal(signal.SIGUSR1, lambda s, f: None)
print("ready", flush=True)
signal.pause()
print(before, hashlib.sha256(data).hexdigest(), os.getpid(), flush=True)
time.sleep(1)
' "$1"
}

start_holder() { # MIB NAME: runs holder; sets $p
	holder "$1" </dev/null >"$out_dir/$2.out" 2>"$out_dir/$2.err" &
	p=$!
	wait_for 60 grep -q ready "$out_dir/$2.out"
}

# when_streaming CMD...: in the background ($killer), run CMD once a node's
# page server has written 64 MiB of pages into the node's image ($ps_pid is
# that page server), i.e. with the stream under way (a fixed delay after its
# start was too late once: the 400 MiB were across).
when_streaming() {
	(
		for _ in $(seq 1 4000); do
			ps_pid=$(pgrep -f "criu page-server" | head -1)
			if [ -n "$ps_pid" ] && [ -n "$(find "/proc/$ps_pid/root/run/bproc/images" \
				-name 'pages-*.img' -size +64M 2>/dev/null)" ]; then
				"$@"
				exit 0
			fi
			sleep 0.005
		done
	) &
	killer=$!
}
kill_page_server() { kill -9 "$ps_pid"; }

# --- full copy of 1 GiB ---------------------------------------------------------
# Seconds in CRIU on both sides: the master answers meanwhile (its dump runs
# beside its loop), and neither side takes the other for dead.
start_holder 1024 big
bpmove "$p" 1 >"$out_dir/big.move" 2>&1 &
mover=$!
sleep 1
check_eq "the master answers while it dumps 1 GiB" "2" "$(timeout 2 bpstat -t allup)"
wait "$mover"
check_eq "bpmove of a 1 GiB python3 succeeds" "0 " "$? $(cat "$out_dir/big.move")"
check_match "bpstat -p lists it on node 1" "^$p	1$" "$(bpstat -p)"
check_eq "both nodes stayed up" "2" "$(bpstat -t allup)"
kill -USR1 "$p"
wait_for 30 grep -q " $p$" "$out_dir/big.out"
read -r before after pid_seen < <(grep " $p$" "$out_dir/big.out")
check_match "it reports its buffer's SHA-256" "^[0-9a-f]{64}$" "$before"
check_eq "its 1 GiB is the same on the node (SHA-256)" "$before" "$after"
check_eq "and it has its pid there" "$p" "$pid_seen"
wait "$p"
check_eq "it exits normally" "0" "$?"

# --- lazy (post-copy) of 200 MiB ------------------------------------------------
start_holder 200 lazy
check "bpmove --lazy of a 200 MiB python3" bpmove --lazy "$p" 0
check_match "bpstat -p lists it on node 0" "^$p	0$" "$(bpstat -p)"
# at once: the signal waits in the original, held by CRIU until every page
# is across, and reaches the copy when the ghost is made
kill -USR1 "$p"
wait_for 20 grep -q " $p$" "$out_dir/lazy.out"
read -r before after pid_seen < <(grep " $p$" "$out_dir/lazy.out")
check_match "it reports its buffer's SHA-256" "^[0-9a-f]{64}$" "$before"
check_eq "after a lazy move its 200 MiB are the same (SHA-256)" "$before" "$after"
check_eq "and it has its pid there" "$p" "$pid_seen"
is_ghost() { readlink "/proc/$1/exe" | grep -q bproc-ghost; }
wait_for 30 is_ghost "$p"
check_match "once every page is across, the original is its ghost" "bproc-ghost" "$(readlink /proc/$p/exe)"
wait "$p"
check_eq "it exits normally" "0" "$?"

# --- the page stream breaks mid-move -----------------------------------------------
# The node's page server is killed while the 400 MiB stream is under way:
# the move fails and the process runs on here, as it was.
start_holder 400 broken
when_streaming kill_page_server
out=$(bpmove "$p" 1 2>&1)
status=$?
wait "$killer"
check_eq "a move whose page stream breaks fails" "1" "$status"
echo "# $out"
check_match "with a reason" "bpmove: $p: .*(page stream|criu)" "$out"
check "the process still runs on the master" on_master "$p"
check_eq "bpstat -p does not list it" "" "$(bpstat -p | grep "^$p	" || true)"
kill -USR1 "$p"
wait_for 20 grep -q " $p$" "$out_dir/broken.out"
read -r before after pid_seen < <(grep " $p$" "$out_dir/broken.out")
check_match "it reports its buffer's SHA-256" "^[0-9a-f]{64}$" "$before"
check_eq "its memory is unchanged" "$before" "$after"
wait "$p"
check_eq "and it exits normally" "0" "$?"
check "the node kept nothing of it" test -z "$(bpcluster exec 1 ls /run/bproc/images 2>/dev/null)"

# --- the target's slave dies mid-move -----------------------------------------------
# Killed while the master dumps 400 MiB into its page server: the move fails
# as the node goes down, and the process runs on here, as it was.
start_holder 400 slavedies
when_streaming bpcluster kill-slave 1 KILL
out=$(bpmove "$p" 1 2>&1)
status=$?
wait "$killer"
check_eq "a move whose target slave dies fails" "1" "$status"
echo "# $out"
check "the process still runs on the master" on_master "$p"
kill -USR1 "$p"
wait_for 20 grep -q " $p$" "$out_dir/slavedies.out"
read -r before after pid_seen < <(grep " $p$" "$out_dir/slavedies.out")
check_match "a signal sent at once reaches it: it reports its SHA-256" "^[0-9a-f]{64}$" "$before"
check_eq "its memory is unchanged" "$before" "$after"
wait "$p"
check_eq "and it exits normally" "0" "$?"
bpcluster start-slave 1 >/dev/null
if wait_for 10 node_is 1 up; then ok "the node comes back"; else not_ok "the node comes back (state: $(node_state 1))"; fi

# --- a lazy move whose page stream breaks after the commit ------------------------
# The copy already ran, so the original cannot go on either: the process is
# lost on both sides and its parent sees it killed (docs/migration.md).
start_holder 400 lazybroken
if bpmove --lazy "$p" 1; then
	ok "bpmove --lazy of a 400 MiB python3"
	kill -9 $(pgrep -f "criu lazy-pages") 2>/dev/null
else
	not_ok "bpmove --lazy of a 400 MiB python3"
	kill -9 "$p"
fi
wait "$p"
check_eq "when its lazy page stream breaks, its parent sees SIGKILL" "137" "$?"
check_eq "bpstat -p forgets it" "" "$(bpstat -p | grep "^$p	" || true)"
wait_for 10 test -z "$(pgrep -f 'criu (dump|lazy-pages)')"
check "no CRIU is left behind" test -z "$(pgrep -f 'criu (dump|lazy-pages)')"

finish
