/*
 * slave_moves.c - the node's side of a move: take the image, restore it in
 * the node's pid namespace, run or drop the copy as the master decides,
 * pass signals on, and report exits.
 *
 * Image files arrive in ImageChunk messages (from the master, or from
 * another node's slave on a connection of slave_move_peers.c) and are
 * written under
 * /run/bproc/images/move-ID (the node's own tmpfs).  RestoreRequest runs
 * CRIU (migrate/criu_run.c), which restores the process with its original
 * pid, stopped; MoveCommit lets it run or kills it.  Exits are learnt from
 * the node's init, which reaps the restored processes (slave_pidns.c).
 *
 * If the master link drops before the commit, the copy is held frozen:
 * from another node, its source may have committed already; from the
 * master, the master may have died making the ghost (its original gone).
 * The next master says whether it runs (Hello.held, HeldCopyVerdict;
 * daemons/master_held.c).
 */
#include <dirent.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bproc.h"
#include "criu_run.h"
#include "page_seal.h"
#include "page_server.h"
#include "proc_events.h"
#include "pty_unread.h"
#include "fault.h"
#include "freezer.h"
#include "log.h"
#include "memory_room.h"
#include "movable.h"
#include "move_source.h"
#include "output_queue.h"
#include "slave.h"
#include "slave_tty.h"
#include "stop_mirror.h"
#include "image_state.h"
#include "util.h"

/* How long the source may take to send its token, once connected. */
#define PS_TOKEN_MS 2000
#define IMAGES_DIR "/run/bproc/images"
/* The page server ends with the dump, which is over when the source asks
 * for the restore; this is only against a CRIU that hangs. */
#define PAGE_SERVER_END_MS 60000
/* The source connects before it dumps: its connection is there. */
#define PREP_ACCEPT_MS 5000
/* The memory limit a restore runs under with the fault slave-memory-full:
 * room for CRIU, not for a process of tens of MiB. */
#define FAULT_RESTORE_MEMORY (16u << 20)

/* A move this node is getting ready to take: the page stream's listening
 * socket, then its connection and the CRIU on it. */
struct prepared {
	struct slave *s;
	uint64_t move_id;
	bool lazy;
	struct in_addr peer;  /* the source: the only one let in */
	uint8_t token[PS_TOKEN_LEN]; /* what it sends first, if has_token */
	bool has_token;
	int listen_fd;        /* -1 once connected */
	int sock;             /* lazy: the connection, for criu lazy-pages */
	pid_t ps_pid;         /* full copy: criu page-server, 0 if none */
	bool ps_done;
	int ps_status;
	struct prepared *next;
};

/* criu lazy-pages daemons still pulling pages for a restored process. */
struct lazy_daemon {
	pid_t pid;
	uint64_t move_id;
	struct lazy_daemon *next;
};

static struct prepared *prepared_moves;
static struct lazy_daemon *lazy_daemons;

struct restored;

/* Output queued for the master above which the slave stops reading the
 * processes' pipes until the link has caught up (slave_moves_link_drained). */
#define LINK_BEHIND_BYTES (4u << 20)

/* A stream of a moved process that goes back to the master. */
struct out_pipe {
	struct slave *s;
	struct restored *r;
	int fd;      /* our read end */
	int stream;  /* the process's fd number: 1 or 2 */
	/* The master holds enough of this stream for its readers
	 * (OutputFlow): not read now, so the process blocks on its full
	 * pipe as it would on a local one. */
	bool paused;
};

/* A process of a moved tree other than its root. */
struct member {
	pid_t pid;       /* in the node, as on the master */
	pid_t host_pid;
	int pidfd;       /* when polling (slave_procs.c): how it ended; else -1 */
	bool ended;
	bool stop_told;  /* its ghost was told it stopped, not yet that it went on */
	int stop_asked;  /* the stop signal SIGSTOP stood in for (stop_mirror_as_asked) */
	int dumped_stop; /* the signal it was stopped by when dumped: it stays so (0: runs) */
};

struct restored {
	pid_t pid;       /* the original pid, the same inside the node */
	pid_t host_pid;  /* as the slave (initial namespace) sees it */
	int nmembers;    /* the root's descendants that moved with it */
	struct member *members;
	bool ended;      /* the root ended; members still run (and write) */
	int end_status;  /* how, if before the commit: told once committed */
	uint64_t move_id;
	bool committed;
	/* If the master link drops before the commit, the copy is held
	 * frozen (held) until the next master says whether it runs
	 * (HeldCopyVerdict, master_held.c).  source: the node it came from
	 * (MoveExpect.source), or BPROC_NODE_MASTER. */
	bool from_node;
	int source;
	bool held;
	bool stop_told;  /* the master was told it stopped, not yet that it went on */
	int stop_asked;  /* the stop signal SIGSTOP stood in for (stop_mirror_as_asked) */
	int dumped_stop; /* the signal it was stopped by when dumped: it stays so (0: runs) */
	bool link_waiting; /* its pipes are not read while the link to the master is behind */
	int nout;
	struct out_pipe *out[CRIU_MAX_INHERIT];
	struct output_queue in;   /* to the process's stdin pipe (ours, non-blocking) */
	bool in_eof;
	int wake_fd;              /* it waits in bproc_move/rfork on this, or -1 */
	/* On a terminal: in.fd is our side of its pseudo-terminal, whose
	 * output goes to the ghost's fd tty_stream (RestoreRequest.tty_fd). */
	bool tty;
	int tty_stream;
	struct restored *next;
};

/* Send what is in one stream now; false at end of file. */
/* Whose output it is on the master: the root's, or once the root has
 * ended, a process of its tree that still runs (its ghost writes it). */
static pid_t output_owner(const struct restored *r)
{
	if (!r->ended)
		return r->pid;
	for (int i = 0; i < r->nmembers; i++)
		if (!r->members[i].ended)
			return r->members[i].pid;
	return r->pid;
}

static void send_output(struct out_pipe *o, const uint8_t *buf, size_t len)
{
	Bproc__Output out = BPROC__OUTPUT__INIT;
	Msg msg = BPROC__MSG__INIT;

	out.pid = output_owner(o->r);
	out.fd = o->stream;
	out.data.data = (uint8_t *)buf;
	out.data.len = len;
	msg.body_case = BPROC__MSG__BODY_OUTPUT;
	msg.output = &out;
	slave_send_to_master(o->s, &msg);
}

