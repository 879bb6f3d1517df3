/*
 * nodespec.c - node specifications, as bpstat, bpctl and bpsh take them.
 *
 *   4            one node
 *   5-8          a range
 *   1,3,5-8      a list of any of these
 *   all          every node
 *   allup / up   every node that is up (likewise any state name, with or
 *                without "all": "down", "alldown", "error", ...)
 *
 * A number that is not a node of the cluster is an error (BE_INVALIDNODE)
 * rather than silently skipped, so a typo never runs a job on fewer nodes
 * than meant.  The result is in node order with no repeats.
 *
 * bproc_nodefilter() is a pure function over a node set, so it is tested
 * without a cluster; bproc_nodespec() applies it to the cluster's nodes.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bproc.h"
#include "util.h"

static int fail(int err)
{
	errno = err;
	return -1;
}

/* Parse a node number at *p; advances *p.  0 or -EINVAL/-ERANGE. */
static int parse_number(const char **p, long *out)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)**p))
		return -EINVAL;
	errno = 0;
	v = strtol(*p, &end, 10);
	if (errno == ERANGE || v > 0x7fffffff)
		return -ERANGE;
	*p = end;
	*out = v;
	return 0;
}

static int find_index(const struct bproc_node_set_t *in, long node)
{
	for (int i = 0; i < in->size; i++)
		if (in->node[i].node == node)
			return i;
	return -1;
}

/* Mark the nodes one item selects.  0 or -errno. */
static int select_item(const struct bproc_node_set_t *in, const char *item, size_t len,
		       bool *selected)
{
	char word[32];
	const char *p = item, *end = item + len;
	long first, last;
	int state, r;

	if (len == 0)
		return -EINVAL;
	if (isdigit((unsigned char)*item)) {
		r = parse_number(&p, &first);
		if (r < 0)
			return r;
		last = first;
		if (p < end && *p == '-') {
			p++;
			r = parse_number(&p, &last);
			if (r < 0)
				return r;
		}
		if (p != end || last < first)
			return -EINVAL;
		for (long n = first; n <= last; n++) {
			int i = find_index(in, n);

			if (i < 0)
				return -BE_INVALIDNODE;
			selected[i] = true;
		}
		return 0;
	}

	if (len >= sizeof(word))
		return -EINVAL;
	memcpy(word, item, len);
	word[len] = '\0';
	if (strcmp(word, "all") == 0) {
		for (int i = 0; i < in->size; i++)
			selected[i] = true;
		return 0;
	}
	state = bproc_state_parse(strncmp(word, "all", 3) == 0 ? word + 3 : word);
	if (state < 0)
		return -EINVAL;
	for (int i = 0; i < in->size; i++)
		if (bproc_state_parse(in->node[i].status) == state)
			selected[i] = true;
	return 0;
}

static int compare_nodes(const void *a, const void *b)
{
	const struct bproc_node_info_t *x = a, *y = b;

	return (x->node > y->node) - (x->node < y->node);
}

int bproc_nodefilter(struct bproc_node_set_t *out, const struct bproc_node_set_t *in,
		     const char *spec)
{
	bool *selected;
	const char *p;
	int n = 0;

	memset(out, 0, sizeof(*out));
	if (!spec)
		return fail(EINVAL);
	while (isspace((unsigned char)*spec))
		spec++;
	if (!*spec)
		return fail(EINVAL);
	selected = calloc(in->size ? in->size : 1, sizeof(*selected));
	if (!selected)
		return fail(ENOMEM);

	for (p = spec;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		const char *start = p;
		int r;

		/* Allow blanks around items: "1, 3" */
		while (len && isspace((unsigned char)*start)) {
			start++;
			len--;
		}
		while (len && isspace((unsigned char)start[len - 1]))
			len--;
		r = select_item(in, start, len, selected);
		if (r < 0) {
			free(selected);
			return fail(-r);
		}
		if (!comma)
			break;
		p = comma + 1;
	}

	for (int i = 0; i < in->size; i++)
		n += selected[i];
	if (n) {
		out->node = calloc((size_t)n, sizeof(*out->node));
		if (!out->node) {
			free(selected);
			return fail(ENOMEM);
		}
	}
	out->alloc = n;
	for (int i = 0; i < in->size; i++)
		if (selected[i])
			out->node[out->size++] = in->node[i];
	free(selected);
	qsort_safe(out->node, (size_t)out->size, sizeof(*out->node), compare_nodes);
	return out->size;
}

int bproc_nodespec(struct bproc_node_set_t *out, const char *spec)
{
	struct bproc_node_set_t all;
	int r, saved;

	memset(out, 0, sizeof(*out));
	if (bproc_nodelist(&all) < 0)
		return -1;
	r = bproc_nodefilter(out, &all, spec);
	saved = errno;
	bproc_nodeset_free(&all);
	errno = saved;
	return r;
}
