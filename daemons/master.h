/*
 * master.h - the state of bpmaster, shared by its three files:
 *
 *   bpmaster.c        start-up, sockets, the main loop, timers, signals
 *   master_nodes.c    the slaves: registration, heartbeats, node states
 *   master_clients.c  requests from clients and forwarded by slaves
 *   master_moves.c    moving processes to nodes, and their ghosts
 *   master_tree.c     the process tree of a move
 *   master_procs.c    processes born on the nodes
 *   master_files.c    bpcp: file transfers, served here or passed to a slave
 *   master_recover.c  what a master that died mid-move left, put right
 *   master_home.c     the home node: a bpslave of ours, for moves back here
 *   master_held.c     copies held frozen by nodes whose commit never came
 */
#ifndef BPROC_MASTER_H
#define BPROC_MASTER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "auth.h"
#include "config.h"
#include "conn.h"
#include "loop.h"

struct master_node {
	int node;
	struct in_addr addr;
	int state;         /* enum bproc_node_state */
	unsigned int mode; /* execute bits only */
	unsigned int uid, gid;
	struct conn *conn; /* the slave's link, NULL while down */
	long long last_heard_ms;
	time_t up_since;
	unsigned int nprocs;
	unsigned int move_port; /* where it takes moves from other nodes, 0: none */
	char hostname[64];
};

/*
 * The home node's number in the master's tables.  To clients it is the
 * master (BPROC_NODE_MASTER): its processes run on this machine.  Inside,
 * it needs a number of its own, since BPROC_NODE_MASTER already means "the
 * master itself, no ghost" (a move's source, for one).  No client request
 * names it: master_client_node() does not know it.
 */
#define MASTER_HOME_NODE (-4)

struct master {
	struct config cfg;
	const char *config_path;
	struct cluster_secret secret; /* what slaves must prove they hold */
	struct loop *loop;
	struct master_node *nodes; /* one per configured node, in cfg order */
	struct master_store *store; /* node settings across restarts, or NULL */
	size_t nnodes;
	int tcp_fd;
	int unix_fd;
	const char *socket_path;
	bool stopping;
	bool foreground, verbose; /* -f, -v: passed on to the home slave */
	struct master_node home; /* not in nodes: bpstat does not list it */
	pid_t home_pid;         /* its bpslave, 0 while none runs */
	int home_pidfd;         /* home_pid's pidfd, to learn of its end; -1 */
	pid_t home_child;       /* home_pid when we started it: ours to reap */
	bool home_linked;       /* a link to it is open (maybe not proven yet) */
	long long home_restart_ms; /* when to start it (or connect) again, 0: not due */
};

/* master_nodes.c */
int master_nodes_init(struct master *m);
void master_accept_slave(struct master *m);
void master_check_heartbeats(struct master *m, long long now);
/* A node by number, the home node (MASTER_HOME_NODE) included. */
struct master_node *master_find_node(struct master *m, int node);
/* A node a client names: only the configured ones. */
struct master_node *master_client_node(struct master *m, int node);
/* Where node n's daemons are reached from the node peer: n's address, or
 * for the home node the master's own address on peer's link. */
struct in_addr master_node_addr_for(struct master *m, const struct master_node *n,
				    const struct master_node *peer);
/* Take fd, connected to the home slave's socket, as its link. */
int master_home_link(struct master *m, int fd);
/* The node settings kept from before a restart, then kept up to date. */
void master_nodes_load_settings(struct master *m);
/* Apply an administrator's change to one node; 0 or -errno/-BE_*. */
int master_change_node(struct master *m, struct master_node *n, const Bproc__NodeChangeRequest *req);
void master_nodes_shutdown(struct master *m);

/* master_clients.c */
void master_accept_client(struct master *m);
/*
 * Answer one request on conn.  uid/gid are the asker's: from SO_PEERCRED
 * for a local client, from the slave for a forwarded one.  Returns 0, or
 * -ENOTSUP for a message that is not a request (the caller decides).
 */
int master_handle_request(struct master *m, struct conn *conn, const Msg *msg, uid_t uid, gid_t gid);

/* master_recover.c: at start, thaw (or kill, see there) the processes a
 * master before us left frozen for a move; the tick retries those a CRIU
 * of that master still works on. */
void master_recover_start(void);
void master_recover_tick(void);

/* master_held.c: copies held frozen by nodes whose commit never came
 * (Hello.held); each runs or goes once its fate is known (held_copy.h).
 * decide: after each registration, and each tick (before the orphans
 * that no node claimed end). */
void master_held_claimed(struct master *m, int node, Bproc__HeldCopy *const *held, size_t n);
void master_held_decide(struct master *m, long long now);
void master_held_node_down(struct master *m, int node);
void master_held_shutdown(void);
/* A ghost a master before us left half made (master_recover.c), whose
 * copy node should hold: it runs when node says so. */
int master_held_half_made(pid_t pid, int node);
/* A member of such a tree still its original (not armed when that master
 * died): it becomes its ghost if node's copy of the tree runs, and runs on
 * here if not. */
int master_held_unarmed(pid_t pid, int node);

/* master_moves.c */
/* Move pid to node for the asker (client, request id; client NULL: the
 * process asked for its own move and waits on its wake_fd, see
 * MoveRequest in images/bproc.proto).  wake_fd -1: nobody waits.
 * from_node: asked on a node, where pids are the nodes'.  lazy: post-copy
 * (bpmove --lazy), the process runs on node at once, its memory follows. */
