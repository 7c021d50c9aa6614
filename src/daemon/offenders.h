/* src/daemon/offenders.h: repeat offenders. Owns the sources handed to the
 * kernel's offender sets (refused there, counted from their elements), the
 * ones of the batch being read that wait to be handed over, and which
 * policies' early rules are in. A source that crosses the fold threshold
 * goes in (offender_add, then offenders_apply after the batch's verdicts);
 * every second its counter is read and what it refused is written as a
 * summary; after OFFENDER_QUIET_TICKS quiet seconds it leaves. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "prefix.h"
#include "tally.h"

struct daemon;

#define OFFENDERS_MAX 1024      /* sources refused in the kernel at once */
#define OFFENDERS_PENDING 256   /* handed over per batch (RECV_BATCH) */
#define OFFENDER_QUIET_TICKS 30 /* seconds without an attempt before a source leaves */

/* A source that floods: refused in the kernel, counted from its element. */
struct offender {
        addr128 addr;
        struct timeval since;           /* start of the attempts not yet written */
        uint64_t packets;               /* the element's counter up to which attempts are written */
        uint64_t read;                  /* the element's counter when last read */
        uint16_t policy;
        uint8_t family;
        uint8_t quiet;                  /* ticks without a new attempt */
        bool seen;                      /* found in this read */
};

struct offenders {
        struct offender v[OFFENDERS_MAX];
        size_t n;
        uint8_t *early;                 /* per policy: the families whose early rule is in (NULL: none) */
        size_t nearly;
        struct pending_offender {       /* offenders of the batch being read, for offenders_apply */
                addr128 addr;
                int family;
                uint16_t policy;
                struct timeval since;
        } pending[OFFENDERS_PENDING];
        size_t npending;
        uint64_t full;                  /* floods we could not hand to the kernel */
};

/* An install replaced the early chain: no rules in it now. */
void early_reset(struct daemon *d);
void offender_add(struct daemon *d, struct tally_entry *e, const struct timeval *now);
void offenders_apply(struct daemon *d);
/* Read the counters, write, let quiet ones go; with `all` every one goes. */
void offenders_tick(struct daemon *d, bool all);
/* A rebuilt table starts with zeroed counters and empty offender sets. */
void counters_reset(struct daemon *d, size_t npolicies);
void offenders_free(struct daemon *d);
