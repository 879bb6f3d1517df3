/*
 * master_clients.c - the requests the master answers.
 *
 * Local clients connect to the unix socket; the kernel tells who they are
 * (SO_PEERCRED).  Clients on nodes ask their slave, which forwards the
 * request here with their credentials.  Either way the answer goes back on
 * the connection it came from, with the request's id.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bproc.h"
#include "log.h"
#include "master.h"
#include "node_state.h"
#include "util.h"

/*
 * A process asking to move itself (bproc_move) must not hold its
 * connection to us while CRIU dumps it: it sends the request, closes the
 * connection and waits on its wake pipe.  The move starts when we see the
 * close.
 */
struct self_move {
	struct conn *conn;
	pid_t pid;
	int node;
	int wake_fd;
	uid_t uid;
	gid_t gid;
	struct self_move *next;
};

static struct self_move *self_moves;

static int defer_self_move(struct conn *conn, const Bproc__MoveRequest *req, uid_t uid, gid_t gid)
{
	struct self_move *sm = calloc(1, sizeof(*sm));

	if (!sm)
		return conn_reply(conn, 0, -ENOMEM, "out of memory");
	sm->conn = conn;
	sm->pid = req->pid;
	sm->node = req->node;
	sm->wake_fd = req->wake_fd;
	sm->uid = uid;
	sm->gid = gid;
	sm->next = self_moves;
	self_moves = sm;
	return 0;
}

static int reply_node_list(struct master *m, struct conn *conn, uint64_t id)
{
	Bproc__NodeListReply list = BPROC__NODE_LIST_REPLY__INIT;
	Msg msg = BPROC__MSG__INIT;
	_cleanup_free_ Bproc__NodeInfo *infos = calloc(m->nnodes ? m->nnodes : 1, sizeof(*infos));
	_cleanup_free_ Bproc__NodeInfo **ptrs = calloc(m->nnodes ? m->nnodes : 1, sizeof(*ptrs));
	_cleanup_free_ char *addrs = calloc(m->nnodes ? m->nnodes : 1, INET_ADDRSTRLEN);

	if (!infos || !ptrs || !addrs)
		return conn_reply(conn, id, -ENOMEM, "out of memory");
	for (size_t i = 0; i < m->nnodes; i++) {
		struct master_node *n = &m->nodes[i];
		Bproc__NodeInfo *info = &infos[i];
		char *addr = addrs + i * INET_ADDRSTRLEN;

		bproc__node_info__init(info);
		info->node = n->node;
		info->state = (Bproc__NodeState)n->state;
		info->mode = n->mode;
		info->uid = n->uid;
		info->gid = n->gid;
		inet_ntop(AF_INET, &n->addr, addr, INET_ADDRSTRLEN);
		info->addr = addr;
		if (n->hostname[0])
			info->hostname = n->hostname;
		if (n->state == BPROC_NODE_UP) {
			info->has_up_since = true;
			info->up_since = (uint64_t)n->up_since;
		}
		if (n->conn) {
			info->has_nprocs = true;
			info->nprocs = n->nprocs;
		}
		ptrs[i] = info;
	}
	list.n_nodes = m->nnodes;
	list.nodes = ptrs;
	msg.has_id = true;
	msg.id = id;
	msg.body_case = BPROC__MSG__BODY_NODE_LIST_REPLY;
	msg.node_list_reply = &list;
	return conn_send(conn, &msg);
}

static int reply_where_am_i(struct conn *conn, uint64_t id)
{
	Bproc__WhereAmIReply where = BPROC__WHERE_AM_IREPLY__INIT;
	Msg msg = BPROC__MSG__INIT;

	where.node = BPROC_NODE_MASTER;
	msg.has_id = true;
	msg.id = id;
	msg.body_case = BPROC__MSG__BODY_WHERE_AM_I_REPLY;
	msg.where_am_i_reply = &where;
	return conn_send(conn, &msg);
}

/* The table of remote processes: every ghost and its node. */
static int reply_proc_list(struct conn *conn, uint64_t id)
{
	Bproc__ProcListReply list = BPROC__PROC_LIST_REPLY__INIT;
	Msg msg = BPROC__MSG__INIT;
	_cleanup_free_ Bproc__ProcEntry **procs = NULL;
	_cleanup_free_ Bproc__ProcEntry *storage = NULL;
	int r;

	r = master_proc_list(&procs, &storage, &list.n_procs);
	if (r < 0)
		return conn_reply(conn, id, r, "out of memory");
	list.procs = procs;
	msg.has_id = true;
	msg.id = id;
	msg.body_case = BPROC__MSG__BODY_PROC_LIST_REPLY;
	msg.proc_list_reply = &list;
	return conn_send(conn, &msg);
}

