/*
 * node_state.h - the life of a node as the master sees it.
 *
 * A pure state machine, so it can be tested without a cluster:
 *
 *   down --connect--> boot --ready--> up <--admin--> unavailable | error
 *     ^                                 |
 *     +------------ lost ---------------+   (from any state)
 *
 * The administrator may also ask for reboot, halt or pwroff while the node
 * is connected; the node shows that state until its slave goes away, then
 * it is down like any other lost node.  States are the values of
 * bproc.NodeState (images/bproc.proto) and of enum bproc_node_state.
 */
#ifndef BPROC_NODE_STATE_H
#define BPROC_NODE_STATE_H

#include <stdbool.h>

enum node_event {
	NODE_EVENT_CONNECT, /* a slave registered for the node */
	NODE_EVENT_READY,   /* its slave finished booting */
	NODE_EVENT_LOST,    /* its connection closed or fell silent */
};

/* The state after ev; -EINVAL when ev makes no sense in state. */
int node_state_event(int state, enum node_event ev, int *next);

/*
 * The state after the administrator asks for requested.  -BE_NODEDOWN when
 * the node has no slave, -EINVAL for a state that cannot be asked for
 * (down and boot happen, they are not chosen).
 */
int node_state_admin(int state, int requested, int *next);

/* A node with a slave connected. */
bool node_state_connected(int state);

const char *node_state_name(int state);
/* -EINVAL for an unknown name. */
int node_state_parse(const char *name);

#endif
