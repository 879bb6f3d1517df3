#!/usr/bin/env bash
# bpsh on 4 nodes: the BProc article's examples, node lists, every option,
# stdin to many nodes, exit statuses (the largest, 128+signal), nodes that
# cannot be used, large outputs from all nodes at once with no line mixed
# under -L, and Ctrl-C through bpsh reaching every remote process; then 9
# nodes through a fan-out tree of slaves, and a relay that dies.
. "$(dirname "$0")/lib.sh"

cluster_up 4
M=$(mktemp -d /var/tmp/bpsh-test.XXXXXX)
trap 'rm -rf "$M"; cluster_down' EXIT
on() { local n=$1; shift; bpcluster exec "$n" "$@"; }
nremote() { bpstat -p | awk 'NR > 1' | wc -l; }

# The article: bpsh 1,3 date.
out=$(bpsh 1,3 date)
check_eq "bpsh 1,3 date: exit 0" "0" "$?"
check_eq "two dates" "2" "$(grep -cE '^[A-Z][a-z]{2} [A-Z][a-z]{2} +[0-9]+ [0-9:]{8} [A-Z]+ [0-9]{4}$' <<<"$out")"
check_eq "nothing left running" "0" "$(nremote)"

# The article: bpsh -a -p -s -d -L ls -l /tmp, one file in each node's /tmp.
for n in 0 1 2 3; do on $n sh -c "echo $n >/tmp/file$n"; done
out=$(bpsh -a -p -s -d -L ls -l /tmp)
check_eq "ls on all nodes: exit 0" "0" "$?"
# Other entries of a node's /tmp (a build tree under the master's /tmp is
# shown on the nodes too) are left out of the comparison.
shape=$(sed -E 's/^([0-9]+) -{60,}$/\1 DIVIDER/; s/^([0-9]+): total .*/\1: total/; s/^([0-9]+): -.* (file[0-9]+)$/\1: \2/' <<<"$out" |
	grep -E '^[0-9]+ DIVIDER$|^[0-9]+: total$|^[0-9]+: file[0-9]+$' | tr '\n' ' ')
check_eq "a divider per node, N: prefixes, sorted by node" \
	"0 DIVIDER 0: total 0: file0 1 DIVIDER 1: total 1: file1 2 DIVIDER 2: total 2: file2 3 DIVIDER 3: total 3: file3 " "$shape"

# Many nodes: one dump for all of them (bproc_vexecmove), each process with
# its own pid on its node, the same pid as its ghost's.
before=$(grep -c "from the dump of" /run/bproc/cluster/master.log)
out=$(bpsh -p -s 0-3 sh -c 'echo $$ $(cat /proc/sys/kernel/hostname)')
check_eq "bpsh 0-3: a line from each node" "0 n0 1 n1 2 n2 3 n3" \
	"$(sed -E 's/^([0-9]+): [0-9]+ (n[0-9]+)$/\1 \2/' <<<"$out" | tr '\n' ' ' | sed 's/ $//')"
check_eq "four different pids" "4" "$(sed -E 's/^[0-9]+: ([0-9]+) .*/\1/' <<<"$out" | sort -u | wc -l)"
check_eq "three of them restored from the fourth's dump" "3" \
	"$(( $(grep -c "from the dump of" /run/bproc/cluster/master.log) - before ))"
# One exec, too: the program is exec'd once on the master, held at its exec
# (never running there), and every copy is restored from that image: one
# address-space layout (the stack where ASLR put it for that one exec),
# and every ghost shows the program, not bpsh.
before=$(grep -c "held at its exec of /usr/bin/dash, is dumped once for all" /run/bproc/cluster/master.log)
out=$(bpsh -p -s 0-3 sh -c 'grep -F "[stack]" /proc/$$/maps | cut -d" " -f1')
check_eq "bpsh 0-3: the master held one exec of sh and dumped it once" "1" \
	"$(( $(grep -c "held at its exec of /usr/bin/dash, is dumped once for all" /run/bproc/cluster/master.log) - before ))"