static int change_nodes(struct master *m, struct conn *conn, uint64_t id,
			const Bproc__NodeChangeRequest *req, uid_t uid)
{
	if (uid != 0)
		return conn_reply(conn, id, -EPERM, "only root may change nodes");
	if (req->n_nodes == 0)
		return conn_reply(conn, id, -EINVAL, "no node given");
	if (req->has_state && node_state_name(req->state)[0] == 'i')
		return conn_reply(conn, id, -EINVAL, "invalid state %d", req->state);
	/* Check every node before changing any, so a typo changes nothing. */
	for (size_t i = 0; i < req->n_nodes; i++)
		if (!master_client_node(m, req->nodes[i]))
			return conn_reply(conn, id, -BE_INVALIDNODE, "node %d: no such node",
					  req->nodes[i]);
	for (size_t i = 0; i < req->n_nodes; i++) {
		struct master_node *n = master_client_node(m, req->nodes[i]);
		int r = master_change_node(m, n, req);

		if (r == -BE_NODEDOWN)
			return conn_reply(conn, id, r, "node %d is down", n->node);
		if (r == -EBUSY)
			return conn_reply(conn, id, r, "node %d is %s; wait until it is up", n->node,
					  node_state_name(n->state));
		if (r == -EINVAL)
			return conn_reply(conn, id, r, "node %d: state %s cannot be set by hand",
					  n->node, node_state_name(req->state));
		if (r < 0)
			return conn_reply(conn, id, r, "node %d: %s", n->node, strerror(-r));
		if (req->has_state)
			pr_info("node %d: state set to %s by uid %u", n->node,
				node_state_name(req->state), (unsigned)uid);
	}
	return conn_reply(conn, id, 0, NULL);
}

int master_handle_request(struct master *m, struct conn *conn, const Msg *msg, uid_t uid, gid_t gid)
{
	(void)gid;
	switch (msg->body_case) {
	case BPROC__MSG__BODY_NODE_LIST_REQUEST:
		return reply_node_list(m, conn, msg->id);
	case BPROC__MSG__BODY_WHERE_AM_I_REQUEST:
		return reply_where_am_i(conn, msg->id);
	case BPROC__MSG__BODY_NODE_CHANGE_REQUEST:
		return change_nodes(m, conn, msg->id, msg->node_change_request, uid);
	case BPROC__MSG__BODY_PROC_LIST_REQUEST:
		return reply_proc_list(conn, msg->id);
	case BPROC__MSG__BODY_FILE_TRANSFER_REQUEST:
		return master_file_request(m, conn, msg);
	case BPROC__MSG__BODY_VMOVE_REQUEST:
		return master_vmove(m, conn, msg->id, msg->vmove_request, uid, gid);
	case BPROC__MSG__BODY_MOVE_REQUEST: {
		const Bproc__MoveRequest *req = msg->move_request;
		int wake_fd = req->has_wake_fd ? req->wake_fd : -1;

		if (req->has_exec_traced && req->exec_traced)
			return master_move_exec(m, conn, msg->id, req->pid, req->node, uid, gid);
		if (wake_fd >= 0 && conn->has_creds && req->pid == conn->creds.pid)
			return defer_self_move(conn, req, uid, gid);
		/* From a node, the slave did that part: it forwards a process's
		 * move of itself once the process has closed its connection. */
		return master_move(m, conn, msg->id, req->pid, req->node, uid, gid, wake_fd,
				   !conn->has_creds, req->has_lazy && req->lazy);
	}
	case BPROC__MSG__BODY_MOVE_RELEASED:
		master_move_released(m, conn, msg->move_released->pid);
		return 0;
	default:
		return -ENOTSUP;
	}
}

static int client_msg(struct conn *conn, Msg *msg, void *data)
{
	struct master *m = data;
	int r;

	r = master_handle_request(m, conn, msg, conn->creds.uid, conn->creds.gid);
	if (r == -ENOTSUP)
		return conn_reply(conn, msg->id, -EPROTO, "%s is not a request",
				  msg_body_name(msg));
	return r;
}

static void client_closed(struct conn *conn, void *data)
{
	struct master *m = data;

	master_moves_client_closed(m, conn);
	for (struct self_move **p = &self_moves; *p;) {
		struct self_move *sm = *p;

		if (sm->conn != conn) {
			p = &sm->next;
			continue;
		}
		*p = sm->next;
		master_move(m, NULL, 0, sm->pid, sm->node, sm->uid, sm->gid, sm->wake_fd, false, false);
		free(sm);
	}
	master_files_client_closed(conn);
}

void master_accept_client(struct master *m)
{
	struct conn *conn;
	char name[64];
	int fd, r;

	fd = accept4(m->unix_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR)
			pr_warn("accept on %s: %s", m->socket_path, strerror(errno));
		return;
	}
	r = conn_new(m->loop, fd, "client", client_msg, client_closed, m, &conn);
	if (r < 0) {
		pr_err("client: %s", strerror(-r));
		return;
	}
	snprintf(name, sizeof(name), "client pid %d", (int)conn->creds.pid);
	snprintf(conn->name, sizeof(conn->name), "%s", name);
}
