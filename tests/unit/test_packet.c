/* tests/unit/test_packet.c: the daemon's packet path (src/daemon/packet.c)
 * on packets built in memory, against a fake kernel: a decoded SYN to a
 * locked port gets the policy's verdict and one record; what cannot be
 * decoded is refused from its fixed header or left to the kernel; monitor
 * mode observes; a flood from one source folds into a summary. */
#include "daemon_fixture.h"

static void test_syn_refused_with_one_record(void **state)
{
        struct daemon *d = fx_daemon("enforce");
        struct fx_pkt p;
        uint64_t sum;

        fx_syn4(&p, "192.0.2.66", 40312, 25);
        fx_queue(d, &p, 0);
        assert_int_equal(fk.verdicts, 1);
        assert_int_equal(fk.last_verdict, QUEUE_REPEAT);
        assert_int_equal(fk.last_mark, ruleset_mark(0));
        assert_int_equal(d->acct.refused, 1);
        assert_int_equal(d->acct.pstats[0].refused, 1);
        assert_int_equal(fx_records(d, "refused", &sum,
                                    "\"policy\":\"inbound\",\"mode\":\"enforce\",\"action\":\"reject\","
                                    "\"family\":\"ipv4\",\"src\":\"192.0.2.66\",\"sport\":40312,"
                                    "\"dst\":\"192.0.2.1\",\"dport\":25,\"ttl\":57"),
                         1);
        assert_int_equal(sum, 1);
        assert_int_equal(fx_records(d, "refused", NULL, "\"reason\":\"not-allowed\""), 1);
        fx_free(d);
}

static void test_port_not_locked_is_left_to_the_kernel(void **state)
{
        struct daemon *d = fx_daemon("enforce");
        struct fx_pkt p;

        fx_syn4(&p, "192.0.2.66", 40312, 587);
        fx_queue(d, &p, 0);
        assert_int_equal(fk.last_verdict, QUEUE_ACCEPT);
        assert_int_equal(d->pkt.undecodable, 1);
        assert_int_equal(d->acct.refused, 0);
        assert_int_equal(fx_records(d, "refused", NULL, NULL), 0);
        fx_free(d);
}

static void test_denied_source_named_in_its_record(void **state)
{
        struct daemon *d = fx_daemon("enforce");
        struct fx_pkt p;

        fx_syn4(&p, "203.0.113.66", 1025, 25);
        fx_queue(d, &p, ruleset_queue_mark(0, false));
        assert_int_equal(fk.last_verdict, QUEUE_REPEAT);
        assert_int_equal(fx_records(d, "refused", NULL, "\"reason\":\"denied\",\"rule\":"), 1);
        fx_free(d);
}

/* The interim table of a restore asks mxlockd to decide from its lists. */
static void test_decide_mark_accepts_allowed_source(void **state)
{
        struct daemon *d = fx_daemon("enforce");
        struct fx_pkt p;

        fx_syn4(&p, "198.51.100.7", 1025, 25);
        fx_queue(d, &p, ruleset_queue_mark(0, true));
        assert_int_equal(fk.last_verdict, QUEUE_ACCEPT);
        assert_int_equal(d->acct.refused, 0);
        fx_syn4(&p, "192.0.2.66", 1025, 25);
        fx_queue(d, &p, ruleset_queue_mark(0, true));
        assert_int_equal(fk.last_verdict, QUEUE_REPEAT);
        assert_int_equal(d->acct.refused, 1);
        assert_int_equal(fx_records(d, "refused", NULL, NULL), 1);
        fx_free(d);
}

/* The TCP header is past what was queued: refused, recorded from the
 * fixed IP header, without ports, saying why. */
static void test_truncated_refused_from_fixed_header(void **state)
{
        struct daemon *d = fx_daemon("enforce");
        struct fx_pkt p;

        fx_syn4(&p, "192.0.2.66", 40312, 25);
        p.len = 24;
        fx_queue(d, &p, ruleset_queue_mark(0, false));
        assert_int_equal(fk.last_verdict, QUEUE_REPEAT);
        assert_int_equal(fk.last_mark, ruleset_mark(0));
        assert_int_equal(d->acct.refused, 1);
        assert_int_equal(fx_records(d, "refused", NULL, "\"src\":\"192.0.2.66\",\"dst\":\"192.0.2.1\",\"ttl\":57"),
                         1);
        assert_int_equal(fx_records(d, "refused", NULL, "\"headers\":"), 1);
        assert_int_equal(fx_records(d, "refused", NULL, "\"sport\""), 0);
        fx_free(d);
}

/* Not even an IP header: refused (our mark says the kernel queued it for
 * a policy) and counted, no source to name; unmarked, the kernel's drop. */
