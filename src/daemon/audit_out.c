/* src/daemon/audit_out.c: everything the daemon writes to the audit log and
 * the journal: lifecycle events, attempts, summaries, repeat summaries,
 * missed records; opening the audit log. The records' fields and names
 * are src/schema.h's: this file gathers what the daemon has at hand. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "decode.h"
#include "journal.h"
#include "log.h"
#include "schema.h"
#include "daemon/daemon.h"
#include "daemon/owner.h"

void audit_emit(struct daemon *d, struct jline *j)
{
        int r;

        if (!d->out.audit)
                return;
        r = audit_write(d->out.audit, j);
        if (r < 0 && !d->out.audit_failing) {
                d->out.audit_failing = true;
                log_error_errno(r, "Cannot write the audit log %s, counting lost records: %m",
                                d->cfg->audit_log);
        }
}

void audit_sync(struct daemon *d)
{
        int r;

        if (!d->out.audit)
                return;
        r = audit_flush(d->out.audit);
        if (r < 0 && !d->out.audit_failing) {
                d->out.audit_failing = true;
                log_error_errno(r, "Cannot write the audit log %s, counting lost records: %m",
                                d->cfg->audit_log);
        } else if (r > 0 && d->out.audit_failing) {
                d->out.audit_failing = false;
                log_notice("Audit log %s writable again; %llu records lost so far", d->cfg->audit_log,
                           (unsigned long long)audit_lost(d->out.audit));
        }
}

void audit_event(struct daemon *d, const char *event, const char *result, const char *error)
{
        struct timeval tv;
        struct jline j;
        int ev = schema_event_from_name(event);
        struct schema_lifecycle l = {
                .tv = &tv,
                .event = ev < 0 ? SCHEMA_RELOAD : (enum schema_event)ev,
                .result = result,
                .error = error,
                .has_config = d->cfg != NULL,
                .has_policies = d->pol != NULL,
                .version = MXLOCK_VERSION,
                .queue_backend = d->opts.native_queue ? "nft-queue" : "xt-NFQUEUE",
                .refused = d->acct.refused,
                .observed = d->acct.observed,
        };

        if (ev < 0) {
                log_error("No audit event named %s", event);
                return;
        }
        gettimeofday(&tv, NULL);
        if (d->cfg) {
                l.mode = cfg_mode_name(d->cfg->mode);
                l.action = cfg_action_name(d->cfg->action);
                l.failure = cfg_failure_name(d->cfg->failure);
                l.table = d->cfg->table;
        }
        if (d->pol) {
                l.policies = d->pol->n;
                l.ranges = policy_set_ranges(d->pol);
        }
        schema_lifecycle(&j, &l);
        audit_emit(d, &j);
        audit_sync(d);
}

const char *attempt_event(const struct daemon *d)
{
        return d->opts.monitor ? "observed" : "refused";
}

/* A structured journal entry for an attempt or a summary. */
void journal_attempt(struct daemon *d, const char *event, const char *policy, const char *family,
                     const char *src, unsigned sport, const char *dst, unsigned dport, uint64_t count)
{
        char f[12][160];
        const char *fields[12];
        size_t n = 0;

        if (!d->out.journal)
                return;
        snprintf(f[n++], sizeof(f[0]), "MESSAGE=%s %s connection from %s to port %u (policy %s, %llu attempt%s)",
                 event, family, src, dport, policy, (unsigned long long)count, count == 1 ? "" : "s");
        snprintf(f[n++], sizeof(f[0]), "MESSAGE_ID=%s", JOURNAL_MESSAGE_ID_ATTEMPT);
        snprintf(f[n++], sizeof(f[0]), "PRIORITY=5");
        snprintf(f[n++], sizeof(f[0]), "SYSLOG_IDENTIFIER=mxlockd");
        snprintf(f[n++], sizeof(f[0]), "MXLOCK_EVENT=%s", event);
        snprintf(f[n++], sizeof(f[0]), "MXLOCK_POLICY=%s", policy);
        snprintf(f[n++], sizeof(f[0]), "MXLOCK_FAMILY=%s", family);
        snprintf(f[n++], sizeof(f[0]), "MXLOCK_SRC=%s", src);
        if (sport)
                snprintf(f[n++], sizeof(f[0]), "MXLOCK_SPORT=%u", sport);
        if (dst)
                snprintf(f[n++], sizeof(f[0]), "MXLOCK_DST=%s", dst);
        snprintf(f[n++], sizeof(f[0]), "MXLOCK_DPORT=%u", dport);
        snprintf(f[n++], sizeof(f[0]), "MXLOCK_COUNT=%llu", (unsigned long long)count);
        for (size_t i = 0; i < n; i++)
                fields[i] = f[i];
        (void)journal_send(d->out.journal, fields, n);
}

/* An attempt's record, filled in by the caller's direction (a: its own
 * fields), then written with its journal entry. */
