/*
 * bpsh - run a command on nodes, with its input and output here.
 *
 *   bpsh [options] NODES command [args]     NODES: 3, 1,3, 1-3, up, ...
 *   bpsh -a [options] command               every node that is up
 *   bpsh -A [options] command               every node that is not down
 *
 * One child per node; each child becomes the command with
 * bproc_execmove(), so the command is exec'd here and moved to its node
 * before it runs (the node needs nothing but bpslave).  The children's
 * stdin, stdout and stderr are pipes to bpsh, which the move path forwards;
 * bpsh copies its own input to every one and merges their output as the
 * options say.  Its
 * exit status is the largest of theirs (128 + N for one killed by signal N),
 * at least 1 if a node could not be used.  SIGINT, SIGTERM, SIGHUP and
 * SIGQUIT are passed on to every remote process (through its ghost).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bproc.h"
#include "version.h"

extern char **environ;

/* Output kept for later (-s, -g): chunks of one node, in order. */
struct chunk {
	int stream; /* 1 or 2 */
	size_t len;
	struct chunk *next;
	char data[];
};

struct job {
	int node;
	pid_t pid;        /* 0: not started (a bad node) */
	int in_fd;        /* our end of its stdin, or -1 */
	int out_fd[3];    /* our ends of its stdout [1] and stderr [2], or -1 */
	char *line[3];    /* -L: the line being gathered per stream */
	size_t line_len[3];
	struct chunk *kept, **kept_tail;
	bool ended;       /* reaped */
	int status;       /* wait status */
	double started, finished;
};

static struct {
	bool no_stdin, no_io, lines, prefix, sequential, divider, gather, timing;
	size_t bufsize;
	const char *in_file, *out_file, *err_file;
} opt = { .bufsize = 4096 };

static int current; /* -s: the job whose output goes straight out */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: bpsh [options] NODES command [args...]\n"
		"       bpsh -a [options] command [args...]\n"
		"       bpsh -A [options] command [args...]\n"
		"Run command on nodes, with its input and output here.\n"
		"NODES: a node number, a range (1-3), a state (up), or a comma list of these.\n"
		"\n"
		"  -h, --help        this text\n"
		"  -v, --version     the version\n"
		"  -a                every node that is up\n"
		"  -A                every node that is not down\n"
		"  -n                stdin from /dev/null\n"
		"  -N                no I/O forwarding (stdin, stdout, stderr are /dev/null)\n"
		"  -L                line-buffered output: lines of different nodes never mix\n"
		"  -p                prefix each line with 'NODE: ' (implies -L)\n"
		"  -s                output node by node, in node order\n"
		"  -d                a divider line before each node's output (implies -s)\n"
		"  -g                gather: nodes with identical output print it once,\n"
		"                    under the set of those nodes\n"
		"  -b BYTES          buffer size, the longest line under -L (default 4096)\n"
		"  -I, --stdin FILE  stdin from FILE on the node\n"
		"  -O, --stdout FILE stdout to FILE on the node\n"
		"  -E, --stderr FILE stderr to FILE on the node\n"
		"  -t, --time        print each node's run time and status on stderr\n");
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		fprintf(stderr, "bpsh: out of memory\n");
		exit(1);
	}
	return p;
}

static struct job *jobs;
static int njobs;
/* Our stdout [1] or stderr [2] has no reader any more (EPIPE). */
static bool stream_lost[3];

/*
 * Our stream has no reader: the remote processes learn it as they would
 * have here.  We stop reading their pipes of that stream, so their ghosts
 * find no reader either, and each node closes the process's end: its next
 * write gets EPIPE (SIGPIPE), as `yes | head` does locally.
 */
static void lose_stream(int stream)
{
	if (stream_lost[stream])
		return;
	stream_lost[stream] = true;
	for (int i = 0; i < njobs; i++)
		if (jobs[i].out_fd[stream] >= 0) {
			close(jobs[i].out_fd[stream]);
			jobs[i].out_fd[stream] = -1;
		}
}

