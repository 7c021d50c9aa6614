/* src/tally.h: folds a flood into per-source summaries. The first few
 * attempts of a source in a window are recorded one by one; the rest are
 * counted and written as one `summary` per source and window. Memory is a
 * fixed table: a source that must make room for another is written out
 * first, so no attempt goes uncounted however many sources there are. */
#ifndef MXLOCK_TALLY_H
#define MXLOCK_TALLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "prefix.h"

struct tally_entry {
        addr128 addr;
        struct timeval first, last;     /* of the folded attempts */
        uint64_t pending;               /* folded, not yet written */
        uint32_t window_start;          /* seconds */
        uint32_t in_window;             /* attempts seen in this window */
        uint16_t policy;
        uint16_t dport;
        uint8_t family;
        bool used;
        bool offender;                  /* handed to the kernel's offender set */
};

struct tally {
        struct tally_entry *v;
        size_t cap;             /* a power of two */
        unsigned limit;         /* individual records per source and window */
        unsigned window;        /* seconds */
        uint64_t evictions;
};

typedef void (*tally_flush_fn)(const struct tally_entry *e, void *userdata);

/* Allocate a table of cap slots (rounded up to a power of two). */
int tally_init(struct tally *t, size_t cap, unsigned limit, unsigned window);
void tally_free(struct tally *t);

/* Count one attempt. Returns true when it should be written on its own,
 * false when it was folded (*ret_entry then points at the source's entry). An entry that has to leave its slot for this
 * source is handed to flush first when it holds folded attempts. */
bool tally_hit(struct tally *t, int family, addr128 addr, uint16_t policy, uint16_t dport,
               const struct timeval *now, tally_flush_fn flush, void *userdata, struct tally_entry **ret_entry);

/* The entry of this source, or NULL when it has none (never seen, or
 * evicted). */
struct tally_entry *tally_find(struct tally *t, int family, addr128 addr, uint16_t policy);

/* Hand every entry whose window has ended (all of them when `all`) with
 * folded attempts to flush, and reset it. */
void tally_sweep(struct tally *t, const struct timeval *now, bool all, tally_flush_fn flush, void *userdata);

/* Forget everything about a policy index (on reload the indexes change):
 * entries with folded attempts are flushed first. */
void tally_flush_all(struct tally *t, tally_flush_fn flush, void *userdata);

#endif
