/* src/daemon/hosts.h: the host-name cache (docs/design.md, "Reload,
 * re-resolution and self-healing"). It owns the last known addresses of each
 * host name in allow/deny (kept when a later lookup fails), their TTLs, and
 * the background resolution: a helper thread resolves a batch of names with
 * a total deadline and signals its end through an eventfd registered with
 * the loop, so that no handler waits on DNS. Until hosts_attach, lookups are
 * blocking (start-up: names must resolve at load); after it, the policy
 * build is answered from the cache only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

struct hosts;
struct loop;

/* A resolver in the shape of struct policy_resolver's callback (the daemon
 * passes dns_policy_resolve; tests inject their own). Must be thread-safe:
 * the background batch calls it from the helper thread. */
typedef int (*hosts_resolve_fn)(const char *name, struct prefix **ret, size_t *ret_n, uint32_t *ret_ttl,
                                char *err, size_t errlen, void *userdata);

struct hosts_opts {
        hosts_resolve_fn resolve;
        void *userdata;
        uint32_t retry_ttl;             /* TTL handed out for last known addresses after a failure */
        unsigned deadline_ms;           /* total per batch: names not begun by then fail (0: 30000) */
};

/* What a finished batch found. */
struct hosts_outcome {
        bool changed;                   /* some name's addresses differ from the cache's */
        size_t failed;                  /* names whose lookup failed (last known kept, warned) */
        bool first;                     /* names asked for by a build (not yet in the cache) were in it */
};
typedef void (*hosts_done_fn)(const struct hosts_outcome *o, void *userdata);

int hosts_new(const struct hosts_opts *o, struct hosts **ret);
/* A batch in flight is abandoned (its thread frees it when it returns). */
void hosts_free(struct hosts *h);

/* From now on lookups come from the cache, and finished batches are
 * collected by the loop and reported to done. Returns 0 or -errno. */
int hosts_attach(struct hosts *h, struct loop *l, hosts_done_fn done, void *userdata);

/* The resolver for policy_build_with. Blocking (before hosts_attach): asks
 * the resolver, remembers the answer, and when a lookup fails hands out the
 * last known addresses with a warning. Cached (after): the last known
 * addresses; a name never resolved fails with -EAGAIN ("resolving in the
 * background") and goes into the next batch. */
void hosts_resolver(struct hosts *h, struct policy_resolver *ret);

/* Forget the names the last build (the last hosts_resolver) did not ask
 * for: call after a reload took a new configuration in force. */
void hosts_prune(struct hosts *h);

/* A build asked for a name that no batch has tried yet. */
bool hosts_pending(const struct hosts *h);

/* Since the last hosts_clear_stale: a lookup failed and last known addresses
 * stood in. */
bool hosts_stale(const struct hosts *h);
void hosts_clear_stale(struct hosts *h);

/* Start a background batch of every name the cache knows and of those
 * builds asked for. Returns 0, -EBUSY while one is in flight, -ENOENT when
 * there is no name, or -errno. */
int hosts_refresh(struct hosts *h);
bool hosts_busy(const struct hosts *h);

/* The descriptor the loop watches (readable when a batch finished), and
 * the work done when it is: merge the batch into the cache. Exposed for
 * tests; hosts_attach registers them. Returns 1 when a batch was
 * collected, 0 when none had finished. */
int hosts_fd(const struct hosts *h);
int hosts_collect(struct hosts *h, struct hosts_outcome *ret);
