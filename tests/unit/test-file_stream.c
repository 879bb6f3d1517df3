/*
 * test-file_stream.c - bpcp's stream (daemons/file_stream.c): names and
 * requests that could write outside the destination are refused, and a
 * tree sent through a socket pair arrives whole.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "file_stream.h"

Test(file_stream, names)
{
	char longname[PATH_MAX + 10];

	cr_assert_eq(file_check_name("a"), 0);
	cr_assert_eq(file_check_name("a/b/c"), 0);
	cr_assert_eq(file_check_name("."), 0);
	cr_assert_eq(file_check_name("./a"), 0);
	cr_assert_eq(file_check_name(""), -EINVAL);
	cr_assert_eq(file_check_name("/etc/passwd"), -EINVAL);
	cr_assert_eq(file_check_name(".."), -EINVAL);
	cr_assert_eq(file_check_name("a/../../etc"), -EINVAL);
	cr_assert_eq(file_check_name("a/.."), -EINVAL);
	cr_assert_eq(file_check_name("a//b"), -EINVAL);
	cr_assert_eq(file_check_name("a/./b"), -EINVAL);
	cr_assert_eq(file_check_name("a/"), -EINVAL);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	cr_assert_eq(file_check_name(longname), -EINVAL);
}

Test(file_stream, requests)
{
	Bproc__FileTransferRequest req = BPROC__FILE_TRANSFER_REQUEST__INIT;
	Bproc__FileEndpoint peer = BPROC__FILE_ENDPOINT__INIT;
	char *two[] = { "/a", "/b" }, *rel[] = { "a" };
	uint8_t token[FILE_TOKEN_SIZE] = { 0 }, key[FILE_KEY_SIZE] = { 0 };
	char err[256];

	req.role = BPROC__FILE_ROLE__FILE_SEND;
	req.paths = two;
	req.n_paths = 2;
	cr_assert_eq(file_check_request(&req, err, sizeof(err)), 0);
	req.role = BPROC__FILE_ROLE__FILE_RECEIVE;
	cr_assert_eq(file_check_request(&req, err, sizeof(err)), -EINVAL, "two destinations");
	req.paths = rel;
	req.n_paths = 1;
	cr_assert_eq(file_check_request(&req, err, sizeof(err)), -EINVAL, "a relative path");
	cr_assert(strstr(err, "absolute"));
	req.n_paths = 0;
	cr_assert_eq(file_check_request(&req, err, sizeof(err)), -EINVAL, "no path");
	req.role = BPROC__FILE_ROLE__FILE_SEND;
	req.paths = two;
	req.n_paths = 1;
	peer.addr = "10.0.0.1";
	peer.port = 4000;
	peer.token.data = token;
	peer.token.len = 3;
	req.peer = &peer;
	cr_assert_eq(file_check_request(&req, err, sizeof(err)), -EINVAL, "a short token");
	peer.token.len = FILE_TOKEN_SIZE;
	cr_assert_eq(file_check_request(&req, err, sizeof(err)), 0);
	/* An encrypted cluster's peer comes with its 32-byte key. */
	peer.has_key = true;
	peer.key.data = key;
	peer.key.len = 16;
	cr_assert_eq(file_check_request(&req, err, sizeof(err)), -EINVAL, "a short key");
	peer.key.len = FILE_KEY_SIZE;
	cr_assert_eq(file_check_request(&req, err, sizeof(err)), 0);
	req.has_umask = true;
	req.umask = 01000;
	cr_assert_eq(file_check_request(&req, err, sizeof(err)), -EINVAL, "umask");
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static char *read_file(const char *path)
{
	static char buf[256];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

Test(file_stream, tree_round_trip)
{
	char src[] = "/var/tmp/fs-src.XXXXXX", dst[] = "/var/tmp/fs-dst.XXXXXX";
	char path[PATH_MAX], target[64];
	struct file_opts o = { .recursive = true, .preserve = true, .prefix = "" };
	struct file_result res = { 0 };
	char *paths[2];
	struct stat st;
	int sv[2], status;
	pid_t pid;

	cr_assert_not_null(mkdtemp(src));
	cr_assert_not_null(mkdtemp(dst));
	snprintf(path, sizeof(path), "%s/d", src);
	mkdir(path, 0750);
	snprintf(path, sizeof(path), "%s/d/f", src);
	write_file(path, "hello\n");
	chmod(path, 0604);
	snprintf(path, sizeof(path), "%s/d/l", src);
	cr_assert_eq(symlink("f", path), 0);
	snprintf(path, sizeof(path), "%s/d", src);
	paths[0] = path;
	paths[1] = "/nonexistent-source";
	o.into_directory = true;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	if (pid == 0) {
		struct file_result r = { 0 };

		close(sv[1]);
		_exit(file_send(sv[0], paths, 2, &o, &r) < 0 ? 1 : 0);
	}
	close(sv[0]);
	cr_assert_eq(file_receive(sv[1], dst, &o, &res), 0);
	close(sv[1]);
	waitpid(pid, &status, 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	cr_assert_eq(res.files, 2);
	cr_assert_eq(res.nerrors, 1);
	cr_assert_str_eq(res.errors[0], "/nonexistent-source: No such file or directory");
	snprintf(path, sizeof(path), "%s/d/f", dst);
	cr_assert_str_eq(read_file(path), "hello\n");
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0604);
	snprintf(path, sizeof(path), "%s/d", dst);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0750);
	snprintf(path, sizeof(path), "%s/d/l", dst);
	cr_assert_eq(readlink(path, target, sizeof(target)), 1);
	file_result_free(&res);
	snprintf(path, sizeof(path), "rm -rf %s %s", src, dst);
	cr_assert_eq(system(path), 0);
}

