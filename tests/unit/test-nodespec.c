/*
 * test-nodespec.c - node specifications (clients/libbproc/nodespec.c)
 * over a fixed node set, no cluster needed.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bproc.h"

/* Nodes 0-9: 0-3 up, 4 down, 5 error, 6-7 up, 8 unavailable, 9 down. */
static struct bproc_node_info_t nodes[10];
static struct bproc_node_set_t cluster = { .size = 10, .alloc = 10, .node = nodes };

static void setup(void)
{
	static const char *states[10] = { "up", "up", "up", "up", "down",
					  "error", "up", "up", "unavailable", "down" };

	for (int i = 0; i < 10; i++) {
		memset(&nodes[i], 0, sizeof(nodes[i]));
		nodes[i].node = i;
		snprintf(nodes[i].status, sizeof(nodes[i].status), "%s", states[i]);
	}
}

/* The selected node numbers as "0,1,2" for easy comparison. */
static const char *selected(const char *spec, int *ret)
{
	static char buf[128];
	struct bproc_node_set_t out;
	size_t used = 0;

	buf[0] = '\0';
	errno = 0;
	*ret = bproc_nodefilter(&out, &cluster, spec);
	for (int i = 0; i < out.size; i++)
		used += snprintf(buf + used, sizeof(buf) - used, "%s%d", i ? "," : "",
				 out.node[i].node);
	bproc_nodeset_free(&out);
	return buf;
}

static void expect(const char *spec, const char *want)
{
	int r;
	const char *got = selected(spec, &r);

	cr_expect_geq(r, 0, "spec '%s' failed: errno %d", spec, errno);
	cr_expect_str_eq(got, want, "spec '%s'", spec);
}

static void expect_error(const char *spec, int err)
{
	int r;

	selected(spec, &r);
	cr_expect_eq(r, -1, "spec '%s' should fail", spec);
	cr_expect_eq(errno, err, "spec '%s': errno %d, want %d", spec, errno, err);
}

TestSuite(nodespec, .init = setup);

Test(nodespec, single_nodes)
{
	expect("0", "0");
	expect("4", "4");
	expect("9", "9");
}

Test(nodespec, ranges)
{
	expect("5-8", "5,6,7,8");
	expect("3-3", "3");
	expect("0-9", "0,1,2,3,4,5,6,7,8,9");
}

Test(nodespec, lists_and_combinations)
{
	expect("1,3", "1,3");
	expect("7,1-2,9", "1,2,7,9");
	expect("1, 3", "1,3");
	expect(" 2 ", "2");
	expect("4,alldown", "4,9");
}

Test(nodespec, duplicates_collapse)
{
	expect("1,1,1", "1");
	expect("0-3,2-5", "0,1,2,3,4,5");
	expect("all,3", "0,1,2,3,4,5,6,7,8,9");
}

Test(nodespec, keywords)
{
	expect("all", "0,1,2,3,4,5,6,7,8,9");
	expect("allup", "0,1,2,3,6,7");
	expect("up", "0,1,2,3,6,7");
	expect("alldown", "4,9");
	expect("down", "4,9");
	expect("error", "5");
	expect("unavailable", "8");
	expect("allunavailable", "8");
}

Test(nodespec, a_state_nobody_is_in_is_empty)
{
	expect("boot", "");
}

Test(nodespec, unknown_nodes)
{
	expect_error("10", BE_INVALIDNODE);
	expect_error("8-12", BE_INVALIDNODE);
	expect_error("1,99", BE_INVALIDNODE);
}

Test(nodespec, garbage)
{
	expect_error("", EINVAL);
	expect_error("   ", EINVAL);
	expect_error("banana", EINVAL);
	expect_error("1-", EINVAL);
	expect_error("-1", EINVAL);
	expect_error("1--3", EINVAL);
	expect_error("3-1", EINVAL);
	expect_error("1,,2", EINVAL);
	expect_error("1,", EINVAL);
	expect_error(",1", EINVAL);
	expect_error("1x", EINVAL);
	expect_error("allbanana", EINVAL);
	expect_error("0x1", EINVAL);
}

Test(nodespec, overflow)
{
	expect_error("99999999999999999999", ERANGE);
	expect_error("1-99999999999999999999", ERANGE);
}

Test(nodespec, null_spec)
{
	struct bproc_node_set_t out;

	cr_expect_eq(bproc_nodefilter(&out, &cluster, NULL), -1);
	cr_expect_eq(errno, EINVAL);
}

Test(nodespec, errors_have_words)
{
	cr_expect_str_eq(bproc_strerror(BE_NODEDOWN), "Node is down");
	cr_expect_str_eq(bproc_strerror(-BE_INVALIDNODE), "Invalid node number");
	cr_expect_str_eq(bproc_strerror(ENOENT), strerror(ENOENT));
	cr_expect_eq(bproc_state_parse("UP"), BPROC_NODE_UP);
	cr_expect_eq(bproc_state_parse("nonsense"), -1);
	cr_expect_str_eq(bproc_state_name(BPROC_NODE_PWROFF), "pwroff");
	cr_expect_str_eq(bproc_state_name(42), "invalid");
}