static void emit_attempt(struct daemon *d, struct schema_attempt *a, const struct syn_info *s, int decoded)
{
        char sbuf[ADDR_STRLEN], dbuf[ADDR_STRLEN];
        struct jline j;

        addr_format(s->family, addr_from_bytes(s->family, s->src), sbuf);
        addr_format(s->family, addr_from_bytes(s->family, s->dst), dbuf);
        a->observed = d->opts.monitor;
        a->mode = cfg_mode_name(d->cfg->mode);
        a->family = s->family == AF_INET ? "ipv4" : "ipv6";
        a->src = sbuf;
        a->dst = dbuf;
        a->has_ports = decoded == 0;
        a->sport = s->sport;
        a->dport = s->dport;
        a->ttl = s->ttl;
        /* the ports are past what the queue copied, or unreadable */
        a->headers = decoded < 0 ? decode_strerror(decoded) : NULL;
        schema_attempt(&j, a);
        audit_emit(d, &j);
        journal_attempt(d, attempt_event(d), a->policy, a->family, sbuf, s->sport, dbuf, s->dport, 1);
}

/* One attempt on its own: the `refused` (or `observed`) record and its
 * journal entry. */
void write_attempt(struct daemon *d, const struct timeval *tv, const char *policy, const struct syn_info *s,
                   int decoded, const char *iface, const struct policy_source *src)
{
        emit_attempt(d, &(struct schema_attempt){
                .tv = tv,
                .policy = policy,
                .action = cfg_action_name(d->cfg->action),
                .iface = iface,
                .denied = src && src->deny,
                .rule = src && src->deny ? src->origin : NULL,
        }, s, decoded);
}

void write_outbound_attempt(struct daemon *d, const struct timeval *tv, const char *policy,
                            const struct syn_info *s, int decoded, const char *iface, const struct owner *who,
                            const char *reason)
{
        emit_attempt(d, &(struct schema_attempt){
                .tv = tv,
                .policy = policy,
                /* an outbound refusal is always a reset (README, "The outbound lock") */
                .action = "reject",
                .iface = iface,
                .outbound = true,
                .reason = reason,
                .has_uid = who->has_uid,
                .uid = who->uid,
                .user = who->user[0] ? who->user : NULL,
                .unit = who->unit[0] ? who->unit : NULL,
                .pid = who->pid,
                .comm = who->comm[0] ? who->comm : NULL,
        }, s, decoded);
}

void write_outbound_summary(struct daemon *d, const char *policy, int family, bool has_uid, uint32_t uid,
                            const char *user, uint64_t count, const struct timeval *first,
                            const struct timeval *last)
{
        const char *fam = family == AF_INET ? "ipv4" : "ipv6";
        struct timeval now;
        struct jline j;

        gettimeofday(&now, NULL);
        schema_summary(&j, &(struct schema_summary){
                .tv = &now,
                .policy = policy,
                .mode = cfg_mode_name(d->cfg->mode),
                .action = "reject",
                .family = fam,
                .src = family == AF_INET ? "0.0.0.0/0" : "::/0",
                .count = count,
                .first = first,
                .last = last,
                .folded_as = attempt_event(d),
                .fold = "rate",
                .outbound = true,
                .has_uid = has_uid,
                .uid = uid,
                .user = user,
        });
        audit_emit(d, &j);
        journal_attempt(d, "summary", policy, fam, family == AF_INET ? "0.0.0.0/0" : "::/0", 0, NULL, 0, count);
}

/* Folded attempts, written as one summary record: of one source, of the
 * sources of one network (src is the network, "fold":"network"), or of any
 * source once the records budget was spent (src 0.0.0.0/0 or ::/0,
 * "fold":"rate"). */
void write_summary(const struct tally_entry *e, void *userdata)
{
        struct daemon *d = userdata;
        const char *policy = e->policy < d->pol->n ? d->pol->v[e->policy].name : "?";
        const char *family = e->family == AF_INET ? "ipv4" : "ipv6";
        char src[ADDR_STRLEN + 8];
        struct timeval now;
        struct jline j;

        gettimeofday(&now, NULL);
        addr_format(e->family, e->kind == TALLY_RATE ? 0 : e->addr, src);
        if (e->kind != TALLY_SOURCE)
                snprintf(src + strlen(src), sizeof(src) - strlen(src), "/%u",
                         e->kind == TALLY_RATE ? 0u : (unsigned)e->net_len);
        schema_summary(&j, &(struct schema_summary){
                .tv = &now,
                .policy = policy,
                .mode = cfg_mode_name(d->cfg->mode),
                .action = cfg_action_name(d->cfg->action),
                .family = family,
                .src = src,
                .has_dport = true,
                .dport = e->dport,
                .count = e->pending,
                .first = &e->first,
                .last = &e->last,
                .folded_as = attempt_event(d),
                .fold = e->kind == TALLY_SOURCE ? NULL : e->kind == TALLY_NET ? "network" : "rate",
        });
        audit_emit(d, &j);
        journal_attempt(d, "summary", policy, family, src, 0, NULL, e->dport, e->pending);
}