/* A sender that names a file outside the destination ends the transfer. */
Test(file_stream, escape_refused)
{
	char dst[] = "/var/tmp/fs-esc.XXXXXX", path[PATH_MAX];
	struct file_opts o = { .prefix = "" };
	struct file_result res = { 0 };
	Bproc__FileEntry e = BPROC__FILE_ENTRY__INIT;
	Msg msg = BPROC__MSG__INIT, *ready = NULL;
	int sv[2];

	cr_assert_not_null(mkdtemp(dst));
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	e.type = BPROC__FILE_TYPE__FILE_SYMLINK;
	e.path = "x/../../escaped";
	e.link = "/etc/passwd";
	msg.body_case = BPROC__MSG__BODY_FILE_ENTRY;
	msg.file_entry = &e;
	/* Everything the receiver needs fits in the socket's buffer. */
	cr_assert_eq(frame_send(sv[0], &msg), 0);
	cr_assert_eq(file_receive(sv[1], dst, &o, &res), -EBADMSG);
	cr_assert_eq(frame_recv(sv[0], &ready), 0);
	cr_assert_eq(ready->body_case, BPROC__MSG__BODY_FILE_READY);
	msg_free(ready);
	snprintf(path, sizeof(path), "%s/../escaped", dst);
	cr_assert_eq(access(path, F_OK), -1);
	close(sv[0]);
	close(sv[1]);
	rmdir(dst);
	file_result_free(&res);
}

/* A link that leads out, then a file through it: refused, nothing written
 * outside the destination. */
Test(file_stream, link_then_file_refused)
{
	char dst[] = "/var/tmp/fs-link.XXXXXX", outside[] = "/var/tmp/fs-out.XXXXXX";
	char path[PATH_MAX];
	struct file_opts o = { .prefix = "" };
	struct file_result res = { 0 };
	Bproc__FileEntry link = BPROC__FILE_ENTRY__INIT, file = BPROC__FILE_ENTRY__INIT;
	Bproc__FileEnd end = BPROC__FILE_END__INIT;
	Msg msg = BPROC__MSG__INIT;
	int sv[2];

	cr_assert_not_null(mkdtemp(dst));
	cr_assert_not_null(mkdtemp(outside));
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	link.type = BPROC__FILE_TYPE__FILE_SYMLINK;
	link.path = "x";
	link.link = outside;
	msg.body_case = BPROC__MSG__BODY_FILE_ENTRY;
	msg.file_entry = &link;
	cr_assert_eq(frame_send(sv[0], &msg), 0);
	file.type = BPROC__FILE_TYPE__FILE_REGULAR;
	file.path = "x/planted";
	file.mode = 0644;
	file.has_size = true;
	file.size = 4;
	msg.file_entry = &file;
	cr_assert_eq(frame_send(sv[0], &msg), 0);
	cr_assert_eq(write(sv[0], "evil", 4), 4);
	msg.body_case = BPROC__MSG__BODY_FILE_END;
	msg.file_end = &end;
	cr_assert_eq(frame_send(sv[0], &msg), 0);
	o.into_directory = true;
	cr_assert_eq(file_receive(sv[1], dst, &o, &res), 0);
	snprintf(path, sizeof(path), "%s/planted", outside);
	cr_assert_eq(access(path, F_OK), -1, "a file was written outside the destination");
	cr_assert_eq(res.nerrors, 1);
	cr_assert(strstr(res.errors[0], "leads out of the destination"), "%s", res.errors[0]);
	close(sv[0]);
	close(sv[1]);
	snprintf(path, sizeof(path), "rm -rf %s %s", dst, outside);
	cr_assert_eq(system(path), 0);
	file_result_free(&res);
}

