/*
 * config.c - parse bproc.conf(5); see config.h for the syntax.
 *
 * The parser is line based and strict: an unknown key, a bad number or
 * address, an empty range, or a node or address given twice stops it with
 * the line number, because a silently wrong node map sends processes to the
 * wrong machine.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct parser {
	const char *name;
	int line;
	char *err;
	size_t errlen;
	int next_node;
	size_t nodes_alloc;
	struct config *cfg;
};

static int parse_error(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int parse_error(struct parser *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errlen, "%s:%d: %s", p->name, p->line, msg);
	return -EINVAL;
}

static int add_node(struct parser *p, int node, struct in_addr addr)
{
	struct config *cfg = p->cfg;
	struct config_node *n;

	if (node < 0 || node >= CONFIG_MAX_NODES)
		return parse_error(p, "node number %d out of range 0-%d", node, CONFIG_MAX_NODES - 1);
	if (cfg->nnodes >= CONFIG_MAX_NODES)
		return parse_error(p, "more than %d nodes", CONFIG_MAX_NODES);
	/* Grow geometrically: an iprange may add thousands of nodes. */
	if (cfg->nnodes == p->nodes_alloc) {
		size_t alloc = p->nodes_alloc ? p->nodes_alloc * 2 : 16;

		n = realloc(cfg->nodes, alloc * sizeof(*n));
		if (!n)
			return -ENOMEM;
		cfg->nodes = n;
		p->nodes_alloc = alloc;
	}
	cfg->nodes[cfg->nnodes].node = node;
	cfg->nodes[cfg->nnodes].addr = addr;
	cfg->nodes[cfg->nnodes].line = p->line;
	cfg->nnodes++;
	p->next_node = node + 1;
	return 0;
}

static int parse_addr(struct parser *p, const char *word, struct in_addr *addr)
{
	if (inet_pton(AF_INET, word, addr) != 1)
		return parse_error(p, "'%s' is not an IPv4 address", word);
	return 0;
}

/* An optional leading node number: a word that is all digits. */
static int parse_node_number(struct parser *p, char **words, int *nwords, int *node)
{
	long v;

	*node = p->next_node;
	if (*nwords > 0 && strspn(words[0], "0123456789") == strlen(words[0]) &&
	    !strchr(words[0], '.')) {
		if (parse_long(words[0], 0, CONFIG_MAX_NODES - 1, &v) < 0)
			return parse_error(p, "node number '%s' out of range 0-%d", words[0],
					   CONFIG_MAX_NODES - 1);
		*node = (int)v;
		memmove(words, words + 1, (size_t)(*nwords - 1) * sizeof(*words));
		(*nwords)--;
	}
	return 0;
}

static int key_ip(struct parser *p, char **words, int nwords)
{
	int node, r;

	r = parse_node_number(p, words, &nwords, &node);
	if (r < 0)
		return r;
	if (nwords < 1)
		return parse_error(p, "'ip' needs an address");
	p->next_node = node;
	for (int i = 0; i < nwords; i++) {
		struct in_addr addr;

		r = parse_addr(p, words[i], &addr);
		if (r < 0)
			return r;
		r = add_node(p, p->next_node, addr);
		if (r < 0)
			return r;
	}
	return 0;
}

static int key_iprange(struct parser *p, char **words, int nwords)
{
	struct in_addr first, last;
	uint32_t a, b;
	int node, r;

	r = parse_node_number(p, words, &nwords, &node);
	if (r < 0)
		return r;
	if (nwords != 2)
		return parse_error(p, "'iprange' takes [NODE] FIRST LAST");
	r = parse_addr(p, words[0], &first);
	if (r < 0)
		return r;
	r = parse_addr(p, words[1], &last);
	if (r < 0)
		return r;
	a = ntohl(first.s_addr);
	b = ntohl(last.s_addr);
	if (b < a)
		return parse_error(p, "iprange %s %s is empty (the last address is before the first)",
				   words[0], words[1]);
	if ((uint64_t)(b - a) + (uint64_t)node >= CONFIG_MAX_NODES)
		return parse_error(p, "iprange %s %s gives more than %d nodes", words[0], words[1],
				   CONFIG_MAX_NODES);
	p->next_node = node;
	for (uint64_t i = a; i <= b; i++) {
		struct in_addr addr = { .s_addr = htonl((uint32_t)i) };

		r = add_node(p, p->next_node, addr);
		if (r < 0)
			return r;
	}
	return 0;
}

static int key_list(struct parser *p, const char *key, char **words, int nwords, char ***list,
		    size_t *n)
{
	char **l;

	if (nwords < 1)
		return parse_error(p, "'%s' needs at least one path", key);
	l = realloc(*list, (*n + (size_t)nwords) * sizeof(*l));
	if (!l)
		return -ENOMEM;
	*list = l;
	for (int i = 0; i < nwords; i++) {
		l[*n] = strdup(words[i]);
		if (!l[*n])
			return -ENOMEM;
		(*n)++;
	}
	return 0;
}

