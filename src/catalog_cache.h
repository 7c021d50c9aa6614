/* src/catalog_cache.h: the catalog cache (struct policy_cache; its public
 * face, policy_cache_new/free/stats, is in policy.h). It owns provider
 * catalogs parsed into merged ranges, each kept with its file open across
 * reloads and reused while the file is unchanged; a new version of a file
 * applied as its line difference from the version kept (catalog_diff
 * gives the lines; the difference algebra here redoes only the merged
 * ranges an edit touches, from their members); and each policy's allowed
 * list joined from its own ranges and its catalogs', shared with the next
 * build while those inputs stay the same. policy.c builds through it; the
 * daemon keeps one cache for its lifetime. */
#ifndef MXLOCK_CATALOG_CACHE_H
#define MXLOCK_CATALOG_CACHE_H

#include "catalog.h"
#include "config.h"
#include "policy.h"

/* policy.c's build context, which the cache reports through: errors as
 * "FILE:LINE: message" in err (CONFIG_ERRLEN bytes), warnings to warn
 * (NULL: dropped). */
struct build_ctx {
        char *err;
        policy_warn_fn warn;
        void *userdata;
};

/* In policy.c: an error naming FILE:LINE (line 0: FILE only), returns r;
 * a warning; the catalog file a provider name stands for; a catalog
 * parsed (through sc when not NULL) that must have ranges. */
int build_fail(struct build_ctx *b, int r, const char *file, int line, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
void build_warn(struct build_ctx *b, const char *file, int line, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
int build_find_catalog(struct build_ctx *b, const struct cfg_item *it, const char *dirs, char **ret_path);
int build_read_catalog(struct build_ctx *b, const struct cfg_item *it, const char *path, struct catalog_scan *sc,
                       struct catalog **ret);

/* A build with the cache starts with begin (nothing cached is in use yet)
 * and ends with end (what the build did not use leaves the cache). */
void catalog_cache_begin(struct policy_cache *c);
void catalog_cache_end(struct policy_cache *c);

/* The provider `it` names, for policy p: its merged ranges from the cache
 * when its file has not changed, as a difference from the version cached
 * when that can be, else read whole; p takes a reference (p->refs). */
int catalog_cache_provider(struct build_ctx *b, struct policy *p, const struct cfg_item *it, const char *dirs,
                           struct policy_cache *cache);

/* p->allow[] = p's own merged ranges joined with its catalogs'. With a
 * cache, a family whose inputs are those of the last build shares that
 * build's list (p->joined). cache NULL: join without keeping anything. */
int catalog_cache_join(struct policy *p, struct policy_cache *cache);

/* Drop p's references to cached catalogs and joins. */
void catalog_cache_release(struct policy *p);

#endif
