/* tests/unit/test_audit.c: JSON line building and the audit log file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"

/* ---- a small strict JSON validator (RFC 8259, UTF-8) ---- */

struct jp {
        const unsigned char *p, *end;
};

static bool jv_value(struct jp *s, int depth);

static void jv_ws(struct jp *s)
{
        while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n'))
                s->p++;
}

static bool jv_lit(struct jp *s, const char *lit)
{
        size_t n = strlen(lit);

        if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
                return false;
        s->p += n;
        return true;
}

/* One UTF-8 sequence starting at a byte >= 0x80 (Unicode Table 3-7). */
static bool jv_utf8(struct jp *s)
{
        unsigned c = *s->p, lo = 0x80, hi = 0xbf, n, i;

        if (c >= 0xc2 && c <= 0xdf)
                n = 2;
        else if (c >= 0xe0 && c <= 0xef)
                n = 3;
        else if (c >= 0xf0 && c <= 0xf4)
                n = 4;
        else
                return false;
        if (c == 0xe0)
                lo = 0xa0;
        if (c == 0xed)
                hi = 0x9f;
        if (c == 0xf0)
                lo = 0x90;
        if (c == 0xf4)
                hi = 0x8f;
        if ((size_t)(s->end - s->p) < n)
                return false;
        if (s->p[1] < lo || s->p[1] > hi)
                return false;
        for (i = 2; i < n; i++)
                if ((s->p[i] & 0xc0) != 0x80)
                        return false;
        s->p += n;
        return true;
}

static bool jv_string(struct jp *s)
{
        if (s->p >= s->end || *s->p != '"')
                return false;
        s->p++;
        while (s->p < s->end) {
                unsigned c = *s->p;

                if (c == '"') {
                        s->p++;
                        return true;
                }
                if (c < 0x20)
                        return false;
                if (c == '\\') {
                        s->p++;
                        if (s->p >= s->end)
                                return false;
                        if (*s->p == 'u') {
                                int i;

                                for (i = 1; i <= 4; i++)
                                        if (s->p + i >= s->end || !strchr("0123456789abcdefABCDEF", s->p[i]) || s->p[i] == 0)
                                                return false;
                                s->p += 5;
                        } else if (*s->p && strchr("\"\\/bfnrt", *s->p)) {
                                s->p++;
                        } else {
                                return false;
                        }
                } else if (c >= 0x80) {
                        if (!jv_utf8(s))
                                return false;
                } else {
                        s->p++;
                }
        }
        return false;
}

static bool jv_number(struct jp *s)
{
        const unsigned char *start = s->p;

        if (s->p < s->end && *s->p == '-')
                s->p++;
        if (s->p >= s->end)
                return false;
        if (*s->p == '0') {
                s->p++;
        } else if (*s->p >= '1' && *s->p <= '9') {
                while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
                        s->p++;
        } else {
                return false;
        }
        if (s->p < s->end && *s->p == '.') {
                s->p++;
                if (s->p >= s->end || *s->p < '0' || *s->p > '9')
                        return false;
                while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
                        s->p++;
        }
        return s->p > start;
}

static bool jv_container(struct jp *s, int depth, char close, bool keys)
{
        s->p++;
        jv_ws(s);
        if (s->p < s->end && *s->p == (unsigned char)close) {
                s->p++;
                return true;
        }
        for (;;) {
                jv_ws(s);
                if (keys) {
                        if (!jv_string(s))
                                return false;
                        jv_ws(s);
                        if (s->p >= s->end || *s->p != ':')
                                return false;
                        s->p++;
                }
                if (!jv_value(s, depth + 1))
                        return false;
                jv_ws(s);
                if (s->p >= s->end)
                        return false;
                if (*s->p == (unsigned char)close) {
                        s->p++;
                        return true;
                }
                if (*s->p != ',')
                        return false;
                s->p++;
        }
}

static bool jv_value(struct jp *s, int depth)
{
        if (depth > 32)
                return false;
        jv_ws(s);
        if (s->p >= s->end)
                return false;
        switch (*s->p) {
        case '{':
                return jv_container(s, depth, '}', true);
        case '[':
                return jv_container(s, depth, ']', false);
        case '"':
                return jv_string(s);
        case 't':
                return jv_lit(s, "true");
        case 'f':
                return jv_lit(s, "false");
        case 'n':
                return jv_lit(s, "null");
        default:
                return jv_number(s);
        }
}

