/*
 * localnet.c - bridge, veth pairs and addresses for the local cluster,
 * through libnl-route.  See localnet.h.
 */
#include <errno.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <string.h>

#include "localnet.h"

/* libnl's errors are its own numbers; give callers an errno. */
static int nl_to_errno(int nlerr)
{
	switch (-nlerr) {
	case NLE_EXIST:
		return -EEXIST;
	case NLE_OBJ_NOTFOUND:
	case NLE_NODEV:
		return -ENODEV;
	case NLE_PERM:
		return -EPERM;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_INVAL:
		return -EINVAL;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_NOADDR:
		return -EADDRNOTAVAIL;
	default:
		return -EIO;
	}
}

static int open_route_socket(struct nl_sock **out)
{
	struct nl_sock *sk = nl_socket_alloc();
	int r;

	if (!sk)
		return -ENOMEM;
	r = nl_connect(sk, NETLINK_ROUTE);
	if (r < 0) {
		nl_socket_free(sk);
		return nl_to_errno(r);
	}
	*out = sk;
	return 0;
}

static void close_route_socket(struct nl_sock **sk)
{
	if (*sk)
		nl_socket_free(*sk);
}
#define _cleanup_nl_sock_ __attribute__((cleanup(close_route_socket)))

static int link_ifindex(struct nl_sock *sk, const char *name)
{
	struct rtnl_link *link = NULL;
	int r = rtnl_link_get_kernel(sk, 0, name, &link);

	if (r < 0)
		return nl_to_errno(r);
	r = rtnl_link_get_ifindex(link);
	rtnl_link_put(link);
	return r;
}

static int link_set_up(struct nl_sock *sk, const char *name)
{
	struct rtnl_link *link = NULL, *change;
	int r = rtnl_link_get_kernel(sk, 0, name, &link);

	if (r < 0)
		return nl_to_errno(r);
	change = rtnl_link_alloc();
	if (!change) {
		rtnl_link_put(link);
		return -ENOMEM;
	}
	rtnl_link_set_flags(change, IFF_UP);
	r = rtnl_link_change(sk, link, change, 0);
	rtnl_link_put(change);
	rtnl_link_put(link);
	return r < 0 ? nl_to_errno(r) : 0;
}

static int add_address(struct nl_sock *sk, int ifindex, struct in_addr addr, int prefix)
{
	struct rtnl_addr *a = rtnl_addr_alloc();
	struct nl_addr *local;
	int r;

	if (!a)
		return -ENOMEM;
	local = nl_addr_build(AF_INET, &addr, sizeof(addr));
	if (!local) {
		rtnl_addr_put(a);
		return -ENOMEM;
	}
	nl_addr_set_prefixlen(local, prefix);
	rtnl_addr_set_ifindex(a, ifindex);
	rtnl_addr_set_local(a, local);
	r = rtnl_addr_add(sk, a, 0);
	nl_addr_put(local);
	rtnl_addr_put(a);
	if (r == -NLE_EXIST)
		return 0;
	return r < 0 ? nl_to_errno(r) : 0;
}

int localnet_bridge_up(const char *name, struct in_addr addr, int prefix)
{
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	struct rtnl_link *bridge;
	int r, ifindex;

	r = open_route_socket(&sk);
	if (r < 0)
		return r;
	bridge = rtnl_link_bridge_alloc();
	if (!bridge)
		return -ENOMEM;
	rtnl_link_set_name(bridge, name);
	r = rtnl_link_add(sk, bridge, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_put(bridge);
	if (r < 0 && r != -NLE_EXIST)
		return nl_to_errno(r);
	ifindex = link_ifindex(sk, name);
	if (ifindex < 0)
		return ifindex;
	r = add_address(sk, ifindex, addr, prefix);
	if (r < 0)
		return r;
	return link_set_up(sk, name);
}

int localnet_veth_add(const char *host_name, const char *peer_name, int netns_fd,
		      const char *bridge)
{
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	struct rtnl_link *veth, *peer;
	int r, bridge_index, host_index;

	r = open_route_socket(&sk);
	if (r < 0)
		return r;
	veth = rtnl_link_veth_alloc();
	if (!veth)
		return -ENOMEM;
	rtnl_link_set_name(veth, host_name);
	peer = rtnl_link_veth_get_peer(veth);
	rtnl_link_set_name(peer, peer_name);
	rtnl_link_set_ns_fd(peer, netns_fd);
	rtnl_link_put(peer);
	r = rtnl_link_add(sk, veth, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_veth_release(veth);
	if (r < 0)
		return nl_to_errno(r);

	bridge_index = link_ifindex(sk, bridge);
	if (bridge_index < 0)
		return bridge_index;
	host_index = link_ifindex(sk, host_name);
	if (host_index < 0)
		return host_index;
	r = rtnl_link_enslave_ifindex(sk, bridge_index, host_index);
	if (r < 0)
		return nl_to_errno(r);
	return link_set_up(sk, host_name);
}

int localnet_configure_node(const char *ifname, struct in_addr addr, int prefix)
{
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int r, ifindex;

	r = open_route_socket(&sk);
	if (r < 0)
		return r;
	r = link_set_up(sk, "lo");
	if (r < 0)
		return r;
	ifindex = link_ifindex(sk, ifname);
	if (ifindex < 0)
		return ifindex;
	r = add_address(sk, ifindex, addr, prefix);
	if (r < 0)
		return r;
	return link_set_up(sk, ifname);
}

int localnet_link_delete(const char *name)
{
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	struct rtnl_link *link = NULL;
	int r;

	r = open_route_socket(&sk);
	if (r < 0)
		return r;
	r = rtnl_link_get_kernel(sk, 0, name, &link);
	if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV)
		return 0;
	if (r < 0)
		return nl_to_errno(r);
	r = rtnl_link_delete(sk, link);
	rtnl_link_put(link);
	if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV)
		return 0;
	return r < 0 ? nl_to_errno(r) : 0;
}

int localnet_link_exists(const char *name)
{
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;

	if (open_route_socket(&sk) < 0)
		return 0;
	return link_ifindex(sk, name) > 0;
}
