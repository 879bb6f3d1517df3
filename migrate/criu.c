/*
 * criu.c - locate the CRIU program and ask its version.
 *
 * Everything that runs CRIU (dump, restore, page server) starts from the
 * path chosen here; see criu.h for the order of preference and
 * docs/criu.md for why a private copy of CRIU may be needed at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "criu.h"
#include "log.h"
#include "util.h"

static int set_path(char *path, size_t len, const char *value)
{
	if (strlen(value) >= len)
		return -ENAMETOOLONG;
	strcpy(path, value);
	return 0;
}

static bool is_executable(const char *p)
{
	return p && p[0] && access(p, X_OK) == 0;
}

static int search_path(const char *name, char *path, size_t len)
{
	const char *env = getenv("PATH");
	_cleanup_free_ char *copy = strdup(env && env[0] ? env : "/usr/sbin:/usr/bin:/sbin:/bin");
	char *save = NULL;

	if (!copy)
		return -ENOMEM;
	for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		char candidate[PATH_MAX];

		if (snprintf(candidate, sizeof(candidate), "%s/%s", dir, name) >= (int)sizeof(candidate))
			continue;
		if (is_executable(candidate))
			return set_path(path, len, candidate);
	}
	return -ENOENT;
}

int criu_locate(const char *configured, char *path, size_t len)
{
	const char *env = getenv(CRIU_ENV);

	if (env && env[0]) {
		if (!is_executable(env)) {
			pr_err("%s=%s is not an executable file", CRIU_ENV, env);
			return -ENOENT;
		}
		return set_path(path, len, env);
	}
	if (configured && configured[0]) {
		if (!is_executable(configured)) {
			pr_err("criu %s (from the configuration) is not an executable file", configured);
			return -ENOENT;
		}
		return set_path(path, len, configured);
	}
	if (is_executable(CRIU_PRIVATE_PREFIX "/criu"))
		return set_path(path, len, CRIU_PRIVATE_PREFIX "/criu");
	return search_path("criu", path, len);
}

int criu_parse_launch(char *text, struct criu_launch *l)
{
	const char **fields[] = { &l->loader, &l->libdirs, &l->binary };
	char *line = text;

	for (size_t i = 0; i < 3; i++) {
		char *end = strchr(line, '\n');

		if (!end || line[0] != '/')
			return -EINVAL;
		*end = '\0';
		*fields[i] = line;
		line = end + 1;
	}
	return line[0] == '\0' ? 0 : -EINVAL;
}

int criu_exec(char *const argv[])
{
	char text[4096];
	struct criu_launch l;
	const char *full[CRIU_EXEC_MAX_ARGS];
	size_t argc = 0;
	ssize_t n = -1;
	int fd;

	while (argv[argc])
		argc++;
	if (strcmp(argv[0], CRIU_PRIVATE_PREFIX "/criu") == 0 && argc + 4 <= CRIU_EXEC_MAX_ARGS) {
		fd = open(CRIU_LAUNCH_FILE, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			n = read(fd, text, sizeof(text) - 1);
			close(fd);
		}
	}
	if (n > 0) {
		text[n] = '\0';
		if (criu_parse_launch(text, &l) == 0 && access(l.loader, X_OK) == 0) {
			full[0] = l.loader;
			full[1] = "--library-path";
			full[2] = l.libdirs;
			full[3] = l.binary;
			for (size_t i = 1; i <= argc; i++) /* its NULL too */
				full[3 + i] = argv[i];
			execv(l.loader, (char *const *)full);
		}
	}
	execv(argv[0], argv);
	return -errno;
}

int criu_parse_version(const char *text, char *buf, size_t len)
{
	const char *p = strstr(text, "Version:");
	size_t n;

	if (!p)
		return -EPROTO;
	p += strlen("Version:");
	p += strspn(p, " \t");
	n = strspn(p, "0123456789.");
	if (n == 0)
		return -EPROTO;
	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return 0;
}

int criu_version(const char *criu, char *buf, size_t len)
{
	char out[512];
	size_t used = 0;
	int pipefd[2], status;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int r = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return r;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		dup2(devnull, STDIN_FILENO);
		dup2(pipefd[1], STDOUT_FILENO);
		dup2(devnull, STDERR_FILENO);
		execl(criu, criu, "--version", (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	for (;;) {
		ssize_t n = read(pipefd[0], out + used, sizeof(out) - 1 - used);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += n;
		if (used == sizeof(out) - 1)
			break;
	}
	out[used] = '\0';
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -ENOEXEC;
	return criu_parse_version(out, buf, len);
}
