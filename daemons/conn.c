/*
 * conn.c - see conn.h.
 *
 * An encrypted link carries records, one frame each: a 4-byte big-endian
 * length, then the frame sealed with ChaCha20-Poly1305 (libsodium; the
 * 16-byte tag at the end), its nonce the record's number in its direction,
 * so a record dropped, replayed or moved fails to open and the link is cut.
 */
#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "bproc.h"
#include "log.h"
#include "util.h"

static void conn_event(struct loop *loop, int fd, uint32_t events, void *data);

#define RECORD_HEADER 4
#define RECORD_TAG crypto_aead_chacha20poly1305_ietf_ABYTES

static void conn_free(void *p)
{
	struct conn *conn = p;

	sodium_memzero(conn->tx_key, sizeof(conn->tx_key));
	sodium_memzero(conn->rx_key, sizeof(conn->rx_key));
	free(conn->in);
	free(conn->out);
	free(conn);
}

int conn_new(struct loop *loop, int fd, const char *name, conn_msg_fn on_msg,
	     conn_close_fn on_close, void *data, struct conn **out)
{
	struct conn *conn;
	socklen_t len = sizeof(struct ucred);
	int r;

	conn = calloc(1, sizeof(*conn));
	if (!conn) {
		close(fd);
		return -ENOMEM;
	}
	conn->fd = fd;
	conn->loop = loop;
	conn->on_msg = on_msg;
	conn->on_close = on_close;
	conn->data = data;
	snprintf(conn->name, sizeof(conn->name), "%s", name);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &conn->creds, &len) == 0 && conn->creds.pid > 0)
		conn->has_creds = true;
	tcp_nodelay(fd);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		r = -errno;
		goto fail;
	}
	r = loop_add(loop, fd, EPOLLIN, conn_event, conn);
	if (r < 0)
		goto fail;
	*out = conn;
	return 0;
fail:
	close(fd);
	conn_free(conn);
	return r;
}

void conn_close(struct conn *conn, const char *reason)
{
	if (conn->closed)
		return;
	conn->closed = true;
	if (reason)
		pr_info("%s: closing: %s", conn->name, reason);
	loop_remove(conn->loop, conn->fd);
	close(conn->fd);
	conn->fd = -1;
	if (conn->on_close)
		conn->on_close(conn, conn->data);
	if (loop_defer_free(conn->loop, conn_free, conn) < 0)
		pr_err("%s: out of memory; leaking a closed connection", conn->name);
}

static int conn_flush(struct conn *conn)
{
	while (conn->out_off < conn->out_len) {
		ssize_t n = write(conn->fd, conn->out + conn->out_off, conn->out_len - conn->out_off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		conn->out_off += (size_t)n;
	}
	if (conn->out_off == conn->out_len) {
		conn->out_off = conn->out_len = 0;
		/* Emptied by a conn_send() after a wait: whoever waits for
		 * on_drained (a slave that stopped reading its processes'
		 * pipes) hears it from the loop, not from inside that send. */
		return loop_modify(conn->loop, conn->fd,
				   EPOLLIN | (conn->waited && conn->on_drained ? EPOLLOUT : 0));
	}
	conn->waited = true;
	return loop_modify(conn->loop, conn->fd, EPOLLIN | EPOLLOUT);
}

void conn_encrypt(struct conn *conn, const uint8_t tx_key[32], const uint8_t rx_key[32])
{
	memcpy(conn->tx_key, tx_key, sizeof(conn->tx_key));
	memcpy(conn->rx_key, rx_key, sizeof(conn->rx_key));
	conn->tx_seq = conn->rx_seq = 0;
	conn->encrypted = true;
}

static void record_nonce(uint64_t seq, uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES])
{
	memset(nonce, 0, crypto_aead_chacha20poly1305_ietf_NPUBBYTES);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(seq >> (8 * i));
}

