/*
 * bpcp - copy files between the master and the nodes of a bproc cluster.
 *
 *   bpcp [-r] [-p] SOURCE... DEST        each one PATH or NODE:PATH
 *
 * A PATH without a node is on the machine bpcp runs on (the master, or the
 * node it was started on); NODE is a node number, or "master" (or -1) for
 * the front end.  bpcp sends or receives the files of its own machine
 * itself; those of other machines are read and written by their daemons'
 * workers with the user's identity, and between two other machines the
 * bytes go straight from one to the other (docs/bpcp.md).  Consecutive
 * sources on the same machine are one transfer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bproc.h"
#include "file_stream.h"
#include "frame.h"
#include "util.h"
#include "version.h"

struct place {
	const char *arg; /* as given */
	int node;
	bool local;      /* on the machine bpcp runs on */
	char *path;      /* local: as given; remote: absolute */
};

struct progress {
	long long start_ms, next_ms;
	bool shown;
};

static bool recursive, preserve;
static int here = BPROC_NODE_MASTER; /* the machine bpcp runs on */
static bool have_daemon;
static int failures;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: bpcp [-r] [-p] SOURCE... DEST\n"
		"Copy files between the master and the nodes.  Each path is PATH on this\n"
		"machine, or NODE:PATH on node NODE (master: or -1: for the front end).\n"
		"  -r, -R  copy directories recursively\n"
		"  -p      keep mode, times, and (as root) owners\n"
		"  -h      this help;  -V  version\n");
}

static void print_result(const struct file_result *res)
{
	for (size_t i = 0; i < res->nerrors; i++)
		fprintf(stderr, "bpcp: %s\n", res->errors[i]);
	if (res->dropped)
		fprintf(stderr, "bpcp: ... and %llu more errors\n", (unsigned long long)res->dropped);
	if (res->nerrors || res->dropped)
		failures++;
}

/* ---- progress, on a terminal only ---- */

static void human(uint64_t n, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	size_t u = 0;

	while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static int show_progress(void *arg, const char *path, uint64_t done, uint64_t size, uint64_t total)
{
	struct progress *pg = arg;
	long long now = now_ms();
	char d[32], s[32], rate[32];
	size_t len = strlen(path);

	/* Small copies show nothing; large ones an update four times a second. */
	if (now - pg->start_ms < 1000 || now < pg->next_ms)
		return 0;
	pg->next_ms = now + 250;
	human(done, d, sizeof(d));
	human(size, s, sizeof(s));
	human((uint64_t)((double)total * 1000 / (double)(now - pg->start_ms)), rate, sizeof(rate));
	fprintf(stderr, "\r\033[K%s%s  %s / %s  %s/s", len > 40 ? "..." : "",
		len > 40 ? path + len - 37 : path, d, s, rate);
	pg->shown = true;
	return 0;
}

static void progress_done(struct progress *pg)
{
	if (pg->shown)
		fprintf(stderr, "\r\033[K");
	pg->shown = false;
}

/* ---- places ---- */

static int parse_place(const char *arg, struct place *p)
{
	const char *colon = strchr(arg, ':'), *slash = strchr(arg, '/');
	char prefix[32], cwd[PATH_MAX];
	const char *path = arg;
	long node;

	p->arg = arg;
	p->node = here;
	p->local = true;
	/* NODE:PATH when what comes before the first colon is a node name;
	 * anything else ("a:b", "./x:y") is a local file name. */
	if (colon && (!slash || colon < slash) && (size_t)(colon - arg) < sizeof(prefix)) {
		snprintf(prefix, sizeof(prefix), "%.*s", (int)(colon - arg), arg);
		if (strcmp(prefix, "master") == 0) {
			p->node = BPROC_NODE_MASTER;
			path = colon + 1;
		} else if (parse_long(prefix, -1, INT_MAX, &node) == 0) {
			p->node = (int)node;
			path = colon + 1;
		}
		if (path != arg) {
			if (!*path) {
				fprintf(stderr, "bpcp: '%s': no path after the node\n", arg);
				return -EINVAL;
			}
			p->local = p->node == here;
		}
	}
	if (p->local || path[0] == '/') {
		p->path = strdup(path);
	} else {
		/* A node has no working directory of ours: the path is relative
		 * to the same directory there, as bpsh runs commands. */
		if (!getcwd(cwd, sizeof(cwd))) {
			fprintf(stderr, "bpcp: '%s': cannot tell the working directory: %s\n", arg,
				strerror(errno));
			return -errno;
		}
		if (asprintf(&p->path, "%s/%s", strcmp(cwd, "/") ? cwd : "", path) < 0)
			p->path = NULL;
	}
	if (!p->path)
		return -ENOMEM;
	if (!p->local && !have_daemon) {
		fprintf(stderr, "bpcp: %s: no bproc daemon to reach node %d through\n", arg, p->node);
		return -BE_NOMASTER;
	}
	return 0;
}

static void shown_prefix(int node, char *buf, size_t len)
{
	if (node == BPROC_NODE_MASTER)
		snprintf(buf, len, "master:");
	else
		snprintf(buf, len, "%d:", node);
}

/* ---- talking to the daemon and to workers ---- */

static int connect_daemon(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = getenv(BPROC_SOCKET_ENV);
	int fd;

	if (!path || !*path)
		path = BPROC_SOCKET;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -BE_NOMASTER;
	}
	return fd;
}

