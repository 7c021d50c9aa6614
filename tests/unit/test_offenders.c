/* tests/unit/test_offenders.c: the repeat-offender state machine
 * (src/daemon/offenders.c) against a fake kernel: a source that crosses
 * the fold threshold is handed to the kernel's offender set (and its
 * early rule put in) after the batch; what the kernel refused for it is
 * written once, with exact counts; quiet ticks let it go; a reload or stop
 * lets every offender go and counts what they refused. */
#include "daemon_fixture.h"

/* TALLY_LIMIT + 1 SYNs from src: the last one folds and makes it an
 * offender, handed over by offenders_apply as after a batch. */
static void flood(struct daemon *d, const char *src, int n)
{
        struct fx_pkt p;

        fx_syn4(&p, src, 40312, 25);
        for (int i = 0; i < n; i++)
                fx_queue(d, &p, ruleset_queue_mark(0, false));
        offenders_apply(d);
}

static void test_threshold_hands_source_to_kernel(void **state)
{
        struct daemon *d = fx_daemon("enforce");
        addr128 a = fx_addr("192.0.2.66");

        flood(d, "192.0.2.66", TALLY_LIMIT);
        assert_int_equal(fk.adds, 0);
        assert_int_equal(d->off.n, 0);
        flood(d, "192.0.2.66", 1);
        assert_int_equal(fk.adds, 1);
        assert_int_equal(fk.nset, 1);
        assert_true(fake_element_find("inbound", AF_INET, a) != NULL);
        assert_int_equal(d->off.n, 1);
        /* its early rule (IPv4 only) is in */
        assert_int_equal(fk.early_calls, 1);
        assert_int_equal(fk.early[0], RULESET_EARLY_V4);
        /* more folded attempts from it do not hand it over again */
        flood(d, "192.0.2.66", 20);
        assert_int_equal(fk.adds, 1);
        assert_int_equal(fk.early_calls, 1);
        fx_free(d);
}

static void test_disabled_hands_no_one(void **state)
{
        struct daemon *d = fx_daemon("enforce");

        d->enabled = false;
        flood(d, "192.0.2.66", 20);
        assert_int_equal(fk.adds, 0);
        assert_int_equal(d->off.n, 0);
        fx_free(d);
}

/* The kernel counts for the offender; each tick writes what is new, once;
 * quiet ticks let it go, and the rule with it. */
static void test_counts_written_once_and_quiet_ticks_remove(void **state)
{
        struct daemon *d = fx_daemon("enforce");
        addr128 a = fx_addr("192.0.2.66");
        uint64_t sum, refused_before;
        unsigned n;

        flood(d, "192.0.2.66", TALLY_LIMIT + 1);
        refused_before = d->acct.refused;
        fake_element_find("inbound", AF_INET, a)->packets = 40;
        fake_set_counter(OBJ_REPEAT, "inbound", 40);
        offenders_tick(d, false);
        n = fx_records(d, "summary", &sum, "\"refused_by\":\"kernel\"");
        assert_int_equal(n, 1);
        assert_int_equal(sum, 40);
        assert_int_equal(d->acct.refused, refused_before + 40);
        assert_int_equal(d->acct.pstats[0].repeat_accounted, 40);

        /* nothing new: nothing written */
        offenders_tick(d, false);
        assert_int_equal(fx_records(d, "summary", &sum, "\"refused_by\":\"kernel\""), 1);

        /* ten more: only those */
        fake_element_find("inbound", AF_INET, a)->packets = 50;
        fake_set_counter(OBJ_REPEAT, "inbound", 50);
        offenders_tick(d, false);
        assert_int_equal(fx_records(d, "summary", &sum, "\"refused_by\":\"kernel\""), 2);
        assert_int_equal(sum, 50);

        /* quiet: it stays until OFFENDER_QUIET_TICKS ticks without an attempt */
        for (int i = 0; i < OFFENDER_QUIET_TICKS - 1; i++)
                offenders_tick(d, false);
        assert_int_equal(d->off.n, 1);
        assert_int_equal(fk.dels, 0);
        offenders_tick(d, false);
        assert_int_equal(d->off.n, 0);
        assert_int_equal(fk.dels, 1);
        assert_int_equal(fk.nset, 0);
        assert_int_equal(fk.early[0], 0);
        /* every attempt counted once, none missed */
        assert_int_equal(fx_records(d, "summary", &sum, "\"refused_by\":\"kernel\""), 2);
        assert_int_equal(sum, 50);
        assert_int_equal(fx_records(d, "missed", NULL, NULL), 0);
        assert_int_equal(d->acct.refused, refused_before + 50);

        /* it floods again: back in the set */
        flood(d, "192.0.2.66", TALLY_LIMIT + 1);
        assert_int_equal(d->off.n, 1);
        assert_int_equal(fk.nset, 1);
        fx_free(d);
}

/* Attempts the kernel's aggregate counter has but no element accounts for
 * (a source that left between a read and its removal) are written as
 * missed, once. */
static void test_unaccounted_repeat_attempts_are_missed(void **state)
{
        struct daemon *d = fx_daemon("enforce");
        addr128 a = fx_addr("192.0.2.66");
        uint64_t sum;

        flood(d, "192.0.2.66", TALLY_LIMIT + 1);
        fake_element_find("inbound", AF_INET, a)->packets = 10;
        fake_set_counter(OBJ_REPEAT, "inbound", 13);
        offenders_tick(d, true);        /* a reload or stop: every offender goes */
        assert_int_equal(d->off.n, 0);
        assert_int_equal(fk.flushes, 1);
        assert_int_equal(fx_records(d, "summary", &sum, "\"refused_by\":\"kernel\""), 1);
        assert_int_equal(sum, 10);
        assert_int_equal(fx_records(d, "missed", &sum, NULL), 1);
        assert_int_equal(sum, 3);
        assert_int_equal(d->acct.pstats[0].missed, 3);
        offenders_tick(d, true);
        assert_int_equal(fx_records(d, "missed", NULL, NULL), 1);
        fx_free(d);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_threshold_hands_source_to_kernel),
                cmocka_unit_test(test_disabled_hands_no_one),
                cmocka_unit_test(test_counts_written_once_and_quiet_ticks_remove),
                cmocka_unit_test(test_unaccounted_repeat_attempts_are_missed),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
