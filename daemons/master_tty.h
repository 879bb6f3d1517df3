/*
 * master_tty.h - the master's side of a moved process's terminal.
 *
 * The ghost keeps the process's terminal (its fds 0-2 and its place in
 * the session and process group), so what is typed there and its size are
 * read here and sent to the node (slave_tty.h).  Only while the ghost's
 * process group is the terminal's foreground one: otherwise what is typed
 * is for someone else (the shell).
 */
#ifndef BPROC_MASTER_TTY_H
#define BPROC_MASTER_TTY_H

#include <stdbool.h>
#include <sys/types.h>

/* Is pid's process group the foreground one of its controlling terminal? */
bool master_tty_foreground(pid_t pid);

/* The size of the terminal fd is on; 0 or -errno. */
int master_tty_size(int fd, unsigned int *rows, unsigned int *cols);

#endif