/* A finished audit line: one JSON object, then exactly one newline. */
static bool json_line_valid(const struct jline *j)
{
        struct jp s;

        if (j->len < 3 || j->len >= sizeof(j->buf) || strlen(j->buf) != j->len)
                return false;
        if (j->buf[0] != '{' || j->buf[j->len - 2] != '}' || j->buf[j->len - 1] != '\n')
                return false;
        s.p = (const unsigned char *)j->buf;
        s.end = s.p + j->len - 1;
        if (!jv_value(&s, 0))
                return false;
        return s.p == s.end;
}

static const struct timeval example_tv = { .tv_sec = 1795472922, .tv_usec = 123456 };
#define EXAMPLE_TS "2026-11-23T22:28:42.123456Z"
#define HEAD "{\"ts\":\"" EXAMPLE_TS "\",\"event\":\"refused\""

/* The line for one string field, checked to be valid JSON. */
static const char *line_with(struct jline *j, const char *value)
{
        jline_begin(j, &example_tv, "refused");
        jline_str(j, "v", value);
        jline_end(j);
        assert_true(json_line_valid(j));
        return j->buf;
}

/* ---- tests ---- */

static void test_validator_rejects(void **state)
{
        static const char *bad[] = {
                "{\"a\":\"x\"}", "{\"a\":\"x\"\n", "{\"a\":\"x}\n", "{\"a\":\"\x01\"}\n",
                "{\"a\":\"\\x\"}\n", "{\"a\":\"\xff\"}\n", "{\"a\":\"\xc3\"}\n", "{\"a\":1,}\n",
                "{\"a\":\"\\u12\"}\n", "{\"a\":\"x\"}\n\n", "{\"a\":tru}\n",
        };
        struct jline j;
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                memset(&j, 0, sizeof(j));
                strcpy(j.buf, bad[i]);
                j.len = strlen(bad[i]);
                assert_false(json_line_valid(&j));
        }
        strcpy(j.buf, "{\"a\":[1,-2.5,true,null,{\"b\":\"\\u00e9\xc3\xa9\"}]}\n");
        j.len = strlen(j.buf);
        assert_true(json_line_valid(&j));
}

static void test_format_time(void **state)
{
        char buf[32];
        struct timeval tv;

        (void)state;
        assert_string_equal(audit_format_time(&example_tv, buf), EXAMPLE_TS);
        tv.tv_sec = 0;
        tv.tv_usec = 0;
        assert_string_equal(audit_format_time(&tv, buf), "1970-01-01T00:00:00.000000Z");
        tv.tv_sec = 1709210096;         /* a leap day */
        tv.tv_usec = 7;
        assert_string_equal(audit_format_time(&tv, buf), "2024-02-29T12:34:56.000007Z");
        tv.tv_sec = 1767225599;
        tv.tv_usec = 999999;
        assert_string_equal(audit_format_time(&tv, buf), "2025-12-31T23:59:59.999999Z");
        assert_ptr_equal(audit_format_time(&tv, buf), buf);
}

static void test_design_example(void **state)
{
        struct jline j;

        (void)state;
        jline_begin(&j, &example_tv, "refused");
        jline_str(&j, "policy", "inbound-smtp");
        jline_str(&j, "mode", "enforce");
        jline_str(&j, "action", "reject");
        jline_str(&j, "family", "ipv4");
        jline_str(&j, "src", "198.51.100.7");
        jline_uint(&j, "sport", 40312);
        jline_str(&j, "dst", "203.0.113.1");
        jline_uint(&j, "dport", 25);
        jline_int(&j, "ttl", 64);
        jline_str(&j, "iface", "eth0");
        jline_uint(&j, "count", 1);
        jline_end(&j);
        assert_string_equal(j.buf,
                "{\"ts\":\"2026-11-23T22:28:42.123456Z\",\"event\":\"refused\",\"policy\":\"inbound-smtp\","
                "\"mode\":\"enforce\",\"action\":\"reject\",\"family\":\"ipv4\",\"src\":\"198.51.100.7\","
                "\"sport\":40312,\"dst\":\"203.0.113.1\",\"dport\":25,\"ttl\":64,\"iface\":\"eth0\",\"count\":1}\n");
        assert_int_equal(j.len, strlen(j.buf));
        assert_false(j.truncated);
        assert_true(json_line_valid(&j));

        /* jline_end twice does not add a second closing */
        jline_end(&j);
        assert_int_equal(j.len, strlen(j.buf));
        assert_true(json_line_valid(&j));
        /* nor can a field be appended after the end */
        jline_str(&j, "late", "x");
        assert_true(json_line_valid(&j));
        assert_null(strstr(j.buf, "late"));
}

