/* src/policy.c: config + catalogs -> merged per-policy ranges. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "catalog_cache.h"
#include "policy.h"

int build_fail(struct build_ctx *b, int r, const char *file, int line, const char *fmt, ...)
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

void build_warn(struct build_ctx *b, const char *file, int line, const char *fmt, ...)
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
        const char *what = deny ? "deny" : p->outbound ? "to" : "allow";
        char origin[CONFIG_ERRLEN];
        struct prefix px;
        unsigned flags = 0;
        int r;

        r = prefix_parse(it->text, &px, &flags);
        if (r == 0) {
                if (flags & PREFIX_WILDCARD) {
                        char buf[64];
                        build_warn(b, it->file, it->line, "legacy wildcard '%s' converted to %s", it->text,
                             prefix_format(&px, buf, sizeof(buf)));
                }
                if (flags & PREFIX_HOST_BITS) {
                        char buf[64];
                        build_warn(b, it->file, it->line, "'%s' has host bits set; using %s", it->text,
                             prefix_format(&px, buf, sizeof(buf)));
                }
                snprintf(origin, sizeof(origin), "%s %s at %s:%d", what, it->text, it->file, it->line);
                return add_source(p, &px, deny, origin);
        }
        if (!looks_like_hostname(it->text))
                return build_fail(b, -EINVAL, it->file, it->line, "%s: '%s' is not an address, prefix or host name",
                            what, it->text);
        {
                struct prefix *v = NULL;
                size_t n = 0;
                uint32_t ttl = 0;
                char rerr[256] = "";

                r = res->resolve(it->text, &v, &n, &ttl, rerr, sizeof(rerr), res->userdata);
                if (r < 0 || n == 0) {
                        free(v);
                        return build_fail(b, r < 0 ? r : -EHOSTUNREACH, it->file, it->line,
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
int build_find_catalog(struct build_ctx *b, const struct cfg_item *it, const char *dirs, char **ret_path)
{
        char cerr[CONFIG_ERRLEN];
        int r;

        r = catalog_find(dirs, it->text, ret_path, cerr);
        if (r == -ENOENT)
                return build_fail(b, r, it->file, it->line, "unknown provider '%s' (no %s.conf in %s)", it->text,
                            it->text, dirs);
        if (r < 0)
                snprintf(b->err, CONFIG_ERRLEN, "%s", cerr);
        return r;
}

/* Parse a catalog that must have ranges (an spf-only one needs a sync);
 * with sc, its entries go through sc. */
int build_read_catalog(struct build_ctx *b, const struct cfg_item *it, const char *path,
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
                r = build_fail(b, -EINVAL, it->file, it->line,
                         "provider '%s' has no ranges yet (spf-only catalog %s: run `mxlock sync %s`)",
                         it->text, cat->path, it->text);
                catalog_free(cat);
                return r;
        }
        *ret = cat;
        return 0;
}

