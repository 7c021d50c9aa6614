/* src/sync.c: `mxlock sync` (see sync.h).
 *
 * Per provider: expand its SPF record (keep going past errors so that every
 * failure is reported), compare the result with the list in force (the
 * state file, else the shipped catalog), refuse when something failed, the
 * result is empty, a family's address count shrank by more than
 * --max-shrink percent, a prefix is shorter than a family's limit (/8 IPv4,
 * /16 IPv6) or a family's address count grew more than --max-growth times,
 * unless --force; else write STATE_DIR/NAME.conf
 * atomically and, when the addresses changed, a `ranges-changed` audit
 * record. Providers are independent: one refusal does not stop the others.
 * At the end, when anything changed, ask mxlockd to reload. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "privs.h"
#include "catalog.h"
#include "cli.h"
#include "config.h"
#include "control.h"
#include "dns.h"
#include "prefix.h"
#include "spf.h"
#include "schema.h"
#include "sync.h"

#ifndef MXLOCK_DATADIR
#define MXLOCK_DATADIR "/usr/share/mxlock"
#endif
#define SYNC_DEFAULT_PROVIDER_DIRS MXLOCK_DATADIR "/providers:/etc/mxlock/providers.d"
#define SYNC_DEFAULT_AUDIT_LOG "/var/log/mxlock/audit.jsonl"
#define SYNC_RELOAD_TIMEOUT_MS 30000
#define SYNC_SHOW_MAX 20                /* prefixes listed per direction in the summary */
#define SYNC_AUDIT_LIST_BYTES 1500      /* JSON bytes per added/removed array */

/* The shortest prefix a provider's list may hold. IPv4: /8 is the largest
 * block ever assigned to one holder (IANA's legacy /8s); a shorter one spans
 * several. IPv6: IANA gives the registries /12s and the largest single
 * allocations are about /19; a /16 already covers many holders, so anything
 * shorter is the internet, not a provider. Real gateway ranges are far
 * longer (Google's largest is an IPv4 /16 and an IPv6 /36). */
#define SYNC_MIN_PREFIX4 8
#define SYNC_MIN_PREFIX6 16
#define SYNC_DEFAULT_MAX_GROWTH 4
/* A family the list did not have may start with at most this much: an IPv4
 * /16, an IPv6 /32 (one registry allocation). */
#define SYNC_NEW_FAMILY_MAX4 65536.0L
#define SYNC_NEW_FAMILY_MAX6 79228162514264337593543950336.0L   /* 2^96 */

enum { SYNC_OK = 0, SYNC_REFUSED = 1, SYNC_USAGE = 2 };

/* The safety valves, named in a forced ranges-changed record. */
enum {
        GUARD_ERRORS = 1 << 0,
        GUARD_EMPTY = 1 << 1,
        GUARD_SHRINK = 1 << 2,
        GUARD_PREFIX = 1 << 3,
        GUARD_GROWTH = 1 << 4,
};
static const char *const guard_names[] = { "dns-errors", "empty", "shrink", "prefix-length", "growth" };

struct sync_ctx {
        struct sync_opts o;
        const char *dirs;
        char *shipped_dirs;             /* dirs without the state dir */
        const char *audit_path;
        const char *seal_key;           /* mxlockd's; sync seals with seal_key.sync */
        const char *socket;
        const char *user;               /* the configuration's user =, or NULL */
        struct audit *audit;
        struct dns_resolver res;
        struct spf_lookup lk;
        unsigned changed;
};

struct pfx_list {
        struct prefix *v;
        size_t n, cap;
        bool oom;
};

static void pfx_cb(const struct prefix *p, void *userdata)
{
        struct pfx_list *l = userdata;

        if (l->oom)
                return;
        if (l->n == l->cap) {
                size_t cap = l->cap ? l->cap * 2 : 32;
                struct prefix *v = realloc(l->v, cap * sizeof(*v));

                if (!v) {
                        l->oom = true;
                        return;
                }
                l->v = v;
                l->cap = cap;
        }
        l->v[l->n++] = *p;
}

/* The CIDR blocks of both lists, IPv4 first. */
static int pfx_from_ranges(const struct range_list *v4, const struct range_list *v6, struct pfx_list *out)
{
        const struct range_list *ls[2] = { v4, v6 };

        memset(out, 0, sizeof(*out));
        for (int f = 0; f < 2; f++)
                for (size_t i = 0; i < ls[f]->n; i++)
                        range_to_prefixes(ls[f]->family, ls[f]->v[i], pfx_cb, out);
        return out->oom ? -ENOMEM : 0;
}

