/*
 * bpmove - move a running process to another node.
 *
 *   bpmove [--lazy] PID NODE      NODE is a node number, or -1 / "master"
 *
 * The process keeps its pid; on the master its ghost stands in for it (see
 * docs/migration.md).  Prints nothing on success; on failure, why, and the
 * process runs on where it was.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bproc.h"
#include "version.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: bpmove [options] PID NODE\n"
		"Move a running process to NODE (a node number, or -1 or 'master').\n"
		"\n"
		"  -l, --lazy     post-copy: the process runs on NODE at once and its\n"
		"                 memory follows on demand (a short freeze for a big process)\n"
		"  -h, --help     this text\n"
		"  -V, --version  the version\n");
}

static int parse_int(const char *s, long min, long max, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return (*s && !*end && errno == 0 && *out >= min && *out <= max) ? 0 : -1;
}

int main(int argc, char **argv)
{
	long pid, node;
	int flags = 0;

	if (argc >= 2 && (!strcmp(argv[1], "-l") || !strcmp(argv[1], "--lazy"))) {
		flags |= BPROC_MOVE_LAZY;
		argv++;
		argc--;
	}
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (argc == 2 && (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version"))) {
		printf("bpmove (bproc) %s\n", BPROC_VERSION);
		return 0;
	}
	if (argc != 3) {
		usage(stderr);
		return 1;
	}
	if (parse_int(argv[1], 1, 0x7fffffff, &pid) < 0) {
		fprintf(stderr, "bpmove: '%s' is not a process id\n", argv[1]);
		return 1;
	}
	if (!strcmp(argv[2], "master"))
		node = BPROC_NODE_MASTER;
	else if (parse_int(argv[2], -1, 0x7fffffff, &node) < 0) {
		fprintf(stderr, "bpmove: '%s' is not a node number\n", argv[2]);
		return 1;
	}
	if (bproc_movepid_flags((pid_t)pid, (int)node, flags) < 0) {
		const char *why = bproc_errmsg();

		fprintf(stderr, "bpmove: %ld: %s\n", pid, why ? why : bproc_strerror(errno));
		return 1;
	}
	return 0;
}
