/* src/tally.h: folds a flood into summaries with exact counts. The first
 * few attempts of a source in a window are recorded one by one, and the
 * rest are counted and written as one `summary` per source and window.
 * Optionally (tally_limit()) also per network: once a network (/24, /48)
 * has had its individual records in a window, attempts from its other
 * sources fold into one summary for the network; and every record the
 * table writes (individual or summary) draws from a budget per second:
 * past it, attempts and summaries fold into one `rate` summary per policy
 * and family, written every second. Memory is fixed tables with a keyed
 * hash (a random key per start, so no one can choose sources that collide);
 * an entry that must make room is written out first (or folded into the
 * rate summary), so no attempt goes uncounted however many sources there
 * are. */
#ifndef MXLOCK_TALLY_H
#define MXLOCK_TALLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "prefix.h"

/* What a summary folded. */
enum tally_kind {
        TALLY_SOURCE = 0,       /* one source's attempts beyond its individual records */
        TALLY_NET,              /* several sources of one network: addr/net_len */
        TALLY_RATE,             /* past the records budget: any source of the family */
};

struct tally_entry {
        addr128 addr;                   /* the source, or the network (TALLY_NET), or 0 */
        struct timeval first, last;     /* of the folded attempts */
        uint64_t pending;               /* folded, not yet written */
        uint32_t window_start;          /* seconds */
        uint32_t in_window;             /* attempts seen in this window */
        uint16_t policy;
        uint16_t dport;
        uint8_t family;
        uint8_t kind;                   /* enum tally_kind */
        uint8_t net_len;                /* TALLY_NET: the network's prefix length */
        bool used;
        bool offender;                  /* handed to the kernel's offender set */
};

struct tally {
        struct tally_entry *v;          /* per source */
        size_t cap;                     /* a power of two */
        unsigned limit;                 /* individual records per source and window */
        unsigned window;                /* seconds */
        uint64_t evictions;
        size_t used;                    /* entries in use in v and net: a sweep of none reads nothing */
        uint64_t key[2];                /* the hash's key, random per tally_init */
        /* tally_limit(): 0 = off */
        struct tally_entry *net;        /* per network */
        size_t net_cap;
        unsigned net_limit;             /* individual records per network and window */
        unsigned rate;                  /* records per second */
        uint32_t rate_sec;
        unsigned rate_left;
        struct tally_entry *over;       /* TALLY_RATE, [policy * 2 + (family == AF_INET6)] */
        size_t nover;
        uint64_t rate_folded;           /* attempts that went to a rate summary */
};

typedef void (*tally_flush_fn)(const struct tally_entry *e, void *userdata);

/* Allocate a table of cap slots (rounded up to a power of two) and draw the
 * hash key. */
int tally_init(struct tally *t, size_t cap, unsigned limit, unsigned window);
/* Also fold by network (IPv4 /24, IPv6 /48) in a table of net_cap slots,
 * net_limit individual records per network and window, and write at most
 * rate records per second (summaries of kind TALLY_RATE come on top: at
 * most two per policy each second, from tally_sweep()). */
int tally_limit(struct tally *t, size_t net_cap, unsigned net_limit, unsigned rate);
void tally_free(struct tally *t);

/* Count one attempt. Returns true when it should be written on its own,
 * false when it was folded: *ret_entry then points at the source's entry
 * (whose `offender` the caller may set), or at an entry with `offender`
 * already true when the attempt went to a network or rate summary. An
 * entry that has to leave its slot is handed to flush first when it holds
 * folded attempts. */
bool tally_hit(struct tally *t, int family, addr128 addr, uint16_t policy, uint16_t dport,
               const struct timeval *now, tally_flush_fn flush, void *userdata, struct tally_entry **ret_entry);

/* Take one record from this second's budget (tally_limit()); false when it
 * is spent. For records written beside the table (kernel offenders'). */
bool tally_spend(struct tally *t, const struct timeval *now);

/* The entry of this source, or NULL when it has none (never seen, or
 * evicted). */
struct tally_entry *tally_find(struct tally *t, int family, addr128 addr, uint16_t policy);

/* Hand every entry whose window has ended (all of them when `all`) with
 * folded attempts to flush, and reset it; then the rate summaries. */
void tally_sweep(struct tally *t, const struct timeval *now, bool all, tally_flush_fn flush, void *userdata);

/* Forget everything about a policy index (on reload the indexes change):
 * entries with folded attempts are flushed first. */
void tally_flush_all(struct tally *t, tally_flush_fn flush, void *userdata);

/* The network an address folds into: IPv4 /24, IPv6 /48. */
addr128 tally_net_of(int family, addr128 a, uint8_t *ret_len);

/* SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
 * 2012) of len bytes under a 128-bit key. */
uint64_t tally_siphash(const uint64_t key[2], const void *data, size_t len);

#endif
