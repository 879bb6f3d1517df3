/*
 * slave_move_out.c - a process of this node leaves for another node,
 * straight from slave to slave: the image never passes through the master.
 *
 * The master says MoveOut (where to, with a token the target expects).
 * Here: freeze the process (cgroup v2 freezer, by its host pid), send the
 * master everything it wrote so far, dump it with CRIU inside the node's
 * pid namespace, connect to the target's move port, say MoveHello and send
 * the image and the RestoreRequest; then MoveOutResult to the master.  The
 * original stays frozen until the master's MoveCommit: commit kills it and
 * forgets it (its end is not an end: the process lives on elsewhere),
 * abort thaws it and it runs on as if nothing happened.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bproc.h"
#include "criu_run.h"
#include "freezer.h"
#include "log.h"
#include "move_source.h"
#include "page_seal.h"
#include "page_server.h"
#include "slave.h"
#include "util.h"

#define OUT_DIR "/run/bproc/images"
#define CONNECT_TIMEOUT_MS 3000

struct move_out {
	uint64_t id;
	pid_t pid;       /* in the node */
	pid_t host_pid;
	struct freezer freezer;
	struct conn *peer; /* to the target slave */
	struct move_out *next;
};

static void __attribute__((format(printf, 4, 5)))
report(struct slave *s, uint64_t id, int status, const char *fmt, ...)
{
	Bproc__MoveOutResult res = BPROC__MOVE_OUT_RESULT__INIT;
	Msg msg = BPROC__MSG__INIT;
	char text[600] = "";

	if (fmt) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(text, sizeof(text), fmt, ap);
		va_end(ap);
		res.message = text;
	}
	res.move_id = id;
	res.status = status;
	msg.body_case = BPROC__MSG__BODY_MOVE_OUT_RESULT;
	msg.move_out_result = &res;
	slave_send_to_master(s, &msg);
}

/* The target only ever closes the link; nothing to read from it. */
static int peer_msg(struct conn *conn, Msg *msg, void *data)
{
	(void)data;
	pr_warn("%s: unexpected %s", conn->name, msg_body_name(msg));
	return 0;
}

static void peer_closed(struct conn *conn, void *data)
{
	struct slave *s = data;

	for (struct move_out *o = s->moving_out; o; o = o->next)
		if (o->peer == conn)
			o->peer = NULL;
}

static int connect_to(const char *addr, uint32_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct pollfd p;
	int fd, err = 0;
	socklen_t len = sizeof(err);

	if (port == 0 || port > 65535 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		err = errno;
		close(fd);
		return -err;
	}
	p.fd = fd;
	p.events = POLLOUT;
	if (poll(&p, 1, CONNECT_TIMEOUT_MS) <= 0) {
		close(fd);
		return -ETIMEDOUT;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		close(fd);
		return -err;
	}
	return fd;
}

static bool has_children(pid_t host_pid)
{
	char path[96], buf[16];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)host_pid, (int)host_pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return n > 0;
}

static void move_out_free(struct move_out *o)
{
	if (o->peer) {
		struct conn *peer = o->peer;

		o->peer = NULL;
		conn_close(peer, NULL);
	}
	freezer_release(&o->freezer); /* thaws what is still there */
	free(o);
}

static int send_hello(struct conn *peer, const Bproc__MoveOut *mo)
{
	Bproc__MoveHello hello = BPROC__MOVE_HELLO__INIT;
	Msg msg = BPROC__MSG__INIT;

	hello.move_id = mo->move_id;
	hello.token = mo->token;
	msg.body_case = BPROC__MSG__BODY_MOVE_HELLO;
	msg.move_hello = &hello;
	return conn_send(peer, &msg);
}

/* The target's page server, if the master gave its port (else -1 in *fd:
 * a master that does not stream sends the pages over the link). */
