/*
 * bpctl - change nodes of a bproc cluster, as BProc's bpctl did.
 *
 *   bpctl -S NODES -s STATE     up, unavailable, error; reboot, halt, pwroff
 *   bpctl -S NODES -m MODE      who may run there (octal; the execute bits,
 *                               0111, are what count, like on a file)
 *   bpctl -S NODES -u USER -g GROUP
 *
 * Only root may change nodes; the master checks, this program only asks.
 * Every node is checked before anything is changed (the master does the
 * same), so a typo in NODES changes nothing.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bproc.h"
#include "version.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: bpctl -S NODES [options]\n"
		"Change the state, mode, owner or group of nodes (root only).\n"
		"\n"
		"  -S, --slave NODES    the nodes to change: 4, 5-8, 1,3, all, allup, ...\n"
		"  -s, --state STATE    up, unavailable, error, reboot, halt or pwroff\n"
		"  -m, --mode MODE      octal permission bits (only 0111 count, as in BProc)\n"
		"  -u, --user USER      owner, a name or a number\n"
		"  -g, --group GROUP    group, a name or a number\n"
		"      --reboot         same as -s reboot\n"
		"      --halt           same as -s halt\n"
		"      --pwroff         same as -s pwroff\n"
		"  -h, --help           this text\n"
		"  -V, --version        the version\n");
}

static int parse_id(const char *s, int is_group, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s && !*end && errno == 0 && v < 0xffffffffUL) {
		*out = (unsigned int)v;
		return 0;
	}
	if (is_group) {
		struct group *gr = getgrnam(s);

		if (!gr)
			return -1;
		*out = gr->gr_gid;
	} else {
		struct passwd *pw = getpwnam(s);

		if (!pw)
			return -1;
		*out = pw->pw_uid;
	}
	return 0;
}

/* Say why a change of node failed; returns the error. */
static int report(int node, const char *what)
{
	int err = errno;
	const char *detail = bproc_errmsg();

	if (detail)
		fprintf(stderr, "bpctl: node %d: %s: %s (%s)\n", node, what, bproc_strerror(err),
			detail);
	else
		fprintf(stderr, "bpctl: node %d: %s: %s\n", node, what, bproc_strerror(err));
	return err;
}

int main(int argc, char **argv)
{
	enum { OPT_REBOOT = 256, OPT_HALT, OPT_PWROFF };
	static const struct option long_options[] = {
		{ "slave", required_argument, NULL, 'S' }, { "state", required_argument, NULL, 's' },
		{ "mode", required_argument, NULL, 'm' },  { "user", required_argument, NULL, 'u' },
		{ "group", required_argument, NULL, 'g' }, { "reboot", no_argument, NULL, OPT_REBOOT },
		{ "halt", no_argument, NULL, OPT_HALT },   { "pwroff", no_argument, NULL, OPT_PWROFF },
		{ "help", no_argument, NULL, 'h' },        { "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *spec = NULL, *state = NULL;
	int set_mode = 0, set_user = 0, set_group = 0, failed = 0;
	unsigned int mode = 0, user = 0, group = 0;
	struct bproc_node_set_t ns;
	int c;

	while ((c = getopt_long(argc, argv, "S:s:m:u:g:MhV", long_options, NULL)) != -1) {
		switch (c) {
		case 'S':
			spec = optarg;
			break;
		case 's':
			state = optarg;
			break;
		case OPT_REBOOT:
			state = "reboot";
			break;
		case OPT_HALT:
			state = "halt";
			break;
		case OPT_PWROFF:
			state = "pwroff";
			break;
		case 'm': {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 8);
			if (!*optarg || *end || errno || v > 0777) {
				fprintf(stderr, "bpctl: invalid mode '%s' (octal, e.g. 0111 or 0110)\n",
					optarg);
				return 1;
			}
			if (v & ~0111UL)
				fprintf(stderr, "bpctl: note: only the execute bits of mode %03lo count (%03lo)\n",
					v, v & 0111UL);
			mode = (unsigned int)v;
			set_mode = 1;
			break;
		}
		case 'u':
			if (parse_id(optarg, 0, &user) < 0) {
				fprintf(stderr, "bpctl: no such user '%s'\n", optarg);
				return 1;
			}
			set_user = 1;
			break;
		case 'g':
			if (parse_id(optarg, 1, &group) < 0) {
				fprintf(stderr, "bpctl: no such group '%s'\n", optarg);
				return 1;
			}
			set_group = 1;
			break;
		case 'M':
			fprintf(stderr, "bpctl: the master has no state to change; use -S NODES\n");
			return 1;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("bpctl (bproc) %s\n", BPROC_VERSION);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "bpctl: unexpected argument '%s'\n", argv[optind]);
		return 1;
	}
	if (!spec) {
		fprintf(stderr, "bpctl: which nodes? give -S NODES\n");
		usage(stderr);
		return 1;
	}
	if (!state && !set_mode && !set_user && !set_group) {
		fprintf(stderr, "bpctl: nothing to change: give -s, -m, -u or -g\n");
		return 1;
	}
	if (state && bproc_state_parse(state) < 0) {
		fprintf(stderr, "bpctl: unknown state '%s' (up, unavailable, error, reboot, halt, pwroff)\n",
			state);
		return 1;
	}
	if (bproc_nodespec(&ns, spec) < 0) {
		int err = errno;

		if (err == EINVAL)
			fprintf(stderr, "bpctl: invalid node specification '%s'\n", spec);
		else if (err == BE_INVALIDNODE)
			fprintf(stderr, "bpctl: '%s' names a node that does not exist\n", spec);
		else
			fprintf(stderr, "bpctl: %s\n", bproc_errmsg() ? bproc_errmsg() : bproc_strerror(err));
		return 1;
	}
	if (ns.size == 0) {
		fprintf(stderr, "bpctl: no node matches '%s'\n", spec);
		bproc_nodeset_free(&ns);
		return 1;
	}
	for (int i = 0; i < ns.size; i++) {
		int node = ns.node[i].node, err = 0;

		if (set_mode && bproc_chmod(node, mode) < 0)
			err = report(node, "mode");
		if (!err && set_user && bproc_chown(node, user) < 0)
			err = report(node, "user");
		if (!err && set_group && bproc_chgrp(node, group) < 0)
			err = report(node, "group");
		if (!err && state && bproc_nodesetstatus(node, state) < 0)
			err = report(node, "state");
		if (err)
			failed = 1;
		/* Without permission every node fails alike: say it once. */
		if (err == EPERM)
			break;
	}
	bproc_nodeset_free(&ns);
	return failed;
}
