#!/usr/bin/env bash
# bpstat in every mode against a real 4-node cluster.
. "$(dirname "$0")/lib.sh"

cluster_up 4
out=$(bpstat)
check_match "compact header" "^Node\(s\) +Status +Mode +User +Group" "$out"
check_match "compact groups 0-3" "^0-3 +up +---x--x--x +root +root$" "$out"

out=$(bpstat -l)
check_match "long header" "^Node +Address +Status +Mode +User +Group" "$out"
for n in 0 1 2 3; do
	check_match "long line for node $n" "^$n +10\.223\.0\.1$n +up +---x--x--x +root +root" "$out"
done
check_eq "-a with a list" "$(printf '10.223.0.11\n10.223.0.13')" "$(bpstat -a 1,3)"
check_eq "-s with a range" "$(printf 'up\nup')" "$(bpstat -s 2-3)"
check_eq "-n allup" "$(printf '0\n1\n2\n3')" "$(bpstat -n allup)"
check_eq "-t" "4" "$(bpstat -t)"
check_eq "-t alldown" "0" "$(bpstat -t alldown)"
check_eq "-R reverses" "$(printf '3\n2\n1\n0')" "$(bpstat -R -n)"

bpctl -S 1 -s unavailable
bpctl -S 3 -u nobody
check_eq "-S sorts by state" "$(printf '1\n0\n2\n3')" "$(bpstat -S -n)"
check_eq "-O sorts by owner" "$(printf '0\n1\n2\n3')" "$(bpstat -O -n)"
check_eq "-O -R" "$(printf '3\n2\n1\n0')" "$(bpstat -O -R -n)"
out=$(bpstat)
check_match "compact splits runs" "^0 +up" "$out"
check_match "compact shows unavailable" "^1 +unavailable" "$out"
check_match "compact shows the owner" "^3 +up +---x--x--x +nobody" "$out"
check_match "-M gives numbers" "^3 +up +---x--x--x +65534" "$(bpstat -M)"
check_eq "state specs" "1" "$(bpstat -n unavailable)"
check_eq "combined specs" "$(printf '0\n1\n3')" "$(bpstat -n 0,unavailable,3)"

check_match "-p has a header" "^PID	Node$" "$(bpstat -p)"
out=$(timeout 2.5 bpstat -U -t)
check_match "-U redraws" "^4$" "$out"
check_eq "-U redrew at least twice" "yes" "$([ "$(grep -c '^4$' <<<"$out")" -ge 2 ] && echo yes || echo no)"

out=$(bpstat 7 2>&1)
check_eq "unknown node fails" "1" "$?"
check_match "and names it" "does not exist" "$out"
out=$(bpstat 1-x 2>&1)
check_eq "bad spec fails" "1" "$?"
check_match "and says so" "invalid node specification" "$out"
check_fails "unknown option fails" bpstat --bogus
out=$(BPROC_SOCKET=/nonexistent/sock bpstat 2>&1)
check_match "no daemon is a clear error" "No bproc daemon" "$out"
check_eq "a client on a node sees node 2" "2" "$(bpcluster exec 2 sh -c 'bpstat -t allup >/dev/null && echo 2')"
check_match "bpstat works from a node, through its slave" "^0 +up" "$(bpcluster exec 2 bpstat)"
finish
