/*
 * bpcluster - a whole bproc cluster on one machine, for trying bproc and
 * for its tests.
 *
 *   bpcluster up N        bridge bpbr0 (10.223.0.1/16, no uplink); per node
 *                         net+mnt+uts namespaces, a veth link (eth0,
 *                         10.223.0.(10+n)), hostname nN, private /tmp and
 *                         /run; then bpmaster on the host and one bpslave
 *                         per node; returns when every node is up
 *   bpcluster down        stop it all and remove every link, mount and
 *                         namespace it made (also after a crash)
 *   bpcluster status      what runs
 *   bpcluster exec N CMD  run CMD in node N's namespaces
 *   bpcluster kill-slave N [SIG] / start-slave N
 *   bpcluster restart-master   (SIGKILL and start again, as after a crash)
 *
 * The daemons are the real ones, started as an administrator would start
 * them; only the links are virtual.  Everything bpcluster made is
 * recorded under /run/bproc/cluster, which is what `down` and `status`
 * read.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <linux/netlink.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "bproc.h"
#include "localnet.h"
#include "master_home.h"
#include "nodens.h"
#include "proc_events.h"
#include "util.h"
#include "version.h"

#define CLUSTER_DIR "/run/bproc/cluster"
#define BRIDGE "bpbr0"
#define SUBNET_PREFIX 16
#define MASTER_ADDR "10.223.0.1"
#define FIRST_NODE_HOST 10 /* node n is 10.223.0.0 + 10 + n */
#define MAX_NODES 1000
#define UP_TIMEOUT_MS 30000

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: bpcluster up N [--encrypt] | down | status\n"
		"       bpcluster exec NODE COMMAND [ARGS...]\n"
		"       bpcluster kill-slave NODE [SIGNAL] | start-slave NODE | restart-master\n"
		"A bproc cluster of N nodes on this machine: namespaces joined by veth\n"
		"links to the bridge " BRIDGE ", with the real bpmaster and bpslave.\n");
}

static struct in_addr node_addr(int node)
{
	struct in_addr a;

	inet_pton(AF_INET, "10.223.0.0", &a);
	a.s_addr = htonl(ntohl(a.s_addr) + FIRST_NODE_HOST + (uint32_t)node);
	return a;
}

static void node_dir(int node, char *buf, size_t len)
{
	snprintf(buf, len, CLUSTER_DIR "/n%d", node);
}

static int write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	int r;

	if (fd < 0)
		return -errno;
	r = write_full(fd, text, strlen(text));
	close(fd);
	return r;
}

static int read_int_file(const char *path, long *out)
{
	char buf[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EINVAL;
	buf[n] = '\0';
	return parse_long(strtok(buf, "\n"), 0, INT_MAX, out);
}

/* The daemons live next to bpcluster (build tree or sbindir). */
static void daemon_path(const char *name, char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		snprintf(buf, len, "%s/%s", dirname(self), name);
		if (access(buf, X_OK) == 0)
			return;
	}
	snprintf(buf, len, "%s", name); /* execvp finds it in PATH */
}

/*
 * The nodes need bproc's programs as the host sees them.  An installed
 * bproc is in /usr; a build tree under /tmp or /run (a checkout in /tmp)
 * would be hidden by the node's private mounts, so the tree bpcluster runs
 * from (the directory above its own) is kept visible.  "" if no need.
 */
static void build_root(char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	buf[0] = '\0';
	if (n <= 0)
		return;
	self[n] = '\0';
	if (strncmp(self, "/tmp/", 5) != 0 && strncmp(self, "/run/", 5) != 0)
		return;
	/* .../build/daemons/bpcluster -> .../build */
	snprintf(buf, len, "%s", dirname(dirname(self)));
	if (strcmp(buf, "/tmp") == 0 || strcmp(buf, "/run") == 0 || strcmp(buf, "/") == 0)
		buf[0] = '\0';
}

