/* tests/fuzz/fuzz_catalog.c: provider catalogs, and a catalog's new version
 * taken as its difference from the old one.
 *
 * The input is two versions of a catalog, split at the first "\n~~\n" (none:
 * the second is the first with its first line dropped). The first is parsed
 * on its own (catalog_parse_file), then both are read through the daemon's
 * cache: the first whole, the second renamed over it, so that the cache
 * takes it as its difference when it can. A fresh cache reads the second
 * whole. The two must agree: the same result, the same error text, the same
 * duplicate warning, the same ranges. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "config.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static struct config *cfg;

static void keep_warning(const char *file, int line, const char *msg, void *userdata)
{
        snprintf(userdata, CONFIG_ERRLEN, "%s:%d: %s", file, line, msg);
}

static bool write_file(const char *path, const uint8_t *data, size_t size)
{
        FILE *f = fopen(path, "we");
        bool ok;

        if (!f)
                return false;
        ok = fwrite(data, 1, size, f) == size;
        return fclose(f) == 0 && ok;
}

static bool setup(void)
{
        char path[128], text[512];

        snprintf(dir, sizeof(dir), "/tmp/fuzz_catalog.%ld", (long)getpid());
        if (mkdir(dir, 0700) < 0 && access(dir, W_OK) < 0)
                return false;
        snprintf(path, sizeof(path), "%s/mxlock.conf", dir);
        snprintf(text, sizeof(text),
                 "[daemon]\nprovider_dirs = %s\naudit_log = %s/audit.jsonl\n\n"
                 "[policy p]\nports = 25\nproviders = cat\nallow = 192.0.2.0/25\n", dir, dir);
        if (!write_file(path, (const uint8_t *)text, strlen(text)))
                return false;
        {
                char err[CONFIG_ERRLEN];

                return config_load(path, &cfg, err, NULL, NULL) == 0;
        }
}

static int build(struct policy_cache *cache, struct policy_set **ret, char err[CONFIG_ERRLEN],
                 char warning[CONFIG_ERRLEN])
{
        struct policy_build_opts o = { .cache = cache };

        warning[0] = '\0';
        *ret = NULL;
        return policy_build_with(cfg, &o, ret, err, keep_warning, warning);
}

static bool same_ranges(const struct policy_set *a, const struct policy_set *b)
{
        for (int f = 0; f < FAM_N; f++) {
                const struct range_list *x = &a->v[0].allow[f], *y = &b->v[0].allow[f];

                if (x->n != y->n || (x->n && memcmp(x->v, y->v, x->n * sizeof(*x->v))))
                        return false;
        }
        return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char path[128], tmp[128], err1[CONFIG_ERRLEN], err2[CONFIG_ERRLEN], w1[CONFIG_ERRLEN],
                w2[CONFIG_ERRLEN];
        const uint8_t *sep = memmem(data, size, "\n~~\n", 4), *v2;
        size_t n1 = sep ? (size_t)(sep - data) + 1 : size, n2;
        struct policy_cache *cache, *whole;
        struct policy_set *a = NULL, *b = NULL, *c = NULL;
        struct catalog *cat = NULL;
        int r1, r2;

        if (!cfg && !setup())
                return 0;
        if (sep) {
                v2 = sep + 4;
                n2 = size - (size_t)(v2 - data);
        } else {
                const uint8_t *nl = memchr(data, '\n', size);

                v2 = nl ? nl + 1 : data + size;
                n2 = size - (size_t)(v2 - data);
        }
        snprintf(path, sizeof(path), "%s/cat.conf", dir);
        snprintf(tmp, sizeof(tmp), "%s/cat.conf.new", dir);
        if (!write_file(path, data, n1))
                return 0;
        if (catalog_parse_file(path, "cat", &cat, err1) == 0) {
                size_t total = 0;

                for (size_t i = 0; i < cat->n; i++)
                        total += strlen(cat->v[i].text) + (cat->v[i].comment ? strlen(cat->v[i].comment) : 0);
                if (cat->entries != cat->n || (total == 0 && cat->n > 0))
                        __builtin_trap();
                catalog_free(cat);
        } else if (err1[0] == '\0') {
                __builtin_trap();       /* an error always comes with a message */
        }

        cache = policy_cache_new();
        whole = policy_cache_new();
        if (!cache || !whole)
                goto out;
        if (build(cache, &a, err1, w1) < 0)
                goto out;               /* nothing cached to take a difference from */
        if (!write_file(tmp, v2, n2) || rename(tmp, path) < 0)
                goto out;
        r1 = build(cache, &b, err1, w1);
        r2 = build(whole, &c, err2, w2);
        if (r1 != r2)
                __builtin_trap();
        if (r1 < 0 ? strcmp(err1, err2) != 0 : (strcmp(w1, w2) != 0 || !same_ranges(b, c)))
                __builtin_trap();
        if (policy_cache_stats(whole)->diffed != 0)
                __builtin_trap();
out:
        policy_set_free(a);
        policy_set_free(b);
        policy_set_free(c);
        policy_cache_free(cache);
        policy_cache_free(whole);
        return 0;
}
