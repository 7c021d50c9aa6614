/* src/report.c: read, aggregate and format the audit log (see report.h). */
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
#include "report.h"

#define US_PER_SEC INT64_C(1000000)
#define US_PER_HOUR (INT64_C(3600) * US_PER_SEC)
#define COUNT_MAX (UINT64_C(1) << 53)   /* largest count accepted in a record */
#define POLICY_OTHERS_BIT 63            /* policy ids >= 63 share this bit */

static const char *const event_names[REPORT_EV_COUNT] = {
        [REPORT_EV_REFUSED] = "refused",
        [REPORT_EV_OBSERVED] = "observed",
        [REPORT_EV_SUMMARY] = "summary",
        [REPORT_EV_MISSED] = "missed",
        [REPORT_EV_START] = "start",
        [REPORT_EV_STOP] = "stop",
        [REPORT_EV_RELOAD] = "reload",
        [REPORT_EV_RESTORED] = "restored",
        [REPORT_EV_OTHER] = "other",
};

/* ------------------------------------------------------------------ */
/* Small helpers */

static uint64_t sat_add(uint64_t a, uint64_t b)
{
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static int64_t floor_div(int64_t a, int64_t b)
{
        int64_t q = a / b;

        if ((a % b != 0) && ((a < 0) != (b < 0)))
                q--;
        return q;
}

static uint64_t hash_str(const char *s)
{
        uint64_t h = UINT64_C(1469598103934665603);

        for (; *s; s++) {
                h ^= (unsigned char)*s;
                h *= UINT64_C(1099511628211);
        }
        return h;
}

static uint64_t hash_u64(uint64_t x)
{
        x ^= x >> 33;
        x *= UINT64_C(0xff51afd7ed558ccd);
        x ^= x >> 33;
        x *= UINT64_C(0xc4ceb9fe1a85ec53);
        x ^= x >> 33;
        return x;
}

static int grow(void **v, size_t *cap, size_t need, size_t size)
{
        size_t ncap;
        void *nv;

        if (need <= *cap)
                return 0;
        ncap = *cap ? *cap : 16;
        while (ncap < need) {
                if (ncap > SIZE_MAX / 2 / size)
                        return -ENOMEM;
                ncap *= 2;
        }
        nv = realloc(*v, ncap * size);
        if (!nv)
                return -ENOMEM;
        *v = nv;
        *cap = ncap;
        return 0;
}

/* ------------------------------------------------------------------ */
/* String arena: many small strings, freed at once */

struct arena_chunk {
        struct arena_chunk *next;
        size_t used, cap;
        char data[];
};

static char *arena_strdup(struct arena_chunk **a, const char *s)
{
        size_t n = strlen(s) + 1;
        struct arena_chunk *c = *a;
        char *p;

        if (!c || c->cap - c->used < n) {
                size_t cap = n > 65536 ? n : 65536;

                c = malloc(sizeof(*c) + cap);
                if (!c)
                        return NULL;
                c->next = *a;
                c->used = 0;
                c->cap = cap;
                *a = c;
        }
        p = c->data + c->used;
        memcpy(p, s, n);
        c->used += n;
        return p;
}

static void arena_free(struct arena_chunk *a)
{
        while (a) {
                struct arena_chunk *next = a->next;

                free(a);
                a = next;
        }
}

/* ------------------------------------------------------------------ */
/* String interning table (open addressing, linear probing, grows at 1/2) */

struct strtab {
        char **keys;            /* index -> string (in the arena) */
        size_t n, cap;
        uint32_t *slots;        /* index + 1, 0 = empty */
        size_t nslots;          /* power of two */
};

static long strtab_find(const struct strtab *t, const char *s)
{
        size_t mask, i;

        if (!t->nslots)
                return -1;
        mask = t->nslots - 1;
        for (i = hash_str(s) & mask; t->slots[i]; i = (i + 1) & mask)
                if (strcmp(t->keys[t->slots[i] - 1], s) == 0)
                        return (long)t->slots[i] - 1;
        return -1;
}

static int strtab_rehash(struct strtab *t, size_t nslots)
{
        uint32_t *slots = calloc(nslots, sizeof(*slots));
        size_t k;

        if (!slots)
                return -ENOMEM;
        for (k = 0; k < t->n; k++) {
                size_t i = hash_str(t->keys[k]) & (nslots - 1);

                while (slots[i])
                        i = (i + 1) & (nslots - 1);
                slots[i] = (uint32_t)k + 1;
        }
        free(t->slots);
        t->slots = slots;
        t->nslots = nslots;
        return 0;
}

/* Returns the index of s, adding it when new (*created set). */
static long strtab_intern(struct strtab *t, struct arena_chunk **arena, const char *s, bool *created)
{
        long idx = strtab_find(t, s);
        size_t i;
        char *copy;
        int r;

        *created = false;
        if (idx >= 0)
                return idx;
        if (t->n >= UINT32_MAX - 1)
                return -ENOMEM;
        if ((t->n + 1) * 2 > t->nslots) {
                r = strtab_rehash(t, t->nslots ? t->nslots * 2 : 64);
                if (r < 0)
                        return r;
        }
        r = grow((void **)&t->keys, &t->cap, t->n + 1, sizeof(*t->keys));
        if (r < 0)
                return r;
        copy = arena_strdup(arena, s);
        if (!copy)
                return -ENOMEM;
        t->keys[t->n] = copy;
        for (i = hash_str(s) & (t->nslots - 1); t->slots[i]; i = (i + 1) & (t->nslots - 1))
                ;
        t->slots[i] = (uint32_t)t->n + 1;
        *created = true;
        return (long)t->n++;
}

static void strtab_free(struct strtab *t)
{
        free(t->keys);
        free(t->slots);
}

/* ------------------------------------------------------------------ */
/* uint64 -> uint64 counter map (open addressing) */

struct u64map {
        uint64_t *keys, *vals;
        uint8_t *used;
        size_t n, cap;          /* cap: power of two */
};

static uint64_t *u64map_slot(struct u64map *m, uint64_t key, bool create)
{
        size_t i, mask;

        if (create && (m->n + 1) * 2 > m->cap) {
                size_t ncap = m->cap ? m->cap * 2 : 64, k;
                uint64_t *keys = calloc(ncap, sizeof(*keys));
                uint64_t *vals = calloc(ncap, sizeof(*vals));
                uint8_t *used = calloc(ncap, 1);

                if (!keys || !vals || !used) {
                        free(keys);
                        free(vals);
                        free(used);
                        return NULL;
                }
                for (k = 0; k < m->cap; k++) {
                        if (!m->used[k])
                                continue;
                        for (i = hash_u64(m->keys[k]) & (ncap - 1); used[i]; i = (i + 1) & (ncap - 1))
                                ;
                        used[i] = 1;
                        keys[i] = m->keys[k];
                        vals[i] = m->vals[k];
                }
                free(m->keys);
                free(m->vals);
                free(m->used);
                m->keys = keys;
                m->vals = vals;
                m->used = used;
                m->cap = ncap;
        }
        if (!m->cap)
                return NULL;
        mask = m->cap - 1;
        for (i = hash_u64(key) & mask; m->used[i]; i = (i + 1) & mask)
                if (m->keys[i] == key)
                        return &m->vals[i];
        if (!create)
                return NULL;
        m->used[i] = 1;
        m->keys[i] = key;
        m->vals[i] = 0;
        m->n++;
        return &m->vals[i];
}

static int u64map_add(struct u64map *m, uint64_t key, uint64_t n)
{
        uint64_t *v = u64map_slot(m, key, true);

        if (!v)
                return -ENOMEM;
        *v = sat_add(*v, n);
        return 0;
}

static uint64_t u64map_get(const struct u64map *m, uint64_t key)
{
        uint64_t *v = u64map_slot((struct u64map *)(uintptr_t)m, key, false);

        return v ? *v : 0;
}

static void u64map_free(struct u64map *m)
{
        free(m->keys);
        free(m->vals);
        free(m->used);
}

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
        time_t secs = (time_t)floor_div(t, US_PER_SEC);
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
        size_t i;

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
                        rec->event = REPORT_EV_OTHER;
                        for (i = 0; i < REPORT_EV_OTHER; i++)
                                if (strcmp(v->str, event_names[i]) == 0)
                                        rec->event = (enum report_event)i;
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
/* Aggregation */

struct src_stat {
        uint64_t attempts;
        int64_t first, last;
        uint64_t policies;      /* bit i: policy id i; POLICY_OTHERS_BIT: id >= 63 */
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
};

int report_new(const struct report_options *opts, struct report **ret)
{
        struct report *r = calloc(1, sizeof(*r));

        if (!r)
                return -ENOMEM;
        if (opts)
                r->o = *opts;
        else
                r->o.top = REPORT_TOP_DEFAULT;
        *ret = r;
        return 0;
}

void report_free(struct report *r)
{
        size_t i;

        if (!r)
                return;
        arena_free(r->arena);
        strtab_free(&r->sources);
        strtab_free(&r->policies);
        free(r->src);
        u64map_free(&r->policy_port);
        u64map_free(&r->hours);
        for (i = 0; i < r->nrerr; i++)
                free(r->rerr[i].msg);
        for (i = 0; i < r->nfiles; i++)
                free(r->files[i].path);
        free(r->files);
        free(r->order);
        free(r);
}

static long policy_id(struct report *r, const char *policy)
{
        bool created;

        if (!policy)
                return -1;
        return strtab_intern(&r->policies, &r->arena, policy, &created);
}

static int add_policy_port(struct report *r, long pid, const struct report_record *rec, uint64_t n)
{
        uint64_t key = ((uint64_t)(pid + 1) << 16) | (rec->has_dport ? rec->dport : 0);

        return u64map_add(&r->policy_port, key, n);
}

/* The network a source is counted under once the table of sources is full:
 * IPv4 /24, IPv6 /48 (as mxlockd folds them); anything else, and every
 * network past the second limit, under one key. */
static const char *source_key(const struct report *r, const char *src, char *buf, size_t cap)
{
        unsigned char a[16];
        char txt[INET6_ADDRSTRLEN];

        if (r->sources.n < REPORT_SOURCES_MAX || strtab_find(&r->sources, src) >= 0)
                return src;
        if (inet_pton(AF_INET, src, a) == 1) {
                a[3] = 0;
                snprintf(buf, cap, "%s/24", inet_ntop(AF_INET, a, txt, sizeof(txt)));
        } else if (inet_pton(AF_INET6, src, a) == 1) {
                memset(a + 6, 0, 10);
                snprintf(buf, cap, "%s/48", inet_ntop(AF_INET6, a, txt, sizeof(txt)));
        } else {
                return REPORT_SOURCES_OTHER;
        }
        if (r->sources.n < REPORT_SOURCES_MAX + REPORT_NETWORKS_MAX || strtab_find(&r->sources, buf) >= 0)
                return buf;
        return REPORT_SOURCES_OTHER;
}

static int add_source(struct report *r, const char *src, long pid, int64_t lo, int64_t hi, uint64_t n)
{
        struct src_stat *s;
        char net[INET6_ADDRSTRLEN + 8];
        const char *key = source_key(r, src, net, sizeof(net));
        bool created;
        long idx;
        int e;

        if (key != src)
                r->sources_folded = sat_add(r->sources_folded, n);
        idx = strtab_intern(&r->sources, &r->arena, key, &created);
        if (idx < 0)
                return (int)idx;
        if (created) {
                e = grow((void **)&r->src, &r->src_cap, (size_t)idx + 1, sizeof(*r->src));
                if (e < 0)
                        return e;
                s = &r->src[idx];
                s->attempts = 0;
                s->first = lo;
                s->last = hi;
                s->policies = 0;
        }
        s = &r->src[idx];
        s->attempts = sat_add(s->attempts, n);
        if (lo < s->first)
                s->first = lo;
        if (hi > s->last)
                s->last = hi;
        if (pid >= 0)
                s->policies |= UINT64_C(1) << (pid < POLICY_OTHERS_BIT ? pid : POLICY_OTHERS_BIT);
        return 0;
}

static int add_reload(struct report *r, const struct report_record *rec)
{
        struct reload_error *e;
        char *msg;

        if (!rec->result)
                return 0;
        if (strcmp(rec->result, "ok") == 0) {
                r->reload_ok++;
                return 0;
        }
        if (strcmp(rec->result, "error") != 0)
                return 0;
        r->reload_failed++;
        msg = strdup(rec->error ? rec->error : "");
        if (!msg)
                return -ENOMEM;
        e = &r->rerr[r->rerr_next];
        if (r->nrerr == REPORT_RELOAD_ERRORS_KEPT)
                free(e->msg);
        else
                r->nrerr++;
        e->ts = rec->ts;
        e->msg = msg;
        r->rerr_next = (r->rerr_next + 1) % REPORT_RELOAD_ERRORS_KEPT;
        return 0;
}

static int add_record(struct report *r, const struct report_record *rec)
{
        int64_t lo = rec->ts, hi = rec->ts;
        long pid;
        int e;

        r->events[rec->event]++;
        if (rec->event == REPORT_EV_SUMMARY) {
                if (rec->has_first && rec->first < lo)
                        lo = rec->first;
                if (rec->has_last && rec->last > hi)
                        hi = rec->last;
        }
        if (!r->has_period || lo < r->first)
                r->first = lo;
        if (!r->has_period || hi > r->last)
                r->last = hi;
        r->has_period = true;

        switch (rec->event) {
        case REPORT_EV_REFUSED:
        case REPORT_EV_OBSERVED:
        case REPORT_EV_SUMMARY:
        case REPORT_EV_MISSED:
                r->attempts = sat_add(r->attempts, rec->count);
                r->ev_attempts[rec->event] = sat_add(r->ev_attempts[rec->event], rec->count);
                pid = policy_id(r, rec->policy);
                if (rec->policy && pid < 0)
                        return (int)pid;
                e = add_policy_port(r, pid, rec, rec->count);
                if (e < 0)
                        return e;
                /* missed attempts have no source and no time of their own */
                if (rec->event == REPORT_EV_MISSED)
                        return 0;
                e = u64map_add(&r->hours, (uint64_t)floor_div(rec->ts, US_PER_HOUR), rec->count);
                if (e < 0)
                        return e;
                if (rec->src && *rec->src)
                        return add_source(r, rec->src, pid, lo, hi, rec->count);
                return 0;
        case REPORT_EV_RELOAD:
                return add_reload(r, rec);
        default:
                return 0;
        }
}

int report_add_line(struct report *r, char *line, size_t len)
{
        struct report_record rec;
        size_t i;
        int e;

        while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
                len--;
        for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
                ;
        if (i == len)
                return 0;
        r->lines++;
        if (len > REPORT_LINE_MAX || report_parse_line(line, len, &rec) < 0) {
                r->corrupt++;
                return 0;
        }
        if ((r->o.has_since && rec.ts < r->o.since) || (r->o.has_until && rec.ts >= r->o.until)) {
                r->filtered++;
                return 0;
        }
        e = add_record(r, &rec);
        if (e < 0)
                return e;
        r->norder = 0;          /* top-sources order is stale */
        return 1;
}

/* ------------------------------------------------------------------ */
/* Files */

static int note_file(struct report *r, const char *path, struct file_stat **ret)
{
        struct file_stat *f;
        int e;

        e = grow((void **)&r->files, &r->files_cap, r->nfiles + 1, sizeof(*r->files));
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
                e = grow((void **)&sib, &sibcap, nsib + 1, sizeof(*sib));
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

/* ------------------------------------------------------------------ */
/* Queries */

uint64_t report_events(const struct report *r, enum report_event ev)
{
        return (unsigned)ev < REPORT_EV_COUNT ? r->events[ev] : 0;
}

uint64_t report_attempts(const struct report *r)
{
        return r->attempts;
}

uint64_t report_corrupt(const struct report *r)
{
        return r->corrupt;
}

uint64_t report_lines(const struct report *r)
{
        return r->lines;
}

uint64_t report_filtered(const struct report *r)
{
        return r->filtered;
}

size_t report_sources(const struct report *r)
{
        return r->sources.n;
}

bool report_period(const struct report *r, int64_t *first, int64_t *last)
{
        if (!r->has_period)
                return false;
        *first = r->first;
        *last = r->last;
        return true;
}

uint64_t report_source_attempts(const struct report *r, const char *src, int64_t *first, int64_t *last)
{
        long idx = strtab_find(&r->sources, src);

        if (idx < 0)
                return 0;
        if (first)
                *first = r->src[idx].first;
        if (last)
                *last = r->src[idx].last;
        return r->src[idx].attempts;
}

uint64_t report_hour_attempts(const struct report *r, int64_t hour_start)
{
        return u64map_get(&r->hours, (uint64_t)floor_div(hour_start, US_PER_HOUR));
}

uint64_t report_policy_port_attempts(const struct report *r, const char *policy, unsigned port)
{
        long pid = -1;

        if (policy) {
                pid = strtab_find(&r->policies, policy);
                if (pid < 0)
                        return 0;
        }
        return u64map_get(&r->policy_port, ((uint64_t)(pid + 1) << 16) | (port & 0xffff));
}

uint64_t report_reloads_ok(const struct report *r)
{
        return r->reload_ok;
}

uint64_t report_reloads_failed(const struct report *r)
{
        return r->reload_failed;
}

static int source_cmp(const void *a, const void *b, void *userdata)
{
        const struct report *r = userdata;
        uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
        const struct src_stat *sx = &r->src[x], *sy = &r->src[y];

        if (sx->attempts != sy->attempts)
                return sx->attempts > sy->attempts ? -1 : 1;
        if (sx->first != sy->first)
                return sx->first < sy->first ? -1 : 1;
        return strcmp(r->sources.keys[x], r->sources.keys[y]);
}

static int sort_sources(struct report *r)
{
        size_t i;

        if (r->norder == r->sources.n && r->order)
                return 0;
        free(r->order);
        r->order = malloc((r->sources.n ? r->sources.n : 1) * sizeof(*r->order));
        if (!r->order)
                return -ENOMEM;
        for (i = 0; i < r->sources.n; i++)
                r->order[i] = (uint32_t)i;
        qsort_r(r->order, r->sources.n, sizeof(*r->order), source_cmp, r);
        r->norder = r->sources.n;
        return 0;
}

const char *report_top_source(struct report *r, size_t n, uint64_t *attempts)
{
        if (sort_sources(r) < 0 || n >= r->sources.n)
                return NULL;
        if (attempts)
                *attempts = r->src[r->order[n]].attempts;
        return r->sources.keys[r->order[n]];
}

/* ------------------------------------------------------------------ */
/* Output */

struct pp_row {
        const char *policy;     /* NULL: none */
        unsigned port;          /* 0: none */
        uint64_t attempts;
};

struct hour_row {
        int64_t hour;           /* hour index */
        uint64_t attempts;
};

static int pp_cmp(const void *a, const void *b)
{
        const struct pp_row *x = a, *y = b;
        int c;

        if (x->attempts != y->attempts)
                return x->attempts > y->attempts ? -1 : 1;
        if (!x->policy || !y->policy)
                c = !x->policy - !y->policy;
        else
                c = strcmp(x->policy, y->policy);
        if (c)
                return c;
        return (x->port > y->port) - (x->port < y->port);
}

static int hour_cmp(const void *a, const void *b)
{
        const struct hour_row *x = a, *y = b;

        return (x->hour > y->hour) - (x->hour < y->hour);
}

/* Everything the formatters need, sorted. */
struct view {
        struct report *r;
        size_t ntop;
        struct pp_row *pp;
        size_t npp;
        struct hour_row *hours;
        size_t nhours;
        uint64_t hour_max;
        struct reload_error *rerr[REPORT_RELOAD_ERRORS_KEPT];   /* oldest first */
        size_t nrerr;
};

static int view_build(struct report *r, struct view *v)
{
        size_t i, k;
        int e;

        memset(v, 0, sizeof(*v));
        v->r = r;
        e = sort_sources(r);
        if (e < 0)
                return e;
        v->ntop = r->o.top && r->o.top < r->sources.n ? r->o.top : r->sources.n;

        v->pp = calloc(r->policy_port.n + 1, sizeof(*v->pp));
        v->hours = calloc(r->hours.n + 1, sizeof(*v->hours));
        if (!v->pp || !v->hours)
                return -ENOMEM;
        for (i = 0; i < r->policy_port.cap; i++) {
                uint64_t key = r->policy_port.keys[i], pid;

                if (!r->policy_port.used[i])
                        continue;
                pid = key >> 16;
                v->pp[v->npp].policy = pid ? r->policies.keys[pid - 1] : NULL;
                v->pp[v->npp].port = (unsigned)(key & 0xffff);
                v->pp[v->npp].attempts = r->policy_port.vals[i];
                v->npp++;
        }
        qsort(v->pp, v->npp, sizeof(*v->pp), pp_cmp);
        for (i = 0; i < r->hours.cap; i++) {
                if (!r->hours.used[i])
                        continue;
                v->hours[v->nhours].hour = (int64_t)r->hours.keys[i];
                v->hours[v->nhours].attempts = r->hours.vals[i];
                if (r->hours.vals[i] > v->hour_max)
                        v->hour_max = r->hours.vals[i];
                v->nhours++;
        }
        qsort(v->hours, v->nhours, sizeof(*v->hours), hour_cmp);
        for (k = 0; k < r->nrerr; k++) {
                size_t idx = (r->rerr_next + REPORT_RELOAD_ERRORS_KEPT - r->nrerr + k) % REPORT_RELOAD_ERRORS_KEPT;

                v->rerr[v->nrerr++] = &r->rerr[idx];
        }
        return 0;
}

static void view_free(struct view *v)
{
        free(v->pp);
        free(v->hours);
}

/* Policies of a source, comma-separated, into buf. */
static const char *source_policies(const struct report *r, const struct src_stat *s, char *buf, size_t cap)
{
        size_t len = 0;
        int i;

        buf[0] = '\0';
        for (i = 0; i < 64; i++) {
                const char *name;
                int n;

                if (!(s->policies & (UINT64_C(1) << i)))
                        continue;
                name = i == POLICY_OTHERS_BIT ? "(others)" : r->policies.keys[i];
                n = snprintf(buf + len, cap - len, "%s%s", len ? "," : "", name);
                if (n < 0 || (size_t)n >= cap - len)
                        return buf;
                len += (size_t)n;
        }
        return buf;
}

/* Text for a terminal: control characters become '?'. */
static void put_text(FILE *out, const char *s)
{
        for (; *s; s++)
                fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, out);
}

static void put_text_pad(FILE *out, const char *s, int width, bool right)
{
        int n = (int)strlen(s);

        if (right)
                fprintf(out, "%*s", width > n ? width - n : 0, "");
        put_text(out, s);
        if (!right)
                fprintf(out, "%*s", width > n ? width - n : 0, "");
}

static void put_json_str(FILE *out, const char *s)
{
        fputc('"', out);
        if (!s) {
                fputs("\"", out);
                return;
        }
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;

                switch (c) {
                case '"': fputs("\\\"", out); break;
                case '\\': fputs("\\\\", out); break;
                case '\n': fputs("\\n", out); break;
                case '\r': fputs("\\r", out); break;
                case '\t': fputs("\\t", out); break;
                default:
                        if (c < 0x20 || c == 0x7f) {
                                fprintf(out, "\\u%04x", c);
                        } else if (c >= 0x80) {
                                /* file names are not checked on the way in: keep the output UTF-8 */
                                size_t n = json_utf8_len(s);

                                if (n) {
                                        fwrite(s, 1, n, out);
                                        s += n - 1;
                                } else {
                                        fputs("\\ufffd", out);
                                }
                        } else {
                                fputc(c, out);
                        }
                }
        }
        fputc('"', out);
}