/* Is pid alive and running the program name?  (Guards against reused
 * pids; a zombie, which nobody may reap soon in a container, is dead.) */
static int pid_is(pid_t pid, const char *name)
{
	char path[64], stat[256], *open_paren, *close_paren;
	int fd;
	ssize_t n;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, stat, sizeof(stat) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	stat[n] = '\0';
	/* "PID (COMM) STATE ..." */
	open_paren = strchr(stat, '(');
	close_paren = strrchr(stat, ')');
	if (!open_paren || !close_paren || close_paren[1] != ' ')
		return 0;
	if (close_paren[2] == 'Z' || close_paren[2] == 'X')
		return 0;
	*close_paren = '\0';
	return strcmp(open_paren + 1, name) == 0;
}

static pid_t read_pid(const char *path, const char *name)
{
	long pid;

	if (read_int_file(path, &pid) < 0 || !pid_is((pid_t)pid, name))
		return 0;
	return (pid_t)pid;
}

/* Start a daemon detached from us, output to log; enter node's
 * namespaces first if node_ns is given. */
static int spawn_daemon(char *const argv[], const char *log, const char *node_ns, pid_t *out)
{
	int logfd, r;
	pid_t pid;

	logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(logfd);
		return r;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		setsid();
		if (node_ns && nodens_enter(node_ns) < 0) {
			dprintf(logfd, "bpcluster: cannot enter %s: %s\n", node_ns, strerror(errno));
			_exit(127);
		}
		dup2(devnull, STDIN_FILENO);
		dup2(logfd, STDOUT_FILENO);
		dup2(logfd, STDERR_FILENO);
		execvp(argv[0], argv);
		dprintf(logfd, "bpcluster: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(logfd);
	*out = pid;
	return 0;
}

static int start_slave(int node, pid_t *out)
{
	char dir[128], log[160], pidfile[160], slave[PATH_MAX], text[32];
	char *argv[] = { slave, "-f", MASTER_ADDR ":2223", NULL };
	pid_t pid;
	int r, events, secret;

	node_dir(node, dir, sizeof(dir));
	snprintf(log, sizeof(log), "%s/slave.log", dir);
	snprintf(pidfile, sizeof(pidfile), "%s/slave.pid", dir);
	daemon_path("bpslave", slave, sizeof(slave));
	/* The kernel's process-events connector answers only sockets of the
	 * initial network namespace, and the slave runs in its node's: it
	 * gets one made here (see daemons/slave_procs.c). */
	events = socket(AF_NETLINK, SOCK_RAW, NETLINK_CONNECTOR); /* libnl wants RAW */
	if (events >= 0) {
		snprintf(text, sizeof(text), "%d", events);
		setenv(PROC_EVENTS_FD_ENV, text, 1);
	}
	/* The slave runs where our /run is not: it gets the secret open. */
	secret = open(CLUSTER_DIR "/secret", O_RDONLY); /* no O_CLOEXEC: for the slave */
	if (secret < 0) {
		r = -errno;
		if (events >= 0)
			close(events);
		unsetenv(PROC_EVENTS_FD_ENV);
		return r;
	}
	snprintf(text, sizeof(text), "%d", secret);
	setenv(AUTH_SECRET_FD_ENV, text, 1);
	r = spawn_daemon(argv, log, dir, &pid);
	unsetenv(PROC_EVENTS_FD_ENV);
	unsetenv(AUTH_SECRET_FD_ENV);
	close(secret);
	if (events >= 0)
		close(events);
	if (r < 0)
		return r;
	if (out)
		*out = pid;
	snprintf(text, sizeof(text), "%d\n", (int)pid);
	return write_file(pidfile, text, 0644);
}

/* Terminate pid (if it still runs name): SIGTERM, then SIGKILL. */
static void stop_process(pid_t pid, const char *name)
{
	if (!pid_is(pid, name))
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 40 && pid_is(pid, name); i++) {
		waitpid(pid, NULL, WNOHANG);
		usleep(50000);
	}
	if (pid_is(pid, name)) {
		kill(pid, SIGKILL);
		for (int i = 0; i < 40 && pid_is(pid, name); i++) {
			waitpid(pid, NULL, WNOHANG);
			usleep(50000);
		}
	}
}

