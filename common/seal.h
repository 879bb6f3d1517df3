/*
 * seal.h - sealed records: a byte stream cut into authenticated pieces.
 *
 * What crosses a connection other than the daemons' links (a move's page
 * stream, bpcp's data) is sealed record by record when the cluster
 * encrypts (config `encrypt yes`):
 *
 *   u32 big-endian length of what follows | ChaCha20-Poly1305(plain)
 *
 * with libsodium; the nonce is the record's number in its direction and
 * the length is authenticated data, so a record altered, cut, replayed,
 * dropped or moved does not open.  An empty plaintext ends the stream: a
 * stream that stops without one was cut.  Each direction has its own key,
 * each key serves one connection: a nonce never repeats under a key.
 */
#ifndef BPROC_SEAL_H
#define BPROC_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEAL_KEY_SIZE 32
#define SEAL_HEADER 4
#define SEAL_TAG 16
/* What one record carries at most; a longer length is refused unread. */
#define SEAL_MAX_PLAIN (64 * 1024)
#define SEAL_MAX_RECORD (SEAL_HEADER + SEAL_MAX_PLAIN + SEAL_TAG)

/* One direction of a stream: its key and the number of the next record. */
struct seal_dir {
	uint8_t key[SEAL_KEY_SIZE];
	uint64_t seq;
};

void seal_dir_init(struct seal_dir *d, const uint8_t key[SEAL_KEY_SIZE]);
void seal_dir_wipe(struct seal_dir *d);

/*
 * The two keys of a connection from one shared 32-byte key (libsodium's
 * crypto_kdf): the side that connected sends with the first, the other
 * side with the second.
 */
void seal_keys_from_key(const uint8_t key[SEAL_KEY_SIZE], bool connector,
			uint8_t tx[SEAL_KEY_SIZE], uint8_t rx[SEAL_KEY_SIZE]);

/* plain (len <= SEAL_MAX_PLAIN; 0 is the end of the stream) sealed into
 * out, which has room for len + SEAL_HEADER + SEAL_TAG; returns the
 * record's size. */
size_t seal_record(struct seal_dir *d, const uint8_t *plain, size_t len, uint8_t *out);

/*
 * The record at the start of buf (len bytes) opened into plain (room for
 * SEAL_MAX_PLAIN): 0 with *plain_len (0: the end of the stream) and *used,
 * -EAGAIN when it is not all there yet, -EMSGSIZE when its length is out
 * of range, -EBADMSG when it does not open (altered, forged, replayed, out
 * of order, another key).
 */
int seal_open(struct seal_dir *d, const uint8_t *buf, size_t len, uint8_t *plain,
	      size_t *plain_len, size_t *used);

/* What an error of seal_open or of the relay (seal_relay.h) means. */
const char *seal_strerror(int err);

#endif
