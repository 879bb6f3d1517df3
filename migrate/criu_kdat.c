/*
 * criu_kdat.c - give CRIU a kernel-feature cache on hosts whose /run is
 * not a tmpfs.  See criu_kdat.h for why.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "criu.h"
#include "criu_kdat.h"
#include "log.h"
#include "util.h"

#define TMPFS_MAGIC_NUMBER 0x01021994

static bool is_tmpfs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == TMPFS_MAGIC_NUMBER;
}

static int run_quietly(const char *criu, const char *arg)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		dup2(devnull, STDERR_FILENO);
		char *const argv[] = { (char *)criu, (char *)arg, NULL };

		criu_exec(argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECANCELED;
}

/* In a child: a private /run (tmpfs), `criu check` writes its cache there,
 * and the cache is copied into out, a file of the host's /run. */
static void __attribute__((noreturn)) make_cache_child(const char *criu, int out)
{
	char buf[65536];
	int in;
	ssize_t n;

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("bproc-kdat", "/run", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=1m") < 0)
		_exit(2);
	if (run_quietly(criu, "check") < 0)
		_exit(3);
	in = open(CRIU_KDAT_FILE, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		_exit(4);
	n = read(in, buf, sizeof(buf));
	if (n <= 0 || write_full(out, buf, (size_t)n) < 0)
		_exit(5);
	_exit(0);
}

int criu_kdat_prepare(const char *criu)
{
	_cleanup_close_ int out = -1;
	char tmp[64];
	int status;
	pid_t pid;

	if (is_tmpfs("/run"))
		return 0; /* CRIU keeps its cache by itself */
	/*
	 * Every daemon of a test cluster shares this /run, and they start
	 * together: each makes its cache in a file of its own and renames it
	 * over the old one, so that CRIU never finds none meanwhile (a dump
	 * whose CRIU is not root cannot probe the kernel: criu_run.c).
	 */
	snprintf(tmp, sizeof(tmp), "%s.bproc-%d", CRIU_KDAT_FILE, (int)getpid());
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int r = -errno;

		unlink(tmp);
		return r;
	}
	if (pid == 0)
		make_cache_child(criu, out);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			break;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		pr_warn("cannot make CRIU's kernel-feature cache (step %d); CRIU runs without it",
			WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		unlink(tmp);
		/* A cache left from before may be another kernel's or CRIU's. */
		unlink(CRIU_KDAT_FILE);
		return -ECANCELED;
	}
	if (rename(tmp, CRIU_KDAT_FILE) < 0) {
		int r = -errno;

		unlink(tmp);
		return r;
	}
	return 0;
}
