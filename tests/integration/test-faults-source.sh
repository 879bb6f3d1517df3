#!/usr/bin/env bash
# Moves from node to node whose source fails on purpose (common/fault.h):
# its dump fails, its link to the target is cut, or its slave is killed
# mid-dump, once the process is frozen and once the image is sent.  A
# failed move leaves the process running on the source, whole, once,
# thawed; a source killed takes its processes with it (their parents see
# SIGKILL) and no copy runs on the target.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults-lib.sh"

# --- node to node: the source fails ---------------------------------------------
# Node 0's slave alone is started with the fault, the first 2 x rounds
# times only (fault.h's name:N): a small and a big process moved there fail
# rounds times each to move on to node 1, run on on node 0 whole, once,
# thawed, with nothing on node 1; then each moves on.
cluster_up 2 >/dev/null
for fault in source-dump source-cut; do
	slave0_with "$fault:$((2 * rounds))"
	for size in small big; do
		python3 -u -c "$prog" "$(size_of "$size")" </dev/null >"$M/src-$size" 2>&1 &
		p=$!
		disown "$p"
		sleep 0.3
		check "$fault: the $size process moves to node 0" bpmove "$p" 0
		for ((i = 1; i <= rounds; i++)); do
			msg=$(bpmove "$p" 1 2>&1)
			st=$?
			if [ "$st" -ne 0 ] && [ -n "$msg" ]; then
				ok "node 0 -> 1, $fault, $size, round $i: the move fails (${msg:0:80})"
			else
				not_ok "node 0 -> 1, $fault, $size, round $i: the move fails (exit $st: $msg)"
			fi
			n=$(wc -l <"$M/src-$size")
			kill -USR1 "$p"
			if wait_for 5 more_lines "$M/src-$size" "$n" && [ "$(tail -1 "$M/src-$size")" = "alive True n0" ] &&
				[ "$(holders "$p")" = 2 ] && bpstat -p | grep -q "^$p	0$" && wait_for 5 src_clean "$p"; then
				ok "node 0 -> 1, $fault, $size, round $i: it runs on on node 0, whole, once, thawed; no image left"
			else
				not_ok "node 0 -> 1, $fault, $size, round $i: it runs on on node 0, whole, once, thawed; no image left"
				tail -1 "$M/src-$size" | sed 's/^/#   /'
			fi
		done
		eval "src_$size=$p"
	done
	for size in small big; do
		p=$(eval echo "\$src_$size")
		check "$fault: with the faults spent, the $size one moves on to node 1" bpmove "$p" 1
		n=$(wc -l <"$M/src-$size")
		kill -USR1 "$p"
		wait_for 5 more_lines "$M/src-$size" "$n"
		check_eq "$fault: the $size one is whole on node 1, once" "alive True n1 2" "$(tail -1 "$M/src-$size") $(holders "$p")"
		kill -KILL "$p"
	done
done

# The source's slave dies (SIGKILL) once CRIU began the dump: the process
# dies with its node (its parent sees SIGKILL) and no copy runs on node 1.
slave0_with source-die
for size in small big; do
	wait_for 10 node_is 0 up || slave0_with source-die
	python3 -u -c "$prog" "$(size_of "$size")" </dev/null >"$M/die-$size" 2>&1 &
	p=$!
	sleep 0.3
	check "source-die: the $size process moves to node 0" bpmove "$p" 0
	{
		msg=$(bpmove "$p" 1 2>&1)
		st=$?
		wait "$p"
		ws=$?
	} 2>/dev/null
	check_match "source-die, $size: the move fails (exit $st)" "." "${msg}"
	[ "$st" -ne 0 ] || not_ok "source-die, $size: bpmove said it moved"
	check_eq "source-die, $size: its parent sees SIGKILL" "137" "$ws"
	check_eq "source-die, $size: no copy of it runs anywhere" "0" "$(holders "$p")"
	check "source-die, $size: node 1 keeps no image" test -z "$(bpcluster exec 1 ls /run/bproc/images 2>/dev/null)"
	check "source-die, $size: node 0 is down" wait_for 10 node_is 0 down
	BPROC_FAULT=source-die bpcluster start-slave 0 >/dev/null
done
check "node 1 is up throughout" node_is 1 up
# The killed slaves left their freezer cgroups (empty: their processes died
# with the node); the slave of node 0 that registers after them removes them.
wait_for 10 node_is 0 up
check "no freezer cgroup of node 0 is left" \
	bash -c "! ls $cg | grep -q '^node0-move-'"
cluster_down

# The source's slave dies (SIGKILL) once the tree is frozen, before CRIU
# starts (source-die-frozen), or once the target has the whole image and
# before any commit (source-die-sent), twice each: the process dies with
# its node (its parent's wait(): 137), no copy runs on node 1, no image or
# cgroup is left; node 1 stays up, and a move from the restarted node 0
# works.
source_death_faults() {
	local fault p st ws i
	cluster_up 2 >/dev/null
	for fault in source-die-frozen source-die-sent; do
		for ((i = 1; i <= rounds; i++)); do
			slave0_with "$fault"
			python3 -u -c "$prog" $((256 << 10)) </dev/null >"$M/faults-$fault" 2>&1 &
			p=$!
			sleep 0.3
			check "$fault, round $i: the process moves to node 0" bpmove "$p" 0
			{
				bpmove "$p" 1 >/dev/null 2>&1
				st=$?
				wait "$p"
				ws=$?
			} 2>/dev/null
			[ "$st" -ne 0 ] || not_ok "$fault, round $i: bpmove said it moved"
			check_eq "$fault, round $i: its parent sees SIGKILL" "137" "$ws"
			check "$fault, round $i: no copy of it runs anywhere" wait_for 5 bash -c "[ \"\$(grep -l '^NSpid:.*[[:space:]]$p\$' /proc/[0-9]*/status 2>/dev/null | wc -l)\" = 0 ]"
			check "$fault, round $i: node 0 is down, node 1 up" bash -c "$(declare -f node_is node_state wait_for); wait_for 10 node_is 0 down && node_is 1 up"
			check "$fault, round $i: node 1 keeps no image" test -z "$(bpcluster exec 1 ls /run/bproc/images 2>/dev/null)"
			check_eq "$fault, round $i: bpstat -p knows nothing of it" "" "$(bpstat -p | awk -v p="$p" '$1 == p')"
		done
	done
	slave0_with ""
	check "after the source faults no freezer cgroup of node 0 is left" \
		bash -c "! ls $cg | grep -q '^node0-move-'"
	python3 -u -c "$prog" $((256 << 10)) </dev/null >"$M/faults-after" 2>&1 &
	p=$!
	sleep 0.3
	check "then a process moves to node 0" bpmove "$p" 0
	check "and on to node 1" bpmove "$p" 1
	n=$(wc -l <"$M/faults-after")
	kill -USR1 "$p"
	wait_for 5 more_lines "$M/faults-after" "$n"
	check_eq "whole on node 1, once" "alive True n1 2" "$(tail -1 "$M/faults-after") $(holders "$p")"
	kill -KILL "$p"
	{ wait "$p"; } 2>/dev/null
	cluster_down
}

source_death_faults
finish