/* All of buf out on stream (1 or 2), unless its reader is gone. */
static void write_all(int stream, const char *buf, size_t len)
{
	while (len > 0 && !stream_lost[stream]) {
		ssize_t n = write(stream, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			lose_stream(stream);
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

/* --- node lists ------------------------------------------------------- */

static struct bproc_node_set_t cluster;

static const struct bproc_node_info_t *cluster_node(long node)
{
	for (int i = 0; i < cluster.size; i++)
		if (cluster.node[i].node == node)
			return &cluster.node[i];
	return NULL;
}

static void add_node(int **list, int *n, int node)
{
	for (int i = 0; i < *n; i++)
		if ((*list)[i] == node)
			return;
	*list = realloc(*list, sizeof(**list) * (size_t)(*n + 1));
	if (!*list) {
		fprintf(stderr, "bpsh: out of memory\n");
		exit(1);
	}
	(*list)[(*n)++] = node;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/*
 * Numbers and ranges are taken as written, so a node that is not in the
 * cluster is reported by name later (and the others still run); state
 * names go through bproc_nodefilter().  0, or -1 for a malformed list.
 */
static int parse_nodes(const char *spec, int **list, int *n)
{
	char *copy = strdup(spec), *save = NULL, *item;

	if (!copy)
		return -1;
	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *end;
		long a, b;

		if (*item >= '0' && *item <= '9') {
			a = strtol(item, &end, 10);
			b = a;
			if (*end == '-')
				b = strtol(end + 1, &end, 10);
			if (*end || b < a || b > 0x7fffffff) {
				fprintf(stderr, "bpsh: '%s' is not a node or range of nodes\n", item);
				free(copy);
				return -1;
			}
			for (long x = a; x <= b; x++)
				add_node(list, n, (int)x);
		} else {
			struct bproc_node_set_t sel;

			if (bproc_nodefilter(&sel, &cluster, item) < 0) {
				fprintf(stderr, "bpsh: '%s' is not a node specification\n", item);
				free(copy);
				return -1;
			}
			for (int i = 0; i < sel.size; i++)
				add_node(list, n, sel.node[i].node);
			bproc_nodeset_free(&sel);
		}
	}
	free(copy);
	if (*n > 1) /* an empty list has no array, which qsort() refuses */
		qsort(*list, (size_t)*n, sizeof(**list), cmp_int);
	return 0;
}

/* --- output ----------------------------------------------------------- */

static void keep(struct job *j, int stream, const char *buf, size_t len)
{
	struct chunk *c = xmalloc(sizeof(*c) + len);

	c->stream = stream;
	c->len = len;
	c->next = NULL;
	memcpy(c->data, buf, len);
	*j->kept_tail = c;
	j->kept_tail = &c->next;
}

static void print_divider(int node)
{
	char line[128];
	int n = snprintf(line, sizeof(line),
			 "%d ---------------------------------------------------------------------\n",
			 node);

	write_all(1, line, (size_t)n);
}

/* One piece of output of j (a whole line under -L), on its way out. */
static void emit(struct job *j, int stream, const char *buf, size_t len)
{
	bool hold = opt.gather || (opt.sequential && j != &jobs[current]);
	char *line = NULL;

	if (opt.prefix && !opt.gather) {
		char pre[32];
		int n = snprintf(pre, sizeof(pre), "%d: ", j->node);

		/* One write per line: lines of different nodes never mix. */
		line = xmalloc((size_t)n + len);
		memcpy(line, pre, (size_t)n);
		memcpy(line + n, buf, len);
		buf = line;
		len += (size_t)n;
	}
	if (hold)
		keep(j, stream, buf, len);
	else
		write_all(stream, buf, len);
	free(line);
}

/* Bytes read from j's stream: straight out, or cut into lines. */
static void take(struct job *j, int stream, const char *buf, size_t len)
{
	if (!opt.lines) {
		emit(j, stream, buf, len);
		return;
	}
	while (len > 0) {
		const char *nl = memchr(buf, '\n', len);
		size_t part = nl ? (size_t)(nl - buf) + 1 : len;
		size_t room = opt.bufsize - j->line_len[stream];

		if (part > room)
			part = room;
		memcpy(j->line[stream] + j->line_len[stream], buf, part);
		j->line_len[stream] += part;
		buf += part;
		len -= part;
		/* A line, or a buffer full without one: out it goes, a cut
		 * line ended here (the buffer has room for that newline). */
		if (j->line[stream][j->line_len[stream] - 1] == '\n' ||
		    j->line_len[stream] == opt.bufsize) {
			if (j->line[stream][j->line_len[stream] - 1] != '\n')
				j->line[stream][j->line_len[stream]++] = '\n';
			emit(j, stream, j->line[stream], j->line_len[stream]);
			j->line_len[stream] = 0;
		}
	}
}

/* The stream ended: what is left of a last line without its newline,
 * given one, as a cut line is: the next line out, of another node or
 * stream, must not run on from it. */
static void flush_line(struct job *j, int stream)
{
	if (opt.lines && j->line_len[stream] > 0) {
		j->line[stream][j->line_len[stream]++] = '\n';
		emit(j, stream, j->line[stream], j->line_len[stream]);
		j->line_len[stream] = 0;
	}
}

static bool job_done(const struct job *j)
{
	return (j->pid == 0 || j->ended) && j->out_fd[1] < 0 && j->out_fd[2] < 0;
}

static void release_kept(struct job *j, bool print)
{
	for (struct chunk *c = j->kept, *next; c; c = next) {
		next = c->next;
		if (print)
			write_all(c->stream, c->data, c->len);
		free(c);
	}
	j->kept = NULL;
	j->kept_tail = &j->kept;
}

/* -s: the next job in node order takes the floor, with what it kept. */
static void advance_sequential(void)
{
	if (opt.gather || !opt.sequential)
		return;
	while (current < njobs && job_done(&jobs[current])) {
		current++;
		if (current < njobs && jobs[current].pid) {
			if (opt.divider)
				print_divider(jobs[current].node);
			release_kept(&jobs[current], true);
		}
	}
}

/* Node sets as text: "0-3,5". */
static void format_nodes(char *buf, size_t len, const int *nodes, int n)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < n && used < len; i++) {
		int k = i;

		while (k + 1 < n && nodes[k + 1] == nodes[k] + 1)
			k++;
		if (k > i)
			used += (size_t)snprintf(buf + used, len - used, "%s%d-%d", i ? "," : "",
						 nodes[i], nodes[k]);
		else
			used += (size_t)snprintf(buf + used, len - used, "%s%d", i ? "," : "",
						 nodes[i]);
		i = k;
	}
}

static bool same_output(const struct job *a, const struct job *b)
{
	const struct chunk *x = a->kept, *y = b->kept;

	/* Compared as one byte string per stream, whatever the chunks. */
	for (int stream = 1; stream <= 2; stream++) {
		size_t xo = 0, yo = 0;

		x = a->kept;
		y = b->kept;
		for (;;) {
			while (x && (x->stream != stream || xo == x->len)) {
				x = x->next;
				xo = 0;
			}
			while (y && (y->stream != stream || yo == y->len)) {
				y = y->next;
				yo = 0;
			}
			if (!x || !y) {
				if (x || y)
					return false;
				break;
			}
			if (x->data[xo++] != y->data[yo++])
				return false;
		}
	}
	return true;
}

/* -g: each distinct output once, under the nodes that printed it. */
static void print_gathered(void)
{
	bool *shown = calloc((size_t)njobs, sizeof(*shown));
	int *nodes = xmalloc(sizeof(*nodes) * (size_t)njobs);
	char set[4096], head[4200];

	if (!shown)
		exit(1);
	for (int i = 0; i < njobs; i++) {
		int n = 0, len;

		if (shown[i] || !jobs[i].pid)
			continue;
		for (int k = i; k < njobs; k++)
			if (!shown[k] && jobs[k].pid && same_output(&jobs[i], &jobs[k])) {
				shown[k] = true;
				nodes[n++] = jobs[k].node;
			}
		format_nodes(set, sizeof(set), nodes, n);
		len = snprintf(head, sizeof(head),
			       "---------------\n%s (%d)\n---------------\n", set, n);
		write_all(1, head, (size_t)len);
		release_kept(&jobs[i], true);
	}
	for (int i = 0; i < njobs; i++)
		release_kept(&jobs[i], false);
	free(shown);
	free(nodes);
}

/* --- starting the children -------------------------------------------- */

/* Where the command is, as execvp() would find it. */
static char *find_command(const char *cmd)
{
	const char *path = getenv("PATH");
	char *dirs, *save = NULL;

	if (strchr(cmd, '/'))
		return strdup(cmd);
	dirs = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char *full = xmalloc(strlen(d) + strlen(cmd) + 2);
		struct stat st;

		sprintf(full, "%s/%s", d, cmd);
		if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0) {
			free(dirs);
			return full;
		}
		free(full);
	}
	free(dirs);
	return NULL;
}

