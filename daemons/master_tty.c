/*
 * master_tty.c - the master's side of a moved process's terminal.  See
 * master_tty.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "master_tty.h"
#include "util.h"

bool master_tty_foreground(pid_t pid)
{
	char path[64], buf[1024], *p;
	_cleanup_fclose_ FILE *f = NULL;
	int pgrp, tpgid;

	/* pid (comm) state ppid pgrp session tty_nr tpgid: comm may hold
	 * anything, so start after its last ')'. */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f || !fgets(buf, sizeof(buf), f))
		return false;
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %*d %d %*d %*d %d", &pgrp, &tpgid) != 2)
		return false;
	return pgrp > 0 && pgrp == tpgid;
}

int master_tty_size(int fd, unsigned int *rows, unsigned int *cols)
{
	struct winsize ws;

	if (ioctl(fd, TIOCGWINSZ, &ws) < 0)
		return -errno;
	*rows = ws.ws_row;
	*cols = ws.ws_col;
	return 0;
}
