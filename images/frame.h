/*
 * frame.h - the framing of bproc's wire protocol, and where every message is
 * encoded and decoded.
 *
 * A frame is an 8-byte header, then one packed bproc.Msg (images/bproc.proto):
 *
 *   u16 magic  u16 version  u32 payload length     all big endian
 *
 * Decoding is strict: a bad magic, another protocol version, a payload over
 * FRAME_MAX_PAYLOAD, or bytes that are not a Msg with exactly one body are
 * errors, never guesses.  These functions do no I/O except frame_send() and
 * frame_recv(), which are for blocking clients.
 */
#ifndef BPROC_FRAME_H
#define BPROC_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "bproc.pb-c.h"

#define FRAME_MAGIC 0xB9C0
#define PROTOCOL_VERSION 1
#define FRAME_HEADER_SIZE 8
#define FRAME_MAX_PAYLOAD (16u << 20)

typedef Bproc__Msg Msg;

/*
 * Look at the first bytes of a stream.  Returns 0 and the payload length
 * when a whole header is there, -EAGAIN when fewer than 8 bytes are,
 * -EPROTO on a bad magic, -EPROTONOSUPPORT on another version (*version
 * then says which), -EMSGSIZE on an oversized payload.
 */
int frame_header_decode(const uint8_t *buf, size_t len, uint32_t *payload_len,
			uint16_t *version);
void frame_header_encode(uint8_t *buf, uint32_t payload_len);

/* Encode msg as a whole frame in a new buffer (free() it). */
int frame_encode(const Msg *msg, uint8_t **out, size_t *out_len);

/* Decode one payload.  -EBADMSG when it is not a Msg with one body. */
int frame_decode_payload(const uint8_t *payload, size_t len, Msg **out);

/*
 * Take one frame from the front of a buffer.  Returns 0 with *out set and
 * *consumed the frame's size, 0 with *out NULL when the frame is not
 * complete yet, or a negative errno from the two functions above.
 */
int frame_parse(const uint8_t *buf, size_t len, Msg **out, size_t *consumed);

void msg_free(Msg *msg);
static inline void msg_freep(Msg **msg)
{
	if (*msg)
		msg_free(*msg);
}
#define _cleanup_msg_ __attribute__((cleanup(msg_freep)))

/* Blocking send and receive of one frame on fd; 0 or -errno. */
int frame_send(int fd, const Msg *msg);
int frame_recv(int fd, Msg **out);

/* The name of a Msg body, for log messages. */
const char *msg_body_name(const Msg *msg);

#endif
