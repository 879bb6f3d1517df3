/*
 * master_moves.c - moving a process from the master to a node, and the
 * table of ghosts it leaves behind.
 *
 * A move, start to end (every failure before the commit leaves the process
 * running here, untouched):
 *
 *   1. check: the asker may move this process to that node, it holds
 *      nothing that cannot move (migrate/movable.c), and the node has the
 *      files it uses by path (PathCheckRequest; nothing frozen until the
 *      answer);
 *   2. freeze it silently (migrate/freezer.c) and dump it with CRIU into
 *      a directory of ours (migrate/criu_run.c);
 *   3. send the image files to the node's slave (ImageChunk), then a
 *      RestoreRequest; the slave restores it, held stopped;
 *   4. on RestoreResult: turn the frozen original into its ghost
 *      (ghost/ghost.c); then MoveCommit: the copy runs, the asker is told.
 *
 * From then on bpmaster is the ghost's tracer: each signal sent to a ghost
 * goes to the real process (SignalProcess), and a ProcessStatus from the
 * node ends, stops or continues the ghost the same way.  A ghost whose node goes down
 * dies as if by SIGKILL.
 *
 * stdout and stderr that are pipes come back: the slave reads them and sends
 * Output, written here into copies of the ghost's fds without blocking
 * (output_queue.c); a process's end waits until its output is written.
 *
 * A stdin pipe goes the other way (Input).  A terminal is relayed the same
 * way through a pseudo-terminal on the node: what is typed is read here
 * while the ghost is in the terminal's foreground (master_tty.c).
 *
 * A process moves with its descendants (master_tree.c): each leaves a ghost.
 *
 * A small process (every bpsh launch) sends its pages with its other
 * images, without the page stream.  One program launched on many nodes
 * (VMoveRequest) is dumped once, and each copy restored from that image
 * with its own pid ("One dump for many nodes", below).
 *
 * Back to the master is a node-to-node move into the home node
 * (master_home.c); past launchfanout nodes a launch's copies go out
 * through relaying slaves (launch_tree.c).  A process on a terminal moves
 * between nodes too: what is typed waits in the terminal during the move
 * and goes to the new node after the commit.
 */
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
#include <sys/stat.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <arpa/inet.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bproc.h"
#include "criu.h"
#include "criu_run.h"
#include "fault.h"
#include "freezer.h"
#include "ghost.h"
#include "image_pid.h"
#include "launch_tree.h"
#include "log.h"
#include "master.h"
#include "master_tty.h"
#include "master_tree.h"
#include "movable.h"
#include "move_source.h"
#include "output_queue.h"
#include "page_seal.h"
#include "page_server.h"
#include "util.h"
#include "version.h"

#define IMAGES_DIR "/run/bproc/images"
/* Ids of our MoveExpect requests to a target slave: apart from the rest. */
#define EXPECT_ID_BIT (1ull << 63)
#define MAX_HELD_SIGNALS 64
#define PS_CONNECT_MS 5000
/* Output of one stream held for a ghost's slow readers above which its
 * slave stops reading that stream's pipe (OutputFlow), and under which it
 * reads it again.  What may still come after the pause (the slave's link
 * queue, LINK_BEHIND_BYTES, and the sockets' buffers) stays far under
 * OUTPUT_QUEUE_MAX. */
#define OUTPUT_PAUSE_BYTES (4u << 20)
#define OUTPUT_RESUME_BYTES (1u << 20)
/* Processes in one launch on many nodes (VMoveRequest). */
#define BPROC_MAX_VMOVE 4096
/* Below this (memory to copy, about), a move sends its pages with its
 * other images, over our link: far under MOVE_MAX_IMAGE_BYTES, and the
 * page stream's set-up costs more than the copy. */
#define SMALL_MOVE_BYTES (8u << 20)

enum move_state {
	MOVE_CHECKING,    /* waiting for the target's PathCheckReply */
	MOVE_RELEASING,   /* exec_traced: frozen, waiting for its tracer to let go */
	MOVE_PREPARING,   /* waiting for its PrepareResult */
	MOVE_DUMPING,     /* full copy: CRIU dumps, its pages stream across */
	MOVE_RESTORING,   /* dumped, waiting for its RestoreResult */
	MOVE_SERVING,     /* lazy, committed: CRIU serves the pages */
};

struct move {
	uint64_t id;
	pid_t pid;
	int node;
	struct conn *client;   /* NULL once the asker went away */
	uint64_t client_id;
	struct freezer freezer;
	char dir[PATH_MAX];
	char comm[32];
	char **argv;
	int npipes;
	struct move_pipe pipes[3];
	int tty_out;          /* the fd its terminal's output goes to, -1: none */
	int wake_fd;          /* the process waits on this pipe, or -1 */
	/* bproc_execmove: the process sits at its exec, traced by the asker
	 * (MoveRequest.exec_traced); it must never run here. */
	bool exec_traced;
	/* Node to node (from >= 0): the steps both slaves have done. */
	int from;             /* BPROC_NODE_MASTER, or the node it leaves */
	uint8_t token[16];
	bool source_done, restored;
	/* Lazy: the source's dump ended after it had sent the images, before
	 * the target answered.  The target's answer says why (its restore
	 * failing is what ends the dump), so the move waits for it. */
	int source_failed;
	char *source_why;
	/* What the source sent: its tree, the node's pids (MoveOutResult). */
	int32_t *out_tree;
	size_t n_out_tree;
	/* Signals sent to the ghost meanwhile (or to a ghost of its tree:
	 * held_pid), for wherever it ends up. */
	int nheld;
	int held[MAX_HELD_SIGNALS];
	pid_t held_pid[MAX_HELD_SIGNALS];
	/* What the target must have; until it answered, nothing is frozen. */
	struct movable movable;
	bool checking;
	struct move_tree *tree;  /* pid and its descendants, frozen together */
	uid_t uid;               /* the asker's */
	/* The page stream (master to node): see migrate/page_server.h. */
	enum move_state state;
	bool lazy;
	/* Small enough that its pages go with the other images, over our
	 * link: no page stream, no page server on the node (what most of a
	 * bpsh launch costs the node). */
	bool small;
	/* One of a launch on many nodes (VMoveRequest): see the section
	 * "One dump for many nodes" below. */
	struct launch_group *group;
	bool group_images;       /* its image is in dir, made from the group's dump */
	bool group_waiting;      /* checked and frozen, waiting for that image */
	/* Its image goes out from relay_node's slave, not from us (the
	 * fan-out, launch_tree.h); its node expects it (MoveExpect). */
	bool relayed;
	int relay_node;
	pid_t criu_pid;          /* the dump (lazy: serving pages), or 0 */
	long long dump_start_ms;
	int cork_timer;          /* full copy: looks for CRIU's cork (ps_uncork), or -1 */
	struct loop *loop;       /* the cork timer's */
	int ps_fd;               /* our copy of its page stream, or -1 */
	struct move *next;
};

/* The moves of one VMoveRequest: the first to pass its checks is dumped
 * (the template), the others get its image with their own pids. */
struct launch_group {
	int refs;                /* moves that point here */
	uint64_t template_id;    /* 0: none chosen yet */
	pid_t template_pid;
	bool dumped;             /* the template's dump is over (ok or not) */
	bool failed;             /* no image for the others: each dumps itself */
	char exe[PATH_MAX];      /* what every process of it runs */
	/* Exec first (VMoveRequest.exec_template): the template is the
	 * program held at its exec; the others are restored as it, and their
	 * ghosts take its name and command line (from its dump on). */
	bool exec;
	char comm[32];
	char **argv;
	int npipes;
	struct move_pipe pipes[3];  /* the template's stdio pipes: the image's keys */
};

struct ghost_entry {
	pid_t pid;
	int node;
	bool exit_ordered;
	/* What the process prints on the node, on its way into copies of the
	 * ghost's fds 1 and 2. */
	struct output_queue out[3];
	int in_fd;           /* copy of the ghost's stdin pipe, or -1 */
	int tty_in;          /* copy of the ghost's stdin terminal, or -1 */
	int tty_out;         /* which of out[] is its terminal, or -1 */
	struct master *m;
	bool exit_deferred;  /* its end is known, output still queued */
	int exit_status;
	bool held;           /* lazy: CRIU still holds the original; no ghost yet */
	/* The real process is stopped, as far as we know: a stop we ordered
	 * that is still on its way is dropped if it went on meanwhile. */
	bool stop_wanted;
	/* The ghost is in a group stop (it reported one and nothing since):
	 * only then does a continue of its process need a SIGCONT here. */
	bool ghost_stopped;
	int stop_status;     /* held: the stop to show once the ghost is made */
	/* We told its slave to stop reading that stream (OutputFlow), or
	 * that the stream's readers are gone. */
	bool out_paused[3];
	bool out_gone[3];
	struct ghost_entry *next;
};

static void output_drained(void *data);
static void output_wrote(void *data);
/* What the master says of one stream of a process (OutputFlow). */
enum flow { FLOW_GO, FLOW_PAUSE, FLOW_GONE };
static void send_output_flow_to(struct master *m, int node, pid_t pid, int fd, enum flow what);
static int send_images(struct move *mv, struct master_node *n, char *err, size_t errlen);
static void send_commit(struct master_node *n, uint64_t move_id, bool commit);
static void finish_move(struct master *m, struct move *mv, int status, const char *why);
static void group_dumped(struct master *m, struct move *tpl, bool ok);
static void on_ghost_stdin(struct loop *loop, int fd, uint32_t events, void *data);
static void on_ghost_tty(struct loop *loop, int fd, uint32_t events, void *data);
static void send_tty_size(struct ghost_entry *g);

static struct move *moves;
static struct ghost_entry *ghosts;
static uint64_t next_move_id = 1;

static void free_argv(char **argv)
{
	if (!argv)
		return;
	for (char **a = argv; *a; a++)
		free(*a);
	free(argv);
}

static char **dup_argv(char *const *argv)
{
	size_t n = 0;
	char **copy;

	while (argv[n])
		n++;
	copy = calloc(n + 1, sizeof(*copy));
	for (size_t i = 0; copy && i < n; i++)
		if (!(copy[i] = strdup(argv[i]))) {
			free_argv(copy);
			return NULL;
		}
	return copy;
}

static void stop_cork_timer(struct move *mv)
{
	if (mv->cork_timer < 0)
		return;
	loop_remove(mv->loop, mv->cork_timer);
	close(mv->cork_timer);
	mv->cork_timer = -1;
}

static struct move *move_new(void)
{
	struct move *mv = calloc(1, sizeof(*mv));

	if (mv) {
		mv->ps_fd = -1;
		mv->cork_timer = -1;
	}
	return mv;
}

/* The wake pipe the restored copy reads, for its node to wake it: none
 * for a copy of an exec'd template (it is the program, which reads none;
 * the commit thaws it).  The original's own (mv->wake_fd) is still how it
 * learns here that its move failed. */
static int node_wake_fd(const struct move *mv)
{
	return mv->group && mv->group->exec ? -1 : mv->wake_fd;
}

static void group_unref(struct launch_group *lg)
{
	if (lg && --lg->refs <= 0) {
		free_argv(lg->argv);
		free(lg);
	}
}

static void move_free(struct move *mv)
{
	group_unref(mv->group);
	stop_cork_timer(mv);
	if (mv->ps_fd >= 0)
		close(mv->ps_fd);
	movable_free(&mv->movable);
	freezer_release(&mv->freezer);
	if (mv->dir[0])
		move_remove_dir(mv->dir);
	free_argv(mv->argv);
	move_tree_free(mv->tree);
	free(mv->out_tree);
	free(mv->source_why);
	free(mv);
}

static void move_unlink(struct move *mv)
{
	for (struct move **p = &moves; *p; p = &(*p)->next)
		if (*p == mv) {
			*p = mv->next;
			return;
		}
}

static struct ghost_entry *find_ghost(pid_t pid)
{
	for (struct ghost_entry *g = ghosts; g; g = g->next)
		if (g->pid == pid)
			return g;
	return NULL;
}

/* Fields of /proc/PID/status we need: owner and parent. */
/* A ghost's entry, not yet in the table: nothing to forward yet. */
static struct ghost_entry *ghost_entry_new(struct master *m, pid_t pid, int node)
{
	struct ghost_entry *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->pid = pid;
	g->node = node;
	g->in_fd = -1;
	g->tty_in = -1;
	g->tty_out = -1;
	g->m = m;
	for (int k = 0; k < 3; k++) {
		output_queue_init(&g->out[k], m->loop, -1, output_drained, g);
		g->out[k].wrote = output_wrote;
	}
	return g;
}

static int process_owner(pid_t pid, uid_t *uid, pid_t *ppid)
{
	struct proc_creds c;
	int r = proc_creds(pid, &c);

	if (r < 0)
		return -ESRCH;
	*uid = c.uid[0];
	*ppid = proc_parent(pid);
	return *ppid < 0 ? -ESRCH : 0;
}

/* The command line, for the ghost to show in ps. */
char **master_read_cmdline(pid_t pid, char *comm, size_t commlen)
{
	char path[64], buf[4096];
	ssize_t n;
	int fd, count = 0;
	char **argv;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : read(fd, comm, commlen - 1);
	if (fd >= 0)
		close(fd);
	comm[n > 0 ? n : 0] = '\0';
	comm[strcspn(comm, "\n")] = '\0';

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0) {
		/* A kernel thread or a process without a command line. */
		buf[0] = '\0';
		n = 1;
	}
	buf[n] = '\0';
	for (ssize_t i = 0; i < n; i += strlen(buf + i) + 1)
		count++;
	argv = calloc((size_t)count + 1, sizeof(*argv));
	if (!argv)
		return NULL;
	count = 0;
	for (ssize_t i = 0; i < n; i += strlen(buf + i) + 1)
		argv[count++] = strdup(buf[i] ? buf + i : comm);
	return argv;
}

