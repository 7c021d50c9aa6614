/* src/doctor.c: `mxlock doctor` (see doctor.h).
 *
 * Checks are collected first and printed at the end, as text or as one JSON
 * object. Each check has a status (PASS, WARN, FAIL, or INFO, which is
 * neither counted nor failing), a name (config, mx, provider, spf, table,
 * listening, stale, caveat, outbound, relay), an optional subject (a domain,
 * a policy, a port, a catalog) and a one-line explanation. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "catalog.h"
#include "cli.h"
#include "config.h"
#include "dns.h"
#include "doctor.h"
#include "json.h"
#include "policy.h"
#include "prefix.h"
#include "ruleset.h"
#include "spf.h"

enum status { ST_PASS, ST_WARN, ST_FAIL, ST_INFO };

static const char *const status_text[] = { "PASS", "WARN", "FAIL", "INFO" };
static const char *const status_json[] = { "pass", "warn", "fail", "info" };

struct check {
        enum status st;
        char name[16];
        char *subject;
        char *msg;
};

struct doctor {
        struct check *v;
        size_t n;
        bool oom;
        struct dns_resolver res;
        struct config *cfg;
        struct policy_set *ps;
        const char *dirs;
        unsigned stale_days;
        struct range_list local[2];     /* this host's addresses, IPv4 and IPv6 */
        struct catalog **cats;          /* every catalog in dirs, keys only (see load_catalogs) */
        size_t ncats;
        bool cats_loaded;
};

