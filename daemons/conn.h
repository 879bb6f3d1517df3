/*
 * conn.h - a framed, non-blocking connection in a daemon's event loop.
 *
 * Bytes in are cut into messages (images/frame.c) and handed to on_msg one
 * at a time; messages out are queued and written as the socket takes them,
 * so a slow or stalled peer never blocks the daemon.  A peer that sends a
 * bad frame, or lets more than CONN_MAX_QUEUED bytes pile up unread, is cut
 * off with a logged reason.
 */
#ifndef BPROC_CONN_H
#define BPROC_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "frame.h"
#include "loop.h"

#define CONN_MAX_QUEUED (64u << 20)

struct conn;
/* Return <0 to close the connection (the reason is logged). */
typedef int (*conn_msg_fn)(struct conn *conn, Msg *msg, void *data);
typedef void (*conn_close_fn)(struct conn *conn, void *data);

struct conn {
	int fd;
	char name[64]; /* for log messages: "node 3", "client pid 42" */
	struct loop *loop;
	conn_msg_fn on_msg;
	conn_close_fn on_close;
	void *data;
	bool closed;
	bool has_creds;
	struct ucred creds; /* SO_PEERCRED of a unix-socket peer */

	uint8_t *in;
	size_t in_len, in_cap;
	/* Encrypted (conn_encrypt): each frame one record, see conn.c. */
	/* Called when what was queued to send has all gone (after a wait). */
	void (*on_drained)(struct conn *conn, void *data);
	/* The kernel took less than we had (EAGAIN): on_drained is owed,
	 * even if a later conn_send() empties the queue itself. */
	bool waited;
	bool encrypted;
	uint8_t tx_key[32], rx_key[32];
	uint64_t tx_seq, rx_seq;
	uint8_t *out;
	size_t out_off, out_len, out_cap;
};

/* Take over fd (made non-blocking) and watch it.  On error fd is closed. */
int conn_new(struct loop *loop, int fd, const char *name, conn_msg_fn on_msg,
	     conn_close_fn on_close, void *data, struct conn **out);

/*
 * From now on, encrypt what is sent and decrypt what comes after the
 * message being handled (called from on_msg, at the end of a handshake):
 * ChaCha20-Poly1305, a key per direction, the record's number as nonce.
 */
void conn_encrypt(struct conn *conn, const uint8_t tx_key[32], const uint8_t rx_key[32]);

/* Bytes queued, not yet taken by the kernel. */
static inline size_t conn_queued(const struct conn *conn)
{
	return conn->out_len - conn->out_off;
}

/* Queue one message; -ENOBUFS when the peer is too far behind. */
int conn_send(struct conn *conn, const Msg *msg);
/* Queue a Reply{status, message} answering request id. */
int conn_reply(struct conn *conn, uint64_t id, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Close now: unwatch, close the fd, call on_close; memory is freed after
 * the current batch of events.  Safe to call twice. */
void conn_close(struct conn *conn, const char *reason);

#endif
