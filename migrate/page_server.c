/*
 * page_server.c - the TCP connection of a move's page stream, and the
 * CRIUs on its target end.  See page_server.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "criu_run.h"
#include "log.h"
#include "page_server.h"
#include "util.h"

#define LAZY_READY_MS 30000

int ps_listen(struct in_addr addr, int *fd, uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = addr };
	socklen_t len = sizeof(sa);
	_cleanup_close_ int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (s < 0)
		return -errno;
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 1) < 0 ||
	    getsockname(s, (struct sockaddr *)&sa, &len) < 0)
		return -errno;
	*port = ntohs(sa.sin_port);
	*fd = take_fd(&s);
	return 0;
}

int ps_accept(int listen_fd, struct in_addr peer, int *fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int s = accept4(listen_fd, (struct sockaddr *)&sa, &len, SOCK_CLOEXEC);

	if (s < 0)
		return -errno;
	if (sa.sin_family != AF_INET || sa.sin_addr.s_addr != peer.s_addr) {
		char text[INET_ADDRSTRLEN] = "?";

		inet_ntop(AF_INET, &sa.sin_addr, text, sizeof(text));
		pr_warn("page stream: refused a connection from %s", text);
		close(s);
		return -EPERM;
	}
	*fd = s;
	return 0;
}

int ps_connect(struct in_addr addr, uint16_t port, int timeout_ms, const uint8_t *token,
	       size_t token_len, int *fd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = addr, .sin_port = htons(port) };
	_cleanup_close_ int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct pollfd p;
	int err = 0, one = 1, r;
	socklen_t len = sizeof(err);

	if (s < 0)
		return -errno;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno != EINPROGRESS)
			return -errno;
		p.fd = s;
		p.events = POLLOUT;
		if (poll(&p, 1, timeout_ms) <= 0)
			return -ETIMEDOUT;
		if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			return -errno;
		if (err)
			return -err;
	}
	/* CRIU reads and writes it blocking. */
	if (fcntl(s, F_SETFL, 0) < 0)
		return -errno;
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	r = ps_send_token(s, token, token_len);
	if (r < 0)
		return r;
	*fd = take_fd(&s);
	return 0;
}

int ps_uncork(int fd)
{
	int corked = 0;
	socklen_t len = sizeof(corked);

	if (getsockopt(fd, IPPROTO_TCP, TCP_CORK, &corked, &len) < 0)
		return -errno;
	if (!corked)
		return 0;
	if (setsockopt(fd, IPPROTO_TCP, TCP_CORK, &(int){ 0 }, sizeof(int)) < 0)
		return -errno;
	return 1;
}

int ps_send_token(int fd, const uint8_t *token, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, token + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
}

int ps_check_token(int fd, const uint8_t *token, size_t len, int timeout_ms)
{
	uint8_t got[64];
	unsigned char diff = 0;
	size_t done = 0;

	if (len > sizeof(got))
		return -EINVAL;
	while (done < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, timeout_ms) <= 0)
			return -ETIMEDOUT;
		n = recv(fd, got + done, len - done, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return -EACCES;
		done += (size_t)n;
	}
	/* Whole, not up to the first difference: no timing to learn from. */
	for (size_t i = 0; i < len; i++)
		diff |= got[i] ^ token[i];
	return diff ? -EACCES : 0;
}

int ps_start_page_server(const char *criu, const char *dir, int sock, pid_t *child)
{
	char *argv[] = {
		(char *)criu, "page-server",
		"--images-dir", (char *)dir,
		"--log-file", "page-server.log", "-v4",
		/* Our connection, already made: no port, no address. */
		"--ps-socket", CRIU_FD0_TEXT,
		NULL,
	};

	return criu_spawn(argv, &sock, 1, child);
}

int ps_start_lazy_pages(const char *criu, const char *dir, int sock, pid_t *child, char *err,
			size_t errlen)
{
	char *argv[] = {
		(char *)criu, "lazy-pages",
		"--images-dir", (char *)dir,
		"--log-file", "lazy-pages.log", "-v4",
		/* The pages are at the source, behind our connection. */
		"--page-server", "--ps-socket", CRIU_FD0_TEXT,
		/* Ready once its socket for the restore listens. */
		"--status-fd", CRIU_FD1_TEXT,
		NULL,
	};
	int ready[2], fds[2], r;

	*child = 0;
	if (pipe2(ready, O_CLOEXEC) < 0)
		return -errno;
	fds[0] = sock;
	fds[1] = ready[1];
	r = criu_spawn(argv, fds, 2, child);
	close(ready[1]);
	if (r == 0)
		r = criu_wait_ready(ready[0], LAZY_READY_MS);
	close(ready[0]);
	if (r < 0) {
		if (*child > 0) {
			kill(*child, SIGKILL);
			waitpid(*child, NULL, 0);
			*child = 0;
		}
		if (r == -ECANCELED)
			criu_log_reason(dir, "lazy-pages.log", err, errlen);
		else
			snprintf(err, errlen, "criu lazy-pages: %s", strerror(-r));
	}
	return r;
}
