/*
 * log.h - logging for the daemons and tools, in the manner of CRIU's pr_*().
 *
 * Messages go to stderr, or to syslog once log_to_syslog() is called (the
 * daemons do that unless run with -f).  Every line carries the program name
 * and, for debug builds, nothing more: context belongs in the message.
 */
#ifndef BPROC_LOG_H
#define BPROC_LOG_H

#include <syslog.h>

void log_init(const char *progname);
void log_to_syslog(void);
void log_set_verbose(int verbose);
void log_printf(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_err(fmt, ...) log_printf(LOG_ERR, fmt, ##__VA_ARGS__)
#define pr_warn(fmt, ...) log_printf(LOG_WARNING, fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...) log_printf(LOG_INFO, fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...) log_printf(LOG_DEBUG, fmt, ##__VA_ARGS__)

#endif
