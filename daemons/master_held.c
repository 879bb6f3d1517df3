/*
 * master_held.c - copies a node holds frozen because the commit of their
 * move between nodes never came: the master says whether each runs or goes.
 *
 * A move from node S to node N commits S first (it kills its frozen
 * original), then N.  A master that dies between the two would otherwise
 * lose the process: S killed the original, and N would kill the copy it
 * held when its master link dropped.  N now holds it frozen instead, and
 * says so (Hello.held) when it registers with the next master; S, if it
 * had not committed, kept its original frozen (in doubt,
 * slave_move_out.c) and claims it (Hello.running): its ghost is taken back
 * for S (master_moves.c), which thaws it once welcomed.
 * Here each held copy waits until its fate is known (held_copy.h: the
 * source registered, or the time for claims after a restart is over),
 * then its node is told (HeldCopyVerdict): run, with its ghost (and those
 * of its tree) taken back for N, or drop.
 *
 * A copy from the master itself is held too (slave_moves.c): a master
 * that died once its original was turning into the ghost (the execve
 * under way) left a ghost and no original.  The next master notes such a
 * half-made ghost with the node its copy went to (master_recover.c:
 * master_held_half_made); that node's held copy runs, the ghost taken back
 * for it; a copy of an original the new master thawed is dropped.  A node
 * that registers without the copy it was to hold has the half-made ghost
 * ended at once as killed: the process is lost with its copy.
 *
 * A master that did not restart has no orphan ghosts: a copy held by a
 * node whose link broke (N's link cut, its commit lost with it) is always
 * dropped; the master took N for down and ended its processes' ghosts as
 * killed, or aborted the move and S thawed its original.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bproc.h"
#include "held_copy.h"
#include "log.h"
#include "master.h"
#include "util.h"

struct held {
	int node;        /* N: where the copy is held */
	int source;      /* S: where it came from */
	pid_t pid;
	int32_t *tree;   /* the rest of its tree */
	size_t ntree;
	struct held *next;
};

static struct held *helds;

/* Ghosts a master before us left half made (master_recover.c), each with
 * the node that should hold the copy. */
struct half_made {
	pid_t pid;
	int node;
	bool original; /* a member of its tree not yet armed: not a ghost */
	struct half_made *next;
};

static struct half_made *half_mades;

static struct half_made **find_half_made(pid_t pid, int node)
{
	for (struct half_made **p = &half_mades; *p; p = &(*p)->next)
		if ((*p)->pid == pid && (*p)->node == node)
			return p;
	return NULL;
}

static bool half_made_ghost(pid_t pid, int node)
{
	struct half_made **hm = find_half_made(pid, node);

	return hm && !(*hm)->original;
}

static void half_made_forget(struct half_made **p)
{
	struct half_made *hm = *p;

	*p = hm->next;
	free(hm);
}

static int half_made_add(pid_t pid, int node, bool original)
{
	struct half_made *hm = calloc(1, sizeof(*hm));

	if (!hm)
		return -ENOMEM;
	hm->pid = pid;
	hm->node = node;
	hm->original = original;
	hm->next = half_mades;
	half_mades = hm;
	return 0;
}

int master_held_half_made(pid_t pid, int node)
{
	return half_made_add(pid, node, false);
}

int master_held_unarmed(pid_t pid, int node)
{
	return half_made_add(pid, node, true);
}

/* node registered holding none of the half-made ghosts' copies it was to
 * hold: those processes are lost (the slave killed the copy, or never had
 * it); their ghosts end as killed now, not when the claims are over. */
static void half_made_unheld(int node, Bproc__HeldCopy *const *held, size_t n)
{
	for (struct half_made **p = &half_mades; *p;) {
		bool holds = false;

		for (size_t i = 0; i < n && !holds; i++) {
			holds = held[i]->pid == (*p)->pid;
			/* A member of a tree: held with its root. */
			for (size_t k = 0; k < held[i]->n_tree && !holds; k++)
				holds = held[i]->tree[k] == (*p)->pid;
			holds = holds && held[i]->source == BPROC_NODE_MASTER;
		}
		if ((*p)->node != node || holds) {
			p = &(*p)->next;
			continue;
		}
		if ((*p)->original) {
			pr_warn("process %d: node %d holds no copy of its tree: it runs on here",
				(*p)->pid, node);
		} else {
			kill((*p)->pid, SIGKILL);
			pr_warn("process %d: a master before us died having made its ghost but before "
				"its copy was let run, and node %d holds no copy: ended as killed",
				(*p)->pid, node);
		}
		half_made_forget(p);
	}
}

/* The members of h's tree a master before us left half made.  Its copy
 * runs: their ghosts are taken back with the root's, and those not yet
 * armed then (originals that ran on here since) become their ghosts now:
 * never two.  It does not: the ghosts end as killed (no copy is left for
 * them), the originals run on. */
static void half_made_members(const struct held *h, bool run)
{
	for (size_t i = 0; i < h->ntree; i++) {
		struct half_made **hm = find_half_made(h->tree[i], h->node);
		pid_t pid = h->tree[i];
		int r;

		if (!hm)
			continue;
		if (run && (*hm)->original) {
			r = master_ghost_make_late(pid);
			if (r < 0) {
				kill(pid, SIGKILL);
				pr_warn("process %d: cannot make it the ghost of the copy node %d "
					"holds (%s): killed here, the copy runs",
					pid, h->node, strerror(-r));
			} else {
				pr_warn("process %d: made the ghost of the copy node %d holds (it ran "
					"on here since a master before us died)",
					pid, h->node);
			}
		} else if (!run && !(*hm)->original) {
			kill(pid, SIGKILL);
			pr_warn("process %d: its half-made ghost cannot be taken back with its "
				"tree's: ended as killed",
				pid);
		}
		half_made_forget(hm);
	}
}

