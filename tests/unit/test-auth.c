/*
 * test-auth.c - the daemons' challenge-response (daemons/auth.c): two
 * daemons with the same secret trust each other; a peer without it is
 * refused whichever side it plays, learns nothing it could replay, and
 * may say nothing before the handshake is over.  Real connections over a
 * socketpair, in a real event loop.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "conn.h"
#include "loop.h"

struct side {
	struct auth auth;
	struct conn *conn;
	int result;      /* the last auth_handle() return */
	bool closed;
	bool send_hello_first;
};

static int on_msg(struct conn *conn, Msg *msg, void *data)
{
	struct side *s = data;

	if (auth_done(&s->auth))
		return 0;
	s->result = auth_handle(&s->auth, conn, msg);
	return s->result;
}

static void on_close(struct conn *conn, void *data)
{
	struct side *s = data;

	(void)conn;
	s->closed = true;
}

static struct cluster_secret secret_of(const char *text)
{
	struct cluster_secret s = { (uint8_t *)strdup(text), strlen(text) };

	return s;
}

/* Run a handshake between a connector holding a and an acceptor holding b. */
static void handshake(const char *a, const char *b, struct side *connector, struct side *acceptor)
{
	struct cluster_secret sa = secret_of(a), sb = secret_of(b);
	struct loop *loop;
	int sv[2];

	memset(connector, 0, sizeof(*connector));
	memset(acceptor, 0, sizeof(*acceptor));
	cr_assert_eq(loop_new(&loop), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(conn_new(loop, sv[0], "connector", on_msg, on_close, connector, &connector->conn), 0);
	cr_assert_eq(conn_new(loop, sv[1], "acceptor", on_msg, on_close, acceptor, &acceptor->conn), 0);
	auth_accept(&acceptor->auth, &sb);
	cr_assert_eq(auth_connect(&connector->auth, &sa, connector->conn), 0);
	for (int i = 0; i < 50 && !(connector->closed && acceptor->closed); i++) {
		if (auth_done(&connector->auth) && auth_done(&acceptor->auth))
			break;
		loop_run_once(loop, 10);
	}
	if (!connector->closed)
		conn_close(connector->conn, NULL);
	if (!acceptor->closed)
		conn_close(acceptor->conn, NULL);
	loop_run_once(loop, 0);
	loop_free(loop);
	free(sa.bytes);
	free(sb.bytes);
}

Test(auth, same_secret_both_trust)
{
	struct side c, a;

	handshake("a cluster secret of some length", "a cluster secret of some length", &c, &a);
	cr_expect(auth_done(&c.auth), "the connector does not trust the acceptor");
	cr_expect(auth_done(&a.auth), "the acceptor does not trust the connector");
}

Test(auth, other_secret_refused_by_the_connector_first)
{
	struct side c, a;

	/* The acceptor answers first, so the connector finds out first and
	 * never proves anything to a false master. */
	handshake("the real cluster secret!", "an impostor's own secret", &c, &a);
	cr_expect_eq(c.result, -EACCES);
	cr_expect(!auth_done(&c.auth));
	cr_expect(!auth_done(&a.auth));
}

Test(auth, a_connector_without_the_secret_is_refused)
{
	struct cluster_secret real = secret_of("the real cluster secret!");
	uint8_t nc[AUTH_NONCE_SIZE] = { 1 }, ns[AUTH_NONCE_SIZE] = { 2 }, p1[32], p2[32], p3[32];
	struct auth acceptor;
	Bproc__AuthProof proof = BPROC__AUTH_PROOF__INIT;
	Msg msg = BPROC__MSG__INIT;

	/* What the impostor saw (the acceptor's proof) is no proof for the
	 * other direction: the labels differ. */
	auth_proof(&real, "bproc acceptor", nc, ns, p1);
	auth_proof(&real, "bproc connector", nc, ns, p2);
	cr_expect_neq(memcmp(p1, p2, 32), 0);
	/* Fresh nonces, fresh proofs: nothing to replay. */
	ns[0] = 3;
	auth_proof(&real, "bproc connector", nc, ns, p3);
	cr_expect_neq(memcmp(p2, p3, 32), 0);

	/* An acceptor that has not sent its challenge takes no proof. */
	auth_accept(&acceptor, &real);
	acceptor.started = true; /* as if challenged with ns */
	memcpy(acceptor.connector_nonce, nc, sizeof(nc));
	memcpy(acceptor.acceptor_nonce, ns, sizeof(ns));
	proof.proof.data = p1; /* replaying the acceptor's own proof */
	proof.proof.len = sizeof(p1);
	msg.body_case = BPROC__MSG__BODY_AUTH_PROOF;
	msg.auth_proof = &proof;
	{
		struct conn fake = { .fd = -1 };

		snprintf(fake.name, sizeof(fake.name), "impostor");
		cr_expect_eq(auth_handle(&acceptor, &fake, &msg), -EACCES);
		cr_expect(!auth_done(&acceptor));
		proof.proof.data = p3; /* the right one */
		cr_expect_eq(auth_handle(&acceptor, &fake, &msg), 0);
		cr_expect(auth_done(&acceptor));
	}
	free(real.bytes);
}

Test(auth, nothing_else_before_the_handshake)
{
	struct cluster_secret real = secret_of("the real cluster secret!");
	Bproc__Hello hello = BPROC__HELLO__INIT;
	Msg msg = BPROC__MSG__INIT;
	struct conn fake = { .fd = -1 };
	struct auth acceptor;

	snprintf(fake.name, sizeof(fake.name), "impostor");
	auth_accept(&acceptor, &real);
	hello.role = BPROC__PEER_ROLE__ROLE_SLAVE;
	msg.body_case = BPROC__MSG__BODY_HELLO;
	msg.hello = &hello;
	cr_expect_eq(auth_handle(&acceptor, &fake, &msg), -EPROTO);
	cr_expect(!auth_done(&acceptor));
	free(real.bytes);
}

static int write_secret(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0)
		return -1;
	if (write(fd, text, strlen(text)) < 0) {
		close(fd);
		return -1;
	}
	fchmod(fd, mode);
	close(fd);
	return 0;
}

Test(auth, secret_files)
{
	char dir[] = "/tmp/bproc-test-auth-XXXXXX", path[128], err[256];
	struct cluster_secret s;
	int fd;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/secret", dir);

	cr_assert_eq(write_secret(path, "0123456789abcdef0123456789abcdef\n", 0600), 0);
	cr_assert_eq(auth_secret_load(path, -1, &s, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(s.len, 32, "the newline is not part of it");
	auth_secret_free(&s);

	fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_expect_eq(auth_secret_load("inherited", fd, &s, err, sizeof(err)), 0, "%s", err);
	auth_secret_free(&s);
	close(fd);

	cr_assert_eq(write_secret(path, "0123456789abcdef0123456789abcdef\n", 0644), 0);
	cr_expect_eq(auth_secret_load(path, -1, &s, err, sizeof(err)), -EPERM);
	cr_expect(strstr(err, "read or written by others") != NULL, "%s", err);

	cr_assert_eq(write_secret(path, "short\n", 0600), 0);
	cr_expect_eq(auth_secret_load(path, -1, &s, err, sizeof(err)), -EINVAL);
	cr_expect(strstr(err, "must hold") != NULL, "%s", err);

	unlink(path);
	cr_expect_eq(auth_secret_load(path, -1, &s, err, sizeof(err)), -ENOENT);
	cr_expect(strstr(err, path) != NULL, "the message names the file: %s", err);
	rmdir(dir);
}
