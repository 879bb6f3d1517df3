/*
 * slave_tty.h - the node's side of a moved process's terminal.
 *
 * A process that used a terminal on the master gets, on the node, the
 * slave side of a pseudo-terminal of ours (CRIU restores it as the
 * process's terminal; see criu_run.h, CRIU_INHERIT_TTY).  We read the
 * master side and send it back as Output; the master writes it to the
 * real terminal, and sends what is typed there as Input.
 *
 * The line discipline that counts is the master's terminal's: it echoes,
 * edits lines, and turns Ctrl-C and Ctrl-Z into signals for the ghost's
 * process group (which the ghost's tracer forwards).  Ours must add
 * nothing: no echo, no signals, no output processing; it stays canonical
 * only so that an end of file typed on the master (Ctrl-D) can be passed
 * on as our VEOF character.
 */
#ifndef BPROC_SLAVE_TTY_H
#define BPROC_SLAVE_TTY_H

#include <stdbool.h>
#include <stddef.h>

#include "output_queue.h"

/* A new pseudo-terminal: *ptm our side (non-blocking), *pts the process's. */
int slave_tty_open(int *ptm, int *pts);

/* Put the process's side in the mode described above (after CRIU, which
 * restores the master's settings on it). */
int slave_tty_set_mode(int pts);

/* Queue input from the master for the process: a line, a partial line
 * (flushed with VEOF so it is readable at once), or an end of file. */
int slave_tty_input(struct output_queue *q, const void *data, size_t len, bool eof);

/* The master's terminal changed size. */
int slave_tty_resize(int ptm, unsigned int rows, unsigned int cols);

struct slave;
/* Watch the reports of a restored process's session keeper (criu_run.h,
 * CRIU_INHERIT_REPORT): its ends, stops and continues go where the
 * node init's go (slave_moves_exited).  Takes fd. */
int slave_tty_keeper_watch(struct slave *s, int fd);

#endif
