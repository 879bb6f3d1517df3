/*
 * auth.h - daemons prove to each other that they belong to the cluster.
 *
 * Every link between two daemons (a slave and its master today) starts
 * with a mutual challenge-response over the cluster's shared secret, a
 * file readable by root only (config key `secretfile`, /etc/bproc/secret
 * by default).  The side that connected is the connector, the other the
 * acceptor:
 *
 *   connector -> AuthStart { Nc }
 *   acceptor  -> AuthChallenge { Ns, HMAC(secret, "bproc acceptor" Nc Ns) }
 *   connector -> AuthProof { HMAC(secret, "bproc connector" Nc Ns) }
 *
 * with fresh 32-byte random nonces and HMAC-SHA-256 (libsodium).  Each side
 * checks the other's proof before it believes anything it says, so a peer
 * without the secret can register as no node and is told nothing but
 * random numbers; a recorded handshake cannot be replayed, the nonces
 * differ every time.  Until auth_done(), the caller passes every message
 * to auth_handle() and nothing else.
 */
#ifndef BPROC_AUTH_H
#define BPROC_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"

#define AUTH_NONCE_SIZE 32
#define AUTH_PROOF_SIZE 32
#define AUTH_DEFAULT_SECRET "/etc/bproc/secret"
/* bpcluster hands its slaves the secret as an open file: they run in mount
 * namespaces where its file is not. */
#define AUTH_SECRET_FD_ENV "BPROC_SECRET_FD"
/* How long a new link may take to prove itself before it is cut. */
#define AUTH_TIMEOUT_MS 5000

struct cluster_secret {
	uint8_t *bytes;
	size_t len;
};

/*
 * Read the secret from path (or, when fd >= 0, from that open file; path
 * only names it in messages).  Refused: a file others may read or write,
 * fewer than 16 bytes.  0, or -errno with why in err.
 */
int auth_secret_load(const char *path, int fd, struct cluster_secret *secret, char *err,
		     size_t errlen);
void auth_secret_free(struct cluster_secret *secret);

struct auth {
	const struct cluster_secret *secret;
	bool connector;
	bool started;  /* connector: AuthStart sent; acceptor: AuthChallenge sent */
	bool done;
	/* The link is encrypted once done: the acceptor's choice (config
	 * `encrypt`), told in AuthChallenge and covered by both proofs. */
	bool encrypt;
	uint8_t connector_nonce[AUTH_NONCE_SIZE];
	uint8_t acceptor_nonce[AUTH_NONCE_SIZE];
};

/* The connector's first message. */
int auth_connect(struct auth *a, const struct cluster_secret *secret, struct conn *conn);
/* The acceptor waits for AuthStart; encrypt: the link is to be encrypted. */
void auth_accept(struct auth *a, const struct cluster_secret *secret, bool encrypt);

/*
 * Keys for a link encrypted after a handshake over secret: both derived
 * from HMAC-SHA-256(secret, label || context), one per direction (the
 * connector sends with the first).  For the master's links the context is
 * the two nonces; for a link between two slaves, the move's token.
 */
void auth_link_keys(const struct cluster_secret *secret, const char *label, const uint8_t *context,
		    size_t len, bool connector, uint8_t tx[32], uint8_t rx[32]);

/*
 * A message received before auth_done(): 0 when it was the next step of
 * the handshake (auth_done() may now be true: the connector then sends its
 * Hello), -EACCES when a proof is wrong, -EPROTO for any other message.
 * The caller closes the link on a negative return.
 */
int auth_handle(struct auth *a, struct conn *conn, const Msg *msg);

static inline bool auth_done(const struct auth *a)
{
	return a->done;
}

/* HMAC-SHA-256(secret, label || connector nonce || acceptor nonce): split
 * out for the unit tests. */
void auth_proof(const struct cluster_secret *secret, const char *label,
		const uint8_t connector_nonce[AUTH_NONCE_SIZE],
		const uint8_t acceptor_nonce[AUTH_NONCE_SIZE], uint8_t out[AUTH_PROOF_SIZE]);

#endif
