#!/usr/bin/env bash
# Output flow control (docs/migration.md, "Input and output"): a moved
# process whose reader on the master does not read blocks in write() on the
# node, as with a local full pipe, instead of the master queueing (or
# dropping) what it writes.  200 MiB with a checksum to a reader that waits:
# every byte, in order; bpmaster's memory stays small; the writer's progress
# stops meanwhile; another moved process's output and signals keep going; a
# move from node to node while stalled; an end while stalled (the exit
# status only once the reader has it all); a reader that goes away (the
# process gets SIGPIPE on the node); the same through bpsh, and bpsh into a
# reader that stalls, then reads some and goes (as `yes | head`).
. "$(dirname "$0")/lib.sh"

# ASan keeps freed memory in a quarantine (256 MiB by default) before it
# reuses it: the daemons' RSS would show what passed through them, not what
# they hold.  A small one makes the RSS measure ours.  No effect unsanitized.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4:thread_local_quarantine_size_kb=64"

cluster_up 2
M=$(mktemp -d /var/tmp/flow-test.XXXXXX)
trap 'rm -rf "$M"; cluster_down' EXIT

BIG=209715200   # 200 MiB
master_pid=$(cat /run/bproc/cluster/master.pid)
# The interpreter itself: "python3" may be a wrapper script (pyenv) whose
# shells would move with it and match the patterns below.
PY=$(python3 -c 'import sys; print(sys.executable)')
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# The real process of a ghost, as the host sees it (pid namespaces nest).
no_real() { [ -z "$(real_of "$1")" ]; }
# How many bytes a process has written (all its write() calls).
wchar() { awk '/^wchar:/ { print $2 }' "/proc/$1/io" 2>/dev/null; }

ln -s "$PY" "$M/py"
# The writer: waits for a file, then writes N bytes (64 KiB blocks, each
# numbered, so that a lost or reordered block changes the sum), writes the
# SHA-256 of what it wrote into a file, and exits 7.
cat >"$M/writer.py" <<'EOF'
import hashlib, os, sys, time
total, go, sumfile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
while go != "-" and not os.path.exists(go):
    time.sleep(0.05)
block = os.urandom(1 << 16)
h = hashlib.sha256()
n = i = 0
while n < total:
    chunk = (i.to_bytes(8, "little") + block[8:])[:total - n]
    view = memoryview(chunk)
    while view:
        view = view[os.write(1, view):]
    h.update(chunk)
    n += len(chunk)
    i += 1
with open(sumfile, "w") as f:
    f.write(h.hexdigest())
sys.exit(7)
EOF
# The reader: reads nothing until a file exists, then everything; writes
# "BYTES SHA256".
cat >"$M/reader.py" <<'EOF'
import hashlib, os, sys, time
start, result = sys.argv[1], sys.argv[2]
while not os.path.exists(start):
    time.sleep(0.05)
h = hashlib.sha256()
n = 0
while True:
    b = os.read(0, 1 << 20)
    if not b:
        break
    h.update(b)
    n += len(b)
with open(result + ".tmp", "w") as f:
    f.write("%d %s" % (n, h.hexdigest()))
os.rename(result + ".tmp", result)
EOF
# The other process: a numbered line every 50 ms, "usr1" on SIGUSR1, until
# a file exists.
cat >"$M/ticker.py" <<'EOF'
import os, signal, sys, time
stop = sys.argv[1]
signal.signal(signal.SIGUSR1, lambda s, f: print("usr1", flush=True))
i = 0
while not os.path.exists(stop):
    print("tick", i, flush=True)
    i += 1
    time.sleep(0.05)
sys.exit(3)
EOF

# --- 200 MiB to a reader that waits; another process beside it ----------------
sh -c '"$1/py" "$1/writer.py" '$BIG' "$1/go" "$1/sum" </dev/null; echo $? >"$1/status"' sh "$M" |
	"$PY" "$M/reader.py" "$M/read" "$M/result" &
