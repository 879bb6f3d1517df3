/*
 * move-wait.c - a program for test-faults-held.sh that moves itself with
 * bproc_move() while the master is killed under it.
 *
 *   move-wait NODE [CHILDREN]
 *
 * It fills a 256 KiB buffer, moves itself to NODE (it waits on its wake
 * pipe meanwhile), prints the outcome ("moved r=R node=N err=..."), then a
 * line "tick N" every 100 ms, and on SIGUSR1 "alive ok|BAD HOSTNAME" (the
 * buffer's checksum, where it runs).  It never ends by itself: a signal
 * through its ghost ends it, which its parent's wait() must show.
 * With CHILDREN, it first starts that many children (printed as "child
 * PID"), which move with it as its tree; each says "child alive ok|BAD
 * HOSTNAME PID" on SIGUSR1 and nothing else.  Each child is a python3
 * with a buffer of its own: CRIU 4.2.1 cannot restore a tree of two or more
 * processes built with AddressSanitizer (the root dies of SIGSEGV in the
 * restore, docs/migration.md), and the tests run this one so built.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bproc.h"

#define SIZE (256u << 10)

static uint8_t buf[SIZE];
static uint64_t sum_before;
static volatile sig_atomic_t asked;

static uint64_t checksum(void)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < SIZE; i++)
		h = (h ^ buf[i]) * 1099511628211ull;
	return h;
}

static void on_usr1(int sig)
{
	(void)sig;
	asked = 1;
}

static void fill_buffer(void)
{
	srand((unsigned)getpid());
	for (size_t i = 0; i < SIZE; i++)
		buf[i] = (uint8_t)rand();
	sum_before = checksum();
}

static const char child_program[] =
	"import hashlib, os, signal, time\n"
	"data = os.urandom(1 << 18)\n"
	"before = hashlib.sha256(data).digest()\n"
	"def report(sig, frame):\n"
	"    ok = 'ok' if hashlib.sha256(data).digest() == before else 'BAD'\n"
	"    host = open('/proc/sys/kernel/hostname').read().strip()\n"
	"    print('child alive', ok, host, os.getpid(), flush=True)\n"
	"signal.signal(signal.SIGUSR1, report)\n"
	"while True:\n"
	"    time.sleep(0.05)\n";

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct timespec tick = { 0, 100 * 1000 * 1000 };
	char host[64] = "", why[256];
	long node, children = 0;
	int r;

	if (argc < 2 || argc > 3 || (node = strtol(argv[1], NULL, 10)) < 0 ||
	    (argc == 3 && (children = strtol(argv[2], NULL, 10)) < 0)) {
		fprintf(stderr, "usage: move-wait NODE [CHILDREN]\n");
		return 2;
	}
	fill_buffer();
	/* A SIGUSR1 during the move must not end its read of the wake pipe. */
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	for (long c = 0; c < children; c++) {
		pid_t child = fork();

		if (child == 0) {
			execlp("python3", "python3", "-c", child_program, (char *)NULL);
			_exit(127);
		}
		printf("child %d\n", (int)child);
	}
	fflush(stdout);
	r = bproc_move((int)node);
	/* Before the next call, which forgets it. */
	snprintf(why, sizeof(why), "%s",
		 r == 0 ? "-" : bproc_errmsg() ? bproc_errmsg() : strerror(errno));
	printf("moved r=%d node=%d err=%s\n", r, bproc_currnode(), why);
	fflush(stdout);
	for (long n = 0;; n++) {
		if (asked) {
			asked = 0;
			gethostname(host, sizeof(host) - 1);
			printf("alive %s %s\n", checksum() == sum_before ? "ok" : "BAD", host);
		}
		printf("tick %ld\n", n);
		fflush(stdout);
		nanosleep(&tick, NULL);
	}
}