static bool forward_output(struct out_pipe *o)
{
	uint8_t buf[65536];

	/* A few reads at a time, and none while the link to the master is
	 * behind: a process that writes without end must neither hold the
	 * loop nor fill our memory (it waits on its full pipe instead). */
	for (int k = 0; k < 16; k++) {
		ssize_t n;

		if (o->s->master && conn_queued(o->s->master) > LINK_BEHIND_BYTES) {
			loop_remove(o->s->loop, o->fd);
			o->r->link_waiting = true;
			return true;
		}
		n = read(o->fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN;
		if (n == 0)
			return false;
		send_output(o, buf, (size_t)n);
	}
	return true;
}

/*
 * Send everything that is in the pipe now, whatever the master or the
 * link said: the process ended (or is frozen to leave), and its readers
 * must have all it wrote before they learn that.  Bounded: a pipe holds
 * at most its size (pipe-max-size), and what a process of its tree
 * writes meanwhile waits for the next read.
 */
static void drain_output(struct out_pipe *o)
{
	uint8_t buf[65536];
	int avail = 0;

	if (ioctl(o->fd, FIONREAD, &avail) < 0)
		return;
	while (avail > 0) {
		size_t want = (size_t)avail < sizeof(buf) ? (size_t)avail : sizeof(buf);
		ssize_t n = read(o->fd, buf, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		send_output(o, buf, (size_t)n);
		avail -= (int)n;
	}
}

static void drain_outputs(struct restored *r)
{
	for (int i = 0; i < r->nout; i++)
		drain_output(r->out[i]);
}

static void close_out_pipe(struct out_pipe *o)
{
	struct restored *r = o->r;

	loop_remove(o->s->loop, o->fd);
	close(o->fd);
	for (int i = 0; i < r->nout; i++)
		if (r->out[i] == o) {
			r->out[i] = r->out[--r->nout];
			break;
		}
	loop_defer_free(o->s->loop, free, o);
}

static void on_output(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct out_pipe *o = data;

	(void)loop;
	(void)fd;
	(void)events;
	if (!forward_output(o))
		close_out_pipe(o);
}

static void image_dir(uint64_t move_id, char *buf, size_t len)
{
	snprintf(buf, len, IMAGES_DIR "/move-%llu", (unsigned long long)move_id);
}

static void remove_images(uint64_t move_id)
{
	char dir[128];

	image_dir(move_id, dir, sizeof(dir));
	move_remove_dir(dir);
}

void slave_moves_remove_images(uint64_t move_id)
{
	remove_images(move_id);
}

void slave_moves_image_dir(uint64_t move_id, char *buf, size_t len)
{
	image_dir(move_id, buf, len);
}

static struct prepared *find_prepared(uint64_t move_id)
{
	for (struct prepared *p = prepared_moves; p; p = p->next)
		if (p->move_id == move_id)
			return p;
	return NULL;
}

static void prepared_free(struct prepared *p)
{
	for (struct prepared **pp = &prepared_moves; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	if (p->listen_fd >= 0) {
		loop_remove(p->s->loop, p->listen_fd);
		close(p->listen_fd);
	}
	if (p->sock >= 0)
		close(p->sock);
	if (p->ps_pid > 0 && !p->ps_done) {
		kill(p->ps_pid, SIGKILL);
		waitpid(p->ps_pid, NULL, 0);
	}
	free(p);
}

/* The source connected: full copy, the pages go into criu page-server at
 * once; lazy, the connection waits for the restore. */
static void on_ps_connection(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct prepared *p = data;
	char dir[128];
	int sock = -1, r;

	(void)events;
	r = ps_accept(fd, p->peer, &sock);
	if (r == -EPERM || r == -EAGAIN || r == -EINTR)
		return;
	/* The source the master chose sends the move's token first. */
	if (r == 0 && p->has_token &&
	    (r = ps_check_token(sock, p->token, sizeof(p->token), PS_TOKEN_MS)) < 0) {
		pr_warn("move %llu: page stream: a connection without the move's token refused (%s)",
			(unsigned long long)p->move_id, strerror(-r));
		close(sock);
		return;
	}
	loop_remove(loop, fd);
	close(fd);
	p->listen_fd = -1;
	/* Encrypted links: so is the page stream, under the move's keys. */
	if (r == 0 && p->s->auth.encrypt)
		r = p->has_token ? page_stream_seal(&p->s->secret, p->token, sizeof(p->token), false,
						    &sock) :
				   -EPROTO;
	if (r < 0) {
		pr_err("move %llu: page stream: %s", (unsigned long long)p->move_id, strerror(-r));
		if (sock >= 0)
			close(sock);
		return;
	}
	if (p->lazy) {
		p->sock = sock;
		return;
	}
	image_dir(p->move_id, dir, sizeof(dir));
	r = ps_start_page_server(p->s->criu, dir, sock, &p->ps_pid);
	close(sock);
	if (r < 0)
		pr_err("move %llu: cannot start criu page-server: %s", (unsigned long long)p->move_id,
		       strerror(-r));
}

/* A lazy move's connection may still wait in the listen queue (our loop
 * may see the RestoreRequest first): take it now. */
static int prep_take_connection(struct prepared *p)
{
	struct pollfd pfd = { .fd = p->listen_fd, .events = POLLIN };

	if (p->listen_fd < 0)
		return 0;
	if (poll(&pfd, 1, PREP_ACCEPT_MS) <= 0)
		return -ETIMEDOUT;
	on_ps_connection(p->s->loop, p->listen_fd, EPOLLIN, p);
	return 0;
}

static void send_prepare_result(struct slave *s, uint64_t move_id, int status, uint16_t port,
				const char *message)
{
	Bproc__PrepareResult res = BPROC__PREPARE_RESULT__INIT;
	Msg msg = BPROC__MSG__INIT;

	res.move_id = move_id;
	res.status = status;
	res.has_port = status == 0;
	res.port = port;
	res.message = (char *)message;
	msg.body_case = BPROC__MSG__BODY_PREPARE_RESULT;
	msg.prepare_result = &res;
	slave_send_to_master(s, &msg);
}

static int on_prepare_move(struct slave *s, const Bproc__PrepareMove *pm)
{
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	struct in_addr any = { .s_addr = htonl(INADDR_ANY) };
	char dir[128], message[160];
	struct prepared *p;
	uint16_t port = 0;
	int r;

	if (!s->criu[0])
		return send_prepare_result(s, pm->move_id, -ENOENT, 0, "this node has no CRIU"), 0;
	if (fault_at("slave-prepare"))
		return send_prepare_result(s, pm->move_id, -EIO, 0, "cannot prepare (fault injected)"), 0;
	if (find_prepared(pm->move_id))
		return send_prepare_result(s, pm->move_id, -EBUSY, 0, "move already prepared"), 0;
	p = calloc(1, sizeof(*p));
	if (!p)
		return send_prepare_result(s, pm->move_id, -ENOMEM, 0, "out of memory"), 0;
	p->s = s;
	p->move_id = pm->move_id;
	p->lazy = pm->has_lazy && pm->lazy;
	if (pm->has_token) {
		if (pm->token.len != PS_TOKEN_LEN) {
			free(p);
			return send_prepare_result(s, pm->move_id, -EINVAL, 0, "bad move token"), 0;
		}
		memcpy(p->token, pm->token.data, PS_TOKEN_LEN);
		p->has_token = true;
	}
	p->listen_fd = -1;
	p->sock = -1;
	/* Only the source may feed our images: by default the master, as
	 * our link to it shows its address. */
	if (pm->source_addr && pm->source_addr[0]) {
		if (inet_pton(AF_INET, pm->source_addr, &p->peer) != 1) {
			free(p);
			return send_prepare_result(s, pm->move_id, -EINVAL, 0, "bad source address"), 0;
		}
	} else if (!s->master || getpeername(s->master->fd, (struct sockaddr *)&peer, &len) < 0) {
		free(p);
		return send_prepare_result(s, pm->move_id, -ENOTCONN, 0, "no master link"), 0;
	} else {
		p->peer = peer.sin_addr;
	}
	remove_images(pm->move_id);
	image_dir(pm->move_id, dir, sizeof(dir));
	if ((mkdir(IMAGES_DIR, 0700) < 0 && errno != EEXIST) || mkdir(dir, 0700) < 0) {
		r = -errno;
		snprintf(message, sizeof(message), "%s: %s", dir, strerror(-r));
		free(p);
		return send_prepare_result(s, pm->move_id, r, 0, message), 0;
	}
	r = ps_listen(any, &p->listen_fd, &port);
	if (r == 0)
		r = loop_add(s->loop, p->listen_fd, EPOLLIN, on_ps_connection, p);
	if (r < 0) {
		if (p->listen_fd >= 0)
			close(p->listen_fd);
		free(p);
		remove_images(pm->move_id);
		snprintf(message, sizeof(message), "cannot listen for the pages: %s", strerror(-r));
		return send_prepare_result(s, pm->move_id, r, 0, message), 0;
	}
	p->next = prepared_moves;
	prepared_moves = p;
	send_prepare_result(s, pm->move_id, 0, port, NULL);
	return 0;
}

/* Full copy: the page server has all the pages once it ended well. */
static int wait_page_server(struct prepared *p, const char *dir, char *err, size_t errlen)
{
	long long deadline = now_ms() + PAGE_SERVER_END_MS;

	if (p->ps_pid <= 0) {
		snprintf(err, errlen, "the page stream never came");
		return -EPIPE;
	}
	while (!p->ps_done) {
		int status;
		pid_t r = waitpid(p->ps_pid, &status, WNOHANG);

		if (r == p->ps_pid) {
			p->ps_done = true;
			p->ps_status = status;
			break;
		}
		if (r < 0 || now_ms() > deadline) {
			snprintf(err, errlen, "criu page-server does not end");
			return -ETIMEDOUT;
		}
		usleep(2000);
	}
	if (!WIFEXITED(p->ps_status) || WEXITSTATUS(p->ps_status) != 0) {
		char reason[400] = "";

		criu_log_reason(dir, "page-server.log", reason, sizeof(reason));
		snprintf(err, errlen, "the page stream broke: %s", reason);
		return -EPIPE;
	}
	return 0;
}

static int on_image_chunk(struct slave *s, const Bproc__ImageChunk *c)
{
	char dir[128], path[512];
	int fd, r;

	if (!c->name[0] || strchr(c->name, '/') || strcmp(c->name, "..") == 0 ||
	    strcmp(c->name, ".") == 0) {
		pr_warn("image chunk with a bad name '%s'", c->name);
		return 0;
	}
	image_dir(c->move_id, dir, sizeof(dir));
	if ((mkdir(IMAGES_DIR, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(dir, 0700) < 0 && errno != EEXIST)) {
		pr_err("%s: %s", dir, strerror(errno));
		return 0;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, c->name);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		pr_err("%s: %s", path, strerror(errno));
		return 0;
	}
	r = fault_at("slave-disk-full") ? -ENOSPC : write_full(fd, c->data.data, c->data.len);
	close(fd);
	if (r < 0)
		pr_err("%s: %s", path, strerror(-r));
	(void)s;
	return 0;
}

/* A process of init's pid namespace whose pid inside is nspid, host view:
 * the restore of a process on a terminal leaves it a child of the session
 * keeper until the commit (criu_run.c), not of init. */
static pid_t host_pid_by_scan(pid_t init, pid_t nspid)
{
	char path[300], line[256];
	struct stat ns_init, ns;
	DIR *d;
	struct dirent *e;
	pid_t found = 0;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)init);
	if (stat(path, &ns_init) < 0)
		return 0;
	d = opendir("/proc");
	while (d && !found && (e = readdir(d))) {
		_cleanup_fclose_ FILE *st = NULL;
		int host = 0, inner = 0;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/status", e->d_name);
		st = fopen(path, "re");
		while (st && fgets(line, sizeof(line), st))
			if (sscanf(line, "NSpid: %d %d", &host, &inner) == 2)
				break;
		if (inner != nspid)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/pid", host);
		if (stat(path, &ns) == 0 && ns.st_ino == ns_init.st_ino && ns.st_dev == ns_init.st_dev)
			found = host;
	}
	if (d)
		closedir(d);
	return found;
}

/* Whether host's innermost pid (the node's) is nspid. */
static bool node_pid_is(pid_t host, pid_t nspid)
{
	char path[64], line[256];
	_cleanup_fclose_ FILE *st = NULL;
	int outer = 0, inner = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)host);
	st = fopen(path, "re");
	while (st && fgets(line, sizeof(line), st))
		if (sscanf(line, "NSpid: %d %d", &outer, &inner) == 2)
			break;
	return inner == nspid;
}

