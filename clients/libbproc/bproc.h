/*
 * bproc.h - libbproc, the C interface to a bproc cluster.
 *
 * The calls follow BProc's sys/bproc.h so that programs written for BProc
 * port with little change.  Every call talks to the local daemon (bpmaster
 * on the front end, bpslave on a node) over the unix socket BPROC_SOCKET,
 * or the path in the environment variable of that name.
 *
 * Errors: calls return -1 and set errno, as BProc did.  errno is then a
 * system errno or one of the BE_* codes below; bproc_strerror() describes
 * both.
 */
#ifndef BPROC_H
#define BPROC_H

#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BPROC_SOCKET "/run/bproc/bproc.sock"
#define BPROC_SOCKET_ENV "BPROC_SOCKET"

/* The node number of the master (front end). */
#define BPROC_NODE_MASTER (-1)
/* Not a node: what bproc_pidnode() returns on error. */
#define BPROC_NODE_NONE (-2)
/* Every node, for bproc_proclist(). */
#define BPROC_NODE_ANY (-3)

#define BPROC_STATE_LEN 15

/* BProc's error codes, returned in errno. */
#define BE_BASE 300
#define BE_INVALIDNODE (BE_BASE + 0) /* no such node */
#define BE_NODEDOWN (BE_BASE + 1)    /* the node is not up */
#define BE_SAMENODE (BE_BASE + 2)    /* already on that node */
#define BE_SLAVEDIED (BE_BASE + 3)   /* the node's daemon went away */
#define BE_INVALIDPROC (BE_BASE + 4) /* no such bproc process */
#define BE_NOMASTER (BE_BASE + 5)    /* no daemon to talk to */
#define BE_PROTOCOL (BE_BASE + 6)    /* the daemon speaks another protocol */

enum bproc_node_state {
	BPROC_NODE_DOWN = 0,
	BPROC_NODE_BOOT,
	BPROC_NODE_UP,
	BPROC_NODE_ERROR,
	BPROC_NODE_UNAVAILABLE,
	BPROC_NODE_REBOOT,
	BPROC_NODE_HALT,
	BPROC_NODE_PWROFF,
};

struct bproc_node_info_t {
	int node;
	char status[BPROC_STATE_LEN + 1]; /* "up", "down", ... */
	unsigned int mode;                /* only the execute bits: 0111 */
	unsigned int user;
	unsigned int group;
	char addr[64]; /* the node's address as text, "" if unknown */
	long long up_since; /* unix time of the last change to "up", 0 if never */
	unsigned int nprocs; /* processes the node reports */
};

struct bproc_node_set_t {
	int size;
	int alloc;
	struct bproc_node_info_t *node;
};

struct bproc_proc_info_t {
	int pid;
	int node;
};

/* Nodes */
int bproc_numnodes(void);
int bproc_currnode(void);
int bproc_nodestatus(int node, char *status, int len);
int bproc_nodeinfo(int node, struct bproc_node_info_t *info);
int bproc_nodelist(struct bproc_node_set_t *ns);
void bproc_nodeset_free(struct bproc_node_set_t *ns);

/* Node specifications: "4", "5-8", "1,3", "all", "allup", "alldown",
 * state names ("up", "error", ...), and comma-separated combinations.
 * bproc_nodefilter() keeps the nodes of in that match spec. */
int bproc_nodefilter(struct bproc_node_set_t *out, const struct bproc_node_set_t *in,
		     const char *spec);
int bproc_nodespec(struct bproc_node_set_t *out, const char *spec);

/* Change nodes (root only). */
int bproc_chmod(int node, unsigned int mode);
int bproc_chown(int node, unsigned int user);
int bproc_chgrp(int node, unsigned int group);
int bproc_nodesetstatus(int node, const char *status);

/* May the caller use node with mode (execute bit 1)?  0 or -1/EACCES. */
int bproc_access(int node, int mode);

/* Processes */
/* The remote processes on node (BPROC_NODE_ANY: all of them) in a new
 * array (free() it); returns how many, or -1. */
int bproc_proclist(int node, struct bproc_proc_info_t **list);
/* The same, but only pids that mean these processes where the caller runs:
 * processes born on a node (children of moved processes) have that node's
 * own pids, which on the master or another node may be other processes. */
int bproc_proclist_here(int node, struct bproc_proc_info_t **list);
/* Where pid runs: a node number, BPROC_NODE_MASTER for a process of the
 * master, or BPROC_NODE_NONE with errno set (ESRCH: no such process). */
int bproc_pidnode(pid_t pid);

/* Migration */
/* Move process pid (and, later, its children) to node.  0 or -1/errno:
 * ESRCH no such process, EPERM not yours, EACCES the node's mode forbids
 * it, BE_NODEDOWN, BE_INVALIDNODE, ENOTSUP for what cannot move yet. */
int bproc_movepid(pid_t pid, int node);
/* The same, with BPROC_MOVE_LAZY: post-copy, the process runs on node at
 * once and its memory follows on demand (from the master only, a single
 * process; EINVAL for unknown flags). */
#define BPROC_MOVE_LAZY 1
int bproc_movepid_flags(pid_t pid, int node, int flags);

