/*
 * slave.h - the state of bpslave, shared by its files:
 *
 *   bpslave.c         start-up, the link to the master, the main loop
 *   slave_pidns.c     the node's pid namespace and its init
 *   slave_clients.c   local clients, and forwarding their requests
 *   slave_moves.c     processes moved to this node
 *   slave_procs.c     processes born on the node (process-events connector)
 *   slave_move_out.c  sending one of them straight to another node
 *   slave_move_peers.c  taking one from another node: the listener
 *   launch_relay.c    passing a launch's image on to other nodes (fan-out)
 *   slave_files.c     bpcp: file transfers of this node
 */
#ifndef BPROC_SLAVE_H
#define BPROC_SLAVE_H

#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "auth.h"
#include "conn.h"
#include "loop.h"

struct pending_request;
struct restored;
struct proc_events;
struct move_out;
struct move_expected;

struct slave {
	const char *master_text;
	struct sockaddr_in master_addr;
	struct loop *loop;
	struct conn *master;      /* NULL while disconnected */
	struct cluster_secret secret;
	struct auth auth;         /* of the link to the master; Hello once done */
	/* The cluster's links are encrypted (the master said so in its
	 * challenge): so are those between slaves, keyed by the move's token.
	 * slave_peer_encrypt() does it; it reads auth.encrypt. */
	int connect_fd;           /* a connect() in progress, or -1 */
	long long next_connect_ms;
	int connect_failures;
	bool home;                /* the master's home node (-m): it waits for bpmaster */
	bool welcomed;
	bool registered;   /* welcomed on the current master link */
	int node;                 /* our node number once welcomed */
	uint32_t heartbeat_ms;
	long long next_heartbeat_ms;
	uint64_t heartbeat_seq;

	const char *socket_path;
	int unix_fd;
	pid_t init_pid;           /* pid 1 of the node's pid namespace, 0 if none */
	long long pidns_created_ms;

	struct pending_request *pending;
	uint64_t next_id;

	char criu[PATH_MAX];
	struct restored *restored;     /* processes moved here (slave_moves.c) */
	struct move_out *moving_out;   /* ... on their way to another node */
	struct move_expected *expected; /* moves from other nodes we wait for */
	int move_fd;                   /* listener for other slaves, or -1 */
	unsigned int move_port;        /* its port, told to the master */
	int exits_fd;                  /* exit reports from bproc-init, or -1 */
	char **argv;              /* for a reboot, which re-executes us */
	bool stopping;
	int action;               /* what to do on the way out: -1 or a NodeAction */
};

/* bpslave.c */
int slave_send_to_master(struct slave *s, const Msg *msg);

/* slave_pidns.c */
int slave_pidns_create(struct slave *s);
void slave_pidns_kill(struct slave *s);
/* Reap children; notice when the namespace's init died unasked. */
void slave_reap_children(struct slave *s);

/* slave_clients.c */
int slave_clients_listen(struct slave *s);
/* A message from the master that answers a forwarded request; 1 if it was one. */
int slave_forward_reply(struct slave *s, Msg *msg);
/* The master link went away: every forwarded request fails. */
void slave_fail_pending(struct slave *s);

/* slave_files.c: a FileTransferRequest from the master or a local client. */
int slave_files_request(struct slave *s, struct conn *conn, const Msg *msg, bool from_master);

/* slave_moves.c */
int slave_moves_init(struct slave *s);
/* Remove the memory cgroups of restores (slave-memory-full) that a killed
 * slave of this node left, empty. */
void slave_moves_clean_cages(struct slave *s);
/* A move message from the master; -ENOTSUP if msg is not one. */
int slave_moves_handle(struct slave *s, const Msg *msg);
void slave_moves_shutdown(struct slave *s);
/* bproc-init reaped nspid (its pid in the node) with a wait status. */
void slave_moves_exited(struct slave *s, pid_t nspid, int status);
/* How many processes moved here still run (roots and their trees). */
unsigned int slave_moves_count(struct slave *s);
/* A child of ours ended (a CRIU beside us, for a move). */
void slave_moves_child_exited(struct slave *s, pid_t pid, int status);
/* Is host_pid a process moved here (a root or a member of its tree)? */
bool slave_moves_is_ours(struct slave *s, pid_t host_pid);
/* A non-root process of a moved tree ended (host pid, wait status). */
void slave_moves_member_exited(struct slave *s, pid_t host_pid, int status);
/* Tell the master of each stop or continue of a process below the root
 * of a tree moved here (stop_mirror.h); how many such processes run. */
int slave_moves_check_stops(struct slave *s);
/* Polling (no connector): report the members of moved trees that ended. */
void slave_moves_poll_members(struct slave *s);
/* Call fn for every child of every process moved here (after lost events). */
void slave_moves_rescan_children(struct slave *s, void (*fn)(struct slave *s, pid_t host, pid_t parent));
/* The node's pid of a host pid (the last NSpid field), 0 if gone. */
pid_t slave_node_pid(pid_t host);

/* slave_procs.c: processes forked on the node, from the process-events
 * connector.  init: -errno if there is no connector (logged). */
int slave_procs_init(struct slave *s);
/* Whether forks and exits are polled for (no connector here). */
bool slave_procs_polling(void);
/* SIGKILL every process born on the node we follow, forget them; how many. */
int slave_procs_kill_all(struct slave *s);
/* SIGKILL every process born on the node we follow that descends from one
 * of roots (pids in the node); how many.  Their ends are told as usual. */