static void child_fail(int node, const char *what)
{
	int err = errno;

	dprintf(2, "bpsh: node %d: %s: %s\n", node, what,
		bproc_errmsg() ? bproc_errmsg() : bproc_strerror(err));
	_exit(127);
}

/* Open file on the node as fd (-I, -O, -E), once the child is there. */
static void open_on_node(int node, const char *file, int fd, int flags)
{
	int f = open(file, flags | O_CLOEXEC, 0666);

	if (f < 0) {
		dprintf(2, "bpsh: node %d: %s: %s\n", node, file, strerror(errno));
		_exit(127);
	}
	if (dup2(f, fd) < 0)
		_exit(127);
	close(f);
}

/* The pipes of a job: ours in j, the child's ends in child[0..2]
 * (/dev/null where there is none).  false on failure, said. */
static bool make_pipes(struct job *j, int null, int child[3])
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };

	if (!opt.no_io && ((!opt.no_stdin && !opt.in_file && pipe2(in, O_CLOEXEC) < 0) ||
			   pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)) {
		fprintf(stderr, "bpsh: node %d: pipe: %s\n", j->node, strerror(errno));
		for (int *p = (int[]){ in[0], in[1], out[0], out[1], err[0], err[1] }, k = 0; k < 6; k++)
			if (p[k] >= 0)
				close(p[k]);
		return false;
	}
	child[0] = in[0] >= 0 ? in[0] : null;
	child[1] = out[1] >= 0 ? out[1] : null;
	child[2] = err[1] >= 0 ? err[1] : null;
	j->in_fd = in[1];
	j->out_fd[1] = out[0];
	j->out_fd[2] = err[0];
	return true;
}

