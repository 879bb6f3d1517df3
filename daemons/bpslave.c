/*
 * bpslave.c - the daemon of a node.
 *
 *   main -> listen for local clients -> connect to the master
 *        -> prove we hold the cluster's secret, and that it does (auth.c) -> Hello
 *        -> Welcome (we learn our node number) -> make the node's pid
 *           namespace -> NodeReady -> heartbeats ... until told otherwise
 *
 * The link to the master is kept up for ever: when it breaks, the slave
 * keeps its node's processes and reconnects (after 0.1 s, then less often, up
 * to every second), so a master restart or a network blip does not cost the
 * node its work.  The master
 * may tell the node to reboot (kill its processes, start afresh) or to halt
 * or power off (kill its processes, stop).
 *
 * With -m FD it is the master's home node (daemons/master_home.c): bpmaster
 * started it and FD is a unix socket it listens on, in a directory of root's
 * alone, where bpmaster connects.  When that link goes (bpmaster crashed),
 * it keeps its processes, as any node, and waits for the next bpmaster to
 * connect there.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bproc.h"
#include "config.h"
#include "version.h"
#include "criu.h"
#include "criu_kdat.h"
#include "move_latency.h"
#include "log.h"
#include "slave.h"
#include "sockets.h"
#include "util.h"

#define RECONNECT_MS 1000
/* The first try after the master went away: a master that restarts is
 * back in a fraction of a second, and its nodes with it.  Each failure
 * doubles the wait, up to RECONNECT_MS. */
#define RECONNECT_FIRST_MS 100
#define TICK_MS 250

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: bpslave [-c CONFIG] [-f] [-v] MASTER[:PORT]\n"
		"The bproc daemon of a node; MASTER is the master's address (port %d by default).\n"
		"  -c CONFIG  configuration file (a node uses its 'criu' and 'secretfile' keys)\n"
		"  -m FD      no MASTER: FD is an inherited listening unix socket where bpmaster\n"
		"             connects, which started us as its home node (docs/migration.md)\n"
		"  -f         stay in the foreground and log to stderr\n"
		"  -v         verbose (debug) logging\n"
		"  -h         this help;  -V  version\n",
		CONFIG_DEFAULT_PORT);
}

int slave_send_to_master(struct slave *s, const Msg *msg)
{
	if (!s->master)
		return -ENOTCONN;
	return conn_send(s->master, msg);
}

/* When to try the master again: soon after losing it, then less often. */
static void schedule_connect(struct slave *s)
{
	long long wait = RECONNECT_FIRST_MS;

	for (int i = 0; i < s->connect_failures && wait < RECONNECT_MS; i++)
		wait *= 2;
	s->next_connect_ms = now_ms() + (wait < RECONNECT_MS ? wait : RECONNECT_MS);
}

static void master_link_drained(struct conn *conn, void *data)
{
	(void)conn;
	slave_moves_link_drained(data);
}

static int send_hello(struct slave *s)
{
	Bproc__Hello hello = BPROC__HELLO__INIT;
	Msg msg = BPROC__MSG__INIT;
	char host[64] = "";
	_cleanup_free_ int32_t *running = NULL;
	Bproc__HeldCopy **held = NULL;
	int r;

	gethostname(host, sizeof(host) - 1);
	hello.role = BPROC__PEER_ROLE__ROLE_SLAVE;
	hello.hostname = host;
	hello.software = "bpslave " BPROC_VERSION;
	if (s->welcomed) {
		hello.has_prev_node = true;
		hello.prev_node = s->node;
		if (slave_moves_running(s, &running, &hello.n_running) == 0)
			hello.running = running;
		if (slave_moves_held(s, &held, &hello.n_held) == 0)
			hello.held = held;
	}
	msg.has_id = true;
	msg.id = ++s->next_id;
	msg.body_case = BPROC__MSG__BODY_HELLO;
	msg.hello = &hello;
	r = slave_send_to_master(s, &msg);
	slave_moves_held_free(held, hello.n_held);
	return r;
}

