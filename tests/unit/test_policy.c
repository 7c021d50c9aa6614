/* tests/unit/test_policy.c: policies from a config and catalogs, with and
 * without the daemon's catalog cache: the same ranges either way, reuse
 * while a catalog is unchanged, a fresh parse when it changes. */
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

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_cached_equals_uncached, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cached_union_random, setup, teardown),
                cmocka_unit_test_setup_teardown(test_config_change_uses_cache, setup, teardown),
                cmocka_unit_test_setup_teardown(test_catalog_change_is_parsed_again, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cache_outlives_nothing, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