static void test_other_types(void **state)
{
        struct jline j;
        struct timeval first = { .tv_sec = 1795472900, .tv_usec = 5 };

        (void)state;
        jline_begin(&j, &example_tv, "summary");
        jline_str(&j, "error", NULL);
        jline_int(&j, "min", LLONG_MIN);
        jline_int(&j, "neg", -1);
        jline_uint(&j, "max", ULLONG_MAX);
        jline_bool(&j, "t", true);
        jline_bool(&j, "f", false);
        jline_time(&j, "first", &first);
        jline_raw(&j, "list", "[\"a\",1]");
        jline_raw(&j, "nothing", NULL);
        jline_end(&j);
        assert_string_equal(j.buf,
                "{\"ts\":\"" EXAMPLE_TS "\",\"event\":\"summary\",\"error\":null,"
                "\"min\":-9223372036854775808,\"neg\":-1,\"max\":18446744073709551615,"
                "\"t\":true,\"f\":false,\"first\":\"2026-11-23T22:28:20.000005Z\","
                "\"list\":[\"a\",1],\"nothing\":null}\n");
        assert_true(json_line_valid(&j));
}

static void test_escape_quotes_backslash(void **state)
{
        struct jline j;

        (void)state;
        assert_string_equal(line_with(&j, "a\"b\\c"), HEAD ",\"v\":\"a\\\"b\\\\c\"}\n");
        assert_string_equal(line_with(&j, "\"},\"event\":\"fake"),
                            HEAD ",\"v\":\"\\\"},\\\"event\\\":\\\"fake\"}\n");
        assert_string_equal(line_with(&j, ""), HEAD ",\"v\":\"\"}\n");
        assert_string_equal(line_with(&j, "/path\\"), HEAD ",\"v\":\"/path\\\\\"}\n");
        assert_false(j.truncated);
}

static void test_escape_control(void **state)
{
        struct jline j;

        (void)state;
        assert_string_equal(line_with(&j, "a\nb\tc\rd\be\ff"),
                            HEAD ",\"v\":\"a\\nb\\tc\\rd\\be\\ff\"}\n");
        assert_string_equal(line_with(&j, "\x01\x1b[31m\x1f\x7f"),
                            HEAD ",\"v\":\"\\u0001\\u001b[31m\\u001f\\u007f\"}\n");
        /* the escaped line contains no raw control byte at all */
        {
                char all[33];
                size_t i;

                for (i = 1; i < 32; i++)
                        all[i - 1] = (char)i;
                all[31] = 0x7f;
                all[32] = '\0';
                line_with(&j, all);
                for (i = 0; i + 1 < j.len; i++)
                        assert_true((unsigned char)j.buf[i] >= 0x20 && j.buf[i] != 0x7f);
        }
}