/* In the child: its streams on 0-2, bpsh's signal set-up undone. */
static void child_streams(const int child[3], const sigset_t *mask)
{
	sigprocmask(SIG_SETMASK, mask, NULL);
	signal(SIGPIPE, SIG_DFL);
	for (int fd = 0; fd < 3; fd++)
		dup2(child[fd], fd);
}

/* In bpsh, once the child runs: its ends are its own. */
static void child_started(struct job *j, const int child[3], int null)
{
	for (int k = 0; k < 3; k++)
		if (child[k] != null && child[k] >= 0)
			close(child[k]);
	j->started = now();
	if (opt.lines)
		for (int s = 1; s <= 2; s++)
			j->line[s] = xmalloc(opt.bufsize + 1);
}

static void start_child(struct job *j, const char *path, char **argv, const sigset_t *mask,
			int null)
{
	int child[3];

	if (!make_pipes(j, null, child))
		return;
	j->pid = fork();
	if (j->pid < 0) {
		fprintf(stderr, "bpsh: node %d: fork: %s\n", j->node, strerror(errno));
		j->pid = 0;
		return;
	}
	if (j->pid == 0) {
		child_streams(child, mask);
		/* The child moves before it execs: what it holds beyond 0-2
		 * (other nodes' pipes, our terminal) must stay here.  Its
		 * errors go to its stderr, which bpsh shows. */
		syscall(SYS_close_range, 3, ~0U, 0);
		if (opt.in_file || opt.out_file || opt.err_file) {
			/* Files on the node: get there first, open them there. */
			if (bproc_move(j->node) < 0)
				child_fail(j->node, "cannot move there");
			if (opt.in_file)
				open_on_node(j->node, opt.in_file, 0, O_RDONLY);
			if (opt.out_file)
				open_on_node(j->node, opt.out_file, 1, O_WRONLY | O_CREAT | O_TRUNC);
			if (opt.err_file)
				open_on_node(j->node, opt.err_file, 2, O_WRONLY | O_CREAT | O_TRUNC);
			execve(path, argv, environ);
			child_fail(j->node, path);
		}
		bproc_execmove(j->node, path, argv, environ);
		child_fail(j->node, path);
	}
	child_started(j, child, null);
}

