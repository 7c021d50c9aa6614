/* src/json.c: the one JSON writer and the one JSON reader (see json.h).
 *
 * Writer: a buffer sink never overflows. A field that does not fit is cut
 * (a string) or left out (anything else) while the text stays valid, and
 * the writer remembers that it truncated something. A stream sink writes
 * everything (strings are cut at 4 KiB, as json_fputs does).
 *
 * Reader: strict JSON; strings are decoded in place (the result is never
 * longer than the source) and must be valid UTF-8 without U+0000; numbers
 * are handed over as text. Nested values are validated without being
 * modified, so that a caller can enter them afterwards. */
#include "json.h"
#include "audit.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Room kept free in a jline for what jline_end appends, plus the NUL. */
#define JLINE_TAIL ",\"truncated\":true}\n"
#define JLINE_MAX (sizeof(((struct jline *)0)->buf) - (sizeof(JLINE_TAIL) - 1) - 1)

/* ------------------------------------------------------------------ */
/* Escaping */

/* Length of the valid UTF-8 sequence at p (2..4), or 0 when it is not one:
 * no overlong forms, no surrogates, nothing above U+10FFFF. Stops at a NUL,
 * which is never a continuation byte. */
static size_t utf8_valid_len(const unsigned char *p)
{
        unsigned char lo = 0x80, hi = 0xbf;
        size_t n, i;

        if (p[0] >= 0xc2 && p[0] <= 0xdf) {
                n = 2;
        } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
                n = 3;
                if (p[0] == 0xe0)
                        lo = 0xa0;
                else if (p[0] == 0xed)
                        hi = 0x9f;
        } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
                n = 4;
                if (p[0] == 0xf0)
                        lo = 0x90;
                else if (p[0] == 0xf4)
                        hi = 0x8f;
        } else {
                return 0;
        }
        if (p[1] < lo || p[1] > hi)
                return 0;
        for (i = 2; i < n; i++)
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
        return n;
}

size_t json_utf8_len(const char *s)
{
        return utf8_valid_len((const unsigned char *)s);
}

bool json_escape(char *buf, size_t cap, size_t *len, const char *s)
{
        static const char hex[] = "0123456789abcdef";
        const unsigned char *p = (const unsigned char *)(s ? s : "");
        char unit[8];
        size_t n, adv;

        if (*len >= cap)
                return *p == '\0';
        while (*p) {
                /* the common case: a run of printable ASCII that needs no escape */
                const unsigned char *q = p;

                while (*q >= 0x20 && *q < 0x7f && *q != '"' && *q != '\\')
                        q++;
                if (q > p) {
                        n = (size_t)(q - p);
                        if (n >= cap - *len)
                                n = cap - *len - 1;     /* cut, as the slow path would */
                        memcpy(buf + *len, p, n);
                        *len += n;
                        p += n;
                        if (p != q)
                                break;
                        continue;
                }
                adv = 1;
                if (*p == '"' || *p == '\\') {
                        unit[0] = '\\';
                        unit[1] = (char)*p;
                        n = 2;
                } else if (*p < 0x20 || *p == 0x7f) {
                        unit[0] = '\\';
                        n = 2;
                        switch (*p) {
                        case '\b': unit[1] = 'b'; break;
                        case '\f': unit[1] = 'f'; break;
                        case '\n': unit[1] = 'n'; break;
                        case '\r': unit[1] = 'r'; break;
                        case '\t': unit[1] = 't'; break;
                        default:
                                memcpy(unit + 1, "u00", 3);
                                unit[4] = hex[*p >> 4];
                                unit[5] = hex[*p & 0x0f];
                                n = 6;
                        }
                } else if (*p < 0x80) {
                        unit[0] = (char)*p;
                        n = 1;
                } else {
                        adv = utf8_valid_len(p);
                        if (adv == 0) {
                                memcpy(unit, "\\ufffd", 6);
                                n = 6;
                                adv = 1;
                        } else {
                                memcpy(unit, p, adv);
                                n = adv;
                        }
                }
                /* n bytes plus the NUL */
                if (n >= cap - *len)
                        break;
                memcpy(buf + *len, unit, n);
                *len += n;
                p += adv;
        }
        buf[*len] = '\0';
        return *p == '\0';
}

