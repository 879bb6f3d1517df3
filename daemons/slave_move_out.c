/*
 * slave_move_out.c - a process of this node, with its tree, leaves for
 * another node, straight from slave to slave: the image never passes
 * through the master.
 *
 * The master says MoveOut (where to, with a token the target expects).
 * Here, before anything is frozen: examine the process and its
 * descendants (migrate/movable.c, on this node's /proc), connect to the
 * target's move port, say MoveHello and ask it about the files they use
 * (PathCheckRequest); a refusal goes to the master and they run on.  Then
 * freeze the tree (cgroup v2 freezer, by host pids), send the master
 * everything it wrote so far, dump it with CRIU inside the node's pid
 * namespace, send the image and the RestoreRequest on that connection;
 * then MoveOutResult to the master, with the tree.  The originals stay
 * frozen until the master's MoveCommit: commit kills them and forgets
 * them (their ends are not ends: they live on elsewhere), abort thaws them
 * and they run on as if nothing happened.
 *
 * Once the image is sent, the target may hold a restored copy: a master
 * link lost before the commit leaves the move in doubt (as a participant
 * of a two-phase commit).  The originals stay frozen, and the next master
 * settles it (slave_move_out_settle): it took the process back here (the
 * target's held copy is dropped: they thaw), or not (the copy runs there,
 * or the node was taken for down: they are killed).  Thawing them on our
 * own could run the process twice, were the target's copy let run by a
 * master that did not hear from us in time.
 */
#include <arpa/inet.h>
#include <dirent.h>
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
#include <sys/wait.h>
#include <unistd.h>

#include "bproc.h"
#include "criu_run.h"
#include "fault.h"
#include "freezer.h"
#include "log.h"
#include "movable.h"
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
	bool checking;   /* waiting for the target's PathCheckReply */
	/* What MoveOut said, for after that answer. */
	int target;
	char addr[INET_ADDRSTRLEN];
	uint32_t ps_port; /* 0: no page stream */
	uint8_t token[16];
	size_t token_len;
	int wake_fd;
	/* Post-copy: our CRIU serves the pages on ps_fd and holds the frozen
	 * original until they are all across (it ends then). */
	bool lazy;
	bool committed;
	bool sent;     /* the target has the whole image: it may hold a copy */
	bool in_doubt; /* sent, then the master link lost before the commit */
	pid_t criu_pid;
	int ps_fd;
	/* The tree as examined (host pids, parents first) and what the
	 * target must have for it. */
	int ntree;
	pid_t tree[FREEZER_MAX_PIDS];
	struct movable movable;
	struct freezer freezer;
	struct conn *peer; /* to the target slave */
	/* On a terminal: what it had not read of its input when it froze
	 * (RestoreRequest.tty_input); given back if it stays. */
	uint8_t *tty_input;
	size_t tty_input_len;
	struct move_out *next;
};

/* MoveOutResult; tree: the node's pids of what was sent, or NULL. */
static void __attribute__((format(printf, 6, 7)))
report(struct slave *s, uint64_t id, int status, const int32_t *tree, size_t ntree,
       const char *fmt, ...)
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
	res.tree = (int32_t *)tree;
	res.n_tree = tree ? ntree : 0;
	msg.body_case = BPROC__MSG__BODY_MOVE_OUT_RESULT;
	msg.move_out_result = &res;
	slave_send_to_master(s, &msg);
}

static void paths_checked(struct slave *s, struct move_out *o, const Bproc__PathCheckReply *rep);
static void out_failed(struct slave *s, struct move_out *o, int status, const char *err);

static struct move_out *find_by_peer(struct slave *s, struct conn *conn)
{
	for (struct move_out *o = s->moving_out; o; o = o->next)
		if (o->peer == conn)
			return o;
	return NULL;
}

/* The target answers about the files, then only ever closes the link. */
static int peer_msg(struct conn *conn, Msg *msg, void *data)
{
	struct slave *s = data;
	struct move_out *o = find_by_peer(s, conn);

	if (o && o->checking && msg->body_case == BPROC__MSG__BODY_PATH_CHECK_REPLY &&
	    msg->path_check_reply->move_id == o->id) {
		paths_checked(s, o, msg->path_check_reply);
		return 0;
	}
	pr_warn("%s: unexpected %s", conn->name, msg_body_name(msg));
	return 0;
}

