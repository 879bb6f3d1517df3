/*
 * test-criu.c - unit tests for migrate/criu.c: choosing the CRIU binary
 * and reading its version.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "criu.h"

Test(criu, parses_version_line)
{
	char v[32];

	cr_assert_eq(criu_parse_version("Version: 4.2.1\nGitID: v4.2.1\n", v, sizeof(v)), 0);
	cr_assert_str_eq(v, "4.2.1");
	cr_assert_eq(criu_parse_version("Version: 3.17\n", v, sizeof(v)), 0);
	cr_assert_str_eq(v, "3.17");
}

Test(criu, rejects_other_output)
{
	char v[32];

	cr_assert_eq(criu_parse_version("", v, sizeof(v)), -EPROTO);
	cr_assert_eq(criu_parse_version("criu: command not found", v, sizeof(v)), -EPROTO);
	cr_assert_eq(criu_parse_version("Version: banana", v, sizeof(v)), -EPROTO);
}

Test(criu, version_does_not_overflow)
{
	char v[4];

	cr_assert_eq(criu_parse_version("Version: 4.2.1", v, sizeof(v)), -ENAMETOOLONG);
}

Test(criu, environment_wins)
{
	char p[256];

	setenv(CRIU_ENV, "/bin/true", 1);
	cr_assert_eq(criu_locate("/bin/false", p, sizeof(p)), 0);
	cr_assert_str_eq(p, "/bin/true");
	unsetenv(CRIU_ENV);
}

Test(criu, configured_path_used)
{
	char p[256];

	unsetenv(CRIU_ENV);
	cr_assert_eq(criu_locate("/bin/false", p, sizeof(p)), 0);
	cr_assert_str_eq(p, "/bin/false");
}

Test(criu, missing_paths_refused)
{
	char p[256];

	setenv(CRIU_ENV, "/nonexistent/criu", 1);
	cr_assert_eq(criu_locate(NULL, p, sizeof(p)), -ENOENT);
	unsetenv(CRIU_ENV);
	cr_assert_eq(criu_locate("/nonexistent/criu", p, sizeof(p)), -ENOENT);
}

Test(criu, falls_back_to_path)
{
	char p[256];

	unsetenv(CRIU_ENV);
	if (access(CRIU_PRIVATE_PREFIX "/criu", X_OK) == 0)
		cr_skip_test("a private CRIU is installed; PATH is not consulted");
	setenv("PATH", "/nonexistent", 1);
	cr_assert_eq(criu_locate(NULL, p, sizeof(p)), -ENOENT);
}

Test(criu, version_of_a_failing_program)
{
	char v[32];

	cr_assert_lt(criu_version("/bin/false", v, sizeof(v)), 0);
}

Test(criu, launch_file_is_three_absolute_paths)
{
	char good[] = "/p/ld.so\n/p/lib:/p/usr/lib\n/p/criu\n";
	char short_text[] = "/p/ld.so\n/p/lib\n";
	char relative[] = "ld.so\n/p/lib\n/p/criu\n";
	char extra[] = "/p/ld.so\n/p/lib\n/p/criu\n/more\n";
	struct criu_launch l;

	cr_assert_eq(criu_parse_launch(good, &l), 0);
	cr_expect_str_eq(l.loader, "/p/ld.so");
	cr_expect_str_eq(l.libdirs, "/p/lib:/p/usr/lib");
	cr_expect_str_eq(l.binary, "/p/criu");
	cr_expect_eq(criu_parse_launch(short_text, &l), -EINVAL);
	cr_expect_eq(criu_parse_launch(relative, &l), -EINVAL);
	cr_expect_eq(criu_parse_launch(extra, &l), -EINVAL);
}

/* Any CRIU but the private prefix's runs as it is, with its arguments. */
Test(criu, exec_runs_another_program_as_it_is)
{
	char *const shell[] = { "/bin/sh", "-c", "exit 3", NULL };
	int status;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		criu_exec(shell);
		_exit(127);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 3);
}

/* The private CRIU, through its launch file, gets its arguments. */
Test(criu, exec_runs_the_private_criu_through_its_launch_file)
{
	char *const version[] = { CRIU_PRIVATE_PREFIX "/criu", "--version", NULL };
	int out[2], status;
	char text[256] = "";
	pid_t pid;

	if (access(CRIU_LAUNCH_FILE, R_OK) != 0)
		cr_skip_test("no %s here", CRIU_LAUNCH_FILE);
	cr_assert_eq(pipe(out), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		criu_exec(version);
		_exit(127);
	}
	close(out[1]);
	cr_assert_gt(read(out[0], text, sizeof(text) - 1), 0);
	close(out[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_expect(strstr(text, "Version:") != NULL, "criu --version said: %s", text);
}
