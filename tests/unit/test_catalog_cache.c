/* tests/unit/test_catalog_cache.c: policies from a config and catalogs,
 * with and without the daemon's catalog cache (src/catalog_cache.c): the
 * same ranges either way, reuse while a catalog is unchanged, a fresh
 * parse when it changes, a new version applied as its difference. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "policy.h"

static char dir[64];

static void write_file(const char *name, const char *text)
{
        char path[256];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static int setup(void **state)
{
        snprintf(dir, sizeof(dir), "/tmp/mxlock-test-policy.XXXXXX");
        assert_non_null(mkdtemp(dir));
        return 0;
}

static int teardown(void **state)
{
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static void write_config(const char *allow)
{
        char text[1024];

        snprintf(text, sizeof(text),
                 "[daemon]\nprovider_dirs = %s\naudit_log = %s/audit.jsonl\n\n"
                 "[policy inbound-smtp]\nports = 25\nproviders = gw\nallow = %s\ndeny = 192.0.2.66\n",
                 dir, dir, allow);
        write_file("mxlock.conf", text);
}

static struct policy_set *build(struct policy_cache *cache)
{
        struct policy_build_opts o = { .cache = cache };
        struct policy_set *ps = NULL;
        struct config *c = NULL;
        char path[256], err[CONFIG_ERRLEN];

        snprintf(path, sizeof(path), "%s/mxlock.conf", dir);
        assert_int_equal(config_load(path, &c, err, NULL, NULL), 0);
        if (cache)
                assert_int_equal(policy_build_with(c, &o, &ps, err, NULL, NULL), 0);
        else
                assert_int_equal(policy_build(c, NULL, NULL, &ps, err, NULL, NULL), 0);
        config_free(c);
        return ps;
}

static void assert_same_ranges(const struct policy_set *a, const struct policy_set *b)
{
        assert_int_equal(a->n, b->n);
        for (size_t i = 0; i < a->n; i++)
                for (int f = 0; f < FAM_N; f++) {
                        assert_int_equal(a->v[i].allow[f].n, b->v[i].allow[f].n);
                        assert_memory_equal(a->v[i].allow[f].v, b->v[i].allow[f].v,
                                            a->v[i].allow[f].n * sizeof(struct range));
                        assert_int_equal(a->v[i].deny[f].n, b->v[i].deny[f].n);
                }
}

static bool allows(const struct policy_set *ps, const char *addr)
{
        const struct policy_source *src;
        int family;
        addr128 a;

        assert_int_equal(addr_parse(addr, &family, &a), 0);
        return policy_classify(&ps->v[0], family, a, &src);
}

static void test_cached_equals_uncached(void **state)
{
        struct policy_cache *cache = policy_cache_new();
        struct policy_set *a, *b, *c;

        /* adjacent and overlapping entries, both families */
        write_file("gw.conf", "description = test\nsource = test\n"
                              "198.51.100.0/25\n198.51.100.128/25\n203.0.113.0/24\n203.0.113.7\n"
                              "2001:db8:25::/48\n2001:db8:26::/48\n");
        write_config("192.0.2.0/25 2001:db8:99::1");
        a = build(NULL);
        b = build(cache);
        assert_same_ranges(a, b);
        /* 198.51.100.0/24 and 203.0.113.0/24 are adjacent? no: two ranges,
         * plus the config's 192.0.2.0/25 */
        assert_int_equal(b->v[0].allow[FAM_V4].n, 3);
        /* 2001:db8:25::/48 + 2001:db8:26::/48 merge; plus 2001:db8:99::1 */
        assert_int_equal(b->v[0].allow[FAM_V6].n, 2);
        assert_true(allows(b, "198.51.100.200"));
        assert_true(allows(b, "192.0.2.5"));
        assert_false(allows(b, "192.0.2.66"));          /* denied */
        assert_false(allows(b, "192.0.2.200"));
        assert_true(allows(b, "2001:db8:26::1"));

        /* the catalog unchanged: the same ranges from the cache */
        c = build(cache);
        assert_same_ranges(b, c);
        policy_set_free(c);
        policy_set_free(a);
        policy_set_free(b);
        policy_cache_free(cache);
}

