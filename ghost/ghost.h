/*
 * ghost.h - turning the frozen original of a migrated process into its
 * ghost on the master, and speaking for it afterwards.
 *
 * A ghost is the original task itself: same pid, parent, process group,
 * session and controlling terminal, because it never stops being that
 * task.  Its memory goes: the daemon, attached with PTRACE_SEIZE, makes it
 * execve() the small program bproc-ghost (ghost/bproc-ghost.c), which keeps
 * fds 0-2 and the process name and does nothing but wait.  The daemon stays
 * its tracer, so every signal sent to the ghost stops it first
 * (signal-delivery-stop) and the daemon decides: forward it to the real
 * process and drop it here.  When the real process ends, the daemon makes
 * the ghost end the same way, so the parent's wait() sees the truth.
 *
 * Sequence for a process frozen in a cgroup v2 freezer (migrate/freezer.h):
 *   ghost_seize()       attach to every thread and ask each to trap;
 *   (caller thaws it)   the threads trap before running any code of theirs;
 *   ghost_exec()        inject execve(bproc-ghost) into the main thread;
 * then feed every waitpid() status of the ghost to ghost_decode().
 *
 * x86_64 only: the injection writes registers.
 */
#ifndef BPROC_GHOST_H
#define BPROC_GHOST_H

#include <stdbool.h>
#include <sys/types.h>

/* The ghost program's environment names. */
#define GHOST_ENV_COMM "BPROC_GHOST_COMM"
#define GHOST_ENV_DAEMON "BPROC_GHOST_DAEMON"
/* The queued signal (with the exit code as value) that makes a ghost
 * _exit(); only honoured from the daemon. */
#define GHOST_EXIT_SIGNAL (SIGRTMIN + 3)
/* The ghost sends itself this, from itself (SI_TKILL), once it is set up:
 * its tracer sees it and knows the ghost is ready.  It is ignored by then,
 * so an untraced ghost loses nothing. */
#define GHOST_READY_SIGNAL SIGCHLD

/* Attach to every thread of pid (frozen) and request a trap.  On failure
 * nothing stays attached. */
int ghost_seize(pid_t pid);

/* Detach from every thread: rollback when the move is abandoned. */
void ghost_release(pid_t pid);

/*
 * After the caller thawed pid: wait until its threads have trapped, make
 * the main thread execve(ghost_path) with argv (the original command line,
 * so ps shows it) and the process name comm, and let the ghost run.  The
 * daemon stays attached.  On failure before the execve the task is left as
 * it was, attached and trapped (ghost_release() lets it go on).  Returns
 * once the ghost is ready (waiting in pause()); signals sent to it in the
 * meantime are in early (may be NULL), to be forwarded by the caller.
 */
#define GHOST_EARLY_MAX 16
struct ghost_early_signals {
	int n;
	int sig[GHOST_EARLY_MAX];
};
int ghost_exec(pid_t pid, const char *ghost_path, char *const argv[], const char *comm,
	       struct ghost_early_signals *early);

/*
 * ghost_exec() in its three steps, for a tree (ghost_tree.c), whose
 * members must all be armed before any execve runs: prepare (every thread
 * held, the strings written below the stack; on failure nothing of the
 * task was changed), arm (the registers point at the execve: a daemon
 * that dies from here on leaves a task that runs the execve itself),
 * finish (the execve run and the ghost ready; on failure before the exec
 * the task is disarmed).  ghost_exec_cancel() disarms one armed but not
 * finished.  Each prepared injection is freed with ghost_injection_free().
 */
struct ghost_injection;
int ghost_exec_prepare(pid_t pid, const char *ghost_path, char *const argv[], const char *comm,
		       struct ghost_early_signals *early, struct ghost_injection **out);
int ghost_exec_arm(struct ghost_injection *inj);
int ghost_exec_finish(struct ghost_injection *inj, const char *ghost_path);
void ghost_exec_cancel(struct ghost_injection *inj);
void ghost_injection_free(struct ghost_injection *inj);

/*
 * A whole process tree (ghost_tree.c).  Every member is frozen; members[0]
 * is the root and parents come before their children.  All are attached
 * first, then thawed by thaw() (each traps at once), then prepared, then
 * armed one after another in a tight loop, the root first, and only then
 * each becomes its ghost, the root first.  If any cannot be prepared, or
 * the root cannot be armed or become its ghost, every member is let go as
 * it was (returns -errno; the caller thaws them).  Once the root is a
 * ghost the move is past its point of no return: a member that cannot
 * become a ghost is killed (its copy runs on), and made[i] says which
 * did.  Zombies (already dead, only waiting for their parent) get no
 * ghost.  A daemon that dies once all are armed leaves every member
 * running its execve: all ghosts, none an original running beside its
 * copy (daemons/master_recover.c).
 */
struct ghost_member {
	pid_t pid;
	char *const *argv;
	const char *comm;
	bool made;                        /* out: it is a ghost now */
	struct ghost_early_signals early; /* out: signals sent meanwhile */
};
int ghost_make_tree(struct ghost_member *members, int n, const char *ghost_path,
		    void (*thaw)(pid_t pid, void *data), void *data);
/* Is pid a zombie (its /proc/PID/stat state is Z)? */
bool ghost_is_zombie(pid_t pid);

/* What a waitpid(__WALL) status of a ghost means for the daemon. */
enum ghost_event_kind {
	GHOST_SIGNAL,   /* a signal was sent to it: forward sig, then ghost_resume() */
	GHOST_STOPPED,  /* it is in a group stop (we asked); ghost_resume() ends it */
	GHOST_GONE,     /* it is dead: status is what the parent saw */
	GHOST_OTHER,    /* a ptrace stop of no interest: ghost_resume() */
};

struct ghost_event {
	enum ghost_event_kind kind;
	int sig;       /* GHOST_SIGNAL: which */
	int status;    /* GHOST_GONE: the wait status */
	bool ours;     /* GHOST_SIGNAL: the daemon sent it (an exit, stop or cont order) */
};

/* daemon_pid is the pid of the tracer, whose own signals are orders. */
int ghost_decode(pid_t pid, int status, pid_t daemon_pid, struct ghost_event *ev);

/* Let a ghost go on after a stop, delivering sig (0: none). */
int ghost_resume(pid_t pid, int sig);
/* After GHOST_STOPPED: stay stopped (as the parent was told) until a
 * SIGCONT, but keep reporting to the daemon. */
int ghost_listen(pid_t pid);

/* Orders: end the ghost as status (a wait status: exit code or signal),
 * or make it show a stop (status: the real process's wait status). */
int ghost_order_exit(pid_t pid, int status);
int ghost_order_stop(pid_t pid, int status);

/* The signal a ghost stops with for its real process's stop (a wait
 * status): the one that stopped the real process, so that the parent's
 * WSTOPSIG is the same; SIGSTOP for a job-control stop signal (SIGTSTP,
 * SIGTTIN, SIGTTOU) when the ghost's process group is orphaned, as the
 * kernel drops those there, and for anything that is not a stop. */
int ghost_stop_signal(int status, bool group_orphaned);

#endif
