/*
 * criu_kdat.h - CRIU's kernel-feature cache, where /run is not a tmpfs.
 *
 * Every CRIU run starts by probing the kernel (kerndat), about 40 ms here.
 * CRIU saves what it learnt in /run/criu.kdat and loads it on later runs,
 * but it only saves it when /run is a tmpfs (so that the cache cannot
 * outlive a reboot into another kernel).  It loads it wherever it is.
 * On a host whose /run is not a tmpfs (the master of these machines), the
 * daemons make the cache themselves at start-up: one `criu check` in a
 * mount namespace of its own with a tmpfs on /run, whose cache file is
 * copied to the host's /run.  Made afresh at every daemon start, it is as
 * fresh as the kernel and the CRIU that run.
 */
#ifndef BPROC_CRIU_KDAT_H
#define BPROC_CRIU_KDAT_H

#define CRIU_KDAT_FILE "/run/criu.kdat"

/* Make sure CRIU finds a fresh cache at CRIU_KDAT_FILE.  0, or -errno (CRIU
 * then works as before, only slower). */
int criu_kdat_prepare(const char *criu);

#endif