static void test_escape_utf8(void **state)
{
        struct jline j;

        (void)state;
        /* valid sequences pass through unchanged: é € U+10FFFF 😀 */
        assert_string_equal(line_with(&j, "\xc3\xa9\xe2\x82\xac\xf4\x8f\xbf\xbf\xf0\x9f\x98\x80"),
                            HEAD ",\"v\":\"\xc3\xa9\xe2\x82\xac\xf4\x8f\xbf\xbf\xf0\x9f\x98\x80\"}\n");
        /* a lone byte of Latin-1 */
        assert_string_equal(line_with(&j, "caf\xe9!"), HEAD ",\"v\":\"caf\\ufffd!\"}\n");
        /* a stray continuation byte and 0xff */
        assert_string_equal(line_with(&j, "\x80\xff"), HEAD ",\"v\":\"\\ufffd\\ufffd\"}\n");
        /* overlong '/' */
        assert_string_equal(line_with(&j, "\xc0\xaf"), HEAD ",\"v\":\"\\ufffd\\ufffd\"}\n");
        /* UTF-16 surrogate encoded as UTF-8 */
        assert_string_equal(line_with(&j, "\xed\xa0\x80"), HEAD ",\"v\":\"\\ufffd\\ufffd\\ufffd\"}\n");
        /* above U+10FFFF */
        assert_string_equal(line_with(&j, "\xf4\x90\x80\x80"),
                            HEAD ",\"v\":\"\\ufffd\\ufffd\\ufffd\\ufffd\"}\n");
        /* a sequence cut by the end of the string, and one cut by ASCII */
        assert_string_equal(line_with(&j, "x\xe2\x82"), HEAD ",\"v\":\"x\\ufffd\\ufffd\"}\n");
        assert_string_equal(line_with(&j, "\xe2\x82z"), HEAD ",\"v\":\"\\ufffd\\ufffdz\"}\n");
        assert_false(j.truncated);
}

static void test_json_escape_direct(void **state)
{
        char buf[8];
        size_t len;

        (void)state;
        len = 0;
        assert_true(json_escape(buf, sizeof(buf), &len, "abc"));
        assert_int_equal(len, 3);
        assert_string_equal(buf, "abc");
        assert_true(json_escape(buf, sizeof(buf), &len, "d\""));
        assert_string_equal(buf, "abcd\\\"");
        assert_int_equal(len, 6);

        /* cut, with the NUL kept inside the buffer */
        len = 0;
        assert_false(json_escape(buf, sizeof(buf), &len, "abcdefghij"));
        assert_int_equal(len, 7);
        assert_string_equal(buf, "abcdefg");

        /* an escape is never split */
        len = 0;
        assert_false(json_escape(buf, sizeof(buf), &len, "ab\x01"));
        assert_int_equal(len, 2);
        assert_string_equal(buf, "ab");
        len = 0;
        assert_false(json_escape(buf, sizeof(buf), &len, "\"\"\"\""));
        assert_string_equal(buf, "\\\"\\\"\\\"");
        /* nor is a UTF-8 sequence */
        len = 0;
        assert_false(json_escape(buf, sizeof(buf), &len, "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"));
        assert_string_equal(buf, "\xe2\x82\xac\xe2\x82\xac");
        /* full buffer */
        len = sizeof(buf);
        assert_false(json_escape(buf, sizeof(buf), &len, "x"));
        assert_true(json_escape(buf, sizeof(buf), &len, ""));
        assert_int_equal(len, sizeof(buf));
}

/* Long values of each kind of unit are cut at a boundary into a valid line. */
static void check_long_value(const char *unit, size_t count)
{
        size_t ulen = strlen(unit), i;
        char *big = malloc(ulen * count + 1);
        struct jline j;

        assert_non_null(big);
        for (i = 0; i < count; i++)
                memcpy(big + i * ulen, unit, ulen);
        big[ulen * count] = '\0';

        jline_begin(&j, &example_tv, "refused");
        jline_str(&j, "policy", "inbound-smtp");
        jline_str(&j, "v", big);
        jline_uint(&j, "count", 1);
        jline_end(&j);
        assert_true(j.truncated);
        assert_true(json_line_valid(&j));
        assert_int_equal(strncmp(j.buf, HEAD ",\"policy\":\"inbound-smtp\",\"v\":\"", strlen(HEAD) + 30), 0);
        assert_true(j.len < sizeof(j.buf));
        /* the line is nearly full: the cut is at the end, not early */
        assert_true(j.len > sizeof(j.buf) - 40);
        assert_non_null(strstr(j.buf, ",\"truncated\":true}\n"));
        free(big);
}