static void peer_closed(struct conn *conn, void *data)
{
	struct slave *s = data;
	struct move_out *o = find_by_peer(s, conn);

	if (!o)
		return;
	o->peer = NULL;
	/* Fault source-die-sent: the target closes once it has the whole
	 * image (after the RestoreRequest); we die before any commit. */
	if (!o->checking && fault_at("source-die-sent"))
		kill(getpid(), SIGKILL);
	if (o->checking) {
		char err[128];

		snprintf(err, sizeof(err), "node %d closed the link before it answered", o->target);
		out_failed(s, o, -ECONNRESET, err);
	}
}

int slave_connect_peer(const char *addr, uint32_t port)
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

/* root and its descendants as they are now, parents first (host pids). */
static int list_tree(pid_t root, pid_t *out, int max)
{
	int n = 1;

	out[0] = root;
	for (int i = 0; i < n && n < max; i++) {
		int k = freezer_children(out[i], out + n, max - n);

		if (k > 0)
			n += k;
	}
	return n;
}

/* A lazy dump that must stop: its stream shut, it lets go of the tree. */
static void stop_lazy_dump(struct move_out *o)
{
	criu_dump_lazy_stop(&o->criu_pid, o->ps_fd);
}

static void kill_originals(struct move_out *o);

static void move_out_free(struct move_out *o)
{
	char dir[128];

	stop_lazy_dump(o);
	/* Its images, if the move failed half-way: the next master's move
	 * ids start at 1 again, and a directory left here would refuse its
	 * move of that id ("File exists"). */
	snprintf(dir, sizeof(dir), OUT_DIR "/out-%llu", (unsigned long long)o->id);
	move_remove_dir(dir);
	/* Committed, its copy runs on the target: never thawed here. */
	if (o->committed)
		kill_originals(o);
	if (o->ps_fd >= 0)
		close(o->ps_fd);
	if (o->peer) {
		struct conn *peer = o->peer;

		o->peer = NULL;
		conn_close(peer, NULL);
	}
	freezer_release(&o->freezer); /* thaws what is still there */
	movable_free(&o->movable);
	free(o->tty_input);
	free(o);
}

static void unlink_out(struct slave *s, struct move_out *o)
{
	for (struct move_out **p = &s->moving_out; *p; p = &(*p)->next)
		if (*p == o) {
			*p = o->next;
			return;
		}
}

static int send_hello(struct conn *peer, const struct move_out *o)
{
	Bproc__MoveHello hello = BPROC__MOVE_HELLO__INIT;
	Msg msg = BPROC__MSG__INIT;

	hello.move_id = o->id;
	hello.token.data = (uint8_t *)o->token;
	hello.token.len = o->token_len;
	msg.body_case = BPROC__MSG__BODY_MOVE_HELLO;
	msg.move_hello = &hello;
	return conn_send(peer, &msg);
}

/* The target's page server, if the master gave its port (else -1 in *fd:
 * a master that does not stream sends the pages over the link). */
static int connect_page_stream(const struct move_out *o, int *fd, char *err, size_t errlen)
{
	struct in_addr addr;
	int r;

	*fd = -1;
	if (o->ps_port == 0)
		return 0;
	if (o->ps_port > 65535 || inet_pton(AF_INET, o->addr, &addr) != 1) {
		snprintf(err, errlen, "bad page stream address %s:%u", o->addr, o->ps_port);
		return -EINVAL;
	}
	r = ps_connect(addr, (uint16_t)o->ps_port, CONNECT_TIMEOUT_MS, o->token, o->token_len, fd);
	if (r < 0)
		snprintf(err, errlen, "cannot connect to node %d's page stream: %s", o->target,
			 strerror(-r));
	return r;
}

/* Ask the target what it has at the paths the tree uses. */
static int ask_paths(struct move_out *o)
{
	return move_ask_paths(o->peer, o->id, &o->movable);
}