if [ "$(cat /proc/sys/kernel/randomize_va_space)" != 0 ]; then
	check_eq "the four copies have one stack address (one exec, not four)" "4 1" \
		"$(wc -l <<<"$out" | tr -d ' ') $(sed 's/^[0-9]*: //' <<<"$out" | sort -u | wc -l)"
fi
bpsh -p 0-3 sleep 3 >"$M/sleep-out" 2>&1 &
bp=$!
wait_for 5 eval '[ "$(bpstat -p | awk "NR > 1" | wc -l)" = 4 ]'
check_eq "their four ghosts are named sleep, command line and all" "4 sleep|sleep 3" \
	"$(ps -o comm= --ppid "$bp" | sort | uniq -c | awk '{ print $1, $2 }')|$(ps -o args= --ppid "$bp" | sort -u)"
check_eq "and bpstat -p lists them on nodes 0-3" "0 1 2 3" \
	"$(for p in $(ps -o pid= --ppid "$bp"); do bpstat -p | awk -v p="$p" '$1 == p { print $2 }'; done | sort | tr '\n' ' ' | sed 's/ $//')"
wait "$bp"
check_eq "bpsh waits for them all: exit 0, nothing said" "0 " "$? $(cat "$M/sleep-out")"
# Node 0 lacks the program (a copy of sh that the master and node 1 have):
# the template, held for node 0, is refused there and killed before it ran;
# node 1's process moves itself and execs there, as before exec first.
cp /bin/sh /tmp/bpsh-only-here
on 1 cp /bin/sh /tmp/bpsh-only-here
out=$(bpsh -p 0,1 /tmp/bpsh-only-here -c 'echo ran on $(cat /proc/sys/kernel/hostname)' 2>"$M/err")
code=$?
check_eq "a program node 0 lacks: node 1 runs it" "1: ran on n1" "$out"
check_eq "bpsh's status is node 0's, killed (128 + 9)" "137" "$code"
check_match "and says why, naming node 0" \
	"^bpsh: node 0: .*/tmp/bpsh-only-here.* is not on node 0 \(the program was stopped before it ran, and killed\)" \
	"$(cat "$M/err")"
check_eq "nothing left running" "0" "$(nremote)"
rm -f /tmp/bpsh-only-here
# A file execve refuses (no #! line, not a binary): refused on the master
# once traced; the launch goes the older way and each node says so.
printf 'not a program\n' >/tmp/bpsh-not-a-program
chmod 755 /tmp/bpsh-not-a-program
for n in 0 1; do on $n sh -c 'printf "not a program\n" >/tmp/bpsh-not-a-program; chmod 755 /tmp/bpsh-not-a-program'; done
out=$(bpsh -p -s 0,1 /tmp/bpsh-not-a-program 2>&1)
check_eq "an exec that fails: 127" "127" "$?"
check_eq "each node says why" "0: bpsh: node 0: /tmp/bpsh-not-a-program: Exec format error 1: bpsh: node 1: /tmp/bpsh-not-a-program: Exec format error" \
	"$(tr '\n' ' ' <<<"$out" | sed 's/ $//')"
rm -f /tmp/bpsh-not-a-program
# A user's launch: the template is the user's process, dumped by a CRIU
# whose real ids are the user's (migrate/criu_run.c), three times over.
before=$(grep -c "held at its exec of /usr/bin/dash, is dumped once for all" /run/bproc/cluster/master.log)
for i in 1 2 3; do
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		bpsh -p -s 0,1 sh -c 'echo $(id -u) $(id -g) $(cat /proc/sys/kernel/hostname)' 2>&1
	echo "rc $?"
done >"$M/user-out"
check_eq "a user's bpsh 0,1, 3 times: both copies run as the user, exit 0" \
	"$(printf '0: 65534 65534 n0 1: 65534 65534 n1 rc 0 %.0s' 1 2 3 | sed 's/ $//')" \
	"$(tr '\n' ' ' <"$M/user-out" | sed 's/ $//')"
check_eq "each from one exec held on the master" "3" \
	"$(( $(grep -c "held at its exec of /usr/bin/dash, is dumped once for all" /run/bproc/cluster/master.log) - before ))"
