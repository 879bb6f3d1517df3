/*
 * execmove.c - bproc_execmove(): execve(), but the program runs on a node.
 *
 * The caller moves itself to the node first (bproc_move: freeze, dump,
 * restore there, ghost on the master, commit) and then calls execve()
 * there, so the program never runs an instruction on the master and the
 * node needs nothing but bpslave and the program's files.  Moving first
 * keeps the failure simple: a move that fails leaves the caller where it
 * was, unchanged, and bproc_execmove returns -1 like a failed execve.
 *
 * Tried first, and left (see docs/migration.md): exec on the master, stop
 * the new program at its exec event with a ptrace helper, and move it
 * stopped.  CRIU restores a task dumped in a group stop in ways the commit
 * does not undo (seen: the copy left in state T after the commit, or gone
 * before the slave looked for it).
 */
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include "bproc.h"

int bproc_execmove(int node, const char *cmd, char *const argv[], char *const envp[])
{
	int here;

	if (!cmd || !argv || !envp) {
		errno = EINVAL;
		return -1;
	}
	here = bproc_currnode();
	if (here == BPROC_NODE_NONE)
		return -1;
	if (node == here)
		return execve(cmd, argv, envp);
	/* What execve would refuse, refused while we are still here. */
	if (access(cmd, X_OK) < 0)
		return -1;
	if (bproc_move(node) < 0)
		return -1;
	/* On node now.  A failure here (the file differs on the node) leaves
	 * the caller running there, as bproc_move() does. */
	return execve(cmd, argv, envp);
}
