/*
 * ghost.c - make a frozen task execve() the ghost program, and read what
 * happens to the ghost afterwards.  See ghost.h for the sequence.
 *
 * The injection: with the main thread in a ptrace stop, write the ghost's
 * path, argv and environment below its stack pointer (past the red zone),
 * point its registers at execve and at a `syscall` instruction already in
 * its memory (the vDSO has some), and step through the system call.  If
 * the kernel refuses the execve, the registers are put back and the task
 * is exactly as it was.
 *
 * Nothing of its code is written over, because the master may die (a
 * crash, SIGKILL) at any step: the kernel then lets the task go on as its
 * registers say.  Before they are set it runs on unharmed (what was
 * written is below its stack, unused); after, it runs the execve itself and
 * is the ghost, whose copy its node holds for the next master
 * (daemons/master_recover.c, daemons/master_held.c).  A `syscall` written at its
 * instruction pointer, the old way, left a task that ran two bytes of
 * ours in its own code if the master died between the write and the
 * registers (seen: SIGSEGV).  That way is kept only for a task without a
 * vDSO.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault.h"
#include "ghost.h"
#include "log.h"
#include "util.h"

#define MAX_THREADS 1024
#define TRAP_TIMEOUT_MS 5000

/* The thread ids of pid; returns how many (at most max). */
static int list_threads(pid_t pid, pid_t *tids, int max)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? -ESRCH : -errno;
	while ((e = readdir(d)) && n < max) {
		long tid;

		if (parse_long(e->d_name, 1, 0x7fffffff, &tid) == 0)
			tids[n++] = (pid_t)tid;
	}
	closedir(d);
	return n;
}

int ghost_seize(pid_t pid)
{
	pid_t tids[MAX_THREADS];
	int n = list_threads(pid, tids, MAX_THREADS);

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		if (ptrace(PTRACE_SEIZE, tids[i], 0, PTRACE_O_TRACEEXEC | PTRACE_O_TRACESYSGOOD) < 0 ||
		    ptrace(PTRACE_INTERRUPT, tids[i], 0, 0) < 0) {
			int r = -errno;

			pr_err("ghost: cannot attach to thread %d of %d: %s", tids[i], pid, strerror(errno));
			for (int j = 0; j <= i; j++)
				ptrace(PTRACE_DETACH, tids[j], 0, 0);
			return r;
		}
	}
	return 0;
}

void ghost_release(pid_t pid)
{
	pid_t tids[MAX_THREADS];
	int n = list_threads(pid, tids, MAX_THREADS);

	for (int i = 0; i < n; i++)
		ptrace(PTRACE_DETACH, tids[i], 0, 0);
}

/* Wait for a ptrace stop of tid, up to the deadline. */
static int wait_stop(pid_t tid, int *status, long long deadline)
{
	for (;;) {
		pid_t r = waitpid(tid, status, __WALL | WNOHANG);

		if (r == tid)
			return WIFSTOPPED(*status) ? 0 : -ESRCH;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (now_ms() > deadline)
			return -ETIMEDOUT;
		usleep(200);
	}
}

/*
 * As wait_stop() for the main thread, while the execve runs: the kernel
 * kills the other threads, and each, being traced, stays a zombie until we
 * reap it; the execve waits for that (de_thread), so reap as we wait.
 */
static int wait_exec_stop(pid_t pid, const pid_t *tids, int n, int *status, long long deadline)
{
	for (;;) {
		pid_t r;

		for (int i = 0; i < n; i++)
			if (tids[i] != pid)
				waitpid(tids[i], NULL, __WALL | WNOHANG);
		r = waitpid(pid, status, __WALL | WNOHANG);
		if (r == pid)
			return WIFSTOPPED(*status) ? 0 : -ESRCH;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (now_ms() > deadline)
			return -ETIMEDOUT;
		usleep(200);
	}
}

