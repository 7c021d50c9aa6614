/* src/spf.c: SPF records to address ranges (see spf.h).
 *
 * The parser is pure (fuzzed by tests/fuzz/fuzz_spf.c). The expander reads
 * each record's terms forwards (so the lookup cap and error messages follow
 * the record's order), computes the set of addresses each term matches, and
 * then folds the terms backwards: starting from what redirect= passes, a '+'
 * term adds its set and any other qualifier removes it. Folding backwards
 * gives exactly SPF's first-match result: an address is passed when the
 * first term that matches it is a '+' term. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "spf.h"

#define SPF_MAX_ERRORS 32
#define ALL_ONES (~(addr128)0)

/* ------------------------------------------------------------------ */
/* Parser */

bool spf_is_record(const char *text)
{
        return text && strncasecmp(text, "v=spf1", 6) == 0 && (text[6] == ' ' || text[6] == '\0');
}

void spf_record_free(struct spf_record *r)
{
        if (!r)
                return;
        for (size_t i = 0; i < r->n; i++)
                free(r->v[i].domain);
        free(r->v);
        free(r->redirect);
        free(r);
}

static bool is_alpha(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

/* A domain-spec (RFC 7208 7.1), n bytes of s. Sets *macro when it holds a
 * macro. A plain domain: labels of letters, digits, '-' and '_' separated
 * by single dots, an optional trailing dot, at most 253 characters. */
static bool domain_spec_valid(const char *s, size_t n, bool *macro)
{
        size_t label = 0;

        *macro = false;
        if (n == 0 || n > 253)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];

                if (c == '%') {
                        *macro = true;
                        if (i + 1 >= n)
                                return false;
                        if (s[i + 1] == '%' || s[i + 1] == '_' || s[i + 1] == '-') {
                                i++;
                                continue;
                        }
                        if (s[i + 1] != '{')
                                return false;
                        while (i < n && s[i] != '}')
                                i++;
                        if (i >= n)
                                return false;
                        label = 1;
                        continue;
                }
                if ((unsigned char)c <= 0x20 || (unsigned char)c >= 0x7f)
                        return false;
                if (*macro)
                        continue;       /* macro-strings may hold other visible characters */
                if (c == '.') {
                        if (label == 0)
                                return false;
                        label = 0;
                        continue;
                }
                if (!(is_alpha(c) || is_digit(c) || c == '-' || c == '_'))
                        return false;
                if (++label > 63)
                        return false;
        }
        return true;
}

/* A cidr length: decimal without leading zeros, 0..max. */
static int parse_cidr(const char *s, size_t n, unsigned max, uint8_t *ret)
{
        unsigned v = 0;

        if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (!is_digit(s[i]))
                        return -EINVAL;
                v = v * 10 + (unsigned)(s[i] - '0');
        }
        if (v > max)
                return -EINVAL;
        *ret = (uint8_t)v;
        return 0;
}

