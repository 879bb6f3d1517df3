#!/usr/bin/env bash
# The local cluster: nodes come up in their own namespaces, a killed slave
# goes down and comes back, and `down` leaves nothing behind.
. "$(dirname "$0")/lib.sh"

start=$(date +%s.%N)
cluster_up 4
check_eq "4 nodes up" "4" "$(bpstat -t allup)"
check_eq "node 2 has hostname n2" "n2" "$(bpcluster exec 2 hostname)"
check_eq "node 3 has its own address" "10.223.0.13" "$(bpstat -a 3)"
check_match "node 1 has eth0 with its address" "10\.223\.0\.11/16" "$(bpcluster exec 1 ip -br addr show eth0)"
check "node 0 reaches the master's port over its link" bpcluster exec 0 bash -c 'exec 3<>/dev/tcp/10.223.0.1/2223'

rm -f /tmp/bproc-test-private
bpcluster exec 1 sh -c 'echo node > /tmp/bproc-test-private'
check_fails "a node's /tmp is its own" test -e /tmp/bproc-test-private
check_eq "the file is there on the node" "node" "$(bpcluster exec 1 cat /tmp/bproc-test-private)"
check_fails "another node does not see it" bpcluster exec 2 test -e /tmp/bproc-test-private
check "a node has its own client socket" bpcluster exec 2 test -S /run/bproc/bproc.sock

out=$(bpcluster up 4 2>&1)
status=$?
check_eq "up twice fails" "1" "$status"
check_match "up twice says why" "already up" "$out"
check_eq "the cluster still runs after that" "4" "$(bpstat -t allup)"

check_match "status lists every node" "node 3: n3 10\.223\.0\.13, bpslave running, state up" "$(bpcluster status)"

# A slave that stops answering (stopped, or busy in CRIU longer than the
# master waits) is dropped; once it runs again it must rejoin, not send a
# heartbeat on a link not yet authenticated (refused, again and again).
# What ran there had its ghost ended as killed: the slave kills it when it
# rejoins, so no process is dead to its parent and running on a node.
sleep 1000 </dev/null >/dev/null 2>&1 &
sleeper=$!
check "a sleep moves to node 1" bpmove "$sleeper" 1
real=$(real_of "$sleeper")
check "it runs in node 1" test -n "$real"
bpcluster kill-slave 1 STOP
if wait_for 10 node_is 1 down; then ok "a stopped slave is down once silent"; else not_ok "a stopped slave is shown down (state: $(node_state 1))"; fi
wait "$sleeper"
check_eq "the ghost of the sleep on it ends as killed" "137" "$?"
bpcluster kill-slave 1 CONT
if wait_for 10 node_is 1 up; then ok "and up again once it runs"; else not_ok "a stopped slave comes back up once continued (state: $(node_state 1))"; fi
if [ -n "$real" ] && wait_for 5 gone "$real"; then ok "the stale sleep is killed when its slave rejoins"; else not_ok "the stale sleep is killed when its slave rejoins"; fi

# A cut link (the node's veth down): the same, within 5 s, and the others
# are not disturbed; the node re-registers when the link is back.
sleep 1000 </dev/null >/dev/null 2>&1 &
sleeper=$!
check "a sleep moves to node 2" bpmove "$sleeper" 2
real=$(real_of "$sleeper")
ip link set bpv2 down
if wait_for 5 node_is 2 down; then ok "a node whose link is cut is down within 5 s"; else not_ok "a node whose link is cut is down within 5 s (state: $(node_state 2))"; fi
check_eq "the others stay up" "0,1,3" "$(bpstat -n allup | paste -sd,)"
wait "$sleeper"
check_eq "the ghost of the sleep there ends as killed" "137" "$?"
ip link set bpv2 up
if wait_for 10 node_is 2 up; then ok "the node is up again once its link is back"; else not_ok "the node is up again once its link is back (state: $(node_state 2))"; fi
if [ -n "$real" ] && wait_for 5 gone "$real"; then ok "and its stale sleep is killed, not kept"; else not_ok "and its stale sleep is killed, not kept"; fi

bpcluster kill-slave 2 KILL
if wait_for 5 node_is 2 down; then ok "a slave killed with SIGKILL is down within 5 s"; else not_ok "a killed slave is shown down (state: $(node_state 2))"; fi
check_eq "the others stay up" "0,1,3" "$(bpstat -n allup | paste -sd,)"
bpcluster start-slave 2
if wait_for 10 node_is 2 up; then ok "the restarted slave is up again"; else not_ok "the restarted slave comes back up (state: $(node_state 2))"; fi

check "down" bpcluster down
check_fails "no bridge left" ip link show bpbr0
check_eq "no veth links left" "" "$(ip -br link | grep -E '^bpv[0-9]' || true)"
check_eq "no network namespaces left" "" "$(ls /run/netns 2>/dev/null | grep bproc || true)"
check_fails "no cluster directory left" test -e /run/bproc/cluster
# Zombies do not count: in a container, pid 1 may never reap the daemons.
check_eq "no daemons left" "" "$(ps -eo stat=,comm= | awk '$1 !~ /^Z/ && ($2 == "bpmaster" || $2 == "bpslave" || $2 == "bproc-init")')"
check_eq "no mounts left" "" "$(grep -E 'bproc' /proc/self/mountinfo || true)"
out=$(bpcluster down 2>&1)
check_match "down with nothing up is fine" "no cluster is up" "$out"
bpcluster status >/dev/null 2>&1
check_eq "status without a cluster exits 3" "3" "$?"
finish
