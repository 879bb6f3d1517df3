/*
 * move-self.c - a real program for test-bpmove-nodes.sh that uses libbproc
 * to move itself and to fork children onto nodes.
 *
 *   move-self NODE_A NODE_B DOWN_NODE
 *
 * On the master: bproc_vexecmove() /bin/sh to NODE_A, NODE_B and DOWN_NODE
 * (the first two run it and exit 3, the third exits 127); bproc_rfork() a child to NODE_A (it reports where it runs
 * and exits 17), bproc_vrfork() to NODE_A and NODE_B (child i exits 20+i);
 * then bproc_move() itself to NODE_A, then to NODE_B, then tries the master
 * and DOWN_NODE, which must fail and leave it where it was.  A 16 MiB
 * buffer's checksum is checked after every step.  Each line it prints is
 * one fact the test checks.
 */
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bproc.h"

#define SIZE (16u << 20)

static uint8_t *buf;
static uint64_t sum_before;

static uint64_t checksum(void)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < SIZE; i++)
		h = (h ^ buf[i]) * 1099511628211ull;
	return h;
}

static void say(const char *step, int r)
{
	char why[256];
	int node;

	/* Before the next call, which forgets it. */
	snprintf(why, sizeof(why), "%s",
		 r >= 0 ? "-" : bproc_errmsg() ? bproc_errmsg() : bproc_strerror(errno));
	node = bproc_currnode();
	printf("%s r=%d err=%s node=%d pid=%d mem=%s\n", step, r, why, node, (int)getpid(),
	       checksum() == sum_before ? "ok" : "BAD");
	fflush(stdout);
}

static void child_status(const char *what, pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		printf("%s wait failed: %s\n", what, strerror(errno));
	else if (WIFEXITED(status))
		printf("%s exit=%d\n", what, WEXITSTATUS(status));
	else
		printf("%s status=0x%x\n", what, status);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int a, b, down, nodes[2], pids[2], r;
	pid_t child;

	if (argc != 4) {
		fprintf(stderr, "usage: move-self NODE_A NODE_B DOWN_NODE\n");
		return 2;
	}
	a = atoi(argv[1]);
	b = atoi(argv[2]);
	down = atoi(argv[3]);

	/* bproc_vexecmove first, while this process is small enough for one
	 * dump to serve every node: each copy says where it runs, and which
	 * pid it has there. */
	{
		int vnodes[3] = { a, b, down }, vpids[3];
		char *args[] = { "/bin/sh", "-c",
				 "echo vexec on $(cat /proc/sys/kernel/hostname) pid $$; exit 3", NULL };

		fflush(stdout);
		r = bproc_vexecmove(3, vnodes, vpids, "/bin/sh", args, environ);
		printf("vexecmove r=%d pids %d %d\n", r, r == 3 ? vpids[0] : 0,
		       r == 3 ? vpids[1] : 0);
		fflush(stdout);
		for (int i = 0; r == 3 && i < 3; i++) {
			char what[32];

			snprintf(what, sizeof(what), "vexec child %d", i);
			child_status(what, vpids[i]);
		}
	}

	buf = malloc(SIZE);
	if (!buf)
		return 1;
	for (size_t i = 0; i < SIZE; i++)
		buf[i] = (uint8_t)(i * 2654435761u >> 13);
	sum_before = checksum();
	say("start", 0);

	child = bproc_rfork(a);
	if (child == 0) {
		printf("rfork child node=%d ppid=%d\n", bproc_currnode(), (int)getppid());
		fflush(stdout);
		_exit(17);
	}
	if (child < 0)
		say("rfork", -1);
	else
		child_status("rfork child", child);

	nodes[0] = a;
	nodes[1] = b;
	r = bproc_vrfork(2, nodes, pids);
	if (r >= 0 && r < 2) {
		printf("vrfork child %d node=%d\n", r, bproc_currnode());
		fflush(stdout);
		_exit(20 + r);
	}
	for (int i = 0; r == 2 && i < 2; i++) {
		char what[32];

		snprintf(what, sizeof(what), "vrfork child %d", i);
		if (pids[i] > 0)
			child_status(what, pids[i]);
		else
			printf("%s failed: %s\n", what, bproc_strerror(-pids[i]));
	}

	/* The _io forms: the child's stdout is a file on the node. */
	struct bproc_io_t io = { .fd = 1, .type = BPROC_IO_FILE };

	io.d.file.flags = O_WRONLY | O_CREAT | O_TRUNC;
	io.d.file.mode = 0644;
	snprintf(io.d.file.name, sizeof(io.d.file.name), "/tmp/move-self-rfork-io");
	child = bproc_rfork_io(a, &io, 1);
	if (child == 0) {
		printf("rfork_io child node=%d\n", bproc_currnode());
		fflush(stdout);
		_exit(0);
	}
	child_status("rfork_io child", child);
	child = fork();
	if (child == 0) {
		char *args[] = { "/bin/sh", "-c", "echo rexec_io on $(cat /proc/sys/kernel/hostname)",
				 NULL };

		snprintf(io.d.file.name, sizeof(io.d.file.name), "/tmp/move-self-rexec-io");
		bproc_rexec_io(b, &io, 1, "/bin/sh", args, environ);
		_exit(126);
	}
	child_status("rexec_io child", child);
	snprintf(io.d.file.name, sizeof(io.d.file.name), "/nonexistent/move-self");
	child = bproc_rfork_io(a, &io, 1);
	if (child == 0)
		_exit(0);
	child_status("rfork_io to a file the node cannot make", child);

	say("move-a", bproc_move(a));
	say("move-b", bproc_move(b));
	say("move-master", bproc_move(BPROC_NODE_MASTER));
	say("move-down", bproc_move(down));
	return checksum() == sum_before ? 0 : 1;
}