/*
 * Ask for a worker on node; *reply holds its FileTransferReply.  On
 * failure err says why, in the daemon's words if it gave any.
 */
static int ask_worker(Bproc__FileTransferRequest *req, Msg **reply, char *err, size_t errlen)
{
	_cleanup_close_ int fd = connect_daemon();
	Msg msg = BPROC__MSG__INIT;
	int r;

	if (fd < 0) {
		snprintf(err, errlen, "%s", bproc_strerror(-fd));
		return fd;
	}
	msg.has_id = true;
	msg.id = 1;
	msg.body_case = BPROC__MSG__BODY_FILE_TRANSFER_REQUEST;
	msg.file_transfer_request = req;
	r = frame_send(fd, &msg);
	if (r == 0)
		r = frame_recv(fd, reply);
	if (r < 0) {
		snprintf(err, errlen, "%s", r == -EPIPE ? bproc_strerror(BE_NOMASTER) : strerror(-r));
		return r;
	}
	if ((*reply)->body_case == BPROC__MSG__BODY_REPLY) {
		Bproc__Reply *rep = (*reply)->reply;

		r = rep->status < 0 ? rep->status : -EPROTO;
		snprintf(err, errlen, "%s", rep->message ? rep->message : bproc_strerror(-r));
		msg_free(*reply);
		*reply = NULL;
		return r;
	}
	if ((*reply)->body_case != BPROC__MSG__BODY_FILE_TRANSFER_REPLY ||
	    (*reply)->file_transfer_reply->endpoint->token.len != FILE_TOKEN_SIZE ||
	    !(*reply)->file_transfer_reply->endpoint->addr) {
		snprintf(err, errlen, "the daemon's answer is not a file transfer endpoint");
		msg_free(*reply);
		*reply = NULL;
		return -EPROTO;
	}
	return 0;
}

static int connect_worker(const Bproc__FileEndpoint *ep)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)ep->port) };
	struct timeval tv = { .tv_sec = 120 };
	int fd, r;

	if (inet_pton(AF_INET, ep->addr, &sa.sin_addr) != 1)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	r = file_hello_send(fd, ep->token.data);
	/* The cluster encrypts: the rest goes sealed. */
	if (r == 0 && ep->has_key)
		r = ep->key.len == FILE_KEY_SIZE ? file_seal(&fd, ep->key.data, true) : -EPROTO;
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

static void init_request(Bproc__FileTransferRequest *req, int node, Bproc__FileRole role,
			 char **paths, size_t npaths, bool into_dir)
{
	mode_t mask = umask(0);

	umask(mask);
	req->node = node;
	req->role = role;
	req->paths = paths;
	req->n_paths = npaths;
	req->has_recursive = req->has_preserve = true;
	req->recursive = recursive;
	req->preserve = preserve;
	req->has_umask = true;
	req->umask = mask & 0777;
	req->has_into_directory = true;
	req->into_directory = into_dir;
}

/* ---- one transfer: sources all on one machine ---- */

