/*
 * image_state.c - a process's state at its dump, from core-PID.img.  See
 * image_state.h.
 *
 * The file, from CRIU's criu/image.c: IMG_COMMON_MAGIC, CORE_MAGIC, then
 * one entry, a u32 length (host byte order) and a core_entry in protobuf,
 * of which we decode the task's state and stop signal
 * (images/criu_image.proto); the rest, registers and all, is skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "criu_image.pb-c.h"
#include "image_state.h"
#include "log.h"
#include "util.h"

#define IMG_COMMON_MAGIC 0x54564319u
#define CORE_MAGIC 0x55053847u
/* CRIU's TASK_STOPPED (criu/include/pstree.h, images/core.proto). */
#define CRIU_TASK_STOPPED 3
/* A core entry is a few KiB (registers, FPU state): bigger is damage. */
#define CORE_MAX (1u << 20)

int image_stop_signal(const char *dir, pid_t pid)
{
	char path[512];
	uint32_t head[3];
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_close_ int fd = -1;
	Bproc__CriuCore *core;
	ssize_t n;
	int sig = 0;

	snprintf(path, sizeof(path), "%s/core-%d.img", dir, (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read_upto(fd, head, sizeof(head));
	if (n < 0)
		return (int)n;
	if (n != sizeof(head) || head[0] != IMG_COMMON_MAGIC || head[1] != CORE_MAGIC ||
	    head[2] > CORE_MAX) {
		pr_err("%s: not a CRIU core image", path);
		return -EINVAL;
	}
	buf = malloc(head[2] ? head[2] : 1);
	if (!buf)
		return -ENOMEM;
	n = read_upto(fd, buf, head[2]);
	if (n < 0)
		return (int)n;
	if ((size_t)n != head[2]) {
		pr_err("%s: truncated", path);
		return -EINVAL;
	}
	core = bproc__criu_core__unpack(NULL, head[2], buf);
	if (!core) {
		pr_err("%s: not a core entry", path);
		return -EINVAL;
	}
	if (core->tc && core->tc->has_task_state && core->tc->task_state == CRIU_TASK_STOPPED) {
		sig = core->tc->has_stop_signo ? (int)core->tc->stop_signo : 0;
		/* What CRIU itself stops it with when it has no signal. */
		if (!is_stop_signal(sig))
			sig = SIGSTOP;
	}
	bproc__criu_core__free_unpacked(core, NULL);
	return sig;
}