static void usage(FILE *out)
{
        fprintf(out,
                "Usage: mxlock sync [OPTIONS] [PROVIDER...]\n"
                "\n"
                "Refresh provider catalogs that name an `spf =` record from DNS: follow\n"
                "include: and redirect=, take ip4: and ip6:, resolve a and mx, and write the\n"
                "ranges to STATE_DIR/PROVIDER.conf (the shipped catalog stays untouched).\n"
                "Without PROVIDER: every catalog that has an spf record.\n"
                "\n"
                "Refused (exit 1, nothing written, the last good list stays in force) unless\n"
                "--force: an empty result, any failed lookup (timeout, SERVFAIL, a loop, too\n"
                "many lookups), an IPv4 or IPv6 address count that shrank by more than\n"
                "--max-shrink percent, a prefix shorter than /%d (IPv4) or /%d (IPv6), or an\n"
                "address count that grew more than --max-growth times. Every change is\n"
                "written to the audit log as a ranges-changed record (its guards: the ones\n"
                "--force overrode); then mxlockd is asked to reload.\n"
                "\n"
                "  --force               accept what would be refused\n"
                "  --max-shrink PCT      largest accepted shrink per family (default %d)\n"
                "  --max-growth N        largest accepted growth factor per family (default %d)\n"
                "  --state-dir DIR       where the lists go (default " SYNC_DEFAULT_STATE_DIR ")\n"
                "  --nameserver IP[:PORT]  ask this server instead of resolv.conf's\n"
                "  --timeout SEC         per DNS query try (default 3, 2 tries)\n"
                "  --max-lookups N       DNS-querying terms per record (default %d, RFC 7208)\n"
                "  --provider-dirs DIRS  catalog directories (default: the configuration's)\n"
                "  --audit-log FILE      audit log (default: the configuration's audit_log)\n"
                "  --no-reload           do not ask mxlockd to reload\n"
                "  --dry-run             show what would change; write nothing\n"
                "\n"
                "Exit: 0 ok (changed or not), 1 refused or failed, 2 usage or configuration error.\n",
                SYNC_MIN_PREFIX4, SYNC_MIN_PREFIX6, SYNC_DEFAULT_MAX_SHRINK, SYNC_DEFAULT_MAX_GROWTH,
                SPF_DEFAULT_MAX_LOOKUPS);
}

static int parse_uint(const char *s, unsigned max, unsigned *ret)
{
        unsigned long v;
        char *end;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || *end || v > max)
                return -EINVAL;
        *ret = (unsigned)v;
        return 0;
}

/* ------------------------------------------------------------------ */
/* The list in force */

/* Parse a catalog's entries into merged lists. Unparsable entries are
 * skipped with a warning. */
static int catalog_ranges(const struct catalog *c, struct range_list *v4, struct range_list *v6)
{
        range_list_init(v4, AF_INET);
        range_list_init(v6, AF_INET6);
        for (size_t i = 0; i < c->n; i++) {
                struct prefix p;

                if (prefix_parse(c->v[i].text, &p, NULL) < 0) {
                        fprintf(stderr, "mxlock sync: warning: %s:%d: '%s' is not an address or prefix; ignored\n",
                                c->path, c->v[i].line, c->v[i].text);
                        continue;
                }
                if (range_list_add(p.family == AF_INET ? v4 : v6, prefix_range(&p)) < 0)
                        return -ENOMEM;
        }
        range_list_merge(v4);
        range_list_merge(v6);
        return 0;
}

static char *state_path(const struct sync_ctx *x, const char *name)
{
        char *p = NULL;

        if (asprintf(&p, "%s/%s.conf", x->o.state_dir, name) < 0)
                return NULL;
        return p;
}

/* The state file when there is a readable one, else NULL. */
static struct catalog *load_state(const struct sync_ctx *x, const char *name)
{
        char err[CONFIG_ERRLEN];
        struct catalog *c = NULL;
        char *path = state_path(x, name);
        int r;

        if (!path)
                return NULL;
        if (access(path, F_OK) < 0) {
                free(path);
                return NULL;
        }
        r = catalog_parse_file(path, name, &c, err);
        if (r < 0)
                fprintf(stderr, "mxlock sync: warning: %s (comparing with the shipped catalog instead)\n", err);
        free(path);
        return r < 0 ? NULL : c;
}

/* ------------------------------------------------------------------ */
/* Writing */

/* Run as root (by hand, or an old unit), what sync creates must still be
 * usable by mxlockd running as its own user: a new file or directory gets
 * the owner of the directory it is made in (the package makes /var/log/mxlock
 * and /var/lib/mxlock the daemon user's). Never through a link: fd is what we
 * created. */
static void own_like_dir(int fd, const char *dir)
{
        struct stat st;

        if (geteuid() != 0 || stat(dir, &st) < 0 || st.st_uid == 0)
                return;
        if (fchown(fd, st.st_uid, st.st_gid) < 0)
                fprintf(stderr, "mxlock sync: warning: cannot give what it wrote in %s to uid %u: %s\n", dir,
                        (unsigned)st.st_uid, strerror(errno));
}

/* The directory part of path ("." when none), in buf. */
static const char *dir_of(const char *path, char *buf, size_t cap)
{
        const char *slash = strrchr(path, '/');

        if (!slash) {
                snprintf(buf, cap, ".");
                return buf;
        }
        snprintf(buf, cap, "%.*s", slash == path ? 1 : (int)(slash - path), path);
        return buf;
}

/* The audit log, opened as root: owned by `user =` when the configuration
 * names one (mxlockd hands it over itself, but only when it starts as root),
 * else by the owner of the log's directory (nothing when that is root).
 * The open descriptor is changed, never the path; audit_chown() refuses a
 * file with other names. */
static void own_audit(struct sync_ctx *x)
{
        char dir[PATH_MAX];
        struct stat st;
        uid_t uid;
        gid_t gid;
        int r;

        if (geteuid() != 0)
                return;
        if (x->user) {
                if (privs_lookup(x->user, &uid, &gid) < 0)
                        return;
        } else {
                if (stat(dir_of(x->audit_path, dir, sizeof(dir)), &st) < 0 || st.st_uid == 0)
                        return;
                uid = st.st_uid;
                gid = st.st_gid;
        }
        r = audit_chown(x->audit, uid, gid);
        if (r < 0)
                fprintf(stderr, "mxlock sync: warning: cannot give %s to uid %u: %s\n", x->audit_path,
                        (unsigned)uid, strerror(-r));
}