void json_fputs(FILE *f, const char *s)
{
        char buf[4096];
        size_t len = 0;

        if (!s) {
                fputs("null", f);
                return;
        }
        json_escape(buf, sizeof(buf), &len, s);
        fprintf(f, "\"%.*s\"", (int)len, buf);
}


/* Decimal digits of v, NUL-terminated, at the end of tmp[24]. */
static char *utoa(unsigned long long v, char tmp[24])
{
        char *p = tmp + 23;

        *p = '\0';
        do {
                *--p = (char)('0' + v % 10);
                v /= 10;
        } while (v);
        return p;
}

/* ------------------------------------------------------------------ */
/* Writer */

void json_writer_file(struct json_writer *w, FILE *f)
{
        memset(w, 0, sizeof(*w));
        w->f = f;
        w->depth = -1;
}

void json_writer_buffer(struct json_writer *w, char *buf, size_t limit)
{
        memset(w, 0, sizeof(*w));
        w->buf = buf;
        w->limit = limit;
        w->depth = -1;
        buf[0] = '\0';
}

/* Buffer sink: append n bytes if the text stays within limit. */
static bool w_put(struct json_writer *w, size_t limit, const char *s, size_t n)
{
        if (w->len > limit || n > limit - w->len)
                return false;
        memcpy(w->buf + w->len, s, n);
        w->len += n;
        w->buf[w->len] = '\0';
        return true;
}

/* The separator and "key": before a value. Buffer sink: leaving at least
 * reserve bytes below the limit; false when that does not fit. */
static bool w_key(struct json_writer *w, const char *key, size_t reserve)
{
        bool first = w->depth >= 0 && w->first[w->depth];
        size_t limit;

        if (w->depth < 0) {
                /* the top value: no separator, no key */
                if (w->f)
                        return true;
                return w->limit >= reserve;
        }
        if (w->f) {
                if (!first)
                        fputc(',', w->f);
                w->first[w->depth] = false;
                if (key) {
                        json_fputs(w->f, key);
                        fputc(':', w->f);
                }
                return true;
        }
        if (w->limit < reserve)
                return false;
        limit = w->limit - reserve;
        if (!first && !w_put(w, limit, ",", 1))
                return false;
        /* keys are the program's own ASCII names: no escaping needed */
        if (key && (!w_put(w, limit, "\"", 1) || !w_put(w, limit, key, strlen(key)) ||
                    !w_put(w, limit, "\":", 2)))
                return false;
        w->first[w->depth] = false;
        return true;
}

/* Buffer sink: undo a field that did not fit and remember it. */
static void w_cut(struct json_writer *w, size_t start, bool first)
{
        w->len = start;
        w->buf[w->len] = '\0';
        if (w->depth >= 0)
                w->first[w->depth] = first;
        w->truncated = true;
}

static bool w_first(const struct json_writer *w)
{
        return w->depth >= 0 && w->first[w->depth];
}

void json_put_raw(struct json_writer *w, const char *key, const char *json)
{
        size_t start = w->len;
        bool first = w_first(w);

        if (!json)
                json = "null";
        if (w->f) {
                w_key(w, key, 0);
                fputs(json, w->f);
                return;
        }
        if (!w_key(w, key, 0) || !w_put(w, w->limit, json, strlen(json)))
                w_cut(w, start, first);
}

void json_put_str(struct json_writer *w, const char *key, const char *value)
{
        size_t start = w->len;
        bool first = w_first(w);

        if (!value) {
                json_put_raw(w, key, "null");
                return;
        }
        if (w->f) {
                w_key(w, key, 0);
                json_fputs(w->f, value);
                return;
        }
        /* the opening quote and at least the closing one */
        if (!w_key(w, key, 2) || !w_put(w, w->limit - 1, "\"", 1)) {
                w_cut(w, start, first);
                return;
        }
        if (!json_escape(w->buf, w->limit, &w->len, value))
                w->truncated = true;
        /* room for it was kept above */
        (void) w_put(w, w->limit, "\"", 1);
}

