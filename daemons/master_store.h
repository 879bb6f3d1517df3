/*
 * master_store.h - what bpmaster keeps across its restarts, in SQLite.
 *
 * Only what cannot be learnt again is written down: the node settings an
 * administrator made with bpctl (mode, owner, group), which the
 * configuration file does not hold.  The processes running on the nodes
 * need nothing written: their ghosts are the master's table, and a new
 * master takes them back from the live system (docs/architecture.md).
 */
#ifndef BPROC_MASTER_STORE_H
#define BPROC_MASTER_STORE_H

#include <stddef.h>

struct master_store;

struct node_settings {
	int node;
	unsigned int mode; /* execute bits */
	unsigned int uid, gid;
};

/* Open (creating) the store at path.  0, or -errno with why in err. */
int master_store_open(const char *path, struct master_store **out, char *err, size_t errlen);
void master_store_close(struct master_store *st);
/* Remember one node's settings (replacing what was there). */
int master_store_save(struct master_store *st, const struct node_settings *ns);
/* Each node's settings as saved, to fn; 0 or -errno. */
int master_store_load(struct master_store *st, void (*fn)(const struct node_settings *ns, void *arg),
		      void *arg);

#endif