/* May uid (in group gid) run on node n?  As execute permission. */
static bool node_allows(const struct master_node *n, uid_t uid, gid_t gid)
{
	if (uid == 0)
		return true;
	if (n->uid == uid)
		return n->mode & 0100;
	if (n->gid == gid)
		return n->mode & 0010;
	return n->mode & 0001;
}

static void locate_ghost_program(char *buf, size_t len)
{
	char self[PATH_MAX - 64];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		char *slash;

		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			/* The build tree: build/daemons/bpmaster -> build/ghost/ */
			if (snprintf(buf, len, "%s/../ghost/bproc-ghost", self) < (int)len &&
			    access(buf, X_OK) == 0)
				return;
		}
	}
	snprintf(buf, len, "%s/bproc-ghost", BPROC_LIBEXECDIR);
}

/*
 * Answer the asker: on its connection if it has one; a process that asked
 * for its own move closed it first (CRIU cannot take it along), so a
 * failure is written into its wake pipe instead (move_source.h).
 */
static int __attribute__((format(printf, 6, 7)))
answer(struct conn *client, uint64_t id, pid_t pid, int wake_fd, int status, const char *fmt, ...)
{
	char text[512] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (client && !client->closed)
		return conn_reply(client, id, status, "%s", text);
	if (!client && status < 0)
		move_wake(pid, wake_fd, status, text);
	return 0;
}

static void send_to_node(struct master *m, int node, Msg *msg)
{
	struct master_node *n = master_find_node(m, node);

	if (n && n->conn)
		conn_send(n->conn, msg);
}

/*
 * Node to node: the master only coordinates.  The target is told to expect
 * the move (it answers), then the source is told to send it there; see
 * MoveExpect in images/bproc.proto.  The ghost stays, and only changes its
 * node at the commit.
 */
/* mv's target node is told to expect it from another node, with its token
 * (MoveExpect; the answer, or a refusal, comes to master_move_reply). */
static int send_move_expect(struct conn *target, const struct move *mv)
{
	Bproc__MoveExpect ex = BPROC__MOVE_EXPECT__INIT;
	Msg msg = BPROC__MSG__INIT;

	ex.move_id = mv->id;
	ex.pid = mv->pid;
	ex.token.data = (uint8_t *)mv->token;
	ex.token.len = sizeof(mv->token);
	/* Node to node: what the target names if its commit never comes
	 * (HeldCopy, master_held.c). */
	if (mv->from != BPROC_NODE_MASTER) {
		ex.has_source = true;
		ex.source = mv->from;
	}
	msg.has_id = true;
	msg.id = EXPECT_ID_BIT | mv->id;
	msg.body_case = BPROC__MSG__BODY_MOVE_EXPECT;
	msg.move_expect = &ex;
	return conn_send(target, &msg);
}

static int move_between_nodes(struct master *m, struct conn *client, uint64_t id,
			      struct ghost_entry *g, struct master_node *target, int wake_fd,
			      bool lazy)
{
	struct master_node *src = master_find_node(m, g->node);
	struct move *mv;

	if (!src || src->state != BPROC_NODE_UP || !src->conn)
		return answer(client, id, g->pid, wake_fd, -BE_NODEDOWN,
			      "node %d, where process %d runs, is %s", g->node, g->pid,
			      src ? bproc_state_name(src->state) : "unknown");
	if (!target->move_port)
		return answer(client, id, g->pid, wake_fd, -ENOTSUP,
			      "node %d takes no processes from other nodes (its slave is too old)",
			      target->node);
	mv = move_new();
	if (!mv)
		return answer(client, id, g->pid, wake_fd, -ENOMEM, "out of memory");
	mv->id = next_move_id++;
	mv->pid = g->pid;
	mv->node = target->node;
	mv->from = g->node;
	mv->client = client;
	mv->client_id = id;
	mv->wake_fd = wake_fd;
	mv->lazy = lazy;
	if (getrandom(mv->token, sizeof(mv->token), 0) != (ssize_t)sizeof(mv->token)) {
		free(mv);
		return answer(client, id, g->pid, wake_fd, -EAGAIN, "no random bytes for the move");
	}
	/* Input waits on the master until the process runs again: a pipe's
	 * in the pipe, a terminal's in the terminal (typed lines stay there
	 * until the commit, then go to the new node only). */
	if (g->in_fd >= 0)
		loop_remove(m->loop, g->in_fd);
	if (g->tty_in >= 0)
		loop_remove(m->loop, g->tty_in);
	mv->next = moves;
	moves = mv;
	send_move_expect(target->conn, mv);
	pr_info("move %llu: process %d from node %d to node %d%s", (unsigned long long)mv->id,
		mv->pid, mv->from, mv->node, lazy ? ", its memory after it (lazy)" : "");
	return 0;
}

/* Ask the target whether it has the files the process uses by path. */
static int ask_paths(struct move *mv, struct conn *slave)
{
	return move_ask_paths(slave, mv->id, &mv->movable);
}

static int move_begin(struct master *m, struct conn *client, uint64_t id, pid_t pid, int node,
		      uid_t uid, gid_t gid, int wake_fd, bool from_node, bool lazy,
		      pid_t tracer, const struct movable *paths, struct move **created);

int master_move(struct master *m, struct conn *client, uint64_t id, pid_t pid, int node,
		uid_t uid, gid_t gid, int wake_fd, bool from_node, bool lazy)
{
	return move_begin(m, client, id, pid, node, uid, gid, wake_fd, from_node, lazy, 0, NULL,
			  NULL);
}

/* master_move(); the move made, if one was, in *created.  tracer: the
 * process is held at its exec by it (exec_traced).  paths: what the target
 * must have besides the process's own files (a launch's copy may be
 * restored as the exec'd template). */
static int move_begin(struct master *m, struct conn *client, uint64_t id, pid_t pid, int node,
		      uid_t uid, gid_t gid, int wake_fd, bool from_node, bool lazy,
		      pid_t tracer, const struct movable *paths, struct move **created)
{
	struct master_node *n = master_find_node(m, node);
	char reason[512] = "", criu[PATH_MAX];
	struct ghost_entry *g;
	struct move *mv;
	uid_t owner;
	pid_t ppid;
	int r;

	/* Back to the master: a process with a ghost here goes to the home
	 * node (master_home.c), since its ghost keeps its pid here. */
	if (node == BPROC_NODE_MASTER) {
		g = pid > 0 ? find_ghost(pid) : NULL;
		if (!g && from_node)
			return answer(client, id, pid, wake_fd, -ESRCH,
				      "process %d does not run on a node", pid);
		if (!g && (pid <= 0 || process_owner(pid, &owner, &ppid) < 0))
			return answer(client, id, pid, wake_fd, -ESRCH, "no process %d", pid);
		if (!g)
			return answer(client, id, pid, wake_fd, -BE_SAMENODE,
				      "process %d already runs on the master", pid);
		if (g->node == MASTER_HOME_NODE)
			return answer(client, id, pid, wake_fd, -BE_SAMENODE,
				      "process %d already runs on the master (in its home node)",
				      pid);
		node = MASTER_HOME_NODE;
		n = master_find_node(m, node);
		if (n->state != BPROC_NODE_UP || !n->conn)
			return answer(client, id, pid, wake_fd, -BE_NODEDOWN,
				      "the master's home node, where processes coming back run, is %s; "
				      "process %d stays on node %d",
				      bproc_state_name(n->state), pid, g->node);
	} else if (node == MASTER_HOME_NODE) {
		n = NULL; /* no client names it */
	}
	if (!n)
		return answer(client, id, pid, wake_fd, -BE_INVALIDNODE, "node %d: no such node", node);
	if (n->state != BPROC_NODE_UP || !n->conn)
		return answer(client, id, pid, wake_fd, -BE_NODEDOWN, "node %d is %s", node,
			      bproc_state_name(n->state));
	g = pid > 0 ? find_ghost(pid) : NULL;
	/* A pid given on a node is a node's: it names a process of ours
	 * only if that process runs on a node.  A node's own processes (not
	 * from the master) have no ghost here, and a master process with the
	 * same number is another process. */
	if (from_node && !g)
		return answer(client, id, pid, wake_fd, -ESRCH,
			      "process %d does not run on a node (only processes that came from the "
			      "master can move; the master's own are moved from the master)", pid);
	if (pid == 1)
		return answer(client, id, pid, wake_fd, -EPERM, "process 1 (init) cannot move");
	if (pid <= 1 || process_owner(pid, &owner, &ppid) < 0)
		return answer(client, id, pid, wake_fd, -ESRCH, "no process %d", pid);
	if (g && g->node == node)
		return answer(client, id, pid, wake_fd, -BE_SAMENODE,
			      "process %d already runs on node %d", pid, node);
	if (uid != 0 && uid != owner)
		return answer(client, id, pid, wake_fd, -EPERM, "process %d is not yours", pid);
	if (!node_allows(n, uid, gid))
		return answer(client, id, pid, wake_fd, -EACCES, "node %d: Permission denied", node);
	for (struct move *p = moves; p; p = p->next) {
		if (p->pid != pid)
			continue;
		if (p->state == MOVE_SERVING)
			return answer(client, id, pid, wake_fd, -EBUSY,
				      "process %d runs on node %d, and its pages are still on their way there (bpmove --lazy): try again once they are in",
				      pid, p->node);
		return answer(client, id, pid, wake_fd, -EBUSY, "process %d is already moving", pid);
	}
	if (g)
		return move_between_nodes(m, client, id, g, n, wake_fd, lazy);
	if (pid == getpid() || ppid == 0)
		return answer(client, id, pid, wake_fd, -EINVAL, "process %d cannot move", pid);
	if (criu_locate(m->cfg.criu, criu, sizeof(criu)) < 0)
		return answer(client, id, pid, wake_fd, -ENOENT,
			      "no CRIU on the master (see docs/criu.md)");

	mv = move_new();
	if (!mv)
		return answer(client, id, pid, wake_fd, -ENOMEM, "out of memory");
	/* Refuse what cannot move while nothing is frozen yet: anything the
	 * process or one of its descendants holds. */
	{
		pid_t tree[FREEZER_MAX_PIDS];
		int ntree = move_tree_list(pid, tree, FREEZER_MAX_PIDS);

		r = tracer ? movable_scan_exec_tree(tree, ntree, tracer, &mv->movable, reason,
						    sizeof(reason)) :
			     movable_scan_tree(tree, ntree, &mv->movable, reason, sizeof(reason));
		/* What CRIU will dump of its memory (movable.memory): small
		 * enough, its pages go with its images. */
		mv->small = !lazy && mv->movable.memory < SMALL_MOVE_BYTES;
	}
	if (r == 0 && paths && movable_add_files(&mv->movable, paths) < 0) {
		movable_free(&mv->movable);
		free(mv);
		return answer(client, id, pid, wake_fd, -ENOMEM, "out of memory");
	}
	if (r < 0) {
		free(mv);
		if (r == -ESRCH)
			return answer(client, id, pid, wake_fd, r, "no process %d", pid);
		return answer(client, id, pid, wake_fd, r, "process %d cannot move: %s", pid,
			      reason);
	}
	if (getrandom(mv->token, sizeof(mv->token), 0) != (ssize_t)sizeof(mv->token)) {
		move_free(mv);
		return answer(client, id, pid, wake_fd, -EAGAIN, "no random bytes for the move");
	}
	mv->id = next_move_id++;
	mv->pid = pid;
	mv->node = node;
	mv->from = BPROC_NODE_MASTER;
	mv->client = client;
	mv->client_id = id;
	mv->uid = uid;
	mv->wake_fd = wake_fd;
	mv->checking = true;
	mv->state = MOVE_CHECKING;
	mv->lazy = lazy;
	r = ask_paths(mv, n->conn);
	if (r < 0) {
		move_free(mv);
		return answer(client, id, pid, wake_fd, r, "cannot reach node %d: %s", node,
			      strerror(-r));
	}
	mv->next = moves;
	moves = mv;
	if (created)
		*created = mv;
	return 0;
}

/* The process can move, and the target has what it needs: our image
 * directory, then PrepareMove: the target listens for the page stream
 * (not for a small move).  Nothing is frozen yet. */
