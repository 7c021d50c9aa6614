/* tests/unit/test_tally.c: flood folding keeps every attempt counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "tally.h"

struct sink {
        uint64_t summaries;
        uint64_t folded;
        struct tally_entry last;
};

static void flush_cb(const struct tally_entry *e, void *userdata)
{
        struct sink *s = userdata;

        assert_true(e->pending > 0);
        assert_true(timercmp(&e->first, &e->last, <=));
        s->summaries++;
        s->folded += e->pending;
        s->last = *e;
}

static void test_first_attempts_individual_then_folded(void **state)
{
        struct tally t;
        struct sink s = { 0 };
        struct timeval now = { 1000, 0 };
        unsigned individual = 0;

        assert_int_equal(tally_init(&t, 64, 3, 10), 0);
        for (int i = 0; i < 10; i++) {
                now.tv_usec = i;
                individual += tally_hit(&t, AF_INET, 0xc0000242, 0, 25, &now, flush_cb, &s, NULL);
        }
        assert_int_equal(individual, 3);
        assert_int_equal(s.summaries, 0);
        /* the window is not over: nothing to write yet */
        tally_sweep(&t, &now, false, flush_cb, &s);
        assert_int_equal(s.summaries, 0);
        now.tv_sec += 10;
        tally_sweep(&t, &now, false, flush_cb, &s);
        assert_int_equal(s.summaries, 1);
        assert_int_equal(s.folded, 7);
        assert_int_equal(s.last.first.tv_usec, 3);
        assert_int_equal(s.last.last.tv_usec, 9);
        assert_int_equal(s.last.dport, 25);
        /* a new window: individual records again */
        assert_true(tally_hit(&t, AF_INET, 0xc0000242, 0, 25, &now, flush_cb, &s, NULL));
        tally_free(&t);
}

static void test_window_rollover_on_hit_flushes(void **state)
{
        struct tally t;
        struct sink s = { 0 };
        struct timeval now = { 2000, 0 };

        assert_int_equal(tally_init(&t, 64, 1, 5), 0);
        for (int i = 0; i < 4; i++)
                (void)tally_hit(&t, AF_INET6, 42, 1, 25, &now, flush_cb, &s, NULL);
        now.tv_sec += 5;
        assert_true(tally_hit(&t, AF_INET6, 42, 1, 25, &now, flush_cb, &s, NULL));
        assert_int_equal(s.summaries, 1);
        assert_int_equal(s.folded, 3);
        tally_free(&t);
}

/* A million distinct sources through 1024 slots: every folded attempt is
 * flushed exactly once, and individual + folded == attempts. */
static void test_bounded_and_complete(void **state)
{
        struct tally t;
        struct sink s = { 0 };
        struct timeval now = { 3000, 0 };
        uint64_t attempts = 0, individual = 0;

        assert_int_equal(tally_init(&t, 1000, 2, 10), 0);
        assert_int_equal(t.cap, 1024);
        srandom(7);
        for (int i = 0; i < 1000000; i++) {
                /* a few hundred repeat offenders among many one-off sources */
                addr128 a = (i % 4) ? (addr128)(random() % 300) : (addr128)(1000 + i);

                now.tv_usec = i % 1000000;
                if (i % 100000 == 0)
                        now.tv_sec++;
                attempts++;
                individual += tally_hit(&t, AF_INET, a, (uint16_t)(i % 2), 25, &now, flush_cb, &s, NULL);
        }
        tally_sweep(&t, &now, true, flush_cb, &s);
        assert_int_equal(individual + s.folded, attempts);
        assert_true(s.folded > 0);
        assert_true(t.evictions > 0);
        /* after sweeping everything, nothing is pending */
        s.summaries = 0;
        tally_sweep(&t, &now, true, flush_cb, &s);
        assert_int_equal(s.summaries, 0);
        tally_free(&t);
}

static void test_policies_kept_apart(void **state)
{
        struct tally t;
        struct sink s = { 0 };
        struct timeval now = { 4000, 0 };

        assert_int_equal(tally_init(&t, 4096, 1, 10), 0);
        assert_true(tally_hit(&t, AF_INET, 7, 0, 25, &now, flush_cb, &s, NULL));
        assert_true(tally_hit(&t, AF_INET, 7, 1, 9095, &now, flush_cb, &s, NULL));
        assert_true(tally_hit(&t, AF_INET6, 7, 0, 25, &now, flush_cb, &s, NULL));
        assert_false(tally_hit(&t, AF_INET, 7, 0, 25, &now, flush_cb, &s, NULL));
        tally_flush_all(&t, flush_cb, &s);
        assert_int_equal(s.folded, 1);
        tally_free(&t);
}

