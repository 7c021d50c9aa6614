/* src/export.c: `mxlock export` (see export.h). Lines are parsed by the
 * audit reader of src/report/read.c (report_parse_line_fields), mapped, and
 * written as one JSON object per line. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "audit.h"
#include "cli.h"
#include "json.h"
#include "export.h"
#include "report.h"

#define EXPORT_USAGE 2
#define CORRUPT_SHOWN 10                /* corrupt lines named one by one */
#define FOLLOW_POLL_MS 100
#define FOLLOW_DRAIN_QUIET_MS 500       /* a rotated file is left when quiet this long */

/* ------------------------------------------------------------------ */
/* The fields of one audit line that the mappings use */

struct xrec {
        struct report_record r;
        const char *mode, *action, *family, *dst, *iface, *direction, *user, *unit, *comm;
        const char *reason, *rule, *folded_as, *refused_by, *table, *provider, *version;
        bool has_sport, has_ttl, has_uid, has_pid;
        uint64_t sport, ttl, uid, pid;
};

static bool num_value(const struct report_value *v, uint64_t *ret)
{
        uint64_t n = 0;

        if (v->type != REPORT_V_NUMBER || v->len == 0 || v->len > 19)
                return false;
        for (size_t i = 0; i < v->len; i++) {
                if (v->str[i] < '0' || v->str[i] > '9')
                        return false;
                n = n * 10 + (uint64_t)(v->str[i] - '0');
        }
        *ret = n;
        return true;
}

static void collect(const char *key, const struct report_value *v, void *userdata)
{
        static const struct {
                const char *key;
                size_t off;
        } strs[] = {
                { "mode", offsetof(struct xrec, mode) },
                { "action", offsetof(struct xrec, action) },
                { "family", offsetof(struct xrec, family) },
                { "dst", offsetof(struct xrec, dst) },
                { "iface", offsetof(struct xrec, iface) },
                { "direction", offsetof(struct xrec, direction) },
                { "user", offsetof(struct xrec, user) },
                { "unit", offsetof(struct xrec, unit) },
                { "comm", offsetof(struct xrec, comm) },
                { "reason", offsetof(struct xrec, reason) },
                { "rule", offsetof(struct xrec, rule) },
                { "folded_as", offsetof(struct xrec, folded_as) },
                { "refused_by", offsetof(struct xrec, refused_by) },
                { "table", offsetof(struct xrec, table) },
                { "provider", offsetof(struct xrec, provider) },
                { "version", offsetof(struct xrec, version) },
        };
        struct xrec *x = userdata;

        if (v->type == REPORT_V_STRING) {
                for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
                        if (strcmp(key, strs[i].key) == 0)
                                *(const char **)((char *)x + strs[i].off) = v->str;
                return;
        }
        /* unknown fields and unexpected types are ignored: the log may grow */
        if (strcmp(key, "sport") == 0)
                x->has_sport = num_value(v, &x->sport) && x->sport <= 65535;
        else if (strcmp(key, "ttl") == 0)
                x->has_ttl = num_value(v, &x->ttl);
        else if (strcmp(key, "uid") == 0)
                x->has_uid = num_value(v, &x->uid);
        else if (strcmp(key, "pid") == 0)
                x->has_pid = num_value(v, &x->pid);
}

/* ------------------------------------------------------------------ */
/* Thin names on the writer of json.h, in the shapes the mappings use */

/* A member that is absent in the audit line is left out, not null. */
static void jw_str(struct json_writer *w, const char *key, const char *value)
{
        if (value)
                json_put_str(w, key, value);
}

/* An array of strings; NULL entries end it early. */
static void jw_strs(struct json_writer *w, const char *key, const char *a, const char *b)
{
        json_array_open(w, key);
        json_put_str(w, NULL, a);
        if (b)
                json_put_str(w, NULL, b);
        json_array_close(w);
}

static void jw_time(struct json_writer *w, const char *key, int64_t us)
{
        struct timeval tv = { .tv_sec = (time_t)(us / 1000000), .tv_usec = (suseconds_t)(us % 1000000) };
        char buf[64];

        if (us < 0)
                return;
        jw_str(w, key, audit_format_time(&tv, buf));
}

/* ------------------------------------------------------------------ */
/* The mappings */