static int key_string(struct parser *p, const char *key, char **words, int nwords, char **out)
{
	if (nwords != 1)
		return parse_error(p, "'%s' takes exactly one value", key);
	if (*out)
		return parse_error(p, "'%s' is given twice", key);
	*out = strdup(words[0]);
	return *out ? 0 : -ENOMEM;
}

static int key_yes_no(struct parser *p, const char *key, char **words, int nwords, bool *out)
{
	if (nwords != 1 || (strcmp(words[0], "yes") != 0 && strcmp(words[0], "no") != 0))
		return parse_error(p, "'%s' takes yes or no", key);
	*out = strcmp(words[0], "yes") == 0;
	return 0;
}

static int key_number(struct parser *p, const char *key, char **words, int nwords, long min,
		      long max, long *out)
{
	if (nwords != 1)
		return parse_error(p, "'%s' takes exactly one number", key);
	if (parse_long(words[0], min, max, out) < 0)
		return parse_error(p, "'%s %s': expected a number from %ld to %ld", key, words[0],
				   min, max);
	return 0;
}

static int parse_line(struct parser *p, char *line)
{
	char *words[64];
	int nwords = 0;
	char *save = NULL, *w, *hash;
	const char *key;
	long v;
	int r;

	hash = strchr(line, '#');
	if (hash)
		*hash = '\0';
	for (w = strtok_r(line, " \t\r", &save); w; w = strtok_r(NULL, " \t\r", &save)) {
		if (nwords == (int)ARRAY_SIZE(words))
			return parse_error(p, "too many words on one line (at most %zu)",
					   ARRAY_SIZE(words));
		words[nwords++] = w;
	}
	if (nwords == 0)
		return 0;
	key = words[0];
	nwords--;
	if (strcmp(key, "interface") == 0) {
		/* BProc allowed "interface NAME ADDR NETMASK"; only the name matters here. */
		if (nwords < 1 || nwords > 3)
			return parse_error(p, "'interface' takes NAME [ADDR NETMASK]");
		return key_string(p, key, words + 1, 1, &p->cfg->interface);
	}
	if (strcmp(key, "bprocport") == 0) {
		r = key_number(p, key, words + 1, nwords, 1, 65535, &v);
		if (r == 0)
			p->cfg->port = (int)v;
		return r;
	}
	if (strcmp(key, "pingtimeout") == 0) {
		r = key_number(p, key, words + 1, nwords, 1, 3600, &v);
		if (r == 0)
			p->cfg->pingtimeout_ms = (int)v * 1000;
		return r;
	}
	if (strcmp(key, "launchfanout") == 0) {
		r = key_number(p, key, words + 1, nwords, 0, CONFIG_MAX_NODES, &v);
		if (r == 0)
			p->cfg->launchfanout = (int)v;
		return r;
	}
	if (strcmp(key, "claimtime") == 0) {
		r = key_number(p, key, words + 1, nwords, 1, 3600, &v);
		if (r == 0)
			p->cfg->claimtime_ms = (int)v * 1000;
		return r;
	}
	if (strcmp(key, "ip") == 0)
		return key_ip(p, words + 1, nwords);
	if (strcmp(key, "iprange") == 0)
		return key_iprange(p, words + 1, nwords);
	if (strcmp(key, "libraries") == 0)
		return key_list(p, key, words + 1, nwords, &p->cfg->libraries, &p->cfg->nlibraries);
	if (strcmp(key, "binaries") == 0)
		return key_list(p, key, words + 1, nwords, &p->cfg->binaries, &p->cfg->nbinaries);
	if (strcmp(key, "secretfile") == 0)
		return key_string(p, key, words + 1, nwords, &p->cfg->secretfile);
	if (strcmp(key, "statefile") == 0)
		return key_string(p, key, words + 1, nwords, &p->cfg->statefile);
	if (strcmp(key, "criu") == 0)
		return key_string(p, key, words + 1, nwords, &p->cfg->criu);
	if (strcmp(key, "encrypt") == 0)
		return key_yes_no(p, key, words + 1, nwords, &p->cfg->encrypt);
	if (strcmp(key, "favordynmods") == 0)
		return key_yes_no(p, key, words + 1, nwords, &p->cfg->favordynmods);
	return parse_error(p, "unknown key '%s'", key);
}

static int compare_nodes(const void *a, const void *b)
{
	const struct config_node *x = a, *y = b;

	return (x->node > y->node) - (x->node < y->node);
}

static int compare_addrs(const void *a, const void *b)
{
	const struct config_node *x = a, *y = b;
	uint32_t ax = ntohl(x->addr.s_addr), ay = ntohl(y->addr.s_addr);

	return (ax > ay) - (ax < ay);
}

