/*
 * config.h - the cluster configuration file (bproc.conf(5)), in the spirit
 * of BProc's /etc/clustermatic/config.
 *
 *   interface NAME          listen on the address of this interface
 *   bprocport PORT          TCP port of the master (2223)
 *   ip [NODE] ADDR...       give node numbers to slave addresses
 *   iprange [NODE] FIRST LAST
 *   libraries PATH...       files to stage on nodes (kept for later use)
 *   binaries PATH...
 *   secretfile PATH         the cluster's shared secret
 *   statefile PATH          the master's store across restarts (SQLite)
 *   encrypt yes|no          encrypt the links between the daemons (no)
 *   favordynmods yes|no     let the daemons turn cgroup2's favordynmods on
 *                           (yes; migrate/move_latency.h says why)
 *   criu PATH               the CRIU binary to run
 *   pingtimeout SECONDS     silence after which a node is marked down
 *   launchfanout WIDTH      a launch on more nodes than this goes out
 *                           through a tree of slaves (0: never)
 *   claimtime SECONDS       how long a restarted master waits for the
 *                           nodes to claim the processes of its ghosts (30)
 *
 * Without a node number, ip and iprange continue after the last node
 * given.  Every error carries the file name and line number.
 */
#ifndef BPROC_CONFIG_H
#define BPROC_CONFIG_H

#include <stdbool.h>

#include <netinet/in.h>
#include <stddef.h>

#define CONFIG_DEFAULT_PORT 2223
#define CONFIG_MAX_NODES 65536 /* node numbers are 0 .. CONFIG_MAX_NODES-1 */
#define CONFIG_DEFAULT_PINGTIMEOUT_MS 3000
#define CONFIG_DEFAULT_LAUNCHFANOUT 4
#define CONFIG_DEFAULT_CLAIMTIME_MS 30000

struct config_node {
	int node;
	struct in_addr addr;
	int line; /* where it was given, for error messages */
};

struct config {
	char *interface;
	int port;
	struct config_node *nodes; /* sorted by node number */
	size_t nnodes;
	char **libraries;
	size_t nlibraries;
	char **binaries;
	size_t nbinaries;
	char *secretfile;
	char *statefile;
	char *criu;
	int pingtimeout_ms;
	int launchfanout;
	int claimtime_ms;
	bool encrypt;
	bool favordynmods;
};

/*
 * Parse a configuration from text; name is used in error messages.  On
 * error returns -EINVAL and writes "NAME:LINE: what is wrong" into err.
 */
int config_parse(const char *text, const char *name, struct config *cfg, char *err,
		 size_t errlen);
int config_load(const char *path, struct config *cfg, char *err, size_t errlen);
void config_free(struct config *cfg);

/* The node a slave address belongs to, or -1. */
int config_node_by_addr(const struct config *cfg, struct in_addr addr);
/* Index of node in cfg->nodes, or -1. */
int config_node_index(const struct config *cfg, int node);

#endif
