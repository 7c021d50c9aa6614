/* tests/unit/test_outbound.c: the outbound side of the packet path
 * (src/daemon/outbound.c) on packets built in memory, against a fake
 * kernel: a queued SYN of this host's own gets a reset verdict and one
 * record that names its uid and why; the interim table's questions are
 * answered from the lists; monitor mode observes; past the records budget
 * a second's attempts fold into one summary per user, and every attempt is
 * counted. The owner lookup is off here (no socket to find): test_owner.c
 * and tests/e2e/outbound.sh cover it. */
#include "daemon_fixture.h"

#define OUTBOUND_SECTION "\n[outbound smarthost]\nports = 25, 587\nto = 198.51.100.25\nusers = 4242\n"
#define OUT_MARK ruleset_queue_mark(1, false)

/* Hand an outbound SYN to the packet path, with the socket's uid. */
static void fx_queue_uid(struct daemon *d, const struct fx_pkt *p, uint32_t mark, uint32_t uid)
{
        struct queue_pkt q = { .id = 1, .mark = mark, .data = p->b, .len = p->len, .has_uid = true, .uid = uid };

        on_packet(&q, d);
}

static void test_unlisted_user_refused_with_its_uid(void **state)
{
        struct daemon *d = fx_daemon_conf("enforce", OUTBOUND_SECTION);
        struct fx_pkt p;
        uint64_t sum;

        assert_true(d->pol->v[1].outbound);
        fx_syn4_to(&p, "192.0.2.1", 40312, "192.0.2.66", 25);
        fx_queue_uid(d, &p, OUT_MARK, 33);
        assert_int_equal(fk.last_verdict, QUEUE_REPEAT);
        assert_int_equal(fk.last_mark, ruleset_mark(1));
        assert_int_equal(d->acct.pstats[1].refused, 1);
        assert_int_equal(d->acct.pstats[0].refused, 0);
        assert_int_equal(fx_records(d, "refused", &sum,
                                    "\"direction\":\"outbound\",\"policy\":\"smarthost\",\"mode\":\"enforce\","
                                    "\"action\":\"reject\",\"family\":\"ipv4\",\"src\":\"192.0.2.1\","
                                    "\"sport\":40312,\"dst\":\"192.0.2.66\",\"dport\":25"),
                         1);
        assert_int_equal(sum, 1);
        assert_int_equal(fx_records(d, "refused", NULL, "\"uid\":33,\"user\":null,\"count\":1,"
                                                        "\"reason\":\"user-not-allowed\""),
                         1);
        fx_free(d);
}

static void test_listed_user_to_other_destination(void **state)
{
        struct daemon *d = fx_daemon_conf("enforce", OUTBOUND_SECTION);
        struct fx_pkt p;

        fx_syn4_to(&p, "192.0.2.1", 40313, "192.0.2.66", 587);
        fx_queue_uid(d, &p, OUT_MARK, 4242);
        assert_int_equal(fk.last_verdict, QUEUE_REPEAT);
        assert_int_equal(fx_records(d, "refused", NULL, "\"uid\":4242,"), 1);
        assert_int_equal(fx_records(d, "refused", NULL, "\"reason\":\"destination-not-allowed\""), 1);
        fx_free(d);
}

static void test_inbound_record_says_inbound(void **state)
{
        struct daemon *d = fx_daemon_conf("enforce", OUTBOUND_SECTION);
        struct fx_pkt p;

        fx_syn4(&p, "192.0.2.66", 40312, 25);
        fx_queue(d, &p, ruleset_queue_mark(0, false));
        assert_int_equal(fx_records(d, "refused", NULL, "\"direction\":\"inbound\",\"policy\":\"inbound\""), 1);
        assert_int_equal(fx_records(d, "refused", NULL, "\"uid\""), 0);
        fx_free(d);
}

static void test_decide_from_the_lists(void **state)
{
        struct daemon *d = fx_daemon_conf("enforce", OUTBOUND_SECTION);
        struct fx_pkt p;

        fx_syn4_to(&p, "192.0.2.1", 40314, "198.51.100.25", 25);
        fx_queue_uid(d, &p, ruleset_queue_mark(1, true), 4242);
        assert_int_equal(fk.last_verdict, QUEUE_ACCEPT);
        /* no longer marked for the queue: outfail lets it pass */
        assert_int_equal(fk.last_mark, RULESET_MARK_BASE);
        fx_queue_uid(d, &p, ruleset_queue_mark(1, true), 33);
        assert_int_equal(fk.last_verdict, QUEUE_REPEAT);
        assert_int_equal(fx_records(d, "refused", NULL, "\"reason\":\"user-not-allowed\""), 1);
        assert_int_equal(d->acct.refused, 1);
        fx_free(d);
}

static void test_monitor_observes(void **state)
{
        struct daemon *d = fx_daemon_conf("monitor", OUTBOUND_SECTION);
        struct fx_pkt p;

        fx_syn4_to(&p, "192.0.2.1", 40315, "192.0.2.66", 25);
        fx_queue_uid(d, &p, OUT_MARK, 33);
        assert_int_equal(fx_records(d, "observed", NULL, "\"direction\":\"outbound\""), 1);
        assert_int_equal(d->acct.observed, 1);
        assert_int_equal(d->acct.refused, 0);
        fx_free(d);
}

/* 250 attempts of two users: at most OUTBOUND_RATE records a second, the
 * rest in summaries with the user's uid; the counts add up to 250. */
static void test_rate_fold_counts_every_attempt(void **state)
{
        struct daemon *d = fx_daemon_conf("enforce", OUTBOUND_SECTION);
        uint64_t refused_sum, summary_sum;
        unsigned records;
        struct fx_pkt p;

        for (unsigned i = 0; i < 250; i++) {
                fx_syn4_to(&p, "192.0.2.1", (uint16_t)(20000 + i), "192.0.2.66", 25);
                fx_queue_uid(d, &p, OUT_MARK, i % 2 ? 33 : 34);
        }
        outbound_flush(d, true);
        records = fx_records(d, "refused", &refused_sum, "\"direction\":\"outbound\"");
        assert_true(records >= OUTBOUND_RATE);
        assert_true(records < 250);
        fx_records(d, "summary", &summary_sum, "\"direction\":\"outbound\"");
        assert_int_equal(refused_sum + summary_sum, 250);
        assert_true(fx_records(d, "summary", NULL, "\"uid\":33,") >= 1);
        assert_true(fx_records(d, "summary", NULL, "\"uid\":34,") >= 1);
        assert_true(fx_records(d, "summary", NULL, "\"fold\":\"rate\"") >= 2);
        assert_int_equal(d->acct.refused, 250);
        assert_int_equal(d->acct.pstats[1].refused, 250);
        fx_free(d);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_unlisted_user_refused_with_its_uid),
                cmocka_unit_test(test_listed_user_to_other_destination),
                cmocka_unit_test(test_inbound_record_says_inbound),
                cmocka_unit_test(test_decide_from_the_lists),
                cmocka_unit_test(test_monitor_observes),
                cmocka_unit_test(test_rate_fold_counts_every_attempt),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
