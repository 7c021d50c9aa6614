/* src/json.h: the tree's one JSON writer and one JSON reader. The writer
 * builds objects and arrays, nested, into a fixed buffer (a field that does
 * not fit is cut and the text stays valid JSON; used for audit lines) or onto
 * a stdio stream (export, report). Strings are escaped and invalid UTF-8 is
 * replaced by U+FFFD, so nothing from the network can end a line or a string
 * early. The reader is strict (RFC 8259, no extensions) and allocates nothing
 * in its streaming form: it walks the members of an object or the elements
 * of an array in a caller's buffer, decoding strings in place; nested values
 * are validated but left untouched until entered. json_parse builds a small
 * tree on a copy for callers that look keys up more than once (replies). */
#ifndef MXLOCK_JSON_H
#define MXLOCK_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/time.h>

#define JSON_DEPTH_MAX 32               /* deepest nesting the reader accepts */

/* ------------------------------------------------------------------ */
/* Writer */

#define JSON_WRITER_DEPTH 16

struct json_writer {
        FILE *f;                /* stream sink; NULL: buffer sink */
        char *buf;              /* buffer sink: the text, NUL-terminated */
        size_t len;             /* buffer sink: bytes in buf */
        size_t limit;           /* buffer sink: the text never exceeds this (buf holds limit+1) */
        bool truncated;         /* buffer sink: something was cut or left out */
        int depth;              /* open objects/arrays; -1 before the first */
        int skip;               /* buffer sink: nested values being left out */
        bool first[JSON_WRITER_DEPTH];
};

/* A writer onto a stream, or into buf (which holds limit+1 bytes). */
void json_writer_file(struct json_writer *w, FILE *f);
void json_writer_buffer(struct json_writer *w, char *buf, size_t limit);

/* key is the member name inside an object, NULL at the top or inside an
 * array. Keys are the program's own ASCII names and are not escaped. */
void json_object_open(struct json_writer *w, const char *key);
void json_object_close(struct json_writer *w);
void json_array_open(struct json_writer *w, const char *key);
void json_array_close(struct json_writer *w);
void json_put_str(struct json_writer *w, const char *key, const char *value);  /* NULL -> null */
void json_put_int(struct json_writer *w, const char *key, long long value);
void json_put_uint(struct json_writer *w, const char *key, unsigned long long value);
void json_put_bool(struct json_writer *w, const char *key, bool value);
void json_put_null(struct json_writer *w, const char *key);
/* An already valid JSON value (NULL -> null). */
void json_put_raw(struct json_writer *w, const char *key, const char *json);

/* Append JSON-escaped s (without quotes) to buf of size cap at *len; cuts at
 * a character boundary rather than overflow. Returns false when cut. */
bool json_escape(char *buf, size_t cap, size_t *len, const char *s);

/* Length (2..4) of the valid UTF-8 sequence at s, which is NUL-terminated
 * (no overlong forms, no surrogates, nothing above U+10FFFF), or 0. */
size_t json_utf8_len(const char *s);

/* Write s to f as a quoted, escaped JSON string (null for NULL); long
 * strings are cut at 4 KiB. */
void json_fputs(FILE *f, const char *s);

/* An audit line under construction: one flat object in a fixed buffer
 * (never overflows: fields that would not fit are cut and the line is still
 * valid JSON, and then ends in "truncated":true). The thin jline_* names
 * write through the writer above. */
struct jline {
        char buf[4096];
        size_t len;
        bool truncated;
};

/* Start a record with "ts" (UTC, microseconds; NULL: now) and "event". */
void jline_begin(struct jline *j, const struct timeval *tv, const char *event);
void jline_str(struct jline *j, const char *key, const char *value);   /* NULL -> null */
void jline_int(struct jline *j, const char *key, long long value);
void jline_uint(struct jline *j, const char *key, unsigned long long value);
void jline_bool(struct jline *j, const char *key, bool value);
void jline_time(struct jline *j, const char *key, const struct timeval *tv);
/* Append a raw JSON value (already valid JSON, e.g. an array). */
void jline_raw(struct jline *j, const char *key, const char *json);
/* Close the object and add the newline. */
void jline_end(struct jline *j);

/* ------------------------------------------------------------------ */
/* Reader: streaming, in place */

enum json_type { JSON_STRING, JSON_NUMBER, JSON_TRUE, JSON_FALSE, JSON_NULL, JSON_ARRAY, JSON_OBJECT };

/* One value as the reader hands it over. */
struct json_value {
        enum json_type type;
        char *str;      /* STRING: decoded, NUL-terminated; NUMBER: its text (not terminated) */
        size_t len;     /* STRING: bytes; NUMBER: text length; ARRAY/OBJECT: raw text length */
        char *raw;      /* ARRAY/OBJECT: the raw text from its bracket (see json_iter_enter) */
};

/* A walk over one object's members or one array's elements. */
struct json_iter {
        char *p, *end;
        char close;             /* '}' or ']' */
        bool started, done;
        int depth;
};

/* Start on text[0..len), which must be one object (json_iter_object) or
 * one array (json_iter_array), white space around allowed; text is
 * modified (strings decoded in place) as the walk goes. Returns 0 or
 * -EINVAL when text does not start that way. */
int json_iter_object(struct json_iter *it, char *text, size_t len);
int json_iter_array(struct json_iter *it, char *text, size_t len);
/* Start on a nested ARRAY or OBJECT value that a walk handed over. */
int json_iter_enter(struct json_iter *it, const struct json_value *v);
/* The next member (key set; NULL for arrays) and its value. Returns 1, 0 at
 * the end (when the whole text was valid, nothing but white space after
 * it), or -EINVAL when the text is not valid JSON (the walk then stops). */
int json_iter_next(struct json_iter *it, const char **key, struct json_value *v);

/* Typed views of a value; false when it is not of that type or out of
 * range. json_value_uint accepts non-negative integers without fraction or
 * exponent, up to max. json_value_str: a string (NULL for null when
 * null_ok). */
bool json_value_uint(const struct json_value *v, uint64_t max, uint64_t *ret);
bool json_value_bool(const struct json_value *v, bool *ret);
bool json_value_str(const struct json_value *v, bool null_ok, const char **ret);

/* ------------------------------------------------------------------ */
/* Reader: a tree, for repeated look-ups */

struct json_node {
        enum json_type type;
        const char *key;        /* member name in an object; NULL in arrays and at the root */
        const char *str;        /* STRING: decoded; NUMBER: its text, NUL-terminated */
        size_t len;             /* STRING/NUMBER: bytes */
        struct json_node *child;        /* ARRAY/OBJECT: first member */
        struct json_node *next;         /* the next member of the parent */
};

struct json_doc;

/* Parse text[0..len) (not modified: the tree holds a copy) as one JSON
 * value. Returns 0, -EINVAL (not valid JSON) or -ENOMEM. */
int json_parse(const char *text, size_t len, struct json_doc **ret);
const struct json_node *json_root(const struct json_doc *doc);
void json_free(struct json_doc *doc);   /* accepts NULL */

/* The member key of an object (the first one when repeated); NULL when obj
 * is NULL, not an object, or has no such member. */
const struct json_node *json_get(const struct json_node *obj, const char *key);
/* Typed views (false when n is NULL or not of that type / out of range). */
bool json_node_str(const struct json_node *n, const char **ret);
bool json_node_uint(const struct json_node *n, uint64_t max, uint64_t *ret);
bool json_node_int(const struct json_node *n, int64_t *ret);
bool json_node_bool(const struct json_node *n, bool *ret);

#endif