/* frame (len bytes) sealed into a new record; 0 or -ENOMEM. */
static int seal(struct conn *conn, const uint8_t *frame, size_t len, uint8_t **out, size_t *outlen)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	unsigned long long clen;
	uint8_t *rec = malloc(RECORD_HEADER + len + RECORD_TAG);

	if (!rec)
		return -ENOMEM;
	record_nonce(conn->tx_seq++, nonce);
	crypto_aead_chacha20poly1305_ietf_encrypt(rec + RECORD_HEADER, &clen, frame, len, NULL, 0,
						  NULL, nonce, conn->tx_key);
	for (int i = 0; i < 4; i++)
		rec[i] = (uint8_t)(clen >> (24 - 8 * i));
	*out = rec;
	*outlen = RECORD_HEADER + (size_t)clen;
	return 0;
}

/* One record at buf opened and its frame parsed: -EAGAIN if it is not all
 * there yet, -EKEYREJECTED if it is too long or does not open. */
static int open_record(struct conn *conn, const uint8_t *buf, size_t len, Msg **msg, size_t *used)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	_cleanup_free_ uint8_t *plain = NULL;
	unsigned long long plen;
	size_t clen, fused;
	int r;

	if (len < RECORD_HEADER)
		return -EAGAIN;
	clen = (size_t)buf[0] << 24 | (size_t)buf[1] << 16 | (size_t)buf[2] << 8 | buf[3];
	if (clen < RECORD_TAG || clen > FRAME_HEADER_SIZE + FRAME_MAX_PAYLOAD + RECORD_TAG)
		return -EKEYREJECTED;
	if (len < RECORD_HEADER + clen)
		return -EAGAIN;
	plain = malloc(clen);
	if (!plain)
		return -ENOMEM;
	record_nonce(conn->rx_seq, nonce);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(plain, &plen, NULL, buf + RECORD_HEADER, clen,
						      NULL, 0, nonce, conn->rx_key) != 0)
		return -EKEYREJECTED;
	conn->rx_seq++;
	r = frame_parse(plain, (size_t)plen, msg, &fused);
	if (r < 0)
		return r;
	if (!*msg || fused != plen) {
		if (*msg)
			msg_free(*msg);
		*msg = NULL;
		return -EPROTO;
	}
	*used = RECORD_HEADER + clen;
	return 0;
}

int conn_send(struct conn *conn, const Msg *msg)
{
	_cleanup_free_ uint8_t *frame = NULL;
	size_t len;
	int r;

	if (conn->closed)
		return -EPIPE;
	r = frame_encode(msg, &frame, &len);
	if (r < 0)
		return r;
	if (conn->encrypted) {
		uint8_t *rec;

		r = seal(conn, frame, len, &rec, &len);
		if (r < 0)
			return r;
		free(frame);
		frame = rec;
	}
	if (conn->out_len - conn->out_off + len > CONN_MAX_QUEUED) {
		conn_close(conn, "peer does not read its messages; output queue full");
		return -ENOBUFS;
	}
	/* Compact before growing so a busy link reuses its buffer. */
	if (conn->out_off > 0) {
		memmove(conn->out, conn->out + conn->out_off, conn->out_len - conn->out_off);
		conn->out_len -= conn->out_off;
		conn->out_off = 0;
	}
	if (conn->out_len + len > conn->out_cap) {
		size_t cap = (conn->out_len + len) * 2;
		uint8_t *t = realloc(conn->out, cap);

		if (!t)
			return -ENOMEM;
		conn->out = t;
		conn->out_cap = cap;
	}
	memcpy(conn->out + conn->out_len, frame, len);
	conn->out_len += len;
	r = conn_flush(conn);
	if (r < 0) {
		conn_close(conn, strerror(-r));
		return r;
	}
	return 0;
}