/*
 * Examine pid's tree where it runs, before anything is frozen; fills
 * o->tree and o->movable.  0, or -errno with the refusal in err.
 */
static int examine(struct slave *s, struct move_out *o, char *err, size_t errlen)
{
	pid_t names[FREEZER_MAX_PIDS];
	struct movable_where where = { .ns_ref = s->init_pid, .mnt_ref = o->host_pid,
				       .names = names };
	char reason[512] = "";
	int r;

	o->ntree = list_tree(o->host_pid, o->tree, FREEZER_MAX_PIDS);
	if (o->ntree >= FREEZER_MAX_PIDS) {
		snprintf(err, errlen, "process %d has more than %d processes in its tree", o->pid,
			 FREEZER_MAX_PIDS - 1);
		return -E2BIG;
	}
	for (int i = 0; i < o->ntree; i++)
		names[i] = i == 0 ? o->pid : slave_node_pid(o->tree[i]);
	r = movable_scan_tree_in(o->tree, o->ntree, &where, &o->movable, reason, sizeof(reason));
	if (r < 0)
		snprintf(err, errlen, "process %d cannot move: %s", o->pid, reason);
	return r;
}

/* It stays here: what it had not read of its terminal goes back, before
 * anything typed since (the master sends nothing until the move is over). */
static void give_back_input(struct slave *s, struct move_out *o)
{
	struct restored *r = slave_restored_find(s, o->pid);

	if (o->tty_input_len == 0)
		return;
	if (r && slave_restored_host_pid(r) == o->host_pid) {
		slave_restored_give_tty_input(r, o->tty_input, o->tty_input_len);
		pr_info("move %llu: %zu bytes typed for process %d and not read yet given back",
			(unsigned long long)o->id, o->tty_input_len, o->pid);
	}
	o->tty_input_len = 0;
}

/* A move out ends here, sent or not: the master is told. */
static void out_failed(struct slave *s, struct move_out *o, int status, const char *err)
{
	uint64_t id = o->id;

	give_back_input(s, o);
	unlink_out(s, o);
	/* The master first: the target takes a closed link before any
	 * image for the source's refusal, which we say now. */
	report(s, id, status, NULL, 0, "node %d: %s", s->node, err);
	move_out_free(o); /* thawed, if it was frozen: it runs on here */
}

/*
 * Fault source-die: this slave is SIGKILLed while CRIU dumps, once CRIU
 * wrote its first image file into dir (so the dump is under way, for a
 * small process as for a large one).  A helper watches and kills us.
 */
static void die_mid_dump(const char *dir)
{
	pid_t slave = getpid();
	pid_t pid = fork();

	if (pid < 0) {
		pr_err("fault source-die: fork: %s", strerror(errno));
		return;
	}
	if (pid > 0)
		return;
	for (int i = 0; i < 10000; i++) {
		DIR *d = opendir(dir);
		struct dirent *e;
		bool any = false;

		while (d && (e = readdir(d)))
			if (e->d_name[0] != '.')
				any = true;
		if (d)
			closedir(d);
		if (any)
			break;
		usleep(1000);
	}
	kill(slave, SIGKILL);
	_exit(0);
}

/* The images in dir, then the RestoreRequest: on a terminal, with the
 * ghost's fd for its output and what it had not read yet. */
static int send_images(struct move_out *o, const struct restored *r, const char *dir,
		       const struct move_pipe *pipes, int npipes, const pid_t *nodepids, char *err,
		       size_t errlen)
{
	struct move_restore_wire w;
	Msg msg = BPROC__MSG__INIT;
	int ret = move_send_image_files(o->peer, o->id, dir, err, errlen);

	if (ret < 0)
		return ret;
	move_restore_fill(&w, o->id, o->pid, pipes, npipes, slave_restored_tty_fd(r), nodepids,
			  o->freezer.npids, o->wake_fd, o->lazy);
	if (o->tty_input_len > 0) {
		w.req.has_tty_input = true;
		w.req.tty_input.data = o->tty_input;
		w.req.tty_input.len = o->tty_input_len;
	}
	msg.body_case = BPROC__MSG__BODY_RESTORE_REQUEST;
	msg.restore_request = &w.req;
	ret = conn_send(o->peer, &msg);
	if (ret < 0)
		snprintf(err, errlen, "sending the restore request: %s", strerror(-ret));
	return ret;
}