static int write_mem(int memfd, unsigned long addr, const void *buf, size_t len)
{
	ssize_t n = pwrite(memfd, buf, len, (off_t)addr);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

/* Where pid's vDSO has a `syscall` instruction (0f 05, at any offset: it
 * is only ever run as that); 0 if it has none or no vDSO. */
static unsigned long find_syscall_insn(pid_t pid, int memfd)
{
	char path[64], line[512];
	_cleanup_fclose_ FILE *maps = NULL;
	unsigned long found = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	maps = fopen(path, "re");
	while (maps && !found && fgets(line, sizeof(line), maps)) {
		unsigned long start, end;
		unsigned char buf[4096];
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) != 3 || perms[2] != 'x' ||
		    !strstr(line, "[vdso]"))
			continue;
		for (unsigned long at = start; at < end && !found; at += sizeof(buf) - 1) {
			size_t want = end - at < sizeof(buf) ? end - at : sizeof(buf);
			ssize_t n = pread(memfd, buf, want, (off_t)at);

			for (ssize_t i = 0; i + 1 < n; i++)
				if (buf[i] == 0x0f && buf[i + 1] == 0x05) {
					found = at + (unsigned long)i;
					break;
				}
			if (n < (ssize_t)want)
				break;
		}
	}
	return found;
}

/* Lay out "path\0 env...\0 argv...\0" then the pointer arrays below sp. */
struct exec_blob {
	char *data;
	size_t len;
	unsigned long base;     /* where data goes in the task */
	unsigned long path, argv, envp;
};

static int build_blob(struct exec_blob *b, unsigned long sp, const char *path, char *const argv[],
		      char *const envp[])
{
	size_t nargv = 0, nenv = 0, strings = 0, off;
	unsigned long *ptrs;

	while (argv[nargv])
		strings += strlen(argv[nargv++]) + 1;
	while (envp[nenv])
		strings += strlen(envp[nenv++]) + 1;
	strings += strlen(path) + 1;
	strings = (strings + 15) & ~(size_t)15;
	b->len = strings + (nargv + 1 + nenv + 1) * sizeof(unsigned long);
	/* Past the 128-byte red zone, 16-byte aligned. */
	b->base = ((sp - 256 - b->len) & ~15UL);
	b->data = calloc(1, b->len);
	if (!b->data)
		return -ENOMEM;
	off = 0;
	b->path = b->base + off;
	strcpy(b->data + off, path);
	off += strlen(path) + 1;
	ptrs = (unsigned long *)(b->data + strings);
	for (size_t i = 0; i < nargv; i++) {
		ptrs[i] = b->base + off;
		strcpy(b->data + off, argv[i]);
		off += strlen(argv[i]) + 1;
	}
	ptrs[nargv] = 0;
	for (size_t i = 0; i < nenv; i++) {
		ptrs[nargv + 1 + i] = b->base + off;
		strcpy(b->data + off, envp[i]);
		off += strlen(envp[i]) + 1;
	}
	ptrs[nargv + 1 + nenv] = 0;
	b->argv = b->base + strings;
	b->envp = b->argv + (nargv + 1) * sizeof(unsigned long);
	return 0;
}

/*
 * Let the new ghost run through its start-up (name, signal dispositions,
 * closing fds) until it says it is ready (GHOST_READY_SIGNAL, sent to
 * itself): only then does it look like the process and handle orders.
 * Signals sent meanwhile are kept in early for the caller to forward, not
 * delivered here.  (Stepping it from system call to system call until its
 * pause() cost 12 ms a ghost.)
 */
static int wait_until_ready(pid_t pid, struct ghost_early_signals *early, long long deadline)
{
	int status, r;

	for (;;) {
		siginfo_t si;

		if (ptrace(PTRACE_CONT, pid, 0, 0) < 0)
			return -errno;
		r = wait_stop(pid, &status, deadline);
		if (r < 0)
			return r;
		if (status >> 16 != 0 || WSTOPSIG(status) == SIGTRAP ||
		    WSTOPSIG(status) == (SIGTRAP | 0x80))
			continue;
		if (WSTOPSIG(status) == GHOST_READY_SIGNAL &&
		    ptrace(PTRACE_GETSIGINFO, pid, 0, &si) == 0 && si.si_code == SI_TKILL &&
		    si.si_pid == pid)
			return 0;
		if (early && early->n < GHOST_EARLY_MAX)
			early->sig[early->n++] = WSTOPSIG(status);
	}
}

/*
 * One injection, in three steps so that a tree can be armed all at once
 * (ghost_tree.c): prepared (every thread held, the strings written below
 * the stack: nothing the task would run), armed (its registers point at
 * the execve: from here it runs the execve even if we die), finished (the
 * execve run, the ghost ready).
 */
