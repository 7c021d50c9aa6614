/* tests/unit/test_json.c: the one JSON writer (stream and buffer sinks,
 * nesting, cuts that keep the text valid) and the one JSON reader (the
 * streaming walk, entering nested values, the tree and its look-ups). The
 * audit-line names (jline_*) are tested in test_audit.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"

static void test_writer_stream_nested(void **state)
{
        struct json_writer w;
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        assert_non_null(f);
        json_writer_file(&w, f);
        json_object_open(&w, NULL);
        json_put_str(&w, "a", "x\"y\n");
        json_object_open(&w, "o");
        json_put_int(&w, "n", -12);
        json_put_uint(&w, "u", 18446744073709551615ULL);
        json_object_close(&w);
        json_array_open(&w, "l");
        json_put_str(&w, NULL, "p");
        json_put_bool(&w, NULL, true);
        json_put_null(&w, NULL);
        json_object_open(&w, NULL);
        json_object_close(&w);
        json_array_close(&w);
        json_put_str(&w, "z", NULL);
        json_object_close(&w);
        fclose(f);
        assert_string_equal(buf, "{\"a\":\"x\\\"y\\n\",\"o\":{\"n\":-12,\"u\":18446744073709551615},"
                                 "\"l\":[\"p\",true,null,{}],\"z\":null}");
        free(buf);
}

/* In a small buffer, what does not fit is left out and the text stays valid. */
static void test_writer_buffer_cuts(void **state)
{
        char buf[33];
        struct json_writer w;

        json_writer_buffer(&w, buf, sizeof(buf) - 1);
        json_object_open(&w, NULL);
        json_put_uint(&w, "a", 1);
        json_array_open(&w, "l");
        json_put_str(&w, NULL, "0123456789");
        json_put_str(&w, NULL, "0123456789");
        json_array_close(&w);
        json_object_open(&w, "late");
        json_put_uint(&w, "x", 1);
        json_object_close(&w);
        json_object_close(&w);
        assert_true(w.truncated);
        assert_true(strlen(buf) <= sizeof(buf) - 1);
        assert_int_equal(w.len, strlen(buf));
        /* the cut string still ends the array and the object */
        assert_string_equal(buf, "{\"a\":1,\"l\":[\"0123456789\",\"012\"]}");

        /* reparse what was written */
        struct json_doc *d;
        assert_int_equal(json_parse(buf, strlen(buf), &d), 0);
        json_free(d);
}

static void test_reader_walk(void **state)
{
        char text[] = " {\"ts\":\"t\\u00e9\",\"n\":42,\"neg\":-1,\"f\":1.5,\"b\":false,\"z\":null,"
                      "\"o\":{\"k\":\"a\\nb\",\"l\":[1,2]},\"a\":[\"x\",{}]} ";
        struct json_iter it, in, in2;
        struct json_value v, o = {}, a = {};
        const char *key, *s;
        uint64_t n;
        bool b;
        int count = 0, r;

        assert_int_equal(json_iter_object(&it, text, strlen(text)), 0);
        while ((r = json_iter_next(&it, &key, &v)) > 0) {
                count++;
                if (!strcmp(key, "ts")) {
                        assert_true(json_value_str(&v, false, &s));
                        assert_string_equal(s, "t\xc3\xa9");
                } else if (!strcmp(key, "n")) {
                        assert_true(json_value_uint(&v, 100, &n));
                        assert_int_equal(n, 42);
                        assert_false(json_value_uint(&v, 41, &n));
                } else if (!strcmp(key, "neg") || !strcmp(key, "f")) {
                        assert_int_equal(v.type, JSON_NUMBER);
                        assert_false(json_value_uint(&v, UINT64_MAX, &n));
                } else if (!strcmp(key, "b")) {
                        assert_true(json_value_bool(&v, &b));
                        assert_false(b);
                } else if (!strcmp(key, "z")) {
                        assert_true(json_value_str(&v, true, &s));
                        assert_null(s);
                        assert_false(json_value_str(&v, false, &s));
                } else if (!strcmp(key, "o")) {
                        o = v;
                } else if (!strcmp(key, "a")) {
                        a = v;
                }
        }
        assert_int_equal(r, 0);
        assert_int_equal(count, 8);
        assert_int_equal(json_iter_next(&it, &key, &v), 0);

        /* nested values were left as they were and can be entered now */
        assert_int_equal(o.type, JSON_OBJECT);
        assert_int_equal(json_iter_enter(&in, &o), 0);
        assert_int_equal(json_iter_next(&in, &key, &v), 1);
        assert_string_equal(key, "k");
        assert_string_equal(v.str, "a\nb");
        assert_int_equal(json_iter_next(&in, &key, &v), 1);
        assert_int_equal(v.type, JSON_ARRAY);
        assert_int_equal(json_iter_enter(&in2, &v), 0);
        count = 0;
        while (json_iter_next(&in2, &key, &v) > 0) {
                assert_null(key);
                count++;
        }
        assert_int_equal(count, 2);
        assert_int_equal(json_iter_next(&in, &key, &v), 0);
        assert_int_equal(a.type, JSON_ARRAY);
        assert_int_equal(json_iter_enter(&in, &a), 0);
        assert_int_equal(json_iter_next(&in, &key, &v), 1);
        assert_string_equal(v.str, "x");
}

