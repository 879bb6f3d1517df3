/*
 * criu.h - finding and asking the CRIU binary that does our checkpoints.
 *
 * bproc does not link CRIU: it runs the `criu` program (a binary or the
 * wrapper that scripts/install-deps writes for a private prefix, see
 * docs/criu.md).  Which one is chosen, first match wins:
 *
 *   1. the environment variable BPROC_CRIU,
 *   2. the `criu` key of the configuration file,
 *   3. /opt/bproc/criu/criu (the private prefix),
 *   4. `criu` in PATH.
 */
#ifndef BPROC_CRIU_H
#define BPROC_CRIU_H

#include <stddef.h>

#define CRIU_ENV "BPROC_CRIU"
#define CRIU_PRIVATE_PREFIX "/opt/bproc/criu"

/* Put the path of the CRIU to use in path.  configured may be NULL.
 * 0, or -ENOENT when none is executable, -ENAMETOOLONG. */
int criu_locate(const char *configured, char *path, size_t len);

/*
 * The private prefix's `criu` is a /bin/sh wrapper that runs CRIU through
 * its own loader; starting that shell costs 3-4 ms on every dump, restore
 * and page server.  scripts/install-deps also writes CRIU_PRIVATE_PREFIX
 * "/launch": three lines, the loader, its library path and CRIU's binary,
 * which criu_exec() runs directly.
 */
#define CRIU_LAUNCH_FILE CRIU_PRIVATE_PREFIX "/launch"
#define CRIU_EXEC_MAX_ARGS 128

struct criu_launch {
	const char *loader;
	const char *libdirs;
	const char *binary;
};

/* Split a launch file's text (changed in place) into l: 0, or -EINVAL
 * unless it is three absolute paths, one a line. */
int criu_parse_launch(char *text, struct criu_launch *l);

/* execv() CRIU: argv[0] is what criu_locate() gave.  The private prefix's
 * wrapper is run without its shell when its launch file is there; any
 * other CRIU as it is.  Returns only on failure, -errno.  Allocates
 * nothing (it runs in a forked child). */
int criu_exec(char *const argv[]);

/* Run `criu --version` and put its version ("4.2.1") in buf.
 * 0, or -errno (-EPROTO when the output is not understood). */
int criu_version(const char *criu, char *buf, size_t len);

/* Parse the output of `criu --version` ("Version: 4.2.1\n...").
 * Split out of criu_version() so it can be tested. */
int criu_parse_version(const char *text, char *buf, size_t len);

#endif
