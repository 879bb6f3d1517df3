/*
 * movable.c - the check, before freezing, that a process can move: every
 * resource it holds either moves with it, exists on the target (checked
 * there, see movable_compare), or is refused here by name.  See movable.h.
 *
 * What is refused and why (docs/migration.md has the table):
 *   - inet sockets of any kind: a connection's peer and a listener's
 *     address stay on this machine (CRIU would need --tcp-established and
 *     the same address on the node);
 *   - unix sockets whose peer is not in the process, and listening ones:
 *     the peer stays here (CRIU refuses an "external" unix socket);
 *   - other socket families but netlink;
 *   - io_uring, perf, bpf, userfaultfd, pidfd, KVM and other anonymous
 *     inodes CRIU cannot dump;
 *   - devices other than /dev/null, /dev/zero, /dev/random, /dev/urandom
 *     and one pseudo-terminal; named pipes; deleted files and mappings of
 *     them; SysV shared memory; file locks;
 *   - a process in other namespaces than ours (a container), in a chroot,
 *     or traced by someone else (the ghost needs ptrace; bproc_execmove's
 *     helper, which lets go before the dump, is let be: movable_scan_exec_tree).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "memory_room.h"
#include "movable.h"
#include "util.h"

#define PTY_SLAVE_MAJOR_FIRST 136
#define PTY_SLAVE_MAJOR_LAST 143
#define MAX_SOCKETS 256

struct scan {
	pid_t pid;       /* the process being looked at */
	pid_t root;      /* the root of the tree that moves */
	const pid_t *pids;  /* the tree, for names */
	int npids;
	const struct movable_where *where; /* NULL: this machine's processes */
	pid_t root_tracer; /* may trace the root (bproc_execmove's helper), or 0 */
	struct movable *mv;
	char *reason;
	size_t len;
	int pidfd;
	/* unix sockets of the process: their inodes, and the fd of each */
	ino_t unix_ino[MAX_SOCKETS];
	int unix_fd[MAX_SOCKETS];
	pid_t unix_pid[MAX_SOCKETS];
	size_t nunix;
};

/* pid as the asker knows it: on a node, its pid there. */
static pid_t shown_pid(const struct scan *sc, pid_t pid)
{
	for (int i = 0; sc->where && sc->where->names && i < sc->npids; i++)
		if (sc->pids[i] == pid)
			return sc->where->names[i];
	return pid;
}