struct transfer {
	struct place *src;  /* n sources on one machine */
	size_t n;
	struct place *dst;
	bool into_dir;
	struct file_opts o;
	struct file_result res;
	struct progress pg;
};

static void fail_sources(struct transfer *t, const char *why)
{
	char pre[32];

	shown_prefix(t->src[0].node, pre, sizeof(pre));
	for (size_t i = 0; i < t->n; i++)
		file_result_add(&t->res, "%s%s: %s", pre, t->src[i].path, why);
}

static void fail_dest(struct transfer *t, const char *why)
{
	char pre[32];

	shown_prefix(t->dst->node, pre, sizeof(pre));
	file_result_add(&t->res, "%s%s: %s", pre, t->dst->path, why);
	t->res.refused = true;
}

static void broke_off(struct transfer *t, int r)
{
	file_result_add(&t->res, "the transfer broke off: %s", strerror(-r));
}

static void local_to_local(struct transfer *t, char **paths)
{
	int sv[2], status, r;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		broke_off(t, -errno);
		return;
	}
	pid = fork();
	if (pid == 0) {
		struct file_result res = { 0 };
		struct file_opts o = t->o;

		close(sv[1]);
		o.progress = NULL;
		_exit(file_send(sv[0], paths, t->n, &o, &res) < 0 ? 1 : 0);
	}
	close(sv[0]);
	if (pid < 0) {
		broke_off(t, -errno);
		close(sv[1]);
		return;
	}
	r = file_receive(sv[1], t->dst->path, &t->o, &t->res);
	close(sv[1]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (r < 0)
		broke_off(t, r);
}

static void local_to_remote(struct transfer *t, char **paths)
{
	Bproc__FileTransferRequest req = BPROC__FILE_TRANSFER_REQUEST__INIT;
	_cleanup_msg_ Msg *reply = NULL;
	char err[512];
	int fd, r;

	init_request(&req, t->dst->node, BPROC__FILE_ROLE__FILE_RECEIVE, &t->dst->path, 1,
		     t->into_dir);
	if (ask_worker(&req, &reply, err, sizeof(err)) < 0) {
		fail_dest(t, err);
		return;
	}
	fd = connect_worker(reply->file_transfer_reply->endpoint);
	if (fd < 0) {
		snprintf(err, sizeof(err), "cannot reach its daemon's worker: %s", strerror(-fd));
		fail_dest(t, err);
		return;
	}
	r = file_send(fd, paths, t->n, &t->o, &t->res);
	close(fd);
	if (r < 0)
		broke_off(t, r);
}

static void remote_to_local(struct transfer *t, char **paths)
{
	Bproc__FileTransferRequest req = BPROC__FILE_TRANSFER_REQUEST__INIT;
	_cleanup_msg_ Msg *reply = NULL;
	char err[512];
	int fd, r;

	init_request(&req, t->src[0].node, BPROC__FILE_ROLE__FILE_SEND, paths, t->n, false);
	if (ask_worker(&req, &reply, err, sizeof(err)) < 0) {
		fail_sources(t, err);
		return;
	}
	fd = connect_worker(reply->file_transfer_reply->endpoint);
	if (fd < 0) {
		snprintf(err, sizeof(err), "cannot reach its daemon's worker: %s", strerror(-fd));
		fail_sources(t, err);
		return;
	}
	r = file_receive(fd, t->dst->path, &t->o, &t->res);
	close(fd);
	if (r < 0)
		broke_off(t, r);
}

