/*
 * seal_relay.h - seal a connection for a program that only knows plain
 * sockets (CRIU's page server, bpcp's sendfile and splice).
 *
 * The program gets one end of a socketpair; a relay process between it and
 * the TCP connection seals what the program writes into records (seal.h)
 * and opens and checks every record that comes before the program sees a
 * byte of it.  A record that does not open, or a connection cut before the
 * stream's end, ends the relay with both its sockets closed: the program
 * then sees its stream end early, and fails as if the connection broke.
 * The end of what the program writes (shutdown or close) becomes the
 * stream's end record; the peer's end record becomes a shutdown of the
 * program's socket for writing.
 */
#ifndef BPROC_SEAL_RELAY_H
#define BPROC_SEAL_RELAY_H

#include <stdint.h>

#include "seal.h"

/* The relay gives up when nothing moved either way for this long. */
#define SEAL_RELAY_IDLE_MS 120000
/* Once the program closed its socket, the relay waits this long at most
 * for the peer's end, then closes: a peer still sending (bpcp's progress
 * to a bpcp that was interrupted) then sees the connection break. */
#define SEAL_RELAY_LINGER_MS 1000

/*
 * Replace *fd (a connected TCP socket) with the program's end of a
 * socketpair, a relay process sealing between the two: tx seals what goes
 * out, rx opens what comes in.  The relay runs detached (nobody reaps it)
 * and holds nothing of its caller but the two sockets.  0, or -errno with
 * *fd untouched.
 */
int seal_relay_start(int *fd, const uint8_t tx[SEAL_KEY_SIZE], const uint8_t rx[SEAL_KEY_SIZE]);

/*
 * The relay itself, between local (the program's socket) and net, until
 * both directions ended: 0, or -errno (seal_strerror() says what it means).
 * Split out for the unit tests.
 */
int seal_relay_run(int local, int net, const uint8_t tx[SEAL_KEY_SIZE],
		   const uint8_t rx[SEAL_KEY_SIZE]);

#endif
