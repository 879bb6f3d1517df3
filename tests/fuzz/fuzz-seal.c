/*
 * fuzz-seal.c - libFuzzer target for the sealed-record decoder
 * (common/seal.c), as the relay uses it on what comes off the network.
 *
 * An input whose first byte is even is the stream itself, as anyone on
 * the network could send it: records are opened from its front until one
 * is incomplete or refused, and none may open (nobody without the key can
 * make one).  An odd first byte makes a real stream instead: the rest is
 * cut into plaintexts (a length byte each), sealed, and one byte of the
 * stream (chosen by the input) altered or the stream cut there; every
 * record before that point must open to what was sealed, and the decoder
 * must stop at it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "seal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[SEAL_KEY_SIZE] = "fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz";

/* Open records from buf until one does not; how many opened. */
static size_t open_all(const uint8_t *buf, size_t len, const uint8_t *expect, size_t *offsets,
		       size_t nexpect)
{
	static uint8_t plain[SEAL_MAX_PLAIN];
	struct seal_dir d;
	size_t n = 0, plen, used;

	seal_dir_init(&d, key);
	while (len > 0) {
		int r = seal_open(&d, buf, len, plain, &plen, &used);

		if (r < 0) {
			if (r != -EAGAIN && r != -EMSGSIZE && r != -EBADMSG)
				abort();
			break;
		}
		if (used > len || plen > SEAL_MAX_PLAIN)
			abort();
		if (!expect || n >= nexpect || plen != offsets[n + 1] - offsets[n] ||
		    memcmp(plain, expect + offsets[n], plen) != 0)
			abort(); /* a record opened that nobody sealed */
		buf += used;
		len -= used;
		n++;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t offsets[258], starts[258], nrec = 0, total = 0, pos = 0, at, opened;
	uint8_t *stream, *plain;
	struct seal_dir d;

	if (size < 3 || !(data[0] & 1)) {
		open_all(data, size, NULL, NULL, 0);
		return 0;
	}
	/* data[1..2]: where to break the stream; then the plaintexts. */
	at = (size_t)data[1] << 8 | data[2];
	data += 3;
	size -= 3;
	plain = malloc(size + 1);
	stream = malloc(size + 256 * (SEAL_HEADER + SEAL_TAG));
	if (!plain || !stream)
		abort();
	seal_dir_init(&d, key);
	offsets[0] = 0;
	while (pos < size && nrec < 256) {
		size_t len = data[pos++];

		if (len > size - pos)
			len = size - pos;
		memcpy(plain + offsets[nrec], data + pos, len);
		pos += len;
		starts[nrec] = total;
		total += seal_record(&d, plain + offsets[nrec], len, stream + total);
		offsets[nrec + 1] = offsets[nrec] + len;
		nrec++;
	}
	starts[nrec] = total;
	/* Untouched, every record opens. */
	if (open_all(stream, total, plain, offsets, nrec) != nrec)
		abort();
	if (total > 0) {
		size_t hit;

		at %= 2 * total;
		if (at < total) {
			stream[at] ^= 0x5a; /* altered */
			hit = at;
		} else {
			total = at - total; /* cut */
			hit = total;
		}
		for (size_t i = 0; i < nrec; i++)
			if (starts[i] <= hit && hit < starts[i + 1]) {
				opened = open_all(stream, total, plain, offsets, nrec);
				/* The records before the damaged one, never it. */
				if (opened != i)
					abort();
				break;
			}
	}
	free(plain);
	free(stream);
	return 0;
}