int slave_procs_kill_born_of(const pid_t *roots, int nroots);
/* Stop following host (a host pid) without telling the master it ended:
 * it moved to another node with its tree. */
void slave_procs_drop(pid_t host);
/* How many processes born on the node we follow. */
unsigned int slave_procs_count(void);
/* After a (re)connection: tell the master all we follow. */
void slave_procs_resend(struct slave *s);
/* The node's processes are gone (its pid namespace died). */
void slave_procs_forget(struct slave *s);
void slave_procs_shutdown(struct slave *s);

/* slave_stops.c: when to look for stops below the roots of moved trees.
 * watch: there are processes to watch (soon: one was just signalled). */
int slave_stops_init(struct slave *s);
void slave_stops_watch(bool soon);
void slave_stops_shutdown(struct slave *s);

/* For slave_move_out.c: a moved process that runs here (committed). */
struct restored *slave_restored_find(struct slave *s, pid_t nspid);
pid_t slave_restored_host_pid(const struct restored *r);
/* Send the master what it wrote so far. */
void slave_restored_flush(struct restored *r);
/* On a terminal: the ghost's fd its output goes to (RestoreRequest.tty_fd);
 * else MOVE_NO_TTY. */
int slave_restored_tty_fd(const struct restored *r);
/* On a terminal, frozen to leave: take what it has not read of its input
 * yet (pty_take_unread, then what still waits for room in the pty),
 * appended to *buf (malloc'd) of *len bytes; give it back if it stays. */
int slave_restored_take_tty_input(struct restored *r, uint8_t **buf, size_t *len);
void slave_restored_give_tty_input(struct restored *r, const uint8_t *buf, size_t len);
/* Is key ("pipe:[INODE]") a pipe of ours to its stdin, stdout or stderr
 * (forwarded through us), rather than one within its tree? */
bool slave_restored_forwards(const struct restored *r, const char *key);
/* It left: forget it without telling the master it ended. */
void slave_restored_forget(struct slave *s, struct restored *r);
void slave_moves_remove_images(uint64_t move_id);
/* Where the images of a move to this node are written. */
void slave_moves_image_dir(uint64_t move_id, char *buf, size_t len);
/* Answer a PathCheckRequest: to the master (to NULL), or on a link from
 * the source node of a move. */
int slave_path_check(struct slave *s, struct conn *to, const Bproc__PathCheckRequest *req);
/* The master link broke: copies not yet committed are killed, but those
 * from another node, held frozen for the next master (HeldCopy). */
void slave_moves_master_lost(struct slave *s);
/* Kill (SIGKILL) and forget every process moved here and every one born
 * of them: the master ended their ghosts when it lost this node. */
void slave_kill_stale(struct slave *s);
/* The link to the master has caught up: read the processes' output again. */
void slave_moves_link_drained(struct slave *s);
/* A link to another slave, for the move whose token this is: sealed from
 * now on if the cluster's links are (connector: the side that connected). */
void slave_peer_encrypt(struct slave *s, struct conn *peer, const uint8_t *token, size_t len,
			bool connector);
/* The processes moved here (roots), for Hello after a lost link. */
int slave_moves_running(struct slave *s, int32_t **pids, size_t *n);
/* The copies held frozen for want of their commit, for Hello.held; freed
 * with slave_moves_held_free. */
int slave_moves_held(struct slave *s, Bproc__HeldCopy ***held, size_t *n);
void slave_moves_held_free(Bproc__HeldCopy **held, size_t n);
/* A RestoreRequest; from_node: of a move from node source (MoveExpect). */
int slave_moves_restore(struct slave *s, const Bproc__RestoreRequest *req, bool from_node,
			int source);
/* Welcome after a lost link: those in keep go on (their ghosts are held
 * again), the others are killed. */
void slave_moves_keep(struct slave *s, const int32_t *keep, size_t nkeep);

/* slave_move_out.c */
int slave_move_out(struct slave *s, const Bproc__MoveOut *mo);
/* The node's first registration: the freezer cgroups a slave of this node
 * killed mid-move left (empty: its processes died with its node) go. */
void slave_move_out_clean_cgroups(struct slave *s);
/* A blocking connect (bounded) to another slave's move port: fd or -errno. */
int slave_connect_peer(const char *addr, uint32_t port);

/* launch_relay.c: pass a launch's image on (LaunchRelay). */
int slave_launch_relay(struct slave *s, const Bproc__LaunchRelay *lr);
/* MoveCommit for a move out of here; false if it is not one. */
bool slave_move_out_commit(struct slave *s, const Bproc__MoveCommit *c);
/* A child of ours ended: a lazy dump's CRIU?  Then the original goes (or,
 * before the commit, the move fails); false if it was not one. */
bool slave_move_out_child_exited(struct slave *s, pid_t pid, int status);
/* The master link is gone: every move out of here not yet sent is
 * aborted (the originals thaw); one sent and not committed is in doubt,
 * its originals frozen until slave_move_out_settle. */
void slave_move_out_shutdown(struct slave *s);
/* Registered with a master again (Welcome.keep): an original in doubt
 * whose process the master took back here thaws; any other is killed. */
void slave_move_out_settle(struct slave *s, const int32_t *keep, size_t nkeep);

/* slave_move_peers.c */
int slave_move_listen(struct slave *s);
int slave_move_expect(struct slave *s, const Msg *msg);
/* The master aborts a move we expected; false if we expected none. */
bool slave_move_expect_drop(struct slave *s, uint64_t move_id);
void slave_move_expect_drop_all(struct slave *s);
void slave_move_peers_shutdown(struct slave *s);

#endif
