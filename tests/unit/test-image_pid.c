/*
 * test-image_pid.c - migrate/image_pid.c: the images of pid OLD made into
 * images of pid NEW.  On a fake image directory: the names, the hard
 * links, the rewritten pstree.img (an unknown field kept), the images it
 * must refuse; then on a real CRIU dump, which is also restored as NEW.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "criu.h"
#include "criu_image.pb-c.h"
#include "image_pid.h"

#define OLD 568
#define NEW 4321
#define IMG_COMMON_MAGIC 0x54564319u
#define PSTREE_MAGIC 0x50273030u
#define CRIU CRIU_PRIVATE_PREFIX "/criu"

typedef Bproc__CriuPstreeEntry PstreeEntry;

static char from_dir[64], to_dir[64];

static void rm_dir(char *dir)
{
	DIR *d;
	struct dirent *de;

	if (!dir[0] || !(d = opendir(dir)))
		return;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	rmdir(dir);
	dir[0] = '\0';
}

static void cleanup(void)
{
	rm_dir(from_dir);
	rm_dir(to_dir);
}

static void make_dirs(const char *to_parent)
{
	snprintf(from_dir, sizeof(from_dir), "/tmp/bproc-test-image-XXXXXX");
	snprintf(to_dir, sizeof(to_dir), "%s/bproc-test-image-XXXXXX", to_parent);
	cr_assert_not_null(mkdtemp(from_dir));
	cr_assert_not_null(mkdtemp(to_dir));
}

static void put(const char *dir, const char *name, const void *data, size_t len)
{
	char path[640];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* The file's bytes (malloc'd) and length; NULL if it is not there. */
