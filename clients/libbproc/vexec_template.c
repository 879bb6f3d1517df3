/*
 * vexec_template.c - bproc_vexecmove's exec first: one exec and one dump
 * for every node.
 *
 * Of the caller's children (libbproc.c, one per node, each waiting on its
 * wake pipe), the first is the template: once set up like the others it
 * execs the program here, under our trace (PTRACE_O_TRACEEXEC), and stops
 * at its exec before the program's first instruction.  The VMoveRequest
 * names it (exec_template): the master freezes it as it is, says
 * MoveFrozen, we let go (PTRACE_DETACH) and say MoveReleased, and the
 * master dumps it, as for bproc_execmove (execmove.c).  Every other child
 * is restored on its node from that image, with its own pid: as the
 * program, which never ran on the master; the children here become its
 * ghosts.
 *
 * The template must never run here: refused or failed, it is killed (its
 * parent sees SIGKILL) and why is said on our stderr, as bproc_execmove's
 * helper says it.  Whatever keeps it from its exec (we cannot trace it, its
 * execve fails) leaves it a waiting child like the others: the launch goes
 * the older way (each copy execs on its node).
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bproc.h"
#include "frame.h"
#include "internal.h"

/* The id of what is said of the template, beside the request's own (1). */
#define TEMPLATE_ID 2

/* Whether child ended (its end left for the caller to reap). */
static bool ended(pid_t child, bool block)
{
	siginfo_t si = { 0 };

	while (waitid(P_PID, child, &si, WEXITED | WSTOPPED | __WALL | WNOWAIT | (block ? 0 : WNOHANG)) < 0)
		if (errno != EINTR)
			return true;
	return si.si_code == CLD_EXITED || si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED;
}

/*
 * Trace child (the template, waiting on go) and let it exec: 0 once it is
 * stopped at its exec; 1 if it goes the older way (not traceable here, or
 * its execve failed: it is let go and waits to be moved as the others);
 * -1 if it ended.  go and ex are ours to close.
 */
int libbproc_template_trace(pid_t child, int go, int ex)
{
	struct pollfd p = { .fd = ex, .events = POLLIN };
	bool at_exec = false;
	char c = 1;
	int e, r;
	ssize_t n;

	if (ptrace(PTRACE_SEIZE, child, 0, PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL) < 0) {
		close(go); /* EOF: it does not exec */
		close(ex);
		return 1;
	}
	if (write(go, &c, 1) != 1) {
		close(go);
		close(ex);
		libbproc_let_go(child);
		return 1;
	}
	close(go);
	/* Until ex says: a word (its execve failed) or EOF (it exec'd, ex was
	 * close-on-exec; or it ended).  A signal it gets meanwhile stops it
	 * for us: passed on, as without us. */
	for (;;) {
		r = poll(&p, 1, 20);
		if (r > 0 || (r < 0 && errno != EINTR) || ended(child, false))
			break;
		if (libbproc_exec_stop(child, false) == 0)
			at_exec = true; /* ex is closed by now */
	}
	while ((n = read(ex, &e, sizeof(e))) < 0 && errno == EINTR)
		;
	close(ex);
	if (n == (ssize_t)sizeof(e)) {
		libbproc_let_go(child);
		return 1;
	}
	while (!at_exec) {
		if (ended(child, true))
			return -1;
		r = libbproc_exec_stop(child, true);
		if (r < 0)
			return r;
		at_exec = r == 0;
	}
	return 0;
}

static void say(int node, const char *why, const char *then)
{
	dprintf(2, "%s: node %d: %s (%s)\n", program_invocation_short_name, node, why, then);
}

/*
 * Send req (a VMoveRequest naming child, stopped at its exec under our
 * trace, as its template) and see the template through its move.  0 if
 * the request was taken (the template's own fate told on stderr if it
 * failed); -errno or -BE_* if not (nothing was moved: the caller undoes).
 */
int libbproc_template_launch(Msg *req, pid_t child, int node)
{
	Bproc__MoveReleased released = BPROC__MOVE_RELEASED__INIT;
	Msg out = BPROC__MSG__INIT;
	bool taken = false, told = false, let_go = false;
	char why[300] = "", path[64], exe[PATH_MAX], now[PATH_MAX];
	ssize_t n;
	int fd, r;

	/* The program it exec'd: once it is its ghost, it runs elsewhere. */
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)child);
	n = readlink(path, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	fd = libbproc_connect();
	if (fd < 0)
		return fd;
	req->has_id = true;
	req->id = 1;
	req->vmove_request->has_exec_template_id = true;
	req->vmove_request->exec_template_id = TEMPLATE_ID;
	r = frame_send(fd, req);
	while (r >= 0 && !(taken && told)) {
		Msg *in = NULL;

		r = frame_recv(fd, &in);
		if (r < 0)
			break;
		if (in->id == 1 && in->body_case == BPROC__MSG__BODY_REPLY) {
			r = in->reply->status;
			if (r < 0)
				libbproc_set_errmsg(in->reply->message);
			taken = r >= 0;
		} else if (in->id == TEMPLATE_ID && in->body_case == BPROC__MSG__BODY_MOVE_FROZEN) {
			/* Frozen as it is: let go, so that CRIU can seize it. */
			if (ptrace(PTRACE_DETACH, child, 0, 0) < 0) {
				r = -errno;
				snprintf(why, sizeof(why), "cannot let the program go: %s", strerror(-r));
			} else {
				let_go = true;
				released.pid = child;
				out.body_case = BPROC__MSG__BODY_MOVE_RELEASED;
				out.move_released = &released;
				r = frame_send(fd, &out);
			}
		} else if (in->id == TEMPLATE_ID && in->body_case == BPROC__MSG__BODY_REPLY) {
			told = true;
			if (in->reply->status < 0)
				snprintf(why, sizeof(why), "%s",
					 in->reply->message && in->reply->message[0] ?
						 in->reply->message :
						 bproc_strerror(-in->reply->status));
		} else {
			r = -EPROTO;
		}
		msg_free(in);
	}
	close(fd);
	if (!taken) {
		/* Nothing moves; the caller ends every child, this one too. */
		if (r == -EPROTONOSUPPORT)
			return -BE_PROTOCOL;
		if (r == -EPIPE || r == -ECONNRESET)
			return -BE_NOMASTER;
		return r < 0 ? r : -EPROTO;
	}
	if (told && !why[0])
		return 0;
	if (!told && !why[0])
		snprintf(why, sizeof(why), "the master went away during the move");
	if (let_go && !told) {
		/* Its ghost already (the master died after the commit, before
		 * its answer): it runs on its node. */
		n = readlink(path, now, sizeof(now) - 1);
		now[n > 0 ? n : 0] = '\0';
		if (n > 0 && strcmp(now, exe) != 0)
			return 0;
		/* Frozen in the move's cgroup: the next master's to decide. */
		say(node, why, "the program, frozen before it ran, waits for the next master");
		return 0;
	}
	/* Refused or failed: it must not run here (the master killed it too
	 * if it had it). */
	kill(child, SIGKILL);
	say(node, why, "the program was stopped before it ran, and killed");
	return 0;
}