static int refuse(struct scan *sc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(struct scan *sc, const char *fmt, ...)
{
	va_list ap;
	int at = 0;

	/* What a child holds stops the tree too: say whose it is. */
	if (sc->pid != sc->root && sc->len)
		at = snprintf(sc->reason, sc->len, "its descendant %d: ",
			      (int)shown_pid(sc, sc->pid));
	if (at < 0 || (size_t)at >= sc->len)
		at = 0;
	va_start(ap, fmt);
	vsnprintf(sc->reason + at, sc->len - (size_t)at, fmt, ap);
	va_end(ap);
	return -EOPNOTSUPP;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Remember a file the target must have; the same path once. */
static int add_file(struct scan *sc, const char *path, const struct stat *st, bool writable,
		    const char *what)
{
	struct movable *mv = sc->mv;
	struct movable_file *f;

	/* The node has its own /proc and /sys, where CRIU reopens these. */
	if (starts_with(path, "/proc/") || starts_with(path, "/sys/"))
		return 0;
	for (size_t i = 0; i < mv->nfiles; i++)
		if (strcmp(mv->files[i].path, path) == 0) {
			if (writable)
				mv->files[i].check_size = false;
			return 0;
		}
	f = realloc(mv->files, (mv->nfiles + 1) * sizeof(*f));
	if (!f)
		return -ENOMEM;
	mv->files = f;
	f = &mv->files[mv->nfiles];
	memset(f, 0, sizeof(*f));
	f->path = strdup(path);
	if (!f->path)
		return -ENOMEM;
	f->type = st->st_mode & S_IFMT;
	f->check_size = S_ISREG(st->st_mode) && !writable;
	f->size = (uint64_t)st->st_size;
	snprintf(f->what, sizeof(f->what), "%s", what);
	mv->nfiles++;
	return 0;
}

static bool harmless_device(dev_t rdev)
{
	/* /dev/null, /dev/zero, /dev/random, /dev/urandom: on every node. */
	return major(rdev) == 1 &&
	       (minor(rdev) == 3 || minor(rdev) == 5 || minor(rdev) == 8 || minor(rdev) == 9);
}

static bool is_pty_slave(dev_t rdev)
{
	return major(rdev) >= PTY_SLAVE_MAJOR_FIRST && major(rdev) <= PTY_SLAVE_MAJOR_LAST;
}

static void format_inet(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
		snprintf(buf, len, "%s:%u", addr, ntohs(in->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
		snprintf(buf, len, "[%s]:%u", addr, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, len, "?");
	}
}

/* An inet socket, described for the message. */
static int refuse_inet(struct scan *sc, int fd, int copy, int type)
{
	struct sockaddr_storage me = { 0 }, peer = { 0 };
	socklen_t mlen = sizeof(me), plen = sizeof(peer);
	char mine[80], theirs[80];
	int listening = 0;
	socklen_t olen = sizeof(listening);
	const char *proto = type == SOCK_STREAM ? "TCP" : type == SOCK_DGRAM ? "UDP" : "raw";

	getsockopt(copy, SOL_SOCKET, SO_ACCEPTCONN, &listening, &olen);
	getsockname(copy, (struct sockaddr *)&me, &mlen);
	format_inet(&me, mine, sizeof(mine));
	if (listening)
		return refuse(sc, "fd %d is a listening %s socket on %s (its address stays here)",
			      fd, proto, mine);
	if (getpeername(copy, (struct sockaddr *)&peer, &plen) == 0) {
		format_inet(&peer, theirs, sizeof(theirs));
		return refuse(sc, "fd %d is a %s connection %s -> %s (it cannot follow the process)",
			      fd, proto, mine, theirs);
	}
	return refuse(sc, "fd %d is a %s socket on %s (network sockets do not move)", fd, proto,
		      mine);
}

static int check_socket(struct scan *sc, int fd, const struct stat *st)
{
	_cleanup_close_ int copy = -1;
	int domain = 0, type = 0;
	socklen_t olen = sizeof(int);

	if (sc->pidfd < 0) {
		sc->pidfd = (int)syscall(SYS_pidfd_open, sc->pid, 0);
		if (sc->pidfd < 0)
			return -errno;
	}
	copy = (int)syscall(SYS_pidfd_getfd, sc->pidfd, fd, 0);
	if (copy < 0)
		return refuse(sc, "fd %d is a socket that cannot be examined (%s)", fd,
			      strerror(errno));
	if (getsockopt(copy, SOL_SOCKET, SO_DOMAIN, &domain, &olen) < 0)
		return -errno;
	olen = sizeof(int);
	if (getsockopt(copy, SOL_SOCKET, SO_TYPE, &type, &olen) < 0)
		return -errno;
	switch (domain) {
	case AF_INET:
	case AF_INET6:
		return refuse_inet(sc, fd, copy, type);
	case AF_UNIX:
		if (sc->nunix >= MAX_SOCKETS)
			return refuse(sc, "more than %d unix sockets", MAX_SOCKETS);
		sc->unix_ino[sc->nunix] = st->st_ino;
		sc->unix_fd[sc->nunix] = fd;
		sc->unix_pid[sc->nunix] = sc->pid;
		sc->nunix++;
		return 0;
	case AF_NETLINK:
		return 0; /* CRIU dumps these, and the kernel is the peer anywhere */
	default:
		return refuse(sc, "fd %d is a socket of address family %d, which does not move", fd,
			      domain);
	}
}

/*
 * Each unix socket must be unconnected, or connected to another socket of
 * the process (a socketpair), and not listening.  The kernel's socket
 * diagnostics (sock_diag) say each one's state and peer.
 */
static int check_unix_peers(struct scan *sc)
{
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req req;
	} rq = {
		.nlh = {
			.nlmsg_len = sizeof(rq),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		},
		.req = {
			.sdiag_family = AF_UNIX,
			.udiag_states = ~0u,
			.udiag_show = UDIAG_SHOW_PEER | UDIAG_SHOW_NAME,
		},
	};
	_cleanup_close_ int nl = -1;
	_cleanup_free_ char *buf = NULL;
	size_t bufsize = 32768;

	if (sc->nunix == 0)
		return 0;
	buf = malloc(bufsize);
	nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (!buf || nl < 0)
		return buf ? -errno : -ENOMEM;
	if (send(nl, &rq, sizeof(rq), 0) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(nl, buf, bufsize, 0);
		struct nlmsghdr *h;

		if (n < 0)
			return -errno;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			struct unix_diag_msg *d;
			struct rtattr *a;
			int alen;
			unsigned int peer = 0;
			char name[sizeof(((struct sockaddr_un *)0)->sun_path) + 1] = "";
			size_t i;

			if (h->nlmsg_type == NLMSG_DONE)
				goto done;
			if (h->nlmsg_type == NLMSG_ERROR)
				return -EIO;
			d = NLMSG_DATA(h);
			for (i = 0; i < sc->nunix; i++)
				if (sc->unix_ino[i] == d->udiag_ino)
					break;
			if (i == sc->nunix)
				continue;
			sc->pid = sc->unix_pid[i]; /* for the message */
			alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*d)));
			for (a = (struct rtattr *)(d + 1); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
				if (a->rta_type == UNIX_DIAG_PEER)
					memcpy(&peer, RTA_DATA(a), sizeof(peer));
				if (a->rta_type == UNIX_DIAG_NAME) {
					size_t l = RTA_PAYLOAD(a) < sizeof(name) - 1 ? RTA_PAYLOAD(a)
										     : sizeof(name) - 1;

					memcpy(name, RTA_DATA(a), l);
					name[l] = '\0';
					if (l > 0 && name[0] == '\0')
						name[0] = '@'; /* abstract */
				}
			}
			if (d->udiag_state == 10 /* TCP_LISTEN */)
				return refuse(sc, "fd %d is a listening unix socket %s (its clients stay here)",
					      sc->unix_fd[i], name[0] ? name : "(unnamed)");
			/* Connected (a peer not yet accepted shows as 0). */
			if (peer || d->udiag_state == 1 /* TCP_ESTABLISHED */) {
				bool inside = false;

				for (size_t j = 0; j < sc->nunix; j++)
					inside |= sc->unix_ino[j] == peer;
				if (!inside)
					return refuse(sc, "fd %d is a unix socket%s%s connected to a process that stays here",
						      sc->unix_fd[i], name[0] ? " " : "", name);
			}
		}
	}