static bool is_network(const struct xrec *x)
{
        switch (x->r.event) {
        case REPORT_EV_REFUSED:
        case REPORT_EV_OBSERVED:
        case REPORT_EV_SUMMARY:
        case REPORT_EV_MISSED:
                return true;
        default:
                return false;
        }
}

/* Was the attempt let through? Monitor mode lets everything through; a
 * `missed` record's action is what the kernel did (accept: failure = open). */
static bool was_allowed(const struct xrec *x)
{
        switch (x->r.event) {
        case REPORT_EV_OBSERVED:
                return true;
        case REPORT_EV_SUMMARY:
                return (x->folded_as && strcmp(x->folded_as, "observed") == 0) ||
                       (x->mode && strcmp(x->mode, "monitor") == 0);
        case REPORT_EV_MISSED:
                return x->action && strcmp(x->action, "accept") == 0;
        default:
                return false;
        }
}

static bool is_outbound(const struct xrec *x)
{
        return x->direction && strcmp(x->direction, "outbound") == 0;
}

static const char *ip_family(const struct xrec *x)
{
        if (x->family && (strcmp(x->family, "ipv4") == 0 || strcmp(x->family, "ipv6") == 0))
                return x->family;
        return NULL;
}

static void ecs_observer(struct json_writer *w, const struct export_ctx *ctx, const struct xrec *x)
{
        json_object_open(w, "observer");
        jw_str(w, "hostname", ctx->hostname);
        jw_str(w, "type", "firewall");
        jw_str(w, "product", EXPORT_PRODUCT);
        jw_str(w, "vendor", EXPORT_PRODUCT);
        jw_str(w, "version", EXPORT_PRODUCT_VERSION);
        if (x->iface) {
                json_object_open(w, is_outbound(x) ? "egress" : "ingress");
                json_object_open(w, "interface");
                jw_str(w, "name", x->iface);
                json_object_close(w);
                json_object_close(w);
        }
        json_object_close(w);
}

static void ecs_labels(struct json_writer *w, const struct xrec *x)
{
        json_object_open(w, "labels");
        jw_str(w, "mxlock_event", x->r.event_name);
        jw_str(w, "mxlock_mode", x->mode);
        jw_str(w, "mxlock_action", x->action);
        jw_str(w, "mxlock_unit", x->unit);
        jw_str(w, "mxlock_rule", x->rule);
        jw_str(w, "mxlock_refused_by", x->refused_by);
        jw_str(w, "mxlock_table", x->table);
        jw_str(w, "mxlock_provider", x->provider);
        json_object_close(w);
}

static void ecs_network(struct json_writer *w, const struct export_ctx *ctx, const struct xrec *x)
{
        bool allowed = was_allowed(x);

        json_object_open(w, "event");
        jw_str(w, "kind", "event");
        jw_strs(w, "category", "network", NULL);
        jw_strs(w, "type", "connection", allowed ? "allowed" : "denied");
        jw_str(w, "action", x->r.event_name);
        jw_str(w, "outcome", allowed ? "success" : "failure");
        jw_str(w, "module", "mxlock");
        jw_str(w, "dataset", "mxlock.audit");
        jw_str(w, "reason", x->reason);
        json_put_uint(w, "count", x->r.count);
        if (x->r.has_first)
                jw_time(w, "start", x->r.first);
        if (x->r.has_last)
                jw_time(w, "end", x->r.last);
        json_object_close(w);
        if (x->r.src || x->has_sport) {
                json_object_open(w, "source");
                jw_str(w, "ip", x->r.src);
                if (x->has_sport)
                        json_put_uint(w, "port", x->sport);
                json_object_close(w);
        }
        if (x->dst || x->r.has_dport) {
                json_object_open(w, "destination");
                jw_str(w, "ip", x->dst);
                if (x->r.has_dport)
                        json_put_uint(w, "port", x->r.dport);
                json_object_close(w);
        }
        json_object_open(w, "network");
        jw_str(w, "transport", "tcp");
        jw_str(w, "iana_number", "6");
        jw_str(w, "type", ip_family(x));
        jw_str(w, "direction", is_outbound(x) ? "outbound" : "inbound");
        json_object_close(w);
        if (x->r.policy) {
                json_object_open(w, "rule");
                jw_str(w, "name", x->r.policy);
                jw_str(w, "ruleset", "mxlock");
                json_object_close(w);
        }
        if (x->user || x->has_uid) {
                char uid[24];

                json_object_open(w, "user");
                if (x->has_uid) {
                        snprintf(uid, sizeof(uid), "%" PRIu64, x->uid);
                        jw_str(w, "id", uid);
                }
                jw_str(w, "name", x->user);
                json_object_close(w);
        }
        if (x->comm || x->has_pid) {
                json_object_open(w, "process");
                if (x->has_pid)
                        json_put_uint(w, "pid", x->pid);
                jw_str(w, "name", x->comm);
                json_object_close(w);
        }
}

