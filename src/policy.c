/* src/policy.c: config + catalogs -> merged per-policy ranges. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "catalog.h"
#include "policy.h"

/* One catalog's merged ranges, shared by the policies that name it. */
struct catalog_ranges {
        char *path;
        dev_t dev;
        ino_t ino;
        off_t size;
        struct timespec mtime;
        struct range_list r[FAM_N];     /* r[FAM_V4] stays empty: see v4 */
        uint32_t (*v4)[2];              /* IPv4 ranges at 8 bytes each, not 32 */
        size_t n4;
        unsigned refs;          /* policies using it, +1 while in the cache */
        bool used;              /* named by the latest build */
        struct catalog_ranges *next;
};

struct policy_cache {
        struct catalog_ranges *head;
};

static void ranges_unref(struct catalog_ranges *cr)
{
        if (!cr || --cr->refs > 0)
                return;
        range_list_free(&cr->r[FAM_V4]);
        range_list_free(&cr->r[FAM_V6]);
        free(cr->v4);
        free(cr->path);
        free(cr);
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
        free(c);
}

struct build_ctx {
        char *err;
        policy_warn_fn warn;
        void *userdata;
};

static int fail(struct build_ctx *b, int r, const char *file, int line, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

static int fail(struct build_ctx *b, int r, const char *file, int line, const char *fmt, ...)
{
        char msg[CONFIG_ERRLEN - 128];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (line > 0)
                snprintf(b->err, CONFIG_ERRLEN, "%s:%d: %s", file, line, msg);
        else
                snprintf(b->err, CONFIG_ERRLEN, "%s: %s", file, msg);
        return r;
}

static void warn(struct build_ctx *b, const char *file, int line, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void warn(struct build_ctx *b, const char *file, int line, const char *fmt, ...)
{
        char msg[CONFIG_ERRLEN];
        va_list ap;

        if (!b->warn)
                return;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        b->warn(file, line, msg, b->userdata);
}

static int system_resolve(const char *name, struct prefix **ret, size_t *ret_n, uint32_t *ret_ttl,
                          char *err, size_t errlen, void *userdata)
{
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG * 0 };
        struct addrinfo *res = NULL, *ai;
        struct prefix *v = NULL;
        size_t n = 0;
        int r;

        r = getaddrinfo(name, NULL, &hints, &res);
        if (r != 0) {
                snprintf(err, errlen, "%s", r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
                return -EHOSTUNREACH;
        }
        for (ai = res; ai; ai = ai->ai_next)
                n++;
        v = calloc(n ? n : 1, sizeof(*v));
        if (!v) {
                freeaddrinfo(res);
                return -ENOMEM;
        }
        n = 0;
        for (ai = res; ai; ai = ai->ai_next) {
                struct prefix p = { .family = ai->ai_family };

                if (ai->ai_family == AF_INET) {
                        p.addr = addr_from_bytes(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr);
                        p.len = 32;
                } else if (ai->ai_family == AF_INET6) {
                        p.addr = addr_from_bytes(AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr);
                        p.len = 128;
                } else {
                        continue;
                }
                v[n++] = p;
        }
        freeaddrinfo(res);
        *ret = v;
        *ret_n = n;
        *ret_ttl = 0;
        return 0;
}

static int add_source(struct policy *p, const struct prefix *px, bool deny, const char *origin)
{
        struct policy_source *s;
        struct range_list *l;

        if (p->nsrc == p->capsrc) {
                size_t cap = p->capsrc ? p->capsrc * 2 : 16;
                s = realloc(p->src, cap * sizeof(*s));
                if (!s)
                        return -ENOMEM;
                p->src = s;
                p->capsrc = cap;
        }
        s = &p->src[p->nsrc];
        s->prefix = *px;
        s->deny = deny;
        s->origin = strdup(origin);
        if (!s->origin)
                return -ENOMEM;
        p->nsrc++;

        l = deny ? &p->deny[fam_index(px->family)] : &p->allow[fam_index(px->family)];
        return range_list_add(l, prefix_range(px));
}

/* A word that is not an address: a host name when it looks like one. */
static bool looks_like_hostname(const char *s)
{
        /* all digits and dots: a broken IPv4 address, not a name */
        return cfg_domain_valid(s) && strspn(s, "0123456789.") != strlen(s);
}

static int add_item(struct build_ctx *b, struct policy *p, const struct cfg_item *it, bool deny,
                    const struct policy_resolver *res)
{
        const char *what = deny ? "deny" : "allow";
        char origin[CONFIG_ERRLEN];
        struct prefix px;
        unsigned flags = 0;
        int r;

        r = prefix_parse(it->text, &px, &flags);
        if (r == 0) {
                if (flags & PREFIX_WILDCARD) {
                        char buf[64];
                        warn(b, it->file, it->line, "legacy wildcard '%s' converted to %s", it->text,
                             prefix_format(&px, buf, sizeof(buf)));
                }
                if (flags & PREFIX_HOST_BITS) {
                        char buf[64];
                        warn(b, it->file, it->line, "'%s' has host bits set; using %s", it->text,
                             prefix_format(&px, buf, sizeof(buf)));
                }
                snprintf(origin, sizeof(origin), "%s %s at %s:%d", what, it->text, it->file, it->line);
                return add_source(p, &px, deny, origin);
        }
        if (!looks_like_hostname(it->text))
                return fail(b, -EINVAL, it->file, it->line, "%s: '%s' is not an address, prefix or host name",
                            what, it->text);
        {
                struct prefix *v = NULL;
                size_t n = 0;
                uint32_t ttl = 0;
                char rerr[256] = "";

                r = res->resolve(it->text, &v, &n, &ttl, rerr, sizeof(rerr), res->userdata);
                if (r < 0 || n == 0) {
                        free(v);
                        return fail(b, r < 0 ? r : -EHOSTUNREACH, it->file, it->line,
                                    "%s: cannot resolve host name '%s': %s", what, it->text,
                                    r < 0 ? rerr : "no addresses");
                }
                if (ttl && (!p->min_ttl || ttl < p->min_ttl))
                        p->min_ttl = ttl;
                snprintf(origin, sizeof(origin), "%s %s at %s:%d", what, it->text, it->file, it->line);
                for (size_t i = 0; i < n; i++) {
                        r = add_source(p, &v[i], deny, origin);
                        if (r < 0)
                                break;
                }
                free(v);
                return r;
        }
}

/* The catalog file a provider name stands for, or an error naming the
 * config line. */
static int find_catalog(struct build_ctx *b, const struct cfg_item *it, const char *dirs, char **ret_path)
{
        char cerr[CONFIG_ERRLEN];
        int r;

        r = catalog_find(dirs, it->text, ret_path, cerr);
        if (r == -ENOENT)
                return fail(b, r, it->file, it->line, "unknown provider '%s' (no %s.conf in %s)", it->text,
                            it->text, dirs);
        if (r < 0)
                snprintf(b->err, CONFIG_ERRLEN, "%s", cerr);
        return r;
}

/* Parse a catalog that must have ranges (an spf-only one needs a sync);
 * with sc, its entries go through sc. */
static int read_catalog(struct build_ctx *b, const struct cfg_item *it, const char *path,
                        struct catalog_scan *sc, struct catalog **ret)
{
        struct catalog *cat = NULL;
        char cerr[CONFIG_ERRLEN];
        int r;

        r = catalog_scan_file(path, it->text, sc, &cat, cerr);
        if (r < 0) {
                snprintf(b->err, CONFIG_ERRLEN, "%s", cerr);
                return r;
        }
        if (cat->entries == 0) {
                r = fail(b, -EINVAL, it->file, it->line,
                         "provider '%s' has no ranges yet (spf-only catalog %s: run `mxlock sync %s`)",
                         it->text, cat->path, it->text);
                catalog_free(cat);
                return r;
        }
        *ret = cat;
        return 0;
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
        r = range_list_add(&cr->r[fam_index(px.family)], prefix_range(&px));
        if (r < 0)
                snprintf(err, CONFIG_ERRLEN, "%s: out of memory", cr->path);
        return r;
}

/* The merged ranges of a catalog, from the cache when its file has not
 * changed; the policy takes a reference. */
static int add_provider_cached(struct build_ctx *b, struct policy *p, const struct cfg_item *it, const char *dirs,
                               struct policy_cache *cache)
{
        struct catalog_scan sc = { .entry = cache_entry };
        struct catalog_ranges *cr, **pp;
        struct catalog *cat = NULL;
        char *path = NULL;
        struct stat st;
        size_t dups = 0;
        int r;

        r = find_catalog(b, it, dirs, &path);
        if (r < 0)
                return r;
        if (stat(path, &st) < 0) {
                r = -errno;
                fail(b, r, it->file, it->line, "provider '%s': %s: %s", it->text, path, strerror(-r));
                free(path);
                return r;
        }
        for (cr = cache->head; cr; cr = cr->next)
                if (strcmp(cr->path, path) == 0 && cr->dev == st.st_dev && cr->ino == st.st_ino &&
                    cr->size == st.st_size && cr->mtime.tv_sec == st.st_mtim.tv_sec &&
                    cr->mtime.tv_nsec == st.st_mtim.tv_nsec)
                        goto found;

        cr = calloc(1, sizeof(*cr));
        if (!cr) {
                r = -ENOMEM;
                goto out;
        }
        range_list_init(&cr->r[FAM_V4], AF_INET);
        range_list_init(&cr->r[FAM_V6], AF_INET6);
        cr->refs = 1;   /* the cache's */
        cr->path = path;
        path = NULL;
        sc.userdata = cr;
        r = read_catalog(b, it, cr->path, &sc, &cat);
        if (r < 0) {
                ranges_unref(cr);
                goto out;
        }
        dups = range_list_merge(&cr->r[FAM_V4]) + range_list_merge(&cr->r[FAM_V6]);
        /* kept for the daemon's lifetime: IPv4 in a quarter of the room */
        if (cr->r[FAM_V4].n) {
                cr->v4 = malloc(cr->r[FAM_V4].n * sizeof(*cr->v4));
                if (!cr->v4) {
                        ranges_unref(cr);
                        r = -ENOMEM;
                        goto out;
                }
                for (size_t i = 0; i < cr->r[FAM_V4].n; i++) {
                        cr->v4[i][0] = (uint32_t)cr->r[FAM_V4].v[i].lo;
                        cr->v4[i][1] = (uint32_t)cr->r[FAM_V4].v[i].hi;
                }
                cr->n4 = cr->r[FAM_V4].n;
                range_list_free(&cr->r[FAM_V4]);
        }
        if (dups)
                warn(b, cat->path, 0, "%zu duplicate prefix%s ignored", dups, dups == 1 ? "" : "es");
        /* what was read, which may be newer than what was looked up */
        cr->dev = sc.st.st_dev;
        cr->ino = sc.st.st_ino;
        cr->size = sc.st.st_size;
        cr->mtime = sc.st.st_mtim;
        /* an older parse of the same path leaves the cache (its users keep it) */
        for (pp = &cache->head; *pp; pp = &(*pp)->next)
                if (strcmp((*pp)->path, cr->path) == 0) {
                        struct catalog_ranges *old = *pp;

                        *pp = old->next;
                        ranges_unref(old);
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
        catalog_free(cat);
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

/* allow[f] = the policy's own (merged) ranges joined with its cached
 * catalogs'; an IPv6 list is shared outright when one catalog is all there
 * is. */
static int join_cached(struct policy *p)
{
        for (size_t k = 0; k < p->nrefs; k++) {
                const struct catalog_ranges *cr = p->refs[k];
                const struct range_list *c = &cr->r[FAM_V6];
                struct range_list u;
                int r;

                if (cr->n4) {
                        range_list_init(&u, AF_INET);
                        r = union_v4(&u, &p->allow[FAM_V4], cr->v4, cr->n4);
                        if (r < 0)
                                return r;
                        range_list_free(&p->allow[FAM_V4]);
                        p->allow[FAM_V4] = u;
                }
                if (c->n == 0)
                        continue;
                if (p->allow[FAM_V6].n == 0) {
                        range_list_borrow(&p->allow[FAM_V6], c);
                        continue;
                }
                range_list_init(&u, AF_INET6);
                r = range_list_union(&u, &p->allow[FAM_V6], c);
                if (r < 0)
                        return r;
                range_list_free(&p->allow[FAM_V6]);
                p->allow[FAM_V6] = u;
        }
        return 0;
}

static int add_provider(struct build_ctx *b, struct policy *p, const struct cfg_item *it, const char *dirs)
{
        struct catalog *cat = NULL;
        char *path = NULL;
        int r;

        r = find_catalog(b, it, dirs, &path);
        if (r < 0)
                return r;
        r = read_catalog(b, it, path, NULL, &cat);
        free(path);
        if (r < 0)
                return r;
        for (size_t i = 0; i < cat->n; i++) {
                const struct catalog_entry *e = &cat->v[i];
                char origin[CONFIG_ERRLEN];
                struct prefix px;
                unsigned flags = 0;

                r = prefix_parse(e->text, &px, &flags);
                if (r < 0) {
                        r = fail(b, r, cat->path, e->line, "'%s' is not an address or prefix", e->text);
                        goto out;
                }
                if (e->comment)
                        snprintf(origin, sizeof(origin), "provider %s: %s (%s)", cat->name, e->text, e->comment);
                else
                        snprintf(origin, sizeof(origin), "provider %s: %s", cat->name, e->text);
                r = add_source(p, &px, false, origin);
                if (r < 0)
                        goto out;
        }
        r = 0;
out:
        catalog_free(cat);
        return r;
}

static void count_duplicates(struct build_ctx *b, struct policy *p, const struct cfg_policy *cp,
                             const struct config *c)
{
        size_t dups = 0;

        for (int f = 0; f < FAM_N; f++) {
                dups += range_list_merge(&p->allow[f]);
                dups += range_list_merge(&p->deny[f]);
        }
        if (dups)
                warn(b, c->file, cp->line, "policy '%s': %zu duplicate prefix%s ignored", p->name, dups,
                     dups == 1 ? "" : "es");
}

int policy_build(const struct config *c, const char *provider_dirs, const struct policy_resolver *res,
                 struct policy_set **ret, char err[CONFIG_ERRLEN], policy_warn_fn warnfn, void *userdata)
{
        struct policy_build_opts o = { .provider_dirs = provider_dirs, .res = res, .catalog_sources = true };

        return policy_build_with(c, &o, ret, err, warnfn, userdata);
}

int policy_build_with(const struct config *c, const struct policy_build_opts *o, struct policy_set **ret,
                      char err[CONFIG_ERRLEN], policy_warn_fn warnfn, void *userdata)
{
        static const struct policy_resolver system_resolver = { .resolve = system_resolve };
        struct build_ctx b = { .err = err, .warn = warnfn, .userdata = userdata };
        const struct policy_resolver *res = o->res ? o->res : &system_resolver;
        const char *provider_dirs = o->provider_dirs ? o->provider_dirs : c->provider_dirs;
        bool cached = o->cache && !o->catalog_sources;
        struct policy_set *s;
        int r = 0;

        err[0] = '\0';
        if (cached)
                for (struct catalog_ranges *cr = o->cache->head; cr; cr = cr->next)
                        cr->used = false;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->v = calloc(c->npolicies ? c->npolicies : 1, sizeof(*s->v));
        if (!s->v) {
                free(s);
                return -ENOMEM;
        }
        for (size_t i = 0; i < c->npolicies; i++) {
                const struct cfg_policy *cp = &c->policies[i];
                struct policy *p = &s->v[i];

                s->n++;
                snprintf(p->name, sizeof(p->name), "%s", cp->name);
                range_list_init(&p->allow[FAM_V4], AF_INET);
                range_list_init(&p->allow[FAM_V6], AF_INET6);
                range_list_init(&p->deny[FAM_V4], AF_INET);
                range_list_init(&p->deny[FAM_V6], AF_INET6);
                p->ports = malloc(cp->nports * sizeof(*p->ports));
                p->providers = calloc(cp->providers.n + 1, sizeof(char *));
                if (!p->ports || !p->providers) {
                        r = -ENOMEM;
                        goto fail;
                }
                memcpy(p->ports, cp->ports, cp->nports * sizeof(*p->ports));
                p->nports = cp->nports;

                for (size_t k = 0; k < cp->providers.n; k++) {
                        p->providers[p->nproviders] = strdup(cp->providers.v[k].text);
                        if (!p->providers[p->nproviders++]) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        r = cached ? add_provider_cached(&b, p, &cp->providers.v[k], provider_dirs, o->cache)
                                   : add_provider(&b, p, &cp->providers.v[k], provider_dirs);
                        if (r < 0)
                                goto fail;
                }
                for (size_t k = 0; k < cp->allow.n; k++) {
                        r = add_item(&b, p, &cp->allow.v[k], false, res);
                        if (r < 0)
                                goto fail;
                }
                for (size_t k = 0; k < cp->deny.n; k++) {
                        r = add_item(&b, p, &cp->deny.v[k], true, res);
                        if (r < 0)
                                goto fail;
                }
                count_duplicates(&b, p, cp, c);
                r = join_cached(p);
                if (r < 0)
                        goto fail;
                if (p->allow[FAM_V4].n == 0 && p->allow[FAM_V6].n == 0) {
                        r = fail(&b, -EINVAL, c->file, cp->line, "policy '%s' allows no source", p->name);
                        goto fail;
                }
        }
        if (cached) {
                /* catalogs no policy names any more leave the cache */
                for (struct catalog_ranges **pp = &o->cache->head; *pp;) {
                        struct catalog_ranges *cr = *pp;

                        if (cr->used) {
                                pp = &cr->next;
                                continue;
                        }
                        *pp = cr->next;
                        ranges_unref(cr);
                }
        }
        *ret = s;
        return 0;
fail:
        if (r == -ENOMEM && !err[0])
                snprintf(err, CONFIG_ERRLEN, "%s: out of memory", c->file);
        policy_set_free(s);
        return r;
}

void policy_set_free(struct policy_set *s)
{
        if (!s)
                return;
        for (size_t i = 0; i < s->n; i++) {
                struct policy *p = &s->v[i];

                for (int f = 0; f < FAM_N; f++) {
                        range_list_free(&p->allow[f]);
                        range_list_free(&p->deny[f]);
                }
                for (size_t k = 0; k < p->nsrc; k++)
                        free(p->src[k].origin);
                free(p->src);
                for (size_t k = 0; k < p->nproviders; k++)
                        free(p->providers[k]);
                free(p->providers);
                free(p->ports);
                for (size_t k = 0; k < p->nrefs; k++)
                        ranges_unref(p->refs[k]);
                free(p->refs);
        }
        free(s->v);
        free(s);
}

bool policy_has_port(const struct policy *p, uint16_t port)
{
        for (size_t i = 0; i < p->nports; i++)
                if (p->ports[i] == port)
                        return true;
        return false;
}

bool policy_classify(const struct policy *p, int family, addr128 a, const struct policy_source **ret_src)
{
        const struct policy_source *allow = NULL;
        int f = fam_index(family);

        *ret_src = NULL;
        if (range_list_contains(&p->deny[f], a)) {
                for (size_t i = 0; i < p->nsrc; i++)
                        if (p->src[i].deny && prefix_contains(&p->src[i].prefix, family, a)) {
                                *ret_src = &p->src[i];
                                break;
                        }
                return false;
        }
        if (!range_list_contains(&p->allow[f], a))
                return false;
        for (size_t i = 0; i < p->nsrc && !allow; i++)
                if (!p->src[i].deny && prefix_contains(&p->src[i].prefix, family, a))
                        allow = &p->src[i];
        *ret_src = allow;
        return true;
}

size_t policy_set_ranges(const struct policy_set *s)
{
        size_t n = 0;

        for (size_t i = 0; i < s->n; i++)
                for (int f = 0; f < FAM_N; f++)
                        n += s->v[i].allow[f].n + s->v[i].deny[f].n;
        return n;
}