static void test_find(void **state)
{
        struct tally t;
        struct sink s = { 0 };
        struct timeval now = { 5000, 0 };
        struct tally_entry *e = NULL;

        assert_int_equal(tally_init(&t, 4096, 1, 10), 0);
        assert_null(tally_find(&t, AF_INET, 9, 0));
        assert_true(tally_hit(&t, AF_INET, 9, 0, 25, &now, flush_cb, &s, &e));
        e->offender = true;
        assert_ptr_equal(tally_find(&t, AF_INET, 9, 0), e);
        /* another family, policy or address is another source */
        assert_null(tally_find(&t, AF_INET6, 9, 0));
        assert_null(tally_find(&t, AF_INET, 9, 1));
        assert_null(tally_find(&t, AF_INET, 10, 0));
        tally_flush_all(&t, flush_cb, &s);
        assert_null(tally_find(&t, AF_INET, 9, 0));
        tally_free(&t);
}

/* SipHash-2-4's reference vectors (the paper's appendix; key 00..0f). */
static void test_siphash_vectors(void **state)
{
        const uint64_t key[2] = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL };
        unsigned char m[64];

        for (int i = 0; i < 64; i++)
                m[i] = (unsigned char)i;
        assert_true(tally_siphash(key, m, 0) == 0x726fdb47dd0e0e31ULL);
        assert_true(tally_siphash(key, m, 15) == 0xa129ca6149be45e5ULL);
        assert_true(tally_siphash(key, m, 8) == 0x93f5f5799a932462ULL);
}

/* 300 SYNs from 300 addresses of one IPv6 /64 (the flood): three
 * individual records, then one summary for the network, counts exact. */
static void test_one_network_many_sources(void **state)
{
        struct tally t;
        struct sink s = { 0 };
        struct timeval now = { 6000, 0 };
        addr128 net = (addr128)0x20010db800660000ULL << 64;
        unsigned individual = 0;
        struct tally_entry *e = NULL;

        assert_int_equal(tally_init(&t, 16384, 3, 10), 0);
        assert_int_equal(tally_limit(&t, 4096, 3, 100), 0);
        for (unsigned i = 0; i < 300; i++) {
                now.tv_usec = (suseconds_t)i;
                individual += tally_hit(&t, AF_INET6, net | (addr128)(0x1000 + i), 0, 25, &now, flush_cb, &s, &e);
                if (i >= 3) {
                        /* folded into the network: never a kernel offender */
                        assert_int_equal(e->kind, TALLY_NET);
                        assert_true(e->offender);
                }
        }
        assert_int_equal(individual, 3);
        now.tv_sec += 10;
        tally_sweep(&t, &now, false, flush_cb, &s);
        assert_int_equal(s.summaries, 1);
        assert_int_equal(s.folded, 297);
        assert_int_equal(s.last.kind, TALLY_NET);
        assert_int_equal(s.last.net_len, 48);
        assert_true(s.last.addr == net);
        tally_free(&t);
}

/* A source repeating itself still gets its own summary (and may become a
 * kernel offender), next to the network's summary. */
static void test_repeater_within_network(void **state)
{
        struct tally t;
        struct sink s = { 0 };
        struct timeval now = { 7000, 0 };
        struct tally_entry *e = NULL;
        unsigned individual = 0;

        assert_int_equal(tally_init(&t, 16384, 3, 10), 0);
        assert_int_equal(tally_limit(&t, 4096, 3, 100), 0);
        for (int i = 0; i < 10; i++)
                individual += tally_hit(&t, AF_INET, 0xc0000242, 0, 25, &now, flush_cb, &s, &e);
        assert_int_equal(individual, 3);
        assert_int_equal(e->kind, TALLY_SOURCE);
        assert_false(e->offender);
        tally_sweep(&t, &now, true, flush_cb, &s);
        assert_int_equal(s.summaries, 1);
        assert_int_equal(s.folded, 7);
        assert_int_equal(s.last.kind, TALLY_SOURCE);
        tally_free(&t);
}