static int connect_page_stream(const Bproc__MoveOut *mo, int *fd, char *err, size_t errlen)
{
	struct in_addr addr;
	int r;

	*fd = -1;
	if (!mo->has_ps_port || mo->ps_port == 0)
		return 0;
	if (mo->ps_port > 65535 || inet_pton(AF_INET, mo->addr, &addr) != 1) {
		snprintf(err, errlen, "bad page stream address %s:%u", mo->addr, mo->ps_port);
		return -EINVAL;
	}
	r = ps_connect(addr, (uint16_t)mo->ps_port, CONNECT_TIMEOUT_MS, mo->token.data,
		       mo->token.len, fd);
	if (r < 0)
		snprintf(err, errlen, "cannot connect to node %d's page stream: %s", mo->target,
			 strerror(-r));
	return r;
}

int slave_move_out(struct slave *s, const Bproc__MoveOut *mo)
{
	struct restored *r = slave_restored_find(s, mo->pid);
	char dir[128], nspath[64], name[64], err[512] = "";
	struct move_pipe pipes[3];
	_cleanup_close_ int nsfd = -1;
	_cleanup_close_ int mntfd = -1;
	_cleanup_close_ int ps = -1;
	struct move_out *o;
	int npipes, fd, ret;

	if (!r) {
		report(s, mo->move_id, -ESRCH,
		       "node %d: process %d does not run here as a moved process of its own "
		       "(a child that moved with its parent cannot move alone yet)", s->node, mo->pid);
		return 0;
	}
	if (has_children(slave_restored_host_pid(r))) {
		report(s, mo->move_id, -ENOTSUP,
		       "node %d: process %d has children; moving a process tree from node to node "
		       "is not implemented yet", s->node, mo->pid);
		return 0;
	}
	for (o = s->moving_out; o; o = o->next)
		if (o->pid == mo->pid) {
			report(s, mo->move_id, -EBUSY, "node %d: process %d is already leaving",
			       s->node, mo->pid);
			return 0;
		}
	if (!s->criu[0]) {
		report(s, mo->move_id, -ENOENT, "node %d has no CRIU", s->node);
		return 0;
	}
	snprintf(nspath, sizeof(nspath), "/proc/%d/ns/pid", (int)s->init_pid);
	nsfd = s->init_pid > 0 ? open(nspath, O_RDONLY | O_CLOEXEC) : -1;
	if (nsfd < 0) {
		report(s, mo->move_id, -BE_NODEDOWN, "node %d has no pid namespace", s->node);
		return 0;
	}
	o = calloc(1, sizeof(*o));
	if (!o) {
		report(s, mo->move_id, -ENOMEM, "node %d: out of memory", s->node);
		return 0;
	}
	o->id = mo->move_id;
	o->pid = mo->pid;
	o->host_pid = slave_restored_host_pid(r);

	/* The freezer works from here on the host pid; it names the cgroup
	 * after the node, since every node shares the machine's hierarchy. */
	snprintf(name, sizeof(name), "node%d-move-%llu", s->node, (unsigned long long)o->id);
	ret = freezer_create(&o->freezer, name);
	if (ret == 0)
		ret = freezer_add(&o->freezer, o->host_pid);
	if (ret == 0)
		ret = freezer_freeze(&o->freezer);
	if (ret < 0) {
		move_out_free(o);
		report(s, mo->move_id, ret, "node %d: cannot freeze process %d: %s", s->node,
		       mo->pid, strerror(-ret));
		return 0;
	}
	/* Frozen, it writes no more: what it wrote goes to the master now,
	 * ahead of our result, so its readers get it before anything the
	 * process writes on the target. */
	slave_restored_flush(r);

	snprintf(dir, sizeof(dir), OUT_DIR "/out-%llu", (unsigned long long)o->id);
	if ((mkdir(OUT_DIR, 0700) < 0 && errno != EEXIST) || mkdir(dir, 0700) < 0) {
		ret = -errno;
		move_out_free(o);
		report(s, mo->move_id, ret, "node %d: %s: %s", s->node, dir, strerror(-ret));
		return 0;
	}
	snprintf(nspath, sizeof(nspath), "/proc/%d/ns/mnt", (int)o->host_pid);
	mntfd = open(nspath, O_RDONLY | O_CLOEXEC);
	if (mntfd < 0) {
		ret = -errno;
		snprintf(err, sizeof(err), "%s: %s", nspath, strerror(-ret));
	} else {
		ret = connect_page_stream(mo, &ps, err, sizeof(err));
	}
	/* Encrypted links: so is the page stream, under the move's keys. */
	if (ret == 0 && ps >= 0 && s->auth.encrypt) {
		ret = page_stream_seal(&s->secret, mo->token.data, mo->token.len, true, &ps);
		if (ret < 0)
			snprintf(err, sizeof(err), "cannot seal the page stream: %s", strerror(-ret));
	}
	/* The pages go into the target's page server as CRIU reads them;
	 * only the small images are left for the link below. */
	if (ret == 0)
		ret = criu_dump_tree_stream(s->criu, nsfd, mntfd, o->pid, o->freezer.path, dir, ps,
					    err, sizeof(err));
	if (ret == 0) {
		npipes = move_find_pipes(o->host_pid, 07, pipes);
		fd = connect_to(mo->addr, mo->port);
		if (fd < 0) {
			ret = fd;
			snprintf(err, sizeof(err), "cannot reach node %d at %s:%u: %s", mo->target,
				 mo->addr, mo->port, strerror(-ret));
		} else {
			snprintf(name, sizeof(name), "move %llu to node %d",
				 (unsigned long long)o->id, mo->target);
			ret = conn_new(s->loop, fd, name, peer_msg, peer_closed, s, &o->peer);
			if (ret == 0)
				ret = send_hello(o->peer, mo);
			/* The hello in the clear; the images sealed, if the
			 * cluster's links are. */
			if (ret == 0)
				slave_peer_encrypt(s, o->peer, mo->token.data, mo->token.len, true);
			if (ret == 0)
				ret = move_send_images(o->peer, o->id, dir, o->pid, pipes, npipes,
						       MOVE_NO_TTY, NULL, 0, mo->has_wake_fd ? mo->wake_fd : -1,
						       false, err, sizeof(err));
			if (ret < 0 && !err[0])
				snprintf(err, sizeof(err), "link to node %d: %s", mo->target,
					 strerror(-ret));
		}
	}
	if (ret < 0)
		pr_warn("move %llu: cannot send %d to node %d: %s (see %s)",
			(unsigned long long)o->id, o->pid, mo->target, err, dir);
	else
		move_remove_dir(dir);
	if (ret < 0) {
		move_out_free(o); /* thawed: it runs on here */
		report(s, mo->move_id, ret, "node %d: %s", s->node, err);
		return 0;
	}
	o->next = s->moving_out;
	s->moving_out = o;
	pr_info("move %llu: process %d dumped and sent to node %d", (unsigned long long)o->id,
		o->pid, mo->target);
	report(s, mo->move_id, 0, NULL);
	return 0;
}