done:
	return 0;
}

static int check_anon(struct scan *sc, int fd, const char *target)
{
	static const char *const ok[] = {
		"anon_inode:[eventfd]", "anon_inode:[eventpoll]", "anon_inode:[signalfd]",
		"anon_inode:[timerfd]", "anon_inode:inotify", "anon_inode:[fanotify]",
	};
	static const struct {
		const char *prefix, *what;
	} known[] = {
		{ "anon_inode:[io_uring]", "an io_uring" },
		{ "anon_inode:[perf_event]", "a perf event" },
		{ "anon_inode:bpf", "a BPF object" },
		{ "anon_inode:[userfaultfd]", "a userfaultfd" },
		{ "anon_inode:[pidfd]", "a pidfd" },
		{ "anon_inode:kvm", "a KVM object" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
		if (strcmp(target, ok[i]) == 0)
			return 0;
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (starts_with(target, known[i].prefix))
			return refuse(sc, "fd %d is %s (%s), which CRIU cannot move", fd,
				      known[i].what, target);
	return refuse(sc, "fd %d is %s, which does not move", fd, target);
}

/* Open flags and locks of one fd, from /proc/PID/fdinfo. */
static void fd_info(pid_t pid, int fd, unsigned int *flags, bool *locked)
{
	char path[64], line[256];
	_cleanup_fclose_ FILE *f = NULL;

	*flags = 0;
	*locked = false;
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		sscanf(line, "flags: %o", flags);
		if (starts_with(line, "lock:"))
			*locked = true;
	}
}

static int check_fd(struct scan *sc, int dirfd, int fd)
{
	char name[16], target[4096], what[24];
	struct stat st;
	ssize_t n;
	unsigned int flags;
	bool locked;

	snprintf(name, sizeof(name), "%d", fd);
	n = readlinkat(dirfd, name, target, sizeof(target) - 1);
	if (n < 0)
		return errno == ENOENT ? 0 : -errno; /* closed meanwhile */
	target[n] = '\0';
	if (fstatat(dirfd, name, &st, 0) < 0)
		return errno == ENOENT ? 0 : -errno;
	fd_info(sc->pid, fd, &flags, &locked);
	if (locked)
		return refuse(sc, "fd %d (%s) holds a file lock, which does not move (a lock inherited from flock(1)?)",
			      fd, target);

	if (starts_with(target, "pipe:["))
		return 0;
	if (starts_with(target, "socket:["))
		return check_socket(sc, fd, &st);
	if (starts_with(target, "anon_inode:"))
		return check_anon(sc, fd, target);
	if (starts_with(target, "/memfd:"))
		return 0; /* CRIU copies its contents */
	if (target[0] != '/')
		return refuse(sc, "fd %d is %s, which does not move", fd, target);
	if (S_ISCHR(st.st_mode)) {
		if (harmless_device(st.st_rdev))
			return 0;
		if (is_pty_slave(st.st_rdev)) {
			if (sc->mv->tty_rdev && sc->mv->tty_rdev != st.st_rdev)
				return refuse(sc, "fd %d is a second terminal, %s; a process moves with one",
					      fd, target);
			sc->mv->tty_rdev = st.st_rdev;
			if (fd <= 2 && sc->pid == sc->root) /* the root's, which the ghost keeps */
				sc->mv->tty_stdio |= 1u << fd;
			return 0;
		}
		if (major(st.st_rdev) == 5 && minor(st.st_rdev) == 2)
			return refuse(sc, "fd %d is the master side of a pseudo-terminal (%s): the terminal it runs stays here",
				      fd, target);
		if (major(st.st_rdev) == 4 || major(st.st_rdev) == 5)
			return refuse(sc, "fd %d is the terminal %s; only pseudo-terminals move", fd,
				      target);
		return refuse(sc, "fd %d is the device %s, which the node does not share", fd,
			      target);
	}
	if (ends_with(target, " (deleted)") || st.st_nlink == 0)
		return refuse(sc, "fd %d is the deleted file %s", fd, target);
	if (S_ISBLK(st.st_mode))
		return refuse(sc, "fd %d is the block device %s", fd, target);
	if (S_ISFIFO(st.st_mode))
		return refuse(sc, "fd %d is the named pipe %s; whoever is at its other end stays here",
			      fd, target);
	if (S_ISSOCK(st.st_mode))
		return refuse(sc, "fd %d is the socket %s", fd, target);
	snprintf(what, sizeof(what), "fd %d", fd);
	return add_file(sc, target, &st, (flags & O_ACCMODE) != O_RDONLY, what);
}

static int scan_fds(struct scan *sc)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int r = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)sc->pid);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? -ESRCH : -errno;
	while (r == 0 && (e = readdir(d))) {
		long fd;

		if (e->d_name[0] == '.' || parse_long(e->d_name, 0, 1 << 30, &fd) < 0)
			continue;
		r = check_fd(sc, dirfd(d), (int)fd);
	}
	closedir(d);
	return r;
}

