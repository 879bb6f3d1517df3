/*
 * test-util.c - common/util.c: the small helpers every part uses.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault.h"
#include "util.h"

Test(util, tcp_nodelay_sets_it_on_tcp_sockets_only)
{
	int tcp = socket(AF_INET, SOCK_STREAM, 0), pair[2], on = 0;
	socklen_t len = sizeof(on);

	cr_assert_geq(tcp, 0);
	cr_assert_eq(getsockopt(tcp, IPPROTO_TCP, TCP_NODELAY, &on, &len), 0);
	cr_assert_eq(on, 0, "a new TCP socket has Nagle on");
	tcp_nodelay(tcp);
	cr_assert_eq(getsockopt(tcp, IPPROTO_TCP, TCP_NODELAY, &on, &len), 0);
	cr_assert_neq(on, 0);
	close(tcp);

	/* A unix socket or a non-socket: nothing happens, nothing breaks. */
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
	tcp_nodelay(pair[0]);
	cr_assert_eq(write(pair[0], "x", 1), 1);
	close(pair[0]);
	close(pair[1]);
	tcp_nodelay(-1);
}

Test(util, parse_long_takes_only_whole_numbers_in_range)
{
	long v = 0;

	cr_assert_eq(parse_long("42", 0, 100, &v), 0);
	cr_assert_eq(v, 42);
	cr_assert_eq(parse_long("101", 0, 100, &v), -ERANGE);
	cr_assert_eq(parse_long("4x", 0, 100, &v), -EINVAL);
	cr_assert_eq(parse_long("", 0, 100, &v), -EINVAL);
}

Test(util, fault_at_only_the_points_named)
{
	cr_assert_not(fault_at("master-dump"), "no BPROC_FAULT: no fault");
	setenv("BPROC_FAULT", "slave-die,master-dump", 1);
	cr_assert(fault_at("master-dump"));
	cr_assert(fault_at("slave-die"));
	cr_assert_not(fault_at("slave"), "a prefix is not a name");
	cr_assert_not(fault_at("master-dump-x"));
	setenv("BPROC_FAULT", "", 1);
	cr_assert_not(fault_at("master-dump"));
	unsetenv("BPROC_FAULT");
}

Test(util, proc_state_reads_the_state_letter)
{
	pid_t child = fork();

	cr_assert_geq(child, 0);
	if (child == 0) {
		pause();
		_exit(0);
	}
	cr_expect_eq(proc_state(getpid()), 'R', "we run");
	cr_assert_eq(kill(child, SIGSTOP), 0);
	for (int i = 0; i < 200 && proc_state(child) != 'T'; i++)
		usleep(5000);
	cr_expect_eq(proc_state(child), 'T');
	cr_assert_eq(kill(child, SIGKILL), 0);
	for (int i = 0; i < 200 && proc_state(child) != 'Z'; i++)
		usleep(5000);
	cr_expect_eq(proc_state(child), 'Z', "dead, not reaped");
	cr_assert_eq(waitpid(child, NULL, 0), child);
	cr_expect_eq(proc_state(child), 0, "gone");
}

Test(util, proc_state_code_reads_the_stop_signal_and_the_zombie_status)
{
	pid_t child = fork();
	int code;

	cr_assert_geq(child, 0);
	if (child == 0) {
		/* A group of its own, with its parent outside it in the same
		 * session: not orphaned, so SIGTSTP stops it. */
		setpgid(0, 0);
		pause();
		_exit(0);
	}
	setpgid(child, child); /* whichever of us comes first */
	cr_expect_eq(proc_state_code(getpid(), &code), 'R');
	cr_expect_geq(code, 0, "read");
	cr_assert_eq(kill(child, SIGTSTP), 0);
	for (int i = 0; i < 200 && proc_state(child) != 'T'; i++)
		usleep(5000);
	cr_expect_eq(proc_state_code(child, &code), 'T');
	cr_expect_eq(code, SIGTSTP, "stopped by SIGTSTP: %d", code);
	cr_assert_eq(kill(child, SIGCONT), 0);
	for (int i = 0; i < 200 && proc_state(child) != 'S'; i++)
		usleep(5000);
	cr_expect_eq(proc_state_code(child, &code), 'S', "back in pause()");
	cr_assert_eq(kill(child, SIGTERM), 0);
	for (int i = 0; i < 200 && proc_state(child) != 'Z'; i++)
		usleep(5000);
	cr_expect_eq(proc_state_code(child, &code), 'Z');
	cr_expect(WIFSIGNALED(code) && WTERMSIG(code) == SIGTERM, "its wait status: 0x%x", code);
	cr_assert_eq(waitpid(child, NULL, 0), child);
	cr_expect_eq(proc_state_code(child, &code), 0, "gone");
	cr_expect_eq(code, -1);
}

