/*
 * fault.h - failures on purpose, for the tests (as CRIU's CRIU_FAULT).
 *
 * A daemon started with BPROC_FAULT=name[,name...] in its environment
 * fails at each point of that name, every time it gets there; without it
 * (always, outside tests) fault_at() is false and costs a look at a flag.
 * name:N fails there the first N times only.
 * tests/integration/test-faults*.sh inject each in turn and check that
 * the process being moved runs on where it was.  The points:
 *
 *   master-dump     the master's CRIU dump is taken for failed
 *   master-ghost    the ghost cannot be made after the node restored
 *   slave-prepare   the target refuses to prepare for the page stream
 *   slave-disk-full the target cannot write the image files (ENOSPC)
 *   slave-memory-full the target's restore runs in a memory cgroup whose
 *                   limit (16 MiB) it cannot meet: the OOM killer ends it
 *   slave-restore   the target's restore is taken for failed, the copy killed
 *   slave-die       the target's slave dies (SIGKILL) as the restore starts
 *   slave-cut       the target's slave cuts its link to the master then
 *   source-dump     a node-to-node move's source takes its CRIU dump for failed
 *   source-die      the source's slave dies (SIGKILL) once CRIU began its dump
 *   source-cut      the source shuts its link to the target after the dump
 *   slave-relay-die a slave dies (SIGKILL) as it starts to pass a launch's
 *                   image on to other nodes (daemons/launch_relay.c)
 *   master-die-frozen   the master dies (SIGKILL) once the process is frozen
 *   master-die-restored the master dies once the node restored the copy
 *   master-die-lazy     the master dies right after a --lazy move's commit
 *   master-die-moveout  node to node: the master dies once MoveOut is sent
 *   master-die-ready    node to node: it dies once the target restored and
 *                       the source sent, before either commit
 *   master-die-commits  node to node: it dies between the source's commit
 *                       and the target's
 *   master-die-seized   the master dies (SIGKILL) as it makes a ghost
 *                       (ghost/ghost.c), every thread held, nothing written
 *   master-die-written  ... the ghost's strings written below the stack
 *   master-die-exec     ... the registers set for the execve, not yet run
 *   master-die-launch   a launch on many nodes: the master dies when a
 *                       copy a relay passed on says it is restored
 *   master-die-launched ... right after the commit of the first copy
 *   source-die-frozen   the source's slave dies once the tree is frozen,
 *                       before CRIU starts
 *   source-die-sent     the source's slave dies once the target has the
 *                       whole image (it closed the link), before a commit
 *   seal-alter      a sealing relay (seal_relay.h) alters a byte of the
 *                   second record it sends, as someone on the network could
 */
#ifndef BPROC_FAULT_H
#define BPROC_FAULT_H

#include <stdbool.h>

bool fault_at(const char *name);

#endif
