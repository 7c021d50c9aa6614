/* tests/fuzz/fuzz_json.c: libFuzzer target for the audit line builder.
 * Arbitrary bytes become a string value; the line must be one valid JSON
 * object ending in "}\n", and the value must decode back to the input (with
 * invalid UTF-8 replaced by U+FFFD), cut short only when marked truncated.
 * clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc -Irules -Infq \
 *     tests/fuzz/fuzz_json.c src/audit.c -o fuzz_json
 * ./fuzz_json -max_total_time=60 tests/fuzz/corpus/json
 * Input: two bytes of padding length (puts the value near the end of the
 * buffer so cuts are exercised), then the value. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) abort(); } while (0)

/* Length of a valid UTF-8 sequence at p (within n bytes), else 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
        unsigned lo = 0x80, hi = 0xbf;
        size_t len, i;

        if (p[0] < 0x80)
                return 1;
        if (p[0] >= 0xc2 && p[0] <= 0xdf)
                len = 2;
        else if (p[0] >= 0xe0 && p[0] <= 0xef)
                len = 3;
        else if (p[0] >= 0xf0 && p[0] <= 0xf4)
                len = 4;
        else
                return 0;
        if (p[0] == 0xe0)
                lo = 0xa0;
        else if (p[0] == 0xed)
                hi = 0x9f;
        else if (p[0] == 0xf0)
                lo = 0x90;
        else if (p[0] == 0xf4)
                hi = 0x8f;
        if (n < len || p[1] < lo || p[1] > hi)
                return 0;
        for (i = 2; i < len; i++)
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
        return len;
}

static int hexval(unsigned char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Parse a JSON string at *pp (opening quote included); when out is not
 * NULL, write the decoded bytes there (UTF-8). Returns false if invalid. */
static bool parse_string(const unsigned char **pp, const unsigned char *end,
                         unsigned char *out, size_t *out_len)
{
        const unsigned char *p = *pp;
        size_t o = 0, n;

        if (p >= end || *p != '"')
                return false;
        p++;
        while (p < end && *p != '"') {
                if (*p < 0x20 || *p == 0x7f)
                        return false;   /* no raw control character at all */
                if (*p == '\\') {
                        unsigned cp = 0;
                        int i, h;

                        if (++p >= end)
                                return false;
                        switch (*p) {
                        case '"': case '\\': case '/':
                                cp = *p; break;
                        case 'b': cp = '\b'; break;
                        case 'f': cp = '\f'; break;
                        case 'n': cp = '\n'; break;
                        case 'r': cp = '\r'; break;
                        case 't': cp = '\t'; break;
                        case 'u':
                                for (i = 1; i <= 4; i++) {
                                        if (p + i >= end || (h = hexval(p[i])) < 0)
                                                return false;
                                        cp = cp << 4 | (unsigned)h;
                                }
                                p += 4;
                                /* we never emit surrogates */
                                if (cp >= 0xd800 && cp <= 0xdfff)
                                        return false;
                                break;
                        default:
                                return false;
                        }
                        p++;
                        if (out) {
                                if (cp < 0x80) {
                                        out[o++] = (unsigned char)cp;
                                } else if (cp < 0x800) {
                                        out[o++] = (unsigned char)(0xc0 | cp >> 6);
                                        out[o++] = (unsigned char)(0x80 | (cp & 0x3f));
                                } else {
                                        out[o++] = (unsigned char)(0xe0 | cp >> 12);
                                        out[o++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
                                        out[o++] = (unsigned char)(0x80 | (cp & 0x3f));
                                }
                        }
                        continue;
                }
                n = utf8_len(p, (size_t)(end - p));
                if (n == 0)
                        return false;
                if (out)
                        memcpy(out + o, p, n);
                o += n;
                p += n;
        }
        if (p >= end)
                return false;
        *pp = p + 1;
        if (out_len)
                *out_len = o;
        return true;
}

/* The line must be {"k":v,...}\n with string, number, true/false/null or
 * array values (what jline produces), and nothing after it. */
static void check_line(const struct jline *j)
{
        const unsigned char *p = (const unsigned char *)j->buf;
        const unsigned char *end = p + j->len - 1;

        CHECK(j->len >= 3 && j->len < sizeof(j->buf));
        CHECK(memchr(j->buf, '\0', j->len) == NULL && j->buf[j->len] == '\0');
        CHECK(j->buf[j->len - 2] == '}' && j->buf[j->len - 1] == '\n');
        CHECK(*p++ == '{');
        for (;;) {
                CHECK(parse_string(&p, end, NULL, NULL));
                CHECK(p < end && *p++ == ':');
                CHECK(p < end);
                if (*p == '"') {
                        CHECK(parse_string(&p, end, NULL, NULL));
                } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
                        if (*p == '-')
                                p++;
                        CHECK(p < end && *p >= '0' && *p <= '9');
                        while (p < end && *p >= '0' && *p <= '9')
                                p++;
                } else if ((size_t)(end - p) >= 4 && memcmp(p, "true", 4) == 0) {
                        p += 4;
                } else if ((size_t)(end - p) >= 5 && memcmp(p, "false", 5) == 0) {
                        p += 5;
                } else if ((size_t)(end - p) >= 4 && memcmp(p, "null", 4) == 0) {
                        p += 4;
                } else {
                        abort();
                }
                CHECK(p < end);
                if (*p == '}')
                        break;
                CHECK(*p++ == ',');
        }
        /* the closing brace is the last byte before the newline */
        CHECK(p + 1 == end);
}

