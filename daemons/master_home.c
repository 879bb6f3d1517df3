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
 * Its link to us is a socketpair, so nothing outside reaches it as a node;
 * it dies with us (PR_SET_PDEATHSIG), and we start it again when it dies.
 * To clients it is the master (BPROC_NODE_MASTER); inside, MASTER_HOME_NODE.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/close_range.h>
#include <unistd.h>

#include "auth.h"
#include "bproc.h"
#include "log.h"
#include "master.h"
#include "proc_events.h"
#include "util.h"

#define HOME_RUN_DIR "/run/bproc"
#define HOME_RESTART_MS 1000
#define HOME_STOP_MS 3000

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

/* In the child: our mount namespace, but a /run/bproc of its own. */
static void __attribute__((noreturn))
home_child(struct master *m, pid_t parent, const char *slave, int link_fd)
{
	const char *secret = m->cfg.secretfile ? m->cfg.secretfile : AUTH_DEFAULT_SECRET;
	char link_text[16], secret_text[16];
	char *argv[6];
	int argc = 0, secret_fd, devnull;
	sigset_t none;

	/* Goes down with us (a SIGTERM: it stops as a node does). */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(1);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Nothing of ours but its link and the secret: a ghost's pipe held
	 * open there would keep its reader from ever seeing the end. */
	syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
	/* Its /run/bproc hides ours (and bpcluster's): the secret goes open. */
	secret_fd = open(secret, O_RDONLY);
	if (secret_fd < 0 || fcntl(link_fd, F_SETFD, 0) < 0) {
		pr_err("home slave: %s: %s", secret, strerror(errno));
		_exit(126);
	}
	snprintf(secret_text, sizeof(secret_text), "%d", secret_fd);
	snprintf(link_text, sizeof(link_text), "%d", link_fd);
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

void master_home_start(struct master *m)
{
	char slave[PATH_MAX];
	int sv[2], r;
	pid_t parent = getpid(), pid;

	m->home_restart_ms = 0;
	r = locate_slave(slave, sizeof(slave));
	if (r < 0) {
		pr_err("no bpslave beside bpmaster (%s): no home node, moves back to the master are refused",
		       strerror(-r));
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		pr_err("home node: socketpair: %s", strerror(errno));
		m->home_restart_ms = now_ms() + HOME_RESTART_MS;
		return;
	}
	pid = fork();
	if (pid < 0) {
		pr_err("home node: fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		m->home_restart_ms = now_ms() + HOME_RESTART_MS;
		return;
	}
	if (pid == 0) {
		close(sv[0]);
		home_child(m, parent, slave, sv[1]);
	}
	close(sv[1]);
	m->home_pid = pid;
	r = master_home_link(m, sv[0]);
	if (r < 0) {
		pr_err("home node: %s", strerror(-r));
		kill(pid, SIGTERM);
		return;
	}
	pr_info("home node: bpslave %d started (processes moved back here run in it)", (int)pid);
}

void master_home_tick(struct master *m, long long now)
{
	if (!m->home_pid && m->home_restart_ms && now >= m->home_restart_ms && !m->stopping)
		master_home_start(m);
}

bool master_home_reaped(struct master *m, pid_t pid, int status)
{
	if (!m->home_pid || pid != m->home_pid)
		return false;
	m->home_pid = 0;
	if (WIFEXITED(status))
		pr_warn("home node: its bpslave exited with status %d", WEXITSTATUS(status));
	else
		pr_warn("home node: its bpslave was killed by signal %d", WTERMSIG(status));
	/* Its processes died with its pid namespace: their ghosts end as
	 * killed, as for any node that goes down (slave_closed). */
	if (m->home.conn)
		conn_close(m->home.conn, "the home slave died");
	if (!m->stopping)
		m->home_restart_ms = now_ms() + HOME_RESTART_MS;
	return true;
}

void master_home_stop(struct master *m)
{
	long long until = now_ms() + HOME_STOP_MS;
	pid_t pid = m->home_pid;

	if (!pid)
		return;
	kill(pid, SIGTERM);
	while (waitpid(pid, NULL, WNOHANG) == 0) {
		if (now_ms() >= until) {
			pr_warn("home node: bpslave %d did not stop; killing it", (int)pid);
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			break;
		}
		usleep(20000);
	}
	m->home_pid = 0;
}
