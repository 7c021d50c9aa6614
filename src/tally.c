/* src/tally.c: bounded folding of refused attempts, exact counts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tally.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                                  \
        do {                                                                                                      \
                v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);                                        \
                v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                                            \
                v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                                            \
                v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);                                        \
        } while (0)

uint64_t tally_siphash(const uint64_t key[2], const void *data, size_t len)
{
        const unsigned char *p = data;
        uint64_t v0 = 0x736f6d6570736575ULL ^ key[0], v1 = 0x646f72616e646f6dULL ^ key[1];
        uint64_t v2 = 0x6c7967656e657261ULL ^ key[0], v3 = 0x7465646279746573ULL ^ key[1];
        uint64_t b = (uint64_t)len << 56, m;
        size_t i;

        for (i = 0; i + 8 <= len; i += 8) {
                m = 0;
                for (int k = 7; k >= 0; k--)
                        m = m << 8 | p[i + (size_t)k];
                v3 ^= m;
                SIPROUND;
                SIPROUND;
                v0 ^= m;
        }
        for (int k = (int)(len - i) - 1; k >= 0; k--)
                b |= (uint64_t)p[i + (size_t)k] << (8 * k);
        v3 ^= b;
        SIPROUND;
        SIPROUND;
        v0 ^= b;
        v2 ^= 0xff;
        SIPROUND;
        SIPROUND;
        SIPROUND;
        SIPROUND;
        return v0 ^ v1 ^ v2 ^ v3;
}

/* A key nobody outside can know: from the kernel's generator; should that
 * fail (no getrandom), a mix of what differs per start. */
