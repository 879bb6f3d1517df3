/*
 * execmove.c - bproc_execmove(): execve(), but the program runs on a node;
 * bproc_rexec(); and BProc's _io forms of them and of bproc_rfork(), which
 * set up fds on the node (a file opened from the node's files, a TCP
 * connection made from its address) before returning or exec'ing: what
 * BProc's bpsh used for -I/-O/-E.
 *
 * bproc_execmove execs the program here, on the master, and moves it
 * before it runs a single instruction of its own.  A helper process (a
 * grandchild of the caller, so that it is no descendant of the program
 * and does not move with it) traces the caller with PTRACE_O_TRACEEXEC;
 * the caller execs; the helper catches the exec stop and asks the master
 * to move the program (MoveRequest.exec_traced).  The master checks it and
 * freezes it as it is (a traced stop counts as frozen for the cgroup v2
 * freezer), says MoveFrozen; the helper lets go (PTRACE_DETACH) and says
 * MoveReleased: the program leaves its traced stop into the freezer's
 * trap, still before its first instruction, and moves as any frozen
 * process (dump, restore on the node, ghost here, commit).  The parent
 * sees none of it: ptrace stops are told to the tracer alone.
 *
 * Failures: what is known before the exec (no such node, node down, not
 * allowed there, no such program here) returns -1 with errno, the caller
 * unchanged.  Once the program exists, it never runs here: a refused or
 * failed move kills it (its parent sees SIGKILL) and the helper says why
 * on the caller's stderr.
 *
 * The older way is kept where the new one cannot be had: on a node (the
 * master moves only its own processes this way), for the _io forms and
 * bproc_rexec (files opened on the node before the exec), and when the
 * caller cannot be traced (already under a debugger): the caller moves
 * itself there (bproc_move) and execs there.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bproc.h"
#include "frame.h"
#include "internal.h"

/* Put one io entry on its fd.  0, or -1 with errno. */
static int io_setup_one(const struct bproc_io_t *io)
{
	int fd, saved;

	switch (io->type) {
	case BPROC_IO_FILE:
		if (strnlen(io->d.file.name, BPROC_IO_MAX_LEN) == BPROC_IO_MAX_LEN) {
			errno = ENAMETOOLONG;
			return -1;
		}
		fd = open(io->d.file.name, io->d.file.flags | O_CLOEXEC, io->d.file.mode);
		if (fd >= 0 && io->d.file.offset && lseek(fd, io->d.file.offset, SEEK_SET) < 0) {
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		break;
	case BPROC_IO_SOCKET:
		if (io->d.addr.sa_family != AF_INET) {
			errno = EAFNOSUPPORT;
			return -1;
		}
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, &io->d.addr, sizeof(struct sockaddr_in)) < 0) {
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		break;
	default:
		errno = ENOTSUP;
		return -1;
	}
	if (fd < 0)
		return -1;
	if (fd == io->fd)
		return fcntl(fd, F_SETFD, 0) < 0 ? -1 : 0; /* no close-on-exec */
	if (dup2(fd, io->fd) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	close(fd);
	return 0;
}

int libbproc_io_setup(const struct bproc_io_t *io, int iolen)
{
	if (iolen < 0 || (iolen > 0 && !io)) {
		errno = EINVAL;
		return -1;
	}
	for (int i = 0; i < iolen; i++)
		if (io_setup_one(&io[i]) < 0)
			return -1;
	return 0;
}

int bproc_rfork_io(int node, const struct bproc_io_t *io, int iolen)
{
	int pid;

	if (iolen < 0 || (iolen > 0 && !io)) {
		errno = EINVAL;
		return -1;
	}
	pid = bproc_rfork(node);
	if (pid == 0 && libbproc_io_setup(io, iolen) < 0)
		_exit(127);
	return pid;
}

/* Here, execmove and rexec are one: move, set up, exec from the node. */
static int move_io_exec(int node, const struct bproc_io_t *io, int iolen, const char *cmd,
			char *const argv[], char *const envp[])
{
	int here = bproc_currnode();

	if (!cmd || !argv || !envp || iolen < 0 || (iolen > 0 && !io)) {
		errno = EINVAL;
		return -1;
	}
	if (here == BPROC_NODE_NONE)
		return -1;
	if (node != here) {
		/* What execve would refuse, refused while we are still here. */
		if (access(cmd, X_OK) < 0)
			return -1;
		if (bproc_move(node) < 0)
			return -1;
	}
	if (libbproc_io_setup(io, iolen) < 0)
		return -1;
	return execve(cmd, argv, envp);
}

int bproc_execmove_io(int node, const struct bproc_io_t *io, int iolen, const char *cmd,
		      char *const argv[], char *const envp[])
{
	return move_io_exec(node, io, iolen, cmd, argv, envp);
}

int bproc_rexec_io(int node, const struct bproc_io_t *io, int iolen, const char *cmd,
		   char *const argv[], char *const envp[])
{
	return move_io_exec(node, io, iolen, cmd, argv, envp);
}

int bproc_rexec(int node, const char *cmd, char *const argv[], char *const envp[])
{
	return move_io_exec(node, NULL, 0, cmd, argv, envp);
}

/* --- exec here, then move (bproc_execmove) ------------------------------ */

/* What a helper that could not trace the caller sends first: use the
 * older way.  0: it traces it. */
#define HELPER_TRACING 0

static ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -1 : (ssize_t)got;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/*
 * One stop of prog (traced), waited for if block: 0 if it stopped at its
 * exec; 1 if it is on its way (nothing yet, or a stop that we passed on:
 * a signal that came meanwhile, its SIGCHLD when our parent ends, say, goes
 * on to it, and a group stop is kept, as without us); -1 if it ended.
 */
int libbproc_exec_stop(pid_t prog, bool block)
{
	int st;
	pid_t r = waitpid(prog, &st, __WALL | (block ? 0 : WNOHANG));

	if (r < 0)
		return errno == EINTR ? 1 : -1;
	if (r == 0)
		return 1;
	if (!WIFSTOPPED(st))
		return -1;
	if (st >> 8 == (SIGTRAP | (PTRACE_EVENT_EXEC << 8)))
		return 0;
	if (st >> 16 == PTRACE_EVENT_STOP)
		ptrace(PTRACE_LISTEN, prog, 0, 0);
	else
		ptrace(PTRACE_CONT, prog, 0, WSTOPSIG(st));
	return 1;
}

/*
 * Until prog stops at its exec: 0; 1 if its execve failed (it said so on
 * ex; our end lets it go); -1 if it ended.  Its stops wake us through
 * SIGCHLD (a tracer gets one for each), ex through poll.
 */
static int wait_exec_stop(pid_t prog, int ex)
{
	struct pollfd p[2] = { { .fd = ex, .events = POLLIN } };
	sigset_t chld;
	int r, e;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &chld, NULL) < 0)
		return -1;
	p[1].fd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	p[1].events = POLLIN;
	if (p[1].fd < 0)
		return -1;
	for (;;) {
		struct signalfd_siginfo si;

		while (read(p[1].fd, &si, sizeof(si)) > 0)
			;
		r = libbproc_exec_stop(prog, false);
		if (r <= 0)
			return r;
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return -1;
		if (p[0].revents) {
			/* A word: its execve failed.  EOF: it exec'd (ex was
			 * close-on-exec); its exec stop comes next. */
			if (read_full(ex, &e, sizeof(e)) > 0)
				return 1;
			while ((r = libbproc_exec_stop(prog, true)) == 1)
				;
			return r;
		}
	}
}

