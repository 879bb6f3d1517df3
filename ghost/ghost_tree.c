/*
 * ghost_tree.c - every process of a tree that moved becomes its own ghost:
 * each keeps its pid, its parent (the ghost of its real parent), process
 * group and session, so ps on the master still shows the tree.  See
 * ghost_make_tree() in ghost.h for the order and the rollback.
 *
 * Why arm them all before any execve: a master that dies while it makes
 * the ghosts leaves each task to run on as its registers say.  Made one
 * after another (3 ms each), a death after the root's execve left the
 * members not yet armed running on here as originals while their copies
 * were held on the node for the root: two of each once the node's copy was
 * let run.  Armed together (microseconds), a death leaves them all ghosts,
 * or, only inside that loop, the rest originals, which the next master
 * makes ghosts once the node says it holds the tree's copy
 * (daemons/master_recover.c, daemons/master_held.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "ghost.h"
#include "log.h"
#include "util.h"

bool ghost_is_zombie(pid_t pid)
{
	char state = proc_state(pid);

	return state == 'Z' || state == 'X';
}

int ghost_make_tree(struct ghost_member *members, int n, const char *ghost_path,
		    void (*thaw)(pid_t pid, void *data), void *data)
{
	bool seized[n > 0 ? n : 1];
	struct ghost_injection **inj = calloc(n > 0 ? (size_t)n : 1, sizeof(*inj));
	int r = 0;

	if (!inj)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		members[i].made = false;
		members[i].early.n = 0;
		seized[i] = false;
	}
	/* Hold every live member before any of them runs again. */
	for (int i = 0; i < n && r == 0; i++) {
		if (i > 0 && ghost_is_zombie(members[i].pid))
			continue;
		r = ghost_seize(members[i].pid);
		seized[i] = r == 0;
	}
	if (r < 0)
		goto release;
	for (int i = 0; i < n; i++)
		thaw(members[i].pid, data);

	/* Nothing of theirs is changed yet: any failure lets all go. */
	for (int i = 0; i < n && r == 0; i++)
		if (seized[i])
			r = ghost_exec_prepare(members[i].pid, ghost_path, members[i].argv,
					       members[i].comm, &members[i].early, &inj[i]);
	if (r < 0)
		goto release;
	r = ghost_exec_arm(inj[0]);
	if (r < 0)
		goto release;
	/* The master dies with the root armed, the rest not (the window
	 * the loop below keeps to microseconds). */
	if (n > 1 && fault_at("master-die-tree-root"))
		kill(getpid(), SIGKILL);
	for (int i = 1; i < n; i++)
		if (inj[i] && ghost_exec_arm(inj[i]) < 0) {
			/* Killed below once the root is its ghost; its code
			 * (no vDSO) put back should the root fail instead. */
			ghost_exec_cancel(inj[i]);
			ghost_injection_free(inj[i]);
			inj[i] = NULL;
		}
	if (fault_at("master-die-exec"))
		kill(getpid(), SIGKILL);

	r = ghost_exec_finish(inj[0], ghost_path);
	if (r < 0)
		goto release;
	members[0].made = true;

	/* Past the root's exec there is no way back: the copies run. */
	for (int i = 1; i < n; i++) {
		int k = inj[i] ? ghost_exec_finish(inj[i], ghost_path) : -EIO;

		if (!seized[i])
			continue;
		if (k == 0) {
			members[i].made = true;
			continue;
		}
		/* Never two copies running: the original goes. */
		pr_err("ghost: process %d of the tree of %d cannot become a ghost (%s); it runs on only on the node",
		       members[i].pid, members[0].pid, strerror(-k));
		kill(members[i].pid, SIGKILL);
		ghost_release(members[i].pid);
	}
	for (int i = 0; i < n; i++)
		ghost_injection_free(inj[i]);
	free(inj);
	return 0;

release:
	for (int i = 0; i < n; i++) {
		/* Prepared (perhaps armed): as it was.  (A root whose
		 * execve failed was put back already; again does no harm.) */
		if (inj[i])
			ghost_exec_cancel(inj[i]);
		ghost_injection_free(inj[i]);
		if (seized[i])
			ghost_release(members[i].pid);
	}
	free(inj);
	return r;
}