void json_put_int(struct json_writer *w, const char *key, long long value)
{
        char tmp[24];
        char *p;

        if (value >= 0) {
                json_put_raw(w, key, utoa((unsigned long long)value, tmp));
                return;
        }
        p = utoa(0ULL - (unsigned long long)value, tmp);
        *--p = '-';
        json_put_raw(w, key, p);
}

void json_put_uint(struct json_writer *w, const char *key, unsigned long long value)
{
        char tmp[24];

        json_put_raw(w, key, utoa(value, tmp));
}

void json_put_bool(struct json_writer *w, const char *key, bool value)
{
        json_put_raw(w, key, value ? "true" : "false");
}

void json_put_null(struct json_writer *w, const char *key)
{
        json_put_raw(w, key, "null");
}

/* Open an object or array. Buffer sink: the closing bracket's byte is kept
 * free below the limit until the close; when the opening does not fit, the
 * whole value is left out (w->skip counts what is being skipped). */
static void w_open(struct json_writer *w, const char *key, char bracket)
{
        size_t start = w->len;
        bool first = w_first(w);
        char s[1] = { bracket };

        if (w->skip || w->depth + 1 >= JSON_WRITER_DEPTH) {
                w->skip++;
                w->truncated = true;
                return;
        }
        if (w->f) {
                w_key(w, key, 0);
                fputc(bracket, w->f);
        } else if (!w_key(w, key, 2) || !w_put(w, w->limit - 1, s, 1)) {
                w_cut(w, start, first);
                w->skip++;
                return;
        } else {
                w->limit--;
        }
        w->first[++w->depth] = true;
}

static void w_close(struct json_writer *w, char bracket)
{
        char s[1] = { bracket };

        if (w->skip) {
                w->skip--;
                return;
        }
        if (w->depth < 0)
                return;
        w->depth--;
        if (w->f) {
                fputc(bracket, w->f);
                return;
        }
        w->limit++;
        (void) w_put(w, w->limit, s, 1);
}

void json_object_open(struct json_writer *w, const char *key)
{
        w_open(w, key, '{');
}

void json_object_close(struct json_writer *w)
{
        w_close(w, '}');
}

void json_array_open(struct json_writer *w, const char *key)
{
        w_open(w, key, '[');
}

void json_array_close(struct json_writer *w)
{
        w_close(w, ']');
}

/* ------------------------------------------------------------------ */
/* Audit lines: a buffer writer over a jline, inside its one object */

/* After jline_end the line ends in a newline, which no field contains. */
static bool jline_closed(const struct jline *j)
{
        return j->len > 0 && j->buf[j->len - 1] == '\n';
}

static void jline_writer(struct jline *j, struct json_writer *w)
{
        memset(w, 0, sizeof(*w));
        w->buf = j->buf;
        w->len = j->len;
        w->limit = JLINE_MAX;
        w->truncated = j->truncated;
        w->depth = 0;
        w->first[0] = j->len <= 1;      /* only the "{" so far */
}

static void jline_done(struct jline *j, const struct json_writer *w)
{
        j->len = w->len;
        j->truncated = w->truncated;
}

void jline_begin(struct jline *j, const struct timeval *tv, const char *event)
{
        struct timeval now;
        char ts[32];

        if (!tv) {
                gettimeofday(&now, NULL);
                tv = &now;
        }
        memcpy(j->buf, "{", 2);
        j->len = 1;
        j->truncated = false;
        /* always fits: a timestamp is at most 31 bytes */
        jline_str(j, "ts", audit_format_time(tv, ts));
        jline_str(j, "event", event);
}

void jline_str(struct jline *j, const char *key, const char *value)
{
        struct json_writer w;

        if (jline_closed(j))
                return;
        jline_writer(j, &w);
        json_put_str(&w, key, value);
        jline_done(j, &w);
}

void jline_raw(struct jline *j, const char *key, const char *json)
{
        struct json_writer w;

        if (jline_closed(j))
                return;
        jline_writer(j, &w);
        json_put_raw(&w, key, json);
        jline_done(j, &w);
}

void jline_int(struct jline *j, const char *key, long long value)
{
        struct json_writer w;

        if (jline_closed(j))
                return;
        jline_writer(j, &w);
        json_put_int(&w, key, value);
        jline_done(j, &w);
}

