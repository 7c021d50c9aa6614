/* src/audit.h: the audit log: one JSON object per line, appended to a file
 * created 0640. The schema is in the README ("The audit log"); lines are built with the
 * writer of json.h (jline_*); this module only writes, it never decides what to record. */
#ifndef MXLOCK_AUDIT_H
#define MXLOCK_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/time.h>
#include <sys/types.h>

#include "json.h"

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
