/*
 * master_recover.c - what a master that died in the middle of a move left
 * behind, put right by the next one as it starts.
 *
 * A move freezes the process (with its tree) in a cgroup of its own,
 * bproc/move-PID (migrate/freezer.c), until its copy runs on the node.  A
 * master that dies meanwhile (a crash, SIGKILL, a reboot of the daemon)
 * would leave it frozen there for good, while the slave kills the copy it
 * was holding for the commit when the link breaks: the process would be
 * lost.  The next master thaws it and sends it back to its cgroup: it runs
 * on here, as after any failed move, and its parent saw nothing.
 *
 * Except once a --lazy move was committed: its copy was let run on the
 * node before all its pages were across, so the original is behind the
 * copy, and thawing it would run again what the copy already did.  The
 * freezer's cgroup says so (freezer_mark_committed, before the commit is
 * sent); such an original is killed, which its parent sees as a death by
 * SIGKILL, as for a process whose node went down.
 *
 * A CRIU of the dead master may still be at work on such a cgroup (a dump
 * goes on when its parent dies): the tasks are its, seized, and it leaves
 * the cgroup frozen as it found it when it ends.  So a cgroup is taken
 * over only once no CRIU names it any more; until then it is looked at
 * again every tick.
 *
 * (The image directories of its moves go too, in master_moves.c:
 * master_moves_clean_images.)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "freezer.h"
#include "log.h"
#include "master.h"
#include "util.h"

/* A move's cgroup is "move-PID" (master_moves.c); a slave's on this same
 * machine (a local cluster) "nodeN-move-ID", never ours to touch. */
#define MOVE_CGROUP_PREFIX "move-"
#define MAX_LEFTOVERS 64

static bool waiting;     /* a cgroup was left for a CRIU still at work */
static pid_t waited_for; /* the last such CRIU we said we wait for */

/* The pid of a CRIU whose command line freezes path, or 0. */
static pid_t criu_working_on(const char *path)
{
	struct dirent *e;
	pid_t found = 0;
	DIR *d = opendir("/proc");

	while (d && !found && (e = readdir(d))) {
		char file[64], args[8192];
		long pid;
		ssize_t n;
		int fd;

		if (parse_long(e->d_name, 2, 0x7fffffff, &pid) < 0 || pid == getpid())
			continue;
		snprintf(file, sizeof(file), "/proc/%ld/cmdline", pid);
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, args, sizeof(args) - 1);
		close(fd);
		if (n <= 0)
			continue;
		args[n] = '\0';
		/* The arguments, NUL-separated: "--freeze-cgroup" then path. */
		for (char *a = args; a < args + n; a += strlen(a) + 1)
			if (strcmp(a, "--freeze-cgroup") == 0 && a + strlen(a) + 1 < args + n &&
			    strcmp(a + strlen(a) + 1, path) == 0)
				found = (pid_t)pid;
	}
	if (d)
		closedir(d);
	return found;
}

static bool runs_the_ghost(pid_t pid)
{
	char path[64], exe[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n < 0)
		return false;
	exe[n] = '\0';
	/* The program may have been rebuilt since: "(deleted)". */
	return strstr(exe, "/bproc-ghost") != NULL;
}

/* Thaw what a dead master froze, or kill it if its copy ran on. */
static void recover_cgroup(const char *path)
{
	struct freezer f;
	char file[PATH_MAX + 32];
	bool committed = false;
	int pid, r;
	FILE *procs;

	r = freezer_adopt(&f, path, &committed);
	if (r < 0) {
		pr_warn("%s, left by a master before us: %s", path, strerror(-r));
		return;
	}
	snprintf(file, sizeof(file), "%s/cgroup.procs", path);
	procs = fopen(file, "re");
	while (procs && fscanf(procs, "%d", &pid) == 1) {
		/* Already its ghost: ghost adoption takes it back. */
		if (runs_the_ghost(pid))
			continue;
		if (committed) {
			kill(pid, SIGKILL);
			pr_warn("process %d: a master before us died after letting its copy run on a "
				"node (--lazy) before its pages were across; killed here",
				pid);
		} else {
			pr_warn("process %d was frozen for a move when a master before us died: "
				"thawed, it runs on here",
				pid);
		}
	}
	if (procs)
		fclose(procs);
	freezer_release(&f);
}

static void recover_frozen(void)
{
	char (*paths)[PATH_MAX] = calloc(MAX_LEFTOVERS, PATH_MAX);
	int n;

	waiting = false;
	if (!paths)
		return;
	n = freezer_leftovers(MOVE_CGROUP_PREFIX, paths, MAX_LEFTOVERS);
	if (n < 0)
		pr_warn("cannot look for moves a master before us left: %s", strerror(-n));
	for (int i = 0; i < n; i++) {
		pid_t criu = criu_working_on(paths[i]);

		if (criu > 0) {
			if (criu != waited_for)
				pr_info("%s: CRIU %d of a master before us still works on it; waiting",
					paths[i], (int)criu);
			waited_for = criu;
			waiting = true;
			continue;
		}
		recover_cgroup(paths[i]);
	}
	free(paths);
}

void master_recover_start(void)
{
	recover_frozen();
}

void master_recover_tick(void)
{
	if (waiting)
		recover_frozen();
}