void jline_uint(struct jline *j, const char *key, unsigned long long value)
{
        struct json_writer w;

        if (jline_closed(j))
                return;
        jline_writer(j, &w);
        json_put_uint(&w, key, value);
        jline_done(j, &w);
}

void jline_bool(struct jline *j, const char *key, bool value)
{
        jline_raw(j, key, value ? "true" : "false");
}

void jline_time(struct jline *j, const char *key, const struct timeval *tv)
{
        char ts[32];

        jline_str(j, key, audit_format_time(tv, ts));
}

void jline_end(struct jline *j)
{
        size_t limit = sizeof(j->buf) - 1;
        struct json_writer w;

        if (jline_closed(j))
                return;
        jline_writer(j, &w);
        if (j->truncated)
                (void) w_put(&w, limit, ",\"truncated\":true", sizeof(",\"truncated\":true") - 1);
        (void) w_put(&w, limit, "}\n", 2);
        jline_done(j, &w);
}

/* ------------------------------------------------------------------ */
/* Reader */
static void jp_ws(struct json_iter *j)
{
        while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n'))
                j->p++;
}

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

static bool jp_hex4(struct json_iter *j, unsigned *ret)
{
        unsigned v = 0;
        int i, h;

        if (j->end - j->p < 4)
                return false;
        for (i = 0; i < 4; i++) {
                h = hexval(j->p[i]);
                if (h < 0)
                        return false;
                v = v << 4 | (unsigned)h;
        }
        j->p += 4;
        *ret = v;
        return true;
}

/* Length of the valid UTF-8 sequence at p (lead byte >= 0x80), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
        unsigned c = p[0], cp;
        size_t n, i;

        if (c >= 0xc2 && c <= 0xdf)
                n = 2, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
                n = 3, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
                n = 4, cp = c & 0x07;
        else
                return 0;
        if ((size_t)(end - p) < n)
                return 0;
        for (i = 1; i < n; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (p[i] & 0x3f);
        }
        if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
                return 0;
        return n;
}

static char *put_utf8(char *w, unsigned cp)
{
        if (cp < 0x80) {
                *w++ = (char)cp;
        } else if (cp < 0x800) {
                *w++ = (char)(0xc0 | cp >> 6);
                *w++ = (char)(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
                *w++ = (char)(0xe0 | cp >> 12);
                *w++ = (char)(0x80 | ((cp >> 6) & 0x3f));
                *w++ = (char)(0x80 | (cp & 0x3f));
        } else {
                *w++ = (char)(0xf0 | cp >> 18);
                *w++ = (char)(0x80 | ((cp >> 12) & 0x3f));
                *w++ = (char)(0x80 | ((cp >> 6) & 0x3f));
                *w++ = (char)(0x80 | (cp & 0x3f));
        }
        return w;
}

/* At '"': decode the string in place (the result is never longer than the
 * source), NUL-terminate it and return it; or, without decode, only check
 * it and leave the text as it is (returns non-NULL when valid). */
static char *jp_string(struct json_iter *j, bool decode)
{
        char *start, *w;
        char scratch[4];

        if (j->p >= j->end || *j->p != '"')
                return NULL;
        start = w = ++j->p;
        for (;;) {
                unsigned char c;

                if (j->p >= j->end)
                        return NULL;
                c = (unsigned char)*j->p;
                if (c == '"') {
                        j->p++;
                        if (decode)
                                *w = '\0';
                        return start;
                }
                if (c < 0x20)
                        return NULL;
                if (c >= 0x80) {
                        size_t n = utf8_len((const unsigned char *)j->p, (const unsigned char *)j->end);

                        if (!n)
                                return NULL;
                        if (decode) {
                                memmove(w, j->p, n);
                                w += n;
                        }
                        j->p += n;
                        continue;
                }
                if (c != '\\') {
                        if (decode)
                                *w++ = (char)c;
                        j->p++;
                        continue;
                }
                if (++j->p >= j->end)
                        return NULL;
                c = (unsigned char)*j->p++;
                if (!decode)
                        w = scratch;    /* checked, not kept */
                switch (c) {
                case '"': *w++ = '"'; break;
                case '\\': *w++ = '\\'; break;
                case '/': *w++ = '/'; break;
                case 'b': *w++ = '\b'; break;
                case 'f': *w++ = '\f'; break;
                case 'n': *w++ = '\n'; break;
                case 'r': *w++ = '\r'; break;
                case 't': *w++ = '\t'; break;
                case 'u': {
                        unsigned cp, lo;

                        if (!jp_hex4(j, &cp))
                                return NULL;
                        if (cp >= 0xdc00 && cp <= 0xdfff)
                                return NULL;            /* lone low surrogate */
                        if (cp >= 0xd800 && cp <= 0xdbff) {
                                if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
                                        return NULL;
                                j->p += 2;
                                if (!jp_hex4(j, &lo) || lo < 0xdc00 || lo > 0xdfff)
                                        return NULL;
                                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                        }
                        if (cp == 0)
                                return NULL;            /* would cut the C string */
                        w = put_utf8(w, cp);
                        break;
                }
                default:
                        return NULL;
                }
        }
}