int master_move(struct master *m, struct conn *client, uint64_t id, pid_t pid, int node,
		uid_t uid, gid_t gid, int wake_fd, bool from_node, bool lazy);
/* bproc_execmove: pid sits at its exec, traced by the asker, who is told
 * MoveFrozen once it is frozen, lets go and says MoveReleased
 * (master_move_released); then it moves as by master_move.  A failed move
 * kills it (MoveRequest.exec_traced in images/bproc.proto). */
int master_move_exec(struct master *m, struct conn *client, uint64_t id, pid_t pid, int node,
		     uid_t uid, gid_t gid);
void master_move_released(struct master *m, struct conn *client, pid_t pid);
/* Ghosts left by a master before us: traced again at start; each taken
 * back when its node's slave names its process (Hello.running), the
 * others end as killed after a while (master_ghosts_orphans_tick). */
void master_ghosts_adopt_scan(struct master *m);
int master_adopt_ghost(struct master *m, pid_t pid, int node);
/* A member of a tree whose ghosts a master before us left half made, run
 * on here as its original (master_recover.c): made its ghost now, to be
 * taken back with the tree (master_adopt_ghost) for the copy its node
 * holds.  On failure it is as it was. */
int master_ghost_make_late(pid_t pid);
/* A master before us that died during a move left its image directory
 * there; our move ids start at 1 again, so the first would collide. */
void master_moves_clean_images(void);
void master_ghosts_orphans_tick(long long now);
/* pid's ghost was left by a master before us, and no node took it back yet. */
bool master_ghost_orphaned(pid_t pid);
/* pid has a ghost of ours (taken back, or made by a move). */
bool master_ghost_exists(pid_t pid);
/* The time nodes had to claim the orphans is over (they end as killed). */
bool master_ghosts_claims_over(long long now);
/* A VMoveRequest: one program's processes to many nodes, one dump. */
int master_vmove(struct master *m, struct conn *client, uint64_t id,
		 const Bproc__VMoveRequest *req, uid_t uid, gid_t gid);
/* The target listens for the page stream of a move (PrepareResult). */
void master_prepare_result(struct master *m, int node, const Bproc__PrepareResult *res);
/* A Reply from node's slave: 1 if it answered one of our MoveExpects. */
int master_move_reply(struct master *m, int node, const Msg *msg);
void master_move_out_result(struct master *m, int node, const Bproc__MoveOutResult *res);
/* The target's answer about the files a process needs (movable.h). */
void master_path_check_reply(struct master *m, int node, const Bproc__PathCheckReply *rep);
void master_restore_result(struct master *m, int node, const Bproc__RestoreResult *res);
void master_process_status(struct master *m, int node, const Bproc__ProcessStatus *ps);
void master_ghosts_node_down(struct master *m, int node);
void master_output(struct master *m, int node, const Bproc__Output *out);
/* SIGCHLD: what happened to the ghosts. */
void master_ghosts_reap(struct master *m);
/* The remote processes, for ProcList: free() both *out and *storage. */
int master_proc_list(Bproc__ProcEntry ***out, Bproc__ProcEntry **storage, size_t *count);
void master_moves_client_closed(struct master *m, struct conn *conn);
/* Whether node restores or dumps a process of a move under way: its slave
 * may then be silent (in CRIU) for up to MOVE_BUSY_MS. */
bool master_moves_node_busy(int node);
#define MOVE_BUSY_MS 60000
/* master_procs.c: processes born on the nodes (not moved there). */
void master_proc_forked(struct master *m, int node, const Bproc__ProcessForked *f);
void master_proc_gone(struct master *m, int node, const Bproc__ProcessGone *g);
/* pid of node ended (it came to node in a moved tree: ProcessStatus). */
void master_proc_ended(struct master *m, int node, pid_t pid);
/* pid of node from went to node to, in the tree of a process moved there. */
void master_proc_moved(struct master *m, int from, int to, pid_t pid);
void master_procs_node_down(struct master *m, int node);
size_t master_procs_count(void);
/* Fill up to max entries (and pointers to them), leaving out pids that
 * skip() says are listed already; returns how many. */
size_t master_procs_fill(Bproc__ProcEntry *entries, Bproc__ProcEntry **list, size_t max,
			 bool (*skip)(pid_t pid));
void master_procs_shutdown(void);

/* pid's command line (argv, NULL-terminated, malloc'd) and comm. */
char **master_read_cmdline(pid_t pid, char *comm, size_t commlen);

/* master_home.c: take back the home slave a master before us left, or
 * start one (again, when it died); stop it. */
void master_home_start(struct master *m);
void master_home_tick(struct master *m, long long now);
/* Its link closed (master_nodes.c): connect to it again if it lives. */
void master_home_link_closed(struct master *m);
/* A child was reaped: true if it was the home slave. */
bool master_home_reaped(struct master *m, pid_t pid, int status);
void master_home_stop(struct master *m);

/* master_files.c */
int master_file_request(struct master *m, struct conn *conn, const Msg *msg);
/* A slave's answer to a file request passed to it: 1 if msg was one. */
int master_file_reply(struct master *m, int node, Msg *msg);
void master_files_node_down(struct master *m, int node);
void master_files_client_closed(struct conn *conn);

#endif
