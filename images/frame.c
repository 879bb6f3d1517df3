/*
 * frame.c - see frame.h.  This is the only place bytes from a socket become
 * a message.
 */
#include "frame.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int frame_header_decode(const uint8_t *buf, size_t len, uint32_t *payload_len,
			uint16_t *version)
{
	uint16_t magic, ver;
	uint32_t plen;

	if (len < FRAME_HEADER_SIZE)
		return -EAGAIN;
	memcpy(&magic, buf, 2);
	memcpy(&ver, buf + 2, 2);
	memcpy(&plen, buf + 4, 4);
	magic = ntohs(magic);
	ver = ntohs(ver);
	plen = ntohl(plen);
	if (version)
		*version = ver;
	if (magic != FRAME_MAGIC)
		return -EPROTO;
	if (ver != PROTOCOL_VERSION)
		return -EPROTONOSUPPORT;
	if (plen > FRAME_MAX_PAYLOAD)
		return -EMSGSIZE;
	*payload_len = plen;
	return 0;
}

void frame_header_encode(uint8_t *buf, uint32_t payload_len)
{
	uint16_t magic = htons(FRAME_MAGIC), ver = htons(PROTOCOL_VERSION);
	uint32_t plen = htonl(payload_len);

	memcpy(buf, &magic, 2);
	memcpy(buf + 2, &ver, 2);
	memcpy(buf + 4, &plen, 4);
}

int frame_encode(const Msg *msg, uint8_t **out, size_t *out_len)
{
	size_t plen = bproc__msg__get_packed_size(msg);
	uint8_t *buf;

	if (plen > FRAME_MAX_PAYLOAD)
		return -EMSGSIZE;
	buf = malloc(FRAME_HEADER_SIZE + plen);
	if (!buf)
		return -ENOMEM;
	frame_header_encode(buf, (uint32_t)plen);
	bproc__msg__pack(msg, buf + FRAME_HEADER_SIZE);
	*out = buf;
	*out_len = FRAME_HEADER_SIZE + plen;
	return 0;
}

/*
 * Both ends speak the same protocol version, so a field we do not know is
 * garbage, not news.  protobuf-c keeps unknown fields (even field number 0,
 * which no encoder writes and which it would then send on as a message it
 * cannot read itself): refuse them, at every depth.
 */
static bool has_unknown_fields(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	if (m->n_unknown_fields)
		return true;
	for (unsigned int i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m + f->offset;

		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
			ProtobufCMessage *const *items = *(ProtobufCMessage *const *const *)base;

			for (size_t j = 0; j < n; j++)
				if (items[j] && has_unknown_fields(items[j]))
					return true;
		} else {
			const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)base;

			/* A oneof member that is not the chosen one shares the
			 * union's storage: only look at the chosen one. */
			if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF &&
			    *(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id)
				continue;
			if (sub && has_unknown_fields(sub))
				return true;
		}
	}
	return false;
}

int frame_decode_payload(const uint8_t *payload, size_t len, Msg **out)
{
	Msg *msg = bproc__msg__unpack(NULL, len, payload);

	if (!msg)
		return -EBADMSG;
	if (msg->body_case == BPROC__MSG__BODY__NOT_SET || has_unknown_fields(&msg->base)) {
		bproc__msg__free_unpacked(msg, NULL);
		return -EBADMSG;
	}
	*out = msg;
	return 0;
}

int frame_parse(const uint8_t *buf, size_t len, Msg **out, size_t *consumed)
{
	uint32_t plen;
	int r;

	*out = NULL;
	*consumed = 0;
	r = frame_header_decode(buf, len, &plen, NULL);
	if (r == -EAGAIN)
		return 0;
	if (r < 0)
		return r;
	if (len < FRAME_HEADER_SIZE + (size_t)plen)
		return 0;
	r = frame_decode_payload(buf + FRAME_HEADER_SIZE, plen, out);
	if (r < 0)
		return r;
	*consumed = FRAME_HEADER_SIZE + plen;
	return 0;
}

void msg_free(Msg *msg)
{
	bproc__msg__free_unpacked(msg, NULL);
}

int frame_send(int fd, const Msg *msg)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	int r;

	r = frame_encode(msg, &buf, &len);
	if (r < 0)
		return r;
	return write_full(fd, buf, len);
}

int frame_recv(int fd, Msg **out)
{
	uint8_t hdr[FRAME_HEADER_SIZE];
	_cleanup_free_ uint8_t *payload = NULL;
	uint32_t plen;
	int r;

	r = read_full(fd, hdr, sizeof(hdr));
	if (r < 0)
		return r;
	r = frame_header_decode(hdr, sizeof(hdr), &plen, NULL);
	if (r < 0)
		return r;
	payload = malloc(plen ? plen : 1);
	if (!payload)
		return -ENOMEM;
	r = read_full(fd, payload, plen);
	if (r < 0)
		return r;
	return frame_decode_payload(payload, plen, out);
}

const char *msg_body_name(const Msg *msg)
{
	const ProtobufCFieldDescriptor *f;

	f = protobuf_c_message_descriptor_get_field(&bproc__msg__descriptor,
						    (unsigned)msg->body_case);
	return f ? f->name : "none";
}