static void send_entry_msg(int fd, Bproc__FileEntry *e)
{
	Msg msg = BPROC__MSG__INIT;

	msg.body_case = BPROC__MSG__BODY_FILE_ENTRY;
	msg.file_entry = e;
	cr_assert_eq(frame_send(fd, &msg), 0);
}

static void send_end_msg(int fd)
{
	Bproc__FileEnd end = BPROC__FILE_END__INIT;
	Msg msg = BPROC__MSG__INIT;

	msg.body_case = BPROC__MSG__BODY_FILE_END;
	msg.file_end = &end;
	cr_assert_eq(frame_send(fd, &msg), 0);
}

/* A link path -> target, then a 4-byte file through or beside it. */
static void send_link(int fd, const char *path, const char *target)
{
	Bproc__FileEntry e = BPROC__FILE_ENTRY__INIT;

	e.type = BPROC__FILE_TYPE__FILE_SYMLINK;
	e.path = (char *)path;
	e.link = (char *)target;
	send_entry_msg(fd, &e);
}

static void send_planted(int fd, const char *path)
{
	Bproc__FileEntry e = BPROC__FILE_ENTRY__INIT;

	e.type = BPROC__FILE_TYPE__FILE_REGULAR;
	e.path = (char *)path;
	e.mode = 0644;
	e.has_size = true;
	e.size = 4;
	send_entry_msg(fd, &e);
	cr_assert_eq(write(fd, "evil", 4), 4);
}

/* A single source (the destination d does not exist) is made in d's
 * parent: the sender makes d a link to a name beside it, then sends a
 * second top-level entry, to be written through the link.  Refused, and
 * nothing beside d (found by fuzz-file_stream). */
Test(file_stream, single_source_is_one_entry)
{
	char base[] = "/var/tmp/fs-one.XXXXXX", dest[PATH_MAX], path[PATH_MAX];
	struct file_opts o = { .prefix = "" };
	struct file_result res = { 0 };
	int sv[2];

	cr_assert_not_null(mkdtemp(base));
	snprintf(dest, sizeof(dest), "%s/d", base);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	send_link(sv[0], "x", "zetc");
	send_planted(sv[0], "x.planted");
	send_end_msg(sv[0]);
	cr_assert_eq(file_receive(sv[1], dest, &o, &res), -EBADMSG);
	snprintf(path, sizeof(path), "%s/zetc", base);
	cr_assert_eq(access(path, F_OK), -1, "a file was written beside the destination");
	close(sv[0]);
	close(sv[1]);
	snprintf(path, sizeof(path), "rm -rf %s", base);
	cr_assert_eq(system(path), 0);
	file_result_free(&res);
}

/* A single source that is a directory: what is in it is opened beneath
 * the destination, so a link in it to a name beside the destination
 * ("../zetc") leads nowhere the files may go. */
Test(file_stream, single_directory_keeps_below_the_destination)
{
	char base[] = "/var/tmp/fs-dir.XXXXXX", dest[PATH_MAX], path[PATH_MAX];
	struct file_opts o = { .prefix = "" };
	struct file_result res = { 0 };
	Bproc__FileEntry dir = BPROC__FILE_ENTRY__INIT, end = BPROC__FILE_ENTRY__INIT;
	int sv[2];

	cr_assert_not_null(mkdtemp(base));
	snprintf(dest, sizeof(dest), "%s/d", base);
	snprintf(path, sizeof(path), "%s/zetc", base);
	cr_assert_eq(mkdir(path, 0755), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	dir.type = BPROC__FILE_TYPE__FILE_DIRECTORY;
	dir.path = "x";
	dir.mode = 0755;
	send_entry_msg(sv[0], &dir);
	send_link(sv[0], "x/l", "../zetc");
	send_planted(sv[0], "x/l/planted");
	end.type = BPROC__FILE_TYPE__FILE_DIRECTORY_END;
	end.path = "x";
	end.mode = 0755;
	send_entry_msg(sv[0], &end);
	send_end_msg(sv[0]);
	cr_assert_eq(file_receive(sv[1], dest, &o, &res), 0);
	snprintf(path, sizeof(path), "%s/zetc/planted", base);
	cr_assert_eq(access(path, F_OK), -1, "a file was written beside the destination");
	cr_assert_eq(res.nerrors, 1);
	cr_assert(strstr(res.errors[0], "leads out of the destination"), "%s", res.errors[0]);
	/* The link itself is copied, as cp -r would. */
	snprintf(path, sizeof(path), "%s/d/l", base);
	cr_assert_eq(faccessat(AT_FDCWD, path, F_OK, AT_SYMLINK_NOFOLLOW), 0);
	close(sv[0]);
	close(sv[1]);
	snprintf(path, sizeof(path), "rm -rf %s", base);
	cr_assert_eq(system(path), 0);
	file_result_free(&res);
}
