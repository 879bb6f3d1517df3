/*
 * errors.c - bproc_strerror() and the node state names.
 *
 * BProc's error codes (BE_*) live above the system errno range so one errno
 * variable carries both; this file is the one place that turns them into
 * words.
 */
#include <string.h>
#include <strings.h>

#include "bproc.h"

static const char *const be_text[] = {
	[BE_INVALIDNODE - BE_BASE] = "Invalid node number",
	[BE_NODEDOWN - BE_BASE] = "Node is down",
	[BE_SAMENODE - BE_BASE] = "Already on that node",
	[BE_SLAVEDIED - BE_BASE] = "The node's daemon died",
	[BE_INVALIDPROC - BE_BASE] = "Not a bproc process",
	[BE_NOMASTER - BE_BASE] = "No bproc daemon is running here",
	[BE_PROTOCOL - BE_BASE] = "The bproc daemon speaks another protocol version",
};

const char *bproc_strerror(int err)
{
	if (err < 0)
		err = -err;
	if (err >= BE_BASE && err < BE_BASE + (int)(sizeof(be_text) / sizeof(be_text[0])) &&
	    be_text[err - BE_BASE])
		return be_text[err - BE_BASE];
	return strerror(err);
}

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

const char *bproc_state_name(int state)
{
	if (state < 0 || state >= (int)(sizeof(state_names) / sizeof(state_names[0])))
		return "invalid";
	return state_names[state];
}

int bproc_state_parse(const char *name)
{
	for (int i = 0; i < (int)(sizeof(state_names) / sizeof(state_names[0])); i++)
		if (strcasecmp(name, state_names[i]) == 0)
			return i;
	return -1;
}