/* The cached path joins the config's ranges with the catalog's in one
 * pass that copies runs of catalog ranges as they are: random catalogs and
 * configs whose ranges cover, touch and split each other must give the
 * same lists as a full merge. */
static void test_cached_union_random(void **state)
{
        unsigned seed = 12345;

        for (int round = 0; round < 300; round++) {
                struct policy_cache *cache = policy_cache_new();
                char cat[8192] = "description = test\nsource = test\n", allow[2048] = "";
                struct policy_set *a, *b;
                int ncat = 1 + (int)(rand_r(&seed) % 40), nallow = 1 + (int)(rand_r(&seed) % 8);

                for (int k = 0; k < ncat; k++) {
                        unsigned len = 24 + rand_r(&seed) % 9;
                        size_t used = strlen(cat);

                        snprintf(cat + used, sizeof(cat) - used, "10.0.%u.%u/%u\n", rand_r(&seed) % 8,
                                 (rand_r(&seed) % 256) & ~((1u << (32 - len)) - 1) & 255, len);
                }
                for (int k = 0; k < nallow; k++) {
                        unsigned len = 21 + rand_r(&seed) % 12;
                        size_t used = strlen(allow);

                        snprintf(allow + used, sizeof(allow) - used, "%s10.0.%u.0/%u", k ? " " : "",
                                 (rand_r(&seed) % 8) & ~((1u << (len < 24 ? 24 - len : 0)) - 1), len < 24 ? len : 24);
                }
                write_file("gw.conf", cat);
                write_config(allow);
                a = build(NULL);
                b = build(cache);
                assert_same_ranges(a, b);
                policy_set_free(a);
                policy_set_free(b);
                policy_cache_free(cache);
        }
}

static void test_config_change_uses_cache(void **state)
{
        struct policy_cache *cache = policy_cache_new();
        struct policy_set *a, *b, *fresh;

        write_file("gw.conf", "198.51.100.0/24\n2001:db8:25::/48\n");
        write_config("192.0.2.0/25");
        a = build(cache);
        assert_false(allows(a, "192.0.2.200"));
        /* the admin changes only mxlock.conf: the old set stays valid while
         * the new one is built from the cached catalog */
        write_config("192.0.2.128/25");
        b = build(cache);
        fresh = build(NULL);
        assert_same_ranges(b, fresh);
        assert_true(allows(b, "192.0.2.200"));
        assert_false(allows(b, "192.0.2.5"));
        assert_false(allows(a, "192.0.2.200"));         /* the old set unchanged */
        assert_true(allows(a, "198.51.100.9"));
        policy_set_free(a);                             /* in either order */
        policy_set_free(fresh);
        policy_set_free(b);
        policy_cache_free(cache);
}

static void test_catalog_change_is_parsed_again(void **state)
{
        struct policy_cache *cache = policy_cache_new();
        struct policy_set *a, *b, *fresh;
        char path[256];
        struct stat st;

        write_file("gw.conf", "198.51.100.0/24\n");
        write_config("192.0.2.0/25");
        a = build(cache);
        assert_true(allows(a, "198.51.100.1"));
        /* a new file of the same size: the inode and mtime tell */
        snprintf(path, sizeof(path), "%s/gw.conf", dir);
        assert_int_equal(unlink(path), 0);
        write_file("gw.conf", "203.0.113.0/24\n");
        assert_int_equal(stat(path, &st), 0);
        b = build(cache);
        fresh = build(NULL);
        assert_same_ranges(b, fresh);
        assert_false(allows(b, "198.51.100.1"));
        assert_true(allows(b, "203.0.113.1"));
        assert_true(allows(a, "198.51.100.1"));         /* the old set keeps its own */
        policy_set_free(b);
        policy_set_free(fresh);
        policy_set_free(a);
        policy_cache_free(cache);
}

static void test_cache_outlives_nothing(void **state)
{
        struct policy_cache *cache = policy_cache_new();
        struct policy_set *a;

        write_file("gw.conf", "2001:db8:25::/48\n");
        write_config("192.0.2.0/25");
        a = build(cache);
        /* the cache may go first: the policy holds a reference */
        policy_cache_free(cache);
        assert_true(allows(a, "2001:db8:25::5"));
        policy_set_free(a);
}


