/*
 * node_state.c - see node_state.h.
 */
#include "node_state.h"

#include <errno.h>
#include <string.h>

#include "bproc.h"
#include "util.h"

static const char *const state_names[] = {
	[BPROC_NODE_DOWN] = "down",
	[BPROC_NODE_BOOT] = "boot",
	[BPROC_NODE_UP] = "up",
	[BPROC_NODE_ERROR] = "error",
	[BPROC_NODE_UNAVAILABLE] = "unavailable",
	[BPROC_NODE_REBOOT] = "reboot",
	[BPROC_NODE_HALT] = "halt",
	[BPROC_NODE_PWROFF] = "pwroff",
};

const char *node_state_name(int state)
{
	if (state < 0 || state >= (int)ARRAY_SIZE(state_names))
		return "invalid";
	return state_names[state];
}

int node_state_parse(const char *name)
{
	for (int i = 0; i < (int)ARRAY_SIZE(state_names); i++)
		if (strcmp(name, state_names[i]) == 0)
			return i;
	return -EINVAL;
}

bool node_state_connected(int state)
{
	return state != BPROC_NODE_DOWN && state >= 0 && state < (int)ARRAY_SIZE(state_names);
}

int node_state_event(int state, enum node_event ev, int *next)
{
	if (state < 0 || state >= (int)ARRAY_SIZE(state_names))
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
	if (state < 0 || state >= (int)ARRAY_SIZE(state_names))
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
