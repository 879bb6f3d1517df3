/*
 * file_service.h - the daemons' side of bpcp, shared by bpmaster and
 * bpslave: serve one FileTransferRequest on this machine.
 *
 * The daemon never reads or writes a user's files itself.  It opens a
 * one-shot TCP listener and forks a worker that takes on the asker's
 * identity (uid, gid, supplementary groups: the kernel's word for a local
 * client, the slave's for a forwarded one) before it touches a file, so the
 * kernel checks every open as it would for the user; then the worker
 * accepts the one connection that shows the token, runs the transfer
 * (daemons/file_stream.c) and exits.  A worker waits at most
 * FILE_ACCEPT_TIMEOUT_S for its connection and dies with its daemon.
 */
#ifndef BPROC_FILE_SERVICE_H
#define BPROC_FILE_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conn.h"
#include "frame.h"

#define FILE_ACCEPT_TIMEOUT_S 30
/* A peer silent this long on a transfer connection is gone. */
#define FILE_IO_TIMEOUT_S 120
#define FILE_MAX_GROUPS 1024

struct file_asker {
	uid_t uid;
	gid_t gid;
	size_t ngroups;
	gid_t groups[FILE_MAX_GROUPS];
};

/* Who is at the other end of a local unix socket (SO_PEERCRED, SO_PEERGROUPS). */
int file_asker_from_socket(int fd, struct file_asker *who);
/* Who a slave says asked; -EPROTO without credentials. */
int file_asker_from_creds(const Bproc__Credentials *creds, struct file_asker *who);
/* Fill creds (and groups, FILE_MAX_GROUPS entries) for forwarding. */
void file_asker_to_creds(const struct file_asker *who, Bproc__Credentials *creds,
			 uint32_t *groups);

/*
 * Check msg's FileTransferRequest, start its worker here (node: this
 * machine's number, for messages) and answer on conn: a FileTransferReply
 * with addr (NULL: the master fills it in) or an error Reply.  seal: the
 * cluster encrypts; the reply then carries a fresh key and the transfer
 * is sealed under it (file_seal).
 */
int file_service_answer(struct conn *conn, const Msg *msg, const struct file_asker *who,
			int node, const char *addr, bool seal);

/* "2:" for node 2, "master:" for the master. */
void file_node_prefix(int node, char *buf, size_t len);

#endif
