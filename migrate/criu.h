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

/* Run `criu --version` and put its version ("4.2.1") in buf.
 * 0, or -errno (-EPROTO when the output is not understood). */
int criu_version(const char *criu, char *buf, size_t len);

/* Parse the output of `criu --version` ("Version: 4.2.1\n...").
 * Split out of criu_version() so it can be tested. */
int criu_parse_version(const char *text, char *buf, size_t len);

#endif
