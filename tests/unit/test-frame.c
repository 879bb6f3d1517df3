/*
 * test-frame.c - framing and message decoding (images/frame.c): every way a
 * stream of bytes can be wrong must be an error, never a crash or a guess.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"

static Msg *make_hello(void)
{
	static Bproc__Hello hello = BPROC__HELLO__INIT;
	static Msg msg = BPROC__MSG__INIT;

	hello.role = BPROC__PEER_ROLE__ROLE_SLAVE;
	hello.hostname = "n3";
	msg.has_id = true;
	msg.id = 77;
	msg.body_case = BPROC__MSG__BODY_HELLO;
	msg.hello = &hello;
	return &msg;
}

Test(frame, round_trip)
{
	uint8_t *buf;
	size_t len, used;
	Msg *out;

	cr_assert_eq(frame_encode(make_hello(), &buf, &len), 0);
	cr_assert_eq(frame_parse(buf, len, &out, &used), 0);
	cr_assert_not_null(out);
	cr_assert_eq(used, len);
	cr_assert_eq(out->id, 77);
	cr_assert_eq(out->body_case, BPROC__MSG__BODY_HELLO);
	cr_assert_str_eq(out->hello->hostname, "n3");
	cr_assert_str_eq(msg_body_name(out), "hello");
	msg_free(out);
	free(buf);
}

Test(frame, every_truncation_waits)
{
	uint8_t *buf;
	size_t len, used;
	Msg *out;

	cr_assert_eq(frame_encode(make_hello(), &buf, &len), 0);
	for (size_t cut = 0; cut < len; cut++) {
		cr_assert_eq(frame_parse(buf, cut, &out, &used), 0, "cut at %zu", cut);
		cr_assert_null(out, "a frame cut at %zu decoded", cut);
		cr_assert_eq(used, 0);
	}
	free(buf);
}

Test(frame, two_frames_in_one_buffer)
{
	uint8_t *a, *b, both[256];
	size_t alen, blen, used;
	Msg *out;

	cr_assert_eq(frame_encode(make_hello(), &a, &alen), 0);
	cr_assert_eq(frame_encode(make_hello(), &b, &blen), 0);
	memcpy(both, a, alen);
	memcpy(both + alen, b, blen);
	cr_assert_eq(frame_parse(both, alen + blen, &out, &used), 0);
	cr_assert_eq(used, alen);
	msg_free(out);
	cr_assert_eq(frame_parse(both + used, blen, &out, &used), 0);
	cr_assert_eq(used, blen);
	msg_free(out);
	free(a);
	free(b);
}

Test(frame, bad_headers)
{
	uint8_t hdr[FRAME_HEADER_SIZE];
	uint32_t plen;
	uint16_t version;

	frame_header_encode(hdr, 10);
	hdr[0] ^= 0xff;
	cr_assert_eq(frame_header_decode(hdr, sizeof(hdr), &plen, &version), -EPROTO);

	frame_header_encode(hdr, 10);
	hdr[3] = PROTOCOL_VERSION + 1;
	cr_assert_eq(frame_header_decode(hdr, sizeof(hdr), &plen, &version), -EPROTONOSUPPORT);
	cr_assert_eq(version, PROTOCOL_VERSION + 1);

	frame_header_encode(hdr, FRAME_MAX_PAYLOAD + 1);
	cr_assert_eq(frame_header_decode(hdr, sizeof(hdr), &plen, &version), -EMSGSIZE);

	frame_header_encode(hdr, FRAME_MAX_PAYLOAD);
	cr_assert_eq(frame_header_decode(hdr, sizeof(hdr), &plen, &version), 0);
	cr_assert_eq(plen, FRAME_MAX_PAYLOAD);

	cr_assert_eq(frame_header_decode(hdr, 7, &plen, &version), -EAGAIN);
}

Test(frame, garbage_payloads)
{
	uint8_t buf[64];
	size_t used;
	Msg *out;

	/* A field tag with wire type 7 does not exist. */
	memset(buf + FRAME_HEADER_SIZE, 0xff, 16);
	frame_header_encode(buf, 16);
	cr_assert_eq(frame_parse(buf, FRAME_HEADER_SIZE + 16, &out, &used), -EBADMSG);

	/* An empty Msg parses but has no body: refused. */
	frame_header_encode(buf, 0);
	cr_assert_eq(frame_parse(buf, FRAME_HEADER_SIZE, &out, &used), -EBADMSG);

	/* A hello without its required role. */
	buf[FRAME_HEADER_SIZE] = (10 << 3) | 2; /* field 10, length-delimited */
	buf[FRAME_HEADER_SIZE + 1] = 0;
	frame_header_encode(buf, 2);
	cr_assert_eq(frame_parse(buf, FRAME_HEADER_SIZE + 2, &out, &used), -EBADMSG);

	/* A length that runs past the payload. */
	buf[FRAME_HEADER_SIZE + 1] = 50;
	cr_assert_eq(frame_parse(buf, FRAME_HEADER_SIZE + 2, &out, &used), -EBADMSG);
}