static int send_ready(struct slave *s)
{
	Bproc__NodeReady ready = BPROC__NODE_READY__INIT;
	Msg msg = BPROC__MSG__INIT;

	ready.node = s->node;
	if (s->move_port) {
		ready.has_move_port = true;
		ready.move_port = s->move_port;
	}
	msg.body_case = BPROC__MSG__BODY_NODE_READY;
	msg.node_ready = &ready;
	return slave_send_to_master(s, &msg);
}

static void send_heartbeat(struct slave *s)
{
	Bproc__Heartbeat hb = BPROC__HEARTBEAT__INIT;
	Msg msg = BPROC__MSG__INIT;

	hb.seq = ++s->heartbeat_seq;
	/* The node's processes, for bpstat -l: moved here, or born here. */
	hb.has_nprocs = true;
	hb.nprocs = slave_moves_count(s) + slave_procs_count();
	msg.body_case = BPROC__MSG__BODY_HEARTBEAT;
	msg.heartbeat = &hb;
	slave_send_to_master(s, &msg);
}

/* The node boots: it has a number, now it needs its pid namespace. */
static int on_welcome(struct slave *s, const Bproc__Welcome *w)
{
	int r;

	if (s->welcomed && s->node != w->node)
		pr_warn("the master now calls this node %d (it was %d)", w->node, s->node);
	/* Back after a lost link: the master took this node for down and
	 * ended the ghosts of what runs here as killed (SIGKILL).  What
	 * still runs is stale: were it kept, one process would be both dead
	 * (to its parent) and running.  Unless the master restarted and took
	 * their ghosts back: those it names go on. */
	if (s->welcomed) {
		slave_move_out_settle(s, w->keep, w->n_keep);
		if (w->n_keep == 0)
			slave_kill_stale(s);
		else
			slave_moves_keep(s, w->keep, w->n_keep);
	}
	s->node = w->node;
	s->welcomed = true;
	s->registered = true;
	s->heartbeat_ms = w->heartbeat_ms ? w->heartbeat_ms : 1000;
	s->next_heartbeat_ms = now_ms() + s->heartbeat_ms;
	if (s->init_pid <= 0) {
		r = slave_pidns_create(s);
		if (r < 0)
			return r;
		slave_move_out_clean_cgroups(s);
		slave_moves_clean_cages(s);
	}
	pr_info("registered as node %d with master %s", s->node, s->master_text);
	r = send_ready(s);
	/* A new master link: the master forgot what runs here. */
	slave_procs_resend(s);
	return r;
}

static int on_node_command(struct slave *s, const Msg *msg)
{
	static const char *const names[] = { "reboot", "halt", "pwroff" };
	int action = msg->node_command->action;

	if (action < 0 || action > 2)
		return conn_reply(s->master, msg->id, -EINVAL, "unknown node action %d", action);
	pr_info("the master asks node %d to %s", s->node, names[action]);
	s->action = action;
	s->stopping = true;
	return 0;
}

static int master_msg(struct conn *conn, Msg *msg, void *data)
{
	struct slave *s = data;

	if (!auth_done(&s->auth)) {
		int r = auth_handle(&s->auth, conn, msg);

		return r < 0 ? r : auth_done(&s->auth) ? send_hello(s) : 0;
	}
	/* A request of the master's own: its id is not one of ours. */
	if (msg->body_case == BPROC__MSG__BODY_FILE_TRANSFER_REQUEST)
		return slave_files_request(s, conn, msg, true);
	if (slave_forward_reply(s, msg))
		return 0;
	switch (msg->body_case) {
	case BPROC__MSG__BODY_WELCOME:
		return on_welcome(s, msg->welcome);
	case BPROC__MSG__BODY_NODE_COMMAND:
		return on_node_command(s, msg);
	case BPROC__MSG__BODY_LAUNCH_RELAY:
		return slave_launch_relay(s, msg->launch_relay);
	case BPROC__MSG__BODY_REPLY:
		if (msg->reply->status < 0) {
			pr_err("master %s refused us: %s", s->master_text,
			       msg->reply->message ? msg->reply->message : bproc_strerror(-msg->reply->status));
			return -ECONNREFUSED;
		}
		return 0;
	default: {
		int r = slave_moves_handle(s, msg);

		if (r == -ENOTSUP)
			pr_warn("unexpected %s from the master", msg_body_name(msg));
		return r == -ENOTSUP ? 0 : r;
	}
	}
}

