/* src/daemon/offenders.h: repeat offenders: sources that flood are handed
 * to the kernel's offender sets, counted from their elements, written as
 * summaries, and let go when quiet; the early chain's rules follow the
 * sets. */
#pragma once

#include "daemon/daemon.h"

void early_reset(struct daemon *d);
void offender_add(struct daemon *d, struct tally_entry *e, const struct timeval *now);
void offenders_apply(struct daemon *d);
void offenders_tick(struct daemon *d, bool all);
void counters_reset(struct daemon *d, size_t npolicies);
