/* src/policy.h: turns a parsed config plus provider catalogs into policies:
 * per policy and family, the merged allow and deny ranges that go to the
 * kernel, and the unmerged sources for `mxlock explain`. Each policy set
 * carries the view of it the kernel side reads (rules/ruleset.h). */
#ifndef MXLOCK_POLICY_H
#define MXLOCK_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "prefix.h"
#include "ruleset.h"

/* Where an allowed or denied prefix came from. */
struct policy_source {
        struct prefix prefix;
        bool deny;
        char *origin;   /* "allow at FILE:LINE", "provider gfi-oneconnect (mx1...)", ... */
};

struct catalog_ranges;
struct joined;

/* An inbound policy (who may connect to this host's ports: allow is of
 * sources) or an outbound one (outbound: which local users may connect
 * out, and to which destinations: allow is of destinations, deny empty). */
struct policy {
        char name[POLICY_NAME_MAX];
        bool outbound;
        uint32_t *uids;                  /* outbound: the users allowed, sorted, unique */
        size_t nuids;
        char **users;                    /* outbound: as the config names them, for status */
        size_t nusers;
        uint16_t *ports;
        size_t nports;
        struct range_list allow[FAM_N];  /* merged */
        struct range_list deny[FAM_N];   /* merged */
        struct policy_source *src;
        size_t nsrc, capsrc;
        char **providers;                /* names, for status */
        size_t nproviders;
        uint32_t min_ttl;                /* shortest DNS TTL of a resolved name, 0: none */
        struct catalog_ranges **refs;    /* cached catalogs whose ranges it uses */
        size_t nrefs;
        struct joined *joined[FAM_N];    /* what allow[f] borrows, shared with the cache */
};

struct policy_set {
        struct policy *v;
        size_t n;
        struct ruleset_view view;        /* what the kernel side reads of v, filled by policy_build */
};

typedef void (*policy_warn_fn)(const char *file, int line, const char *msg, void *userdata);

/* Resolver used for host names in allow/deny; returns 0 and addresses, or a
 * negative errno / EAI code with a message. Replaceable for tests. */
struct policy_resolver {
        int (*resolve)(const char *name, struct prefix **ret, size_t *ret_n, uint32_t *ret_ttl,
                       char *err, size_t errlen, void *userdata);
        void *userdata;
};

/* Catalogs parsed into merged ranges, reused while their file is unchanged
 * (same inode, size and mtime), so a reload with a huge catalog costs a
 * linear merge instead of a parse. The daemon keeps one for its lifetime.
 * Kept in src/catalog_cache.c (see catalog_cache.h). */
struct policy_cache;
struct policy_cache *policy_cache_new(void);
void policy_cache_free(struct policy_cache *c);

/* How the cache came by the catalog versions it read. */
struct policy_cache_stats {
        unsigned long parsed;           /* read whole */
        unsigned long diffed;           /* as a difference from the version before */
        unsigned long joins_shared;     /* allowed lists kept from the build before */
};
const struct policy_cache_stats *policy_cache_stats(const struct policy_cache *c);

struct policy_build_opts {
        const char *provider_dirs;              /* NULL: the config's */
        const struct policy_resolver *res;      /* NULL: the system resolver */
        struct policy_cache *cache;             /* NULL: parse every catalog */
        bool catalog_sources;                   /* keep each catalog prefix as a source (explain) */
};

/* Build the policies with options. With a cache and without
 * catalog_sources, prefixes from catalogs are not kept one by one (the
 * daemon needs only the merged ranges and the config's own sources). */
int policy_build_with(const struct config *c, const struct policy_build_opts *o, struct policy_set **ret,
                      char err[CONFIG_ERRLEN], policy_warn_fn warn, void *userdata);

/* Build the policies of c, reading catalogs from provider_dirs (NULL: the
 * config's). Resolves host names with the system resolver unless res is set.
 * Returns 0, or a negative errno with "FILE:LINE: message" in err;
 * warnings go to warn (NULL: dropped). */
int policy_build(const struct config *c, const char *provider_dirs, const struct policy_resolver *res,
                 struct policy_set **ret, char err[CONFIG_ERRLEN], policy_warn_fn warn, void *userdata);

void policy_set_free(struct policy_set *s);

/* Does the policy lock this port? */
bool policy_has_port(const struct policy *p, uint16_t port);

/* Why an address is accepted or refused by policy p: returns true when
 * allowed. *ret_src gets the deciding source (a deny or the first allow that
 * contains it), or NULL when no source contains it. */
bool policy_classify(const struct policy *p, int family, addr128 a, const struct policy_source **ret_src);

/* Outbound: is this uid one of the users the policy allows? */
bool policy_has_uid(const struct policy *p, uint32_t uid);

/* Total merged ranges over all policies and families. */
size_t policy_set_ranges(const struct policy_set *s);

#endif
