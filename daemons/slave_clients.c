/*
 * slave_clients.c - clients on a node.
 *
 * A process on a node finds its daemon at the same socket path as on the
 * master (the node's /run is its own), so libbproc works unchanged there.
 * The slave answers what only it knows (which node this is) and forwards
 * everything else to the master, stamped with the client's credentials
 * from SO_PEERCRED, under an id of its own; the master's answer is sent
 * back to the client under the client's id.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bproc.h"
#include "log.h"
#include "slave.h"
#include "sockets.h"
#include "util.h"

struct pending_request {
	uint64_t id;         /* ours, on the master link */
	uint64_t client_id;  /* the client's */
	struct conn *client; /* NULL once the client has gone */
	struct pending_request *next;
};

static struct pending_request *pending_take(struct slave *s, uint64_t id)
{
	for (struct pending_request **p = &s->pending; *p; p = &(*p)->next) {
		if ((*p)->id == id) {
			struct pending_request *req = *p;

			*p = req->next;
			return req;
		}
	}
	return NULL;
}

static void client_closed(struct conn *conn, void *data)
{
	struct slave *s = data;

	for (struct pending_request *p = s->pending; p; p = p->next)
		if (p->client == conn)
			p->client = NULL;
}

static int reply_where_am_i(struct slave *s, struct conn *conn, uint64_t id)
{
	Bproc__WhereAmIReply where = BPROC__WHERE_AM_IREPLY__INIT;
	Msg msg = BPROC__MSG__INIT;

	if (!s->welcomed)
		return conn_reply(conn, id, -BE_NOMASTER,
				  "this node has not registered with its master yet");
	where.node = s->node;
	msg.has_id = true;
	msg.id = id;
	msg.body_case = BPROC__MSG__BODY_WHERE_AM_I_REPLY;
	msg.where_am_i_reply = &where;
	return conn_send(conn, &msg);
}

static int forward_request(struct slave *s, struct conn *conn, Msg *msg)
{
	Bproc__Credentials creds = BPROC__CREDENTIALS__INIT;
	Bproc__Credentials *client_creds = msg->creds;
	struct pending_request *req;
	uint64_t client_id = msg->id;
	int r;

	if (!s->master || !s->welcomed)
		return conn_reply(conn, msg->id, -BE_NOMASTER,
				  "node %d has no link to its master (%s) right now", s->node,
				  s->master_text);
	req = calloc(1, sizeof(*req));
	if (!req)
		return conn_reply(conn, msg->id, -ENOMEM, "out of memory");
	req->id = ++s->next_id;
	req->client_id = client_id;
	req->client = conn;

	/* Whatever the client claims, the kernel's word counts. */
	creds.pid = (uint32_t)conn->creds.pid;
	creds.uid = conn->creds.uid;
	creds.gid = conn->creds.gid;
	msg->creds = &creds;
	msg->has_id = true;
	msg->id = req->id;
	r = slave_send_to_master(s, msg);
	msg->creds = client_creds; /* msg_free() owns the original */
	msg->id = client_id;
	if (r < 0) {
		free(req);
		return conn_reply(conn, client_id, -BE_NOMASTER, "lost the master: %s", strerror(-r));
	}
	req->next = s->pending;
	s->pending = req;
	return 0;
}

static int client_msg(struct conn *conn, Msg *msg, void *data)
{
	struct slave *s = data;

	switch (msg->body_case) {
	case BPROC__MSG__BODY_WHERE_AM_I_REQUEST:
		return reply_where_am_i(s, conn, msg->id);
	case BPROC__MSG__BODY_NODE_LIST_REQUEST:
	case BPROC__MSG__BODY_NODE_CHANGE_REQUEST:
	case BPROC__MSG__BODY_PROC_LIST_REQUEST:
		return forward_request(s, conn, msg);
	default:
		return conn_reply(conn, msg->id, -EPROTO, "%s is not a request", msg_body_name(msg));
	}
}

int slave_forward_reply(struct slave *s, Msg *msg)
{
	struct pending_request *req;
	int r = 0;

	if (!msg->has_id)
		return 0;
	req = pending_take(s, msg->id);
	if (!req)
		return 0;
	if (req->client) {
		uint64_t ours = msg->id;

		msg->id = req->client_id;
		r = conn_send(req->client, msg);
		msg->id = ours;
		if (r < 0)
			pr_debug("%s: reply not delivered: %s", req->client->name, strerror(-r));
	}
	free(req);
	return 1;
}

void slave_fail_pending(struct slave *s)
{
	while (s->pending) {
		struct pending_request *req = s->pending;

		s->pending = req->next;
		if (req->client)
			conn_reply(req->client, req->client_id, -BE_NOMASTER,
				   "node %d lost its master while answering", s->node);
		free(req);
	}
}

static void on_unix(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct slave *s = data;
	struct conn *conn;
	char name[64];
	int cfd, r;

	cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	r = conn_new(loop, cfd, "client", client_msg, client_closed, s, &conn);
	if (r < 0) {
		pr_err("client: %s", strerror(-r));
		return;
	}
	snprintf(name, sizeof(name), "client pid %d", (int)conn->creds.pid);
	snprintf(conn->name, sizeof(conn->name), "%s", name);
}

int slave_clients_listen(struct slave *s)
{
	int r;

	s->unix_fd = socket_listen_unix(s->socket_path, 0666);
	if (s->unix_fd < 0) {
		r = s->unix_fd;
		if (r == -EADDRINUSE)
			pr_err("%s: another bproc daemon is running here", s->socket_path);
		else
			pr_err("%s: %s", s->socket_path, strerror(-r));
		return r;
	}
	return loop_add(s->loop, s->unix_fd, EPOLLIN, on_unix, s);
}