/* Wait (briefly) until a killed process is gone from the freezer. */
static void wait_gone(pid_t host_pid)
{
	long long deadline = now_ms() + 2000;

	while (now_ms() < deadline) {
		char state = proc_state(host_pid);

		if (state == 0 || state == 'Z' || state == 'X')
			return;
		usleep(1000);
	}
}

bool slave_move_out_commit(struct slave *s, const Bproc__MoveCommit *c)
{
	struct move_out *o;

	for (struct move_out **p = &s->moving_out; *p; p = &(*p)->next) {
		if ((*p)->id != c->move_id)
			continue;
		o = *p;
		*p = o->next;
		if (c->commit) {
			struct restored *r = slave_restored_find(s, o->pid);

			/* It runs on the target now: this frozen original
			 * must never run again. */
			if (r)
				slave_restored_forget(s, r);
			kill(o->host_pid, SIGKILL);
			wait_gone(o->host_pid);
			pr_info("move %llu: process %d left for another node", (unsigned long long)o->id,
				o->pid);
		} else {
			pr_info("move %llu aborted: process %d runs on here", (unsigned long long)o->id,
				o->pid);
		}
		move_out_free(o);
		return true;
	}
	return false;
}

void slave_move_out_shutdown(struct slave *s)
{
	while (s->moving_out) {
		struct move_out *o = s->moving_out;

		s->moving_out = o->next;
		move_out_free(o);
	}
}