int conn_reply(struct conn *conn, uint64_t id, int status, const char *fmt, ...)
{
	Bproc__Reply reply = BPROC__REPLY__INIT;
	Msg msg = BPROC__MSG__INIT;
	char text[512] = "";

	if (fmt) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(text, sizeof(text), fmt, ap);
		va_end(ap);
		reply.message = text;
	}
	reply.status = status;
	msg.has_id = true;
	msg.id = id;
	msg.body_case = BPROC__MSG__BODY_REPLY;
	msg.reply = &reply;
	return conn_send(conn, &msg);
}

/* Read what is there, then hand out every whole frame in the buffer. */
static int conn_read(struct conn *conn)
{
	size_t off = 0;
	bool eof = false;

	for (;;) {
		ssize_t n;

		if (conn->in_cap - conn->in_len < 65536) {
			size_t cap = conn->in_cap ? conn->in_cap * 2 : 131072;
			uint8_t *t;

			if (cap > FRAME_HEADER_SIZE + FRAME_MAX_PAYLOAD + 65536)
				cap = FRAME_HEADER_SIZE + FRAME_MAX_PAYLOAD + 65536;
			if (cap <= conn->in_len)
				break; /* full: parse what is there first */
			t = realloc(conn->in, cap);
			if (!t)
				return -ENOMEM;
			conn->in = t;
			conn->in_cap = cap;
		}
		n = read(conn->fd, conn->in + conn->in_len, conn->in_cap - conn->in_len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		if (n == 0) {
			eof = true;
			break;
		}
		conn->in_len += (size_t)n;
		if ((size_t)n < 65536)
			break;
	}

	while (!conn->closed) {
		Msg *msg = NULL;
		size_t used;
		int r;

		/* Checked for each message: the link is encrypted from the
		 * one after the handshake's last. */
		if (conn->encrypted) {
			r = open_record(conn, conn->in + off, conn->in_len - off, &msg, &used);
			if (r == -EAGAIN)
				break;
		} else {
			r = frame_parse(conn->in + off, conn->in_len - off, &msg, &used);
		}
		if (r < 0)
			return r;
		if (!msg)
			break;
		off += used;
		r = conn->on_msg(conn, msg, conn->data);
		msg_free(msg);
		if (r < 0)
			return r;
	}
	if (conn->closed)
		return 0;
	memmove(conn->in, conn->in + off, conn->in_len - off);
	conn->in_len -= off;
	return eof ? -EPIPE : 0;
}

static const char *conn_error_text(int r)
{
	switch (r) {
	case -EPIPE:
		return "connection closed by peer";
	case -EPROTO:
		return "not a bproc peer (bad frame magic)";
	case -EPROTONOSUPPORT:
		return "peer speaks another bproc protocol version";
	case -EMSGSIZE:
		return "frame larger than the protocol allows";
	case -EBADMSG:
		return "undecodable message";
	case -EKEYREJECTED:
		return "a record that does not open (not encrypted with our key, altered, replayed)";
	default:
		return strerror(-r);
	}
}

static void conn_event(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct conn *conn = data;
	int r = 0;

	if (events & EPOLLOUT) {
		r = conn_flush(conn);
		if (r < 0) {
			conn_close(conn, conn_error_text(r));
			return;
		}
		/* It had to wait for the peer, and has caught up. */
		if (conn_queued(conn) == 0 && conn->waited) {
			conn->waited = false;
			r = loop_modify(conn->loop, conn->fd, EPOLLIN);
			if (r < 0) {
				conn_close(conn, conn_error_text(r));
				return;
			}
			if (conn->on_drained)
				conn->on_drained(conn, conn->data);
		}
		if (conn->closed)
			return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		r = conn_read(conn);
		if (r < 0 && !conn->closed) {
			/* A peer on another version hears why before we hang up. */
			if (r == -EPROTONOSUPPORT)
				conn_reply(conn, 0, -BE_PROTOCOL,
					   "bproc protocol version %d expected", PROTOCOL_VERSION);
			/* A plain hang-up is normal for clients; say nothing. */
			conn_close(conn, r == -EPIPE ? NULL : conn_error_text(r));
		}
	}
}