/* Found by tests/fuzz/fuzz-frame: protobuf-c keeps unknown fields, even
 * field number 0, and would send them on as a frame it cannot read. */
Test(frame, unknown_fields_refused_at_every_depth)
{
	/* field 0 (varint 0x80 0x00, value 0), then an empty ProcListReply */
	static const uint8_t field_zero[] = { 0x80, 0x00, 0x00, 0xd2, 0x01, 0x00 };
	/* field 99 (varint 5), then the same reply */
	static const uint8_t unknown_top[] = { 0x98, 0x06, 0x05, 0xd2, 0x01, 0x00 };
	/* a ProcListReply holding one ProcEntry with pid 1, node 2 and an
	 * unknown field 9 */
	static const uint8_t unknown_inner[] = { 0xd2, 0x01, 0x08, 0x0a, 0x06, 0x08, 0x01,
						 0x10, 0x02, 0x48, 0x01 };
	static const uint8_t known_inner[] = { 0xd2, 0x01, 0x06, 0x0a, 0x04, 0x08, 0x01,
					       0x10, 0x02 };
	Msg *out = NULL;

	cr_assert_eq(frame_decode_payload(field_zero, sizeof(field_zero), &out), -EBADMSG);
	cr_assert_eq(frame_decode_payload(unknown_top, sizeof(unknown_top), &out), -EBADMSG);
	cr_assert_eq(frame_decode_payload(unknown_inner, sizeof(unknown_inner), &out), -EBADMSG);
	cr_assert_eq(frame_decode_payload(known_inner, sizeof(known_inner), &out), 0);
	cr_assert_eq(out->body_case, BPROC__MSG__BODY_PROC_LIST_REPLY);
	cr_assert_eq(out->proc_list_reply->n_procs, 1);
	cr_expect_eq(out->proc_list_reply->procs[0]->node, 2);
	msg_free(out);
}

Test(frame, random_bytes_never_crash)
{
	uint8_t buf[256];
	size_t used;
	Msg *out;

	srand(1);
	for (int i = 0; i < 20000; i++) {
		size_t len = (size_t)(rand() % 120);

		for (size_t j = 0; j < sizeof(buf); j++)
			buf[j] = (uint8_t)rand();
		frame_header_encode(buf, (uint32_t)len);
		if (frame_parse(buf, FRAME_HEADER_SIZE + len, &out, &used) == 0 && out)
			msg_free(out);
	}
}

Test(frame, send_and_receive_on_a_pipe)
{
	int fds[2];
	Msg *out;
	uint8_t junk[FRAME_HEADER_SIZE + 3];

	cr_assert_eq(pipe(fds), 0);
	cr_assert_eq(frame_send(fds[1], make_hello()), 0);
	cr_assert_eq(frame_recv(fds[0], &out), 0);
	cr_assert_eq(out->id, 77);
	msg_free(out);

	/* A peer that hangs up in the middle of a frame. */
	frame_header_encode(junk, 100);
	cr_assert_eq(write(fds[1], junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fds[1]);
	cr_assert_eq(frame_recv(fds[0], &out), -EPIPE);
	close(fds[0]);
}
