/*
 * seal_relay.c - the relay between a program's plain socket and a sealed
 * TCP connection (see seal_relay.h).  Non-blocking both ways with one
 * record buffered per direction, so two relays that both have much to send
 * never wait on each other.
 */
#include "seal_relay.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sodium.h>

#include "fault.h"
#include "log.h"
#include "util.h"

struct relay {
	int local, net;
	/* local -> net: one sealed record on its way */
	struct seal_dir tx;
	uint8_t out[SEAL_MAX_RECORD];
	size_t out_off, out_len;
	bool local_eof; /* the end record is made */
	bool net_shut;  /* ... and sent */
	/* net -> local: records as they come, one opened on its way */
	struct seal_dir rx;
	uint8_t in[SEAL_MAX_RECORD];
	size_t in_len;
	bool net_eof;
	uint8_t plain[SEAL_MAX_PLAIN];
	size_t plain_off, plain_len;
	bool remote_end; /* the peer's end record came */
	bool local_done; /* ... and the program was told */
	bool local_gone; /* the program closed its socket: what comes is dropped */
	long long gone_ms; /* when the program left (local_gone) */
	bool alter;      /* fault seal-alter: spoil the second record sent */
};

static void program_gone(struct relay *r)
{
	if (!r->local_gone)
		r->gone_ms = now_ms();
	r->local_gone = true;
}

