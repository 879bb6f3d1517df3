/*
 * test-criu.c - unit tests for migrate/criu.c: choosing the CRIU binary
 * and reading its version.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
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
