/*
 * seal.c - sealed records (see seal.h), on libsodium's
 * ChaCha20-Poly1305 (IETF) and crypto_kdf.
 */
#include "seal.h"

#include <errno.h>
#include <string.h>
#include <sodium.h>

_Static_assert(SEAL_TAG == crypto_aead_chacha20poly1305_ietf_ABYTES, "tag size");
_Static_assert(SEAL_KEY_SIZE == crypto_aead_chacha20poly1305_ietf_KEYBYTES, "key size");
_Static_assert(SEAL_KEY_SIZE == crypto_kdf_KEYBYTES, "kdf key size");

/* crypto_kdf's context: 8 bytes naming what the subkeys are for. */
static const char KDF_CONTEXT[crypto_kdf_CONTEXTBYTES] = "bpstream";

void seal_dir_init(struct seal_dir *d, const uint8_t key[SEAL_KEY_SIZE])
{
	memcpy(d->key, key, SEAL_KEY_SIZE);
	d->seq = 0;
}

void seal_dir_wipe(struct seal_dir *d)
{
	sodium_memzero(d, sizeof(*d));
}

void seal_keys_from_key(const uint8_t key[SEAL_KEY_SIZE], bool connector,
			uint8_t tx[SEAL_KEY_SIZE], uint8_t rx[SEAL_KEY_SIZE])
{
	uint8_t first[SEAL_KEY_SIZE], second[SEAL_KEY_SIZE];

	crypto_kdf_derive_from_key(first, sizeof(first), 1, KDF_CONTEXT, key);
	crypto_kdf_derive_from_key(second, sizeof(second), 2, KDF_CONTEXT, key);
	memcpy(tx, connector ? first : second, SEAL_KEY_SIZE);
	memcpy(rx, connector ? second : first, SEAL_KEY_SIZE);
	sodium_memzero(first, sizeof(first));
	sodium_memzero(second, sizeof(second));
}

static void record_nonce(uint64_t seq, uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES])
{
	memset(nonce, 0, crypto_aead_chacha20poly1305_ietf_NPUBBYTES);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(seq >> (8 * i));
}

size_t seal_record(struct seal_dir *d, const uint8_t *plain, size_t len, uint8_t *out)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	unsigned long long clen;
	size_t total = len + SEAL_TAG;

	for (int i = 0; i < 4; i++)
		out[i] = (uint8_t)(total >> (24 - 8 * i));
	record_nonce(d->seq++, nonce);
	crypto_aead_chacha20poly1305_ietf_encrypt(out + SEAL_HEADER, &clen, plain, len, out,
						  SEAL_HEADER, NULL, nonce, d->key);
	return SEAL_HEADER + (size_t)clen;
}

int seal_open(struct seal_dir *d, const uint8_t *buf, size_t len, uint8_t *plain,
	      size_t *plain_len, size_t *used)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	unsigned long long plen;
	size_t clen;

	if (len < SEAL_HEADER)
		return -EAGAIN;
	clen = (size_t)buf[0] << 24 | (size_t)buf[1] << 16 | (size_t)buf[2] << 8 | buf[3];
	if (clen < SEAL_TAG || clen > SEAL_MAX_PLAIN + SEAL_TAG)
		return -EMSGSIZE;
	if (len < SEAL_HEADER + clen)
		return -EAGAIN;
	record_nonce(d->seq, nonce);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(plain, &plen, NULL, buf + SEAL_HEADER, clen,
						      buf, SEAL_HEADER, nonce, d->key) != 0)
		return -EBADMSG;
	d->seq++;
	*plain_len = (size_t)plen;
	*used = SEAL_HEADER + clen;
	return 0;
}

const char *seal_strerror(int err)
{
	switch (err) {
	case -EMSGSIZE:
		return "a sealed record of impossible length";
	case -EBADMSG:
		return "a sealed record that does not open (altered, forged, replayed or out of order)";
	case -EPIPE:
		return "the sealed stream was cut before its end";
	case -EPROTO:
		return "data after the end of the sealed stream";
	case -ETIMEDOUT:
		return "the sealed stream stood still too long";
	default:
		return strerror(-err);
	}
}
