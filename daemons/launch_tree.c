/*
 * launch_tree.c - which node passes which copy of a launch on (the
 * fan-out tree), and the LaunchRelay message.  See launch_tree.h.
 */
#include <errno.h>
#include <stdlib.h>

#include "launch_tree.h"

int launch_tree_plan(int n, int width, int *relay_of)
{
	for (int i = 0; i < n; i++)
		relay_of[i] = width > 0 && n > width && i >= width ? (i - width) % width : -1;
	return width > 0 && n > width ? width : n;
}

int launch_relay_send(struct conn *conn, uint64_t relay_move_id, pid_t relay_pid,
		      const struct launch_target *targets, int n)
{
	Bproc__LaunchRelay lr = BPROC__LAUNCH_RELAY__INIT;
	Msg msg = BPROC__MSG__INIT;
	Bproc__RelayTarget *wire = calloc((size_t)n, sizeof(*wire));
	Bproc__RelayTarget **ptrs = calloc((size_t)n, sizeof(*ptrs));
	int r = -ENOMEM;

	if (wire && ptrs) {
		for (int i = 0; i < n; i++) {
			bproc__relay_target__init(&wire[i]);
			wire[i].move_id = targets[i].move_id;
			wire[i].node = targets[i].node;
			wire[i].addr = (char *)targets[i].addr;
			wire[i].port = targets[i].port;
			wire[i].token.data = (uint8_t *)targets[i].token;
			wire[i].token.len = targets[i].token_len;
			wire[i].restore = targets[i].restore;
			ptrs[i] = &wire[i];
		}
		lr.move_id = relay_move_id;
		lr.pid = relay_pid;
		lr.n_targets = (size_t)n;
		lr.targets = ptrs;
		msg.body_case = BPROC__MSG__BODY_LAUNCH_RELAY;
		msg.launch_relay = &lr;
		r = conn_send(conn, &msg);
	}
	free(wire);
	free(ptrs);
	return r;
}
