#!/usr/bin/env bash
# Moves interrupted on purpose, each fault at its step, several times
# (common/fault.h: the daemons fail where BPROC_FAULT says): the move fails
# with its reason, and the process runs on where it was, unchanged (its
# memory's SHA-256), out of the freezer, no ghost; the node keeps nothing of
# it; and it still moves once the faults are gone.  For a small process
# (its pages go with its images) and a 24 MiB one (the page stream).  The
# target's faults here (from the master, node to node, memory, a tree, a
# launch); the source's in test-faults-source.sh, the master's death in
# test-faults-master.sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults-lib.sh"

python3 -u -c "$prog" $((256 << 10)) </dev/null >"$M/small" 2>&1 &
small=$!
python3 -u -c "$prog" $((24 << 20)) </dev/null >"$M/big" 2>&1 &
big=$!
disown "$small" "$big"  # their ends (killed at the end) are not news

try_moves() {
	local fault=$1 size p out
	for size in small big; do
		# A small process fits in the restore's 16 MiB.
		case "$fault" in slave-prepare | slave-memory-full) [ "$size" = small ] && continue ;; esac
		p=${!size}
		out="$M/$size"
		for ((i = 1; i <= rounds; i++)); do
			wait_for 10 node_is 0 up || { not_ok "$fault: node 0 back up"; return; }
			msg=$(bpmove "$p" 0 2>&1)
			st=$?
			if [ "$st" -ne 0 ] && [ -n "$msg" ]; then
				ok "$fault, $size process, round $i: the move fails (${msg:0:90})"
			else
				not_ok "$fault, $size process, round $i: the move fails (exit $st: $msg)"
			fi
			if [ "$fault" = slave-memory-full ]; then
				check_match "$fault, round $i: it says the OOM killer ended the restore (${msg#bpmove: })" \
					"node 0: not enough memory: the kernel's OOM killer ended the restore" "$msg"
				check "$fault, round $i: the restore's memory cgroup is gone" wait_for 5 no_cage_left
			fi
			if runs_here "$p" "$out"; then
				ok "$fault, $size, round $i: it runs on here, unchanged"
			else
				not_ok "$fault, $size, round $i: it runs on here, unchanged"
				tail -2 "$out" | sed 's/^/#   /'
			fi
			if [ "$fault" = slave-die ]; then
				wait_for 10 node_is 0 down
				bpcluster start-slave 0 >/dev/null
			fi
			if wait_for 10 node_is 0 up && wait_for 5 node_clean "$p"; then
				ok "$fault, $size, round $i: node 0 keeps nothing of it"
			else
				not_ok "$fault, $size, round $i: node 0 keeps nothing of it"
			fi
		done
	done
}

for fault in master-dump master-ghost slave-prepare slave-disk-full slave-memory-full slave-restore slave-die slave-cut; do
	# The daemons started now (and a slave restarted) fail there.
	export BPROC_FAULT=$fault
	cluster_up 1 >/dev/null
	try_moves "$fault"
	unset BPROC_FAULT
	cluster_down
done

# Without faults, both still move, and come back in one piece.
cluster_up 1 >/dev/null
check "with no fault the small one moves" bpmove "$small" 0
check "and the big one" bpmove "$big" 0
for p in small big; do
	n=$(wc -l <"$M/$p")
	kill -USR1 "${!p}"
	wait_for 5 more_lines "$M/$p" "$n"
	check_eq "the $p one is whole on node 0" "alive True n0" "$(tail -1 "$M/$p")"
done
cluster_down

# --- node to node: the target fails -------------------------------------------
# Node 1's slave alone is started with the fault; the process runs on node 0.
cluster_up 2 >/dev/null
python3 -u -c "$prog" $((256 << 10)) </dev/null >"$M/mid" 2>&1 &
mid=$!
disown "$mid"
sleep 0.5
check "a process moves to node 0" bpmove "$mid" 0
for fault in slave-disk-full slave-restore slave-die slave-cut; do
	slave1_with "$fault"
	for ((i = 1; i <= rounds; i++)); do
		wait_for 10 node_is 1 up || slave1_with "$fault"
		msg=$(bpmove "$mid" 1 2>&1)
		st=$?
		if [ "$st" -ne 0 ] && [ -n "$msg" ]; then
			ok "node 0 -> 1, $fault, round $i: the move fails (${msg:0:80})"
		else
			not_ok "node 0 -> 1, $fault, round $i: the move fails (exit $st: $msg)"
		fi
		n=$(wc -l <"$M/mid")
		kill -USR1 "$mid"
		if wait_for 5 more_lines "$M/mid" "$n" && [ "$(tail -1 "$M/mid")" = "alive True n0" ] &&
			[ "$(holders "$mid")" = 2 ] && bpstat -p | grep -q "^$mid	0$"; then
			ok "node 0 -> 1, $fault, round $i: it runs on on node 0, whole, once"
		else
			not_ok "node 0 -> 1, $fault, round $i: it runs on on node 0, whole, once"
			tail -1 "$M/mid" | sed 's/^/#   /'
		fi
	done