/* The later of two clashing entries is the one in error. */
static int later_line(const struct config_node *a, const struct config_node *b)
{
	return a->line > b->line ? a->line : b->line;
}

/* Overlapping ip/iprange lines: found by sorting, so a big range stays fast. */
static int check_overlaps(struct parser *p)
{
	struct config *cfg = p->cfg;
	char text[INET_ADDRSTRLEN];

	qsort_safe(cfg->nodes, cfg->nnodes, sizeof(*cfg->nodes), compare_addrs);
	for (size_t i = 1; i < cfg->nnodes; i++) {
		const struct config_node *a = &cfg->nodes[i - 1], *b = &cfg->nodes[i];

		if (a->addr.s_addr != b->addr.s_addr)
			continue;
		inet_ntop(AF_INET, &a->addr, text, sizeof(text));
		p->line = later_line(a, b);
		return parse_error(p, "address %s is given to node %d and node %d", text,
				   a->node < b->node ? a->node : b->node,
				   a->node < b->node ? b->node : a->node);
	}
	qsort_safe(cfg->nodes, cfg->nnodes, sizeof(*cfg->nodes), compare_nodes);
	for (size_t i = 1; i < cfg->nnodes; i++) {
		const struct config_node *a = &cfg->nodes[i - 1], *b = &cfg->nodes[i];

		if (a->node != b->node)
			continue;
		p->line = later_line(a, b);
		return parse_error(p, "node %d is given two addresses (lines %d and %d overlap)",
				   a->node, a->line < b->line ? a->line : b->line, p->line);
	}
	return 0;
}

int config_parse(const char *text, const char *name, struct config *cfg, char *err,
		 size_t errlen)
{
	_cleanup_free_ char *copy = strdup(text);
	struct parser p = {
		.name = name, .line = 0, .err = err, .errlen = errlen, .next_node = 0, .cfg = cfg,
	};
	char *line;
	int r = 0;

	memset(cfg, 0, sizeof(*cfg));
	cfg->port = CONFIG_DEFAULT_PORT;
	cfg->pingtimeout_ms = CONFIG_DEFAULT_PINGTIMEOUT_MS;
	cfg->launchfanout = CONFIG_DEFAULT_LAUNCHFANOUT;
	cfg->claimtime_ms = CONFIG_DEFAULT_CLAIMTIME_MS;
	cfg->favordynmods = true;
	if (!copy)
		return -ENOMEM;
	/* strtok_r would skip empty lines and lose the count: split by hand. */
	line = copy;
	while (line) {
		char *nl = strchr(line, '\n');

		if (nl)
			*nl = '\0';
		p.line++;
		r = parse_line(&p, line);
		if (r < 0)
			break;
		line = nl ? nl + 1 : NULL;
	}
	if (r == 0)
		r = check_overlaps(&p);
	if (r == -ENOMEM)
		snprintf(err, errlen, "%s: out of memory", name);
	if (r < 0)
		config_free(cfg);
	return r;
}

int config_load(const char *path, struct config *cfg, char *err, size_t errlen)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	_cleanup_free_ char *text = NULL;
	size_t len = 0, cap = 0;
	char buf[4096];
	size_t n;

	if (!f) {
		int r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return r;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (len + n + 1 > cap) {
			char *t;

			cap = (len + n + 1) * 2;
			if (cap > (1u << 20)) {
				snprintf(err, errlen, "%s: larger than 1 MiB", path);
				return -EFBIG;
			}
			t = realloc(text, cap);
			if (!t)
				return -ENOMEM;
			text = t;
		}
		memcpy(text + len, buf, n);
		len += n;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		return -EIO;
	}
	if (!text)
		text = strdup("");
	else
		text[len] = '\0';
	if (!text)
		return -ENOMEM;
	if (memchr(text, '\0', len)) {
		snprintf(err, errlen, "%s: contains a NUL byte; not a text file", path);
		return -EINVAL;
	}
	return config_parse(text, path, cfg, err, errlen);
}

static void free_list(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

void config_free(struct config *cfg)
{
	free(cfg->interface);
	free(cfg->nodes);
	free_list(cfg->libraries, cfg->nlibraries);
	free_list(cfg->binaries, cfg->nbinaries);
	free(cfg->secretfile);
	free(cfg->statefile);
	free(cfg->criu);
	memset(cfg, 0, sizeof(*cfg));
}

int config_node_by_addr(const struct config *cfg, struct in_addr addr)
{
	for (size_t i = 0; i < cfg->nnodes; i++)
		if (cfg->nodes[i].addr.s_addr == addr.s_addr)
			return cfg->nodes[i].node;
	return -1;
}

int config_node_index(const struct config *cfg, int node)
{
	size_t lo = 0, hi = cfg->nnodes;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (cfg->nodes[mid].node == node)
			return (int)mid;
		if (cfg->nodes[mid].node < node)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}