# bpsh's own stderr a file the nodes do not have: its children's streams
# are their pipes before the master looks at them.
for i in 1 2 3; do bpsh 0-3 true 2>"$M/stderr-file"; echo $?; done >"$M/codes"
check_eq "bpsh 0-3 with its stderr in a file: exit 0, 3 times" "0 0 0" "$(tr '\n' ' ' <"$M/codes" | sed 's/ $//')"
check_eq "and nothing said" "" "$(cat "$M/stderr-file")"

# A reader slower than the process: nothing dropped, nothing piles up
# without end (the slave stops reading the process's pipe while the master
# holds 4 MiB for the reader, and while its own link is behind).
check_eq "200 MiB to a reader that starts 2 s late, every byte" "209715200" \
	"$(bpsh 0 head -c 209715200 /dev/zero | (sleep 2; wc -c))"
check_eq "no output dropped, no link cut" "0" \
	"$(grep -c 'dropped\|output queue full' /run/bproc/cluster/master.log /run/bproc/cluster/n0/slave.log | awk -F: '{ s += $2 } END { print s }')"

# Node lists.
check_eq "1-3" "n1 n2 n3" "$(bpsh -s 1-3 hostname | tr '\n' ' ' | sed 's/ $//')"
check_eq "0,2-3" "n0 n2 n3" "$(bpsh -s 0,2-3 hostname | tr '\n' ' ' | sed 's/ $//')"
check_eq "a state name (up)" "n0 n1 n2 n3" "$(bpsh -s up hostname | tr '\n' ' ' | sed 's/ $//')"
check "-h" bpsh -h
check_match "-v" "^bpsh \(bproc\) " "$(bpsh -v)"
check_fails "no command" bpsh 1
check_fails "a bad node list" bpsh 1-x true
out=$(bpsh 0 no-such-command-here 2>&1)
check_eq "a missing command: exit 127" "127" "$?"
check_match "it says so" "no-such-command-here: command not found" "$out"

# Nodes that cannot be used: named, and the others still run.
bpctl -S 2 -s unavailable
out=$(bpsh -s 0,2,7,3 hostname 2>"$M/err")
check_eq "bad nodes in the list: exit 1" "1" "$?"
check_eq "the others ran" "n0 n3" "$(tr '\n' ' ' <<<"$out" | sed 's/ $//')"
check_match "the missing node named" "^bpsh: node 7: no such node$" "$(cat "$M/err")"
check_match "the unavailable node named" "^bpsh: node 2 is unavailable$" "$(cat "$M/err")"
check_eq "-a: only nodes that are up" "n0 n1 n3" "$(bpsh -a -s hostname | tr '\n' ' ' | sed 's/ $//')"
bpsh -A -s hostname >"$M/out" 2>"$M/err"
check_eq "-A: every node not down (2 is named, not run)" "n0 n1 n3" "$(tr '\n' ' ' <"$M/out" | sed 's/ $//')"
check_match "-A names node 2" "node 2 is unavailable" "$(cat "$M/err")"
bpctl -S 2 -s up

# Exit statuses.
bpsh 0-3 sh -c 'exit $(( $(hostname | tr -d n) + 3 ))'
check_eq "the largest exit status" "6" "$?"
bpsh 0,1 sh -c 'test $(hostname) = n1 && kill -TERM $$; exit 2'
check_eq "killed by SIGTERM: 143" "143" "$?"

# Input.
seq 1 20000 >"$M/in"
want=$(sha256sum <"$M/in")
out=$(bpsh -s 0-3 sha256sum <"$M/in")
check_eq "stdin reaches every node" "$want$want$want$want" "$(tr -d '\n' <<<"$out")"
# stdin a pipe that stays open for 8 s: with -n, cat ends at once anyway.
out=$(timeout 6 bpsh -n 0,1 cat < <(sleep 8); echo "rc=$?")
check_eq "-n: stdin is /dev/null on the nodes, bpsh returns" "rc=0" "$out"
out=$(echo hi | bpsh -N 0,1 sh -c 'cat; echo out; echo err >&2' 2>&1)
check_eq "-N: nothing forwarded" "" "$out"