/* Read what the program wrote and seal it: 1 if something moved. */
static int fill_out(struct relay *r)
{
	uint8_t buf[SEAL_MAX_PLAIN];
	ssize_t n;

	if (r->out_off < r->out_len || r->local_eof)
		return 0;
	n = recv(r->local, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (n == 0)
		r->local_eof = true;
	r->out_len = seal_record(&r->tx, buf, (size_t)n, r->out);
	r->out_off = 0;
	if (r->alter && r->tx.seq == 2)
		r->out[r->out_len - 1] ^= 0x01;
	sodium_memzero(buf, (size_t)n);
	return 1;
}

static int flush_out(struct relay *r)
{
	ssize_t n;

	if (r->out_off == r->out_len) {
		if (r->local_eof && !r->net_shut) {
			shutdown(r->net, SHUT_WR);
			r->net_shut = true;
			return 1;
		}
		return 0;
	}
	n = send(r->net, r->out + r->out_off, r->out_len - r->out_off, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	r->out_off += (size_t)n;
	return 1;
}

/* Open the next record that is all there, once the last one is delivered. */
static int open_in(struct relay *r)
{
	size_t used;
	int e;

	if (r->plain_off < r->plain_len || r->remote_end)
		return 0;
	e = seal_open(&r->rx, r->in, r->in_len, r->plain, &r->plain_len, &used);
	if (e == -EAGAIN)
		return r->net_eof && !r->local_gone ? -EPIPE : 0;
	if (e < 0)
		return e;
	memmove(r->in, r->in + used, r->in_len - used);
	r->in_len -= used;
	r->plain_off = 0;
	if (r->plain_len == 0) {
		r->remote_end = true;
		if (r->in_len)
			return -EPROTO;
	}
	return 1;
}

static int read_in(struct relay *r)
{
	ssize_t n;

	if (r->remote_end || r->net_eof || r->in_len == sizeof(r->in))
		return 0;
	n = recv(r->net, r->in + r->in_len, sizeof(r->in) - r->in_len, MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (n == 0)
		r->net_eof = true;
	r->in_len += (size_t)n;
	return 1;
}

static int deliver(struct relay *r)
{
	ssize_t n;

	if (r->local_gone && r->plain_off < r->plain_len) {
		r->plain_off = r->plain_len = 0;
		return 1;
	}
	if (r->local_done || r->local_gone)
		return 0;
	if (r->plain_off == r->plain_len) {
		if (r->remote_end) {
			shutdown(r->local, SHUT_WR);
			r->local_done = true;
			return 1;
		}
		return 0;
	}
	n = send(r->local, r->plain + r->plain_off, r->plain_len - r->plain_off,
		 MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
		/* The program is gone: nobody to give the rest to. */
		program_gone(r);
		return 1;
	}
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	r->plain_off += (size_t)n;
	return 1;
}

/* Every step that can go on without waiting, until none can. */
static int run_steps(struct relay *r)
{
	int (*const steps[])(struct relay *) = { fill_out, flush_out, read_in, open_in, deliver };
	int moved;

	do {
		moved = 0;
		for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
			int e = steps[i](r);

			if (e < 0)
				return e;
			moved |= e;
		}
	} while (moved);
	return 0;
}

static int relay_loop(struct relay *r)
{
	for (;;) {
		struct pollfd p[2] = { { .fd = r->local }, { .fd = r->net } };
		int e = run_steps(r), wait_ms = SEAL_RELAY_IDLE_MS;

		/* The program has all it will take: what breaks now is the
		 * peer's to see (a stream cut before our end). */
		if (e < 0)
			return r->local_gone ? 0 : e;
		/* Both ends said all; or the program left, ours is said and
		 * the peer's is over (its end, or it closed). */
		if (r->net_shut && (r->local_done || (r->local_gone && (r->remote_end || r->net_eof))))
			return 0;
		if (r->local_gone) {
			wait_ms = (int)(r->gone_ms + SEAL_RELAY_LINGER_MS - now_ms());
			if (wait_ms <= 0)
				return 0;
		}
		if (!r->local_eof && r->out_off == r->out_len)
			p[0].events |= POLLIN;
		if (r->plain_off < r->plain_len && !r->local_gone)
			p[0].events |= POLLOUT;
		if (r->out_off < r->out_len)
			p[1].events |= POLLOUT;
		if (!r->remote_end && !r->net_eof && r->in_len < sizeof(r->in))
			p[1].events |= POLLIN;
		/* Only what we wait for (a hang-up would wake us for ever),
		 * and the program's hang-up once it has said all. */
		if (!p[0].events && !(r->local_eof && !r->local_done && !r->local_gone))
			p[0].fd = -1;
		if (!p[1].events)
			p[1].fd = -1;
		e = poll(p, 2, wait_ms);
		if (e < 0 && errno != EINTR)
			return -errno;
		if (e == 0 && !r->local_gone)
			return -ETIMEDOUT;
		/* The program closed its socket and read all it will: what
		 * still comes has nowhere to go. */
		if ((p[0].revents & POLLHUP) && r->local_eof && !r->local_done)
			program_gone(r);
	}
}

int seal_relay_run(int local, int net, const uint8_t tx[SEAL_KEY_SIZE],
		   const uint8_t rx[SEAL_KEY_SIZE])
{
	struct relay *r = calloc(1, sizeof(*r));
	int e;

	if (!r)
		return -ENOMEM;
	/* libsodium picks its fast ChaCha20 (SSE, AVX2) here: without it,
	 * half the speed. */
	if (sodium_init() < 0) {
		free(r);
		return -EIO;
	}
	r->local = local;
	r->net = net;
	seal_dir_init(&r->tx, tx);
	seal_dir_init(&r->rx, rx);
	r->alter = fault_at("seal-alter");
	e = relay_loop(r);
	sodium_memzero(r, sizeof(*r));
	free(r);
	return e;
}

/* In the relay process: keep the two sockets (as 3 and 4) and stderr. */
static _Noreturn void relay_main(int local, int net, const uint8_t tx[SEAL_KEY_SIZE],
				 const uint8_t rx[SEAL_KEY_SIZE])
{
	sigset_t none;
	int e;

	local = fcntl(local, F_DUPFD_CLOEXEC, 100);
	net = fcntl(net, F_DUPFD_CLOEXEC, 100);
	if (local < 0 || net < 0 || dup2(local, 3) < 0 || dup2(net, 4) < 0)
		_exit(1);
	close_range(5, ~0U, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	prctl(PR_SET_NAME, "bproc-seal");
	e = seal_relay_run(3, 4, tx, rx);
	if (e < 0)
		pr_err("sealed stream: %s; cut", seal_strerror(e));
	_exit(e < 0 ? 1 : 0);
}

int seal_relay_start(int *fd, const uint8_t tx[SEAL_KEY_SIZE], const uint8_t rx[SEAL_KEY_SIZE])
{
	int sp[2], status, r;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(sp[0]);
		close(sp[1]);
		return r;
	}
	if (pid == 0) {
		/* Its child is the relay, an orphan at once: nobody waits for it. */
		pid_t relay = fork();

		if (relay == 0)
			relay_main(sp[1], *fd, tx, rx);
		_exit(relay < 0 ? 1 : 0);
	}
	close(sp[1]);
	while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		close(sp[0]);
		return -ECHILD;
	}
	close(*fd);
	*fd = sp[0];
	return 0;
}