sh -c '"$1/py" "$1/ticker.py" "$1/stop-ticker" </dev/null; echo $? >"$1/ticker-status"' sh "$M" |
	cat >"$M/ticks" &
wait_for 10 pgrep -f "writer.py $BIG $M/go"
wait_for 10 pgrep -f "ticker.py $M/stop-ticker"
w=$(pgrep -f "writer.py $BIG $M/go" | head -1)
t=$(pgrep -f "ticker.py $M/stop-ticker" | head -1)
rss0=$(rss_kib "$master_pid")
check "bpmove the writer to node 0" bpmove "$w" 0
check "bpmove the other process to node 1" bpmove "$t" 1
touch "$M/go"
sleep 2
rw=$(real_of "$w")
check "the writer runs on node 0" test -n "$rw"
a=$(wchar "$rw")
ticks_a=$(grep -c tick "$M/ticks")
rss_max=0
for i in 1 2 3 4 5 6 7 8; do
	r=$(rss_kib "$master_pid")
	[ "$r" -gt "$rss_max" ] && rss_max=$r
	sleep 0.25
done
b=$(wchar "$rw")
ticks_b=$(grep -c tick "$M/ticks")
check "the writer has written something" test "${a:-0}" -gt 0
check_eq "then it waits: its progress stopped over 2 s (bytes written)" "$a" "$b"
check "it wrote well under its 200 MiB (${a:-0} bytes)" test "${a:-0}" -lt $((BIG / 4))
check_match "it sleeps in a pipe write, as on a full local pipe" "pipe_write" "$(cat "/proc/$rw/wchan" 2>/dev/null)"
check "bpmaster holds little meanwhile (RSS $rss0 -> at most $rss_max KiB)" \
	test $((rss_max - rss0)) -lt 102400
check "the other process's output kept flowing ($ticks_a -> $ticks_b lines in 2 s)" \
	test $((ticks_b - ticks_a)) -ge 15
kill -USR1 "$t"
check "a signal to its ghost reaches it meanwhile" wait_for 3 grep -q usr1 "$M/ticks"
start=$(date +%s%N)
check "the master answers meanwhile" timeout 2 bpstat -t
check "and promptly" test $(( ($(date +%s%N) - start) / 1000000 )) -lt 1000

# --- node to node while its reader still waits ------------------------------------
check "bpmove the stalled writer from node 0 to node 1" bpmove "$w" 1
sleep 1
rw=$(real_of "$w")
check_eq "it runs on node 1" "1" "$(bpstat -p | awk -v p="$w" '$1 == p { print $2 }')"
a=$(wchar "$rw")
sleep 1.5
b=$(wchar "$rw")
check_eq "and still waits there (its pipe stays paused)" "$a" "$b"
r=$(rss_kib "$master_pid")
check "bpmaster still holds little (RSS $r KiB)" test $((r - rss0)) -lt 102400

# --- the reader reads --------------------------------------------------------------
touch "$M/read"
check "the reader gets to the end" wait_for 120 test -f "$M/result"
check_eq "every byte, in order (count and SHA-256)" "$BIG $(cat "$M/sum" 2>/dev/null)" "$(cat "$M/result" 2>/dev/null)"
check "the writer's exit code reaches its parent" wait_for 10 test -s "$M/status"
check_eq "exit 7" "7" "$(cat "$M/status" 2>/dev/null)"
touch "$M/stop-ticker"
check "the other process ends" wait_for 10 test -s "$M/ticker-status"
check_eq "with its code 3" "3" "$(cat "$M/ticker-status" 2>/dev/null)"
check_eq "its lines all arrived, in order" "" \
	"$(grep tick "$M/ticks" | awk '{ if ($2 != n) { print "line " n " missing"; exit } n++ }')"
check_eq "nothing dropped" "0" \
	"$(cat /run/bproc/cluster/master.log | grep -c 'bytes dropped')"