static int cluster_size(void)
{
	long n;

	if (read_int_file(CLUSTER_DIR "/nodes", &n) < 0)
		return -1;
	return (int)n;
}

/* Which node directories exist, whatever the nodes file says (for a
 * half-made cluster).  Returns the highest node number + 1. */
static int scan_nodes(void)
{
	DIR *d = opendir(CLUSTER_DIR);
	struct dirent *e;
	int max = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		long n;

		if (e->d_name[0] == 'n' && parse_long(e->d_name + 1, 0, MAX_NODES, &n) == 0 &&
		    n + 1 > max)
			max = (int)n + 1;
	}
	closedir(d);
	return max;
}

static int cmd_down(int quiet)
{
	int n = cluster_size(), found = 0;
	char dir[128], path[192], link[32];

	if (n < 0)
		n = 0;
	if (scan_nodes() > n)
		n = scan_nodes();
	if (access(CLUSTER_DIR, F_OK) == 0)
		found = 1;
	if (localnet_link_exists(BRIDGE))
		found = 1;

	for (int i = 0; i < n; i++) {
		node_dir(i, dir, sizeof(dir));
		snprintf(path, sizeof(path), "%s/slave.pid", dir);
		stop_process(read_pid(path, "bpslave"), "bpslave");
	}
	stop_process(read_pid(CLUSTER_DIR "/master.pid", "bpmaster"), "bpmaster");
	/* bpmaster stops its home node's slave; one that crashed (or was
	 * killed) left it running, with its processes, for the next one. */
	stop_process(read_pid(MASTER_HOME_PIDFILE, "bpslave"), "bpslave");
	unlink(MASTER_HOME_SOCKET);
	unlink(MASTER_HOME_PIDFILE);
	rmdir(MASTER_HOME_DIR);
	for (int i = 0; i < n; i++) {
		node_dir(i, dir, sizeof(dir));
		nodens_destroy(i, dir);
		snprintf(link, sizeof(link), "bpv%d", i);
		localnet_link_delete(link);
	}
	localnet_link_delete(BRIDGE);
	if (found) {
		/* Logs and pid files go with the cluster. */
		for (int i = 0; i < n; i++) {
			node_dir(i, dir, sizeof(dir));
			snprintf(path, sizeof(path), "%s/slave.log", dir);
			unlink(path);
			snprintf(path, sizeof(path), "%s/slave.pid", dir);
			unlink(path);
			rmdir(dir);
		}
		unlink(CLUSTER_DIR "/master.log");
		unlink(CLUSTER_DIR "/master.pid");
		unlink(CLUSTER_DIR "/config");
		unlink(CLUSTER_DIR "/secret");
		unlink(CLUSTER_DIR "/master.db"); /* a new cluster starts with no settings */
		unlink(CLUSTER_DIR "/nodes");
		umount2(CLUSTER_DIR, MNT_DETACH);
		if (rmdir(CLUSTER_DIR) < 0 && errno != ENOENT)
			fprintf(stderr, "bpcluster: cannot remove " CLUSTER_DIR ": %s\n", strerror(errno));
		if (!quiet)
			printf("bpcluster: cluster of %d nodes stopped and removed\n", n);
	} else if (!quiet) {
		printf("bpcluster: no cluster is up\n");
	}
	return 0;
}

static void print_tail(const char *path)
{
	char cmd[256];

	fprintf(stderr, "--- last lines of %s:\n", path);
	snprintf(cmd, sizeof(cmd), "tail -n 15 '%s' >&2", path);
	if (system(cmd) != 0)
		fprintf(stderr, "(cannot read it)\n");
}