static bool jp_number(struct json_iter *j, struct json_value *v)
{
        char *s = j->p;

        if (j->p < j->end && *j->p == '-')
                j->p++;
        if (j->p >= j->end)
                return false;
        if (*j->p == '0') {
                j->p++;
        } else if (*j->p >= '1' && *j->p <= '9') {
                while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
                        j->p++;
        } else {
                return false;
        }
        if (j->p < j->end && *j->p == '.') {
                j->p++;
                if (j->p >= j->end || *j->p < '0' || *j->p > '9')
                        return false;
                while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
                        j->p++;
        }
        if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
                j->p++;
                if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
                        j->p++;
                if (j->p >= j->end || *j->p < '0' || *j->p > '9')
                        return false;
                while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
                        j->p++;
        }
        v->type = JSON_NUMBER;
        v->str = s;
        v->len = (size_t)(j->p - s);
        return true;
}

static bool jp_literal(struct json_iter *j, const char *lit)
{
        size_t n = strlen(lit);

        if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
                return false;
        j->p += n;
        return true;
}

static bool jp_value(struct json_iter *j, struct json_value *v, int depth, bool decode);

/* At '[' or '{': validate a nested value, leaving its text as it is. */
static bool jp_nested(struct json_iter *j, int depth)
{
        char close = *j->p == '[' ? ']' : '}';
        bool object = close == '}';
        struct json_value v;

        if (depth >= JSON_DEPTH_MAX)
                return false;
        j->p++;
        jp_ws(j);
        if (j->p < j->end && *j->p == close) {
                j->p++;
                return true;
        }
        for (;;) {
                if (object) {
                        if (!jp_string(j, false))
                                return false;
                        jp_ws(j);
                        if (j->p >= j->end || *j->p++ != ':')
                                return false;
                        jp_ws(j);
                }
                if (!jp_value(j, &v, depth + 1, false))
                        return false;
                jp_ws(j);
                if (j->p >= j->end)
                        return false;
                if (*j->p == close) {
                        j->p++;
                        return true;
                }
                if (*j->p++ != ',')
                        return false;
                jp_ws(j);
        }
}

static bool jp_value(struct json_iter *j, struct json_value *v, int depth, bool decode)
{
        memset(v, 0, sizeof(*v));
        if (j->p >= j->end)
                return false;
        switch (*j->p) {
        case '"':
                v->type = JSON_STRING;
                v->str = jp_string(j, decode);
                if (v->str && decode)
                        v->len = strlen(v->str);
                return v->str != NULL;
        case 't':
                v->type = JSON_TRUE;
                return jp_literal(j, "true");
        case 'f':
                v->type = JSON_FALSE;
                return jp_literal(j, "false");
        case 'n':
                v->type = JSON_NULL;
                return jp_literal(j, "null");
        case '[':
        case '{':
                v->type = *j->p == '[' ? JSON_ARRAY : JSON_OBJECT;
                v->raw = j->p;
                if (!jp_nested(j, depth))
                        return false;
                v->len = (size_t)(j->p - v->raw);
                return true;
        default:
                return jp_number(j, v);
        }
}