struct ghost_injection {
	pid_t pid;
	int memfd;
	int nthreads;
	pid_t tids[MAX_THREADS];
	struct user_regs_struct saved, regs;
	unsigned char saved_code[2];
	bool wrote_code;
	struct ghost_early_signals *early;
	struct exec_blob blob;
	char env_comm[64], env_daemon[64];
};

void ghost_injection_free(struct ghost_injection *inj)
{
	if (!inj)
		return;
	if (inj->memfd >= 0)
		close(inj->memfd);
	free(inj->blob.data);
	free(inj);
}

/* The two bytes written at its instruction pointer (no vDSO), put back. */
static void put_code_back(struct ghost_injection *inj)
{
	if (inj->wrote_code)
		write_mem(inj->memfd, inj->saved.rip, inj->saved_code, sizeof(inj->saved_code));
	inj->wrote_code = false;
}

void ghost_exec_cancel(struct ghost_injection *inj)
{
	put_code_back(inj);
	ptrace(PTRACE_SETREGS, inj->pid, 0, &inj->saved);
}

/* Every thread of the task in its interrupt's stop; signals that came
 * first are kept in early. */
static int wait_threads_held(struct ghost_injection *inj, long long deadline)
{
	int status, r;

	for (int i = 0; i < inj->nthreads; i++) {
		for (;;) {
			r = wait_stop(inj->tids[i], &status, deadline);
			if (r < 0) {
				pr_err("ghost: thread %d of %d did not stop: %s", inj->tids[i], inj->pid,
				       strerror(-r));
				return r;
			}
			if (status >> 16 != 0 || WSTOPSIG(status) == SIGTRAP)
				break;
			/* A signal sent while it was frozen comes before our
			 * interrupt's stop: it is for the real process.  Drop it
			 * here; the thread stops for the interrupt before it
			 * returns to its code. */
			if (inj->early && inj->early->n < GHOST_EARLY_MAX)
				inj->early->sig[inj->early->n++] = WSTOPSIG(status);
			if (ptrace(PTRACE_CONT, inj->tids[i], 0, 0) < 0)
				return -errno;
		}
	}
	return 0;
}

int ghost_exec_prepare(pid_t pid, const char *ghost_path, char *const argv[], const char *comm,
		       struct ghost_early_signals *early, struct ghost_injection **out)
{
	static const unsigned char syscall_insn[2] = { 0x0f, 0x05 };
	long long deadline = now_ms() + TRAP_TIMEOUT_MS;
	struct ghost_injection *inj = calloc(1, sizeof(*inj));
	char *envp[3];
	char mem[64];
	unsigned long insn;
	int r;

	*out = NULL;
	if (!inj)
		return -ENOMEM;
	inj->pid = pid;
	inj->memfd = -1;
	inj->early = early;
	r = list_threads(pid, inj->tids, MAX_THREADS);
	if (r < 0)
		goto fail;
	inj->nthreads = r;
	/* Every thread must be held before any runs: the others would run
	 * code of the original, which now belongs to the copy. */
	r = wait_threads_held(inj, deadline);
	if (r < 0)
		goto fail;

	/* Fault points: the master dies (SIGKILL) with every thread held
	 * and nothing written yet; with the ghost's strings written below
	 * the stack (and, in ghost_exec_arm, with the registers set). */
	if (fault_at("master-die-seized"))
		kill(getpid(), SIGKILL);
	if (ptrace(PTRACE_GETREGS, pid, 0, &inj->regs) < 0) {
		r = -errno;
		goto fail;
	}
	inj->saved = inj->regs;
	snprintf(inj->env_comm, sizeof(inj->env_comm), GHOST_ENV_COMM "=%s", comm);
	snprintf(inj->env_daemon, sizeof(inj->env_daemon), GHOST_ENV_DAEMON "=%d", (int)getpid());
	envp[0] = inj->env_comm;
	envp[1] = inj->env_daemon;
	envp[2] = NULL;
	r = build_blob(&inj->blob, inj->regs.rsp, ghost_path, argv, envp);
	if (r < 0)
		goto fail;