void write_repeat_summary(struct daemon *d, const struct offender *o, uint64_t count,
                          const struct timeval *now)
{
        const char *policy = d->pol->v[o->policy].name;
        const char *family = o->family == AF_INET ? "ipv4" : "ipv6";
        char src[ADDR_STRLEN];
        struct jline j;

        addr_format(o->family, o->addr, src);
        schema_summary(&j, &(struct schema_summary){
                .tv = now,
                .policy = policy,
                .mode = cfg_mode_name(d->cfg->mode),
                .action = cfg_action_name(d->cfg->action),
                .family = family,
                .src = src,
                .count = count,
                .first = &o->since,
                .last = now,
                .folded_as = "refused",
                .refused_by = "kernel",
        });
        audit_emit(d, &j);
        journal_attempt(d, "summary", policy, family, src, 0, NULL, d->pol->v[o->policy].ports[0], count);
}

void write_missed(struct daemon *d, const char *policy, uint64_t count, const char *reason)
{
        bool outbound = false;
        struct timeval tv;
        struct jline j;

        gettimeofday(&tv, NULL);
        for (size_t i = 0; d->pol && i < d->pol->n; i++)
                if (!strcmp(d->pol->v[i].name, policy))
                        outbound = d->pol->v[i].outbound;
        schema_missed(&j, &(struct schema_missed){
                .tv = &tv,
                .outbound = outbound,
                .policy = policy,
                .mode = cfg_mode_name(d->cfg->mode),
                .action = d->cfg->failure == FAILURE_OPEN ? "accept" : "drop",
                .count = count,
                .reason = reason,
        });
        audit_emit(d, &j);
}

/* Create the directory a file of ours goes in (one level), when missing.
 * Returns 1 when we created it, 0 when it was there. */
int make_parent_dir(const char *path, mode_t mode)
{
        char dir[PATH_MAX];
        char *slash;

        snprintf(dir, sizeof(dir), "%s", path);
        slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                if (mkdir(dir, mode) == 0)
                        return 1;
                if (errno != EEXIST)
                        return log_error_errno(errno, "Cannot create %s: %m", dir);
        }
        return 0;
}

/* The directory we just created for the audit log, held open so that
 * drop_privileges() can give exactly that directory to `user =` (a
 * directory that was already there is never handed over). */
static void hold_created_dir(struct daemon *d, const char *path)
{
        char dir[PATH_MAX];
        char *slash;
        struct stat st;
        int fd;

        snprintf(dir, sizeof(dir), "%s", path);
        slash = strrchr(dir, '/');
        if (!slash)
                return;
        *slash = '\0';
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return;
        /* the one we made is ours; anything else was swapped in meanwhile */
        if (fstat(fd, &st) < 0 || st.st_uid != geteuid()) {
                close(fd);
                return;
        }
        d->out.audit_dir_fd = fd;
}

int open_audit(struct daemon *d)
{
        int r;

        r = make_parent_dir(d->cfg->audit_log, 0750);
        if (r < 0)
                return r;
        if (r > 0 && d->cfg->user && geteuid() == 0)
                hold_created_dir(d, d->cfg->audit_log);
        r = audit_open(d->cfg->audit_log, &d->out.audit);
        if (r == -ELOOP) {
                log_error("Cannot open the audit log %s: it is a symbolic link, which mxlockd does not follow; "
                          "remove it (the log must be a plain file)", d->cfg->audit_log);
                return r;
        }
        if (r < 0)
                return log_error_errno(r, "Cannot open the audit log %s: %m", d->cfg->audit_log);
        if (d->cfg->seal_key && (r = audit_seal(d->out.audit, d->cfg->seal_key, &(int){ 0 })) < 0)
                return log_error_errno(r, "Cannot seal the audit log with %s (mxlock setup-keys): %m", d->cfg->seal_key);
        return 0;
}

/* The table was put back (r: the restore's result). */
void write_restored(struct daemon *d, int r)
{
        struct timeval tv;
        struct jline j;

        gettimeofday(&tv, NULL);
        schema_restored(&j, &(struct schema_restored){
                .tv = &tv,
                .table = d->cfg->table,
                .ok = r >= 0,
                .error = r < 0 ? strerror(-r) : NULL,
                .refused_before = d->acct.refused,
        });
        audit_emit(d, &j);
        audit_sync(d);
}

void audit_out_reopen(struct daemon *d)
{
        if (d->out.audit) {
                int r = audit_reopen(d->out.audit);
                if (r < 0)
                        log_error_errno(r, "Reopening %s failed: %m", d->cfg->audit_log);
                else
                        log_info("Audit log reopened");
        }
}

void audit_out_close(struct daemon *d)
{
        journal_close(d->out.journal);
        d->out.journal = NULL;
        audit_close(d->out.audit);
        d->out.audit = NULL;
        if (d->out.audit_dir_fd >= 0)
                close(d->out.audit_dir_fd);
        d->out.audit_dir_fd = -1;
}
