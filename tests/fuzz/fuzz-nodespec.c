/*
 * fuzz-nodespec.c - libFuzzer target for node specifications
 * (clients/libbproc/nodespec.c), the text users give bpstat, bpctl and
 * bpsh.  The first bytes make a cluster (how many nodes, each one's
 * number and state); the rest is the specification.  A match is a subset
 * of the cluster, sorted by node number.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bproc.h"

#define MAX_NODES 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bproc_node_info_t nodes[MAX_NODES];
	struct bproc_node_set_t in = { 0 }, out;
	char *spec;
	int count, r;

	if (size < 1)
		return 0;
	count = data[0] % (MAX_NODES + 1);
	if (size < 1 + 2 * (size_t)count)
		return 0;
	memset(nodes, 0, sizeof(nodes));
	for (int i = 0; i < count; i++) {
		nodes[i].node = data[1 + 2 * i];
		snprintf(nodes[i].status, sizeof(nodes[i].status), "%s",
			 bproc_state_name(data[2 + 2 * i] % (BPROC_NODE_PWROFF + 1)));
	}
	in.size = in.alloc = count;
	in.node = nodes;
	data += 1 + 2 * count;
	size -= 1 + 2 * (size_t)count;
	spec = malloc(size + 1);
	if (!spec)
		return 0;
	memcpy(spec, data, size);
	spec[size] = '\0';
	r = bproc_nodefilter(&out, &in, spec);
	if (r >= 0) {
		if (r != out.size || out.size > count)
			abort();
		for (int i = 1; i < out.size; i++)
			if (out.node[i - 1].node > out.node[i].node)
				abort();
		bproc_nodeset_free(&out);
	}
	free(spec);
	return 0;
}
