/*
 * file_service.c - see file_service.h.
 *
 * The worker is a fork of the daemon, so it first gives up everything the
 * daemon has that the user must not: every descriptor but its listener,
 * the right to be ptraced or dumped (its memory is a copy of the
 * daemon's), and root itself.  Only then does it tell the daemon it is
 * ready, and the daemon answers the asker.
 */
#include "file_service.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "bproc.h"
#include "file_stream.h"
#include "log.h"
#include "util.h"

void file_node_prefix(int node, char *buf, size_t len)
{
	if (node == BPROC_NODE_MASTER)
		snprintf(buf, len, "master:");
	else
		snprintf(buf, len, "%d:", node);
}

int file_asker_from_socket(int fd, struct file_asker *who)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return -errno;
	who->uid = uc.uid;
	who->gid = uc.gid;
	len = sizeof(who->groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, who->groups, &len) < 0)
		return errno == ERANGE ? -E2BIG : -errno;
	who->ngroups = len / sizeof(gid_t);
	return 0;
}

int file_asker_from_creds(const Bproc__Credentials *creds, struct file_asker *who)
{
	if (!creds)
		return -EPROTO;
	if (creds->n_groups > FILE_MAX_GROUPS)
		return -E2BIG;
	who->uid = creds->uid;
	who->gid = creds->gid;
	who->ngroups = creds->n_groups;
	for (size_t i = 0; i < creds->n_groups; i++)
		who->groups[i] = creds->groups[i];
	return 0;
}

void file_asker_to_creds(const struct file_asker *who, Bproc__Credentials *creds,
			 uint32_t *groups)
{
	creds->uid = who->uid;
	creds->gid = who->gid;
	for (size_t i = 0; i < who->ngroups; i++)
		groups[i] = who->groups[i];
	creds->n_groups = who->ngroups;
	creds->groups = groups;
}

/* ---- the worker ---- */

struct progress_state {
	int fd;
	long long next_ms;
};

/*
 * A relaying sender tells the asker how far it is, twice a second; an
 * asker that has gone (bpcp interrupted) stops the copy.
 */
static int report_progress(void *arg, const char *path, uint64_t done, uint64_t size,
			   uint64_t total)
{
	struct progress_state *ps = arg;
	Bproc__FileProgress fp = BPROC__FILE_PROGRESS__INIT;
	Msg msg = BPROC__MSG__INIT;
	long long now = now_ms();

	if (now < ps->next_ms && done < size)
		return 0;
	ps->next_ms = now + 500;
	fp.path = (char *)path;
	fp.done = done;
	fp.size = size;
	fp.total = total;
	msg.body_case = BPROC__MSG__BODY_FILE_PROGRESS;
	msg.file_progress = &fp;
	return frame_send(ps->fd, &msg);
}

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = FILE_IO_TIMEOUT_S };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	tcp_nodelay(fd);
}

/* The one connection that shows our token, or -1. */
static int accept_asker(int lfd, const uint8_t token[FILE_TOKEN_SIZE])
{
	long long deadline = now_ms() + FILE_ACCEPT_TIMEOUT_S * 1000LL;

	for (;;) {
		struct pollfd pfd = { .fd = lfd, .events = POLLIN };
		long long left = deadline - now_ms();
		int fd;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return -1;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		set_timeouts(fd);
		if (file_hello_check(fd, token) == 0)
			return fd;
		close(fd);
	}
}

/* From here on the connection is sealed (its plain end in *fd), if key. */
static int seal_connection(int *fd, const uint8_t *key, bool connector)
{
	int r;

	if (!key)
		return 0;
	r = file_seal(fd, key, connector);
	if (r == 0)
		set_timeouts(*fd);
	return r;
}

static int connect_peer(const Bproc__FileEndpoint *peer)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)peer->port) };
	int fd;

	if (inet_pton(AF_INET, peer->addr, &sa.sin_addr) != 1)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	set_timeouts(fd);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/* Send to the peer receiver; the asker hears progress and the result. */
static void relay_send(int control, const Bproc__FileTransferRequest *req, struct file_opts *o)
{
	struct file_result res = { 0 };
	struct progress_state ps = { .fd = control };
	int peer, r;

	peer = connect_peer(req->peer);
	if (peer < 0) {
		file_result_add(&res, "%scannot reach the receiver at %s:%u: %s", o->prefix,
				req->peer->addr, req->peer->port, strerror(-peer));
	} else {
		o->progress = report_progress;
		o->progress_arg = &ps;
		r = file_hello_send(peer, req->peer->token.data);
		if (r == 0)
			r = seal_connection(&peer, req->peer->has_key ? req->peer->key.data : NULL,
					    true);
		if (r == 0)
			r = file_send(peer, req->paths, req->n_paths, o, &res);
		if (r < 0)
			file_result_add(&res, "%s: the transfer to %s broke off: %s", o->prefix,
					req->peer->addr, strerror(-r));
		close(peer);
	}
	file_result_send(control, &res);
	file_result_free(&res);
}

