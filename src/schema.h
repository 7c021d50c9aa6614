/* src/schema.h: the audit record schema in one home. It owns the table of
 * event names every writer and reader of the audit log uses (the daemon,
 * sync, `mxlock report`) and the typed emitters that turn what a writer has
 * at hand into one record, through the JSON writer of json.h, fields in the
 * documented order (README.md, "The audit log"). It does not write files:
 * the caller hands the finished line to audit_write (audit.h). */
#ifndef MXLOCK_SCHEMA_H
#define MXLOCK_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "json.h"

/* Every event the tree writes. */
enum schema_event {
        SCHEMA_REFUSED,
        SCHEMA_OBSERVED,
        SCHEMA_SUMMARY,
        SCHEMA_MISSED,
        SCHEMA_START,
        SCHEMA_STOP,
        SCHEMA_RELOAD,
        SCHEMA_RESTORED,
        SCHEMA_ENABLED,
        SCHEMA_DISABLED,
        SCHEMA_RANGES_CHANGED,
        SCHEMA_SEAL,
        SCHEMA_EVENT_COUNT,
};

enum schema_kind {
        SCHEMA_KIND_ATTEMPT,    /* carries a count of refused (observed, missed) attempts */
        SCHEMA_KIND_LIFECYCLE,  /* the daemon's life and its enforcement */
        SCHEMA_KIND_CHANGE,     /* a provider's ranges changed (sync) */
        SCHEMA_KIND_SEAL,       /* the sealed chain's own records (audit.c) */
};

struct schema_event_info {
        const char *name;       /* the "event" value */
        enum schema_kind kind;
        const char *writer;     /* who writes it */
        const char *meaning;    /* one line, as README.md says it */
};

extern const struct schema_event_info schema_events[SCHEMA_EVENT_COUNT];

/* The event named name, or -1 when the tree writes no such event. */
int schema_event_from_name(const char *name);
const char *schema_event_name(enum schema_event ev);

/* ------------------------------------------------------------------ */
/* Emitters: each fills j with one finished record (ended, newline). A
 * NULL tv means now. Strings that are NULL are written as null where the
 * field is always present, and left out where the field is optional. */

/* One attempt the daemon judged (refused, or observed in monitor mode). */
struct schema_attempt {
        const struct timeval *tv;
        bool observed;                  /* monitor mode: "observed", else "refused" */
        const char *policy, *mode, *action, *family, *src, *dst;
        bool has_ports;                 /* sport and dport were read */
        unsigned sport, dport, ttl;
        const char *iface;              /* NULL -> null */
        bool denied;                    /* reason "denied" (rule names the entry), else "not-allowed" */
        const char *rule;               /* with denied */
        const char *headers;            /* why the ports are missing, or NULL */
        /* "direction": "inbound", or with outbound "outbound" and who
         * tried: uid, user (null when unknown), and where known unit,
         * pid, comm (left out when unknown) */
        bool outbound;
        const char *reason;             /* outbound: user-not-allowed | destination-not-allowed */
        bool has_uid;                   /* else uid is null */
        unsigned uid;
        const char *user, *unit, *comm;
        int pid;                        /* 0: unknown */
};
void schema_attempt(struct jline *j, const struct schema_attempt *a);

/* Attempts folded into one record (by the daemon's tally, or the kernel's
 * repeat-offender counters). */
struct schema_summary {
        const struct timeval *tv;
        const char *policy, *mode, *action, *family, *src;
        bool has_dport;
        unsigned dport;
        uint64_t count;
        const struct timeval *first, *last;
        const char *folded_as;          /* "refused" | "observed" */
        const char *fold;               /* NULL (one source) | "network" | "rate" */
        const char *refused_by;         /* NULL | "kernel" */
        bool outbound;                  /* folded per policy and user (uid, user), by rate */
        bool has_uid;
        unsigned uid;
        const char *user;
};
void schema_summary(struct jline *j, const struct schema_summary *s);

/* Attempts the kernel refused while the daemon did not read them. */
struct schema_missed {
        const struct timeval *tv;
        const char *policy, *mode, *action;
        uint64_t count;
        const char *reason;
        bool outbound;
};
void schema_missed(struct jline *j, const struct schema_missed *m);

/* start, stop, reload, enabled, disabled. */
struct schema_lifecycle {
        const struct timeval *tv;
        enum schema_event event;
        const char *result, *error;     /* left out when NULL */
        bool has_config;                /* mode, action, failure, table */
        const char *mode, *action, *failure, *table;
        bool has_policies;              /* policies, ranges */
        uint64_t policies, ranges;
        const char *version, *queue_backend;    /* start */
        uint64_t refused, observed;             /* stop: the totals */
};
void schema_lifecycle(struct jline *j, const struct schema_lifecycle *l);

/* The table was removed or altered by someone else and put back. */
struct schema_restored {
        const struct timeval *tv;
        const char *table;
        bool ok;
        const char *error;              /* when !ok */
        uint64_t refused_before;
};
void schema_restored(struct jline *j, const struct schema_restored *r);

/* A provider's ranges changed (mxlock sync). The prefix lists and guard
 * names are JSON arrays already bounded by the caller. */
struct schema_ranges_changed {
        const struct timeval *tv;
        const char *provider, *spf;
        const char *added, *removed;    /* JSON arrays of prefixes */
        uint64_t added_omitted, removed_omitted;        /* left out when 0 */
        uint64_t count_before, count_after;
        bool forced;
        const char *guards;             /* JSON array of guard names */
};
void schema_ranges_changed(struct jline *j, const struct schema_ranges_changed *c);

/* The sealed chain starts or goes on (audit.c, before the first sealed
 * line of a file or run, at an epoch's close and start, and at a stop). */
struct schema_seal {
        const struct timeval *tv;
        const char *reason;             /* open, reopen, close, epoch, stop, lost */
        uint64_t lost;                  /* records not written; left out when 0 */
        const char *prev, *run;         /* hex */
};
void schema_seal(struct jline *j, const struct schema_seal *s);

#endif
