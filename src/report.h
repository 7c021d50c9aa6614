/* src/report.h: the audit-log reader behind `mxlock report`. Parses audit
 * lines (with the JSON reader of json.h), aggregates them (events,
 * attempts, sources, policies and ports, an hourly timeline, reloads) and
 * formats the result as a table, JSON, CSV or one self-contained HTML page.
 * Does not print diagnostics: errors are returned, corrupt lines counted. */
#ifndef MXLOCK_REPORT_H
#define MXLOCK_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "schema.h"

#define REPORT_LINE_MAX (1024 * 1024)   /* longer lines are skipped as corrupt */
#define REPORT_TOP_DEFAULT 10
/* Memory stays bounded however many sources a log holds: this many are
 * counted one by one; after that a new source is counted under its network
 * (IPv4 /24, IPv6 /48), up to REPORT_NETWORKS_MAX more keys, and past those
 * under REPORT_SOURCES_OTHER. Totals stay exact. */
#define REPORT_SOURCES_MAX 100000
#define REPORT_NETWORKS_MAX 20000
#define REPORT_SOURCES_OTHER "(other sources)"
#define REPORT_RELOAD_ERRORS_KEPT 20    /* the most recent reload errors kept */
/* Outbound attempts are counted by user, by unit and by destination; each
 * table is bounded the same way (past its limit, one "other" row). */
#define REPORT_OB_USERS_MAX 10000
#define REPORT_OB_UNITS_MAX 10000
#define REPORT_OB_DESTS_MAX 100000
#define REPORT_OB_UNKNOWN "(unknown)"           /* an attempt whose unit or destination is not known */
#define REPORT_OB_FOLDED "(in summaries)"       /* folded attempts: no unit or destination of their own */

/* The events report counts: every event of the schema's table (schema.h),
 * in its order, and OTHER for a well-formed record whose event the tree
 * does not write. */
enum report_event {
        REPORT_EV_REFUSED = SCHEMA_REFUSED,
        REPORT_EV_OBSERVED = SCHEMA_OBSERVED,
        REPORT_EV_SUMMARY = SCHEMA_SUMMARY,
        REPORT_EV_MISSED = SCHEMA_MISSED,
        REPORT_EV_START = SCHEMA_START,
        REPORT_EV_STOP = SCHEMA_STOP,
        REPORT_EV_RELOAD = SCHEMA_RELOAD,
        REPORT_EV_RESTORED = SCHEMA_RESTORED,
        REPORT_EV_ENABLED = SCHEMA_ENABLED,
        REPORT_EV_DISABLED = SCHEMA_DISABLED,
        REPORT_EV_RANGES_CHANGED = SCHEMA_RANGES_CHANGED,
        REPORT_EV_SEAL = SCHEMA_SEAL,
        REPORT_EV_OTHER = SCHEMA_EVENT_COUNT,   /* a well-formed record with an unknown event */
        REPORT_EV_COUNT,
};

enum report_format {
        REPORT_FORMAT_TABLE,
        REPORT_FORMAT_JSON,
        REPORT_FORMAT_CSV,
        REPORT_FORMAT_HTML,
};

/* One parsed audit line. Strings point into the line (decoded in place) and
 * are NULL when the key is absent or null. Times are microseconds since the
 * epoch (UTC). */
struct report_record {
        enum report_event event;
        const char *event_name;
        int64_t ts;
        bool has_first, has_last, has_count, has_dport;
        int64_t first, last;
        uint64_t count;
        unsigned dport;
        const char *src;
        const char *policy;
        const char *result;     /* reload: "ok" | "error" */
        const char *error;      /* reload: the message */
        /* "direction":"outbound" (absent or anything else: inbound, as
         * records before the outbound lock were) and who tried: uid (null
         * or absent: has_uid false), user, unit, the destination and the
         * reason; a value of another type is ignored, not corrupt */
        bool outbound, has_uid;
        uint32_t uid;
        const char *user, *unit, *dst, *reason;
};

struct report_options {
        bool has_since, has_until;
        int64_t since, until;   /* µs; a record counts when since <= ts < until */
        size_t top;             /* top sources to show; 0 = all */
};

struct report;

/* Parse one line (without its newline) of len bytes; strings are decoded in
 * place, so line is modified. The line must be one JSON object with a string
 * "event" and an RFC 3339 "ts"; "count" must be a non-negative integer.
 * Nested arrays/objects are validated and skipped. Returns 0, or -EINVAL when
 * the line is corrupt (rec is then unspecified). */
int report_parse_line(char *line, size_t len, struct report_record *rec);

/* One member's value as report_parse_line_fields hands it over: a decoded
 * string, a number's text (str/len, not NUL-terminated), a boolean, null, or
 * a nested array/object (validated, content not given). */