/* The target has what the tree needs: freeze, dump, send. */
static int send_tree(struct slave *s, struct move_out *o, char *err, size_t errlen)
{
	char dir[128], nspath[64], name[64];
	_cleanup_close_ int nsfd = -1;
	_cleanup_close_ int mntfd = -1;
	_cleanup_close_ int ps = -1;
	struct restored *r = slave_restored_find(s, o->pid);
	struct move_pipe pipes[3];
	pid_t nodepids[FREEZER_MAX_PIDS];
	int npipes, ret;

	if (!r || slave_restored_host_pid(r) != o->host_pid) {
		snprintf(err, errlen, "process %d ended", o->pid);
		return -ESRCH;
	}
	snprintf(nspath, sizeof(nspath), "/proc/%d/ns/pid", (int)s->init_pid);
	nsfd = s->init_pid > 0 ? open(nspath, O_RDONLY | O_CLOEXEC) : -1;
	if (nsfd < 0) {
		snprintf(err, errlen, "the node has no pid namespace");
		return -BE_NODEDOWN;
	}
	/* The freezer works from here on host pids; it names the cgroup
	 * after the node, since every node shares the machine's hierarchy.
	 * The whole tree: a child forked since it was examined is taken too
	 * (CRIU refuses what it cannot dump, and the tree thaws). */
	snprintf(name, sizeof(name), "node%d-move-%llu", s->node, (unsigned long long)o->id);
	ret = freezer_create(&o->freezer, name);
	if (ret == 0)
		ret = freezer_add_tree(&o->freezer, o->host_pid);
	if (ret < 0) {
		snprintf(err, errlen, "cannot freeze process %d: %s", o->pid, strerror(-ret));
		return ret;
	}
	for (int i = 0; i < o->freezer.npids; i++) {
		nodepids[i] = i == 0 ? o->pid : slave_node_pid(o->freezer.pids[i]);
		if (nodepids[i] <= 0) {
			snprintf(err, errlen, "process %d of the tree ended", (int)o->freezer.pids[i]);
			return -ESRCH;
		}
	}
	/* Frozen, it writes no more: what it wrote goes to the master now,
	 * ahead of our result, so its readers get it before anything the
	 * process writes on the target. */
	slave_restored_flush(r);
	/* On a terminal: what it has not read yet goes with it. */
	ret = slave_restored_take_tty_input(r, &o->tty_input, &o->tty_input_len);
	if (ret < 0) {
		snprintf(err, errlen, "cannot take the unread input of its terminal: %s",
			 strerror(-ret));
		return ret;
	}
	if (o->tty_input_len > 0)
		pr_info("move %llu: %zu bytes typed for process %d and not read yet go with it",
			(unsigned long long)o->id, o->tty_input_len, o->pid);
	if (fault_at("source-die-frozen"))
		kill(getpid(), SIGKILL);

	snprintf(dir, sizeof(dir), OUT_DIR "/out-%llu", (unsigned long long)o->id);
	if ((mkdir(OUT_DIR, 0700) < 0 && errno != EEXIST) || mkdir(dir, 0700) < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", dir, strerror(-ret));
		return ret;
	}
	snprintf(nspath, sizeof(nspath), "/proc/%d/ns/mnt", (int)o->host_pid);
	mntfd = open(nspath, O_RDONLY | O_CLOEXEC);
	if (mntfd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", nspath, strerror(-ret));
	} else {
		ret = connect_page_stream(o, &ps, err, errlen);
	}
	if (ret == 0 && o->lazy && ps < 0) {
		ret = -EPROTO;
		snprintf(err, errlen, "a lazy move without a page stream");
	}
	/* Encrypted links: so is the page stream, under the move's keys. */
	if (ret == 0 && ps >= 0 && s->auth.encrypt) {
		ret = page_stream_seal(&s->secret, o->token, o->token_len, true, &ps);
		if (ret < 0)
			snprintf(err, errlen, "cannot seal the page stream: %s", strerror(-ret));
	}
	/* The pages go into the target's page server as CRIU reads them;
	 * only the small images are left for the link.  Lazy: CRIU keeps the
	 * memory and serves it on the stream once the target restores. */
	if (ret == 0 && fault_at("source-die"))
		die_mid_dump(dir);
	if (ret == 0 && o->lazy) {
		ret = criu_dump_lazy_start_in(s->criu, nsfd, mntfd, o->pid, o->freezer.path, dir, ps,
					      &o->criu_pid, err, errlen);
		if (ret == 0) {
			o->ps_fd = ps;
			ps = -1;
		}
	} else if (ret == 0) {
		ret = criu_dump_tree_stream(s->criu, nsfd, mntfd, o->pid, o->freezer.path, dir, ps,
					    err, errlen);
		if (ret == 0 && fault_at("source-dump")) {
			ret = -EIO;
			snprintf(err, errlen, "CRIU's dump failed (fault injected)");
		}
	}
	/* Fault source-cut: the link to the target breaks with the dump
	 * done, as the images are to go. */
	if (ret == 0 && o->peer && fault_at("source-cut"))
		shutdown(o->peer->fd, SHUT_RDWR);
	if (ret == 0 && !o->peer) {
		ret = -ECONNRESET;
		snprintf(err, errlen, "the link to node %d closed", o->target);
	}
	if (ret == 0) {
		/* Only the pipes we forward are replaced on the target; one
		 * whose other end is in the tree (bash's `> >(cat)`) moves
		 * whole with it. */
		npipes = 0;
		for (int i = 0, n = move_find_pipes(o->host_pid, 07, pipes); i < n; i++)
			if (slave_restored_forwards(r, pipes[i].key))
				pipes[npipes++] = pipes[i];
		ret = send_images(o, r, dir, pipes, npipes, nodepids, err, errlen);
		if (ret < 0 && !err[0])
			snprintf(err, errlen, "link to node %d: %s", o->target, strerror(-ret));
	}
	if (ret < 0) {
		pr_warn("move %llu: cannot send %d to node %d: %s", (unsigned long long)o->id,
			o->pid, o->target, err);
		return ret;
	}
	move_remove_dir(dir);
	o->sent = true;
	pr_info("move %llu: process %d (%d in its tree) dumped and sent to node %d",
		(unsigned long long)o->id, o->pid, o->freezer.npids, o->target);
	report(s, o->id, 0, nodepids, (size_t)o->freezer.npids, NULL);
	return 0;
}