/* Mapped files: each must be on the target, none deleted. */
static int scan_maps(struct scan *sc)
{
	char path[64], line[4096 + 256];
	_cleanup_fclose_ FILE *f = NULL;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)sc->pid);
	f = fopen(path, "re");
	if (!f)
		return -ESRCH;
	while (fgets(line, sizeof(line), f)) {
		char *file;
		struct stat st;
		int field = 0, r;

		line[strcspn(line, "\n")] = '\0';
		/* address perms offset dev inode path */
		for (file = line; *file && field < 5; field++) {
			file += strcspn(file, " ");
			file += strspn(file, " ");
		}
		if (file[0] != '/')
			continue; /* anonymous, [heap], [stack], [vdso]... */
		if (starts_with(file, "/memfd:") || strcmp(file, "/dev/zero (deleted)") == 0)
			continue; /* CRIU copies shared anonymous memory and memfds */
		if (starts_with(file, "/SYSV"))
			return refuse(sc, "it is attached to SysV shared memory, which stays here");
		if (ends_with(file, " (deleted)"))
			return refuse(sc, "it maps the deleted file %s", file);
		if (stat(file, &st) < 0)
			return refuse(sc, "it maps %s, which cannot be examined (%s)", file,
				      strerror(errno));
		if (S_ISCHR(st.st_mode)) {
			if (harmless_device(st.st_rdev))
				continue;
			return refuse(sc, "it maps the device %s", file);
		}
		r = add_file(sc, file, &st, false, "a mapping");
		if (r < 0)
			return r;
	}
	return 0;
}