/*
 * A just restored process whose pid inside the node is nspid, host view:
 * a child of the node's init, or of one of its children (its keeper,
 * criu_run.c, is its parent).  Failing those, every process of the host
 * is looked at, which costs a millisecond or more on a busy host.
 */
static pid_t host_pid_of(pid_t init, pid_t nspid)
{
	pid_t kids[FREEZER_MAX_PIDS], grandkids[FREEZER_MAX_PIDS];
	int n = freezer_children(init, kids, FREEZER_MAX_PIDS);

	for (int i = 0; i < n; i++)
		if (node_pid_is(kids[i], nspid))
			return kids[i];
	for (int i = 0; i < n; i++) {
		int m = freezer_children(kids[i], grandkids, FREEZER_MAX_PIDS);

		for (int k = 0; k < m; k++)
			if (node_pid_is(grandkids[k], nspid))
				return grandkids[k];
	}
	return host_pid_by_scan(init, nspid);
}

/* The innermost pid (the node's) of a host pid, 0 if gone. */
pid_t slave_node_pid(pid_t host)
{
	char path[64], line[256];
	_cleanup_fclose_ FILE *f = NULL;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)host);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		char *last;

		if (strncmp(line, "NSpid:", 6) != 0)
			continue;
		last = strrchr(line, '\t');
		return last ? (pid_t)atoi(last + 1) : 0;
	}
	return 0;
}

static void free_members(struct restored *r)
{
	for (int i = 0; i < r->nmembers; i++)
		if (r->members[i].pidfd >= 0)
			close(r->members[i].pidfd);
	free(r->members);
	r->members = NULL;
	r->nmembers = 0;
}

/*
 * Find the host pids of the tree restored under root_host: every pid the
 * master listed (tree[0] is the root) must be there, with the same pid.
 * Fills r->members; -ESRCH with a message if one is missing.
 */
static int map_members(struct restored *r, pid_t init, pid_t root_host,
		       const Bproc__RestoreRequest *req, char *err, size_t errlen)
{
	pid_t found[FREEZER_MAX_PIDS], inner[FREEZER_MAX_PIDS];
	int nfound = 1;

	if (req->n_tree <= 1)
		return 0;
	found[0] = root_host;
	inner[0] = req->pid;
	for (int i = 0; i < nfound; i++) {
		pid_t kids[FREEZER_MAX_PIDS];
		int n = freezer_children(found[i], kids, FREEZER_MAX_PIDS);

		for (int k = 0; k < n && nfound < FREEZER_MAX_PIDS; k++) {
			found[nfound] = kids[k];
			inner[nfound] = slave_node_pid(kids[k]);
			nfound++;
		}
	}
	r->members = calloc(req->n_tree, sizeof(*r->members));
	if (!r->members)
		return -ENOMEM;
	for (size_t t = 1; t < req->n_tree; t++) {
		struct member *m = &r->members[r->nmembers];

		m->pid = req->tree[t];
		m->pidfd = -1;
		for (int i = 1; i < nfound && !m->host_pid; i++)
			if (inner[i] == m->pid)
				m->host_pid = found[i];
		/* The children files are exact only for a tree that holds
		 * still; look for it by its pid in the node as well. */
		if (!m->host_pid)
			m->host_pid = host_pid_by_scan(init, m->pid);
		if (!m->host_pid) {
			snprintf(err, errlen, "process %d of the tree was not restored", m->pid);
			/* None of what came back may run. */
			for (int i = 0; i < nfound; i++)
				kill(found[i], SIGKILL);
			return -ESRCH;
		}
		/* Stopped until the commit: it cannot have ended yet. */
		if (slave_procs_polling() && (m->pidfd = proc_pidfd_open(m->host_pid)) < 0)
			m->pidfd = -1;
		r->nmembers++;
	}
	return 0;
}

/* Every process of a restored tree gets sig: the root, then the others. */
static void signal_tree(const struct restored *r, int sig)
{
	kill(r->host_pid, sig);
	for (int i = 0; i < r->nmembers; i++)
		if (!r->members[i].ended)
			kill(r->members[i].host_pid, sig);
}

/* The processes the tree forked here since its restore: a lazy move's
 * took the pages their parents still lacked, from the same stream. */
static void kill_born_of(const struct restored *r)
{
	pid_t roots[FREEZER_MAX_PIDS];
	int n = 0, killed;

	roots[n++] = r->pid;
	for (int i = 0; i < r->nmembers && n < FREEZER_MAX_PIDS; i++)
		roots[n++] = r->members[i].pid;
	killed = slave_procs_kill_born_of(roots, n);
	if (killed)
		pr_err("move %llu: killed too: %d process%s the tree of %d forked since its restore",
		       (unsigned long long)r->move_id, killed, killed == 1 ? "" : "es", r->pid);
}

static bool members_alive(const struct restored *r)
{
	for (int i = 0; i < r->nmembers; i++)
		if (!r->members[i].ended)
			return true;
	return false;
}

static void send_result(struct slave *s, uint64_t move_id, int status, const char *message)
{
	Bproc__RestoreResult res = BPROC__RESTORE_RESULT__INIT;
	Msg msg = BPROC__MSG__INIT;

	res.move_id = move_id;
	res.status = status;
	res.message = (char *)message;
	msg.body_case = BPROC__MSG__BODY_RESTORE_RESULT;
	msg.restore_result = &res;
	slave_send_to_master(s, &msg);
}

/*
 * The fault slave-memory-full: a memory cgroup of FAULT_RESTORE_MEMORY
 * for the restore of move_id (migrate/memory_room.h); its cgroup.procs,
 * open for writing, for CRIU_INHERIT_CGROUP, or -1.
 */
static int restore_cage_open(struct slave *s, uint64_t move_id, struct memory_cage *cage)
{
	char name[64], procs[PATH_MAX + 32];
	int fd = -1;

	snprintf(name, sizeof(name), "node%d-restore-%llu", s->node, (unsigned long long)move_id);
	if (memory_cage_create(cage, name, FAULT_RESTORE_MEMORY) == 0) {
		memory_cage_procs(cage, procs, sizeof(procs));
		fd = open(procs, O_WRONLY | O_CLOEXEC);
	}
	if (fd < 0)
		pr_warn("move %llu: no memory cgroup for the fault slave-memory-full",
			(unsigned long long)move_id);
	return fd;
}

/* The restore (ret) is over: a failed one that the OOM killer ended says
 * so in err; the cage goes, with what failed in it or after sending back
 * what was restored. */
static void restore_cage_close(struct memory_cage *cage, int ret, char *err, size_t errlen)
{
	char reason[512] = "";

	if (!cage->path[0])
		return;
	if (ret < 0 && memory_cage_oom_kills(cage) > 0) {
		/* CRIU's error line if it wrote one; not "see the log" (the
		 * images and the log go now). */
		if (strncmp(err, "criu: ", 6) == 0)
			snprintf(reason, sizeof(reason), "%s", err);
		snprintf(err, errlen,
			 "not enough memory: the kernel's OOM killer ended the restore "
			 "(under a limit of %llu MiB, fault injected)%s%.300s",
			 (unsigned long long)(cage->limit >> 20), reason[0] ? ": " : "", reason);
	}
	memory_cage_release(cage, ret < 0);
}

/*
 * Which processes of the tree were in a group stop when dumped, from their
 * images: those stay stopped at the commit, as the restore leaves them.
 * An image we cannot read counts as running (as before: a stop is lost,
 * the process is not).
 */
