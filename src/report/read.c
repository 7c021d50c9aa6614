/* src/report/read.c: reading the audit log: times, one line into a record, files and
 * their rotated siblings (see report.h and internal.h). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <zlib.h>

#include "json.h"
#include "report/internal.h"

/* ------------------------------------------------------------------ */
/* Times */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
        int64_t era;
        unsigned yoe, doy, doe;

        y -= m <= 2;
        era = (y >= 0 ? y : y - 399) / 400;
        yoe = (unsigned)(y - era * 400);
        doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
        doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + (int64_t)doe - 719468;
}

static bool is_leap(long y)
{
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Parse exactly n decimal digits at *p. */
static bool take_digits(const char **p, const char *end, int n, long *ret)
{
        long v = 0;
        int i;

        if (end - *p < n)
                return false;
        for (i = 0; i < n; i++) {
                char c = (*p)[i];

                if (c < '0' || c > '9')
                        return false;
                v = v * 10 + (c - '0');
        }
        *p += n;
        *ret = v;
        return true;
}

/* RFC 3339 date-time, or a date alone (midnight UTC); no zone means UTC. */
static int parse_rfc3339(const char *s, size_t len, int64_t *ret)
{
        static const unsigned mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        const char *p = s, *end = s + len;
        long y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, oh = 0, om = 0;
        int64_t t;
        int sign = 0;

        if (!take_digits(&p, end, 4, &y) || p >= end || *p++ != '-' ||
            !take_digits(&p, end, 2, &mo) || p >= end || *p++ != '-' ||
            !take_digits(&p, end, 2, &d))
                return -EINVAL;
        if (mo < 1 || mo > 12 || d < 1)
                return -EINVAL;
        if ((unsigned long)d > mdays[mo - 1] + (mo == 2 && is_leap(y)))
                return -EINVAL;
        if (p < end) {
                if (*p != 'T' && *p != 't' && *p != ' ')
                        return -EINVAL;
                p++;
                if (!take_digits(&p, end, 2, &h) || p >= end || *p++ != ':' ||
                    !take_digits(&p, end, 2, &mi))
                        return -EINVAL;
                if (p < end && *p == ':') {
                        p++;
                        if (!take_digits(&p, end, 2, &sec))
                                return -EINVAL;
                        if (p < end && *p == '.') {
                                long scale = 100000;
                                int nd = 0;

                                p++;
                                while (p < end && *p >= '0' && *p <= '9') {
                                        frac += (*p - '0') * scale;
                                        scale /= 10;
                                        p++;
                                        nd++;
                                }
                                if (!nd)
                                        return -EINVAL;
                        }
                }
                if (h > 23 || mi > 59 || sec > 60)
                        return -EINVAL;
                if (p < end) {
                        if (*p == 'Z' || *p == 'z') {
                                p++;
                        } else if (*p == '+' || *p == '-') {
                                sign = *p == '+' ? 1 : -1;
                                p++;
                                if (!take_digits(&p, end, 2, &oh) || p >= end || *p++ != ':' ||
                                    !take_digits(&p, end, 2, &om) || oh > 23 || om > 59)
                                        return -EINVAL;
                        } else {
                                return -EINVAL;
                        }
                }
        }
        if (p != end)
                return -EINVAL;
        t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec;
        t -= sign * (oh * 3600 + om * 60);
        *ret = t * US_PER_SEC + frac;
        return 0;
}

int report_parse_time(const char *s, int64_t now, int64_t *ret)
{
        size_t len;
        char *endp;
        unsigned long long n;
        int64_t unit;

        if (!s || !*s)
                return -EINVAL;
        len = strlen(s);
        if (strcmp(s, "now") == 0) {
                *ret = now;
                return 0;
        }
        if (isdigit((unsigned char)s[0]) && len >= 2 && !isdigit((unsigned char)s[len - 1])) {
                switch (s[len - 1]) {
                case 's': unit = US_PER_SEC; break;
                case 'm': unit = 60 * US_PER_SEC; break;
                case 'h': unit = US_PER_HOUR; break;
                case 'd': unit = 24 * US_PER_HOUR; break;
                case 'w': unit = 7 * 24 * US_PER_HOUR; break;
                default: unit = 0; break;
                }
                if (unit) {
                        errno = 0;
                        n = strtoull(s, &endp, 10);
                        if (errno || endp != s + len - 1 || n > (unsigned long long)(INT64_MAX / 2 / unit))
                                return -EINVAL;
                        *ret = now - (int64_t)n * unit;
                        return 0;
                }
        }
        return parse_rfc3339(s, len, ret);
}

char *report_format_time(int64_t t, char *buf)
{
        time_t secs = (time_t)rpt_floor_div(t, US_PER_SEC);
        struct tm tm;

        if (!gmtime_r(&secs, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0)
                snprintf(buf, 32, "@%" PRId64, (int64_t)secs);
        else
                strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
        return buf;
}

int report_format_from_name(const char *name, enum report_format *ret)
{
        static const char *const names[] = { "table", "json", "csv", "html" };
        size_t i;

        for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                if (strcmp(name, names[i]) == 0) {
                        *ret = (enum report_format)i;
                        return 0;
                }
        }
        return -EINVAL;
}

/* ------------------------------------------------------------------ */
/* The JSON line reader: one object, values decoded in place */

static bool jv_time(const struct json_value *v, int64_t *ret)
{
        return v->type == JSON_STRING && parse_rfc3339(v->str, v->len, ret) == 0;
}

/* A string or null (NULL); anything else is a schema error. */
static bool jv_optstr(const struct json_value *v, const char **ret)
{
        return json_value_str(v, true, ret);
}

/* A non-negative integer no larger than max. */
static bool jv_uint(const struct json_value *v, uint64_t max, uint64_t *ret)
{
        return json_value_uint(v, max, ret);
}

static int record_field(struct report_record *rec, const char *key, const struct json_value *v, bool *has_ts)
{
        uint64_t n;
        int ev;

        switch (key[0]) {
        case 't':
                if (strcmp(key, "ts") == 0) {
                        if (!jv_time(v, &rec->ts))
                                return -EINVAL;
                        *has_ts = true;
                }
                break;
        case 'e':
                if (strcmp(key, "event") == 0) {
                        if (v->type != JSON_STRING)
                                return -EINVAL;
                        rec->event_name = v->str;
                        ev = schema_event_from_name(v->str);
                        rec->event = ev < 0 ? REPORT_EV_OTHER : (enum report_event)ev;
                } else if (strcmp(key, "error") == 0) {
                        if (!jv_optstr(v, &rec->error))
                                return -EINVAL;
                }
                break;
        case 'c':
                if (strcmp(key, "count") == 0) {
                        if (!jv_uint(v, COUNT_MAX, &rec->count))
                                return -EINVAL;
                        rec->has_count = true;
                }
                break;
        case 'd':
                if (strcmp(key, "dport") == 0) {
                        if (v->type == JSON_NULL)
                                break;
                        if (!jv_uint(v, 65535, &n))
                                return -EINVAL;
                        rec->dport = (unsigned)n;
                        rec->has_dport = true;
                } else if (strcmp(key, "direction") == 0) {
                        rec->outbound = v->type == JSON_STRING && strcmp(v->str, "outbound") == 0;
                } else if (strcmp(key, "dst") == 0) {
                        (void) jv_optstr(v, &rec->dst);
                }
                break;
        case 'u':
                if (strcmp(key, "uid") == 0) {
                        rec->has_uid = jv_uint(v, UINT32_MAX, &n);
                        rec->uid = rec->has_uid ? (uint32_t)n : 0;
                } else if (strcmp(key, "user") == 0) {
                        (void) jv_optstr(v, &rec->user);
                } else if (strcmp(key, "unit") == 0) {
                        (void) jv_optstr(v, &rec->unit);
                }
                break;
        case 'f':
                if (strcmp(key, "first") == 0) {
                        if (!jv_time(v, &rec->first))
                                return -EINVAL;
                        rec->has_first = true;
                }
                break;
        case 'l':
                if (strcmp(key, "last") == 0) {
                        if (!jv_time(v, &rec->last))
                                return -EINVAL;
                        rec->has_last = true;
                }
                break;
        case 's':
                if (strcmp(key, "src") == 0 && !jv_optstr(v, &rec->src))
                        return -EINVAL;
                break;
        case 'p':
                if (strcmp(key, "policy") == 0 && !jv_optstr(v, &rec->policy))
                        return -EINVAL;
                break;
        case 'r':
                if (strcmp(key, "result") == 0 && !jv_optstr(v, &rec->result))
                        return -EINVAL;
                if (strcmp(key, "reason") == 0)
                        (void) jv_optstr(v, &rec->reason);
                break;
        default:
                break;
        }
        return 0;
}

/* Hand one member to a field callback, in the public value shape. */
static void field_to_cb(report_field_fn fn, void *userdata, const char *key, const struct json_value *v)
{
        struct report_value rv = {};

        switch (v->type) {
        case JSON_STRING:
                rv.type = REPORT_V_STRING;
                rv.str = v->str;
                rv.len = v->len;
                break;
        case JSON_NUMBER:
                rv.type = REPORT_V_NUMBER;
                rv.str = v->str;
                rv.len = v->len;
                break;
        case JSON_TRUE:
        case JSON_FALSE:
                rv.type = REPORT_V_BOOL;
                rv.boolean = v->type == JSON_TRUE;
                break;
        case JSON_NULL:
                rv.type = REPORT_V_NULL;
                break;
        case JSON_ARRAY:
        case JSON_OBJECT:
                rv.type = REPORT_V_NESTED;
                break;
        }
        fn(key, &rv, userdata);
}

int report_parse_line(char *line, size_t len, struct report_record *rec)
{
        return report_parse_line_fields(line, len, rec, NULL, NULL);
}

int report_parse_line_fields(char *line, size_t len, struct report_record *rec, report_field_fn fn,
                             void *userdata)
{
        struct json_iter it;
        struct json_value v;
        const char *key;
        bool has_ts = false;
        int r;

        memset(rec, 0, sizeof(*rec));
        rec->event = REPORT_EV_COUNT;
        if (json_iter_object(&it, line, len) < 0)
                return -EINVAL;
        while ((r = json_iter_next(&it, &key, &v)) > 0) {
                if (record_field(rec, key, &v, &has_ts) < 0)
                        return -EINVAL;
                if (fn)
                        field_to_cb(fn, userdata, key, &v);
        }
        if (r < 0 || !has_ts || rec->event == REPORT_EV_COUNT)
                return -EINVAL;
        /* summary and missed records exist to carry a count */
        if ((rec->event == REPORT_EV_SUMMARY || rec->event == REPORT_EV_MISSED) && !rec->has_count)
                return -EINVAL;
        if (!rec->has_count)
                rec->count = 1;
        return 0;
}

/* ------------------------------------------------------------------ */
/* Files */

static int note_file(struct report *r, const char *path, struct file_stat **ret)
{
        struct file_stat *f;
        int e;

        e = rpt_grow((void **)&r->files, &r->files_cap, r->nfiles + 1, sizeof(*r->files));
        if (e < 0)
                return e;
        f = &r->files[r->nfiles];
        memset(f, 0, sizeof(*f));
        f->path = strdup(path);
        if (!f->path)
                return -ENOMEM;
        r->nfiles++;
        *ret = f;
        return 0;
}

static int feed_line(struct report *r, char *line, size_t len)
{
        int e = report_add_line(r, line, len);

        return e < 0 ? e : 0;
}

int report_read_file(struct report *r, const char *path)
{
        const size_t chunk = 256 * 1024;
        struct file_stat *f;
        uint64_t lines0 = r->lines, corrupt0 = r->corrupt;
        char *buf = NULL;
        size_t cap = 0, have = 0;
        bool skipping = false;
        gzFile gz = NULL;
        int fd = -1, e;

        e = note_file(r, path, &f);
        if (e < 0)
                return e;
        if (strcmp(path, "-") == 0)
                fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0);
        else
                fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                e = -errno;
                goto out;
        }
        gz = gzdopen(fd, "rb");
        if (!gz) {
                e = -ENOMEM;
                goto out;
        }
        fd = -1;                /* owned by gz now */
        (void) gzbuffer(gz, 128 * 1024);
        cap = chunk * 2;
        buf = malloc(cap);
        if (!buf) {
                e = -ENOMEM;
                goto out;
        }
        for (;;) {
                char *start, *nl;
                int n, zerr;

                if (cap - have < chunk) {
                        char *nb = realloc(buf, cap * 2);

                        if (!nb) {
                                e = -ENOMEM;
                                goto out;
                        }
                        buf = nb;
                        cap *= 2;
                }
                n = gzread(gz, buf + have, (unsigned)(cap - have));
                if (n < 0) {
                        (void) gzerror(gz, &zerr);
                        if (zerr == Z_ERRNO) {
                                e = errno ? -errno : -EIO;
                                goto out;
                        }
                        /* truncated or damaged compressed data: the rest is lost */
                        r->lines++;
                        r->corrupt++;
                        break;
                }
                if (n == 0) {
                        if (gzeof(gz) || have == 0)
                                break;
                        /* no progress without eof: treat as a damaged stream */
                        (void) gzerror(gz, &zerr);
                        if (zerr == Z_ERRNO) {
                                e = errno ? -errno : -EIO;
                                goto out;
                        }
                        if (zerr != Z_OK) {
                                r->lines++;
                                r->corrupt++;
                                have = 0;
                        }
                        break;
                }
                have += (size_t)n;
                start = buf;
                while ((nl = memchr(start, '\n', have - (size_t)(start - buf)))) {
                        if (skipping) {
                                skipping = false;
                        } else {
                                e = feed_line(r, start, (size_t)(nl - start));
                                if (e < 0)
                                        goto out;
                        }
                        start = nl + 1;
                }
                have -= (size_t)(start - buf);
                memmove(buf, start, have);
                if (have > REPORT_LINE_MAX) {
                        /* an endless line: count it once and skip to its end */
                        if (!skipping) {
                                r->lines++;
                                r->corrupt++;
                        }
                        skipping = true;
                        have = 0;
                }
        }
        if (have > 0 && !skipping) {
                e = feed_line(r, buf, have);
                if (e < 0)
                        goto out;
        }
        e = 0;
