/*
 * page_seal.c - a move's page stream sealed (see page_seal.h).
 */
#include "page_seal.h"

#include <sodium.h>

#include "seal_relay.h"

int page_stream_seal(const struct cluster_secret *secret, const uint8_t *token, size_t len,
		     bool connector, int *fd)
{
	uint8_t tx[SEAL_KEY_SIZE], rx[SEAL_KEY_SIZE];
	int r;

	auth_link_keys(secret, "bproc page stream", token, len, connector, tx, rx);
	r = seal_relay_start(fd, tx, rx);
	sodium_memzero(tx, sizeof(tx));
	sodium_memzero(rx, sizeof(rx));
	return r;
}
