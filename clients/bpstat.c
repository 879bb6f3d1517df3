/*
 * bpstat - show the nodes of a bproc cluster, as BProc's bpstat did.
 *
 *   bpstat                compact: runs of nodes with equal state, mode,
 *                         owner and group on one line ("0-3 up ---x--x--x
 *                         root root")
 *   bpstat -l             one line per node, with its address
 *   bpstat -a|-s|-n NODES the address / state / number of each node
 *   bpstat -t [NODES]     how many nodes
 *   bpstat -p             which node each remote process runs on
 *   bpstat -U             keep the display current
 *
 * Everything comes from libbproc; this file only formats.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bproc.h"
#include "version.h"

enum sort_key { SORT_NUMBER, SORT_STATUS, SORT_OWNER, SORT_GROUP };
enum show { SHOW_COMPACT, SHOW_LONG, SHOW_ADDRESS, SHOW_STATUS, SHOW_NUMBER, SHOW_TOTAL, SHOW_PROCS };

struct options {
	enum show show;
	enum sort_key sort;
	int reverse;
	int numeric;
	int update;
	const char *spec;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: bpstat [options] [NODES]\n"
		"Show the state of the nodes of a bproc cluster.\n"
		"\n"
		"  -c, --compact        runs of like nodes on one line (the default)\n"
		"  -l, --long           one line per node, with its address\n"
		"  -a, --address        the address of each node\n"
		"  -s, --status         the state of each node\n"
		"  -n, --number         the number of each node\n"
		"  -t, --total          how many nodes there are (or match NODES)\n"
		"  -p, --proc           the node of every remote process (PID, Node)\n"
		"  -P                   read ps output on stdin, prefix each line with the node\n"
		"                       its process runs on (blank: the master), e.g. ps xf | bpstat -P\n"
		"  -N, --sort-number    sort by node number (the default)\n"
		"  -S, --sort-status    sort by state\n"
		"  -O, --sort-owner     sort by owner\n"
		"  -G, --sort-group     sort by group\n"
		"  -R, --sort-reverse   reverse the order\n"
		"  -M, --numeric        user and group as numbers\n"
		"  -U, --update         redraw every second until interrupted\n"
		"  -h, --help           this text\n"
		"  -V, --version        the version\n"
		"\n"
		"NODES: 4, 5-8, 1,3, all, allup, alldown, or a state (up, down, error,\n"
		"unavailable, boot), and comma-separated combinations.\n");
}

static void mode_string(unsigned int mode, char out[11])
{
	static const char rwx[] = "rwxrwxrwx";

	out[0] = '-';
	for (int i = 0; i < 9; i++)
		out[i + 1] = (mode & (0400 >> i)) ? rwx[i] : '-';
	out[10] = '\0';
}

static const char *user_name(unsigned int uid, int numeric, char *buf, size_t len)
{
	struct passwd *pw = numeric ? NULL : getpwuid(uid);

	if (pw)
		return pw->pw_name;
	snprintf(buf, len, "%u", uid);
	return buf;
}

static const char *group_name(unsigned int gid, int numeric, char *buf, size_t len)
{
	struct group *gr = numeric ? NULL : getgrgid(gid);

	if (gr)
		return gr->gr_name;
	snprintf(buf, len, "%u", gid);
	return buf;
}

static struct options opts;

static int compare(const void *a, const void *b)
{
	const struct bproc_node_info_t *x = a, *y = b;
	int c = 0;

	switch (opts.sort) {
	case SORT_STATUS:
		c = strcmp(x->status, y->status);
		break;
	case SORT_OWNER:
		c = (x->user > y->user) - (x->user < y->user);
		break;
	case SORT_GROUP:
		c = (x->group > y->group) - (x->group < y->group);
		break;
	case SORT_NUMBER:
		break;
	}
	if (c == 0)
		c = (x->node > y->node) - (x->node < y->node);
	return opts.reverse ? -c : c;
}

static int same_kind(const struct bproc_node_info_t *a, const struct bproc_node_info_t *b)
{
	return strcmp(a->status, b->status) == 0 && a->mode == b->mode && a->user == b->user &&
	       a->group == b->group;
}

static void print_compact(const struct bproc_node_set_t *ns)
{
	printf("%-24s %-12s %-10s %-10s %s\n", "Node(s)", "Status", "Mode", "User", "Group");
	for (int i = 0; i < ns->size;) {
		const struct bproc_node_info_t *first = &ns->node[i];
		char range[32], mode[11], ubuf[16], gbuf[16];
		int j = i + 1;

		/* A run is consecutive node numbers (in the order shown) of one kind. */
		while (j < ns->size && same_kind(first, &ns->node[j]) &&
		       ns->node[j].node == ns->node[j - 1].node + (opts.reverse ? -1 : 1))
			j++;
		if (j - i == 1)
			snprintf(range, sizeof(range), "%d", first->node);
		else
			snprintf(range, sizeof(range), "%d-%d", first->node, ns->node[j - 1].node);
		mode_string(first->mode, mode);
		printf("%-24s %-12s %-10s %-10s %s\n", range, first->status, mode,
		       user_name(first->user, opts.numeric, ubuf, sizeof(ubuf)),
		       group_name(first->group, opts.numeric, gbuf, sizeof(gbuf)));
		i = j;
	}
}

