/*
 * held_copy.c - see held_copy.h.
 */
#include "held_copy.h"

enum held_fate held_copy_fate(const struct held_facts *f)
{
	if (!f->orphan)
		return HELD_DROP;
	if (f->from_master)
		return f->half_made ? HELD_RUN : HELD_DROP;
	if (f->source_registered || f->claims_over)
		return HELD_RUN;
	return HELD_WAIT;
}

const char *held_fate_name(enum held_fate fate)
{
	switch (fate) {
	case HELD_WAIT:
		return "wait";
	case HELD_RUN:
		return "run";
	case HELD_DROP:
		return "drop";
	}
	return "?";
}
