/* src/report/internal.h: what the three parts of `mxlock report` share
 * (report.h is the public face): read.c turns files and their rotated
 * siblings into parsed records, aggregate.c owns struct report (the tables,
 * the string arena, sources, policies and ports, hours, reloads) and its
 * queries, format.c writes the text, JSON, CSV and HTML outputs. */
#ifndef MXLOCK_REPORT_INTERNAL_H
#define MXLOCK_REPORT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "report.h"

#define US_PER_SEC INT64_C(1000000)
#define US_PER_HOUR (INT64_C(3600) * US_PER_SEC)
#define COUNT_MAX (UINT64_C(1) << 53)   /* largest count accepted in a record */
#define POLICY_OTHERS_BIT 63            /* policy ids >= 63 share this bit */

struct arena_chunk {
        struct arena_chunk *next;
        size_t used, cap;
        char data[];
};

struct strtab {
        char **keys;            /* index -> string (in the arena) */
        size_t n, cap;
        uint32_t *slots;        /* index + 1, 0 = empty */
        size_t nslots;          /* power of two */
};

struct u64map {
        uint64_t *keys, *vals;
        uint8_t *used;
        size_t n, cap;          /* cap: power of two */
};

struct src_stat {
        uint64_t attempts;
        int64_t first, last;
        uint64_t policies;      /* bit i: policy id i; POLICY_OTHERS_BIT: id >= 63 */
};

/* One row of an outbound table (of users, of units, of destinations). */
struct ob_stat {
        uint64_t attempts;
        uint64_t not_user, not_dest;    /* by reason: user-not-allowed, destination-not-allowed */
        int64_t first, last;
        uint64_t policies;              /* as src_stat's */
        bool has_uid;                   /* users: the uid, or null */
        uint32_t uid;
        const char *name;               /* users: the user name; units: the unit; destinations:
                                         * the address; NULL: unknown (in the arena) */
        unsigned port;                  /* destinations: the port, 0: none */
};

/* Outbound attempts by one key, bounded: past max keys, new ones are
 * counted under the one row `other` names. */
struct ob_table {
        struct strtab keys;
        struct ob_stat *v;              /* parallel to keys.keys */
        size_t cap, max;
        const char *other;
        uint32_t *order;                /* attempts descending, valid when norder == keys.n */
        size_t norder;
};

/* The outbound lock's attempts ("direction":"outbound"): kept apart from
 * the inbound figures, which stay what they were before outbound records. */
struct report_outbound {
        uint64_t records;               /* outbound attempt, summary and missed records */
        uint64_t attempts;
        uint64_t ev_attempts[REPORT_EV_COUNT];
        uint64_t not_user, not_dest;
        struct ob_table users, units, dests;
};

struct reload_error {
        int64_t ts;
        char *msg;
};

struct file_stat {
        char *path;
        uint64_t lines, corrupt;
        int error;              /* 0 or negative errno */
};

struct report {
        struct report_options o;
        uint64_t events[REPORT_EV_COUNT];
        uint64_t ev_attempts[REPORT_EV_COUNT];
        uint64_t attempts, lines, corrupt, filtered;
        bool has_period;
        int64_t first, last;

        struct arena_chunk *arena;
        struct strtab sources;
        struct src_stat *src;           /* parallel to sources.keys */
        size_t src_cap;
        uint64_t sources_folded;        /* attempts counted under a network: the table was full */
        struct strtab policies;
        struct u64map policy_port;      /* (policy id + 1) << 16 | port, 0 id = none */
        struct u64map hours;            /* hour index (ts / 1h) -> attempts */

        uint64_t reload_ok, reload_failed;
        struct reload_error rerr[REPORT_RELOAD_ERRORS_KEPT];
        size_t nrerr, rerr_next;

        struct file_stat *files;
        size_t nfiles, files_cap;

        uint32_t *order;                /* top-sources order, valid when norder == sources.n */
        size_t norder;

        struct report_outbound ob;
};

/* Helpers one part uses from another. */
/* Grow the array *v (of *cap elements of size bytes) to hold need; 0 or -ENOMEM. */
int rpt_grow(void **v, size_t *cap, size_t need, size_t size);
/* a / b rounded down (b > 0). */
int64_t rpt_floor_div(int64_t a, int64_t b);
/* The name of event i as the report shows it: the schema's, or "other". */
const char *rpt_event_name(size_t i);
/* Sort the sources into the top-sources order (r->order); 0 or -ENOMEM. */
int rpt_sort_sources(struct report *r);
/* Sort an outbound table into its order (t->order); 0 or -ENOMEM. */
int rpt_sort_ob(struct ob_table *t);

#endif