static int iter_start(struct json_iter *it, char *text, size_t len, char open)
{
        memset(it, 0, sizeof(*it));
        it->p = text;
        it->end = text + len;
        it->depth = 1;
        jp_ws(it);
        if (it->p >= it->end || *it->p != open) {
                it->done = true;
                return -EINVAL;
        }
        it->p++;
        it->close = open == '{' ? '}' : ']';
        return 0;
}

int json_iter_object(struct json_iter *it, char *text, size_t len)
{
        return iter_start(it, text, len, '{');
}

int json_iter_array(struct json_iter *it, char *text, size_t len)
{
        return iter_start(it, text, len, '[');
}

int json_iter_enter(struct json_iter *it, const struct json_value *v)
{
        if (v->type != JSON_OBJECT && v->type != JSON_ARRAY) {
                memset(it, 0, sizeof(*it));
                it->done = true;
                return -EINVAL;
        }
        return iter_start(it, v->raw, v->len, v->type == JSON_OBJECT ? '{' : '[');
}

static int iter_fail(struct json_iter *it)
{
        it->done = true;
        it->close = 0;          /* marks the failure for later calls */
        it->p = it->end;
        return -EINVAL;
}

int json_iter_next(struct json_iter *it, const char **key, struct json_value *v)
{
        char *k = NULL;

        if (it->done)
                return it->p == it->end && it->close ? 0 : -EINVAL;
        jp_ws(it);
        if (it->p >= it->end)
                return iter_fail(it);
        if (*it->p == it->close) {
                it->p++;
                jp_ws(it);
                if (it->p != it->end)
                        return iter_fail(it);
                it->done = true;
                return 0;
        }
        if (it->started) {
                if (*it->p++ != ',')
                        return iter_fail(it);
                jp_ws(it);
        }
        it->started = true;
        if (it->close == '}') {
                k = jp_string(it, true);
                if (!k)
                        return iter_fail(it);
                jp_ws(it);
                if (it->p >= it->end || *it->p++ != ':')
                        return iter_fail(it);
                jp_ws(it);
        }
        if (!jp_value(it, v, it->depth, true))
                return iter_fail(it);
        if (key)
                *key = k;
        return 1;
}

bool json_value_uint(const struct json_value *v, uint64_t max, uint64_t *ret)
{
        uint64_t n = 0;
        size_t i;

        if (v->type != JSON_NUMBER || v->len == 0 || v->len > 19)
                return false;
        for (i = 0; i < v->len; i++) {
                if (v->str[i] < '0' || v->str[i] > '9')
                        return false;
                n = n * 10 + (uint64_t)(v->str[i] - '0');
        }
        if (n > max)
                return false;
        *ret = n;
        return true;
}

bool json_value_bool(const struct json_value *v, bool *ret)
{
        if (v->type != JSON_TRUE && v->type != JSON_FALSE)
                return false;
        *ret = v->type == JSON_TRUE;
        return true;
}

bool json_value_str(const struct json_value *v, bool null_ok, const char **ret)
{
        if (v->type == JSON_NULL && null_ok) {
                *ret = NULL;
                return true;
        }
        if (v->type != JSON_STRING)
                return false;
        *ret = v->str;
        return true;
}

/* ------------------------------------------------------------------ */
/* The tree */

struct doc_chunk {
        struct doc_chunk *next;
        size_t used, cap;
        max_align_t data[];
};

struct json_doc {
        struct doc_chunk *chunks;
        struct json_node *root;
        char *text;
};

static void *doc_alloc(struct json_doc *d, size_t n)
{
        struct doc_chunk *c = d->chunks;
        size_t align = sizeof(max_align_t);

        n = (n + align - 1) / align * align;
        if (!c || c->cap - c->used < n) {
                size_t cap = n > 4096 ? n : 4096;

                c = malloc(sizeof(*c) + cap);
                if (!c)
                        return NULL;
                c->next = d->chunks;
                c->used = 0;
                c->cap = cap;
                d->chunks = c;
        }
        c->used += n;
        return memset((char *)c->data + c->used - n, 0, n);
}

