/*
 * slave_move_peers.c - taking a process straight from another node.
 *
 * Every slave listens on a TCP port of its own (any free one, told to the
 * master in NodeReady).  The master announces each move from another node
 * with MoveExpect (move id, pid, a random token), which we answer once we
 * know we can take it.  The source slave then connects, proves it is the
 * one the master sent with MoveHello (move id and token), and sends the
 * image and the RestoreRequest, which slave_moves.c handles exactly as if
 * they came from the master; its RestoreResult goes to the master.  A
 * connection that does not start with the right MoveHello is dropped; one
 * that closes before the RestoreRequest fails the move.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sodium.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bproc.h"
#include "log.h"
#include "slave.h"
#include "util.h"

#define TOKEN_LEN 16

struct move_expected {
	uint64_t id;
	pid_t pid;
	uint8_t token[TOKEN_LEN];
	bool has_source;   /* a move between nodes (not a launch's copy) */
	int source;        /* from this node (the master's number) */
	struct conn *peer; /* the source, once it said MoveHello */
	bool sending;      /* its images have begun to come */
	struct move_expected *next;
};

static struct move_expected *find_by_peer(struct slave *s, struct conn *conn)
{
	for (struct move_expected *e = s->expected; e; e = e->next)
		if (e->peer == conn)
			return e;
	return NULL;
}

static void unlink_expected(struct slave *s, struct move_expected *e)
{
	for (struct move_expected **p = &s->expected; *p; p = &(*p)->next)
		if (*p == e) {
			*p = e->next;
			return;
		}
}

static void fail_to_master(struct slave *s, uint64_t id, int status, const char *why)
{
	Bproc__RestoreResult res = BPROC__RESTORE_RESULT__INIT;
	Msg msg = BPROC__MSG__INIT;

	res.move_id = id;
	res.status = status;
	res.message = (char *)why;
	msg.body_case = BPROC__MSG__BODY_RESTORE_RESULT;
	msg.restore_result = &res;
	slave_send_to_master(s, &msg);
}

static int hello(struct slave *s, struct conn *conn, const Msg *msg)
{
	const Bproc__MoveHello *h = msg->move_hello;

	if (msg->body_case != BPROC__MSG__BODY_MOVE_HELLO)
		return -EPERM;
	for (struct move_expected *e = s->expected; e; e = e->next) {
		if (e->id != h->move_id || e->peer || h->token.len != TOKEN_LEN ||
		    memcmp(e->token, h->token.data, TOKEN_LEN) != 0)
			continue;
		e->peer = conn;
		snprintf(conn->name, sizeof(conn->name), "move %llu from a node",
			 (unsigned long long)e->id);
		slave_peer_encrypt(s, conn, e->token, TOKEN_LEN, false);
		return 0;
	}
	pr_warn("%s: not a move we expect; dropped", conn->name);
	return -EPERM;
}

static int peer_msg(struct conn *conn, Msg *msg, void *data)
{
	struct slave *s = data;
	struct move_expected *e = find_by_peer(s, conn);

	if (!e)
		return hello(s, conn, msg);
	switch (msg->body_case) {
	case BPROC__MSG__BODY_PATH_CHECK_REQUEST:
		/* Before it freezes anything, the source asks about files. */
		if (msg->path_check_request->move_id != e->id || e->sending)
			return -EPROTO;
		return slave_path_check(s, conn, msg->path_check_request);
	case BPROC__MSG__BODY_IMAGE_CHUNK:
		if (msg->image_chunk->move_id != e->id)
			return -EPROTO;
		e->sending = true;
		return slave_moves_handle(s, msg);
	case BPROC__MSG__BODY_RESTORE_REQUEST: {
		bool from_node = e->has_source;
		int source = e->source;

		if (msg->restore_request->move_id != e->id || msg->restore_request->pid != e->pid)
			return -EPROTO;
		/* From here it is a restore like any other (but for what
		 * happens if its commit never comes: slave_moves_master_lost). */
		unlink_expected(s, e);
		free(e);
		conn_close(conn, NULL);
		return slave_moves_restore(s, msg->restore_request, from_node, source);
	}
	default:
		return -EPROTO;
	}
}