static void held_free(struct held *h)
{
	free(h->tree);
	free(h);
}

static void send_verdict(struct master *m, int node, pid_t pid, bool run)
{
	struct master_node *n = master_find_node(m, node);
	Bproc__HeldCopyVerdict v = BPROC__HELD_COPY_VERDICT__INIT;
	Msg msg = BPROC__MSG__INIT;

	if (!n || !n->conn)
		return;
	v.pid = pid;
	v.run = run;
	msg.body_case = BPROC__MSG__BODY_HELD_COPY_VERDICT;
	msg.held_copy_verdict = &v;
	conn_send(n->conn, &msg);
}

static enum held_fate fate_of(struct master *m, const struct held *h, long long now)
{
	struct master_node *src = master_find_node(m, h->source);
	bool from_master = h->source == BPROC_NODE_MASTER;
	struct held_facts f = {
		.orphan = master_ghost_orphaned(h->pid),
		.source_registered = from_master || (src && src->conn),
		.claims_over = master_ghosts_claims_over(now),
		.from_master = from_master,
		.half_made = from_master && half_made_ghost(h->pid, h->node),
	};

	return held_copy_fate(&f);
}

/* It runs on h->node from now on: its ghost, and those of its tree,
 * follow it there. */
static bool take_back(struct master *m, const struct held *h)
{
	if (master_adopt_ghost(m, h->pid, h->node) < 0)
		return false;
	half_made_members(h, true);
	for (size_t i = 0; i < h->ntree; i++)
		master_adopt_ghost(m, h->tree[i], h->node); /* those born on S have none */
	return true;
}

static const char *from_where(int source, char *buf, size_t len)
{
	if (source == BPROC_NODE_MASTER)
		return "the master's move";
	snprintf(buf, len, "node %d's move", source);
	return buf;
}

static const char *drop_reason(const struct held *h, enum held_fate fate)
{
	if (fate == HELD_RUN)
		return "its ghost is gone";
	if (master_ghost_exists(h->pid))
		return "it runs elsewhere";
	if (h->source == BPROC_NODE_MASTER && !master_ghost_orphaned(h->pid))
		return "no ghost of it was left half made: its original runs on here, or is gone";
	return "it has no ghost";
}

void master_held_decide(struct master *m, long long now)
{
	char source_name[32];

	for (struct held **p = &helds; *p;) {
		struct held *h = *p;
		enum held_fate fate = fate_of(m, h, now);

		if (fate == HELD_WAIT) {
			p = &h->next;
			continue;
		}
		*p = h->next;
		if (fate == HELD_RUN && take_back(m, h)) {
			struct master_node *src = master_find_node(m, h->source);
			struct half_made **hm = find_half_made(h->pid, h->node);

			if (hm) {
				half_made_forget(hm);
				pr_warn("process %d: a master before us died making its ghost, before "
					"the commit; the copy node %d holds runs, its ghost taken back",
					h->pid, h->node);
			} else {
				pr_warn("process %d: its move from node %d to node %d was never committed on node %d; "
					"its copy there runs (node %d %s)",
					h->pid, h->source, h->node, h->node, h->source,
					src && src->conn ? "is back without it: it committed" :
							   "did not claim it in time: down");
			}
			send_verdict(m, h->node, h->pid, true);
		} else {
			struct half_made **hm = find_half_made(h->pid, h->node);

			pr_info("process %d: the copy node %d holds from %s is dropped (%s)", h->pid,
				h->node, from_where(h->source, source_name, sizeof(source_name)),
				drop_reason(h, fate));
			send_verdict(m, h->node, h->pid, false);
			/* A half-made ghost we could not take back: no copy is
			 * left for it to stand for. */
			if (hm) {
				kill(h->pid, SIGKILL);
				pr_warn("process %d: its half-made ghost cannot be taken back: ended as killed",
					h->pid);
				half_made_forget(hm);
				half_made_members(h, false);
			}
		}
		held_free(h);
	}
	/* Unclaimed, their ghosts end as killed with the other orphans. */
	if (master_ghosts_claims_over(now))
		while (half_mades)
			half_made_forget(&half_mades);
}

void master_held_claimed(struct master *m, int node, Bproc__HeldCopy *const *held, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct held *h = calloc(1, sizeof(*h));

		if (h && held[i]->n_tree) {
			h->tree = calloc(held[i]->n_tree, sizeof(*h->tree));
			if (!h->tree) {
				free(h);
				h = NULL;
			}
		}
		if (!h) {
			/* Not kept frozen for nothing: with no answer, it would. */
			pr_warn("out of memory: the copy of %d held on node %d is dropped",
				held[i]->pid, node);
			send_verdict(m, node, held[i]->pid, false);
			continue;
		}
		h->node = node;
		h->source = held[i]->source;
		h->pid = held[i]->pid;
		if (held[i]->n_tree)
			memcpy(h->tree, held[i]->tree, held[i]->n_tree * sizeof(*h->tree));
		h->ntree = held[i]->n_tree;
		h->next = helds;
		helds = h;
		pr_info("node %d holds a frozen copy of %d, from node %d, whose commit never came",
			node, h->pid, h->source);
	}
	half_made_unheld(node, held, n);
}

/* Its node is gone: it claims them again when it is back. */
void master_held_node_down(struct master *m, int node)
{
	(void)m;
	for (struct held **p = &helds; *p;) {
		struct held *h = *p;

		if (h->node != node) {
			p = &h->next;
			continue;
		}
		*p = h->next;
		held_free(h);
	}
}

void master_held_shutdown(void)
{
	while (half_mades)
		half_made_forget(&half_mades);
	while (helds) {
		struct held *h = helds;

		helds = h->next;
		held_free(h);
	}
}
