/*
 * test-node_state.c - the node state machine (daemons/node_state.c).
 */
#include <criterion/criterion.h>
#include <errno.h>

#include "bproc.h"
#include "node_state.h"

static int after_event(int state, enum node_event ev)
{
	int next = -100;
	int r = node_state_event(state, ev, &next);

	return r < 0 ? r : next;
}

static int after_admin(int state, int requested)
{
	int next = -100;
	int r = node_state_admin(state, requested, &next);

	return r < 0 ? r : next;
}

Test(node_state, boot_sequence)
{
	cr_assert_eq(after_event(BPROC_NODE_DOWN, NODE_EVENT_CONNECT), BPROC_NODE_BOOT);
	cr_assert_eq(after_event(BPROC_NODE_BOOT, NODE_EVENT_READY), BPROC_NODE_UP);
	cr_assert_eq(after_event(BPROC_NODE_UP, NODE_EVENT_LOST), BPROC_NODE_DOWN);
}

Test(node_state, ready_only_while_booting)
{
	cr_assert_eq(after_event(BPROC_NODE_DOWN, NODE_EVENT_READY), -EINVAL);
	cr_assert_eq(after_event(BPROC_NODE_UP, NODE_EVENT_READY), -EINVAL);
	cr_assert_eq(after_event(BPROC_NODE_ERROR, NODE_EVENT_READY), -EINVAL);
}

Test(node_state, lost_from_anywhere)
{
	for (int s = BPROC_NODE_DOWN; s <= BPROC_NODE_PWROFF; s++)
		cr_assert_eq(after_event(s, NODE_EVENT_LOST), BPROC_NODE_DOWN, "from %s",
			     node_state_name(s));
}

Test(node_state, reconnect_reboots)
{
	/* A slave that comes back while we thought it up boots again. */
	cr_assert_eq(after_event(BPROC_NODE_UP, NODE_EVENT_CONNECT), BPROC_NODE_BOOT);
	cr_assert_eq(after_event(BPROC_NODE_REBOOT, NODE_EVENT_CONNECT), BPROC_NODE_BOOT);
}

Test(node_state, admin_changes)
{
	cr_assert_eq(after_admin(BPROC_NODE_UP, BPROC_NODE_UNAVAILABLE), BPROC_NODE_UNAVAILABLE);
	cr_assert_eq(after_admin(BPROC_NODE_UNAVAILABLE, BPROC_NODE_UP), BPROC_NODE_UP);
	cr_assert_eq(after_admin(BPROC_NODE_UP, BPROC_NODE_ERROR), BPROC_NODE_ERROR);
	cr_assert_eq(after_admin(BPROC_NODE_ERROR, BPROC_NODE_UP), BPROC_NODE_UP);
	cr_assert_eq(after_admin(BPROC_NODE_UP, BPROC_NODE_REBOOT), BPROC_NODE_REBOOT);
	cr_assert_eq(after_admin(BPROC_NODE_UNAVAILABLE, BPROC_NODE_HALT), BPROC_NODE_HALT);
	cr_assert_eq(after_admin(BPROC_NODE_BOOT, BPROC_NODE_PWROFF), BPROC_NODE_PWROFF);
}

Test(node_state, admin_refusals)
{
	cr_assert_eq(after_admin(BPROC_NODE_DOWN, BPROC_NODE_UP), -BE_NODEDOWN);
	cr_assert_eq(after_admin(BPROC_NODE_DOWN, BPROC_NODE_REBOOT), -BE_NODEDOWN);
	cr_assert_eq(after_admin(BPROC_NODE_UP, BPROC_NODE_DOWN), -EINVAL);
	cr_assert_eq(after_admin(BPROC_NODE_UP, BPROC_NODE_BOOT), -EINVAL);
	cr_assert_eq(after_admin(BPROC_NODE_BOOT, BPROC_NODE_UP), -EBUSY);
	cr_assert_eq(after_admin(BPROC_NODE_HALT, BPROC_NODE_UP), -EBUSY);
	cr_assert_eq(after_admin(BPROC_NODE_UP, 42), -EINVAL);
	cr_assert_eq(after_admin(42, BPROC_NODE_UP), -EINVAL);
}

Test(node_state, names_round_trip)
{
	for (int s = BPROC_NODE_DOWN; s <= BPROC_NODE_PWROFF; s++)
		cr_assert_eq(node_state_parse(node_state_name(s)), s);
	cr_assert_str_eq(node_state_name(BPROC_NODE_UNAVAILABLE), "unavailable");
	cr_assert_eq(node_state_parse("sideways"), -EINVAL);
	cr_assert_str_eq(node_state_name(-1), "invalid");
	cr_assert(!node_state_connected(BPROC_NODE_DOWN));
	cr_assert(node_state_connected(BPROC_NODE_BOOT));
}