static void read_dumped_stops(struct restored *r, const Bproc__RestoreRequest *req, const char *dir)
{
	for (int i = -1; i < r->nmembers; i++) {
		pid_t pid = i < 0 ? (pid_t)req->pid : r->members[i].pid;
		int sig = image_stop_signal(dir, pid);

		if (sig < 0) {
			pr_warn("move %llu: cannot read how process %d was dumped (%s); it will run",
				(unsigned long long)req->move_id, pid, strerror(-sig));
			sig = 0;
		}
		if (sig > 0)
			pr_info("move %llu: process %d was dumped stopped (signal %d): it stays stopped",
				(unsigned long long)req->move_id, pid, sig);
		if (i < 0)
			r->dumped_stop = sig;
		else
			r->members[i].dumped_stop = sig;
	}
}

static int on_restore_request(struct slave *s, const Bproc__RestoreRequest *req, bool from_node,
			      int source)
{
	char dir[128], nspath[64], err[512] = "", message[600];
	_cleanup_close_ int nsfd = -1;
	struct criu_inherit inherit[CRIU_MAX_INHERIT];
	int pipes[CRIU_MAX_INHERIT][2], streams[CRIU_MAX_INHERIT], npipes = 0;
	int stdin_write = -1;
	struct restored *r;
	struct prepared *prep;
	struct memory_cage cage = { .path = "" };
	bool lazy = req->has_lazy && req->lazy;
	pid_t nspid = 0, host = 0, lazy_pid = 0;
	int ret;

	if (fault_at("slave-die"))
		kill(getpid(), SIGKILL);
	if (fault_at("slave-cut") && s->master) {
		shutdown(s->master->fd, SHUT_RDWR);
		return 0;
	}
	/* One pipe of ours per distinct pipe of the process (stdout and
	 * stderr are often the same one). */
	for (size_t i = 0; i < req->n_pipes && npipes < CRIU_MAX_INHERIT - 3; i++) {
		bool seen = false;

		for (int j = 0; j < npipes; j++)
			seen |= strcmp(inherit[j].key, req->pipes[i]->key) == 0;
		if (seen || pipe2(pipes[npipes], O_CLOEXEC) < 0)
			continue;
		if (req->pipes[i]->fd == 0) {
			/* stdin: the process reads, we write.  Swap the ends so
			 * the code below closes the process's end and keeps ours. */
			int t = pipes[npipes][0];

			pipes[npipes][0] = pipes[npipes][1];
			pipes[npipes][1] = t;
		}
		inherit[npipes].fd = pipes[npipes][1];
		inherit[npipes].key = req->pipes[i]->key;
		streams[npipes] = req->pipes[i]->fd;
		npipes++;
	}

	/* A terminal: a pseudo-terminal of ours in its place.  And always
	 * the keeper's reports (criu_run.h, CRIU_INHERIT_REPORT). */
	int ptm = -1, pts = -1, report[2] = { -1, -1 }, ninherit = npipes;

	ret = 0;
	if (req->has_tty_fd)
		ret = slave_tty_open(&ptm, &pts);
	if (ret == 0 && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, report) < 0)
		ret = -errno;
	if (ret < 0) {
		snprintf(message, sizeof(message), "node %d: %s: %s", s->node,
			 req->has_tty_fd ? "no pseudo-terminal" : "no socket for the keeper",
			 strerror(-ret));
		for (int i = 0; i < npipes; i++) {
			close(pipes[i][0]);
			close(pipes[i][1]);
		}
		if (ptm >= 0) {
			close(ptm);
			close(pts);
		}
		send_result(s, req->move_id, ret, message);
		remove_images(req->move_id);
		return 0;
	}
	if (pts >= 0) {
		inherit[ninherit].fd = pts;
		inherit[ninherit++].key = CRIU_INHERIT_TTY;
	}
	inherit[ninherit].fd = report[0];
	inherit[ninherit++].key = CRIU_INHERIT_REPORT;
	/* The fault: the restore runs under a memory limit it cannot meet. */
	_cleanup_close_ int cage_fd = fault_at("slave-memory-full") ?
		restore_cage_open(s, req->move_id, &cage) : -1;
	if (cage_fd >= 0) {
		inherit[ninherit].fd = cage_fd;
		inherit[ninherit++].key = CRIU_INHERIT_CGROUP;
	}

	image_dir(req->move_id, dir, sizeof(dir));
	prep = find_prepared(req->move_id);
	snprintf(nspath, sizeof(nspath), "/proc/%d/ns/pid", (int)s->init_pid);
	nsfd = open(nspath, O_RDONLY | O_CLOEXEC);
	if (!s->criu[0]) {
		ret = -ENOENT;
		snprintf(err, sizeof(err), "this node has no CRIU");
	} else if (s->init_pid <= 0 || nsfd < 0) {
		ret = -BE_NODEDOWN;
		snprintf(err, sizeof(err), "the node has no pid namespace");
	} else if (lazy && !prep) {
		ret = -EPROTO;
		snprintf(err, sizeof(err), "the lazy move was not prepared");
	} else if (!prep) {
		ret = 0; /* every image came as ImageChunks */
	} else if (!lazy) {
		ret = wait_page_server(prep, dir, err, sizeof(err));
	} else if (prep_take_connection(prep) < 0 || prep->sock < 0) {
		ret = -EPIPE;
		snprintf(err, sizeof(err), "the page stream never came");
	} else {
		/* Serves the restored memory from the source, on demand. */
		ret = ps_start_lazy_pages(s->criu, dir, prep->sock, &lazy_pid, err, sizeof(err));
	}
	if (prep)
		prepared_free(prep);
	if (ret == 0)
		ret = criu_restore_tree(s->criu, dir, nsfd, inherit, ninherit, lazy, &nspid, err,
					sizeof(err));
	restore_cage_close(&cage, ret, err, sizeof(err));
	/* The process holds the write ends now; ours would keep them open. */
	for (int i = 0; i < npipes; i++)
		close(pipes[i][1]);
	if (report[0] >= 0)
		close(report[0]);
	/* The keeper reports the process's end from now on (or, if the
	 * restore failed, just goes). */
	if (report[1] >= 0 && slave_tty_keeper_watch(s, report[1]) < 0)
		close(report[1]);
	if (pts >= 0) {
		/* CRIU set it as the master's terminal was; ours adds nothing.
		 * From another node, CRIU set it as that node's pty was: ours,
		 * with whatever the process changed there (echo off), kept. */
		if (ret == 0 && !from_node && slave_tty_set_mode(pts) < 0)
			pr_warn("move %llu: cannot set the terminal's mode", (unsigned long long)req->move_id);
		close(pts);
	}
	if (ret == 0 && nspid != req->pid) {
		ret = -EBUSY;
		snprintf(err, sizeof(err), "restored as pid %d, not %d", nspid, req->pid);
	}
	host = ret == 0 ? host_pid_of(s->init_pid, nspid) : 0;
	if (ret == 0 && host <= 0) {
		ret = -ESRCH;
		snprintf(err, sizeof(err), "the restored process %d is not in the node", nspid);
	}
	r = ret == 0 ? calloc(1, sizeof(*r)) : NULL;
	if (ret == 0 && !r) {
		ret = -ENOMEM;
		snprintf(err, sizeof(err), "out of memory");
	}
	if (r) {
		r->host_pid = host;
		ret = map_members(r, s->init_pid, host, req, err, sizeof(err));
		if (ret == 0)
			read_dumped_stops(r, req, dir);
		if (ret == 0 && fault_at("slave-restore")) {
			ret = -EIO;
			snprintf(err, sizeof(err), "the restore failed (fault injected)");
		}
		if (ret < 0) {
			/* What came back of its tree must not stay, stopped. */
			signal_tree(r, SIGKILL);
			free_members(r);
			free(r);
			r = NULL;
		}
	}
	if (ret < 0) {
		if (host > 0)
			kill(host, SIGKILL);
		if (lazy_pid > 0) {
			kill(lazy_pid, SIGKILL);
			waitpid(lazy_pid, NULL, 0);
		}
		for (int i = 0; i < npipes; i++)
			close(pipes[i][0]);
		if (ptm >= 0)
			close(ptm);
		snprintf(message, sizeof(message), "node %d: %s", s->node, err);
		pr_warn("move %llu: %s", (unsigned long long)req->move_id, message);
		send_result(s, req->move_id, ret, message);
		remove_images(req->move_id);
		return 0;
	}
	if (lazy_pid > 0) {
		struct lazy_daemon *d = calloc(1, sizeof(*d));

		if (!d) {
			kill(lazy_pid, SIGKILL);
			waitpid(lazy_pid, NULL, 0);
			lazy_pid = 0;
			signal_tree(r, SIGKILL);
			free_members(r);
			free(r);
			for (int i = 0; i < npipes; i++)
				close(pipes[i][0]);
			send_result(s, req->move_id, -ENOMEM, "out of memory");
			remove_images(req->move_id);
			return 0;
		}
		d->pid = lazy_pid;
		d->move_id = req->move_id;
		d->next = lazy_daemons;
		lazy_daemons = d;
	}
	output_queue_init(&r->in, s->loop, -1, NULL, NULL);
	for (int i = 0; i < npipes; i++) {
		struct out_pipe *o;

		if (streams[i] == 0) {
			stdin_write = pipes[i][0];
			fcntl(stdin_write, F_SETFL, O_NONBLOCK);
			r->in.fd = stdin_write;
			continue;
		}
		o = calloc(1, sizeof(*o));

		if (!o) {
			close(pipes[i][0]);
			continue;
		}
		o->s = s;
		o->r = r;
		o->fd = pipes[i][0];
		o->stream = streams[i];
		fcntl(o->fd, F_SETFL, O_NONBLOCK);
		r->out[r->nout++] = o;
		loop_add(s->loop, o->fd, EPOLLIN, on_output, o);
	}
	if (ptm >= 0) {
		/* Its terminal's output goes back like a pipe's; what is
		 * typed on the master goes in through a copy of ours. */
		struct out_pipe *o = calloc(1, sizeof(*o));

		r->tty = true;
		r->tty_stream = req->tty_fd;
		r->in.fd = fcntl(ptm, F_DUPFD_CLOEXEC, 3);
		/* From another node: what it had not read there, first. */
		if (req->has_tty_input && req->tty_input.len > 0 &&
		    output_queue_push(&r->in, req->tty_input.data, req->tty_input.len) < 0)
			pr_warn("move %llu: process %d: its unread terminal input is lost",
				(unsigned long long)req->move_id, req->pid);
		if (o) {
			o->s = s;
			o->r = r;
			o->fd = ptm;
			o->stream = req->tty_fd;
			r->out[r->nout++] = o;
			loop_add(s->loop, o->fd, EPOLLIN, on_output, o);
		} else {
			close(ptm);
		}
	}
	r->pid = req->pid;
	r->host_pid = host;
	r->move_id = req->move_id;
	r->from_node = from_node;
	r->source = from_node ? source : BPROC_NODE_MASTER;
	r->wake_fd = req->has_wake_fd ? req->wake_fd : -1;
	r->next = s->restored;
	s->restored = r;
	/* The lazy-pages daemon reads them until every page is in. */
	if (!lazy_pid)
		remove_images(req->move_id);
	pr_info("move %llu: process %d restored (host pid %d, %d more in its tree), waiting for the commit",
		(unsigned long long)req->move_id, req->pid, host, r->nmembers);
	send_result(s, req->move_id, 0, NULL);
	return 0;
}