static int move_prepare(struct move *mv, struct conn *slave, char *err, size_t errlen)
{
	Bproc__PrepareMove prep = BPROC__PREPARE_MOVE__INIT;
	Msg msg = BPROC__MSG__INIT;
	pid_t pid = mv->pid;
	int r;

	mv->argv = master_read_cmdline(pid, mv->comm, sizeof(mv->comm));
	mv->tree = calloc(1, sizeof(*mv->tree));
	mv->npipes = move_find_pipes(pid, 07, mv->pipes);
	/* A terminal's output goes where its stdout was, else stderr, else
	 * stdin (a terminal fd is read-write); none: -1. */
	mv->tty_out = -1;
	for (int i = 0, order[] = { 1, 2, 0 }; i < 3 && mv->tty_out < 0; i++)
		if (mv->movable.tty_stdio & (1u << order[i]))
			mv->tty_out = order[i];
	snprintf(mv->dir, sizeof(mv->dir), IMAGES_DIR "/move-%llu", (unsigned long long)mv->id);
	if (!mv->argv || !mv->tree) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if ((mkdir(IMAGES_DIR, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(mv->dir, 0700) < 0 && !(errno == EEXIST && mv->group_images))) {
		r = -errno;
		snprintf(err, errlen, "cannot make the image directory: %s", strerror(-r));
		mv->dir[0] = '\0';
		return r;
	}
	if (mv->small)
		return 0;
	prep.move_id = mv->id;
	prep.pid = pid;
	prep.has_lazy = mv->lazy;
	prep.lazy = mv->lazy;
	prep.has_token = true;
	prep.token.data = mv->token;
	prep.token.len = sizeof(mv->token);
	msg.body_case = BPROC__MSG__BODY_PREPARE_MOVE;
	msg.prepare_move = &prep;
	r = conn_send(slave, &msg);
	if (r < 0) {
		snprintf(err, errlen, "cannot reach node %d: %s", mv->node, strerror(-r));
		return r;
	}
	mv->state = MOVE_PREPARING;
	return 0;
}

/* Wait (bounded) for a lazy dump told to stop by the end of its stream. */
static void stop_lazy_dump(struct move *mv)
{
	criu_dump_lazy_stop(&mv->criu_pid, mv->ps_fd);
}

static void on_cork_timer(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct move *mv = data;
	uint64_t ticks;

	(void)loop;
	(void)events;
	if (read(fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	if (mv->state != MOVE_DUMPING || mv->ps_fd < 0 || ps_uncork(mv->ps_fd) != 0)
		stop_cork_timer(mv);
}

/* Every 2 ms until CRIU's cork is found and taken off (see ps_uncork). */
static void start_cork_timer(struct master *m, struct move *mv)
{
	struct itimerspec every = { .it_interval = { 0, 2000000 }, .it_value = { 0, 2000000 } };

	mv->loop = m->loop;
	mv->cork_timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (mv->cork_timer < 0)
		return; /* only slower */
	if (timerfd_settime(mv->cork_timer, 0, &every, NULL) < 0 ||
	    loop_add(m->loop, mv->cork_timer, EPOLLIN, on_cork_timer, mv) < 0) {
		close(mv->cork_timer);
		mv->cork_timer = -1;
	}
}

static int move_freeze(struct move *mv, char *err, size_t errlen);
static int exec_frozen(struct move *mv, int ps_in, char *err, size_t errlen);
static int move_dump(struct master *m, struct move *mv, struct master_node *n, const char *criu,
		     int ps_in, char *err, size_t errlen);

/* The target listens on port (0: a small move, no page stream): connect,
 * freeze, dump (the pages go over that connection), send the rest.  On
 * failure err says why; the caller thaws it (move_free). */
static int move_start(struct master *m, struct move *mv, struct master_node *n, uint16_t port,
		      char *err, size_t errlen)
{
	char criu[PATH_MAX];
	_cleanup_close_ int ps = -1;
	int r;

	if (criu_locate(m->cfg.criu, criu, sizeof(criu)) < 0) {
		snprintf(err, errlen, "no CRIU on the master (see docs/criu.md)");
		return -ENOENT;
	}
	r = port == 0 ? 0 : ps_connect(n->addr, port, PS_CONNECT_MS, mv->token, sizeof(mv->token), &ps);
	if (r < 0) {
		snprintf(err, errlen, "cannot connect to node %d's page stream: %s", mv->node,
			 strerror(-r));
		return r;
	}
	/* Encrypted links: so is the page stream, under the move's keys. */
	if (ps >= 0 && m->cfg.encrypt) {
		r = page_stream_seal(&m->secret, mv->token, sizeof(mv->token), true, &ps);
		if (r < 0) {
			snprintf(err, errlen, "cannot seal the page stream: %s", strerror(-r));
			return r;
		}
	}
	r = move_freeze(mv, err, errlen);
	if (r < 0)
		return r;
	if (fault_at("master-die-frozen"))
		kill(getpid(), SIGKILL);
	if (mv->exec_traced)
		return exec_frozen(mv, take_fd(&ps), err, errlen);
	return move_dump(m, mv, n, criu, take_fd(&ps), err, errlen);
}

/*
 * bproc_execmove (MoveRequest.exec_traced).  The process is frozen while
 * its tracer still holds it at its exec: a traced stop counts as frozen
 * for the cgroup v2 freezer.  CRIU cannot seize a traced task, so the
 * tracer lets go now (MoveFrozen); the process leaves its traced stop
 * into the freezer's trap, before the new program's first instruction,
 * and the dump starts on MoveReleased (or once the tracer is gone).
 */
static int exec_frozen(struct move *mv, int ps_in, char *err, size_t errlen)
{
	_cleanup_close_ int ps = ps_in;
	Bproc__MoveFrozen frozen = BPROC__MOVE_FROZEN__INIT;
	Msg msg = BPROC__MSG__INIT;
	int r;

	/* Its tracer died holding it, which killed it (PTRACE_O_EXITKILL). */
	if (!mv->client || mv->client->closed) {
		snprintf(err, errlen, "its launcher went away");
		return -ECONNRESET;
	}
	frozen.pid = mv->pid;
	msg.body_case = BPROC__MSG__BODY_MOVE_FROZEN;
	msg.move_frozen = &frozen;
	msg.has_id = true;
	msg.id = mv->client_id;
	r = conn_send(mv->client, &msg);
	if (r < 0) {
		snprintf(err, errlen, "cannot tell the launcher the program is frozen: %s",
			 strerror(-r));
		return r;
	}
	mv->ps_fd = take_fd(&ps);
	mv->state = MOVE_RELEASING;
	return 0;
}

/* Whether pid is traced (TracerPid in its status); false if it is gone. */
static bool is_traced(pid_t pid, pid_t *tracer)
{
	char path[64], line[256];
	_cleanup_fclose_ FILE *f = NULL;
	int t = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "TracerPid: %d", &t) == 1)
			break;
	if (tracer)
		*tracer = t;
	return t != 0;
}

/* Its tracer let go (or went away): the freezer alone holds it; dump. */
static void exec_released(struct master *m, struct move *mv)
{
	struct master_node *n = master_find_node(m, mv->node);
	char err[512] = "", criu[PATH_MAX];
	int r;

	if (!n || n->state != BPROC_NODE_UP || !n->conn) {
		finish_move(m, mv, -BE_NODEDOWN, "the node went down during the move");
		return;
	}
	/* Out of its traced stop it enters the freezer's trap: frozen again. */
	r = freezer_freeze(&mv->freezer);
	if (r < 0) {
		snprintf(err, sizeof(err), "cannot freeze process %d: %s", mv->pid, strerror(-r));
	} else if (is_traced(mv->pid, NULL)) {
		r = -EBUSY;
		snprintf(err, sizeof(err), "process %d is still traced", mv->pid);
	} else if (criu_locate(m->cfg.criu, criu, sizeof(criu)) < 0) {
		r = -ENOENT;
		snprintf(err, sizeof(err), "no CRIU on the master (see docs/criu.md)");
	} else {
		int ps = mv->ps_fd;

		mv->ps_fd = -1;
		r = move_dump(m, mv, n, criu, ps, err, sizeof(err));
	}
	if (r < 0)
		finish_move(m, mv, r, err[0] ? err : strerror(-r));
}

int master_move_exec(struct master *m, struct conn *client, uint64_t id, pid_t pid, int node,
		     uid_t uid, gid_t gid)
{
	struct move *mv = NULL;
	pid_t tracer;
	int r;

	/* Only its tracer, holding it at its exec, asks this. */
	if (!client->has_creds || !is_traced(pid, &tracer) || tracer != client->creds.pid)
		return conn_reply(client, id, -EINVAL,
				  "process %d is not stopped at its exec under the asker's trace", pid);
	r = move_begin(m, client, id, pid, node, uid, gid, -1, false, false, tracer, NULL, &mv);
	if (mv)
		mv->exec_traced = true;
	return r;
}

void master_move_released(struct master *m, struct conn *client, pid_t pid)
{
	for (struct move *mv = moves; mv; mv = mv->next)
		if (mv->pid == pid && mv->client == client && mv->exec_traced) {
			if (mv->state == MOVE_RELEASING)
				exec_released(m, mv);
			return;
		}
}

/* A process that waits for its own move (bproc_move, each child of a
 * launch) reads its wake pipe: the cgroup says which fd, and which pipe
 * (its /proc link, so that no other process is taken for it), for a
 * master after us to wake it if we die (master_recover.c). */
static void note_wake_pipe(struct move *mv)
{
	char path[64], pipe[64], name[32], note[96];
	ssize_t n;
	int r;

	if (mv->wake_fd < 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)mv->pid, mv->wake_fd);
	n = readlink(path, pipe, sizeof(pipe) - 1);
	if (n <= 0)
		return;
	pipe[n] = '\0';
	snprintf(name, sizeof(name), "wake.%d", (int)mv->pid);
	snprintf(note, sizeof(note), "%d %s", mv->wake_fd, pipe);
	r = freezer_note(&mv->freezer, name, note);
	if (r < 0)
		pr_warn("process %d: cannot note its wake pipe on its cgroup: %s", (int)mv->pid,
			strerror(-r));
}

/* Where its copy goes, for a master after us that finds the ghost half
 * made: that node holds the copy (master_recover.c, master_held.c). */
static void note_target(struct move *mv)
{
	char node[16];
	int r;

	snprintf(node, sizeof(node), "%d", mv->node);
	r = freezer_note(&mv->freezer, "to", node);
	if (r < 0)
		pr_warn("process %d: cannot note its target node on its cgroup: %s", (int)mv->pid,
			strerror(-r));
}

/* Freeze the process and its descendants, silently (migrate/freezer.c). */
static int move_freeze(struct move *mv, char *err, size_t errlen)
{
	char name[64];
	pid_t pid = mv->pid;
	int r;

	snprintf(name, sizeof(name), "move-%d", (int)pid);
	/* The process and all its descendants move together. */
	r = freezer_create(&mv->freezer, name);
	if (r == 0)
		r = move_tree_freeze(mv->tree, &mv->freezer, pid);
	for (int i = 1; r == 0 && mv->uid != 0 && i < mv->tree->n; i++) {
		uid_t o;
		pid_t pp;

		if (process_owner(mv->tree->pid[i], &o, &pp) == 0 && o != mv->uid) {
			snprintf(err, errlen, "process %d (a child of %d) is not yours",
				 mv->tree->pid[i], pid);
			return -EPERM;
		}
	}
	if (r < 0) {
		snprintf(err, errlen, "cannot freeze process %d: %s", pid, strerror(-r));
		return r;
	}
	note_wake_pipe(mv);
	note_target(mv);
	/* bproc_execmove's program: a master after us kills it, not thaws
	 * it (master_recover.c). */
	if (mv->exec_traced && (r = freezer_note(&mv->freezer, "exec", "1")) < 0)
		pr_warn("process %d: cannot note on its cgroup that it waits at its exec: %s",
			(int)pid, strerror(-r));
	/* A pipe between the root and another process of the tree (a shell's
	 * process substitution, say) moves whole: it is not forwarded. */
	for (int i = 0; i < mv->npipes;) {
		if (move_tree_holds_other_end(mv->tree, mv->pipes[i].key, mv->pipes[i].fd))
			mv->pipes[i] = mv->pipes[--mv->npipes];
		else
			i++;
	}
	return 0;
}

/* CRIU dumps the frozen process: full copy beside our loop (dump_ended()
 * goes on), lazy until its images are out.  ps: the page stream, or -1. */
static int move_dump(struct master *m, struct move *mv, struct master_node *n, const char *criu,
		     int ps_in, char *err, size_t errlen)
{
	_cleanup_close_ int ps = ps_in;
	pid_t pid = mv->pid;
	int r;

	mv->dump_start_ms = now_ms();
	if (!mv->lazy) {
		/* A big process takes seconds: the loop goes on meanwhile
		 * (heartbeats); dump_ended() takes over when CRIU exits. */
		r = criu_dump_stream_start(criu, pid, mv->freezer.path, mv->dir, ps, &mv->criu_pid);
		if (r < 0) {
			snprintf(err, errlen, "cannot start CRIU: %s", strerror(-r));
			return r;
		}
		mv->ps_fd = take_fd(&ps);
		mv->state = MOVE_DUMPING;
		if (mv->ps_fd >= 0)
			start_cork_timer(m, mv);
		return 0;
	}
	r = criu_dump_lazy_start(criu, pid, mv->freezer.path, mv->dir, ps, &mv->criu_pid, err,
				 errlen);
	if (r == 0)
		mv->ps_fd = take_fd(&ps);
	if (r == 0)
		r = send_images(mv, n, err, errlen);
	if (r < 0) {
		stop_lazy_dump(mv);
		pr_warn("move of %d to node %d: %s", pid, mv->node, err);
		return r;
	}
	return 0;
}

