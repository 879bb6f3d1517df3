/*
 * master_tree.c - a move takes the whole process tree: freeze it as one
 * (migrate/freezer.c), note each member's command line, and after the
 * restore turn every member into its own ghost (ghost/ghost_tree.c), so
 * the master's process table keeps the tree's shape.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "master.h"
#include "master_tree.h"

int move_tree_list(pid_t root, pid_t *out, int max)
{
	int n = 1;

	if (max < 1)
		return 0;
	out[0] = root;
	for (int i = 0; i < n; i++) {
		int k = freezer_children(out[i], out + n, max - n);

		if (k > 0)
			n += k;
	}
	return n;
}

int move_tree_freeze(struct move_tree *t, struct freezer *f, pid_t root)
{
	int r = freezer_add_tree(f, root);

	if (r < 0)
		return r;
	t->n = f->npids;
	for (int i = 0; i < t->n; i++) {
		t->pid[i] = f->pids[i];
		t->argv[i] = master_read_cmdline(t->pid[i], t->comm[i], sizeof(t->comm[i]));
		if (!t->argv[i])
			return -ENOMEM;
	}
	return 0;
}

static void thaw_one(pid_t pid, void *data)
{
	freezer_remove(data, pid);
}

int move_tree_make_ghosts(struct move_tree *t, struct freezer *f, const char *ghost_path)
{
	for (int i = 0; i < t->n; i++) {
		memset(&t->ghost[i], 0, sizeof(t->ghost[i]));
		t->ghost[i].pid = t->pid[i];
		t->ghost[i].argv = t->argv[i];
		t->ghost[i].comm = t->comm[i];
	}
	return ghost_make_tree(t->ghost, t->n, ghost_path, thaw_one, f);
}

void move_tree_free(struct move_tree *t)
{
	if (!t)
		return;
	for (int i = 0; i < t->n; i++) {
		if (!t->argv[i])
			continue;
		for (char **a = t->argv[i]; *a; a++)
			free(*a);
		free(t->argv[i]);
	}
	free(t);
}
