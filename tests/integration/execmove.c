/*
 * execmove.c - a real program for test-execmove.sh: a caller of
 * bproc_execmove() that says who it is first, and what it is left with if
 * the call returns.
 *
 *   execmove NODE CMD [ARGS...]
 *
 * Prints "caller pid=PID" and calls bproc_execmove(NODE, CMD, ARGS).  If
 * that returns, the caller is still here, unchanged: it prints "returned
 * r=R err=WHY node=WHERE pid=PID tracer=TRACERPID" (its node and its
 * tracer as it sees them afterwards) and exits 42.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bproc.h"

static int tracer_pid(void)
{
	char line[256];
	int t = -1;
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "TracerPid: %d", &t) == 1)
			break;
	if (f)
		fclose(f);
	return t;
}

int main(int argc, char **argv)
{
	char why[256];
	int r;

	if (argc < 3) {
		fprintf(stderr, "usage: execmove NODE CMD [ARGS...]\n");
		return 2;
	}
	printf("caller pid=%d\n", (int)getpid());
	fflush(stdout);
	r = bproc_execmove(atoi(argv[1]), argv[2], argv + 2, environ);
	snprintf(why, sizeof(why), "%s", bproc_errmsg() ? bproc_errmsg() : bproc_strerror(errno));
	printf("returned r=%d err=%s node=%d pid=%d tracer=%d\n", r, why, bproc_currnode(),
	       (int)getpid(), tracer_pid());
	return 42;
}
