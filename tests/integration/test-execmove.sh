#!/usr/bin/env bash
# bproc_execmove: the program is exec'd on the master and moved before it
# runs an instruction of its own.  It runs only on the node, with the
# caller's pid; its ghost on the master has its name; the parent's wait()
# sees only its end.  What is refused before the exec (a node not up, not
# allowed, no such program) leaves the caller as it was; a program the
# node lacks is killed before it runs.
. "$(dirname "$0")/lib.sh"

cluster_up 3
build=$(dirname "$(command -v bpmaster)")/..
em=$build/tests/execmove
M=$(mktemp -d "$build/execmove-test.XXXXXX")
chmod 755 "$M"
trap 'rm -rf "$M" /tmp/execmove-ran /tmp/execmove-ran-3 /tmp/execmove-sh /tmp/execmove-bad; cluster_down' EXIT
node_of() { bpstat -p | awk -v p="$1" '$1 == p { print $2 }'; }
rm -f /tmp/execmove-ran

# --- the program runs on the node only, as the caller's pid ------------------
"$em" 0 /bin/sh -c 'echo "on $(cat /proc/sys/kernel/hostname) pid $$"; echo ran >/tmp/execmove-ran
sleep 1; exit 5' >"$M/out" 2>"$M/err" &
p=$!
wait_for 10 grep -q "^on " "$M/out"
check_eq "the caller says its pid" "caller pid=$p" "$(head -1 "$M/out")"
check_eq "the program says it runs on node 0 as that pid" "on n0 pid $p" "$(grep '^on ' "$M/out")"
check_eq "its ghost on the master has the program's name" "sh" "$(cat /proc/$p/comm 2>&1)"
check_match "and its command line" "^/bin/sh -c echo" "$(tr '\0' ' ' </proc/$p/cmdline 2>&1)"
check_eq "bpstat -p lists it on node 0" "0" "$(node_of $p)"
wait $p
check_eq "the parent's wait() gets its exit code" "5" "$?"
check_eq "it never ran here (no file in the master's /tmp)" "absent" \
	"$([ -e /tmp/execmove-ran ] && echo present || echo absent)"
check_eq "it ran on node 0 (the file is in the node's /tmp)" "ran" \
	"$(bpcluster exec 0 cat /tmp/execmove-ran 2>&1)"
check_eq "the caller did not return, nothing said on stderr" "" \
	"$(grep '^returned' "$M/out"; cat "$M/err")"
check_eq "bpstat -p forgets it" "" "$(node_of $p)"

# --- the parent sees no stop and no continue, only the end --------------------
check_eq "waitpid(WUNTRACED | WCONTINUED) of the caller: only its exit" "exited 7" "$(python3 - "$em" <<'PY'
import os, sys
pid = os.fork()
if pid == 0:
    fd = os.open("/dev/null", os.O_WRONLY)
    os.dup2(fd, 1)
    os.execv(sys.argv[1], [sys.argv[1], "1", "/bin/sh", "-c", "exit 7"])
seen = []
while True:
    _, st = os.waitpid(pid, os.WUNTRACED | os.WCONTINUED)
    if os.WIFSTOPPED(st):
        seen.append("stopped %d" % os.WSTOPSIG(st))
    elif os.WIFCONTINUED(st):
        seen.append("continued")
    elif os.WIFEXITED(st):
        seen.append("exited %d" % os.WEXITSTATUS(st))
        break
    else:
        seen.append("killed %d" % os.WTERMSIG(st))
        break
print(" ".join(seen))
PY
)"

# --- refused before the exec: the caller goes on, unchanged -------------------
bpctl -S 2 -s unavailable
out=$("$em" 2 /bin/true 2>&1)
check_eq "a node not up: the call returns, exit 42" "42" "$?"
check_match "it says why, and the caller is on the master, untraced" \
	"^returned r=-1 err=node 2 is unavailable node=-1 pid=[0-9]+ tracer=0$" "$out"
bpctl -S 2 -s up
out=$("$em" 7 /bin/true 2>&1)
check_match "no such node: the call returns" "^returned r=-1 err=node 7: no such node|^returned r=-1 err=.*([Nn]o such|[Ii]nvalid) node" "$out"
out=$("$em" 0 /no/such/program 2>&1)
check_match "no such program here: the call returns" \
	"^returned r=-1 err=No such file or directory node=-1 pid=[0-9]+ tracer=0$" "$out"
bpctl -S 1 -m 0100
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$em" 1 /bin/true 2>&1)
check_match "a node the user may not use: the call returns" \
	"^returned r=-1 err=Permission denied node=-1 pid=[0-9]+ tracer=0$" "$out"
bpctl -S 1 -m 0111
# The execve itself fails here, once the helper traces the caller: the
# helper lets go, the caller goes on.
printf 'not a program\n' >/tmp/execmove-bad
chmod 755 /tmp/execmove-bad
out=$("$em" 0 /tmp/execmove-bad 2>&1)
check_match "an execve that fails on the master: the call returns, untraced" \
	"^returned r=-1 err=Exec format error node=-1 pid=[0-9]+ tracer=0$" "$out"

# --- refused once exec'd: the program is killed before it runs ---------------
rm -f /tmp/execmove-ran
cp /bin/sh /tmp/execmove-sh
"$em" 1 /tmp/execmove-sh -c 'echo ran >/tmp/execmove-ran' >"$M/out" 2>"$M/err"
check_eq "a program node 1 lacks: killed (the parent sees SIGKILL)" "137" "$?"
p=$(sed -n 's/^caller pid=//p' "$M/out")
check_match "the launcher says why" \
	"^execmove: node 1: process $p cannot move: its program, /tmp/execmove-sh, is not on node 1 \(the program was stopped before it ran, and killed\)$" \
	"$(cat "$M/err")"
check_eq "it never ran (no file on the master or on node 1)" "absent absent" \
	"$([ -e /tmp/execmove-ran ] && echo present || echo absent) $(bpcluster exec 1 sh -c '[ -e /tmp/execmove-ran ] && echo present || echo absent')"
check_eq "no process, ghost or entry left" "gone" \
	"$([ -e /proc/$p ] || [ -n "$(node_of $p)" ] && echo left || echo gone)"

# --- the master dies with the program frozen at its exec ----------------------
# The helper sees its connection break and kills the program: it never runs.
all_up() { node_is 0 up && node_is 1 up && node_is 2 up; }
BPROC_FAULT=master-die-frozen bpcluster restart-master
wait_for 10 all_up
"$em" 0 /bin/sh -c 'echo ran >/tmp/execmove-ran-3' >"$M/out" 2>"$M/err"
check_eq "the master dies at the freeze: the program is killed" "137" "$?"
check_match "the launcher says why" \
	"^execmove: node 0: the master went away during the move \(the program was stopped before it ran, and killed\)$" \
	"$(cat "$M/err")"
check_eq "the master died there" "1" "$(grep -c 'fault injected: master-die-frozen' /run/bproc/cluster/master.log)"
bpcluster restart-master
wait_for 10 all_up
check_eq "it never ran (no file on the master or on node 0)" "absent absent" \
	"$([ -e /tmp/execmove-ran-3 ] && echo present || echo absent) $(bpcluster exec 0 sh -c '[ -e /tmp/execmove-ran-3 ] && echo present || echo absent')"
check_eq "and a launch works again" "on n1" \
	"$("$em" 1 /bin/sh -c 'echo on $(cat /proc/sys/kernel/hostname)' 2>&1 | tail -1)"

finish
