/*
 * proc_events.c - subscribe to fork and exit events of the process-events
 * connector and hand them out one by one.  See proc_events.h.
 *
 * The connector speaks raw netlink: each message is an nlmsghdr, a cn_msg
 * and a proc_event.  libnl3 gives us the socket, the subscription and the
 * message walking; the payload is decoded here and nowhere else.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "proc_events.h"
#include "util.h"

struct proc_events {
	struct nl_sock *sock;
};

/* The kernel's fixed inode numbers of the initial namespaces. */
#define INITIAL_PID_NS_INODE 0xEFFFFFFCUL
#define INITIAL_USER_NS_INODE 0xEFFFFFFDUL

bool proc_events_usable(void)
{
	const char *mode = getenv("BPROC_PROC_EVENTS");
	struct stat pid_ns, user_ns;

	if (mode && strcmp(mode, "poll") == 0)
		return false;
	if (stat("/proc/self/ns/pid", &pid_ns) < 0 || stat("/proc/self/ns/user", &user_ns) < 0)
		return false;
	return pid_ns.st_ino == INITIAL_PID_NS_INODE && user_ns.st_ino == INITIAL_USER_NS_INODE;
}

/* <linux/pidfd.h> of Linux 6.15; Debian 12's headers are older. */
struct pidfd_exit_info {
	uint64_t mask;
	uint64_t cgroupid;
	uint32_t pid, tgid, ppid;
	uint32_t ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
	int32_t exit_code;
};
#define PIDFD_INFO_EXIT_BIT (1ULL << 3)
#define PIDFD_GET_INFO_IOCTL _IOWR(0xFF, 11, struct pidfd_exit_info)

int proc_pidfd_open(pid_t pid)
{
	/* A pidfd is always close-on-exec. */
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -errno : fd;
}

/* A zombie's wait() status.  1, or 0 if pid is not a zombie (any more). */
static int zombie_status(pid_t pid, int *status)
{
	int code;

	if (proc_state_code(pid, &code) != 'Z' || code < 0)
		return 0;
	*status = code;
	return 1;
}

int proc_exit_status(int pidfd, int *status)
{
	struct pidfd_exit_info info;
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

	for (int attempt = 0; attempt < 2; attempt++) {
		memset(&info, 0, sizeof(info));
		info.mask = PIDFD_INFO_EXIT_BIT;
		if (ioctl(pidfd, PIDFD_GET_INFO_IOCTL, &info) < 0 && errno != ESRCH)
			return -errno;
		if (info.mask & PIDFD_INFO_EXIT_BIT) {
			*status = info.exit_code;
			return 1;
		}
		/* Ended but not reaped yet (its parent has not waited):
		 * the kernel keeps the status in the zombie. */
		if (poll(&pfd, 1, 0) <= 0 || !(pfd.revents & POLLIN) || info.pid == 0)
			return 0;
		if (zombie_status((pid_t)info.pid, status) == 1)
			return 1;
		/* Reaped meanwhile: the pidfd knows now. */
	}
	return 0;
}

/*
 * Linux 6.6 lets a listener name the events it wants (struct proc_input,
 * not in Debian 12's headers): we use forks and exits only.  Every
 * listener gets every event of the machine, and on a local cluster the
 * slaves of all its nodes listen on one kernel: an exec, a setsid, a
 * ptrace attach or a new name (CRIU's restores do all of them) woke each
 * of them for nothing (39% of the events of a 16-node launch).  An older
 * kernel ignores that form altogether, so it gets the old one.
 */
#define EVENTS_WANTED (0x00000001u /* PROC_EVENT_FORK */ | 0x80000000u /* PROC_EVENT_EXIT */)

bool proc_events_filter_supported(const char *release)
{
	unsigned int major = 0, minor = 0;

	if (!release || sscanf(release, "%u.%u", &major, &minor) != 2)
		return false;
	return major > 6 || (major == 6 && minor >= 6);
}

static bool kernel_filters_events(void)
{
	struct utsname u;

	return uname(&u) == 0 && proc_events_filter_supported(u.release);
}

static int send_mcast_op(struct nl_sock *sock, enum proc_cn_mcast_op op)
{
	struct {
		struct cn_msg cn;
		uint32_t op;
		uint32_t events; /* sent only where the kernel reads it */
	} __attribute__((packed)) req;
	struct nl_msg *msg;
	bool filtered = op == PROC_CN_MCAST_LISTEN && kernel_filters_events();
	int r;

	memset(&req, 0, sizeof(req));
	req.cn.id.idx = CN_IDX_PROC;
	req.cn.id.val = CN_VAL_PROC;
	req.cn.len = filtered ? 2 * sizeof(uint32_t) : sizeof(uint32_t);
	req.op = (uint32_t)op;
	req.events = EVENTS_WANTED;

	msg = nlmsg_alloc_simple(NLMSG_DONE, 0);
	if (!msg)
		return -ENOMEM;
	r = nlmsg_append(msg, &req, sizeof(req.cn) + req.cn.len, 0);
	if (r >= 0)
		r = nl_send_auto(sock, msg);
	nlmsg_free(msg);
	return r < 0 ? -EIO : 0;
}

