/* src/daemon/accounting.h: accounting of attempts. Owns the per-policy
 * figures (pstats, kept by name across reloads), the daemon's totals of
 * refused and observed attempts, and the reading of the kernel's
 * queued/handled counters: a gap between them (a full queue, a stop, a
 * crash) is written once as a `missed` record and the counters zeroed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

struct daemon;

/* Per-policy figures, kept by name across reloads. */
struct pstat {
        char name[POLICY_NAME_MAX];
        uint64_t refused, observed, folded, missed;
        uint64_t repeat_accounted;      /* kernel-refused repeat attempts written so far */
};

struct accounting {
        struct pstat *pstats;           /* parallel to d->pol->v */
        uint64_t refused, observed;
        uint64_t out_refused, out_observed;     /* of those, the outbound lock's */
        uint64_t packets_seen;          /* d->pkt.packets at the last tick */
};

/* Carry the figures of policies that stay over to the new policy set. */
int remap_pstats(struct daemon *d, const struct policy_set *p);
/* The kernel's figures of our queues: waiting for a verdict, dropped. */
int queue_proc(const struct daemon *d, uint64_t *ret_waiting, uint64_t *ret_dropped);
uint64_t settle_gap(struct daemon *d, size_t i, const char *reason);
void account_missed_at_start(struct daemon *d);
void reconcile(struct daemon *d, bool final);
/* Every second: reconcile when no packet came since the last tick. */
void accounting_tick(struct daemon *d);
void accounting_free(struct daemon *d);
