/*
 * pty_unread.h - what a process has not read yet of its pseudo-terminal's
 * input, taken out so that it can go with the process to another
 * pseudo-terminal (a move of a process on a terminal from node to node,
 * daemons/slave_move_out.c).  CRIU keeps the terminal's settings and size
 * (its tty image) but not the bytes waiting in it.
 */
#ifndef BPROC_PTY_UNREAD_H
#define BPROC_PTY_UNREAD_H

#include <stddef.h>
#include <stdint.h>

/*
 * Read what waits in the input of the pseudo-terminal whose master side
 * is ptm (its process frozen, so that nothing else reads it), and append
 * it to *buf (malloc'd, may be NULL) of *len bytes, as bytes that, written
 * to the master side of a pseudo-terminal with the same settings, give
 * the process the same reads.  In canonical mode that is each line, and
 * each chunk ended by VEOF (a partial line, or an end of file) with its
 * VEOF; the terminal must hold no partial line that nothing ends (which
 * a non-blocking read cannot take).  0, or -errno (what was read so far
 * is in *buf).
 */
int pty_take_unread(int ptm, uint8_t **buf, size_t *len);

#endif
