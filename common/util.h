/*
 * util.h - small helpers shared by every part of bproc.
 *
 * Cleanup attributes in the style of systemd: a variable declared with
 * _cleanup_free_ or _cleanup_close_ is released when it goes out of scope,
 * so error paths stay a single "return r;".
 */
#ifndef BPROC_UTIL_H
#define BPROC_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include <stdlib.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* qsort() of an array that may be empty, and then NULL, which qsort()
 * does not accept (found by the fuzz targets). */
static inline void qsort_safe(void *base, size_t n, size_t size,
			      int (*compare)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, compare);
}

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define _cleanup_free_ __attribute__((cleanup(freep)))
#define _cleanup_close_ __attribute__((cleanup(closep)))
#define _cleanup_fclose_ __attribute__((cleanup(fclosep)))

/* Hand an fd out of a _cleanup_close_ variable. */
static inline int take_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}

/* Hand a pointer out of a _cleanup_free_ variable. */
static inline void *take_ptr(void *pp)
{
	void **p = pp;
	void *r = *p;
	*p = NULL;
	return r;
}

/* Monotonic clock in milliseconds. */
long long now_ms(void);

/* Write or read exactly len bytes; 0 on success, -errno on failure,
 * -EPIPE on end of file before len bytes. */
int write_full(int fd, const void *buf, size_t len);
int read_full(int fd, void *buf, size_t len);
/* Read up to len bytes, stopping early only at end of file: how many, or
 * -errno. */
ssize_t read_upto(int fd, void *buf, size_t len);
/* A small file (of /proc, of a cgroup) into buf as a string, cut to
 * len - 1 bytes: 0 or -errno. */
int read_text_file(const char *path, char *buf, size_t len);

/* The state letter of pid as /proc/PID/stat gives it ('R', 'S', 'T',
 * 'Z'...), 0 if there is no such process. */
char proc_state(pid_t pid);
/* The same, and the task's exit code (field 52 of its stat: the wait
 * status of a zombie, the signal that stopped a stopped task), -1 if
 * unreadable. */
char proc_state_code(pid_t pid, int *code);

/* The parent of pid as /proc/PID/stat gives it, -errno if unreadable. */
pid_t proc_parent(pid_t pid);

/* The real, effective, saved and filesystem user and group ids of pid, in
 * that order, as /proc/PID/status gives them: 0 or -errno. */
struct proc_creds {
	uid_t uid[4];
	gid_t gid[4];
};
int proc_creds(pid_t pid, struct proc_creds *c);

/* SIGSTOP, SIGTSTP, SIGTTIN or SIGTTOU: a signal whose default action stops. */
bool is_stop_signal(int sig);
/* Whether pid's process group is orphaned as the kernel means it: no live
 * member has its parent in another group of the same session (the kernel
 * then drops a SIGTSTP, SIGTTIN or SIGTTOU whose action is to stop).
 * 1 or 0, -errno if pid's /proc cannot be read. */
int proc_group_orphaned(pid_t pid);

/* Turn Nagle's algorithm off on a TCP socket; nothing for other sockets.
 * Our messages are whole frames: held back until the peer's delayed ACK,
 * a small one that follows a large one waited 40 ms. */
void tcp_nodelay(int fd);

/* Parse a decimal integer in [min, max]; 0 or -EINVAL/-ERANGE. */
int parse_long(const char *s, long min, long max, long *out);

#endif
