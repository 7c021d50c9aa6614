/* src/daemon/outbound.h: the outbound side of the packet path: a queued
 * SYN of this host's own (an [outbound NAME] policy) gets its verdict and
 * one record naming who tried. Owns the attribution context (owner.h: the
 * socket's pid, comm and unit, user names) and the outbound rate fold: at
 * most OUTBOUND_RATE records a second carry full attribution; past it the
 * second's attempts fold into one summary per policy, user and family
 * ("fold":"rate"), so that a runaway script costs a bounded amount of
 * lookups and log, and every attempt is still counted. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>

#include "decode.h"
#include "queue.h"

struct daemon;
struct owner_ctx;

#define OUTBOUND_RATE 100
/* Time the owner lookups may take in one second (5 % of the loop); past
 * it, the second's records name the uid and user only. */
#define OUTBOUND_LOOKUP_BUDGET_US 50000
#define OUTBOUND_FOLD_SLOTS 64

struct outbound_fold {
        bool used;
        uint16_t policy;
        bool has_uid;
        uint32_t uid;
        int family;
        uint64_t count;
        struct timeval first, last;
};

struct outbound {
        struct owner_ctx *owner;        /* NULL: attribution beyond the uid is off */
        time_t second;                  /* the second `written` and the fold belong to */
        unsigned written;               /* records with full attribution this second */
        uint64_t lookup_us;             /* time spent in owner lookups this second */
        struct outbound_fold fold[OUTBOUND_FOLD_SLOTS];
};

/* Open the attribution context (at start, before privileges are dropped). */
int outbound_init(struct daemon *d);
void outbound_free(struct daemon *d);
/* One queued SYN of outbound policy idx (index + 1 as the packet path
 * has it), its headers in s as syn_decode left them (decoded: its
 * result). decide: the interim table of a restore asks us to decide. */
void outbound_packet(struct daemon *d, const struct queue_pkt *p, unsigned idx, bool decide, int decoded,
                     const struct syn_info *s);
/* Write the fold's summaries: those of an ended second, or all (at stop). */
void outbound_flush(struct daemon *d, bool all);
