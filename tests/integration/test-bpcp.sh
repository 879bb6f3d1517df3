#!/usr/bin/env bash
# bpcp in every direction (master->node, node->master, node->node, several
# sources into a directory, -r, -p, from a process on a node), contents by
# sha256, modes and times by stat on the node; errors as cp gives them, with
# the other sources still copied; a user cannot read through bpcp what the
# node's permissions keep from them.
. "$(dirname "$0")/lib.sh"

cluster_up 4
M=$(mktemp -d /tmp/bpcp-test.XXXXXX)
trap 'rm -rf "$M"; cluster_down' EXIT
on() { local n=$1; shift; bpcluster exec "$n" "$@"; }
sum() { sha256sum "$1" | cut -d' ' -f1; }
node_sum() { on "$1" sha256sum "$2" | cut -d' ' -f1; }

head -c 50M /dev/urandom >"$M/big"
big=$(sum "$M/big")
echo small >"$M/small"

check "master -> node: 50 MiB" bpcp "$M/big" 1:/tmp/big
check_eq "the node has the same bytes" "$big" "$(node_sum 1 /tmp/big)"
check "node -> node" bpcp 1:/tmp/big 2:/tmp/big2
check_eq "the second node has the same bytes" "$big" "$(node_sum 2 /tmp/big2)"
check "node -> master" bpcp 2:/tmp/big2 "$M/back"
check_eq "the master has them back" "$big" "$(sum "$M/back")"
check "master -> master (no node at all)" bpcp "$M/small" "$M/small2"
check_eq "a local copy" "small" "$(cat "$M/small2")"

# Several sources from three machines into one directory.
on 1 sh -c 'echo one >/tmp/one'
on 2 sh -c 'echo two >/tmp/two'
on 3 mkdir /tmp/into
check "several sources into a directory" bpcp "$M/small" 1:/tmp/one 2:/tmp/two 3:/tmp/into
check_eq "all of them there" "one small two" "$(on 3 sh -c 'cat /tmp/into/one; ls /tmp/into' | tr '\n' ' ' | sed 's/^one //;s/ $//')"
out=$(bpcp "$M/small" 1:/tmp/one 3:/tmp/into/one 2>&1)
check_eq "several sources, destination not a directory: exit 1" "1" "$?"
check_match "as cp says it" "^bpcp: target '3:/tmp/into/one' is not a directory$" "$out"

# -r: files, directories, symbolic links.
mkdir -p "$M/tree/a/b" "$M/tree/empty"
echo x >"$M/tree/a/x"
head -c 300k /dev/urandom >"$M/tree/a/b/y"
ln -s ../x "$M/tree/a/b/link"
listing() { (cd "$1" && find . -printf '%y %p %l\n' | sort); }
check "-r master -> node" bpcp -r "$M/tree" 1:/tmp/
check_eq "the tree is there, links as links" "$(listing "$M/tree")" \
	"$(on 1 sh -c 'cd /tmp/tree && find . -printf "%y %p %l\n" | sort')"
check "-r node -> node into a new name" bpcp -r 1:/tmp/tree 2:/tmp/tree2
check_eq "the copy of the copy" "$(sum "$M/tree/a/b/y")" "$(node_sum 2 /tmp/tree2/a/b/y)"
check "-r into a new name given with a slash" bpcp -r "$M/tree" 3:/tmp/slashed/
check_eq "made under that name" "$(sum "$M/tree/a/b/y")" "$(node_sum 3 /tmp/slashed/a/b/y)"
check "-r node -> master" bpcp -r 2:/tmp/tree2 "$M/tree3"
check_eq "back on the master" "$(listing "$M/tree")" "$(listing "$M/tree3")"
out=$(bpcp "$M/tree" 1:/tmp/notree 2>&1)
check_eq "a directory without -r: exit 1" "1" "$?"
check_match "as cp says it" "^bpcp: -r not specified; omitting directory '$M/tree'$" "$out"

# -p: mode and times (and owner, as root).
echo p >"$M/pfile"
chmod 0640 "$M/pfile"
chown 12:34 "$M/pfile"
touch -d '2001-02-03 04:05:06.789' "$M/pfile"
want=$(stat -c '%a %Y %u:%g' "$M/pfile")
check "-p master -> node" bpcp -p "$M/pfile" 1:/tmp/pfile
check_eq "mode, mtime, owner kept" "$want" "$(on 1 stat -c '%a %Y %u:%g' /tmp/pfile)"
check "-p node -> node" bpcp -p 1:/tmp/pfile 3:/tmp/pfile
check_eq "kept again" "$want" "$(on 3 stat -c '%a %Y %u:%g' /tmp/pfile)"
check_eq "to the nanosecond" "$(stat -c '%y' "$M/pfile")" "$(on 3 stat -c '%y' /tmp/pfile)"
chmod 0750 "$M/tree/a"
touch -d '1999-01-01' "$M/tree/a"
check "-r -p a directory" bpcp -r -p "$M/tree" 2:/tmp/ptree
check_eq "its mode and mtime, set after its contents" "$(stat -c '%a %Y' "$M/tree/a")" \
	"$(on 2 stat -c '%a %Y' /tmp/ptree/a)"