out:
        f->lines = r->lines - lines0;
        f->corrupt = r->corrupt - corrupt0;
        f->error = e;
        free(buf);
        if (gz)
                gzclose(gz);
        if (fd >= 0)
                close(fd);
        return e;
}

struct sibling {
        char *path;
        int kind;               /* 0: dateext, 1: numbered */
        unsigned long num;
        char *name;
};

static int sibling_cmp(const void *a, const void *b)
{
        const struct sibling *x = a, *y = b;

        if (x->kind != y->kind)
                return x->kind - y->kind;
        if (x->kind == 1)
                return x->num > y->num ? -1 : x->num < y->num;       /* oldest (highest) first */
        return strcmp(x->name, y->name);
}

/* The suffix after "base": ".N", ".N.gz", "-DIGITS" or "-DIGITS.gz". */
static bool sibling_suffix(const char *s, int *kind, unsigned long *num)
{
        const char *p = s + 1;
        size_t nd = 0;

        if (*s != '.' && *s != '-')
                return false;
        while (p[nd] >= '0' && p[nd] <= '9')
                nd++;
        if (nd == 0 || nd > 18)
                return false;
        if (strcmp(p + nd, "") != 0 && strcmp(p + nd, ".gz") != 0)
                return false;
        *kind = *s == '.' ? 1 : 0;
        *num = strtoul(p, NULL, 10);
        return true;
}