static int make_secret(void)
{
	unsigned char key[32];
	char text[sizeof(key) * 2 + 2];

	if (getrandom(key, sizeof(key), 0) != sizeof(key))
		return -EIO;
	for (size_t i = 0; i < sizeof(key); i++)
		snprintf(text + 2 * i, 3, "%02x", key[i]);
	strcat(text, "\n");
	return write_file(CLUSTER_DIR "/secret", text, 0600);
}

static int write_config(int n, bool encrypt)
{
	char text[1024], first[INET_ADDRSTRLEN], last[INET_ADDRSTRLEN];
	struct in_addr a = node_addr(0), b = node_addr(n - 1);

	inet_ntop(AF_INET, &a, first, sizeof(first));
	inet_ntop(AF_INET, &b, last, sizeof(last));
	snprintf(text, sizeof(text),
		 "# Written by bpcluster for a local cluster of %d nodes.\n"
		 "interface " BRIDGE "\n"
		 "bprocport 2223\n"
		 "iprange 0 %s %s\n"
		 "secretfile " CLUSTER_DIR "/secret\n"
		 "statefile " CLUSTER_DIR "/master.db\n"
		 "encrypt %s\n",
		 n, first, last, encrypt ? "yes" : "no");
	return write_file(CLUSTER_DIR "/config", text, 0644);
}

static int count_up(int *total)
{
	struct bproc_node_set_t ns;
	int up = 0;

	if (bproc_nodelist(&ns) < 0)
		return -1;
	for (int i = 0; i < ns.size; i++)
		up += strcmp(ns.node[i].status, "up") == 0;
	*total = ns.size;
	bproc_nodeset_free(&ns);
	return up;
}

static int fail_up(const char *what, int err)
{
	fprintf(stderr, "bpcluster: %s: %s\n", what, strerror(-err));
	cmd_down(1);
	return 1;
}