enum report_vtype { REPORT_V_STRING, REPORT_V_NUMBER, REPORT_V_BOOL, REPORT_V_NULL, REPORT_V_NESTED };
struct report_value {
        enum report_vtype type;
        const char *str;
        size_t len;
        bool boolean;
};
typedef void (*report_field_fn)(const char *key, const struct report_value *v, void *userdata);

/* report_parse_line, and fn is called for every member in order (also those
 * the record does not know), so that a caller can read more fields than
 * struct report_record holds. The callback may run before a later member
 * turns out corrupt: use what it collected only when this returns 0. */
int report_parse_line_fields(char *line, size_t len, struct report_record *rec, report_field_fn fn,
                             void *userdata);

/* Parse an RFC 3339 time ("2026-11-23T22:00:00Z", fractions, offsets, no
 * zone meaning UTC, or a date "2026-11-23") or a duration before now ("90m",
 * "24h", "7d", "2w", "30s") into µs. Returns 0 or -EINVAL. */
int report_parse_time(const char *s, int64_t now, int64_t *ret);

/* Format a µs time as "2026-11-23T22:28:42Z" into buf (at least 32 bytes). */
char *report_format_time(int64_t t, char *buf);

/* Parse "table", "json", "csv" or "html". Returns 0 or -EINVAL. */
int report_format_from_name(const char *name, enum report_format *ret);

/* A new, empty aggregation; opts may be NULL (no filter, top 10). Returns 0
 * or -ENOMEM. */
int report_new(const struct report_options *opts, struct report **ret);
/* Free an aggregation; accepts NULL. */
void report_free(struct report *r);

/* Feed one line (without its newline; may be modified). Empty lines are
 * ignored; corrupt ones are counted. Returns 1 when the record was counted,
 * 0 when it was ignored (empty, corrupt or outside since/until), -ENOMEM. */
int report_add_line(struct report *r, char *line, size_t len);

/* Read a plain or gzip file ("-" is stdin) line by line into r. Returns 0,
 * or a negative errno when it cannot be opened or a read fails (the lines
 * read before the failure stay counted; a truncated gzip stream ends the
 * file and counts as one corrupt line, not an error). */
int report_read_file(struct report *r, const char *path);

/* The log at path plus its rotated siblings (path.1, path.2.gz, and
 * logrotate's dateext path-YYYYMMDD[.gz]), oldest first, the live log last.
 * Siblings are only listed when they exist; path itself always is. Returns
 * 0 and a NULL-terminated array to free with report_files_free, or -errno. */
int report_log_files(const char *path, char ***ret);
/* Free what report_log_files returned; accepts NULL. */
void report_files_free(char **files);

/* Totals, for callers and tests. */
uint64_t report_events(const struct report *r, enum report_event ev);
uint64_t report_attempts(const struct report *r);     /* inbound refused+observed+summary+missed counts */
/* Outbound ("direction":"outbound") attempts, counted apart from the
 * inbound figures above (which they never enter, but for the records per
 * event and the period): all of them, and of one user (uid, or has_uid
 * false for a null uid; user NULL: any name), unit (NULL: unknown) or
 * destination address and port. */
uint64_t report_outbound_attempts(const struct report *r);
uint64_t report_outbound_user(const struct report *r, bool has_uid, uint32_t uid, int64_t *first, int64_t *last);
uint64_t report_outbound_unit(const struct report *r, const char *unit);
uint64_t report_outbound_dest(const struct report *r, const char *dst, unsigned port);
uint64_t report_corrupt(const struct report *r);      /* lines skipped as corrupt */
uint64_t report_lines(const struct report *r);        /* non-empty lines read */
uint64_t report_filtered(const struct report *r);     /* well-formed lines outside since/until */
size_t report_sources(const struct report *r);        /* distinct sources */
/* First/last timestamp of the counted records; false when there are none. */
bool report_period(const struct report *r, int64_t *first, int64_t *last);
/* Attempts of one source (0 when never seen), with its first and last time. */
uint64_t report_source_attempts(const struct report *r, const char *src, int64_t *first, int64_t *last);
/* Attempts in the UTC hour that starts at hour_start (µs). */
uint64_t report_hour_attempts(const struct report *r, int64_t hour_start);
/* Attempts for one policy (NULL: records without a policy) and port (0: none). */
uint64_t report_policy_port_attempts(const struct report *r, const char *policy, unsigned port);
/* Reload records by result. */
uint64_t report_reloads_ok(const struct report *r);
uint64_t report_reloads_failed(const struct report *r);

/* The n-th source (0-based) in the top-sources order: attempts descending,
 * then first seen, then address. Returns NULL past the end. */
const char *report_top_source(struct report *r, size_t n, uint64_t *attempts);

/* Write the report to out in the given format (the files read, the filter,
 * totals, top sources, policy/port table, hourly timeline, reloads).
 * Returns 0, -ENOMEM or -EIO when out failed. */
int report_write(struct report *r, enum report_format fmt, FILE *out);

#endif
