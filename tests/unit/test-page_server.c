/*
 * test-page_server.c - the page stream's token (ps_send_token,
 * ps_check_token) and its cork (ps_uncork), on real sockets.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "page_server.h"

static const uint8_t token[PS_TOKEN_LEN] = "0123456789abcdef";

static void pair(int sv[2])
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
}

Test(page_server, the_right_token_lets_the_stream_in)
{
	int sv[2];
	char rest[4] = "";

	pair(sv);
	cr_assert_eq(ps_send_token(sv[0], token, sizeof(token)), 0);
	cr_assert_eq(write(sv[0], "CRIU", 4), 4);
	cr_assert_eq(ps_check_token(sv[1], token, sizeof(token), 1000), 0);
	/* What follows the token is CRIU's, untouched. */
	cr_assert_eq(read(sv[1], rest, 4), 4);
	cr_assert_eq(memcmp(rest, "CRIU", 4), 0);
	close(sv[0]);
	close(sv[1]);
}

Test(page_server, a_wrong_token_is_refused)
{
	uint8_t other[PS_TOKEN_LEN];
	int sv[2];

	memcpy(other, token, sizeof(other));
	other[PS_TOKEN_LEN - 1] ^= 1;
	pair(sv);
	cr_assert_eq(ps_send_token(sv[0], other, sizeof(other)), 0);
	cr_assert_eq(ps_check_token(sv[1], token, sizeof(token), 1000), -EACCES);
	close(sv[0]);
	close(sv[1]);
}

Test(page_server, a_short_token_then_close_is_refused)
{
	int sv[2];

	pair(sv);
	cr_assert_eq(write(sv[0], token, 5), 5);
	close(sv[0]);
	cr_assert_eq(ps_check_token(sv[1], token, sizeof(token), 1000), -EACCES);
	close(sv[1]);
}

Test(page_server, a_silent_peer_times_out)
{
	int sv[2];

	pair(sv);
	cr_assert_eq(ps_check_token(sv[1], token, sizeof(token), 50), -ETIMEDOUT);
	close(sv[0]);
	close(sv[1]);
}

/* A corked TCP socket (as CRIU leaves it) is found and uncorked once. */
Test(page_server, uncork_takes_the_cork_off_once)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	int corked = -1;

	cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(l, 1), 0);
	cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &len), 0);
	cr_assert_eq(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(ps_uncork(c), 0, "not corked yet");
	cr_assert_eq(setsockopt(c, IPPROTO_TCP, TCP_CORK, &one, sizeof(one)), 0);
	cr_assert_eq(ps_uncork(c), 1);
	len = sizeof(corked);
	cr_assert_eq(getsockopt(c, IPPROTO_TCP, TCP_CORK, &corked, &len), 0);
	cr_assert_eq(corked, 0);
	cr_assert_eq(ps_uncork(c), 0);
	close(c);
	close(l);
}