static void put_json_time(FILE *out, bool has, int64_t t)
{
        char buf[32];

        if (has)
                fprintf(out, "\"%s\"", report_format_time(t, buf));
        else
                fputs("null", out);
}

/* A CSV field: quoted when needed; a leading = + - @ is defused for spreadsheets. */
static void put_csv(FILE *out, const char *s)
{
        bool quote = strpbrk(s, ",\"\r\n") != NULL;
        bool defuse = s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' ||
                      s[0] == '\t' || s[0] == '\r';

        if (!quote && !defuse) {
                fputs(s, out);
                return;
        }
        fputc('"', out);
        if (defuse)
                fputc('\'', out);
        for (; *s; s++) {
                if (*s == '"')
                        fputc('"', out);
                fputc(*s, out);
        }
        fputc('"', out);
}

static void put_html(FILE *out, const char *s)
{
        for (; *s; s++) {
                switch (*s) {
                case '<': fputs("&lt;", out); break;
                case '>': fputs("&gt;", out); break;
                case '&': fputs("&amp;", out); break;
                case '"': fputs("&quot;", out); break;
                case '\'': fputs("&#39;", out); break;
                default:
                        if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
                                fputs("&#xFFFD;", out);
                        else
                                fputc(*s, out);
                }
        }
}

