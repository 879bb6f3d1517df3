#!/usr/bin/env bash
# The master killed (SIGKILL, as a crash) at each step of a move and of a
# launch, and started again without the fault: during a move between nodes
# (before, between and after the commits), mid-move from the master, after
# a --lazy commit, while it makes a ghost, and during a launch on six
# nodes.  Afterwards the process runs once, where it was or where it went,
# whole; or, where it cannot, its parent's wait() says it was killed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults-lib.sh"

# --- the master dies during a move from node to node ----------------------------
# Killed (SIGKILL) once MoveOut is sent (the source dumps), and once both
# slaves are done but before either commit: the source thaws the original
# when its master link drops, the target holds the copy it restored frozen
# (Hello.held); the new master takes the process back from node 0's claim
# and has node 1 drop its copy (daemons/master_held.c).  It runs on on
# node 0, whole, once, thawed; no image left; it moves on.  Also --lazy
# (killed once both are ready): the held copy has not all its pages, and
# the source's CRIU, which would serve them, ends when the source thaws.
cluster_up 2 >/dev/null
python3 -u -c "$prog" $((24 << 20)) </dev/null >"$M/n2n" 2>&1 &
n2n=$!
disown "$n2n"
sleep 0.5
check "a process moves to node 0" bpmove "$n2n" 0
for step in master-die-moveout master-die-ready "master-die-ready --lazy"; do
	fault=${step%% *}
	mode=${step#"$fault"}
	for ((i = 1; i <= 2; i++)); do
		BPROC_FAULT=$fault bpcluster restart-master
		wait_for 10 both_up
		fired=$(grep -c "fault injected: $fault" /run/bproc/cluster/master.log)
		# shellcheck disable=SC2086 # mode: empty or one option
		msg=$(bpmove $mode "$n2n" 1 2>&1)
		st=$?
		check_match "$step, round $i: the move fails with the master (exit $st)" "." "$st${msg:+ $msg}"
		[ "$st" -ne 0 ] || not_ok "$step, round $i: bpmove said it moved"
		check_eq "$step, round $i: the master died there" "$((fired + 1))" \
			"$(grep -c "fault injected: $fault" /run/bproc/cluster/master.log)"
		bpcluster restart-master
		wait_for 10 both_up
		n=$(wc -l <"$M/n2n")
		kill -USR1 "$n2n"
		if wait_for 5 more_lines "$M/n2n" "$n" && [ "$(tail -1 "$M/n2n")" = "alive True n0" ] &&
			wait_for 10 bash -c "bpstat -p | grep -q '^$n2n	0$'" && wait_for 5 two_holders "$n2n" &&
			wait_for 5 src_clean "$n2n"; then
			ok "$step, round $i: it runs on on node 0, whole, once, thawed; no image left"
		else
			not_ok "$step, round $i: it runs on on node 0, whole, once, thawed; no image left"
			echo "#   $(tail -1 "$M/n2n"); holders $(holders "$n2n"); $(bpstat -p | grep "^$n2n	")"
		fi
	done
done
check "after that it moves on to node 1" bpmove "$n2n" 1
n=$(wc -l <"$M/n2n")
kill -USR1 "$n2n"
wait_for 5 more_lines "$M/n2n" "$n"
check_eq "it is whole on node 1" "alive True n1" "$(tail -1 "$M/n2n")"
# (the killed original may take a moment to be reaped on node 0)
if wait_for 5 two_holders "$n2n"; then
	ok "and once: its ghost and one real process"
else
	not_ok "and once: its ghost and one real process"
	for f in $(grep -l "^NSpid:.*[[:space:]]$n2n$" /proc/[0-9]*/status); do
		echo "#   $f: $(grep -E '^(State|NSpid)' "$f" | tr '\n\t' '  ')"
	done
fi
kill -KILL "$n2n"

# Killed between the two commits: the source's sent (it killed its
# original), the target's not.  The target holds its copy frozen when its
# master link drops and says so to the new master, which sees the source
# back without the process and lets the copy run, its ghost taken back for
# node 1 (daemons/master_held.c).  Twice: node 0 -> 1, then 1 -> 0.  Each
# time it runs on the target, whole, once; its ghost passes signals on; at
# the end its parent's wait() gets its real status.
python3 -u -c "$prog" $((24 << 20)) </dev/null >"$M/commits" 2>&1 &
cm=$!
sleep 0.5
check "master-die-commits: a process moves to node 0" bpmove "$cm" 0
from=0
for ((i = 1; i <= 4; i++)); do
	to=$((1 - from))
	# Rounds 3 and 4 --lazy: the held copy lacks pages that the source's
	# CRIU, its original killed at its commit, serves on to it.
	mode=
	[ "$i" -le 2 ] || mode=--lazy
	BPROC_FAULT=master-die-commits bpcluster restart-master
	wait_for 10 both_up
	fired=$(grep -c "fault injected: master-die-commits" /run/bproc/cluster/master.log)
	# shellcheck disable=SC2086 # mode: empty or one option
	bpmove $mode "$cm" "$to" >/dev/null 2>&1 # the master dies under it: no answer
	check_eq "master-die-commits${mode:+ $mode}, round $i: the master died between the commits" "$((fired + 1))" \
		"$(grep -c "fault injected: master-die-commits" /run/bproc/cluster/master.log)"
	bpcluster restart-master
	wait_for 20 both_up
	# Taken back before it is signalled: a ghost no node claimed yet
	# takes a signal as its own.
	wait_for 10 bash -c "bpstat -p | grep -q '^$cm	$to$'"
	n=$(wc -l <"$M/commits")
	kill -USR1 "$cm"
	if wait_for 10 more_lines "$M/commits" "$n" && [ "$(tail -1 "$M/commits")" = "alive True n$to" ] &&
		bpstat -p | grep -q "^$cm	$to$" && wait_for 5 two_holders "$cm" &&
		[ -z "$(bpcluster exec "$from" ls /run/bproc/images 2>/dev/null)" ] &&
		[ -z "$(bpcluster exec "$to" ls /run/bproc/images 2>/dev/null)" ]; then
		ok "master-die-commits${mode:+ $mode}, round $i: it runs on node $to, whole (SHA-256), once (its ghost and one real process); no image left"
	else
		not_ok "master-die-commits${mode:+ $mode}, round $i: it runs on node $to, whole (SHA-256), once (its ghost and one real process); no image left"
		echo "#   $(tail -1 "$M/commits"); holders $(holders "$cm"); $(bpstat -p | grep "^$cm	")"
		grep -i 'held\|master-die' /run/bproc/cluster/master.log | tail -3 | sed 's/^/#   /'
	fi
	check_match "master-die-commits${mode:+ $mode}, round $i: the new master let node $to's held copy run" \
		"process $cm: its move from node $from to node $to was never committed on node $to; its copy there runs \\(node $from is back without it" \
		"$(cat /run/bproc/cluster/master.log)"
	from=$to
done
check "master-die-commits: then it moves on, whole" bpmove "$cm" "$((1 - from))"
n=$(wc -l <"$M/commits")
kill -USR1 "$cm"
wait_for 5 more_lines "$M/commits" "$n"
check_eq "master-die-commits: whole on node $((1 - from))" "alive True n$((1 - from))" \
	"$(tail -1 "$M/commits")"
check "master-die-commits: and once" wait_for 5 two_holders "$cm"
kill -TERM "$cm"
{ wait "$cm"; } 2>/dev/null
check_eq "master-die-commits: SIGTERM through its ghost ends it; its parent's wait() says so" "143" "$?"
check "master-die-commits: nothing of it is left" wait_for 5 no_holders "$cm"

# The source cut off: the master killed once both slaves are ready
# (master-die-ready), node 0's link cut before the new master starts, and
# back only after the new master's time for claims (claimtime 3) is over.
# Node 0 keeps its original frozen (the move is in doubt there: sent, never
# committed), node 1 its copy; the new master, not hearing from node 0, lets
# node 1's copy run; node 0, back, finds the process not taken back and kills
# its original, which never ran again: one copy all along.
echo "claimtime 3" >>/run/bproc/cluster/config
cgroot=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
frozen_in_move() {
	local c
	c=$(sed -n 's/^0:://p' "/proc/$1/cgroup" 2>/dev/null)
	case "$c" in */bproc/*move-*) grep -q "^frozen 1" "$cgroot$c/cgroup.events" ;; *) return 1 ;; esac
}
python3 -u -c "$prog" $((24 << 20)) </dev/null >"$M/cut" 2>&1 &
pc=$!
disown "$pc"
sleep 0.5
check "source cut off: a process moves to node 0" bpmove "$pc" 0
orig=$(real_of "$pc")
BPROC_FAULT=master-die-ready bpcluster restart-master
wait_for 10 both_up
bpmove "$pc" 1 >/dev/null 2>&1 # the master dies under it: no answer
ip link set bpv0 down
bpcluster restart-master
check "source cut off: the new master lets node 1's held copy run once node 0's time to claim is over" \
	wait_for 20 bash -c "bpstat -p | grep -q '^$pc	1$'"
if frozen_in_move "$orig"; then
	ok "source cut off: node 0's original stays frozen meanwhile (the move in doubt there)"
else
	not_ok "source cut off: node 0's original stays frozen meanwhile (the move in doubt there)"
	echo "#   $orig: $(cat "/proc/$orig/cgroup" 2>&1); $(awk '{ print $3 }' "/proc/$orig/stat" 2>&1)"
fi
n=$(wc -l <"$M/cut")
kill -USR1 "$pc"
wait_for 10 more_lines "$M/cut" "$n"
check_eq "source cut off: it runs on node 1, whole (SHA-256)" "alive True n1" "$(tail -1 "$M/cut")"
ip link set bpv0 up
check "source cut off: node 0 registers again once its link is back" wait_for 15 node_is 0 up
check "source cut off: node 0 kills its original, never thawed" wait_for 5 ended "$orig"
check_match "source cut off: node 0 says why" \
	"the master did not take process $pc back here: its original is killed" \
	"$(cat /run/bproc/cluster/n0/slave.log)"
check "source cut off: once (its ghost and one real process)" wait_for 5 two_holders "$pc"
kill -TERM "$pc"
check "source cut off: SIGTERM through its ghost ends it" wait_for 5 no_holders "$pc"
cluster_down

# --- the master dies mid-move ---------------------------------------------------
# It is killed (SIGKILL, as a crash) once the process is frozen, or once the
# node restored the copy, and started again without the fault: the new
# master finds the process frozen for a move that will never end, thaws it
# and sends it back to its cgroup; it runs on here, unchanged.
cluster_up 1 >/dev/null
python3 -u -c "$prog" $((24 << 20)) </dev/null >"$M/crash" 2>&1 &
crash=$!
disown "$crash"
sleep 0.5
for fault in master-die-frozen master-die-restored; do
	BPROC_FAULT=$fault bpcluster restart-master
	wait_for 10 node_is 0 up
	msg=$(bpmove "$crash" 0 2>&1)
	st=$?
	check_match "$fault: the move fails with the master (exit $st)" "." "$st${msg:+ $msg}"
	[ "$st" -ne 0 ] || not_ok "$fault: bpmove said it moved"
	bpcluster restart-master
	wait_for 10 node_is 0 up
	if wait_for 10 runs_here "$crash" "$M/crash"; then
		ok "$fault: the new master thawed it; it runs on here, unchanged"
	else
		not_ok "$fault: the new master thawed it; it runs on here, unchanged"
		grep -i 'frozen\|thawed\|CRIU' /run/bproc/cluster/master.log | tail -3 | sed 's/^/#   /'
	fi
	check "$fault: its cgroup is gone" test ! -e "$cg/move-$crash"
	check "$fault: node 0 keeps nothing of it" wait_for 10 node_clean "$crash"
	check_match "$fault: the master says so" "frozen for a move when a master before us died" \
		"$(cat /run/bproc/cluster/master.log)"
done
check "after that it moves" bpmove "$crash" 0
check_match "bpstat -p: on node 0" "^$crash	0$" "$(bpstat -p)"

# After the commit of a --lazy move the copy ran on the node ahead of the
# original: the new master kills the original (its parent sees SIGKILL, as
# for a node that went down), and the slave the copy (no ghost claims it).
python3 -u -c "$prog" $((24 << 20)) </dev/null >"$M/lazy" 2>&1 &
lazy=$!
sleep 0.5
BPROC_FAULT=master-die-lazy bpcluster restart-master
wait_for 10 node_is 0 up
bpmove --lazy "$lazy" 0 >/dev/null 2>&1
bpcluster restart-master
wait_for 10 node_is 0 up
{ wait "$lazy"; } 2>/dev/null
check_eq "master-die-lazy: the original ends as killed" "137" "$?"
check "master-die-lazy: no copy is left on node 0" wait_for 10 node_clean "$lazy"
check "master-die-lazy: nor its cgroup" test ! -e "$cg/move-$lazy"
cluster_down

# The master is killed (SIGKILL) while it turns the frozen original into its
# ghost (ghost/ghost.c), at three steps, twice each, a 256 KiB process moved
# to node 0, then started again without the fault.  Until the execve the
# original is whole (nothing of it was written over): it runs on here,
# unchanged, and node 0 held the copy it restored, which the new master has
# it drop.  Once the registers are set the process runs the execve itself
# when its tracer dies: the original is gone, and node 0's held copy is the
# process: the new master lets it run and takes the half-made ghost back
# (daemons/master_held.c); it is whole, once, signals pass through its
# ghost, and SIGTERM through it gives its parent's wait() 143.
# As $prog, but it never sleeps in a system call: its threads are stopped in
# its own code, where a written instruction would be run.
busy_prog="$prog_report"'
n = 0
while True:
    n += 1
'
ghost_making_faults() {
	local fault p ws i fired t0 n
	cluster_up 1 >/dev/null
	for fault in ${GHOST_FAULTS:-master-die-seized master-die-written master-die-exec}; do
		python3 -u -c "$busy_prog" $((256 << 10)) </dev/null >"$M/faults-$fault" 2>&1 &
		p=$!
		sleep 0.3
		for ((i = 1; i <= 2; i++)); do
			kill -0 "$p" 2>/dev/null || break
			move_as_master_dies "$fault" "$p" 0 "$fault, round $i: the master died there"
			t0=$SECONDS
			if [ "$fault" = master-die-exec ]; then
				# Node 0 held its copy; the new master lets it run and
				# takes the half-made ghost back (daemons/master_held.c).
				wait_for 10 bash -c "bpstat -p | grep -q '^$p	0$'"
				n=$(wc -l <"$M/faults-$fault")
				kill -USR1 "$p"
				if wait_for 10 more_lines "$M/faults-$fault" "$n" &&
					[ "$(tail -1 "$M/faults-$fault")" = "alive True n0" ] &&
					bpstat -p | grep -q "^$p	0$" && wait_for 5 two_holders "$p"; then
					ok "$fault, round $i: it runs on node 0, whole (SHA-256), once (its ghost and one real process), within $((SECONDS - t0)) s"
				else
					not_ok "$fault, round $i: it runs on node 0, whole (SHA-256), once (its ghost and one real process)"
					echo "#   $(tail -1 "$M/faults-$fault"); holders $(holders "$p"); $(bpstat -p | grep "^$p	")"
					grep -i 'held\|half\|ghost' /run/bproc/cluster/master.log | tail -4 | sed 's/^/#   /'
				fi
				check_match "$fault, round $i: the new master let node 0's held copy run" \
					"process $p: a master before us died making its ghost, before the commit; the copy node 0 holds runs" \
					"$(cat /run/bproc/cluster/master.log)"
				check "$fault, round $i: no move cgroup is left" wait_for 5 test ! -e "$cg/move-$p"
				kill -TERM "$p"
				{ wait "$p"; } 2>/dev/null
				ws=$?
				check_eq "$fault, round $i: SIGTERM through its ghost ends it; its parent's wait() says so" "143" "$ws"
				check "$fault, round $i: nothing of it is left" wait_for 5 no_holders "$p"
				python3 -u -c "$busy_prog" $((256 << 10)) </dev/null >"$M/faults-$fault" 2>&1 &
				p=$!
				sleep 0.3
			elif wait_for 10 runs_here "$p" "$M/faults-$fault"; then
				ok "$fault, round $i: it runs on here, unchanged"
				# Node 0 held the copy it restored: dropped, never two.
				check_match "$fault, round $i: node 0's held copy is dropped" \
					"process $p: the copy node 0 holds from the master's move is dropped" \
					"$(cat /run/bproc/cluster/master.log)"
			else
				not_ok "$fault, round $i: it runs on here, unchanged"
				tail -2 "$M/faults-$fault" | sed 's/^/#   /'
			fi
			check "$fault, round $i: no move cgroup is left" wait_for 5 test ! -e "$cg/move-$p"
			check "$fault, round $i: node 0 keeps nothing of it" wait_for 10 node_clean "$p"
		done
		check "$fault: then it moves to node 0" bpmove "$p" 0
		check_match "$fault: bpstat -p: on node 0" "^$p	0$" "$(bpstat -p)"
		kill -KILL "$p"
		{ wait "$p"; } 2>/dev/null
	done
	cluster_down
}

# The same for a tree (a root with two children, each with a buffer of its
# own), moved to node 0.  Every member is armed for its execve before any
# runs it (ghost/ghost_tree.c).  master-die-exec: the master dies once all
# are armed, so all run the execve and are ghosts (before, the children ran
# on here as originals while node 0's copy of the tree was let run: two of
# each).  master-die-tree-root: it dies with the root armed and the
# children not (the window the arming loop keeps to microseconds): they run
# on here until node 0 says it holds the tree's copy, then the new master
# makes them its ghosts.  Either way each member runs once, on node 0,
# whole, its ghost on the master passing signals on; SIGKILL through the
# root's ghost gives its parent's wait() 137.
tree_prog='
import hashlib, os, signal, sys, time
data = bytearray(os.urandom(1 << 18))
before = hashlib.sha256(data).digest()
def report(sig, frame):
    host = open("/proc/sys/kernel/hostname").read().strip()
    print("alive", os.getpid(), hashlib.sha256(data).digest() == before, host, flush=True)
signal.signal(signal.SIGUSR1, report)
for _ in range(2):
    if os.fork() == 0:
        break
while True:
    time.sleep(0.05)
'
nchildren() { pgrep -P "$1" | wc -l; }
nchildren_is() { [ "$(nchildren "$1")" = "$2" ]; }
tree_ghost_faults() {
	local fault p kids k fired t0 all
	cluster_up 1 >/dev/null
	for fault in master-die-exec master-die-tree-root; do
		python3 -u -c "$tree_prog" </dev/null >"$M/tree-$fault" 2>&1 &
		p=$!
		wait_for 5 nchildren_is "$p" 2
		kids=$(pgrep -P "$p" | tr '\n' ' ')
		move_as_master_dies "$fault" "$p" 0 "tree, $fault: the master died there"
		t0=$SECONDS
		for k in $p $kids; do
			wait_for 10 bash -c "bpstat -p | grep -q '^$k	0$'"
		done
		for k in $p $kids; do
			check_answers_on "$k" 0 "tree, $fault: $k runs on node 0, whole (SHA-256), once (its ghost here and one real process), within $((SECONDS - t0)) s" \
				"^alive $k True n0$" "$M/tree-$fault"
		done
		check_match "tree, $fault: the new master let node 0's held copy run" \
			"process $p: a master before us died making its ghost, before the commit; the copy node 0 holds runs" \
			"$(cat /run/bproc/cluster/master.log)"
		if [ "$fault" = master-die-tree-root ]; then
			for k in $kids; do
				check_match "tree, $fault: $k, left an original, was made its ghost then" \
					"process $k: made the ghost of the copy node 0 holds" \
					"$(cat /run/bproc/cluster/master.log)"
			done
		fi
		check "tree, $fault: no move cgroup is left" wait_for 5 test ! -e "$cg/move-$p"
		for k in $kids; do kill -KILL "$k"; done
		kill -KILL "$p"
		{ wait "$p"; } 2>/dev/null
		check_eq "tree, $fault: SIGKILL through its ghost ends the root; its parent's wait() says so" "137" "$?"
		all=0
		for k in $p $kids; do wait_for 5 no_holders "$k" || all=1; done
		check_eq "tree, $fault: nothing of the tree is left" 0 "$all"
	done
	# master-die-tree-root, and node 0's slave killed before the new
	# master starts: node 0 registers again holding no copy.  The root's
	# half-made ghost ends as killed (its parent's wait() says 137: the
	# process is lost with its copy); the children, left originals, run on
	# here, once, whole.
	fault=master-die-tree-root
	python3 -u -c "$tree_prog" </dev/null >"$M/tree-lost" 2>&1 &
	p=$!
	wait_for 5 nchildren_is "$p" 2
	kids=$(pgrep -P "$p" | tr '\n' ' ')
	BPROC_FAULT=$fault bpcluster restart-master
	wait_for 10 node_is 0 up
	bpmove "$p" 0 >/dev/null 2>&1
	bpcluster kill-slave 0 >/dev/null 2>&1
	bpcluster restart-master
	bpcluster start-slave 0 >/dev/null
	wait_for 10 node_is 0 up
	t0=$SECONDS
	wait_for 10 ended "$p"
	{ wait "$p"; } 2>/dev/null
	check_eq "tree, $fault, node 0's copy lost: the root's half-made ghost ends as killed (within $((SECONDS - t0)) s)" "137" "$?"
	check_match "tree, $fault, node 0's copy lost: the master says why" \
		"process $p: .*node 0 holds no copy: ended as killed" "$(cat /run/bproc/cluster/master.log)"
	for k in $kids; do
		n=$(grep -c "^alive $k True $here$" "$M/tree-lost")
		kill -USR1 "$k"
		if wait_for 5 bash -c "[ \$(grep -c '^alive $k True $here$' '$M/tree-lost') -gt $n ]" &&
			! is_ghost "$k" && [ "$(holders "$k")" = 1 ] && ! bpstat -p | grep -q "^$k	"; then
			ok "tree, $fault, node 0's copy lost: $k runs on here, whole, once"
		else
			not_ok "tree, $fault, node 0's copy lost: $k runs on here, whole, once"
			echo "#   exe $(readlink "/proc/$k/exe"); holders $(holders "$k"); $(bpstat -p | grep "^$k	")"
		fi
		check_match "tree, $fault, node 0's copy lost: the master says $k runs on here" \
			"process $k: node 0 holds no copy of its tree: it runs on here" "$(cat /run/bproc/cluster/master.log)"
		kill -KILL "$k"
	done
	check "tree, $fault, node 0's copy lost: node 0 keeps nothing of it" wait_for 10 node_clean "$p"
	# master-die-exec, and node 0's slave killed and not back: the new
	# master waits for node 0's claim until claimtime (3 s here) is over,
	# then ends the half-made ghost as killed; node 0, back later, holds
	# nothing of it.
	echo "claimtime 3" >>/run/bproc/cluster/config
	python3 -u -c "$prog" $((256 << 10)) </dev/null >"$M/away" 2>&1 &
	p=$!
	sleep 0.3
	BPROC_FAULT=master-die-exec bpcluster restart-master
	wait_for 10 node_is 0 up
	bpmove "$p" 0 >/dev/null 2>&1
	bpcluster kill-slave 0 >/dev/null 2>&1
	bpcluster restart-master
	t0=$SECONDS
	wait_for 20 ended "$p"
	{ wait "$p"; } 2>/dev/null
	check_eq "master-die-exec, node 0 away: the half-made ghost ends as killed once the claims are over ($((SECONDS - t0)) s)" \
		"137" "$?"
	check_match "master-die-exec, node 0 away: the master says why" \
		"ghost $p: no node took its process back; it ends as killed" "$(cat /run/bproc/cluster/master.log)"
	bpcluster start-slave 0 >/dev/null
	check "master-die-exec, node 0 away: back, node 0 is up" wait_for 10 node_is 0 up
	check "master-die-exec, node 0 away: and keeps nothing of it" wait_for 10 node_clean "$p"
	cluster_down
}

# The master dies (SIGKILL) during a launch on 6 nodes through the fan-out
# tree (launchfanout 2: nodes 0 and 1 pass the image on to 2-5), twice at
# each of two steps: when the first copy a relay passed on says it is
# restored (master-die-launch), and right after the first copy's commit
# (master-die-launched); started again without the fault.  bpsh ends (it
# used to wait for good): the copy committed ran (its node claims it, its
# output and end reach bpsh through the new master), each other node says
# the master died during the move (its original, whole on the master, was
# thawed and told so; the copy its node held for the commit is dropped by
# the new master's verdict); afterwards nothing of it runs or is held on a
# node or is known to bpstat, and a launch on the six works.  Node 0's
# process is the launch's template, the program held at its exec (exec
# first): bpsh says it waits for the next master, which kills it unless its
# copy was committed.
launch_gone() { [ -z "$(pgrep -f 'sleep 1; echo launched')" ]; }
launch_faults() {
	local fault i out st n ran fired t0
	cluster_up 6 >/dev/null
	echo "launchfanout 2" >>/run/bproc/cluster/config
	for fault in master-die-launch master-die-launched; do
		for ((i = 1; i <= 2; i++)); do
			BPROC_FAULT=$fault bpcluster restart-master
			wait_for 10 bash -c 'for n in 0 1 2 3 4 5; do [ "$(bpstat -s $n)" = up ] || exit 1; done'
			fired=$(grep -c "fault injected: $fault " /run/bproc/cluster/master.log)
			out=$( (sleep 3; bpcluster restart-master >/dev/null) &
				timeout 60 bpsh 0-5 sh -c 'sleep 1; echo launched-$(hostname)' 2>&1)
			st=$?
			wait
			check_eq "$fault, round $i: the master died there" "$((fired + 1))" \
				"$(grep -c "fault injected: $fault " /run/bproc/cluster/master.log)"
			check "$fault, round $i: bpsh ends (exit $st)" test "$st" -ne 124
			# Each node once: its copy ran, or it says why.
			for n in 0 1 2 3 4 5; do
				# Ran, or failed, once; or said it waits for the next master (node
				# 0's template), and then ran if its copy was the one let run.
				check_eq "$fault, round $i: node $n ran it or says why, once" "1" \
					"$(node_verdict "$n" "$out")"
			done
			ran=$(grep -c "^launched-" <<<"$out")
			# Those committed before the death (at the first, none to a
			# few, as the restores came) ran; at the second, one.
			[ "$fault" = master-die-launched ] &&
				check_eq "$fault, round $i: the one copy committed ran" "1" "$ran"
			echo "$out" | sort | uniq -c | sed 's/^/#   /'
			wait_for 40 bash -c "[ -z \"\$(bpstat -p | awk 'NR > 1')\" ]"
			check_eq "$fault, round $i: bpstat -p lists nothing after" "" "$(bpstat -p | awk 'NR > 1')"
			# bpsh may end before the nodes register with the new master:
			# their held copies (stopped, bpsh's command line) go with its
			# verdicts then.
			t0=$SECONDS
			wait_for 20 launch_gone
			check_eq "$fault, round $i: nothing of it runs on a node, nor is held (within $((SECONDS - t0)) s)" "" \
				"$(pgrep -f 'sleep 1; echo launched')"
		done
	done
	bpcluster restart-master
	wait_for 10 bash -c 'for n in 0 1 2 3 4 5; do [ "$(bpstat -s $n)" = up ] || exit 1; done'
	check_eq "then a launch on the six works" "6" "$(bpsh 0-5 echo launched | grep -c launched)"
	cluster_down
}

ghost_making_faults
tree_ghost_faults
launch_faults
finish
