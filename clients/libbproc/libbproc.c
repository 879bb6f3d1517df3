/*
 * libbproc.c - the calls of bproc.h that talk to the local daemon.
 *
 * Each call opens the daemon's unix socket (BPROC_SOCKET, or the path in
 * the environment variable of that name), sends one request and reads one
 * answer.  A connection per call keeps the library free of shared state, so
 * it is safe in threads and across fork(); the cost, tens of microseconds,
 * is nothing next to what the calls do.  The daemon knows who is asking
 * from the socket (SO_PEERCRED); the library never claims an identity.
 */
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include "bproc.h"
#include "frame.h"
#include "move_wake.h"
#include "internal.h"

static __thread char last_message[256];

const char *bproc_errmsg(void)
{
	return last_message[0] ? last_message : NULL;
}

void libbproc_set_errmsg(const char *text)
{
	snprintf(last_message, sizeof(last_message), "%s", text ? text : "");
}

static int fail(int err)
{
	errno = err;
	return -1;
}

static const char *socket_path(void)
{
	const char *p = getenv(BPROC_SOCKET_ENV);

	return p && p[0] ? p : BPROC_SOCKET;
}

int libbproc_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = socket_path();
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = errno;

		close(fd);
		/* No socket, or nobody behind it: there is no daemon. */
		if (r == ENOENT || r == ECONNREFUSED || r == ENOTDIR)
			return -BE_NOMASTER;
		return -r;
	}
	return fd;
}

/*
 * Send req and read the answer.  An error Reply (status < 0) becomes
 * -status, with its message kept for bproc_errmsg().  On success *out holds
 * the answer, whatever its type; the caller checks the type it expects.
 */
static int transact(Msg *req, Msg **out)
{
	Msg *reply = NULL;
	int fd, r;

	last_message[0] = '\0';
	fd = libbproc_connect();
	if (fd < 0)
		return fd;
	req->has_id = true;
	req->id = 1;
	r = frame_send(fd, req);
	if (r >= 0)
		r = frame_recv(fd, &reply);
	close(fd);
	if (r == -EPROTONOSUPPORT)
		return -BE_PROTOCOL;
	if (r == -EPIPE || r == -ECONNRESET)
		return -BE_NOMASTER;
	if (r < 0)
		return r;
	if (reply->body_case == BPROC__MSG__BODY_REPLY && reply->reply->status < 0) {
		r = reply->reply->status;
		if (reply->reply->message)
			snprintf(last_message, sizeof(last_message), "%s", reply->reply->message);
		msg_free(reply);
		return r;
	}
	*out = reply;
	return 0;
}

/* A request whose only answer is a Reply. */
static int transact_status(Msg *req)
{
	Msg *reply = NULL;
	int r = transact(req, &reply);

	if (r < 0)
		return r;
	r = reply->body_case == BPROC__MSG__BODY_REPLY ? 0 : -EPROTO;
	msg_free(reply);
	return r;
}

static void copy_node_info(struct bproc_node_info_t *to, const Bproc__NodeInfo *from)
{
	memset(to, 0, sizeof(*to));
	to->node = from->node;
	snprintf(to->status, sizeof(to->status), "%s", bproc_state_name(from->state));
	to->mode = from->mode;
	to->user = from->uid;
	to->group = from->gid;
	if (from->addr)
		snprintf(to->addr, sizeof(to->addr), "%s", from->addr);
	to->up_since = from->has_up_since ? (long long)from->up_since : 0;
	to->nprocs = from->has_nprocs ? from->nprocs : 0;
}

int bproc_nodelist(struct bproc_node_set_t *ns)
{
	Bproc__NodeListRequest list = BPROC__NODE_LIST_REQUEST__INIT;
	Msg req = BPROC__MSG__INIT;
	_cleanup_msg_ Msg *reply = NULL;
	int r;

	memset(ns, 0, sizeof(*ns));
	req.body_case = BPROC__MSG__BODY_NODE_LIST_REQUEST;
	req.node_list_request = &list;
	r = transact(&req, &reply);
	if (r < 0)
		return fail(-r);
	if (reply->body_case != BPROC__MSG__BODY_NODE_LIST_REPLY)
		return fail(EPROTO);
	if (reply->node_list_reply->n_nodes > 0) {
		ns->node = calloc(reply->node_list_reply->n_nodes, sizeof(*ns->node));
		if (!ns->node)
			return fail(ENOMEM);
	}
	ns->alloc = (int)reply->node_list_reply->n_nodes;
	for (size_t i = 0; i < reply->node_list_reply->n_nodes; i++)
		copy_node_info(&ns->node[ns->size++], reply->node_list_reply->nodes[i]);
	return ns->size;
}

