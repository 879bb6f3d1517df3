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
#include "file_service.h"
#include "log.h"
#include "move_source.h"
#include "slave.h"
#include "sockets.h"
#include "util.h"

struct pending_request {
	uint64_t id;         /* ours, on the master link */
	uint64_t client_id;  /* the client's */
	struct conn *client; /* NULL once the client has gone */
	/* A process moving itself (bproc_move): it closed its connection
	 * and waits on a pipe; a failure is written there (on success the
	 * target node wakes it). */
	pid_t wake_pid;      /* its host pid, 0 if this is not one */
	int wake_fd;
	Msg *deferred;       /* its request, sent once the connection closes */
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

static int send_forwarded(struct slave *s, struct pending_request *req, Msg *msg,
			  const struct ucred *cred, int fd);

static void client_closed(struct conn *conn, void *data)
{
	struct slave *s = data;

	for (struct pending_request *p = s->pending, *next; p; p = next) {
		next = p->next;
		if (p->client != conn)
			continue;
		p->client = NULL;
		if (p->deferred) {
			/* The process has let go of its connection: CRIU may
			 * take it now. */
			Msg *msg = p->deferred;
			struct ucred cred = conn->creds;

			p->deferred = NULL;
			if (send_forwarded(s, p, msg, &cred, -1) < 0) {
				move_wake(p->wake_pid, p->wake_fd, -BE_NOMASTER,
					  "the node lost its master");
				for (struct pending_request **q = &s->pending; *q; q = &(*q)->next)
					if (*q == p) {
						*q = p->next;
						break;
					}
				free(p);
			}
			msg_free(msg);
		}
	}
}

/* The pid of host_pid inside the node (the last NSpid field), 0 if none. */
static pid_t node_pid_of(pid_t host_pid)
{
	char path[64], line[256];
	_cleanup_fclose_ FILE *f = NULL;
	pid_t inner = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)host_pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		char *p;

		if (strncmp(line, "NSpid:", 6) != 0)
			continue;
		for (p = strtok(line + 6, " \t\n"); p; p = strtok(NULL, " \t\n"))
			inner = (pid_t)atoi(p);
	}
	return inner;
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

/* Send msg to the master under req's id with the client's credentials. */
/* fd: the client's socket, for its supplementary groups; -1 once closed. */
static int send_forwarded(struct slave *s, struct pending_request *req, Msg *msg,
			  const struct ucred *cred, int fd)
{
	Bproc__Credentials creds = BPROC__CREDENTIALS__INIT;
	Bproc__Credentials *client_creds = msg->creds;
	uint32_t groups[FILE_MAX_GROUPS];
	struct file_asker who;
	uint64_t client_id = msg->id;
	int r;

	/* Whatever the client claims, the kernel's word counts. */
	creds.pid = (uint32_t)cred->pid;
	creds.uid = cred->uid;
	creds.gid = cred->gid;
	if (fd >= 0 && file_asker_from_socket(fd, &who) == 0)
		file_asker_to_creds(&who, &creds, groups);
	msg->creds = &creds;
	msg->has_id = true;
	msg->id = req->id;
	r = slave_send_to_master(s, msg);
	msg->creds = client_creds; /* msg_free() owns the original */
	msg->id = client_id;
	return r;
}

/*
 * A new pending request for conn's msg, with our own id; NULL when there is
 * no master to ask or no memory, and the client has been told (*r).
 */
static struct pending_request *new_pending(struct slave *s, struct conn *conn, const Msg *msg,
					   int *r)
{
	struct pending_request *req;

	if (!s->master || !s->welcomed) {
		*r = conn_reply(conn, msg->id, -BE_NOMASTER,
				"node %d has no link to its master (%s) right now", s->node,
				s->master_text);
		return NULL;
	}
	req = calloc(1, sizeof(*req));
	if (!req) {
		*r = conn_reply(conn, msg->id, -ENOMEM, "out of memory");
		return NULL;
	}
	req->id = ++s->next_id;
	req->client = conn;
	return req;
}

static int forward_request(struct slave *s, struct conn *conn, Msg *msg)
{
	struct pending_request *req;
	uint64_t client_id = msg->id;
	int r;

	req = new_pending(s, conn, msg, &r);
	if (!req)
		return r;
	req->client_id = client_id;
	r = send_forwarded(s, req, msg, &conn->creds, conn->fd);
	if (r < 0) {
		free(req);
		return conn_reply(conn, client_id, -BE_NOMASTER, "lost the master: %s", strerror(-r));
	}
	req->next = s->pending;
	s->pending = req;
	return 0;
}

/*
 * A move request.  A process asking to move itself (it gives a wake fd
 * and its own pid) is held until it closes its connection, then
 * forwarded; the others go at once.
 */
static int forward_move(struct slave *s, struct conn *conn, Msg *msg)
{
	const Bproc__MoveRequest *mr = msg->move_request;
	struct pending_request *req;
	int r;

	if (!mr->has_wake_fd || mr->wake_fd < 0 || mr->pid != node_pid_of(conn->creds.pid))
		return forward_request(s, conn, msg);
	req = new_pending(s, conn, msg, &r);
	if (!req)
		return r;
	req->wake_pid = conn->creds.pid;
	req->wake_fd = mr->wake_fd;
	/* conn_read frees msg after us: keep a copy of our own. */
	{
		uint8_t *frame = NULL;
		size_t len;

		if (frame_encode(msg, &frame, &len) == 0 &&
		    frame_parse(frame, len, &req->deferred, &len) == 0 && req->deferred) {
			free(frame);
		} else {
			free(frame);
			free(req);
			return conn_reply(conn, msg->id, -ENOMEM, "out of memory");
		}
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
	case BPROC__MSG__BODY_FILE_TRANSFER_REQUEST:
		if (s->welcomed && msg->file_transfer_request->node == s->node)
			return slave_files_request(s, conn, msg, false);
		return forward_request(s, conn, msg);
	case BPROC__MSG__BODY_MOVE_REQUEST:
		return forward_move(s, conn, msg);
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
	if (req->wake_pid > 0) {
		/* A process that moved itself: it hears a failure here, where
		 * it still runs; success, from the node it runs on now. */
		if (msg->body_case == BPROC__MSG__BODY_REPLY && msg->reply->status < 0)
			move_wake(req->wake_pid, req->wake_fd, msg->reply->status,
				  msg->reply->message);
		free(req);
		return 1;
	}
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
		if (req->client && !req->deferred)
			conn_reply(req->client, req->client_id, -BE_NOMASTER,
				   "node %d lost its master while answering", s->node);
		if (req->wake_pid > 0 && !req->client)
			move_wake(req->wake_pid, req->wake_fd, -BE_NOMASTER,
				  "the node lost its master during the move");
		msg_free(req->deferred);
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
