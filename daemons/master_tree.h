/*
 * master_tree.h - the processes of a move: the tree rooted at the pid that
 * was asked for, frozen together, and made into ghosts together.
 */
#ifndef BPROC_MASTER_TREE_H
#define BPROC_MASTER_TREE_H

#include <sys/types.h>

#include "freezer.h"
#include "ghost.h"

struct move_tree {
	int n;                              /* [0] is the root; parents first */
	pid_t pid[FREEZER_MAX_PIDS];
	char comm[FREEZER_MAX_PIDS][32];
	char **argv[FREEZER_MAX_PIDS];      /* for ps, on the ghosts */
	struct ghost_member ghost[FREEZER_MAX_PIDS];
};

/* root and its descendants as they are now, parents first (at most max). */
int move_tree_list(pid_t root, pid_t *out, int max);
/* Freeze root and all its descendants in f (created, empty) and note who
 * they are.  On failure the caller releases f: they run on. */
int move_tree_freeze(struct move_tree *t, struct freezer *f, pid_t root);
/* After the copies are restored: every member becomes its ghost (see
 * ghost_make_tree()); t->ghost[i].made says which did. */
int move_tree_make_ghosts(struct move_tree *t, struct freezer *f, const char *ghost_path);
void move_tree_free(struct move_tree *t);

#endif
