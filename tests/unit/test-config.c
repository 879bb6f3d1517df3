/*
 * test-config.c - the config parser (daemons/config.c).
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char err[512];

static int parse(const char *text, struct config *cfg)
{
	err[0] = '\0';
	return config_parse(text, "test.conf", cfg, err, sizeof(err));
}

static void expect_error(const char *text, const char *message)
{
	struct config cfg;

	cr_assert_eq(parse(text, &cfg), -EINVAL, "accepted: %s", text);
	cr_assert(strstr(err, message), "error for '%s' was '%s', expected '%s'", text, err, message);
}

static const char *addr_of(const struct config *cfg, int node)
{
	static char buf[INET_ADDRSTRLEN];
	int i = config_node_index(cfg, node);

	if (i < 0)
		return "none";
	return inet_ntop(AF_INET, &cfg->nodes[i].addr, buf, sizeof(buf));
}

Test(config, defaults)
{
	struct config cfg;

	cr_assert_eq(parse("", &cfg), 0);
	cr_assert_eq(cfg.port, 2223);
	cr_assert_eq(cfg.nnodes, 0);
	cr_assert_eq(cfg.pingtimeout_ms, CONFIG_DEFAULT_PINGTIMEOUT_MS);
	cr_assert_eq(cfg.launchfanout, CONFIG_DEFAULT_LAUNCHFANOUT);
	cr_assert_eq(cfg.claimtime_ms, 30000);
	cr_assert(cfg.favordynmods);
	cr_assert_not(cfg.encrypt);
	cr_assert_null(cfg.interface);
	config_free(&cfg);
}

Test(config, full_file)
{
	struct config cfg;
	const char *text =
		"# a cluster\n"
		"interface bpbr0\n"
		"bprocport 3000   # not the default\n"
		"\n"
		"iprange 0 10.0.0.10 10.0.0.13\n"
		"ip 10 10.0.1.1 10.0.1.2\n"
		"ip 10.0.2.1\n"
		"libraries /lib/libc.so.6 /lib/libm.so.6\n"
		"libraries /lib/libdl.so.2\n"
		"binaries /bin/sh\n"
		"secretfile /etc/bproc/secret\n"
		"statefile /var/lib/bproc/master.db\n"
		"criu /opt/criu/criu\n"
		"pingtimeout 7\n"
		"launchfanout 0\n"
		"claimtime 5\n"
		"encrypt yes\n"
		"favordynmods no\n";

	cr_assert_eq(parse(text, &cfg), 0, "%s", err);
	cr_assert_str_eq(cfg.interface, "bpbr0");
	cr_assert_eq(cfg.port, 3000);
	cr_assert_eq(cfg.nnodes, 7);
	cr_assert_str_eq(addr_of(&cfg, 0), "10.0.0.10");
	cr_assert_str_eq(addr_of(&cfg, 3), "10.0.0.13");
	cr_assert_str_eq(addr_of(&cfg, 10), "10.0.1.1");
	cr_assert_str_eq(addr_of(&cfg, 11), "10.0.1.2");
	cr_assert_str_eq(addr_of(&cfg, 12), "10.0.2.1", "ip without a number continues");
	cr_assert_str_eq(addr_of(&cfg, 4), "none");
	cr_assert_eq(cfg.nlibraries, 3);
	cr_assert_str_eq(cfg.libraries[2], "/lib/libdl.so.2");
	cr_assert_eq(cfg.nbinaries, 1);
	cr_assert_str_eq(cfg.secretfile, "/etc/bproc/secret");
	cr_assert_str_eq(cfg.statefile, "/var/lib/bproc/master.db");
	cr_assert_str_eq(cfg.criu, "/opt/criu/criu");
	cr_assert_eq(cfg.pingtimeout_ms, 7000);
	cr_assert_eq(cfg.launchfanout, 0);
	cr_assert_eq(cfg.claimtime_ms, 5000);
	cr_assert(cfg.encrypt);
	cr_assert_not(cfg.favordynmods);
	config_free(&cfg);
}

Test(config, node_by_addr)
{
	struct config cfg;
	struct in_addr a;

	cr_assert_eq(parse("iprange 5 192.168.7.1 192.168.7.3\n", &cfg), 0, "%s", err);
	inet_pton(AF_INET, "192.168.7.2", &a);
	cr_assert_eq(config_node_by_addr(&cfg, a), 6);
	inet_pton(AF_INET, "192.168.7.9", &a);
	cr_assert_eq(config_node_by_addr(&cfg, a), -1);
	config_free(&cfg);
}

Test(config, iprange_without_node_continues)
{
	struct config cfg;

	cr_assert_eq(parse("ip 3 10.1.0.1\niprange 10.1.0.5 10.1.0.6\n", &cfg), 0, "%s", err);
	cr_assert_str_eq(addr_of(&cfg, 4), "10.1.0.5");
	cr_assert_str_eq(addr_of(&cfg, 5), "10.1.0.6");
	config_free(&cfg);
}

Test(config, errors_have_line_numbers)
{
	expect_error("\n\nfoo bar\n", "test.conf:3: unknown key 'foo'");
	expect_error("bprocport\n", "test.conf:1: 'bprocport' takes exactly one number");
	expect_error("bprocport 70000\n", "expected a number from 1 to 65535");
	expect_error("bprocport 12x\n", "expected a number");
	expect_error("ip 10.0.0.300\n", "'10.0.0.300' is not an IPv4 address");
	expect_error("ip 0 not-an-address\n", "is not an IPv4 address");
	expect_error("ip 3\n", "'ip' needs an address");
	expect_error("iprange 10.0.0.9 10.0.0.1\n", "is empty");
	expect_error("iprange 0 10.0.0.1\n", "'iprange' takes [NODE] FIRST LAST");
	expect_error("iprange 99999999 10.0.0.1 10.0.0.2\n", "out of range");
	expect_error("interface\n", "'interface' takes NAME");
	expect_error("interface a\ninterface b\n", "test.conf:2: 'interface' is given twice");
	expect_error("libraries\n", "needs at least one path");
	expect_error("pingtimeout 0\n", "expected a number from 1");
	expect_error("launchfanout -1\n", "expected a number from 0");
	expect_error("launchfanout four\n", "expected a number from 0");
	expect_error("claimtime 0\n", "expected a number from 1");
	expect_error("claimtime 3601\n", "expected a number from 1");
	expect_error("encrypt maybe\n", "'encrypt' takes yes or no");
	expect_error("favordynmods\n", "test.conf:1: 'favordynmods' takes yes or no");
	expect_error("favordynmods yes no\n", "'favordynmods' takes yes or no");
}

Test(config, overlapping_ranges)
{
	expect_error("iprange 0 10.0.0.1 10.0.0.4\niprange 2 10.0.0.8 10.0.0.9\n",
		     "test.conf:2: node 2 is given two addresses (lines 1 and 2 overlap)");
	expect_error("iprange 0 10.0.0.1 10.0.0.4\nip 9 10.0.0.3\n",
		     "test.conf:2: address 10.0.0.3 is given to node 2 and node 9");
	expect_error("ip 1 10.0.0.1\n\nip 1 10.0.0.2\n", "test.conf:3: node 1 is given two addresses");
}

Test(config, huge_range_is_bounded)
{
	struct config cfg;

	/* 2^24 addresses would be 16 million nodes: refused, quickly. */
	expect_error("iprange 0 10.0.0.0 10.255.255.255\n", "gives more than");
	cr_assert_eq(parse("iprange 0 10.0.0.0 10.0.255.255\n", &cfg), 0, "%s", err);
	cr_assert_eq(cfg.nnodes, 65536);
	config_free(&cfg);
}

Test(config, load_file)
{
	char path[] = "/tmp/bproc-test-config-XXXXXX";
	struct config cfg;
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "ip 0 10.9.9.9\nbad line\n", 23), 23);
	close(fd);
	cr_assert_eq(config_load(path, &cfg, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, ":2: unknown key 'bad'"), "%s", err);
	unlink(path);
	cr_assert_eq(config_load(path, &cfg, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "No such file"), "%s", err);
}
