/* src/log.h: diagnostics for humans, on stderr (journald under systemd).
 * The audit log is data and lives in audit.c, not here. */
#ifndef MXLOCK_LOG_H
#define MXLOCK_LOG_H

#include <errno.h>

enum log_level { LOG_LVL_ERR = 3, LOG_LVL_WARNING = 4, LOG_LVL_NOTICE = 5, LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

/* Choose the output style: with sd-daemon "<N>" level prefixes when stderr is
 * the journal, plain "mxlockd: " prefixes otherwise. */
void log_setup(const char *program);
void log_set_debug(int on);

/* Print one line; returns -abs(err) when err != 0 so callers can
 * `return log_error_errno(r, "...")`. %m is replaced by strerror(err). */
int log_full(enum log_level level, int err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#define log_error(...)   log_full(LOG_LVL_ERR, 0, __VA_ARGS__)
#define log_warning(...) log_full(LOG_LVL_WARNING, 0, __VA_ARGS__)
#define log_notice(...)  log_full(LOG_LVL_NOTICE, 0, __VA_ARGS__)
#define log_info(...)    log_full(LOG_LVL_INFO, 0, __VA_ARGS__)
#define log_debug(...)   log_full(LOG_LVL_DEBUG, 0, __VA_ARGS__)
#define log_error_errno(e, ...)   log_full(LOG_LVL_ERR, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full(LOG_LVL_WARNING, (e), __VA_ARGS__)

#endif
