/*
 * held_copy.h - what becomes of a copy a node holds frozen because the
 * commit of its move between nodes never came (HeldCopy in
 * images/bproc.proto).
 *
 * A move from node S to node N commits S first (it kills its frozen
 * original), then N (its copy runs).  If the master dies between the two,
 * or N's link breaks with its commit still queued, N cannot know whether S
 * committed; it holds the copy frozen and says so when it registers again.
 * The master decides, on what it knows, so that the process is never lost
 * and never runs twice:
 *
 *   - its ghost is not one a master before us left that no node took back
 *     (some node claimed the process: S, which never committed, kept its
 *     original frozen and thaws it once taken back; or it has no ghost: it
 *     ended, or the master that lives took N for down and ended it as
 *     killed)                                              -> drop the copy;
 *   - its source S registered with us and did not claim it (S committed,
 *     or S's slave died with the original)                -> run the copy;
 *   - the time for claims (claimtime) is over and S did not come back (it
 *     is down: its original, frozen, is killed when it registers)
 *                                                          -> run the copy;
 *   - otherwise                                           -> wait.
 *
 * A copy from the master itself (S is BPROC_NODE_MASTER) is the process
 * only if the master died once its original was turning into the ghost
 * (the execve under way, master_recover.c): then the ghost is one a
 * master before us left, noted half made for this node -> run; otherwise
 * the new master thawed the original, or the process is gone -> drop
 * (never two: in doubt, drop).
 *
 * Pure, so it can be tested without a cluster (tests/unit/test-held_copy.c);
 * daemons/master_held.c gathers the facts and acts.
 */
#ifndef BPROC_HELD_COPY_H
#define BPROC_HELD_COPY_H

#include <stdbool.h>

enum held_fate {
	HELD_WAIT, /* not yet known: ask again when a node registers or time passes */
	HELD_RUN,  /* the copy is the process now: let it run */
	HELD_DROP, /* the process is elsewhere, or gone: kill the copy */
};

struct held_facts {
	/* Its ghost was left by a master before us and no node claimed its
	 * process running yet. */
	bool orphan;
	/* Its source node registered with this master (having thus claimed
	 * what it still runs). */
	bool source_registered;
	/* The time nodes have to claim their processes after a master
	 * restart is over. */
	bool claims_over;
	/* From the master itself: its original was found half made into
	 * the ghost, whose copy this node was to run. */
	bool from_master;
	bool half_made;
};

enum held_fate held_copy_fate(const struct held_facts *f);
const char *held_fate_name(enum held_fate fate);

#endif
