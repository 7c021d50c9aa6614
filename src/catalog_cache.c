/* src/catalog_cache.c: the catalog cache: catalogs parsed into merged
 * ranges and kept across reloads, a new version applied as its difference
 * from the last, and each policy's joined allowed list. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "catalog_cache.h"

/* One family's merged ranges of a catalog, and their members: the input
 * ranges that share their merged range with another, which an edit of the
 * file needs to redo that range. Two versions of a catalog share the part
 * of a family the edit left alone. */
struct part {
        unsigned refs;
        struct range_list r, m;         /* IPv6 (and IPv4 while a file is read) */
        uint32_t (*v4)[2], (*m4)[2];    /* IPv4 at 8 bytes a range, not 32 */
        size_t n4, nm4;
};

/* One catalog's ranges, shared by the policies that name it. The file
 * read stays open, so that its next version can be applied as the
 * difference from it (catalog_diff). */
struct catalog_ranges {
        char *path;
        int fd;                         /* the version read, or -1 */
        dev_t dev;
        ino_t ino;
        off_t size;
        struct timespec mtime;
        struct part *part[FAM_N];
        size_t entries;                 /* entry lines of the file */
        size_t dups;                    /* of them exact repeats */
        unsigned refs;          /* policies using it, +1 while in the cache */
        bool used;              /* named by the latest build */
        struct catalog_ranges *next;
};

/* A policy's allowed list of one family: its own ranges joined with its
 * catalogs' parts. The cache keeps the last one of each policy and family
 * for the next build. */
struct joined {
        unsigned refs;
        char policy[POLICY_NAME_MAX];
        int f;
        struct range_list own;          /* the policy's own ranges that went in */
        struct part **parts;            /* the catalogs' parts, in order, each with a reference */
        size_t nparts;
        struct range_list list;         /* the join */
        bool used;                      /* by the latest build */
        struct joined *next;
};

struct policy_cache {
        struct catalog_ranges *head;
        struct joined *joined;
        struct policy_cache_stats stats;
};

static struct part *part_new(int family)
{
        struct part *pt = calloc(1, sizeof(*pt));

        if (!pt)
                return NULL;
        pt->refs = 1;
        range_list_init(&pt->r, family);
        range_list_init(&pt->m, family);
        return pt;
}

static void part_unref(struct part *pt)
{
        if (!pt || --pt->refs > 0)
                return;
        range_list_free(&pt->r);
        range_list_free(&pt->m);
        free(pt->v4);
        free(pt->m4);
        free(pt);
}

static void joined_unref(struct joined *j)
{
        if (!j || --j->refs > 0)
                return;
        range_list_free(&j->own);
        range_list_free(&j->list);
        for (size_t k = 0; k < j->nparts; k++)
                part_unref(j->parts[k]);
        free(j->parts);
        free(j);
}

static void ranges_unref(struct catalog_ranges *cr)
{
        if (!cr || --cr->refs > 0)
                return;
        if (cr->fd >= 0)
                close(cr->fd);
        part_unref(cr->part[FAM_V4]);
        part_unref(cr->part[FAM_V6]);
        free(cr->path);
        free(cr);
}

/* parts: also new ones (a whole read), else left for the caller */
static struct catalog_ranges *ranges_new(bool parts)
{
        struct catalog_ranges *cr = calloc(1, sizeof(*cr));

        if (!cr)
                return NULL;
        cr->fd = -1;
        cr->refs = 1;   /* the cache's */
        if (parts && (!(cr->part[FAM_V4] = part_new(AF_INET)) || !(cr->part[FAM_V6] = part_new(AF_INET6)))) {
                ranges_unref(cr);
                return NULL;
        }
        return cr;
}