static int mkdir_p(const char *dir, mode_t mode)
{
        char *p = strdup(dir);
        int r = 0;

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; ; s++) {
                if (*s == '/' || *s == '\0') {
                        char c = *s;

                        *s = '\0';
                        if (mkdir(p, mode) == 0) {
                                char parent[PATH_MAX];
                                int fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

                                if (fd >= 0) {
                                        own_like_dir(fd, dir_of(p, parent, sizeof(parent)));
                                        close(fd);
                                }
                        } else if (errno != EEXIST) {
                                r = -errno;
                                break;
                        }
                        *s = c;
                        if (!c)
                                break;
                }
        }
        free(p);
        return r;
}

/* Write content to dir/name atomically: a temp file in the same directory,
 * fsync, rename over, fsync the directory. */
static int write_atomic(const char *dir, const char *name, const char *content, size_t len)
{
        char *tmp = NULL, *dst = NULL;
        int fd = -1, dfd = -1, r;
        size_t off = 0;

        if (asprintf(&tmp, "%s/.%s.XXXXXX", dir, name) < 0 || asprintf(&dst, "%s/%s", dir, name) < 0) {
                r = -ENOMEM;
                goto out;
        }
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                goto out;
        }
        while (off < len) {
                ssize_t k = write(fd, content + off, len - off);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto unlink;
                }
                off += (size_t)k;
        }
        own_like_dir(fd, dir);
        if (fchmod(fd, 0644) < 0 || fsync(fd) < 0) {
                r = -errno;
                goto unlink;
        }
        if (close(fd) < 0) {
                fd = -1;
                r = -errno;
                goto unlink;
        }
        fd = -1;
        if (rename(tmp, dst) < 0) {
                r = -errno;
                goto unlink;
        }
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
                (void) fsync(dfd);
                close(dfd);
        }
        r = 0;
        goto out;
unlink:
        (void) unlink(tmp);
out:
        if (fd >= 0)
                close(fd);
        free(tmp);
        free(dst);
        return r;
}

/* The domain of the first '+' ip4/ip6 term that overlaps p, for a comment. */
static const char *origin_of(const struct spf_result *res, const struct prefix *p)
{
        struct range a = prefix_range(p);

        for (size_t i = 0; i < res->norigins; i++) {
                struct range b;

                if (res->origins[i].prefix.family != p->family)
                        continue;
                b = prefix_range(&res->origins[i].prefix);
                if (b.lo <= a.hi && a.lo <= b.hi)
                        return res->origins[i].domain;
        }
        return NULL;
}