static int become(const struct file_asker *who)
{
	if (setgroups(who->ngroups, who->groups) < 0 || setresgid(who->gid, who->gid, who->gid) < 0 ||
	    setresuid(who->uid, who->uid, who->uid) < 0)
		return -errno;
	return 0;
}

static _Noreturn void worker(int lfd, int ready, const Bproc__FileTransferRequest *req,
			     const struct file_asker *who, const uint8_t token[FILE_TOKEN_SIZE],
			     const uint8_t *key, int node)
{
	struct file_opts o = { 0 };
	struct file_result res = { 0 };
	char prefix[32];
	sigset_t none;
	pid_t parent = getppid();
	int fd, r;

	/* Keep the listener (3) and the readiness pipe (4), nothing else. */
	lfd = fcntl(lfd, F_DUPFD_CLOEXEC, 100);
	ready = fcntl(ready, F_DUPFD_CLOEXEC, 100);
	if (lfd < 0 || ready < 0 || dup2(lfd, 3) < 0 || dup2(ready, 4) < 0)
		_exit(1);
	lfd = 3;
	ready = 4;
	close_range(5, ~0U, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	prctl(PR_SET_DUMPABLE, 0);
	r = become(who);
	/* After the change of identity, which clears it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	if (write(ready, &r, sizeof(r)) != sizeof(r) || r < 0)
		_exit(1);
	close(ready);

	umask(req->has_umask ? req->umask : 022);
	file_node_prefix(node, prefix, sizeof(prefix));
	o.prefix = prefix;
	o.recursive = req->recursive;
	o.preserve = req->preserve;
	o.into_directory = req->into_directory;
	fd = accept_asker(lfd, token);
	close(lfd);
	if (fd < 0)
		_exit(2);
	if (seal_connection(&fd, key, false) < 0)
		_exit(2);
	if (req->role == BPROC__FILE_ROLE__FILE_RECEIVE)
		r = file_receive(fd, req->paths[0], &o, &res);
	else if (req->peer)
		relay_send(fd, req, &o);
	else
		r = file_send(fd, req->paths, req->n_paths, &o, &res);
	file_result_free(&res);
	close(fd);
	_exit(r < 0 ? 3 : 0);
}

/* Listen, fork the worker, wait until it is the asker. */
static int start_worker(const Bproc__FileTransferRequest *req, const struct file_asker *who,
			int node, uint16_t *port, uint8_t token[FILE_TOKEN_SIZE], const uint8_t *key)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
	socklen_t len = sizeof(sa);
	_cleanup_close_ int lfd = -1;
	int pipefd[2], status = 0;
	pid_t pid;

	if (getrandom(token, FILE_TOKEN_SIZE, 0) != FILE_TOKEN_SIZE)
		return -EIO;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) < 0)
		return -errno;
	*port = ntohs(sa.sin_port);
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		status = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return status;
	}
	if (pid == 0)
		worker(lfd, pipefd[1], req, who, token, key, node);
	/* The daemon reaps it with its other children (waitpid(-1)). */
	close(pipefd[1]);
	if (read_full(pipefd[0], &status, sizeof(status)) < 0)
		status = -ECHILD;
	close(pipefd[0]);
	return status;
}

int file_service_answer(struct conn *conn, const Msg *msg, const struct file_asker *who,
			int node, const char *addr, bool seal)
{
	const Bproc__FileTransferRequest *req = msg->file_transfer_request;
	Bproc__FileTransferReply rep = BPROC__FILE_TRANSFER_REPLY__INIT;
	Bproc__FileEndpoint ep = BPROC__FILE_ENDPOINT__INIT;
	Msg out = BPROC__MSG__INIT;
	uint8_t token[FILE_TOKEN_SIZE], key[FILE_KEY_SIZE];
	uint16_t port = 0;
	char err[256];
	int r;

	r = file_check_request(req, err, sizeof(err));
	if (r < 0)
		return conn_reply(conn, msg->id, r, "%s", err);
	if (seal)
		randombytes_buf(key, sizeof(key));
	r = start_worker(req, who, node, &port, token, seal ? key : NULL);
	if (r < 0) {
		pr_warn("%s: cannot start a file transfer for uid %u: %s", conn->name,
			(unsigned)who->uid, strerror(-r));
		return conn_reply(conn, msg->id, r, "cannot start the transfer: %s", strerror(-r));
	}
	pr_debug("%s: file %s for uid %u on port %u", conn->name,
		 req->role == BPROC__FILE_ROLE__FILE_SEND ? "send" : "receive", (unsigned)who->uid,
		 port);
	ep.addr = (char *)addr;
	ep.port = port;
	ep.token.data = token;
	ep.token.len = sizeof(token);
	ep.has_key = seal;
	ep.key.data = key;
	ep.key.len = sizeof(key);
	rep.endpoint = &ep;
	out.has_id = true;
	out.id = msg->id;
	out.body_case = BPROC__MSG__BODY_FILE_TRANSFER_REPLY;
	out.file_transfer_reply = &rep;
	r = conn_send(conn, &out);
	sodium_memzero(key, sizeof(key));
	return r;
}