static void test_reader_rejects(void **state)
{
        static const char *const bad[] = {
                "", "[]", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":1} x", "{\"a\":01}",
                "{\"a\":\"\\u0000\"}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\xff\"}", "{\"a\":\"\x01\"}",
                "{\"a\":[1,]}", "{\"a\":{\"b\":\"\\x\"}}", "{\"a\":tru}", "{'a':1}",
        };
        struct json_iter it;
        struct json_value v;
        const char *key;
        char buf[64];
        int r = 0;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                strcpy(buf, bad[i]);
                if (json_iter_object(&it, buf, strlen(buf)) == 0)
                        while ((r = json_iter_next(&it, &key, &v)) > 0)
                                ;
                else
                        r = -EINVAL;
                if (r != -EINVAL)
                        fail_msg("accepted: %s", bad[i]);
                /* and it stays failed */
                assert_int_equal(json_iter_next(&it, &key, &v), -EINVAL);
        }
        /* nesting deeper than JSON_DEPTH_MAX */
        char deep[2 * JSON_DEPTH_MAX + 16];
        size_t n = 0;
        deep[n++] = '{';
        memcpy(deep + n, "\"a\":", 4);
        n += 4;
        for (int i = 0; i < JSON_DEPTH_MAX; i++)
                deep[n++] = '[';
        for (int i = 0; i < JSON_DEPTH_MAX; i++)
                deep[n++] = ']';
        deep[n++] = '}';
        assert_int_equal(json_iter_object(&it, deep, n), 0);
        assert_int_equal(json_iter_next(&it, &key, &v), -EINVAL);
}

static void test_tree(void **state)
{
        const char *text = "{\"ok\":true,\"status\":{\"refused\":12,\"mode\":\"enforce\",\"skew\":-3},"
                           "\"list\":[\"a\",\"b\"],\"ok\":false}";
        struct json_doc *d;
        const struct json_node *root, *st, *c;
        const char *s;
        uint64_t n;
        int64_t i;
        bool b;
        int count = 0;

        assert_int_equal(json_parse(text, strlen(text), &d), 0);
        root = json_root(d);
        assert_int_equal(root->type, JSON_OBJECT);
        assert_true(json_node_bool(json_get(root, "ok"), &b));
        assert_true(b);         /* the first of a repeated key */
        st = json_get(root, "status");
        assert_true(json_node_uint(json_get(st, "refused"), UINT64_MAX, &n));
        assert_int_equal(n, 12);
        /* look-ups can be repeated */
        assert_true(json_node_uint(json_get(st, "refused"), UINT64_MAX, &n));
        assert_true(json_node_str(json_get(st, "mode"), &s));
        assert_string_equal(s, "enforce");
        assert_true(json_node_int(json_get(st, "skew"), &i));
        assert_int_equal(i, -3);
        assert_false(json_node_uint(json_get(st, "skew"), UINT64_MAX, &n));
        assert_null(json_get(st, "absent"));
        assert_null(json_get(json_get(root, "list"), "a"));
        assert_false(json_node_str(NULL, &s));
        for (c = json_get(root, "list")->child; c; c = c->next)
                count++;
        assert_int_equal(count, 2);
        json_free(d);

        assert_int_equal(json_parse("42", 2, &d), 0);
        assert_true(json_node_uint(json_root(d), 100, &n));
        assert_int_equal(n, 42);
        json_free(d);
        assert_int_equal(json_parse("{\"a\":1", 6, &d), -EINVAL);
        assert_null(d);
        assert_int_equal(json_parse("{\"a\":1}x", 8, &d), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_writer_stream_nested),
                cmocka_unit_test(test_writer_buffer_cuts),
                cmocka_unit_test(test_reader_walk),
                cmocka_unit_test(test_reader_rejects),
                cmocka_unit_test(test_tree),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
