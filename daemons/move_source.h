/*
 * move_source.h - the sending side of a move, shared by both daemons:
 * bpmaster sends a process of the master to a node, bpslave sends one of
 * its node straight to another node.  Also the helpers both sides need
 * around it: which standard streams are pipes, removing an image
 * directory, and waking a process that waits for its own move.
 */
#ifndef BPROC_MOVE_SOURCE_H
#define BPROC_MOVE_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conn.h"

/* What goes as ImageChunks must fit in a link's send queue
 * (CONN_MAX_QUEUED).  From the master the memory pages take the page
 * stream (migrate/page_server.h) and only small images go this way; node to
 * node the pages still go as chunks, so such a move is limited to this. */
#define MOVE_MAX_IMAGE_BYTES (48u << 20)

/* move_send_images(): the process is not on a terminal. */
#define MOVE_NO_TTY (-1000)

/* A standard stream of the process that is a pipe: forwarded through the
 * daemons, replaced at restore (CRIU --inherit-fd). */
struct move_pipe {
	int fd;        /* 0, 1 or 2 */
	char key[64];  /* CRIU's name of it: "pipe:[INODE]" */
};

/* The fds among 0-2 (bit i of fd_mask for fd i) of pid (as this daemon
 * sees it) that are pipes, into pipes[3]; returns how many. */
int move_find_pipes(pid_t pid, unsigned int fd_mask, struct move_pipe *pipes);

/*
 * Send every image file of dir (but CRIU's logs) on conn as ImageChunks,
 * then the RestoreRequest for pid (tree: every pid of its tree, pid first,
 * or none).  tty_fd: MOVE_NO_TTY, or the process is on a terminal, whose
 * output goes to the ghost's fd tty_fd (RestoreRequest.tty_fd).  lazy: its
 * memory comes from the page stream, post-copy.  Everything is queued on
 * conn at once, so dir may go as soon as this returns.  0 or -errno, with
 * err saying why.
 */
int move_send_images(struct conn *conn, uint64_t move_id, const char *dir, pid_t pid,
		     const struct move_pipe *pipes, int npipes, int tty_fd, const pid_t *tree,
		     int ntree, int wake_fd, bool lazy, char *err, size_t errlen);

struct movable;
/* Ask the target (on conn) whether it has the files of movable by path:
 * PathCheckRequest, answered with a PathCheckReply.  0 or -errno. */
int move_ask_paths(struct conn *conn, uint64_t move_id, const struct movable *movable);
/* What the target answered (PathCheckReply from node) against what pid
 * uses: 0, or -errno with err saying "process PID cannot move: why". */
int move_paths_checked(const struct movable *movable, const Bproc__PathCheckReply *rep, int node,
		       pid_t pid, char *err, size_t errlen);

/* Only the image files of dir (but CRIU's logs), as ImageChunks of
 * move_id: what move_send_images() sends before its RestoreRequest. */
int move_send_image_files(struct conn *conn, uint64_t move_id, const char *dir, char *err,
			  size_t errlen);

/* A RestoreRequest as move_send_images() makes it, in storage of the
 * caller's (it points into pipes and tree, which must outlive it). */
struct move_restore_wire {
	Bproc__RestoreRequest req;
	Bproc__StdioPipe pipes[3];
	Bproc__StdioPipe *ptrs[3];
};
void move_restore_fill(struct move_restore_wire *w, uint64_t move_id, pid_t pid,
		       const struct move_pipe *pipes, int npipes, int tty_fd, const pid_t *tree,
		       int ntree, int wake_fd, bool lazy);

/* rm -r of an image directory (only regular files and directories). */
void move_remove_dir(const char *dir);

/*
 * Tell a process blocked in bproc_move() or bproc_rfork() how its move
 * ended: write a struct bproc_move_wake into its wake pipe, through
 * /proc/PID/fd/wake_fd (pid as this daemon sees it).  0 or -errno.
 */
int move_wake(pid_t pid, int wake_fd, int status, const char *message);

#endif