void bproc_nodeset_free(struct bproc_node_set_t *ns)
{
	if (!ns)
		return;
	free(ns->node);
	memset(ns, 0, sizeof(*ns));
}

int bproc_numnodes(void)
{
	struct bproc_node_set_t ns;
	int n = bproc_nodelist(&ns);

	bproc_nodeset_free(&ns);
	return n;
}

int bproc_nodeinfo(int node, struct bproc_node_info_t *info)
{
	struct bproc_node_set_t ns;
	int found = 0;

	if (bproc_nodelist(&ns) < 0)
		return -1;
	for (int i = 0; i < ns.size; i++)
		if (ns.node[i].node == node) {
			*info = ns.node[i];
			found = 1;
		}
	bproc_nodeset_free(&ns);
	return found ? 0 : fail(BE_INVALIDNODE);
}

int bproc_nodestatus(int node, char *status, int len)
{
	struct bproc_node_info_t info;

	if (len <= 0)
		return fail(EINVAL);
	if (bproc_nodeinfo(node, &info) < 0)
		return -1;
	snprintf(status, (size_t)len, "%s", info.status);
	return bproc_state_parse(info.status);
}

int bproc_currnode(void)
{
	Bproc__WhereAmIRequest where = BPROC__WHERE_AM_IREQUEST__INIT;
	Msg req = BPROC__MSG__INIT;
	_cleanup_msg_ Msg *reply = NULL;
	int r;

	req.body_case = BPROC__MSG__BODY_WHERE_AM_I_REQUEST;
	req.where_am_i_request = &where;
	r = transact(&req, &reply);
	if (r < 0) {
		errno = -r;
		return BPROC_NODE_NONE;
	}
	if (reply->body_case != BPROC__MSG__BODY_WHERE_AM_I_REPLY) {
		errno = EPROTO;
		return BPROC_NODE_NONE;
	}
	return reply->where_am_i_reply->node;
}

/* One change to one node. */
static int change_node(int node, Bproc__NodeChangeRequest *change)
{
	Msg req = BPROC__MSG__INIT;
	int32_t nodes[1] = { node };
	int r;

	change->n_nodes = 1;
	change->nodes = nodes;
	req.body_case = BPROC__MSG__BODY_NODE_CHANGE_REQUEST;
	req.node_change_request = change;
	r = transact_status(&req);
	return r < 0 ? fail(-r) : 0;
}

int bproc_chmod(int node, unsigned int mode)
{
	Bproc__NodeChangeRequest change = BPROC__NODE_CHANGE_REQUEST__INIT;

	change.has_mode = true;
	change.mode = mode;
	return change_node(node, &change);
}

int bproc_chown(int node, unsigned int user)
{
	Bproc__NodeChangeRequest change = BPROC__NODE_CHANGE_REQUEST__INIT;

	change.has_uid = true;
	change.uid = user;
	return change_node(node, &change);
}

int bproc_chgrp(int node, unsigned int group)
{
	Bproc__NodeChangeRequest change = BPROC__NODE_CHANGE_REQUEST__INIT;

	change.has_gid = true;
	change.gid = group;
	return change_node(node, &change);
}

int bproc_nodesetstatus(int node, const char *status)
{
	Bproc__NodeChangeRequest change = BPROC__NODE_CHANGE_REQUEST__INIT;
	int state = bproc_state_parse(status);

	if (state < 0)
		return fail(EINVAL);
	change.has_state = true;
	change.state = (Bproc__NodeState)state;
	return change_node(node, &change);
}