/* ---- a new version of a catalog applied as its difference ---------------- */

static char last_warning[CONFIG_ERRLEN];

static void keep_warning(const char *file, int line, const char *msg, void *userdata)
{
        snprintf(last_warning, sizeof(last_warning), "%s", msg);
}

/* build(cache), with the error (or "") in err and the last warning kept */
static int build_err(struct policy_cache *cache, struct policy_set **ret, char err[CONFIG_ERRLEN])
{
        struct policy_build_opts o = { .cache = cache };
        struct config *c = NULL;
        char path[256];
        int r;

        snprintf(path, sizeof(path), "%s/mxlock.conf", dir);
        assert_int_equal(config_load(path, &c, err, NULL, NULL), 0);
        last_warning[0] = '\0';
        r = policy_build_with(c, &o, ret, err, keep_warning, NULL);
        config_free(c);
        return r;
}

struct lines {
        char **v;
        size_t n, cap;
};

static void lines_init(struct lines *l, size_t cap)
{
        l->v = calloc(cap, sizeof(*l->v));
        assert_non_null(l->v);
        l->n = 0;
        l->cap = cap;
}

static void lines_free(struct lines *l)
{
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i]);
        free(l->v);
}

static void put_lines(const char *path, const struct lines *l)
{
        FILE *f = fopen(path, "w");

        assert_non_null(f);
        for (size_t i = 0; i < l->n; i++)
                fputs(l->v[i], f);
        fclose(f);
}

/* gw.conf replaced as a sync or a package would: a new file renamed over */
static void write_lines(const struct lines *l)
{
        char path[256], tmp[256];

        snprintf(path, sizeof(path), "%s/gw.conf", dir);
        snprintf(tmp, sizeof(tmp), "%s/gw.conf.new", dir);
        put_lines(tmp, l);
        assert_int_equal(rename(tmp, path), 0);
}

/* An entry line of every kind the lists meet: IPv4 and IPv6 prefixes in
 * small windows (so that they overlap, touch and repeat), comments, CRLF. */
static char *random_line(unsigned *seed)
{
        char buf[128];
        unsigned r = (unsigned)rand_r(seed), kind = r % 16;

        if (kind == 0)
                snprintf(buf, sizeof(buf), "\n");
        else if (kind == 1)
                snprintf(buf, sizeof(buf), "# note %u\n", r >> 8);
        else if (kind < 11)
                snprintf(buf, sizeof(buf), "10.%u.%u.0/%u%s", (r >> 4) % 3, (r >> 8) % 64, 22 + (r >> 16) % 3,
                         (r >> 20) % 5 == 0 ? "   # mx\r\n" : "\n");
        else if (kind < 14)
                snprintf(buf, sizeof(buf), "10.%u.%u.%u\n", (r >> 4) % 3, (r >> 8) % 64, (r >> 16) % 256);
        else
                snprintf(buf, sizeof(buf), "2001:db8:%x:%x::/%u\n", (r >> 4) % 4, (r >> 8) % 32, 60 + (r >> 16) % 8);
        return strdup(buf);
}

static void edit_lines(struct lines *l, unsigned *seed)
{
        unsigned ops = 1 + (unsigned)rand_r(seed) % 6;

        for (unsigned k = 0; k < ops; k++) {
                unsigned op = (unsigned)rand_r(seed) % 4;
                /* the header stays first, the line without a newline last */
                size_t at = 2 + (size_t)rand_r(seed) % (l->n - 2), from = 2 + (size_t)rand_r(seed) % (l->n - 3);
                char *line;

                if (op == 0 && l->n > 10) {             /* a line goes */
                        free(l->v[from]);
                        memmove(l->v + from, l->v + from + 1, (l->n - from - 1) * sizeof(char *));
                        l->n--;
                        continue;
                }
                if (l->n + 1 >= l->cap)
                        continue;
                line = op == 1 ? random_line(seed)                      /* a new line */
                       : op == 2 ? strdup(l->v[from])                   /* a repeat */
                                 : NULL;
                if (op == 3) {                                          /* a line moves */
                        line = l->v[from];
                        memmove(l->v + from, l->v + from + 1, (l->n - from - 1) * sizeof(char *));
                        l->n--;
                        if (at > l->n - 1)
                                at = l->n - 1;
                }
                memmove(l->v + at + 1, l->v + at, (l->n - at) * sizeof(char *));
                l->v[at] = line;
                l->n++;
        }
}

