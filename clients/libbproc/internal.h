/*
 * internal.h - what one file of libbproc uses of another.  Not installed;
 * the names start with libbproc_, which libbproc.sym keeps inside.
 */
#ifndef BPROC_LIBBPROC_INTERNAL_H
#define BPROC_LIBBPROC_INTERNAL_H

#include "bproc.h"

/* Put each io entry on its fd (execmove.c).  0, or -1 with errno. */
int libbproc_io_setup(const struct bproc_io_t *io, int iolen);

#endif
