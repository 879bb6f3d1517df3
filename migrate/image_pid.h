/*
 * image_pid.h - make a CRIU image directory of one process restore under
 * another pid, so that one dump can be restored on many nodes, each copy
 * with its own pid.
 *
 * CRIU names some image files after the pid (core-PID.img, mm-PID.img...)
 * and records the pid in pstree.img; image_copy_for_pid() renames the
 * first and rewrites the second.  Everything else is hard-linked, so a
 * copy costs one small file whatever the size of the pages.
 */
#ifndef BPROC_IMAGE_PID_H
#define BPROC_IMAGE_PID_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Fill to_dir (which exists and is empty) with the images in from_dir,
 * dumped from the single-threaded process old_pid, as they would be had
 * it been new_pid: "*-OLD.img" becomes "*-NEW.img" (hard links, copies
 * across filesystems), pstree.img is written anew with OLD replaced by NEW,
 * *.log files are left out.  0, or -errno with why in err: -EINVAL for an
 * image of more than one process or thread, or of another pid than
 * old_pid, or a damaged pstree.img (then to_dir is left empty; after
 * other failures it may hold some files, for the caller to remove).
 */
int image_copy_for_pid(const char *from_dir, pid_t old_pid, const char *to_dir, pid_t new_pid,
		       char *err, size_t errlen);

/* The pid, process group and session of the first process in dir's
 * pstree.img.  0 or -errno (logged). */
int image_pstree_read(const char *dir, pid_t *pid, pid_t *pgid, pid_t *sid);

#endif