	snprintf(mem, sizeof(mem), "/proc/%d/mem", (int)pid);
	inj->memfd = open(mem, O_RDWR | O_CLOEXEC);
	if (inj->memfd < 0) {
		r = -errno;
		goto fail;
	}
	insn = find_syscall_insn(pid, inj->memfd);
	r = write_mem(inj->memfd, inj->blob.base, inj->blob.data, inj->blob.len);
	if (r == 0 && !insn) {
		/* No vDSO: the instruction goes at its instruction pointer. */
		insn = inj->regs.rip;
		if (pread(inj->memfd, inj->saved_code, sizeof(inj->saved_code),
			  (off_t)inj->regs.rip) != (ssize_t)sizeof(inj->saved_code)) {
			r = -EFAULT;
			goto fail;
		}
		r = write_mem(inj->memfd, inj->regs.rip, syscall_insn, sizeof(syscall_insn));
		inj->wrote_code = r == 0;
	}
	if (r < 0)
		goto fail;
	if (fault_at("master-die-written"))
		kill(getpid(), SIGKILL);
	inj->regs.orig_rax = (unsigned long long)-1; /* no system-call restart */
	inj->regs.rax = SYS_execve;
	inj->regs.rdi = inj->blob.path;
	inj->regs.rsi = inj->blob.argv;
	inj->regs.rdx = inj->blob.envp;
	inj->regs.rsp = inj->blob.base - 64;
	inj->regs.rip = insn;
	*out = inj;
	return 0;

fail:
	/* Its registers were never set: only the code goes back. */
	put_code_back(inj);
	ghost_injection_free(inj);
	return r;
}

int ghost_exec_arm(struct ghost_injection *inj)
{
	return ptrace(PTRACE_SETREGS, inj->pid, 0, &inj->regs) < 0 ? -errno : 0;
}

int ghost_exec_finish(struct ghost_injection *inj, const char *ghost_path)
{
	long long deadline = now_ms() + TRAP_TIMEOUT_MS;
	pid_t pid = inj->pid;
	int status, r;

	/* Enter the system call, then see how it ends: an exec event, or its
	 * return with an error. */
	for (;;) {
		if (ptrace(PTRACE_SYSCALL, pid, 0, 0) < 0 || wait_stop(pid, &status, deadline) < 0) {
			ghost_exec_cancel(inj);
			return -EIO;
		}
		if (WSTOPSIG(status) == (SIGTRAP | 0x80))
			break;
		/* An event stop on the way: a task seized in a group stop
		 * traps twice before it runs (the attach's re-trap into its
		 * stop, then our interrupt), and taking the second for the
		 * system call's entry would read the entry's -ENOSYS as the
		 * execve's failure.  Let it go on to our system call. */
		if (status >> 16 != 0)
			continue;
		/* A signal that was pending (sent while it was frozen) is
		 * dequeued on the way back to user space, before our system
		 * call: keep it for the real process, drop it here. */
		if (inj->early && inj->early->n < GHOST_EARLY_MAX)
			inj->early->sig[inj->early->n++] = WSTOPSIG(status);
	}
	if (ptrace(PTRACE_SYSCALL, pid, 0, 0) < 0) {
		r = -errno;
		ghost_exec_cancel(inj);
		return r;
	}
	for (;;) {
		r = wait_exec_stop(pid, inj->tids, inj->nthreads, &status, deadline);
		if (r < 0)
			return r; /* the task is gone or stuck: nothing to restore */
		if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_EXEC << 8)))
			break;
		if (WSTOPSIG(status) == (SIGTRAP | 0x80)) {
			/* Syscall exit without an exec: it failed. */
			struct user_regs_struct after;

			ptrace(PTRACE_GETREGS, pid, 0, &after);
			r = (long long)after.rax < 0 ? (int)(long long)after.rax : -ENOEXEC;
			pr_err("ghost: execve(%s) in %d failed: %s", ghost_path, pid, strerror(-r));
			ghost_exec_cancel(inj);
			return r;
		}
		/* Anything else (a signal arriving now): let the syscall go on. */
		if (ptrace(PTRACE_SYSCALL, pid, 0, 0) < 0)
			return -errno;
	}
	inj->wrote_code = false; /* that memory is gone with the exec */
	/* The other threads died in the execve; collect what they left. */
	for (int i = 0; i < inj->nthreads; i++)
		if (inj->tids[i] != pid)
			waitpid(inj->tids[i], NULL, __WALL | WNOHANG);
	/* Past the exec the original is gone for good: whatever happens now,
	 * the ghost exists and the move must go on, so report success. */
	r = wait_until_ready(pid, inj->early, deadline);
	if (r < 0)
		pr_warn("ghost %d: not seen ready (%s); letting it run", pid, strerror(-r));
	ptrace(PTRACE_CONT, pid, 0, 0);
	return 0;
}

