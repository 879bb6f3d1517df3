/*
 * master_home.c - the home node: where a process coming back to the master
 * runs.
 *
 * The process's original pid belongs to its ghost for as long as the ghost
 * lives (docs/migration.md, "Back to the master"), so it cannot be restored
 * into the master's own pid namespace.  It is restored instead by a bpslave
 * of ours, the home slave, whose node's pid namespace lives on this machine:
 * same network, same hostname, same files, but for a tmpfs of its own on
 * /run/bproc (its client socket and image directory are not the master's).
 * To clients it is the master (BPROC_NODE_MASTER); inside, MASTER_HOME_NODE.
 *
 * It outlives us, as every node's slave does: it listens on a unix socket
 * in a directory only root may enter (master_home.h), and we connect to it
 * there.  A master that crashed (SIGKILL, a bug) leaves it running with its
 * processes; the next one finds it on that socket as it starts, proves the
 * secret to it as to any slave, and takes their ghosts back when it names
 * them (Hello.running), as for any node after a master restart.  We watch
 * it through a pidfd, whether we started it or found it, and start another
 * a second after it died.  A master that is stopped (SIGTERM) stops it:
 * the home node is part of the master's machine, and stopping the cluster
 * leaves nothing behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <linux/close_range.h>
#include <unistd.h>

#include "auth.h"
#include "bproc.h"
#include "log.h"
#include "master.h"
#include "master_home.h"
#include "proc_events.h"
#include "util.h"

#define HOME_RUN_DIR "/run/bproc"
#define HOME_RESTART_MS 1000
#define HOME_STOP_MS 3000
#define HOME_BACKLOG 4

/* bpslave is installed beside bpmaster (sbindir), and built beside it. */
static int locate_slave(char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return n < 0 ? -errno : -ENOENT;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	if (snprintf(buf, len, "%s/bpslave", self) >= (int)len)
		return -ENAMETOOLONG;
	return access(buf, X_OK) == 0 ? 0 : -errno;
}

