/*
 * fuzz-config.c - libFuzzer target for the configuration parser
 * (daemons/config.c).  Any text is either a configuration or an error
 * with a message; nothing in between, no crash, no leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), err[512];
	struct config cfg;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	err[0] = '\0';
	if (config_parse(text, "fuzz", &cfg, err, sizeof(err)) == 0)
		config_free(&cfg);
	else if (!err[0])
		abort(); /* every refusal says why */
	free(text);
	return 0;
}