/*
 * Many nodes, no files to open there: one launch (bproc_vexecmove_setup),
 * one dump for all the nodes.  The jobs in list; false if it could not
 * start (nothing started: the caller starts them one by one).
 */
struct launch {
	struct job **list;
	int (*child)[3];
	const sigset_t *mask;
};

static void launch_setup(int index, void *arg)
{
	const struct launch *l = arg;

	child_streams(l->child[index], l->mask);
}

static bool start_together(struct job **list, int n, const char *path, char **argv,
			   const sigset_t *mask, int null)
{
	int (*child)[3] = calloc((size_t)n, sizeof(*child));
	int *nodes = calloc((size_t)n, sizeof(*nodes)), *pids = calloc((size_t)n, sizeof(*pids));
	struct launch l = { list, child, mask };
	int made = 0, r = -1;

	if (child && nodes && pids)
		for (made = 0; made < n && make_pipes(list[made], null, child[made]); made++)
			nodes[made] = list[made]->node;
	if (made == n)
		r = bproc_vexecmove_setup(n, nodes, pids, launch_setup, &l, NULL, 0, path, argv,
					  environ);
	for (int i = 0; i < made; i++) {
		if (r == n) {
			list[i]->pid = pids[i];
			child_started(list[i], child[i], null);
			continue;
		}
		for (int k = 0; k < 3; k++)
			if (child[i][k] != null)
				close(child[i][k]);
		for (int *p = (int[]){ list[i]->in_fd, list[i]->out_fd[1], list[i]->out_fd[2] }, k = 0;
		     k < 3; k++)
			if (p[k] >= 0)
				close(p[k]);
		list[i]->in_fd = list[i]->out_fd[1] = list[i]->out_fd[2] = -1;
	}
	free(child);
	free(nodes);
	free(pids);
	return r == n;
}

/* --- the loop --------------------------------------------------------- */

static void close_inputs(void)
{
	for (int i = 0; i < njobs; i++)
		if (jobs[i].in_fd >= 0) {
			close(jobs[i].in_fd);
			jobs[i].in_fd = -1;
		}
}

/* Our stdin went to every remote process. */
static bool forward_stdin(void)
{
	char buf[65536];
	ssize_t n = read(0, buf, sizeof(buf));
	bool any = false;

	if (n < 0 && errno == EINTR)
		return true;
	if (n <= 0) {
		close_inputs();
		return false;
	}
	for (int i = 0; i < njobs; i++) {
		struct job *j = &jobs[i];
		const char *p = buf;
		size_t left = (size_t)n;

		while (j->in_fd >= 0 && left > 0) {
			ssize_t w = write(j->in_fd, p, left);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				/* It ended, or closed its stdin: no more for it. */
				close(j->in_fd);
				j->in_fd = -1;
				break;
			}
			p += w;
			left -= (size_t)w;
		}
		any |= j->in_fd >= 0;
	}
	return any;
}

static void reap(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (int i = 0; i < njobs; i++)
			if (jobs[i].pid == pid) {
				jobs[i].ended = true;
				jobs[i].status = status;
				jobs[i].finished = now();
				if (jobs[i].in_fd >= 0) {
					close(jobs[i].in_fd);
					jobs[i].in_fd = -1;
				}
			}
}

static void pass_signal(int sig)
{
	for (int i = 0; i < njobs; i++)
		if (jobs[i].pid > 0 && !jobs[i].ended)
			kill(jobs[i].pid, sig);
}