done
slave1_with ""
check "without the fault it moves on to node 1" bpmove "$mid" 1
check_match "bpstat -p: on node 1" "^$mid	1$" "$(bpstat -p)"

# --- memory: the target has no room, or its restore runs out --------------------
# A process of 24 MiB (and python3's own) on node 0, and one on the master.
python3 -u -c "$prog" $((24 << 20)) </dev/null >"$M/mem0" 2>&1 &
mem0=$!
python3 -u -c "$prog" $((24 << 20)) </dev/null >"$M/memm" 2>&1 &
memm=$!
disown "$mem0" "$memm"
sleep 0.5
check "a 24 MiB process moves to node 0" bpmove "$mem0" 0
# The check before anything is frozen: node 1's slave is put in a memory
# cgroup of its own limited to 16 MiB, so the node has room for less than
# either process.  Both moves are refused, naming what each needs; both
# run on where they were; with the slave back where it was, both move.
slave1=$(cat /run/bproc/cluster/n1/slave.pid)
slave1_memcg=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3; exit }' /proc/"$slave1"/cgroup)
[ -n "$slave1_memcg" ] || slave1_memcg=$(awk -F: '$1 == 0 { print $3 }' /proc/"$slave1"/cgroup)
tight="$memcg/bproc-test-tight-$$"
mkdir "$tight" && echo $((16 << 20)) >"$tight/$mem_limit" && echo "$slave1" >"$tight/cgroup.procs"
msg=$(bpmove "$mem0" 1 2>&1)
st=$?
check_match "node 0 -> 1 with 16 MiB of room: refused for memory (exit $st: ${msg#bpmove: })" \
	"node 1: not enough memory: process $mem0 needs (2[4-9]|[3-9][0-9]) MiB, the node has (1[0-6]|[0-9]) MiB available \(under its memory cgroup's limit\)" "$msg"
# Refused before the freeze: node 0's slave never dumped it.
check "node 0 never dumped it" bash -c "! grep -q 'process $mem0 (.*dumped' /run/bproc/cluster/n0/slave.log"
check "it runs on on node 0, whole, once" whole_on mem0 0
msg=$(bpmove "$memm" 1 2>&1)
st=$?
check_match "master -> node 1 with 16 MiB of room: refused for memory (exit $st: ${msg#bpmove: })" \
	"node 1: not enough memory: process $memm needs (2[4-9]|[3-9][0-9]) MiB, the node has (1[0-6]|[0-9]) MiB available" "$msg"
check "it runs on here, unchanged" runs_here "$memm" "$M/memm"
check "node 1 is up, and keeps nothing" bash -c "[ \"\$(bpstat -s 1)\" = up ] && [ -z \"\$(bpcluster exec 1 ls /run/bproc/images 2>/dev/null)\" ]"
echo "$slave1" >"$memcg$slave1_memcg/cgroup.procs"
rmdir "$tight"
check "with room again, the one on the master moves to node 1" bpmove "$memm" 1
check "whole, once" whole_on memm 1
kill -KILL "$memm"

# The restore runs out: node 1's slave restores under a memory limit too
# small (slave-memory-full), the OOM killer ends the restore; the process
# runs on on node 0, once, whole; node 1 keeps no copy, no image, no
# cgroup, and stays up.  Then, without the fault, it moves.
slave1_with slave-memory-full
for ((i = 1; i <= rounds; i++)); do
	wait_for 10 node_is 1 up || slave1_with slave-memory-full
	msg=$(bpmove "$mem0" 1 2>&1)
	st=$?
	check_match "node 0 -> 1, slave-memory-full, round $i: the move fails for memory (exit $st: ${msg#bpmove: })" \
		"node 1: not enough memory: the kernel's OOM killer ended the restore" "$msg"
	check "node 0 -> 1, slave-memory-full, round $i: it runs on on node 0, whole, once" whole_on mem0 0
	check "node 0 -> 1, slave-memory-full, round $i: node 1 up, no image, no cgroup left" \
		bash -c "[ \"\$(bpstat -s 1)\" = up ] && [ -z \"\$(bpcluster exec 1 ls /run/bproc/images 2>/dev/null)\" ] && ! ls '$memcg/bproc' 2>/dev/null | grep -q -- -restore-"
