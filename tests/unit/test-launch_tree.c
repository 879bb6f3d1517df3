/*
 * test-launch_tree.c - who sends which copy of a launch (daemons/launch_tree.c).
 */
#include <criterion/criterion.h>

#include "launch_tree.h"

Test(launch_tree, no_fan_out_up_to_the_width)
{
	int relay_of[4];

	cr_assert_eq(launch_tree_plan(4, 4, relay_of), 4);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(relay_of[i], -1, "copy %d", i);
	cr_assert_eq(launch_tree_plan(4, 0, relay_of), 4, "width 0: the master sends all");
	for (int i = 0; i < 4; i++)
		cr_assert_eq(relay_of[i], -1, "copy %d", i);
}

Test(launch_tree, two_tiers_dealt_in_turn)
{
	int relay_of[15], per_relay[4] = { 0 };

	cr_assert_eq(launch_tree_plan(15, 4, relay_of), 4);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(relay_of[i], -1, "copy %d from the master", i);
	for (int i = 4; i < 15; i++) {
		cr_assert(relay_of[i] >= 0 && relay_of[i] < 4, "copy %d: relay %d", i, relay_of[i]);
		per_relay[relay_of[i]]++;
	}
	/* 11 copies over 4 relays: 3, 3, 3, 2. */
	cr_assert_eq(per_relay[0], 3);
	cr_assert_eq(per_relay[1], 3);
	cr_assert_eq(per_relay[2], 3);
	cr_assert_eq(per_relay[3], 2);
}

Test(launch_tree, width_one_is_a_single_relay)
{
	int relay_of[5];

	cr_assert_eq(launch_tree_plan(5, 1, relay_of), 1);
	cr_assert_eq(relay_of[0], -1);
	for (int i = 1; i < 5; i++)
		cr_assert_eq(relay_of[i], 0, "copy %d", i);
}
