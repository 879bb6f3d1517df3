/*
 * image_state.h - how a process was when CRIU dumped it, read from its
 * images: running, or in a group stop (and with which signal).
 *
 * A process moved while stopped must stay stopped where it is restored:
 * the restore brings every process back stopped until the commit, so the
 * one that decides what runs (the slave) asks the images which ones were.
 */
#ifndef BPROC_IMAGE_STATE_H
#define BPROC_IMAGE_STATE_H

#include <sys/types.h>

/*
 * The signal that stopped pid (as the dump saw it, its pid in the dumped
 * namespace) if its core image in dir says it was dumped in a group stop
 * (SIGSTOP when CRIU did not record which); 0 if it was not; -errno if
 * the image cannot be read (-ENOENT: none for that pid).
 */
int image_stop_signal(const char *dir, pid_t pid);

#endif