static const char *hour_label(int64_t hour, char *buf)
{
        report_format_time(hour * US_PER_HOUR, buf);
        return buf;
}

static const char *pp_policy(const struct pp_row *p)
{
        return p->policy ? p->policy : "-";
}

static const char *pp_port(const struct pp_row *p, char *buf)
{
        if (!p->port)
                return "-";
        snprintf(buf, 12, "%u", p->port & 0xffff);
        return buf;
}

static void write_table(const struct view *v, FILE *out)
{
        const struct report *r = v->r;
        char t1[32], t2[32], pol[1024], port[12];
        int srcw = 6, polw = 6;
        size_t i;

        fputs("mxlock audit report\n", out);
        fputs("  files      ", out);
        for (i = 0; i < r->nfiles; i++) {
                if (i)
                        fputs(", ", out);
                put_text(out, r->files[i].path);
                if (r->files[i].error)
                        fprintf(out, " (unreadable: %s)", strerror(-r->files[i].error));
        }
        if (!r->nfiles)
                fputs("(none)", out);
        fputc('\n', out);
        if (r->o.has_since || r->o.has_until)
                fprintf(out, "  filter     %s%s%s%s\n",
                        r->o.has_since ? "since " : "", r->o.has_since ? report_format_time(r->o.since, t1) : "",
                        r->o.has_until ? (r->o.has_since ? ", until " : "until ") : "",
                        r->o.has_until ? report_format_time(r->o.until, t2) : "");
        if (r->has_period)
                fprintf(out, "  period     %s .. %s\n", report_format_time(r->first, t1),
                        report_format_time(r->last, t2));
        else
                fputs("  period     (no records)\n", out);
        fprintf(out, "  lines      %" PRIu64 " read, %" PRIu64 " corrupt skipped, %" PRIu64
                " outside the period\n", r->lines, r->corrupt, r->filtered);
        fputs("  events    ", out);
        for (i = 0; i < REPORT_EV_COUNT; i++)
                fprintf(out, " %s %" PRIu64, event_names[i], r->events[i]);
        fputc('\n', out);
        fprintf(out, "  attempts   %" PRIu64 " (refused %" PRIu64 ", observed %" PRIu64
                ", in summaries %" PRIu64 ", missed %" PRIu64 ")\n", r->attempts,
                r->ev_attempts[REPORT_EV_REFUSED], r->ev_attempts[REPORT_EV_OBSERVED],
                r->ev_attempts[REPORT_EV_SUMMARY], r->ev_attempts[REPORT_EV_MISSED]);
        if (r->sources_folded)
                fprintf(out, "  sources    more than %d distinct: past that, %" PRIu64 " attempts are counted "
                        "by network (/24, /48)\n", REPORT_SOURCES_MAX, r->sources_folded);
        else
                fprintf(out, "  sources    %zu distinct\n", r->sources.n);

        fprintf(out, "\nTop sources (%zu of %zu)\n", v->ntop, r->sources.n);
        for (i = 0; i < v->ntop; i++) {
                int n = (int)strlen(r->sources.keys[r->order[i]]);

                if (n > srcw)
                        srcw = n < 45 ? n : 45;
        }
        if (v->ntop) {
                fputs("  ", out);
                put_text_pad(out, "SOURCE", srcw, false);
                fputs("  ATTEMPTS  FIRST SEEN            LAST SEEN             POLICIES\n", out);
        }
        for (i = 0; i < v->ntop; i++) {
                uint32_t k = r->order[i];
                const struct src_stat *s = &r->src[k];

                fputs("  ", out);
                put_text_pad(out, r->sources.keys[k], srcw, false);
                fprintf(out, "  %8" PRIu64 "  %-20s  %-20s  ", s->attempts,
                        report_format_time(s->first, t1), report_format_time(s->last, t2));
                put_text(out, source_policies(r, s, pol, sizeof(pol)));
                fputc('\n', out);
        }

        fputs("\nAttempts by policy and port\n", out);
        for (i = 0; i < v->npp; i++) {
                int n = (int)strlen(pp_policy(&v->pp[i]));

                if (n > polw)
                        polw = n < 40 ? n : 40;
        }
        if (v->npp) {
                fputs("  ", out);
                put_text_pad(out, "POLICY", polw, false);
                fputs("   PORT  ATTEMPTS\n", out);
        }
        for (i = 0; i < v->npp; i++) {
                fputs("  ", out);
                put_text_pad(out, pp_policy(&v->pp[i]), polw, false);
                fprintf(out, "  %5s  %8" PRIu64 "\n", pp_port(&v->pp[i], port), v->pp[i].attempts);
        }

        fputs("\nAttempts per hour (UTC)\n", out);
        for (i = 0; i < v->nhours; i++) {
                uint64_t w = v->hour_max ? (v->hours[i].attempts * 50 + v->hour_max - 1) / v->hour_max : 0;

                if (v->hour_max > UINT64_MAX / 64)
                        w = v->hours[i].attempts / (v->hour_max / 50 + 1);
                fprintf(out, "  %s  %8" PRIu64 "  ", hour_label(v->hours[i].hour, t1), v->hours[i].attempts);
                while (w--)
                        fputc('#', out);
                fputc('\n', out);
        }

        fprintf(out, "\nReloads: %" PRIu64 " ok, %" PRIu64 " failed\n", r->reload_ok, r->reload_failed);
        for (i = 0; i < v->nrerr; i++) {
                fprintf(out, "  %s  ", report_format_time(v->rerr[i]->ts, t1));
                put_text(out, v->rerr[i]->msg);
                fputc('\n', out);
        }
}

