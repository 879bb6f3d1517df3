/*
 * master_files.c - bpcp's requests at the master (docs/bpcp.md).
 *
 * A request for the master's own files is served here (file_service.c).
 * One for a node's files goes to the node's slave, stamped with the
 * asker's credentials like any forwarded request; the slave's worker
 * answers with a port, and the master fills in the node's address before
 * passing the answer back, since only it knows every node's address.  The
 * bytes never pass through here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bproc.h"
#include "file_service.h"
#include "log.h"
#include "master.h"
#include "node_state.h"

/* A request passed to a slave, until its answer comes back. */
struct file_relay {
	uint64_t id; /* ours, on the slave's link */
	int node;
	struct conn *client; /* NULL once the asker has gone */
	uint64_t client_id;
	struct file_relay *next;
};

static struct file_relay *relays;
/* Far from the small ids slaves use for their own requests. */
static uint64_t next_relay_id = 1ull << 40;

/* As execute permission on the node, like running a process there. */
static bool node_allows(const struct master_node *n, const struct file_asker *who)
{
	if (who->uid == 0)
		return true;
	if (n->uid == who->uid)
		return n->mode & 0100;
	if (n->gid == who->gid)
		return n->mode & 0010;
	for (size_t i = 0; i < who->ngroups; i++)
		if (n->gid == who->groups[i])
			return n->mode & 0010;
	return n->mode & 0001;
}

/* The master's address as a slave's link reaches it. */
static void local_addr(struct conn *conn, char *buf, size_t len)
{
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);

	snprintf(buf, len, "127.0.0.1");
	if (getsockname(conn->fd, (struct sockaddr *)&sa, &salen) == 0 && sa.sin_family == AF_INET)
		inet_ntop(AF_INET, &sa.sin_addr, buf, (socklen_t)len);
}

int master_file_request(struct master *m, struct conn *conn, const Msg *msg)
{
	const Bproc__FileTransferRequest *req = msg->file_transfer_request;
	Bproc__Credentials creds = BPROC__CREDENTIALS__INIT;
	uint32_t groups[FILE_MAX_GROUPS];
	struct file_asker who;
	struct file_relay *relay;
	struct master_node *n;
	Msg fwd;
	int r;

	/* A local client is who the kernel says; a slave vouches for its own. */
	r = conn->has_creds ? file_asker_from_socket(conn->fd, &who) :
			      file_asker_from_creds(msg->creds, &who);
	if (r < 0)
		return conn_reply(conn, msg->id, -EPROTO, "cannot tell who asks: %s", strerror(-r));
	if (req->node == BPROC_NODE_MASTER) {
		char addr[INET_ADDRSTRLEN];

		local_addr(conn, addr, sizeof(addr));
		return file_service_answer(conn, msg, &who, BPROC_NODE_MASTER, addr, m->cfg.encrypt);
	}
	n = master_client_node(m, req->node);
	if (!n)
		return conn_reply(conn, msg->id, -BE_INVALIDNODE, "no such node");
	if (!n->conn || n->state != BPROC_NODE_UP)
		return conn_reply(conn, msg->id, -BE_NODEDOWN, "node %d is %s", n->node,
				  node_state_name(n->state));
	if (!node_allows(n, &who))
		return conn_reply(conn, msg->id, -EACCES, "node %d: permission denied", n->node);
	relay = calloc(1, sizeof(*relay));
	if (!relay)
		return conn_reply(conn, msg->id, -ENOMEM, "out of memory");
	relay->id = next_relay_id++;
	relay->node = n->node;
	relay->client = conn;
	relay->client_id = msg->id;

	file_asker_to_creds(&who, &creds, groups);
	creds.pid = conn->has_creds ? (uint32_t)conn->creds.pid : msg->creds->pid;
	fwd = *msg;
	fwd.has_id = true;
	fwd.id = relay->id;
	fwd.creds = &creds;
	r = conn_send(n->conn, &fwd);
	if (r < 0) {
		free(relay);
		return conn_reply(conn, msg->id, -BE_NODEDOWN, "node %d: %s", n->node, strerror(-r));
	}
	relay->next = relays;
	relays = relay;
	return 0;
}

static struct file_relay *relay_take(int node, uint64_t id)
{
	for (struct file_relay **p = &relays; *p; p = &(*p)->next) {
		if ((*p)->id == id && (*p)->node == node) {
			struct file_relay *r = *p;

			*p = r->next;
			return r;
		}
	}
	return NULL;
}

int master_file_reply(struct master *m, int node, Msg *msg)
{
	struct master_node *n = master_find_node(m, node);
	struct file_relay *relay;
	char addr[INET_ADDRSTRLEN];

	if (!msg->has_id || (msg->body_case != BPROC__MSG__BODY_REPLY &&
			     msg->body_case != BPROC__MSG__BODY_FILE_TRANSFER_REPLY))
		return 0;
	relay = relay_take(node, msg->id);
	if (!relay)
		return 0;
	if (relay->client) {
		uint64_t ours = msg->id;
		int r;

		if (msg->body_case == BPROC__MSG__BODY_FILE_TRANSFER_REPLY) {
			/* The worker listens on every address of its node; the
			 * asker and other nodes reach it at the node's own. */
			inet_ntop(AF_INET, &n->addr, addr, sizeof(addr));
			free(msg->file_transfer_reply->endpoint->addr);
			msg->file_transfer_reply->endpoint->addr = strdup(addr);
		}
		msg->id = relay->client_id;
		r = conn_send(relay->client, msg);
		msg->id = ours;
		if (r < 0)
			pr_debug("%s: file transfer answer not delivered: %s", relay->client->name,
				 strerror(-r));
	}
	free(relay);
	return 1;
}

void master_files_node_down(struct master *m, int node)
{
	(void)m;
	for (struct file_relay **p = &relays; *p;) {
		struct file_relay *r = *p;

		if (r->node != node) {
			p = &r->next;
			continue;
		}
		*p = r->next;
		if (r->client)
			conn_reply(r->client, r->client_id, -BE_NODEDOWN,
				   "node %d went down while answering", node);
		free(r);
	}
}

void master_files_client_closed(struct conn *conn)
{
	for (struct file_relay *r = relays; r; r = r->next)
		if (r->client == conn)
			r->client = NULL;
}
