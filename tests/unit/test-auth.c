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
	auth_accept(&acceptor->auth, &sb, false);
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
	auth_accept(&acceptor, &real, false);
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
	auth_accept(&acceptor, &real, false);
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

/* --- encrypted links ------------------------------------------------------ */

struct talker {
	struct side side;
	int heard;           /* Heartbeats received after the handshake */
	uint64_t last_seq;
};

static int talker_msg(struct conn *conn, Msg *msg, void *data)
{
	struct talker *t = data;

	if (!auth_done(&t->side.auth)) {
		t->side.result = auth_handle(&t->side.auth, conn, msg);
		return t->side.result;
	}
	if (msg->body_case != BPROC__MSG__BODY_HEARTBEAT)
		return -EPROTO;
	t->heard++;
	t->last_seq = msg->heartbeat->seq;
	return 0;
}

static void talker_close(struct conn *conn, void *data)
{
	struct talker *t = data;

	(void)conn;
	t->side.closed = true;
}

static int send_heartbeat(struct conn *conn, uint64_t seq)
{
	Bproc__Heartbeat hb = BPROC__HEARTBEAT__INIT;
	Msg msg = BPROC__MSG__INIT;

	hb.seq = seq;
	msg.body_case = BPROC__MSG__BODY_HEARTBEAT;
	msg.heartbeat = &hb;
	return conn_send(conn, &msg);
}

static void run(struct loop *loop, int rounds)
{
	for (int i = 0; i < rounds; i++)
		loop_run_once(loop, 5);
}

Test(auth, an_encrypted_link_carries_messages_both_ways_and_cuts_at_a_forged_record)
{
	struct cluster_secret secret = secret_of("a cluster secret of some length");
	struct talker c = { 0 }, a = { 0 };
	struct loop *loop;
	int sv[2], raw;

	cr_assert_eq(loop_new(&loop), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	raw = dup(sv[0]); /* to forge a record below the connector's conn */
	cr_assert_eq(conn_new(loop, sv[0], "connector", talker_msg, talker_close, &c, &c.side.conn), 0);
	cr_assert_eq(conn_new(loop, sv[1], "acceptor", talker_msg, talker_close, &a, &a.side.conn), 0);
	auth_accept(&a.side.auth, &secret, true);
	cr_assert_eq(auth_connect(&c.side.auth, &secret, c.side.conn), 0);
	/* The connector speaks as soon as its proof is out, as a slave does. */
	for (int i = 0; i < 50 && !auth_done(&c.side.auth); i++)
		loop_run_once(loop, 5);
	cr_assert(auth_done(&c.side.auth) && c.side.auth.encrypt, "the connector learnt: encrypted");
	cr_assert_eq(send_heartbeat(c.side.conn, 1), 0);
	cr_assert_eq(send_heartbeat(c.side.conn, 2), 0);
	run(loop, 10);
	cr_assert(auth_done(&a.side.auth));
	cr_assert(a.side.conn->encrypted && c.side.conn->encrypted);
	cr_expect_eq(a.heard, 2, "both sealed records opened, in order");
	cr_expect_eq(a.last_seq, 2u);
	cr_assert_eq(send_heartbeat(a.side.conn, 7), 0);
	run(loop, 5);
	cr_expect_eq(c.heard, 1);
	cr_expect_eq(c.last_seq, 7u);

	/* A record that is not sealed with the key: the link is cut. */
	{
		uint8_t forged[4 + 40] = { 0, 0, 0, 40 };

		memset(forged + 4, 0x5a, 40);
		cr_assert_eq(write(raw, forged, sizeof(forged)), (ssize_t)sizeof(forged));
	}
	run(loop, 5);
	cr_expect(a.side.closed, "a forged record closes the link");
	cr_expect_eq(a.heard, 2);
	close(raw);
	if (!c.side.closed)
		conn_close(c.side.conn, NULL);
	loop_run_once(loop, 0);
	loop_free(loop);
	free(secret.bytes);
}

Test(auth, the_choice_to_encrypt_cannot_be_taken_out_of_the_challenge)
{
	struct cluster_secret secret = secret_of("a cluster secret of some length");
	uint8_t nc[AUTH_NONCE_SIZE] = { 1 }, ns[AUTH_NONCE_SIZE] = { 2 }, plain[32], sealed[32];

	/* The acceptor's proof for an encrypted link is no proof for a link
	 * in the clear: who strips the flag from AuthChallenge is found out. */
	auth_proof(&secret, "bproc acceptor", nc, ns, plain);
	auth_proof(&secret, "bproc acceptor, encrypted", nc, ns, sealed);
	cr_expect_neq(memcmp(plain, sealed, 32), 0);
	free(secret.bytes);
}

Test(auth, link_keys_differ_by_direction_and_context_and_pair_up)
{
	struct cluster_secret secret = secret_of("a cluster secret of some length");
	uint8_t t1[32], r1[32], t2[32], r2[32], t3[32], r3[32];

	auth_link_keys(&secret, "bproc link keys", (const uint8_t *)"nonces", 6, true, t1, r1);
	auth_link_keys(&secret, "bproc link keys", (const uint8_t *)"nonces", 6, false, t2, r2);
	auth_link_keys(&secret, "bproc link keys", (const uint8_t *)"others", 6, true, t3, r3);
	cr_expect_eq(memcmp(t1, r2, 32), 0, "what one sends with, the other opens with");
	cr_expect_eq(memcmp(r1, t2, 32), 0);
	cr_expect_neq(memcmp(t1, r1, 32), 0, "a key per direction");
	cr_expect_neq(memcmp(t1, t3, 32), 0, "another handshake, other keys");
	free(secret.bytes);
}
