/*
 * stop_mirror.h - what a ghost must be told of its real process's stops
 * and continues, for a process whose stops nobody of ours can wait for.
 *
 * A moved root's stops come from its parent on the node, the keeper,
 * through waitid(WSTOPPED | WCONTINUED).  The processes below it have
 * their real parents (processes of the tree) and the kernel tells only
 * the parent, so the slave looks at their state in /proc instead
 * (slave_stops.c says when).
 */
#ifndef BPROC_STOP_MIRROR_H
#define BPROC_STOP_MIRROR_H

#include <stdbool.h>
#include <sys/types.h>

/* The wait status of "continued", as waitpid() gives it. */
#define STOP_MIRROR_CONTINUED 0xffff

/*
 * From a process's state letter (as in /proc/PID/stat) and the signal it
 * stopped with (its stat's exit code, when state is 'T'), and whether its
 * ghost was told it is stopped (*told): the wait status to tell the
 * ghost (stopped by that signal, or STOP_MIRROR_CONTINUED), and *told
 * updated; or 0 if nothing changed.
 *
 * Only a group stop ('T') counts: a traced stop ('t': CRIU dumping the
 * tree, a debugger) and a frozen task (cgroup freezer: 'S' or 'D' while
 * it stays frozen, but 'T' stays 'T') are nothing the parent would see.
 * A continue is a stopped process that runs or sleeps again; a zombie or
 * a gone process says nothing (its end is told elsewhere).
 */
int stop_mirror_change(bool *told, char state, int stop_signal);

/* The same for a live process (a host pid), reading its /proc. */
int stop_mirror_look(pid_t pid, bool *told);

/*
 * A wait status to tell, as the stop signal the master asked for (*asked,
 * 0: none): a SIGTSTP, SIGTTIN or SIGTTOU left to its default action,
 * which the slave sends as SIGSTOP where the kernel would drop it on the
 * node (an orphaned group), or which found the process stopped already
 * (a stop whose signal its parent's wait took: read as SIGSTOP).  A stop
 * by SIGSTOP is told as *asked, so that its ghost stops with it (the
 * parent's WSTOPSIG); a continue is told as it is and forgets *asked.
 */
int stop_mirror_as_asked(int status, int *asked);

#endif
