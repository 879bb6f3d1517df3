/*
 * bpmaster.c - the master daemon, run on the cluster's front end.
 *
 * It owns the cluster's view of itself: which nodes exist (the config
 * file), which are up (their slaves' links and heartbeats), their modes and
 * owners, and, with migration, where every process runs.  It listens on TCP
 * for slaves and on a unix socket for local clients; everything runs in one
 * event loop (loop.c) so the daemon can be read top to bottom:
 *
 *   main -> load config -> open sockets -> daemonise -> loop until SIGTERM
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "bproc.h"
#include "config.h"
#include "criu.h"
#include "criu_kdat.h"
#include "move_latency.h"
#include "version.h"
#include "log.h"
#include "master.h"
#include "master_store.h"
#include "sockets.h"
#include "util.h"

#define DEFAULT_CONFIG BPROC_SYSCONFDIR "/bproc/config"
#define DEFAULT_STATEFILE "/var/lib/bproc/master.db"
#define TICK_MS 250

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: bpmaster [-c CONFIG] [-f] [-v]\n"
		"The bproc master daemon.\n"
		"  -c CONFIG  configuration file (default %s)\n"
		"  -f         stay in the foreground and log to stderr\n"
		"  -v         verbose (debug) logging\n"
		"  -h         this help;  -V  version\n",
		DEFAULT_CONFIG);
}

static void on_tcp(struct loop *loop, int fd, uint32_t events, void *data)
{
	master_accept_slave(data);
}

static void on_unix(struct loop *loop, int fd, uint32_t events, void *data)
{
	master_accept_client(data);
}

static void on_signal(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct master *m = data;
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			master_ghosts_reap(m);
			continue;
		}
		pr_info("signal %d: shutting down", (int)si.ssi_signo);
		m->stopping = true;
	}
}

static int open_sockets(struct master *m)
{
	struct in_addr addr = { .s_addr = htonl(INADDR_ANY) };
	char text[INET_ADDRSTRLEN];
	int r;

	if (m->cfg.interface) {
		r = netif_ipv4_address(m->cfg.interface, &addr);
		if (r < 0) {
			pr_err("%s: interface %s: %s", m->config_path, m->cfg.interface,
			       r == -ENODEV ? "no such interface" :
			       r == -EADDRNOTAVAIL ? "has no IPv4 address" : strerror(-r));
			return r;
		}
	}
	inet_ntop(AF_INET, &addr, text, sizeof(text));
	m->tcp_fd = socket_listen_tcp(addr, m->cfg.port);
	if (m->tcp_fd < 0) {
		pr_err("cannot listen on %s:%d: %s", text, m->cfg.port, strerror(-m->tcp_fd));
		return m->tcp_fd;
	}
	m->unix_fd = socket_listen_unix(m->socket_path, 0666);
	if (m->unix_fd < 0) {
		if (m->unix_fd == -EADDRINUSE)
			pr_err("%s: another bproc daemon is running", m->socket_path);
		else
			pr_err("%s: %s", m->socket_path, strerror(-m->unix_fd));
		return m->unix_fd;
	}
	pr_info("listening for slaves on %s:%d, for clients on %s; %zu nodes configured", text,
		m->cfg.port, m->socket_path, m->nnodes);
	return 0;
}

static int watch_signals(struct master *m)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD); /* our ghosts report through it */
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	return loop_add(m->loop, fd, EPOLLIN, on_signal, m);
}

int main(int argc, char **argv)
{
	struct master m = { .config_path = DEFAULT_CONFIG, .tcp_fd = -1, .unix_fd = -1,
			    .home_pidfd = -1 };
	char err[512];
	bool foreground = false;
	long long next_tick;
	int opt, r;

	log_init(argv[0]);
	while ((opt = getopt(argc, argv, "c:fvhV")) != -1) {
		switch (opt) {
		case 'c':
			m.config_path = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'v':
			log_set_verbose(1);
			m.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("bpmaster %s\n", BPROC_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "bpmaster: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	m.socket_path = getenv(BPROC_SOCKET_ENV) ? getenv(BPROC_SOCKET_ENV) : BPROC_SOCKET;

	r = config_load(m.config_path, &m.cfg, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "bpmaster: %s\n", err);
		return 1;
	}
	{
		const char *path = m.cfg.secretfile ? m.cfg.secretfile : AUTH_DEFAULT_SECRET;

		r = auth_secret_load(path, -1, &m.secret, err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "bpmaster: %s (see bproc.conf(5))\n", err);
			config_free(&m.cfg);
			return 1;
		}
	}
	if (loop_new(&m.loop) < 0 || master_nodes_init(&m) < 0) {
		fprintf(stderr, "bpmaster: out of memory\n");
		return 1;
	}
	{
		const char *path = m.cfg.statefile ? m.cfg.statefile : DEFAULT_STATEFILE;

		/* Without its store the master runs, and forgets bpctl's
		 * changes when it restarts: said once, here. */
		if (master_store_open(path, &m.store, err, sizeof(err)) < 0)
			pr_warn("%s; node settings will not survive a restart", err);
		master_nodes_load_settings(&m);
	}
	if (open_sockets(&m) < 0 || watch_signals(&m) < 0)
		return 1;
	/* Only now: no other master runs (open_sockets said so). */
	master_moves_clean_images();
	{
		/* Dumps start 40 ms sooner with CRIU's kernel-feature cache.
		 * After listen(): slaves that connect meanwhile wait in the
		 * backlog instead of being refused and retrying a second later. */
		char criu[PATH_MAX];

		if (criu_locate(m.cfg.criu, criu, sizeof(criu)) == 0)
			criu_kdat_prepare(criu);
	}
	loop_add(m.loop, m.tcp_fd, EPOLLIN, on_tcp, &m);
	loop_add(m.loop, m.unix_fd, EPOLLIN, on_unix, &m);

	if (!foreground) {
		if (daemon(0, 0) < 0) {
			pr_err("daemon: %s", strerror(errno));
			return 1;
		}
		log_to_syslog();
	}

	/* After daemon() too: the perf event it holds is this process's. */
	move_latency_prepare(m.cfg.favordynmods);
	/* After daemon(): a tracer must be the process that stays. */
	master_ghosts_adopt_scan(&m);
	master_recover_start();
	/* After the scan: a home slave that a master before us left names
	 * their processes in its Hello.  After daemon() too: we watch (and
	 * reap) it from the process that stays. */
	m.foreground = foreground;
	master_home_start(&m);
	next_tick = now_ms() + TICK_MS;
	while (!m.stopping) {
		long long now = now_ms();

		if (now >= next_tick) {
			master_check_heartbeats(&m, now);
			/* Before the orphans end: a held copy may be theirs. */
			master_held_decide(&m, now);
			master_ghosts_orphans_tick(now);
			master_recover_tick();
			master_home_tick(&m, now);
			next_tick = now + TICK_MS;
		}
		r = loop_run_once(m.loop, (int)(next_tick - now));
		if (r < 0) {
			pr_err("event loop: %s", strerror(-r));
			break;
		}
	}

	master_home_stop(&m);
	master_nodes_shutdown(&m);
	master_procs_shutdown();
	master_held_shutdown();
	master_store_close(m.store);
	loop_run_once(m.loop, 0);
	unlink(m.socket_path);
	close(m.tcp_fd);
	close(m.unix_fd);
	loop_free(m.loop);
	config_free(&m.cfg);
	auth_secret_free(&m.secret);
	pr_info("stopped");
	return r < 0 ? 1 : 0;
}