/* Fill node n from value v (entering nested values). */
static int doc_fill(struct json_doc *d, struct json_node *n, const struct json_value *v)
{
        struct json_iter it;
        struct json_node **tail = &n->child;
        struct json_value cv;
        const char *key;
        char *s;
        int r;

        n->type = v->type;
        switch (v->type) {
        case JSON_STRING:
                n->str = v->str;
                n->len = v->len;
                return 0;
        case JSON_NUMBER:
                s = doc_alloc(d, v->len + 1);
                if (!s)
                        return -ENOMEM;
                memcpy(s, v->str, v->len);
                n->str = s;
                n->len = v->len;
                return 0;
        case JSON_ARRAY:
        case JSON_OBJECT:
                break;
        default:
                return 0;
        }
        if (json_iter_enter(&it, v) < 0)
                return -EINVAL;
        while ((r = json_iter_next(&it, &key, &cv)) > 0) {
                struct json_node *c = doc_alloc(d, sizeof(*c));

                if (!c)
                        return -ENOMEM;
                c->key = key;
                r = doc_fill(d, c, &cv);
                if (r < 0)
                        return r;
                *tail = c;
                tail = &c->next;
        }
        return r;
}

int json_parse(const char *text, size_t len, struct json_doc **ret)
{
        struct json_doc *d = calloc(1, sizeof(*d));
        struct json_iter it = {};
        struct json_value v;
        int r = -ENOMEM;

        *ret = NULL;
        if (!d)
                return -ENOMEM;
        d->text = malloc(len + 1);
        d->root = doc_alloc(d, sizeof(*d->root));
        if (!d->text || !d->root)
                goto fail;
        memcpy(d->text, text, len);
        d->text[len] = '\0';
        it.p = d->text;
        it.end = d->text + len;
        r = -EINVAL;
        jp_ws(&it);
        if (!jp_value(&it, &v, 0, true))
                goto fail;
        jp_ws(&it);
        if (it.p != it.end)
                goto fail;
        r = doc_fill(d, d->root, &v);
        if (r < 0)
                goto fail;
        *ret = d;
        return 0;
fail:
        json_free(d);
        return r;
}

const struct json_node *json_root(const struct json_doc *doc)
{
        return doc ? doc->root : NULL;
}

void json_free(struct json_doc *doc)
{
        if (!doc)
                return;
        while (doc->chunks) {
                struct doc_chunk *c = doc->chunks;

                doc->chunks = c->next;
                free(c);
        }
        free(doc->text);
        free(doc);
}

const struct json_node *json_get(const struct json_node *obj, const char *key)
{
        if (!obj || obj->type != JSON_OBJECT)
                return NULL;
        for (const struct json_node *c = obj->child; c; c = c->next)
                if (strcmp(c->key, key) == 0)
                        return c;
        return NULL;
}

bool json_node_str(const struct json_node *n, const char **ret)
{
        if (!n || n->type != JSON_STRING)
                return false;
        *ret = n->str;
        return true;
}

bool json_node_uint(const struct json_node *n, uint64_t max, uint64_t *ret)
{
        struct json_value v = { .type = JSON_NUMBER };

        if (!n || n->type != JSON_NUMBER)
                return false;
        v.str = (char *)(uintptr_t)n->str;
        v.len = n->len;
        return json_value_uint(&v, max, ret);
}

bool json_node_int(const struct json_node *n, int64_t *ret)
{
        uint64_t u;
        struct json_value v = { .type = JSON_NUMBER };

        if (!n || n->type != JSON_NUMBER)
                return false;
        if (n->str[0] != '-') {
                v.str = (char *)(uintptr_t)n->str;
                v.len = n->len;
                if (!json_value_uint(&v, INT64_MAX, &u))
                        return false;
                *ret = (int64_t)u;
                return true;
        }
        v.str = (char *)(uintptr_t)n->str + 1;
        v.len = n->len - 1;
        if (!json_value_uint(&v, (uint64_t)INT64_MAX + 1, &u))
                return false;
        *ret = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
        return true;
}

bool json_node_bool(const struct json_node *n, bool *ret)
{
        if (!n || (n->type != JSON_TRUE && n->type != JSON_FALSE))
                return false;
        *ret = n->type == JSON_TRUE;
        return true;
}
