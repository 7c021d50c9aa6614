/* src/audit.h: the audit log: one JSON object per line, appended to a file
 * created 0640. The schema is in the README ("The audit log"); this module only formats and
 * writes, it never decides what to record. */
#ifndef MXLOCK_AUDIT_H
#define MXLOCK_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/time.h>
#include <sys/types.h>

/* A JSON line under construction (fixed buffer, never overflows: fields that
 * would not fit are cut and the line is still valid JSON). */
struct jline {
        char buf[4096];
        size_t len;
        bool truncated;
};

/* Start a record with "ts" (UTC, microseconds) and "event". */
void jline_begin(struct jline *j, const struct timeval *tv, const char *event);
void jline_str(struct jline *j, const char *key, const char *value);   /* NULL -> null */
void jline_int(struct jline *j, const char *key, long long value);
void jline_uint(struct jline *j, const char *key, unsigned long long value);
void jline_bool(struct jline *j, const char *key, bool value);
void jline_time(struct jline *j, const char *key, const struct timeval *tv);
/* Append a raw JSON value (already valid JSON, e.g. an array). */
void jline_raw(struct jline *j, const char *key, const char *json);
/* Close the object and add the newline. */
void jline_end(struct jline *j);

/* Append JSON-escaped s (without quotes) to buf of size cap at *len; cuts at
 * a character boundary rather than overflow. Returns false when cut. */
bool json_escape(char *buf, size_t cap, size_t *len, const char *s);

/* Write s to f as a quoted, escaped JSON string (null for NULL); long
 * strings are cut at 4 KiB. */
void json_fputs(FILE *f, const char *s);

/* Format tv as "2026-11-23T22:28:42.123456Z" into buf (at least 32 bytes). */
char *audit_format_time(const struct timeval *tv, char *buf);

struct audit;

/* Open (create 0640, append) the log at path. Returns 0 or negative errno. */
int audit_open(const char *path, struct audit **ret);
/* Give the open log to uid:gid (the descriptor, never the path). -EMLINK
 * when the file has other names. */
int audit_chown(struct audit *a, uid_t uid, gid_t gid);
/* Seal every line from now on with the key file keyfile (see seal.h):
 * continue the chain after the log's last sealed line, move the key to the
 * current epoch and buffer a seal record. Returns 0 or negative errno
 * (-EBADMSG: not a key file, *ret_line names the bad line or is 0). */
int audit_seal(struct audit *a, const char *keyfile, int *ret_line);
/* Reopen the same path (after logrotate moved it); sealed logs start the
 * new file with a seal record. */
int audit_reopen(struct audit *a);
/* Buffer one finished line (0), flushing first when the buffer is full. On
 * failure the line is counted as lost and -errno returned; the caller
 * reports the first failure only. */
int audit_write(struct audit *a, const struct jline *j);
/* Lines that could not be written since open. */
uint64_t audit_lost(const struct audit *a);
/* Write buffered lines to the file. Returns 1 when lines were written, 0
 * when there were none, or -errno (the lines are then counted as lost). */
int audit_flush(struct audit *a);
void audit_close(struct audit *a);

#endif
