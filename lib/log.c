/* log.c - leveled logging (any thread; stdio and syslog serialise writers themselves). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static enum log_level max_level = LOG_LVL_INFO;
static bool to_syslog;
static const char *log_ident = "signpost";

void
log_init(const char *ident, enum log_level level, bool use_syslog)
{
	log_ident = ident;
	max_level = level;
	if (to_syslog && !use_syslog)
		closelog();
	to_syslog = use_syslog;
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int
log_level_parse(const char *s)
{
	static const char *names[] = { "error", "warning", "notice", "info", "debug" };
	for (int i = 0; i < 5; i++) {
		if (strcmp(s, names[i]) == 0)
			return i;
	}
	return -1;
}

bool
log_enabled(enum log_level level)
{
	return level <= max_level;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG };
	static const char *tag[] = { "error", "warning", "notice", "info", "debug" };
	char line[1024];
	va_list ap;

	if (level > max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (to_syslog) {
		syslog(prio[level], "%s", line);
		return;
	}
	struct timespec ts;
	struct tm tm;
	char when[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %s[%s]: %s\n", when, ts.tv_nsec / 1000000, log_ident,
	        tag[level], line);
}
