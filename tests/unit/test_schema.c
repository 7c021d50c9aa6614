/* tests/unit/test_schema.c: the audit schema's emitters write, byte for
 * byte, the records the daemon and sync wrote before the schema had its own
 * module (golden lines: README.md's example, and the field order of
 * mxlockd.c's audit_event, write_summary, write_repeat_summary,
 * write_missed, check_table and the attempt record, and sync.c's
 * audit_change), and the event table names every event the tree writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit.h"
#include "schema.h"

#define T "\"ts\":\"2026-11-23T22:28:42.123456Z\""
static const struct timeval tv = { .tv_sec = 1795472922, .tv_usec = 123456 };
static const struct timeval first = { .tv_sec = 1795472900, .tv_usec = 5 };

static void test_attempt(void **state)
{
        struct jline j;

        schema_attempt(&j, &(struct schema_attempt){
                                   .tv = &tv, .policy = "inbound-smtp", .mode = "enforce", .action = "reject",
                                   .family = "ipv4", .src = "198.51.100.7", .dst = "203.0.113.1",
                                   .has_ports = true, .sport = 40312, .dport = 25, .ttl = 64, .iface = "eth0",
                           });
        /* README.md's example record */
        assert_string_equal(j.buf,
                "{" T ",\"event\":\"refused\",\"direction\":\"inbound\",\"policy\":\"inbound-smtp\",\"mode\":\"enforce\",\"action\":\"reject\","
                "\"family\":\"ipv4\",\"src\":\"198.51.100.7\",\"sport\":40312,\"dst\":\"203.0.113.1\",\"dport\":25,"
                "\"ttl\":64,\"iface\":\"eth0\",\"count\":1,\"reason\":\"not-allowed\"}\n");

        /* monitor mode, a deny entry, the ports not read, no interface */
        schema_attempt(&j, &(struct schema_attempt){
                                   .tv = &tv, .observed = true, .policy = "p", .mode = "monitor",
                                   .action = "drop", .family = "ipv6", .src = "2001:db8::1", .dst = "2001:db8::2",
                                   .ttl = 64, .denied = true, .rule = "deny 2001:db8::/32 (x.conf:3)",
                                   .headers = "truncated packet",
                           });
        assert_string_equal(j.buf,
                "{" T ",\"event\":\"observed\",\"direction\":\"inbound\",\"policy\":\"p\",\"mode\":\"monitor\",\"action\":\"drop\","
                "\"family\":\"ipv6\",\"src\":\"2001:db8::1\",\"dst\":\"2001:db8::2\",\"ttl\":64,\"iface\":null,"
                "\"count\":1,\"reason\":\"denied\",\"rule\":\"deny 2001:db8::/32 (x.conf:3)\","
                "\"headers\":\"truncated packet\"}\n");
}

static void test_summary(void **state)
{
        struct jline j;

        /* write_summary: a network fold */
        schema_summary(&j, &(struct schema_summary){
                                   .tv = &tv, .policy = "inbound-smtp", .mode = "enforce", .action = "reject",
                                   .family = "ipv4", .src = "192.0.2.0/24", .has_dport = true, .dport = 25,
                                   .count = 297, .first = &first, .last = &tv, .folded_as = "refused",
                                   .fold = "network",
                           });
        assert_string_equal(j.buf,
                "{" T ",\"event\":\"summary\",\"direction\":\"inbound\",\"policy\":\"inbound-smtp\",\"mode\":\"enforce\",\"action\":\"reject\","
                "\"family\":\"ipv4\",\"src\":\"192.0.2.0/24\",\"dport\":25,\"count\":297,"
                "\"first\":\"2026-11-23T22:28:20.000005Z\",\"last\":\"2026-11-23T22:28:42.123456Z\","
                "\"folded_as\":\"refused\",\"fold\":\"network\"}\n");

        /* write_repeat_summary: refused in the kernel, no port */
        schema_summary(&j, &(struct schema_summary){
                                   .tv = &tv, .policy = "inbound-smtp", .mode = "enforce", .action = "drop",
                                   .family = "ipv6", .src = "2001:db8::7", .count = 12, .first = &first,
                                   .last = &tv, .folded_as = "refused", .refused_by = "kernel",
                           });
        assert_string_equal(j.buf,
                "{" T ",\"event\":\"summary\",\"direction\":\"inbound\",\"policy\":\"inbound-smtp\",\"mode\":\"enforce\",\"action\":\"drop\","
                "\"family\":\"ipv6\",\"src\":\"2001:db8::7\",\"count\":12,"
                "\"first\":\"2026-11-23T22:28:20.000005Z\",\"last\":\"2026-11-23T22:28:42.123456Z\","
                "\"folded_as\":\"refused\",\"refused_by\":\"kernel\"}\n");
}

