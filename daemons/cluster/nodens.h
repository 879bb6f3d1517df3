/*
 * nodens.h - the namespaces that make a node of the local cluster.
 *
 * A node is a network, a mount and a UTS namespace (bpslave adds the pid
 * namespace itself, as on a real node).  No process needs to live in them
 * between commands: their /proc/PID/ns files are bind-mounted under the
 * node's directory (/run/bproc/cluster/nN/{net,mnt,uts}), which keeps them
 * alive until nodens_destroy() unmounts them.  The network namespace is
 * also bound at /run/netns/bproc-nN so `ip netns exec bproc-nN` works.
 */
#ifndef BPROC_NODENS_H
#define BPROC_NODENS_H

/* Make node's namespaces: hostname nN, private /tmp and /run.  keep, if
 * not NULL, is a directory under /tmp or /run that stays visible on the
 * node (where bproc itself was built), as an installed bproc would be. */
int nodens_create(int node, const char *dir, const char *keep);

/* Move the calling process into the node's net, UTS and mount
 * namespaces.  Open everything you need from the host first. */
int nodens_enter(const char *dir);

/* Open one of the node's namespace files ("net", "mnt", "uts"). */
int nodens_open(const char *dir, const char *which);

/* Unmount and remove what nodens_create() made; fine if half made. */
int nodens_destroy(int node, const char *dir);

#endif