/* The images are complete in mv->dir: to the target, which restores. */
static int send_images(struct move *mv, struct master_node *n, char *err, size_t errlen)
{
	int r = move_send_images(n->conn, mv->id, mv->dir, mv->pid, mv->pipes, mv->npipes,
				 mv->movable.tty_rdev ? mv->tty_out : MOVE_NO_TTY, mv->tree->pid,
				 mv->tree->n, node_wake_fd(mv), mv->lazy, err, errlen);

	if (r < 0)
		return r;
	mv->state = MOVE_RESTORING;
	if (mv->group && mv->group->template_id != mv->id) {
		pr_info("move %llu: process %d, its image made from the dump of %d, sent to node %d",
			(unsigned long long)mv->id, mv->pid, mv->group->template_pid, mv->node);
		return 0;
	}
	pr_info("move %llu: process %d (%d in its tree) dumped in %lld ms%s; the rest sent to node %d",
		(unsigned long long)mv->id, mv->pid, mv->tree->n, now_ms() - mv->dump_start_ms,
		mv->lazy    ? " (its memory stays here, served on demand)" :
		mv->small ? " (its pages with it)" :
			    " (its pages streamed)",
		mv->node);
	return 0;
}

/*
 * One dump for many nodes (VMoveRequest, bproc_vexecmove, bpsh on several
 * nodes).  The processes are the asker's children, forked from one point,
 * each waiting on its wake pipe to be moved, all running one program: the
 * same image but for the pid.  Each is a move of its own (checks, freezer,
 * ghost, commit, its own outcome through its wake pipe); the first of them
 * to pass its checks is dumped, and the others are restored from that
 * image, each with its own pid (migrate/image_pid.c).  Whatever keeps one
 * from taking the shared image (a different program or streams, no image
 * because that dump failed) makes it dump itself, as any move.
 */