static void test_long_value(void **state)
{
        (void)state;
        check_long_value("x", 10 * 1024);
        check_long_value("\"", 10 * 1024);
        check_long_value("\x01", 10 * 1024);
        check_long_value("\xe2\x82\xac", 4 * 1024);
        check_long_value("\xf0\x9f\x98\x80", 3 * 1024);
        check_long_value("\xff", 10 * 1024);
        check_long_value("ab\x01\xe2\x82\xac\"", 2 * 1024);
}

static void test_many_fields(void **state)
{
        struct jline j;
        char key[16];
        int i;

        (void)state;
        jline_begin(&j, &example_tv, "refused");
        for (i = 0; i < 1000; i++) {
                snprintf(key, sizeof(key), "k%d", i);
                if (i % 3 == 0)
                        jline_int(&j, key, i);
                else if (i % 3 == 1)
                        jline_str(&j, key, "value");
                else
                        jline_raw(&j, key, "[1,2,3]");
        }
        jline_end(&j);
        assert_true(j.truncated);
        assert_true(json_line_valid(&j));
        assert_non_null(strstr(j.buf, "\"k0\":0,\"k1\":\"value\",\"k2\":[1,2,3]"));
        assert_non_null(strstr(j.buf, ",\"truncated\":true}\n"));

        /* a line that fits says nothing about truncation */
        jline_begin(&j, &example_tv, "start");
        jline_end(&j);
        assert_string_equal(j.buf, "{\"ts\":\"" EXAMPLE_TS "\",\"event\":\"start\"}\n");
        assert_false(j.truncated);
}

/* ---- the file ---- */

static char tmpdir[64];

static int setup_dir(void **state)
{
        (void)state;
        strcpy(tmpdir, "/tmp/mxlock-audit-XXXXXX");
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
        char cmd[128];

        (void)state;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

static void tmp_path(char *buf, size_t size, const char *name)
{
        snprintf(buf, size, "%s/%s", tmpdir, name);
}

/* The whole file as a NUL-terminated string. */
static char *slurp(const char *path, size_t *ret_len)
{
        FILE *f = fopen(path, "rbe");
        char *buf;
        size_t n;

        assert_non_null(f);
        buf = malloc(1 << 20);
        assert_non_null(buf);
        n = fread(buf, 1, (1 << 20) - 1, f);
        buf[n] = '\0';
        fclose(f);
        if (ret_len)
                *ret_len = n;
        return buf;
}

static off_t file_size(const char *path)
{
        struct stat st;

        assert_int_equal(stat(path, &st), 0);
        return st.st_size;
}

static void make_line(struct jline *j, unsigned n)
{
        jline_begin(j, &example_tv, "refused");
        jline_str(j, "src", "198.51.100.7");
        jline_uint(j, "n", n);
        jline_end(j);
}

static void test_file_mode(void **state)
{
        char path[128];
        struct audit *a = NULL;
        mode_t old;
        int fd;

        (void)state;
        old = umask(022);
        tmp_path(path, sizeof(path), "mode022.jsonl");
        assert_int_equal(audit_open(path, &a), 0);
        {
                struct stat st;

                assert_int_equal(stat(path, &st), 0);
                assert_true(S_ISREG(st.st_mode));
                assert_int_equal(st.st_mode & 07777, 0640);
        }
        audit_close(a);

        /* a stricter umask would take the group's read bit: restored */
        umask(077);
        tmp_path(path, sizeof(path), "mode077.jsonl");
        assert_int_equal(audit_open(path, &a), 0);
        {
                struct stat st;

                assert_int_equal(stat(path, &st), 0);
                assert_int_equal(st.st_mode & 07777, 0640);
        }
        audit_close(a);

        /* an existing file keeps the mode the admin gave it */
        umask(022);
        tmp_path(path, sizeof(path), "existing.jsonl");
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "old\n", 4), 4);
        close(fd);
        assert_int_equal(audit_open(path, &a), 0);
        {
                struct stat st;
                struct jline j;
                char *content;

                assert_int_equal(stat(path, &st), 0);
                assert_int_equal(st.st_mode & 07777, 0600);
                /* and is appended to, not truncated */
                make_line(&j, 1);
                assert_int_equal(audit_write(a, &j), 0);
                assert_int_equal(audit_flush(a), 1);
                content = slurp(path, NULL);
                assert_int_equal(strncmp(content, "old\n{\"ts\":", 10), 0);
                free(content);
        }
        audit_close(a);
        umask(old);
}

