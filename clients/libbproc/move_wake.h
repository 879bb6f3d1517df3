/*
 * move_wake.h - what a process waiting for its own move reads.
 *
 * bproc_move() and bproc_rfork() leave the moving process blocked in a
 * read() of a pipe whose both ends it holds, so CRIU takes the pipe along
 * and the read goes on where the process is restored.  The daemon where
 * the process runs once the move is over writes one of these into the
 * pipe, through /proc/PID/fd/N: status 0 on the target, or the error on the
 * source when the move failed.  Shared by libbproc and the daemons; the
 * size is below PIPE_BUF, so the write is atomic.
 */
#ifndef BPROC_MOVE_WAKE_H
#define BPROC_MOVE_WAKE_H

#include <stdint.h>

struct bproc_move_wake {
	int32_t status;    /* 0, or a negative errno / BE_* code */
	char message[252]; /* the daemon's words on failure, NUL-terminated */
};

#endif
