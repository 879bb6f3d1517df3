/*
 * master_nodes.c - the master's side of its slaves.
 *
 * A slave connects over TCP and first proves it holds the cluster's secret
 * (daemons/auth.c: until then nothing it says is read, and a link that has
 * not proved itself within AUTH_TIMEOUT_MS is cut); then it says Hello; its source address, looked up
 * in the config's ip/iprange lines, says which node it is.  The master
 * answers Welcome with the node number, the node boots (its slave sets up
 * the node's pid namespace and client socket) and reports NodeReady, and
 * from then on sends a Heartbeat every heartbeat interval.  A node whose
 * link closes or falls silent for pingtimeout is down.
 *
 * The home node's slave (master_home.c) is reached over a unix socket of
 * its own instead: it proves the secret the same way, and is the home node
 * whatever it says.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "auth.h"
#include "bproc.h"
#include "log.h"
#include "master.h"
#include "master_store.h"
#include "node_state.h"
#include "util.h"

struct slave_link {
	struct master *m;
	struct master_node *node; /* set by Hello */
	struct in_addr peer;
	bool home;                /* the link to the home slave's socket */
	struct conn *conn;
	struct auth auth;
	long long accepted_ms;
	struct slave_link *next_unproven; /* in unproven_links until auth_done() */
};

/* Links that have not proved themselves yet, cut when they take too long. */
static struct slave_link *unproven_links;

static void forget_unproven(struct slave_link *link)
{
	for (struct slave_link **p = &unproven_links; *p; p = &(*p)->next_unproven)
		if (*p == link) {
			*p = link->next_unproven;
			return;
		}
}

int master_nodes_init(struct master *m)
{
	m->nnodes = m->cfg.nnodes;
	m->nodes = calloc(m->nnodes ? m->nnodes : 1, sizeof(*m->nodes));
	if (!m->nodes)
		return -ENOMEM;
	for (size_t i = 0; i < m->nnodes; i++) {
		struct master_node *n = &m->nodes[i];

		n->node = m->cfg.nodes[i].node;
		n->addr = m->cfg.nodes[i].addr;
		n->state = BPROC_NODE_DOWN;
		n->mode = 0111; /* BProc's default: anyone may run there */
		n->uid = 0;
		n->gid = 0;
	}
	m->home.node = MASTER_HOME_NODE;
	m->home.state = BPROC_NODE_DOWN;
	m->home.mode = 0111;
	return 0;
}

struct master_node *master_client_node(struct master *m, int node)
{
	int i = config_node_index(&m->cfg, node);

	return i < 0 ? NULL : &m->nodes[i];
}

struct master_node *master_find_node(struct master *m, int node)
{
	return node == MASTER_HOME_NODE ? &m->home : master_client_node(m, node);
}

struct in_addr master_node_addr_for(struct master *m, const struct master_node *n,
				    const struct master_node *peer)
{
	struct sockaddr_in sa = { 0 };
	socklen_t len = sizeof(sa);

	if (n != &m->home)
		return n->addr;
	/* The home slave shares our network: peer reaches it where it
	 * reaches us, the address its link to us came to. */
	if (peer && peer->conn && getsockname(peer->conn->fd, (struct sockaddr *)&sa, &len) == 0 &&
	    sa.sin_family == AF_INET)
		return sa.sin_addr;
	return n->addr;
}

static void node_set_state(struct master_node *n, int state)
{
	if (n->state == state)
		return;
	pr_info("node %d: %s -> %s", n->node, node_state_name(n->state), node_state_name(state));
	if (state == BPROC_NODE_UP && n->state != BPROC_NODE_UNAVAILABLE &&
	    n->state != BPROC_NODE_ERROR)
		n->up_since = time(NULL);
	n->state = state;
}

static void node_event(struct master_node *n, enum node_event ev)
{
	int next;

	if (node_state_event(n->state, ev, &next) == 0)
		node_set_state(n, next);
}