/* A random catalog of n lines edited a few lines at a time, versions
 * times: each version is taken as its difference from the one before, and
 * must give what a whole read of it gives: the same ranges, the same
 * duplicate warning. */
static void check_delta_versions(unsigned *seed, size_t n, int versions)
{
        struct policy_cache *cache = policy_cache_new();
        struct policy_set *ps = NULL, *fresh = NULL, *prev = NULL;
        char err[CONFIG_ERRLEN], warning[CONFIG_ERRLEN];
        struct lines l;

        lines_init(&l, n + 8 * (size_t)versions + 16);
        l.v[l.n++] = strdup("description = test\n");
        l.v[l.n++] = strdup("source = test\n");
        for (size_t i = 0; i < n; i++)
                l.v[l.n++] = random_line(seed);
        l.v[l.n++] = strdup("192.0.2.250");     /* no newline at the end */
        write_lines(&l);
        write_config("198.51.100.0/24");
        assert_int_equal(build_err(cache, &prev, err), 0);
        assert_int_equal(policy_cache_stats(cache)->parsed, 1);
        for (int v = 0; v < versions; v++) {
                struct policy_cache *whole = policy_cache_new();

                edit_lines(&l, seed);
                write_lines(&l);
                if (build_err(cache, &ps, err) != 0)
                        fail_msg("version %d: %s", v, err);
                snprintf(warning, sizeof(warning), "%s", last_warning);
                assert_int_equal(policy_cache_stats(cache)->parsed, 1);
                assert_int_equal(policy_cache_stats(cache)->diffed, (unsigned long)v + 1);
                assert_int_equal(build_err(whole, &fresh, err), 0);
                assert_int_equal(policy_cache_stats(whole)->parsed, 1);
                assert_same_ranges(ps, fresh);
                assert_string_equal(warning, last_warning);
                policy_set_free(fresh);
                fresh = build(NULL);                    /* and the path without a cache */
                assert_same_ranges(ps, fresh);
                policy_set_free(fresh);
                policy_cache_free(whole);
                policy_set_free(prev);                  /* the set in force until now */
                prev = ps;
        }
        policy_set_free(prev);
        policy_cache_free(cache);
        lines_free(&l);
}

static void test_catalog_delta_random(void **state)
{
        unsigned seed = 4242;

        for (int round = 0; round < 12; round++)
                check_delta_versions(&seed, round % 3 == 0 ? 40 : 3000, 15);
}

/* A catalog of 3 MB: the comparison goes through its read buffers and
 * blocks (1 MiB and 256 KiB) many times, with edits anywhere. */
static void test_catalog_delta_big(void **state)
{
        unsigned seed = 77;

        check_delta_versions(&seed, 160000, 6);
}

/* What cannot be taken as a difference is read whole: a file edited in
 * place, a changed key line; and a bad new line gets the whole read's
 * error, with its line. */