/* The namespaces must be ours (on a node, the node's): CRIU dumps the
 * process, not a container. */
static int check_namespaces(struct scan *sc)
{
	static const struct {
		const char *ns, *what;
	} list[] = {
		{ "net", "network" }, { "mnt", "mount" }, { "ipc", "IPC" },
		{ "uts", "UTS" },     { "user", "user" }, { "pid", "pid" },
		{ "cgroup", "cgroup" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(list); i++) {
		char a[64], b[64];
		struct stat sa, sb;

		pid_t ref = 0;

		if (sc->where)
			ref = strcmp(list[i].ns, "mnt") == 0 ? sc->where->mnt_ref : sc->where->ns_ref;
		snprintf(a, sizeof(a), "/proc/%d/ns/%s", (int)sc->pid, list[i].ns);
		if (ref > 0)
			snprintf(b, sizeof(b), "/proc/%d/ns/%s", (int)ref, list[i].ns);
		else
			snprintf(b, sizeof(b), "/proc/self/ns/%s", list[i].ns);
		if (stat(a, &sa) < 0)
			return errno == ENOENT ? -ESRCH : -errno;
		if (stat(b, &sb) < 0)
			continue;
		if (sa.st_ino != sb.st_ino || sa.st_dev != sb.st_dev)
			return refuse(sc, "it is in a %s namespace of its own (a container?); only processes of the %s's namespaces move",
				      list[i].what, sc->where ? "node" : "master");
	}
	return 0;
}

static int check_process(struct scan *sc)
{
	char path[64], line[256], target[4096];
	_cleanup_fclose_ FILE *f = NULL;
	struct stat st;
	ssize_t n;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)sc->pid);
	f = fopen(path, "re");
	if (!f)
		return -ESRCH;
	while (fgets(line, sizeof(line), f)) {
		int tracer;

		if (sscanf(line, "TracerPid: %d", &tracer) == 1 && tracer != 0 &&
		    !(sc->pid == sc->root && tracer == sc->root_tracer))
			return refuse(sc, "it is traced by process %d (a debugger?)", tracer);
		/* The last NSsid field is the session as the process itself
		 * sees it: 0 when its session leader lives in a parent pid
		 * namespace (a container started from outside), which CRIU
		 * cannot dump. */
		if (strncmp(line, "NSsid:", 6) == 0) {
			char *last = strrchr(line, '\t');

			if (last && atoi(last + 1) == 0)
				return refuse(sc, "its session leader is outside its pid namespace (started from outside this container?); start it under setsid(1) to make it movable");
		}
	}
	r = check_namespaces(sc);
	if (r < 0)
		return r;

	snprintf(path, sizeof(path), "/proc/%d/root", (int)sc->pid);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	if (strcmp(target, "/") != 0)
		return refuse(sc, "it runs in a chroot (%s)", target);

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)sc->pid);
	n = readlink(path, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		if (ends_with(target, " (deleted)"))
			return refuse(sc, "its program %s was deleted (replaced?)", target);
		if (stat(path, &st) == 0 && (r = add_file(sc, target, &st, false, "its program")) < 0)
			return r;
	}

	snprintf(path, sizeof(path), "/proc/%d/cwd", (int)sc->pid);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	if (ends_with(target, " (deleted)"))
		return refuse(sc, "its working directory %s was deleted", target);
	if (stat(path, &st) < 0)
		return -errno;
	return add_file(sc, target, &st, true, "its working directory");
}

