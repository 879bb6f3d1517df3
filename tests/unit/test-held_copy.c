/*
 * test-held_copy.c - what becomes of a copy held frozen after a commit
 * that never came (daemons/held_copy.c): never two, never none.
 */
#include <criterion/criterion.h>

#include "held_copy.h"

static enum held_fate fate(bool orphan, bool source_registered, bool claims_over)
{
	struct held_facts f = {
		.orphan = orphan,
		.source_registered = source_registered,
		.claims_over = claims_over,
	};

	return held_copy_fate(&f);
}

/* The source thawed its original and claimed it (its ghost was taken
 * back), or the process has no ghost any more: the copy must go, whatever
 * else is known. */
Test(held_copy, taken_back_or_gone_drops)
{
	for (int reg = 0; reg < 2; reg++)
		for (int over = 0; over < 2; over++)
			cr_assert_eq(fate(false, reg, over), HELD_DROP, "registered %d, over %d", reg,
				     over);
}

/* The source is back without it: it committed (killed its original). */
Test(held_copy, source_back_without_it_runs)
{
	cr_assert_eq(fate(true, true, false), HELD_RUN);
	cr_assert_eq(fate(true, true, true), HELD_RUN);
}

/* The source did not come back in time: down, the copy is the process. */
Test(held_copy, source_silent_runs_once_claims_are_over)
{
	cr_assert_eq(fate(true, false, true), HELD_RUN);
}

/* Neither known yet: the copy stays frozen (the source may yet claim it). */
Test(held_copy, otherwise_waits)
{
	cr_assert_eq(fate(true, false, false), HELD_WAIT);
}

static enum held_fate fate_from_master(bool orphan, bool half_made, bool claims_over)
{
	struct held_facts f = {
		.orphan = orphan,
		.source_registered = true,
		.claims_over = claims_over,
		.from_master = true,
		.half_made = half_made,
	};

	return held_copy_fate(&f);
}

/* From the master: it runs only where the master died with its original
 * half made into the ghost (the ghost is an orphan and noted so); an
 * original the new master thawed, or one with no ghost, keeps the copy
 * from running (never two); it never waits. */
Test(held_copy, from_master_runs_only_for_a_half_made_ghost)
{
	for (int over = 0; over < 2; over++) {
		cr_assert_eq(fate_from_master(true, true, over), HELD_RUN, "over %d", over);
		cr_assert_eq(fate_from_master(true, false, over), HELD_DROP, "over %d", over);
		cr_assert_eq(fate_from_master(false, true, over), HELD_DROP, "over %d", over);
		cr_assert_eq(fate_from_master(false, false, over), HELD_DROP, "over %d", over);
	}
}

Test(held_copy, names)
{
	cr_assert_str_eq(held_fate_name(HELD_WAIT), "wait");
	cr_assert_str_eq(held_fate_name(HELD_RUN), "run");
	cr_assert_str_eq(held_fate_name(HELD_DROP), "drop");
}