static void test_catalog_delta_falls_back(void **state)
{
        struct policy_cache *cache = policy_cache_new();
        struct policy_set *a = NULL, *b = NULL;
        char err[CONFIG_ERRLEN], want[CONFIG_ERRLEN];
        struct lines l;
        unsigned seed = 9;

        lines_init(&l, 8192);
        l.v[l.n++] = strdup("description = test\n");
        for (int i = 0; i < 500; i++)
                l.v[l.n++] = random_line(&seed);
        free(l.v[200]);
        l.v[200] = strdup("10.2.0.0/24\n");    /* changed below: IPv4 only, IPv6 untouched */
        write_lines(&l);
        write_config("198.51.100.0/24");
        assert_int_equal(build_err(cache, &a, err), 0);

        /* in place: the old version is gone */
        free(l.v[100]);
        l.v[100] = strdup("203.0.113.0/24\n");
        {
                char path[256];

                snprintf(path, sizeof(path), "%s/gw.conf", dir);
                put_lines(path, &l);
        }
        assert_int_equal(build_err(cache, &b, err), 0);
        assert_int_equal(policy_cache_stats(cache)->parsed, 2);
        assert_int_equal(policy_cache_stats(cache)->diffed, 0);
        assert_true(allows(b, "203.0.113.9"));
        policy_set_free(a);
        a = b;

        /* a key line changes */
        free(l.v[0]);
        l.v[0] = strdup("description = changed\n");
        write_lines(&l);
        assert_int_equal(build_err(cache, &b, err), 0);
        assert_int_equal(policy_cache_stats(cache)->parsed, 3);
        policy_set_free(a);
        a = b;

        /* an entry line changes: a difference, in one family */
        free(l.v[200]);
        l.v[200] = strdup("203.0.112.0/24\n");
        write_lines(&l);
        assert_int_equal(build_err(cache, &b, err), 0);
        assert_int_equal(policy_cache_stats(cache)->diffed, 1);
        assert_true(allows(b, "203.0.112.9"));
        policy_set_free(a);
        a = b;

        /* a bad line: the whole read's error, and the set in force stays */
        free(l.v[300]);
        l.v[300] = strdup("10.1.2.300/24\n");
        write_lines(&l);
        b = NULL;
        assert_true(build_err(cache, &b, err) < 0);
        snprintf(want, sizeof(want), "%s/gw.conf:301: '10.1.2.300/24' is not an address or prefix", dir);
        assert_string_equal(err, want);
        assert_null(b);
        assert_true(allows(a, "203.0.112.9"));
        free(l.v[300]);
        l.v[300] = strdup("10.1.2.0/24\n");
        write_lines(&l);
        assert_int_equal(build_err(cache, &b, err), 0);
        assert_true(allows(b, "10.1.2.3"));
        policy_set_free(a);
        policy_set_free(b);
        policy_cache_free(cache);
        lines_free(&l);
}

/* Found by fuzz_catalog: additions that join ranges read as single ones
 * into one make members of them all (four here, from two and two added). */
static void test_catalog_delta_joins_single_ranges(void **state)
{
        struct policy_cache *cache = policy_cache_new();
        struct policy_set *a = NULL, *b = NULL, *fresh;
        char err[CONFIG_ERRLEN];
        struct lines l;

        lines_init(&l, 16);
        l.v[l.n++] = strdup("checked = 2026-11-23\n");
        l.v[l.n++] = strdup("192.0.2.0/26\n");
        l.v[l.n++] = strdup("192.0.2.192/26\n");
        write_lines(&l);
        write_config("198.51.100.0/24");
        assert_int_equal(build_err(cache, &a, err), 0);
        l.v[l.n++] = strdup("192.0.2.*\n");
        l.v[l.n++] = strdup("192.0.2.128/26\n");
        write_lines(&l);
        assert_int_equal(build_err(cache, &b, err), 0);
        assert_int_equal(policy_cache_stats(cache)->diffed, 1);
        fresh = build(NULL);
        assert_same_ranges(b, fresh);
        /* and back: the members split again */
        free(l.v[--l.n]);
        free(l.v[--l.n]);
        write_lines(&l);
        policy_set_free(a);
        assert_int_equal(build_err(cache, &a, err), 0);
        assert_int_equal(policy_cache_stats(cache)->diffed, 2);
        assert_true(allows(a, "192.0.2.1"));
        assert_false(allows(a, "192.0.2.64"));
        assert_false(allows(a, "192.0.2.130"));
        policy_set_free(fresh);
        policy_set_free(a);
        policy_set_free(b);
        policy_cache_free(cache);
        lines_free(&l);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_cached_equals_uncached, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cached_union_random, setup, teardown),
                cmocka_unit_test_setup_teardown(test_config_change_uses_cache, setup, teardown),
                cmocka_unit_test_setup_teardown(test_catalog_change_is_parsed_again, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cache_outlives_nothing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_catalog_delta_random, setup, teardown),
                cmocka_unit_test_setup_teardown(test_catalog_delta_big, setup, teardown),
                cmocka_unit_test_setup_teardown(test_catalog_delta_falls_back, setup, teardown),
                cmocka_unit_test_setup_teardown(test_catalog_delta_joins_single_ranges, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