/*
 * Untrace prog, which runs (its execve failed) or sits in a stop.  A stop
 * is needed to detach: PTRACE_INTERRUPT makes one; a signal it was being
 * given goes on with the detach.  Its end is left for its parent to reap.
 */
void libbproc_let_go(pid_t prog)
{
	if (ptrace(PTRACE_INTERRUPT, prog, 0, 0) < 0)
		return;
	for (;;) {
		siginfo_t si = { 0 };
		int st;

		if (waitid(P_PID, prog, &si, WEXITED | WSTOPPED | __WALL | WNOWAIT) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (si.si_code == CLD_EXITED || si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED)
			return;
		if (waitpid(prog, &st, __WALL | WNOHANG) <= 0 || !WIFSTOPPED(st))
			return;
		ptrace(PTRACE_DETACH, prog, 0, st >> 16 == PTRACE_EVENT_STOP ? 0 : WSTOPSIG(st));
		return;
	}
}

/* The helper's part once prog stopped at its exec: the move, through the
 * master.  0, or -1 with why in err (prog is then killed); -2 if the master
 * went away after we let prog go into its freezer: it is the master's then
 * (a master after it lets the copy its node holds run, or kills prog). */
static int helper_move(pid_t prog, int node, char *err, size_t errlen)
{
	bool let_go = false;
	Bproc__MoveRequest move = BPROC__MOVE_REQUEST__INIT;
	Bproc__MoveReleased released = BPROC__MOVE_RELEASED__INIT;
	Msg req = BPROC__MSG__INIT;
	int fd, r;

	fd = libbproc_connect();
	if (fd < 0) {
		snprintf(err, errlen, "%s", bproc_strerror(-fd));
		return -1;
	}
	move.pid = prog;
	move.node = node;
	move.has_exec_traced = true;
	move.exec_traced = true;
	req.body_case = BPROC__MSG__BODY_MOVE_REQUEST;
	req.move_request = &move;
	req.has_id = true;
	req.id = 1;
	r = frame_send(fd, &req);
	for (;;) {
		Msg *in = NULL;

		if (r >= 0)
			r = frame_recv(fd, &in);
		if (r < 0) {
			snprintf(err, errlen, "the master went away during the move");
			if (let_go) {
				close(fd);
				return -2;
			}
			break;
		}
		if (in->body_case == BPROC__MSG__BODY_MOVE_FROZEN) {
			/* Frozen as it is: let go, so that CRIU can seize it. */
			msg_free(in);
			if (ptrace(PTRACE_DETACH, prog, 0, 0) < 0) {
				r = -errno;
				snprintf(err, errlen, "cannot let the program go: %s", strerror(-r));
				break;
			}
			let_go = true;
			released.pid = prog;
			req.body_case = BPROC__MSG__BODY_MOVE_RELEASED;
			req.move_released = &released;
			r = frame_send(fd, &req);
			continue;
		}
		if (in->body_case != BPROC__MSG__BODY_REPLY) {
			msg_free(in);
			r = -EPROTO;
			snprintf(err, errlen, "the master answered %s", msg_body_name(in));
			break;
		}
		r = in->reply->status;
		if (r < 0)
			snprintf(err, errlen, "%s",
				 in->reply->message && in->reply->message[0] ? in->reply->message :
									      bproc_strerror(-r));
		msg_free(in);
		break;
	}
	close(fd);
	return r < 0 ? -1 : 0;
}

/*
 * The helper, a grandchild of prog (the caller): trace it, tell it so on
 * go, wait for its exec (ex closes: it was close-on-exec) or its word that
 * the exec failed (then our exit lets it go), and move it.
 */
static void __attribute__((noreturn)) helper(pid_t prog, int node, int go, int ex)
{
	const char *me = program_invocation_short_name;
	char err[300], path[64], exe[PATH_MAX], now[PATH_MAX];
	int tracing = HELPER_TRACING;
	ssize_t n;
	int r;

	/* Ours alone: go, ex and stderr (to say why a move failed). */
	for (int fd = 0; fd < 2; fd++)
		if (fd != go && fd != ex)
			close(fd);
	for (int fd = 3, hi = go > ex ? go : ex; fd < hi; fd++)
		if (fd != go && fd != ex)
			close(fd);
	close_range((unsigned int)(go > ex ? go : ex) + 1, ~0U, 0);
	if (ptrace(PTRACE_SEIZE, prog, 0, PTRACE_O_TRACEEXEC) < 0)
		tracing = errno ? errno : EPERM;
	if (write(go, &tracing, sizeof(tracing)) != (ssize_t)sizeof(tracing) ||
	    tracing != HELPER_TRACING)
		_exit(0);
	/* Its execve failed (it runs on as the caller, let go), or it ended. */
	/* Untraced before we end: our end would untrace it too, but only
	 * after our fds are closed, and go's EOF is what returns its call. */
	r = wait_exec_stop(prog, ex);
	if (r == 1)
		libbproc_let_go(prog);
	if (r != 0)
		_exit(0);
	/* From here on our end (we crash, say) kills it: it must not run
	 * here.  Once detached, the freezer holds it. */
	ptrace(PTRACE_SETOPTIONS, prog, 0, PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL);
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)prog);
	n = readlink(path, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	r = helper_move(prog, node, err, sizeof(err));
	if (r == -2) {
		/* Frozen in the move's cgroup, noted "exec": the next master
		 * lets its node's held copy run if the ghost was under way,
		 * else kills it (it never ran).  Not ours to kill. */
		dprintf(2, "%s: node %d: %s (the program, frozen before it ran, waits for the "
			   "next master)\n", me, node, err);
	} else if (r < 0) {
		/* Not if it became its ghost (a master that died after the
		 * commit, before its answer): the program runs on the node.
		 * Gone already (the master killed it): no link. */
		n = readlink(path, now, sizeof(now) - 1);
		now[n > 0 ? n : 0] = '\0';
		if (n <= 0 || strcmp(now, exe) == 0) {
			kill(prog, SIGKILL);
			dprintf(2, "%s: node %d: %s (the program was stopped before it ran, "
				   "and killed)\n", me, node, err);
		} else {
			dprintf(2, "%s: node %d: %s (the program was moved before)\n", me, node,
				err);
		}
	}
	_exit(0);
}

