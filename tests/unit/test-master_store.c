/*
 * test-master_store.c - daemons/master_store.c: node settings written,
 * read back by the next master, replaced; a store that cannot be opened
 * says why.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "master_store.h"

static char dir[] = "/tmp/bproc-test-store.XXXXXX";
static char path[128];

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sub/master.db", dir);
}

static void teardown(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(master_store, .init = setup, .fini = teardown);

struct seen {
	int n;
	struct node_settings ns[8];
};

static void collect(const struct node_settings *ns, void *arg)
{
	struct seen *s = arg;

	if (s->n < 8)
		s->ns[s->n++] = *ns;
}

Test(master_store, settings_survive_a_restart_and_are_replaced)
{
	struct master_store *st;
	struct node_settings a = { 1, 0100, 1000, 100 }, b = { 3, 0111, 0, 0 };
	struct seen seen = { 0 };
	char err[256];

	cr_assert_eq(master_store_open(path, &st, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(master_store_save(st, &a), 0);
	cr_assert_eq(master_store_save(st, &b), 0);
	a.mode = 0001;
	cr_assert_eq(master_store_save(st, &a), 0, "a second change replaces the first");
	master_store_close(st);

	/* The next master. */
	cr_assert_eq(master_store_open(path, &st, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(master_store_load(st, collect, &seen), 0);
	master_store_close(st);
	cr_assert_eq(seen.n, 2);
	for (int i = 0; i < seen.n; i++) {
		const struct node_settings *ns = &seen.ns[i];

		if (ns->node == 1)
			cr_expect(ns->mode == 0001 && ns->uid == 1000 && ns->gid == 100);
		else
			cr_expect(ns->node == 3 && ns->mode == 0111 && ns->uid == 0 && ns->gid == 0);
	}
}

Test(master_store, a_store_that_cannot_be_opened_says_why)
{
	struct master_store *st = (struct master_store *)1;
	char err[256] = "", bad[160];

	/* A directory where the file should be. */
	snprintf(bad, sizeof(bad), "%s", dir);
	cr_assert_lt(master_store_open(bad, &st, err, sizeof(err)), 0);
	cr_assert_null(st);
	cr_assert_neq(err[0], '\0');
}
