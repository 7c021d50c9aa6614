/* tests/unit/test_export.c: `mxlock export`'s mapping of one audit line to
 * ECS and OCSF, and the field callback of the audit reader it uses. The
 * full schema validation of every line is tests/e2e/export.sh. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "export.h"
#include "report.h"

static const struct export_ctx ecs = { .fmt = EXPORT_ECS, .hostname = "mx1.example.test" };
static const struct export_ctx ocsf = { .fmt = EXPORT_OCSF, .hostname = "mx1.example.test" };

/* Export one line; returns export_line's result and the output in *out. */
static int map(const struct export_ctx *ctx, const char *line, char **out)
{
        char *copy = strdup(line), *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        int r;

        assert_non_null(copy);
        assert_non_null(f);
        r = export_line(ctx, copy, strlen(copy), f);
        assert_int_equal(fclose(f), 0);
        free(copy);
        *out = buf;
        return r;
}

#define REFUSED "{\"ts\":\"2026-11-23T22:28:42.123456Z\",\"event\":\"refused\",\"policy\":\"inbound-smtp\"," \
        "\"mode\":\"enforce\",\"action\":\"reject\",\"family\":\"ipv4\",\"src\":\"198.51.100.7\",\"sport\":40312," \
        "\"dst\":\"203.0.113.1\",\"dport\":25,\"ttl\":64,\"iface\":\"eth0\",\"count\":1,\"reason\":\"not-allowed\"}"

static void test_ecs_refused(void **state)
{
        char *out;

        (void) state;
        assert_int_equal(map(&ecs, REFUSED, &out), 1);
        assert_non_null(strstr(out, "\"@timestamp\":\"2026-11-23T22:28:42.123456Z\""));
        assert_non_null(strstr(out, "\"ecs\":{\"version\":\"" EXPORT_ECS_VERSION "\"}"));
        assert_non_null(strstr(out, "\"category\":[\"network\"],\"type\":[\"connection\",\"denied\"]"));
        assert_non_null(strstr(out, "\"source\":{\"ip\":\"198.51.100.7\",\"port\":40312}"));
        assert_non_null(strstr(out, "\"destination\":{\"ip\":\"203.0.113.1\",\"port\":25}"));
        assert_non_null(strstr(out, "\"rule\":{\"name\":\"inbound-smtp\""));
        assert_non_null(strstr(out, "\"hostname\":\"mx1.example.test\",\"type\":\"firewall\""));
        assert_non_null(strstr(out, "\"count\":1"));
        assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);    /* one line */
        free(out);
}

static void test_ocsf_refused(void **state)
{
        char *out;

        (void) state;
        assert_int_equal(map(&ocsf, REFUSED, &out), 1);
        assert_non_null(strstr(out, "\"class_uid\":4001"));
        assert_non_null(strstr(out, "\"activity_id\":5"));
        assert_non_null(strstr(out, "\"type_uid\":400105"));
        assert_non_null(strstr(out, "\"action_id\":2"));
        assert_non_null(strstr(out, "\"disposition_id\":2"));
        assert_non_null(strstr(out, "\"time\":1795472922123,"));
        assert_non_null(strstr(out, "\"protocol_ver_id\":4"));
        free(out);
}

static void test_summary_counts(void **state)
{
        static const char *line = "{\"ts\":\"2026-11-23T23:05:00Z\",\"event\":\"summary\",\"policy\":\"p\","
                "\"mode\":\"enforce\",\"action\":\"drop\",\"family\":\"ipv6\",\"src\":\"2001:db8::66\",\"dport\":25,"
                "\"count\":500,\"first\":\"2026-11-23T23:00:01Z\",\"last\":\"2026-11-23T23:04:59Z\"}";
        char *out;

        (void) state;
        assert_int_equal(map(&ecs, line, &out), 1);
        assert_non_null(strstr(out, "\"count\":500"));
        assert_non_null(strstr(out, "\"start\":\"2026-11-23T23:00:01.000000Z\""));
        assert_non_null(strstr(out, "\"type\":\"ipv6\""));
        free(out);
        assert_int_equal(map(&ocsf, line, &out), 1);
        assert_non_null(strstr(out, "\"count\":500"));
        assert_non_null(strstr(out, "\"disposition_id\":6"));   /* action = drop */
        assert_non_null(strstr(out, "\"start_time\":"));
        free(out);
}

