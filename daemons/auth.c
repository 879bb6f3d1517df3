/*
 * auth.c - the daemons' mutual challenge-response.  See auth.h for the
 * protocol and why.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"
#include "util.h"

#define LABEL_ACCEPTOR "bproc acceptor"
#define LABEL_CONNECTOR "bproc connector"
/* The same, when the link is to be encrypted: a proof for one is no proof
 * for the other. */
#define LABEL_ACCEPTOR_ENC "bproc acceptor, encrypted"
#define LABEL_CONNECTOR_ENC "bproc connector, encrypted"
#define LABEL_LINK "bproc link keys"
#define SECRET_MIN 16
#define SECRET_MAX 4096

int auth_secret_load(const char *path, int fd, struct cluster_secret *secret, char *err,
		     size_t errlen)
{
	_cleanup_close_ int own = -1;
	uint8_t buf[SECRET_MAX + 1];
	struct stat st;
	ssize_t n;
	size_t len;

	memset(secret, 0, sizeof(*secret));
	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium cannot start");
		return -EIO;
	}
	if (fd < 0) {
		own = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (own < 0) {
			int r = -errno;

			snprintf(err, errlen, "the cluster secret %s: %s", path, strerror(errno));
			return r;
		}
		fd = own;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "the cluster secret %s is not a regular file", path);
		return -EINVAL;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "the cluster secret %s may be read or written by others "
			 "(mode %04o); it must be 0600 or 0400", path, (unsigned int)(st.st_mode & 07777));
		return -EPERM;
	}
	n = pread(fd, buf, sizeof(buf), 0);
	if (n < 0) {
		int r = -errno;

		snprintf(err, errlen, "the cluster secret %s: %s", path, strerror(errno));
		return r;
	}
	len = (size_t)n;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
		len--;
	if (len < SECRET_MIN || (size_t)n > SECRET_MAX) {
		snprintf(err, errlen, "the cluster secret %s must hold %d to %d bytes", path,
			 SECRET_MIN, SECRET_MAX);
		sodium_memzero(buf, sizeof(buf));
		return -EINVAL;
	}
	secret->bytes = malloc(len);
	if (!secret->bytes) {
		sodium_memzero(buf, sizeof(buf));
		return -ENOMEM;
	}
	memcpy(secret->bytes, buf, len);
	secret->len = len;
	sodium_memzero(buf, sizeof(buf));
	return 0;
}

void auth_secret_free(struct cluster_secret *secret)
{
	if (secret->bytes) {
		sodium_memzero(secret->bytes, secret->len);
		free(secret->bytes);
	}
	memset(secret, 0, sizeof(*secret));
}

void auth_proof(const struct cluster_secret *secret, const char *label,
		const uint8_t connector_nonce[AUTH_NONCE_SIZE],
		const uint8_t acceptor_nonce[AUTH_NONCE_SIZE], uint8_t out[AUTH_PROOF_SIZE])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, secret->bytes, secret->len);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)label, strlen(label) + 1);
	crypto_auth_hmacsha256_update(&st, connector_nonce, AUTH_NONCE_SIZE);
	crypto_auth_hmacsha256_update(&st, acceptor_nonce, AUTH_NONCE_SIZE);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

/* In constant time: a proof must not leak how much of it was right. */
static bool proof_matches(const struct auth *a, const char *label, const ProtobufCBinaryData *got)
{
	uint8_t want[AUTH_PROOF_SIZE];
	bool ok;

	if (got->len != AUTH_PROOF_SIZE)
		return false;
	auth_proof(a->secret, label, a->connector_nonce, a->acceptor_nonce, want);
	ok = sodium_memcmp(want, got->data, AUTH_PROOF_SIZE) == 0;
	sodium_memzero(want, sizeof(want));
	return ok;
}

int auth_connect(struct auth *a, const struct cluster_secret *secret, struct conn *conn)
{
	Bproc__AuthStart start = BPROC__AUTH_START__INIT;
	Msg msg = BPROC__MSG__INIT;

	memset(a, 0, sizeof(*a));
	a->secret = secret;
	a->connector = true;
	randombytes_buf(a->connector_nonce, AUTH_NONCE_SIZE);
	start.nonce.data = a->connector_nonce;
	start.nonce.len = AUTH_NONCE_SIZE;
	msg.body_case = BPROC__MSG__BODY_AUTH_START;
	msg.auth_start = &start;
	a->started = true;
	return conn_send(conn, &msg);
}

void auth_accept(struct auth *a, const struct cluster_secret *secret, bool encrypt)
{
	memset(a, 0, sizeof(*a));
	a->secret = secret;
	a->encrypt = encrypt;
}