static void write_json(const struct view *v, FILE *out)
{
        const struct report *r = v->r;
        char pol[1024];
        size_t i;
        int b;

        fputs("{\"files\":[", out);
        for (i = 0; i < r->nfiles; i++) {
                fprintf(out, "%s{\"path\":", i ? "," : "");
                put_json_str(out, r->files[i].path);
                fprintf(out, ",\"lines\":%" PRIu64 ",\"corrupt\":%" PRIu64 ",\"error\":",
                        r->files[i].lines, r->files[i].corrupt);
                if (r->files[i].error)
                        put_json_str(out, strerror(-r->files[i].error));
                else
                        fputs("null", out);
                fputc('}', out);
        }
        fputs("],\"since\":", out);
        put_json_time(out, r->o.has_since, r->o.since);
        fputs(",\"until\":", out);
        put_json_time(out, r->o.has_until, r->o.until);
        fputs(",\"first\":", out);
        put_json_time(out, r->has_period, r->first);
        fputs(",\"last\":", out);
        put_json_time(out, r->has_period, r->last);
        fprintf(out, ",\"lines\":%" PRIu64 ",\"corrupt\":%" PRIu64 ",\"filtered\":%" PRIu64,
                r->lines, r->corrupt, r->filtered);
        fputs(",\"events\":{", out);
        for (i = 0; i < REPORT_EV_COUNT; i++)
                fprintf(out, "%s\"%s\":%" PRIu64, i ? "," : "", event_names[i], r->events[i]);
        fprintf(out, "},\"attempts\":%" PRIu64 ",\"attempts_by_event\":{\"refused\":%" PRIu64
                ",\"observed\":%" PRIu64 ",\"summary\":%" PRIu64 ",\"missed\":%" PRIu64 "}",
                r->attempts, r->ev_attempts[REPORT_EV_REFUSED], r->ev_attempts[REPORT_EV_OBSERVED],
                r->ev_attempts[REPORT_EV_SUMMARY], r->ev_attempts[REPORT_EV_MISSED]);
        fprintf(out, ",\"sources\":%zu,\"sources_folded_attempts\":%" PRIu64 ",\"top_sources\":[",
                r->sources.n, r->sources_folded);
        for (i = 0; i < v->ntop; i++) {
                uint32_t k = r->order[i];
                const struct src_stat *s = &r->src[k];
                char *p, *save = NULL;

                fprintf(out, "%s{\"src\":", i ? "," : "");
                put_json_str(out, r->sources.keys[k]);
                fprintf(out, ",\"attempts\":%" PRIu64 ",\"first\":", s->attempts);
                put_json_time(out, true, s->first);
                fputs(",\"last\":", out);
                put_json_time(out, true, s->last);
                fputs(",\"policies\":[", out);
                source_policies(r, s, pol, sizeof(pol));
                b = 0;
                for (p = strtok_r(pol, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
                        fputs(b++ ? "," : "", out);
                        put_json_str(out, p);
                }
                fputs("]}", out);
        }
        fputs("],\"policies\":[", out);
        for (i = 0; i < v->npp; i++) {
                fprintf(out, "%s{\"policy\":", i ? "," : "");
                if (v->pp[i].policy)
                        put_json_str(out, v->pp[i].policy);
                else
                        fputs("null", out);
                if (v->pp[i].port)
                        fprintf(out, ",\"port\":%u", v->pp[i].port);
                else
                        fputs(",\"port\":null", out);
                fprintf(out, ",\"attempts\":%" PRIu64 "}", v->pp[i].attempts);
        }
        fputs("],\"timeline\":[", out);
        for (i = 0; i < v->nhours; i++) {
                fprintf(out, "%s{\"hour\":", i ? "," : "");
                put_json_time(out, true, v->hours[i].hour * US_PER_HOUR);
                fprintf(out, ",\"attempts\":%" PRIu64 "}", v->hours[i].attempts);
        }
        fprintf(out, "],\"reloads\":{\"ok\":%" PRIu64 ",\"error\":%" PRIu64 ",\"errors\":[",
                r->reload_ok, r->reload_failed);
        for (i = 0; i < v->nrerr; i++) {
                fprintf(out, "%s{\"ts\":", i ? "," : "");
                put_json_time(out, true, v->rerr[i]->ts);
                fputs(",\"error\":", out);
                put_json_str(out, v->rerr[i]->msg);
                fputc('}', out);
        }
        fputs("]}}\n", out);
}

static void csv_row(FILE *out, const char *section, const char *key, const char *value,
                    const char *first, const char *last, const char *detail)
{
        put_csv(out, section);
        fputc(',', out);
        put_csv(out, key);
        fputc(',', out);
        put_csv(out, value);
        fputc(',', out);
        put_csv(out, first);
        fputc(',', out);
        put_csv(out, last);
        fputc(',', out);
        put_csv(out, detail);
        fputs("\r\n", out);
}

static void csv_num(FILE *out, const char *section, const char *key, uint64_t n, const char *detail)
{
        char buf[24];

        snprintf(buf, sizeof(buf), "%" PRIu64, n);
        csv_row(out, section, key, buf, "", "", detail);
}

static void write_csv(const struct view *v, FILE *out)
{
        const struct report *r = v->r;
        char t1[32], t2[32], pol[1024], port[12], key[64];
        size_t i;

        fputs("section,key,value,first_seen,last_seen,detail\r\n", out);
        for (i = 0; i < r->nfiles; i++)
                csv_num(out, "file", r->files[i].path, r->files[i].lines,
                        r->files[i].error ? strerror(-r->files[i].error) : "");
        if (r->o.has_since || r->o.has_until)
                csv_row(out, "summary", "filter", "",
                        r->o.has_since ? report_format_time(r->o.since, t1) : "",
                        r->o.has_until ? report_format_time(r->o.until, t2) : "", "");
        if (r->has_period)
                csv_row(out, "summary", "period", "", report_format_time(r->first, t1),
                        report_format_time(r->last, t2), "");
        csv_num(out, "summary", "lines", r->lines, "");
        csv_num(out, "summary", "corrupt", r->corrupt, "");
        csv_num(out, "summary", "filtered", r->filtered, "");
        for (i = 0; i < REPORT_EV_COUNT; i++) {
                snprintf(key, sizeof(key), "events.%s", event_names[i]);
                csv_num(out, "summary", key, r->events[i], "");
        }
        csv_num(out, "summary", "attempts", r->attempts, "");
        csv_num(out, "summary", "attempts.refused", r->ev_attempts[REPORT_EV_REFUSED], "");
        csv_num(out, "summary", "attempts.observed", r->ev_attempts[REPORT_EV_OBSERVED], "");
        csv_num(out, "summary", "attempts.summary", r->ev_attempts[REPORT_EV_SUMMARY], "");
        csv_num(out, "summary", "attempts.missed", r->ev_attempts[REPORT_EV_MISSED], "");
        csv_num(out, "summary", "sources", r->sources.n, "");
        for (i = 0; i < v->ntop; i++) {
                uint32_t k = r->order[i];
                const struct src_stat *s = &r->src[k];
                char n[24];

                snprintf(n, sizeof(n), "%" PRIu64, s->attempts);
                csv_row(out, "source", r->sources.keys[k], n, report_format_time(s->first, t1),
                        report_format_time(s->last, t2), source_policies(r, s, pol, sizeof(pol)));
        }
        for (i = 0; i < v->npp; i++)
                csv_num(out, "policy_port", v->pp[i].policy ? v->pp[i].policy : "",
                        v->pp[i].attempts, v->pp[i].port ? pp_port(&v->pp[i], port) : "");
        for (i = 0; i < v->nhours; i++)
                csv_num(out, "hour", hour_label(v->hours[i].hour, t1), v->hours[i].attempts, "");
        csv_num(out, "reload", "ok", r->reload_ok, "");
        csv_num(out, "reload", "error", r->reload_failed, "");
        for (i = 0; i < v->nrerr; i++)
                csv_row(out, "reload_error", report_format_time(v->rerr[i]->ts, t1), "", "", "",
                        v->rerr[i]->msg);
}

static void html_kv(FILE *out, const char *k, const char *val)
{
        fputs("<tr><th>", out);
        put_html(out, k);
        fputs("</th><td>", out);
        put_html(out, val);
        fputs("</td></tr>\n", out);
}

static void html_kv_num(FILE *out, const char *k, uint64_t n)
{
        char buf[24];

        snprintf(buf, sizeof(buf), "%" PRIu64, n);
        html_kv(out, k, buf);
}

static void html_svg(const struct view *v, FILE *out)
{
        const int W = 960, H = 240, L = 60, R = 10, T = 10, B = 40;
        const double pw = W - L - R, ph = H - T - B;
        int64_t h0, h1, span;
        char t1[32], t2[32];
        double bw;
        size_t i;

        if (!v->nhours) {
                fputs("<p>No attempts in this period.</p>\n", out);
                return;
        }
        h0 = v->hours[0].hour;
        h1 = v->hours[v->nhours - 1].hour;
        span = h1 - h0 + 1;
        bw = pw / (double)span;
        fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"attempts per hour\">\n", W, H, W, H);
        fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>\n",
                L, H - B, W - R, H - B);
        fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>\n", L, T, L, H - B);
        fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%" PRIu64 "</text>\n",
                L - 4, T + 10, v->hour_max);
        fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">0</text>\n", L - 4, H - B);
        for (i = 0; i < v->nhours; i++) {
                double x = L + (double)(v->hours[i].hour - h0) * bw;
                double h = ph * (double)v->hours[i].attempts / (double)v->hour_max;
                double w = bw > 2 ? bw - 1 : bw;

                if (h < 1)
                        h = 1;
                fprintf(out, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\">"
                        "<title>%s: %" PRIu64 "</title></rect>\n", x, (double)(H - B) - h,
                        w < 0.5 ? 0.5 : w, h, hour_label(v->hours[i].hour, t1), v->hours[i].attempts);
        }
        fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"start\">%s</text>\n", L, H - B + 16,
                hour_label(h0, t1));
        fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n", W - R, H - B + 16,
                hour_label(h1 + 1, t2));
        fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">hour (UTC), %" PRId64
                " hours</text>\n", L + (int)pw / 2, H - 6, span);
        fputs("</svg>\n", out);
}