/* After an error reading pid's /proc: is it gone or a zombie, or about
 * to be (a task in its exit, whose links read ENOENT first)? */
static bool ended_meanwhile(pid_t pid)
{
	for (int i = 0; i < 20; i++) {
		char state = proc_state(pid);

		if (state == 0 || state == 'Z' || state == 'X')
			return true;
		usleep(1000);
	}
	return false;
}

static int scan_tree(const pid_t *pids, int n, const struct movable_where *where,
		     pid_t root_tracer, struct movable *mv, char *reason, size_t len)
{
	struct scan *sc = calloc(1, sizeof(*sc));
	int r = 0;

	memset(mv, 0, sizeof(*mv));
	if (len)
		reason[0] = '\0';
	if (!sc)
		return -ENOMEM;
	sc->mv = mv;
	sc->reason = reason;
	sc->len = len;
	sc->root = pids[0];
	sc->pids = pids;
	sc->npids = n;
	sc->where = where;
	sc->root_tracer = root_tracer;
	for (int i = 0; i < n && r == 0; i++) {
		sc->pid = pids[i];
		sc->pidfd = -1;
		r = check_process(sc);
		if (r == 0)
			r = scan_fds(sc);
		if (r == 0)
			r = scan_maps(sc);
		if (sc->pidfd >= 0)
			close(sc->pidfd);
		/* A descendant that ended meanwhile has nothing to look at: a
		 * shell's short-lived children end during a scan (seen:
		 * "cannot examine process N: No such file or directory", its
		 * /proc links read in its exit). */
		if (r < 0 && r != -EOPNOTSUPP && i > 0 && (r == -ESRCH || ended_meanwhile(pids[i]))) {
			r = 0;
			if (len)
				reason[0] = '\0';
		}
	}
	/* A socketpair between two processes of the tree moves with it. */
	if (r == 0)
		r = check_unix_peers(sc);
	if (r == 0)
		mv->memory = memory_of_tree(pids, n);
	if (r < 0) {
		if (r != -EOPNOTSUPP && len && !reason[0])
			snprintf(reason, len, "cannot examine process %d: %s",
				 (int)shown_pid(sc, sc->pid), strerror(-r));
		movable_free(mv);
	}
	free(sc);
	return r;
}

int movable_scan_tree_in(const pid_t *pids, int n, const struct movable_where *where,
			 struct movable *mv, char *reason, size_t len)
{
	return scan_tree(pids, n, where, 0, mv, reason, len);
}

int movable_scan_exec_tree(const pid_t *pids, int n, pid_t tracer, struct movable *mv,
			   char *reason, size_t len)
{
	return scan_tree(pids, n, NULL, tracer, mv, reason, len);
}

int movable_scan_tree(const pid_t *pids, int n, struct movable *mv, char *reason, size_t len)
{
	return movable_scan_tree_in(pids, n, NULL, mv, reason, len);
}

int movable_scan(pid_t pid, struct movable *mv, char *reason, size_t len)
{
	return movable_scan_tree(&pid, 1, mv, reason, len);
}

