/*
 * test-pty_unread.c - daemons/pty_unread.c: what a process has not read of
 * its pseudo-terminal is taken out, and written to another one it gives
 * the same reads.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "pty_unread.h"

/* A pseudo-terminal: *ptm ours, *pts the process's (non-blocking), in the
 * mode of a node's (daemons/slave_tty.c): canonical, no echo, VEOF ^D;
 * raw: not canonical. */
static void open_pty(int *ptm, int *pts, bool raw)
{
	struct termios t;

	*ptm = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	cr_assert(*ptm >= 0);
	cr_assert(grantpt(*ptm) == 0 && unlockpt(*ptm) == 0);
	*pts = ioctl(*ptm, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	cr_assert(*pts >= 0, "TIOCGPTPEER: %s", strerror(errno));
	cr_assert(tcgetattr(*pts, &t) == 0);
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL | ISIG | IEXTEN);
	t.c_iflag &= ~(tcflag_t)(ICRNL | INLCR | IGNCR | IXON);
	t.c_oflag &= ~(tcflag_t)OPOST;
	t.c_cc[VEOF] = 4;
	if (raw) {
		t.c_lflag &= ~(tcflag_t)ICANON;
		t.c_cc[VMIN] = 1;
		t.c_cc[VTIME] = 0;
	} else {
		t.c_lflag |= ICANON;
	}
	cr_assert(tcsetattr(*pts, TCSANOW, &t) == 0);
}

/* Write into ptm; let the line discipline take it in. */
static void type_in(int ptm, const void *data, size_t len)
{
	cr_assert_eq(write(ptm, data, len), (ssize_t)len);
	usleep(20000);
}

/* The next read of pts: its length (0: an end of file, -1: nothing). */
static ssize_t next_read(int pts, char *buf, size_t len)
{
	ssize_t n = read(pts, buf, len - 1);

	buf[n > 0 ? n : 0] = '\0';
	return n;
}

Test(pty_unread, lines_partial_lines_and_ends_of_file_go_across_as_reads)
{
	static const char typed[] = "one\ntwo\x04\x04three\n";
	int ptm, pts, ptm2, pts2;
	uint8_t *buf = NULL;
	size_t len = 0;
	char got[64];

	open_pty(&ptm, &pts, false);
	open_pty(&ptm2, &pts2, false);
	type_in(ptm, typed, sizeof(typed) - 1);
	cr_assert_eq(pty_take_unread(ptm, &buf, &len), 0);
	cr_assert_eq(len, sizeof(typed) - 1, "%zu bytes", len);
	cr_assert(memcmp(buf, typed, len) == 0);
	cr_expect_eq(next_read(pts, got, sizeof(got)), -1, "all taken: %s", got);

	type_in(ptm2, buf, len);
	cr_expect_eq(next_read(pts2, got, sizeof(got)), 4);
	cr_expect_str_eq(got, "one\n");
	cr_expect_eq(next_read(pts2, got, sizeof(got)), 3);
	cr_expect_str_eq(got, "two");
	cr_expect_eq(next_read(pts2, got, sizeof(got)), 0, "the end of file");
	cr_expect_eq(next_read(pts2, got, sizeof(got)), 6);
	cr_expect_str_eq(got, "three\n");
	free(buf);
	close(ptm);
	close(pts);
	close(ptm2);
	close(pts2);
}

Test(pty_unread, raw_mode_bytes_go_as_they_came_after_what_the_buffer_held)
{
	static const char typed[] = "a\x04 b";
	int ptm, pts;
	uint8_t *buf = malloc(3);
	size_t len = 3;

	memcpy(buf, "old", 3);
	open_pty(&ptm, &pts, true);
	type_in(ptm, typed, sizeof(typed) - 1);
	cr_assert_eq(pty_take_unread(ptm, &buf, &len), 0);
	cr_assert_eq(len, 3 + sizeof(typed) - 1, "%zu bytes", len);
	cr_expect(memcmp(buf, "old", 3) == 0);
	cr_expect(memcmp(buf + 3, typed, sizeof(typed) - 1) == 0);
	free(buf);
	close(ptm);
	close(pts);
}

Test(pty_unread, nothing_waiting_takes_nothing)
{
	int ptm, pts;
	uint8_t *buf = NULL;
	size_t len = 0;

	open_pty(&ptm, &pts, false);
	cr_expect_eq(pty_take_unread(ptm, &buf, &len), 0);
	cr_expect_eq(len, 0);
	cr_expect_null(buf);
	close(ptm);
	close(pts);
	cr_expect_eq(pty_take_unread(-1, &buf, &len), -EBADF);
}
