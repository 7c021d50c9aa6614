/* src/report/aggregate.c: the aggregation behind `mxlock report`: small tables,
 * struct report, adding records, and the queries (see report.h and internal.h). */
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

/* The name of event i as the report shows it: the schema's, or "other". */
const char *rpt_event_name(size_t i)
{
        return i < SCHEMA_EVENT_COUNT ? schema_events[i].name : "other";
}

/* ------------------------------------------------------------------ */
/* Small helpers */

static uint64_t sat_add(uint64_t a, uint64_t b)
{
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

int64_t rpt_floor_div(int64_t a, int64_t b)
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

int rpt_grow(void **v, size_t *cap, size_t need, size_t size)
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
        r = rpt_grow((void **)&t->keys, &t->cap, t->n + 1, sizeof(*t->keys));
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
/* Aggregation */

int report_new(const struct report_options *opts, struct report **ret)
{
        struct report *r = calloc(1, sizeof(*r));

        if (!r)
                return -ENOMEM;
        if (opts)
                r->o = *opts;
        else
                r->o.top = REPORT_TOP_DEFAULT;
        r->ob.users.max = REPORT_OB_USERS_MAX;
        r->ob.users.other = "(other users)";
        r->ob.units.max = REPORT_OB_UNITS_MAX;
        r->ob.units.other = "(other units)";
        r->ob.dests.max = REPORT_OB_DESTS_MAX;
        r->ob.dests.other = "(other destinations)";
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
        for (i = 0; i < 3; i++) {
                struct ob_table *t = i == 0 ? &r->ob.users : i == 1 ? &r->ob.units : &r->ob.dests;

                strtab_free(&t->keys);
                free(t->v);
                free(t->order);
        }
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
                e = rpt_grow((void **)&r->src, &r->src_cap, (size_t)idx + 1, sizeof(*r->src));
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

/* ------------------------------------------------------------------ */
/* Outbound attempts */

/* Count n attempts under key in t; a new key's row is filled by the
 * caller (*ret_created). Past t->max keys, under t->other. */
static int ob_add(struct report *r, struct ob_table *t, const char *key, const struct report_record *rec,
                  long pid, int64_t lo, int64_t hi, uint64_t n, struct ob_stat **ret, bool *ret_created)
{
        struct ob_stat *s;
        bool created;
        long idx;
        int e;

        if (t->keys.n >= t->max && strtab_find(&t->keys, key) < 0)
                key = t->other;
        idx = strtab_intern(&t->keys, &r->arena, key, &created);
        if (idx < 0)
                return (int)idx;
        if (created) {
                e = rpt_grow((void **)&t->v, &t->cap, (size_t)idx + 1, sizeof(*t->v));
                if (e < 0)
                        return e;
                s = &t->v[idx];
                memset(s, 0, sizeof(*s));
                s->first = lo;
                s->last = hi;
                if (key == t->other)
                        s->name = t->other;
        }
        s = &t->v[idx];
        s->attempts = sat_add(s->attempts, n);
        if (rec->reason && strcmp(rec->reason, "user-not-allowed") == 0)
                s->not_user = sat_add(s->not_user, n);
        else if (rec->reason && strcmp(rec->reason, "destination-not-allowed") == 0)
                s->not_dest = sat_add(s->not_dest, n);
        if (lo < s->first)
                s->first = lo;
        if (hi > s->last)
                s->last = hi;
        if (pid >= 0)
                s->policies |= UINT64_C(1) << (pid < POLICY_OTHERS_BIT ? pid : POLICY_OTHERS_BIT);
        t->norder = 0;
        *ret = s;
        *ret_created = created && key != t->other;
        return 0;
}

static const char *arena_name(struct report *r, const char *s)
{
        return s ? arena_strdup(&r->arena, s) : NULL;
}

/* One outbound attempt, summary or missed record: by user, by unit and
 * by destination (a summary has neither unit nor destination: counted as
 * REPORT_OB_FOLDED; a missed record has nobody and only its totals). */
static int add_outbound(struct report *r, const struct report_record *rec, long pid, int64_t lo, int64_t hi)
{
        struct report_outbound *ob = &r->ob;
        bool summary = rec->event == REPORT_EV_SUMMARY, created;
        char key[320];
        struct ob_stat *s;
        int e;

        ob->records++;
        ob->attempts = sat_add(ob->attempts, rec->count);
        ob->ev_attempts[rec->event] = sat_add(ob->ev_attempts[rec->event], rec->count);
        if (rec->reason && strcmp(rec->reason, "user-not-allowed") == 0)
                ob->not_user = sat_add(ob->not_user, rec->count);
        else if (rec->reason && strcmp(rec->reason, "destination-not-allowed") == 0)
                ob->not_dest = sat_add(ob->not_dest, rec->count);
        if (rec->event == REPORT_EV_MISSED)
                return 0;

        /* users: the uid and the name together (a name may change) */
        if (rec->has_uid)
                snprintf(key, sizeof(key), "%" PRIu32 "/%.256s", rec->uid, rec->user ? rec->user : "");
        else
                snprintf(key, sizeof(key), "-/%.256s", rec->user ? rec->user : "");
        e = ob_add(r, &ob->users, key, rec, pid, lo, hi, rec->count, &s, &created);
        if (e < 0)
                return e;
        if (created) {
                s->has_uid = rec->has_uid;
                s->uid = rec->uid;
                if (rec->user && !(s->name = arena_name(r, rec->user)))
                        return -ENOMEM;
        }

        e = ob_add(r, &ob->units, summary ? REPORT_OB_FOLDED : rec->unit ? rec->unit : REPORT_OB_UNKNOWN, rec,
                   pid, lo, hi, rec->count, &s, &created);
        if (e < 0)
                return e;
        if (created && !summary && rec->unit && !(s->name = arena_name(r, rec->unit)))
                return -ENOMEM;

        if (summary || !rec->dst)
                snprintf(key, sizeof(key), "%s", summary ? REPORT_OB_FOLDED : REPORT_OB_UNKNOWN);
        else
                snprintf(key, sizeof(key), "%.256s %u", rec->dst, rec->has_dport ? rec->dport : 0);
        e = ob_add(r, &ob->dests, key, rec, pid, lo, hi, rec->count, &s, &created);
        if (e < 0)
                return e;
        if (created && !summary && rec->dst) {
                s->port = rec->has_dport ? rec->dport : 0;
                if (!(s->name = arena_name(r, rec->dst)))
                        return -ENOMEM;
        }
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
                if (rec->outbound) {
                        pid = policy_id(r, rec->policy);
                        if (rec->policy && pid < 0)
                                return (int)pid;
                        return add_outbound(r, rec, pid, lo, hi);
                }
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
                e = u64map_add(&r->hours, (uint64_t)rpt_floor_div(rec->ts, US_PER_HOUR), rec->count);
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
        return u64map_get(&r->hours, (uint64_t)rpt_floor_div(hour_start, US_PER_HOUR));
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

int rpt_sort_sources(struct report *r)
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

static int ob_cmp(const void *a, const void *b, void *userdata)
{
        const struct ob_table *t = userdata;
        uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
        const struct ob_stat *sx = &t->v[x], *sy = &t->v[y];

        if (sx->attempts != sy->attempts)
                return sx->attempts > sy->attempts ? -1 : 1;
        if (sx->first != sy->first)
                return sx->first < sy->first ? -1 : 1;
        return strcmp(t->keys.keys[x], t->keys.keys[y]);
}

int rpt_sort_ob(struct ob_table *t)
{
        if (t->norder == t->keys.n && t->order)
                return 0;
        free(t->order);
        t->order = malloc((t->keys.n ? t->keys.n : 1) * sizeof(*t->order));
        if (!t->order)
                return -ENOMEM;
        for (size_t i = 0; i < t->keys.n; i++)
                t->order[i] = (uint32_t)i;
        qsort_r(t->order, t->keys.n, sizeof(*t->order), ob_cmp, t);
        t->norder = t->keys.n;
        return 0;
}

uint64_t report_outbound_attempts(const struct report *r)
{
        return r->ob.attempts;
}

uint64_t report_outbound_user(const struct report *r, bool has_uid, uint32_t uid, int64_t *first, int64_t *last)
{
        const struct ob_table *t = &r->ob.users;
        uint64_t n = 0;
        bool any = false;

        for (size_t i = 0; i < t->keys.n; i++) {
                const struct ob_stat *s = &t->v[i];

                if (s->name == t->other || s->has_uid != has_uid || (has_uid && s->uid != uid))
                        continue;
                if (first && (!any || s->first < *first))
                        *first = s->first;
                if (last && (!any || s->last > *last))
                        *last = s->last;
                any = true;
                n += s->attempts;
        }
        return n;
}

uint64_t report_outbound_unit(const struct report *r, const char *unit)
{
        long idx = strtab_find(&r->ob.units.keys, unit ? unit : REPORT_OB_UNKNOWN);

        return idx < 0 ? 0 : r->ob.units.v[idx].attempts;
}

uint64_t report_outbound_dest(const struct report *r, const char *dst, unsigned port)
{
        char key[320];
        long idx;

        snprintf(key, sizeof(key), "%.256s %u", dst, port);
        idx = strtab_find(&r->ob.dests.keys, key);
        return idx < 0 ? 0 : r->ob.dests.v[idx].attempts;
}

const char *report_top_source(struct report *r, size_t n, uint64_t *attempts)
{
        if (rpt_sort_sources(r) < 0 || n >= r->sources.n)
                return NULL;
        if (attempts)
                *attempts = r->src[r->order[n]].attempts;
        return r->sources.keys[r->order[n]];
}
