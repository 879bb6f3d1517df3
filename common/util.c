/*
 * util.c - see util.h.
 */
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>

long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t read_upto(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, (char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int read_text_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read_upto(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return (int)n;
	buf[n] = '\0';
	return 0;
}

int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

void tcp_nodelay(int fd)
{
	int domain = 0, one = 1;
	socklen_t len = sizeof(domain);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
	    (domain == AF_INET || domain == AF_INET6))
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

char proc_state_code(pid_t pid, int *code)
{
	char path[64], buf[1024], *paren, *save = NULL;
	int field = 3;

	if (code)
		*code = -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_text_file(path, buf, sizeof(buf)) < 0 || !buf[0])
		return 0;
	/* "PID (COMM) STATE ...": the name may hold anything, even ')' */
	paren = strrchr(buf, ')');
	if (!paren || paren[1] != ' ')
		return 0;
	if (!code)
		return paren[2];
	for (char *tok = strtok_r(paren + 1, " \n", &save); tok;
	     tok = strtok_r(NULL, " \n", &save), field++)
		if (field == 52) {
			*code = atoi(tok);
			break;
		}
	return paren[2];
}

char proc_state(pid_t pid)
{
	return proc_state_code(pid, NULL);
}

int proc_creds(pid_t pid, struct proc_creds *c)
{
	char path[64], line[256];
	_cleanup_fclose_ FILE *f = NULL;
	unsigned int u[4], g[4];
	bool have_u = false, have_g = false;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (fgets(line, sizeof(line), f) && !(have_u && have_g)) {
		if (sscanf(line, "Uid: %u %u %u %u", &u[0], &u[1], &u[2], &u[3]) == 4)
			have_u = true;
		else if (sscanf(line, "Gid: %u %u %u %u", &g[0], &g[1], &g[2], &g[3]) == 4)
			have_g = true;
	}
	if (!have_u || !have_g)
		return -EIO;
	for (int i = 0; i < 4; i++) {
		c->uid[i] = u[i];
		c->gid[i] = g[i];
	}
	return 0;
}

bool is_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

/* State, parent, group and session of pid from its /proc stat. */
static int proc_ids(pid_t pid, char *state, pid_t *ppid, pid_t *pgrp, pid_t *sid)
{
	char path[64], buf[1024], *paren;
	int ppid_i, pgrp_i, sid_i;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	paren = strrchr(buf, ')');
	if (!paren || sscanf(paren + 1, " %c %d %d %d", state, &ppid_i, &pgrp_i, &sid_i) != 4)
		return -EIO;
	*ppid = ppid_i;
	*pgrp = pgrp_i;
	*sid = sid_i;
	return 0;
}

pid_t proc_parent(pid_t pid)
{
	pid_t ppid, pgrp, sid;
	char state;
	int r = proc_ids(pid, &state, &ppid, &pgrp, &sid);

	return r < 0 ? r : ppid;
}

int proc_group_orphaned(pid_t pid)
{
	pid_t ppid, pgrp, sid;
	struct dirent *d;
	DIR *dir;
	char state;
	bool held = false; /* a member's parent holds the group in its session */
	int r = proc_ids(pid, &state, &ppid, &pgrp, &sid);

	if (r < 0)
		return r;
	dir = opendir("/proc");
	if (!dir)
		return -errno;
	while (!held && (d = readdir(dir))) {
		pid_t p = atoi(d->d_name), pp, g, s, parent_g, parent_s, unused;
		char st, parent_st;

		if (p <= 0 || proc_ids(p, &st, &pp, &g, &s) < 0 || g != pgrp)
			continue;
		/* As the kernel: a zombie, or a child of init, does not count. */
		if (st == 'Z' || st == 'X' || pp <= 1)
			continue;
		if (proc_ids(pp, &parent_st, &unused, &parent_g, &parent_s) < 0)
			continue;
		held = parent_g != pgrp && parent_s == sid;
	}
	closedir(dir);
	return held ? 0 : 1;
}