int movable_add_files(struct movable *to, const struct movable *from)
{
	struct movable_file *files;
	size_t n = to->nfiles;

	files = realloc(to->files, (to->nfiles + from->nfiles + 1) * sizeof(*files));
	if (!files)
		return -ENOMEM;
	to->files = files;
	for (size_t i = 0; i < from->nfiles; i++) {
		bool known = false;

		for (size_t k = 0; k < to->nfiles && !known; k++)
			known = strcmp(files[k].path, from->files[i].path) == 0;
		if (known)
			continue;
		files[n] = from->files[i];
		files[n].path = strdup(from->files[i].path);
		if (!files[n].path) {
			while (n-- > to->nfiles)
				free(files[n].path);
			return -ENOMEM;
		}
		n++;
	}
	to->nfiles = n;
	return 0;
}

void movable_free(struct movable *mv)
{
	for (size_t i = 0; i < mv->nfiles; i++)
		free(mv->files[i].path);
	free(mv->files);
	mv->files = NULL;
	mv->nfiles = 0;
}

static const char *type_name(mode_t type)
{
	switch (type & S_IFMT) {
	case S_IFREG:
		return "a file";
	case S_IFDIR:
		return "a directory";
	case S_IFLNK:
		return "a symbolic link";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFIFO:
		return "a named pipe";
	case S_IFSOCK:
		return "a socket";
	default:
		return "something else";
	}
}

/* Where a move goes, for messages: a move back to the master goes to its
 * home node, which users know as the master (-1). */
static void place_name(int node, char *buf, size_t len)
{
	if (node < 0)
		snprintf(buf, len, "the master");
	else
		snprintf(buf, len, "node %d", node);
}

int movable_fits_memory(const struct movable *mv, uint64_t room, bool by_cgroup, int node,
			pid_t pid, char *reason, size_t len)
{
	char place[32];

	if (mv->memory <= room)
		return 0;
	place_name(node, place, sizeof(place));
	/* What it needs rounded up, what there is rounded down: never
	 * "needs 12 MiB, has 12 MiB". */
	snprintf(reason, len, "%s: not enough memory: process %d needs %llu MiB, %s has %llu MiB available%s",
		 place, (int)pid, (unsigned long long)((mv->memory + (1u << 20) - 1) >> 20),
		 node < 0 ? "it" : "the node", (unsigned long long)(room >> 20),
		 by_cgroup ? " (under its memory cgroup's limit)" : "");
	return -ENOMEM;
}

int movable_compare(const struct movable *mv, const struct movable_seen *seen, size_t nseen,
		    int node, char *reason, size_t len)
{
	char place[32];

	place_name(node, place, sizeof(place));
	if (nseen != mv->nfiles) {
		snprintf(reason, len, "%s answered about %zu files, not %zu", place, nseen,
			 mv->nfiles);
		return -EPROTO;
	}
	for (size_t i = 0; i < mv->nfiles; i++) {
		const struct movable_file *f = &mv->files[i];

		if (seen[i].mode == 0) {
			snprintf(reason, len, "%s, %s, is not on %s", f->what, f->path, place);
			return -ENOENT;
		}
		if ((seen[i].mode & S_IFMT) != f->type) {
			snprintf(reason, len, "%s, %s, is %s on %s, %s here", f->what, f->path,
				 type_name(seen[i].mode), place, type_name(f->type));
			return -ENOENT;
		}
		if (f->check_size && seen[i].size != f->size) {
			snprintf(reason, len,
				 "%s, %s, differs on %s (%llu bytes there, %llu here)", f->what,
				 f->path, place, (unsigned long long)seen[i].size,
				 (unsigned long long)f->size);
			return -ENOENT;
		}
	}
	return 0;
}

void movable_look(const char *const *paths, size_t n, struct movable_seen *seen)
{
	for (size_t i = 0; i < n; i++) {
		struct stat st;

		if (stat(paths[i], &st) < 0) {
			seen[i].mode = 0;
			seen[i].size = 0;
		} else {
			seen[i].mode = st.st_mode;
			seen[i].size = (uint64_t)st.st_size;
		}
	}
}