static void test_undecodable(void **state)
{
        struct daemon *d = fx_daemon("enforce");
        struct fx_pkt p;

        memset(&p, 0, sizeof(p));
        p.b[0] = 0x99;
        p.len = 3;
        fx_queue(d, &p, ruleset_queue_mark(0, false));
        assert_int_equal(fk.last_verdict, QUEUE_REPEAT);
        assert_int_equal(d->pkt.undecodable, 1);
        fx_queue(d, &p, 0);
        assert_int_equal(fk.last_verdict, QUEUE_DROP);
        assert_int_equal(d->pkt.undecodable, 2);
        assert_int_equal(d->acct.refused, 0);
        assert_int_equal(fx_records(d, "refused", NULL, NULL), 0);
        fx_free(d);
}

static void test_monitor_observes(void **state)
{
        struct daemon *d = fx_daemon("monitor");
        struct fx_pkt p;

        assert_true(d->opts.monitor);
        fx_syn4(&p, "192.0.2.66", 40312, 25);
        for (int i = 0; i < 10; i++)
                fx_queue(d, &p, ruleset_queue_mark(0, false));
        assert_int_equal(d->acct.observed, 10);
        assert_int_equal(d->acct.refused, 0);
        assert_int_equal(d->acct.pstats[0].observed, 10);
        assert_int_equal(fx_records(d, "observed", NULL, "\"mode\":\"monitor\""), TALLY_LIMIT);
        assert_int_equal(fx_records(d, "refused", NULL, NULL), 0);
        /* monitor hands no one to the kernel */
        offenders_apply(d);
        assert_int_equal(fk.adds, 0);
        fx_free(d);
}

/* A flood from one source: TALLY_LIMIT records, the rest folded into one
 * summary with the exact count. */
static void test_flood_folds(void **state)
{
        struct daemon *d = fx_daemon("enforce");
        struct fx_pkt p;
        uint64_t sum;

        fx_syn4(&p, "192.0.2.66", 40312, 25);
        for (int i = 0; i < 50; i++)
                fx_queue(d, &p, ruleset_queue_mark(0, false));
        assert_int_equal(fk.verdicts, 50);
        assert_int_equal(d->acct.refused, 50);
        assert_int_equal(d->acct.pstats[0].folded, 50 - TALLY_LIMIT);
        assert_int_equal(fx_records(d, "refused", NULL, NULL), TALLY_LIMIT);
        tally_flush_all(&d->pkt.tally, write_summary, d);
        assert_int_equal(fx_records(d, "summary", &sum, "\"src\":\"192.0.2.66\""), 1);
        assert_int_equal(sum, 50 - TALLY_LIMIT);
        fx_free(d);
}

/* A flood above capacity: one wake-up answers PACKET_BATCHES batches and
 * returns, so that the loop turns (signals, timeouts, the watchdog); the
 * loop brings it back for the rest. At stop, everything is drained. */
static void test_queue_handler_is_bounded(void **state)
{
        struct daemon *d = fx_daemon("enforce");
        struct fx_pkt p;

        fx_syn4(&p, "192.0.2.66", 40312, 25);
        fk.pkt = p.b;
        fk.pkt_len = p.len;
        fk.waiting = 10 * PACKET_BATCHES * RECV_BATCH + 5;
        packet_on_queue(-1, 0, d);
        assert_int_equal(fk.receives, PACKET_BATCHES);
        assert_int_equal(fk.flushes_q, PACKET_BATCHES);
        assert_int_equal(d->pkt.packets, PACKET_BATCHES * RECV_BATCH);
        assert_int_equal(fk.verdicts, PACKET_BATCHES * RECV_BATCH);
        packet_on_queue(-1, 0, d);
        assert_int_equal(d->pkt.packets, 2 * PACKET_BATCHES * RECV_BATCH);
        /* a short batch ends the wake-up early */
        packet_drain(d);
        assert_int_equal(fk.waiting, 0);
        assert_int_equal(d->pkt.packets, 10 * PACKET_BATCHES * RECV_BATCH + 5);
        assert_int_equal(d->acct.refused, 10 * PACKET_BATCHES * RECV_BATCH + 5);
        fk.receives = 0;
        packet_on_queue(-1, 0, d);
        assert_int_equal(fk.receives, 1);
        fx_free(d);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_syn_refused_with_one_record),
                cmocka_unit_test(test_port_not_locked_is_left_to_the_kernel),
                cmocka_unit_test(test_denied_source_named_in_its_record),
                cmocka_unit_test(test_decide_mark_accepts_allowed_source),
                cmocka_unit_test(test_truncated_refused_from_fixed_header),
                cmocka_unit_test(test_undecodable),
                cmocka_unit_test(test_monitor_observes),
                cmocka_unit_test(test_flood_folds),
                cmocka_unit_test(test_queue_handler_is_bounded),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