static void slave_closed(struct conn *conn, void *data)
{
	struct slave_link *link = data;
	struct master_node *n = link->node;

	if (n && n->conn == conn) {
		n->conn = NULL;
		n->nprocs = 0;
		node_event(n, NODE_EVENT_LOST);
		master_ghosts_node_down(link->m, n->node);
		master_procs_node_down(link->m, n->node);
		master_held_node_down(link->m, n->node);
		master_files_node_down(link->m, n->node);
	}
	if (link->home)
		master_home_link_closed(link->m);
	forget_unproven(link);
	master_files_client_closed(conn);
	free(link);
}

static int slave_hello(struct slave_link *link, struct conn *conn, const Msg *msg)
{
	struct master *m = link->m;
	Bproc__Welcome welcome = BPROC__WELCOME__INIT;
	Msg reply = BPROC__MSG__INIT;
	char addr[INET_ADDRSTRLEN];
	_cleanup_free_ int32_t *keep = NULL;
	struct master_node *n;
	int node, r;

	inet_ntop(AF_INET, &link->peer, addr, sizeof(addr));
	if (msg->hello->role != BPROC__PEER_ROLE__ROLE_SLAVE) {
		conn_reply(conn, msg->id, -EPROTO, "only slaves connect to the master's TCP port");
		return -EPROTO;
	}
	node = link->home ? MASTER_HOME_NODE : config_node_by_addr(&m->cfg, link->peer);
	if (node < 0 && !link->home) {
		pr_warn("slave at %s refused: no ip/iprange line in %s gives it a node number",
			addr, m->config_path);
		conn_reply(conn, msg->id, -BE_INVALIDNODE,
			   "address %s is not a node of this cluster (see %s)", addr, m->config_path);
		return -BE_INVALIDNODE;
	}
	n = master_find_node(m, node);
	if (n->conn) {
		/* The old link is stale: its slave restarted before we noticed. */
		pr_info("node %d: new connection from %s replaces the old one", node, addr);
		conn_close(n->conn, "replaced by a new connection from the same node");
	}
	link->node = n;
	n->conn = conn;
	n->last_heard_ms = now_ms();
	snprintf(n->hostname, sizeof(n->hostname), "%s",
		 msg->hello->hostname ? msg->hello->hostname : "");
	if (link->home)
		snprintf(conn->name, sizeof(conn->name), "home node");
	else
		snprintf(conn->name, sizeof(conn->name), "node %d", node);
	node_event(n, NODE_EVENT_CONNECT);

	/* The home slave's processes run on the master: that is where it
	 * tells them they are (WhereAmI). */
	welcome.node = link->home ? BPROC_NODE_MASTER : node;
	/* Three heartbeats fit in the timeout, so one lost packet is no death. */
	welcome.heartbeat_ms = (uint32_t)(m->cfg.pingtimeout_ms / 3);
	welcome.n_libraries = m->cfg.nlibraries;
	welcome.libraries = m->cfg.libraries;
	welcome.n_binaries = m->cfg.nbinaries;
	welcome.binaries = m->cfg.binaries;
	/* Back after a lost link: of what still runs there, what we hold
	 * ghosts for goes on (we restarted and found them); the rest the
	 * slave kills. */
	keep = msg->hello->n_running ? calloc(msg->hello->n_running, sizeof(*keep)) : NULL;
	for (size_t i = 0; keep && i < msg->hello->n_running; i++)
		if (master_adopt_ghost(m, msg->hello->running[i], node) == 0)
			keep[welcome.n_keep++] = msg->hello->running[i];
	welcome.keep = keep;
	reply.has_id = true;
	reply.id = msg->id;
	reply.body_case = BPROC__MSG__BODY_WELCOME;
	reply.welcome = &welcome;
	r = conn_send(conn, &reply);
	/* Copies it holds whose commit never came, and those other nodes
	 * hold from this one: decided now if their fate is known.  After
	 * Welcome, which kills what it does not keep: a held copy let run
	 * before it would be taken for stale. */
	master_held_claimed(m, node, msg->hello->held, msg->hello->n_held);
	master_held_decide(m, now_ms());
	return r;
}