check "without -p" bpcp "$M/pfile" 2:/tmp/nop
check_match "the mode follows the umask, the time is now" "^640 [0-9]+ 0:0$" \
	"$(on 2 stat -c '%a %Y %u:%g' /tmp/nop)"
[ "$(on 2 stat -c %Y /tmp/nop)" -gt 1000000000 ] && [ "$(on 2 stat -c %Y /tmp/nop)" != "$(stat -c %Y "$M/pfile")" ] &&
	ok "and not the source's time" || not_ok "a copy without -p has the source's time"

# Errors: named with their node, the other sources still copied.
on 2 mkdir /tmp/errs
out=$(bpcp 2:/nope "$M/small" 1:/tmp/one 2:/tmp/errs 2>&1)
check_eq "a missing source: exit 1" "1" "$?"
check_match "as cp says it, with the node" "^bpcp: 2:/nope: No such file or directory$" "$out"
check_eq "the other sources are copied" "one small" "$(on 2 ls /tmp/errs | tr '\n' ' ' | sed 's/ $//')"
out=$(bpcp "$M/small" 9:/tmp/x 2>&1)
check_eq "an unknown node: exit 1" "1" "$?"
check_match "says so" "^bpcp: 9:/tmp/x: no such node$" "$out"
out=$(bpcp "$M/small" 1:/nodir/x 2>&1)
check_match "a destination whose directory is missing" "^bpcp: 1:/nodir/x: No such file or directory$" "$out"
out=$(bpcp 1:/tmp/one 1:/tmp/one 2>&1)
check_match "a file onto itself is refused" "1:/tmp/one: is the file being copied" "$out"
check_eq "and left whole" "one" "$(on 1 cat /tmp/one)"
out=$(bpcp -r 1:/tmp/tree 1:/tmp/tree/a 2>&1)
check_match "a directory into itself is refused" "cannot copy a directory into itself" "$out"

# Permissions: the node's files are opened as the user who asks.
nobody_bpcp() { setpriv --reuid=65534 --regid=65534 --clear-groups "$(command -v bpcp)" "$@"; }
on 1 sh -c 'echo secret >/tmp/secret; chmod 600 /tmp/secret; mkdir -m 755 /tmp/rootdir'
chmod 777 "$M"
out=$(nobody_bpcp 1:/tmp/secret "$M/stolen" 2>&1)
check_eq "a user cannot read a root-only file on a node" "1" "$?"
check_match "Permission denied" "^bpcp: 1:/tmp/secret: Permission denied$" "$out"
[ -s "$M/stolen" ] && not_ok "the secret leaked" || ok "nothing of it on the master"
out=$(nobody_bpcp 1:/etc/shadow 2:/tmp/ 2>&1)
check_match "nor /etc/shadow, node to node" "^bpcp: 1:/etc/shadow: Permission denied$" "$out"
out=$(nobody_bpcp "$M/small" 1:/tmp/rootdir/x 2>&1)
check_match "nor write into root's directory" "^bpcp: 1:/tmp/rootdir/x: Permission denied$" "$out"
check "but may copy what is theirs" nobody_bpcp "$M/small" 1:/tmp/mine
check_eq "owned by them" "65534" "$(on 1 stat -c %u /tmp/mine)"

# From a process on a node: its own files, to another node and to the master.
on 3 sh -c 'head -c 1M /dev/urandom >/tmp/out'
check "on node 3: bpcp /tmp/out 0:/tmp/" on 3 bpcp /tmp/out 0:/tmp/
check_eq "node 0 has node 3's file" "$(node_sum 3 /tmp/out)" "$(node_sum 0 /tmp/out)"
check "on node 3: to the master" on 3 bpcp /tmp/out "master:$M/from3"
check_eq "the master has it" "$(node_sum 3 /tmp/out)" "$(sum "$M/from3")"
check "on node 3: from node 1 to node 2" on 3 bpcp 1:/tmp/one 2:/tmp/via3
check_eq "copied" "one" "$(on 2 cat /tmp/via3)"

# A node that is down: named, the others still copied.
bpcluster kill-slave 3 >/dev/null 2>&1
if wait_for 10 node_is 3 down; then ok "node 3 is down"; else not_ok "node 3 down (state: $(node_state 3))"; fi
on 2 mkdir /tmp/down
out=$(bpcp 3:/tmp/out "$M/small" 2:/tmp/down 2>&1)
check_eq "a source on a down node: exit 1" "1" "$?"
check_match "names the node" "^bpcp: 3:/tmp/out: node 3 is down$" "$out"
check_eq "the other source is copied" "small" "$(on 2 ls /tmp/down)"
finish
