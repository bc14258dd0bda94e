/* log.h - leveled logging to stderr or syslog. Any thread may log; the answer path logs
 * nothing above debug (it counts instead). */
#ifndef SP_LOG_H
#define SP_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_ERR = 0, LOG_LVL_WARN, LOG_LVL_NOTICE, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Sets where messages go and the most verbose level kept. ident names the program. */
void log_init(const char *ident, enum log_level level, bool use_syslog);
/* Parses "error", "warning", "notice", "info", "debug". Returns -1 if unknown. */
int log_level_parse(const char *s);
bool log_enabled(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) \
	do { \
		if (log_enabled(LOG_LVL_DEBUG)) \
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__); \
	} while (0)

#endif