/* A wait status of a process of ours, for its ghost. */
static void send_process_status(struct slave *s, pid_t pid, int status)
{
	Bproc__ProcessStatus pe = BPROC__PROCESS_STATUS__INIT;
	Msg msg = BPROC__MSG__INIT;

	pe.pid = pid;
	pe.status = status;
	msg.body_case = BPROC__MSG__BODY_PROCESS_STATUS;
	msg.process_status = &pe;
	slave_send_to_master(s, &msg);
}

static void forget(struct slave *s, struct restored *r)
{
	while (r->nout > 0)
		close_out_pipe(r->out[0]);
	output_queue_close(&r->in);
	for (struct restored **p = &s->restored; *p; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			free_members(r);
			free(r);
			return;
		}
}

/* A copy that must not run: killed with its tree, and forgotten; how
 * many processes that was. */
static int kill_copy(struct slave *s, struct restored *r)
{
	int n = 1 + r->nmembers;

	signal_tree(r, SIGKILL);
	forget(s, r);
	return n;
}

/*
 * At the commit, every process of the tree goes on but those dumped in a
 * group stop: they stay stopped (the restore left them so, with SIGSTOP),
 * and their ghosts are told with the signal that stopped the original, so
 * that a ghost made on the master shows the stop (a ghost that stayed, in
 * a move from another node, is stopped already: no news to its parent).
 * A SIGCONT sent to the ghost then continues them as any stopped process.
 */
static void continue_tree(struct slave *s, struct restored *r)
{
	if (!r->dumped_stop)
		kill(r->host_pid, SIGCONT);
	for (int i = 0; i < r->nmembers; i++)
		if (!r->members[i].ended && !r->members[i].dumped_stop)
			kill(r->members[i].host_pid, SIGCONT);
	if (r->dumped_stop && !r->ended) {
		r->stop_told = true;
		send_process_status(s, r->pid, W_STOPCODE(r->dumped_stop));
	}
	for (int i = 0; i < r->nmembers; i++) {
		struct member *m = &r->members[i];

		if (!m->dumped_stop || m->ended)
			continue;
		m->stop_told = true;
		send_process_status(s, m->pid, W_STOPCODE(m->dumped_stop));
	}
}

/* The commit: the copy runs (or, if it died meanwhile, its ghost is told). */
static void run_copy(struct slave *s, struct restored *r)
{
	r->committed = true;
	r->held = false;
	continue_tree(s, r);
	if (r->ended) {
		/* It died between its restore and now: its ghost ends the
		 * same way (never a ghost of nothing). */
		send_process_status(s, r->pid, r->end_status);
		pr_warn("process %d ended on node %d before its move was committed (status 0x%x)",
			r->pid, s->node, r->end_status);
		if (!members_alive(r))
			forget(s, r);
		return;
	}
	/* A process that waits for its own move learns it is over, and
	 * where it is now. */
	move_wake(r->host_pid, r->wake_fd, 0, NULL);
	if (members_alive(r))
		slave_stops_watch(false);
	pr_info("process %d runs on node %d", r->pid, s->node);
}

static int on_move_commit(struct slave *s, const Bproc__MoveCommit *c)
{
	struct prepared *p = find_prepared(c->move_id);

	/* The source gave up before the restore: drop what we prepared. */
	if (p && !c->commit) {
		prepared_free(p);
		remove_images(c->move_id);
		/* From another node: it will not come. */
		slave_move_expect_drop(s, c->move_id);
		pr_info("move %llu aborted before the restore", (unsigned long long)c->move_id);
		return 0;
	}
	for (struct restored *r = s->restored; r; r = r->next) {
		/* Only a copy that waits for its commit: one that runs took
		 * its move id from a master before this one, whose ids
		 * started at 1 too (a move out of here may have that id). */
		if (r->move_id != c->move_id || r->committed || r->held)
			continue;
		if (c->commit) {
			run_copy(s, r);
		} else {
			pr_info("move %llu aborted: copy of %d killed", (unsigned long long)c->move_id, r->pid);
			kill_copy(s, r);
		}
		return 0;
	}
	if (!slave_move_out_commit(s, c) && !slave_move_expect_drop(s, c->move_id))
		pr_debug("commit of unknown move %llu", (unsigned long long)c->move_id);
	/* A small move's images come unprepared, as ImageChunks: any that
	 * came before the abort go too. */
	if (!c->commit)
		remove_images(c->move_id);
	return 0;
}

/* stdin's writers on the master closed it, and all is written: close. */
static void input_drained(void *data)
{
	struct restored *r = data;

	if (r->in_eof)
		output_queue_close(&r->in);
}

/* Go on reading an output pipe (not paused, the link not behind). */
static void resume_output(struct out_pipe *o)
{
	int r;

	/* What waited in it first; at its end, it goes. */
	if (!forward_output(o)) {
		close_out_pipe(o);
		return;
	}
	/* Still watched if only another stream of it found the link behind. */
	r = o->r->link_waiting ? 0 : loop_add(o->s->loop, o->fd, EPOLLIN, on_output, o);
	if (r < 0 && r != -EEXIST)
		pr_warn("process %d: cannot watch its output: %s", o->r->pid, strerror(-r));
}

/* Every stream of a copy flows again: a new master knows of no pause. */
static void unpause_outputs(struct restored *r)
{
	for (int i = r->nout - 1; i >= 0; i--) {
		struct out_pipe *o = r->out[i];

		o->paused = false;
		loop_remove(o->s->loop, o->fd);
		if (!r->link_waiting)
			resume_output(o);
	}
}

/* The master decided what becomes of a copy we held frozen after losing
 * its commit (master_held.c). */
static int on_held_copy_verdict(struct slave *s, const Bproc__HeldCopyVerdict *v)
{
	for (struct restored *r = s->restored; r; r = r->next) {
		if (r->pid != v->pid || !r->held)
			continue;
		if (!v->run) {
			pr_info("process %d runs elsewhere (or no more): the copy held from node %d is killed",
				r->pid, r->source);
			kill_copy(s, r);
			return 0;
		}
		pr_warn("process %d: the master lets the copy held from node %d run (its source does not run it)",
			r->pid, r->source);
		/* As a copy taken back: its output flows (what waited first). */
		unpause_outputs(r);
		run_copy(s, r);
		return 0;
	}
	pr_debug("verdict on a held copy of %d we do not hold", v->pid);
	return 0;
}