static void test_missed_restored(void **state)
{
        struct jline j;

        schema_missed(&j, &(struct schema_missed){
                                  .tv = &tv, .policy = "inbound-smtp", .mode = "enforce", .action = "drop",
                                  .count = 4, .reason = "mxlockd was not running",
                          });
        assert_string_equal(j.buf,
                "{" T ",\"event\":\"missed\",\"direction\":\"inbound\",\"policy\":\"inbound-smtp\",\"mode\":\"enforce\",\"action\":\"drop\","
                "\"count\":4,\"reason\":\"mxlockd was not running\"}\n");

        schema_restored(&j, &(struct schema_restored){ .tv = &tv, .table = "mxlock", .ok = true,
                                                        .refused_before = 9 });
        assert_string_equal(j.buf,
                "{" T ",\"event\":\"restored\",\"table\":\"mxlock\",\"result\":\"ok\","
                "\"reason\":\"the table was removed or altered by someone else\",\"refused_before\":9}\n");
        schema_restored(&j, &(struct schema_restored){ .tv = &tv, .table = "mxlock", .error = "No such file or directory" });
        assert_string_equal(j.buf,
                "{" T ",\"event\":\"restored\",\"table\":\"mxlock\",\"result\":\"error\","
                "\"error\":\"No such file or directory\","
                "\"reason\":\"the table was removed or altered by someone else\",\"refused_before\":0}\n");
}

static void test_lifecycle(void **state)
{
        struct schema_lifecycle l = {
                .tv = &tv, .has_config = true, .mode = "enforce", .action = "reject", .failure = "closed",
                .table = "mxlock", .has_policies = true, .policies = 2, .ranges = 345,
                .version = "0.1.0", .queue_backend = "nft-queue", .refused = 7, .observed = 0,
        };
        struct jline j;

        l.event = SCHEMA_START;
        schema_lifecycle(&j, &l);
        assert_string_equal(j.buf,
                "{" T ",\"event\":\"start\",\"mode\":\"enforce\",\"action\":\"reject\",\"failure\":\"closed\","
                "\"table\":\"mxlock\",\"policies\":2,\"ranges\":345,\"version\":\"0.1.0\","
                "\"queue_backend\":\"nft-queue\"}\n");
        l.event = SCHEMA_STOP;
        schema_lifecycle(&j, &l);
        assert_string_equal(j.buf,
                "{" T ",\"event\":\"stop\",\"mode\":\"enforce\",\"action\":\"reject\",\"failure\":\"closed\","
                "\"table\":\"mxlock\",\"policies\":2,\"ranges\":345,\"refused\":7,\"observed\":0}\n");
        l.event = SCHEMA_RELOAD;
        l.result = "error";
        l.error = "/etc/mxlock/mxlock.conf:3: unknown key";
        schema_lifecycle(&j, &l);
        assert_string_equal(j.buf,
                "{" T ",\"event\":\"reload\",\"result\":\"error\",\"error\":\"/etc/mxlock/mxlock.conf:3: unknown key\","
                "\"mode\":\"enforce\",\"action\":\"reject\",\"failure\":\"closed\",\"table\":\"mxlock\","
                "\"policies\":2,\"ranges\":345}\n");
        l.event = SCHEMA_DISABLED;
        l.result = "ok";
        l.error = NULL;
        schema_lifecycle(&j, &l);
        assert_string_equal(j.buf,
                "{" T ",\"event\":\"disabled\",\"result\":\"ok\",\"mode\":\"enforce\",\"action\":\"reject\","
                "\"failure\":\"closed\",\"table\":\"mxlock\",\"policies\":2,\"ranges\":345}\n");
        /* before a configuration was read: only what is known */
        schema_lifecycle(&j, &(struct schema_lifecycle){ .tv = &tv, .event = SCHEMA_ENABLED, .result = "ok" });
        assert_string_equal(j.buf, "{" T ",\"event\":\"enabled\",\"result\":\"ok\"}\n");
}