static void write_html(const struct view *v, FILE *out)
{
        const struct report *r = v->r;
        char t1[32], t2[32], buf[160], pol[1024], port[12];
        size_t i;

        fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
              "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
              "style-src 'unsafe-inline'; img-src data:\">\n"
              "<title>mxlock audit report</title>\n<style>\n"
              "body{font-family:system-ui,sans-serif;margin:2em;color:#222;background:#fff}\n"
              "h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.5em}\n"
              "table{border-collapse:collapse;margin:.5em 0}\n"
              "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}\n"
              "th{background:#f0f0f0}td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
              "table.kv th{width:12em}\n"
              "svg rect{fill:#c0392b}svg .axis{stroke:#444;stroke-width:1}\n"
              "svg text{font-size:11px;fill:#333}\n"
              "code{font-family:ui-monospace,monospace}\n"
              "</style>\n</head>\n<body>\n<h1>mxlock audit report</h1>\n", out);

        fputs("<h2>Summary</h2>\n<table class=\"kv\">\n", out);
        for (i = 0; i < r->nfiles; i++) {
                snprintf(buf, sizeof(buf), "%" PRIu64 " lines, %" PRIu64 " corrupt%s%s",
                         r->files[i].lines, r->files[i].corrupt, r->files[i].error ? ", unreadable: " : "",
                         r->files[i].error ? strerror(-r->files[i].error) : "");
                fputs("<tr><th>file</th><td><code>", out);
                put_html(out, r->files[i].path);
                fputs("</code> ", out);
                put_html(out, buf);
                fputs("</td></tr>\n", out);
        }
        if (r->o.has_since)
                html_kv(out, "since", report_format_time(r->o.since, t1));
        if (r->o.has_until)
                html_kv(out, "until", report_format_time(r->o.until, t1));
        if (r->has_period) {
                snprintf(buf, sizeof(buf), "%s .. %s", report_format_time(r->first, t1),
                         report_format_time(r->last, t2));
                html_kv(out, "period", buf);
        }
        html_kv_num(out, "lines read", r->lines);
        html_kv_num(out, "corrupt lines skipped", r->corrupt);
        html_kv_num(out, "outside the period", r->filtered);
        html_kv_num(out, "attempts", r->attempts);
        html_kv_num(out, "attempts refused", r->ev_attempts[REPORT_EV_REFUSED]);
        html_kv_num(out, "attempts observed", r->ev_attempts[REPORT_EV_OBSERVED]);
        html_kv_num(out, "attempts in summaries", r->ev_attempts[REPORT_EV_SUMMARY]);
        html_kv_num(out, "attempts missed", r->ev_attempts[REPORT_EV_MISSED]);
        html_kv_num(out, "distinct sources", r->sources.n);
        fputs("</table>\n<h2>Records by event</h2>\n<table>\n<tr>", out);
        for (i = 0; i < REPORT_EV_COUNT; i++)
                fprintf(out, "<th>%s</th>", event_names[i]);
        fputs("</tr>\n<tr>", out);
        for (i = 0; i < REPORT_EV_COUNT; i++)
                fprintf(out, "<td class=\"n\">%" PRIu64 "</td>", r->events[i]);
        fputs("</tr>\n</table>\n", out);

        fputs("<h2>Attempts per hour (UTC)</h2>\n", out);
        html_svg(v, out);

        fprintf(out, "<h2>Top sources (%zu of %zu)</h2>\n", v->ntop, r->sources.n);
        fputs("<table>\n<tr><th>source</th><th>attempts</th><th>first seen</th><th>last seen</th>"
              "<th>policies</th></tr>\n", out);
        for (i = 0; i < v->ntop; i++) {
                uint32_t k = r->order[i];
                const struct src_stat *s = &r->src[k];

                fputs("<tr><td><code>", out);
                put_html(out, r->sources.keys[k]);
                fprintf(out, "</code></td><td class=\"n\">%" PRIu64 "</td><td>%s</td><td>%s</td><td>",
                        s->attempts, report_format_time(s->first, t1), report_format_time(s->last, t2));
                put_html(out, source_policies(r, s, pol, sizeof(pol)));
                fputs("</td></tr>\n", out);
        }
        fputs("</table>\n<h2>Attempts by policy and port</h2>\n<table>\n"
              "<tr><th>policy</th><th>port</th><th>attempts</th></tr>\n", out);
        for (i = 0; i < v->npp; i++) {
                fputs("<tr><td>", out);
                put_html(out, pp_policy(&v->pp[i]));
                fprintf(out, "</td><td class=\"n\">%s</td><td class=\"n\">%" PRIu64 "</td></tr>\n",
                        pp_port(&v->pp[i], port), v->pp[i].attempts);
        }
        fprintf(out, "</table>\n<h2>Reloads</h2>\n<p>%" PRIu64 " ok, %" PRIu64 " failed</p>\n",
                r->reload_ok, r->reload_failed);
        if (v->nrerr) {
                fputs("<table>\n<tr><th>time</th><th>error</th></tr>\n", out);
                for (i = 0; i < v->nrerr; i++) {
                        fprintf(out, "<tr><td>%s</td><td>", report_format_time(v->rerr[i]->ts, t1));
                        put_html(out, v->rerr[i]->msg);
                        fputs("</td></tr>\n", out);
                }
                fputs("</table>\n", out);
        }
        fputs("</body>\n</html>\n", out);
}

int report_write(struct report *r, enum report_format fmt, FILE *out)
{
        struct view v;
        int e;

        e = view_build(r, &v);
        if (e < 0)
                goto out;
        switch (fmt) {
        case REPORT_FORMAT_TABLE:
                write_table(&v, out);
                break;
        case REPORT_FORMAT_JSON:
                write_json(&v, out);
                break;
        case REPORT_FORMAT_CSV:
                write_csv(&v, out);
                break;
        case REPORT_FORMAT_HTML:
                write_html(&v, out);
                break;
        default:
                e = -EINVAL;
                goto out;
        }
        e = fflush(out) == 0 && !ferror(out) ? 0 : -EIO;
out:
        view_free(&v);
        return e;
}