int report_log_files(const char *path, char ***ret)
{
        struct sibling *sib = NULL;
        size_t nsib = 0, sibcap = 0, i, baselen;
        char *dir = NULL, **files = NULL;
        const char *base, *slash;
        DIR *d = NULL;
        struct dirent *de;
        int e = 0;

        slash = strrchr(path, '/');
        if (slash) {
                dir = strndup(path, (size_t)(slash - path) + 1);
                base = slash + 1;
        } else {
                dir = strdup(".");
                base = path;
        }
        if (!dir)
                return -ENOMEM;
        baselen = strlen(base);
        d = opendir(dir);
        while (d && baselen && (de = readdir(d))) {
                int kind;
                unsigned long num;

                if (strncmp(de->d_name, base, baselen) != 0 ||
                    !sibling_suffix(de->d_name + baselen, &kind, &num))
                        continue;
                e = rpt_grow((void **)&sib, &sibcap, nsib + 1, sizeof(*sib));
                if (e < 0)
                        goto out;
                sib[nsib].kind = kind;
                sib[nsib].num = num;
                if (asprintf(&sib[nsib].path, "%s%s", slash ? dir : "", de->d_name) < 0) {
                        e = -ENOMEM;
                        goto out;
                }
                sib[nsib].name = sib[nsib].path + strlen(sib[nsib].path) - strlen(de->d_name);
                nsib++;
        }
        if (nsib)
                qsort(sib, nsib, sizeof(*sib), sibling_cmp);
        files = calloc(nsib + 2, sizeof(*files));
        if (!files) {
                e = -ENOMEM;
                goto out;
        }
        for (i = 0; i < nsib; i++) {
                files[i] = sib[i].path;
                sib[i].path = NULL;
        }
        files[nsib] = strdup(path);
        if (!files[nsib]) {
                e = -ENOMEM;
                goto out;
        }
        *ret = files;
        files = NULL;
out:
        report_files_free(files);
        for (i = 0; i < nsib; i++)
                free(sib[i].path);
        free(sib);
        free(dir);
        if (d)
                closedir(d);
        return e;
}

void report_files_free(char **files)
{
        size_t i;

        if (!files)
                return;
        for (i = 0; files[i]; i++)
                free(files[i]);
        free(files);
}
