/*
 * execmove.c - bproc_execmove() and bproc_rexec(): execve(), but the program
 * runs on a node; and BProc's _io forms of them and of bproc_rfork(), which
 * set up fds on the node (a file opened from the node's files, a TCP
 * connection made from its address) before returning or exec'ing: what
 * BProc's bpsh used for -I/-O/-E.
 *
 * The caller moves itself to the node first (bproc_move: freeze, dump,
 * restore there, ghost on the master, commit) and then calls execve()
 * there, so the program never runs an instruction on the master and the
 * node needs nothing but bpslave and the program's files.  Moving first
 * keeps the failure simple: a move that fails leaves the caller where it
 * was, unchanged, and bproc_execmove returns -1 like a failed execve.
 *
 * Tried first, and left (see docs/migration.md): exec on the master, stop
 * the new program at its exec event with a ptrace helper, and move it
 * stopped.  CRIU restores a task dumped in a group stop in ways the commit
 * does not undo (seen: the copy left in state T after the commit, or gone
 * before the slave looked for it).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bproc.h"
#include "internal.h"

/* Put one io entry on its fd.  0, or -1 with errno. */
static int io_setup_one(const struct bproc_io_t *io)
{
	int fd, saved;

	switch (io->type) {
	case BPROC_IO_FILE:
		if (strnlen(io->d.file.name, BPROC_IO_MAX_LEN) == BPROC_IO_MAX_LEN) {
			errno = ENAMETOOLONG;
			return -1;
		}
		fd = open(io->d.file.name, io->d.file.flags | O_CLOEXEC, io->d.file.mode);
		if (fd >= 0 && io->d.file.offset && lseek(fd, io->d.file.offset, SEEK_SET) < 0) {
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		break;
	case BPROC_IO_SOCKET:
		if (io->d.addr.sa_family != AF_INET) {
			errno = EAFNOSUPPORT;
			return -1;
		}
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, &io->d.addr, sizeof(struct sockaddr_in)) < 0) {
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		break;
	default:
		errno = ENOTSUP;
		return -1;
	}
	if (fd < 0)
		return -1;
	if (fd == io->fd)
		return fcntl(fd, F_SETFD, 0) < 0 ? -1 : 0; /* no close-on-exec */
	if (dup2(fd, io->fd) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	close(fd);
	return 0;
}

int libbproc_io_setup(const struct bproc_io_t *io, int iolen)
{
	if (iolen < 0 || (iolen > 0 && !io)) {
		errno = EINVAL;
		return -1;
	}
	for (int i = 0; i < iolen; i++)
		if (io_setup_one(&io[i]) < 0)
			return -1;
	return 0;
}

int bproc_rfork_io(int node, const struct bproc_io_t *io, int iolen)
{
	int pid;

	if (iolen < 0 || (iolen > 0 && !io)) {
		errno = EINVAL;
		return -1;
	}
	pid = bproc_rfork(node);
	if (pid == 0 && libbproc_io_setup(io, iolen) < 0)
		_exit(127);
	return pid;
}

/* Here, execmove and rexec are one: move, set up, exec from the node. */
static int move_io_exec(int node, const struct bproc_io_t *io, int iolen, const char *cmd,
			char *const argv[], char *const envp[])
{
	int here = bproc_currnode();

	if (!cmd || !argv || !envp || iolen < 0 || (iolen > 0 && !io)) {
		errno = EINVAL;
		return -1;
	}
	if (here == BPROC_NODE_NONE)
		return -1;
	if (node != here) {
		/* What execve would refuse, refused while we are still here. */
		if (access(cmd, X_OK) < 0)
			return -1;
		if (bproc_move(node) < 0)
			return -1;
	}
	if (libbproc_io_setup(io, iolen) < 0)
		return -1;
	return execve(cmd, argv, envp);
}

int bproc_execmove_io(int node, const struct bproc_io_t *io, int iolen, const char *cmd,
		      char *const argv[], char *const envp[])
{
	return move_io_exec(node, io, iolen, cmd, argv, envp);
}

int bproc_rexec_io(int node, const struct bproc_io_t *io, int iolen, const char *cmd,
		   char *const argv[], char *const envp[])
{
	return move_io_exec(node, io, iolen, cmd, argv, envp);
}

int bproc_rexec(int node, const char *cmd, char *const argv[], char *const envp[])
{
	return move_io_exec(node, NULL, 0, cmd, argv, envp);
}

int bproc_execmove(int node, const char *cmd, char *const argv[], char *const envp[])
{
	return move_io_exec(node, NULL, 0, cmd, argv, envp);
}