# Output options.
out=$(bpsh -p 1 sh -c 'echo a; echo b >&2; printf c' 2>&1 | sort)
check_eq "-p: prefixes on both streams and the last partial line" "1: a 1: b 1: c" "$(tr '\n' ' ' <<<"$out" | sed 's/ $//')"
# (its own line: a stream's last line is given its newline under -L, so the
# other stream's line cannot run on from it)
check_eq "-L: a last line without its newline is given one" "c|" "$(bpsh -L 1 printf c | tr '\n' '|')"
out=$(bpsh -p -b 8 0 echo 0123456789abc)
check_eq "-b: lines cut at the buffer size" "0: 01234567 0: 89abc" "$(tr '\n' ' ' <<<"$out" | sed 's/ $//')"
out=$(bpsh -s 0-3 sh -c 'sleep 0.$(( 4 - $(hostname | tr -d n) )); hostname')
check_eq "-s: node order, whatever the ends' order" "n0 n1 n2 n3" "$(tr '\n' ' ' <<<"$out" | sed 's/ $//')"
out=$(bpsh -g -a uname -s)
check_eq "-g: identical output once" "--------------- 0-3 (4) --------------- Linux " "$(tr '\n' ' ' <<<"$out")"
out=$(bpsh -g 0,1,3 sh -c 'test $(hostname) = n1 && echo odd || echo even')
check_eq "-g: two blocks, node sets compact" "--------------- 0,3 (2) --------------- even --------------- 1 (1) --------------- odd " "$(tr '\n' ' ' <<<"$out")"
bpsh -t 0,1 true 2>"$M/err"
check_match "-t: a time per node" "^bpsh: node 1: [0-9.]+ s, exit 0$" "$(cat "$M/err")"

# Files on the node.
on 2 sh -c 'echo from-node-2 >/tmp/in2'
check "-I/-O/-E: files on the node" bpsh -I /tmp/in2 -O /tmp/out2 -E /tmp/err2 2 sh -c 'cat; echo oops >&2'
check_eq "-O wrote there" "from-node-2" "$(on 2 cat /tmp/out2)"
check_eq "-E wrote there" "oops" "$(on 2 cat /tmp/err2)"
check_fails "-I of a file the node lacks" bpsh -I /tmp/nothing-here 2 cat

# Large outputs from every node at once: nothing lost, no line mixed.
bpsh -p -a sh -c 'seq -f "line %g of a long enough line to fill pipes quickly" 1 30000' >"$M/big"
check_eq "large outputs: exit 0" "0" "$?"
bad=$(grep -cvE '^[0-3]: line [0-9]+ of a long enough line to fill pipes quickly$' "$M/big")
check_eq "no line mixed with another under -L" "0" "$bad"
for n in 0 1 2 3; do
	got=$(grep "^$n: " "$M/big" | sed -E 's/^[0-9]: line ([0-9]+) .*/\1/' | sha256sum)
	check_eq "node $n: all 30000 lines, in order" "$(seq 1 30000 | sha256sum)" "$got"
done

# Ctrl-C on bpsh reaches every remote process.
bpsh -a sleep 100 &
p=$!
wait_for 20 sh -c '[ "$(bpstat -p | awk "NR > 1" | wc -l)" -eq 4 ]'
check_eq "four remote sleeps" "4" "$(nremote)"
kill -INT $p
wait $p
check_eq "Ctrl-C: bpsh exits 130" "130" "$?"
wait_for 10 sh -c '[ "$(bpstat -p | awk "NR > 1" | wc -l)" -eq 0 ]'
check_eq "no remote process left" "0" "$(nremote)"