void slave_moves_link_drained(struct slave *s)
{
	for (struct restored *r = s->restored; r; r = r->next) {
		if (!r->link_waiting)
			continue;
		r->link_waiting = false;
		for (int i = r->nout - 1; i >= 0 && !r->link_waiting; i--)
			if (!r->out[i]->paused)
				resume_output(r->out[i]);
	}
}

static int on_output_flow(struct slave *s, const Bproc__OutputFlow *f)
{
	for (struct restored *r = s->restored; r; r = r->next) {
		bool ours = r->pid == f->pid;

		for (int i = 0; i < r->nmembers && !ours; i++)
			ours = r->members[i].pid == f->pid;
		if (!ours)
			continue;
		for (int i = r->nout - 1; i >= 0; i--) {
			struct out_pipe *o = r->out[i];
			struct stat st;

			if (f->has_fd && o->stream != f->fd)
				continue;
			/* Its readers are gone: so is the pipe (not a terminal,
			 * which would hang up), and the process's next write
			 * fails as it would have on the master. */
			if (f->has_gone && f->gone) {
				if (fstat(o->fd, &st) == 0 && S_ISFIFO(st.st_mode)) {
					pr_info("process %d: nobody reads its fd %d on the master any more: its pipe is closed",
						f->pid, o->stream);
					close_out_pipe(o);
				}
				continue;
			}
			if (o->paused == f->pause)
				continue;
			o->paused = f->pause;
			pr_debug("process %d: stream %d %s", f->pid, o->stream,
				 f->pause ? "paused (its readers on the master are behind)" : "flows again");
			if (f->pause)
				loop_remove(s->loop, o->fd);
			else if (!r->link_waiting)
				resume_output(o);
		}
		return 0;
	}
	return 0;
}

static int on_input(struct slave *s, const Bproc__Input *in)
{
	for (struct restored *r = s->restored; r; r = r->next) {
		if (r->pid != in->pid)
			continue;
		if (r->tty) {
			/* An end of file typed on a terminal is not its end. */
			if (in->has_rows && in->has_cols && r->in.fd >= 0)
				slave_tty_resize(r->in.fd, in->rows, in->cols);
			if (((in->has_data && in->data.len > 0) || (in->has_eof && in->eof)) &&
			    slave_tty_input(&r->in, in->has_data ? in->data.data : NULL,
					    in->has_data ? in->data.len : 0, in->has_eof && in->eof) < 0)
				pr_warn("process %d: terminal input dropped", r->pid);
			return 0;
		}
		r->in.drained = input_drained;
		r->in.data = r;
		if (in->has_data && in->data.len > 0 &&
		    output_queue_push(&r->in, in->data.data, in->data.len) < 0)
			pr_warn("process %d: input dropped", r->pid);
		if (in->has_eof && in->eof) {
			r->in_eof = true;
			if (!output_queue_pending(&r->in))
				output_queue_close(&r->in);
		}
		return 0;
	}
	return 0;
}

/*
 * A terminal's stop (SIGTSTP, or SIGTTIN/SIGTTOU) forwarded from the ghost,
 * that the process leaves to its default action (no handler, not
 * ignored): the ghost took it (its group on the master was not orphaned),
 * so the stop was meant.
 */
static bool stops_by_default(pid_t host, int sig)
{
	char path[64], line[256];
	_cleanup_fclose_ FILE *f = NULL;
	unsigned long long caught = 0, ignored = 0;

	if (sig != SIGTSTP && sig != SIGTTIN && sig != SIGTTOU)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)host);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		sscanf(line, "SigCgt: %llx", &caught);
		sscanf(line, "SigIgn: %llx", &ignored);
	}
	return !((caught | ignored) & (1ull << (sig - 1)));
}

/*
 * Whether the stops and continues of host (a process of r's tree) are
 * waited for by ours, which tell them with their signal
 * (slave_moves_exited): the root's and, once its parent in the tree has
 * ended, a process's below it, by the keeper (a subreaper), or the
 * node's init.  Their wait takes the signal out of the process's /proc,
 * so a look (stop_mirror_look) at such a stop could only guess SIGSTOP.
 */
static bool waited_for(const struct restored *r, pid_t host)
{
	pid_t parent;

	if (host == r->host_pid)
		return true;
	parent = proc_parent(host);
	if (parent <= 0 || parent == r->host_pid)
		return false;
	for (int i = 0; i < r->nmembers; i++)
		if (r->members[i].host_pid == parent && !r->members[i].ended)
			return false;
	return true;
}

static int on_signal_process(struct slave *s, const Bproc__SignalProcess *sp)
{
	for (struct restored *r = s->restored; r; r = r->next) {
		pid_t host = r->pid == sp->pid && !r->ended ? r->host_pid : 0;
		bool *stop_told = &r->stop_told;
		int *stop_asked = &r->stop_asked;
		bool by_default;
		int sig;

		for (int i = 0; !host && i < r->nmembers; i++)
			if (r->members[i].pid == sp->pid && !r->members[i].ended) {
				host = r->members[i].host_pid;
				stop_told = &r->members[i].stop_told;
				stop_asked = &r->members[i].stop_asked;
			}
		if (!host)
			continue;
		by_default = stops_by_default(host, sp->sig);
		/* On the node the process's group may have no parent in its
		 * session (orphaned: a root's group not on a terminal, a
		 * child whose root ended), and the kernel drops those signals
		 * there: it stops with SIGSTOP instead. */
		sig = by_default && proc_group_orphaned(host) != 0 ? SIGSTOP : sp->sig;
		if (sig > 0 && sig < 65 && kill(host, sig) < 0)
			pr_warn("signal %d to %d: %s", sp->sig, sp->pid, strerror(errno));
		/* Its stop is told as this signal, whatever stopped it here:
		 * that SIGSTOP, or one before (a process stopped already,
		 * whose signal the keeper's or init's wait took out of its
		 * /proc: see below). */
		if (is_stop_signal(sp->sig))
			*stop_asked = by_default ? sp->sig : 0;
		if (is_stop_signal(sp->sig) && r->committed && (*stop_told || !waited_for(r, host))) {
			/* The ghost runs (it took this signal), and must stop
			 * with its real process, even one that was stopped
			 * already (a SIGCONT sent to the ghost just before is
			 * dropped by this signal, so it never came here).  A
			 * new stop of a process ours wait for is theirs to
			 * tell, with its signal: a look after their wait
			 * reads none (SIGSTOP). */
			int status;

			*stop_told = false;
			status = stop_mirror_look(host, stop_told);
			if (status)
				send_process_status(s, sp->pid,
						    stop_mirror_as_asked(status, stop_asked));
		}
		if (sp->sig == SIGCONT && *stop_told && r->committed) {
			/* The kernel continued the ghost when it was sent
			 * this: say so now, after the stop we told, or a
			 * stop that follows within one look (or one report
			 * of the keeper) would seem no news. */
			*stop_told = false;
			send_process_status(s, sp->pid,
					    stop_mirror_as_asked(STOP_MIRROR_CONTINUED, stop_asked));
		}
		if (sp->sig == SIGCONT)
			*stop_asked = 0;
		/* Below the root, a stop or a continue is ours to see. */
		if (host != r->host_pid && r->committed)
			slave_stops_watch(true);
		return 0;
	}
	return 0;
}

/* Before a move: what this node has at the paths the process uses. */
int slave_path_check(struct slave *s, struct conn *to, const Bproc__PathCheckRequest *req)
{
	Bproc__PathCheckReply rep = BPROC__PATH_CHECK_REPLY__INIT;
	Msg msg = BPROC__MSG__INIT;
	_cleanup_free_ struct movable_seen *seen = calloc(req->n_paths + 1, sizeof(*seen));
	_cleanup_free_ Bproc__PathSeen *items = calloc(req->n_paths + 1, sizeof(*items));
	_cleanup_free_ Bproc__PathSeen **ptrs = calloc(req->n_paths + 1, sizeof(*ptrs));

	if (!seen || !items || !ptrs)
		return -ENOMEM;
	movable_look((const char *const *)req->paths, req->n_paths, seen);
	for (size_t i = 0; i < req->n_paths; i++) {
		bproc__path_seen__init(&items[i]);
		items[i].mode = seen[i].mode;
		items[i].has_size = true;
		items[i].size = seen[i].size;
		ptrs[i] = &items[i];
	}
	rep.move_id = req->move_id;
	rep.n_seen = req->n_paths;
	rep.seen = ptrs;
	/* And whether its memory fits (the source judges). */
	if (req->has_memory) {
		uint64_t room;
		bool by_cgroup;

		if (memory_room(&room, &by_cgroup) == 0) {
			rep.has_memory_room = true;
			rep.memory_room = room;
			rep.has_memory_by_cgroup = true;
			rep.memory_by_cgroup = by_cgroup;
		}
	}
	msg.body_case = BPROC__MSG__BODY_PATH_CHECK_REPLY;
	msg.path_check_reply = &rep;
	if (to)
		return conn_send(to, &msg);
	slave_send_to_master(s, &msg);
	return 0;
}