static int cmd_up(int n, bool encrypt)
{
	char master[PATH_MAX], dir[128], link[32], what[160];
	char *margv[] = { master, "-f", "-c", CLUSTER_DIR "/config", NULL };
	long long start = now_ms();
	struct in_addr bridge_addr;
	_cleanup_free_ pid_t *slaves = calloc((size_t)n, sizeof(pid_t));
	pid_t pid, master_pid;
	int r, up = 0, total = 0;

	char keep[PATH_MAX];

	if (!slaves)
		return fail_up("memory", -ENOMEM);
	build_root(keep, sizeof(keep));

	if (access(CLUSTER_DIR "/nodes", F_OK) == 0) {
		fprintf(stderr, "bpcluster: a cluster is already up (%d nodes); run 'bpcluster down' first\n",
			cluster_size());
		return 1;
	}
	if (access(BPROC_SOCKET, F_OK) == 0 && bproc_numnodes() >= 0) {
		fprintf(stderr, "bpcluster: a bpmaster not started by bpcluster already serves "
			BPROC_SOCKET "; stop it first\n");
		return 1;
	}
	/* Remains of a crashed run would get in the way. */
	cmd_down(1);

	if (mkdir("/run/bproc", 0755) < 0 && errno != EEXIST)
		return fail_up("/run/bproc", -errno);
	if (mkdir(CLUSTER_DIR, 0755) < 0 && errno != EEXIST)
		return fail_up(CLUSTER_DIR, -errno);
	/* A private mount, so the node's mount namespace can be pinned here. */
	if (mount(CLUSTER_DIR, CLUSTER_DIR, NULL, MS_BIND, NULL) < 0 ||
	    mount(NULL, CLUSTER_DIR, NULL, MS_PRIVATE, NULL) < 0)
		return fail_up("making " CLUSTER_DIR " a private mount", -errno);
	snprintf(what, sizeof(what), "%d\n", n);
	r = write_file(CLUSTER_DIR "/nodes", what, 0644);
	if (r < 0)
		return fail_up(CLUSTER_DIR "/nodes", r);
	r = make_secret();
	if (r < 0)
		return fail_up("the cluster secret", r);
	r = write_config(n, encrypt);
	if (r < 0)
		return fail_up("the configuration", r);

	inet_pton(AF_INET, MASTER_ADDR, &bridge_addr);
	r = localnet_bridge_up(BRIDGE, bridge_addr, SUBNET_PREFIX);
	if (r < 0)
		return fail_up("bridge " BRIDGE, r);

	daemon_path("bpmaster", master, sizeof(master));
	r = spawn_daemon(margv, CLUSTER_DIR "/master.log", NULL, &master_pid);
	if (r < 0)
		return fail_up("starting bpmaster", r);
	snprintf(what, sizeof(what), "%d\n", (int)master_pid);
	write_file(CLUSTER_DIR "/master.pid", what, 0644);

	for (int i = 0; i < n; i++) {
		int netns;

		node_dir(i, dir, sizeof(dir));
		r = nodens_create(i, dir, keep[0] ? keep : NULL);
		if (r < 0) {
			snprintf(what, sizeof(what), "namespaces of node %d", i);
			return fail_up(what, r);
		}
		netns = nodens_open(dir, "net");
		if (netns < 0)
			return fail_up("opening a node's network namespace", netns);
		snprintf(link, sizeof(link), "bpv%d", i);
		r = localnet_veth_add(link, "eth0", netns, BRIDGE);
		close(netns);
		if (r < 0) {
			snprintf(what, sizeof(what), "veth link of node %d", i);
			return fail_up(what, r);
		}
		/* The node's side is configured from inside its namespace. */
		pid = fork();
		if (pid == 0) {
			int fd = nodens_open(dir, "net");

			if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
				_exit(1);
			_exit(localnet_configure_node("eth0", node_addr(i), SUBNET_PREFIX) < 0 ? 1 : 0);
		}
		if (pid < 0 || waitpid(pid, &r, 0) < 0 || !WIFEXITED(r) || WEXITSTATUS(r) != 0) {
			snprintf(what, sizeof(what), "addressing node %d", i);
			return fail_up(what, -EIO);
		}
	}

	for (int i = 0; i < n; i++) {
		r = start_slave(i, &slaves[i]);
		if (r < 0) {
			snprintf(what, sizeof(what), "starting the slave of node %d", i);
			return fail_up(what, r);
		}
	}

	while (now_ms() - start < UP_TIMEOUT_MS) {
		up = count_up(&total);
		if (up == n)
			break;
		/* Our own children: a reaped one has died. */
		if (waitpid(master_pid, NULL, WNOHANG) == master_pid) {
			fprintf(stderr, "bpcluster: bpmaster died\n");
			print_tail(CLUSTER_DIR "/master.log");
			cmd_down(1);
			return 1;
		}
		for (int i = 0; i < n; i++) {
			char path[192];

			if (waitpid(slaves[i], NULL, WNOHANG) != slaves[i])
				continue;
			node_dir(i, dir, sizeof(dir));
			fprintf(stderr, "bpcluster: the slave of node %d died\n", i);
			snprintf(path, sizeof(path), "%s/slave.log", dir);
			print_tail(path);
			cmd_down(1);
			return 1;
		}
		usleep(20000);
	}
	if (up != n) {
		fprintf(stderr, "bpcluster: only %d of %d nodes came up in %d s\n", up < 0 ? 0 : up, n,
			UP_TIMEOUT_MS / 1000);
		print_tail(CLUSTER_DIR "/master.log");
		node_dir(0, dir, sizeof(dir));
		snprintf(what, sizeof(what), "%s/slave.log", dir);
		print_tail(what);
		cmd_down(1);
		return 1;
	}
	printf("bpcluster: %d node%s up in %.2f s (master %s, nodes %s-", n, n == 1 ? "" : "s",
	       (now_ms() - start) / 1000.0, MASTER_ADDR, inet_ntoa(node_addr(0)));
	printf("%s)\n", inet_ntoa(node_addr(n - 1)));
	return 0;
}

