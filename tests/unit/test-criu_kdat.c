/*
 * test-criu_kdat.c - unit tests for migrate/criu_kdat.c: CRIU finds a
 * kernel-feature cache after criu_kdat_prepare(), also where /run is not a
 * tmpfs, and later CRIU runs load it.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "criu.h"
#include "criu_kdat.h"
#include "criu_run.h"
#include "freezer.h"

static char criu[4096];

static bool can_run(void)
{
	char root[256], version[32];

	return geteuid() == 0 && freezer_cgroup2_root(root, sizeof(root)) == 0 &&
	       criu_locate(NULL, criu, sizeof(criu)) == 0 &&
	       criu_version(criu, version, sizeof(version)) == 0;
}

Test(criu_kdat, made_once_then_loaded_by_every_criu_run)
{
	char dir[] = "/var/tmp/bproc-test-kdat-XXXXXX", err[512], cmd[160], path[200], line[512];
	bool loaded = false;
	struct stat st;
	struct freezer f;
	FILE *log;

	if (!can_run())
		cr_skip_test("needs root, cgroup v2 and a working CRIU");
	/* One test, not two: both change the one cache file of the host. */
	cr_expect_lt(criu_kdat_prepare("/bin/false"), 0, "a CRIU that fails made a cache");
	cr_expect_neq(stat(CRIU_KDAT_FILE ".bproc-new", &st), 0, "a temporary file was left");

	cr_assert_eq(criu_kdat_prepare(criu), 0);
	cr_assert_eq(stat(CRIU_KDAT_FILE, &st), 0, "no %s after preparing it", CRIU_KDAT_FILE);
	cr_expect_gt(st.st_size, 0);
	cr_expect_eq(st.st_mode & 077, 0, "the cache is for root only");

	/* A CRIU run (a dump that fails fast) says where its kernel facts came from. */
	cr_assert_not_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "test-criu-kdat-%d", (int)getpid());
	cr_assert_eq(freezer_create(&f, cmd), 0);
	cr_expect_lt(criu_dump_tree(criu, 999999, f.path, dir, err, sizeof(err)), 0);
	freezer_release(&f);
	snprintf(path, sizeof(path), "%s/dump.log", dir);
	log = fopen(path, "r");
	cr_assert_not_null(log);
	while (fgets(line, sizeof(line), log))
		loaded |= strstr(line, "Loaded kdat cache") != NULL;
	fclose(log);
	cr_expect(loaded, "CRIU did not load the kernel-feature cache");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}
