/*
 * stop_mirror.c - a process's stops and continues read from /proc, for
 * its ghost.  See stop_mirror.h.
 */
#include <signal.h>
#include <sys/wait.h>

#include "stop_mirror.h"
#include "util.h"

int stop_mirror_change(bool *told, char state, int stop_signal)
{
	switch (state) {
	case 'T':
		if (*told)
			return 0;
		/* Not read (a kernel that hides it): the stop that every
		 * stop signal's default action does. */
		if (stop_signal <= 0 || stop_signal >= 65)
			stop_signal = SIGSTOP;
		*told = true;
		return W_STOPCODE(stop_signal);
	case 'R':
	case 'S':
	case 'D':
	case 'I':
		if (!*told)
			return 0;
		*told = false;
		return STOP_MIRROR_CONTINUED;
	default:
		/* 't' (traced), 'Z', 'X', gone (0): no news. */
		return 0;
	}
}

int stop_mirror_look(pid_t pid, bool *told)
{
	int code;
	char state = proc_state_code(pid, &code);

	return stop_mirror_change(told, state, code);
}

int stop_mirror_as_asked(int status, int *asked)
{
	if (WIFCONTINUED(status)) {
		*asked = 0;
		return status;
	}
	if (WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP && *asked > 0)
		return W_STOPCODE(*asked);
	return status;
}