static int cmd_status(void)
{
	int n = cluster_size();
	char dir[128], path[192];
	struct bproc_node_set_t ns = { 0 };
	pid_t pid;

	if (n < 0) {
		printf("bpcluster: no cluster is up\n");
		return 3;
	}
	pid = read_pid(CLUSTER_DIR "/master.pid", "bpmaster");
	if (pid)
		printf("master: bpmaster pid %d, config " CLUSTER_DIR "/config, log " CLUSTER_DIR
		       "/master.log\n", (int)pid);
	else
		printf("master: bpmaster is NOT running\n");
	if (read_pid(MASTER_HOME_PIDFILE, "bpslave"))
		printf("home node: bpslave pid %d\n", (int)read_pid(MASTER_HOME_PIDFILE, "bpslave"));
	if (pid && bproc_nodelist(&ns) < 0)
		ns.size = 0;
	for (int i = 0; i < n; i++) {
		const char *state = "?";

		node_dir(i, dir, sizeof(dir));
		snprintf(path, sizeof(path), "%s/slave.pid", dir);
		pid = read_pid(path, "bpslave");
		for (int j = 0; j < ns.size; j++)
			if (ns.node[j].node == i)
				state = ns.node[j].status;
		printf("node %d: n%d %s, %s, state %s\n", i, i, inet_ntoa(node_addr(i)),
		       pid ? "bpslave running" : "bpslave NOT running", state);
	}
	bproc_nodeset_free(&ns);
	return 0;
}

static int parse_node(const char *text, int *node)
{
	int n = cluster_size();
	long v;

	if (n < 0) {
		fprintf(stderr, "bpcluster: no cluster is up\n");
		return -1;
	}
	if (parse_long(text, 0, n - 1, &v) < 0) {
		fprintf(stderr, "bpcluster: '%s' is not a node of this cluster (0-%d)\n", text, n - 1);
		return -1;
	}
	*node = (int)v;
	return 0;
}