static int in_group(gid_t gid)
{
	gid_t groups[256];
	int n;

	if (getegid() == gid)
		return 1;
	n = getgroups((int)(sizeof(groups) / sizeof(groups[0])), groups);
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

/*
 * As execute permission on a file: the owner's bit if we own the node, else
 * the group's if we are in its group, else the others'.  Root may always.
 */
int bproc_access(int node, int mode)
{
	struct bproc_node_info_t info;
	uid_t uid = geteuid();
	unsigned int bit;

	if (bproc_nodeinfo(node, &info) < 0)
		return -1;
	if (strcmp(info.status, "up") != 0)
		return fail(BE_NODEDOWN);
	if (uid == 0)
		return 0;
	if (info.user == uid)
		bit = 0100;
	else if (in_group(info.group))
		bit = 0010;
	else
		bit = 0001;
	if ((mode & 1) && !(info.mode & bit))
		return fail(EACCES);
	return 0;
}

/* here_only: leave out pids of another pid space than the caller's (born
 * on a node other than the one we are on). */
static int proclist(int node, bool here_only, struct bproc_proc_info_t **list)
{
	Bproc__ProcListRequest procs = BPROC__PROC_LIST_REQUEST__INIT;
	Msg req = BPROC__MSG__INIT;
	_cleanup_msg_ Msg *reply = NULL;
	struct bproc_proc_info_t *out;
	int r, n = 0, here;

	*list = NULL;
	req.body_case = BPROC__MSG__BODY_PROC_LIST_REQUEST;
	req.proc_list_request = &procs;
	r = transact(&req, &reply);
	if (r < 0)
		return fail(-r);
	if (reply->body_case != BPROC__MSG__BODY_PROC_LIST_REPLY)
		return fail(EPROTO);
	out = calloc(reply->proc_list_reply->n_procs + 1, sizeof(*out));
	if (!out)
		return fail(ENOMEM);
	here = here_only ? bproc_currnode() : BPROC_NODE_NONE;
	for (size_t i = 0; i < reply->proc_list_reply->n_procs; i++) {
		const Bproc__ProcEntry *e = reply->proc_list_reply->procs[i];

		if (node != BPROC_NODE_ANY && e->node != node)
			continue;
		if (here_only && e->has_born && e->born && e->node != here)
			continue;
		/* Born in the master's home node: pids of its namespace, which
		 * on the master itself are other processes. */
		if (here_only && e->has_born && e->born && e->node == BPROC_NODE_MASTER)
			continue;
		out[n].pid = e->pid;
		out[n].node = e->node;
		n++;
	}
	*list = out;
	return n;
}

int bproc_proclist(int node, struct bproc_proc_info_t **list)
{
	return proclist(node, false, list);
}

int bproc_proclist_here(int node, struct bproc_proc_info_t **list)
{
	return proclist(node, true, list);
}

int bproc_pidnode(pid_t pid)
{
	struct bproc_proc_info_t *list;
	int n, node = BPROC_NODE_NONE;

	n = bproc_proclist_here(BPROC_NODE_ANY, &list);
	if (n < 0)
		return BPROC_NODE_NONE;
	for (int i = 0; i < n; i++)
		if (list[i].pid == pid)
			node = list[i].node;
	free(list);
	if (node != BPROC_NODE_NONE)
		return node;
	/* Not in the table of remote processes: one of this machine (the
	 * master, or the node we are on), or none at all. */
	if (kill(pid, 0) == 0 || errno == EPERM)
		return bproc_currnode();
	errno = ESRCH;
	return BPROC_NODE_NONE;
}

int bproc_movepid(pid_t pid, int node)
{
	return bproc_movepid_flags(pid, node, 0);
}

int bproc_movepid_flags(pid_t pid, int node, int flags)
{
	Bproc__MoveRequest move = BPROC__MOVE_REQUEST__INIT;
	Msg req = BPROC__MSG__INIT;
	int r;

	if (flags & ~BPROC_MOVE_LAZY)
		return fail(EINVAL);
	move.pid = pid;
	move.node = node;
	move.has_lazy = (flags & BPROC_MOVE_LAZY) != 0;
	move.lazy = move.has_lazy;
	req.body_case = BPROC__MSG__BODY_MOVE_REQUEST;
	req.move_request = &move;
	r = transact_status(&req);
	return r < 0 ? fail(-r) : 0;
}

/*
 * Moving the caller, or a child of it.  The process that moves waits in a
 * read() of a pipe whose both ends it holds: CRIU takes the pipe along,
 * and the read goes on where the process is restored.  The daemon where it
 * runs once the move is over writes a struct bproc_move_wake into the
 * pipe (move_wake.h).  A process moving itself cannot keep its connection
 * to its daemon (a unix socket to a process CRIU does not dump): it sends
 * the request and closes the connection, and the daemon starts the move
 * when it sees the close.
 */
static int wait_wake(int fd, struct bproc_move_wake *w)
{
	size_t got = 0;

	while (got < sizeof(*w)) {
		ssize_t n = read(fd, (char *)w + got, sizeof(*w) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		got += (size_t)n;
	}
	w->message[sizeof(w->message) - 1] = '\0';
	return 0;
}

static void move_request(Msg *req, Bproc__MoveRequest *move, pid_t pid, int node, int wake_fd)
{
	move->pid = pid;
	move->node = node;
	move->has_wake_fd = true;
	move->wake_fd = wake_fd;
	req->body_case = BPROC__MSG__BODY_MOVE_REQUEST;
	req->move_request = move;
	req->has_id = true;
	req->id = 1;
}

int bproc_move(int node)
{
	Bproc__MoveRequest move = BPROC__MOVE_REQUEST__INIT;
	Msg req = BPROC__MSG__INIT;
	struct bproc_move_wake w;
	int wake[2], fd, r;

	last_message[0] = '\0';
	if (pipe2(wake, O_CLOEXEC) < 0)
		return fail(errno);
	fd = libbproc_connect();
	if (fd < 0) {
		close(wake[0]);
		close(wake[1]);
		return fail(-fd);
	}
	move_request(&req, &move, getpid(), node, wake[1]);
	r = frame_send(fd, &req);
	close(fd); /* now the daemon starts */
	if (r == 0)
		r = wait_wake(wake[0], &w);
	close(wake[0]);
	close(wake[1]);
	if (r < 0)
		return fail(r == -EPIPE || r == -ECONNRESET ? BE_NOMASTER : -r);
	if (w.status < 0) {
		snprintf(last_message, sizeof(last_message), "%s", w.message);
		return fail(-w.status);
	}
	return 0;
}

int bproc_rfork(int node)
{
	Bproc__MoveRequest move = BPROC__MOVE_REQUEST__INIT;
	Msg req = BPROC__MSG__INIT;
	struct bproc_move_wake w;
	int wake[2], r, here;
	pid_t child;

	last_message[0] = '\0';
	here = bproc_currnode();
	if (here == BPROC_NODE_NONE)
		return -1;
	if (here == node)
		return fork();
	if (pipe2(wake, O_CLOEXEC) < 0)
		return fail(errno);
	child = fork();
	if (child < 0) {
		r = errno;
		close(wake[0]);
		close(wake[1]);
		return fail(r);
	}
	if (child == 0) {
		/* Wait to be moved; only the target wakes us. */
		r = wait_wake(wake[0], &w);
		close(wake[0]);
		close(wake[1]);
		if (r < 0 || w.status < 0)
			_exit(127);
		return 0;
	}
	/* The child alone must hold the pipe, or it is not its own. */
	close(wake[0]);
	close(wake[1]);
	move_request(&req, &move, child, node, wake[1]);
	r = transact_status(&req);
	if (r < 0) {
		kill(child, SIGKILL);
		while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
			;
		return fail(-r);
	}
	return child;
}

int bproc_vrfork(int nnodes, const int *nodes, int *pids)
{
	if (nnodes < 0 || (nnodes > 0 && (!nodes || !pids)))
		return fail(EINVAL);
	for (int i = 0; i < nnodes; i++) {
		int pid = bproc_rfork(nodes[i]);

		if (pid == 0)
			return i;
		pids[i] = pid > 0 ? pid : -errno;
	}
	return nnodes;
}

/*
 * bproc_vexecmove: one program on many nodes with one exec and one dump.
 * Each process is a child of the caller, forked here and waiting on its
 * wake pipe as in bproc_rfork; one VMoveRequest moves them all: the master
 * dumps one and restores that image on every node with each one's own pid.
 * Exec first (no io to set up on the nodes): the first child whose node
 * it may use execs cmd here, held at its exec under our trace
 * (vexec_template.c), and the image is the program's: every copy starts
 * as the program.  Otherwise, or if that cannot be had, the image is a
 * waiting child's: on its node a copy sets up io and execs cmd.  A process that could not be moved (or cannot
 * exec) says why on its stderr and exits with 127, where it is.
 *
 * The copies are copies of one child: nothing a child does before it
 * waits may differ but its fds 0-2 (setup() puts them there), and after
 * setup() every other fd is closed (the child's own pipes aside).
 */

/* Close every fd from 3 up but the n in keep (sorted, -1s first). */
static void close_all_but(const int *keep, int n)
{
	unsigned int from = 3;

	for (int i = 0; i < n; i++) {
		if (keep[i] < (int)from)
			continue;
		if (keep[i] > (int)from)
			close_range(from, (unsigned int)keep[i] - 1, 0);
		from = (unsigned int)keep[i] + 1;
	}
	close_range(from, ~0U, 0);
}

static int compare_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* go_ex: the template's pipes to us (its ends; -1 for the others); drop:
 * the ends of them a child does not keep (-1: none). */
static void vexec_child(int index, const int *nodes, int wake[2], const int ready[2],
			const int go_ex[2], const int drop[4],
			void (*setup)(int index, void *arg), void *arg,
			const struct bproc_io_t *io, int iolen, const char *cmd,
			char *const argv[], char *const envp[])
{
	struct bproc_move_wake w;

	for (int i = 0; i < 4; i++)
		if (drop[i] >= 0)
			close(drop[i]);
	/* The parent waits until every child has closed ready: set up. */
	if (setup) {
		int keep[4] = { wake[0], wake[1], go_ex[0], go_ex[1] };

		setup(index, arg);
		qsort(keep, 4, sizeof(keep[0]), compare_int);
		close_all_but(keep, 4);
	} else {
		close(ready[0]);
		close(ready[1]);
	}
	if (go_ex[0] >= 0) {
		char c;
		int e;

		/* The template: once traced, exec (stopped there).  Its
		 * execve failing, it waits as the others (the older way). */
		if (read(go_ex[0], &c, 1) == 1) {
			execve(cmd, argv, envp);
			e = errno;
			if (write(go_ex[1], &e, sizeof(e)) < 0)
				e = 0;
		}
		close(go_ex[0]);
		close(go_ex[1]);
	}
	if (wait_wake(wake[0], &w) < 0) {
		dprintf(2, "%s: node %d: the master went away\n", program_invocation_short_name,
			nodes[index]);
		_exit(127);
	}
	close(wake[0]);
	close(wake[1]);
	if (w.status < 0) {
		/* Still here, on the master: the move of this one failed. */
		dprintf(2, "%s: node %d: cannot move there: %s\n", program_invocation_short_name,
			nodes[index], w.message[0] ? w.message : bproc_strerror(-w.status));
		_exit(127);
	}
	/* On the node now; a copy of whichever child was dumped, so ask. */
	if (libbproc_io_setup(io, iolen) == 0)
		execve(cmd, argv, envp);
	dprintf(2, "%s: node %d: %s: %s\n", program_invocation_short_name, bproc_currnode(), cmd,
		strerror(errno));
	_exit(127);
}

int bproc_vexecmove_setup(int nnodes, const int *nodes, int *pids,
			  void (*setup)(int index, void *arg), void *arg,
			  const struct bproc_io_t *io, int iolen, const char *cmd,
			  char *const argv[], char *const envp[])
{
	Bproc__VMoveRequest vm = BPROC__VMOVE_REQUEST__INIT;
	Msg req = BPROC__MSG__INIT;
	int *wake_fds, ready[2], go[2] = { -1, -1 }, ex[2] = { -1, -1 };
	bool exec_first;
	int t = -1; /* the template */
	char c;
	int r;

	last_message[0] = '\0';
	if (nnodes <= 0 || !nodes || !pids || !cmd || !argv || !envp || iolen < 0 ||
	    (iolen > 0 && !io))
		return fail(EINVAL);
	/* What execve would refuse, refused while we are all still here. */
	if (access(cmd, X_OK) < 0)
		return -1;
	wake_fds = calloc((size_t)nnodes, sizeof(*wake_fds));
	if (!wake_fds)
		return fail(ENOMEM);
	if (pipe2(ready, O_CLOEXEC) < 0) {
		free(wake_fds);
		return fail(errno);
	}
	/* Exec first, unless files are to be opened on the nodes first.  The
	 * template goes to a node it may go to: refused, it is killed. */
	for (int i = 0; iolen == 0 && t < 0 && i < nnodes; i++)
		if (bproc_access(nodes[i], 1) == 0)
			t = i;
	exec_first = t >= 0 && pipe2(go, O_CLOEXEC) == 0;
	if (exec_first && pipe2(ex, O_CLOEXEC) < 0) {
		close(go[0]);
		close(go[1]);
		go[0] = go[1] = -1;
		exec_first = false;
	}
	for (int i = 0; i < nnodes; i++) {
		int wake[2];

		pids[i] = -1;
		if (pipe2(wake, O_CLOEXEC) < 0) {
			r = errno;
			goto undo;
		}
		pids[i] = fork();
		if (pids[i] == 0)
			vexec_child(i, nodes, wake, ready,
				    i == t ? (int[2]){ go[0], ex[1] } : (int[2]){ -1, -1 },
				    i == t ? (int[4]){ go[1], ex[0], -1, -1 } :
					     (int[4]){ go[0], go[1], ex[0], ex[1] },
				    setup, arg, io, iolen, cmd, argv, envp);
		r = errno;
		/* Each child alone holds its pipe. */
		close(wake[0]);
		close(wake[1]);
		if (pids[i] < 0)
			goto undo;
		wake_fds[i] = wake[1];
	}
	/* The template's ends, closed only now: each child's wake pipe has
	 * the same fds (the copies of one child's image wake by its). */
	if (go[0] >= 0) {
		close(go[0]);
		close(ex[1]);
		go[0] = ex[1] = -1;
	}
	/* The master looks at their fds at once: they must be set up. */
	close(ready[1]);
	ready[1] = -1;
	while (read(ready[0], &c, 1) < 0 && errno == EINTR)
		;
	close(ready[0]);
	ready[0] = -1;
	vm.n_pids = vm.n_nodes = vm.n_wake_fds = (size_t)nnodes;
	vm.pids = pids;
	vm.nodes = (int *)nodes;
	vm.wake_fds = wake_fds;
	req.body_case = BPROC__MSG__BODY_VMOVE_REQUEST;
	req.vmove_request = &vm;
	req.has_id = true;
	req.id = 1;
	if (exec_first) {
		/* The template at its exec, or the older way. */
		exec_first = libbproc_template_trace(pids[t], go[1], ex[0]) == 0;
		go[1] = ex[0] = -1;
	}
	if (exec_first) {
		vm.has_exec_template = true;
		vm.exec_template = t;
		wake_fds[t] = -1;
		r = -libbproc_template_launch(&req, pids[t], nodes[t]);
	} else {
		r = -transact_status(&req);
	}
	if (r == 0) {
		free(wake_fds);
		return nnodes;
	}
undo:
	if (ready[0] >= 0)
		close(ready[0]);
	if (ready[1] >= 0)
		close(ready[1]);
	for (int k = 0; k < 2; k++) {
		if (go[k] >= 0)
			close(go[k]);
		if (ex[k] >= 0)
			close(ex[k]);
	}
	for (int i = 0; i < nnodes && pids[i] > 0; i++) {
		kill(pids[i], SIGKILL);
		while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
			;
		pids[i] = -1;
	}
	free(wake_fds);
	return fail(r);
}

int bproc_vexecmove_io(int nnodes, const int *nodes, int *pids, const struct bproc_io_t *io,
		       int iolen, const char *cmd, char *const argv[], char *const envp[])
{
	return bproc_vexecmove_setup(nnodes, nodes, pids, NULL, NULL, io, iolen, cmd, argv, envp);
}

int bproc_vexecmove(int nnodes, const int *nodes, int *pids, const char *cmd,
		    char *const argv[], char *const envp[])
{
	return bproc_vexecmove_setup(nnodes, nodes, pids, NULL, NULL, NULL, 0, cmd, argv, envp);
}
