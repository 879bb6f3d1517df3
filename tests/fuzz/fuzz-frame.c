/*
 * fuzz-frame.c - libFuzzer target for the wire decoder (images/frame.c).
 *
 * The input is a byte stream as a peer could send it: frames are taken
 * from its front until one is refused or incomplete.  Every frame that is
 * accepted must encode again, and the encoding must decode to a frame of
 * the same length: a message we accept is one we can also produce.
 * An input whose first byte is odd is a payload instead, put behind a
 * valid header, so the fuzzer reaches the message decoder at once.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse_stream(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *framed;

	if (size == 0 || !(data[0] & 1)) {
		parse_stream(data, size);
		return 0;
	}
	framed = malloc(FRAME_HEADER_SIZE + size - 1);
	if (!framed)
		return 0;
	frame_header_encode(framed, (uint32_t)(size - 1));
	memcpy(framed + FRAME_HEADER_SIZE, data + 1, size - 1);
	parse_stream(framed, FRAME_HEADER_SIZE + size - 1);
	free(framed);
	return 0;
}

static void parse_stream(const uint8_t *data, size_t size)
{
	size_t offset = 0;

	while (offset < size) {
		Msg *msg = NULL, *again = NULL;
		uint8_t *encoded = NULL;
		size_t used = 0, len = 0, used_again = 0;

		if (frame_parse(data + offset, size - offset, &msg, &used) < 0 || !msg)
			break;
		if (used == 0 || used > size - offset)
			abort(); /* must consume the frame it returned */
		(void)msg_body_name(msg);
		if (frame_encode(msg, &encoded, &len) != 0)
			abort();
		if (frame_parse(encoded, len, &again, &used_again) != 0 || !again || used_again != len)
			abort();
		msg_free(again);
		free(encoded);
		msg_free(msg);
		offset += used;
	}
}
