# tests/integration/lib.sh - what every integration test shares.
#
# Source it from a test-*.sh.  Output is TAP: "ok - ..." / "not ok - ..."
# lines, which tests/run-integration counts.  cluster_up starts a real local
# cluster (bpcluster) and arranges that it is torn down when the test exits,
# whether it passed, failed or crashed.

TEST_NAME=$(basename "$0" .sh)

# Whatever fds this test inherited (flock(1)'s lock file, a runner's pipes)
# every process it starts would inherit too, and a move refuses a locked
# file or a file the node does not have (docs/migration.md): close them.
for _fd in /proc/$$/fd/*; do
	_fd=${_fd##*/}
	if [ "$_fd" -gt 2 ] && [ "$_fd" -lt 255 ]; then eval "exec $_fd>&-"; fi
done
unset _fd
# A python3 that is pyenv's shim is a shell script that runs the real one
# through more shells: `$!` and `pgrep -f` then find those, and each start
# costs 0.1-0.3 s.  The tests' processes are the system's python3 if there
# is one.
if [ -x /usr/bin/python3 ]; then
	PATH=$(printf '%s\n' "$PATH" | tr ':' '\n' | grep -v '/\.pyenv/' | paste -sd: -)
	export PATH
fi
test_failures=0

ok() { echo "ok - $*"; }
not_ok() {
	echo "not ok - $*"
	test_failures=$((test_failures + 1))
}

# check "description" command [args...]: ok if the command succeeds.
check() {
	local desc=$1
	shift
	local out
	if out=$("$@" 2>&1); then
		ok "$desc"
	else
		not_ok "$desc"
		echo "#   command: $*"
		echo "$out" | sed 's/^/#   /' | head -20
	fi
}

# check_fails "description" command [args...]: ok if the command fails.
check_fails() {
	local desc=$1
	shift
	if "$@" >/dev/null 2>&1; then
		not_ok "$desc (it succeeded)"
		echo "#   command: $*"
	else
		ok "$desc"
	fi
}

# check_eq "description" expected actual
check_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1"
		echo "#   expected: $(printf '%q' "$2")"
		echo "#   got:      $(printf '%q' "$3")"
	fi
}

# check_match "description" regex text
check_match() {
	if grep -Eq -- "$2" <<<"$3"; then
		ok "$1"
	else
		not_ok "$1"
		echo "#   wanted /$2/ in:"
		echo "$3" | sed 's/^/#   /' | head -20
	fi
}

# wait_for TIMEOUT_SECONDS command [args...]: poll until it succeeds.
wait_for() {
	local timeout=$1
	shift
	local deadline=$((SECONDS + timeout))
	while ! "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# A process by its pid on the master.  alive: it has an entry (a zombie
# too); gone: not even a zombie is left; ended: gone, or a zombie not yet
# waited for; state_of: the first letter of ps's STAT, empty once gone.
alive() { kill -0 "$1" 2>/dev/null; }
gone() { ! alive "$1"; }
state_of() { ps -o stat= -p "$1" 2>/dev/null | cut -c1; }
ended() { gone "$1" || [ "$(state_of "$1")" = Z ]; }

# The real copies of a process whose ghost is PID, as the master's pids:
# tasks whose innermost pid (a node's pid namespace) is PID, the ghost
# itself left out.  real_copies lists them all (more than one would be two
# copies running); real_of gives the first.
real_copies() { grep -l "^NSpid:.*[[:space:]]$1$" /proc/[0-9]*/status 2>/dev/null | grep -v "^/proc/$1/" | cut -d/ -f3; }
real_of() { real_copies "$1" | head -1; }

node_state() { bpstat -s "$1" 2>/dev/null; }
node_is() { [ "$(node_state "$1")" = "$2" ]; }

cluster_down() {
	# Sanitizer reports the daemons printed into their logs count too.
	if [ -n "${BPROC_SAN_DIR:-}" ] && [ -d /run/bproc/cluster ]; then
		for log in /run/bproc/cluster/master.log /run/bproc/cluster/n*/slave.log; do
			[ -f "$log" ] || continue
			if grep -qE 'runtime error:|ERROR: (Address|Leak|UndefinedBehavior)Sanitizer' "$log"; then
				grep -E -A3 'runtime error:|Sanitizer' "$log" | head -40 \
					>"$BPROC_SAN_DIR/daemon-log.$(basename "$0" .sh).$$.$RANDOM"
			fi
		done
	fi
	# A failed test shows what the daemons said, before it is gone.
	if [ "${test_failures:-0}" -gt 0 ] && [ -d /run/bproc/cluster ]; then
		for log in /run/bproc/cluster/master.log /run/bproc/cluster/n*/slave.log; do
			[ -f "$log" ] || continue
			echo "# --- last lines of $log"
			tail -25 "$log" | sed 's/^/#   /'
		done
	fi
	bpcluster down >/dev/null 2>&1 || true
}

cluster_up() {
	# A test's own EXIT trap (which takes the cluster down too) stays.
	[ -n "$(trap -p EXIT)" ] || trap 'cluster_down' EXIT
	bpcluster down >/dev/null 2>&1 || true
	if ! bpcluster up "$@"; then
		not_ok "bpcluster up $1"
		[ -f /run/bproc/cluster/master.log ] && tail -20 /run/bproc/cluster/master.log
		exit 1
	fi
}

finish() {
	[ "$test_failures" -eq 0 ]
}