# --- an end while stalled: its status waits for the reader -----------------------
# 4 MiB + 112 KiB: past the master's pause (4 MiB held), and the rest fits
# in the node's pipe, so the writer ends while its reader still waits.
SMALL=$(( (4 << 20) + (112 << 10) ))
sh -c '"$1/py" "$1/writer.py" '$SMALL' "$1/go3" "$1/sum3" </dev/null; echo $? >"$1/status3"' sh "$M" |
	"$PY" "$M/reader.py" "$M/read3" "$M/result3" &
wait_for 10 pgrep -f "writer.py $SMALL $M/go3"
w3=$(pgrep -f "writer.py $SMALL $M/go3" | head -1)
check "bpmove a writer of 4.1 MiB to node 0" bpmove "$w3" 0
touch "$M/go3"
check "it writes everything and ends on the node" wait_for 20 test -s "$M/sum3"
check "its real process is gone" wait_for 10 no_real "$w3"
sleep 1
check "its ghost waits, its parent not told" test ! -e "$M/status3"
touch "$M/read3"
check "the reader gets to the end" wait_for 30 test -f "$M/result3"
check_eq "every byte (count and SHA-256)" "$SMALL $(cat "$M/sum3" 2>/dev/null)" "$(cat "$M/result3" 2>/dev/null)"
check "then the parent gets the exit code" wait_for 10 test -s "$M/status3"
check_eq "7" "7" "$(cat "$M/status3" 2>/dev/null)"

# --- a reader that goes away: SIGPIPE on the node, as on the master -------------------
sh -c 'yes flow-test-sigpipe </dev/null; echo $? >"$1/status4"' sh "$M" |
	"$PY" -c 'import os, sys, time
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
os.read(0, 1000)' "$M/read4" &
wait_for 10 pgrep -x -f "yes flow-test-sigpipe"
y=$(pgrep -x -f "yes flow-test-sigpipe" | head -1)
check "bpmove a yes whose reader waits to node 0" bpmove "$y" 0
touch "$M/read4"
check "when its reader has gone, yes ends" wait_for 20 test -s "$M/status4"
check_eq "by SIGPIPE (141), as it would on the master" "141" "$(cat "$M/status4" 2>/dev/null)"
check_match "the master said why" "process $y: its fd 1 has no reader left" \
	"$(cat /run/bproc/cluster/master.log)"

# --- a stream closed for a reader gone stays closed when the process moves on --------
# A writer that ignores SIGPIPE writes 100 bytes each time it is asked
# (SIGUSR1) and notes whether the write worked or failed with EPIPE.  On
# node 0: a write, its reader leaves, a write (the master finds the reader
# gone and has node 0 close the pipe), a write: EPIPE.  Then it moves to
# node 1, where its stdout is a new pipe: the next write must fail with EPIPE
# there too (before, node 1 read what came and dropped it).
cat >"$M/asked.py" <<'EOF'
import errno, os, signal, sys, time
signal.signal(signal.SIGPIPE, signal.SIG_IGN)
asked = []
signal.signal(signal.SIGUSR1, lambda *a: asked.append(1))
n = 0
while True:
    if asked:
        asked.pop()
        n += 1
        try:
            os.write(1, b"x" * 99 + b"\n")
            what = "ok"
        except OSError as e:
            what = "epipe" if e.errno == errno.EPIPE else "error %d" % e.errno
        with open("%s/attempt%d" % (sys.argv[1], n), "w") as f:
            f.write(what)
    time.sleep(0.02)
EOF
"$PY" "$M/asked.py" "$M" </dev/null |
	"$PY" -c 'import os, sys, time
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
os.read(0, 1000)' "$M/read5" &
wait_for 10 pgrep -f "$M/asked.py"
w=$(pgrep -f "$M/asked.py" | head -1)
attempts() { ls "$M"/attempt* 2>/dev/null | wc -l; }
attempt() {
	local n
	n=$(($(attempts) + 1))
	kill -USR1 "$w"
	wait_for 10 test -s "$M/attempt$n"
	cat "$M/attempt$n" 2>/dev/null
}
check "bpmove a writer whose reader waits to node 0" bpmove "$w" 0
check_eq "its first write on node 0 works" "ok" "$(attempt)"
touch "$M/read5"
wait_for 10 bash -c "! pgrep -f '$M/read5' >/dev/null"
attempt >/dev/null
check "its reader gone, the master closes the stream on node 0" wait_for 10 grep -q \
	"process $w: its fd 1 has no reader left" /run/bproc/cluster/master.log