static void run_loop(int sfd)
{
	bool stdin_open = !opt.no_stdin && !opt.no_io && !opt.in_file;
	struct pollfd *pfd = xmalloc(sizeof(*pfd) * (size_t)(2 * njobs + 2));
	char *buf = xmalloc(65536);

	for (;;) {
		int n = 0;
		bool all_done = true;

		for (int i = 0; i < njobs; i++)
			all_done &= job_done(&jobs[i]);
		if (all_done)
			break;
		pfd[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		if (stdin_open)
			pfd[n++] = (struct pollfd){ .fd = 0, .events = POLLIN };
		for (int i = 0; i < njobs; i++)
			for (int s = 1; s <= 2; s++)
				if (jobs[i].out_fd[s] >= 0)
					pfd[n++] = (struct pollfd){ .fd = jobs[i].out_fd[s],
								    .events = POLLIN };
		if (poll(pfd, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("bpsh: poll");
			exit(1);
		}
		for (int k = 0; k < n; k++) {
			if (!pfd[k].revents)
				continue;
			if (pfd[k].fd == sfd) {
				struct signalfd_siginfo si;

				while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGCHLD)
						reap();
					else if (si.ssi_code != SI_KERNEL)
						/* From the terminal (SI_KERNEL) it
						 * reached the ghosts already: they
						 * are in our process group. */
						pass_signal((int)si.ssi_signo);
				}
				continue;
			}
			if (stdin_open && pfd[k].fd == 0) {
				stdin_open = forward_stdin();
				continue;
			}
			for (int i = 0; i < njobs; i++)
				for (int s = 1; s <= 2; s++) {
					struct job *j = &jobs[i];
					ssize_t got;

					if (j->out_fd[s] != pfd[k].fd)
						continue;
					got = read(j->out_fd[s], buf, 65536);
					if (got < 0 && errno == EINTR)
						continue;
					if (got > 0) {
						take(j, s, buf, (size_t)got);
						continue;
					}
					flush_line(j, s);
					close(j->out_fd[s]);
					j->out_fd[s] = -1;
				}
		}
		reap();
		advance_sequential();
	}
	free(pfd);
	free(buf);
}

static int *nodes;
static char *path;

/* Everything is freed on the way out, early or not, so that leak checkers
 * see real leaks only. */
static void free_all(void)
{
	for (int i = 0; jobs && i < njobs; i++) {
		for (int st = 1; st <= 2; st++)
			free(jobs[i].line[st]);
		release_kept(&jobs[i], false);
	}
	free(jobs);
	free(nodes);
	free(path);
	bproc_nodeset_free(&cluster);
}