# --- Many nodes through a fan-out tree (launchfanout, bproc.conf(5)) -----------
# 9 nodes, width 2: one dump; the master sends two copies itself, to the
# two lowest nodes but the template's, and each of those slaves passes the
# image on to three more nodes over the nodes' move ports.
cluster_down
cluster_up 9 >/dev/null
echo "launchfanout 2" >>/run/bproc/cluster/config
bpcluster restart-master
all_up() { for n in 0 1 2 3 4 5 6 7 8; do node_is $n up || return 1; done; }
wait_for 20 all_up
LOG=/run/bproc/cluster/master.log
new_log() { tail -n +$(($1 + 1)) "$LOG"; }
before=$(wc -l <"$LOG")
out=$(bpsh -p -s 0-8 sh -c 'h=$(hostname); echo $$ $h; exit $(( ${h#n} % 3 ))')
st=$?
check_eq "fan-out: a line from each node, once" "0 n0 1 n1 2 n2 3 n3 4 n4 5 n5 6 n6 7 n7 8 n8" \
	"$(sed -E 's/^([0-9]+): [0-9]+ (n[0-9]+)$/\1 \2/' <<<"$out" | tr '\n' ' ' | sed 's/ $//')"
check_eq "nine different pids" "9" "$(sed -E 's/^[0-9]+: ([0-9]+) .*/\1/' <<<"$out" | sort -u | wc -l)"
check_eq "bpsh's status: the largest of theirs (node 2, 5, 8: 2)" "2" "$st"
# Copies frozen only after the dump ended (a slow machine) go from the
# master one by one: the counts come from the relays' lists.
lists=$(new_log "$before" | sed -nE 's/.*sent to node [0-9], which passes it on to nodes? ([0-9,]+)$/\1/p')
through=$(tr ',' '\n' <<<"$lists" | grep -c .)
check_eq "two slaves relayed, as the master's log says" "2" "$(grep -c . <<<"$lists")"
check_match "copies went through them (six when all were ready at once)" "^[1-6]$" "$through"
check_eq "each such copy logged as going through a node" "$through" \
	"$(new_log "$before" | grep -c 'through node [0-9]$')"
check_eq "and the relays' logs say they passed as many on" "$through" \
	"$(cat /run/bproc/cluster/n*/slave.log | grep -c 'passed on to node')"
check_eq "nothing left running" "0" "$(nremote)"

# A relay that dies as it starts passing the image on: only its subtree's
# launches fail, each saying which node it was to come through; the others run.
bpcluster kill-slave 2 >/dev/null 2>&1
BPROC_FAULT=slave-relay-die bpcluster start-slave 2 >/dev/null 2>&1
wait_for 20 all_up
relayed=""
for try in 1 2 3; do
	before=$(wc -l <"$LOG")
	out=$(bpsh -p 0-8 sh -c 'echo $(hostname)' 2>"$M/relay-err")
	st=$?
	# Node 2 relays unless the dump was made of another process than node
	# 0's (the first to pass its checks): then the run proves nothing, again.
	relayed=$(new_log "$before" | sed -nE 's/.*sent to node 2, which passes it on to nodes ([0-9,]+)$/\1/p')
	[ -n "$relayed" ] && break
	wait_for 20 all_up
done
if [ -z "$relayed" ]; then
	not_ok "node 2 was a relay in one of three launches"
else
	lost=" 2 ${relayed//,/ } "
	want=""
	for n in 0 1 2 3 4 5 6 7 8; do
		[[ "$lost" == *" $n "* ]] || want="$want${want:+ }$n: n$n"
	done
	check_eq "relay 2 died: the other nodes ran, once each" "$want" \
		"$(sort -n <<<"$out" | tr '\n' ' ' | sed 's/ $//')"
	check_eq "bpsh failed" "127" "$st"
	for n in ${relayed//,/ }; do
		check_match "node $n says its image was to come through node 2" \
			"node 2, which was to pass its image on to node $n, went down" "$(cat "$M/relay-err")"
	done
	check_match "node 2's own launch failed, saying so" "node 2" "$(grep -v 'which was to pass' "$M/relay-err")"
fi
wait_for 10 sh -c '[ "$(bpstat -p | awk "NR > 1" | wc -l)" -eq 0 ]'
check_eq "nothing of it left running" "0" "$(nremote)"
bpcluster kill-slave 2 >/dev/null 2>&1
bpcluster start-slave 2 >/dev/null 2>&1
wait_for 20 all_up
check_eq "node 2 without the fault: all nine launch again" "9" "$(bpsh 0-8 hostname | sort -u | wc -l)"

finish
