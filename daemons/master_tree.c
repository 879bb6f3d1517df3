/*
 * master_tree.c - a move takes the whole process tree: freeze it as one
 * (migrate/freezer.c), note each member's command line, and after the
 * restore turn every member into its own ghost (ghost/ghost_tree.c), so
 * the master's process table keeps the tree's shape.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "master.h"
#include "master_tree.h"
#include "util.h"

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

/* The access mode of pid's fd, from its fdinfo; -1 if unknown. */
static int fd_access_mode(pid_t pid, const char *fd)
{
	char path[64 + 256], line[128];
	_cleanup_fclose_ FILE *f = NULL;
	unsigned int flags;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", (int)pid, fd);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "flags: %o", &flags) == 1)
			return (int)(flags & O_ACCMODE);
	return -1;
}

bool move_tree_holds_other_end(const struct move_tree *t, const char *key, int fd)
{
	int want = fd == 0 ? O_WRONLY : O_RDONLY;

	for (int i = 1; i < t->n; i++) {
		char path[64], link[96];
		struct dirent *e;
		DIR *d;
		bool found = false;

		snprintf(path, sizeof(path), "/proc/%d/fd", (int)t->pid[i]);
		d = opendir(path);
		while (d && !found && (e = readdir(d))) {
			char entry[96 + 256];
			ssize_t n;

			if (e->d_name[0] == '.')
				continue;
			snprintf(entry, sizeof(entry), "%s/%s", path, e->d_name);
			n = readlink(entry, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = '\0';
			found = strcmp(link, key) == 0 && fd_access_mode(t->pid[i], e->d_name) == want;
		}
		if (d)
			closedir(d);
		if (found)
			return true;
	}
	return false;
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