static int slave_msg(struct conn *conn, Msg *msg, void *data)
{
	struct slave_link *link = data;
	struct master_node *n = link->node;
	int r;

	if (!auth_done(&link->auth)) {
		r = auth_handle(&link->auth, conn, msg);
		if (r == 0 && auth_done(&link->auth))
			forget_unproven(link);
		return r;
	}
	if (!n) {
		if (msg->body_case != BPROC__MSG__BODY_HELLO) {
			pr_warn("%s: first message is %s, not hello", conn->name, msg_body_name(msg));
			return -EPROTO;
		}
		return slave_hello(link, conn, msg);
	}
	n->last_heard_ms = now_ms();
	if (master_file_reply(link->m, n->node, msg))
		return 0;
	switch (msg->body_case) {
	case BPROC__MSG__BODY_HEARTBEAT:
		if (msg->heartbeat->has_nprocs)
			n->nprocs = msg->heartbeat->nprocs;
		return 0;
	case BPROC__MSG__BODY_NODE_READY:
		if (msg->node_ready->node != (link->home ? BPROC_NODE_MASTER : n->node)) {
			pr_warn("%s: says it is node %d", conn->name, msg->node_ready->node);
			return -EPROTO;
		}
		n->move_port = msg->node_ready->has_move_port ? msg->node_ready->move_port : 0;
		node_event(n, NODE_EVENT_READY);
		return 0;
	case BPROC__MSG__BODY_PREPARE_RESULT:
		master_prepare_result(link->m, n->node, msg->prepare_result);
		return 0;
	case BPROC__MSG__BODY_RESTORE_RESULT:
		master_restore_result(link->m, n->node, msg->restore_result);
		return 0;
	case BPROC__MSG__BODY_OUTPUT:
		master_output(link->m, n->node, msg->output);
		return 0;
	case BPROC__MSG__BODY_PROCESS_STATUS:
		master_process_status(link->m, n->node, msg->process_status);
		return 0;
	case BPROC__MSG__BODY_PATH_CHECK_REPLY:
		master_path_check_reply(link->m, n->node, msg->path_check_reply);
		return 0;
	case BPROC__MSG__BODY_PROCESS_FORKED:
		master_proc_forked(link->m, n->node, msg->process_forked);
		return 0;
	case BPROC__MSG__BODY_PROCESS_GONE:
		master_proc_gone(link->m, n->node, msg->process_gone);
		return 0;
	case BPROC__MSG__BODY_MOVE_OUT_RESULT:
		master_move_out_result(link->m, n->node, msg->move_out_result);
		return 0;
	case BPROC__MSG__BODY_REPLY:
		if (master_move_reply(link->m, n->node, msg))
			return 0;
		/* Answers to NodeCommand: nothing to wait for. */
		if (msg->reply->status < 0)
			pr_warn("%s: %s", conn->name, msg->reply->message ? msg->reply->message : "error");
		return 0;
	default:
		break;
	}
	/* A client on the node asked its slave, which forwards to us. */
	if (!msg->creds) {
		pr_warn("%s: forwarded %s without credentials", conn->name, msg_body_name(msg));
		return conn_reply(conn, msg->id, -EPROTO, "request without credentials");
	}
	r = master_handle_request(link->m, conn, msg, msg->creds->uid, msg->creds->gid);
	if (r == -ENOTSUP) {
		pr_warn("%s: unexpected %s", conn->name, msg_body_name(msg));
		return conn_reply(conn, msg->id, -EPROTO, "unexpected message %s", msg_body_name(msg));
	}
	return r;
}

void master_accept_slave(struct master *m)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	struct slave_link *link;
	struct conn *conn;
	char name[64], addr[INET_ADDRSTRLEN];
	int fd, r;

	fd = accept4(m->tcp_fd, (struct sockaddr *)&sa, &len, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR)
			pr_warn("accept on the slave port: %s", strerror(errno));
		return;
	}
	link = calloc(1, sizeof(*link));
	if (!link) {
		close(fd);
		return;
	}
	link->m = m;
	link->peer = sa.sin_addr;
	inet_ntop(AF_INET, &sa.sin_addr, addr, sizeof(addr));
	snprintf(name, sizeof(name), "slave %s", addr);
	auth_accept(&link->auth, &m->secret, m->cfg.encrypt);
	link->accepted_ms = now_ms();
	r = conn_new(m->loop, fd, name, slave_msg, slave_closed, link, &conn);
	if (r < 0) {
		pr_err("%s: %s", name, strerror(-r));
		free(link);
		return;
	}
	link->conn = conn;
	link->next_unproven = unproven_links;
	unproven_links = link;
}

