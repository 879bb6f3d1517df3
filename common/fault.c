/*
 * fault.c - see fault.h.
 */
#include "fault.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

bool fault_at(const char *name)
{
	const char *list = getenv("BPROC_FAULT");
	size_t len = strlen(name);

	for (const char *p = list; p && *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] != '\0')) {
		if (strncmp(p, name, len) == 0 && (p[len] == ',' || p[len] == '\0')) {
			pr_warn("fault injected: %s (BPROC_FAULT)", name);
			return true;
		}
	}
	return false;
}