/* Is st the version of the file cr was read from? */
static bool version_is(const struct catalog_ranges *cr, const struct stat *st)
{
        return cr->dev == st->st_dev && cr->ino == st->st_ino && cr->size == st->st_size &&
               cr->mtime.tv_sec == st->st_mtim.tv_sec && cr->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* cr was read from fd, whose stat is st; cr keeps fd open. */
static void version_set(struct catalog_ranges *cr, int fd, const struct stat *st)
{
        cr->fd = fd;
        cr->dev = st->st_dev;
        cr->ino = st->st_ino;
        cr->size = st->st_size;
        cr->mtime = st->st_mtim;
}

const struct policy_cache_stats *policy_cache_stats(const struct policy_cache *c)
{
        return &c->stats;
}

struct policy_cache *policy_cache_new(void)
{
        return calloc(1, sizeof(struct policy_cache));
}

void policy_cache_free(struct policy_cache *c)
{
        if (!c)
                return;
        while (c->head) {
                struct catalog_ranges *n = c->head->next;

                ranges_unref(c->head);
                c->head = n;
        }
        while (c->joined) {
                struct joined *n = c->joined->next;

                joined_unref(c->joined);
                c->joined = n;
        }
        free(c);
}

/* A catalog entry straight into the cache's unmerged lists. */
static int cache_entry(const char *text, const char *comment, int line, char err[CONFIG_ERRLEN], void *userdata)
{
        struct catalog_ranges *cr = userdata;
        struct prefix px;
        int r;

        r = prefix_parse(text, &px, NULL);
        if (r < 0) {
                snprintf(err, CONFIG_ERRLEN, "%s:%d: '%s' is not an address or prefix", cr->path, line, text);
                return r;
        }
        r = range_list_add(&cr->part[fam_index(px.family)]->r, prefix_range(&px));
        if (r < 0)
                snprintf(err, CONFIG_ERRLEN, "%s: out of memory", cr->path);
        return r;
}

/* A merged list at 8 bytes a range; l is emptied. */
static int compact_v4(struct range_list *l, uint32_t (**ret)[2], size_t *ret_n)
{
        uint32_t (*v)[2] = NULL;

        if (l->n) {
                v = malloc(l->n * sizeof(*v));
                if (!v)
                        return -ENOMEM;
                for (size_t i = 0; i < l->n; i++) {
                        v[i][0] = (uint32_t)l->v[i].lo;
                        v[i][1] = (uint32_t)l->v[i].hi;
                }
        }
        *ret = v;
        *ret_n = l->n;
        range_list_free(l);
        range_list_init(l, AF_INET);
        return 0;
}

/* Read a catalog file whole into cr (fresh from ranges_new, path set). */
static int ranges_parse(struct build_ctx *b, const struct cfg_item *it, struct catalog_ranges *cr)
{
        struct catalog_scan sc = { .entry = cache_entry, .userdata = cr };
        struct part *p4 = cr->part[FAM_V4], *p6 = cr->part[FAM_V6];
        struct catalog *cat = NULL;
        size_t d4 = 0, d6 = 0;
        int r;

        r = build_read_catalog(b, it, cr->path, &sc, &cat);
        cr->fd = sc.fd;         /* closed with cr, whatever comes next */
        if (r < 0)
                return r;
        cr->entries = cat->entries;
        catalog_free(cat);
        if (range_list_merge_members(&p4->r, &p4->m, &d4) < 0 || range_list_merge_members(&p6->r, &p6->m, &d6) < 0 ||
            compact_v4(&p4->r, &p4->v4, &p4->n4) < 0 || compact_v4(&p4->m, &p4->m4, &p4->nm4) < 0)
                return -ENOMEM;
        cr->dups = d4 + d6;
        version_set(cr, sc.fd, &sc.st);         /* kept for the next version's difference */
        return 0;
}

/* ---- a new version of a catalog as its difference from the last ------- */

/* A merged list or its members, in either form. */
struct rview {
        const uint32_t (*c)[2];         /* compact IPv4, or */
        const struct range *v;
        size_t n;
};

static struct range rv_at(const struct rview *x, size_t i)
{
        struct range r;

        if (x->c) {
                r.lo = x->c[i][0];
                r.hi = x->c[i][1];
        } else {
                r = x->v[i];
        }
        return r;
}

/* The first range at or after from whose lo is above a (above_or_at: at
 * or above a). */
static size_t rv_search(const struct rview *x, size_t from, addr128 a, bool above_or_at)
{
        size_t lo = from, hi = x->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                addr128 v = rv_at(x, mid).lo;

                if (above_or_at ? v < a : v <= a)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static size_t rv_upper(const struct rview *x, size_t from, addr128 a)
{
        return rv_search(x, from, a, false);
}

/* The first merged range at or after from that ends at or above a - 1
 * (touches or follows a range starting at a). */
static size_t rv_touching(const struct rview *x, size_t from, addr128 a)
{
        size_t lo = from, hi = x->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (a > 0 && rv_at(x, mid).hi < a - 1)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

/* A list being built in either form, growing as needed. */
struct rout {
        bool compact;           /* uint32_t[2] a range, else struct range */
        void *v;
        size_t n, cap;
};

static int ro_room(struct rout *o, size_t more)
{
        size_t size = o->compact ? sizeof(uint32_t[2]) : sizeof(struct range), cap = o->cap;
        void *v;

        if (o->n + more <= o->cap)
                return 0;
        while (cap < o->n + more)
                cap = cap ? cap + cap / 2 : 64;
        v = realloc(o->v, cap * size);
        if (!v)
                return -ENOMEM;
        o->v = v;
        o->cap = cap;
        return 0;
}

static int ro_put(struct rout *o, struct range r)
{
        if (ro_room(o, 1) < 0)
                return -ENOMEM;
        if (o->compact) {
                ((uint32_t (*)[2])o->v)[o->n][0] = (uint32_t)r.lo;
                ((uint32_t (*)[2])o->v)[o->n][1] = (uint32_t)r.hi;
        } else {
                ((struct range *)o->v)[o->n] = r;
        }
        o->n++;
        return 0;
}

/* x[from, to) as it is. */
static int ro_copy(struct rout *o, const struct rview *x, size_t from, size_t to)
{
        if (to <= from)
                return 0;
        if (ro_room(o, to - from) < 0)
                return -ENOMEM;
        if (o->compact)
                memcpy((uint32_t (*)[2])o->v + o->n, x->c + from, (to - from) * sizeof(*x->c));
        else
                memcpy((struct range *)o->v + o->n, x->v + from, (to - from) * sizeof(*x->v));
        o->n += to - from;
        return 0;
}

struct change {
        struct range r;
        bool add;
};

static int change_cmp(const void *a, const void *b)
{
        const struct change *x = a, *y = b;

        if (x->r.lo != y->r.lo)
                return x->r.lo < y->r.lo ? -1 : 1;
        if (x->r.hi != y->r.hi)
                return x->r.hi < y->r.hi ? -1 : 1;
        return (int)x->add - (int)y->add;
}

static size_t count_dups(const struct range_list *l)
{
        size_t d = 0;

        for (size_t i = 1; i < l->n; i++)
                d += l->v[i].lo == l->v[i - 1].lo && l->v[i].hi == l->v[i - 1].hi;
        return d;
}

/* New merged ranges and members: the old ones (m, s) with the changes
 * (sorted) applied. Only the merged ranges a change touches are redone,
 * from their members; the runs between are copied. *dups moves by the
 * exact repeats gained or lost. -EAGAIN when a removed range is not there
 * (the difference does not fit what was read: read the file whole). */
static int apply_changes(const struct rview *m, const struct rview *s, const struct change *ch, size_t nch,
                         struct rout *om, struct rout *os, size_t *dups)
{
        size_t i = 0, j = 0, k = 0;
        struct range_list w, wm;
        int r = 0;

        range_list_init(&w, AF_INET6);
        range_list_init(&wm, AF_INET6);
        while (k < nch) {
                size_t a = rv_touching(m, i, ch[k].r.lo), e = a, k2 = k, sa, se, d;

                /* the changes whose touched ranges meet: one window [a, e) */
                while (k2 < nch) {
                        const struct range *c = &ch[k2].r;
                        size_t past;

                        if (k2 > k && rv_touching(m, a, c->lo) > e)
                                break;
                        /* the first merged range starting beyond what c touches */
                        past = c->hi == ADDR128_MAX ? m->n : rv_upper(m, e, c->hi + 1);
                        if (past > e)
                                e = past;
                        k2++;
                }
                r = ro_copy(om, m, i, a);
                if (r < 0)
                        goto out;
                /* the members of [a, e): those from the start of a to the end of e - 1 */
                sa = a < m->n ? rv_search(s, j, rv_at(m, a).lo, true) : s->n;
                se = e > a ? rv_upper(s, sa, rv_at(m, e - 1).hi) : sa;
                r = ro_copy(os, s, j, sa);
                if (r < 0)
                        goto out;
                /* the window's input ranges: members, or the range itself */
                w.n = 0;
                wm.n = 0;
                for (size_t x = a, y = sa; x < e; x++) {
                        struct range mr = rv_at(m, x);
                        bool any = false;

                        while (y < se && rv_at(s, y).lo <= mr.hi) {
                                r = range_list_add(&w, rv_at(s, y++));
                                if (r < 0)
                                        goto out;
                                any = true;
                        }
                        if (!any && (r = range_list_add(&w, mr)) < 0)
                                goto out;
                }
                d = count_dups(&w);
                for (size_t q = k; q < k2; q++) {
                        size_t x;

                        if (ch[q].add) {
                                r = range_list_add(&w, ch[q].r);
                                if (r < 0)
                                        goto out;
                                continue;
                        }
                        for (x = 0; x < w.n; x++)
                                if (w.v[x].lo == ch[q].r.lo && w.v[x].hi == ch[q].r.hi)
                                        break;
                        if (x == w.n) {
                                r = -EAGAIN;
                                goto out;
                        }
                        w.v[x] = w.v[--w.n];
                }
                {
                        size_t after;

                        r = range_list_merge_members(&w, &wm, &after);
                        if (r < 0)
                                goto out;
                        *dups = *dups - d + after;
                }
                for (size_t x = 0; x < w.n && r == 0; x++)
                        r = ro_put(om, w.v[x]);
                for (size_t x = 0; x < wm.n && r == 0; x++)
                        r = ro_put(os, wm.v[x]);
                if (r < 0)
                        goto out;
                i = e;
                j = se;
                k = k2;
        }
        r = ro_copy(om, m, i, m->n);
        if (r == 0)
                r = ro_copy(os, s, j, s->n);
out:
        range_list_free(&w);
        range_list_free(&wm);
        return r;
}

struct delta {
        struct change *v[FAM_N];
        size_t n[FAM_N], cap[FAM_N];
        long entries;                   /* entry lines gained */
};

/* One line of a changed region (catalog_diff's callback). */
static int delta_line(bool added, char *line, size_t len, void *userdata)
{
        struct delta *d = userdata;
        const char *text;
        struct prefix px;
        int r = catalog_entry_text(line, len, &text), f;

        if (r <= 0)
                return r;
        if (prefix_parse(text, &px, NULL) < 0)
                return -EAGAIN;
        f = fam_index(px.family);
        if (d->n[f] == d->cap[f]) {
                size_t cap = d->cap[f] ? 2 * d->cap[f] : 16;
                struct change *v = realloc(d->v[f], cap * sizeof(*v));

                if (!v)
                        return -ENOMEM;
                d->v[f] = v;
                d->cap[f] = cap;
        }
        d->v[f][d->n[f]].r = prefix_range(&px);
        d->v[f][d->n[f]++].add = added;
        d->entries += added ? 1 : -1;
        return 0;
}

/* Sort the changes and drop pairs that cancel (a line that moved). */
static void delta_cancel(struct change *v, size_t *n)
{
        size_t w = 0;

        if (*n == 0)
                return;         /* v may be NULL */
        qsort(v, *n, sizeof(*v), change_cmp);
        for (size_t i = 0; i < *n; i++) {
                /* sorted removal-first within one range: a removal with an
                 * addition of the same range right after it cancels */
                if (i + 1 < *n && !v[i].add && v[i + 1].add && v[i].r.lo == v[i + 1].r.lo &&
                    v[i].r.hi == v[i + 1].r.hi) {
                        i++;
                        continue;
                }
                v[w++] = v[i];
        }
        *n = w;
}

static struct rview view_merged(const struct part *pt, int f)
{
        return f == FAM_V4 ? (struct rview){ .c = (const uint32_t (*)[2])pt->v4, .n = pt->n4 }
                           : (struct rview){ .v = pt->r.v, .n = pt->r.n };
}

static struct rview view_members(const struct part *pt, int f)
{
        return f == FAM_V4 ? (struct rview){ .c = (const uint32_t (*)[2])pt->m4, .n = pt->nm4 }
                           : (struct rview){ .v = pt->m.v, .n = pt->m.n };
}

/* A family's new part: old's own when nothing changed in it, else old's
 * with the changes applied. */
static int part_apply(struct part *old, int f, const struct change *ch, size_t nch, struct part **ret, size_t *dups)
{
        const struct rview m = view_merged(old, f), s = view_members(old, f);
        struct rout om = { .compact = f == FAM_V4 }, os = { .compact = f == FAM_V4 };
        struct part *pt;
        int r;

        if (nch == 0) {
                old->refs++;
                *ret = old;
                return 0;
        }
        pt = part_new(f == FAM_V4 ? AF_INET : AF_INET6);
        if (!pt)
                return -ENOMEM;
        /* room for what is there and a little: few edits change the count by much */
        r = ro_room(&om, m.n + nch + 16);
        if (r == 0)
                r = ro_room(&os, s.n + nch + 16);
        if (r == 0)
                r = apply_changes(&m, &s, ch, nch, &om, &os, dups);
        if (r < 0) {
                free(om.v);
                free(os.v);
                part_unref(pt);
                return r;
        }
        if (f == FAM_V4) {
                pt->v4 = om.v;
                pt->n4 = om.n;
                pt->m4 = os.v;
                pt->nm4 = os.n;
        } else {
                pt->r.v = om.v;
                pt->r.n = om.n;
                pt->r.cap = om.cap;
                pt->m.v = os.v;
                pt->m.n = os.n;
                pt->m.cap = os.cap;
        }
        *ret = pt;
        return 0;
}

#define DELTA_MAX_CHANGES 4096

/* The next version of old's file, at path, as old plus its difference:
 * 0 with *ret, or a negative errno (then read the file whole). */
static int ranges_delta(const struct catalog_ranges *old, const char *path, struct catalog_ranges **ret)
{
        struct delta d = { 0 };
        struct catalog_ranges *cr = NULL;
        struct stat st, so;
        size_t limit;
        int fd, r;

        if (old->fd < 0)
                return -EAGAIN;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        /* a file edited in place, or an old version changed since, leaves
         * nothing to take the difference from */
        if (fstat(fd, &st) < 0 || fstat(old->fd, &so) < 0 || (st.st_dev == old->dev && st.st_ino == old->ino) ||
            !version_is(old, &so)) {
                r = -EAGAIN;
                goto fail;
        }
        limit = (size_t)(old->size / 16) > 65536 ? (size_t)(old->size / 16) : 65536;
        r = catalog_diff(old->fd, fd, limit, delta_line, &d);
        if (r < 0)
                goto fail;
        delta_cancel(d.v[FAM_V4], &d.n[FAM_V4]);
        delta_cancel(d.v[FAM_V6], &d.n[FAM_V6]);
        if (d.n[FAM_V4] + d.n[FAM_V6] > DELTA_MAX_CHANGES || (long)old->entries + d.entries <= 0) {
                r = -EAGAIN;    /* many: a whole read is as quick; none left: its error */
                goto fail;
        }
        cr = ranges_new(false);
        if (!cr || !(cr->path = strdup(path))) {
                r = -ENOMEM;
                goto fail;
        }
        cr->dups = old->dups;
        for (int f = 0; f < FAM_N; f++) {
                r = part_apply(old->part[f], f, d.v[f], d.n[f], &cr->part[f], &cr->dups);
                if (r < 0)
                        goto fail;
        }
        cr->entries = (size_t)((long)old->entries + d.entries);
        version_set(cr, fd, &st);
        free(d.v[FAM_V4]);
        free(d.v[FAM_V6]);
        *ret = cr;
        return 0;
fail:
        close(fd);
        ranges_unref(cr);
        free(d.v[FAM_V4]);
        free(d.v[FAM_V6]);
        return r;
}

/* The merged ranges of a catalog, from the cache when its file has not
 * changed, as a difference from the version cached when it can be, else
 * read whole; the policy takes a reference. */
int catalog_cache_provider(struct build_ctx *b, struct policy *p, const struct cfg_item *it, const char *dirs,
                           struct policy_cache *cache)
{
        struct catalog_ranges *cr, *old = NULL, **pp;
        char *path = NULL;
        struct stat st;
        int r;

        r = build_find_catalog(b, it, dirs, &path);
        if (r < 0)
                return r;
        if (stat(path, &st) < 0) {
                r = -errno;
                build_fail(b, r, it->file, it->line, "provider '%s': %s: %s", it->text, path, strerror(-r));
                free(path);
                return r;
        }
        for (cr = cache->head; cr; cr = cr->next) {
                if (strcmp(cr->path, path) != 0)
                        continue;
                if (version_is(cr, &st))
                        goto found;
                old = cr;
        }

        cr = NULL;
        if (old && ranges_delta(old, path, &cr) == 0) {
                cache->stats.diffed++;
        } else {
                cr = ranges_new(true);
                if (!cr) {
                        r = -ENOMEM;
                        goto out;
                }
                cr->path = path;
                path = NULL;
                r = ranges_parse(b, it, cr);
                if (r < 0) {
                        ranges_unref(cr);
                        goto out;
                }
                cache->stats.parsed++;
        }
        if (cr->dups)
                build_warn(b, cr->path, 0, "%zu duplicate prefix%s ignored", cr->dups, cr->dups == 1 ? "" : "es");
        /* an older version of the same path leaves the cache (its users keep it) */
        for (pp = &cache->head; *pp; pp = &(*pp)->next)
                if (strcmp((*pp)->path, cr->path) == 0) {
                        struct catalog_ranges *o = *pp;

                        *pp = o->next;
                        ranges_unref(o);
                        break;
                }
        cr->next = cache->head;
        cache->head = cr;
found:
        {
                struct catalog_ranges **refs = realloc(p->refs, (p->nrefs + 1) * sizeof(*refs));

                if (!refs) {
                        r = -ENOMEM;
                        goto out;
                }
                p->refs = refs;
                p->refs[p->nrefs++] = cr;
                cr->refs++;
                cr->used = true;
        }
        r = 0;
out:
        free(path);
        return r;
}

/* The union of a merged list and a cache's compact IPv4 ranges, in one
 * pass straight into dst. The cache's ranges are merged already, so only
 * those next to one of a's can join anything: the runs between a's ranges
 * are copied as they are (a reload of a 1M-range policy spends its
 * userspace time here and in first touches of fresh memory). */
static int union_v4(struct range_list *dst, const struct range_list *a, const uint32_t (*b)[2], size_t nb)
{
        size_t i = 0, j = 0, cap = a->n + nb;

        dst->family = AF_INET;
        if (range_list_alloc(dst, cap) < 0)
                return -ENOMEM;
        while (i < a->n || j < nb) {
                struct range r;

                if (j >= nb || (i < a->n && a->v[i].lo <= b[j][0])) {
                        range_list_put_merged(dst, a->v[i++]);
                        continue;
                }
                /* b's run up to a's next range: once past what the last
                 * range covers, b's ranges cannot touch each other */
                {
                        addr128 stop = i < a->n ? a->v[i].lo : ~(addr128)0;
                        struct range *out;

                        do {
                                r.lo = b[j][0];
                                r.hi = b[j][1];
                                range_list_put_merged(dst, r);
                                j++;
                        } while (j < nb && b[j][0] < stop && range_touches(&dst->v[dst->n - 1], b[j][0]));
                        out = dst->v + dst->n;
                        while (j < nb && b[j][0] < stop) {
                                out->lo = b[j][0];
                                out->hi = b[j][1];
                                out++;
                                j++;
                        }
                        dst->n = (size_t)(out - dst->v);
                }
        }
        return 0;
}

/* allow[f] = the policy's own (merged) ranges of family f joined with its
 * cached catalogs'; an IPv6 list is shared outright when one catalog is all
 * there is. */
static int join_family(struct policy *p, int f)
{
        for (size_t k = 0; k < p->nrefs; k++) {
                const struct part *pt = p->refs[k]->part[f];
                struct range_list u;
                int r;

                if (f == FAM_V4) {
                        if (pt->n4 == 0)
                                continue;
                        range_list_init(&u, AF_INET);
                        r = union_v4(&u, &p->allow[f], (const uint32_t (*)[2])pt->v4, pt->n4);
                } else {
                        if (pt->r.n == 0)
                                continue;
                        if (p->allow[f].n == 0) {
                                range_list_borrow(&p->allow[f], &pt->r);
                                continue;
                        }
                        range_list_init(&u, AF_INET6);
                        r = range_list_union(&u, &p->allow[f], &pt->r);
                }
                if (r < 0)
                        return r;
                range_list_free(&p->allow[f]);
                p->allow[f] = u;
        }
        return 0;
}

static bool same_list(const struct range_list *a, const struct range_list *b)
{
        return a->n == b->n && (a->n == 0 || !memcmp(a->v, b->v, a->n * sizeof(*a->v)));
}

/* Where the cache keeps the join of this policy and family (at most one:
 * a new join replaces it): the link to it, or to the list's end. */
static struct joined **joined_slot(struct policy_cache *cache, const struct policy *p, int f)
{
        struct joined **pp;

        for (pp = &cache->joined; *pp; pp = &(*pp)->next)
                if ((*pp)->f == f && strcmp((*pp)->policy, p->name) == 0)
                        break;
        return pp;
}

/* Was j made from the policy's present own ranges and catalog parts? */
static bool joined_fits(const struct joined *j, const struct policy *p, int f)
{
        if (j->nparts != p->nrefs || !same_list(&j->own, &p->allow[f]))
                return false;
        for (size_t k = 0; k < p->nrefs; k++)
                if (j->parts[k] != p->refs[k]->part[f])
                        return false;
        return true;
}

/* Join the policy's own ranges with its catalogs'. With a cache, a family
 * whose inputs are those of the last build shares that build's list (a
 * reload that changed nothing of it then costs no union of a million
 * ranges, and the kernel side sees the same list); a new join replaces the
 * cache's for the policy and family. */
int catalog_cache_join(struct policy *p, struct policy_cache *cache)
{
        for (int f = 0; f < FAM_N; f++) {
                struct joined *j, **pp;
                int r;

                if (!cache || p->nrefs == 0) {
                        r = join_family(p, f);
                        if (r < 0)
                                return r;
                        continue;
                }
                pp = joined_slot(cache, p, f);
                j = *pp;
                if (j && joined_fits(j, p, f)) {
                        cache->stats.joins_shared++;
                        goto share;
                }
                j = calloc(1, sizeof(*j));
                if (!j)
                        return -ENOMEM;
                j->refs = 1;    /* the cache's */
                j->f = f;
                snprintf(j->policy, sizeof(j->policy), "%s", p->name);
                range_list_init(&j->own, p->allow[f].family);
                j->parts = calloc(p->nrefs, sizeof(*j->parts));
                if (!j->parts || range_list_alloc(&j->own, p->allow[f].n) < 0) {
                        joined_unref(j);
                        return -ENOMEM;
                }
                if (p->allow[f].n)
                        memcpy(j->own.v, p->allow[f].v, p->allow[f].n * sizeof(*j->own.v));
                j->own.n = p->allow[f].n;
                for (size_t k = 0; k < p->nrefs; k++) {
                        j->parts[k] = p->refs[k]->part[f];
                        j->parts[k]->refs++;
                }
                j->nparts = p->nrefs;
                r = join_family(p, f);
                if (r < 0) {
                        joined_unref(j);
                        return r;
                }
                j->list = p->allow[f];          /* the join moves into j */
                range_list_init(&p->allow[f], j->list.family);
                if (*pp) {                      /* it replaces the cache's */
                        struct joined *old = *pp;

                        *pp = old->next;
                        joined_unref(old);
                }
                j->next = cache->joined;
                cache->joined = j;
share:
                range_list_free(&p->allow[f]);
                range_list_borrow(&p->allow[f], &j->list);
                p->joined[f] = j;
                j->refs++;
                j->used = true;
        }
        return 0;
}

void catalog_cache_begin(struct policy_cache *c)
{
        for (struct catalog_ranges *cr = c->head; cr; cr = cr->next)
                cr->used = false;
        for (struct joined *j = c->joined; j; j = j->next)
                j->used = false;
}

/* Catalogs no policy names any more leave the cache, and joins of policies
 * or families the build did not make. */
void catalog_cache_end(struct policy_cache *c)
{
        for (struct catalog_ranges **pp = &c->head; *pp;) {
                struct catalog_ranges *cr = *pp;

                if (cr->used) {
                        pp = &cr->next;
                        continue;
                }
                *pp = cr->next;
                ranges_unref(cr);
        }
        for (struct joined **pp = &c->joined; *pp;) {
                struct joined *j = *pp;

                if (j->used) {
                        pp = &j->next;
                        continue;
                }
                *pp = j->next;
                joined_unref(j);
        }
}

void catalog_cache_release(struct policy *p)
{
        for (size_t k = 0; k < p->nrefs; k++)
                ranges_unref(p->refs[k]);
        free(p->refs);
        p->refs = NULL;
        p->nrefs = 0;
        joined_unref(p->joined[FAM_V4]);
        joined_unref(p->joined[FAM_V6]);
        p->joined[FAM_V4] = p->joined[FAM_V6] = NULL;
}