int master_home_link(struct master *m, int fd)
{
	struct slave_link *link = calloc(1, sizeof(*link));
	int r;

	if (!link)
		return -ENOMEM;
	link->m = m;
	link->home = true;
	auth_accept(&link->auth, &m->secret, m->cfg.encrypt);
	link->accepted_ms = now_ms();
	r = conn_new(m->loop, fd, "home slave", slave_msg, slave_closed, link, &link->conn);
	if (r < 0) {
		free(link);
		return r;
	}
	link->next_unproven = unproven_links;
	unproven_links = link;
	return 0;
}

void master_check_heartbeats(struct master *m, long long now)
{
	for (struct slave_link *link = unproven_links, *next; link; link = next) {
		next = link->next_unproven;
		if (now - link->accepted_ms > AUTH_TIMEOUT_MS)
			conn_close(link->conn, "did not authenticate in time");
	}
	for (size_t i = 0; i < m->nnodes; i++) {
		struct master_node *n = &m->nodes[i];
		char reason[96];

		if (!n->conn || now - n->last_heard_ms <= m->cfg.pingtimeout_ms)
			continue;
		/* A slave restoring (or dumping) a big process is busy in
		 * CRIU for seconds without a heartbeat; a link that breaks
		 * is still seen at once. */
		if (now - n->last_heard_ms <= MOVE_BUSY_MS && master_moves_node_busy(n->node))
			continue;
		snprintf(reason, sizeof(reason), "silent for %lld ms", now - n->last_heard_ms);
		conn_close(n->conn, reason);
	}
}

static int send_node_command(struct master_node *n, Bproc__NodeAction action)
{
	Bproc__NodeCommand cmd = BPROC__NODE_COMMAND__INIT;
	Msg msg = BPROC__MSG__INIT;

	cmd.action = action;
	msg.body_case = BPROC__MSG__BODY_NODE_COMMAND;
	msg.node_command = &cmd;
	return conn_send(n->conn, &msg);
}

int master_change_node(struct master *m, struct master_node *n, const Bproc__NodeChangeRequest *req)
{
	int next, r;

	if (req->has_state) {
		r = node_state_admin(n->state, req->state, &next);
		if (r < 0)
			return r;
	}
	if (req->has_mode)
		n->mode = req->mode & 0111;
	if (req->has_uid)
		n->uid = req->uid;
	if (req->has_gid)
		n->gid = req->gid;
	if (m->store && (req->has_mode || req->has_uid || req->has_gid)) {
		struct node_settings ns = { n->node, n->mode, n->uid, n->gid };

		/* Said, not fatal: the change holds until the next restart. */
		if (master_store_save(m->store, &ns) < 0)
			pr_warn("node %d: its settings are not stored; a restart forgets them",
				n->node);
	}
	if (!req->has_state)
		return 0;
	node_set_state(n, next);
	switch (next) {
	case BPROC_NODE_REBOOT:
		return send_node_command(n, BPROC__NODE_ACTION__ACTION_REBOOT);
	case BPROC_NODE_HALT:
		return send_node_command(n, BPROC__NODE_ACTION__ACTION_HALT);
	case BPROC_NODE_PWROFF:
		return send_node_command(n, BPROC__NODE_ACTION__ACTION_PWROFF);
	default:
		return 0;
	}
}

static void apply_settings(const struct node_settings *ns, void *arg)
{
	struct master_node *n = master_find_node(arg, ns->node);

	if (!n)
		return;
	n->mode = ns->mode;
	n->uid = ns->uid;
	n->gid = ns->gid;
}

void master_nodes_load_settings(struct master *m)
{
	if (m->store && master_store_load(m->store, apply_settings, m) < 0)
		pr_warn("the stored node settings could not be read; the configuration's apply");
}

void master_nodes_shutdown(struct master *m)
{
	for (size_t i = 0; i < m->nnodes; i++)
		if (m->nodes[i].conn)
			conn_close(m->nodes[i].conn, NULL);
	if (m->home.conn)
		conn_close(m->home.conn, NULL);
	free(m->nodes);
	m->nodes = NULL;
	m->nnodes = 0;
}
