/*
 * page_seal.h - a move's page stream sealed, on a cluster that encrypts.
 *
 * CRIU's page server speaks plain bytes on the socket it is given
 * (--ps-socket).  When the links are encrypted, the daemons give CRIU one
 * end of a socketpair instead, and a relay (common/seal_relay.h) seals
 * what crosses the TCP connection.  The keys are HMAC-SHA-256 of the
 * cluster secret over the move's token (auth_link_keys), one per
 * direction: only the two daemons the master told the token to, over its
 * sealed links, have them, and a fresh token per move means a fresh pair
 * of keys for each page stream.
 */
#ifndef BPROC_PAGE_SEAL_H
#define BPROC_PAGE_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"

/* After the token went (source, connector) or was checked (target): *fd,
 * the TCP connection, becomes CRIU's end of the sealed stream.  0, or
 * -errno with *fd as it was. */
int page_stream_seal(const struct cluster_secret *secret, const uint8_t *token, size_t len,
		     bool connector, int *fd);

#endif
