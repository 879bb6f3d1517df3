/*
 * test-stop_mirror.c - daemons/stop_mirror.c: which stops and continues of
 * a process its ghost is told of, from its state in /proc.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stop_mirror.h"
#include "util.h"

Test(stop_mirror, a_group_stop_is_told_once_with_its_signal)
{
	bool told = false;
	int status = stop_mirror_change(&told, 'T', SIGTSTP);

	cr_expect(WIFSTOPPED(status) && WSTOPSIG(status) == SIGTSTP, "status 0x%x", status);
	cr_expect(told);
	cr_expect_eq(stop_mirror_change(&told, 'T', SIGTSTP), 0, "told already");
	cr_expect(told);
}

Test(stop_mirror, a_stop_whose_signal_is_unread_is_a_sigstop)
{
	bool told = false;
	int status = stop_mirror_change(&told, 'T', -1);

	cr_expect(WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP, "status 0x%x", status);
	told = false;
	status = stop_mirror_change(&told, 'T', 0);
	cr_expect(WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP, "status 0x%x", status);
}

Test(stop_mirror, a_stopped_process_that_runs_or_sleeps_continued)
{
	const char states[] = { 'R', 'S', 'D', 'I' };

	for (size_t i = 0; i < sizeof(states); i++) {
		bool told = true;
		int status = stop_mirror_change(&told, states[i], 0);

		cr_expect(WIFCONTINUED(status), "state %c: 0x%x", states[i], status);
		cr_expect_eq(status, STOP_MIRROR_CONTINUED);
		cr_expect_not(told);
		cr_expect_eq(stop_mirror_change(&told, states[i], 0), 0, "once");
	}
}

Test(stop_mirror, traced_frozen_dead_or_gone_say_nothing)
{
	/* CRIU's ptrace ('t') of a running process is no stop, nor of a
	 * stopped one a continue; a zombie's end is told elsewhere. */
	const char states[] = { 't', 'Z', 'X', 0 };

	for (size_t i = 0; i < sizeof(states); i++) {
		bool told = false;

		cr_expect_eq(stop_mirror_change(&told, states[i], SIGSTOP), 0, "state %d", states[i]);
		cr_expect_not(told);
		told = true;
		cr_expect_eq(stop_mirror_change(&told, states[i], 0), 0, "state %d", states[i]);
		cr_expect(told);
	}
	/* Frozen by the cgroup freezer, a running process sleeps: no news. */
	bool told = false;

	cr_expect_eq(stop_mirror_change(&told, 'S', 0), 0);
	cr_expect_not(told);
}

static void wait_state(pid_t pid, char want)
{
	for (int i = 0; i < 200 && proc_state(pid) != want; i++)
		usleep(5000);
}

Test(stop_mirror, a_real_process_stop_and_continue)
{
	pid_t child = fork();
	bool told = false;
	int status;

	cr_assert_geq(child, 0);
	if (child == 0) {
		/* Not an orphaned group: SIGTTIN stops it (below). */
		setpgid(0, 0);
		raise(SIGSTOP); /* stops itself, as `kill -STOP $$` */
		pause();
		_exit(0);
	}
	wait_state(child, 'T');
	status = stop_mirror_look(child, &told);
	cr_expect(WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP, "status 0x%x", status);
	cr_expect_eq(stop_mirror_look(child, &told), 0, "nothing new");
	cr_assert_eq(kill(child, SIGCONT), 0);
	wait_state(child, 'S');
	cr_expect_eq(stop_mirror_look(child, &told), STOP_MIRROR_CONTINUED);
	cr_assert_eq(kill(child, SIGTTIN), 0);
	wait_state(child, 'T');
	status = stop_mirror_look(child, &told);
	cr_expect(WIFSTOPPED(status) && WSTOPSIG(status) == SIGTTIN, "status 0x%x", status);
	cr_assert_eq(kill(child, SIGKILL), 0);
	cr_assert_eq(waitpid(child, NULL, 0), child);
	cr_expect_eq(stop_mirror_look(child, &told), 0, "gone");
}

Test(stop_mirror, a_sigstop_standing_in_is_told_as_the_signal_asked)
{
	int asked = SIGTSTP, status;

	status = stop_mirror_as_asked(W_STOPCODE(SIGSTOP), &asked);
	cr_expect(WIFSTOPPED(status) && WSTOPSIG(status) == SIGTSTP, "status 0x%x", status);
	/* A stop by another signal is its own. */
	status = stop_mirror_as_asked(W_STOPCODE(SIGTTIN), &asked);
	cr_expect(WIFSTOPPED(status) && WSTOPSIG(status) == SIGTTIN, "status 0x%x", status);
	/* A continue is told, and forgets what was asked. */
	cr_expect_eq(stop_mirror_as_asked(STOP_MIRROR_CONTINUED, &asked), STOP_MIRROR_CONTINUED);
	cr_expect_eq(asked, 0);
	status = stop_mirror_as_asked(W_STOPCODE(SIGSTOP), &asked);
	cr_expect(WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP, "status 0x%x", status);
	/* Nothing asked: as it is. */
	cr_expect_eq(stop_mirror_as_asked(W_EXITCODE(3, 0), &asked), W_EXITCODE(3, 0));
}
