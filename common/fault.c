/*
 * fault.c - see fault.h.
 */
#include "fault.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

/* How many times each entry of the list (by its place) fired: "name:N"
 * fires the first N times only, so that a test can see the same process
 * fail to move, then move. */
#define MAX_ENTRIES 16
static unsigned long fired[MAX_ENTRIES];

bool fault_at(const char *name)
{
	const char *list = getenv("BPROC_FAULT");
	size_t len = strlen(name);
	int i = 0;

	for (const char *p = list; p && *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] != '\0'), i++) {
		if (strncmp(p, name, len) != 0 || (p[len] != ',' && p[len] != '\0' && p[len] != ':'))
			continue;
		if (p[len] == ':' && i < MAX_ENTRIES) {
			unsigned long most = strtoul(p + len + 1, NULL, 10);

			if (fired[i] >= most)
				return false;
			fired[i]++;
		}
		pr_warn("fault injected: %s (BPROC_FAULT)", name);
		return true;
	}
	return false;
}