/* Its image, from the group's: ready to send once it is frozen. */
static int group_take_image(struct move *tpl, struct move *c, char *err, size_t errlen)
{
	if (!c->dir[0])
		snprintf(c->dir, sizeof(c->dir), IMAGES_DIR "/move-%llu", (unsigned long long)c->id);
	if (mkdir(c->dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot make the image directory: %s", strerror(errno));
		return -errno;
	}
	return image_copy_for_pid(tpl->dir, tpl->pid, c->dir, c->pid, err, errlen);
}

/* Its stdio pipes under the template's keys (what the image names),
 * over its own fds. */
static int group_keys(struct move *c, char *err, size_t errlen)
{
	const struct launch_group *lg = c->group;

	if (c->npipes != lg->npipes) {
		snprintf(err, errlen, "process %d: its standard streams are not like the others'",
			 c->pid);
		return -EINVAL;
	}
	for (int i = 0; i < c->npipes; i++) {
		int k = 0;

		while (k < lg->npipes && lg->pipes[k].fd != c->pipes[i].fd)
			k++;
		if (k == lg->npipes) {
			snprintf(err, errlen, "process %d: its fd %d is not like the others'", c->pid,
				 c->pipes[i].fd);
			return -EINVAL;
		}
		snprintf(c->pipes[i].key, sizeof(c->pipes[i].key), "%s", lg->pipes[k].key);
	}
	/* Restored as the program: its ghost shows the program's name. */
	if (lg->exec && lg->argv && c->id != lg->template_id) {
		char **argv = dup_argv(lg->argv);

		if (!argv) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		free_argv(c->tree->argv[0]);
		c->tree->argv[0] = argv;
		snprintf(c->tree->comm[0], sizeof(c->tree->comm[0]), "%s", lg->comm);
	}
	c->group_waiting = false;
	c->dump_start_ms = now_ms();
	return 0;
}

/* Frozen, with its image: to its node. */
static int group_send(struct move *c, struct master_node *n, char *err, size_t errlen)
{
	int r = group_keys(c, err, errlen);

	return r < 0 ? r : send_images(c, n, err, errlen);
}

/* A fresh token for c, then its node is told to expect it (MoveExpect). */
static int group_expect(struct master_node *n, struct move *c)
{
	if (getrandom(c->token, sizeof(c->token), 0) != (ssize_t)sizeof(c->token))
		return -EAGAIN;
	return send_move_expect(n->conn, c);
}

/*
 * The fan-out: relay (frozen, with its image) goes to its node with the
 * copies kids[] for that node to pass on (LaunchRelay between its
 * ImageChunks and its RestoreRequest, so the others do not wait for its
 * restore).  A kid that cannot go that way (its node takes no moves from
 * nodes, or is not told to expect it) is sent by us.  0, or the relay's
 * own failure (its kids are then sent by us).
 */
static int group_send_relay(struct master *m, struct move *relay, struct master_node *rn,
			    struct move **kids, int nkids, char *err, size_t errlen)
{
	struct launch_target *t = calloc((size_t)nkids, sizeof(*t));
	struct move_restore_wire *w = calloc((size_t)nkids, sizeof(*w));
	char (*addr)[INET_ADDRSTRLEN] = calloc((size_t)nkids, sizeof(*addr));
	/* Which kids went from us at once (they may be gone since). */
	bool *direct = calloc((size_t)nkids, sizeof(*direct));
	struct move_restore_wire own;
	Msg msg = BPROC__MSG__INIT;
	char list[256] = "";
	int nt = 0, done = 0, r;

	r = t && w && addr && direct ? group_keys(relay, err, errlen) : -ENOMEM;
	if (r == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	if (r == 0)
		r = move_send_image_files(rn->conn, relay->id, relay->dir, err, errlen);
	for (int i = 0; r == 0 && i < nkids; i++, done++) {
		struct move *c = kids[i];
		struct master_node *n = master_find_node(m, c->node);
		char kerr[512] = "";
		struct in_addr a;
		size_t len = strlen(list);

		if (!n || !n->conn || !n->move_port || group_keys(c, kerr, sizeof(kerr)) < 0 ||
		    group_expect(n, c) < 0) {
			int kr = n && n->conn ? group_send(c, n, kerr, sizeof(kerr)) : -BE_NODEDOWN;

			direct[i] = true;
			if (kr < 0)
				finish_move(m, c, kr, kerr[0] ? kerr : bproc_strerror(-kr));
			continue;
		}
		a = master_node_addr_for(m, n, rn);
		inet_ntop(AF_INET, &a, addr[nt], sizeof(addr[nt]));
		move_restore_fill(&w[nt], c->id, c->pid, c->pipes, c->npipes,
				  c->movable.tty_rdev ? c->tty_out : MOVE_NO_TTY, c->tree->pid,
				  c->tree->n, node_wake_fd(c), false);
		t[nt] = (struct launch_target){ .move_id = c->id, .node = c->node, .addr = addr[nt],
						.port = n->move_port, .token = c->token,
						.token_len = sizeof(c->token), .restore = &w[nt].req };
		nt++;
		c->relayed = true;
		c->relay_node = relay->node;
		c->state = MOVE_RESTORING;
		pr_info("move %llu: process %d, its image made from the dump of %d, to node %d "
			"through node %d", (unsigned long long)c->id, c->pid,
			relay->group->template_pid, c->node, relay->node);
		snprintf(list + len, sizeof(list) - len, "%s%d", len ? "," : "", c->node);
	}
	if (r == 0)
		r = launch_relay_send(rn->conn, relay->id, relay->pid, t, nt);
	if (r == 0) {
		move_restore_fill(&own, relay->id, relay->pid, relay->pipes, relay->npipes,
				  relay->movable.tty_rdev ? relay->tty_out : MOVE_NO_TTY,
				  relay->tree->pid, relay->tree->n, node_wake_fd(relay), false);
		msg.body_case = BPROC__MSG__BODY_RESTORE_REQUEST;
		msg.restore_request = &own.req;
		r = conn_send(rn->conn, &msg);
	}
	if (r == 0) {
		relay->state = MOVE_RESTORING;
		pr_info("move %llu: process %d, its image made from the dump of %d, sent to node %d, "
			"which passes it on to node%s %s", (unsigned long long)relay->id, relay->pid,
			relay->group->template_pid, relay->node, nt == 1 ? "" : "s", list);
	} else {
		if (!err[0])
			snprintf(err, errlen, "cannot reach node %d: %s", relay->node, strerror(-r));
		/* Not one of them was passed on: the kids go from us (those
		 * looked at and not relayed went from us already). */
		for (int i = 0; i < nkids; i++) {
			struct master_node *n;
			char kerr[512] = "";
			int kr;

			if (i < done && direct[i])
				continue;
			n = master_find_node(m, kids[i]->node);
			if (kids[i]->relayed) {
				kids[i]->relayed = false;
				send_commit(n, kids[i]->id, false); /* drop the expectation */
				kr = n && n->conn ? send_images(kids[i], n, kerr, sizeof(kerr)) :
						    -BE_NODEDOWN;
			} else {
				kr = n && n->conn ? group_send(kids[i], n, kerr, sizeof(kerr)) :
						    -BE_NODEDOWN;
			}
			if (kr < 0)
				finish_move(m, kids[i], kr, kerr[0] ? kerr : bproc_strerror(-kr));
		}
	}
	free(t);
	free(w);
	free(addr);
	free(direct);
	return r;
}

/* The copies ready[] (frozen, with their images) go out: from us, or with
 * more than launchfanout of them through a tree of their nodes. */
static void group_fan_out(struct master *m, struct move **ready, int nready)
{
	int *relay_of = calloc((size_t)(nready > 0 ? nready : 1), sizeof(*relay_of));
	struct move **kids = calloc((size_t)(nready > 0 ? nready : 1), sizeof(*kids));
	int width = relay_of && kids ? m->cfg.launchfanout : 0;
	int first;

	/* By node number: the first tier is the lowest nodes, whatever order
	 * their checks passed in. */
	for (int i = 1; i < nready; i++)
		for (int j = i; j > 0 && ready[j - 1]->node > ready[j]->node; j--) {
			struct move *t = ready[j];

			ready[j] = ready[j - 1];
			ready[j - 1] = t;
		}
	/* Out of memory: no tree, we send them all. */
	first = relay_of && kids ? launch_tree_plan(nready, width, relay_of) : nready;
	if (!kids) {
		free(relay_of);
		relay_of = NULL;
	}
	for (int i = 0; i < nready; i++) {
		struct master_node *n;
		char err[512] = "";
		int nkids = 0, r;

		/* A relay sends it (and it may be gone: do not look at it). */
		if (relay_of && relay_of[i] >= 0)
			continue;
		n = master_find_node(m, ready[i]->node);
		for (int j = first; relay_of && j < nready; j++)
			if (relay_of[j] == i)
				kids[nkids++] = ready[j];
		if (!n || !n->conn)
			r = -BE_NODEDOWN;
		else if (nkids == 0)
			r = group_send(ready[i], n, err, sizeof(err));
		else
			r = group_send_relay(m, ready[i], n, kids, nkids, err, sizeof(err));
		if (r < 0)
			finish_move(m, ready[i], r, err[0] ? err : bproc_strerror(-r));
	}
	free(relay_of);
	free(kids);
}

/* Its checks passed (master_path_check_reply). */
static int group_checked(struct master *m, struct move *mv, struct master_node *n, char *err,
			 size_t errlen)
{
	struct launch_group *lg = mv->group;
	int r = move_prepare(mv, n->conn, err, errlen);

	if (r < 0)
		return r;
	if (lg->failed)
		return move_start(m, mv, n, 0, err, errlen);
	/* Exec first: the template was named (the program at its exec). */
	if (lg->template_id == 0 || lg->template_id == mv->id) {
		lg->template_id = mv->id;
		lg->template_pid = mv->pid;
		lg->npipes = mv->npipes;
		memcpy(lg->pipes, mv->pipes, sizeof(lg->pipes));
		return move_start(m, mv, n, 0, err, errlen);
	}
	r = move_freeze(mv, err, errlen);
	if (r < 0)
		return r;
	if (mv->group_images)
		return group_send(mv, n, err, errlen);
	mv->group_waiting = true;
	mv->state = MOVE_DUMPING;
	return 0;
}

/* The template's dump ended: the others take its image, or dump themselves. */
static void group_dumped(struct master *m, struct move *tpl, bool ok)
{
	struct launch_group *lg = tpl->group;
	char criu[PATH_MAX];

	struct move *ready[BPROC_MAX_VMOVE];
	int nready = 0;

	lg->dumped = true;
	lg->failed = !ok;
	if (ok && lg->exec && tpl->tree && tpl->tree->argv[0]) {
		lg->argv = dup_argv(tpl->tree->argv[0]);
		snprintf(lg->comm, sizeof(lg->comm), "%s", tpl->tree->comm[0]);
	}
	for (struct move *c = moves, *next; c; c = next) {
		struct master_node *n = master_find_node(m, c->node);
		char err[512] = "";
		int r = 0;

		next = c->next;
		if (c == tpl || c->group != lg)
			continue;
		if (ok && group_take_image(tpl, c, err, sizeof(err)) == 0) {
			c->group_images = true;
			if (!c->group_waiting)
				continue;
			/* Those waiting now go out together (group_fan_out). */
			if (n && n->conn && nready < BPROC_MAX_VMOVE) {
				ready[nready++] = c;
				continue;
			}
			r = n && n->conn ? group_send(c, n, err, sizeof(err)) : -BE_NODEDOWN;
		} else {
			/* No image for it: it dumps itself, now if it waits. */
			if (ok)
				pr_warn("move %llu: %s; process %d dumps itself",
					(unsigned long long)c->id, err, c->pid);
			group_unref(lg);
			c->group = NULL;
			if (!c->group_waiting)
				continue;
			c->group_waiting = false;
			if (!n || !n->conn)
				r = -BE_NODEDOWN;
			else if (criu_locate(m->cfg.criu, criu, sizeof(criu)) < 0)
				r = -ENOENT;
			else
				r = move_dump(m, c, n, criu, -1, err, sizeof(err));
		}
		if (r < 0)
			finish_move(m, c, r, err[0] ? err : strerror(-r));
	}
	group_fan_out(m, ready, nready);
}

/* What pid runs, in exe; 0 or -errno. */
static int exe_of(pid_t pid, char *exe, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, exe, len - 1);
	if (n < 0)
		return -errno;
	exe[n] = '\0';
	return 0;
}

int master_vmove(struct master *m, struct conn *client, uint64_t id,
		 const Bproc__VMoveRequest *req, uid_t uid, gid_t gid)
{
	struct launch_group *lg;
	struct move *tpl = NULL;
	size_t n = req->n_pids;
	int t = req->has_exec_template ? req->exec_template : -1;
	pid_t tracer;

	if (!client->has_creds)
		return conn_reply(client, id, -ENOTSUP,
				  "a launch on many nodes starts on the master only, for now");
	if (n == 0 || n > BPROC_MAX_VMOVE || req->n_nodes != n || req->n_wake_fds != n)
		return conn_reply(client, id, -EINVAL,
				  "a launch needs as many nodes and wake fds as processes (1 to %d)",
				  BPROC_MAX_VMOVE);
	/* Exec first: only its tracer, holding it at its exec, names it. */
	if (t >= 0 && ((size_t)t >= n || !req->has_exec_template_id ||
		       req->exec_template_id == id || !is_traced(req->pids[t], &tracer) ||
		       tracer != client->creds.pid))
		return conn_reply(client, id, -EINVAL,
				  "the launch's template is not stopped at its exec under the asker's trace");
	lg = calloc(1, sizeof(*lg));
	if (!lg && t >= 0)
		return conn_reply(client, id, -ENOMEM, "out of memory");
	if (lg && t >= 0) {
		/* The template first: the others' nodes must have its files,
		 * not theirs.  Refused, it is told so (the asker kills it) and
		 * the others go as without it: each dumps itself. */
		lg->exec = true;
		move_begin(m, client, req->exec_template_id, req->pids[t], req->nodes[t], uid, gid, -1,
			   false, false, tracer, NULL, &tpl);
		if (tpl) {
			char prog[PATH_MAX] = "";

			exe_of(tpl->pid, prog, sizeof(prog));
			pr_info("launch on %zu node%s: process %d, held at its exec of %s, is dumped once for all",
				n, n == 1 ? "" : "s", tpl->pid, prog);
			tpl->exec_traced = true;
			tpl->group = lg;
			lg->refs++;
			lg->template_id = tpl->id;
			lg->template_pid = tpl->pid;
		} else {
			lg->failed = true;
		}
	}
	/* What the others run: the one to compare with (not the template). */
	if (lg && !lg->failed && exe_of(req->pids[t == 0 && n > 1 ? 1 : 0], lg->exe, sizeof(lg->exe)) < 0)
		lg->failed = true;
	for (size_t i = 0; i < n; i++) {
		char exe[PATH_MAX];
		pid_t kids[1];
		struct move *mv = NULL;

		if ((int)i == t)
			continue;
		move_begin(m, NULL, 0, req->pids[i], req->nodes[i], uid, gid, req->wake_fds[i],
			   false, false, 0, tpl ? &tpl->movable : NULL, &mv);
		/* Only a lone process of that program can take the image. */
		if (!mv || !lg || lg->failed || !mv->small || mv->movable.tty_stdio ||
		    freezer_children(mv->pid, kids, 1) != 0 ||
		    exe_of(mv->pid, exe, sizeof(exe)) < 0 || strcmp(exe, lg->exe) != 0)
			continue;
		mv->group = lg;
		lg->refs++;
	}
	if (lg && lg->refs == 0)
		group_unref(lg);
	return conn_reply(client, id, 0, "%s", "");
}

/*
 * Ghosts a master before us left behind (it died, or was restarted): the
 * ghost program runs on in each, untraced.  We trace them again at once,
 * and take each back when its node's slave, reconnecting, says its process
 * still runs there (Hello.running): from then on it is a ghost as any.
 * Those no slave claims within claimtime (bproc.conf(5)) end as killed, as the ghosts
 * of a node that went down.  Meanwhile a signal sent to one is its own
 * (delivered to the ghost, not forwarded).
 */
static pid_t *orphans;
static int norphans;
static long long orphans_until;

/* Traced by us: noted, to be taken back when its node claims it. */
static int orphan_add(pid_t pid)
{
	pid_t *more = realloc(orphans, (size_t)(norphans + 1) * sizeof(*orphans));

	if (!more)
		return -ENOMEM;
	orphans = more;
	orphans[norphans++] = pid;
	return 0;
}

static int orphan_index(pid_t pid)
{
	for (int i = 0; i < norphans; i++)
		if (orphans[i] == pid)
			return i;
	return -1;
}

void master_ghosts_adopt_scan(struct master *m)
{
	char ghost_path[PATH_MAX], exe[PATH_MAX];
	size_t len;
	struct dirent *e;
	DIR *d;

	locate_ghost_program(exe, sizeof(exe));
	/* As /proc/PID/exe names it: no "..". */
	if (!realpath(exe, ghost_path))
		return;
	len = strlen(ghost_path);
	d = opendir("/proc");
	while (d && (e = readdir(d))) {
		long pid;

		if (parse_long(e->d_name, 2, 0x7fffffff, &pid) < 0 || pid == getpid() ||
		    exe_of((pid_t)pid, exe, sizeof(exe)) < 0)
			continue;
		/* The program may have been rebuilt since: "(deleted)". */
		if (strncmp(exe, ghost_path, len) != 0 ||
		    (exe[len] != '\0' && strcmp(exe + len, " (deleted)") != 0))
			continue;
		if (ptrace(PTRACE_SEIZE, (pid_t)pid, 0, PTRACE_O_TRACEEXEC | PTRACE_O_TRACESYSGOOD) < 0) {
			pr_warn("ghost %ld of a master before us: cannot trace it: %s", pid,
				strerror(errno));
			continue;
		}
		if (orphan_add((pid_t)pid) < 0)
			ptrace(PTRACE_DETACH, (pid_t)pid, 0, 0);
	}
	if (d)
		closedir(d);
	orphans_until = now_ms() + m->cfg.claimtime_ms;
	if (norphans)
		pr_info("%d ghost%s of a master before us found; their nodes have %d s to claim them",
			norphans, norphans == 1 ? "" : "s", m->cfg.claimtime_ms / 1000);
}

bool master_ghost_orphaned(pid_t pid)
{
	return orphan_index(pid) >= 0;
}

bool master_ghost_exists(pid_t pid)
{
	return find_ghost(pid) != NULL;
}

bool master_ghosts_claims_over(long long now)
{
	return now >= orphans_until;
}

void master_moves_clean_images(void)
{
	move_remove_dir(IMAGES_DIR);
}

int master_adopt_ghost(struct master *m, pid_t pid, int node)
{
	int i = orphan_index(pid), pidfd;
	struct ghost_entry *g;

	if (i < 0 || find_ghost(pid) || !(g = ghost_entry_new(m, pid, node)))
		return -ESRCH;
	orphans[i] = orphans[--norphans];
	/* It may be in a stop we did not see begin: a continue of its
	 * process sends it a SIGCONT, until it says otherwise. */
	g->ghost_stopped = true;
	/* Its output goes where the ghost's fds 1 and 2 point, and a stdin
	 * pipe of its is read for the process, as when it moved. */
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	for (int fd = 1; pidfd >= 0 && fd <= 2; fd++)
		g->out[fd].fd = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (pidfd >= 0) {
		struct move_pipe stdin_pipe[1];

		if (move_find_pipes(pid, 1u << 0, stdin_pipe) == 1)
			g->in_fd = (int)syscall(SYS_pidfd_getfd, pidfd, 0, 0);
		close(pidfd);
	}
	if (g->in_fd >= 0)
		loop_add(m->loop, g->in_fd, EPOLLIN, on_ghost_stdin, g);
	g->next = ghosts;
	ghosts = g;
	pr_info("ghost %d taken back: its process runs on node %d", pid, node);
	return 0;
}

int master_ghost_make_late(pid_t pid)
{
	char ghost_path[PATH_MAX], comm[64];
	char **argv = master_read_cmdline(pid, comm, sizeof(comm));
	int r;

	/* Noted first: a ghost made must not go unnoted for want of memory. */
	if (!argv || orphan_add(pid) < 0) {
		free_argv(argv);
		return -ENOMEM;
	}
	locate_ghost_program(ghost_path, sizeof(ghost_path));
	r = ghost_seize(pid);
	if (r == 0) {
		r = ghost_exec(pid, ghost_path, argv, comm, NULL);
		if (r < 0)
			ghost_release(pid);
	}
	free_argv(argv);
	if (r < 0)
		norphans--; /* the last noted: it is as it was */
	return r;
}

/* A stop or end of a ghost not yet taken back. */
static void orphan_event(pid_t pid, int status)
{
	struct ghost_event ev;
	int i = orphan_index(pid);

	if (i < 0 || ghost_decode(pid, status, getpid(), &ev) < 0)
		return;
	switch (ev.kind) {
	case GHOST_GONE:
		orphans[i] = orphans[--norphans];
		break;
	case GHOST_SIGNAL:
		ghost_resume(pid, ev.sig);
		break;
	case GHOST_STOPPED:
		ghost_listen(pid);
		break;
	case GHOST_OTHER:
		ghost_resume(pid, 0);
		break;
	}
}

void master_ghosts_orphans_tick(long long now)
{
	if (norphans == 0 || now < orphans_until)
		return;
	for (int i = 0; i < norphans; i++) {
		pr_warn("ghost %d: no node took its process back; it ends as killed", orphans[i]);
		kill(orphans[i], SIGKILL);
	}
	norphans = 0;
}

/* The full-copy dump's CRIU ended: on to the restore, or the process
 * runs on here. */
static void dump_ended(struct master *m, struct move *mv, int status)
{
	struct master_node *n = master_find_node(m, mv->node);
	char err[512] = "";
	int r;

	mv->criu_pid = 0;
	/* Every page is across: the target's page server sees the end. */
	if (mv->ps_fd >= 0) {
		close(mv->ps_fd);
		mv->ps_fd = -1;
	}
	r = criu_dump_finished(status, false, mv->dir, err, sizeof(err));
	if (r == 0 && fault_at("master-dump")) {
		r = -ECANCELED;
		snprintf(err, sizeof(err), "CRIU's dump failed (fault injected)");
	}
	if (mv->group && mv->group->template_id == mv->id)
		group_dumped(m, mv, r == 0);
	if (r == 0 && (!n || !n->conn)) {
		r = -BE_NODEDOWN;
		snprintf(err, sizeof(err), "the node went down during the move");
	}
	if (r == 0)
		r = send_images(mv, n, err, sizeof(err));
	if (r < 0) {
		pr_warn("move of %d to node %d: %s", mv->pid, mv->node, err);
		send_commit(n, mv->id, false);
		finish_move(m, mv, r, err);
	}
}

static void send_commit(struct master_node *n, uint64_t move_id, bool commit)
{
	Bproc__MoveCommit c = BPROC__MOVE_COMMIT__INIT;
	Msg msg = BPROC__MSG__INIT;

	if (!n || !n->conn)
		return;
	c.move_id = move_id;
	c.commit = commit;
	msg.body_case = BPROC__MSG__BODY_MOVE_COMMIT;
	msg.move_commit = &c;
	conn_send(n->conn, &msg);
}

static void forward_signal(struct master *m, const struct ghost_entry *g, int sig)
{
	struct master_node *n = master_find_node(m, g->node);
	Bproc__SignalProcess sp = BPROC__SIGNAL_PROCESS__INIT;
	Msg msg = BPROC__MSG__INIT;

	if (!n || !n->conn)
		return;
	sp.pid = g->pid;
	sp.sig = sig;
	msg.body_case = BPROC__MSG__BODY_SIGNAL_PROCESS;
	msg.signal_process = &sp;
	conn_send(n->conn, &msg);
}

static void finish_move(struct master *m, struct move *mv, int status, const char *why)
{
	struct ghost_entry *g = mv->from != BPROC_NODE_MASTER ? find_ghost(mv->pid) : NULL;

	if (mv->criu_pid > 0)
		stop_lazy_dump(mv);
	/* A template that ends without its dump: the others dump themselves. */
	if (mv->group && mv->group->template_id == mv->id && !mv->group->dumped)
		group_dumped(m, mv, false);
	/* A program stopped at its exec for bproc_execmove has not run an
	 * instruction: it must not run here, so it ends (killed: its
	 * parent sees SIGKILL, its launcher is told why). */
	if (status < 0 && mv->exec_traced) {
		pr_info("move %llu: process %d, stopped at its exec, is killed: %s",
			(unsigned long long)mv->id, mv->pid, why ? why : strerror(-status));
		kill(mv->pid, SIGKILL);
	}
	/* It runs again before the asker hears the move failed: a signal it
	 * sends at once (seen: lost) must find it running, not frozen. */
	if (status < 0 && mv->from == BPROC_NODE_MASTER)
		freezer_release(&mv->freezer);
	/* Relayed: its node drops what it expected or restored. */
	if (status < 0 && mv->relayed)
		send_commit(master_find_node(m, mv->node), mv->id, false);

	/* A failed move of a process of the master: it runs on here, so the
	 * waiting process (bproc_move, asker gone) learns it here.  From a
	 * node, the asker is that node's slave, which wakes it. */
	if (status < 0 && mv->from == BPROC_NODE_MASTER)
		answer(mv->client, mv->client_id, mv->pid, mv->wake_fd, status, "%s",
		       why ? why : strerror(-status));
	else if (mv->client && !mv->client->closed)
		conn_reply(mv->client, mv->client_id, status, "%s", why ? why : "");
	if (g) {
		/* Node to node: input flows again, and the signals sent
		 * meanwhile go to wherever the process runs now. */
		if (g->in_fd >= 0)
			loop_add(m->loop, g->in_fd, EPOLLIN, on_ghost_stdin, g);
		/* Added again, the terminal reports what waits in it now
		 * (epoll looks at it as it adds it). */
		if (g->tty_in >= 0)
			loop_add(m->loop, g->tty_in, EPOLLIN | EPOLLET, on_ghost_tty, g);
		for (int i = 0; i < mv->nheld; i++) {
			struct ghost_entry *h = find_ghost(mv->held_pid[i]);

			if (h && mv->held[i] == SIGWINCH)
				send_tty_size(h);
			if (h)
				forward_signal(m, h, mv->held[i]);
		}
	}
	move_unlink(mv);
	move_free(mv);
}

static struct move *find_move(uint64_t id)
{
	for (struct move *mv = moves; mv; mv = mv->next)
		if (mv->id == id)
			return mv;
	return NULL;
}

static struct move *moving(pid_t pid)
{
	for (struct move *mv = moves; mv; mv = mv->next)
		if (mv->pid == pid)
			return mv;
	return NULL;
}

/* The node-to-node move that takes pid's process along: its own, or one
 * of an ancestor on the same node (a ghost's parent is the ghost of its
 * real parent). */
static struct move *leaving_with(pid_t pid)
{
	struct ghost_entry *g = find_ghost(pid);

	/* Only ghosts can be moving: the walk ends at the first process
	 * that is not one. */
	for (int depth = 0; g && pid > 1 && find_ghost(pid) && depth < FREEZER_MAX_PIDS;
	     depth++) {
		struct move *mv = moving(pid);
		uid_t uid;
		pid_t ppid;

		if (mv)
			return mv->from == g->node ? mv : NULL;
		if (process_owner(pid, &uid, &ppid) < 0)
			return NULL;
		pid = ppid;
	}
	return NULL;
}

/* Node to node: both slaves are ready; the ghost takes its new node. */
static void commit_between_nodes(struct master *m, struct move *mv)
{
	struct ghost_entry *g = find_ghost(mv->pid);

	if (!g) {
		/* The ghost was killed meanwhile (SIGKILL, which went to
		 * the source): nothing must run. */
		send_commit(master_find_node(m, mv->node), mv->id, false);
		send_commit(master_find_node(m, mv->from), mv->id, false);
		finish_move(m, mv, -ESRCH, "the process was killed during the move");
		return;
	}
	if (fault_at("master-die-ready"))
		kill(getpid(), SIGKILL);
	/* The original is frozen: it never runs again, and the source kills
	 * it; only then can the copy run without two of it running.  Should
	 * we die between the two, the target holds its copy frozen and the
	 * next master lets it run (master_held.c). */
	send_commit(master_find_node(m, mv->from), mv->id, true);
	if (fault_at("master-die-commits"))
		kill(getpid(), SIGKILL);
	/* Streams whose readers are behind stay paused on the target, told
	 * before its copy runs (the source's pause went with the original). */
	for (size_t i = 0; i < (mv->n_out_tree ? mv->n_out_tree : 1); i++) {
		struct ghost_entry *c = i == 0 ? g : find_ghost(mv->out_tree[i]);

		for (int k = 0; c && c->node == mv->from && k < 3; k++)
			if (c->out_paused[k])
				send_output_flow_to(m, mv->node, c->pid, k, FLOW_PAUSE);
	}
	send_commit(master_find_node(m, mv->node), mv->id, true);
	g->node = mv->node;
	/* Its tree went with it: the ghosts of its descendants, and those
	 * born on the source node, which have none. */
	for (size_t i = 1; i < mv->n_out_tree; i++) {
		struct ghost_entry *c = find_ghost(mv->out_tree[i]);

		if (c && c->node == mv->from)
			c->node = mv->node;
		else
			master_proc_moved(m, mv->from, mv->node, mv->out_tree[i]);
	}
	pr_info("move %llu: process %d now runs on node %d (was on node %d)",
		(unsigned long long)mv->id, mv->pid, mv->node, mv->from);
	finish_move(m, mv, 0, NULL);
}

/* Node to node: the target expects the process and streams its pages in
 * on port: the source may dump. */
static void send_move_out(struct master *m, struct move *mv, uint16_t ps_port)
{
	Bproc__MoveOut out = BPROC__MOVE_OUT__INIT;
	Msg req = BPROC__MSG__INIT;
	struct master_node *target = master_find_node(m, mv->node);
	struct in_addr taddr = master_node_addr_for(m, target, master_find_node(m, mv->from));
	char addr[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &taddr, addr, sizeof(addr));
	out.move_id = mv->id;
	out.pid = mv->pid;
	/* The home node is the master to everyone but us. */
	out.target = mv->node == MASTER_HOME_NODE ? BPROC_NODE_MASTER : mv->node;
	out.addr = addr;
	out.port = target->move_port;
	out.token.data = mv->token;
	out.token.len = sizeof(mv->token);
	out.has_ps_port = true;
	out.ps_port = ps_port;
	out.has_lazy = mv->lazy;
	out.lazy = mv->lazy;
	if (mv->wake_fd >= 0) {
		out.has_wake_fd = true;
		out.wake_fd = mv->wake_fd;
	}
	req.body_case = BPROC__MSG__BODY_MOVE_OUT;
	req.move_out = &out;
	send_to_node(m, mv->from, &req);
}

/* The target's answer to MoveExpect: if ready, it prepares the page
 * stream (PrepareMove; master_prepare_result goes on). */
int master_move_reply(struct master *m, int node, const Msg *msg)
{
	struct master_node *src, *target = master_find_node(m, node);
	Bproc__PrepareMove pm = BPROC__PREPARE_MOVE__INIT;
	Msg req = BPROC__MSG__INIT;
	char addr[INET_ADDRSTRLEN];
	struct move *mv;

	if (!msg->has_id || !(msg->id & EXPECT_ID_BIT))
		return 0;
	mv = find_move(msg->id & ~EXPECT_ID_BIT);
	if (mv && mv->relayed && mv->node == node && msg->reply->status < 0) {
		char why[600];

		snprintf(why, sizeof(why), "node %d: %s", node,
			 msg->reply->message ? msg->reply->message : bproc_strerror(-msg->reply->status));
		finish_move(m, mv, msg->reply->status, why);
		return 1;
	}
	if (!mv || mv->node != node || mv->from == BPROC_NODE_MASTER)
		return 1;
	src = master_find_node(m, mv->from);
	if (msg->reply->status < 0 || !src) {
		char why[600];

		snprintf(why, sizeof(why), "node %d: %s", node,
			 msg->reply->message ? msg->reply->message : bproc_strerror(-msg->reply->status));
		finish_move(m, mv, msg->reply->status < 0 ? msg->reply->status : -BE_NODEDOWN, why);
		return 1;
	}
	/* Its pages go straight from the source's CRIU into a page server
	 * on the target, which takes them from the source's address only. */
	{
		struct in_addr saddr = master_node_addr_for(m, src, target);

		inet_ntop(AF_INET, &saddr, addr, sizeof(addr));
	}
	pm.move_id = mv->id;
	pm.pid = mv->pid;
	pm.has_lazy = mv->lazy;
	pm.lazy = mv->lazy;
	pm.source_addr = addr;
	pm.has_token = true;
	pm.token.data = mv->token;
	pm.token.len = sizeof(mv->token);
	req.body_case = BPROC__MSG__BODY_PREPARE_MOVE;
	req.prepare_move = &pm;
	mv->state = MOVE_PREPARING;
	conn_send(target->conn, &req);
	return 1;
}

/* The source dumped and sent the process, or could not (it runs on). */
void master_move_out_result(struct master *m, int node, const Bproc__MoveOutResult *res)
{
	struct move *mv = find_move(res->move_id);

	if (!mv || mv->from != node)
		return;
	if (res->status < 0 && mv->lazy && mv->source_done && !mv->restored && !mv->source_failed) {
		pr_warn("move %llu: node %d: %s; waiting for node %d's word", (unsigned long long)mv->id,
			node, res->message ? res->message : "", mv->node);
		mv->source_failed = res->status;
		mv->source_why = res->message ? strdup(res->message) : NULL;
		return;
	}
	if (res->status < 0) {
		pr_warn("move %llu: node %d could not send %d: %s", (unsigned long long)mv->id, node,
			mv->pid, res->message ? res->message : "");
		send_commit(master_find_node(m, mv->node), mv->id, false);
		finish_move(m, mv, res->status, res->message);
		return;
	}
	mv->source_done = true;
	if (res->n_tree > 0 && res->tree[0] == mv->pid) {
		mv->out_tree = calloc(res->n_tree, sizeof(*mv->out_tree));
		if (mv->out_tree) {
			memcpy(mv->out_tree, res->tree, res->n_tree * sizeof(*mv->out_tree));
			mv->n_out_tree = res->n_tree;
		}
	}
	if (mv->restored)
		commit_between_nodes(m, mv);
}

void master_path_check_reply(struct master *m, int node, const Bproc__PathCheckReply *rep)
{
	struct master_node *n = master_find_node(m, node);
	char err[600] = "";
	struct move *mv;
	int r;

	for (mv = moves; mv && mv->id != rep->move_id; mv = mv->next)
		;
	if (!mv || mv->node != node || !mv->checking) {
		pr_warn("node %d: path check answer for unknown move %llu", node,
			(unsigned long long)rep->move_id);
		return;
	}
	mv->checking = false;
	r = move_paths_checked(&mv->movable, rep, node, mv->pid, err, sizeof(err));
	if (r < 0) {
		finish_move(m, mv, r, err);
		return;
	}
	if (!n || !n->conn) {
		finish_move(m, mv, -BE_NODEDOWN, "the node went down during the move");
		return;
	}
	if (mv->group)
		r = group_checked(m, mv, n, err, sizeof(err));
	else if ((r = move_prepare(mv, n->conn, err, sizeof(err))) == 0 && mv->small)
		r = move_start(m, mv, n, 0, err, sizeof(err));
	if (r < 0)
		finish_move(m, mv, r, err[0] ? err : strerror(-r));
}

void master_prepare_result(struct master *m, int node, const Bproc__PrepareResult *res)
{
	struct master_node *n = master_find_node(m, node);
	char err[512] = "";
	struct move *mv;
	int r;

	for (mv = moves; mv && mv->id != res->move_id; mv = mv->next)
		;
	if (!mv || mv->node != node || mv->state != MOVE_PREPARING) {
		pr_warn("node %d: prepare result for unknown move %llu", node,
			(unsigned long long)res->move_id);
		return;
	}
	if (res->status < 0 || !res->has_port || res->port == 0 || res->port > 65535) {
		r = res->status < 0 ? res->status : -EPROTO;
		snprintf(err, sizeof(err), "node %d cannot take the process: %s", node,
			 res->message ? res->message : strerror(-r));
	} else if (!n || !n->conn) {
		r = -BE_NODEDOWN;
		snprintf(err, sizeof(err), "the node went down during the move");
	} else if (mv->from != BPROC_NODE_MASTER) {
		send_move_out(m, mv, (uint16_t)res->port);
		if (fault_at("master-die-moveout"))
			kill(getpid(), SIGKILL);
		r = 0;
	} else {
		r = move_start(m, mv, n, (uint16_t)res->port, err, sizeof(err));
	}
	if (r < 0) {
		/* The node drops what it prepared; ours thaws: it runs on. */
		send_commit(n, mv->id, false);
		finish_move(m, mv, r, err[0] ? err : strerror(-r));
	}
}

/*
 * A process of the tree that shares the root's stdout or stderr pipe: once
 * the root has ended, the slave sends what comes out of that pipe under
 * this process's pid, so keep copies of its ends of it too.
 */
static void member_output_fds(struct ghost_entry *c, const struct move *mv)
{
	struct move_pipe mine[3];
	int n = move_find_pipes(c->pid, 06, mine), pidfd;

	if (n <= 0 || (pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0)) < 0)
		return;
	for (int i = 0; i < mv->npipes; i++) {
		if (mv->pipes[i].fd == 0)
			continue;
		for (int k = 0; k < n; k++)
			if (strcmp(mine[k].key, mv->pipes[i].key) == 0 && c->out[mv->pipes[i].fd].fd < 0) {
				c->out[mv->pipes[i].fd].fd =
					(int)syscall(SYS_pidfd_getfd, pidfd, mine[k].fd, 0);
				break;
			}
	}
	close(pidfd);
}