int main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "help", no_argument, NULL, 'h' },     { "version", no_argument, NULL, 'v' },
		{ "stdin", required_argument, NULL, 'I' }, { "stdout", required_argument, NULL, 'O' },
		{ "stderr", required_argument, NULL, 'E' }, { "time", no_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	int all = 0, c, nnodes = 0, worst = 0, sfd, null, ntogether = 0;
	struct job **together;
	sigset_t mask, old;

	atexit(free_all);

	/* "+": options end at the node list or the command. */
	while ((c = getopt_long(argc, argv, "+hvaAnNLpsdgb:I:O:E:t", long_options, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 'v':
			printf("bpsh (bproc) %s\n", BPROC_VERSION);
			return 0;
		case 'a':
		case 'A':
			all = c;
			break;
		case 'n':
			opt.no_stdin = true;
			break;
		case 'N':
			opt.no_io = true;
			break;
		case 'L':
			opt.lines = true;
			break;
		case 'p':
			opt.prefix = opt.lines = true;
			break;
		case 's':
			opt.sequential = true;
			break;
		case 'd':
			opt.divider = opt.sequential = true;
			break;
		case 'g':
			opt.gather = true;
			break;
		case 'b': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || v < 1 || v > (1L << 24)) {
				fprintf(stderr, "bpsh: -b %s: not a buffer size (1 to 16777216)\n",
					optarg);
				return 1;
			}
			opt.bufsize = (size_t)v;
			break;
		}
		case 'I':
			opt.in_file = optarg;
			break;
		case 'O':
			opt.out_file = optarg;
			break;
		case 'E':
			opt.err_file = optarg;
			break;
		case 't':
			opt.timing = true;
			break;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind + (all ? 1 : 2) > argc) {
		usage(stderr);
		return 1;
	}
	if (bproc_nodelist(&cluster) < 0) {
		fprintf(stderr, "bpsh: %s\n", bproc_strerror(errno));
		return 1;
	}
	if (all) {
		for (int i = 0; i < cluster.size; i++) {
			int st = bproc_state_parse(cluster.node[i].status);

			if (all == 'a' ? st == BPROC_NODE_UP : st != BPROC_NODE_DOWN)
				add_node(&nodes, &nnodes, cluster.node[i].node);
		}
		if (nnodes > 1)
			qsort(nodes, (size_t)nnodes, sizeof(*nodes), cmp_int);
	} else if (parse_nodes(argv[optind++], &nodes, &nnodes) < 0) {
		return 1;
	}
	if (nnodes == 0) {
		fprintf(stderr, "bpsh: no node to run on\n");
		return 1;
	}
	path = find_command(argv[optind]);
	if (!path) {
		fprintf(stderr, "bpsh: %s: command not found\n", argv[optind]);
		return 127;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	/* Ours to pass on, even if we were started with them ignored (a
	 * background job of a script); SIGHUP stays ignored under nohup. */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	sigprocmask(SIG_BLOCK, &mask, &old);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	signal(SIGPIPE, SIG_IGN);

	jobs = calloc((size_t)nnodes, sizeof(*jobs));
	if (!jobs || sfd < 0) {
		fprintf(stderr, "bpsh: cannot start: %s\n", strerror(errno));
		return 1;
	}
	njobs = nnodes;
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	together = calloc((size_t)nnodes, sizeof(*together));
	for (int i = 0; i < njobs; i++) {
		struct job *j = &jobs[i];
		const struct bproc_node_info_t *info = cluster_node(nodes[i]);

		j->node = nodes[i];
		j->in_fd = j->out_fd[0] = j->out_fd[1] = j->out_fd[2] = -1;
		j->kept_tail = &j->kept;
		if (!info) {
			fprintf(stderr, "bpsh: node %d: no such node\n", nodes[i]);
			worst = 1;
			continue;
		}
		if (bproc_state_parse(info->status) != BPROC_NODE_UP) {
			fprintf(stderr, "bpsh: node %d is %s\n", nodes[i], info->status);
			worst = 1;
			continue;
		}
		if (together) {
			together[ntogether++] = j;
			continue;
		}
		start_child(j, path, argv + optind, &old, null);
		if (!j->pid)
			worst = 1;
	}
	/* One node, or files to open on each: one move per node. */
	if (ntogether > 0 && (ntogether == 1 || opt.in_file || opt.out_file || opt.err_file ||
			      !start_together(together, ntogether, path, argv + optind, &old, null)))
		for (int i = 0; i < ntogether; i++)
			start_child(together[i], path, argv + optind, &old, null);
	for (int i = 0; i < ntogether; i++)
		if (!together[i]->pid)
			worst = 1;
	free(together);
	if (null >= 0)
		close(null);
	current = 0;
	if (opt.sequential && !opt.gather) {
		while (current < njobs && !jobs[current].pid)
			current++;
		if (current < njobs && opt.divider)
			print_divider(jobs[current].node);
	}
	run_loop(sfd);
	if (opt.gather)
		print_gathered();
	for (int i = 0; i < njobs; i++) {
		struct job *j = &jobs[i];
		int code;

		if (!j->pid)
			continue;
		code = WIFSIGNALED(j->status) ? 128 + WTERMSIG(j->status) : WEXITSTATUS(j->status);
		if (code > worst)
			worst = code;
		if (opt.timing) {
			if (WIFSIGNALED(j->status))
				fprintf(stderr, "bpsh: node %d: %.3f s, killed by signal %d\n", j->node,
					j->finished - j->started, WTERMSIG(j->status));
			else
				fprintf(stderr, "bpsh: node %d: %.3f s, exit %d\n", j->node,
					j->finished - j->started, WEXITSTATUS(j->status));
		}
	}
	close(sfd);
	return worst;
}
