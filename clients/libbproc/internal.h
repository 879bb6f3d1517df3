/*
 * internal.h - what one file of libbproc uses of another.  Not installed;
 * the names start with libbproc_, which libbproc.sym keeps inside.
 */
#ifndef BPROC_LIBBPROC_INTERNAL_H
#define BPROC_LIBBPROC_INTERNAL_H

#include "bproc.h"

/* Put each io entry on its fd (execmove.c).  0, or -1 with errno. */
int libbproc_io_setup(const struct bproc_io_t *io, int iolen);

/* A connection to the local daemon (libbproc.c): an fd, or -errno /
 * -BE_NOMASTER. */
int libbproc_connect(void);
/* What bproc_errmsg() says next ("" or NULL: nothing). */
void libbproc_set_errmsg(const char *text);

#endif
