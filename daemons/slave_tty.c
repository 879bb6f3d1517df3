/*
 * slave_tty.c - the node's pseudo-terminal for a moved process that was
 * on a terminal.  See slave_tty.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "criu_run.h"
#include "log.h"
#include "slave.h"
#include "slave_tty.h"
#include "util.h"

#define TTY_EOF_CHAR 4 /* ^D, our VEOF */

int slave_tty_open(int *ptm, int *pts)
{
	_cleanup_close_ int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	int s;

	if (m < 0)
		return -errno;
	if (grantpt(m) < 0 || unlockpt(m) < 0)
		return -errno;
	s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		return -errno;
	if (fcntl(m, F_SETFL, O_NONBLOCK) < 0) {
		close(s);
		return -errno;
	}
	*ptm = take_fd(&m);
	*pts = s;
	return 0;
}

int slave_tty_set_mode(int pts)
{
	struct termios t;

	if (tcgetattr(pts, &t) < 0)
		return -errno;
	/* The master's terminal echoes, edits and signals already. */
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL | ECHOCTL | ECHOKE | ISIG | IEXTEN);
	t.c_lflag |= ICANON;
	t.c_iflag &= ~(tcflag_t)(ICRNL | INLCR | IGNCR | IXON | IXOFF | ISTRIP);
	/* Output goes to the master's terminal, which does the \n -> \r\n. */
	t.c_oflag &= ~(tcflag_t)OPOST;
	t.c_cc[VEOF] = TTY_EOF_CHAR;
	t.c_cc[VEOL] = _POSIX_VDISABLE;
	t.c_cc[VEOL2] = _POSIX_VDISABLE;
	t.c_cc[VERASE] = _POSIX_VDISABLE;
	t.c_cc[VKILL] = _POSIX_VDISABLE;
	t.c_cc[VWERASE] = _POSIX_VDISABLE;
	t.c_cc[VREPRINT] = _POSIX_VDISABLE;
	t.c_cc[VLNEXT] = _POSIX_VDISABLE;
	if (tcsetattr(pts, TCSANOW, &t) < 0)
		return -errno;
	return 0;
}

int slave_tty_input(struct output_queue *q, const void *data, size_t len, bool eof)
{
	static const unsigned char eof_char = TTY_EOF_CHAR;
	int r = 0;

	if (len > 0)
		r = output_queue_push(q, data, len);
	/* A line ends with \n; anything else (Ctrl-D typed mid-line on the
	 * master, a terminal in raw mode there) must be readable now, and an
	 * empty read is an end of file: both are what our VEOF does. */
	if (r == 0 && (eof || (len > 0 && ((const unsigned char *)data)[len - 1] != '\n')))
		r = output_queue_push(q, &eof_char, 1);
	return r;
}

int slave_tty_resize(int ptm, unsigned int rows, unsigned int cols)
{
	struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };

	if (ioctl(ptm, TIOCSWINSZ, &ws) < 0)
		return -errno;
	return 0;
}

static void on_keeper_report(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct slave *s = data;

	(void)events;
	for (;;) {
		struct criu_child_report rep;
		ssize_t n = recv(fd, &rep, sizeof(rep), MSG_DONTWAIT);

		if (n == (ssize_t)sizeof(rep)) {
			slave_moves_exited(s, rep.pid, rep.status);
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		/* The keeper is gone: everything it kept has ended. */
		loop_remove(loop, fd);
		close(fd);
		return;
	}
}

int slave_tty_keeper_watch(struct slave *s, int fd)
{
	int r = loop_add(s->loop, fd, EPOLLIN, on_keeper_report, s);

	if (r < 0)
		pr_warn("cannot watch a terminal's session keeper: %s", strerror(-r));
	return r;
}