/* A million sources, each in its own /24, over 20 s: at most rate records
 * per second plus the rate summaries (two per policy), and every attempt
 * counted once. */
struct rate_sink {
        uint64_t written[64];   /* records per simulated second */
        uint64_t folded;
        uint64_t rate_summaries;
        uint32_t sec;
};

static void rate_cb(const struct tally_entry *e, void *userdata)
{
        struct rate_sink *r = userdata;

        r->written[r->sec % 64]++;
        r->folded += e->pending;
        r->rate_summaries += e->kind == TALLY_RATE;
}

static void test_records_per_second_capped(void **state)
{
        struct tally t;
        struct rate_sink r = { 0 };
        struct timeval now = { 8000, 0 };
        uint64_t individual = 0, attempts = 0;
        const unsigned rate = 100;

        assert_int_equal(tally_init(&t, 16384, 3, 10), 0);
        assert_int_equal(tally_limit(&t, 4096, 3, rate), 0);
        for (uint32_t i = 0; i < 1000000; i++) {
                if (i % 50000 == 0) {
                        if (i)
                                now.tv_sec++;
                        tally_sweep(&t, &now, false, rate_cb, &r);     /* the daemon's 1 Hz tick */
                        r.sec = (uint32_t)now.tv_sec;
                }
                now.tv_usec = (suseconds_t)(i % 50000);
                attempts++;
                if (tally_hit(&t, AF_INET, (addr128)(0x0a000000u + (i << 8)), (uint16_t)(i % 2), 25, &now, rate_cb,
                              &r, NULL)) {
                        individual++;
                        r.written[r.sec % 64]++;
                }
        }
        tally_sweep(&t, &now, true, rate_cb, &r);
        assert_int_equal(individual + r.folded, attempts);
        for (int i = 0; i < 64; i++)
                assert_true(r.written[i] <= rate + 2 * 2);
        assert_true(r.rate_summaries > 0);
        assert_true(t.rate_folded > 0);
        tally_free(&t);
}

/* Sources chosen to collide in one tally's table do not collide in
 * another's: the hash is keyed per start. */
static void test_keyed_hash(void **state)
{
        struct tally t1, t2;
        struct sink s = { 0 };
        struct timeval now = { 9000, 0 };
        int pairs = 0, still = 0;

        assert_int_equal(tally_init(&t1, 1024, 3, 10), 0);
        assert_int_equal(tally_init(&t2, 1024, 3, 10), 0);
        assert_false(t1.key[0] == t2.key[0] && t1.key[1] == t2.key[1]);
        for (addr128 a = 1; a < 20 && pairs < 5; a++) {
                (void)tally_hit(&t1, AF_INET, a << 32, 0, 25, &now, flush_cb, &s, NULL);
                for (addr128 b = 1; b < 100000; b++) {
                        addr128 cand = (a << 32) | (b << 8);

                        if (tally_find(&t1, AF_INET, cand, 0))
                                continue;
                        /* a collision: cand takes a's slot */
                        (void)tally_hit(&t1, AF_INET, cand, 0, 25, &now, flush_cb, &s, NULL);
                        if (tally_find(&t1, AF_INET, a << 32, 0))
                                continue;
                        pairs++;
                        tally_flush_all(&t2, flush_cb, &s);
                        (void)tally_hit(&t2, AF_INET, a << 32, 0, 25, &now, flush_cb, &s, NULL);
                        (void)tally_hit(&t2, AF_INET, cand, 0, 25, &now, flush_cb, &s, NULL);
                        still += !tally_find(&t2, AF_INET, a << 32, 0);
                        break;
                }
                tally_flush_all(&t1, flush_cb, &s);
        }
        assert_int_equal(pairs, 5);
        assert_true(still <= 1);
        tally_free(&t1);
        tally_free(&t2);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_first_attempts_individual_then_folded),
                cmocka_unit_test(test_window_rollover_on_hit_flushes),
                cmocka_unit_test(test_bounded_and_complete),
                cmocka_unit_test(test_policies_kept_apart),
                cmocka_unit_test(test_find),
                cmocka_unit_test(test_siphash_vectors),
                cmocka_unit_test(test_one_network_many_sources),
                cmocka_unit_test(test_repeater_within_network),
                cmocka_unit_test(test_records_per_second_capped),
                cmocka_unit_test(test_keyed_hash),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