static void peer_closed(struct conn *conn, void *data)
{
	struct slave *s = data;
	struct move_expected *e = find_by_peer(s, conn);
	char why[160];

	if (!e)
		return;
	if (!e->sending) {
		/* The source refused the move (its checks, or our answer
		 * about the files) and says why to the master itself; the
		 * master then drops the move here. */
		pr_info("move %llu: the source closed before sending anything",
			(unsigned long long)e->id);
		e->peer = NULL;
		return;
	}
	snprintf(why, sizeof(why),
		 "node %d: the source node's link closed before the whole image came", s->node);
	pr_warn("move %llu: %s", (unsigned long long)e->id, why);
	unlink_expected(s, e);
	slave_moves_remove_images(e->id);
	fail_to_master(s, e->id, -ECONNRESET, why);
	free(e);
}

static void on_accept(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct slave *s = data;
	struct conn *conn;
	int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

	(void)events;
	if (cfd < 0)
		return;
	if (conn_new(loop, cfd, "move peer", peer_msg, peer_closed, s, &conn) < 0)
		pr_warn("move peer: cannot take the connection");
}

int slave_move_listen(struct slave *s)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int r;

	if (fd < 0)
		return -errno;
	/* Port 0: any free one; the master learns it from NodeReady. */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	r = loop_add(s->loop, fd, EPOLLIN, on_accept, s);
	if (r < 0) {
		close(fd);
		return r;
	}
	s->move_fd = fd;
	s->move_port = ntohs(sa.sin_port);
	pr_info("taking processes from other nodes on port %u", s->move_port);
	return 0;
}

int slave_move_expect(struct slave *s, const Msg *msg)
{
	const Bproc__MoveExpect *ex = msg->move_expect;
	struct move_expected *e;

	if (!s->criu[0])
		return conn_reply(s->master, msg->id, -ENOENT, "this node has no CRIU");
	if (s->init_pid <= 0)
		return conn_reply(s->master, msg->id, -BE_NODEDOWN, "the node has no pid namespace");
	if (ex->token.len != TOKEN_LEN)
		return conn_reply(s->master, msg->id, -EPROTO, "bad move token");
	if (slave_restored_find(s, ex->pid))
		return conn_reply(s->master, msg->id, -EBUSY, "a process %d already runs here",
				  ex->pid);
	e = calloc(1, sizeof(*e));
	if (!e)
		return conn_reply(s->master, msg->id, -ENOMEM, "out of memory");
	e->id = ex->move_id;
	e->pid = ex->pid;
	e->has_source = ex->has_source;
	e->source = ex->source;
	memcpy(e->token, ex->token.data, TOKEN_LEN);
	e->next = s->expected;
	s->expected = e;
	return conn_reply(s->master, msg->id, 0, NULL);
}

bool slave_move_expect_drop(struct slave *s, uint64_t move_id)
{
	for (struct move_expected *e = s->expected; e; e = e->next) {
		if (e->id != move_id)
			continue;
		unlink_expected(s, e);
		if (e->peer) {
			struct conn *peer = e->peer;

			e->peer = NULL;
			conn_close(peer, NULL);
		}
		slave_moves_remove_images(move_id);
		free(e);
		return true;
	}
	return false;
}

void slave_move_expect_drop_all(struct slave *s)
{
	while (s->expected)
		slave_move_expect_drop(s, s->expected->id);
}

void slave_move_peers_shutdown(struct slave *s)
{
	slave_move_expect_drop_all(s);
	if (s->move_fd >= 0) {
		loop_remove(s->loop, s->move_fd);
		close(s->move_fd);
		s->move_fd = -1;
	}
}

void slave_peer_encrypt(struct slave *s, struct conn *peer, const uint8_t *token, size_t len,
			bool connector)
{
	uint8_t tx[32], rx[32];

	if (!s->auth.encrypt)
		return;
	auth_link_keys(&s->secret, "bproc peer keys", token, len, connector, tx, rx);
	conn_encrypt(peer, tx, rx);
	sodium_memzero(tx, sizeof(tx));
	sodium_memzero(rx, sizeof(rx));
}
