/*
 * ghost_tree.c - every process of a tree that moved becomes its own ghost:
 * each keeps its pid, its parent (the ghost of its real parent), process
 * group and session, so ps on the master still shows the tree.  See
 * ghost_make_tree() in ghost.h for the order and the rollback.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
	int r = 0;

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

	r = ghost_exec(members[0].pid, ghost_path, members[0].argv, members[0].comm,
		       &members[0].early);
	if (r < 0)
		goto release;
	members[0].made = true;

	/* Past the root's exec there is no way back: the copies run. */
	for (int i = 1; i < n; i++) {
		int k;

		if (!seized[i])
			continue;
		k = ghost_exec(members[i].pid, ghost_path, members[i].argv, members[i].comm,
			       &members[i].early);
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
	return 0;

release:
	for (int i = 0; i < n; i++)
		if (seized[i])
			ghost_release(members[i].pid);
	return r;
}
