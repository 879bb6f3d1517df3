/*
 * sockets.c - see sockets.h.
 */
#include "sockets.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <stdbool.h>
#include <netdb.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "util.h"

int socket_listen_tcp(struct in_addr addr, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = addr };
	_cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	if (listen(fd, 128) < 0)
		return -errno;
	return take_fd(&fd);
}

static int mkdir_parents(const char *path, mode_t mode)
{
	char buf[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *dir;

	snprintf(buf, sizeof(buf), "%s", path);
	dir = dirname(buf);
	if (strcmp(dir, "/") == 0 || strcmp(dir, ".") == 0)
		return 0;
	if (mkdir(dir, mode) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return -errno;
	int r = mkdir_parents(dir, mode);
	if (r < 0)
		return r;
	return mkdir(dir, mode) == 0 || errno == EEXIST ? 0 : -errno;
}

int socket_listen_unix(const char *path, int mode)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;
	int r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	r = mkdir_parents(path, 0755);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return -EADDRINUSE;
	close(fd);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	/* Anyone may ask; the daemon decides by SO_PEERCRED what they may do. */
	if (chmod(path, (mode_t)mode) < 0)
		return -errno;
	if (listen(fd, 128) < 0)
		return -errno;
	return take_fd(&fd);
}

int socket_parse_hostport(const char *text, int default_port, struct sockaddr_in *out)
{
	_cleanup_free_ char *host = strdup(text);
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	char *colon;
	long port = default_port;

	if (!host)
		return -ENOMEM;
	colon = strrchr(host, ':');
	if (colon) {
		*colon = '\0';
		if (parse_long(colon + 1, 1, 65535, &port) < 0)
			return -EINVAL;
	}
	if (!*host)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &out->sin_addr) == 1)
		return 0;
	if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
		return -EHOSTUNREACH;
	out->sin_addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
	freeaddrinfo(res);
	return 0;
}

struct addr_search {
	int ifindex;
	bool found;
	struct in_addr addr;
};

static void addr_visit(struct nl_object *obj, void *arg)
{
	struct rtnl_addr *a = (struct rtnl_addr *)obj;
	struct addr_search *s = arg;
	struct nl_addr *local;

	if (s->found || rtnl_addr_get_ifindex(a) != s->ifindex || rtnl_addr_get_family(a) != AF_INET)
		return;
	local = rtnl_addr_get_local(a);
	if (!local || nl_addr_get_len(local) != sizeof(struct in_addr))
		return;
	memcpy(&s->addr, nl_addr_get_binary_addr(local), sizeof(struct in_addr));
	s->found = true;
}

int netif_ipv4_address(const char *name, struct in_addr *out)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_cache *links = NULL, *addrs = NULL;
	struct addr_search search = { 0 };
	int r;

	if (!sk)
		return -ENOMEM;
	r = nl_connect(sk, NETLINK_ROUTE);
	if (r < 0) {
		r = -ECONNREFUSED;
		goto out;
	}
	if (rtnl_link_alloc_cache(sk, AF_UNSPEC, &links) < 0 ||
	    rtnl_addr_alloc_cache(sk, &addrs) < 0) {
		r = -EIO;
		goto out;
	}
	search.ifindex = rtnl_link_name2i(links, name);
	if (search.ifindex <= 0) {
		r = -ENODEV;
		goto out;
	}
	nl_cache_foreach(addrs, addr_visit, &search);
	if (!search.found) {
		r = -EADDRNOTAVAIL;
		goto out;
	}
	*out = search.addr;
	r = 0;
out:
	if (addrs)
		nl_cache_free(addrs);
	if (links)
		nl_cache_free(links);
	nl_socket_free(sk);
	return r;
}
