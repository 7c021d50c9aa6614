/* src/log.c: diagnostics to stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static const char *log_program = "mxlock";
static int log_journal;
static int log_debug_on;

void log_setup(const char *program)
{
        log_program = program;
        /* systemd sets JOURNAL_STREAM when stderr is connected to journald */
        log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void log_set_debug(int on)
{
        log_debug_on = on;
}

int log_full(enum log_level level, int err, const char *fmt, ...)
{
        char msg[2048];
        const char *tag;
        va_list ap;
        int saved = errno;

        if (err < 0)
                err = -err;
        if (level == LOG_LVL_DEBUG && !log_debug_on)
                return -err;

        errno = err;    /* so that %m in fmt prints strerror(err) */
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);

        if (log_journal) {
                fprintf(stderr, "<%d>%s\n", (int)level, msg);
        } else {
                switch (level) {
                case LOG_LVL_ERR: tag = "error: "; break;
                case LOG_LVL_WARNING: tag = "warning: "; break;
                case LOG_LVL_DEBUG: tag = "debug: "; break;
                default: tag = ""; break;
                }
                fprintf(stderr, "%s: %s%s\n", log_program, tag, msg);
        }
        errno = saved;
        return -err;
}
