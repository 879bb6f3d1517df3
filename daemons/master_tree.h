/*
 * master_tree.h - the processes of a move: the tree rooted at the pid that
 * was asked for, frozen together, and made into ghosts together.
 */
#ifndef BPROC_MASTER_TREE_H
#define BPROC_MASTER_TREE_H

#include <stdbool.h>
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
/* Does a process of the tree other than the root hold the other end of the
 * root's fd (0, 1 or 2), the pipe key ("pipe:[INODE]")?  Then the pipe
 * moves whole with the tree and is not forwarded through the master. */
bool move_tree_holds_other_end(const struct move_tree *t, const char *key, int fd);

#endif
