/*
 * internal.h - what one file of libbproc uses of another.  Not installed;
 * the names start with libbproc_, which libbproc.sym keeps inside.
 */
#ifndef BPROC_LIBBPROC_INTERNAL_H
#define BPROC_LIBBPROC_INTERNAL_H

#include <stdbool.h>
#include <sys/types.h>

#include "bproc.h"
#include "frame.h"

/* Put each io entry on its fd (execmove.c).  0, or -1 with errno. */
int libbproc_io_setup(const struct bproc_io_t *io, int iolen);

/* A connection to the local daemon (libbproc.c): an fd, or -errno /
 * -BE_NOMASTER. */
int libbproc_connect(void);
/* What bproc_errmsg() says next ("" or NULL: nothing). */
void libbproc_set_errmsg(const char *text);

/* bproc_execmove's tracing (execmove.c).  One stop of prog, traced,
 * waited for if block: 0 at its exec, 1 not yet (a stop passed on), -1 it
 * ended (reaped).  let_go: untrace prog, running or stopped. */
int libbproc_exec_stop(pid_t prog, bool block);
void libbproc_let_go(pid_t prog);

/* bproc_vexecmove's exec first (vexec_template.c). */
int libbproc_template_trace(pid_t child, int go, int ex);
int libbproc_template_launch(Msg *req, pid_t child, int node);

#endif