epipe_seen() { [ "$(attempt)" = epipe ]; }
check "then a write fails with EPIPE on node 0" wait_for 10 epipe_seen
check "it moves on to node 1" bpmove "$w" 1
check_eq "on node 1 its write fails with EPIPE too: the stream stays closed" "epipe" "$(attempt)"
kill -KILL "$w"

# --- through bpsh, its stdout to a reader that waits --------------------------------
# bpmaster's memory as this part begins: what the allocator kept from the
# 200 MiB above is not held for anyone.
rss0=$(rss_kib "$master_pid")
bpsh 0 "$PY" "$M/writer.py" $BIG - "$M/sum2" </dev/null 2>"$M/bpsh-err" |
	"$PY" "$M/reader.py" "$M/read2" "$M/result2" &
wait_for 20 sh -c "pgrep -f 'writer.py $BIG - $M/sum2' >/dev/null"
sleep 2
rw2=
for p in $(pgrep -f "writer.py $BIG - $M/sum2"); do
	# The real one lives in the node's pid namespace: two NSpid entries.
	[ "$(awk '/^NSpid:/ { print NF - 1 }' /proc/$p/status 2>/dev/null)" = "2" ] && rw2=$p
done
bpsh_pid=$(pgrep -f "^bpsh 0 $PY $M/writer.py" | head -1)
check "bpsh's process runs on node 0" test -n "$rw2"
rss_b0=$(rss_kib "$bpsh_pid")
a=$(wchar "$rw2")
sleep 2
b=$(wchar "$rw2")
r=$(rss_kib "$master_pid")
rss_b=$(rss_kib "$bpsh_pid")
check "it has written something" test "${a:-0}" -gt 0
check_eq "then it waits (bytes written over 2 s)" "$a" "$b"
check "bpmaster holds little meanwhile (RSS $rss0 -> $r KiB)" test $((r - rss0)) -lt 102400
check "nor does bpsh (RSS $rss_b KiB)" test "$rss_b" -lt 65536
touch "$M/read2"
check "the reader gets to the end" wait_for 120 test -f "$M/result2"
check_eq "every byte through bpsh, in order (count and SHA-256)" "$BIG $(cat "$M/sum2" 2>/dev/null)" \
	"$(cat "$M/result2" 2>/dev/null)"
wait
check_eq "nothing dropped anywhere" "0" \
	"$(cat /run/bproc/cluster/master.log /run/bproc/cluster/n*/slave.log | grep -c 'dropped\|output queue full')"

# --- bpsh into a reader that stalls, then takes some and goes ---------------------
# As `yes | { sleep 3; head -c N; }` locally: the stream pauses while the
# reader sleeps, flows again when it reads, and once head has gone, yes
# gets SIGPIPE on the node and bpsh ends with its status.
( bpsh 0 yes flow-test-bpsh-head 2>"$M/bpsh-head-err" </dev/null |
	{ sleep 3; head -c 20000000 | wc -c >"$M/head-count"; }
  echo "${PIPESTATUS[0]}" >"$M/head-status" ) &
check "bpsh into a reader that stalls, reads 20 MB and goes: it ends" wait_for 90 test -s "$M/head-status"
check_eq "the reader had its 20 MB" "20000000" "$(cat "$M/head-count" 2>/dev/null)"
check_eq "bpsh ends with yes's SIGPIPE (141), as yes | head does" "141" \
	"$(cat "$M/head-status" 2>/dev/null)"
check "no yes left behind" wait_for 10 sh -c '! pgrep -f "[y]es flow-test-bpsh-head" >/dev/null'
check_eq "bpsh said nothing on stderr" "" "$(cat "$M/bpsh-head-err" 2>/dev/null)"
pkill -f "yes flow-test-bpsh-head" 2>/dev/null

finish
