/*
 * pty_unread.c - see pty_unread.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "pty_unread.h"
#include "util.h"

/* Append n bytes of data to *buf of *len bytes. */
static int append(uint8_t **buf, size_t *len, const void *data, size_t n)
{
	uint8_t *b = realloc(*buf, *len + n + 1);

	if (!b)
		return -ENOMEM;
	memcpy(b + *len, data, n);
	*buf = b;
	*len += n;
	return 0;
}

int pty_take_unread(int ptm, uint8_t **buf, size_t *len)
{
	/* Our own opening of the process's side: O_NOCTTY, and no job
	 * control on a read from it (it is not our controlling terminal). */
	_cleanup_close_ int pts = ioctl(ptm, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	struct termios t;
	unsigned char veof;
	bool canon;
	int r = 0;

	if (pts < 0)
		return -errno;
	if (tcgetattr(pts, &t) < 0)
		return -errno;
	canon = t.c_lflag & ICANON;
	veof = t.c_cc[VEOF];
	/* Canonical: one line a read (with its \n, or VEOL), or what came
	 * before a VEOF without the VEOF (a lone VEOF reads as 0 bytes).
	 * Raw: the bytes as they came. */
	for (int k = 0; k < 4096 && r == 0; k++) {
		uint8_t chunk[8192];
		ssize_t n = read(pts, chunk, sizeof(chunk));
		bool line;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return -errno;
		if (n == 0 && !canon)
			break;
		if (n > 0)
			r = append(buf, len, chunk, (size_t)n);
		line = n > 0 && (chunk[n - 1] == '\n' ||
				 (t.c_cc[VEOL] != _POSIX_VDISABLE && chunk[n - 1] == t.c_cc[VEOL]) ||
				 (t.c_cc[VEOL2] != _POSIX_VDISABLE && chunk[n - 1] == t.c_cc[VEOL2]));
		if (r == 0 && canon && !line)
			r = append(buf, len, &veof, 1);
	}
	return r;
}