static int add_provider(struct build_ctx *b, struct policy *p, const struct cfg_item *it, const char *dirs)
{
        struct catalog *cat = NULL;
        char *path = NULL;
        int r;

        r = build_find_catalog(b, it, dirs, &path);
        if (r < 0)
                return r;
        r = build_read_catalog(b, it, path, NULL, &cat);
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
                        r = build_fail(b, r, cat->path, e->line, "'%s' is not an address or prefix", e->text);
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

static int skip_entry(const char *text, const char *comment, int line, char err[CONFIG_ERRLEN], void *userdata)
{
        return 0;
}

/* An outbound section's provider: the catalog of the provider's outbound
 * gateways when its catalog names one (outbound = NAME), else itself.
 * *ret_it is it, or a copy naming the other catalog (text in *ret_text). */
static int outbound_provider(struct build_ctx *b, const struct cfg_item *it, const char *dirs,
                             struct cfg_item *ret_it, char **ret_text)
{
        struct catalog_scan sc = { .entry = skip_entry };
        struct catalog *cat = NULL;
        char cerr[CONFIG_ERRLEN];
        char *path = NULL;
        int r;

        *ret_it = *it;
        *ret_text = NULL;
        r = build_find_catalog(b, it, dirs, &path);
        if (r < 0)
                return r;
        r = catalog_scan_file(path, it->text, &sc, &cat, cerr);
        free(path);
        if (sc.fd >= 0)
                close(sc.fd);
        if (r < 0) {
                snprintf(b->err, CONFIG_ERRLEN, "%s", cerr);
                return r;
        }
        if (cat->outbound) {
                *ret_text = cat->outbound;
                cat->outbound = NULL;
                ret_it->text = *ret_text;
        }
        catalog_free(cat);
        return 0;
}

/* users = NAME|UID...: each a local user; names are looked up now (at load
 * and at each reload), so a user created later needs a reload. */
static int add_users(struct build_ctx *b, struct policy *p, const struct cfg_policy *cp)
{
        p->uids = calloc(cp->users.n + 1, sizeof(*p->uids));
        p->users = calloc(cp->users.n + 1, sizeof(*p->users));
        if (!p->uids || !p->users)
                return -ENOMEM;
        for (size_t k = 0; k < cp->users.n; k++) {
                const struct cfg_item *it = &cp->users.v[k];
                char *end, buf[4096];
                struct passwd pw, *pwp = NULL;
                unsigned long v;
                uint32_t uid;
                size_t i;

                errno = 0;
                v = strtoul(it->text, &end, 10);
                if (it->text[0] >= '0' && it->text[0] <= '9' && !*end) {
                        if (errno || v >= UINT32_MAX)
                                return build_fail(b, -EINVAL, it->file, it->line, "users: '%s' is not a uid",
                                                  it->text);
                        uid = (uint32_t)v;
                } else {
                        int e = getpwnam_r(it->text, &pw, buf, sizeof(buf), &pwp);

                        if (e || !pwp)
                                return build_fail(b, -EINVAL, it->file, it->line,
                                                  "users: unknown user '%s'%s%s", it->text, e ? ": " : "",
                                                  e ? strerror(e) : "");
                        uid = pwp->pw_uid;
                }
                p->users[p->nusers] = strdup(it->text);
                if (!p->users[p->nusers++])
                        return -ENOMEM;
                for (i = 0; i < p->nuids && p->uids[i] < uid; i++)
                        ;
                if (i < p->nuids && p->uids[i] == uid) {
                        build_warn(b, it->file, it->line, "users: '%s' is uid %u, listed before", it->text, uid);
                        continue;
                }
                memmove(p->uids + i + 1, p->uids + i, (p->nuids - i) * sizeof(*p->uids));
                p->uids[i] = uid;
                p->nuids++;
        }
        return 0;
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
                build_warn(b, c->file, cp->line, "policy '%s': %zu duplicate prefix%s ignored", p->name, dups,
                     dups == 1 ? "" : "es");
}

/* What the kernel side reads of the policies (rules/ruleset.h): their
 * names, ports and merged lists, borrowed from s. */
static int view_fill(struct policy_set *s)
{
        s->view.v = calloc(s->n ? s->n : 1, sizeof(*s->view.v));
        if (!s->view.v)
                return -ENOMEM;
        for (size_t i = 0; i < s->n; i++) {
                const struct policy *p = &s->v[i];
                struct ruleset_policy *rp = &s->view.v[i];

                rp->name = p->name;
                rp->outbound = p->outbound;
                rp->uids = p->uids;
                rp->nuids = p->nuids;
                rp->ports = p->ports;
                rp->nports = p->nports;
                for (int f = 0; f < FAM_N; f++) {
                        rp->allow[f] = p->allow[f];
                        rp->deny[f] = p->deny[f];
                }
        }
        s->view.n = s->n;
        return 0;
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
                catalog_cache_begin(o->cache);

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
                p->outbound = cp->outbound;
                if (p->outbound) {
                        r = add_users(&b, p, cp);
                        if (r < 0)
                                goto fail;
                }

                for (size_t k = 0; k < cp->providers.n; k++) {
                        struct cfg_item it = cp->providers.v[k];
                        char *other = NULL;

                        p->providers[p->nproviders] = strdup(it.text);
                        if (!p->providers[p->nproviders++]) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        if (p->outbound) {
                                r = outbound_provider(&b, &cp->providers.v[k], provider_dirs, &it, &other);
                                if (r < 0)
                                        goto fail;
                        }
                        r = cached ? catalog_cache_provider(&b, p, &it, provider_dirs, o->cache)
                                   : add_provider(&b, p, &it, provider_dirs);
                        free(other);
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
                r = catalog_cache_join(p, cached ? o->cache : NULL);
                if (r < 0)
                        goto fail;
                if (p->allow[FAM_V4].n == 0 && p->allow[FAM_V6].n == 0) {
                        r = build_fail(&b, -EINVAL, c->file, cp->line, p->outbound ?
                                       "outbound '%s' allows no destination" : "policy '%s' allows no source",
                                       p->name);
                        goto fail;
                }
        }
        r = view_fill(s);
        if (r < 0)
                goto fail;
        if (cached)
                catalog_cache_end(o->cache);
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
                for (size_t k = 0; k < p->nusers; k++)
                        free(p->users[k]);
                free(p->users);
                free(p->uids);
                free(p->ports);
                catalog_cache_release(p);
        }
        free(s->view.v);
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

bool policy_has_uid(const struct policy *p, uint32_t uid)
{
        size_t lo = 0, hi = p->nuids;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (p->uids[mid] == uid)
                        return true;
                if (p->uids[mid] < uid)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return false;
}

size_t policy_set_ranges(const struct policy_set *s)
{
        size_t n = 0;

        for (size_t i = 0; i < s->n; i++)
                for (int f = 0; f < FAM_N; f++)
                        n += s->v[i].allow[f].n + s->v[i].deny[f].n;
        return n;
}