/* start, stop, reload, restored, ranges-changed: the daemon's and the
 * catalogs' lifecycle. Returns false for events ECS gets nothing for. */
static bool ecs_lifecycle(struct json_writer *w, const struct xrec *x)
{
        const char *category, *type;
        bool failed = x->r.result && strcmp(x->r.result, "error") == 0;

        switch (x->r.event) {
        case REPORT_EV_START:
                category = "process", type = "start";
                break;
        case REPORT_EV_STOP:
                category = "process", type = "end";
                break;
        case REPORT_EV_RELOAD:
                category = "configuration", type = "change";
                break;
        case REPORT_EV_RESTORED:
                category = "configuration", type = "creation";
                break;
        default:
                if (strcmp(x->r.event_name, "ranges-changed") != 0)
                        return false;
                category = "configuration", type = "change";
                break;
        }
        json_object_open(w, "event");
        jw_str(w, "kind", "event");
        jw_strs(w, "category", category, NULL);
        jw_strs(w, "type", type, NULL);
        jw_str(w, "action", x->r.event_name);
        jw_str(w, "outcome", failed ? "failure" : "success");
        jw_str(w, "module", "mxlock");
        jw_str(w, "dataset", "mxlock.audit");
        jw_str(w, "reason", x->reason);
        json_object_close(w);
        if (x->r.error) {
                json_object_open(w, "error");
                jw_str(w, "message", x->r.error);
                json_object_close(w);
        }
        return true;
}

static bool map_ecs(struct json_writer *w, const struct export_ctx *ctx, const struct xrec *x)
{
        json_object_open(w, NULL);
        jw_time(w, "@timestamp", x->r.ts);
        json_object_open(w, "ecs");
        jw_str(w, "version", EXPORT_ECS_VERSION);
        json_object_close(w);
        if (is_network(x))
                ecs_network(w, ctx, x);
        else if (!ecs_lifecycle(w, x))
                return false;
        ecs_observer(w, ctx, x);
        ecs_labels(w, x);
        json_object_close(w);
        return true;
}

/* OCSF: Network Activity only; the daemon's lifecycle has no place in that
 * class and is skipped (the ECS export carries it). */
