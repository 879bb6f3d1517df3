/*
 * log.c - see log.h.  Deliberately tiny: one sink at a time, no buffering,
 * so a daemon killed with SIGKILL has already written everything it said.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *log_progname = "bproc";
static int log_syslog;
static int log_verbose;

void log_init(const char *progname)
{
	const char *slash = strrchr(progname, '/');
	log_progname = slash ? slash + 1 : progname;
}

void log_to_syslog(void)
{
	openlog(log_progname, LOG_PID, LOG_DAEMON);
	log_syslog = 1;
}

void log_set_verbose(int verbose)
{
	log_verbose = verbose;
}

void log_printf(int level, const char *fmt, ...)
{
	va_list ap;

	if (level == LOG_DEBUG && !log_verbose)
		return;
	va_start(ap, fmt);
	if (log_syslog) {
		vsyslog(level, fmt, ap);
	} else {
		struct timespec ts;
		char line[2048];

		clock_gettime(CLOCK_REALTIME, &ts);
		vsnprintf(line, sizeof(line), fmt, ap);
		fprintf(stderr, "%ld.%06ld %s: %s%s\n", (long)ts.tv_sec, ts.tv_nsec / 1000,
			log_progname, level <= LOG_ERR ? "error: " : "", line);
	}
	va_end(ap);
}
