/* src/daemon/audit_out.h: everything the daemon writes to the audit log and
 * the journal: lifecycle events, attempts, summaries, repeat summaries,
 * missed records; opening the audit log. */
#pragma once

#include "daemon/daemon.h"

void audit_emit(struct daemon *d, struct jline *j);
void audit_sync(struct daemon *d);
void audit_event(struct daemon *d, const char *event, const char *result, const char *error);
const char *attempt_event(const struct daemon *d);
void journal_attempt(struct daemon *d, const char *event, const char *policy, const char *family,
                            const char *src, unsigned sport, const char *dst, unsigned dport, uint64_t count);
void write_summary(const struct tally_entry *e, void *userdata);
void write_repeat_summary(struct daemon *d, const struct offender *o, uint64_t count,
                                 const struct timeval *now);
void write_missed(struct daemon *d, const char *policy, uint64_t count, const char *reason);
int make_parent_dir(const char *path, mode_t mode);
int open_audit(struct daemon *d);