static bool map_ocsf(struct json_writer *w, const struct export_ctx *ctx, const struct xrec *x)
{
        bool allowed = was_allowed(x), dropped = x->action && strcmp(x->action, "drop") == 0;
        int activity = allowed ? 1 : 5;
        const char *fam = ip_family(x);
        char msg[512];

        if (!is_network(x))
                return false;
        json_object_open(w, NULL);
        json_put_uint(w, "class_uid", 4001);
        jw_str(w, "class_name", "Network Activity");
        json_put_uint(w, "category_uid", 4);
        jw_str(w, "category_name", "Network Activity");
        json_put_uint(w, "activity_id", (uint64_t)activity);
        jw_str(w, "activity_name", allowed ? "Open" : "Refuse");
        json_put_uint(w, "type_uid", 400100 + (uint64_t)activity);
        jw_str(w, "type_name", allowed ? "Network Activity: Open" : "Network Activity: Refuse");
        json_put_uint(w, "action_id", allowed ? 1 : 2);
        jw_str(w, "action", allowed ? "Allowed" : "Denied");
        json_put_uint(w, "disposition_id", allowed ? 1 : dropped ? 6 : 2);
        jw_str(w, "disposition", allowed ? "Allowed" : dropped ? "Dropped" : "Blocked");
        json_put_uint(w, "severity_id", 1);
        jw_str(w, "severity", "Informational");
        json_put_int(w, "time", x->r.ts / 1000);
        if (x->r.has_first)
                json_put_int(w, "start_time", x->r.first / 1000);
        if (x->r.has_last)
                json_put_int(w, "end_time", x->r.last / 1000);
        json_put_uint(w, "count", x->r.count);
        snprintf(msg, sizeof(msg), "%s: %" PRIu64 " %s connection attempt%s from %s to port %u (policy %s)",
                 x->r.event_name, x->r.count, fam ? fam : "TCP", x->r.count == 1 ? "" : "s",
                 x->r.src ? x->r.src : "unknown sources", x->r.has_dport ? x->r.dport : 0,
                 x->r.policy ? x->r.policy : "-");
        jw_str(w, "message", msg);
        if (x->r.src || x->has_sport) {
                json_object_open(w, "src_endpoint");
                jw_str(w, "ip", x->r.src);
                if (x->has_sport)
                        json_put_uint(w, "port", x->sport);
                json_object_close(w);
        }
        /* always present: at least this host is known as the destination */
        json_object_open(w, "dst_endpoint");
        jw_str(w, "ip", x->dst);
        if (x->r.has_dport)
                json_put_uint(w, "port", x->r.dport);
        if (!is_outbound(x))
                jw_str(w, "hostname", ctx->hostname);
        jw_str(w, "interface_name", x->iface);
        json_object_close(w);
        json_object_open(w, "connection_info");
        jw_str(w, "protocol_name", "tcp");
        json_put_uint(w, "protocol_num", 6);
        if (fam)
                json_put_uint(w, "protocol_ver_id", strcmp(fam, "ipv4") == 0 ? 4 : 6);
        json_put_uint(w, "direction_id", is_outbound(x) ? 2 : 1);
        jw_str(w, "direction", is_outbound(x) ? "Outbound" : "Inbound");
        json_object_close(w);
        json_object_open(w, "metadata");
        jw_str(w, "version", EXPORT_OCSF_VERSION);
        json_object_open(w, "product");
        jw_str(w, "name", EXPORT_PRODUCT);
        jw_str(w, "vendor_name", EXPORT_PRODUCT);
        jw_str(w, "version", EXPORT_PRODUCT_VERSION);
        json_object_close(w);
        jw_strs(w, "profiles", "security_control", NULL);
        jw_str(w, "log_name", "audit");
        json_object_close(w);
        json_object_open(w, "unmapped");
        jw_str(w, "event", x->r.event_name);
        jw_str(w, "policy", x->r.policy);
        jw_str(w, "mode", x->mode);
        jw_str(w, "action", x->action);
        jw_str(w, "reason", x->reason);
        jw_str(w, "rule", x->rule);
        jw_str(w, "refused_by", x->refused_by);
        jw_str(w, "user", x->user);
        jw_str(w, "unit", x->unit);
        jw_str(w, "comm", x->comm);
        if (x->has_uid)
                json_put_uint(w, "uid", x->uid);
        if (x->has_pid)
                json_put_uint(w, "pid", x->pid);
        if (x->has_ttl)
                json_put_uint(w, "ttl", x->ttl);
        json_object_close(w);
        json_object_close(w);
        return true;
}