static uint8_t *get(const char *dir, const char *name, size_t *len)
{
	char path[640];
	struct stat st;
	uint8_t *buf;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	cr_assert_eq(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	cr_assert_eq(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

static bool exists(const char *dir, const char *name)
{
	char path[640];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	cr_assert_not_null(d);
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

/* A pstree.img of n processes, each with the given threads; extra bytes
 * (a field we do not know) follow each packed entry. */
static size_t make_pstree(uint8_t *buf, int n, uint32_t *threads, size_t nthreads,
			  const uint8_t *extra, size_t nextra)
{
	uint32_t magic[2] = { IMG_COMMON_MAGIC, PSTREE_MAGIC };
	size_t at = sizeof(magic);

	memcpy(buf, magic, sizeof(magic));
	for (int i = 0; i < n; i++) {
		PstreeEntry e = BPROC__CRIU_PSTREE_ENTRY__INIT;
		uint32_t len;

		e.pid = OLD + (uint32_t)i;
		e.ppid = i ? OLD : 1;
		e.pgid = 50;
		e.sid = OLD;
		e.threads = threads;
		e.n_threads = nthreads;
		len = (uint32_t)(bproc__criu_pstree_entry__get_packed_size(&e) + nextra);
		memcpy(buf + at, &len, sizeof(len));
		at += sizeof(len);
		at += bproc__criu_pstree_entry__pack(&e, buf + at);
		if (nextra)
			memcpy(buf + at, extra, nextra);
		at += nextra;
	}
	return at;
}

TestSuite(image_pid, .fini = cleanup);

Test(image_pid, files_linked_and_renamed_pstree_rewritten)
{
	/* Field 15, varint 7: unknown to us, to be kept. */
	static const uint8_t extra[] = { 15 << 3, 7 };
	uint32_t threads[] = { OLD };
	uint8_t img[256], *data;
	const char *kept[][2] = {
		{ "core-568.img", "core-4321.img" }, { "mm-568.img", "mm-4321.img" },
		{ "pages-1.img", "pages-1.img" }, { "files.img", "files.img" },
		{ "core-1568.img", "core-1568.img" },
	};
	char err[256] = "";
	pid_t pid, pgid, sid;
	PstreeEntry *e;
	size_t len;
	uint32_t head[3];

	make_dirs("/tmp");
	put(from_dir, "pstree.img", img, make_pstree(img, 1, threads, 1, extra, sizeof(extra)));
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		put(from_dir, kept[i][0], kept[i][0], strlen(kept[i][0]));
	put(from_dir, "dump.log", "log", 3);
	put(from_dir, "restore.log", "log", 3);

	cr_assert_eq(image_copy_for_pid(from_dir, OLD, to_dir, NEW, err, sizeof(err)), 0, "%s", err);

	cr_expect_eq(count_files(to_dir), 6, "the 5 files and pstree.img, no logs");
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		char a[256], b[256];
		struct stat sa, sb;

		snprintf(a, sizeof(a), "%s/%s", from_dir, kept[i][0]);
		snprintf(b, sizeof(b), "%s/%s", to_dir, kept[i][1]);
		cr_assert_eq(stat(b, &sb), 0, "%s is missing", b);
		cr_assert_eq(stat(a, &sa), 0);
		cr_expect_eq(sa.st_ino, sb.st_ino, "%s is not a link of %s", b, a);
		data = get(to_dir, kept[i][1], &len);
		cr_expect(len == strlen(kept[i][0]) && !memcmp(data, kept[i][0], len));
		free(data);
	}
	cr_expect_not(exists(to_dir, "core-568.img"));

	data = get(to_dir, "pstree.img", &len);
	cr_assert_not_null(data);
	cr_assert_gt(len, sizeof(head));
	memcpy(head, data, sizeof(head));
	cr_expect_eq(head[0], IMG_COMMON_MAGIC);
	cr_expect_eq(head[1], PSTREE_MAGIC);
	cr_assert_eq(head[2], len - sizeof(head), "one entry, all of the file");
	e = bproc__criu_pstree_entry__unpack(NULL, head[2], data + sizeof(head));
	cr_assert_not_null(e);
	cr_expect_eq(e->pid, NEW);
	cr_expect_eq(e->ppid, 1);
	cr_expect_eq(e->pgid, 50);
	cr_expect_eq(e->sid, NEW);
	cr_assert_eq(e->n_threads, 1);
	cr_expect_eq(e->threads[0], NEW);
	cr_assert_eq(e->base.n_unknown_fields, 1, "the unknown field is kept");
	cr_expect_eq(e->base.unknown_fields[0].tag, 15);
	cr_expect_eq(e->base.unknown_fields[0].len, 1);
	cr_expect_eq(e->base.unknown_fields[0].data[0], 7);
	bproc__criu_pstree_entry__free_unpacked(e, NULL);
	free(data);

	cr_assert_eq(image_pstree_read(to_dir, &pid, &pgid, &sid), 0);
	cr_expect_eq(pid, NEW);
	cr_expect_eq(pgid, 50);
	cr_expect_eq(sid, NEW);
	/* The source is untouched. */
	cr_assert_eq(image_pstree_read(from_dir, &pid, NULL, &sid), 0);
	cr_expect(pid == OLD && sid == OLD);
}

static void expect_refused(const void *img, size_t len, pid_t old, const char *words)
{
	char err[256] = "";
	int r;

	put(from_dir, "pstree.img", img, len);
	put(from_dir, "core-568.img", "core", 4);
	r = image_copy_for_pid(from_dir, old, to_dir, NEW, err, sizeof(err));
	cr_assert_eq(r, -EINVAL, "%zu bytes: got %d (%s)", len, r, err);
	cr_assert(strstr(err, words), "'%s' should say '%s'", err, words);
	cr_assert_eq(count_files(to_dir), 0, "nothing is made of a refused image");
}

Test(image_pid, several_threads_or_processes_refused)
{
	uint32_t two[] = { OLD, OLD + 1 }, one[] = { OLD };
	uint8_t img[256];

	make_dirs("/tmp");
	expect_refused(img, make_pstree(img, 1, two, 2, NULL, 0), OLD, "threads");
	expect_refused(img, make_pstree(img, 2, one, 1, NULL, 0), OLD, "processes");
	expect_refused(img, make_pstree(img, 1, one, 1, NULL, 0), OLD + 1, "not 569");
}

Test(image_pid, damaged_pstree_refused)
{
	uint32_t threads[] = { OLD }, huge[3] = { IMG_COMMON_MAGIC, PSTREE_MAGIC, 2u << 20 };
	uint8_t img[256], bad[256];
	size_t len;

	make_dirs("/tmp");
	len = make_pstree(img, 1, threads, 1, NULL, 0);
	/* Cut anywhere: in the magics, the length, the entry. */
	for (size_t cut = 0; cut < len; cut++)
		expect_refused(img, cut, OLD, cut < 8 ? "header" : cut == 8 ? "no process" : "truncated");
	expect_refused(huge, sizeof(huge), OLD, "claims");
	memcpy(bad, img, len);
	bad[0] ^= 1;
	expect_refused(bad, len, OLD, "magic");
	/* Not protobuf: a field 1 of wire type 7. */
	memcpy(bad, img, len);
	bad[12] = 0x0f;
	expect_refused(bad, len, OLD, "not a pstree entry");
}

Test(image_pid, copied_across_filesystems)
{
	uint32_t threads[] = { OLD };
	uint8_t img[256], *data;
	char err[256] = "", a[256], b[256];
	struct stat sa, sb;
	size_t len;

	make_dirs("/dev/shm");
	cr_assert_eq(stat(from_dir, &sa), 0);
	cr_assert_eq(stat(to_dir, &sb), 0);
	if (sa.st_dev == sb.st_dev)
		cr_skip_test("/tmp and /dev/shm are one filesystem");
	put(from_dir, "pstree.img", img, make_pstree(img, 1, threads, 1, NULL, 0));
	put(from_dir, "mm-568.img", "some memory", 11);

	cr_assert_eq(image_copy_for_pid(from_dir, OLD, to_dir, NEW, err, sizeof(err)), 0, "%s", err);
	snprintf(a, sizeof(a), "%s/mm-568.img", from_dir);
	snprintf(b, sizeof(b), "%s/mm-4321.img", to_dir);
	cr_assert_eq(stat(a, &sa), 0);
	cr_assert_eq(stat(b, &sb), 0);
	cr_expect_eq(sb.st_mode & 07777, 0600);
	data = get(to_dir, "mm-4321.img", &len);
	cr_expect(len == 11 && !memcmp(data, "some memory", 11));
	free(data);
}

/* --- a real dump -------------------------------------------------------- */

static pid_t sleeper;

static void stop_sleeper(void)
{
	if (sleeper > 0) {
		kill(sleeper, SIGKILL);
		waitpid(sleeper, NULL, 0);
	}
	sleeper = 0;
	cleanup();
}

/* Run CRIU with args and wait for it: its exit status. */
static int run_criu(const char *const *args)
{
	pid_t pid = fork(), r;
	int status;

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		execv(CRIU, (char *const *)args);
		_exit(127);
	}
	do
		r = waitpid(pid, &status, 0);
	while (r < 0 && errno == EINTR);
	cr_assert_eq(r, pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void show_log(const char *dir, const char *name)
{
	size_t len;
	uint8_t *log = get(dir, name, &len);

	if (log) {
		log[len] = '\0';
		cr_log_error("%s/%s:\n%s", dir, name, (char *)log);
		free(log);
	}
}

/* /bin/sleep, its own session leader, dumped (and so killed) by CRIU into
 * from_dir: its pid. */
static pid_t dump_sleeper(void)
{
	char pidstr[16];
	int p[2], status;
	pid_t pid;
	char c;

	if (geteuid() != 0 || access(CRIU, X_OK) != 0)
		cr_skip_test("needs root and " CRIU);
	make_dirs("/tmp");
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	sleeper = fork();
	cr_assert_geq(sleeper, 0);
	if (sleeper == 0) {
		int null = open("/dev/null", O_RDWR);

		setsid();
		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
			_exit(1);
		/* Nothing of the test runner's; the pipe closes at the exec:
		 * the parent knows it is sleep that it dumps. */
		syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
		execl("/bin/sleep", "sleep", "1000", (char *)NULL);
		_exit(1);
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &c, 1), 0);
	close(p[0]);
	cr_assert_eq(waitpid(sleeper, NULL, WNOHANG), 0, "sleep did not start");

	snprintf(pidstr, sizeof(pidstr), "%d", (int)sleeper);
	const char *dump[] = { "criu", "dump", "-t", pidstr, "-D", from_dir, "--shell-job",
			       "-v1", "-o", "dump.log", NULL };
	if (run_criu(dump) != 0) {
		show_log(from_dir, "dump.log");
		cr_assert_fail("criu dump failed");
	}
	/* CRIU killed it after the dump. */
	cr_assert_eq(waitpid(sleeper, &status, 0), sleeper);
	cr_assert(WIFSIGNALED(status));
	pid = sleeper;
	sleeper = 0;
	return pid;
}

Test(image_pid, real_dump, .fini = stop_sleeper)
{
	char err[256] = "", name[64];
	pid_t old = dump_sleeper(), new = old + 1000, pid, pgid, sid;
	struct dirent *de;
	DIR *d;
	int n = 0;

	cr_assert(exists(from_dir, "pstree.img") && exists(from_dir, "dump.log"));
	snprintf(name, sizeof(name), "core-%d.img", (int)old);
	cr_assert(exists(from_dir, name));

	cr_assert_eq(image_copy_for_pid(from_dir, old, to_dir, new, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(image_pstree_read(to_dir, &pid, &pgid, &sid), 0);
	cr_expect_eq(pid, new);
	cr_expect_eq(pgid, new, "setsid() made it its group's leader");
	cr_expect_eq(sid, new);
	snprintf(name, sizeof(name), "core-%d.img", (int)new);
	cr_expect(exists(to_dir, name));
	cr_expect_not(exists(to_dir, "dump.log"));

	/* Every file named after the old pid has its new-pid twin. */
	d = opendir(from_dir);
	cr_assert_not_null(d);
	snprintf(name, sizeof(name), "-%d.img", (int)old);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name), m = strlen(name);
		char twin[300];

		if (len <= m || strcmp(de->d_name + len - m, name))
			continue;
		snprintf(twin, sizeof(twin), "%.*s-%d.img", (int)(len - m), de->d_name, (int)new);
		cr_expect(exists(to_dir, twin), "%s has no %s", de->d_name, twin);
		cr_log_info("%s -> %s", de->d_name, twin);
		n++;
	}
	closedir(d);
	cr_expect_geq(n, 1);
}

/* The proof: CRIU restores the rewritten images as the new pid. */
Test(image_pid, real_dump_restores_as_new_pid, .fini = stop_sleeper)
{
	char err[256] = "", path[64], comm[32] = "";
	pid_t old = dump_sleeper(), new = old + 1000;
	FILE *f;

	if (kill(new, 0) == 0 || errno != ESRCH)
		cr_skip_test("pid %d is in use", (int)new);
	cr_assert_eq(image_copy_for_pid(from_dir, old, to_dir, new, err, sizeof(err)), 0, "%s", err);

	/* Restored detached, it is ours to reap. */
	cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	const char *restore[] = { "criu", "restore", "-D", to_dir, "--shell-job", "-d",
				  "-v1", "-o", "restore.log", NULL };
	if (run_criu(restore) != 0) {
		show_log(to_dir, "restore.log");
		cr_assert_fail("criu restore failed");
	}
	sleeper = new;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)new);
	f = fopen(path, "r");
	cr_assert_not_null(f, "nothing runs as %d", (int)new);
	cr_assert_not_null(fgets(comm, sizeof(comm), f));
	fclose(f);
	cr_expect_str_eq(comm, "sleep\n");
	cr_expect_eq(getsid(new), new);
	cr_expect_eq(getpgid(new), new);
}