static void print_long(const struct bproc_node_set_t *ns)
{
	printf("%-6s %-16s %-12s %-10s %-10s %-10s %s\n", "Node", "Address", "Status", "Mode",
	       "User", "Group", "Procs");
	for (int i = 0; i < ns->size; i++) {
		const struct bproc_node_info_t *n = &ns->node[i];
		char mode[11], ubuf[16], gbuf[16];

		mode_string(n->mode, mode);
		printf("%-6d %-16s %-12s %-10s %-10s %-10s %u\n", n->node, n->addr[0] ? n->addr : "-",
		       n->status, mode, user_name(n->user, opts.numeric, ubuf, sizeof(ubuf)),
		       group_name(n->group, opts.numeric, gbuf, sizeof(gbuf)), n->nprocs);
	}
}

static int print_procs(void)
{
	struct bproc_proc_info_t *list;
	int n = bproc_proclist(BPROC_NODE_ANY, &list);

	if (n < 0) {
		fprintf(stderr, "bpstat: %s\n", bproc_errmsg() ? bproc_errmsg() : bproc_strerror(errno));
		return 1;
	}
	printf("PID\tNode\n");
	for (int i = 0; i < n; i++)
		printf("%d\t%d\n", list[i].pid, list[i].node);
	free(list);
	return 0;
}

/*
 * -P: read ps output on stdin and print each line with the node its
 * process runs on in front ("" for the master's own).  The PID column is
 * found by its header, so any ps format with a PID column works.
 */
static int annotate_ps(void)
{
	struct bproc_proc_info_t *procs;
	char line[8192];
	int n, column = -1, first = 1;

	/* ps shows this machine's pids: leave out those of other nodes' own. */
	n = bproc_proclist_here(BPROC_NODE_ANY, &procs);
	if (n < 0) {
		fprintf(stderr, "bpstat: %s\n", bproc_errmsg() ? bproc_errmsg() : bproc_strerror(errno));
		return 1;
	}
	int continued = 0;

	while (fgets(line, sizeof(line), stdin)) {
		char copy[sizeof(line)], *save = NULL, *word;
		int index = 0, node = BPROC_NODE_NONE;
		long pid = -1;

		/* The rest of a line longer than our buffer: as it is. */
		if (continued) {
			continued = !strchr(line, '\n');
			fputs(line, stdout);
			continue;
		}
		continued = !strchr(line, '\n');

		snprintf(copy, sizeof(copy), "%s", line);
		for (word = strtok_r(copy, " \t\n", &save); word; word = strtok_r(NULL, " \t\n", &save), index++) {
			if (first && strcmp(word, "PID") == 0)
				column = index;
			if (!first && index == column) {
				char *end;

				pid = strtol(word, &end, 10);
				if (*end)
					pid = -1;
			}
		}
		if (first) {
			if (column < 0) {
				fprintf(stderr, "bpstat: -P: no PID column in the first line of the input\n");
				free(procs);
				return 1;
			}
			printf("%-5s %s", "NODE", line);
			first = 0;
			continue;
		}
		for (int i = 0; i < n && pid > 0; i++)
			if (procs[i].pid == pid)
				node = procs[i].node;
		/* -1: a ghost whose process runs in the master's home node. */
		if (node >= 0 || node == BPROC_NODE_MASTER)
			printf("%-5d %s", node, line);
		else
			printf("%-5s %s", "", line);
	}
	free(procs);
	return 0;
}

