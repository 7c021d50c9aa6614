/* src/daemon/audit_out.h: everything the daemon writes to the audit log
 * and the journal. Owns the open audit log (and the directory it created
 * for it, until privileges are dropped), the journal connection, and
 * whether writing is failing. Writers: lifecycle events (start, stop,
 * reload, enabled, disabled), attempts, fold summaries, repeat offenders'
 * summaries, missed attempts, table restorations. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "audit.h"
#include "tally.h"

struct daemon;
struct offender;
struct policy_source;
struct syn_info;

struct audit_out {
        struct audit *audit;
        struct journal *journal;
        int audit_dir_fd;               /* the log's directory while we hand it over, or -1 */
        bool audit_failing;
};

void audit_emit(struct daemon *d, struct jline *j);
void audit_sync(struct daemon *d);
void audit_event(struct daemon *d, const char *event, const char *result, const char *error);
const char *attempt_event(const struct daemon *d);
void journal_attempt(struct daemon *d, const char *event, const char *policy, const char *family,
                     const char *src, unsigned sport, const char *dst, unsigned dport, uint64_t count);
/* One attempt on its own (decoded is syn_decode's result, iface may be NULL). */
void write_attempt(struct daemon *d, const struct timeval *tv, const char *policy, const struct syn_info *s,
                   int decoded, const char *iface, const struct policy_source *src);
void write_summary(const struct tally_entry *e, void *userdata);
struct owner;
/* One outbound attempt and who tried (iface: the output interface). */
void write_outbound_attempt(struct daemon *d, const struct timeval *tv, const char *policy,
                            const struct syn_info *s, int decoded, const char *iface, const struct owner *who,
                            const char *reason);
/* An outbound policy's attempts of one user and family in one second,
 * past the records budget. */
void write_outbound_summary(struct daemon *d, const char *policy, int family, bool has_uid, uint32_t uid,
                            const char *user, uint64_t count, const struct timeval *first,
                            const struct timeval *last);
void write_repeat_summary(struct daemon *d, const struct offender *o, uint64_t count, const struct timeval *now);
void write_missed(struct daemon *d, const char *policy, uint64_t count, const char *reason);
void write_restored(struct daemon *d, int r);
int make_parent_dir(const char *path, mode_t mode);
int open_audit(struct daemon *d);
/* SIGUSR1: a new file after rotation. */
void audit_out_reopen(struct daemon *d);
void audit_out_close(struct daemon *d);