/*
 * Move the calling process to node.  Returns 0 on the target node (where
 * bproc_currnode() then says node), or -1/errno where it was, with the
 * process unchanged.  The caller's pid stays the same; on the master its
 * ghost stands in for it.  It must not have children, nor hold what cannot
 * move (a connected TCP socket, a file the node does not have).  Works on
 * the master and on a node (for a process that came from the master).
 * Moving to the master (BPROC_NODE_MASTER) from a node restores it in the
 * master's home node: on the master's machine, with the same pid inside
 * (getpid()), another host pid; see docs/migration.md.
 */
int bproc_move(int node);

/*
 * fork() a child that lives on node.  Returns the child's pid in the
 * parent, 0 in the child (on node), or -1/errno (no child is left).  The
 * child is a real child: wait() and signals work through its ghost.  From
 * a process on a node, only node == the current node works (a plain fork):
 * a child born on a node has no ghost on the master to move with.
 */
int bproc_rfork(int node);

/*
 * bproc_rfork() to each of nodes[0..nnodes-1] in turn.  In the parent:
 * returns nnodes, pids[i] being the child's pid or -errno.  In child i:
 * returns i.
 */
int bproc_vrfork(int nnodes, const int *nodes, int *pids);

/*
 * As execve(), but cmd runs on node.  From the master, cmd is exec'd here
 * and moved before it runs an instruction of its own (a helper traces the
 * caller to its exec, the master freezes it there and moves it), so cmd
 * never runs on the master and the node needs nothing but bpslave and cmd's
 * files.  The process keeps its pid; its parent sees it through its ghost.
 * Returns only on failure, -1 with errno, the caller here and unchanged:
 * what is known before the exec (no such node, node down, EACCES, cmd not
 * executable, the execve failing here).  Once exec'd, a refused or failed
 * move kills the program before it runs (the parent sees SIGKILL) and the
 * reason goes to the caller's stderr.  On a node, or for a caller already
 * traced, the caller moves itself first (bproc_move) and execs there: a
 * failed move leaves it unchanged, a failed execve leaves it running on
 * the node.  node == the current node is a plain execve.
 */
int bproc_execmove(int node, const char *cmd, char *const argv[], char *const envp[]);

/*
 * BProc's name for exec'ing from the node's files: the caller moves
 * itself there (bproc_move) and execs cmd there, as the _io forms do.
 */
int bproc_rexec(int node, const char *cmd, char *const argv[], char *const envp[]);

/*
 * The _io forms: once on the node, before returning (rfork) or exec'ing,
 * each io[i] is opened there and put on io[i].fd, as BProc's.  A file
 * (BPROC_IO_FILE: d.file.name opened with d.file.flags and d.file.mode,
 * at d.file.offset) or a TCP connection made from the node
 * (BPROC_IO_SOCKET: to d.addr, an IPv4 address).  In rfork_io, a child
 * that cannot set them up exits with 127 (its parent sees that); the
 * exec forms return -1 with errno, on the node.  BPROC_IO_MEMFILE: ENOTSUP.
 */
#define BPROC_IO_MAX_LEN 256
#define BPROC_IO_FILE 0
#define BPROC_IO_SOCKET 1
#define BPROC_IO_MEMFILE 2
struct bproc_io_t {
	int fd;
	short type;
	short flags;
	union {
		struct sockaddr addr;
		struct {
			int flags;
			int mode;
			long offset;
			char name[BPROC_IO_MAX_LEN];
		} file;
		struct {
			void *base;
			long size;
		} mem;
	} d;
};
int bproc_rfork_io(int node, const struct bproc_io_t *io, int iolen);
int bproc_execmove_io(int node, const struct bproc_io_t *io, int iolen, const char *cmd,
		      char *const argv[], char *const envp[]);
int bproc_rexec_io(int node, const struct bproc_io_t *io, int iolen, const char *cmd,
		   char *const argv[], char *const envp[]);

/*
 * cmd on nnodes nodes with one exec and one dump: a child of the caller
 * for each nodes[i] (its pid in pids[i]); one of them execs cmd here, held
 * at its exec as by bproc_execmove, and the master restores that image on
 * every node, each with its own pid (with io, or if that cannot be had,
 * the image is a waiting child's, which execs cmd on its node).  Returns
 * nnodes, or -1 with errno (nothing launched).  A child that cannot be
 * moved or cannot exec says why on its stderr and exits with 127; the
 * exec'd one, refused or failed, is killed (SIGKILL), the reason on our
 * stderr: wait for each pid.
 */
int bproc_vexecmove(int nnodes, const int *nodes, int *pids, const char *cmd,
		    char *const argv[], char *const envp[]);
int bproc_vexecmove_io(int nnodes, const int *nodes, int *pids, const struct bproc_io_t *io,
		       int iolen, const char *cmd, char *const argv[], char *const envp[]);
/*
 * Ours (bpsh's): as bproc_vexecmove_io, with setup(i, arg) run in child i
 * first, to put its own fds on 0-2; after it, every other fd of the child
 * is closed.  Nothing else may differ between the children.
 */
int bproc_vexecmove_setup(int nnodes, const int *nodes, int *pids,
			  void (*setup)(int index, void *arg), void *arg,
			  const struct bproc_io_t *io, int iolen, const char *cmd,
			  char *const argv[], char *const envp[]);

const char *bproc_strerror(int err);
/* The daemon's own words about the last call of this thread that failed
 * ("node 3 is down"), or NULL if it said nothing. */
const char *bproc_errmsg(void);
const char *bproc_state_name(int state);
int bproc_state_parse(const char *name);

#ifdef __cplusplus
}
#endif

#endif