/* The source's worker sends to the destination's; we hear how it goes. */
static void remote_to_remote(struct transfer *t, char **paths)
{
	Bproc__FileTransferRequest recv_req = BPROC__FILE_TRANSFER_REQUEST__INIT;
	Bproc__FileTransferRequest send_req = BPROC__FILE_TRANSFER_REQUEST__INIT;
	_cleanup_msg_ Msg *recv_reply = NULL;
	_cleanup_msg_ Msg *send_reply = NULL;
	char err[512];
	int fd;

	init_request(&recv_req, t->dst->node, BPROC__FILE_ROLE__FILE_RECEIVE, &t->dst->path, 1,
		     t->into_dir);
	if (ask_worker(&recv_req, &recv_reply, err, sizeof(err)) < 0) {
		fail_dest(t, err);
		return;
	}
	init_request(&send_req, t->src[0].node, BPROC__FILE_ROLE__FILE_SEND, paths, t->n, false);
	send_req.peer = recv_reply->file_transfer_reply->endpoint;
	if (ask_worker(&send_req, &send_reply, err, sizeof(err)) < 0) {
		fail_sources(t, err);
		/* Let the receiver go now rather than at its timeout. */
		fd = connect_worker(recv_reply->file_transfer_reply->endpoint);
		if (fd >= 0)
			close(fd);
		return;
	}
	fd = connect_worker(send_reply->file_transfer_reply->endpoint);
	if (fd < 0) {
		snprintf(err, sizeof(err), "cannot reach its daemon's worker: %s", strerror(-fd));
		fail_sources(t, err);
		return;
	}
	for (;;) {
		Msg *msg = NULL;
		int r = frame_recv(fd, &msg);

		if (r < 0) {
			broke_off(t, r);
			break;
		}
		if (msg->body_case == BPROC__MSG__BODY_FILE_PROGRESS) {
			const Bproc__FileProgress *fp = msg->file_progress;

			if (t->o.progress)
				show_progress(&t->pg, fp->path, fp->done, fp->size, fp->total);
			msg_free(msg);
			continue;
		}
		if (msg->body_case == BPROC__MSG__BODY_FILE_RESULT)
			file_result_merge(&t->res, msg->file_result);
		else
			broke_off(t, -EPROTO);
		msg_free(msg);
		break;
	}
	close(fd);
}

/* Returns false when the destination took nothing: no point going on. */
static bool run_transfer(struct transfer *t)
{
	char *paths[FILE_MAX_PATHS];
	char pre[32] = "";

	for (size_t i = 0; i < t->n; i++)
		paths[i] = t->src[i].path;
	t->pg.start_ms = now_ms();
	t->o.recursive = recursive;
	t->o.preserve = preserve;
	t->o.into_directory = t->into_dir;
	t->o.prefix = pre;
	if (isatty(STDERR_FILENO)) {
		t->o.progress = show_progress;
		t->o.progress_arg = &t->pg;
	}
	if (t->src[0].local && t->dst->local) {
		local_to_local(t, paths);
	} else if (t->src[0].local) {
		local_to_remote(t, paths);
	} else if (t->dst->local) {
		remote_to_local(t, paths);
	} else {
		remote_to_remote(t, paths);
	}
	progress_done(&t->pg);
	print_result(&t->res);
	return !t->res.refused;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "recursive", no_argument, NULL, 'r' },
		{ "preserve", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct place *places;
	size_t nsrc;
	int opt, node;

	while ((opt = getopt_long(argc, argv, "rRphV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r':
		case 'R':
			recursive = true;
			break;
		case 'p':
			preserve = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("bpcp %s\n", BPROC_VERSION);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (argc - optind < 2) {
		fprintf(stderr, "bpcp: %s\n", argc == optind ? "missing file operand" :
			"missing destination file operand");
		usage(stderr);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	/* Which machine is "here"; without a daemon only local copies work. */
	node = bproc_currnode();
	if (node != BPROC_NODE_NONE) {
		here = node;
		have_daemon = true;
	}
	nsrc = (size_t)(argc - optind - 1);
	places = calloc(nsrc + 1, sizeof(*places));
	if (!places)
		return 1;
	for (size_t i = 0; i <= nsrc; i++)
		if (parse_place(argv[optind + i], &places[i]) < 0) {
			failures = -1;
			goto out;
		}

	/* Consecutive sources on one machine go in one transfer. */
	for (size_t i = 0; i < nsrc;) {
		struct transfer t = { .src = &places[i], .dst = &places[nsrc], .into_dir = nsrc > 1 };
		bool go_on;

		while (i + t.n < nsrc && t.n < FILE_MAX_PATHS && places[i + t.n].local == places[i].local &&
		       places[i + t.n].node == places[i].node)
			t.n++;
		i += t.n;
		go_on = run_transfer(&t);
		file_result_free(&t.res);
		if (!go_on)
			break;
	}
out:
	for (size_t i = 0; i <= nsrc; i++)
		free(places[i].path);
	free(places);
	return failures ? 1 : 0;
}