int slave_moves_restore(struct slave *s, const Bproc__RestoreRequest *req, bool from_node,
			int source)
{
	return on_restore_request(s, req, from_node, source);
}

int slave_moves_handle(struct slave *s, const Msg *msg)
{
	switch (msg->body_case) {
	case BPROC__MSG__BODY_PATH_CHECK_REQUEST:
		return slave_path_check(s, NULL, msg->path_check_request);
	case BPROC__MSG__BODY_PREPARE_MOVE:
		return on_prepare_move(s, msg->prepare_move);
	case BPROC__MSG__BODY_IMAGE_CHUNK:
		return on_image_chunk(s, msg->image_chunk);
	case BPROC__MSG__BODY_RESTORE_REQUEST:
		return on_restore_request(s, msg->restore_request, false, 0);
	case BPROC__MSG__BODY_MOVE_COMMIT:
		return on_move_commit(s, msg->move_commit);
	case BPROC__MSG__BODY_HELD_COPY_VERDICT:
		return on_held_copy_verdict(s, msg->held_copy_verdict);
	case BPROC__MSG__BODY_SIGNAL_PROCESS:
		return on_signal_process(s, msg->signal_process);
	case BPROC__MSG__BODY_INPUT:
		return on_input(s, msg->input);
	case BPROC__MSG__BODY_OUTPUT_FLOW:
		return on_output_flow(s, msg->output_flow);
	case BPROC__MSG__BODY_MOVE_EXPECT:
		return slave_move_expect(s, msg);
	case BPROC__MSG__BODY_MOVE_OUT:
		return slave_move_out(s, msg->move_out);
	default:
		return -ENOTSUP;
	}
}

/*
 * A stop or continue that the keeper or the node's init waited for, with
 * its signal: told once, and a stop only while it holds (one reported
 * late, the process running again, is old news).
 */
static void tell_waited(struct slave *s, pid_t pid, pid_t host, bool *told, int *asked, int status)
{
	if (WIFSTOPPED(status)) {
		char state = proc_state(host);

		if (*told || (state != 'T' && state != 't'))
			return;
		*told = true;
	} else {
		if (!*told)
			return;
		*told = false;
	}
	send_process_status(s, pid, stop_mirror_as_asked(status, asked));
}

void slave_moves_exited(struct slave *s, pid_t nspid, int status)
{
	for (struct restored *r = s->restored; r; r = r->next) {
		if (r->pid != nspid || r->ended)
			continue;
		if (WIFSTOPPED(status) || WIFCONTINUED(status)) {
			/* Held stopped until the commit: that stop is ours.  Its
			 * report can come after the commit (a busy keeper); then
			 * the process runs again, and the master must hear of
			 * neither that stop nor the commit's continue, or its
			 * ghost could stay stopped. */
			if (r->committed)
				tell_waited(s, r->pid, r->host_pid, &r->stop_told, &r->stop_asked,
					    status);
			return;
		}
		if (r->committed && !s->registered) {
			/* No master now: its output and its end wait for one
			 * that takes it back (slave_moves_keep). */
			pr_info("process %d ended (status 0x%x), with no master to tell", r->pid, status);
			r->ended = true;
			r->end_status = status;
			return;
		}
		/* Everything it wrote is in the pipes: send it before its end,
		 * so the ghost's readers get all of it first. */
		drain_outputs(r);
		pr_info("process %d ended (status 0x%x)%s", r->pid, status,
			r->committed ? "" : ", before its commit");
		r->ended = true;
		r->end_status = status;
		if (!r->committed)
			return; /* the master made its ghost: told at the commit */
		send_process_status(s, r->pid, status);
		/* Its children may still write into the pipes: keep reading
		 * them until the last of the tree ends. */
		if (!members_alive(r))
			forget(s, r);
		return;
	}
	/* A process below a root whose parent ended: the keeper or the
	 * node's init is its parent now (waited_for()). */
	for (struct restored *r = s->restored; r; r = r->next)
		for (int i = 0; r->committed && i < r->nmembers; i++) {
			struct member *m = &r->members[i];

			if (m->pid == nspid && !m->ended && (WIFSTOPPED(status) || WIFCONTINUED(status))) {
				tell_waited(s, m->pid, m->host_pid, &m->stop_told, &m->stop_asked, status);
				return;
			}
		}
}

unsigned int slave_moves_count(struct slave *s)
{
	unsigned int n = 0;

	for (struct restored *r = s->restored; r; r = r->next) {
		if (!r->committed)
			continue;
		n += !r->ended;
		for (int i = 0; i < r->nmembers; i++)
			n += !r->members[i].ended;
	}
	return n;
}

bool slave_moves_is_ours(struct slave *s, pid_t host_pid)
{
	for (struct restored *r = s->restored; r; r = r->next) {
		if (r->host_pid == host_pid && !r->ended)
			return true;
		for (int i = 0; i < r->nmembers; i++)
			if (r->members[i].host_pid == host_pid && !r->members[i].ended)
				return true;
	}
	return false;
}

void slave_moves_rescan_children(struct slave *s, void (*fn)(struct slave *s, pid_t host, pid_t parent))
{
	for (struct restored *r = s->restored; r; r = r->next)
		for (int i = -1; i < r->nmembers; i++) {
			pid_t parent = i < 0 ? r->host_pid : r->members[i].host_pid;
			pid_t kids[FREEZER_MAX_PIDS];
			int n;

			if (i >= 0 && r->members[i].ended)
				continue;
			n = freezer_children(parent, kids, FREEZER_MAX_PIDS);
			for (int k = 0; k < n; k++)
				fn(s, kids[k], parent);
		}
}

void slave_moves_poll_members(struct slave *s)
{
	bool again = true;

	/* Reporting one can forget its tree: start over after each. */
	while (again) {
		again = false;
		for (struct restored *r = s->restored; r && !again; r = r->next)
			for (int i = 0; i < r->nmembers && !again; i++) {
				struct member *m = &r->members[i];
				int status;

				if (m->ended || m->pidfd < 0 || proc_exit_status(m->pidfd, &status) != 1)
					continue;
				close(m->pidfd);
				m->pidfd = -1;
				slave_moves_member_exited(s, m->host_pid, status);
				again = true;
			}
	}
}

int slave_moves_check_stops(struct slave *s)
{
	int n = 0;

	for (struct restored *r = s->restored; r; r = r->next) {
		/* Held stopped until the commit: that stop is ours. */
		if (!r->committed)
			continue;
		for (int i = 0; i < r->nmembers; i++) {
			struct member *m = &r->members[i];
			int status;

			if (m->ended)
				continue;
			n++;
			/* No master to tell: what it would be told waits.  Those
			 * of a process whose parent ended come from its new
			 * parent's wait (waited_for()). */
			if (!s->registered || waited_for(r, m->host_pid))
				continue;
			status = stop_mirror_look(m->host_pid, &m->stop_told);
			if (status == 0)
				continue;
			pr_debug("process %d (of the tree of %d) %s", m->pid, r->pid,
				 WIFSTOPPED(status) ? "stopped" : "continued");
			send_process_status(s, m->pid, stop_mirror_as_asked(status, &m->stop_asked));
		}
	}
	return n;
}

/*
 * A process of a moved tree other than its root ended (the connector told
 * slave_procs.c; the node's init only reaps orphans, and its real parent
 * reaps this one): its ghost ends the same way.
 */
void slave_moves_member_exited(struct slave *s, pid_t host_pid, int status)
{
	for (struct restored *r = s->restored; r; r = r->next)
		for (int i = 0; i < r->nmembers; i++) {
			struct member *m = &r->members[i];

			if (m->host_pid != host_pid || m->ended)
				continue;
			/* What it wrote goes out under its name before its end. */
			drain_outputs(r);
			m->ended = true;
			pr_info("process %d (of the tree of %d) ended (status 0x%x)", m->pid, r->pid,
				status);
			if (!r->committed)
				return;
			send_process_status(s, m->pid, status);
			if (r->ended && !members_alive(r)) {
				drain_outputs(r);
				forget(s, r);
			}
			return;
		}
}

struct restored *slave_restored_find(struct slave *s, pid_t nspid)
{
	for (struct restored *r = s->restored; r; r = r->next)
		if (r->pid == nspid && r->committed && !r->ended)
			return r;
	return NULL;
}

pid_t slave_restored_host_pid(const struct restored *r)
{
	return r->host_pid;
}

void slave_restored_flush(struct restored *r)
{
	drain_outputs(r);
}

int slave_restored_tty_fd(const struct restored *r)
{
	return r->tty ? r->tty_stream : MOVE_NO_TTY;
}

int slave_restored_take_tty_input(struct restored *r, uint8_t **buf, size_t *len)
{
	int ret;

	if (!r->tty || r->in.fd < 0)
		return 0;
	ret = pty_take_unread(r->in.fd, buf, len);
	if (ret == 0)
		ret = output_queue_take(&r->in, buf, len);
	return ret;
}

