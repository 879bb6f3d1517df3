/*
 * master_procs.c - processes born on the nodes: children that moved
 * processes forked there, and their descendants.  The slaves learn of them
 * from the kernel's process-events connector (slave_procs.c) and report
 * ProcessForked and ProcessGone; they have no ghost, but `bpstat -p` (the
 * ProcList) lists them with their node.  A node that goes down takes its
 * processes with it; a slave that comes back reports them again.
 */
#include <errno.h>
#include <stdlib.h>

#include "bproc.h"
#include "log.h"
#include "master.h"

struct node_proc {
	int node;
	pid_t pid;
	pid_t ppid;
	struct node_proc *next;
};

static struct node_proc *procs;

static struct node_proc **find(int node, pid_t pid)
{
	struct node_proc **p;

	for (p = &procs; *p; p = &(*p)->next)
		if ((*p)->node == node && (*p)->pid == pid)
			break;
	return p;
}

void master_proc_forked(struct master *m, int node, const Bproc__ProcessForked *f)
{
	struct node_proc *p, **at = find(node, f->pid);

	(void)m;
	if (f->pid <= 1)
		return;
	if (*at) {
		(*at)->ppid = f->ppid; /* said again after a reconnection */
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		pr_warn("out of memory: process %d of node %d not listed", f->pid, node);
		return;
	}
	p->node = node;
	p->pid = f->pid;
	p->ppid = f->ppid;
	p->next = procs;
	procs = p;
}

void master_proc_gone(struct master *m, int node, const Bproc__ProcessGone *g)
{
	struct node_proc *p, **at = find(node, g->pid);

	(void)m;
	if (!*at)
		return;
	p = *at;
	*at = p->next;
	free(p);
}

void master_proc_ended(struct master *m, int node, pid_t pid)
{
	Bproc__ProcessGone g = BPROC__PROCESS_GONE__INIT;

	g.pid = pid;
	master_proc_gone(m, node, &g);
}

void master_proc_moved(struct master *m, int from, int to, pid_t pid)
{
	struct node_proc **at = find(from, pid);

	(void)m;
	if (*at)
		(*at)->node = to;
}

void master_procs_node_down(struct master *m, int node)
{
	(void)m;
	for (struct node_proc **at = &procs; *at;) {
		struct node_proc *p = *at;

		if (p->node != node) {
			at = &p->next;
			continue;
		}
		*at = p->next;
		free(p);
	}
}

size_t master_procs_count(void)
{
	size_t n = 0;

	for (struct node_proc *p = procs; p; p = p->next)
		n++;
	return n;
}

size_t master_procs_fill(Bproc__ProcEntry *entries, Bproc__ProcEntry **list, size_t max,
			 bool (*skip)(pid_t pid))
{
	size_t i = 0;

	for (struct node_proc *p = procs; p && i < max; p = p->next) {
		if (skip && skip(p->pid))
			continue;
		bproc__proc_entry__init(&entries[i]);
		entries[i].pid = p->pid;
		entries[i].node = p->node == MASTER_HOME_NODE ? BPROC_NODE_MASTER : p->node;
		entries[i].has_born = true;
		entries[i].born = true;
		list[i] = &entries[i];
		i++;
	}
	return i;
}

void master_procs_shutdown(void)
{
	while (procs) {
		struct node_proc *p = procs;

		procs = p->next;
		free(p);
	}
}