static void test_skipped(void **state)
{
        static const char *seal = "{\"ts\":\"2026-11-23T23:05:00Z\",\"event\":\"seal\",\"tag\":\"00ff\"}";
        static const char *start = "{\"ts\":\"2026-11-23T23:05:00Z\",\"event\":\"start\",\"mode\":\"enforce\"}";
        static const char *future = "{\"ts\":\"2026-11-23T23:05:00Z\",\"event\":\"teleported\"}";
        char *out;

        (void) state;
        assert_int_equal(map(&ecs, seal, &out), 0);
        assert_string_equal(out, "");
        free(out);
        assert_int_equal(map(&ocsf, seal, &out), 0);
        free(out);
        assert_int_equal(map(&ocsf, start, &out), 0);   /* OCSF: attempts only */
        assert_string_equal(out, "");
        free(out);
        assert_int_equal(map(&ecs, start, &out), 1);
        assert_non_null(strstr(out, "\"category\":[\"process\"],\"type\":[\"start\"]"));
        free(out);
        assert_int_equal(map(&ecs, future, &out), 0);
        free(out);
        assert_int_equal(map(&ecs, "   ", &out), 0);
        free(out);
}

static void test_unknown_fields_and_escapes(void **state)
{
        static const char *line = "{\"ts\":\"2026-11-23T22:28:42Z\",\"seal\":\"c2VhbA==\",\"event\":\"refused\","
                "\"policy\":\"a\\\"b\",\"src\":\"192.0.2.1\",\"future\":{\"x\":[1,{\"y\":null}]},\"flag\":true,"
                "\"sport\":\"not a number\",\"count\":1}";
        char *out;

        (void) state;
        assert_int_equal(map(&ecs, line, &out), 1);
        assert_non_null(strstr(out, "\"name\":\"a\\\"b\""));
        assert_null(strstr(out, "future"));
        assert_null(strstr(out, "\"port\""));           /* a sport of the wrong type is left out */
        free(out);
}

static void test_corrupt_and_since(void **state)
{
        struct export_ctx since = ecs;
        char *out;

        (void) state;
        assert_int_equal(map(&ecs, "{\"event\":\"refused\"}", &out), -EINVAL);      /* no ts */
        free(out);
        assert_int_equal(map(&ecs, "{\"ts\":\"2026-11-23T22:28:42Z\",\"event\":\"refused\"", &out), -EINVAL);
        free(out);
        assert_int_equal(report_parse_time("2026-11-24", 0, &since.since), 0);
        since.has_since = true;
        assert_int_equal(map(&since, REFUSED, &out), 0);
        free(out);
        assert_int_equal(report_parse_time("2026-11-23T22:28:42.123456Z", 0, &since.since), 0);
        assert_int_equal(map(&since, REFUSED, &out), 1);
        free(out);
}

struct seen {
        char keys[16][16];
        int n;
        int nested, numbers;
};

static void note(const char *key, const struct report_value *v, void *userdata)
{
        struct seen *s = userdata;

        if (s->n < 16)
                snprintf(s->keys[s->n++], sizeof(s->keys[0]), "%s", key);
        if (v->type == REPORT_V_NESTED)
                s->nested++;
        if (v->type == REPORT_V_NUMBER && v->len == 2 && memcmp(v->str, "25", 2) == 0)
                s->numbers++;
}

static void test_field_callback(void **state)
{
        char line[] = "{\"ts\":\"2026-11-23T22:28:42Z\",\"event\":\"refused\",\"x\":[1,2],\"dport\":25}";
        struct report_record rec;
        struct seen s = {};

        (void) state;
        assert_int_equal(report_parse_line_fields(line, strlen(line), &rec, note, &s), 0);
        assert_int_equal(s.n, 4);
        assert_string_equal(s.keys[0], "ts");
        assert_string_equal(s.keys[2], "x");
        assert_int_equal(s.nested, 1);
        assert_int_equal(s.numbers, 1);
        assert_int_equal(rec.dport, 25);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ecs_refused),
                cmocka_unit_test(test_ocsf_refused),
                cmocka_unit_test(test_summary_counts),
                cmocka_unit_test(test_skipped),
                cmocka_unit_test(test_unknown_fields_and_escapes),
                cmocka_unit_test(test_corrupt_and_since),
                cmocka_unit_test(test_field_callback),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
