/*
 * master_store.c - see master_store.h.  One SQLite database, one table:
 *
 *   node_settings(node INTEGER PRIMARY KEY, mode, uid, gid)
 *
 * written at each bpctl change, read once at start.  SQLite gives the
 * atomic, crash-safe update a hand-rolled file would have to get right.
 */
#include "master_store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

struct master_store {
	sqlite3 *db;
};

static int fail(struct master_store *st, int r, char *err, size_t errlen, const char *what)
{
	if (err)
		snprintf(err, errlen, "%s: %s", what, st && st->db ? sqlite3_errmsg(st->db) : "no memory");
	return r;
}

int master_store_open(const char *path, struct master_store **out, char *err, size_t errlen)
{
	struct master_store *st = calloc(1, sizeof(*st));
	int r;

	*out = NULL;
	if (!st)
		return fail(NULL, -ENOMEM, err, errlen, path);
	{
		/* Its directory (/var/lib/bproc) may not be there yet. */
		char dir[4096];
		char *slash;

		snprintf(dir, sizeof(dir), "%s", path);
		slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = '\0';
			mkdir(dir, 0700);
		}
	}
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		r = fail(st, -EIO, err, errlen, path);
		master_store_close(st);
		return r;
	}
	/* A second daemon on the same file waits a little, then fails. */
	sqlite3_busy_timeout(st->db, 1000);
	if (sqlite3_exec(st->db,
			 "CREATE TABLE IF NOT EXISTS node_settings ("
			 " node INTEGER PRIMARY KEY, mode INTEGER NOT NULL,"
			 " uid INTEGER NOT NULL, gid INTEGER NOT NULL)",
			 NULL, NULL, NULL) != SQLITE_OK) {
		r = fail(st, -EIO, err, errlen, path);
		master_store_close(st);
		return r;
	}
	*out = st;
	return 0;
}

void master_store_close(struct master_store *st)
{
	if (!st)
		return;
	sqlite3_close(st->db);
	free(st);
}

int master_store_save(struct master_store *st, const struct node_settings *ns)
{
	sqlite3_stmt *q = NULL;
	int r = 0;

	if (sqlite3_prepare_v2(st->db,
			       "INSERT OR REPLACE INTO node_settings (node, mode, uid, gid) "
			       "VALUES (?, ?, ?, ?)",
			       -1, &q, NULL) != SQLITE_OK ||
	    sqlite3_bind_int(q, 1, ns->node) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 2, ns->mode) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 3, ns->uid) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 4, ns->gid) != SQLITE_OK || sqlite3_step(q) != SQLITE_DONE) {
		pr_err("store: node %d: %s", ns->node, sqlite3_errmsg(st->db));
		r = -EIO;
	}
	sqlite3_finalize(q);
	return r;
}

int master_store_load(struct master_store *st, void (*fn)(const struct node_settings *ns, void *arg),
		      void *arg)
{
	sqlite3_stmt *q = NULL;
	int r;

	if (sqlite3_prepare_v2(st->db, "SELECT node, mode, uid, gid FROM node_settings", -1, &q,
			       NULL) != SQLITE_OK) {
		pr_err("store: %s", sqlite3_errmsg(st->db));
		return -EIO;
	}
	while ((r = sqlite3_step(q)) == SQLITE_ROW) {
		struct node_settings ns = {
			.node = sqlite3_column_int(q, 0),
			.mode = (unsigned int)sqlite3_column_int64(q, 1) & 0111,
			.uid = (unsigned int)sqlite3_column_int64(q, 2),
			.gid = (unsigned int)sqlite3_column_int64(q, 3),
		};

		fn(&ns, arg);
	}
	if (r != SQLITE_DONE)
		pr_err("store: %s", sqlite3_errmsg(st->db));
	sqlite3_finalize(q);
	return r == SQLITE_DONE ? 0 : -EIO;
}
