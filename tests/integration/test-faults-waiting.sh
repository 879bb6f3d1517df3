#!/usr/bin/env bash
# The master killed (SIGKILL, as a crash) under a process that waits for its
# own move: one that moves itself with bproc_move() (tests/move-wait) and the
# copies of a launch (bpsh, bproc_execmove / bproc_vexecmove), then started
# again without the fault.  Their node holds the copy it restored when its
# master link drops (Hello.held); the new master lets it run where the ghost
# was half made (master-die-exec: the original is gone), and drops it where
# the original is whole on the master (master-die-restored, the other copies
# of a launch), which it thaws and tells the move failed.  Each time: the
# process runs exactly once, its output goes on, a signal through its ghost
# reaches it, and its parent's wait() gets its real status.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults-lib.sh"

build=$(dirname "$(command -v bpmaster)")/..
mlog=/run/bproc/cluster/master.log
fired() { grep -c "fault injected: $1" "$mlog"; }
fired_more() { [ "$(fired "$1")" -gt "$2" ]; }
more_alive() { [ "$(grep -c '^alive ' "$1")" -gt "$2" ]; }
ticks() { grep -c '^tick ' "$1"; }
more_ticks() { [ "$(ticks "$1")" -gt "$2" ]; }
all_up() { for n in "$@"; do node_is "$n" up || return 1; done; }
# No copy of pid $1 is held or runs on a node (only the original here).
no_copy_on_nodes() { [ -z "$(real_copies "$1")" ]; }
on_node() { bpstat -p | awk -v n="$1" 'NR > 1 && $2 == n { print $1; exit }'; }
has_on_node() { [ -n "$(on_node "$1")" ]; }
# No process whose command line has $1 (a held copy of a launch has bpsh's).
none_runs() { [ -z "$(pgrep -f "$1")" ]; }

cluster_up 3 >/dev/null

# --- bproc_move(): the master dies as it makes the ghost (master-die-exec) --------
# The registers are set for the ghost's execve, which the original runs when
# its tracer dies: the ghost is half made, node 0 holds the copy; the new
# master takes the ghost back for node 0 and lets the copy run, which reads
# "moved" from its wake pipe and goes on there.
for ((i = 1; i <= ${WAIT_ROUNDS:-3}; i++)); do
	BPROC_FAULT=master-die-exec bpcluster restart-master
	wait_for 10 all_up 0 1 2
	f0=$(fired master-die-exec)
	"$build/tests/move-wait" 0 </dev/null >"$M/self" 2>&1 &
	p=$!
	wait_for 20 fired_more master-die-exec "$f0"
	check_eq "bproc_move, master-die-exec, round $i: the master died as it made the ghost" \
		"$((f0 + 1))" "$(fired master-die-exec)"
	t0=$SECONDS
	bpcluster restart-master
	wait_for 10 all_up 0 1 2
	wait_for 10 grep -q '^moved ' "$M/self"
	check_eq "bproc_move, master-die-exec, round $i: its wake pipe says it moved, to node 0 (within $((SECONDS - t0)) s of the restart)" \
		"moved r=0 node=0 err=-" "$(grep '^moved ' "$M/self")"
	check_match "bproc_move, master-die-exec, round $i: the new master let node 0's held copy run" \
		"process $p: a master before us died making its ghost, before the commit; the copy node 0 holds runs" \
		"$(cat "$mlog")"
	n=$(ticks "$M/self")
	check "bproc_move, master-die-exec, round $i: its output goes on through the new master" \
		wait_for 5 more_ticks "$M/self" "$((n + 3))"
	n=$(grep -c '^alive ' "$M/self")
	kill -USR1 "$p"
	wait_for 5 more_alive "$M/self" "$n"
	check_eq "bproc_move, master-die-exec, round $i: SIGUSR1 through its ghost reaches it on node 0, whole" \
		"alive ok n0" "$(grep '^alive ' "$M/self" | tail -1)"
	check "bproc_move, master-die-exec, round $i: once (its ghost and one real process), bpstat -p says node 0" \
		bash -c "[ $(holders "$p") = 2 ] && bpstat -p | grep -q '^$p	0$'"
	check_eq "bproc_move, master-die-exec, round $i: it moved once (one 'moved' line)" "1" \
		"$(grep -c '^moved ' "$M/self")"
	kill -TERM "$p"
	{ wait "$p"; } 2>/dev/null
	check_eq "bproc_move, master-die-exec, round $i: SIGTERM through its ghost ends it; its parent's wait() says 143" \
		"143" "$?"
	check "bproc_move, master-die-exec, round $i: nothing of it is left" wait_for 5 no_holders "$p"
done

