/* src/tally.c: bounded per-source folding of refused attempts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tally.h"

int tally_init(struct tally *t, size_t cap, unsigned limit, unsigned window)
{
        size_t n = 1;

        while (n < cap)
                n <<= 1;
        memset(t, 0, sizeof(*t));
        /* calloc: pages only become resident once a flood touches them */
        t->v = calloc(n, sizeof(*t->v));
        if (!t->v)
                return -ENOMEM;
        t->cap = n;
        t->limit = limit;
        t->window = window ? window : 1;
        return 0;
}

void tally_free(struct tally *t)
{
        free(t->v);
        t->v = NULL;
}

static size_t slot_of(const struct tally *t, int family, addr128 a, uint16_t policy)
{
        uint64_t h = (uint64_t)a ^ (uint64_t)(a >> 64) ^ ((uint64_t)policy << 48) ^ (uint64_t)family;

        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 33;
        h *= 0xc4ceb9fe1a85ec53ULL;
        h ^= h >> 33;
        return (size_t)h & (t->cap - 1);
}

static void emit(struct tally_entry *e, tally_flush_fn flush, void *userdata)
{
        if (e->pending)
                flush(e, userdata);
        e->pending = 0;
}

static bool entry_is(const struct tally_entry *e, int family, addr128 addr, uint16_t policy)
{
        return e->used && e->family == family && e->addr == addr && e->policy == policy;
}

bool tally_hit(struct tally *t, int family, addr128 addr, uint16_t policy, uint16_t dport,
               const struct timeval *now, tally_flush_fn flush, void *userdata, struct tally_entry **ret_entry)
{
        struct tally_entry *e = &t->v[slot_of(t, family, addr, policy)];
        uint32_t sec = (uint32_t)now->tv_sec;

        if (!entry_is(e, family, addr, policy)) {
                if (e->used) {
                        t->evictions++;
                        emit(e, flush, userdata);
                }
                memset(e, 0, sizeof(*e));
                e->used = true;
                e->family = (uint8_t)family;
                e->addr = addr;
                e->policy = policy;
                e->window_start = sec;
        } else if (sec - e->window_start >= t->window) {
                emit(e, flush, userdata);
                e->window_start = sec;
                e->in_window = 0;
        }
        e->dport = dport;
        if (ret_entry)
                *ret_entry = e;
        if (e->in_window < t->limit) {
                e->in_window++;
                return true;
        }
        if (!e->pending)
                e->first = *now;
        e->last = *now;
        e->pending++;
        return false;
}

struct tally_entry *tally_find(struct tally *t, int family, addr128 addr, uint16_t policy)
{
        struct tally_entry *e = &t->v[slot_of(t, family, addr, policy)];

        return entry_is(e, family, addr, policy) ? e : NULL;
}

void tally_sweep(struct tally *t, const struct timeval *now, bool all, tally_flush_fn flush, void *userdata)
{
        uint32_t sec = (uint32_t)now->tv_sec;

        for (size_t i = 0; i < t->cap; i++) {
                struct tally_entry *e = &t->v[i];

                if (!e->used || (!all && sec - e->window_start < t->window))
                        continue;
                emit(e, flush, userdata);
                if (all)
                        e->used = false;
        }
}

void tally_flush_all(struct tally *t, tally_flush_fn flush, void *userdata)
{
        for (size_t i = 0; i < t->cap; i++) {
                if (t->v[i].used)
                        emit(&t->v[i], flush, userdata);
                t->v[i].used = false;
        }
}