/* The state file's text in catalog format. */
static char *state_text(const struct catalog *cat, const struct spf_result *res, const struct pfx_list *now,
                        bool forced, size_t *ret_len)
{
        char stamp[32], today[16];
        struct timeval tv;
        struct tm tm;
        char *buf = NULL;
        size_t len = 0;
        FILE *f;

        gettimeofday(&tv, NULL);
        gmtime_r(&tv.tv_sec, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
        strftime(today, sizeof(today), "%Y-%m-%d", &tm);
        f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        fprintf(f, "# Generated by mxlock sync at %s from the SPF record of %s\n", stamp, cat->spf);
        fprintf(f, "# (%u DNS lookups; records read:", res->lookups);
        for (size_t i = 0; i < res->ndomains; i++)
                fprintf(f, " %s", res->domains[i]);
        fprintf(f, ")%s.\n", forced ? "; accepted with --force" : "");
        fprintf(f, "# Do not edit: the next sync replaces this file. The shipped catalog is\n"
                   "# %s.\n", cat->path);
        if (cat->description)
                fprintf(f, "description = %s\n", cat->description);
        if (cat->source)
                fprintf(f, "source = %s\n", cat->source);
        fprintf(f, "spf = %s\n", cat->spf);
        fprintf(f, "checked = %s\n", today);
        /* what doctor needs from the catalog, carried over */
        if (cat->provider)
                fprintf(f, "provider = %s\n", cat->provider);
        if (cat->tenant)
                fprintf(f, "tenant = %s\n", cat->tenant);
        for (size_t i = 0; i < cat->nmx; i++)
                fprintf(f, "mx = %s\n", cat->mx[i]);
        fputc('\n', f);
        for (size_t i = 0; i < now->n; i++) {
                char p[64];
                const char *o = origin_of(res, &now->v[i]);

                prefix_format(&now->v[i], p, sizeof(p));
                if (o)
                        fprintf(f, "%-24s # %s\n", p, o);
                else
                        fprintf(f, "%s\n", p);
        }
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        *ret_len = len;
        return buf;
}

/* A JSON array of prefixes of at most SYNC_AUDIT_LIST_BYTES; *ret_omitted
 * gets how many did not fit. */
static void json_prefixes(const struct pfx_list *l, char *buf, size_t cap, size_t *ret_omitted)
{
        size_t len = 0, i;

        buf[len++] = '[';
        for (i = 0; i < l->n; i++) {
                char p[64];
                int k;

                prefix_format(&l->v[i], p, sizeof(p));
                if (len + strlen(p) + 4 >= cap || len + strlen(p) + 4 >= SYNC_AUDIT_LIST_BYTES)
                        break;
                k = snprintf(buf + len, cap - len, "%s\"%s\"", i ? "," : "", p);
                len += (size_t)k;
        }
        buf[len++] = ']';
        buf[len] = '\0';
        *ret_omitted = l->n - i;
}

static int audit_change(struct sync_ctx *x, const char *name, const char *spf, const struct pfx_list *added,
                        const struct pfx_list *removed, size_t before, size_t after, bool forced,
                        unsigned guards)
{
        char a[SYNC_AUDIT_LIST_BYTES + 64], rm[SYNC_AUDIT_LIST_BYTES + 64], g[128];
        size_t glen = 0;
        size_t oa, orm;
        struct timeval tv;
        struct jline j;
        int r;

        if (!x->audit) {
                r = audit_open(x->audit_path, &x->audit);
                if (r < 0)
                        return r;
                own_audit(x);
                if (x->seal_key) {
                        char *key = NULL;

                        r = asprintf(&key, "%s.sync", x->seal_key) < 0 ? -ENOMEM
                                                                        : audit_seal(x->audit, key, &(int){ 0 });
                        free(key);
                        if (r < 0) {
                                audit_close(x->audit);  /* never write unsealed */
                                x->audit = NULL;
                                return r;
                        }
                }
        }
        g[glen++] = '[';
        for (size_t i = 0; i < sizeof(guard_names) / sizeof(guard_names[0]); i++)
                if (guards & (1u << i))
                        glen += (size_t)snprintf(g + glen, sizeof(g) - glen, "%s\"%s\"", glen > 1 ? "," : "",
                                                 guard_names[i]);
        snprintf(g + glen, sizeof(g) - glen, "]");
        gettimeofday(&tv, NULL);
        json_prefixes(added, a, sizeof(a), &oa);
        json_prefixes(removed, rm, sizeof(rm), &orm);
        schema_ranges_changed(&j, &(struct schema_ranges_changed){
                                          .tv = &tv,
                                          .provider = name,
                                          .spf = spf,
                                          .added = a,
                                          .removed = rm,
                                          .added_omitted = oa,
                                          .removed_omitted = orm,
                                          .count_before = before,
                                          .count_after = after,
                                          .forced = forced,
                                          .guards = g,
                                  });
        r = audit_write(x->audit, &j);
        if (r == 0)
                r = audit_flush(x->audit);
        return r < 0 ? r : 0;
}

static void print_prefixes(const char *sign, const struct pfx_list *l)
{
        for (size_t i = 0; i < l->n && i < SYNC_SHOW_MAX; i++) {
                char p[64];

                prefix_format(&l->v[i], p, sizeof(p));
                printf("    %s %s\n", sign, p);
        }
        if (l->n > SYNC_SHOW_MAX)
                printf("    %s ... and %zu more\n", sign, l->n - SYNC_SHOW_MAX);
}

/* ------------------------------------------------------------------ */
/* One provider */

static double shrink_pct(long double before, long double after)
{
        if (before <= 0 || after >= before)
                return 0;
        return (double)((before - after) * 100.0L / before);
}

/* A prefix that no provider holds alone (shorter than /8 IPv4, /16 IPv6):
 * say which, and where it came from. True when the guard fires. */
static bool too_short(const struct sync_ctx *x, const struct catalog *cat, const struct spf_result *res,
                      const struct pfx_list *now, const struct catalog *prev)
{
        size_t nshort = 0;

        for (size_t i = 0; i < now->n; i++) {
                const struct prefix *p = &now->v[i];
                unsigned min = p->family == AF_INET ? SYNC_MIN_PREFIX4 : SYNC_MIN_PREFIX6;
                char buf[64];
                const char *o;

                if (p->len >= min)
                        continue;
                if (!nshort++)
                        printf("%s: %s: the SPF record of %s allows more than any provider holds:\n", cat->name,
                               x->o.force ? "FORCED despite prefix length" : "REFUSED", cat->spf);
                if (nshort > SYNC_SHOW_MAX)
                        continue;
                prefix_format(p, buf, sizeof(buf));
                o = origin_of(res, p);
                printf("    ! %s is shorter than /%u (the limit for %s)%s%s\n", buf, min,
                       p->family == AF_INET ? "IPv4" : "IPv6", o ? "; from " : "", o ? o : "");
        }
        if (nshort && !x->o.force)
                printf("    the list in force (%s) is kept; --force accepts it\n", prev->path);
        return nshort > 0;
}

/* A family's address count beyond --max-growth times what it was (a family
 * the list did not have: beyond an IPv4 /16 or an IPv6 /32). */
static bool too_grown(const struct sync_ctx *x, const struct catalog *cat, const struct range_list *old4,
                      const struct range_list *old6, const struct spf_result *res, const struct catalog *prev,
                      const struct pfx_list *added, const struct pfx_list *removed, bool *listed)
{
        const struct range_list *was[2] = { old4, old6 }, *now[2] = { &res->v4, &res->v6 };
        const long double fresh[2] = { SYNC_NEW_FAMILY_MAX4, SYNC_NEW_FAMILY_MAX6 };
        bool fired = false;

        for (int f = 0; f < 2; f++) {
                long double b = spf_range_count(was[f]), a = spf_range_count(now[f]);
                const char *fam = f ? "IPv6" : "IPv4";

                if (b > 0 && a <= b * x->o.max_growth)
                        continue;
                if (b == 0 && a <= fresh[f])
                        continue;
                if (!fired)
                        printf("%s: %s: ", cat->name, x->o.force ? "FORCED despite growth" : "REFUSED");
                else
                        printf("%s: and ", cat->name);
                if (b > 0)
                        printf("the %s address count would grow %.1f times (more than --max-growth %u): "
                               "+%zu -%zu prefixes\n", fam, (double)(a / b), x->o.max_growth, added->n,
                               removed->n);
                else
                        printf("the %s list would go from nothing to more than %s\n", fam,
                               f ? "a /32" : "a /16");
                fired = true;
        }
        if (!fired)
                return false;
        if (!*listed) {
                print_prefixes("+", added);
                print_prefixes("-", removed);
                *listed = true;
        }
        if (!x->o.force)
                printf("    the list in force (%s) is kept; check the provider's announcement, then run again "
                       "with --force\n", prev->path);
        return true;
}

static int sync_one(struct sync_ctx *x, struct catalog *cat)
{
        struct range_list old4, old6;
        struct spf_result res;
        struct spf_opts so = { .max_lookups = x->o.max_lookups, .keep_going = true };
        struct pfx_list before = { 0 }, now = { 0 }, added = { 0 }, removed = { 0 };
        struct range_list add4, add6, rm4, rm6;
        struct catalog *state = NULL;
        const struct catalog *prev;
        char err[512], *text = NULL;
        bool changed, overrode = false, listed = false;
        unsigned guards = 0;
        size_t len = 0;
        int r, ret = SYNC_REFUSED;

        range_list_init(&add4, AF_INET);
        range_list_init(&add6, AF_INET6);
        range_list_init(&rm4, AF_INET);
        range_list_init(&rm6, AF_INET6);
        range_list_init(&old4, AF_INET);
        range_list_init(&old6, AF_INET6);

        state = load_state(x, cat->name);
        prev = state ? state : cat;
        r = catalog_ranges(prev, &old4, &old6);
        if (r < 0)
                goto oom;

        r = spf_expand(cat->spf, &x->lk, &so, &res, err, sizeof(err));
        if (r < 0 && r != -ENOMEM) {
                /* Only a bad spf name fails outright with keep_going. */
                printf("%s: FAILED: %s\n", cat->name, err);
                goto out_res;
        }
        if (r == -ENOMEM)
                goto oom_res;

        if (pfx_from_ranges(&old4, &old6, &before) < 0 || pfx_from_ranges(&res.v4, &res.v6, &now) < 0 ||
            spf_range_subtract(&res.v4, &old4, &add4) < 0 || spf_range_subtract(&res.v6, &old6, &add6) < 0 ||
            spf_range_subtract(&old4, &res.v4, &rm4) < 0 || spf_range_subtract(&old6, &res.v6, &rm6) < 0 ||
            pfx_from_ranges(&add4, &add6, &added) < 0 || pfx_from_ranges(&rm4, &rm6, &removed) < 0)
                goto oom_res;
        changed = added.n > 0 || removed.n > 0;

        /* The safety valves, in order of gravity. */
        if (res.first_error) {
                size_t ne = res.nerrors ? res.nerrors : 1;

                if (x->o.force)
                        printf("%s: FORCED despite %zu error%s reading the SPF records of %s: using what "
                               "could be read\n", cat->name, ne, ne == 1 ? "" : "s", cat->spf);
                else
                        printf("%s: FAILED: %zu error%s reading the SPF records of %s; the list in force (%s) "
                               "is kept\n", cat->name, ne, ne == 1 ? "" : "s", cat->spf, prev->path);
                overrode = true;
                if (res.nerrors == 0)
                        printf("    ! %s\n", err);
                for (size_t i = 0; i < res.nerrors; i++)
                        printf("    ! %s\n", res.errors[i]);
                if (!x->o.force)
                        goto out_res;
        }
        if (res.v4.n == 0 && res.v6.n == 0) {
                printf("%s: %s: the SPF record of %s gives no addresses (only -all, ~all or nothing usable)\n",
                       cat->name, x->o.force ? "FORCED despite empty result" : "REFUSED", cat->spf);
                overrode = true;
                guards |= GUARD_EMPTY;
                if (!x->o.force) {
                        printf("    the list in force (%s, %zu prefix%s) is kept; --force accepts an empty list\n",
                               prev->path, before.n, before.n == 1 ? "" : "es");
                        goto out_res;
                }
        }
        {
                double s4 = shrink_pct(spf_range_count(&old4), spf_range_count(&res.v4));
                double s6 = shrink_pct(spf_range_count(&old6), spf_range_count(&res.v6));
                bool too4 = s4 > (double)x->o.max_shrink, too6 = s6 > (double)x->o.max_shrink;

                if (too4 || too6) {
                        printf("%s: %s: %s%s%s would shrink by %.1f%% (more than --max-shrink %u%%): "
                               "+%zu -%zu prefixes\n", cat->name,
                               x->o.force ? "FORCED despite shrink" : "REFUSED",
                               too4 ? "the IPv4 address count" : "", too4 && too6 ? " and " : "",
                               too6 ? "the IPv6 address count" : "", too4 ? s4 : s6, x->o.max_shrink,
                               added.n, removed.n);
                        print_prefixes("+", &added);
                        print_prefixes("-", &removed);
                        listed = overrode = true;
                        guards |= GUARD_SHRINK;
                        if (!x->o.force) {
                                printf("    the list in force (%s) is kept; check the provider's "
                                       "announcement, then run again with --force\n", prev->path);
                                goto out_res;
                        }
                }
        }
        if (too_short(x, cat, &res, &now, prev)) {
                overrode = true;
                guards |= GUARD_PREFIX;
                if (!x->o.force)
                        goto out_res;
        }
        if (too_grown(x, cat, &old4, &old6, &res, prev, &added, &removed, &listed)) {
                overrode = true;
                guards |= GUARD_GROWTH;
                if (!x->o.force)
                        goto out_res;
        }
        for (size_t i = 0; i < res.nnotes; i++)
                printf("    note: %s\n", res.notes[i]);

        if (x->o.dry_run) {
                printf("%s: %s from %s (%u lookups): %zu prefixes, +%zu -%zu (dry run: nothing written)\n",
                       cat->name, changed ? "would change" : "unchanged", cat->spf, res.lookups, now.n,
                       added.n, removed.n);
                print_prefixes("+", &added);
                print_prefixes("-", &removed);
                ret = res.first_error && !x->o.force ? SYNC_REFUSED : SYNC_OK;
                goto out_res;
        }

        text = state_text(cat, &res, &now, overrode, &len);
        if (!text)
                goto oom_res;
        r = mkdir_p(x->o.state_dir, 0755);
        if (r < 0) {
                printf("%s: FAILED: cannot create %s: %s\n", cat->name, x->o.state_dir, strerror(-r));
                goto out_res;
        }
        /* Record the change before it takes effect: every change is audited. */
        if (changed) {
                r = audit_change(x, cat->name, cat->spf, &added, &removed, before.n, now.n, overrode, guards);
                if (r < 0) {
                        printf("%s: FAILED: cannot write the audit log %s: %s; nothing changed\n", cat->name,
                               x->audit_path, strerror(-r));
                        goto out_res;
                }
        }
        {
                char fname[CATALOG_NAME_MAX + 8];

                snprintf(fname, sizeof(fname), "%s.conf", cat->name);
                r = write_atomic(x->o.state_dir, fname, text, len);
        }
        if (r < 0) {
                printf("%s: FAILED: cannot write %s/%s.conf: %s\n", cat->name, x->o.state_dir, cat->name,
                       strerror(-r));
                goto out_res;
        }
        if (changed) {
                printf("%s: updated from %s (%u lookups): %zu -> %zu prefixes, +%zu -%zu; wrote %s/%s.conf\n",
                       cat->name, cat->spf, res.lookups, before.n, now.n, added.n, removed.n, x->o.state_dir,
                       cat->name);
                if (!listed) {
                        print_prefixes("+", &added);
                        print_prefixes("-", &removed);
                }
                x->changed++;
        } else {
                printf("%s: unchanged (%zu prefixes from %s, %u lookups); checked date refreshed in %s/%s.conf\n",
                       cat->name, now.n, cat->spf, res.lookups, x->o.state_dir, cat->name);
        }
        ret = SYNC_OK;
        goto out_res;

oom_res:
        printf("%s: FAILED: out of memory\n", cat->name);
out_res:
        spf_result_free(&res);
        goto out;
oom:
        printf("%s: FAILED: out of memory\n", cat->name);
out:
        free(text);
        free(before.v);
        free(now.v);
        free(added.v);
        free(removed.v);
        range_list_free(&add4);
        range_list_free(&add6);
        range_list_free(&rm4);
        range_list_free(&rm6);
        range_list_free(&old4);
        range_list_free(&old6);
        catalog_free(state);
        return ret;
}

/* ------------------------------------------------------------------ */

struct names {
        char **v;
        size_t n;
        bool oom;
};

static void collect_name(const char *name, const char *path, void *userdata)
{
        struct names *l = userdata;
        char **v;

        (void) path;
        if (l->oom)
                return;
        v = realloc(l->v, (l->n + 1) * sizeof(*v));
        if (!v || !(v[l->n] = strdup(name))) {
                if (v)
                        l->v = v;
                l->oom = true;
                return;
        }
        l->v = v;
        l->n++;
}

static void reload_daemon(struct sync_ctx *x, int *ret)
{
        struct cli_reply rp = { 0 };
        char *reply = NULL;
        int r;

        r = control_call(x->socket, "reload", SYNC_RELOAD_TIMEOUT_MS, &reply);
        if (r == -ENOENT || r == -ECONNREFUSED) {
                printf("mxlockd is not running (no control socket at %s): the new lists will be used "
                       "at its next start\n", x->socket);
        } else if (r < 0) {
                fprintf(stderr, "mxlock sync: cannot ask mxlockd to reload through %s: %s\n", x->socket,
                        strerror(-r));
                *ret = SYNC_REFUSED;
        } else if (reply && cli_reply_parse(reply, &rp) == 0 && rp.ok) {
                printf("mxlockd reloaded: the new lists are in force\n");
        } else {
                fprintf(stderr, "mxlock sync: mxlockd refused to reload (the rules in force stay): %s\n",
                        reply ? reply : "(no reply)");
                *ret = SYNC_REFUSED;
        }
        cli_reply_free(&rp);
        free(reply);
}

/* Is dir (n bytes) the same directory as other? */
static bool same_dir(const char *dir, size_t n, const char *other)
{
        char *a = strndup(dir, n), *ra, *rb;
        bool same;

        if (!a)
                return false;
        ra = realpath(a, NULL);
        rb = realpath(other, NULL);
        if (ra && rb)
                same = strcmp(ra, rb) == 0;
        else
                same = strcmp(a, other) == 0;
        free(a);
        free(ra);
        free(rb);
        return same;
}

/* The colon-separated dirs without state_dir: where the shipped catalogs
 * and the admin's overrides are (the daemon also reads the state dir,
 * listed last, so that synced lists win). */
static char *dirs_without(const char *dirs, const char *state_dir)
{
        char *out = calloc(1, strlen(dirs) + 1);
        size_t len = 0;
        const char *s = dirs;

        if (!out)
                return NULL;
        while (*s) {
                const char *e = strchr(s, ':');
                size_t n = e ? (size_t)(e - s) : strlen(s);

                if (n > 0 && !same_dir(s, n, state_dir)) {
                        if (len)
                                out[len++] = ':';
                        memcpy(out + len, s, n);
                        len += n;
                        out[len] = '\0';
                }
                if (!e)
                        break;
                s = e + 1;
        }
        return out;
}

/* The node_exporter textfile for fleet alerts: when the configuration has a
 * metrics_file, `mxlock sync` writes mxlock-sync.prom beside it (when it
 * ran, whether every provider refreshed, and each catalog's checked date
 * as the lists in force have it: the state directory overrides). Best
 * effort: a failure is a warning, never a sync failure. */
static void write_sync_metrics(const struct sync_ctx *x, const struct config *cfg, bool success)
{
        struct names names = { 0 };
        char *dir = NULL, *dirs = NULL, *text = NULL;
        size_t tlen = 0;
        FILE *f;
        int r;

        if (!cfg || !cfg->metrics_file || x->o.dry_run)
                return;
        dir = strdup(cfg->metrics_file);
        if (!dir)
                return;
        if (strrchr(dir, '/'))
                *strrchr(dir, '/') = '\0';
        else
                strcpy(dir, ".");
        if (asprintf(&dirs, "%s:%s", x->shipped_dirs, x->o.state_dir) < 0) {
                dirs = NULL;
                goto out;
        }
        f = open_memstream(&text, &tlen);
        if (!f)
                goto out;
        fprintf(f, "# HELP mxlock_sync_last_run_timestamp_seconds When mxlock sync last ran.\n"
                   "# TYPE mxlock_sync_last_run_timestamp_seconds gauge\n"
                   "mxlock_sync_last_run_timestamp_seconds %lld\n", (long long)time(NULL));
        fprintf(f, "# HELP mxlock_sync_success Whether the last mxlock sync refreshed every provider (1) or "
                   "refused one (0).\n# TYPE mxlock_sync_success gauge\nmxlock_sync_success %d\n", success ? 1 : 0);
        fprintf(f, "# HELP mxlock_catalog_checked_timestamp_seconds When a provider catalog in force was last "
                   "checked (its checked = date).\n# TYPE mxlock_catalog_checked_timestamp_seconds gauge\n");
        if (catalog_list(dirs, collect_name, &names) >= 0) {
                for (size_t i = 0; i < names.n; i++) {
                        char err[CONFIG_ERRLEN];
                        struct catalog *c = NULL;
                        struct tm tm = { 0 };
                        const char *end;

                        if (catalog_load(dirs, names.v[i], &c, err) < 0)
                                continue;
                        if (c->checked && (end = strptime(c->checked, "%Y-%m-%d", &tm)) && !*end)
                                fprintf(f, "mxlock_catalog_checked_timestamp_seconds{provider=\"%s\"} %lld\n",
                                        c->name, (long long)timegm(&tm));
                        catalog_free(c);
                }
        }
        if (fclose(f) != 0)
                goto out;
        r = write_atomic(dir, "mxlock-sync.prom", text, tlen);
        if (r < 0)
                fprintf(stderr, "mxlock sync: warning: cannot write %s/mxlock-sync.prom: %s\n", dir, strerror(-r));
out:
        for (size_t i = 0; i < names.n; i++)
                free(names.v[i]);
        free(names.v);
        free(text);
        free(dirs);
        free(dir);
}

int sync_parse(struct sync_opts *o, const struct cli *cli, int argc, char **argv, FILE *out, FILE *err)
{
        static const struct option opts[] = {
                { "force", no_argument, NULL, 'f' },
                { "max-shrink", required_argument, NULL, 's' },
                { "max-growth", required_argument, NULL, 'g' },
                { "state-dir", required_argument, NULL, 'S' },
                { "nameserver", required_argument, NULL, 'n' },
                { "timeout", required_argument, NULL, 't' },
                { "max-lookups", required_argument, NULL, 'l' },
                { "provider-dirs", required_argument, NULL, 'd' },
                { "audit-log", required_argument, NULL, 'a' },
                { "no-reload", no_argument, NULL, 'R' },
                { "dry-run", no_argument, NULL, 'D' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        unsigned secs;
        int c;

        *o = (struct sync_opts){
                .max_shrink = SYNC_DEFAULT_MAX_SHRINK,
                .max_growth = SYNC_DEFAULT_MAX_GROWTH,
                .max_lookups = SPF_DEFAULT_MAX_LOOKUPS,
                .state_dir = SYNC_DEFAULT_STATE_DIR,
                .config_path = cli->config_path,
        };
        optind = 0;
        while ((c = cli_getopt(argc, argv, "+h", opts, err)) != -1) {
                switch (c) {
                case 'f':
                        o->force = true;
                        break;
                case 's':
                        if (parse_uint(optarg, 100, &o->max_shrink) < 0) {
                                fprintf(err, "mxlock sync: --max-shrink: '%s' is not a percentage (0-100)\n",
                                        optarg);
                                return SYNC_USAGE;
                        }
                        break;
                case 'g':
                        if (parse_uint(optarg, 1000000, &o->max_growth) < 0 || o->max_growth == 0) {
                                fprintf(err, "mxlock sync: --max-growth: '%s' is not a factor (1-1000000)\n",
                                        optarg);
                                return SYNC_USAGE;
                        }
                        break;
                case 'S':
                        if (optarg[0] != '/') {
                                fprintf(err, "mxlock sync: --state-dir: '%s' is not an absolute path\n", optarg);
                                return SYNC_USAGE;
                        }
                        o->state_dir = optarg;
                        break;
                case 'n':
                        if (dns_nameserver_check(optarg) < 0) {
                                fprintf(err, "mxlock sync: --nameserver: '%s' is not IP, IP:PORT or [IPv6]:PORT\n",
                                        optarg);
                                return SYNC_USAGE;
                        }
                        o->nameserver = optarg;
                        break;
                case 't':
                        if (parse_uint(optarg, 60, &secs) < 0 || secs == 0) {
                                fprintf(err, "mxlock sync: --timeout: '%s' is not 1-60 seconds\n", optarg);
                                return SYNC_USAGE;
                        }
                        o->timeout_ms = (int)secs * 1000;
                        break;
                case 'l':
                        if (parse_uint(optarg, 1000, &o->max_lookups) < 0 || o->max_lookups == 0) {
                                fprintf(err, "mxlock sync: --max-lookups: '%s' is not 1-1000\n", optarg);
                                return SYNC_USAGE;
                        }
                        break;
                case 'd':
                        o->provider_dirs = optarg;
                        break;
                case 'a':
                        o->audit_log = optarg;
                        break;
                case 'R':
                        o->no_reload = true;
                        break;
                case 'D':
                        o->dry_run = true;
                        break;
                case 'h':
                        usage(out);
                        return SYNC_OK;
                default:
                        usage(err);
                        return SYNC_USAGE;
                }
        }
        o->names = argv + optind;
        o->nnames = (size_t)(argc - optind);
        return CLI_RUN;
}

int cmd_sync(const struct sync_opts *o, FILE *out, FILE *err)
{
        struct sync_ctx x = { .o = *o };
        const char *config_path = o->config_path;
        char msg[CONFIG_ERRLEN];
        struct config *cfg = NULL;
        struct names names = { 0 };
        bool explicit;
        int r, ret = SYNC_OK;

        r = config_load(config_path, &cfg, msg, NULL, NULL);
        if (r == -ENOENT) {
                fprintf(err, "mxlock sync: warning: %s: no such file; using the default paths\n", config_path);
                cfg = NULL;
        } else if (r < 0) {
                fprintf(err, "mxlock sync: %s\n", msg);
                return SYNC_USAGE;
        }
        x.dirs = x.o.provider_dirs ? x.o.provider_dirs
                                   : cfg && cfg->provider_dirs ? cfg->provider_dirs : SYNC_DEFAULT_PROVIDER_DIRS;
        x.audit_path = x.o.audit_log ? x.o.audit_log
                                     : cfg && cfg->audit_log ? cfg->audit_log : SYNC_DEFAULT_AUDIT_LOG;
        x.seal_key = cfg ? cfg->seal_key : NULL;
        x.socket = cfg && cfg->control_socket ? cfg->control_socket : CONTROL_DEFAULT_SOCKET;
        x.user = cfg ? cfg->user : NULL;
        x.res.nameserver = x.o.nameserver;
        x.res.timeout_ms = x.o.timeout_ms;
        dns_spf_lookup_init(&x.lk, &x.res);

        x.shipped_dirs = dirs_without(x.dirs, x.o.state_dir);
        if (!x.shipped_dirs) {
                fprintf(err, "mxlock sync: out of memory\n");
                ret = SYNC_REFUSED;
                goto out;
        }

        explicit = o->nnames > 0;
        if (explicit) {
                for (size_t i = 0; i < o->nnames; i++)
                        collect_name(o->names[i], NULL, &names);
        } else {
                r = catalog_list(x.shipped_dirs, collect_name, &names);
                if (r < 0) {
                        fprintf(err, "mxlock sync: cannot list the catalogs in %s: %s\n", x.dirs, strerror(-r));
                        ret = SYNC_USAGE;
                        goto out;
                }
        }
        if (names.oom) {
                fprintf(err, "mxlock sync: out of memory\n");
                ret = SYNC_REFUSED;
                goto out;
        }

        /* Load every catalog first: a usage error changes nothing. */
        {
                struct catalog **cats = calloc(names.n ? names.n : 1, sizeof(*cats));
                size_t nsync = 0;

                if (!cats) {
                        ret = SYNC_REFUSED;
                        goto out;
                }
                for (size_t i = 0; i < names.n; i++) {
                        r = catalog_load(x.shipped_dirs, names.v[i], &cats[i], msg);
                        if (r < 0) {
                                fprintf(err, "mxlock sync: %s\n", msg);
                                if (explicit || r != -EINVAL) {
                                        ret = SYNC_USAGE;
                                } else {
                                        ret = SYNC_REFUSED;     /* a broken catalog among the others */
                                }
                                cats[i] = NULL;
                                continue;
                        }
                        if (!cats[i]->spf) {
                                if (explicit) {
                                        fprintf(err, "mxlock sync: provider '%s' (%s) has no 'spf =' record "
                                                "to refresh from\n", names.v[i], cats[i]->path);
                                        ret = SYNC_USAGE;
                                }
                                catalog_free(cats[i]);
                                cats[i] = NULL;
                                continue;
                        }
                        nsync++;
                }
                if (ret == SYNC_USAGE) {
                        for (size_t i = 0; i < names.n; i++)
                                catalog_free(cats[i]);
                        free(cats);
                        goto out;
                }
                if (nsync == 0)
                        fprintf(out, "no provider catalog in %s has an 'spf =' record: nothing to sync\n",
                               x.shipped_dirs);
                for (size_t i = 0; i < names.n; i++) {
                        if (!cats[i])
                                continue;
                        if (sync_one(&x, cats[i]) != SYNC_OK)
                                ret = SYNC_REFUSED;
                        catalog_free(cats[i]);
                }
                free(cats);
        }

        if (x.changed && !x.o.dry_run) {
                if (x.o.no_reload)
                        fprintf(out, "%u provider list%s changed; not reloading mxlockd (--no-reload)\n", x.changed,
                               x.changed == 1 ? "" : "s");
                else
                        reload_daemon(&x, &ret);
        }
        write_sync_metrics(&x, cfg, ret == SYNC_OK);
out:
        if (x.audit)
                audit_close(x.audit);
        for (size_t i = 0; i < names.n; i++)
                free(names.v[i]);
        free(names.v);
        free(x.shipped_dirs);
        config_free(cfg);
        return ret;
}