void auth_link_keys(const struct cluster_secret *secret, const char *label, const uint8_t *context,
		    size_t len, bool connector, uint8_t tx[32], uint8_t rx[32])
{
	crypto_auth_hmacsha256_state st;
	uint8_t base[32], one[32], two[32];

	crypto_auth_hmacsha256_init(&st, secret->bytes, secret->len);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)label, strlen(label) + 1);
	crypto_auth_hmacsha256_update(&st, context, len);
	crypto_auth_hmacsha256_final(&st, base);
	crypto_auth_hmacsha256(one, (const uint8_t *)"connector to acceptor", 21, base);
	crypto_auth_hmacsha256(two, (const uint8_t *)"acceptor to connector", 21, base);
	memcpy(tx, connector ? one : two, 32);
	memcpy(rx, connector ? two : one, 32);
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(base, sizeof(base));
	sodium_memzero(one, sizeof(one));
	sodium_memzero(two, sizeof(two));
}

/* The link's keys, once the handshake is done, and the link encrypted. */
static void encrypt_link(struct auth *a, struct conn *conn)
{
	uint8_t nonces[2 * AUTH_NONCE_SIZE], tx[32], rx[32];

	memcpy(nonces, a->connector_nonce, AUTH_NONCE_SIZE);
	memcpy(nonces + AUTH_NONCE_SIZE, a->acceptor_nonce, AUTH_NONCE_SIZE);
	auth_link_keys(a->secret, LABEL_LINK, nonces, sizeof(nonces), a->connector, tx, rx);
	conn_encrypt(conn, tx, rx);
	sodium_memzero(tx, sizeof(tx));
	sodium_memzero(rx, sizeof(rx));
}

static int acceptor_step(struct auth *a, struct conn *conn, const Msg *msg)
{
	if (!a->started && msg->body_case == BPROC__MSG__BODY_AUTH_START) {
		Bproc__AuthChallenge ch = BPROC__AUTH_CHALLENGE__INIT;
		Msg reply = BPROC__MSG__INIT;
		uint8_t proof[AUTH_PROOF_SIZE];

		if (msg->auth_start->nonce.len != AUTH_NONCE_SIZE)
			return -EPROTO;
		memcpy(a->connector_nonce, msg->auth_start->nonce.data, AUTH_NONCE_SIZE);
		randombytes_buf(a->acceptor_nonce, AUTH_NONCE_SIZE);
		auth_proof(a->secret, a->encrypt ? LABEL_ACCEPTOR_ENC : LABEL_ACCEPTOR,
			   a->connector_nonce, a->acceptor_nonce, proof);
		ch.nonce.data = a->acceptor_nonce;
		ch.nonce.len = AUTH_NONCE_SIZE;
		ch.proof.data = proof;
		ch.proof.len = AUTH_PROOF_SIZE;
		ch.has_encrypt = a->encrypt;
		ch.encrypt = a->encrypt;
		reply.body_case = BPROC__MSG__BODY_AUTH_CHALLENGE;
		reply.auth_challenge = &ch;
		a->started = true;
		return conn_send(conn, &reply);
	}
	if (a->started && msg->body_case == BPROC__MSG__BODY_AUTH_PROOF) {
		if (!proof_matches(a, a->encrypt ? LABEL_CONNECTOR_ENC : LABEL_CONNECTOR,
				   &msg->auth_proof->proof))
			return -EACCES;
		a->done = true;
		if (a->encrypt)
			encrypt_link(a, conn);
		return 0;
	}
	return -EPROTO;
}

static int connector_step(struct auth *a, struct conn *conn, const Msg *msg)
{
	Bproc__AuthProof p = BPROC__AUTH_PROOF__INIT;
	Msg reply = BPROC__MSG__INIT;
	uint8_t proof[AUTH_PROOF_SIZE];
	int r;

	if (!a->started || msg->body_case != BPROC__MSG__BODY_AUTH_CHALLENGE)
		return -EPROTO;
	if (msg->auth_challenge->nonce.len != AUTH_NONCE_SIZE)
		return -EPROTO;
	memcpy(a->acceptor_nonce, msg->auth_challenge->nonce.data, AUTH_NONCE_SIZE);
	a->encrypt = msg->auth_challenge->has_encrypt && msg->auth_challenge->encrypt;
	if (!proof_matches(a, a->encrypt ? LABEL_ACCEPTOR_ENC : LABEL_ACCEPTOR,
			   &msg->auth_challenge->proof))
		return -EACCES;
	auth_proof(a->secret, a->encrypt ? LABEL_CONNECTOR_ENC : LABEL_CONNECTOR, a->connector_nonce,
		   a->acceptor_nonce, proof);
	p.proof.data = proof;
	p.proof.len = AUTH_PROOF_SIZE;
	reply.body_case = BPROC__MSG__BODY_AUTH_PROOF;
	reply.auth_proof = &p;
	a->done = true;
	r = conn_send(conn, &reply);
	/* Our proof went in the clear; all after it is sealed. */
	if (r == 0 && a->encrypt)
		encrypt_link(a, conn);
	return r;
}

int auth_handle(struct auth *a, struct conn *conn, const Msg *msg)
{
	int r = a->connector ? connector_step(a, conn, msg) : acceptor_step(a, conn, msg);

	if (r == -EACCES)
		pr_warn("%s: does not know the cluster secret; link refused", conn->name);
	else if (r == -EPROTO)
		pr_warn("%s: %s before the link was authenticated; link refused", conn->name,
			msg_body_name(msg));
	return r;
}