int export_line(const struct export_ctx *ctx, char *line, size_t len, FILE *out)
{
        struct json_writer w;
        struct xrec x = {};
        char *buf = NULL;
        size_t blen = 0;
        FILE *mem;
        bool mapped;
        size_t i;

        for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'); i++)
                ;
        if (i == len)
                return 0;
        if (len > REPORT_LINE_MAX || report_parse_line_fields(line, len, &x.r, collect, &x) < 0)
                return -EINVAL;
        /* seal lines belong to `mxlock verify`, not to the SIEM */
        if (strcmp(x.r.event_name, "seal") == 0)
                return 0;
        if (ctx->has_since && x.r.ts < ctx->since)
                return 0;
        /* build the record in memory so that a record is written whole or not at all */
        mem = open_memstream(&buf, &blen);
        if (!mem)
                return -ENOMEM;
        json_writer_file(&w, mem);
        mapped = ctx->fmt == EXPORT_ECS ? map_ecs(&w, ctx, &x) : map_ocsf(&w, ctx, &x);
        fputc('\n', mem);
        if (fclose(mem) != 0) {
                free(buf);
                return -ENOMEM;
        }
        if (mapped && fwrite(buf, 1, blen, out) != blen) {
                free(buf);
                return -EIO;
        }
        free(buf);
        return mapped ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* Reading files */

struct xstate {
        const struct export_ctx *ctx;
        FILE *out;
        uint64_t written, skipped, corrupt;
        bool out_failed;
};

static int feed(struct xstate *s, const char *path, uint64_t lineno, char *line, size_t len)
{
        int r = export_line(s->ctx, line, len, s->out);

        if (r == -EINVAL) {
                if (s->corrupt++ < CORRUPT_SHOWN)
                        fprintf(stderr, "mxlock export: %s:%" PRIu64 ": corrupt audit line skipped\n", path,
                                lineno);
                return 0;
        }
        if (r < 0) {
                s->out_failed = true;
                return r;
        }
        if (r == 0)
                s->skipped++;
        else
                s->written++;
        return 0;
}

/* A whole plain or gzip file, "-" for stdin. */
static int export_file(struct xstate *s, const char *path)
{
        const size_t cap = REPORT_LINE_MAX + 2;
        uint64_t lineno = 0;
        bool skipping = false;
        char *buf;
        gzFile gz;
        int fd, r = 0, zerr;

        fd = strcmp(path, "-") == 0 ? fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0)
                                    : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        gz = gzdopen(fd, "rb");
        if (!gz) {
                close(fd);
                return -ENOMEM;
        }
        buf = malloc(cap);
        if (!buf) {
                gzclose(gz);
                return -ENOMEM;
        }
        while (gzgets(gz, buf, (int)cap)) {
                size_t len = strlen(buf);
                bool whole = len > 0 && buf[len - 1] == '\n';

                if (skipping) {
                        skipping = !whole;
                        continue;
                }
                lineno++;
                if (!whole && len == cap - 1) {
                        /* longer than any audit line: corrupt, skip to its end */
                        if (s->corrupt++ < CORRUPT_SHOWN)
                                fprintf(stderr, "mxlock export: %s:%" PRIu64 ": line too long, skipped\n", path,
                                        lineno);
                        skipping = true;
                        continue;
                }
                if (whole)
                        len--;
                r = feed(s, path, lineno, buf, len);
                if (r < 0)
                        break;
        }
        if (r == 0) {
                (void)gzerror(gz, &zerr);
                if (zerr == Z_ERRNO)
                        r = errno ? -errno : -EIO;
                else if (zerr != Z_OK && zerr != Z_BUF_ERROR && s->corrupt++ < CORRUPT_SHOWN)
                        fprintf(stderr, "mxlock export: %s: damaged compressed data after line %" PRIu64 "\n",
                                path, lineno);
        }
        free(buf);
        gzclose(gz);
        return r;
}

static int64_t mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

        (void)nanosleep(&ts, NULL);
}

/* The complete lines in buf[0..*have); the rest is moved to the front. */
static int feed_lines(struct xstate *s, const char *path, uint64_t *lineno, char *buf, size_t *have)
{
        char *start = buf, *nl;
        int r;

        while ((nl = memchr(start, '\n', *have - (size_t)(start - buf)))) {
                (*lineno)++;
                r = feed(s, path, *lineno, start, (size_t)(nl - start));
                if (r < 0)
                        return r;
                start = nl + 1;
        }
        *have -= (size_t)(start - buf);
        memmove(buf, start, *have);
        if (*have > REPORT_LINE_MAX) {
                (*lineno)++;
                if (s->corrupt++ < CORRUPT_SHOWN)
                        fprintf(stderr, "mxlock export: %s:%" PRIu64 ": line too long, skipped\n", path, *lineno);
                *have = 0;
        }
        return 0;
}

/* Follow the live log like `tail -F`: read to the end, then wait for more.
 * A rename (logrotate's default, then the daemon reopens the path) is
 * noticed by the path's inode changing: the old file is read until it has
 * been quiet for a moment, then the new one from its start. A truncation in
 * place (copytruncate) is noticed by the file shrinking below what was read:
 * reading starts again at 0. Runs until killed or the output fails. */
