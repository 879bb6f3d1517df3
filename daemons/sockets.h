/*
 * sockets.h - the listening and connecting sockets of the daemons, and the
 * libnl3 lookup of an interface's address for the config's "interface" key.
 */
#ifndef BPROC_SOCKETS_H
#define BPROC_SOCKETS_H

#include <netinet/in.h>

/* Listen on addr:port (INADDR_ANY for all); returns the fd or -errno. */
int socket_listen_tcp(struct in_addr addr, int port);

/*
 * Listen on a unix socket at path, creating its directory.  A socket file
 * left by a dead daemon is replaced; one that a live daemon answers on is
 * not (-EADDRINUSE).  Returns the fd or -errno.
 */
int socket_listen_unix(const char *path, int mode);

/* Parse "HOST[:PORT]" (HOST an IPv4 address or a name). */
int socket_parse_hostport(const char *text, int default_port, struct sockaddr_in *out);

/* The first IPv4 address of interface name, through libnl3 (-ENODEV, -EADDRNOTAVAIL). */
int netif_ipv4_address(const char *name, struct in_addr *out);

#endif