static int get_nodes(struct bproc_node_set_t *ns)
{
	int r = bproc_nodespec(ns, opts.spec);

	if (r < 0) {
		int err = errno;

		if (err == EINVAL)
			fprintf(stderr, "bpstat: invalid node specification '%s'\n", opts.spec);
		else if (err == BE_INVALIDNODE)
			fprintf(stderr, "bpstat: '%s' names a node that does not exist\n", opts.spec);
		else if (err == ERANGE)
			fprintf(stderr, "bpstat: node number out of range in '%s'\n", opts.spec);
		else
			fprintf(stderr, "bpstat: %s\n",
				bproc_errmsg() ? bproc_errmsg() : bproc_strerror(err));
		return -1;
	}
	if (ns->size > 1) /* an empty set has no array, which qsort() refuses */
		qsort(ns->node, (size_t)ns->size, sizeof(*ns->node), compare);
	return 0;
}

static int show_once(void)
{
	struct bproc_node_set_t ns;

	if (get_nodes(&ns) < 0)
		return 1;
	switch (opts.show) {
	case SHOW_COMPACT:
		print_compact(&ns);
		break;
	case SHOW_LONG:
		print_long(&ns);
		break;
	case SHOW_ADDRESS:
		for (int i = 0; i < ns.size; i++)
			printf("%s\n", ns.node[i].addr[0] ? ns.node[i].addr : "-");
		break;
	case SHOW_STATUS:
		for (int i = 0; i < ns.size; i++)
			printf("%s\n", ns.node[i].status);
		break;
	case SHOW_NUMBER:
		for (int i = 0; i < ns.size; i++)
			printf("%d\n", ns.node[i].node);
		break;
	case SHOW_TOTAL:
		printf("%d\n", ns.size);
		break;
	case SHOW_PROCS:
		break;
	}
	bproc_nodeset_free(&ns);
	return 0;
}

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	interrupted = sig;
}

/* -U: redraw every second; on a terminal clear the screen first. */
static int update_loop(void)
{
	int tty = isatty(STDOUT_FILENO);

	signal(SIGINT, on_interrupt);
	signal(SIGTERM, on_interrupt);
	while (!interrupted) {
		int r;

		if (tty)
			printf("\033[H\033[2J");
		r = opts.show == SHOW_PROCS ? print_procs() : show_once();
		if (r)
			return r;
		if (!tty)
			printf("\n");
		fflush(stdout);
		sleep(1);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "compact", no_argument, NULL, 'c' },  { "long", no_argument, NULL, 'l' },
		{ "address", no_argument, NULL, 'a' },  { "status", no_argument, NULL, 's' },
		{ "number", no_argument, NULL, 'n' },   { "total", no_argument, NULL, 't' },
		{ "proc", no_argument, NULL, 'p' },     { "sort-number", no_argument, NULL, 'N' },
		{ "sort-status", no_argument, NULL, 'S' }, { "sort-owner", no_argument, NULL, 'O' },
		{ "sort-group", no_argument, NULL, 'G' }, { "sort-reverse", no_argument, NULL, 'R' },
		{ "numeric", no_argument, NULL, 'M' },  { "update", no_argument, NULL, 'U' },
		{ "help", no_argument, NULL, 'h' },     { "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opts.spec = "all";
	while ((c = getopt_long(argc, argv, "clasntpPNSOGRMUhV", long_options, NULL)) != -1) {
		switch (c) {
		case 'c': opts.show = SHOW_COMPACT; break;
		case 'l': opts.show = SHOW_LONG; break;
		case 'a': opts.show = SHOW_ADDRESS; break;
		case 's': opts.show = SHOW_STATUS; break;
		case 'n': opts.show = SHOW_NUMBER; break;
		case 't': opts.show = SHOW_TOTAL; break;
		case 'p': opts.show = SHOW_PROCS; break;
		case 'P':
			return annotate_ps();
		case 'N': opts.sort = SORT_NUMBER; break;
		case 'S': opts.sort = SORT_STATUS; break;
		case 'O': opts.sort = SORT_OWNER; break;
		case 'G': opts.sort = SORT_GROUP; break;
		case 'R': opts.reverse = 1; break;
		case 'M': opts.numeric = 1; break;
		case 'U': opts.update = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("bpstat (bproc) %s\n", BPROC_VERSION); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind < argc - 1) {
		fprintf(stderr, "bpstat: give one node specification (e.g. 1,3,5-8), not %d\n",
			argc - optind);
		return 1;
	}
	if (optind < argc) {
		if (opts.show == SHOW_PROCS) {
			fprintf(stderr, "bpstat: -p takes no node specification\n");
			return 1;
		}
		opts.spec = argv[optind];
	}
	if (opts.update)
		return update_loop();
	if (opts.show == SHOW_PROCS)
		return print_procs();
	return show_once();
}
