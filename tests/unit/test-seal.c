/*
 * test-seal.c - sealed records (seal_record, seal_open: truncated, bad tag,
 * oversized, replayed, out of order) and the relay between a plain socket
 * and a sealed connection (seal_relay_run), on real sockets.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seal.h"
#include "seal_relay.h"
#include "util.h"

static const uint8_t key[SEAL_KEY_SIZE] = "0123456789abcdef0123456789abcdef";

static struct seal_dir dir(void)
{
	struct seal_dir d;

	seal_dir_init(&d, key);
	return d;
}

Test(seal, a_record_opens_and_an_empty_one_ends_the_stream)
{
	struct seal_dir tx = dir(), rx = dir();
	uint8_t rec[64], plain[SEAL_MAX_PLAIN];
	size_t n, plen, used;

	n = seal_record(&tx, (const uint8_t *)"pages", 5, rec);
	cr_assert_eq(n, SEAL_HEADER + 5 + SEAL_TAG);
	/* Sealed: the plaintext is not in the record. */
	cr_assert_null(memmem(rec, n, "pages", 5));
	cr_assert_eq(seal_open(&rx, rec, n, plain, &plen, &used), 0);
	cr_assert_eq(plen, 5);
	cr_assert_eq(used, n);
	cr_assert_eq(memcmp(plain, "pages", 5), 0);
	n = seal_record(&tx, NULL, 0, rec);
	cr_assert_eq(seal_open(&rx, rec, n, plain, &plen, &used), 0);
	cr_assert_eq(plen, 0);
}

Test(seal, a_truncated_record_waits_for_the_rest)
{
	struct seal_dir tx = dir(), rx = dir();
	uint8_t rec[64], plain[SEAL_MAX_PLAIN];
	size_t n = seal_record(&tx, (const uint8_t *)"pages", 5, rec), plen, used;

	for (size_t cut = 0; cut < n; cut++)
		cr_assert_eq(seal_open(&rx, rec, cut, plain, &plen, &used), -EAGAIN, "cut at %zu", cut);
	cr_assert_eq(seal_open(&rx, rec, n, plain, &plen, &used), 0);
}

Test(seal, an_altered_byte_anywhere_does_not_open)
{
	uint8_t rec[64], plain[SEAL_MAX_PLAIN];
	size_t n, plen, used;

	for (size_t i = 0; i < SEAL_HEADER + 5 + SEAL_TAG; i++) {
		struct seal_dir tx = dir(), rx = dir();
		int r;

		n = seal_record(&tx, (const uint8_t *)"pages", 5, rec);
		rec[i] ^= 0x01;
		r = seal_open(&rx, rec, n, plain, &plen, &used);
		/* A length changed is too short a record (it waits) or a wrong
		 * one; a byte of the body or the tag does not open. */
		cr_assert(r == -EBADMSG || r == -EAGAIN || r == -EMSGSIZE, "byte %zu: %d", i, r);
		cr_assert_neq(r, 0);
	}
}

Test(seal, another_key_does_not_open)
{
	struct seal_dir tx, rx = dir();
	uint8_t other[SEAL_KEY_SIZE], rec[64], plain[SEAL_MAX_PLAIN];
	size_t n, plen, used;

	memcpy(other, key, sizeof(other));
	other[0] ^= 1;
	seal_dir_init(&tx, other);
	n = seal_record(&tx, (const uint8_t *)"pages", 5, rec);
	cr_assert_eq(seal_open(&rx, rec, n, plain, &plen, &used), -EBADMSG);
}

Test(seal, an_oversized_length_is_refused_unread)
{
	struct seal_dir rx = dir();
	uint8_t plain[SEAL_MAX_PLAIN], big[4] = { 0x00, 0x01, 0x00, 0x11 }, tiny[4] = { 0, 0, 0, 15 };
	size_t plen, used;

	/* 64 KiB + 17: one more than a record may be. */
	cr_assert_eq(seal_open(&rx, big, sizeof(big), plain, &plen, &used), -EMSGSIZE);
	/* Shorter than a tag. */
	cr_assert_eq(seal_open(&rx, tiny, sizeof(tiny), plain, &plen, &used), -EMSGSIZE);
}

Test(seal, a_replayed_or_reordered_record_does_not_open)
{
	struct seal_dir tx = dir(), rx = dir();
	uint8_t a[64], b[64], plain[SEAL_MAX_PLAIN];
	size_t na, nb, plen, used;

	na = seal_record(&tx, (const uint8_t *)"first", 5, a);
	nb = seal_record(&tx, (const uint8_t *)"secnd", 5, b);
	/* Second before first. */
	cr_assert_eq(seal_open(&rx, b, nb, plain, &plen, &used), -EBADMSG);
	cr_assert_eq(seal_open(&rx, a, na, plain, &plen, &used), 0);
	/* First again. */
	cr_assert_eq(seal_open(&rx, a, na, plain, &plen, &used), -EBADMSG);
	cr_assert_eq(seal_open(&rx, b, nb, plain, &plen, &used), 0);
}

