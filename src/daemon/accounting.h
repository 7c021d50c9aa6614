/* src/daemon/accounting.h: accounting of missed attempts: the per-policy
 * figures (pstats), the kernel queue's drops, and the queued/handled
 * counter gaps written as `missed` records (at start, while running, at
 * stop). */
#pragma once

#include "daemon/daemon.h"

int remap_pstats(struct daemon *d, const struct policy_set *p);
int queue_proc(const struct daemon *d, uint64_t *ret_waiting, uint64_t *ret_dropped);
void account_missed_at_start(struct daemon *d);
void reconcile(struct daemon *d, bool final);
