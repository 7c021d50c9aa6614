/* tests/unit/test_report.c: the audit-log reader, aggregation and formats. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "report.h"
#include "report/internal.h"        /* the outbound tables' bounds */

#define T(s) parse_time_or_die(s)
#define HOUR INT64_C(3600000000)

static int64_t parse_time_or_die(const char *s)
{
        int64_t t = 0;

        assert_int_equal(report_parse_time(s, 0, &t), 0);
        return t;
}

static char tmpdir[PATH_MAX];

static int setup_tmpdir(void **state)
{
        (void) state;
        snprintf(tmpdir, sizeof(tmpdir), "%s/test_report.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmpdir(void **state)
{
        char cmd[PATH_MAX + 16];

        (void) state;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

static const char *fixture(const char *name)
{
        static char path[2 * PATH_MAX];
        const char *dir = getenv("MXLOCK_FIXTURES");
        char src[PATH_MAX], *slash;

        if (dir) {
                snprintf(path, sizeof(path), "%s/report/%s", dir, name);
                return path;
        }
        snprintf(path, sizeof(path), "tests/fixtures/report/%s", name);
        if (access(path, R_OK) == 0)
                return path;
        /* relative to this source file */
        snprintf(src, sizeof(src), "%s", __FILE__);
        slash = strrchr(src, '/');
        if (slash)
                *slash = '\0';
        snprintf(path, sizeof(path), "%s/../fixtures/report/%s", slash ? src : ".", name);
        return path;
}

static int parse(const char *s, struct report_record *rec, char *buf, size_t cap)
{
        size_t n = strlen(s);

        assert_true(n < cap);
        memcpy(buf, s, n + 1);
        return report_parse_line(buf, n, rec);
}

static struct report *new_report(bool has_since, int64_t since, bool has_until, int64_t until, size_t top)
{
        struct report_options o = { .has_since = has_since, .since = since, .has_until = has_until,
                                    .until = until, .top = top };
        struct report *r = NULL;

        assert_int_equal(report_new(&o, &r), 0);
        return r;
}

static int add(struct report *r, const char *s)
{
        char *copy = strdup(s);
        int ret;

        assert_non_null(copy);
        ret = report_add_line(r, copy, strlen(copy));
        free(copy);
        return ret;
}

static char *write_to_string(struct report *r, enum report_format fmt)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        assert_non_null(f);
        assert_int_equal(report_write(r, fmt, f), 0);
        fclose(f);
        return buf;
}

static void write_file(const char *path, const char *data, size_t len)
{
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
}

/* ------------------------------------------------------------------ */

static void test_parse_good(void **state)
{
        struct report_record rec;
        char buf[1024];

        (void) state;
        assert_int_equal(parse("{\"ts\":\"2026-11-23T22:28:42.123456Z\",\"event\":\"refused\","
                               "\"policy\":\"inbound-smtp\",\"mode\":\"enforce\",\"action\":\"reject\","
                               "\"family\":\"ipv4\",\"src\":\"198.51.100.7\",\"sport\":40312,"
                               "\"dst\":\"203.0.113.1\",\"dport\":25,\"ttl\":64,\"iface\":\"eth0\",\"count\":1}",
                               &rec, buf, sizeof(buf)), 0);
        assert_int_equal(rec.event, REPORT_EV_REFUSED);
        assert_string_equal(rec.event_name, "refused");
        assert_string_equal(rec.src, "198.51.100.7");
        assert_string_equal(rec.policy, "inbound-smtp");
        assert_true(rec.has_dport);
        assert_int_equal(rec.dport, 25);
        assert_int_equal(rec.count, 1);
        assert_true(rec.ts == T("2026-11-23T22:28:42Z") + 123456);

        /* whitespace, absent count means 1, null strings */
        assert_int_equal(parse("  { \"event\" : \"observed\" , \"ts\" : \"2026-11-23T22:00:00Z\" ,"
                               " \"src\" : null, \"ok\": true, \"no\": false, \"x\": -1.5e+3 }  ",
                               &rec, buf, sizeof(buf)), 0);
        assert_int_equal(rec.event, REPORT_EV_OBSERVED);
        assert_int_equal(rec.count, 1);
        assert_null(rec.src);
        assert_false(rec.has_dport);

        /* summary with first/last */
        assert_int_equal(parse("{\"ts\":\"2026-11-23T23:05:00Z\",\"event\":\"summary\",\"src\":\"192.0.2.1\","
                               "\"count\":500,\"first\":\"2026-11-23T23:00:01Z\",\"last\":\"2026-11-23T23:04:59Z\"}",
                               &rec, buf, sizeof(buf)), 0);
        assert_int_equal(rec.event, REPORT_EV_SUMMARY);
        assert_int_equal(rec.count, 500);
        assert_true(rec.has_first && rec.has_last);
        assert_true(rec.first == T("2026-11-23T23:00:01Z"));
        assert_true(rec.last == T("2026-11-23T23:04:59Z"));

        /* unknown event: well formed, "other"; nested values are skipped */
        assert_int_equal(parse("{\"ts\":\"2026-11-23T23:05:00Z\",\"event\":\"new-thing\","
                               "\"policies\":[\"a\",\"b\",[]],\"o\":{\"k\":[1,{\"z\":null}],\"e\":{}}}",
                               &rec, buf, sizeof(buf)), 0);
        assert_int_equal(rec.event, REPORT_EV_OTHER);
        assert_string_equal(rec.event_name, "new-thing");
}

static void test_parse_escapes(void **state)
{
        struct report_record rec;
        char buf[1024];

        (void) state;
        assert_int_equal(parse("{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"reload\",\"result\":\"error\","
                               "\"error\":\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t \\u00e9 \\u20AC \\ud83d\\ude00 \xc3\xa9\"}",
                               &rec, buf, sizeof(buf)), 0);
        assert_string_equal(rec.error, "q\" b\\ s/ \b\f\n\r\t \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xc3\xa9");
        assert_string_equal(rec.result, "error");

        /* escaped key names are decoded before matching */
        assert_int_equal(parse("{\"\\u0074s\":\"2026-11-23T22:00:00Z\",\"ev\\u0065nt\":\"stop\"}",
                               &rec, buf, sizeof(buf)), 0);
        assert_int_equal(rec.event, REPORT_EV_STOP);
}

static const char *const corrupt_lines[] = {
        /* truncated */
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\",\"src\":\"198.51",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\",",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\",\"count\":",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\"",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\",\"count\":1",
        "{",
        /* missing brace */
        "\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\"}",
        /* trailing garbage, two objects */
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"stop\"}x",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"stop\"}{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"stop\"}",
        /* bad escapes */
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\",\"src\":\"a\\qb\"}",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\",\"src\":\"a\\u12G4\"}",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\",\"src\":\"a\\u12\"}",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\",\"src\":\"\\ud83d\"}",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\",\"src\":\"\\ude00\"}",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\",\"src\":\"\\ud83d\\u0041\"}",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\",\"src\":\"\\u0000\"}",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\",\"src\":\"a\\\"}",
        /* raw control character and invalid UTF-8 in a string */
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\",\"src\":\"a\tb\"}",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\",\"src\":\"\xff\xfe\"}",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\",\"src\":\"\xc0\xaf\"}",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\",\"src\":\"\xed\xa0\x80\"}",
        /* not an object */
        "[1,2,3]",
        "\"refused\"",
        "42",
        "null",
        "}",
        /* binary garbage */
        "\x01\x02\x03\xff\xfe\x80garbage",
        "\x1b[31mred\x1b[0m",
        /* bad syntax */
        "{,\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"stop\"}",
        "{\"ts\":\"2026-11-23T22:00:00Z\",,\"event\":\"stop\"}",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"stop\",}",
        "{\"ts\" \"2026-11-23T22:00:00Z\",\"event\":\"stop\"}",
        "{ts:\"2026-11-23T22:00:00Z\",\"event\":\"stop\"}",
        "{'ts':'2026-11-23T22:00:00Z','event':'stop'}",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"stop\",\"x\":tru}",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"stop\",\"x\":01}",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"stop\",\"x\":1.}",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"stop\",\"x\":+1}",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"stop\",\"x\":[1,]}",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"stop\",\"x\":{\"a\"}}",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"stop\",\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
        /* schema: ts, event, count */
        "{}",
        "{\"event\":\"refused\"}",
        "{\"ts\":\"2026-11-23T22:00:00Z\"}",
        "{\"ts\":\"yesterday\",\"event\":\"refused\"}",
        "{\"ts\":\"2026-13-23T22:00:00Z\",\"event\":\"refused\"}",
        "{\"ts\":\"2026-02-29T22:00:00Z\",\"event\":\"refused\"}",
        "{\"ts\":\"2026-11-23T24:00:00Z\",\"event\":\"refused\"}",
        "{\"ts\":1764000000,\"event\":\"refused\"}",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":7}",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\",\"count\":-1}",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\",\"count\":1.5}",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\",\"count\":\"3\"}",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\",\"count\":99999999999999999999}",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\",\"dport\":70000}",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\",\"src\":42}",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"summary\",\"src\":\"192.0.2.1\"}",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"missed\"}",
        "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"summary\",\"count\":3,\"first\":\"soon\"}",
};

static void test_parse_corrupt(void **state)
{
        struct report_record rec;
        struct report *r;
        char buf[1024];
        size_t i, n = sizeof(corrupt_lines) / sizeof(corrupt_lines[0]);

        (void) state;
        r = new_report(false, 0, false, 0, 10);
        for (i = 0; i < n; i++) {
                if (parse(corrupt_lines[i], &rec, buf, sizeof(buf)) != -EINVAL)
                        fail_msg("accepted corrupt line %zu: %s", i, corrupt_lines[i]);
                assert_int_equal(add(r, corrupt_lines[i]), 0);
        }
        /* an embedded NUL byte cuts nothing: the line is corrupt */
        memcpy(buf, "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"st\0p\"}", 45);
        assert_int_equal(report_parse_line(buf, 45, &rec), -EINVAL);
        memcpy(buf, "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"st\0p\"}", 45);
        assert_int_equal(report_add_line(r, buf, 45), 0);

        assert_int_equal(report_corrupt(r), n + 1);
        assert_int_equal(report_lines(r), n + 1);
        assert_int_equal(report_attempts(r), 0);
        for (i = 0; i < REPORT_EV_COUNT; i++)
                assert_int_equal(report_events(r, (enum report_event)i), 0);
        /* a good line after all that still counts */
        assert_int_equal(add(r, "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\",\"src\":\"192.0.2.1\"}"), 1);
        assert_int_equal(report_attempts(r), 1);
        /* empty and blank lines are not lines */
        assert_int_equal(add(r, ""), 0);
        assert_int_equal(add(r, "   \r"), 0);
        assert_int_equal(report_lines(r), n + 2);
        report_free(r);
}

static void test_parse_time(void **state)
{
        const int64_t now = T("2026-11-24T12:00:00Z");
        int64_t t;

        (void) state;
        assert_true(T("1970-01-01T00:00:00Z") == 0);
        assert_true(T("1970-01-01") == 0);
        assert_true(T("2026-11-23T22:00:00Z") == INT64_C(1795471200) * 1000000);
        assert_true(T("2026-11-23T22:00:00") == T("2026-11-23T22:00:00Z"));
        assert_true(T("2026-11-23T22:00") == T("2026-11-23T22:00:00Z"));
        assert_true(T("2026-11-23 22:00:00z") == T("2026-11-23T22:00:00Z"));
        assert_true(T("2026-11-23T23:00:00+01:00") == T("2026-11-23T22:00:00Z"));
        assert_true(T("2026-11-23T21:30:00-00:30") == T("2026-11-23T22:00:00Z"));
        assert_true(T("2026-11-23T22:00:00.5Z") == T("2026-11-23T22:00:00Z") + 500000);
        assert_true(T("2026-11-23") == T("2026-11-23T00:00:00Z"));
        assert_true(T("2024-02-29") == T("2024-03-01") - 24 * HOUR);
        assert_true(T("1969-12-31T23:00:00Z") == -HOUR);

        assert_int_equal(report_parse_time("24h", now, &t), 0);
        assert_true(t == now - 24 * HOUR);
        assert_int_equal(report_parse_time("7d", now, &t), 0);
        assert_true(t == now - 7 * 24 * HOUR);
        assert_int_equal(report_parse_time("90m", now, &t), 0);
        assert_true(t == now - 90 * 60 * INT64_C(1000000));
        assert_int_equal(report_parse_time("2w", now, &t), 0);
        assert_true(t == now - 14 * 24 * HOUR);
        assert_int_equal(report_parse_time("30s", now, &t), 0);
        assert_true(t == now - 30 * INT64_C(1000000));

        assert_int_equal(report_parse_time("", now, &t), -EINVAL);
        assert_int_equal(report_parse_time("24", now, &t), -EINVAL);
        assert_int_equal(report_parse_time("h", now, &t), -EINVAL);
        assert_int_equal(report_parse_time("24x", now, &t), -EINVAL);
        assert_int_equal(report_parse_time("-5h", now, &t), -EINVAL);
        assert_int_equal(report_parse_time("99999999999999999999d", now, &t), -EINVAL);
        assert_int_equal(report_parse_time("2026-11-31", now, &t), -EINVAL);
        assert_int_equal(report_parse_time("2026-11-23T22", now, &t), -EINVAL);
        assert_int_equal(report_parse_time("2026-11-23T22:00:00Q", now, &t), -EINVAL);
        assert_int_equal(report_parse_time("2026-11-23T22:00:00.Z", now, &t), -EINVAL);
        assert_int_equal(report_parse_time("2026-11-23x", now, &t), -EINVAL);
        assert_int_equal(report_parse_time("26-11-23", now, &t), -EINVAL);

        char buf[32];
        assert_string_equal(report_format_time(T("2026-11-23T22:28:42.999Z"), buf), "2026-11-23T22:28:42Z");
        assert_string_equal(report_format_time(-1, buf), "1969-12-31T23:59:59Z");
}

/* The fixture, unfiltered: every number worked out by hand (see basic.jsonl). */
static void test_fixture_totals(void **state)
{
        struct report *r = new_report(false, 0, false, 0, 10);
        int64_t first, last;

        (void) state;
        assert_int_equal(report_read_file(r, fixture("basic.jsonl")), 0);
        assert_int_equal(report_lines(r), 20);
        assert_int_equal(report_corrupt(r), 5);
        assert_int_equal(report_filtered(r), 0);
        assert_int_equal(report_events(r, REPORT_EV_REFUSED), 5);
        assert_int_equal(report_events(r, REPORT_EV_OBSERVED), 1);
        assert_int_equal(report_events(r, REPORT_EV_SUMMARY), 1);
        assert_int_equal(report_events(r, REPORT_EV_MISSED), 1);
        assert_int_equal(report_events(r, REPORT_EV_START), 2);
        assert_int_equal(report_events(r, REPORT_EV_STOP), 1);
        assert_int_equal(report_events(r, REPORT_EV_RELOAD), 2);
        assert_int_equal(report_events(r, REPORT_EV_RESTORED), 1);
        assert_int_equal(report_events(r, REPORT_EV_OTHER), 1);
        /* 5 refused + 1 observed + 500 in a summary + 42 missed */
        assert_int_equal(report_attempts(r), 548);
        assert_int_equal(report_sources(r), 4);
        assert_true(report_period(r, &first, &last));
        assert_true(first == T("2026-11-23T21:59:59Z") + 1);
        assert_true(last == T("2026-11-24T01:59:59Z") + 999999);
        assert_int_equal(report_source_attempts(r, "198.51.100.7", &first, &last), 3);
        assert_true(first == T("2026-11-23T22:28:42Z") + 123456);
        assert_true(last == T("2026-11-23T23:30:00Z"));
        assert_int_equal(report_source_attempts(r, "203.0.113.99", &first, &last), 500);
        assert_true(first == T("2026-11-23T23:00:01Z"));    /* summary "first", not ts */
        assert_true(last == T("2026-11-23T23:05:00Z"));     /* ts is later than "last" */
        assert_int_equal(report_source_attempts(r, "2001:db8::66", NULL, NULL), 1);
        assert_int_equal(report_source_attempts(r, "192.0.2.10", NULL, NULL), 2);
        assert_int_equal(report_source_attempts(r, "198.51.100.8", NULL, NULL), 0);
        assert_int_equal(report_policy_port_attempts(r, "inbound-smtp", 25), 505);
        assert_int_equal(report_policy_port_attempts(r, "submission", 587), 1);
        assert_int_equal(report_policy_port_attempts(r, "inbound-smtp", 0), 42);
        assert_int_equal(report_policy_port_attempts(r, "nope", 25), 0);
        assert_int_equal(report_reloads_ok(r), 1);
        assert_int_equal(report_reloads_failed(r), 1);
        report_free(r);
}

static void test_since_until(void **state)
{
        struct report *r;

        (void) state;
        /* [23:00, 01:00): the summary, two reloads, the observed attempt, the stop */
        r = new_report(true, T("2026-11-23T23:00:00Z"), true, T("2026-11-24T01:00:00Z"), 10);
        assert_int_equal(report_read_file(r, fixture("basic.jsonl")), 0);
        assert_int_equal(report_events(r, REPORT_EV_SUMMARY), 1);
        assert_int_equal(report_events(r, REPORT_EV_RELOAD), 2);
        assert_int_equal(report_events(r, REPORT_EV_OBSERVED), 1);
        assert_int_equal(report_events(r, REPORT_EV_STOP), 1);
        assert_int_equal(report_events(r, REPORT_EV_REFUSED), 0);
        assert_int_equal(report_events(r, REPORT_EV_START), 0);   /* 01:00:00 is excluded */
        assert_int_equal(report_attempts(r), 501);
        assert_int_equal(report_filtered(r), 10);
        assert_int_equal(report_corrupt(r), 5);
        assert_int_equal(report_sources(r), 2);
        report_free(r);

        /* since is inclusive, to the microsecond */
        r = new_report(true, T("2026-11-24T01:59:59Z") + 999999, false, 0, 10);
        assert_int_equal(report_read_file(r, fixture("basic.jsonl")), 0);
        assert_int_equal(report_events(r, REPORT_EV_REFUSED), 1);
        assert_int_equal(report_attempts(r), 1);
        report_free(r);

        /* until alone */
        r = new_report(false, 0, true, T("2026-11-23T22:30:00Z"), 10);
        assert_int_equal(report_read_file(r, fixture("basic.jsonl")), 0);
        assert_int_equal(report_events(r, REPORT_EV_START), 1);
        assert_int_equal(report_events(r, REPORT_EV_REFUSED), 1);
        assert_int_equal(report_attempts(r), 1);
        report_free(r);
}

static void test_summary_counts(void **state)
{
        struct report *r = new_report(false, 0, false, 0, 10);

        (void) state;
        assert_int_equal(add(r, "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\",\"policy\":\"p\",\"src\":\"192.0.2.1\",\"dport\":25,\"count\":1}"), 1);
        assert_int_equal(add(r, "{\"ts\":\"2026-11-23T22:00:01Z\",\"event\":\"summary\",\"policy\":\"p\",\"src\":\"192.0.2.1\",\"dport\":25,\"count\":1000,"
                                "\"first\":\"2026-11-23T22:00:00.5Z\",\"last\":\"2026-11-23T22:00:01Z\"}"), 1);
        assert_int_equal(add(r, "{\"ts\":\"2026-11-23T22:00:02Z\",\"event\":\"summary\",\"policy\":\"p\",\"src\":\"192.0.2.1\",\"dport\":25,\"count\":9007199254740992}"), 1);
        assert_int_equal(add(r, "{\"ts\":\"2026-11-23T22:10:00Z\",\"event\":\"missed\",\"count\":7}"), 1);
        assert_int_equal(add(r, "{\"ts\":\"2026-11-23T22:10:00Z\",\"event\":\"summary\",\"src\":\"192.0.2.2\",\"count\":0}"), 1);
        assert_int_equal(report_attempts(r), 1 + 1000 + UINT64_C(9007199254740992) + 7);
        assert_int_equal(report_source_attempts(r, "192.0.2.1", NULL, NULL), 1001 + UINT64_C(9007199254740992));
        assert_int_equal(report_source_attempts(r, "192.0.2.2", NULL, NULL), 0);
        assert_int_equal(report_sources(r), 2);
        assert_int_equal(report_policy_port_attempts(r, "p", 25), 1001 + UINT64_C(9007199254740992));
        assert_int_equal(report_policy_port_attempts(r, NULL, 0), 7);
        /* missed attempts have no hour of their own */
        assert_int_equal(report_hour_attempts(r, T("2026-11-23T22:00:00Z")), 1001 + UINT64_C(9007199254740992));
        report_free(r);
}

static void test_gzip(void **state)
{
        char path[PATH_MAX + 32], cut[PATH_MAX + 32], plain[PATH_MAX + 32];
        struct report *r;
        struct stat st;
        char *data;
        gzFile gz;
        FILE *f;
        int i, fd, saved;

        (void) state;
        snprintf(path, sizeof(path), "%s/audit.jsonl.2.gz", tmpdir);
        gz = gzopen(path, "wb9");
        assert_non_null(gz);
        for (i = 0; i < 3000; i++)
                assert_true(gzprintf(gz, "{\"ts\":\"2026-11-23T%02d:%02d:00Z\",\"event\":\"refused\","
                                     "\"policy\":\"inbound-smtp\",\"src\":\"192.0.2.%d\",\"dport\":25,\"count\":1}\n",
                                     (i / 60) % 24, i % 60, i % 7) > 0);
        gzputs(gz, "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\",\"src\":\"192.0.2.1\",\"cou");
        gzputs(gz, "nt\":2}\n{\"trunc");
        assert_int_equal(gzclose(gz), Z_OK);

        r = new_report(false, 0, false, 0, 10);
        assert_int_equal(report_read_file(r, path), 0);
        assert_int_equal(report_events(r, REPORT_EV_REFUSED), 3001);
        assert_int_equal(report_attempts(r), 3002);
        assert_int_equal(report_corrupt(r), 1);
        assert_int_equal(report_sources(r), 7);
        assert_int_equal(report_hour_attempts(r, T("2026-11-23T00:00:00Z")), 60 * 3);
        report_free(r);

        /* a gzip stream cut short: what was read counts, the loss is one corrupt line */
        assert_int_equal(stat(path, &st), 0);
        data = malloc((size_t)st.st_size);
        assert_non_null(data);
        f = fopen(path, "re");
        assert_non_null(f);
        assert_int_equal(fread(data, 1, (size_t)st.st_size, f), (size_t)st.st_size);
        fclose(f);
        snprintf(cut, sizeof(cut), "%s/cut.gz", tmpdir);
        write_file(cut, data, (size_t)st.st_size / 2);
        free(data);
        r = new_report(false, 0, false, 0, 10);
        assert_int_equal(report_read_file(r, cut), 0);
        assert_true(report_events(r, REPORT_EV_REFUSED) > 100);
        assert_true(report_events(r, REPORT_EV_REFUSED) < 3001);
        assert_true(report_corrupt(r) >= 1 && report_corrupt(r) <= 2);
        report_free(r);

        /* a plain file, and the same file as stdin ("-") */
        snprintf(plain, sizeof(plain), "%s/plain.jsonl", tmpdir);
        write_file(plain, "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"stop\"}\r\n", 46);
        r = new_report(false, 0, false, 0, 10);
        assert_int_equal(report_read_file(r, plain), 0);
        assert_int_equal(report_events(r, REPORT_EV_STOP), 1);
        fd = open(plain, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        saved = dup(STDIN_FILENO);
        assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
        close(fd);
        assert_int_equal(report_read_file(r, "-"), 0);
        assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
        close(saved);
        assert_int_equal(report_events(r, REPORT_EV_STOP), 2);
        assert_int_equal(report_corrupt(r), 0);

        /* a missing file is an error, and is remembered */
        snprintf(plain, sizeof(plain), "%s/does-not-exist", tmpdir);
        assert_int_equal(report_read_file(r, plain), -ENOENT);
        report_free(r);
}

static void test_long_line(void **state)
{
        char path[PATH_MAX + 32];
        struct report *r;
        size_t n = REPORT_LINE_MAX * 3 + 17;
        char *data;
        FILE *f;

        (void) state;
        snprintf(path, sizeof(path), "%s/long.jsonl", tmpdir);
        data = malloc(n);
        assert_non_null(data);
        memset(data, 'a', n);
        f = fopen(path, "we");
        assert_non_null(f);
        fputs("{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"start\"}\n{\"x\":\"", f);
        fwrite(data, 1, n, f);
        fputs("\"}\n{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"stop\"}\n", f);
        fclose(f);
        free(data);

        r = new_report(false, 0, false, 0, 10);
        assert_int_equal(report_read_file(r, path), 0);
        assert_int_equal(report_lines(r), 3);
        assert_int_equal(report_corrupt(r), 1);
        assert_int_equal(report_events(r, REPORT_EV_START), 1);
        assert_int_equal(report_events(r, REPORT_EV_STOP), 1);
        report_free(r);
}

static void test_top_sources(void **state)
{
        struct report *r = new_report(false, 0, false, 0, 2);
        uint64_t n;
        char line[256];
        int i;

        (void) state;
        /* 192.0.2.3: 5; 192.0.2.1 and 192.0.2.2: 3 each, .2 seen first; 192.0.2.4 and .5: 1 at the same time */
        for (i = 0; i < 5; i++) {
                snprintf(line, sizeof(line), "{\"ts\":\"2026-11-23T22:%02d:00Z\",\"event\":\"refused\",\"src\":\"192.0.2.3\"}", 10 + i);
                assert_int_equal(add(r, line), 1);
        }
        for (i = 0; i < 3; i++) {
                snprintf(line, sizeof(line), "{\"ts\":\"2026-11-23T22:%02d:00Z\",\"event\":\"refused\",\"src\":\"192.0.2.1\"}", 30 + i);
                assert_int_equal(add(r, line), 1);
                snprintf(line, sizeof(line), "{\"ts\":\"2026-11-23T22:%02d:00Z\",\"event\":\"refused\",\"src\":\"192.0.2.2\"}", 20 + i);
                assert_int_equal(add(r, line), 1);
        }
        assert_int_equal(add(r, "{\"ts\":\"2026-11-23T23:00:00Z\",\"event\":\"refused\",\"src\":\"192.0.2.5\"}"), 1);
        assert_int_equal(add(r, "{\"ts\":\"2026-11-23T23:00:00Z\",\"event\":\"refused\",\"src\":\"192.0.2.4\"}"), 1);

        assert_string_equal(report_top_source(r, 0, &n), "192.0.2.3");
        assert_int_equal(n, 5);
        assert_string_equal(report_top_source(r, 1, &n), "192.0.2.2");
        assert_int_equal(n, 3);
        assert_string_equal(report_top_source(r, 2, &n), "192.0.2.1");
        assert_string_equal(report_top_source(r, 3, &n), "192.0.2.4");
        assert_string_equal(report_top_source(r, 4, &n), "192.0.2.5");
        assert_int_equal(n, 1);
        assert_null(report_top_source(r, 5, &n));

        /* a summary moves a source to the top; the order is recomputed */
        assert_int_equal(add(r, "{\"ts\":\"2026-11-23T23:30:00Z\",\"event\":\"summary\",\"src\":\"192.0.2.5\",\"count\":100}"), 1);
        assert_string_equal(report_top_source(r, 0, &n), "192.0.2.5");
        assert_int_equal(n, 101);
        report_free(r);
}

/* Past REPORT_SOURCES_MAX sources a new one is counted under its network,
 * past the networks under one key: the table stays bounded, totals exact,
 * and a source already known keeps its own count. */
static void test_sources_bounded(void **state)
{
        struct report *r = new_report(false, 0, false, 0, 10);
        const unsigned extra = 30000, nets = REPORT_NETWORKS_MAX + 5000;
        char line[256];
        unsigned i;

        (void) state;
        for (i = 0; i < REPORT_SOURCES_MAX; i++) {
                snprintf(line, sizeof(line), "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\","
                         "\"src\":\"10.%u.%u.%u\",\"count\":1}", i >> 16 & 0xff, i >> 8 & 0xff, i & 0xff);
                assert_int_equal(add(r, line), 1);
        }
        assert_int_equal(report_sources(r), REPORT_SOURCES_MAX);
        /* 30000 more sources in 198.51.100.0/24: one key for all of them */
        for (i = 0; i < extra; i++) {
                snprintf(line, sizeof(line), "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\","
                         "\"src\":\"198.51.100.%u\",\"count\":1}", i % 256);
                assert_int_equal(add(r, line), 1);
        }
        assert_int_equal(report_sources(r), REPORT_SOURCES_MAX + 1);
        assert_int_equal(report_source_attempts(r, "198.51.100.0/24", NULL, NULL), extra);
        /* a known source still counts as itself */
        assert_int_equal(add(r, "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\","
                                "\"src\":\"10.0.0.7\",\"count\":5}"), 1);
        assert_int_equal(report_source_attempts(r, "10.0.0.7", NULL, NULL), 6);
        /* more networks than the second limit: the rest under one key */
        for (i = 0; i < nets; i++) {
                snprintf(line, sizeof(line), "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\","
                         "\"src\":\"2001:db8:%x::1\",\"count\":1}", i);
                assert_int_equal(add(r, line), 1);
        }
        assert_int_equal(report_sources(r), REPORT_SOURCES_MAX + REPORT_NETWORKS_MAX + 1);
        assert_int_equal(report_source_attempts(r, REPORT_SOURCES_OTHER, NULL, NULL),
                         nets - (REPORT_NETWORKS_MAX - 1));
        assert_int_equal(report_attempts(r), REPORT_SOURCES_MAX + extra + 5 + nets);
        report_free(r);
}

static void test_many_sources(void **state)
{
        struct report *r = new_report(false, 0, false, 0, 10);
        char line[256], src[64];
        uint64_t n;
        int i;

        (void) state;
        /* enough to make the table grow many times */
        for (i = 0; i < 50000; i++) {
                snprintf(line, sizeof(line), "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\","
                         "\"src\":\"2001:db8::%x\",\"count\":%d}", i, 1 + (i % 10 == 0));
                assert_int_equal(add(r, line), 1);
        }
        assert_int_equal(report_sources(r), 50000);
        assert_int_equal(report_attempts(r), 55000);
        for (i = 0; i < 50000; i += 997) {
                snprintf(src, sizeof(src), "2001:db8::%x", i);
                assert_int_equal(report_source_attempts(r, src, NULL, NULL), 1 + (i % 10 == 0));
        }
        assert_string_equal(report_top_source(r, 0, &n), "2001:db8::0");
        assert_int_equal(n, 2);
        report_free(r);
}

static void test_timeline(void **state)
{
        struct report *r = new_report(false, 0, false, 0, 10);

        (void) state;
        assert_int_equal(add(r, "{\"ts\":\"2026-11-23T21:59:59.999999Z\",\"event\":\"refused\",\"src\":\"192.0.2.1\"}"), 1);
        assert_int_equal(add(r, "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"refused\",\"src\":\"192.0.2.1\"}"), 1);
        assert_int_equal(add(r, "{\"ts\":\"2026-11-23T22:59:59.999999Z\",\"event\":\"observed\",\"src\":\"192.0.2.1\"}"), 1);
        /* an offset is converted to UTC before bucketing: 00:30+01:00 is 23:30Z */
        assert_int_equal(add(r, "{\"ts\":\"2026-11-24T00:30:00+01:00\",\"event\":\"summary\",\"src\":\"192.0.2.1\",\"count\":10}"), 1);
        assert_int_equal(add(r, "{\"ts\":\"2026-11-24T05:00:00Z\",\"event\":\"refused\",\"src\":\"192.0.2.1\",\"count\":4}"), 1);
        /* not attempts: no bucket */
        assert_int_equal(add(r, "{\"ts\":\"2026-11-24T06:00:00Z\",\"event\":\"stop\"}"), 1);
        assert_int_equal(add(r, "{\"ts\":\"2026-11-24T07:00:00Z\",\"event\":\"missed\",\"count\":3}"), 1);

        assert_int_equal(report_hour_attempts(r, T("2026-11-23T21:00:00Z")), 1);
        assert_int_equal(report_hour_attempts(r, T("2026-11-23T22:00:00Z")), 2);
        assert_int_equal(report_hour_attempts(r, T("2026-11-23T23:00:00Z")), 10);
        assert_int_equal(report_hour_attempts(r, T("2026-11-24T00:00:00Z")), 0);
        assert_int_equal(report_hour_attempts(r, T("2026-11-24T05:00:00Z")), 4);
        assert_int_equal(report_hour_attempts(r, T("2026-11-24T06:00:00Z")), 0);
        assert_int_equal(report_hour_attempts(r, T("2026-11-24T07:00:00Z")), 0);
        /* any time inside the hour names the same bucket */
        assert_int_equal(report_hour_attempts(r, T("2026-11-23T22:42:00Z")), 2);
        /* before 1970 too */
        assert_int_equal(add(r, "{\"ts\":\"1969-12-31T23:59:59Z\",\"event\":\"refused\",\"src\":\"192.0.2.9\"}"), 1);
        assert_int_equal(report_hour_attempts(r, T("1969-12-31T23:00:00Z")), 1);
        assert_int_equal(report_hour_attempts(r, T("1970-01-01T00:00:00Z")), 0);
        report_free(r);
}

static void test_log_files(void **state)
{
        char dir[PATH_MAX + 16], path[PATH_MAX + 64];
        static const char *const names[] = {
                "audit.jsonl", "audit.jsonl.1", "audit.jsonl.2.gz", "audit.jsonl.10.gz",
                "audit.jsonl-20261120.gz", "audit.jsonl-20261121", "audit.jsonl.bak",
                "audit.jsonl.1.xz", "other.jsonl.1", "audit.jsonl.", "audit.jsonl.gz",
        };
        char **files = NULL;
        size_t i;

        (void) state;
        snprintf(dir, sizeof(dir), "%s/logs", tmpdir);
        assert_int_equal(mkdir(dir, 0700), 0);
        for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
                write_file(path, "", 0);
        }
        snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
        assert_int_equal(report_log_files(path, &files), 0);
#define EXPECT(i, name) do { snprintf(path, sizeof(path), "%s/%s", dir, name); \
                assert_non_null(files[i]); assert_string_equal(files[i], path); } while (0)
        EXPECT(0, "audit.jsonl-20261120.gz");
        EXPECT(1, "audit.jsonl-20261121");
        EXPECT(2, "audit.jsonl.10.gz");
        EXPECT(3, "audit.jsonl.2.gz");
        EXPECT(4, "audit.jsonl.1");
        EXPECT(5, "audit.jsonl");
#undef EXPECT
        assert_null(files[6]);
        report_files_free(files);

        /* a log in a missing directory: just itself */
        assert_int_equal(report_log_files("/nonexistent-dir/audit.jsonl", &files), 0);
        assert_string_equal(files[0], "/nonexistent-dir/audit.jsonl");
        assert_null(files[1]);
        report_files_free(files);
}

/* A strict JSON validator, independent of report.c, to check --format json. */
static const char *jv_value(const char *p, int depth);

static const char *jv_ws(const char *p)
{
        while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
                p++;
        return p;
}

static const char *jv_string(const char *p)
{
        if (*p++ != '"')
                return NULL;
        while (*p != '"') {
                if ((unsigned char)*p < 0x20)
                        return NULL;
                if (*p == '\\') {
                        p++;
                        if (*p == 'u') {
                                for (int i = 1; i <= 4; i++)
                                        if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
                                                return NULL;
                                p += 4;
                        } else if (!*p || !strchr("\"\\/bfnrt", *p)) {
                                return NULL;
                        }
                }
                p++;
        }
        return p + 1;
}

static const char *jv_value(const char *p, int depth)
{
        char close;

        p = jv_ws(p);
        if (depth > 64)
                return NULL;
        if (*p == '"')
                return jv_string(p);
        if (strncmp(p, "true", 4) == 0 || strncmp(p, "null", 4) == 0)
                return p + 4;
        if (strncmp(p, "false", 5) == 0)
                return p + 5;
        if (*p == '-' || (*p >= '0' && *p <= '9')) {
                char *end;

                strtod(p, &end);
                return end > p ? end : NULL;
        }
        if (*p != '{' && *p != '[')
                return NULL;
        close = *p == '{' ? '}' : ']';
        p = jv_ws(p + 1);
        if (*p == close)
                return p + 1;
        for (;;) {
                if (close == '}') {
                        p = jv_string(jv_ws(p));
                        if (!p)
                                return NULL;
                        p = jv_ws(p);
                        if (*p++ != ':')
                                return NULL;
                }
                p = jv_value(p, depth + 1);
                if (!p)
                        return NULL;
                p = jv_ws(p);
                if (*p == close)
                        return p + 1;
                if (*p++ != ',')
                        return NULL;
        }
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
static bool valid_utf8(const unsigned char *p)
{
        while (*p) {
                unsigned c = *p, cp, n, i;

                if (c < 0x80) {
                        p++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf)
                        n = 1, cp = c & 0x1f;
                else if (c >= 0xe0 && c <= 0xef)
                        n = 2, cp = c & 0x0f;
                else if (c >= 0xf0 && c <= 0xf4)
                        n = 3, cp = c & 0x07;
                else
                        return false;
                for (i = 1; i <= n; i++) {
                        if ((p[i] & 0xc0) != 0x80)
                                return false;
                        cp = cp << 6 | (p[i] & 0x3f);
                }
                if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
                    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
                        return false;
                p += n + 1;
        }
        return true;
}

static void assert_valid_json(const char *s)
{
        const char *end = jv_value(s, 0);

        assert_true(valid_utf8((const unsigned char *)s));
        if (!end)
                fail_msg("invalid JSON: %s", s);
        assert_string_equal(jv_ws(end), "");
}

/* RFC 4180: every record has ncols fields; returns the number of records. */
static size_t assert_csv_shape(const char *s, size_t ncols)
{
        size_t records = 0, fields = 1;
        bool quoted = false, at_start = true;

        for (; *s; s++) {
                if (quoted) {
                        if (*s == '"' && s[1] == '"')
                                s++;
                        else if (*s == '"')
                                quoted = false;
                        continue;
                }
                if (*s == '"' && at_start) {
                        quoted = true;
                        at_start = false;
                } else if (*s == ',') {
                        fields++;
                        at_start = true;
                } else if (*s == '\r' && s[1] == '\n') {
                        assert_int_equal(fields, ncols);
                        records++;
                        fields = 1;
                        at_start = true;
                        s++;
                } else {
                        assert_true(*s != '"' && *s != '\n');
                        at_start = false;
                }
        }
        assert_false(quoted);
        assert_true(at_start && fields == 1);
        return records;
}

static struct report *formats_report(void)
{
        struct report *r = new_report(true, T("2026-11-23T00:00:00Z"), false, 0, 10);

        assert_int_equal(report_read_file(r, fixture("basic.jsonl")), 0);
        assert_int_equal(add(r, "{\"ts\":\"2026-11-24T02:00:00Z\",\"event\":\"reload\",\"result\":\"error\","
                                "\"error\":\"<script>alert(1)</script> & \\\"q\\\", =cmd|' /C calc'!A0\\n\\u001b[31m\"}"), 1);
        assert_int_equal(add(r, "{\"ts\":\"2026-11-24T02:00:00Z\",\"event\":\"refused\",\"policy\":\"p<b>\","
                                "\"src\":\"<img src=x onerror=alert(1)>\",\"dport\":25}"), 1);
        assert_int_equal(add(r, "{\"ts\":\"2026-11-24T02:00:01Z\",\"event\":\"reload\",\"result\":\"error\","
                                "\"error\":\"=HYPERLINK(\\\"http://x\\\")\"}"), 1);
        return r;
}

static void test_format_table(void **state)
{
        struct report *r = formats_report();
        char *out = write_to_string(r, REPORT_FORMAT_TABLE);

        (void) state;
        assert_non_null(strstr(out, "mxlock audit report"));
        assert_non_null(strstr(out, "basic.jsonl"));
        assert_non_null(strstr(out, "since 2026-11-23T00:00:00Z"));
        assert_non_null(strstr(out, "attempts   549 (refused 6, observed 1, in summaries 500, missed 42)"));
        assert_non_null(strstr(out, "sources    5 distinct"));
        assert_non_null(strstr(out, "5 corrupt skipped"));
        assert_non_null(strstr(out, "Top sources (5 of 5)"));
        assert_non_null(strstr(out, "203.0.113.99"));
        assert_non_null(strstr(out, "inbound-smtp,submission"));
        assert_non_null(strstr(out, "2026-11-23T23:00:00Z       501"));
        assert_non_null(strstr(out, "Reloads: 1 ok, 3 failed"));
        /* no raw escape character reaches the terminal */
        assert_null(strchr(out, '\x1b'));
        /* the biggest source comes before the smaller ones */
        assert_true(strstr(out, "203.0.113.99") < strstr(out, "198.51.100.7"));
        free(out);
        report_free(r);
}

static void test_format_json(void **state)
{
        struct report *r = formats_report();
        char *out = write_to_string(r, REPORT_FORMAT_JSON);

        (void) state;
        assert_valid_json(out);
        assert_non_null(strstr(out, "\"attempts\":549,"));
        assert_non_null(strstr(out, "\"corrupt\":5,"));
        assert_non_null(strstr(out, "\"sources\":5,"));
        assert_non_null(strstr(out, "{\"src\":\"203.0.113.99\",\"attempts\":500,\"first\":\"2026-11-23T23:00:01Z\","
                                    "\"last\":\"2026-11-23T23:05:00Z\",\"policies\":[\"inbound-smtp\"]}"));
        assert_non_null(strstr(out, "\"policies\":[\"inbound-smtp\",\"submission\"]"));
        assert_non_null(strstr(out, "{\"policy\":\"inbound-smtp\",\"port\":25,\"attempts\":505}"));
        assert_non_null(strstr(out, "{\"policy\":\"inbound-smtp\",\"port\":null,\"attempts\":42}"));
        assert_non_null(strstr(out, "{\"hour\":\"2026-11-23T23:00:00Z\",\"attempts\":501}"));
        assert_non_null(strstr(out, "\"reloads\":{\"ok\":1,\"error\":3,"));
        assert_non_null(strstr(out, "\\\"q\\\""));
        assert_non_null(strstr(out, "\\n\\u001b[31m"));
        assert_null(strchr(out, '\x1b'));
        free(out);
        report_free(r);

        /* a file name that is not UTF-8 still gives valid JSON */
        char path[PATH_MAX + 32];

        snprintf(path, sizeof(path), "%s/bad-\xff\xc3(-name.jsonl", tmpdir);
        static const char line[] = "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"stop\",\"\xc3\xa9\":\"\xe2\x82\xac\"}\n";

        write_file(path, line, strlen(line));
        r = new_report(false, 0, false, 0, 10);
        assert_int_equal(report_read_file(r, path), 0);
        assert_int_equal(report_events(r, REPORT_EV_STOP), 1);
        out = write_to_string(r, REPORT_FORMAT_JSON);
        assert_valid_json(out);
        assert_non_null(strstr(out, "bad-\\ufffd\\ufffd(-name.jsonl"));
        free(out);
        report_free(r);
}

static void test_format_csv(void **state)
{
        struct report *r = formats_report();
        char *out = write_to_string(r, REPORT_FORMAT_CSV);

        (void) state;
        assert_true(strncmp(out, "section,key,value,first_seen,last_seen,detail\r\n", 47) == 0);
        assert_non_null(strstr(out, "\r\nsummary,attempts,549,,,\r\n"));
        assert_non_null(strstr(out, "\r\nsummary,corrupt,5,,,\r\n"));
        assert_non_null(strstr(out, "\r\nsource,203.0.113.99,500,2026-11-23T23:00:01Z,2026-11-23T23:05:00Z,inbound-smtp\r\n"));
        assert_non_null(strstr(out, "\r\nsource,198.51.100.7,3,2026-11-23T22:28:42Z,2026-11-23T23:30:00Z,\"inbound-smtp,submission\"\r\n"));
        assert_non_null(strstr(out, "\r\npolicy_port,inbound-smtp,505,,,25\r\n"));
        assert_non_null(strstr(out, "\r\npolicy_port,inbound-smtp,42,,,\r\n"));
        assert_non_null(strstr(out, "\r\nhour,2026-11-23T23:00:00Z,501,,,\r\n"));
        assert_non_null(strstr(out, "\r\nreload,error,3,,,\r\n"));
        /* quotes doubled, the embedded newline kept inside quotes */
        assert_non_null(strstr(out, ",,,,\"<script>alert(1)</script> & \"\"q\"\", =cmd|' /C calc'!A0\n"));
        assert_non_null(strstr(out, "\r\nreload_error,2026-11-23T23:10:00Z,,,,\"/etc/mxlock/mxlock.conf:12: "
                                    "unknown provider \"\"mimecast-xx\"\"\"\r\n"));
        /* a value a spreadsheet would run as a formula is defused */
        assert_non_null(strstr(out, ",,,,\"'=HYPERLINK(\"\"http://x\"\")\"\r\n"));
        assert_null(strstr(out, ",=HYPERLINK"));
        assert_csv_shape(out, 6);
        free(out);
        report_free(r);
}

static void test_format_html(void **state)
{
        struct report *r = formats_report();
        char *out = write_to_string(r, REPORT_FORMAT_HTML);

        (void) state;
        assert_true(strncmp(out, "<!DOCTYPE html>", 15) == 0);
        assert_non_null(strstr(out, "<svg"));
        assert_non_null(strstr(out, "<rect"));
        assert_non_null(strstr(out, "<style>"));
        assert_non_null(strstr(out, "</html>\n"));
        assert_null(strstr(out, "<script"));
        assert_null(strstr(out, "<img"));
        assert_null(strstr(out, "src=\"http"));
        assert_null(strstr(out, "href="));
        assert_null(strstr(out, "<link"));
        assert_null(strstr(out, "url("));
        assert_non_null(strstr(out, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;"));
        assert_non_null(strstr(out, "&lt;img src=x onerror=alert(1)&gt;"));
        assert_non_null(strstr(out, "p&lt;b&gt;"));
        assert_non_null(strstr(out, "203.0.113.99"));
        assert_null(strchr(out, '\x1b'));
        free(out);
        report_free(r);
}

static void test_format_empty(void **state)
{
        struct report *r = new_report(false, 0, false, 0, 10);
        enum report_format f;
        char *out;

        (void) state;
        for (f = REPORT_FORMAT_TABLE; f <= REPORT_FORMAT_HTML; f++) {
                out = write_to_string(r, f);
                assert_true(strlen(out) > 0);
                if (f == REPORT_FORMAT_JSON) {
                        assert_valid_json(out);
                        assert_non_null(strstr(out, "\"first\":null"));
                }
                free(out);
        }
        assert_int_equal(report_format_from_name("json", &f), 0);
        assert_int_equal(f, REPORT_FORMAT_JSON);
        assert_int_equal(report_format_from_name("html", &f), 0);
        assert_int_equal(f, REPORT_FORMAT_HTML);
        assert_int_equal(report_format_from_name("xml", &f), -EINVAL);
        report_free(r);
}

/* Every event the tree writes has its own count in every format (the
 * schema's event table): enable/disable and sync's ranges-changed records,
 * and the seal records of a sealed log, are not "other". */
static void test_all_schema_events(void **state)
{
        static const char *const lines[] = {
                "{\"ts\":\"2026-11-23T22:00:00Z\",\"event\":\"disabled\",\"result\":\"ok\",\"mode\":\"enforce\"}",
                "{\"ts\":\"2026-11-23T22:10:00Z\",\"event\":\"enabled\",\"result\":\"ok\",\"mode\":\"enforce\"}",
                "{\"ts\":\"2026-11-23T22:20:00Z\",\"event\":\"ranges-changed\",\"provider\":\"example\","
                "\"spf\":\"_spf.example.test\",\"added\":[\"192.0.2.0/24\"],\"removed\":[],\"count_before\":4,"
                "\"count_after\":5,\"forced\":false,\"guards\":[]}",
                "{\"ts\":\"2026-11-23T22:20:01Z\",\"event\":\"ranges-changed\",\"provider\":\"example\","
                "\"spf\":null,\"added\":[],\"removed\":[\"192.0.2.0/24\"],\"count_before\":5,"
                "\"count_after\":4,\"forced\":true,\"guards\":[\"shrink\"]}",
                "{\"ts\":\"2026-11-23T22:30:00Z\",\"event\":\"seal\",\"reason\":\"start\",\"prev\":null,\"run\":\"r\"}",
                "{\"ts\":\"2026-11-23T22:40:00Z\",\"event\":\"future-kind\"}",
        };
        struct report *r = new_report(false, 0, false, 0, 10);
        char *out;

        (void) state;
        for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
                char *l = strdup(lines[i]);

                assert_non_null(l);
                assert_int_equal(report_add_line(r, l, strlen(l)), 1);
                free(l);
        }
        assert_int_equal(report_events(r, REPORT_EV_DISABLED), 1);
        assert_int_equal(report_events(r, REPORT_EV_ENABLED), 1);
        assert_int_equal(report_events(r, REPORT_EV_RANGES_CHANGED), 2);
        assert_int_equal(report_events(r, REPORT_EV_SEAL), 1);
        assert_int_equal(report_events(r, REPORT_EV_OTHER), 1);
        assert_int_equal(report_attempts(r), 0);

        out = write_to_string(r, REPORT_FORMAT_JSON);
        assert_non_null(strstr(out, "\"events\":{\"refused\":0,\"observed\":0,\"summary\":0,\"missed\":0,"
                                    "\"start\":0,\"stop\":0,\"reload\":0,\"restored\":0,\"enabled\":1,"
                                    "\"disabled\":1,\"ranges-changed\":2,\"seal\":1,\"other\":1}"));
        free(out);
        out = write_to_string(r, REPORT_FORMAT_TABLE);
        assert_non_null(strstr(out, " restored 0 enabled 1 disabled 1 ranges-changed 2 seal 1 other 1\n"));
        free(out);
        out = write_to_string(r, REPORT_FORMAT_CSV);
        assert_non_null(strstr(out, "summary,events.enabled,1,"));
        assert_non_null(strstr(out, "summary,events.disabled,1,"));
        assert_non_null(strstr(out, "summary,events.ranges-changed,2,"));
        assert_non_null(strstr(out, "summary,events.seal,1,"));
        free(out);
        out = write_to_string(r, REPORT_FORMAT_HTML);
        assert_non_null(strstr(out, "<th>ranges-changed</th>"));
        free(out);
        report_free(r);
}

/* Outbound records (outbound.jsonl after basic.jsonl) stay out of every
 * inbound figure, and are counted by user, unit and destination. */
static void test_outbound(void **state)
{
        struct report *r = new_report(false, 0, false, 0, 10);
        int64_t first = 0, last = 0;
        char *out;

        (void) state;
        assert_int_equal(report_read_file(r, fixture("basic.jsonl")), 0);
        assert_int_equal(report_read_file(r, fixture("outbound.jsonl")), 0);
        assert_int_equal(report_corrupt(r), 5);
        /* inbound: basic.jsonl's 548 and the one inbound line of outbound.jsonl */
        assert_int_equal(report_attempts(r), 549);
        assert_int_equal(report_sources(r), 5);
        assert_int_equal(report_source_attempts(r, "192.0.2.1", NULL, NULL), 0);
        assert_int_equal(report_source_attempts(r, "0.0.0.0/0", NULL, NULL), 0);
        assert_int_equal(report_source_attempts(r, "203.0.113.7", NULL, NULL), 1);
        assert_int_equal(report_policy_port_attempts(r, "smarthost", 25), 0);
        assert_int_equal(report_policy_port_attempts(r, "smarthost", 0), 0);
        assert_int_equal(report_policy_port_attempts(r, "inbound-smtp", 25), 506);
        assert_int_equal(report_hour_attempts(r, T("2026-11-24T02:00:00Z")), 1);
        /* records per event count both directions */
        assert_int_equal(report_events(r, REPORT_EV_REFUSED), 5 + 4 + 1);
        assert_int_equal(report_events(r, REPORT_EV_SUMMARY), 2);
        assert_int_equal(report_events(r, REPORT_EV_MISSED), 2);

        /* outbound: 4 refused, 250 in a summary, 3 missed */
        assert_int_equal(report_outbound_attempts(r), 257);
        assert_int_equal(report_outbound_user(r, true, 33, &first, &last), 252);
        assert_true(first == T("2026-11-24T02:00:00Z"));
        assert_true(last == T("2026-11-24T02:00:05Z"));
        assert_int_equal(report_outbound_user(r, true, 108, NULL, NULL), 1);
        assert_int_equal(report_outbound_user(r, true, 4242, NULL, NULL), 1);
        assert_int_equal(report_outbound_user(r, false, 0, NULL, NULL), 0);
        assert_int_equal(report_outbound_unit(r, "apache2.service"), 2);
        assert_int_equal(report_outbound_unit(r, "postfix@-.service"), 1);
        assert_int_equal(report_outbound_unit(r, NULL), 1);
        assert_int_equal(report_outbound_unit(r, REPORT_OB_FOLDED), 250);
        assert_int_equal(report_outbound_dest(r, "192.0.2.66", 25), 2);
        assert_int_equal(report_outbound_dest(r, "2001:db8:66::25", 587), 1);
        assert_int_equal(report_outbound_dest(r, "192.0.2.66", 587), 0);

        out = write_to_string(r, REPORT_FORMAT_TABLE);
        assert_non_null(strstr(out, "attempts   549 (refused 6, observed 1, in summaries 500, missed 42)"));
        assert_non_null(strstr(out, "\nOutbound: 257 attempts (refused 4, observed 0, in summaries 250, missed 3); "
                                    "user not allowed 3, destination not allowed 1\n"));
        assert_non_null(strstr(out, "Outbound attempts by user (3 of 3)"));
        assert_non_null(strstr(out, "  www-data (33)       252         2         0  2026-11-24T02:00:00Z  "
                                    "2026-11-24T02:00:05Z  smarthost\n"));
        assert_non_null(strstr(out, "  4242                  1         1         0"));
        assert_non_null(strstr(out, "Outbound attempts by unit (4 of 4)"));
        assert_non_null(strstr(out, "  apache2.service           2  2026-11-24T02:00:00Z  2026-11-24T02:00:01Z\n"));
        assert_non_null(strstr(out, "Outbound destinations (4 of 4)"));
        assert_non_null(strstr(out, "  192.0.2.66 port 25               2  "));
        assert_non_null(strstr(out, "  2001:db8:66::25 port 587         1  "));
        /* the biggest row first */
        assert_true(strstr(out, "www-data (33)") < strstr(out, "postfix (108)"));
        free(out);

        out = write_to_string(r, REPORT_FORMAT_JSON);
        assert_valid_json(out);
        assert_non_null(strstr(out, "\"attempts\":549,"));
        assert_non_null(strstr(out, "\"outbound\":{\"attempts\":257,\"attempts_by_event\":{\"refused\":4,"
                                    "\"observed\":0,\"summary\":250,\"missed\":3},\"user_not_allowed\":3,"
                                    "\"destination_not_allowed\":1,\"users\":3,\"top_users\":[{\"uid\":33,"
                                    "\"user\":\"www-data\",\"attempts\":252,\"user_not_allowed\":2,"
                                    "\"destination_not_allowed\":0,\"first\":\"2026-11-24T02:00:00Z\","
                                    "\"last\":\"2026-11-24T02:00:05Z\",\"policies\":[\"smarthost\"]}"));
        assert_non_null(strstr(out, "{\"uid\":4242,\"user\":null,\"attempts\":1,"));
        assert_non_null(strstr(out, "{\"unit\":\"apache2.service\",\"attempts\":2,"));
        assert_non_null(strstr(out, "{\"unit\":\"(unknown)\",\"attempts\":1,"));
        assert_non_null(strstr(out, "{\"dst\":\"2001:db8:66::25\",\"port\":587,\"attempts\":1,"
                                    "\"user_not_allowed\":0,\"destination_not_allowed\":1,"));
        assert_non_null(strstr(out, "{\"dst\":\"(in summaries)\",\"port\":null,\"attempts\":250,"));
        free(out);

        out = write_to_string(r, REPORT_FORMAT_CSV);
        assert_non_null(strstr(out, "\r\nsummary,attempts,549,,,\r\n"));
        assert_non_null(strstr(out, "\r\nsummary,outbound.attempts,257,,,\r\n"));
        assert_non_null(strstr(out, "\r\nsummary,outbound.user-not-allowed,3,,,\r\n"));
        assert_non_null(strstr(out, "\r\noutbound_user,33,252,2026-11-24T02:00:00Z,2026-11-24T02:00:05Z,www-data\r\n"));
        assert_non_null(strstr(out, "\r\noutbound_user,4242,1,2026-11-24T02:00:03Z,2026-11-24T02:00:03Z,\r\n"));
        assert_non_null(strstr(out, "\r\noutbound_unit,apache2.service,2,2026-11-24T02:00:00Z,2026-11-24T02:00:01Z,\r\n"));
        assert_non_null(strstr(out, "\r\noutbound_destination,192.0.2.66,2,2026-11-24T02:00:00Z,2026-11-24T02:00:03Z,25\r\n"));
        assert_csv_shape(out, 6);
        free(out);

        out = write_to_string(r, REPORT_FORMAT_HTML);
        assert_non_null(strstr(out, "<h2>Outbound attempts</h2>"));
        assert_non_null(strstr(out, "<code>www-data (33)</code>"));
        free(out);
        report_free(r);
}

/* A log without outbound records: no outbound section in the table or the
 * CSV (they read as before), a zero one in the JSON. */
static void test_outbound_absent(void **state)
{
        struct report *r = new_report(false, 0, false, 0, 10);
        char *out;

        (void) state;
        assert_int_equal(report_read_file(r, fixture("basic.jsonl")), 0);
        assert_int_equal(report_outbound_attempts(r), 0);
        out = write_to_string(r, REPORT_FORMAT_TABLE);
        assert_null(strstr(out, "Outbound"));
        free(out);
        out = write_to_string(r, REPORT_FORMAT_CSV);
        assert_null(strstr(out, "outbound"));
        free(out);
        out = write_to_string(r, REPORT_FORMAT_HTML);
        assert_null(strstr(out, "Outbound"));
        free(out);
        out = write_to_string(r, REPORT_FORMAT_JSON);
        assert_valid_json(out);
        assert_non_null(strstr(out, "\"outbound\":{\"attempts\":0,"));
        assert_non_null(strstr(out, "\"top_users\":[],\"units\":0,\"top_units\":[],\"destinations\":0,"
                                    "\"top_destinations\":[]}"));
        free(out);
        report_free(r);
}

/* The outbound tables are bounded: past the limit, one "other" row. */
static void test_outbound_bounded(void **state)
{
        struct report *r = new_report(false, 0, false, 0, 0);
        char line[512];

        (void) state;
        for (unsigned i = 0; i < REPORT_OB_USERS_MAX + 5; i++) {
                snprintf(line, sizeof(line), "{\"ts\":\"2026-11-24T02:00:00Z\",\"event\":\"refused\","
                         "\"direction\":\"outbound\",\"policy\":\"o\",\"dst\":\"192.0.2.%u\",\"dport\":25,"
                         "\"uid\":%u,\"user\":null,\"unit\":\"run-u%u.scope\",\"count\":1}", i % 250, 100000 + i, i);
                assert_int_equal(add(r, line), 1);
        }
        assert_int_equal(report_outbound_attempts(r), REPORT_OB_USERS_MAX + 5);
        assert_int_equal(r->ob.users.keys.n, REPORT_OB_USERS_MAX + 1);
        assert_int_equal(r->ob.units.keys.n, REPORT_OB_UNITS_MAX + 1);
        assert_int_equal(report_outbound_unit(r, "(other units)"), 5);
        assert_int_equal(r->ob.dests.keys.n, 250);
        report_free(r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_good),
                cmocka_unit_test(test_parse_escapes),
                cmocka_unit_test(test_parse_corrupt),
                cmocka_unit_test(test_parse_time),
                cmocka_unit_test(test_fixture_totals),
                cmocka_unit_test(test_since_until),
                cmocka_unit_test(test_summary_counts),
                cmocka_unit_test(test_gzip),
                cmocka_unit_test(test_long_line),
                cmocka_unit_test(test_top_sources),
                cmocka_unit_test(test_many_sources),
                cmocka_unit_test(test_sources_bounded),
                cmocka_unit_test(test_timeline),
                cmocka_unit_test(test_log_files),
                cmocka_unit_test(test_format_table),
                cmocka_unit_test(test_format_json),
                cmocka_unit_test(test_format_csv),
                cmocka_unit_test(test_format_html),
                cmocka_unit_test(test_format_empty),
                cmocka_unit_test(test_all_schema_events),
                cmocka_unit_test(test_outbound),
                cmocka_unit_test(test_outbound_absent),
                cmocka_unit_test(test_outbound_bounded),
        };

        return cmocka_run_group_tests(tests, setup_tmpdir, teardown_tmpdir);
}