static void test_ranges_changed(void **state)
{
        struct jline j;

        schema_ranges_changed(&j, &(struct schema_ranges_changed){
                                          .tv = &tv, .provider = "example", .spf = "_spf.example.test",
                                          .added = "[\"192.0.2.0/24\"]", .removed = "[]", .removed_omitted = 3,
                                          .count_before = 4, .count_after = 5, .forced = false,
                                          .guards = "[\"shrink\"]",
                                  });
        assert_string_equal(j.buf,
                "{" T ",\"event\":\"ranges-changed\",\"provider\":\"example\",\"spf\":\"_spf.example.test\","
                "\"added\":[\"192.0.2.0/24\"],\"removed\":[],\"removed_omitted\":3,\"count_before\":4,"
                "\"count_after\":5,\"forced\":false,\"guards\":[\"shrink\"]}\n");
}

static void test_seal(void **state)
{
        struct jline j;

        /* audit_anchor: lost only when records were lost */
        schema_seal(&j, &(struct schema_seal){ .tv = &tv, .reason = "open", .prev = "00ff", .run = "0123456789abcdef" });
        assert_string_equal(j.buf, "{" T ",\"event\":\"seal\",\"reason\":\"open\",\"prev\":\"00ff\","
                                   "\"run\":\"0123456789abcdef\"}\n");
        schema_seal(&j, &(struct schema_seal){ .tv = &tv, .reason = "lost", .lost = 3, .prev = "00ff",
                                                .run = "0123456789abcdef" });
        assert_string_equal(j.buf, "{" T ",\"event\":\"seal\",\"reason\":\"lost\",\"lost\":3,\"prev\":\"00ff\","
                                   "\"run\":\"0123456789abcdef\"}\n");
}

static void test_event_table(void **state)
{
        static const char *const written[] = {
                "refused", "observed", "summary", "missed", "start", "stop", "reload",
                "restored", "enabled", "disabled", "ranges-changed", "seal",
        };

        assert_int_equal(SCHEMA_EVENT_COUNT, sizeof(written) / sizeof(written[0]));
        for (size_t i = 0; i < sizeof(written) / sizeof(written[0]); i++) {
                int ev = schema_event_from_name(written[i]);

                assert_true(ev >= 0);
                assert_string_equal(schema_event_name((enum schema_event)ev), written[i]);
                assert_non_null(schema_events[ev].meaning);
        }
        assert_int_equal(schema_event_from_name("other"), -1);
        assert_int_equal(schema_event_from_name("Refused"), -1);
        assert_null(schema_event_name(SCHEMA_EVENT_COUNT));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_attempt),
                cmocka_unit_test(test_summary),
                cmocka_unit_test(test_missed_restored),
                cmocka_unit_test(test_lifecycle),
                cmocka_unit_test(test_ranges_changed),
                cmocka_unit_test(test_seal),
                cmocka_unit_test(test_event_table),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