/*
 * Exec cmd here, held at its exec by a helper, and moved.  Returns -1 with
 * errno on failure, the caller unchanged; 1 if the helper could not trace
 * the caller (the caller then takes the older way).
 */
static int exec_then_move(int node, const char *cmd, char *const argv[], char *const envp[])
{
	pid_t me = getpid(), c;
	int go[2], ex[2], tracing, e, st;

	/* What is known before the exec, refused while the caller is whole. */
	if (access(cmd, X_OK) < 0)
		return -1;
	if (bproc_access(node, 1) < 0) {
		char state[32] = "down", why[64];

		e = errno;
		if (e == BE_NODEDOWN) {
			bproc_nodestatus(node, state, sizeof(state));
			snprintf(why, sizeof(why), "node %d is %s", node, state);
			libbproc_set_errmsg(why);
		}
		errno = e;
		return -1;
	}
	if (pipe2(go, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(ex, O_CLOEXEC) < 0) {
		e = errno;
		close(go[0]);
		close(go[1]);
		errno = e;
		return -1;
	}
	c = fork();
	if (c == 0) {
		/* The helper's parent ends at once: it is no child of ours. */
		close(go[0]);
		close(ex[1]);
		if (fork() == 0)
			helper(me, node, go[1], ex[0]);
		_exit(0);
	}
	e = errno;
	close(go[1]);
	close(ex[0]);
	if (c < 0) {
		close(go[0]);
		close(ex[1]);
		errno = e;
		return -1;
	}
	while (waitpid(c, &st, 0) < 0 && errno == EINTR)
		;
	if (read_full(go[0], &tracing, sizeof(tracing)) != (ssize_t)sizeof(tracing) ||
	    tracing != HELPER_TRACING) {
		close(go[0]);
		close(ex[1]);
		return 1;
	}
	execve(cmd, argv, envp);
	/* Still the caller: tell the helper, which lets go and ends. */
	e = errno;
	/* The helper untraces us and ends: go's EOF.  (Could it not be told,
	 * it would trace us, passing our signals on, until we end.) */
	if (write(ex[1], &e, sizeof(e)) == (ssize_t)sizeof(e))
		while (read_full(go[0], &tracing, sizeof(tracing)) > 0)
			;
	close(ex[1]);
	close(go[0]);
	errno = e;
	return -1;
}

int bproc_execmove(int node, const char *cmd, char *const argv[], char *const envp[])
{
	int here, r;

	if (!cmd || !argv || !envp) {
		errno = EINVAL;
		return -1;
	}
	here = bproc_currnode();
	if (here == BPROC_NODE_MASTER && node != here) {
		r = exec_then_move(node, cmd, argv, envp);
		if (r <= 0)
			return r;
	}
	return move_io_exec(node, NULL, 0, cmd, argv, envp);
}