# --- bproc_move() of a process with two children: the master dies as it makes
# their ghosts ---------------------------------------------------------------
# The tree moves with its root.  master-die-exec: all three armed, all run
# the execve: the new master takes the three ghosts back for node 0's held
# copy.  master-die-tree-root: only the root armed; the children run on
# here as originals until node 0 says it holds the tree's copy, then become
# their ghosts.  Either way the root reads "moved" on node 0, each child
# answers from node 0, whole, once, its ghost here.
for fault in master-die-exec master-die-tree-root; do
	BPROC_FAULT=$fault bpcluster restart-master
	wait_for 10 all_up 0 1 2
	f0=$(fired "$fault")
	"$build/tests/move-wait" 0 2 </dev/null >"$M/tree" 2>&1 &
	p=$!
	wait_for 20 fired_more "$fault" "$f0"
	check_eq "bproc_move of a tree, $fault: the master died as it made the ghosts" \
		"$((f0 + 1))" "$(fired "$fault")"
	kids=$(awk '$1 == "child" && NF == 2 { print $2 }' "$M/tree" | tr '\n' ' ')
	check_eq "bproc_move of a tree, $fault: two children" 2 "$(wc -w <<<"$kids")"
	t0=$SECONDS
	bpcluster restart-master
	wait_for 10 all_up 0 1 2
	wait_for 10 grep -q '^moved ' "$M/tree"
	check_eq "bproc_move of a tree, $fault: its wake pipe says it moved, to node 0 (within $((SECONDS - t0)) s of the restart)" \
		"moved r=0 node=0 err=-" "$(grep '^moved ' "$M/tree")"
	for k in $kids; do
		wait_for 10 bash -c "bpstat -p | grep -q '^$k	0$'"
		check_answers_on "$k" 0 "bproc_move of a tree, $fault: child $k answers from node 0, whole, once, its ghost here" \
			"^child alive ok n0 $k$" "$M/tree"
	done
	n=$(grep -c '^alive ' "$M/tree")
	kill -USR1 "$p"
	wait_for 5 more_alive "$M/tree" "$n"
	check_eq "bproc_move of a tree, $fault: SIGUSR1 through the root's ghost reaches it on node 0, whole" \
		"alive ok n0" "$(grep '^alive ' "$M/tree" | tail -1)"
	for k in $kids; do kill -KILL "$k"; done
	kill -TERM "$p"
	{ wait "$p"; } 2>/dev/null
	check_eq "bproc_move of a tree, $fault: SIGTERM through its ghost ends the root; its parent's wait() says 143" \
		"143" "$?"
	all=0
	for k in $p $kids; do wait_for 5 no_holders "$k" || all=1; done
	check_eq "bproc_move of a tree, $fault: nothing of the tree is left" 0 "$all"
done

# --- bproc_move(): the master dies once the node restored the copy ---------------
# The original is whole and frozen on the master: the new master thaws it
# and tells it the move failed (its wake pipe); node 0's held copy is
# dropped.  It runs on here, once.
for ((i = 1; i <= ${WAIT_ROUNDS:-2}; i++)); do
	BPROC_FAULT=master-die-restored bpcluster restart-master
	wait_for 10 all_up 0 1 2
	f0=$(fired master-die-restored)
	"$build/tests/move-wait" 0 </dev/null >"$M/stay" 2>&1 &
	p=$!
	wait_for 20 fired_more master-die-restored "$f0"
	check_eq "bproc_move, master-die-restored, round $i: the master died with the copy restored" \
		"$((f0 + 1))" "$(fired master-die-restored)"
	bpcluster restart-master
	wait_for 10 all_up 0 1 2
	wait_for 10 grep -q '^moved ' "$M/stay"
	check_match "bproc_move, master-die-restored, round $i: its wake pipe says the move failed with the master" \
		"^moved r=-1 node=-1 err=.*the master died during the move" "$(grep '^moved ' "$M/stay")"
	check "bproc_move, master-die-restored, round $i: node 0's held copy is dropped" \
		wait_for 10 grep -q "process $p: the copy node 0 holds from the master's move is dropped" "$mlog"
	check "bproc_move, master-die-restored, round $i: no copy of it is left on a node" \
		wait_for 10 no_copy_on_nodes "$p"
	n=$(ticks "$M/stay")
	check "bproc_move, master-die-restored, round $i: its output goes on" \
		wait_for 5 more_ticks "$M/stay" "$((n + 3))"
	n=$(grep -c '^alive ' "$M/stay")
	kill -USR1 "$p"
	wait_for 5 more_alive "$M/stay" "$n"
	check_eq "bproc_move, master-die-restored, round $i: it runs on here, whole, once" \
		"alive ok $here 1" "$(grep '^alive ' "$M/stay" | tail -1) $(holders "$p")"
	kill -TERM "$p"
	{ wait "$p"; } 2>/dev/null
	check_eq "bproc_move, master-die-restored, round $i: SIGTERM ends it; its parent's wait() says 143" \
		"143" "$?"
done

