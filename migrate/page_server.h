/*
 * page_server.h - the page stream of a move.
 *
 * The memory of a moving process does not go through the daemons' link:
 * the source's CRIU sends it straight to a CRIU on the target, over a TCP
 * connection that the two daemons make and hand to both CRIUs
 * (--ps-socket), so no port is guessed and no CRIU needs a network view of
 * its own.  The target listens on its own address and says the port; the
 * source connects and gives the socket to its dump (migrate/criu_run.h).
 * On the target the socket goes to
 *
 *   - `criu page-server` (full copy): pages are written into the target's
 *     image directory as the dump reads them, and it ends with the dump;
 *   - `criu lazy-pages` (post-copy): started once the small images are
 *     there, it serves the restored process's page faults (userfaultfd) by
 *     asking the source's CRIU, and pulls the rest in the background; it
 *     ends when every page is in.
 *
 * Nothing here knows which side is the master.
 */
#ifndef BPROC_PAGE_SERVER_H
#define BPROC_PAGE_SERVER_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A listening socket on addr (port chosen by the kernel), non-blocking and
 * close-on-exec; *port in host order. */
int ps_listen(struct in_addr addr, int *fd, uint16_t *port);

/* Take the connection waiting on listen_fd; only from peer (the source's
 * address), else -EPERM.  The socket is blocking, close-on-exec. */
int ps_accept(int listen_fd, struct in_addr peer, int *fd);

/* Connect to a target's page stream (blocking, at most timeout_ms) and
 * send the move's token, first of all (ps_send_token below). */
int ps_connect(struct in_addr addr, uint16_t port, int timeout_ms, const uint8_t *token,
	       size_t token_len, int *fd);

/*
 * CRIU's dump corks the page stream (TCP_CORK) when it starts and never
 * uncorks it: its last command, the close, then waits out the kernel's
 * 200 ms cork timer before the page server sees it (measured: 200 of the
 * 300 ms of a small move).  The socket is ours too, so whoever runs the
 * dump calls this every few ms until it returns 1: it found the cork and
 * took it off (what CRIU wrote goes out at once from then on, NODELAY).
 */
int ps_uncork(int fd);

/*
 * The page stream's first bytes are the move's token (PrepareMove.token,
 * from the master over an authenticated link): the target lets CRIU have
 * the connection only after it read them, so nobody but the source the
 * master chose can feed a page server.  ps_send_token() on the source
 * side (ps_connect calls it), before CRIU gets the socket; ps_check_token()
 * on the target side:
 * 0, or -EACCES (wrong or short), -ETIMEDOUT after timeout_ms.
 */
#define PS_TOKEN_LEN 16
int ps_send_token(int fd, const uint8_t *token, size_t len);
int ps_check_token(int fd, const uint8_t *token, size_t len, int timeout_ms);

/* Start `criu page-server` writing into dir, fed by sock.  It runs beside
 * the caller, which reaps it: exit 0 once the dump is complete. */
int ps_start_page_server(const char *criu, const char *dir, int sock, pid_t *child);

/* Start `criu lazy-pages` on the images in dir, pulling from sock, and wait
 * until it is ready for the restore (criu restore --lazy-pages).  It runs
 * until every page is in (exit 0) or the stream broke; the caller reaps it. */
int ps_start_lazy_pages(const char *criu, const char *dir, int sock, pid_t *child, char *err,
			size_t errlen);

#endif