void slave_restored_give_tty_input(struct restored *r, const uint8_t *buf, size_t len)
{
	if (len > 0 && output_queue_push(&r->in, buf, len) < 0)
		pr_warn("process %d: terminal input dropped", r->pid);
}

bool slave_restored_forwards(const struct restored *r, const char *key)
{
	for (int i = -1; i < r->nout; i++) {
		int fd = i < 0 ? r->in.fd : r->out[i]->fd;
		char mine[64];
		struct stat st;

		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode))
			continue;
		snprintf(mine, sizeof(mine), "pipe:[%lu]", (unsigned long)st.st_ino);
		if (strcmp(mine, key) == 0)
			return true;
	}
	return false;
}

void slave_restored_forget(struct slave *s, struct restored *r)
{
	slave_restored_flush(r);
	forget(s, r);
}

/*
 * Image directories no move of ours uses any more: those of moves that
 * will not come (the master link broke mid-move) or of a slave that died
 * (at start, with outgoing too: all).  A lazy move's stays while its
 * pages are served.
 */
static void remove_stale_images(bool outgoing_too)
{
	DIR *d = opendir(IMAGES_DIR);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		unsigned long long id;
		char dir[PATH_MAX];
		bool serving = false;

		if (sscanf(e->d_name, "move-%llu", &id) == 1) {
			for (struct lazy_daemon *l = lazy_daemons; l; l = l->next)
				serving |= l->move_id == id;
		} else if (!outgoing_too || strncmp(e->d_name, "out-", 4) != 0) {
			continue;
		}
		if (serving)
			continue;
		snprintf(dir, sizeof(dir), IMAGES_DIR "/%s", e->d_name);
		move_remove_dir(dir);
	}
	if (d)
		closedir(d);
}

void slave_moves_master_lost(struct slave *s)
{
	/* What was prepared for a move will not be used. */
	while (prepared_moves)
		prepared_free(prepared_moves);
	for (struct restored *r = s->restored, *next; r; r = next) {
		next = r->next;
		if (r->committed || r->held)
			continue;
		/* Its source may have committed already (killed its original),
		 * or the master died turning its original into the ghost:
		 * killing this would lose the process.  The next master
		 * decides (Hello.held, master_held.c); it drops the copy of an
		 * original it thawed.  So for a copy that waits for its own
		 * move (a launch's, a bproc_move()'s): if it runs, run_copy()
		 * writes "moved" into its wake pipe as at a commit; if not,
		 * the new master wrote the failure into its original's. */
		r->held = true;
		if (r->from_node)
			pr_warn("move %llu: the master link dropped before the commit; the copy of %d from node %d is held frozen for the master to decide",
				(unsigned long long)r->move_id, r->pid, r->source);
		else
			pr_warn("move %llu: the master link dropped before the commit; the copy of %d from the master is held frozen for the master to decide",
				(unsigned long long)r->move_id, r->pid);
	}
	/* The others run on; what they write waits in their pipes (they
	 * block when those are full) for a master that takes them back. */
	for (struct restored *r = s->restored; r; r = r->next)
		for (int i = 0; i < r->nout; i++)
			loop_remove(s->loop, r->out[i]->fd);
	remove_stale_images(false);
}

int slave_moves_held(struct slave *s, Bproc__HeldCopy ***held, size_t *n)
{
	size_t k = 0;

	*n = 0;
	*held = NULL;
	for (struct restored *r = s->restored; r; r = r->next)
		k += r->held;
	if (k == 0)
		return 0;
	*held = calloc(k, sizeof(**held));
	if (!*held)
		return -ENOMEM;
	for (struct restored *r = s->restored; r; r = r->next) {
		Bproc__HeldCopy *h;

		if (!r->held)
			continue;
		h = calloc(1, sizeof(*h));
		if (!h)
			break;
		bproc__held_copy__init(h);
		h->pid = r->pid;
		h->source = r->source;
		h->tree = r->nmembers ? calloc((size_t)r->nmembers, sizeof(*h->tree)) : NULL;
		for (int i = 0; h->tree && i < r->nmembers; i++)
			h->tree[h->n_tree++] = r->members[i].pid;
		(*held)[(*n)++] = h;
	}
	return 0;
}

void slave_moves_held_free(Bproc__HeldCopy **held, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(held[i]->tree);
		free(held[i]);
	}
	free(held);
}

int slave_moves_running(struct slave *s, int32_t **pids, size_t *n)
{
	size_t k = 0;

	*n = 0;
	*pids = NULL;
	for (struct restored *r = s->restored; r; r = r->next)
		k += 1 + (size_t)r->nmembers;
	if (k == 0)
		return 0;
	*pids = calloc(k, sizeof(**pids));
	if (!*pids)
		return -ENOMEM;
	/* The root, then the rest of its tree: each has its ghost.  Not a
	 * held copy: it does not run (slave_moves_held). */
	for (struct restored *r = s->restored; r; r = r->next) {
		if (r->held)
			continue;
		(*pids)[(*n)++] = r->pid;
		for (int i = 0; i < r->nmembers; i++)
			if (!r->members[i].ended)
				(*pids)[(*n)++] = r->members[i].pid;
	}
	return 0;
}

void slave_moves_keep(struct slave *s, const int32_t *keep, size_t nkeep)
{
	int n = 0;

	for (struct restored *r = s->restored, *next; r; r = next) {
		bool kept = false;

		next = r->next;
		/* Its fate comes apart (HeldCopyVerdict). */
		if (r->held)
			continue;
		for (size_t i = 0; i < nkeep && !kept; i++)
			kept = keep[i] == r->pid;
		if (!kept) {
			n += kill_copy(s, r);
			continue;
		}
		/* Its ghost is held again: its output flows (what waited in its
		 * pipes first), its end is told. */
		unpause_outputs(r);
		if (r->ended) {
			drain_outputs(r);
			send_process_status(s, r->pid, r->end_status);
			if (!members_alive(r))
				forget(s, r);
		}
	}
	if (n)
		pr_warn("the master ended their ghosts: %d stale process%s killed", n,
			n == 1 ? "" : "es");
	if (nkeep)
		pr_info("the master took back %zu process%s running here", nkeep,
			nkeep == 1 ? "" : "es");
}

void slave_kill_stale(struct slave *s)
{
	int n = 0;

	for (struct restored *r = s->restored, *next; r; r = next) {
		next = r->next;
		/* Its fate comes apart (HeldCopyVerdict). */
		if (!r->held)
			n += kill_copy(s, r);
	}
	n += slave_procs_kill_all(s);
	if (n)
		pr_warn("the master took node %d for down and ended their ghosts: %d stale process%s killed",
			s->node, n, n == 1 ? "" : "es");
}

void slave_moves_clean_cages(struct slave *s)
{
	char prefix[32];
	int n;

	snprintf(prefix, sizeof(prefix), "node%d-restore-", s->node);
	n = memory_cage_remove_leftovers(prefix);
	if (n > 0)
		pr_info("removed %d empty memory cgroup%s of a slave before us", n, n == 1 ? "" : "s");
}

int slave_moves_init(struct slave *s)
{
	(void)s;
	if (mkdir(IMAGES_DIR, 0700) < 0 && errno != EEXIST)
		return -errno;
	/* A slave before us (killed mid-move) may have left some. */
	remove_stale_images(true);
	return 0;
}

void slave_moves_child_exited(struct slave *s, pid_t pid, int status)
{
	for (struct prepared *p = prepared_moves; p; p = p->next)
		if (p->ps_pid == pid) {
			p->ps_done = true;
			p->ps_status = status;
			return;
		}
	for (struct lazy_daemon **pd = &lazy_daemons; *pd; pd = &(*pd)->next) {
		struct lazy_daemon *d = *pd;

		if (d->pid != pid)
			continue;
		*pd = d->next;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			/* Their memory cannot be completed: the whole tree
			 * restored from that stream must not run on. */
			for (struct restored *r = s->restored; r; r = r->next)
				if (r->move_id == d->move_id) {
					pr_err("move %llu: the page stream of process %d (%d in its tree) broke (criu lazy-pages, status 0x%x); killing it",
					       (unsigned long long)d->move_id, r->pid, 1 + r->nmembers,
					       status);
					signal_tree(r, SIGKILL);
					kill_born_of(r);
				}
		} else {
			pr_info("move %llu: every page is in", (unsigned long long)d->move_id);
		}
		remove_images(d->move_id);
		free(d);
		return;
	}
}

void slave_moves_shutdown(struct slave *s)
{
	while (s->restored)
		forget(s, s->restored);
	while (prepared_moves)
		prepared_free(prepared_moves);
	while (lazy_daemons) {
		struct lazy_daemon *d = lazy_daemons;

		lazy_daemons = d->next;
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
		free(d);
	}
}
