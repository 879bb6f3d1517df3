/*
 * localnet.h - the virtual links of the local cluster, made with libnl3.
 *
 * One bridge on the host with no uplink stands for the cluster's switch;
 * each node is joined to it by a veth pair whose far end lives in the
 * node's network namespace as eth0.  Everything goes through rtnetlink
 * (libnl-route), never through the `ip` command.
 */
#ifndef BPROC_LOCALNET_H
#define BPROC_LOCALNET_H

#include <netinet/in.h>

/* Create the bridge (or reuse it), give it addr/prefix and bring it up. */
int localnet_bridge_up(const char *name, struct in_addr addr, int prefix);

/* Create a veth pair: host_name enslaved to bridge and up on the host,
 * its peer moved into the network namespace netns_fd as peer_name. */
int localnet_veth_add(const char *host_name, const char *peer_name, int netns_fd,
		      const char *bridge);

/* In the calling thread's network namespace: bring lo up, give ifname
 * addr/prefix and bring it up. */
int localnet_configure_node(const char *ifname, struct in_addr addr, int prefix);

/* Delete a link by name; 0 if it is gone (or never was). */
int localnet_link_delete(const char *name);

/* 1 if a link of that name exists in the current network namespace. */
int localnet_link_exists(const char *name);

#endif