/* The decoded value must be the input with invalid bytes replaced, or a
 * prefix of it (cut at a character) when the line is marked truncated. */
static void check_value(const struct jline *j, const unsigned char *in, size_t in_len)
{
        static const unsigned char fffd[3] = { 0xef, 0xbf, 0xbd };
        const char *v = strstr(j->buf, ",\"v\":\"");
        const unsigned char *p, *end = (const unsigned char *)j->buf + j->len;
        unsigned char *out;
        size_t out_len = 0, i = 0, o = 0, n;

        if (!v) {
                CHECK(j->truncated);    /* the field did not fit at all */
                return;
        }
        p = (const unsigned char *)v + 5;
        out = malloc(j->len * 3 + 1);
        CHECK(out != NULL);
        CHECK(parse_string(&p, end, out, &out_len));
        while (o < out_len) {
                CHECK(i < in_len);
                n = utf8_len(in + i, in_len - i);
                if (n == 0) {
                        CHECK(out_len - o >= 3 && memcmp(out + o, fffd, 3) == 0);
                        o += 3;
                        i += 1;
                } else {
                        CHECK(out_len - o >= n && memcmp(out + o, in + i, n) == 0);
                        o += n;
                        i += n;
                }
        }
        if (i < in_len)
                CHECK(j->truncated);
        free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const struct timeval tv = { .tv_sec = 1795472922, .tv_usec = 123456 };
        struct jline j;
        char *pad, *value;
        size_t padlen = 0, vlen;

        if (size >= 2) {
                padlen = ((size_t)data[0] << 8 | data[1]) % 4200;
                data += 2;
                size -= 2;
        }
        value = malloc(size + 1);
        pad = malloc(padlen + 3);
        CHECK(value && pad);
        memcpy(value, data, size);
        value[size] = '\0';
        vlen = strlen(value);           /* a C string ends at the first NUL */
        /* a raw JSON string: cheaper than escaping it on every run */
        pad[0] = '"';
        memset(pad + 1, 'p', padlen);
        pad[padlen + 1] = '"';
        pad[padlen + 2] = '\0';

        jline_begin(&j, &tv, "fuzz");
        jline_raw(&j, "pad", pad);
        jline_str(&j, "v", value);
        jline_uint(&j, "n", size);
        jline_end(&j);
        check_line(&j);
        check_value(&j, (const unsigned char *)value, vlen);

        /* json_escape on its own, into a small buffer */
        {
                char small[64];
                size_t len = 0;
                bool whole = json_escape(small, sizeof(small), &len, value);

                CHECK(len < sizeof(small) && small[len] == '\0' && strlen(small) == len);
                /* each input byte takes at most 6 bytes escaped */
                CHECK(whole || vlen * 6 > sizeof(small) - 1);
        }
        free(value);
        free(pad);
        return 0;
}