static void test_open_errors(void **state)
{
        char path[128];
        struct audit *a = (struct audit *)0x1;

        (void)state;
        tmp_path(path, sizeof(path), "no/such/dir.jsonl");
        assert_int_equal(audit_open(path, &a), -ENOENT);
        assert_ptr_equal(a, (struct audit *)0x1);
        assert_int_equal(audit_open(tmpdir, &a), -EISDIR);
        assert_ptr_equal(a, (struct audit *)0x1);
        audit_close(NULL);
        assert_int_equal(audit_flush(NULL), 0);
}

static void test_buffered_until_flush(void **state)
{
        char path[128], expect[4096 * 3] = "";
        struct audit *a;
        struct jline j;
        char *content;
        unsigned i;

        (void)state;
        tmp_path(path, sizeof(path), "buffered.jsonl");
        assert_int_equal(audit_open(path, &a), 0);
        for (i = 0; i < 3; i++) {
                make_line(&j, i);
                strcat(expect, j.buf);
                assert_int_equal(audit_write(a, &j), 0);
        }
        assert_int_equal(file_size(path), 0);
        assert_int_equal(audit_flush(a), 1);
        content = slurp(path, NULL);
        assert_string_equal(content, expect);
        free(content);
        /* a flush with nothing buffered writes nothing */
        assert_int_equal(audit_flush(a), 0);
        assert_int_equal((size_t)file_size(path), strlen(expect));
        assert_int_equal(audit_lost(a), 0);

        /* an unfinished line is refused and counted */
        jline_begin(&j, &example_tv, "refused");
        assert_int_equal(audit_write(a, &j), -EINVAL);
        assert_int_equal(audit_lost(a), 1);
        assert_int_equal(audit_flush(a), 0);
        assert_int_equal((size_t)file_size(path), strlen(expect));

        /* close flushes */
        make_line(&j, 3);
        assert_int_equal(audit_write(a, &j), 0);
        audit_close(a);
        assert_int_equal((size_t)file_size(path), strlen(expect) + j.len);
}