static void draw_key(uint64_t key[2])
{
        struct timespec ts;

        if (getrandom(key, 2 * sizeof(*key), 0) == (ssize_t)(2 * sizeof(*key)))
                return;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        key[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
        clock_gettime(CLOCK_REALTIME, &ts);
        key[1] = (uint64_t)ts.tv_sec * 0xbf58476d1ce4e5b9ULL ^ (uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)key;
}

static struct tally_entry *alloc_table(size_t cap, size_t *ret_n)
{
        size_t n = 1;

        while (n < cap)
                n <<= 1;
        *ret_n = n;
        /* calloc: pages only become resident once a flood touches them */
        return calloc(n, sizeof(struct tally_entry));
}

int tally_init(struct tally *t, size_t cap, unsigned limit, unsigned window)
{
        memset(t, 0, sizeof(*t));
        t->v = alloc_table(cap, &t->cap);
        if (!t->v)
                return -ENOMEM;
        t->limit = limit;
        t->window = window ? window : 1;
        draw_key(t->key);
        return 0;
}

int tally_limit(struct tally *t, size_t net_cap, unsigned net_limit, unsigned rate)
{
        free(t->net);
        t->net = alloc_table(net_cap, &t->net_cap);
        if (!t->net)
                return -ENOMEM;
        t->net_limit = net_limit;
        t->rate = rate;
        return 0;
}

void tally_free(struct tally *t)
{
        free(t->v);
        free(t->net);
        free(t->over);
        t->v = t->net = t->over = NULL;
        t->nover = 0;
}

addr128 tally_net_of(int family, addr128 a, uint8_t *ret_len)
{
        /* IPv4 /24: the smallest block routed on the internet, so an
         * attacker's own addresses come at least that many at a time. IPv6
         * /48: one site's usual assignment, handed out for free by tunnel
         * brokers; a /64 would let one such site appear as 65536 networks. */
        if (family == AF_INET) {
                *ret_len = 24;
                return a & ~(addr128)0xff;
        }
        *ret_len = 48;
        return a & ~(((addr128)1 << 80) - 1);
}

static size_t slot_of(const struct tally *t, size_t cap, int family, addr128 a, uint16_t policy, uint8_t kind)
{
        uint64_t w[3] = { (uint64_t)a, (uint64_t)(a >> 64),
                          (uint64_t)policy | (uint64_t)family << 16 | (uint64_t)kind << 32 };

        return (size_t)tally_siphash(t->key, w, sizeof(w)) & (cap - 1);
}

/* One more record this second? */
static bool spend(struct tally *t, uint32_t sec)
{
        if (!t->rate)
                return true;
        if (sec != t->rate_sec) {
                t->rate_sec = sec;
                t->rate_left = t->rate;
        }
        if (!t->rate_left)
                return false;
        t->rate_left--;
        return true;
}

/* The rate summary of a policy and family, or NULL when out of memory. */
static struct tally_entry *rate_entry(struct tally *t, int family, uint16_t policy)
{
        size_t i = (size_t)policy * 2 + (family == AF_INET6);

        if (i >= t->nover) {
                size_t n = 2 * t->nover > i + 1 ? 2 * t->nover : i + 1;
                struct tally_entry *v;

                if (n < 8)
                        n = 8;
                v = realloc(t->over, n * sizeof(*v));
                if (!v)
                        return NULL;
                memset(v + t->nover, 0, (n - t->nover) * sizeof(*v));
                t->over = v;
                t->nover = n;
        }
        if (!t->over[i].used) {
                t->over[i].used = true;
                t->over[i].offender = true;     /* never the kernel's to refuse */
                t->over[i].kind = TALLY_RATE;
                t->over[i].family = (uint8_t)family;
                t->over[i].policy = policy;
        }
        return &t->over[i];
}

static void fold(struct tally_entry *e, uint64_t n, const struct timeval *first, const struct timeval *last)
{
        if (!e->pending || timercmp(first, &e->first, <))
                e->first = *first;
        if (!e->pending || timercmp(last, &e->last, >))
                e->last = *last;
        e->pending += n;
}

/* Write e's folded attempts: as its own summary while the budget lasts,
 * else into its policy's rate summary. */
static void emit(struct tally *t, struct tally_entry *e, uint32_t sec, tally_flush_fn flush, void *userdata)
{
        struct tally_entry *r;

        if (!e->pending)
                return;
        if (spend(t, sec) || !(r = rate_entry(t, e->family, e->policy))) {
                flush(e, userdata);
        } else {
                fold(r, e->pending, &e->first, &e->last);
                r->dport = e->dport;
                t->rate_folded += e->pending;
        }
        e->pending = 0;
}

static bool entry_is(const struct tally_entry *e, int family, addr128 addr, uint16_t policy)
{
        return e->used && e->family == family && e->addr == addr && e->policy == policy;
}

/* The entry for (family, addr, policy) in table v, made (and the window
 * rolled over) when needed. */
static struct tally_entry *take(struct tally *t, struct tally_entry *v, size_t cap, int family, addr128 addr,
                                uint16_t policy, uint8_t kind, uint32_t sec, tally_flush_fn flush, void *userdata)
{
        struct tally_entry *e = &v[slot_of(t, cap, family, addr, policy, kind)];

        if (!entry_is(e, family, addr, policy)) {
                if (e->used) {
                        t->evictions++;
                        emit(t, e, sec, flush, userdata);
                } else {
                        t->used++;
                }
                memset(e, 0, sizeof(*e));
                e->used = true;
                e->family = (uint8_t)family;
                e->addr = addr;
                e->policy = policy;
                e->kind = kind;
                e->window_start = sec;
        } else if (sec - e->window_start >= t->window) {
                emit(t, e, sec, flush, userdata);
                e->window_start = sec;
                e->in_window = 0;
        }
        return e;
}

bool tally_hit(struct tally *t, int family, addr128 addr, uint16_t policy, uint16_t dport,
               const struct timeval *now, tally_flush_fn flush, void *userdata, struct tally_entry **ret_entry)
{
        uint32_t sec = (uint32_t)now->tv_sec;
        struct tally_entry *e, *n, *r;
        uint8_t len;

        e = take(t, t->v, t->cap, family, addr, policy, TALLY_SOURCE, sec, flush, userdata);
        e->dport = dport;
        if (ret_entry)
                *ret_entry = e;
        if (e->in_window >= t->limit) {
                /* a source repeating itself: its own summary */
                fold(e, 1, now, now);
                return false;
        }
        e->in_window++;
        if (!t->net)
                return true;
        n = take(t, t->net, t->net_cap, family, tally_net_of(family, addr, &len), policy, TALLY_NET, sec, flush,
                 userdata);
        n->net_len = len;
        n->offender = true;     /* a network is never put in the offender set */
        n->dport = dport;
        if (n->in_window < t->net_limit && spend(t, sec)) {
                n->in_window++;
                return true;
        }
        /* the network had its records this window: one summary for its
         * other sources; or the second's budget is spent: the rate summary */
        r = n->in_window >= t->net_limit ? n : rate_entry(t, family, policy);
        if (!r)
                r = n;
        if (r != n)
                t->rate_folded++;
        r->dport = dport;
        fold(r, 1, now, now);
        if (ret_entry)
                *ret_entry = r;
        return false;
}

bool tally_spend(struct tally *t, const struct timeval *now)
{
        return spend(t, (uint32_t)now->tv_sec);
}

struct tally_entry *tally_find(struct tally *t, int family, addr128 addr, uint16_t policy)
{
        struct tally_entry *e = &t->v[slot_of(t, t->cap, family, addr, policy, TALLY_SOURCE)];

        return entry_is(e, family, addr, policy) ? e : NULL;
}

static void sweep_table(struct tally *t, struct tally_entry *v, size_t cap, uint32_t sec, bool all,
                        tally_flush_fn flush, void *userdata)
{
        for (size_t i = 0; i < cap; i++) {
                struct tally_entry *e = &v[i];

                if (!e->used || (!all && sec - e->window_start < t->window))
                        continue;
                emit(t, e, sec, flush, userdata);
                if (all) {
                        e->used = false;
                        t->used--;
                }
        }
}

/* The rate summaries: written whatever the budget (at most two per policy
 * per call), so they bound what the budget leaves over. */
static void flush_rate(struct tally *t, tally_flush_fn flush, void *userdata)
{
        for (size_t i = 0; i < t->nover; i++) {
                struct tally_entry *e = &t->over[i];

                if (e->used && e->pending) {
                        flush(e, userdata);
                        e->pending = 0;
                }
        }
}

void tally_sweep(struct tally *t, const struct timeval *now, bool all, tally_flush_fn flush, void *userdata)
{
        uint32_t sec = (uint32_t)now->tv_sec;

        /* untouched pages of an idle table stay out of memory */
        if (t->used)
                sweep_table(t, t->v, t->cap, sec, all, flush, userdata);
        if (t->used && t->net)
                sweep_table(t, t->net, t->net_cap, sec, all, flush, userdata);
        flush_rate(t, flush, userdata);
}

void tally_flush_all(struct tally *t, tally_flush_fn flush, void *userdata)
{
        struct timeval now;

        gettimeofday(&now, NULL);
        tally_sweep(t, &now, true, flush, userdata);
        for (size_t i = 0; i < t->nover; i++)
                t->over[i].used = false;
}