static int follow_file(struct xstate *s, const char *path)
{
        size_t cap = 256 * 1024, have = 0;
        uint64_t lineno = 0;
        int64_t quiet_since = -1;
        struct stat cur, st;
        char *buf = malloc(cap);
        bool announced = false;
        int fd = -1, r = 0;

        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n;

                if (fd < 0) {
                        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                        if (fd < 0) {
                                if (errno != ENOENT) {
                                        r = -errno;
                                        break;
                                }
                                if (!announced)
                                        fprintf(stderr, "mxlock export: %s: waiting for it to appear\n", path);
                                announced = true;
                                sleep_ms(FOLLOW_POLL_MS);
                                continue;
                        }
                        if (fstat(fd, &cur) < 0) {
                                r = -errno;
                                break;
                        }
                        have = 0;
                        lineno = 0;
                        quiet_since = -1;
                }
                if (cap - have < 64 * 1024) {
                        char *nb = realloc(buf, cap * 2);

                        if (!nb) {
                                r = -ENOMEM;
                                break;
                        }
                        buf = nb;
                        cap *= 2;
                }
                n = read(fd, buf + have, cap - have);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                if (n > 0) {
                        have += (size_t)n;
                        r = feed_lines(s, path, &lineno, buf, &have);
                        if (r < 0)
                                break;
                        quiet_since = -1;
                        continue;
                }
                /* at the end of what is there */
                if (fflush(s->out) != 0) {
                        s->out_failed = true;
                        r = -EIO;
                        break;
                }
                if (stat(path, &st) == 0 && (st.st_ino != cur.st_ino || st.st_dev != cur.st_dev)) {
                        /* rotated away: drain the old file until it is quiet */
                        if (quiet_since < 0)
                                quiet_since = mono_ms();
                        if (mono_ms() - quiet_since >= FOLLOW_DRAIN_QUIET_MS) {
                                if (have > 0) {
                                        /* a last line without its newline */
                                        r = feed(s, path, ++lineno, buf, have);
                                        if (r < 0)
                                                break;
                                }
                                close(fd);
                                fd = -1;
                                continue;
                        }
                } else if (fstat(fd, &st) == 0 && st.st_size < lseek(fd, 0, SEEK_CUR)) {
                        /* truncated in place */
                        (void)lseek(fd, 0, SEEK_SET);
                        have = 0;
                        lineno = 0;
                        continue;
                }
                sleep_ms(FOLLOW_POLL_MS);
        }
        if (fd >= 0)
                close(fd);
        free(buf);
        return r;
}

/* ------------------------------------------------------------------ */
/* The command */

static void usage(FILE *out)
{
        fprintf(out,
                "Usage: mxlock export --format ecs|ocsf [--since T] [--follow] [--hostname H] [FILE...]\n"
                "\n"
                "Write the audit log as one mapped JSON record per line, for a SIEM or a\n"
                "log shipper reading a pipe:\n"
                "  ecs    Elastic Common Schema " EXPORT_ECS_VERSION ": refusals as event.category\n"
                "         [network], event.type [connection, denied]; the daemon's start,\n"
                "         stop, reload, restored records as process/configuration events\n"
                "  ocsf   OCSF " EXPORT_OCSF_VERSION " Network Activity (class_uid 4001): refusals as\n"
                "         activity Refuse, action Denied, disposition Blocked (Dropped\n"
                "         with action = drop); lifecycle records are skipped\n"
                "Seal lines and unknown events are skipped; unknown fields are ignored.\n"
                "\n"
                "FILE is a plain or gzip audit log, '-' for stdin. Without FILE: the\n"
                "configuration's audit_log and its rotated siblings, oldest first.\n"
                "\n"
                "  --format FMT   ecs or ocsf (required)\n"
                "  --since T      only records at or after T (2026-11-23T22:00:00Z,\n"
                "                 2026-11-23, or a time before now: 90m, 24h, 7d)\n"
                "  --follow       after the last FILE's end, wait for more like `tail -F`:\n"
                "                 across rotation by rename and by copytruncate\n"
                "  --hostname H   observer name in the records (default: this host's)\n");
}