static void master_closed(struct conn *conn, void *data)
{
	struct slave *s = data;

	s->master = NULL;
	/* No heartbeat on the next link before it is authenticated and we
	 * are welcomed again: the master refuses the link for it. */
	s->registered = false;
	slave_fail_pending(s);
	/* Moves under way cannot be committed without the master, which
	 * aborts them on its side too: originals thaw, copies go; but one
	 * whose image is sent stays in doubt until the next master. */
	slave_move_out_shutdown(s);
	slave_move_expect_drop_all(s);
	slave_moves_master_lost(s);
	if (!auth_done(&s->auth) && s->auth.started && !s->stopping)
		pr_warn("the master %s closed the link before it was authenticated: "
			"do both sides have the same cluster secret?", s->master_text);
	else if (!s->stopping && s->home)
		pr_warn("lost bpmaster; the home node keeps its processes and waits for the next "
			"bpmaster to connect");
	else if (!s->stopping)
		pr_warn("lost the master %s; node %d reconnects (the master ends the ghosts of what runs here; it is killed when we are back)",
			s->master_text, s->node);
	schedule_connect(s);
}

static void connect_failed(struct slave *s, int err)
{
	/* Say it once, not every second while the master is away. */
	if (s->connect_failures++ == 0)
		pr_warn("cannot reach the master %s: %s; retrying, soon then every %d ms", s->master_text,
			strerror(err), RECONNECT_MS);
	loop_remove(s->loop, s->connect_fd);
	close(s->connect_fd);
	s->connect_fd = -1;
	schedule_connect(s);
}

static void on_connected(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct slave *s = data;
	int err = 0, r;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		connect_failed(s, err);
		return;
	}
	loop_remove(loop, fd);
	s->connect_fd = -1;
	r = conn_new(loop, fd, "master", master_msg, master_closed, s, &s->master);
	if (r < 0) {
		pr_err("master link: %s", strerror(-r));
		s->next_connect_ms = now_ms() + RECONNECT_MS;
		return;
	}
	s->master->on_drained = master_link_drained;
	if (s->connect_failures)
		pr_info("reached the master %s again", s->master_text);
	s->connect_failures = 0;
	auth_connect(&s->auth, &s->secret, s->master);
}

static void start_connect(struct slave *s)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0) {
		s->next_connect_ms = now_ms() + RECONNECT_MS;
		return;
	}
	s->connect_fd = fd;
	if (connect(fd, (struct sockaddr *)&s->master_addr, sizeof(s->master_addr)) < 0 &&
	    errno != EINPROGRESS) {
		connect_failed(s, errno);
		return;
	}
	if (loop_add(s->loop, fd, EPOLLOUT, on_connected, s) < 0)
		connect_failed(s, ENOMEM);
}

static void on_signal(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct slave *s = data;
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			slave_reap_children(s);
			continue;
		}
		pr_info("signal %d: shutting down", (int)si.ssi_signo);
		s->stopping = true;
	}
}

static int watch_signals(struct slave *s)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	return loop_add(s->loop, fd, EPOLLIN, on_signal, s);
}

static void find_criu(struct slave *s, const char *configured, bool favor_moves)
{
	char version[64];

	if (criu_locate(configured, s->criu, sizeof(s->criu)) < 0) {
		pr_warn("no CRIU found (set BPROC_CRIU or the config key 'criu'): this node cannot take migrated processes");
		s->criu[0] = '\0';
		return;
	}
	if (criu_version(s->criu, version, sizeof(version)) < 0)
		pr_warn("%s does not run: this node cannot take migrated processes", s->criu);
	else
		pr_info("using CRIU %s at %s", version, s->criu);
	criu_kdat_prepare(s->criu);
	/* What dumps and freezes wait for in the kernel (a node of its own
	 * is a machine of its own). */
	move_latency_prepare(favor_moves);
}

/* An open file from bpcluster, whose /run we do not see, or -1. */
static int inherited_secret_fd(void)
{
	const char *fdtext = getenv(AUTH_SECRET_FD_ENV);
	long fd;

	return fdtext && parse_long(fdtext, 0, INT_MAX, &fd) == 0 ? (int)fd : -1;
}