/* Open a socket (fd < 0) or take fd over, and subscribe. */
static int open_events(int fd, struct proc_events **out)
{
	struct proc_events *pe;
	int r;

	pe = calloc(1, sizeof(*pe));
	if (!pe) {
		if (fd >= 0)
			close(fd);
		return -ENOMEM;
	}
	pe->sock = nl_socket_alloc();
	if (!pe->sock) {
		if (fd >= 0)
			close(fd);
		free(pe);
		return -ENOMEM;
	}
	nl_socket_disable_seq_check(pe->sock);
	nl_socket_set_local_port(pe->sock, 0);
	if (fd >= 0) {
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		r = nl_socket_set_fd(pe->sock, NETLINK_CONNECTOR, fd);
		if (r < 0) {
			close(fd);
			r = -EBADF;
			goto fail;
		}
	} else {
		r = nl_connect(pe->sock, NETLINK_CONNECTOR);
		if (r < 0) {
			r = -EPROTONOSUPPORT;
			goto fail;
		}
	}
	r = nl_socket_add_membership(pe->sock, CN_IDX_PROC);
	if (r < 0) {
		r = -EPERM;
		goto fail;
	}
	nl_socket_set_nonblocking(pe->sock);
	/* Events can come in bursts (a fork bomb on a node): give the socket
	 * room, the kernel drops what does not fit and we rescan then. */
	nl_socket_set_buffer_size(pe->sock, 4 << 20, 0);
	r = send_mcast_op(pe->sock, PROC_CN_MCAST_LISTEN);
	if (r < 0)
		goto fail;
	*out = pe;
	return 0;
fail:
	nl_socket_free(pe->sock);
	free(pe);
	return r;
}

int proc_events_open(struct proc_events **out)
{
	return open_events(-1, out);
}

int proc_events_open_fd(int fd, struct proc_events **out)
{
	return fd < 0 ? -EBADF : open_events(fd, out);
}

void proc_events_close(struct proc_events *pe)
{
	if (!pe)
		return;
	send_mcast_op(pe->sock, PROC_CN_MCAST_IGNORE);
	nl_socket_free(pe->sock);
	free(pe);
}

int proc_events_fd(const struct proc_events *pe)
{
	return nl_socket_get_fd(pe->sock);
}

/* Decode one connector message; 1 if it was an event of interest. */
static int decode_event(const struct nlmsghdr *h, struct proc_event_info *info)
{
	const struct cn_msg *cn;
	struct proc_event event;
	const struct proc_event *ev = &event;

	if (nlmsg_datalen(h) < (int)sizeof(*cn))
		return 0;
	cn = nlmsg_data(h);
	if (cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC)
		return 0;
	if (cn->len < sizeof(*ev) - sizeof(ev->event_data) ||
	    nlmsg_datalen(h) < (int)(sizeof(*cn) + cn->len))
		return 0;
	/* The event sits 4 bytes past an 8-byte boundary in the message:
	 * copied out, its 64-bit fields are read where they may be. */
	memset(&event, 0, sizeof(event));
	memcpy(&event, cn->data, cn->len < sizeof(event) ? cn->len : sizeof(event));
	switch (ev->what) {
	case PROC_EVENT_FORK:
		/* A new thread shares its tgid with its creator. */
		if (ev->event_data.fork.child_pid != ev->event_data.fork.child_tgid)
			return 0;
		info->kind = PROC_EVENT_KIND_FORK;
		info->pid = ev->event_data.fork.child_tgid;
		info->parent = ev->event_data.fork.parent_tgid;
		info->exit_status = 0;
		return 1;
	case PROC_EVENT_EXIT:
		if (ev->event_data.exit.process_pid != ev->event_data.exit.process_tgid)
			return 0;
		info->kind = PROC_EVENT_KIND_EXIT;
		info->pid = ev->event_data.exit.process_tgid;
		info->parent = ev->event_data.exit.parent_tgid;
		info->exit_status = (int)ev->event_data.exit.exit_code;
		return 1;
	default:
		return 0;
	}
}

int proc_events_dispatch(struct proc_events *pe, proc_event_fn fn, void *data)
{
	for (;;) {
		struct sockaddr_nl peer;
		unsigned char *buf = NULL;
		struct nlmsghdr *h;
		int n;

		n = nl_recv(pe->sock, &peer, &buf, NULL);
		if (n == 0 || n == -NLE_AGAIN) {
			free(buf);
			return 0;
		}
		if (n < 0) {
			free(buf);
			return n == -NLE_NOMEM ? -ENOBUFS : -EIO;
		}
		/* Only the kernel may speak for the connector. */
		if (peer.nl_pid != 0) {
			free(buf);
			continue;
		}
		for (h = (struct nlmsghdr *)buf; nlmsg_ok(h, n); h = nlmsg_next(h, &n)) {
			struct proc_event_info info;

			if (decode_event(h, &info))
				fn(&info, data);
		}
		free(buf);
	}
}
