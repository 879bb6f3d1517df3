#!/usr/bin/env bash
# Processes moved while stopped (SIGSTOP, SIGTSTP): they stay stopped where
# they go, their ghosts exist (same pid, parent, group, session) and show
# the stop, their parent on the master sees no stop, continue or end that
# did not happen, and a SIGCONT to the ghost continues the real process.
# A single process master -> node 0 -> node 1 -> master (home node), and a
# tree with a stopped child the same way; a single one moved --lazy; a
# stopped process of four threads.  stopped-moves.py is the parent
# and says what it sees.
. "$(dirname "$0")/lib.sh"

cluster_up 2
out_dir=$(mktemp -d "$(dirname "$(command -v bpmaster)")/../bpstopped-test.XXXXXX")
trap 'rm -rf "$out_dir"; cluster_down' EXIT

timeout 120 python3 "$(dirname "$0")/stopped-moves.py" "$out_dir" </dev/null >"$out_dir/seen" 2>"$out_dir/seen.err"
seen() { sed -n "s/^$1: //p" "$out_dir/seen"; }
stopped_shown="ghost True stopped real stopped"
running_shown() { case "$1" in "ghost True "[RSD]" real "[RSD]) ;; *) return 1 ;; esac; }

check_eq "A: stopped by SIGSTOP, its parent sees it" "stopped SIGSTOP" "$(seen "a stop")"
for node in 0 1 master; do
	want=$node
	[ "$node" = master ] && want=-1
	check_eq "A: bpmove of the stopped process to $node works" "0 " "$(seen "a move $node")"
	check_eq "A: bpstat -p lists it on $want" "$want" "$(seen "a on $node")"
	check_eq "A: on $node its ghost exists and is stopped, and so is the real process" \
		"$stopped_shown" "$(seen "a $node")"
	check_eq "A: on $node the ghost keeps its parent, group and session" "True" "$(seen "a ids $node")"
	check_eq "A: its parent saw nothing of the move to $node" "none" "$(seen "a events $node")"
	echo "# A: move to $node took $(seen "a move $node ms") ms"
done
check_eq "A: SIGCONT to its ghost: the parent sees it continued" "continued" "$(seen "a cont")"
check_eq "A: and the real process and its ghost run" "True" "$(seen "a runs")"
check_eq "A: SIGSTOP again: stopped by SIGSTOP" "stopped SIGSTOP" "$(seen "a stop again")"
check_eq "A: both stopped again" "True" "$(seen "a stopped again")"
check_eq "A: SIGCONT again: continued" "continued" "$(seen "a cont again")"
check_eq "A: SIGTERM through its ghost: the parent's wait says killed by SIGTERM" "killed SIGTERM" "$(seen "a end")"

check_eq "B: stopped by SIGTSTP (not collected), moves to node 0" "0 " "$(seen "b move 0")"
check_eq "B: its ghost and real process are stopped" "$stopped_shown" "$(seen "b 0")"
check_eq "B: the parent collects the stop after the move: SIGTSTP" "stopped SIGTSTP" "$(seen "b stop")"
check_eq "B: once" "none" "$(seen "b events")"
check_eq "B: moves on to node 1" "0 " "$(seen "b move 1")"
check_eq "B: still stopped there, with its ghost" "$stopped_shown" "$(seen "b 1")"
check_eq "B: the parent saw nothing of that move" "none" "$(seen "b events 1")"
check_eq "B: SIGCONT to its ghost: continued" "continued" "$(seen "b cont")"
check_eq "B: and it runs" "True" "$(seen "b runs")"
check_eq "B: SIGKILL: killed by SIGKILL" "killed SIGKILL" "$(seen "b end")"

for node in 0 1 master; do
	want=$node
	[ "$node" = master ] && want=-1
	check_eq "C: bpmove of a tree with a stopped child to $node works" "0 " "$(seen "tree move $node")"
	check_eq "C: bpstat -p lists its three on $want" "$want $want $want" "$(seen "tree on $node")"
	check_eq "C: on $node the stopped child has its ghost, both stopped" "$stopped_shown" "$(seen "c1 $node")"
	check "C: on $node the other child runs, with its ghost" running_shown "$(seen "c2 $node")"
	check "C: on $node the root runs, with its ghost" running_shown "$(seen "root $node")"
	check_eq "C: on $node every ghost keeps its parent, group and session" "True" "$(seen "ids $node")"
	check_eq "C: the root's parent saw nothing of the move to $node" "none" "$(seen "root events $node")"
	echo "# C: move to $node took $(seen "tree move $node ms") ms"
done
check_eq "C: SIGCONT to the stopped child's ghost: it and its ghost run" "True" "$(seen "c1 runs")"
check_eq "C: SIGSTOP to it: both stop ($(seen "c1 stops shown"))" "True" "$(seen "c1 stops")"
check_eq "C: SIGCONT: both run" "True" "$(seen "c1 runs again")"
check_eq "C: the children's ends reach the root's wait on the node" "c1 143 c2 137" "$(seen statuses)"
check_eq "C: the root's parent gets its exit code" "exit 5" "$(seen "root end")"
check_eq "D: stopped by SIGSTOP" "stopped SIGSTOP" "$(seen "d stop")"
for node in 0 1; do
	check_eq "D: bpmove --lazy of the stopped process to $node works" "0 " "$(seen "d move $node")"
	check_eq "D: on $node its ghost exists, once its pages are across, and is stopped, and so is the real process" \
		"$stopped_shown" "$(seen "d $node")"
	check_eq "D: its parent saw nothing of the move to $node" "none" "$(seen "d events $node")"
done
check_eq "D: SIGCONT to its ghost: continued" "continued" "$(seen "d cont")"
check_eq "D: and it runs" "True" "$(seen "d runs")"
check_eq "D: SIGKILL: killed by SIGKILL" "killed SIGKILL" "$(seen "d end")"
check_eq "E: a python3 of four threads stopped by SIGSTOP" "stopped SIGSTOP" "$(seen "e stop")"
check_eq "E: moves to node 0" "0 " "$(seen "e move 0")"
check_eq "E: its ghost and real process are stopped" "$stopped_shown" "$(seen "e 0")"
check_eq "E: every thread of the copy is stopped" "stopped stopped stopped stopped" "$(seen "e threads")"
check_eq "E: the parent saw nothing of the move" "none" "$(seen "e events")"
check_eq "E: SIGCONT to its ghost: continued" "continued" "$(seen "e cont")"
check_eq "E: and every thread runs" "True" "$(seen "e runs")"
check_eq "E: SIGKILL: killed by SIGKILL" "killed SIGKILL" "$(seen "e end")"
sed 's/^/# /' "$out_dir/seen.err"
finish