static void add(struct doctor *d, enum status st, const char *name, const char *subject, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

static void add(struct doctor *d, enum status st, const char *name, const char *subject, const char *fmt, ...)
{
        struct check *v, *c;
        va_list ap;

        if (d->oom)
                return;
        v = realloc(d->v, (d->n + 1) * sizeof(*v));
        if (!v) {
                d->oom = true;
                return;
        }
        d->v = v;
        c = &v[d->n];
        memset(c, 0, sizeof(*c));
        c->st = st;
        snprintf(c->name, sizeof(c->name), "%s", name);
        c->subject = subject ? strdup(subject) : NULL;
        va_start(ap, fmt);
        if (vasprintf(&c->msg, fmt, ap) < 0)
                c->msg = NULL;
        va_end(ap);
        if (!c->msg || (subject && !c->subject)) {
                free(c->msg);
                free(c->subject);
                d->oom = true;
                return;
        }
        d->n++;
}

static void usage(FILE *out)
{
        fprintf(out,
                "Usage: mxlock doctor [OPTIONS] DOMAIN...\n"
                "\n"
                "The provider onboarding checklist, run on the mail server:\n"
                "  config     the configuration loads and some policy locks port 25\n"
                "  mx         every MX of DOMAIN resolves into the allowed ranges (an MX\n"
                "             elsewhere, such as at this host, is a bypass hole: FAIL)\n"
                "  provider   the catalog whose MX host patterns fit each MX host; FAIL when\n"
                "             the policy names another region's catalog of that provider\n"
                "  spf        DOMAIN's SPF record authorises the provider (WARN if not)\n"
                "  table      the mxlock table is loaded with non-empty allow sets\n"
                "  dnat       a DNAT rule to a locked port (a published container) is checked too\n"
                "  listening  something listens on each locked port\n"
                "  stale      provider catalogs were checked within --stale-days (WARN)\n"
                "  caveat     (INFO) a provider's ranges are shared by all its customers,\n"
                "             and what ties mail to your own account at the MTA\n"
                "  outbound   each [outbound] section lists users (none: every attempt is\n"
                "             refused, WARN)\n"
                "  relay      Postfix's relayhost (postconf) is an allowed destination of the\n"
                "             [outbound] section locking its port (FAIL if not), and its\n"
                "             mail_owner is one of the section's users\n"
                "\n"
                "  --format text|json    output (default text)\n"
                "  --nameserver IP[:PORT]  ask this DNS server instead of resolv.conf's\n"
                "  --timeout SEC         per DNS query try (default 3, 2 tries)\n"
                "  --provider-dirs DIRS  catalog directories (default: the configuration's)\n"
                "  --stale-days N        catalog age that earns a warning (default %d)\n"
                "\n"
                "Exit: 0 no FAIL (warnings and INFO allowed), 1 at least one FAIL, 2 usage error.\n",
                DOCTOR_DEFAULT_STALE_DAYS);
}

/* ------------------------------------------------------------------ */
/* Helpers */

static void local_addrs(struct doctor *d)
{
        struct ifaddrs *ifa = NULL;

        range_list_init(&d->local[0], AF_INET);
        range_list_init(&d->local[1], AF_INET6);
        if (getifaddrs(&ifa) < 0)
                return;
        for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
                addr128 a;
                int f;

                if (!i->ifa_addr)
                        continue;
                if (i->ifa_addr->sa_family == AF_INET) {
                        a = addr_from_bytes(AF_INET, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr);
                        f = 0;
                } else if (i->ifa_addr->sa_family == AF_INET6) {
                        a = addr_from_bytes(AF_INET6, &((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr);
                        f = 1;
                } else {
                        continue;
                }
                (void) range_list_add(&d->local[f], (struct range){ a, a });
        }
        freeifaddrs(ifa);
        range_list_merge(&d->local[0]);
        range_list_merge(&d->local[1]);
}

/* An inbound policy that locks port 25 (the MX checks' policies; an
 * [outbound] section locking port 25 is about connections out). */
static bool inbound_25(const struct policy *p)
{
        return !p->outbound && policy_has_port(p, 25);
}

/* Is the address allowed on port 25 by some policy? *ret_policy: which. */
static bool allowed_25(const struct doctor *d, int family, addr128 a, const struct policy **ret_policy,
                       const struct policy_source **ret_src)
{
        for (size_t i = 0; i < d->ps->n; i++) {
                const struct policy *p = &d->ps->v[i];

                if (!inbound_25(p))
                        continue;
                if (policy_classify(p, family, a, ret_src)) {
                        *ret_policy = p;
                        return true;
                }
        }
        return false;
}

static bool any_policy_25(const struct doctor *d)
{
        for (size_t i = 0; i < d->ps->n; i++)
                if (inbound_25(&d->ps->v[i]))
                        return true;
        return false;
}

static bool any_outbound(const struct doctor *d)
{
        for (size_t i = 0; d->ps && i < d->ps->n; i++)
                if (d->ps->v[i].outbound)
                        return true;
        return false;
}

/* ------------------------------------------------------------------ */
/* mx */

static void check_mx_host(struct doctor *d, const char *domain, const struct dns_mx *mx)
{
        char err[512], list[512], bad[512];
        struct prefix *v = NULL;
        size_t n = 0, ll = 0, bl = 0, nbad = 0;
        const struct policy *pol = NULL;
        const struct policy_source *src = NULL;
        uint32_t ttl;
        int r;

        if (strcmp(mx->host, ".") == 0) {
                add(d, ST_WARN, "mx", domain, "null MX (RFC 7505): %s accepts no mail at all", domain);
                return;
        }
        r = dns_resolve_host(&d->res, mx->host, &v, &n, &ttl, err, sizeof(err));
        if (r < 0) {
                add(d, dns_error_is_permanent(r) ? ST_WARN : ST_FAIL, "mx", domain,
                    "MX %u %s does not resolve (%s): %s", mx->preference, mx->host, dns_error_name(r),
                    dns_error_is_permanent(r) ? "senders skip it, but it should be removed"
                                              : "cannot tell whether it is a bypass hole");
                return;
        }
        list[0] = bad[0] = '\0';
        for (size_t i = 0; i < n; i++) {
                char a[ADDR_STRLEN];
                const struct policy *p = NULL;
                const struct policy_source *s = NULL;
                bool local = range_list_contains(&d->local[v[i].family == AF_INET6], v[i].addr);

                addr_format(v[i].family, v[i].addr, a);
                if (ll < sizeof(list))
                        ll += (size_t)snprintf(list + ll, sizeof(list) - ll, "%s%s", ll ? ", " : "", a);
                if (allowed_25(d, v[i].family, v[i].addr, &p, &s)) {
                        if (!pol) {
                                pol = p;
                                src = s;
                        }
                        continue;
                }
                nbad++;
                if (bl < sizeof(bad))
                        bl += (size_t)snprintf(bad + bl, sizeof(bad) - bl, "%s%s%s", bl ? ", " : "", a,
                                               local ? ", an address of this host" : "");
        }
        free(v);
        if (nbad)
                add(d, ST_FAIL, "mx", domain,
                    "bypass hole: MX %s (%s) is not in the allowed ranges; senders will deliver to it directly",
                    mx->host, bad);
        else
                add(d, ST_PASS, "mx", domain, "MX %u %s (%s) is in the allowed ranges (policy %s: %s)",
                    mx->preference, mx->host, list, pol ? pol->name : "?", src && src->origin ? src->origin : "");
}

static void check_mx_region(struct doctor *d, const char *domain, const struct dns_mx *mx, size_t n);

static void check_mx(struct doctor *d, const char *domain)
{
        struct dns_mx *mx = NULL;
        size_t n = 0;
        uint32_t ttl;
        char err[512];
        int r;

        r = dns_mx(&d->res, domain, &mx, &n, &ttl, err, sizeof(err));
        if (r == -ENOENT) {
                add(d, ST_FAIL, "mx", domain, "%s does not exist (NXDOMAIN)", domain);
                return;
        }
        if (r == -ENODATA) {
                add(d, ST_FAIL, "mx", domain,
                    "%s has no MX records: senders deliver to its A/AAAA address, not through the gateway",
                    domain);
                return;
        }
        if (r < 0) {
                add(d, ST_FAIL, "mx", domain, "MX lookup failed: %s", err);
                return;
        }
        for (size_t i = 0; i < n; i++)
                check_mx_host(d, domain, &mx[i]);
        check_mx_region(d, domain, mx, n);
        dns_mx_free(mx, n);
}

/* ------------------------------------------------------------------ */
/* provider: the catalog whose MX host patterns fit the domain's MX hosts */

static int skip_entry(const char *text, const char *comment, int line, char err[CONFIG_ERRLEN], void *userdata)
{
        (void) text;
        (void) comment;
        (void) line;
        (void) err;
        (void) userdata;
        return 0;
}

static void load_one(const char *name, const char *path, void *userdata)
{
        struct doctor *d = userdata;
        struct catalog_scan sc = { .entry = skip_entry };
        struct catalog *c = NULL, **nv;
        char err[CONFIG_ERRLEN];

        if (catalog_scan_file(path, name, &sc, &c, err) < 0)
                return;         /* the stale check reports catalogs in use that do not load */
        if (sc.fd >= 0)
                close(sc.fd);
        nv = realloc(d->cats, (d->ncats + 1) * sizeof(*nv));
        if (!nv) {
                catalog_free(c);
                d->oom = true;
                return;
        }
        d->cats = nv;
        d->cats[d->ncats++] = c;
}

/* Every catalog in the provider dirs, once, with its keys (entries skipped). */
static void load_catalogs(struct doctor *d)
{
        if (d->cats_loaded)
                return;
        d->cats_loaded = true;
        (void) catalog_list(d->dirs, load_one, d);
}

static const struct catalog *find_catalog(const struct doctor *d, const char *name)
{
        for (size_t i = 0; i < d->ncats; i++)
                if (strcmp(d->cats[i]->name, name) == 0)
                        return d->cats[i];
        return NULL;
}

/* The first port-25 policy that names catalog name, or NULL. */
static const struct policy *policy_naming(const struct doctor *d, const char *name)
{
        for (size_t i = 0; i < d->ps->n; i++) {
                const struct policy *p = &d->ps->v[i];

                if (!inbound_25(p))
                        continue;
                for (size_t k = 0; k < p->nproviders; k++)
                        if (strcmp(p->providers[k], name) == 0)
                                return p;
        }
        return NULL;
}

static bool same_provider(const struct catalog *a, const struct catalog *b)
{
        return a->provider && b->provider && strcasecmp(a->provider, b->provider) == 0;
}

static void check_mx_host_region(struct doctor *d, const char *domain, const char *host)
{
        const struct catalog *best = NULL, *regional = NULL, *global = NULL;
        const struct policy *pol = NULL, *other = NULL;
        size_t score = 0;

        for (size_t i = 0; i < d->ncats; i++) {
                size_t m = catalog_mx_match(d->cats[i], host);

                if (m > score) {
                        score = m;
                        best = d->cats[i];
                }
        }
        if (!best)
                return;
        pol = policy_naming(d, best->name);
        if (pol) {
                add(d, ST_PASS, "provider", domain, "MX %s fits catalog %s (%s), which policy %s names", host,
                    best->name, best->description ? best->description : "", pol->name);
                return;
        }
        /* the port-25 policies' other catalogs of the same provider */
        for (size_t i = 0; i < d->ncats; i++) {
                const struct catalog *c = d->cats[i];
                const struct policy *p;

                if (c == best || !same_provider(c, best) || !(p = policy_naming(d, c->name)))
                        continue;
                if (c->nmx == 0 && !global) {
                        global = c;
                        other = p;
                } else if (c->nmx > 0 && !regional) {
                        regional = c;
                        if (!global)
                                other = p;
                }
        }
        if (global)
                add(d, ST_WARN, "provider", domain, "MX %s fits catalog %s (%s); policy %s names %s, which "
                    "admits every %s region: name %s instead", host, best->name,
                    best->description ? best->description : "", other->name, global->name, best->provider,
                    best->name);
        else if (regional)
                add(d, ST_FAIL, "provider", domain, "wrong region: MX %s fits catalog %s (%s), but policy %s "
                    "names %s (%s): mail from the %s data centres that serve %s is refused; name %s",
                    host, best->name, best->description ? best->description : "", other->name, regional->name,
                    regional->description ? regional->description : "", best->provider, domain, best->name);
        else
                add(d, ST_WARN, "provider", domain, "MX %s fits catalog %s (%s), which no port-25 policy names",
                    host, best->name, best->description ? best->description : "");
}

static void check_mx_region(struct doctor *d, const char *domain, const struct dns_mx *mx, size_t n)
{
        load_catalogs(d);
        for (size_t i = 0; i < n; i++) {
                bool dup = false;

                if (strcmp(mx[i].host, ".") == 0)
                        continue;
                for (size_t j = 0; j < i; j++)
                        dup |= strcasecmp(mx[j].host, mx[i].host) == 0;
                if (!dup)
                        check_mx_host_region(d, domain, mx[i].host);
        }
}

/* ------------------------------------------------------------------ */
/* caveat: shared ranges */

static void check_caveat(struct doctor *d)
{
        static const char generic[] = "accept mail from these ranges for your own domains only (no relaying), "
                                      "and tie it to your account with what the provider offers (SMTP "
                                      "authentication, a TLS client certificate, tenant headers or DKIM)";
        const char **seen = NULL;
        size_t nseen = 0;

        load_catalogs(d);
        for (size_t i = 0; i < d->ps->n; i++) {
                const struct policy *p = &d->ps->v[i];

                if (!inbound_25(p))
                        continue;
                for (size_t k = 0; k < p->nproviders; k++) {
                        const char *name = p->providers[k], **nv;
                        const struct catalog *c = find_catalog(d, name);
                        const char *who;
                        bool dup = false;

                        for (size_t j = 0; j < nseen; j++)
                                dup |= strcmp(seen[j], name) == 0;
                        if (dup)
                                continue;
                        nv = realloc(seen, (nseen + 1) * sizeof(*nv));
                        if (!nv) {
                                d->oom = true;
                                break;
                        }
                        seen = nv;
                        seen[nseen++] = name;
                        who = c && c->provider ? c->provider : name;
                        add(d, ST_INFO, "caveat", name, "catalog %s: its ranges are shared by every customer of "
                            "%s, so the lock proves mail came through some %s customer, not through your own "
                            "account. At the MTA: %s", name, who, who, c && c->tenant ? c->tenant : generic);
                }
        }
        free(seen);
}

/* ------------------------------------------------------------------ */
/* spf */

static bool overlaps(const struct range_list *l, struct range r)
{
        for (size_t i = 0; i < l->n; i++)
                if (l->v[i].lo <= r.hi && r.lo <= l->v[i].hi)
                        return true;
        return false;
}

/* "provider NAME: ..." -> NAME into buf. */
static bool provider_of(const char *origin, char *buf, size_t len)
{
        const char *s, *e;

        if (!origin || strncmp(origin, "provider ", 9) != 0)
                return false;
        s = origin + 9;
        e = strchr(s, ':');
        if (!e || (size_t)(e - s) >= len)
                return false;
        memcpy(buf, s, (size_t)(e - s));
        buf[e - s] = '\0';
        return true;
}

static void check_spf(struct doctor *d, const char *domain)
{
        struct spf_opts so = { .keep_going = true };
        struct spf_lookup lk;
        struct spf_result res;
        char err[512], matched[512] = "", all[512] = "";
        size_t ml = 0, al = 0;
        bool any_provider = false;
        int r;

        /* The provider names of the port-25 policies, and which the SPF covers. */
        dns_spf_lookup_init(&lk, &d->res);
        r = spf_expand(domain, &lk, &so, &res, err, sizeof(err));
        if (r < 0) {
                add(d, ST_WARN, "spf", domain, "cannot check SPF: %s", err);
                spf_result_free(&res);
                return;
        }
        for (size_t i = 0; i < d->ps->n; i++) {
                const struct policy *p = &d->ps->v[i];

                if (!inbound_25(p))
                        continue;
                for (size_t k = 0; k < p->nsrc; k++) {
                        const struct policy_source *s = &p->src[k];
                        const struct range_list *l = s->prefix.family == AF_INET6 ? &res.v6 : &res.v4;
                        char name[CATALOG_NAME_MAX + 2];

                        if (s->deny || !provider_of(s->origin, name, sizeof(name) - 1))
                                continue;
                        any_provider = true;
                        strcat(name, ",");
                        if (!strstr(all, name) && al + strlen(name) + 1 < sizeof(all))
                                al += (size_t)snprintf(all + al, sizeof(all) - al, "%s", name);
                        if (overlaps(l, prefix_range(&s->prefix)) && !strstr(matched, name) &&
                            ml + strlen(name) + 1 < sizeof(matched))
                                ml += (size_t)snprintf(matched + ml, sizeof(matched) - ml, "%s", name);
                }
        }
        if (ml)
                matched[ml - 1] = '\0';
        if (al)
                all[al - 1] = '\0';
        if (res.first_error == -ENOENT && res.ndomains == 0) {
                add(d, ST_WARN, "spf", domain, "%s has no SPF record: receivers cannot tell the gateway's "
                    "mail for %s from forgeries", domain, domain);
        } else if (!any_provider) {
                add(d, ST_WARN, "spf", domain, "no port-25 policy uses a provider catalog; nothing to compare "
                    "the SPF record of %s with", domain);
        } else if (ml) {
                add(d, ST_PASS, "spf", domain, "the SPF record of %s authorises %s%s%s%s", domain, matched,
                    res.first_error ? " (but: " : "", res.first_error ? err : "", res.first_error ? ")" : "");
        } else {
                add(d, ST_WARN, "spf", domain, "the SPF record of %s does not authorise %s%s%s: mail the "
                    "gateway relays for %s may fail SPF at receivers", domain, all,
                    res.first_error ? "; also: " : "", res.first_error ? err : "", domain);
        }
        spf_result_free(&res);
}

/* ------------------------------------------------------------------ */
/* table */

static void check_table(struct doctor *d)
{
        struct ruleset_opts o = { .table = d->cfg->table };
        struct ruleset *rs = NULL;
        const char *table = d->cfg->table;
        int r;

        r = ruleset_open(&o, &rs);
        if (r < 0) {
                add(d, ST_WARN, "table", table, "cannot read the nftables ruleset (%s): run doctor as root",
                    strerror(-r));
                return;
        }
        r = ruleset_table_exists(rs);
        if (r < 0) {
                add(d, ST_WARN, "table", table, "cannot read the nftables ruleset (%s): run doctor as root",
                    strerror(-r));
                goto out;
        }
        if (r == 0) {
                add(d, ST_FAIL, "table", table, "table inet %s is not loaded: mxlockd is not running (or "
                    "someone removed its table); nothing is locked", table);
                goto out;
        }
        for (size_t i = 0; i < d->ps->n; i++) {
                const struct policy *p = &d->ps->v[i];
                const char *kind = p->outbound ? "outbound" : "policy";
                char n4[64], n6[64];
                size_t s4 = 0, s6 = 0;
                int r4, r6;

                ruleset_list_name(p->name, RULESET_ALLOW, AF_INET, n4, sizeof(n4));
                ruleset_list_name(p->name, RULESET_ALLOW, AF_INET6, n6, sizeof(n6));
                r4 = ruleset_list_size(rs, p->name, RULESET_ALLOW, AF_INET, &s4);
                r6 = ruleset_list_size(rs, p->name, RULESET_ALLOW, AF_INET6, &s6);
                if (r4 < 0 || r6 < 0) {
                        add(d, ST_FAIL, "table", p->name, "%s %s: set %s is missing from table inet %s "
                            "(%s): reload mxlockd", kind, p->name, r4 < 0 ? n4 : n6, table,
                            strerror(-(r4 < 0 ? r4 : r6)));
                } else if (s4 + s6 == 0 || (p->allow[FAM_V4].n && !s4) || (p->allow[FAM_V6].n && !s6)) {
                        add(d, ST_FAIL, "table", p->name, "%s %s: the kernel sets are empty (%s %zu, %s %zu "
                            "ranges; the configuration has %zu and %zu): reload mxlockd", kind, p->name, n4, s4, n6,
                            s6, p->allow[FAM_V4].n, p->allow[FAM_V6].n);
                } else {
                        add(d, ST_PASS, "table", p->name, "table inet %s is loaded: %s has %zu ranges, %s %zu",
                            table, n4, s4, n6, s6);
                }
        }
out:
        ruleset_close(rs);
}

/* ------------------------------------------------------------------ */
/* dnat */

struct dnat_ctx {
        struct doctor *d;
        int covered;            /* ruleset_covers_dnat */
};

static void dnat_rule(const char *family, const char *table, const char *chain, uint16_t port, void *userdata)
{
        struct dnat_ctx *c = userdata;
        const struct policy *p = NULL;
        char subj[16];

        for (size_t i = 0; !p && i < c->d->ps->n; i++)
                if (!c->d->ps->v[i].outbound && policy_has_port(&c->d->ps->v[i], port))
                        p = &c->d->ps->v[i];
        if (!p)
                return;
        snprintf(subj, sizeof(subj), "%u", port);
        if (c->covered > 0)
                add(c->d, ST_PASS, "dnat", subj, "table %s %s, chain %s: DNAT of port %u (policy %s) is covered: "
                    "table inet %s checks the connections it sends on, in its forward chain", family, table, chain,
                    port, p->name, c->d->cfg->table);
        else
                add(c->d, ST_FAIL, "dnat", subj, "table %s %s, chain %s: DNAT of port %u (policy %s) is not covered: "
                    "table inet %s is not loaded (or predates forward checks); a direct sender reaches the MTA "
                    "behind this rule", family, table, chain, port, p->name, c->d->cfg->table);
}

/* DNAT rules to a locked port (an MTA in a container published with
 * -p 25:25), and whether our table checks what they send on. */
static void check_dnat(struct doctor *d)
{
        struct dnat_ctx c = { .d = d };
        struct ruleset_opts o = { .table = d->cfg->table };
        struct ruleset *rs = NULL;
        int r;

        if (ruleset_open(&o, &rs) < 0)
                return;         /* check_table says why */
        c.covered = ruleset_covers_dnat(rs);
        r = ruleset_dnat_rules(rs, dnat_rule, &c);
        if (r < 0)
                add(d, ST_WARN, "dnat", NULL, "cannot read the nftables ruleset for DNAT rules (%s)", strerror(-r));
        ruleset_close(rs);
}

/* ------------------------------------------------------------------ */
/* listening */

/* Append the LISTEN sockets on port from /proc/net/tcp or tcp6 to buf. */
static int proc_listeners(const char *path, int family, uint16_t port, char *buf, size_t len, size_t *off)
{
        char line[512];
        int found = 0;
        FILE *f;

        f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? 0 : -errno;
        while (fgets(line, sizeof(line), f)) {
                char local[64], remote[64], st[8];
                unsigned lport;
                char *colon;

                if (sscanf(line, " %*s %63s %63s %7s", local, remote, st) != 3)
                        continue;
                if (strcmp(st, "0A") != 0)        /* TCP_LISTEN */
                        continue;
                colon = strchr(local, ':');
                if (!colon || sscanf(colon + 1, "%x", &lport) != 1 || lport != port)
                        continue;
                found++;
                *colon = '\0';
                {
                        unsigned char b[16];
                        char a[ADDR_STRLEN];
                        size_t hl = strlen(local);

                        if ((family == AF_INET && hl != 8) || (family == AF_INET6 && hl != 32))
                                continue;
                        /* The kernel prints each 32-bit word in host byte order. */
                        for (size_t w = 0; w < hl / 8; w++) {
                                unsigned word;
                                char h[9];

                                memcpy(h, local + w * 8, 8);
                                h[8] = '\0';
                                sscanf(h, "%x", &word);
                                memcpy(b + w * 4, &word, 4);
                        }
                        addr_format(family, addr_from_bytes(family, b), a);
                        if (*off < len)
                                *off += (size_t)snprintf(buf + *off, len - *off, "%s%s%s%s:%u", *off ? ", " : "",
                                                         family == AF_INET6 ? "[" : "", a,
                                                         family == AF_INET6 ? "]" : "", port);
                }
        }
        fclose(f);
        return found;
}

static void check_listening(struct doctor *d)
{
        uint16_t done[1024];
        size_t ndone = 0;

        for (size_t i = 0; i < d->ps->n; i++) {
                const struct policy *p = &d->ps->v[i];

                if (p->outbound)
                        continue;       /* ports this host connects out to, not ones it serves */
                for (size_t k = 0; k < p->nports; k++) {
                        uint16_t port = p->ports[k];
                        char buf[512], subj[16];
                        size_t off = 0;
                        bool seen = false;
                        int a, b;

                        for (size_t j = 0; j < ndone; j++)
                                seen |= done[j] == port;
                        if (seen || ndone == sizeof(done) / sizeof(done[0]))
                                continue;
                        done[ndone++] = port;
                        snprintf(subj, sizeof(subj), "%u", port);
                        buf[0] = '\0';
                        a = proc_listeners("/proc/net/tcp", AF_INET, port, buf, sizeof(buf), &off);
                        b = proc_listeners("/proc/net/tcp6", AF_INET6, port, buf, sizeof(buf), &off);
                        if (a < 0 && b < 0)
                                add(d, ST_WARN, "listening", subj, "cannot read /proc/net/tcp: %s", strerror(-a));
                        else if (a > 0 || b > 0)
                                add(d, ST_PASS, "listening", subj, "port %u (policy %s) has a listener: %s", port,
                                    p->name, buf);
                        else
                                add(d, ST_FAIL, "listening", subj, "nothing listens on port %u (policy %s): the "
                                    "gateway cannot deliver; is the MTA running?", port, p->name);
                }
        }
}

/* ------------------------------------------------------------------ */
/* stale */

static long days_since(const char *date)
{
        struct tm tm;
        time_t t;

        memset(&tm, 0, sizeof(tm));
        if (!date || !strptime(date, "%Y-%m-%d", &tm))
                return -1;
        t = timegm(&tm);
        return (long)((time(NULL) - t) / 86400);
}

static void check_stale(struct doctor *d)
{
        const char **seen = NULL;
        size_t nseen = 0;

        for (size_t i = 0; i < d->ps->n; i++) {
                const struct policy *p = &d->ps->v[i];

                for (size_t k = 0; k < p->nproviders; k++) {
                        const char *name = p->providers[k];
                        char err[CONFIG_ERRLEN];
                        struct catalog *c = NULL;
                        bool dup = false;
                        const char **nv;
                        long age;

                        for (size_t j = 0; j < nseen; j++)
                                dup |= strcmp(seen[j], name) == 0;
                        if (dup)
                                continue;
                        nv = realloc(seen, (nseen + 1) * sizeof(*nv));
                        if (!nv)
                                break;
                        seen = nv;
                        seen[nseen++] = name;
                        if (catalog_load(d->dirs, name, &c, err) < 0) {
                                add(d, ST_WARN, "stale", name, "%s", err);
                                continue;
                        }
                        age = days_since(c->checked);
                        if (!c->checked)
                                add(d, ST_WARN, "stale", name, "catalog %s (%s) has no 'checked =' date: nobody "
                                    "knows when its ranges were last compared with the provider's", name, c->path);
                        else if (age > (long)d->stale_days)
                                add(d, ST_WARN, "stale", name, "catalog %s (%s) was checked %s, %ld days ago (more "
                                    "than %u)%s", name, c->path, c->checked, age, d->stale_days,
                                    c->spf ? ": run `mxlock sync`" : ": compare it with the provider's documentation");
                        else
                                add(d, ST_PASS, "stale", name, "catalog %s (%s) was checked %s (%ld day%s ago)", name,
                                    c->path, c->checked, age < 0 ? 0 : age, age == 1 ? "" : "s");
                        catalog_free(c);
                }
        }
        free(seen);
}

/* ------------------------------------------------------------------ */
/* outbound: the sections of the outbound lock */

static void ports_text(const struct policy *p, char *buf, size_t len)
{
        size_t off = 0;

        buf[0] = '\0';
        for (size_t k = 0; k < p->nports && off < len; k++)
                off += (size_t)snprintf(buf + off, len - off, "%s%u", k ? "," : "", p->ports[k]);
}

static void check_outbound(struct doctor *d)
{
        for (size_t i = 0; i < d->ps->n; i++) {
                const struct policy *p = &d->ps->v[i];
                char ports[128], users[256];
                size_t off = 0;

                if (!p->outbound)
                        continue;
                ports_text(p, ports, sizeof(ports));
                if (!p->nuids) {
                        add(d, ST_WARN, "outbound", p->name, "outbound %s lists no users: nobody may connect out to "
                            "ports %s: every attempt is refused", p->name, ports);
                        continue;
                }
                users[0] = '\0';
                for (size_t k = 0; k < p->nusers && off < sizeof(users); k++)
                        off += (size_t)snprintf(users + off, sizeof(users) - off, "%s%s", k ? ", " : "",
                                                p->users[k]);
                add(d, ST_PASS, "outbound", p->name, "outbound %s: %s may connect out to ports %s, to %zu IPv4 and "
                    "%zu IPv6 ranges", p->name, users, ports, p->allow[FAM_V4].n, p->allow[FAM_V6].n);
        }
}

/* ------------------------------------------------------------------ */
/* relay: the MTA's relay host is an allowed destination */

#define POSTCONF_TIMEOUT_MS 5000

/* The postconf to run: $MXLOCK_POSTCONF (tests point it at a fake that
 * prints fixed answers), else the first executable postconf on PATH or in
 * the sbin directories (doctor may run without them on PATH). NULL: none,
 * no Postfix. */
static const char *find_postconf(char *buf, size_t len)
{
        static const char *const sbin[] = { "/usr/sbin", "/usr/local/sbin", "/sbin" };
        const char *env = getenv("MXLOCK_POSTCONF"), *path = getenv("PATH");
        char dirs[4096];
        char *save = NULL;

        if (env && *env)
                return env;
        snprintf(dirs, sizeof(dirs), "%s", path ? path : "");
        for (char *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
                snprintf(buf, len, "%s/postconf", *dir ? dir : ".");
                if (access(buf, X_OK) == 0)
                        return buf;
        }
        for (size_t i = 0; i < sizeof(sbin) / sizeof(sbin[0]); i++) {
                snprintf(buf, len, "%s/postconf", sbin[i]);
                if (access(buf, X_OK) == 0)
                        return buf;
        }
        return NULL;
}

/* `postconf -h NAME`: its first line into out. Bounded: a postconf that
 * does not answer within POSTCONF_TIMEOUT_MS is killed. Returns 0, or a
 * negative errno (-ETIMEDOUT, -EIO when it exits with an error). */
static int postconf_get(const char *postconf, const char *name, char *out, size_t len)
{
        int fds[2], status = 0, r = 0, devnull;
        size_t have = 0;
        pid_t pid;

        out[0] = '\0';
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                r = -errno;
                close(fds[0]);
                close(fds[1]);
                return r;
        }
        if (pid == 0) {
                devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (devnull >= 0) {
                        (void) dup2(devnull, STDIN_FILENO);
                        (void) dup2(devnull, STDERR_FILENO);
                }
                (void) dup2(fds[1], STDOUT_FILENO);
                execl(postconf, "postconf", "-h", name, (char *)NULL);
                _exit(127);
        }
        close(fds[1]);
        for (;;) {
                struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
                char buf[512];
                ssize_t n;
                int pr = poll(&pfd, 1, POSTCONF_TIMEOUT_MS);

                if (pr < 0 && errno == EINTR)
                        continue;
                if (pr <= 0) {
                        r = pr == 0 ? -ETIMEDOUT : -errno;
                        (void) kill(pid, SIGKILL);
                        break;
                }
                n = read(fds[0], buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                for (ssize_t i = 0; i < n && have + 1 < len; i++)
                        out[have++] = buf[i];
        }
        close(fds[0]);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        out[have] = '\0';
        out[strcspn(out, "\n")] = '\0';
        if (r == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
                r = -EIO;
        return r;
}

/* One relayhost destination: "[host]:port", "[ipv6:2001:db8::1]:587",
 * "host:port", "host" (port 25 unless given; a name or a number). Returns
 * false when it cannot be read. */
static bool relay_split(char *dest, char **ret_host, unsigned *ret_port)
{
        char *host = dest, *port = NULL, *end;
        unsigned long v;

        if (*host == '[') {
                end = strchr(host, ']');
                if (!end)
                        return false;
                *end = '\0';
                host++;
                if (end[1] == ':')
                        port = end + 2;
                else if (end[1])
                        return false;
                if (strncasecmp(host, "ipv6:", 5) == 0)
                        host += 5;
        } else if ((end = strchr(host, ':')) && end == strrchr(host, ':')) {
                /* one colon: host:port (a bare IPv6 address has more) */
                *end = '\0';
                port = end + 1;
        }
        *ret_port = 25;
        if (port) {
                struct servent *se;

                errno = 0;
                v = strtoul(port, &end, 10);
                if (*port >= '0' && *port <= '9' && !*end && !errno && v > 0 && v <= 65535)
                        *ret_port = (unsigned)v;
                else if ((se = getservbyname(port, "tcp")))
                        *ret_port = ntohs((uint16_t)se->s_port);
                else
                        return false;
        }
        *ret_host = host;
        return *host != '\0';
}

/* The outbound section that locks a port (a port is locked once per
 * direction), or NULL. */
static const struct policy *outbound_for_port(const struct doctor *d, unsigned port)
{
        for (size_t i = 0; i < d->ps->n; i++)
                if (d->ps->v[i].outbound && policy_has_port(&d->ps->v[i], (uint16_t)port))
                        return &d->ps->v[i];
        return NULL;
}

static void check_relay_dest(struct doctor *d, const char *relayhost, char *dest)
{
        const struct policy *pol;
        char *host, err[512], list[512] = "", bad[512] = "", subj[300];
        struct prefix *v = NULL, one;
        const struct policy_source *matched = NULL;
        size_t n = 0, ll = 0, bl = 0;
        unsigned port;
        uint32_t ttl;
        int r;

        snprintf(subj, sizeof(subj), "%s", dest);
        if (!relay_split(dest, &host, &port)) {
                add(d, ST_WARN, "relay", subj, "relayhost '%s': cannot read destination '%s'", relayhost, subj);
                return;
        }
        pol = outbound_for_port(d, port);
        if (!pol) {
                add(d, ST_PASS, "relay", subj, "relayhost %s: no [outbound] section locks port %u, so the MTA "
                    "reaches it", subj, port);
                return;
        }
        if (addr_parse(host, &one.family, &one.addr) == 0) {
                one.len = (uint8_t)addr_bits(one.family);
                v = malloc(sizeof(*v));
                if (!v) {
                        d->oom = true;
                        return;
                }
                v[0] = one;
                n = 1;
        } else {
                r = dns_resolve_host(&d->res, host, &v, &n, &ttl, err, sizeof(err));
                if (r < 0) {
                        add(d, ST_WARN, "relay", subj, "relayhost %s does not resolve (%s): cannot tell whether "
                            "outbound %s lets the MTA reach it", subj, dns_error_name(r), pol->name);
                        return;
                }
        }
        for (size_t i = 0; i < n; i++) {
                const struct policy_source *src = NULL;
                char a[ADDR_STRLEN];

                addr_format(v[i].family, v[i].addr, a);
                if (ll < sizeof(list))
                        ll += (size_t)snprintf(list + ll, sizeof(list) - ll, "%s%s", ll ? ", " : "", a);
                if (policy_classify(pol, v[i].family, v[i].addr, &src)) {
                        if (!matched)
                                matched = src;
                        continue;
                }
                if (bl < sizeof(bad))
                        bl += (size_t)snprintf(bad + bl, sizeof(bad) - bl, "%s%s", bl ? ", " : "", a);
        }
        free(v);
        if (bl)
                add(d, ST_FAIL, "relay", subj, "relayhost %s (%s): %s is not an allowed destination of outbound %s "
                    "(port %u): the MTA's mail to its relay is refused; add it to `to`", subj, list, bad,
                    pol->name, port);
        else
                add(d, ST_PASS, "relay", subj, "relayhost %s (%s) is an allowed destination of outbound %s (port "
                    "%u: %s)", subj, list, pol->name, port, matched && matched->origin ? matched->origin : "");
}

/* Postfix's mail_owner runs its SMTP client: it must be one of the users
 * of the section that locks the relay's port. */
static void check_relay_owner(struct doctor *d, const char *postconf, const struct policy *pol)
{
        char owner[256], buf[4096];
        struct passwd pw, *pwp = NULL;
        int r;

        r = postconf_get(postconf, "mail_owner", owner, sizeof(owner));
        if (r < 0 || !owner[0])
                return;
        if (getpwnam_r(owner, &pw, buf, sizeof(buf), &pwp) != 0 || !pwp) {
                add(d, ST_WARN, "relay", owner, "Postfix's mail_owner %s is not a user of this host", owner);
                return;
        }
        if (policy_has_uid(pol, pwp->pw_uid))
                add(d, ST_PASS, "relay", owner, "Postfix's mail_owner %s (uid %u) is one of the users of outbound %s",
                    owner, (unsigned)pwp->pw_uid, pol->name);
        else
                add(d, ST_FAIL, "relay", owner, "Postfix's mail_owner %s (uid %u) is not one of the users of "
                    "outbound %s: Postfix's SMTP client cannot connect out; add it to `users`", owner,
                    (unsigned)pwp->pw_uid, pol->name);
}

static void check_relay(struct doctor *d)
{
        char pathbuf[4096], relayhost[1024], copy[1024], *save = NULL;
        const char *postconf = find_postconf(pathbuf, sizeof(pathbuf));
        const struct policy *pol;
        int r;

        if (!postconf) {
                add(d, ST_INFO, "relay", NULL, "postconf not found (no Postfix): the MTA's relay host is not "
                    "checked against the [outbound] sections");
                return;
        }
        r = postconf_get(postconf, "relayhost", relayhost, sizeof(relayhost));
        if (r < 0) {
                add(d, ST_WARN, "relay", NULL, "%s -h relayhost failed (%s): the relay host is not checked",
                    postconf, r == -EIO ? "it exited with an error" : strerror(-r));
                return;
        }
        snprintf(copy, sizeof(copy), "%s", relayhost);
        if (!copy[strspn(copy, " \t,")]) {
                pol = outbound_for_port(d, 25);
                if (pol)
                        add(d, ST_WARN, "relay", NULL, "Postfix has no relayhost: it delivers to each recipient's "
                            "MX on port 25, which outbound %s refuses unless it is among its destinations",
                            pol->name);
                else
                        add(d, ST_PASS, "relay", NULL, "Postfix has no relayhost, and no [outbound] section locks "
                            "port 25");
                return;
        }
        /* Postfix 3.5 and later take a list: comma or white space */
        pol = NULL;
        for (char *dest = strtok_r(copy, " \t,", &save); dest; dest = strtok_r(NULL, " \t,", &save)) {
                char *host;
                unsigned port;
                char tmp[1024];

                snprintf(tmp, sizeof(tmp), "%s", dest);
                if (!pol && relay_split(tmp, &host, &port))
                        pol = outbound_for_port(d, port);
                check_relay_dest(d, relayhost, dest);
        }
        if (pol)
                check_relay_owner(d, postconf, pol);
}

/* ------------------------------------------------------------------ */
/* Output */

static void print_text(FILE *out, const struct doctor *d, const char *config_path, char **domains, size_t ndomains,
                       const unsigned counts[4])
{
        fprintf(out, "mxlock doctor: %s; domain%s", config_path, ndomains == 1 ? "" : "s");
        for (size_t i = 0; i < ndomains; i++)
                fprintf(out, " %s", domains[i]);
        fprintf(out, "\n\n");
        for (size_t i = 0; i < d->n; i++) {
                const struct check *c = &d->v[i];

                fprintf(out, "  %s  %-10s %s\n", status_text[c->st], c->name, c->msg);
        }
        fprintf(out, "\nresult: %s (%u pass, %u warn, %u fail)\n",
               counts[ST_FAIL] ? "FAIL" : counts[ST_WARN] ? "PASS with warnings" : "PASS",
               counts[ST_PASS], counts[ST_WARN], counts[ST_FAIL]);
}

static void print_json(FILE *out, const struct doctor *d, const char *config_path, char **domains, size_t ndomains,
                       const unsigned counts[4])
{
        struct json_writer w;

        json_writer_file(&w, out);
        json_object_open(&w, NULL);
        json_put_bool(&w, "ok", !counts[ST_FAIL]);
        json_put_str(&w, "config", config_path);
        json_array_open(&w, "domains");
        for (size_t i = 0; i < ndomains; i++)
                json_put_str(&w, NULL, domains[i]);
        json_array_close(&w);
        json_array_open(&w, "checks");
        for (size_t i = 0; i < d->n; i++) {
                const struct check *c = &d->v[i];

                json_object_open(&w, NULL);
                json_put_str(&w, "check", c->name);
                json_put_str(&w, "status", status_json[c->st]);
                json_put_str(&w, "subject", c->subject);
                json_put_str(&w, "message", c->msg);
                json_object_close(&w);
        }
        json_array_close(&w);
        json_put_uint(&w, "pass", counts[ST_PASS]);
        json_put_uint(&w, "warn", counts[ST_WARN]);
        json_put_uint(&w, "fail", counts[ST_FAIL]);
        json_put_uint(&w, "info", counts[ST_INFO]);
        json_object_close(&w);
        fputc('\n', out);
}

int doctor_parse(struct doctor_opts *o, const struct cli *cli, int argc, char **argv, FILE *out, FILE *err)
{
        static const struct option opts[] = {
                { "format", required_argument, NULL, 'f' },
                { "nameserver", required_argument, NULL, 'n' },
                { "timeout", required_argument, NULL, 't' },
                { "provider-dirs", required_argument, NULL, 'd' },
                { "stale-days", required_argument, NULL, 's' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c;

        *o = (struct doctor_opts){ .config_path = cli->config_path, .stale_days = DOCTOR_DEFAULT_STALE_DAYS };
        optind = 0;
        while ((c = cli_getopt(argc, argv, "+h", opts, err)) != -1) {
                char *end;
                unsigned long v;

                switch (c) {
                case 'f':
                        if (strcmp(optarg, "json") == 0) {
                                o->json = true;
                        } else if (strcmp(optarg, "text") != 0) {
                                fprintf(err, "mxlock doctor: --format: '%s' is not text or json\n", optarg);
                                return 2;
                        }
                        break;
                case 'n':
                        if (dns_nameserver_check(optarg) < 0) {
                                fprintf(err, "mxlock doctor: --nameserver: '%s' is not IP, IP:PORT or "
                                        "[IPv6]:PORT\n", optarg);
                                return 2;
                        }
                        o->nameserver = optarg;
                        break;
                case 't':
                        errno = 0;
                        v = strtoul(optarg, &end, 10);
                        if (errno || *end || optarg[0] < '0' || optarg[0] > '9' || v == 0 || v > 60) {
                                fprintf(err, "mxlock doctor: --timeout: '%s' is not 1-60 seconds\n", optarg);
                                return 2;
                        }
                        o->timeout_ms = (int)v * 1000;
                        break;
                case 'd':
                        o->provider_dirs = optarg;
                        break;
                case 's':
                        errno = 0;
                        v = strtoul(optarg, &end, 10);
                        if (errno || *end || optarg[0] < '0' || optarg[0] > '9' || v > 100000) {
                                fprintf(err, "mxlock doctor: --stale-days: '%s' is not a number of days\n",
                                        optarg);
                                return 2;
                        }
                        o->stale_days = (unsigned)v;
                        break;
                case 'h':
                        usage(out);
                        return 0;
                default:
                        usage(err);
                        return 2;
                }
        }
        if (optind >= argc) {
                fprintf(err, "mxlock doctor: name at least one mail domain\n");
                usage(err);
                return 2;
        }
        for (int i = optind; i < argc; i++) {
                if (!cfg_domain_valid(argv[i])) {
                        fprintf(err, "mxlock doctor: '%s' is not a domain name\n", argv[i]);
                        return 2;
                }
        }
        o->domains = argv + optind;
        o->ndomains = (size_t)(argc - optind);
        return CLI_RUN;
}

int cmd_doctor(const struct doctor_opts *o, FILE *out, FILE *err)
{
        struct doctor d = {
                .stale_days = o->stale_days,
                .res = { .nameserver = o->nameserver, .timeout_ms = o->timeout_ms },
        };
        const char *config_path = o->config_path, *dirs_opt = o->provider_dirs;
        char msg[CONFIG_ERRLEN];
        unsigned counts[4] = { 0 };
        int r, ret;

        local_addrs(&d);

        /* config: everything else needs the policies. */
        r = config_load(config_path, &d.cfg, msg, NULL, NULL);
        if (r < 0) {
                add(&d, ST_FAIL, "config", config_path, "%s", msg);
        } else {
                d.dirs = dirs_opt ? dirs_opt : d.cfg->provider_dirs;
                {
                        struct policy_resolver pr = { .resolve = dns_policy_resolve, .userdata = &d.res };

                        r = policy_build(d.cfg, d.dirs, &pr, &d.ps, msg, NULL, NULL);
                }
                if (r < 0) {
                        add(&d, ST_FAIL, "config", config_path, "%s", msg);
                } else if (!any_policy_25(&d) && any_outbound(&d)) {
                        add(&d, ST_PASS, "config", config_path, "%s loads: %zu section%s, outbound only (no inbound "
                            "policy locks port 25: the MX and SPF checks are skipped) (mode %s)", config_path,
                            d.ps->n, d.ps->n == 1 ? "" : "s", cfg_mode_name(d.cfg->mode));
                } else if (!any_policy_25(&d)) {
                        add(&d, ST_FAIL, "config", config_path, "no policy locks port 25: the MX check has no "
                            "allowed ranges to compare with");
                } else {
                        char names[256] = "";
                        size_t nl = 0;

                        for (size_t i = 0; i < d.ps->n; i++)
                                if (inbound_25(&d.ps->v[i]) && nl < sizeof(names))
                                        nl += (size_t)snprintf(names + nl, sizeof(names) - nl, "%s%s",
                                                               nl ? ", " : "", d.ps->v[i].name);
                        add(&d, ST_PASS, "config", config_path, "%s loads: %zu polic%s, port 25 locked by %s (mode %s)",
                            config_path, d.ps->n, d.ps->n == 1 ? "y" : "ies", names, cfg_mode_name(d.cfg->mode));
                }
        }
        if (d.ps && any_policy_25(&d)) {
                for (size_t i = 0; i < o->ndomains; i++) {
                        check_mx(&d, o->domains[i]);
                        check_spf(&d, o->domains[i]);
                }
        }
        if (d.ps) {
                check_table(&d);
                check_dnat(&d);
                check_listening(&d);
                check_stale(&d);
                if (any_policy_25(&d))
                        check_caveat(&d);
                if (any_outbound(&d)) {
                        check_outbound(&d);
                        check_relay(&d);
                }
        }

        if (d.oom) {
                fprintf(err, "mxlock doctor: out of memory\n");
                ret = 1;
                goto out;
        }
        for (size_t i = 0; i < d.n; i++)
                counts[d.v[i].st]++;
        if (o->json)
                print_json(out, &d, config_path, o->domains, o->ndomains, counts);
        else
                print_text(out, &d, config_path, o->domains, o->ndomains, counts);
        ret = counts[ST_FAIL] ? 1 : 0;
out:
        for (size_t i = 0; i < d.n; i++) {
                free(d.v[i].subject);
                free(d.v[i].msg);
        }
        free(d.v);
        for (size_t i = 0; i < d.ncats; i++)
                catalog_free(d.cats[i]);
        free(d.cats);
        policy_set_free(d.ps);
        config_free(d.cfg);
        range_list_free(&d.local[0]);
        range_list_free(&d.local[1]);
        return ret;
}