void master_restore_result(struct master *m, int node, const Bproc__RestoreResult *res)
{
	struct master_node *n = master_find_node(m, node);
	struct ghost_early_signals early = { 0 };
	const char *why = "cannot make the ghost on the master; the process stays here";
	char ghost_path[PATH_MAX];
	struct ghost_entry *g;
	struct move *mv;
	int r;

	for (mv = moves; mv && mv->id != res->move_id; mv = mv->next)
		;
	/* The relay of a copy it could not pass on says so itself. */
	if (mv && mv->relayed && mv->relay_node == node && mv->node != node && res->status < 0) {
		finish_move(m, mv, res->status, res->message);
		return;
	}
	if (!mv || mv->node != node) {
		pr_warn("node %d: restore result for unknown move %llu", node,
			(unsigned long long)res->move_id);
		return;
	}
	if (res->status < 0) {
		pr_warn("move %llu: node %d could not restore %d: %s", (unsigned long long)mv->id, node,
			mv->pid, res->message ? res->message : "");
		if (mv->from != BPROC_NODE_MASTER)
			send_commit(master_find_node(m, mv->from), mv->id, false); /* thaw */
		finish_move(m, mv, res->status, res->message);
		return;
	}
	if (mv->from == BPROC_NODE_MASTER && mv->state != MOVE_RESTORING) {
		pr_warn("node %d: restore result for move %llu before its images were sent", node,
			(unsigned long long)mv->id);
		return;
	}
	if (mv->from != BPROC_NODE_MASTER && mv->source_failed) {
		/* Restored, but its pages cannot follow: it never runs. */
		send_commit(n, mv->id, false);
		finish_move(m, mv, mv->source_failed, mv->source_why);
		return;
	}
	if (mv->from != BPROC_NODE_MASTER) {
		mv->restored = true;
		if (mv->source_done)
			commit_between_nodes(m, mv);
		return;
	}

	if (mv->lazy && mv->criu_pid <= 0) {
		send_commit(n, mv->id, false);
		finish_move(m, mv, -EPIPE, "the page stream broke before the process ran on the node");
		return;
	}

	if (fault_at("master-die-restored"))
		kill(getpid(), SIGKILL);
	/* A launch on many nodes: a copy a relay passed on is restored; the
	 * others are wherever they are (restored, committed, in transit). */
	if (mv->relayed && fault_at("master-die-launch"))
		kill(getpid(), SIGKILL);
	/* The copies wait, stopped.  Now each original becomes its ghost;
	 * for a lazy move not yet: CRIU holds the original until every page
	 * is across (lazy_dump_ended). */
	g = ghost_entry_new(m, mv->pid, node);
	locate_ghost_program(ghost_path, sizeof(ghost_path));
	r = 0;
	if (!g)
		r = -ENOMEM;
	else if (fault_at("master-ghost"))
		r = -EIO;
	else if (mv->lazy && (r = freezer_mark_committed(&mv->freezer)) < 0)
		/* Said before the copy may run: a master after us that finds
		 * the original frozen must not thaw it (master_recover.c). */
		why = "cannot mark its cgroup committed (extended attributes); the process stays here";
	else if (!mv->lazy)
		r = move_tree_make_ghosts(mv->tree, &mv->freezer, ghost_path);
	if (r < 0) {
		/* Let go, as they were: move_free() thaws what is still frozen. */
		free(g);
		send_commit(n, mv->id, false);
		finish_move(m, mv, r, why);
		return;
	}
	/* Said before the copy may run, as for --lazy above: a master after
	 * us that finds a ghost of this move knows whether its copy was let
	 * run (master_recover.c).  Past the ghost's execve there is no way
	 * back, so a failure here only costs that knowledge. */
	if (!mv->lazy && (r = freezer_mark_committed(&mv->freezer)) < 0)
		pr_warn("move %llu: cannot mark its cgroup committed: %s", (unsigned long long)mv->id,
			strerror(-r));
	early = mv->tree->ghost[0].early;
	g->held = mv->lazy;
	g->tty_out = mv->tty_out;
	{
		/* Our own copies of the ghost's output fds: what the process
		 * writes on the node goes where these point. */
		int pidfd = (int)syscall(SYS_pidfd_open, g->pid, 0);

		if (pidfd >= 0 && mv->tty_out >= 0)
			g->out[mv->tty_out].fd =
				(int)syscall(SYS_pidfd_getfd, pidfd, mv->tty_out, 0);
		if (pidfd >= 0 && (mv->movable.tty_stdio & 1))
			g->tty_in = (int)syscall(SYS_pidfd_getfd, pidfd, 0, 0);
		if (g->tty_in >= 0)
			/* Edge-triggered: while the ghost is in the background,
			 * what is typed is the shell's, and is left alone. */
			loop_add(m->loop, g->tty_in, EPOLLIN | EPOLLET, on_ghost_tty, g);
		for (int i = 0; pidfd >= 0 && i < mv->npipes; i++) {
			int fd = (int)syscall(SYS_pidfd_getfd, pidfd, mv->pipes[i].fd, 0);

			if (mv->pipes[i].fd == 0)
				g->in_fd = fd;
			else
				g->out[mv->pipes[i].fd].fd = fd;
		}
		if (pidfd >= 0)
			close(pidfd);
		if (g->in_fd >= 0)
			loop_add(m->loop, g->in_fd, EPOLLIN, on_ghost_stdin, g);
	}
	g->next = ghosts;
	ghosts = g;
	/* The rest of the tree: ghosts with nothing to forward but signals
	 * and their ends.  Lazy, held as the root is: each original becomes
	 * its ghost once every page is across (lazy_dump_ended); a zombie
	 * has no ghost, as in a full copy. */
	for (int i = 1; i < mv->tree->n; i++) {
		bool member = mv->lazy ? !ghost_is_zombie(mv->tree->pid[i]) : mv->tree->ghost[i].made;
		struct ghost_entry *c;

		if (!member || !(c = ghost_entry_new(m, mv->tree->pid[i], node)))
			continue;
		c->held = mv->lazy;
		member_output_fds(c, mv);
		c->next = ghosts;
		ghosts = c;
	}
	send_commit(n, mv->id, true);
	/* A launch on many nodes: this copy runs, the others are wherever
	 * they are. */
	if (mv->group && fault_at("master-die-launched"))
		kill(getpid(), SIGKILL);
	for (int i = 0; i < early.n; i++)
		forward_signal(m, g, early.sig[i]);
	for (int i = 1; i < mv->tree->n; i++) {
		struct ghost_entry *c = find_ghost(mv->tree->pid[i]);
		const struct ghost_early_signals *e = &mv->tree->ghost[i].early;

		for (int k = 0; c && mv->tree->ghost[i].made && k < e->n; k++)
			forward_signal(m, c, e->sig[k]);
	}
	if (mv->lazy) {
		/* The asker is told now; the move lives on until the pages are
		 * across. */
		answer(mv->client, mv->client_id, mv->pid, mv->wake_fd, 0, "%s", "");
		mv->client = NULL;
		mv->wake_fd = -1;
		mv->state = MOVE_SERVING;
		pr_info("move %llu: process %d runs on node %d; its pages follow on demand",
			(unsigned long long)mv->id, mv->pid, node);
		if (fault_at("master-die-lazy"))
			kill(getpid(), SIGKILL);
		return;
	}
	pr_info("move %llu: process %d now runs on node %d", (unsigned long long)mv->id, mv->pid, node);
	finish_move(m, mv, 0, NULL);
}