int ghost_exec(pid_t pid, const char *ghost_path, char *const argv[], const char *comm,
	       struct ghost_early_signals *early)
{
	struct ghost_injection *inj;
	int r;

	r = ghost_exec_prepare(pid, ghost_path, argv, comm, early, &inj);
	if (r < 0)
		return r;
	r = ghost_exec_arm(inj);
	if (r < 0) {
		ghost_exec_cancel(inj);
		ghost_injection_free(inj);
		return r;
	}
	if (fault_at("master-die-exec"))
		kill(getpid(), SIGKILL);
	r = ghost_exec_finish(inj, ghost_path);
	ghost_injection_free(inj);
	return r;
}

int ghost_decode(pid_t pid, int status, pid_t daemon_pid, struct ghost_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		ev->kind = GHOST_GONE;
		ev->status = status;
		return 0;
	}
	if (!WIFSTOPPED(status))
		return -EINVAL;
	ev->sig = WSTOPSIG(status);
	if (status >> 16 == PTRACE_EVENT_STOP) {
		/* With PTRACE_SEIZE a group stop reports its signal; any
		 * other event stop is a trap we asked for. */
		if (is_stop_signal(ev->sig))
			ev->kind = GHOST_STOPPED;
		else
			ev->kind = GHOST_OTHER;
		return 0;
	}
	if (status >> 16 != 0 || ev->sig == (SIGTRAP | 0x80)) {
		ev->kind = GHOST_OTHER;
		return 0;
	}
	{
		siginfo_t si;

		ev->kind = GHOST_SIGNAL;
		if (ptrace(PTRACE_GETSIGINFO, pid, 0, &si) == 0)
			ev->ours = (si.si_pid == daemon_pid &&
				    (si.si_code == SI_USER || si.si_code == SI_QUEUE ||
				     si.si_code == SI_TKILL)) ||
				   /* The kernel's news of a ghost child: that is
				    * the ghost's own business, the real parent
				    * gets its own on the node. */
				   (ev->sig == SIGCHLD && si.si_code > 0);
	}
	return 0;
}

int ghost_resume(pid_t pid, int sig)
{
	return ptrace(PTRACE_CONT, pid, 0, sig) < 0 ? -errno : 0;
}

int ghost_listen(pid_t pid)
{
	return ptrace(PTRACE_LISTEN, pid, 0, 0) < 0 ? -errno : 0;
}

int ghost_order_exit(pid_t pid, int status)
{
	if (WIFSIGNALED(status))
		return kill(pid, WTERMSIG(status)) < 0 ? -errno : 0;
	if (WIFEXITED(status)) {
		union sigval value = { .sival_int = WEXITSTATUS(status) };

		return sigqueue(pid, GHOST_EXIT_SIGNAL, value) < 0 ? -errno : 0;
	}
	return -EINVAL;
}

int ghost_stop_signal(int status, bool group_orphaned)
{
	int sig = WIFSTOPPED(status) ? WSTOPSIG(status) : SIGSTOP;

	if (!is_stop_signal(sig) || (sig != SIGSTOP && group_orphaned))
		return SIGSTOP;
	return sig;
}

int ghost_order_stop(pid_t pid, int status)
{
	int sig = ghost_stop_signal(status, false);

	/* The daemon lets its own stop signal through to the ghost's default
	 * action (bproc-ghost has no handlers), which for a job-control one
	 * the kernel drops in an orphaned group: that one stops with SIGSTOP,
	 * as nothing but SIGSTOP could stop it here. */
	if (sig != SIGSTOP && proc_group_orphaned(pid) != 0)
		sig = SIGSTOP;
	return kill(pid, sig) < 0 ? -errno : 0;
}
