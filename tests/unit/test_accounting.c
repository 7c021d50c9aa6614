/* tests/unit/test_accounting.c: accounting of missed attempts
 * (src/daemon/accounting.c) against a fake kernel's queued/handled
 * counters: a gap (a full queue, a stop, a crash) becomes one `missed`
 * record with the exact count, only in a quiet second, and is never
 * written twice, also across a reload. */
#include "daemon_fixture.h"

static void test_queue_drops_become_missed(void **state)
{
        struct daemon *d = fx_daemon("enforce");
        uint64_t sum;

        fake_set_counter(OBJ_QUEUED, "inbound", 120);
        fake_set_counter(OBJ_HANDLED, "inbound", 100);
        accounting_tick(d);
        assert_int_equal(fx_records(d, "missed", &sum,
                                    "\"reason\":\"the kernel queue overflowed; refused without being read\""),
                         1);
        assert_int_equal(sum, 20);
        assert_int_equal(fx_records(d, "missed", NULL, "\"policy\":\"inbound\",\"mode\":\"enforce\","
                                                      "\"action\":\"drop\",\"count\":20"),
                         1);
        assert_int_equal(d->acct.pstats[0].missed, 20);
        /* the counters were zeroed: the next tick writes nothing */
        assert_int_equal(fake_get_counter(OBJ_QUEUED, "inbound"), 0);
        assert_int_equal(fake_get_counter(OBJ_HANDLED, "inbound"), 0);
        accounting_tick(d);
        assert_int_equal(fx_records(d, "missed", NULL, NULL), 1);
        fx_free(d);
}

/* While packets come, queued - handled includes packets in flight: wait
 * for a quiet second. */
static void test_waits_for_a_quiet_tick(void **state)
{
        struct daemon *d = fx_daemon("enforce");
        struct fx_pkt p;
        uint64_t sum;

        fake_set_counter(OBJ_QUEUED, "inbound", 9);
        fake_set_counter(OBJ_HANDLED, "inbound", 4);
        fx_syn4(&p, "192.0.2.66", 40312, 25);
        fx_queue(d, &p, ruleset_queue_mark(0, false));
        accounting_tick(d);
        assert_int_equal(fx_records(d, "missed", NULL, NULL), 0);
        accounting_tick(d);
        assert_int_equal(fx_records(d, "missed", &sum, NULL), 1);
        assert_int_equal(sum, 5);
        fx_free(d);
}

static void test_missed_at_start_and_stop(void **state)
{
        struct daemon *d = fx_daemon("enforce");
        uint64_t sum;

        fake_set_counter(OBJ_QUEUED, "inbound", 7);
        fake_set_counter(OBJ_HANDLED, "inbound", 2);
        account_missed_at_start(d);
        assert_int_equal(fx_records(d, "missed", &sum, "\"reason\":\"mxlockd was not reading the queue\""), 1);
        assert_int_equal(sum, 5);
        account_missed_at_start(d);
        assert_int_equal(fx_records(d, "missed", NULL, NULL), 1);

        fake_set_counter(OBJ_QUEUED, "inbound", 3);
        reconcile(d, true);
        assert_int_equal(fx_records(d, "missed", &sum,
                                    "\"reason\":\"refused by the kernel while mxlockd was stopping\""),
                         1);
        assert_int_equal(sum, 3);
        assert_int_equal(d->acct.pstats[0].missed, 8);
        fx_free(d);
}

/* Disabled: no table, nothing to reconcile. */
static void test_disabled_reconciles_nothing(void **state)
{
        struct daemon *d = fx_daemon("enforce");

        d->enabled = false;
        fake_set_counter(OBJ_QUEUED, "inbound", 9);
        fake_set_counter(OBJ_HANDLED, "inbound", 4);
        accounting_tick(d);
        reconcile(d, true);
        assert_int_equal(fx_records(d, "missed", NULL, NULL), 0);
        fx_free(d);
}

/* A reload builds a new policy set: the figures carry over by name, and a
 * gap settled before it is not written again after it. */
static void test_no_double_counting_across_reload(void **state)
{
        struct daemon *d = fx_daemon("enforce");
        struct policy_set *p = NULL;
        struct config *c = NULL;
        char err[CONFIG_ERRLEN];
        uint64_t sum;

        fake_set_counter(OBJ_QUEUED, "inbound", 30);
        fake_set_counter(OBJ_HANDLED, "inbound", 10);
        accounting_tick(d);
        assert_int_equal(d->acct.pstats[0].missed, 20);

        assert_int_equal(load(d, &c, &p, err), 0);
        assert_int_equal(remap_pstats(d, p), 0);
        config_free(d->cfg);
        policy_set_free(d->pol);
        d->cfg = c;
        d->pol = p;
        assert_int_equal(d->acct.pstats[0].missed, 20);

        accounting_tick(d);
        assert_int_equal(fx_records(d, "missed", &sum, NULL), 1);
        assert_int_equal(sum, 20);
        /* a new gap after the reload: only that one */
        fake_set_counter(OBJ_QUEUED, "inbound", 4);
        accounting_tick(d);
        assert_int_equal(fx_records(d, "missed", &sum, NULL), 2);
        assert_int_equal(sum, 24);
        assert_int_equal(d->acct.pstats[0].missed, 24);
        fx_free(d);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_queue_drops_become_missed),
                cmocka_unit_test(test_waits_for_a_quiet_tick),
                cmocka_unit_test(test_missed_at_start_and_stop),
                cmocka_unit_test(test_disabled_reconciles_nothing),
                cmocka_unit_test(test_no_double_counting_across_reload),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