/* Forget a ghost entry (the ghost is gone, or never was). */
static void ghost_entry_free(struct master *m, struct ghost_entry *g)
{
	for (struct ghost_entry **p = &ghosts; *p; p = &(*p)->next)
		if (*p == g) {
			*p = g->next;
			break;
		}
	for (int i = 0; i < 3; i++)
		output_queue_close(&g->out[i]);
	if (g->in_fd >= 0) {
		loop_remove(m->loop, g->in_fd);
		close(g->in_fd);
	}
	if (g->tty_in >= 0) {
		loop_remove(m->loop, g->tty_in);
		close(g->tty_in);
	}
	free(g);
}

/* The entry of member i of a lazy move's tree, still held, or NULL. */
static struct ghost_entry *held_member(const struct move *mv, int i)
{
	struct ghost_entry *g = find_ghost(mv->tree->pid[i]);

	return g && g->held ? g : NULL;
}

/*
 * Member i of a lazy move's tree, all its pages across: its original is its
 * ghost now (made), so what waited goes on (the signals sent to it meanwhile,
 * its end).  One whose ghost could not be made has none, as in a full copy;
 * if its original was dead before (a SIGKILL sent to it while CRIU held it
 * frozen: nothing else ends a frozen task), so is the copy.
 */
static void held_member_ghost(struct master *m, struct move *mv, int i, bool was_dead)
{
	struct ghost_entry *g = held_member(mv, i);
	const struct ghost_early_signals *e = &mv->tree->ghost[i].early;

	if (!g)
		return;
	if (!mv->tree->ghost[i].made) {
		if (was_dead && !g->exit_ordered) {
			pr_info("move %llu: process %d was killed while its pages were served; so is its copy",
				(unsigned long long)mv->id, g->pid);
			forward_signal(m, g, SIGKILL);
		}
		ghost_entry_free(m, g);
		return;
	}
	g->held = false;
	for (int k = 0; k < e->n; k++)
		forward_signal(m, g, e->sig[k]);
	/* Stopped on the node since its commit: so is its ghost now. */
	if (g->stop_wanted && !g->exit_deferred)
		ghost_order_stop(g->pid, g->stop_status);
	if (g->exit_deferred) {
		g->exit_ordered = true;
		output_drained(g);
	}
}

/*
 * The CRIU of a lazy move ended: every page is on the node (exit 0), or the
 * stream broke.  In the first case the originals, frozen again, become the
 * ghosts now, the whole tree.  In the second the copies on the node cannot
 * go on (their memory is incomplete; their slave kills them) and the
 * originals cannot either (the copies already ran): the tree dies as by
 * SIGKILL on both sides.
 */
static void lazy_dump_ended(struct master *m, struct move *mv, int status)
{
	struct ghost_entry *g = find_ghost(mv->pid);
	bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	bool was_dead[FREEZER_MAX_PIDS];
	char ghost_path[PATH_MAX];
	int r = -ECANCELED;

	mv->criu_pid = 0;
	if (g && g->exit_ordered) {
		/* Killed meanwhile (its node went down), with its tree. */
		for (int i = 0; i < mv->tree->n; i++)
			if ((g = held_member(mv, i)))
				ghost_entry_free(m, g);
		g = NULL;
	}
	if (g && ok) {
		for (int i = 0; i < mv->tree->n; i++) {
			char state = proc_state(mv->tree->pid[i]);

			was_dead[i] = state == 0 || state == 'Z' || state == 'X';
		}
		locate_ghost_program(ghost_path, sizeof(ghost_path));
		r = move_tree_make_ghosts(mv->tree, &mv->freezer, ghost_path);
		if (r == 0 && !mv->tree->ghost[0].made)
			r = -ESRCH;
		if (r == 0) {
			for (int i = 0; i < mv->tree->n; i++)
				held_member_ghost(m, mv, i, was_dead[i]);
			pr_info("move %llu: every page of %d (%d in its tree) is on node %d; its ghosts are in place",
				(unsigned long long)mv->id, mv->pid, mv->tree->n, mv->node);
		}
	}
	if (g && r < 0) {
		char reason[512] = "";

		if (!ok)
			criu_log_reason(mv->dir, "dump.log", reason, sizeof(reason));
		pr_err("move %llu: process %d (%d in its tree) is lost: %s; killed on node %d and here",
		       (unsigned long long)mv->id, mv->pid, mv->tree->n,
		       ok ? "cannot make its ghost after its pages went across" :
			    (reason[0] ? reason : "its page stream broke"),
		       mv->node);
		/* Every original, frozen or let go (a ghost that could not be
		 * made), and every copy: none of them may run on. */
		for (int i = 0; i < mv->tree->n; i++) {
			struct ghost_entry *c = held_member(mv, i);

			if (c && !c->exit_ordered)
				forward_signal(m, c, SIGKILL);
			kill(mv->tree->pid[i], SIGKILL);
			if (c)
				ghost_entry_free(m, c);
		}
	}
	move_unlink(mv);
	move_free(mv);
}

void master_process_status(struct master *m, int node, const Bproc__ProcessStatus *ps)
{
	struct ghost_entry *g = find_ghost(ps->pid);

	if (!g || g->node != node) {
		/* A process born on a node that moved in a tree to another:
		 * it has no ghost, and its end takes it off the list. */
		if (!WIFSTOPPED(ps->status) && !WIFCONTINUED(ps->status))
			master_proc_ended(m, node, ps->pid);
		return;
	}
	if (g->held) {
		/* No ghost yet to show it; its end, or its stop (a process
		 * moved while stopped stays so), waits for the ghost. */
		if (WIFSTOPPED(ps->status) || WIFCONTINUED(ps->status)) {
			g->stop_wanted = WIFSTOPPED(ps->status);
			g->stop_status = ps->status;
		} else {
			g->exit_deferred = true;
			g->exit_status = ps->status;
		}
		return;
	}
	if (WIFSTOPPED(ps->status)) {
		g->stop_wanted = true;
		ghost_order_stop(g->pid, ps->status);
		return;
	}
	if (WIFCONTINUED(ps->status)) {
		/* Ours, so let through: the ghost continues and the parent is
		 * told, as it would be of the real process.  Only to a ghost
		 * in its stop: one that runs was continued already (a SIGCONT
		 * sent to it, which we passed on, is what continued the
		 * process), and a SIGCONT would drop a stop signal sent to it
		 * since and not yet taken (the kernel does that), which its
		 * process would then never get (seen: the parent's
		 * SIGCONT, then its SIGSTOP, never stopped it). */
		g->stop_wanted = false;
		if (g->ghost_stopped)
			kill(g->pid, SIGCONT);
		return;
	}
	g->exit_ordered = true;
	/* Everything it printed first, then its end: readers of its output
	 * must have it all when the parent learns it ended. */
	if (output_queue_pending(&g->out[0]) || output_queue_pending(&g->out[1]) ||
	    output_queue_pending(&g->out[2])) {
		g->exit_deferred = true;
		g->exit_status = ps->status;
		return;
	}
	ghost_order_exit(g->pid, ps->status);
}