/* From bpcluster's open file, else the configured file or the default one. */
static int load_secret(struct slave *s, const char *configured, char *err, size_t errlen)
{
	int fd = inherited_secret_fd();

	if (fd >= 0) {
		/* Not for our children (CRIU, bproc-init); a reboot's re-exec
		 * opens it to us again. */
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		return auth_secret_load(AUTH_SECRET_FD_ENV, fd, &s->secret, err, errlen);
	}
	return auth_secret_load(configured ? configured : AUTH_DEFAULT_SECRET, -1, &s->secret, err,
				errlen);
}

/* The home node: a bpmaster connected to our socket.  The directory it
 * is in is root's alone; the link proves the secret, as any. */
static void on_home_link(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct slave *s = data;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int link = accept4(fd, NULL, NULL, SOCK_CLOEXEC), r;

	(void)events;
	if (link < 0)
		return;
	if (getsockopt(link, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != geteuid()) {
		pr_warn("home node: a connection not from root refused");
		close(link);
		return;
	}
	/* Only one master runs: a link of one before it is stale. */
	if (s->master)
		conn_close(s->master, "a new bpmaster connected");
	r = conn_new(loop, link, "master", master_msg, master_closed, s, &s->master);
	if (r < 0) {
		pr_err("master link: %s", strerror(-r));
		return;
	}
	if (s->welcomed)
		pr_info("a new bpmaster connected: it takes the home node's processes back");
	s->master->on_drained = master_link_drained;
	auth_connect(&s->auth, &s->secret, s->master);
}

/* The home node's socket, listening (bpmaster made it; see master_home.c). */
static int home_listen(struct slave *s, const char *text)
{
	long fd;
	int r;

	if (parse_long(text, 3, INT_MAX, &fd) < 0 || fcntl((int)fd, F_GETFD) < 0) {
		fprintf(stderr, "bpslave: -m '%s': not an open file descriptor\n", text);
		return -EBADF;
	}
	/* Not for CRIU, bproc-init or the node's processes; and accept()
	 * must not block the node when a connection was given up. */
	fcntl((int)fd, F_SETFD, FD_CLOEXEC);
	fcntl((int)fd, F_SETFL, fcntl((int)fd, F_GETFL) | O_NONBLOCK);
	r = loop_add(s->loop, (int)fd, EPOLLIN, on_home_link, s);
	if (r < 0)
		pr_err("home node socket: %s", strerror(-r));
	return r;
}

/* The loop's wait: a tick, or less when a connect is due sooner. */
static int next_wake_ms(const struct slave *s, long long now)
{
	long long due = s->next_connect_ms - now;

	if (s->home || s->master || s->connect_fd >= 0 || due >= TICK_MS)
		return TICK_MS;
	return due > 0 ? (int)due : 0;
}

static void run(struct slave *s)
{
	while (!s->stopping) {
		long long now = now_ms();
		int r;

		if (!s->home && !s->master && s->connect_fd < 0 && now >= s->next_connect_ms)
			start_connect(s);
		if (s->welcomed && s->init_pid == 0 && now >= s->pidns_created_ms + 1000)
			slave_pidns_create(s);
		if (s->master && s->registered && now >= s->next_heartbeat_ms) {
			send_heartbeat(s);
			s->next_heartbeat_ms = now + s->heartbeat_ms;
		}
		r = loop_run_once(s->loop, next_wake_ms(s, now));
		if (r < 0) {
			pr_err("event loop: %s", strerror(-r));
			return;
		}
	}
}

int main(int argc, char **argv)
{
	struct slave s = { .connect_fd = -1, .unix_fd = -1, .exits_fd = -1, .move_fd = -1, .node = -1,
			   .action = -1 };
	/* Without a config file, the defaults that matter here. */
	struct config cfg = { .favordynmods = true };
	const char *config_path = NULL, *master_fd = NULL;
	bool foreground = false;
	char err[512];
	int opt, r;

	/* Started again through /proc/self/exe after a reboot, we would be
	 * called "exe"; administrators and bpcluster look for "bpslave". */
	prctl(PR_SET_NAME, "bpslave");
	log_init(argv[0]);
	while ((opt = getopt(argc, argv, "+c:m:fvhV")) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'm':
			master_fd = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'v':
			log_set_verbose(1);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("bpslave %s\n", BPROC_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (master_fd && optind != argc) {
		fprintf(stderr, "bpslave: -m and a master's address exclude each other\n");
		usage(stderr);
		return 2;
	}
	if (!master_fd && optind != argc - 1) {
		fprintf(stderr, "bpslave: %s\n", optind == argc ? "the master's address is missing" :
			"only one master address may be given");
		usage(stderr);
		return 2;
	}
	s.home = master_fd != NULL;
	/* It logs where bpmaster does: say which slave speaks. */
	if (s.home)
		log_init("bpslave-home");
	s.master_text = master_fd ? "bpmaster (home node socket)" : argv[optind];
	s.argv = argv;
	r = master_fd ? 0 : socket_parse_hostport(s.master_text, CONFIG_DEFAULT_PORT, &s.master_addr);
	if (r < 0) {
		fprintf(stderr, "bpslave: '%s': %s\n", s.master_text,
			r == -EINVAL ? "expected MASTER[:PORT] with a port from 1 to 65535" :
			"cannot resolve that name");
		return 2;
	}
	if (config_path && config_load(config_path, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "bpslave: %s\n", err);
		return 1;
	}
	s.socket_path = getenv(BPROC_SOCKET_ENV) ? getenv(BPROC_SOCKET_ENV) : BPROC_SOCKET;
	if (load_secret(&s, cfg.secretfile, err, sizeof(err)) < 0) {
		fprintf(stderr, "bpslave: %s (see bproc.conf(5))\n", err);
		config_free(&cfg);
		return 1;
	}

	if (loop_new(&s.loop) < 0) {
		fprintf(stderr, "bpslave: out of memory\n");
		return 1;
	}
	if (watch_signals(&s) < 0 || slave_clients_listen(&s) < 0)
		return 1;
	if (s.home && home_listen(&s, master_fd) < 0)
		return 1;
	/* The home node is not made a daemon: bpmaster made it one. */
	if (!foreground && s.home)
		log_to_syslog();
	else if (!foreground) {
		if (daemon(0, 0) < 0) {
			pr_err("daemon: %s", strerror(errno));
			return 1;
		}
		log_to_syslog();
	}
	find_criu(&s, cfg.criu, cfg.favordynmods);
	config_free(&cfg);
	r = slave_moves_init(&s);
	if (r < 0) {
		pr_err("cannot watch processes: %s", strerror(-r));
		return 1;
	}
	/* Without it the node works, but does not report its children. */
	slave_procs_init(&s);
	slave_stops_init(&s);
	r = slave_move_listen(&s);
	if (r < 0)
		pr_warn("cannot listen for moves from other nodes: %s", strerror(-r));

	run(&s);

	/* A node that stops loses its processes, like a machine switched off. */
	slave_move_out_shutdown(&s);
	slave_move_peers_shutdown(&s);
	slave_moves_shutdown(&s);
	slave_procs_shutdown(&s);
	slave_stops_shutdown(&s);
	slave_pidns_kill(&s);
	if (s.master)
		conn_close(s.master, NULL);
	unlink(s.socket_path);
	loop_free(s.loop);
	auth_secret_free(&s.secret);
	if (s.action == BPROC__NODE_ACTION__ACTION_REBOOT) {
		pr_info("rebooting: starting afresh");
		/* Our fds are close-on-exec; the signal mask is inherited, so clear it. */
		sigset_t none;
		char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (inherited_secret_fd() >= 0)
			fcntl(inherited_secret_fd(), F_SETFD, 0);
		/* Exec the real path, not /proc/self/exe: the process name
		 * (comm) comes from it, and tools find bpslave by name. */
		if (n > 0) {
			self[n] = '\0';
			execv(self, s.argv);
		}
		execv("/proc/self/exe", s.argv);
		pr_err("reboot: cannot re-execute bpslave: %s", strerror(errno));
		return 1;
	}
	pr_info("stopped");
	return 0;
}