static int cmd_exec(int node, char **argv)
{
	char dir[128];
	int status;
	pid_t pid;

	node_dir(node, dir, sizeof(dir));
	pid = fork();
	if (pid < 0) {
		perror("bpcluster: fork");
		return 1;
	}
	if (pid == 0) {
		int r = nodens_enter(dir);

		if (r < 0) {
			fprintf(stderr, "bpcluster: cannot enter node %d: %s\n", node, strerror(-r));
			_exit(127);
		}
		execvp(argv[0], argv);
		fprintf(stderr, "bpcluster: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 1;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

static int parse_signal(const char *text)
{
	static const struct { const char *name; int sig; } names[] = {
		{ "KILL", SIGKILL }, { "TERM", SIGTERM }, { "STOP", SIGSTOP },
		{ "CONT", SIGCONT }, { "INT", SIGINT },   { "HUP", SIGHUP },
	};
	long v;

	if (parse_long(text, 1, 64, &v) == 0)
		return (int)v;
	if (strncmp(text, "SIG", 3) == 0)
		text += 3;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcmp(text, names[i].name) == 0)
			return names[i].sig;
	return -1;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;
	int node;

	if (!cmd || strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
		usage(cmd ? stdout : stderr);
		return cmd ? 0 : 1;
	}
	if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
		printf("bpcluster (bproc) %s\n", BPROC_VERSION);
		return 0;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "bpcluster: must be run as root (it makes namespaces and links)\n");
		return 1;
	}
	/* The cluster's master serves the default socket; never another. */
	unsetenv(BPROC_SOCKET_ENV);
	signal(SIGPIPE, SIG_IGN);

	if (strcmp(cmd, "up") == 0) {
		long n;

		bool encrypt = argc == 4 && strcmp(argv[3], "--encrypt") == 0;

		if ((argc != 3 && !encrypt) || parse_long(argv[2], 1, MAX_NODES, &n) < 0) {
			fprintf(stderr, "bpcluster: up takes a number of nodes, 1 to %d, and maybe --encrypt\n",
				MAX_NODES);
			return 1;
		}
		return cmd_up((int)n, encrypt);
	}
	if (strcmp(cmd, "down") == 0 && argc == 2)
		return cmd_down(0);
	if (strcmp(cmd, "status") == 0 && argc == 2)
		return cmd_status();
	if (strcmp(cmd, "exec") == 0 && argc >= 4) {
		if (parse_node(argv[2], &node) < 0)
			return 1;
		return cmd_exec(node, argv + 3);
	}
	if (strcmp(cmd, "kill-slave") == 0 && (argc == 3 || argc == 4)) {
		char dir[128], path[192];
		int sig = argc == 4 ? parse_signal(argv[3]) : SIGKILL;
		pid_t pid;

		if (parse_node(argv[2], &node) < 0)
			return 1;
		if (sig < 0) {
			fprintf(stderr, "bpcluster: unknown signal '%s'\n", argv[3]);
			return 1;
		}
		node_dir(node, dir, sizeof(dir));
		snprintf(path, sizeof(path), "%s/slave.pid", dir);
		pid = read_pid(path, "bpslave");
		if (!pid) {
			fprintf(stderr, "bpcluster: the slave of node %d is not running\n", node);
			return 1;
		}
		return kill(pid, sig) < 0 ? 1 : 0;
	}
	if (strcmp(cmd, "restart-master") == 0 && argc == 2) {
		/* As a crash would: SIGKILL, then a new bpmaster on the same
		 * configuration, which takes back the ghosts it finds.  One
		 * that crashed already is only started again. */
		char master[PATH_MAX], what[32];
		char *margv[] = { master, "-f", "-c", CLUSTER_DIR "/config", NULL };
		pid_t pid = read_pid(CLUSTER_DIR "/master.pid", "bpmaster");

		if (!pid && access(CLUSTER_DIR "/config", F_OK) < 0) {
			fprintf(stderr, "bpcluster: no local cluster is up\n");
			return 1;
		}
		if (pid)
			kill(pid, SIGKILL);
		/* Until it is gone or a zombie: nobody may reap it soon (in a
		 * container, seen: 2 s), and a zombie holds no socket. */
		for (int i = 0; i < 500 && pid_is(pid, "bpmaster"); i++)
			usleep(10000);
		daemon_path("bpmaster", master, sizeof(master));
		if (spawn_daemon(margv, CLUSTER_DIR "/master.log", NULL, &pid) < 0) {
			fprintf(stderr, "bpcluster: cannot start bpmaster\n");
			return 1;
		}
		snprintf(what, sizeof(what), "%d\n", (int)pid);
		write_file(CLUSTER_DIR "/master.pid", what, 0644);
		return 0;
	}
	if (strcmp(cmd, "start-slave") == 0 && argc == 3) {
		char dir[128], path[192];
		int r;

		if (parse_node(argv[2], &node) < 0)
			return 1;
		node_dir(node, dir, sizeof(dir));
		snprintf(path, sizeof(path), "%s/slave.pid", dir);
		if (read_pid(path, "bpslave")) {
			fprintf(stderr, "bpcluster: the slave of node %d is already running\n", node);
			return 1;
		}
		r = start_slave(node, NULL);
		if (r < 0) {
			fprintf(stderr, "bpcluster: starting the slave of node %d: %s\n", node, strerror(-r));
			return 1;
		}
		return 0;
	}
	fprintf(stderr, "bpcluster: unknown command or wrong arguments: %s\n", cmd);
	usage(stderr);
	return 1;
}
