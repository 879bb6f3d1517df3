/*
 * file_stream.h - the byte stream of bpcp: one side walks its sources and
 * sends them, the other creates them under a destination.
 *
 * Shared by bpcp (which sends or receives the files of the machine it runs
 * on, as the user who runs it) and by the daemons' workers (which do the
 * same on their machine, with the credentials of the user who asked:
 * daemons/file_service.c).  Everything here is plain blocking I/O on one
 * connected socket; the format is in images/bproc.proto (FileHello ...
 * FileResult).  Errors about files are worded as cp words them, with the
 * machine's prefix ("2:") before each path, and collected in a file_result;
 * a function returns <0 only when the stream itself broke.
 */
#ifndef BPROC_FILE_STREAM_H
#define BPROC_FILE_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "frame.h"

#define FILE_TOKEN_SIZE 16
/* Errors listed in a result; beyond that they are only counted. */
#define FILE_MAX_ERRORS 1000
/* Paths in one request; a longer command line is several transfers. */
#define FILE_MAX_PATHS 4096

struct file_result {
	char **errors;
	size_t nerrors;
	uint64_t dropped;
	uint64_t files, bytes;
	bool refused; /* the receiver took nothing (see check_destination) */
};

void file_result_add(struct file_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Append every error of from (a received FileResult) and its counts. */
void file_result_merge(struct file_result *res, const Bproc__FileResult *from);
void file_result_free(struct file_result *res);
int file_result_send(int fd, const struct file_result *res);

/* Called as bytes go; <0 stops the transfer with that error (the one who
 * wanted to hear has gone). */
typedef int (*file_progress_fn)(void *arg, const char *path, uint64_t done, uint64_t size,
				uint64_t total);

struct file_opts {
	bool recursive;
	bool preserve;       /* mode, times, and the owner when root */
	bool into_directory; /* receiver: several sources, dest must be a directory */
	const char *prefix;  /* before every path in messages: "2:", or "" */
	file_progress_fn progress;
	void *progress_arg;
};

/*
 * Sender: wait for the receiver's FileReady, send each of paths (absolute
 * or relative to the working directory) and FileEnd, and read the
 * receiver's FileResult into *res (which then holds the sender's errors
 * too).  0, or -errno when the connection broke or the peer is not a
 * receiver.
 */
int file_send(int fd, char *const *paths, size_t npaths, const struct file_opts *o,
	      struct file_result *res);

/*
 * Receiver: check dest, answer FileReady (or a FileResult saying why not),
 * create what the sender sends, answer FileResult, also left in *res.
 */
int file_receive(int fd, const char *dest, const struct file_opts *o, struct file_result *res);

/* The first words on a transfer connection; check: 0, or -EACCES for a
 * wrong token. */
int file_hello_send(int fd, const uint8_t token[FILE_TOKEN_SIZE]);
int file_hello_check(int fd, const uint8_t token[FILE_TOKEN_SIZE]);

/*
 * Seal the transfer connection *fd under key (FileEndpoint.key) from here
 * on (seal_relay.h): *fd becomes the plain end the stream code uses.
 * connector: this side connected.  0, or -errno with *fd as it was.
 */
#define FILE_KEY_SIZE 32
int file_seal(int *fd, const uint8_t key[FILE_KEY_SIZE], bool connector);

/* An entry's relative path: 0, or -EINVAL ("..", empty or "." components,
 * absolute, too long). */
int file_check_name(const char *path);
/* A request as a daemon receives it: 0, or -EINVAL with the reason in err. */
int file_check_request(const Bproc__FileTransferRequest *req, char *err, size_t errlen);

#endif
