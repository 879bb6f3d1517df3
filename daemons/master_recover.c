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
 * A master that dies as it makes the ghost (ghost/ghost.c) left the
 * process out of the cgroup, thawed and traced: the kernel let it go on
 * when its tracer died.  Until its registers were set for the injected
 * execve it runs on unharmed, as above; after, it ran the execve itself
 * and is a ghost whose copy was never let run.  The cgroup still names it
 * (its notes stay when it leaves), says whether the commit was sent
 * (freezer_mark_committed, for every move before its commit) and to which
 * node the copy went: that node held its copy frozen when its master link
 * dropped, and the ghost waits for it to say so (master_held.c), which
 * lets the copy run with the ghost taken back.  A node back without it
 * (or a cgroup that does not say which) has the half-made ghost ended at
 * once as killed, which its parent sees as for a process whose node went
 * down.  A tree's members are all armed for their execve before any runs
 * it (ghost/ghost_tree.c): a master that died in that loop, past the
 * root, left the rest originals that ran on here; each becomes its ghost
 * if the tree's copy runs on the node (master_held.c), and runs on here if
 * not.
 *
 * A process that waits for its own move (bproc_move(), each child of a
 * bpsh on many nodes) reads its wake pipe, which only the master writes:
 * thawed here, it is told the move failed (the pipe is noted on the
 * cgroup), or it would wait for good.  One whose ghost was half made is
 * woken on its node instead, when the copy held there is let run.
 *
 * A program held at its exec for bproc_execmove (noted "exec" on the
 * cgroup) has run no instruction of its own and must not run here: it is
 * killed, not thawed (its launcher's helper, if alive, killed it already).
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
#include "ghost.h"
#include "log.h"
#include "master.h"
#include "move_source.h"
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

/* Tell a process that waits for its own move that it failed (its wake
 * pipe as noted on the cgroup, if it is still that pipe). */
static void wake_failed(const char *path, pid_t pid)
{
	char name[32], note[96], pipe[64], fd_path[64], link[64];
	int fd;
	ssize_t n;

	snprintf(name, sizeof(name), "wake.%d", (int)pid);
	if (freezer_read_note(path, name, note, sizeof(note)) <= 0 ||
	    sscanf(note, "%d %63s", &fd, pipe) != 2)
		return;
	snprintf(fd_path, sizeof(fd_path), "/proc/%d/fd/%d", (int)pid, fd);
	n = readlink(fd_path, link, sizeof(link) - 1);
	if (n <= 0)
		return;
	link[n] = '\0';
	if (strcmp(link, pipe) == 0)
		move_wake(pid, fd, -ECONNRESET,
			  "the master died during the move; the process stays where it was");
}

/* The node the move took it to (master_moves.c: note_target), or -1. */
static int noted_target(const char *path)
{
	char note[16];
	long node;

	if (freezer_read_note(path, "to", note, sizeof(note)) <= 0 ||
	    parse_long(note, 0, 0x7fffffff, &node) < 0)
		return -1;
	return (int)node;
}

static bool in_cgroup(const struct freezer *f, pid_t pid)
{
	for (int i = 0; i < f->npids; i++)
		if (f->pids[i] == pid)
			return true;
	return false;
}

/* One the move took out of the cgroup to make its ghost.  half_made: a
 * member of its tree already runs the ghost (the root was armed first). */
static void recover_ghost_making(const char *path, pid_t pid, bool committed, int target,
				 bool half_made)
{
	if (kill(pid, 0) < 0)
		return;
	if (!runs_the_ghost(pid)) {
		if (committed || ghost_is_zombie(pid))
			return;
		if (half_made && target >= 0 && master_held_unarmed(pid, target) == 0) {
			/* Not armed when the master died (ghost_tree.c): it
			 * becomes its ghost if node's copy of the tree runs
			 * (master_held.c), never two. */
			pr_warn("process %d: a master before us died as it made the ghosts of its "
				"tree, before this one's: it runs on here until node %d says whether "
				"it holds the tree's copy",
				pid, target);
			return;
		}
		pr_warn("process %d was being made a ghost when a master before us died: it runs "
			"on here",
			pid);
		wake_failed(path, pid);
		return;
	}
	/* Committed: its copy runs, and its node claims it. */
	if (committed)
		return;
	/* Its original is gone; the copy it was moving to, held frozen by
	 * its node, is the process now: that node says so when it
	 * registers (Hello.held), and master_held.c lets it run. */
	if (target >= 0 && master_held_half_made(pid, target) == 0) {
		pr_warn("process %d: a master before us died having made its ghost but before its "
			"copy was let run: waiting for node %d's held copy",
			pid, target);
		return;
	}
	kill(pid, SIGKILL);
	pr_warn("process %d: a master before us died having made its ghost but before its copy "
		"was let run (its node is unknown): ended as killed",
		pid);
}

/* Thaw what a dead master froze, or kill it if its copy ran on. */
static void recover_cgroup(const char *path)
{
	struct freezer f;
	char file[PATH_MAX + 32];
	pid_t noted[FREEZER_MAX_PIDS];
	bool committed = false, exec_held, half_made = false;
	char note[8];
	int pid, r, n, target;
	FILE *procs;

	r = freezer_adopt(&f, path, &committed);
	if (r < 0) {
		pr_warn("%s, left by a master before us: %s", path, strerror(-r));
		return;
	}
	exec_held = freezer_read_note(path, "exec", note, sizeof(note)) > 0;
	snprintf(file, sizeof(file), "%s/cgroup.procs", path);
	procs = fopen(file, "re");
	while (procs && fscanf(procs, "%d", &pid) == 1) {
		/* Already its ghost: ghost adoption takes it back. */
		if (runs_the_ghost(pid))
			continue;
		if (committed) {
			kill(pid, SIGKILL);
			pr_warn("process %d: a master before us died after letting its copy run on a "
				"node before it became the ghost; killed here",
				pid);
		} else if (exec_held) {
			/* bproc_execmove's program, held at its exec: it must
			 * not run here. */
			kill(pid, SIGKILL);
			pr_warn("process %d was held at its exec for bproc_execmove when a master "
				"before us died: killed, it never ran",
				pid);
		} else {
			pr_warn("process %d was frozen for a move when a master before us died: "
				"thawed, it runs on here",
				pid);
			wake_failed(path, pid);
		}
	}
	if (procs)
		fclose(procs);
	n = freezer_noted_pids(path, noted, FREEZER_MAX_PIDS);
	target = noted_target(path);
	for (int i = 0; i < n; i++)
		half_made = half_made || (!in_cgroup(&f, noted[i]) && runs_the_ghost(noted[i]));
	for (int i = 0; i < n; i++)
		if (!in_cgroup(&f, noted[i]))
			recover_ghost_making(path, noted[i], committed, target, half_made);
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