# --- a launch: the master dies as it makes the ghost of a copy --------------------
# bpsh on one node (bproc_execmove: the child moves itself, then execs on the
# node): the copy held on node 1 runs, the program starts there, its output
# and its end reach bpsh through the new master; a signal through its ghost
# reaches it.
launched='trap "echo usr1" USR1; i=0; while [ $i -lt 40 ]; do echo tick $i; i=$((i+1)); sleep 0.1; done; exit 7'
for ((i = 1; i <= ${WAIT_ROUNDS:-2}; i++)); do
	BPROC_FAULT=master-die-exec bpcluster restart-master
	wait_for 10 all_up 0 1 2
	f0=$(fired master-die-exec)
	bpsh 1 sh -c "$launched" </dev/null >"$M/launch" 2>&1 &
	b=$!
	wait_for 20 fired_more master-die-exec "$f0"
	check_eq "bpsh 1, master-die-exec, round $i: the master died as it made the ghost" \
		"$((f0 + 1))" "$(fired master-die-exec)"
	bpcluster restart-master
	wait_for 10 all_up 0 1 2
	wait_for 10 has_on_node 1
	g=$(on_node 1)
	wait_for 10 grep -q '^tick 5$' "$M/launch"
	[ -n "$g" ] && kill -USR1 "$g"
	{ wait "$b"; } 2>/dev/null
	st=$?
	check_eq "bpsh 1, master-die-exec, round $i: bpsh's status is the program's (exit 7)" "7" "$st"
	check_eq "bpsh 1, master-die-exec, round $i: the program ran once, all its output came (40 ticks, each once)" \
		"40 40" "$(ticks "$M/launch") $(grep '^tick ' "$M/launch" | sort -u | wc -l)"
	check_eq "bpsh 1, master-die-exec, round $i: SIGUSR1 through its ghost ($g) reached it" "1" \
		"$(grep -c '^usr1$' "$M/launch")"
	check_match "bpsh 1, master-die-exec, round $i: the new master let node 1's held copy run" \
		"a master before us died making its ghost, before the commit; the copy node 1 holds runs" \
		"$(cat "$mlog")"
	check "bpsh 1, master-die-exec, round $i: nothing of it is left" \
		wait_for 10 none_runs 'echo usr1'
done

# --- a launch on three nodes: the master dies as it makes the first ghost ---------
# The copy whose ghost was half made runs (on its node, once, with all its
# output); the others' originals, whole and frozen on the master, are thawed
# and told the move failed (bpsh says why for each node); their held copies
# are dropped when their nodes register with the new master.  Node 0's is
# the launch's template, the program held at its exec (exec first): if its
# copy is not the one that runs, the new master kills it, never having run
# (bpsh said it waits for the next master; its status is SIGKILL's).
for ((i = 1; i <= ${WAIT_ROUNDS:-2}; i++)); do
	BPROC_FAULT=master-die-exec bpcluster restart-master
	wait_for 10 all_up 0 1 2
	f0=$(fired master-die-exec)
	out=$( (wait_for 20 fired_more master-die-exec "$f0"
		bpcluster restart-master >/dev/null) &
		timeout 60 bpsh 0-2 sh -c 'sleep 1; echo launched-$(hostname)' 2>&1)
	st=$?
	wait
	check_eq "bpsh 0-2, master-die-exec, round $i: the master died as it made a ghost" \
		"$((f0 + 1))" "$(fired master-die-exec)"
	if grep -q '^launched-n0$' <<<"$out"; then want=127; else want=137; fi
	check_eq "bpsh 0-2, master-die-exec, round $i: bpsh ends, 127 (the nodes that failed), 137 if node 0's template was killed" \
		"$want" "$st"
	check_eq "bpsh 0-2, master-die-exec, round $i: exactly one copy ran" "1" \
		"$(grep -c '^launched-n[0-2]$' <<<"$out")"
	for n in 0 1 2; do
		# Ran, or failed, once; or said it waits for the next master (node
		# 0's template), and then ran if its copy was the one let run.
		check_eq "bpsh 0-2, master-die-exec, round $i: node $n ran it or says why, once" "1" \
			"$(node_verdict "$n" "$out")"
	done
	echo "$out" | sort | uniq -c | sed 's/^/#   /'
	t0=$SECONDS
	if wait_for 20 none_runs 'sleep 1; echo launched'; then
		ok "bpsh 0-2, master-die-exec, round $i: the held copies are dropped, nothing of it runs (within $((SECONDS - t0)) s)"
	else
		not_ok "bpsh 0-2, master-die-exec, round $i: the held copies are dropped, nothing of it runs"
		for p in $(pgrep -f 'sleep 1; echo launched'); do
			echo "#   $p: $(grep -E '^(State|NSpid|SigPnd|ShdPnd)' "/proc/$p/status" | tr '\n\t' '  ')"
		done
	fi
	check_eq "bpsh 0-2, master-die-exec, round $i: bpstat -p lists nothing" "" "$(bpstat -p | awk 'NR > 1')"
done
check_eq "then a launch on the three works" "3" "$(bpsh 0-2 echo launched | grep -c launched)"
cluster_down
finish
