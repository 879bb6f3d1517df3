#!/usr/bin/env bash
# bpctl changes are seen by bpstat; only root may make them; bad input is
# refused without changing anything.
. "$(dirname "$0")/lib.sh"

cluster_up 4
check "set a node unavailable" bpctl -S 3 -s unavailable
check_eq "bpstat sees it" "unavailable" "$(bpstat -s 3)"
check "and up again" bpctl -S 3 -s up
check_eq "bpstat sees that" "up" "$(bpstat -s 3)"
check "mode, owner and group at once" bpctl -S 1-2 -m 0110 -u nobody -g daemon
check_match "bpstat shows them" "^1-2 +up +---x--x--- +nobody +daemon$" "$(bpstat)"
check "numeric owner" bpctl -S 0 -u 1234 -g 4321
check_match "numbers stay numbers" "^0 +up +---x--x--x +1234 +4321$" "$(bpstat)"
out=$(bpctl -S 0 -m 0754 2>&1)
check_match "bpctl notes the ignored bits" "only the execute bits" "$out"
check_match "only execute bits count" "^0 .* ---x--x--- " "$(bpstat -l 0)"
check "-s error" bpctl -S 2 -s error
check_eq "shown" "error" "$(bpstat -s 2)"
check "all nodes at once" bpctl -S all -s up -m 0111 -u root -g root
check_match "back to the defaults" "^0-3 +up +---x--x--x +root +root$" "$(bpstat)"

nobody_bpctl() { setpriv --reuid=65534 --regid=65534 --clear-groups "$(command -v bpctl)" "$@"; }
out=$(nobody_bpctl -S 1 -s unavailable 2>&1)
check_eq "a user may not change nodes" "1" "$?"
check_match "and is told so" "node 1: state: Operation not permitted" "$out"
check_eq "nothing changed" "up" "$(bpstat -s 1)"

out=$(bpctl -S 1,9 -s unavailable 2>&1)
check_eq "an unknown node fails" "1" "$?"
check_match "naming it" "does not exist" "$out"
check_eq "and the known one is unchanged" "up" "$(bpstat -s 1)"
check_fails "unknown state" bpctl -S 1 -s sleepy
check_fails "bad mode" bpctl -S 1 -m 9
check_fails "unknown user" bpctl -S 1 -u no-such-user-here
check_fails "no nodes given" bpctl -s up
check_fails "nothing to change" bpctl -S 1

check "reboot a node" bpctl -S 2 --reboot
if wait_for 10 node_is 2 up; then ok "the rebooted node comes back up"; else not_ok "rebooted node up (state: $(node_state 2))"; fi
# Four nodes' slaves and the master's home node's (daemons/master_home.c).
check_eq "its slave kept its name" "5" "$(ps -eo stat=,comm= | awk '$1 !~ /^Z/ && $2 == "bpslave"' | wc -l)"

check "halt a node" bpctl -S 3 -s halt
if wait_for 5 node_is 3 down; then ok "a halted node is down"; else not_ok "halted node down (state: $(node_state 3))"; fi
out=$(bpctl -S 3 -s up 2>&1)
check_eq "a down node cannot be set" "1" "$?"
check_match "and says it is down" "node 3.*down" "$out"
finish