static int perr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int perr(char *err, size_t errlen, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

/* Parse "[:domain][/len4][//len6]" (a, mx) or "[:domain]" (ptr) after the
 * mechanism name. */
static int parse_domain_cidr(struct spf_term *t, const char *arg, size_t n, bool cidr_allowed,
                             const char *term, char *err, size_t errlen)
{
        const char *slash = memchr(arg, '/', n);
        size_t dn = slash ? (size_t)(slash - arg) : n;

        t->cidr4 = 32;
        t->cidr6 = 128;
        if (dn > 0) {
                if (arg[0] != ':' || dn == 1)
                        return perr(err, errlen, "'%.80s': expected ':domain' after the mechanism", term);
                if (!domain_spec_valid(arg + 1, dn - 1, &t->macro))
                        return perr(err, errlen, "'%.80s': invalid domain", term);
                t->domain = strndup(arg + 1, dn - 1);
                if (!t->domain)
                        return -ENOMEM;
        }
        if (!slash)
                return 0;
        if (!cidr_allowed)
                return perr(err, errlen, "'%.80s': no prefix length allowed here", term);
        {
                const char *c = slash, *end = arg + n, *dbl;
                size_t left = (size_t)(end - c);

                dbl = NULL;
                for (const char *p = c; p + 1 < end; p++)
                        if (p[0] == '/' && p[1] == '/') {
                                dbl = p;
                                break;
                        }
                if (dbl != c) {
                        /* "/len4" first */
                        size_t l4 = (size_t)((dbl ? dbl : end) - (c + 1));

                        if (parse_cidr(c + 1, l4, 32, &t->cidr4) < 0)
                                return perr(err, errlen, "'%.80s': invalid IPv4 prefix length", term);
                }
                if (dbl) {
                        size_t l6 = (size_t)(end - (dbl + 2));

                        if (parse_cidr(dbl + 2, l6, 128, &t->cidr6) < 0)
                                return perr(err, errlen, "'%.80s': invalid IPv6 prefix length", term);
                }
                (void) left;
        }
        return 0;
}

static int parse_ip(struct spf_term *t, int family, const char *arg, size_t n, const char *term,
                    char *err, size_t errlen)
{
        char buf[64];
        unsigned flags = 0;

        if (n < 2 || arg[0] != ':' || n - 1 >= sizeof(buf))
                return perr(err, errlen, "'%.80s': expected an address after '%s:'", term,
                            family == AF_INET ? "ip4" : "ip6");
        memcpy(buf, arg + 1, n - 1);
        buf[n - 1] = '\0';
        if (strchr(buf, '*') || prefix_parse(buf, &t->prefix, &flags) < 0 || t->prefix.family != family ||
            (flags & PREFIX_WILDCARD))
                return perr(err, errlen, "'%.80s': not an %s address or prefix", term,
                            family == AF_INET ? "IPv4" : "IPv6");
        /* RFC 7208: a length, when written, has no leading zeros. */
        {
                const char *sl = strchr(buf, '/');

                if (sl && (sl[1] == '\0' || (sl[1] == '0' && sl[2])))
                        return perr(err, errlen, "'%.80s': invalid prefix length", term);
        }
        return 0;
}

static const struct {
        const char *name;
        enum spf_kind kind;
} mechanisms[] = {
        { "all", SPF_ALL }, { "include", SPF_INCLUDE }, { "a", SPF_A }, { "mx", SPF_MX },
        { "ptr", SPF_PTR }, { "ip4", SPF_IP4 }, { "ip6", SPF_IP6 }, { "exists", SPF_EXISTS },
};

/* One term of n bytes. */
static int parse_term(struct spf_record *rec, const char *s, size_t n, char *err, size_t errlen)
{
        char term[96];
        size_t namelen = 0, k;
        const char *p = s;
        char q = '+';
        struct spf_term t;
        int r;

        snprintf(term, sizeof(term), "%.*s", (int)(n < 90 ? n : 90), s);
        /* A modifier: name "=" value, where name = ALPHA *(ALPHA / DIGIT / "-" / "_" / ".") */
        if (is_alpha(s[0])) {
                for (k = 1; k < n && (is_alpha(s[k]) || is_digit(s[k]) || s[k] == '-' || s[k] == '_' ||
                                      s[k] == '.'); k++)
                        ;
                if (k < n && s[k] == '=') {
                        const char *v = s + k + 1;
                        size_t vn = n - k - 1;
                        bool macro;

                        if (k == 8 && strncasecmp(s, "redirect", 8) == 0) {
                                if (rec->redirect)
                                        return perr(err, errlen, "'%s': redirect= given twice", term);
                                if (!domain_spec_valid(v, vn, &macro))
                                        return perr(err, errlen, "'%s': invalid domain", term);
                                rec->redirect = strndup(v, vn);
                                if (!rec->redirect)
                                        return -ENOMEM;
                                rec->redirect_macro = macro;
                                return 0;
                        }
                        if (k == 3 && strncasecmp(s, "exp", 3) == 0) {
                                if (rec->has_exp)
                                        return perr(err, errlen, "'%s': exp= given twice", term);
                                if (!domain_spec_valid(v, vn, &macro))
                                        return perr(err, errlen, "'%s': invalid domain", term);
                                rec->has_exp = true;
                                return 0;
                        }
                        rec->unknown_modifiers++;       /* RFC 7208 6: ignored */
                        return 0;
                }
        }
        if (*p == '+' || *p == '-' || *p == '~' || *p == '?') {
                q = *p++;
                n--;
        }
        while (namelen < n && is_alpha(p[namelen]) ) {
                namelen++;
        }
        if (namelen < n && is_digit(p[namelen]))        /* ip4, ip6 */
                namelen++;
        memset(&t, 0, sizeof(t));
        t.qualifier = q;
        for (k = 0; k < sizeof(mechanisms) / sizeof(mechanisms[0]); k++)
                if (strlen(mechanisms[k].name) == namelen && strncasecmp(p, mechanisms[k].name, namelen) == 0)
                        break;
        if (namelen == 0 || k == sizeof(mechanisms) / sizeof(mechanisms[0]))
                return perr(err, errlen, "'%s': unknown mechanism", term);
        t.kind = mechanisms[k].kind;
        p += namelen;
        n -= namelen;
        switch (t.kind) {
        case SPF_ALL:
                if (n)
                        return perr(err, errlen, "'%s': 'all' takes no argument", term);
                r = 0;
                break;
        case SPF_INCLUDE:
        case SPF_EXISTS:
                if (n < 2 || p[0] != ':')
                        return perr(err, errlen, "'%s': expected ':domain'", term);
                if (!domain_spec_valid(p + 1, n - 1, &t.macro))
                        return perr(err, errlen, "'%s': invalid domain", term);
                t.domain = strndup(p + 1, n - 1);
                r = t.domain ? 0 : -ENOMEM;
                break;
        case SPF_A:
        case SPF_MX:
                r = parse_domain_cidr(&t, p, n, true, term, err, errlen);
                break;
        case SPF_PTR:
                r = parse_domain_cidr(&t, p, n, false, term, err, errlen);
                break;
        case SPF_IP4:
                r = parse_ip(&t, AF_INET, p, n, term, err, errlen);
                break;
        case SPF_IP6:
                r = parse_ip(&t, AF_INET6, p, n, term, err, errlen);
                break;
        default:
                r = -EINVAL;
                break;
        }
        if (r < 0) {
                free(t.domain);
                return r;
        }
        {
                struct spf_term *v = realloc(rec->v, (rec->n + 1) * sizeof(*v));

                if (!v) {
                        free(t.domain);
                        return -ENOMEM;
                }
                rec->v = v;
                rec->v[rec->n++] = t;
        }
        return 0;
}

int spf_parse(const char *text, struct spf_record **ret, char *err, size_t errlen)
{
        struct spf_record *rec;
        const char *s;
        int r;

        if (errlen)
                err[0] = '\0';
        if (!spf_is_record(text))
                return perr(err, errlen, "not an SPF record (does not start with 'v=spf1')");
        rec = calloc(1, sizeof(*rec));
        if (!rec)
                return -ENOMEM;
        s = text + 6;
        for (;;) {
                size_t n;

                while (*s == ' ' || *s == '\t')
                        s++;
                if (!*s)
                        break;
                n = strcspn(s, " \t");
                r = parse_term(rec, s, n, err, errlen);
                if (r < 0) {
                        spf_record_free(rec);
                        if (r == -ENOMEM)
                                snprintf(err, errlen, "out of memory");
                        return r;
                }
                s += n;
        }
        *ret = rec;
        return 0;
}

/* ------------------------------------------------------------------ */
/* Range helpers */

long double spf_range_count(const struct range_list *l)
{
        long double n = 0;

        for (size_t i = 0; i < l->n; i++)
                n += (long double)(l->v[i].hi - l->v[i].lo) + 1.0L;
        return n;
}

int spf_range_subtract(const struct range_list *a, const struct range_list *b, struct range_list *out)
{
        size_t j = 0;

        range_list_init(out, a->family);
        for (size_t i = 0; i < a->n; i++) {
                addr128 lo = a->v[i].lo, hi = a->v[i].hi;
                bool done = false;

                while (j < b->n && b->v[j].hi < lo)
                        j++;
                for (size_t k = j; k < b->n && b->v[k].lo <= hi; k++) {
                        if (b->v[k].lo > lo &&
                            range_list_add(out, (struct range){ lo, b->v[k].lo - 1 }) < 0)
                                return -ENOMEM;
                        if (b->v[k].hi >= hi) {
                                done = true;
                                break;
                        }
                        lo = b->v[k].hi + 1;
                }
                if (!done && range_list_add(out, (struct range){ lo, hi }) < 0)
                        return -ENOMEM;
        }
        range_list_merge(out);
        return 0;
}

/* dst |= src (both merged; dst stays merged). */
static int range_union(struct range_list *dst, const struct range_list *src)
{
        for (size_t i = 0; i < src->n; i++)
                if (range_list_add(dst, src->v[i]) < 0)
                        return -ENOMEM;
        range_list_merge(dst);
        return 0;
}

/* dst -= src. */
static int range_minus(struct range_list *dst, const struct range_list *src)
{
        struct range_list out;

        if (src->n == 0 || dst->n == 0)
                return 0;
        if (spf_range_subtract(dst, src, &out) < 0) {
                range_list_free(&out);
                return -ENOMEM;
        }
        range_list_free(dst);
        *dst = out;
        return 0;
}

/* The range of addr widened to a prefix of len bits. */
static struct range widen(int family, addr128 addr, unsigned len)
{
        unsigned bits = family == AF_INET ? 32 : 128;
        addr128 full = family == AF_INET ? (addr128)0xffffffffu : ALL_ONES;
        addr128 host = len >= bits ? 0 : (len == 0 ? full : (full >> len));

        return (struct range){ addr & ~host & full, (addr & ~host & full) | host };
}

/* ------------------------------------------------------------------ */
/* Expander */

struct sets {
        struct range_list l[2];         /* [0] IPv4, [1] IPv6 */
};

static void sets_init(struct sets *s)
{
        range_list_init(&s->l[0], AF_INET);
        range_list_init(&s->l[1], AF_INET6);
}

static void sets_free(struct sets *s)
{
        range_list_free(&s->l[0]);
        range_list_free(&s->l[1]);
}

struct walk {
        const struct spf_lookup *lk;
        unsigned max_lookups;
        bool keep_going;
        struct spf_result *res;
        const char *path[SPF_MAX_DEPTH];
        size_t depth;
        char *err;
        size_t errlen;
};

static int push_str(char ***v, size_t *n, const char *s)
{
        char **nv;
        char *d = strdup(s);

        if (!d)
                return -ENOMEM;
        nv = realloc(*v, (*n + 1) * sizeof(*nv));
        if (!nv) {
                free(d);
                return -ENOMEM;
        }
        nv[(*n)++] = d;
        *v = nv;
        return 0;
}

/* Record an error: the first one goes to err; with keep_going all go to
 * res->errors. Returns r when the walk must stop, 0 when it goes on. */
static int walk_fail(struct walk *w, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int walk_fail(struct walk *w, int r, const char *fmt, ...)
{
        char msg[512];
        va_list ap;

        if (r == -ENOMEM)
                return r;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (!w->res->first_error) {
                w->res->first_error = r;
                snprintf(w->err, w->errlen, "%s", msg);
        }
        if (!w->keep_going)
                return r;
        if (w->res->nerrors < SPF_MAX_ERRORS && push_str(&w->res->errors, &w->res->nerrors, msg) < 0)
                return -ENOMEM;
        return 0;
}

static int walk_note(struct walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int walk_note(struct walk *w, const char *fmt, ...)
{
        char msg[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return push_str(&w->res->notes, &w->res->nnotes, msg);
}

static bool same_domain(const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b);

        if (la && a[la - 1] == '.')
                la--;
        if (lb && b[lb - 1] == '.')
                lb--;
        return la == lb && strncasecmp(a, b, la) == 0;
}

static const char *term_name(const struct spf_term *t)
{
        static const char *const names[] = { "all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists" };

        return names[t->kind];
}

/* Count one DNS-querying term: 0 when it may be looked up. Past the cap:
 * -E2BIG, or with keep_going 1 (skip it; only the first one is reported and
 * counted). */
static int count_lookup(struct walk *w, const char *domain, const char *what, const char *arg)
{
        if (w->res->lookups > w->max_lookups)
                return 1;
        if (++w->res->lookups <= w->max_lookups)
                return 0;
        return walk_fail(w, -E2BIG, "%s: too many DNS lookups: %s%s%s is lookup %u, the limit is %u (RFC 7208 4.6.4)",
                         domain, what, arg ? ":" : "", arg ? arg : "", w->res->lookups, w->max_lookups) ?: 1;
}

static int eval_domain(struct walk *w, const char *domain, struct sets *out);

/* Remember where a '+' range came from: "DOMAIN" for ip4/ip6, "DOMAIN (a HOST)"
 * for a and mx. */
static int add_origin(struct walk *w, const struct prefix *p, const char *domain, const char *mech,
                      const char *host)
{
        struct spf_origin *o = realloc(w->res->origins, (w->res->norigins + 1) * sizeof(*o));
        char *d = NULL;

        if (!o)
                return -ENOMEM;
        w->res->origins = o;
        if (mech) {
                if (asprintf(&d, "%s (%s %s)", domain, mech, host) < 0)
                        d = NULL;
        } else {
                d = strdup(domain);
        }
        if (!d)
                return -ENOMEM;
        o[w->res->norigins].prefix = *p;
        o[w->res->norigins].domain = d;
        w->res->norigins++;
        return 0;
}

/* Addresses of host (A and AAAA) widened to the term's lengths, into m. */
static int add_host_addrs(struct walk *w, const char *domain, const struct spf_term *t, const char *host,
                          struct sets *m)
{
        static const int families[2] = { AF_INET, AF_INET6 };
        char lerr[256];

        for (int f = 0; f < 2; f++) {
                struct prefix *v = NULL;
                size_t n = 0;
                int r;

                lerr[0] = '\0';
                r = w->lk->addrs(host, families[f], &v, &n, lerr, sizeof(lerr), w->lk->userdata);
                if (r == -ENOENT || r == -ENODATA) {
                        free(v);
                        continue;       /* a void lookup: matches nothing */
                }
                if (r < 0) {
                        free(v);
                        return walk_fail(w, r, "%s: %s: lookup of %s failed: %s", domain, term_name(t), host,
                                         lerr[0] ? lerr : strerror(-r));
                }
                for (size_t i = 0; i < n; i++) {
                        unsigned len = f == 0 ? t->cidr4 : t->cidr6;
                        struct prefix px = { .family = families[f], .len = (uint8_t)len };
                        struct range rg;

                        if (v[i].family != families[f])
                                continue;
                        rg = widen(families[f], v[i].addr, len);
                        px.addr = rg.lo;
                        if (range_list_add(&m->l[f], rg) < 0 ||
                            (t->qualifier == '+' && add_origin(w, &px, domain, term_name(t), host) < 0)) {
                                free(v);
                                return -ENOMEM;
                        }
                }
                free(v);
        }
        return 0;
}

/* The set of addresses term t of domain's record matches, into m. Returns 0
 * (also after a reported error with keep_going), or a negative errno. */
static int term_match(struct walk *w, const char *domain, const struct spf_term *t, struct sets *m)
{
        const char *target = t->domain ? t->domain : domain;
        char lerr[256];
        int r;

        switch (t->kind) {
        case SPF_ALL:
                if (t->qualifier == '+')
                        return walk_fail(w, -EPERM, "%s: '+all' authorises every address; refusing to use it",
                                         domain);
                if (range_list_add(&m->l[0], (struct range){ 0, 0xffffffffu }) < 0 ||
                    range_list_add(&m->l[1], (struct range){ 0, ALL_ONES }) < 0)
                        return -ENOMEM;
                break;
        case SPF_IP4:
        case SPF_IP6: {
                int f = t->kind == SPF_IP4 ? 0 : 1;

                if (range_list_add(&m->l[f], prefix_range(&t->prefix)) < 0)
                        return -ENOMEM;
                if (t->qualifier == '+' && add_origin(w, &t->prefix, domain, NULL, NULL) < 0)
                        return -ENOMEM;
                break;
        }
        case SPF_PTR:
        case SPF_EXISTS:
                r = count_lookup(w, domain, term_name(t), t->domain);
                if (r)
                        return r < 0 ? r : 0;
                return walk_note(w, "%s: %c%s%s%s ignored: it cannot be expressed as address ranges", domain,
                                 t->qualifier, term_name(t), t->domain ? ":" : "", t->domain ? t->domain : "");
        case SPF_INCLUDE: {
                struct sets inc;

                r = count_lookup(w, domain, "include", t->domain);
                if (r)
                        return r < 0 ? r : 0;
                if (t->macro)
                        return walk_fail(w, -EINVAL, "%s: include:%s: macros cannot be expanded to fixed ranges",
                                         domain, t->domain);
                sets_init(&inc);
                r = eval_domain(w, t->domain, &inc);
                if (r == 0)
                        r = range_union(&m->l[0], &inc.l[0]) ?: range_union(&m->l[1], &inc.l[1]);
                sets_free(&inc);
                return r;
        }
        case SPF_A:
                r = count_lookup(w, domain, "a", t->domain);
                if (r)
                        return r < 0 ? r : 0;
                if (t->macro)
                        return walk_fail(w, -EINVAL, "%s: a:%s: macros cannot be expanded to fixed ranges",
                                         domain, t->domain);
                return add_host_addrs(w, domain, t, target, m);
        case SPF_MX: {
                char **hosts = NULL;
                size_t n = 0;

                r = count_lookup(w, domain, "mx", t->domain);
                if (r)
                        return r < 0 ? r : 0;
                if (t->macro)
                        return walk_fail(w, -EINVAL, "%s: mx:%s: macros cannot be expanded to fixed ranges",
                                         domain, t->domain);
                lerr[0] = '\0';
                r = w->lk->mx(target, &hosts, &n, lerr, sizeof(lerr), w->lk->userdata);
                if (r == -ENOENT || r == -ENODATA)
                        return 0;
                if (r < 0)
                        return walk_fail(w, r, "%s: mx: MX lookup of %s failed: %s", domain, target,
                                         lerr[0] ? lerr : strerror(-r));
                if (n > SPF_MAX_MX_HOSTS) {
                        r = walk_fail(w, -E2BIG, "%s: mx: %s has %zu MX hosts, the limit is %d (RFC 7208 4.6.4)",
                                      domain, target, n, SPF_MAX_MX_HOSTS);
                } else {
                        for (size_t i = 0; i < n && r >= 0; i++)
                                if (strcmp(hosts[i], ".") != 0)
                                        r = add_host_addrs(w, domain, t, hosts[i], m);
                }
                for (size_t i = 0; i < n; i++)
                        free(hosts[i]);
                free(hosts);
                return r;
        }
        }
        return 0;
}

/* Find the one SPF record among name's TXT records. */
static int fetch_record(struct walk *w, const char *domain, struct spf_record **ret)
{
        char **v = NULL;
        size_t n = 0, found = 0, at = 0;
        char lerr[256] = "";
        char perrbuf[256] = "";
        int r;

        r = w->lk->txt(domain, &v, &n, lerr, sizeof(lerr), w->lk->userdata);
        if (r == -ENOENT || r == -ENODATA) {
                r = walk_fail(w, -ENOENT, "%s: no SPF record (%s)", domain,
                              r == -ENOENT ? "NXDOMAIN" : "no TXT records");
                goto out;
        }
        if (r < 0) {
                r = walk_fail(w, r, "%s: TXT lookup failed: %s", domain, lerr[0] ? lerr : strerror(-r));
                goto out;
        }
        for (size_t i = 0; i < n; i++)
                if (spf_is_record(v[i])) {
                        found++;
                        at = i;
                }
        if (found == 0) {
                r = walk_fail(w, -ENOENT, "%s: no SPF record among its %zu TXT records", domain, n);
                goto out;
        }
        if (found > 1) {
                r = walk_fail(w, -EINVAL, "%s: %zu SPF records (there must be exactly one)", domain, found);
                goto out;
        }
        r = spf_parse(v[at], ret, perrbuf, sizeof(perrbuf));
        if (r == -EINVAL)
                r = walk_fail(w, r, "%s: malformed SPF record: %s", domain, perrbuf);
        else if (r == 0)
                r = 1;          /* have a record */
out:
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
        return r;
}

/* The "pass" set of domain's record into out (initialised by the caller). */
static int eval_domain(struct walk *w, const char *domain, struct sets *out)
{
        struct spf_record *rec = NULL;
        struct sets *m = NULL;
        bool has_all = false;
        int r;

        for (size_t i = 0; i < w->depth; i++) {
                if (same_domain(w->path[i], domain)) {
                        char chain[400];
                        size_t len = 0;

                        chain[0] = '\0';
                        for (size_t k = i; k < w->depth && len < sizeof(chain); k++)
                                len += (size_t)snprintf(chain + len, sizeof(chain) - len, "%s -> ", w->path[k]);
                        return walk_fail(w, -ELOOP, "%s: include/redirect loop: %s%s", w->path[w->depth - 1],
                                         len < sizeof(chain) ? chain : "", domain);
                }
        }
        if (w->depth >= SPF_MAX_DEPTH)
                return walk_fail(w, -ELOOP, "%s: includes nested deeper than %d", domain, SPF_MAX_DEPTH);

        r = fetch_record(w, domain, &rec);
        if (r <= 0)
                return r;
        r = push_str(&w->res->domains, &w->res->ndomains, domain);
        if (r < 0)
                goto out;
        if (rec->has_exp) {
                r = walk_note(w, "%s: exp= ignored", domain);
                if (r < 0)
                        goto out;
        }
        w->path[w->depth++] = domain;

        m = calloc(rec->n ? rec->n : 1, sizeof(*m));
        if (!m) {
                r = -ENOMEM;
                goto pop;
        }
        for (size_t i = 0; i < rec->n; i++)
                sets_init(&m[i]);
        for (size_t i = 0; i < rec->n; i++) {
                if (rec->v[i].kind == SPF_ALL)
                        has_all = true;
                r = term_match(w, domain, &rec->v[i], &m[i]);
                if (r < 0)
                        goto pop;
                range_list_merge(&m[i].l[0]);
                range_list_merge(&m[i].l[1]);
        }
        /* redirect= applies only when no mechanism matched, and never when
         * the record has an 'all'. */
        if (rec->redirect && !has_all) {
                r = count_lookup(w, domain, "redirect", rec->redirect);
                if (r < 0)
                        goto pop;
                if (r == 0) {
                        if (rec->redirect_macro)
                                r = walk_fail(w, -EINVAL, "%s: redirect=%s: macros cannot be expanded to fixed ranges",
                                              domain, rec->redirect);
                        else
                                r = eval_domain(w, rec->redirect, out);
                        if (r < 0)
                                goto pop;
                }
        }
        /* Fold backwards: first match wins. */
        for (size_t i = rec->n; i-- > 0;) {
                for (int f = 0; f < 2; f++) {
                        r = rec->v[i].qualifier == '+' ? range_union(&out->l[f], &m[i].l[f])
                                                       : range_minus(&out->l[f], &m[i].l[f]);
                        if (r < 0)
                                goto pop;
                }
        }
        r = 0;
pop:
        w->depth--;
out:
        if (m) {
                for (size_t i = 0; i < rec->n; i++)
                        sets_free(&m[i]);
                free(m);
        }
        spf_record_free(rec);
        return r;
}

void spf_result_free(struct spf_result *r)
{
        if (!r)
                return;
        range_list_free(&r->v4);
        range_list_free(&r->v6);
        for (size_t i = 0; i < r->ndomains; i++)
                free(r->domains[i]);
        free(r->domains);
        for (size_t i = 0; i < r->norigins; i++)
                free(r->origins[i].domain);
        free(r->origins);
        for (size_t i = 0; i < r->nnotes; i++)
                free(r->notes[i]);
        free(r->notes);
        for (size_t i = 0; i < r->nerrors; i++)
                free(r->errors[i]);
        free(r->errors);
        memset(r, 0, sizeof(*r));
        range_list_init(&r->v4, AF_INET);
        range_list_init(&r->v6, AF_INET6);
}

int spf_expand(const char *domain, const struct spf_lookup *lk, const struct spf_opts *opts,
               struct spf_result *ret, char *err, size_t errlen)
{
        struct walk w = {
                .lk = lk,
                .max_lookups = opts && opts->max_lookups ? opts->max_lookups : SPF_DEFAULT_MAX_LOOKUPS,
                .keep_going = opts && opts->keep_going,
                .res = ret,
                .err = err,
                .errlen = errlen,
        };
        struct sets out;
        bool macro;
        int r;

        memset(ret, 0, sizeof(*ret));
        range_list_init(&ret->v4, AF_INET);
        range_list_init(&ret->v6, AF_INET6);
        if (errlen)
                err[0] = '\0';
        if (!domain || !domain_spec_valid(domain, strlen(domain), &macro) || macro) {
                snprintf(err, errlen, "'%.64s': not a domain name", domain ? domain : "");
                ret->first_error = -EINVAL;
                return -EINVAL;
        }
        sets_init(&out);
        r = eval_domain(&w, domain, &out);
        if (r == -ENOMEM)
                snprintf(err, errlen, "out of memory");
        if (r < 0) {
                sets_free(&out);
                return r;
        }
        ret->v4 = out.l[0];
        ret->v6 = out.l[1];
        return 0;
}
