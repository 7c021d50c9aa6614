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

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_first_attempts_individual_then_folded),
                cmocka_unit_test(test_window_rollover_on_hit_flushes),
                cmocka_unit_test(test_bounded_and_complete),
                cmocka_unit_test(test_policies_kept_apart),
                cmocka_unit_test(test_find),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
