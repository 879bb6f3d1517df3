/*
 * fuzz-image.c - libFuzzer target for the CRIU images we read ourselves:
 * pstree.img (migrate/image_pid.c: the pid of a dump, and the copy of a
 * dump under another pid that every node of a launch gets) and core-PID.img
 * (migrate/image_state.c: how the process was stopped).  An image comes
 * from a dump on another machine, so it is outside input like a frame.
 *
 * The first byte says which file the rest is.  What must hold: a pstree
 * that reads well copies to another pid and reads back as that pid; a
 * core gives a stop signal, none, or an error; nothing crashes or leaks.
 */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image_pid.h"
#include "image_state.h"

#define FUZZ_PID 4242
#define NEW_PID 31337

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char from_dir[64], to_dir[64];

static void empty_dir(const char *dir);

static void remove_dirs(void)
{
	empty_dir(from_dir);
	empty_dir(to_dir);
	rmdir(from_dir);
	rmdir(to_dir);
}

static void write_file(const char *dir, const char *name, const uint8_t *data, size_t size)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
}

static void empty_dir(const char *dir)
{
	char path[512];
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		abort();
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	closedir(d);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Refusals are logged: not into the fuzzer's output (its own
	 * messages and the sanitizers' reports keep their descriptor). */
	stderr = fopen("/dev/null", "we");
	snprintf(from_dir, sizeof(from_dir), "/tmp/bproc-fuzz-image-%d", (int)getpid());
	snprintf(to_dir, sizeof(to_dir), "%s-to", from_dir);
	if (mkdir(from_dir, 0700) < 0 || mkdir(to_dir, 0700) < 0)
		abort();
	atexit(remove_dirs);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512], name[32];
	pid_t pid, pgid, sid;
	int r;

	if (size < 1)
		return 0;
	empty_dir(from_dir);
	empty_dir(to_dir);
	if (data[0] & 1) {
		snprintf(name, sizeof(name), "core-%d.img", FUZZ_PID);
		write_file(from_dir, name, data + 1, size - 1);
		r = image_stop_signal(from_dir, FUZZ_PID);
		if (r > 0 && r != SIGSTOP && r != SIGTSTP && r != SIGTTIN && r != SIGTTOU)
			abort();
		return 0;
	}
	write_file(from_dir, "pstree.img", data + 1, size - 1);
	if (image_pstree_read(from_dir, &pid, &pgid, &sid) < 0)
		return 0;
	err[0] = '\0';
	r = image_copy_for_pid(from_dir, pid, to_dir, NEW_PID, err, sizeof(err));
	if (r < 0) {
		if (!err[0])
			abort(); /* every refusal says why */
		return 0;
	}
	/* pid 0 is refused above (-EINVAL): a copy is always of a real pid. */
	if (image_pstree_read(to_dir, &pid, NULL, NULL) < 0 || pid != NEW_PID)
		abort();
	return 0;
}