Test(seal, the_two_directions_have_different_keys)
{
	uint8_t ctx[SEAL_KEY_SIZE], crx[SEAL_KEY_SIZE], atx[SEAL_KEY_SIZE], arx[SEAL_KEY_SIZE];

	seal_keys_from_key(key, true, ctx, crx);
	seal_keys_from_key(key, false, atx, arx);
	cr_assert_eq(memcmp(ctx, arx, SEAL_KEY_SIZE), 0);
	cr_assert_eq(memcmp(crx, atx, SEAL_KEY_SIZE), 0);
	cr_assert_neq(memcmp(ctx, crx, SEAL_KEY_SIZE), 0);
	cr_assert_neq(memcmp(ctx, key, SEAL_KEY_SIZE), 0);
}

/* ---- the relay ---- */

/* A relay in a child between local and net; its exit status is what
 * seal_relay_run returned, negated. */
static pid_t relay(int local, int net, bool connector)
{
	uint8_t tx[SEAL_KEY_SIZE], rx[SEAL_KEY_SIZE];
	pid_t pid;

	seal_keys_from_key(key, connector, tx, rx);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* Only its two sockets, as in seal_relay_start: the others'
		 * ends must close when their owners close them. */
		for (int fd = 3; fd < 1024; fd++)
			if (fd != local && fd != net)
				close(fd);
		_exit(-seal_relay_run(local, net, tx, rx));
	}
	return pid;
}

static int relay_status(pid_t pid)
{
	int status;

	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	return -WEXITSTATUS(status);
}

static void pair(int sv[2])
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
}

Test(seal_relay, megabytes_cross_both_ways_between_two_relays)
{
	size_t size = 3 << 20;
	uint8_t *data = malloc(size), *got = malloc(size);
	int a[2], b[2], net[2];
	pid_t ra, rb, writer, writer_b;

	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < size; i++)
		data[i] = (uint8_t)(i * 7 + i / 4096);
	pair(a);
	pair(b);
	pair(net);
	ra = relay(a[1], net[0], true);
	rb = relay(b[1], net[1], false);
	close(a[1]);
	close(b[1]);
	close(net[0]);
	close(net[1]);
	/* Both sides write everything at once; what comes in is read one
	 * side after the other, so one direction stands still while the
	 * other flows: the relays must not wait on each other. */
	writer = fork();
	if (writer == 0)
		_exit(write_full(a[0], data, size) == 0 && shutdown(a[0], SHUT_WR) == 0 ? 0 : 1);
	writer_b = fork();
	if (writer_b == 0)
		_exit(write_full(b[0], data, size) == 0 && shutdown(b[0], SHUT_WR) == 0 ? 0 : 1);
	cr_assert_eq(read_full(b[0], got, size), 0);
	cr_assert_eq(memcmp(got, data, size), 0);
	cr_assert_eq(read(b[0], got, 1), 0, "the end record is the end");
	cr_assert_eq(read_full(a[0], got, size), 0);
	cr_assert_eq(memcmp(got, data, size), 0);
	cr_assert_eq(read(a[0], got, 1), 0);
	cr_assert_eq(relay_status(writer), 0);
	cr_assert_eq(relay_status(writer_b), 0);
	close(a[0]);
	close(b[0]);
	cr_assert_eq(relay_status(ra), 0);
	cr_assert_eq(relay_status(rb), 0);
	free(data);
	free(got);
}

/* Records made by hand on net[0], the relay's program at local[0]. */
struct hand {
	int local[2], net[2];
	struct seal_dir tx;
	pid_t relay;
};

static void hand_start(struct hand *h)
{
	uint8_t tx[SEAL_KEY_SIZE], rx[SEAL_KEY_SIZE];

	signal(SIGPIPE, SIG_IGN);
	pair(h->local);
	pair(h->net);
	h->relay = relay(h->local[1], h->net[1], false);
	close(h->local[1]);
	close(h->net[1]);
	seal_keys_from_key(key, true, tx, rx);
	seal_dir_init(&h->tx, tx);
}

static void hand_send(struct hand *h, const char *text, int flip)
{
	uint8_t rec[128];
	size_t n = seal_record(&h->tx, (const uint8_t *)text, strlen(text), rec);

	if (flip >= 0)
		rec[flip] ^= 0x80;
	cr_assert_eq(write_full(h->net[0], rec, n), 0);
}

/* Everything the program gets until its stream ends. */
static size_t hand_read_all(struct hand *h, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len && (n = read(h->local[0], buf + got, len - got)) > 0)
		got += (size_t)n;
	return got;
}

