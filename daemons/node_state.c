/*
 * node_state.c - see node_state.h.
 */
#include "node_state.h"

#include <errno.h>
#include <string.h>

#include "bproc.h"
#include "util.h"

/* The names are libbproc's (clients/libbproc/errors.c): one table for
 * the daemons and the clients. */
#define NSTATES (BPROC_NODE_PWROFF + 1)

const char *node_state_name(int state)
{
	return bproc_state_name(state);
}

int node_state_parse(const char *name)
{
	int state = bproc_state_parse(name);

	return state < 0 ? -EINVAL : state;
}

bool node_state_connected(int state)
{
	return state != BPROC_NODE_DOWN && state >= 0 && state < NSTATES;
}

int node_state_event(int state, enum node_event ev, int *next)
{
	if (state < 0 || state >= NSTATES)
		return -EINVAL;
	switch (ev) {
	case NODE_EVENT_CONNECT:
		/* A slave that reconnects replaces its old connection. */
		*next = BPROC_NODE_BOOT;
		return 0;
	case NODE_EVENT_READY:
		if (state != BPROC_NODE_BOOT)
			return -EINVAL;
		*next = BPROC_NODE_UP;
		return 0;
	case NODE_EVENT_LOST:
		*next = BPROC_NODE_DOWN;
		return 0;
	}
	return -EINVAL;
}

int node_state_admin(int state, int requested, int *next)
{
	if (state < 0 || state >= NSTATES)
		return -EINVAL;
	switch (requested) {
	case BPROC_NODE_UP:
	case BPROC_NODE_ERROR:
	case BPROC_NODE_UNAVAILABLE:
		/* A booting node becomes up by itself; others wait for the admin. */
		if (!node_state_connected(state))
			return -BE_NODEDOWN;
		if (state == BPROC_NODE_BOOT || state == BPROC_NODE_REBOOT ||
		    state == BPROC_NODE_HALT || state == BPROC_NODE_PWROFF)
			return -EBUSY;
		*next = requested;
		return 0;
	case BPROC_NODE_REBOOT:
	case BPROC_NODE_HALT:
	case BPROC_NODE_PWROFF:
		if (!node_state_connected(state))
			return -BE_NODEDOWN;
		*next = requested;
		return 0;
	default:
		return -EINVAL;
	}
}