Test(util, read_text_file)
{
	char path[] = "/tmp/bproc-test-util-XXXXXX", buf[8];
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write_full(fd, "0123456789\n", 11), 0);
	close(fd);
	cr_expect_eq(read_text_file(path, buf, sizeof(buf)), 0);
	cr_expect_str_eq(buf, "0123456", "cut to the buffer, ended");
	cr_expect_eq(read_text_file(path, buf, 2), 0);
	cr_expect_str_eq(buf, "0");
	unlink(path);
	cr_expect_eq(read_text_file(path, buf, sizeof(buf)), -ENOENT);
	fd = open("/dev/null", O_RDONLY);
	cr_expect_eq(read_upto(fd, buf, sizeof(buf)), 0, "end of file at once");
	close(fd);
}

Test(util, is_stop_signal_names_the_four_that_stop)
{
	cr_expect(is_stop_signal(SIGSTOP) && is_stop_signal(SIGTSTP) && is_stop_signal(SIGTTIN) &&
		  is_stop_signal(SIGTTOU));
	cr_expect(!is_stop_signal(SIGCONT) && !is_stop_signal(SIGTERM) && !is_stop_signal(0));
}

/* A child in a group of its own: held by its parent (this test, same
 * session, another group) or, after setsid(), orphaned (its parent is in
 * another session).  The kernel agrees: SIGTSTP stops the first only. */
static pid_t child_in_own_group(bool new_session, int *ready)
{
	int p[2];
	pid_t pid;

	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (new_session ? setsid() < 0 : setpgid(0, 0) < 0)
			_exit(1);
		close(p[0]);
		if (write(p[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	*ready = p[0];
	return pid;
}

static void wait_ready(int fd)
{
	char c;

	cr_assert_eq(read(fd, &c, 1), 1);
	close(fd);
}

Test(util, proc_group_orphaned_as_the_kernel_sees_it)
{
	int ready, status;
	pid_t held, orphan;

	setpgid(0, 0);
	held = child_in_own_group(false, &ready);
	wait_ready(ready);
	orphan = child_in_own_group(true, &ready);
	wait_ready(ready);

	cr_expect_eq(proc_group_orphaned(held), 0);
	cr_expect_eq(proc_group_orphaned(orphan), 1);
	cr_expect_eq(proc_group_orphaned(999999999), -ENOENT);

	/* What the kernel does with a SIGTSTP in each. */
	kill(held, SIGTSTP);
	cr_assert_eq(waitpid(held, &status, WUNTRACED), held);
	cr_expect(WIFSTOPPED(status) && WSTOPSIG(status) == SIGTSTP, "status 0x%x", status);
	kill(orphan, SIGTSTP);
	usleep(100000);
	cr_expect_eq(waitpid(orphan, &status, WUNTRACED | WNOHANG), 0, "the orphaned group stopped");
	kill(held, SIGKILL);
	kill(orphan, SIGKILL);
	waitpid(held, NULL, 0);
	waitpid(orphan, NULL, 0);
}

Test(util, proc_creds_reads_all_four_ids_of_each_kind)
{
	struct proc_creds c;
	int pipefd[2];
	pid_t child;
	char go;

	cr_assert_eq(proc_creds(getpid(), &c), 0);
	cr_expect_eq(c.uid[0], getuid());
	cr_expect_eq(c.uid[1], geteuid());
	cr_expect_eq(c.gid[0], getgid());
	cr_expect_eq(c.gid[1], getegid());

	/* Different real, effective and saved ids (as root), each in its
	 * place. */
	cr_assert_eq(pipe(pipefd), 0);
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		close(pipefd[1]);
		if (geteuid() == 0 && (setresgid(201, 202, 203) < 0 || setresuid(101, 102, 103) < 0))
			_exit(1);
		if (read(pipefd[0], &go, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(pipefd[0]);
	if (geteuid() == 0) {
		for (int i = 0; i < 200; i++) {
			if (proc_creds(child, &c) == 0 && c.uid[0] == 101)
				break;
			usleep(5000);
		}
		cr_expect_eq(proc_creds(child, &c), 0);
		cr_expect(c.uid[0] == 101 && c.uid[1] == 102 && c.uid[2] == 103 && c.uid[3] == 102,
			  "uids %u %u %u %u", c.uid[0], c.uid[1], c.uid[2], c.uid[3]);
		cr_expect(c.gid[0] == 201 && c.gid[1] == 202 && c.gid[2] == 203 && c.gid[3] == 202,
			  "gids %u %u %u %u", c.gid[0], c.gid[1], c.gid[2], c.gid[3]);
	}
	close(pipefd[1]);
	cr_assert_eq(waitpid(child, NULL, 0), child);
	cr_expect_eq(proc_creds(child, &c), -ESRCH, "gone");
}