Test(seal_relay, a_record_that_does_not_open_cuts_the_stream)
{
	struct hand h;
	char buf[64];

	hand_start(&h);
	hand_send(&h, "good", -1);
	hand_send(&h, "evil", SEAL_HEADER + 1);
	hand_send(&h, "more", -1);
	/* The program gets what opened, then the end: nothing of the bad one. */
	cr_assert_eq(hand_read_all(&h, buf, sizeof(buf)), 4);
	cr_assert_eq(memcmp(buf, "good", 4), 0);
	cr_assert_eq(relay_status(h.relay), -EBADMSG);
	close(h.local[0]);
	close(h.net[0]);
}

Test(seal_relay, a_stream_cut_before_its_end_is_an_error)
{
	struct hand h;
	char buf[64];

	hand_start(&h);
	hand_send(&h, "half", -1);
	close(h.net[0]);
	cr_assert_eq(hand_read_all(&h, buf, sizeof(buf)), 4);
	cr_assert_eq(relay_status(h.relay), -EPIPE);
	close(h.local[0]);
}

Test(seal_relay, a_truncated_record_is_an_error)
{
	struct hand h;
	uint8_t rec[128];
	char buf[64];
	size_t n;

	hand_start(&h);
	n = seal_record(&h.tx, (const uint8_t *)"truncated", 9, rec);
	cr_assert_eq(write_full(h.net[0], rec, n - 3), 0);
	close(h.net[0]);
	cr_assert_eq(hand_read_all(&h, buf, sizeof(buf)), 0);
	cr_assert_eq(relay_status(h.relay), -EPIPE);
	close(h.local[0]);
}

Test(seal_relay, a_replayed_record_cuts_the_stream)
{
	struct hand h;
	uint8_t rec[128];
	char buf[64];
	size_t n;

	hand_start(&h);
	n = seal_record(&h.tx, (const uint8_t *)"once", 4, rec);
	cr_assert_eq(write_full(h.net[0], rec, n), 0);
	cr_assert_eq(write_full(h.net[0], rec, n), 0);
	cr_assert_eq(hand_read_all(&h, buf, sizeof(buf)), 4);
	cr_assert_eq(relay_status(h.relay), -EBADMSG);
	close(h.local[0]);
	close(h.net[0]);
}

Test(seal_relay, an_oversized_record_cuts_the_stream)
{
	struct hand h;
	uint8_t big[4] = { 0x7f, 0xff, 0xff, 0xff };
	char buf[64];

	hand_start(&h);
	cr_assert_eq(write_full(h.net[0], big, sizeof(big)), 0);
	cr_assert_eq(hand_read_all(&h, buf, sizeof(buf)), 0);
	cr_assert_eq(relay_status(h.relay), -EMSGSIZE);
	close(h.local[0]);
	close(h.net[0]);
}

Test(seal_relay, what_the_program_writes_goes_out_sealed_and_ends)
{
	struct hand h;
	struct seal_dir rx;
	uint8_t tx[SEAL_KEY_SIZE], rxk[SEAL_KEY_SIZE], wire[256], plain[SEAL_MAX_PLAIN];
	size_t got = 0, plen, used;
	ssize_t n;

	hand_start(&h);
	seal_keys_from_key(key, true, tx, rxk);
	seal_dir_init(&rx, rxk);
	cr_assert_eq(write_full(h.local[0], "secret pattern", 14), 0);
	shutdown(h.local[0], SHUT_WR);
	while ((n = read(h.net[0], wire + got, sizeof(wire) - got)) > 0)
		got += (size_t)n;
	cr_assert_null(memmem(wire, got, "secret pattern", 14));
	cr_assert_eq(seal_open(&rx, wire, got, plain, &plen, &used), 0);
	cr_assert_eq(plen, 14);
	cr_assert_eq(memcmp(plain, "secret pattern", 14), 0);
	cr_assert_eq(seal_open(&rx, wire + used, got - used, plain, &plen, &used), 0);
	cr_assert_eq(plen, 0, "then the end record");
	/* The peer's end lets the relay finish. */
	hand_send(&h, "", -1);
	cr_assert_eq(read(h.local[0], plain, 1), 0);
	close(h.local[0]);
	cr_assert_eq(relay_status(h.relay), 0);
	close(h.net[0]);
}

Test(seal_relay, a_program_that_left_stops_a_peer_that_keeps_sending)
{
	struct hand h;
	long long start;
	uint8_t rec[128];
	int r = 0;

	hand_start(&h);
	close(h.local[0]);
	start = now_ms();
	/* Progress, say, to a bpcp that was interrupted: within the linger
	 * the relay closes, and the sender learns it. */
	while (now_ms() - start < 5000) {
		size_t n = seal_record(&h.tx, (const uint8_t *)"progress", 8, rec);

		r = write_full(h.net[0], rec, n);
		if (r < 0)
			break;
		usleep(10000);
	}
	cr_assert_lt(r, 0, "the peer was never told");
	cr_assert_lt(now_ms() - start, SEAL_RELAY_LINGER_MS + 1000);
	cr_assert_eq(relay_status(h.relay), 0);
	close(h.net[0]);
}