/* The node is gone, and so are its processes: as if killed. */
void master_ghosts_node_down(struct master *m, int node)
{
	(void)m;
	for (struct ghost_entry *g = ghosts; g; g = g->next)
		if (g->node == node && !g->exit_ordered) {
			g->exit_ordered = true;
			kill(g->pid, SIGKILL);
		}
	/* Moves to that node cannot finish: the originals run on (a node's
	 * is thawed by its slave).  Moves from it: the process is gone, and
	 * the target drops its copy. */
	for (struct move *mv = moves, *next; mv; mv = next) {
		next = mv->next;
		if (mv->node == node && mv->state == MOVE_SERVING) {
			/* Lazy, committed: lost with the node.  Its CRIU is told
			 * to stop; lazy_dump_ended cleans up. */
			if (mv->ps_fd >= 0)
				shutdown(mv->ps_fd, SHUT_RDWR);
			continue;
		}
		if (mv->node == node) {
			if (mv->from != BPROC_NODE_MASTER)
				send_commit(master_find_node(m, mv->from), mv->id, false);
			finish_move(m, mv, -BE_NODEDOWN, "the target node went down during the move");
		} else if (mv->relayed && mv->relay_node == node) {
			char why[160];

			/* Not restored yet (else it would be over): its image
			 * may never come.  Its node drops it (finish_move). */
			snprintf(why, sizeof(why),
				 "node %d, which was to pass its image on to node %d, went down",
				 node, mv->node);
			finish_move(m, mv, -BE_NODEDOWN, why);
		} else if (mv->from == node) {
			send_commit(master_find_node(m, mv->node), mv->id, false);
			finish_move(m, mv, -BE_NODEDOWN, "the source node went down during the move");
		}
	}
}

/* Tell a node to stop or go on reading stream fd of a process. */
static void send_output_flow_to(struct master *m, int node, pid_t pid, int fd, enum flow what)
{
	Bproc__OutputFlow flow = BPROC__OUTPUT_FLOW__INIT;
	Msg msg = BPROC__MSG__INIT;

	flow.pid = pid;
	flow.pause = what == FLOW_PAUSE;
	flow.has_fd = true;
	flow.fd = fd;
	flow.has_gone = what == FLOW_GONE;
	flow.gone = what == FLOW_GONE;
	msg.body_case = BPROC__MSG__BODY_OUTPUT_FLOW;
	msg.output_flow = &flow;
	send_to_node(m, node, &msg);
}

static void send_output_flow(struct ghost_entry *g, int fd, bool pause)
{
	pr_debug("process %d: %s its fd %d (%zu bytes held for its readers)", g->pid,
		 pause ? "pausing" : "resuming", fd, g->out[fd].len);
	send_output_flow_to(g->m, g->node, g->pid, fd, pause ? FLOW_PAUSE : FLOW_GO);
	g->out_paused[fd] = pause;
}

/* Some of a ghost's output was written: a paused stream whose readers
 * caught up (below the low-water mark) flows again. */
static void output_wrote(void *data)
{
	struct ghost_entry *g = data;

	for (int k = 0; k < 3; k++) {
		if (g->out[k].gone && !g->out_gone[k]) {
			/* Nobody reads it any more: the process learns it as it
			 * would here, by EPIPE (SIGPIPE) on its next write. */
			pr_info("process %d: its fd %d has no reader left; closing it on node %d",
				g->pid, k, g->node);
			send_output_flow_to(g->m, g->node, g->pid, k, FLOW_GONE);
			g->out_gone[k] = true;
			g->out_paused[k] = false;
		}
		if (g->out_paused[k] && g->out[k].len < OUTPUT_RESUME_BYTES)
			send_output_flow(g, k, false);
	}
}

/* An output queue of a ghost emptied: if its end was waiting, now. */
static void output_drained(void *data)
{
	struct ghost_entry *g = data;

	if (!g->exit_deferred || g->held || output_queue_pending(&g->out[0]) ||
	    output_queue_pending(&g->out[1]) ||
	    output_queue_pending(&g->out[2]))
		return;
	g->exit_deferred = false;
	ghost_order_exit(g->pid, g->exit_status);
}

static void ghost_gone(struct master *m, struct ghost_entry *g, int status)
{
	/* Killed here (SIGKILL cannot be intercepted): kill the real one. */
	if (!g->exit_ordered)
		forward_signal(m, g, WIFSIGNALED(status) ? WTERMSIG(status) : SIGKILL);
	ghost_entry_free(m, g);
}

/*
 * Someone wrote to the ghost's stdin pipe: read it (it is ready, so the
 * read does not block) and send it to the real process.  We read it as the
 * process would have: the bytes are taken from the pipe.
 */
static void on_ghost_stdin(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct ghost_entry *g = data;
	struct master_node *n = master_find_node(g->m, g->node);
	Bproc__Input in = BPROC__INPUT__INIT;
	Msg msg = BPROC__MSG__INIT;
	uint8_t buf[65536];
	ssize_t got = read(fd, buf, sizeof(buf));

	(void)events;
	if (got < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	in.pid = g->pid;
	if (got > 0) {
		in.has_data = true;
		in.data.data = buf;
		in.data.len = (size_t)got;
	} else {
		in.has_eof = true;
		in.eof = true;
		loop_remove(loop, fd);
		close(fd);
		g->in_fd = -1;
	}
	msg.body_case = BPROC__MSG__BODY_INPUT;
	msg.input = &in;
	if (n && n->conn)
		conn_send(n->conn, &msg);
}

static void send_input(struct ghost_entry *g, const void *data, size_t len, bool eof)
{
	struct master_node *n = master_find_node(g->m, g->node);
	Bproc__Input in = BPROC__INPUT__INIT;
	Msg msg = BPROC__MSG__INIT;

	in.pid = g->pid;
	if (len > 0) {
		in.has_data = true;
		in.data.data = (uint8_t *)data;
		in.data.len = len;
	}
	in.has_eof = eof;
	in.eof = eof;
	msg.body_case = BPROC__MSG__BODY_INPUT;
	msg.input = &in;
	if (n && n->conn)
		conn_send(n->conn, &msg);
}

/* The terminal's size, for the node's copy of it (before a SIGWINCH). */
static void send_tty_size(struct ghost_entry *g)
{
	struct master_node *n = master_find_node(g->m, g->node);
	Bproc__Input in = BPROC__INPUT__INIT;
	Msg msg = BPROC__MSG__INIT;
	int fd = g->tty_out >= 0 ? g->out[g->tty_out].fd : g->tty_in;
	unsigned int rows, cols;

	if (fd < 0 || master_tty_size(fd, &rows, &cols) < 0)
		return;
	in.pid = g->pid;
	in.has_rows = in.has_cols = true;
	in.rows = rows;
	in.cols = cols;
	msg.body_case = BPROC__MSG__BODY_INPUT;
	msg.input = &in;
	if (n && n->conn)
		conn_send(n->conn, &msg);
}

/*
 * Something was typed on the ghost's terminal.  If the ghost is in the
 * foreground, it is for the process: read it as the process would have,
 * a line at a time (the terminal's line discipline has done the editing,
 * the echo and Ctrl-C), and send it.  Otherwise it is the shell's.  The
 * fd is the process's own (blocking) file, so read only what poll() says
 * is there.
 */
static void on_ghost_tty(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct ghost_entry *g = data;
	uint8_t buf[4096];

	(void)events;
	while (master_tty_foreground(g->pid)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t got;

		if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN) || (p.revents & (POLLHUP | POLLERR)))
			break;
		got = read(fd, buf, sizeof(buf));
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got < 0) {
			/* Hung up: nothing more will come. */
			loop_remove(loop, fd);
			close(fd);
			g->tty_in = -1;
			return;
		}
		send_input(g, buf, (size_t)got, got == 0);
	}
}

void master_output(struct master *m, int node, const Bproc__Output *out)
{
	struct ghost_entry *g = find_ghost(out->pid);
	int r;

	(void)m;
	if (!g || g->node != node || out->fd < 0 || out->fd > 2 || g->out[out->fd].fd < 0)
		return;
	r = output_queue_push(&g->out[out->fd], out->data.data, out->data.len);
	/* Its readers are slower than the process: the slave waits for
	 * them, and the process waits for the slave (a full pipe). */
	if (r == 0 && !g->out_paused[out->fd] && g->out[out->fd].len > OUTPUT_PAUSE_BYTES)
		send_output_flow(g, out->fd, true);
	if (r == -ENOBUFS)
		pr_warn("process %d: nobody reads its fd %d; %zu bytes dropped", g->pid, out->fd,
			out->data.len);
	else if (r < 0)
		pr_info("process %d: its fd %d is gone (%s); dropping its output", g->pid, out->fd,
			strerror(-r));
}

void master_ghosts_reap(struct master *m)
{
	for (;;) {
		struct ghost_entry *g;
		struct ghost_event ev;
		int status;
		pid_t pid = waitpid(-1, &status, __WALL | WNOHANG);

		if (pid <= 0)
			return;
		if (master_home_reaped(m, pid, status))
			continue;
		for (struct move *mv = moves; mv; mv = mv->next) {
			if (mv->criu_pid != pid)
				continue;
			if (mv->state == MOVE_SERVING) {
				lazy_dump_ended(m, mv, status);
			} else if (mv->state == MOVE_DUMPING) {
				dump_ended(m, mv, status);
			} else {
				/* Before the commit: the copy cannot get its pages;
				 * master_restore_result aborts the move. */
				pr_warn("move %llu: the lazy dump of %d ended early (status 0x%x)",
					(unsigned long long)mv->id, mv->pid, status);
				mv->criu_pid = 0;
			}
			break;
		}
		g = find_ghost(pid);
		if (!g) {
			orphan_event(pid, status);
			continue;
		}
		if (ghost_decode(pid, status, getpid(), &ev) < 0)
			continue;
		/* Any event but a stop: it runs (a SIGCONT ended its stop). */
		g->ghost_stopped = ev.kind == GHOST_STOPPED;
		switch (ev.kind) {
		case GHOST_GONE:
			ghost_gone(m, g, ev.status);
			break;
		case GHOST_SIGNAL:
			if (ev.ours) {
				/* A SIGCONT that came while our stop signal
				 * waited here would not undo the stop that
				 * follows. */
				bool stale_stop = is_stop_signal(ev.sig) && !g->stop_wanted;

				ghost_resume(pid, stale_stop ? 0 : ev.sig);
			} else {
				struct move *mv = leaving_with(pid);

				/* Between two nodes, the process (and its tree) is
				 * frozen on the source and its image on the way: the
				 * signal is for wherever it runs once the move is
				 * over. */
				if (mv && mv->nheld < MAX_HELD_SIGNALS) {
					mv->held_pid[mv->nheld] = pid;
					mv->held[mv->nheld++] = ev.sig;
				} else {
					if (ev.sig == SIGWINCH)
						send_tty_size(g);
					forward_signal(m, g, ev.sig);
				}
				ghost_resume(pid, 0);
			}
			break;
		case GHOST_STOPPED:
			ghost_listen(pid);
			break;
		case GHOST_OTHER:
			ghost_resume(pid, 0);
			break;
		}
	}
}

static bool is_ghost(pid_t pid)
{
	return find_ghost(pid) != NULL;
}

int master_proc_list(Bproc__ProcEntry ***out, Bproc__ProcEntry **storage, size_t *count)
{
	size_t n = 0, i = 0, born = master_procs_count();
	Bproc__ProcEntry **list, *entries;

	for (struct ghost_entry *g = ghosts; g; g = g->next)
		n++;
	n += born;
	list = calloc(n + 1, sizeof(*list));
	entries = calloc(n + 1, sizeof(*entries));
	if (!list || !entries) {
		free(list);
		free(entries);
		return -ENOMEM;
	}
	for (struct ghost_entry *g = ghosts; g; g = g->next, i++) {
		bproc__proc_entry__init(&entries[i]);
		entries[i].pid = g->pid;
		/* The home node is the master, to clients. */
		entries[i].node = g->node == MASTER_HOME_NODE ? BPROC_NODE_MASTER : g->node;
		list[i] = &entries[i];
	}
	/* And those born on the nodes, unless they are ghosts already. */
	i += master_procs_fill(entries + i, list + i, born, is_ghost);
	*out = list;
	*storage = entries;
	*count = i;
	return 0;
}

void master_moves_client_closed(struct master *m, struct conn *conn)
{
	struct move *released;

	for (struct move *mv = moves; mv; mv = mv->next)
		if (mv->client == conn)
			mv->client = NULL;
	/* The tracer of a program held at its exec went away: the freezer
	 * alone holds it now (or its end killed it: the dump then fails). */
	do {
		released = NULL;
		for (struct move *mv = moves; mv && !released; mv = mv->next)
			if (mv->exec_traced && mv->state == MOVE_RELEASING && !mv->client)
				released = mv;
		if (released)
			exec_released(m, released);
	} while (released);
}

bool master_moves_node_busy(int node)
{
	for (struct move *mv = moves; mv; mv = mv->next) {
		if (mv->node == node && mv->state == MOVE_RESTORING)
			return true;
		/* Node to node: both slaves work in CRIU, the source dumping. */
		if (mv->from != BPROC_NODE_MASTER && (mv->from == node || mv->node == node))
			return true;
	}
	return false;
}
