/*
 * launch_tree.h - the fan-out of a launch on many nodes (bproc_vexecmove):
 * which copies the master sends itself and which a slave passes on
 * (LaunchRelay, daemons/launch_relay.c), and the LaunchRelay message.
 */
#ifndef BPROC_LAUNCH_TREE_H
#define BPROC_LAUNCH_TREE_H

#include <stdint.h>
#include <sys/types.h>

#include "conn.h"

/*
 * Of n copies ready to go out at once, with the fan-out width (config key
 * launchfanout, 0: none): relay_of[i] is -1 for a copy the master sends
 * itself, else the index (< width) of the copy whose node passes it on.
 * More than width copies: the first width go from the master, the others
 * are dealt to them in turn (a tree of two tiers: the master's link and
 * each relay's carry about n / width images each).  Returns how many the
 * master sends itself.
 */
int launch_tree_plan(int n, int width, int *relay_of);

/* One copy a relay passes on: what RelayTarget carries. */
struct launch_target {
	uint64_t move_id;
	int node;
	const char *addr;      /* dotted quad, as the relay reaches it */
	unsigned int port;     /* its move port */
	const uint8_t *token;  /* as in its MoveExpect */
	size_t token_len;
	Bproc__RestoreRequest *restore;
};

/* LaunchRelay{relay_move_id, relay_pid, targets} on conn: 0 or -errno. */
int launch_relay_send(struct conn *conn, uint64_t relay_move_id, pid_t relay_pid,
		      const struct launch_target *targets, int n);

#endif
