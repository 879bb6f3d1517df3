/*
 * master_home.h - where the master's home node (master_home.c) is found
 * on the master's machine, for bpmaster and for bpcluster's teardown.
 *
 * The directory is root's alone (0700).  In it, the home slave listens on
 * SOCKET, so that a new bpmaster, after a crash of the one that started
 * it, connects to it again and takes its processes back; PIDFILE names it
 * (written by bpmaster), so that whoever stops the cluster while no
 * bpmaster runs still finds it.
 */
#ifndef BPROC_MASTER_HOME_H
#define BPROC_MASTER_HOME_H

#define MASTER_HOME_DIR "/run/bproc/home"
#define MASTER_HOME_SOCKET MASTER_HOME_DIR "/slave.sock"
#define MASTER_HOME_PIDFILE MASTER_HOME_DIR "/slave.pid"

#endif
