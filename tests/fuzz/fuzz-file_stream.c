/*
 * fuzz-file_stream.c - libFuzzer target for bpcp's receiver
 * (daemons/file_stream.c).  The input, after a first byte of options, is
 * what a sender could put on a transfer connection.  Whatever it is, the
 * receiver must not crash or leak, and must create nothing outside its
 * destination: after each input the scratch directory holds the
 * destination and nothing else.
 */
#include <dirent.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_stream.h"

#define FUZZ_MAX_INPUT 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char base[] = "/var/tmp/fuzz-bpcp.XXXXXX";

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	/* Never through a symbolic link: the input may have made "d" a link
	 * to "/", and chmod() follows links (it once made / mode 0700). */
	if (type != FTW_SL && type != FTW_SLN)
		chmod(path, 0700);
	return remove(path);
}

static void remove_base(void)
{
	rmdir(base);
}

static void only_destination_left(void)
{
	DIR *d = opendir(base);
	struct dirent *de;

	if (!d)
		abort();
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "d"))
			abort(); /* written outside the destination */
	closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct file_opts o = { .prefix = "" };
	struct file_result res = { 0 };
	char dest[64];
	int sv[2], big = FUZZ_MAX_INPUT * 2;

	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	if (base[strlen(base) - 1] == 'X') {
		if (!mkdtemp(base))
			abort();
		atexit(remove_base);
	}
	o.recursive = data[0] & 1;
	o.preserve = data[0] & 2;
	o.into_directory = data[0] & 4;
	snprintf(dest, sizeof(dest), "%s/d", base);
	/* Bit 3: the destination exists (a directory) or is to be made. */
	if (data[0] & 8)
		mkdir(dest, 0755);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (write(sv[0], data + 1, size - 1) != (ssize_t)(size - 1))
		abort();
	shutdown(sv[0], SHUT_WR);
	file_receive(sv[1], dest, &o, &res);
	file_result_free(&res);
	close(sv[0]);
	close(sv[1]);
	only_destination_left();
	nftw(dest, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