done
# A small one fits under the limit: it moves, and its copy leaves the
# restore's cgroup for the slave's, which goes.
python3 -u -c "$prog" $((256 << 10)) </dev/null >"$M/mems" 2>&1 &
mems=$!
disown "$mems"
sleep 0.5
check "slave-memory-full: a small process from the master fits, and moves to node 1" bpmove "$mems" 1
check "whole, once" whole_on mems 1
copy=$(real_of "$mems")
check "its copy is out of the restore's memory cgroup, which is gone" \
	bash -c "[ -n '$copy' ] && ! grep -q -- -restore- '/proc/$copy/cgroup' && ! ls '$memcg/bproc' 2>/dev/null | grep -q -- -restore-"
kill -KILL "$mems"
slave1_with ""
check "without the fault the 24 MiB one moves on to node 1" bpmove "$mem0" 1
check "whole, once" whole_on mem0 1
kill -KILL "$mem0"

# --- node to node, a tree: the target fails after the tree was frozen ----------
# root -> A -> G, each appending its host's name to its own file: the whole
# tree is frozen and dumped on node 0, node 1's restore fails, and every one
# of them runs on on node 0, thawed.
python3 -c '
import os, sys, time
def run(name):
    while True:
        with open("%s/tree-%s" % (sys.argv[1], name), "a") as f:
            f.write(open("/proc/sys/kernel/hostname").read().strip() + "\n")
        time.sleep(0.05)
if os.fork() == 0:
    if os.fork() == 0:
        run("G")
    run("A")
run("root")
' "$M" </dev/null >/dev/null 2>&1 &
root=$!
disown "$root"
wait_for 5 test -s "$M/tree-G"
A=$(cat /proc/"$root"/task/*/children | tr -d ' ')
G=$(cat /proc/"$A"/task/*/children | tr -d ' ')
check "a tree of three moves to node 0" bpmove "$root" 0
# Its last line says where it runs, and it keeps writing.
writes_on() { local n; n=$(wc -l <"$M/tree-$1"); wait_for 5 more_lines "$M/tree-$1" "$n" && [ "$(tail -1 "$M/tree-$1")" = "$2" ]; }
not_frozen() { local r; r=$(real_of "$1") && [ -n "$r" ] && ! grep -q "move-" "/proc/$r/cgroup"; }
slave1_with slave-restore
msg=$(bpmove "$root" 1 2>&1)
check_match "node 0 -> 1 of the tree, node 1's restore failing: the move fails" "node 1: .*fault injected" "$msg"
for who in root A G; do
	check "$who runs on on node 0" writes_on "$who" n0
done
for p in "$root" "$A" "$G"; do
	check_eq "$p: its ghost and one real process, on node 0" "2 0" "$(holders "$p") $(bpstat -p | awk -v p="$p" '$1 == p { print $2 }')"
	check "$p: thawed, out of the move's cgroup" not_frozen "$p"
done
slave1_with ""
check "without the fault the tree moves on to node 1" bpmove "$root" 1
for who in root A G; do
	check "$who runs on node 1" writes_on "$who" n1
done
kill -KILL "$root" "$A" "$G"

# --- a launch on many nodes: one node fails, or the one dump -------------------
slave1_with slave-restore
out=$(bpsh 0-1 echo launched 2>&1)
st=$?
check_match "bpsh 0-1 with node 1 failing: node 0 runs it" "launched" "$out"
check_match "node 1 says why" "node 1: .*fault injected" "$out"
check_eq "bpsh's status says it failed" "127" "$st"
slave1_with ""
BPROC_FAULT=master-dump bpcluster restart-master
wait_for 10 bash -c '[ "$(bpstat -s 0)" = up ] && [ "$(bpstat -s 1)" = up ]'
out=$(bpsh 0-1 echo launched 2>&1)
st=$?
check_match "with every dump failing, each node says why" \
	"node 0: .*dump failed.*node 1: .*dump failed|node 1: .*dump failed.*node 0: .*dump failed" \
	"$(tr '\n' ' ' <<<"$out")"
# Node 0's is the launch's template, the program held at its exec: killed
# (128 + 9), as bproc_execmove's; node 1's process says why and exits 127.
check_eq "and bpsh fails (137: node 0's program was killed before it ran)" "137" "$st"
check_eq "nothing of it is left running anywhere" "0" "$(bpstat -p | awk 'NR > 1' | grep -vc "^$mid	")"
bpcluster restart-master
wait_for 10 bash -c '[ "$(bpstat -s 0)" = up ] && [ "$(bpstat -s 1)" = up ]'
check_eq "then it launches again" "launched launched" "$(bpsh 0-1 echo launched | tr '\n' ' ' | sed 's/ $//')"
cluster_down

finish