/* The target's answer about the files: refuse, or send the tree. */
static void paths_checked(struct slave *s, struct move_out *o, const Bproc__PathCheckReply *rep)
{
	char err[600] = "";
	int r;

	o->checking = false;
	r = move_paths_checked(&o->movable, rep, o->target, o->pid, err, sizeof(err));
	if (r == 0)
		r = send_tree(s, o, err, sizeof(err));
	if (r < 0)
		out_failed(s, o, r, err);
}

void slave_move_out_clean_cgroups(struct slave *s)
{
	char prefix[32], (*paths)[PATH_MAX] = calloc(64, PATH_MAX);
	int n, removed = 0;

	if (!paths)
		return;
	snprintf(prefix, sizeof(prefix), "node%d-move-", s->node);
	n = freezer_leftovers(prefix, paths, 64);
	/* rmdir takes only an empty one: one that holds a process stays. */
	for (int i = 0; i < n; i++)
		removed += rmdir(paths[i]) == 0;
	if (removed)
		pr_info("removed %d empty freezer cgroup%s of a slave before us", removed,
			removed == 1 ? "" : "s");
	free(paths);
}

int slave_move_out(struct slave *s, const Bproc__MoveOut *mo)
{
	struct restored *r = slave_restored_find(s, mo->pid);
	char name[64], err[600] = "";
	struct move_out *o;
	int fd, ret;

	if (!r) {
		report(s, mo->move_id, -ESRCH, NULL, 0,
		       "node %d: process %d does not run here as a moved process of its own "
		       "(a child that moved with its parent cannot move alone yet)", s->node, mo->pid);
		return 0;
	}
	for (o = s->moving_out; o; o = o->next)
		if (o->pid == mo->pid) {
			report(s, mo->move_id, -EBUSY, NULL, 0, "node %d: process %d is already leaving",
			       s->node, mo->pid);
			return 0;
		}
	if (!s->criu[0]) {
		report(s, mo->move_id, -ENOENT, NULL, 0, "node %d has no CRIU", s->node);
		return 0;
	}
	if (mo->token.len > sizeof(o->token) || strlen(mo->addr) >= INET_ADDRSTRLEN) {
		report(s, mo->move_id, -EPROTO, NULL, 0, "node %d: a bad MoveOut", s->node);
		return 0;
	}
	o = calloc(1, sizeof(*o));
	if (!o) {
		report(s, mo->move_id, -ENOMEM, NULL, 0, "node %d: out of memory", s->node);
		return 0;
	}
	o->id = mo->move_id;
	o->pid = mo->pid;
	o->host_pid = slave_restored_host_pid(r);
	o->target = mo->target;
	snprintf(o->addr, sizeof(o->addr), "%s", mo->addr);
	o->ps_port = mo->has_ps_port ? mo->ps_port : 0;
	memcpy(o->token, mo->token.data, mo->token.len);
	o->token_len = mo->token.len;
	o->wake_fd = mo->has_wake_fd ? mo->wake_fd : -1;
	o->lazy = mo->has_lazy && mo->lazy;
	o->ps_fd = -1;
	o->next = s->moving_out;
	s->moving_out = o;

	/* Nothing is frozen until the tree passed its checks here and the
	 * target said it has the files. */
	ret = examine(s, o, err, sizeof(err));
	if (ret == 0) {
		fd = slave_connect_peer(o->addr, mo->port);
		if (fd < 0) {
			ret = fd;
			snprintf(err, sizeof(err), "cannot reach node %d at %s:%u: %s", o->target,
				 o->addr, mo->port, strerror(-ret));
		}
	}
	if (ret == 0) {
		snprintf(name, sizeof(name), "move %llu to node %d", (unsigned long long)o->id,
			 o->target);
		ret = conn_new(s->loop, fd, name, peer_msg, peer_closed, s, &o->peer);
		if (ret == 0)
			ret = send_hello(o->peer, o);
		/* The hello in the clear; the rest sealed, if the cluster's
		 * links are. */
		if (ret == 0)
			slave_peer_encrypt(s, o->peer, o->token, o->token_len, true);
		o->checking = ret == 0;
		if (ret == 0)
			ret = ask_paths(o);
		if (ret < 0)
			snprintf(err, sizeof(err), "link to node %d: %s", o->target, strerror(-ret));
	}
	if (ret < 0)
		out_failed(s, o, ret, err);
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

/* The originals of a committed move: never to run again. */
static void kill_originals(struct move_out *o)
{
	for (int i = 0; i < o->freezer.npids; i++)
		kill(o->freezer.pids[i], SIGKILL);
	for (int i = 0; i < o->freezer.npids; i++)
		wait_gone(o->freezer.pids[i]);
}

/*
 * The process runs elsewhere now (a commit, or a master that settled a
 * move in doubt so): these frozen originals must never run again, and
 * their ends are not ends: forgotten, and marked to be killed when o is
 * freed.  True if o must stay until its CRIU ends: a lazy dump still
 * serving the copy its pages (slave_move_out_child_exited kills them).
 */
static bool give_up_originals(struct slave *s, struct move_out *o)
{
	struct restored *r = slave_restored_find(s, o->pid);

	if (r)
		slave_restored_forget(s, r);
	for (int i = 0; i < o->freezer.npids; i++)
		slave_procs_drop(o->freezer.pids[i]);
	o->committed = true;
	return o->lazy && o->criu_pid > 0;
}

bool slave_move_out_commit(struct slave *s, const Bproc__MoveCommit *c)
{
	struct move_out *o;

	for (struct move_out **p = &s->moving_out; *p; p = &(*p)->next) {
		if ((*p)->id != c->move_id)
			continue;
		o = *p;
		if (c->commit) {
			if (give_up_originals(s, o)) {
				pr_info("move %llu: process %d runs on node %d; its pages follow on demand",
					(unsigned long long)o->id, o->pid, o->target);
				return true;
			}
			*p = o->next;
			pr_info("move %llu: process %d (%d in its tree) left for another node",
				(unsigned long long)o->id, o->pid, o->freezer.npids);
		} else {
			*p = o->next;
			give_back_input(s, o);
			pr_info("move %llu aborted: process %d runs on here", (unsigned long long)o->id,
				o->pid);
		}
		move_out_free(o);
		return true;
	}
	return false;
}

bool slave_move_out_child_exited(struct slave *s, pid_t pid, int status)
{
	struct move_out *o;

	for (o = s->moving_out; o && (o->criu_pid <= 0 || o->criu_pid != pid); o = o->next)
		;
	if (!o)
		return false;
	o->criu_pid = 0;
	if (o->in_doubt) {
		/* The target has every page, or dropped its copy: either way
		 * the next master says which runs (the originals are whole). */
		pr_info("move %llu: the lazy dump of process %d ended (status 0x%x) with the move in doubt",
			(unsigned long long)o->id, o->pid, status);
		return true;
	}
	if (!o->committed) {
		char err[160];

		/* Before the commit the copy cannot get its pages: the move
		 * fails, and the original runs on here. */
		snprintf(err, sizeof(err), "the lazy dump ended before the process ran on node %d (status 0x%x)",
			 o->target, status);
		pr_warn("move %llu: %s", (unsigned long long)o->id, err);
		out_failed(s, o, -EPIPE, err);
		return true;
	}
	unlink_out(s, o);
	/* Every page is across (or the stream broke, and the copy is killed
	 * on the target): the original goes either way. */
	kill_originals(o);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		pr_info("move %llu: every page of process %d is on node %d; its original is gone",
			(unsigned long long)o->id, o->pid, o->target);
	else
		pr_err("move %llu: the page stream of process %d broke (CRIU status 0x%x); its original is killed",
		       (unsigned long long)o->id, o->pid, status);
	move_out_free(o);
	return true;
}

void slave_move_out_shutdown(struct slave *s)
{
	for (struct move_out **p = &s->moving_out; *p;) {
		struct move_out *o = *p;

		/* A committed lazy move serves its pages on, master or not:
		 * its copy on the target needs them.  One sent and not
		 * committed is in doubt: frozen until a master settles it. */
		if ((o->committed || o->sent) && !s->stopping) {
			if (!o->committed && !o->in_doubt) {
				o->in_doubt = true;
				pr_warn("move %llu: in doubt: the master went away after process %d was sent to node %d, before the commit; it stays frozen here until a master says where it runs",
					(unsigned long long)o->id, o->pid, o->target);
			}
			p = &o->next;
			continue;
		}
		*p = o->next;
		move_out_free(o);
	}
}

void slave_move_out_settle(struct slave *s, const int32_t *keep, size_t nkeep)
{
	for (struct move_out **p = &s->moving_out; *p;) {
		struct move_out *o = *p;
		bool kept = false;

		if (!o->in_doubt) {
			p = &o->next;
			continue;
		}
		for (size_t i = 0; i < nkeep && !kept; i++)
			kept = keep[i] == o->pid;
		o->in_doubt = false;
		if (kept) {
			/* Its ghost is ours again: the target's copy is dropped. */
			*p = o->next;
			give_back_input(s, o);
			pr_info("move %llu: the master took process %d back here: it runs on here",
				(unsigned long long)o->id, o->pid);
			move_out_free(o); /* thawed */
			continue;
		}
		/* It runs on the target now, or its ghost ended (the node was
		 * taken for down): never here again. */
		pr_info("move %llu: the master did not take process %d back here: its original is killed",
			(unsigned long long)o->id, o->pid);
		if (give_up_originals(s, o)) {
			p = &o->next;
			continue;
		}
		*p = o->next;
		move_out_free(o); /* killed */
	}
}