int export_parse(struct export_opts *o, const struct cli *cli, int argc, char **argv, FILE *out, FILE *err)
{
        static const struct option opts[] = {
                { "format", required_argument, NULL, 'f' },
                { "since", required_argument, NULL, 's' },
                { "follow", no_argument, NULL, 'F' },
                { "hostname", required_argument, NULL, 'H' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        bool have_fmt = false;
        struct timeval now;
        int c;

        (void) cli;
        *o = (struct export_opts){};
        gettimeofday(&now, NULL);
        optind = 0;
        while ((c = cli_getopt(argc, argv, "+f:s:FH:h", opts, err)) != -1) {
                switch (c) {
                case 'f':
                        if (strcmp(optarg, "ecs") == 0) {
                                o->ctx.fmt = EXPORT_ECS;
                        } else if (strcmp(optarg, "ocsf") == 0) {
                                o->ctx.fmt = EXPORT_OCSF;
                        } else {
                                fprintf(err, "mxlock export: unknown format '%s' (ecs, ocsf)\n", optarg);
                                return EXPORT_USAGE;
                        }
                        have_fmt = true;
                        break;
                case 's':
                        if (report_parse_time(optarg, (int64_t)now.tv_sec * 1000000 + now.tv_usec, &o->ctx.since) < 0) {
                                fprintf(err, "mxlock export: bad time '%s' (want 2026-11-23T22:00:00Z, "
                                        "2026-11-23, or 24h, 7d, 90m)\n", optarg);
                                return EXPORT_USAGE;
                        }
                        o->ctx.has_since = true;
                        break;
                case 'F':
                        o->follow = true;
                        break;
                case 'H':
                        snprintf(o->host, sizeof(o->host), "%s", optarg);
                        break;
                case 'h':
                        usage(out);
                        return EXIT_SUCCESS;
                default:
                        usage(err);
                        return EXPORT_USAGE;
                }
        }
        if (!have_fmt) {
                fprintf(err, "mxlock export: --format ecs|ocsf is required\n");
                usage(err);
                return EXPORT_USAGE;
        }
        o->files = argv + optind;
        o->nfiles = (size_t)(argc - optind);
        return CLI_RUN;
}

int cmd_export(const struct export_opts *o, FILE *out, FILE *err)
{
        struct export_ctx ctx = o->ctx;
        struct xstate s = { .ctx = &ctx, .out = out };
        const char *live_log = o->live_log;
        char host[256], **files = NULL;
        bool follow = o->follow, any_failed = false;
        size_t nfiles;
        int r, ret = EXIT_FAILURE;

        snprintf(host, sizeof(host), "%s", o->host);
        if (!host[0] && gethostname(host, sizeof(host) - 1) < 0)
                snprintf(host, sizeof(host), "localhost");
        ctx.hostname = host;

        if (o->nfiles == 0) {
                r = report_log_files(live_log, &files);
                if (r < 0) {
                        fprintf(err, "mxlock export: %s: %s\n", live_log, strerror(-r));
                        return EXIT_FAILURE;
                }
        } else {
                files = calloc(o->nfiles + 1, sizeof(*files));
                if (!files)
                        goto oom;
                for (size_t i = 0; i < o->nfiles; i++)
                        if (!(files[i] = strdup(o->files[i])))
                                goto oom;
        }
        for (nfiles = 0; files[nfiles]; nfiles++)
                ;
        if (follow && strcmp(files[nfiles - 1], "-") == 0) {
                fprintf(err, "mxlock export: --follow needs a file, not stdin\n");
                ret = EXPORT_USAGE;
                goto out;
        }
        for (size_t i = 0; i < nfiles; i++) {
                if (follow && i == nfiles - 1)
                        r = follow_file(&s, files[i]);
                else
                        r = export_file(&s, files[i]);
                if (r == -ENOMEM)
                        goto oom;
                if (s.out_failed)
                        break;
                if (r < 0) {
                        fprintf(err, "mxlock export: %s: %s\n", files[i], strerror(-r));
                        any_failed = true;
                }
        }
        if (s.out_failed || fflush(out) != 0) {
                fprintf(err, "mxlock export: writing the output failed\n");
                goto out;
        }
        if (s.corrupt)
                fprintf(err, "mxlock export: %" PRIu64 " corrupt line(s) skipped\n", s.corrupt);
        ret = any_failed ? EXIT_FAILURE : EXIT_SUCCESS;
        goto out;
oom:
        fprintf(err, "mxlock export: out of memory\n");
out:
        report_files_free(files);
        return ret;
}