/* MASTER_HOME_DIR, root's alone: whoever connects there is root. */
static int make_home_dir(void)
{
	struct stat st;

	if (mkdir(MASTER_HOME_DIR, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (lstat(MASTER_HOME_DIR, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
		return -EPERM;
	return chmod(MASTER_HOME_DIR, 0700) < 0 ? -errno : 0;
}

static void home_socket_addr(struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	snprintf(sa->sun_path, sizeof(sa->sun_path), "%s", MASTER_HOME_SOCKET);
}

/*
 * A link to the home slave listening on MASTER_HOME_SOCKET: the fd, and
 * its pid (the peer's credentials, taken by the kernel when it listened),
 * or -ENOENT/-ECONNREFUSED when none listens.
 */
static int home_connect(pid_t *pid)
{
	struct sockaddr_un sa;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), r;

	if (fd < 0)
		return -errno;
	home_socket_addr(&sa);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (cred.uid != geteuid() || cred.pid <= 0) {
		pr_err("home node: %s is held by uid %u, pid %d, not by a slave of ours",
		       MASTER_HOME_SOCKET, (unsigned int)cred.uid, (int)cred.pid);
		close(fd);
		return -EPERM;
	}
	*pid = cred.pid;
	return fd;
}

/* Who stops the cluster while no master runs finds it here. */
static void write_pidfile(pid_t pid)
{
	char text[16];
	int fd = open(MASTER_HOME_PIDFILE ".new", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int n = snprintf(text, sizeof(text), "%d\n", (int)pid);

	if (fd < 0 || write(fd, text, (size_t)n) != n || close(fd) < 0 ||
	    rename(MASTER_HOME_PIDFILE ".new", MASTER_HOME_PIDFILE) < 0) {
		pr_warn("home node: %s: %s", MASTER_HOME_PIDFILE, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
}

static void home_died(struct master *m, const char *why)
{
	if (m->home_pidfd >= 0) {
		loop_remove(m->loop, m->home_pidfd);
		close(m->home_pidfd);
		m->home_pidfd = -1;
	}
	m->home_pid = 0;
	pr_warn("home node: %s", why);
	/* Its processes died with its pid namespace: their ghosts end as
	 * killed, as for any node that goes down (slave_closed). */
	if (m->home.conn)
		conn_close(m->home.conn, "the home slave died");
	unlink(MASTER_HOME_PIDFILE);
	if (!m->stopping)
		m->home_restart_ms = now_ms() + HOME_RESTART_MS;
}

static void on_home_exit(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct master *m = data;
	char why[64];

	(void)loop;
	(void)fd;
	(void)events;
	snprintf(why, sizeof(why), "its bpslave %d ended", (int)m->home_pid);
	home_died(m, why);
}

/* Watch pid (the home slave) and make fd, connected to it, its link. */
static int home_take(struct master *m, int fd, pid_t pid)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), r;

	if (pidfd < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	fcntl(pidfd, F_SETFD, FD_CLOEXEC);
	r = loop_add(m->loop, pidfd, EPOLLIN, on_home_exit, m);
	if (r < 0) {
		close(pidfd);
		close(fd);
		return r;
	}
	m->home_pid = pid;
	m->home_pidfd = pidfd;
	write_pidfile(pid);
	r = master_home_link(m, fd);
	if (r < 0)
		return r;
	m->home_linked = true;
	return 0;
}

/* In the child: our mount namespace, but a /run/bproc of its own.  It
 * listens first, so that the socket's credentials are its pid. */
static void __attribute__((noreturn))
home_child(struct master *m, pid_t parent, const char *slave, int listen_fd)
{
	const char *secret = m->cfg.secretfile ? m->cfg.secretfile : AUTH_DEFAULT_SECRET;
	char link_text[16], secret_text[16];
	char *argv[6];
	int argc = 0, secret_fd, devnull;
	sigset_t none;

	if (getppid() != parent)
		_exit(1);
	/* A session of its own: it outlives us, and signals meant for our
	 * process group (a terminal's Ctrl-C) are not its. */
	setsid();
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (listen(listen_fd, HOME_BACKLOG) < 0) {
		pr_err("home slave: listen on %s: %s", MASTER_HOME_SOCKET, strerror(errno));
		_exit(126);
	}
	/* Nothing of ours but its socket and the secret: a ghost's pipe held
	 * open there would keep its reader from ever seeing the end. */
	syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
	/* Its /run/bproc hides ours (and bpcluster's): the secret goes open. */
	secret_fd = open(secret, O_RDONLY);
	if (secret_fd < 0 || fcntl(listen_fd, F_SETFD, 0) < 0) {
		pr_err("home slave: %s: %s", secret, strerror(errno));
		_exit(126);
	}
	snprintf(secret_text, sizeof(secret_text), "%d", secret_fd);
	snprintf(link_text, sizeof(link_text), "%d", listen_fd);
	setenv(AUTH_SECRET_FD_ENV, secret_text, 1);
	unsetenv(BPROC_SOCKET_ENV);
	unsetenv(PROC_EVENTS_FD_ENV);
	mkdir(HOME_RUN_DIR, 0755);
	/* MS_SLAVE: the master's later mounts show here, ours not there. */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0 ||
	    mount("bproc-home", HOME_RUN_DIR, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0) {
		pr_err("home slave: a private %s: %s", HOME_RUN_DIR, strerror(errno));
		_exit(126);
	}
	devnull = open("/dev/null", O_RDONLY);
	if (devnull >= 0)
		dup2(devnull, STDIN_FILENO);
	argv[argc++] = (char *)slave;
	argv[argc++] = "-m";
	argv[argc++] = link_text;
	if (m->foreground)
		argv[argc++] = "-f";
	if (m->verbose)
		argv[argc++] = "-v";
	argv[argc] = NULL;
	execv(slave, argv);
	pr_err("home slave: cannot run %s: %s", slave, strerror(errno));
	_exit(127);
}

/* A new home slave, listening on MASTER_HOME_SOCKET; its pid, or -errno. */
static pid_t home_spawn(struct master *m, const char *slave)
{
	struct sockaddr_un sa;
	int listen_fd, ready[2];
	pid_t parent = getpid(), pid;
	char c;

	home_socket_addr(&sa);
	/* What is there is a dead slave's: none answered on it. */
	unlink(MASTER_HOME_SOCKET);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0)
		return -errno;
	if (bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(MASTER_HOME_SOCKET, 0600) < 0 || pipe2(ready, O_CLOEXEC) < 0) {
		int r = -errno;

		close(listen_fd);
		return r;
	}
	pid = fork();
	if (pid == 0) {
		close(ready[0]);
		home_child(m, parent, slave, listen_fd);
	}
	close(listen_fd);
	close(ready[1]);
	/* Its end closes when it runs bpslave (close-on-exec), listening by
	 * then, or when it fails: a few milliseconds. */
	while (pid > 0 && read(ready[0], &c, 1) < 0 && errno == EINTR)
		;
	close(ready[0]);
	return pid < 0 ? -errno : pid;
}

void master_home_start(struct master *m)
{
	char slave[PATH_MAX];
	pid_t pid = 0, child = 0;
	int fd, r;

	m->home_restart_ms = 0;
	r = make_home_dir();
	if (r < 0) {
		pr_err("home node: %s: %s; moves back to the master are refused", MASTER_HOME_DIR,
		       strerror(-r));
		return;
	}
	/* A master before us died: its home slave may run on, and with it
	 * the processes that came back to the master. */
	fd = home_connect(&pid);
	if (fd >= 0) {
		r = home_take(m, fd, pid);
		if (r < 0)
			pr_err("home node: bpslave %d of a master before us: %s", (int)pid,
			       strerror(-r));
		else
			pr_info("home node: bpslave %d, started by a master before us, runs on: "
				"taking it back with its processes", (int)pid);
		return;
	}
	if (fd != -ENOENT && fd != -ECONNREFUSED)
		pr_warn("home node: %s: %s; starting another", MASTER_HOME_SOCKET, strerror(-fd));
	r = locate_slave(slave, sizeof(slave));
	if (r < 0) {
		pr_err("no bpslave beside bpmaster (%s): no home node, moves back to the master are refused",
		       strerror(-r));
		return;
	}
	child = home_spawn(m, slave);
	fd = child < 0 ? (int)child : home_connect(&pid);
	if (fd >= 0 && pid != child) {
		pr_err("home node: %s answered by pid %d, not by the bpslave %d we started",
		       MASTER_HOME_SOCKET, (int)pid, (int)child);
		close(fd);
		fd = -EBUSY;
	}
	if (child > 0)
		m->home_child = child;
	r = fd < 0 ? fd : home_take(m, fd, pid);
	if (r < 0) {
		pr_err("home node: %s", strerror(-r));
		if (child > 0)
			kill(child, SIGKILL);
		if (!m->home_pid)
			m->home_restart_ms = now_ms() + HOME_RESTART_MS;
		return;
	}
	pr_info("home node: bpslave %d started (processes moved back here run in it)", (int)pid);
}

void master_home_link_closed(struct master *m)
{
	m->home_linked = false;
	/* Its slave lives on (a link does not break by itself on this
	 * machine, but say it did): connect to it again. */
	if (m->home_pid && !m->stopping)
		m->home_restart_ms = now_ms() + HOME_RESTART_MS;
}

void master_home_tick(struct master *m, long long now)
{
	pid_t pid = 0;
	int fd;

	if (m->stopping || !m->home_restart_ms || now < m->home_restart_ms)
		return;
	if (!m->home_pid) {
		master_home_start(m);
		return;
	}
	if (m->home_linked)
		return;
	m->home_restart_ms = now + HOME_RESTART_MS;
	fd = home_connect(&pid);
	if (fd >= 0 && pid == m->home_pid && master_home_link(m, fd) == 0) {
		m->home_linked = true;
		m->home_restart_ms = 0;
	} else if (fd >= 0 && pid != m->home_pid) {
		close(fd);
	}
}

bool master_home_reaped(struct master *m, pid_t pid, int status)
{
	if (!m->home_child || pid != m->home_child)
		return false;
	m->home_child = 0;
	/* The pidfd said it ended (on_home_exit); this says how. */
	if (WIFEXITED(status))
		pr_info("home node: its bpslave %d exited with status %d", (int)pid,
			WEXITSTATUS(status));
	else
		pr_info("home node: its bpslave %d was killed by signal %d", (int)pid,
			WTERMSIG(status));
	return true;
}

static bool home_ended_within(int pidfd, int ms)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

void master_home_stop(struct master *m)
{
	pid_t pid = m->home_pid;

	if (!pid)
		return;
	syscall(SYS_pidfd_send_signal, m->home_pidfd, SIGTERM, NULL, 0);
	if (!home_ended_within(m->home_pidfd, HOME_STOP_MS)) {
		pr_warn("home node: bpslave %d did not stop; killing it", (int)pid);
		syscall(SYS_pidfd_send_signal, m->home_pidfd, SIGKILL, NULL, 0);
		home_ended_within(m->home_pidfd, HOME_STOP_MS);
	}
	if (m->home_child)
		waitpid(m->home_child, NULL, WNOHANG);
	m->home_child = 0;
	loop_remove(m->loop, m->home_pidfd);
	close(m->home_pidfd);
	m->home_pidfd = -1;
	m->home_pid = 0;
	unlink(MASTER_HOME_SOCKET);
	unlink(MASTER_HOME_PIDFILE);
}