static void test_buffer_overflow_flushes(void **state)
{
        char path[128], *content, *line, *save = NULL;
        char big[1000];
        struct audit *a;
        struct jline j;
        unsigned i, n = 0;

        (void)state;
        tmp_path(path, sizeof(path), "overflow.jsonl");
        assert_int_equal(audit_open(path, &a), 0);
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        for (i = 0; i < 200; i++) {
                make_line(&j, i);
                j.len -= 2;             /* reopen the object to add a field */
                j.buf[j.len] = '\0';
                jline_str(&j, "pad", big);
                jline_end(&j);
                assert_true(json_line_valid(&j));
                assert_int_equal(audit_write(a, &j), 0);
        }
        /* more than 64 KiB went in: some of it is on disk already */
        assert_true(file_size(path) > 0);
        assert_int_equal(audit_flush(a), 1);
        content = slurp(path, NULL);
        for (line = strtok_r(content, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char want[32];

                snprintf(want, sizeof(want), "\"n\":%u,", n);
                assert_non_null(strstr(line, want));
                n++;
        }
        assert_int_equal(n, 200);
        assert_int_equal(audit_lost(a), 0);
        free(content);
        audit_close(a);
}

static void test_reopen_after_rename(void **state)
{
        char path[128], rotated[128], *content;
        struct audit *a;
        struct jline j1, j2, j3;

        (void)state;
        tmp_path(path, sizeof(path), "rotate.jsonl");
        tmp_path(rotated, sizeof(rotated), "rotate.jsonl.1");
        assert_int_equal(audit_open(path, &a), 0);
        make_line(&j1, 1);
        make_line(&j2, 2);
        make_line(&j3, 3);
        assert_int_equal(audit_write(a, &j1), 0);
        assert_int_equal(audit_flush(a), 1);
        /* this one is still buffered when logrotate moves the file */
        assert_int_equal(audit_write(a, &j2), 0);
        assert_int_equal(rename(path, rotated), 0);
        assert_int_equal(audit_reopen(a), 0);
        assert_int_equal(audit_write(a, &j3), 0);
        assert_int_equal(audit_flush(a), 1);

        content = slurp(rotated, NULL);
        assert_int_equal(strlen(content), j1.len + j2.len);
        assert_memory_equal(content, j1.buf, j1.len);
        assert_memory_equal(content + j1.len, j2.buf, j2.len);
        free(content);
        content = slurp(path, NULL);
        assert_string_equal(content, j3.buf);
        free(content);
        {
                struct stat st;

                assert_int_equal(stat(path, &st), 0);
                assert_int_equal(st.st_mode & 07777, 0640);
        }
        assert_int_equal(audit_lost(a), 0);
        audit_close(a);
}

static void test_reopen_failure_retries(void **state)
{
        char dir[128], path[160], *content;
        struct audit *a;
        struct jline j;

        (void)state;
        tmp_path(dir, sizeof(dir), "gone");
        assert_int_equal(mkdir(dir, 0700), 0);
        snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
        assert_int_equal(audit_open(path, &a), 0);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(rmdir(dir), 0);
        assert_int_equal(audit_reopen(a), -ENOENT);

        /* with no file the line is lost, counted, and the error returned */
        make_line(&j, 1);
        assert_int_equal(audit_write(a, &j), 0);
        assert_int_equal(audit_flush(a), -ENOENT);
        assert_int_equal(audit_lost(a), 1);

        /* once the directory is back, the next flush opens the file again */
        assert_int_equal(mkdir(dir, 0700), 0);
        make_line(&j, 2);
        assert_int_equal(audit_write(a, &j), 0);
        assert_int_equal(audit_flush(a), 1);
        content = slurp(path, NULL);
        assert_string_equal(content, j.buf);
        free(content);
        assert_int_equal(audit_lost(a), 1);
        audit_close(a);
}

static void test_write_failure_dev_full(void **state)
{
        struct audit *a;
        struct jline j;
        unsigned i;
        int r;

        (void)state;
        assert_int_equal(audit_open("/dev/full", &a), 0);
        make_line(&j, 1);
        for (i = 0; i < 3; i++)
                assert_int_equal(audit_write(a, &j), 0);
        assert_int_equal(audit_lost(a), 0);
        assert_int_equal(audit_flush(a), -ENOSPC);
        assert_int_equal(audit_lost(a), 3);
        /* the buffer was dropped: a second flush has nothing to lose */
        assert_int_equal(audit_flush(a), 0);
        assert_int_equal(audit_lost(a), 3);

        /* later writes try again (and fail again) */
        assert_int_equal(audit_write(a, &j), 0);
        assert_int_equal(audit_flush(a), -ENOSPC);
        assert_int_equal(audit_lost(a), 4);

        /* a write that needs room flushes, fails, and loses its own line too */
        for (i = 0, r = 0; i < 10000 && r == 0; i++)
                r = audit_write(a, &j);
        assert_int_equal(r, -ENOSPC);
        assert_int_equal(audit_lost(a), 4 + i);
        assert_int_equal(audit_flush(a), 0);

        assert_int_equal(audit_write(a, &j), 0);
        audit_close(a);                 /* the final flush fails quietly */
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_validator_rejects),
                cmocka_unit_test(test_format_time),
                cmocka_unit_test(test_design_example),
                cmocka_unit_test(test_other_types),
                cmocka_unit_test(test_escape_quotes_backslash),
                cmocka_unit_test(test_escape_control),
                cmocka_unit_test(test_escape_utf8),
                cmocka_unit_test(test_json_escape_direct),
                cmocka_unit_test(test_long_value),
                cmocka_unit_test(test_many_fields),
                cmocka_unit_test(test_file_mode),
                cmocka_unit_test(test_open_errors),
                cmocka_unit_test(test_buffered_until_flush),
                cmocka_unit_test(test_buffer_overflow_flushes),
                cmocka_unit_test(test_reopen_after_rename),
                cmocka_unit_test(test_reopen_failure_retries),
                cmocka_unit_test(test_write_failure_dev_full),
        };

        return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
