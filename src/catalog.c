/* src/catalog.c: provider catalogs (see catalog.h and docs/design.md).
 *
 * Key lines "key = value" (description, source, spf, checked, provider, tenant,
 * outbound, mx) and entry lines
 * holding one address or prefix with an optional "# comment". Entries are
 * only checked loosely here; the policy module parses them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"

#define CATALOG_LINE_MAX 4096
#define CATALOG_SUFFIX ".conf"

static int catalog_fail(char *err, const char *path, int line, int r, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

/* "FILE:LINE: message" (or "FILE: message" when line is 0); returns r. */
static int catalog_fail(char *err, const char *path, int line, int r, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (line > 0)
                n = snprintf(err, CONFIG_ERRLEN, "%s:%d: ", path, line);
        else
                n = snprintf(err, CONFIG_ERRLEN, "%s: ", path);
        if (n >= 0 && n < CONFIG_ERRLEN) {
                va_start(ap, fmt);
                vsnprintf(err + n, (size_t)(CONFIG_ERRLEN - n), fmt, ap);
                va_end(ap);
        }
        return r;
}

static bool catalog_name_valid(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > CATALOG_NAME_MAX - 1)
                return false;
        for (size_t i = 0; i < n; i++) {
                char ch = s[i];

                if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
                        return false;
        }
        return true;
}

static bool is_leap(int y)
{
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* YYYY-MM-DD, a real calendar date. */
static bool date_valid(const char *s)
{
        static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        int y, m, d;

        if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
                return false;
        for (int i = 0; i < 10; i++)
                if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
                        return false;
        y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
        m = (s[5] - '0') * 10 + (s[6] - '0');
        d = (s[8] - '0') * 10 + (s[9] - '0');
        if (y < 1970 || m < 1 || m > 12 || d < 1)
                return false;
        return d <= mdays[m - 1] + (m == 2 && is_leap(y));
}

static bool entry_char(char ch)
{
        return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F') ||
               ch == ':' || ch == '.' || ch == '/' || ch == '*';
}

/* Loose entry check: an address, prefix or legacy wildcard. */
static bool entry_valid(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (!entry_char(*s))
                        return false;
        return true;
}

/* The keys a catalog may set; all but mx at most once. */
enum { KEY_DESCRIPTION, KEY_SOURCE, KEY_SPF, KEY_CHECKED, KEY_PROVIDER, KEY_TENANT, KEY_OUTBOUND, KEY_MX, KEY_COUNT };

static const char *const catalog_keys[KEY_COUNT] = {
        "description", "source", "spf", "checked", "provider", "tenant", "outbound", "mx",
};

/* An MX host pattern: a host name, lower case once stored, in which '*'
 * stands for any run of characters; at least two labels and some literal
 * text besides the '*'s. */
static bool mx_pattern_valid(const char *s)
{
        size_t n = strlen(s), lit = 0;

        if (n == 0 || n > 253 || s[0] == '.' || s[n - 1] == '.' || !strchr(s, '.') || strstr(s, ".."))
                return false;
        for (size_t i = 0; i < n; i++) {
                char ch = s[i];

                if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                      ch == '-' || ch == '.' || ch == '*'))
                        return false;
                lit += ch != '*' && ch != '.';
        }
        return lit > 0;
}

/* mx = PATTERN...: patterns separated by spaces or commas; the key may repeat. */
static int catalog_mx(struct catalog *c, const char *path, int line, const char *value, char *err)
{
        const char *s = value;

        while (*s) {
                size_t n = strcspn(s, " \t,");
                char **nv, *p;

                if (n == 0) {
                        s++;
                        continue;
                }
                p = strndup(s, n);
                if (!p)
                        return catalog_fail(err, path, 0, -ENOMEM, "out of memory");
                if (!mx_pattern_valid(p)) {
                        catalog_fail(err, path, line, -EINVAL,
                                     "mx: '%.64s' is not a host name pattern (letters, digits, '-', '.', '*')", p);
                        free(p);
                        return -EINVAL;
                }
                for (char *q = p; *q; q++)
                        if (*q >= 'A' && *q <= 'Z')
                                *q = (char)(*q - 'A' + 'a');
                nv = realloc(c->mx, (c->nmx + 1) * sizeof(*nv));
                if (!nv) {
                        free(p);
                        return catalog_fail(err, path, 0, -ENOMEM, "out of memory");
                }
                c->mx = nv;
                c->mx[c->nmx++] = p;
                s += n;
        }
        return 0;
}

static int catalog_key(struct catalog *c, const char *path, int line, const char *key,
                       const char *value, int key_line[KEY_COUNT], char *err)
{
        char **dst[KEY_COUNT] = { &c->description, &c->source, &c->spf, &c->checked, &c->provider, &c->tenant,
                                  &c->outbound, NULL };
        int k;

        for (k = 0; k < KEY_COUNT; k++)
                if (!strcmp(key, catalog_keys[k]))
                        break;
        if (k == KEY_COUNT)
                return catalog_fail(err, path, line, -EINVAL, "unknown key '%.64s' (allowed: description, source, "
                                    "spf, checked, provider, tenant, outbound, mx)", key);
        if (key_line[k] && k != KEY_MX)
                return catalog_fail(err, path, line, -EINVAL, "%s set twice (first at line %d)",
                                    key, key_line[k]);
        if (!*value)
                return catalog_fail(err, path, line, -EINVAL, "empty value for '%s'", key);
        if (k == KEY_SPF && !cfg_domain_valid(value))
                return catalog_fail(err, path, line, -EINVAL, "spf: '%.64s' is not a domain name", value);
        if (k == KEY_CHECKED && !date_valid(value))
                return catalog_fail(err, path, line, -EINVAL, "checked: '%.64s' is not a date (YYYY-MM-DD)",
                                    value);
        if (k == KEY_PROVIDER && strpbrk(value, " \t"))
                return catalog_fail(err, path, line, -EINVAL, "provider: '%.64s' is one word (the provider's "
                                    "name, the same in all its regions' catalogs)", value);
        if (k == KEY_OUTBOUND && (strpbrk(value, " \t") || !catalog_name_valid(value)))
                return catalog_fail(err, path, line, -EINVAL, "outbound: '%.64s' is not a catalog name (the "
                                    "catalog of the provider's outbound gateways)", value);
        key_line[k] = line;
        if (k == KEY_MX)
                return catalog_mx(c, path, line, value, err);
        *dst[k] = strdup(value);
        if (!*dst[k])
                return catalog_fail(err, path, 0, -ENOMEM, "out of memory");
        return 0;
}

/* Hand over or keep an entry that passed the loose check. */
static int entry_put(struct catalog *c, const char *path, int line, const char *text, const char *comment,
                     const struct catalog_scan *sc, char *err)
{
        struct catalog_entry *e;

        c->entries++;
        if (sc && sc->entry)
                return sc->entry(text, comment, line, err, sc->userdata);
        if (c->n == c->cap) {
                size_t cap = c->cap ? c->cap * 2 : 16;
                struct catalog_entry *v = realloc(c->v, cap * sizeof(*v));

                if (!v)
                        return catalog_fail(err, path, 0, -ENOMEM, "out of memory");
                c->v = v;
                c->cap = cap;
        }
        e = &c->v[c->n];
        e->line = line;
        e->text = strdup(text);
        e->comment = comment ? strdup(comment) : NULL;
        if (!e->text || (comment && !e->comment)) {
                free(e->text);
                free(e->comment);
                return catalog_fail(err, path, 0, -ENOMEM, "out of memory");
        }
        c->n++;
        return 0;
}

/* The catalog name of a path: its base name without ".conf". */
static int name_from_path(const char *path, char name[CATALOG_NAME_MAX])
{
        const char *base = strrchr(path, '/');
        size_t n, sl = strlen(CATALOG_SUFFIX);

        base = base ? base + 1 : path;
        n = strlen(base);
        if (n > sl && !strcmp(base + n - sl, CATALOG_SUFFIX))
                n -= sl;
        if (n == 0 || n >= CATALOG_NAME_MAX)
                return -EINVAL;
        memcpy(name, base, n);
        name[n] = '\0';
        return 0;
}

#define SCAN_BUF (64 * 1024)       /* room for any line CATALOG_LINE_MAX allows */

enum line_kind {
        LINE_NONE,              /* blank or only a comment */
        LINE_ENTRY,             /* *a the entry, *b its comment or NULL */
        LINE_KEY,               /* *a the key, *b its value */
        LINE_LONG,
        LINE_NUL,
        LINE_WORDS,             /* *a: an entry of more than one word */
        LINE_BAD,               /* *a: not an address or prefix */
};

/* What one line holds: s is len bytes without the newline, split in place
 * (*a and *b point into it). */
static enum line_kind line_split(char *s, size_t len, char **a, char **b)
{
        char *hash, *eq;
        size_t i;

        if (len > 0 && s[len - 1] == '\r')
                len--;
        s[len] = '\0';
        if (len > CATALOG_LINE_MAX)
                return LINE_LONG;
        /* most lines of a big catalog are a bare prefix (no NUL, comment,
         * blank or key): those skip the searches and trimming below */
        for (i = 0; i < len && entry_char(s[i]); i++)
                ;
        *b = NULL;
        if (i == len && len > 0) {
                *a = s;
                return LINE_ENTRY;
        }
        if (memchr(s, '\0', len))
                return LINE_NUL;
        hash = strchr(s, '#');
        if (hash) {
                *hash = '\0';
                *b = cfg_trim(hash + 1);
                if (!**b)
                        *b = NULL;
        }
        *a = s = cfg_trim(s);
        if (!*s)
                return LINE_NONE;
        eq = strchr(s, '=');
        if (eq) {
                *eq = '\0';
                *a = cfg_trim(s);
                *b = cfg_trim(eq + 1);
                return LINE_KEY;
        }
        if (strpbrk(s, " \t"))
                return LINE_WORDS;
        return entry_valid(s) ? LINE_ENTRY : LINE_BAD;
}

int catalog_entry_text(char *s, size_t len, const char **ret_text)
{
        char *a, *b;

        switch (line_split(s, len, &a, &b)) {
        case LINE_NONE:
                return 0;
        case LINE_ENTRY:
                *ret_text = a;
                return 1;
        default:
                return -EAGAIN;
        }
}

/* One line of the file, without its newline. */
static int scan_line(struct catalog *c, const char *path, int line, char *s, size_t len, int key_line[KEY_COUNT],
                     const struct catalog_scan *sc, char *err)
{
        char *a, *b;

        switch (line_split(s, len, &a, &b)) {
        case LINE_NONE:
                return 0;
        case LINE_ENTRY:
                return entry_put(c, path, line, a, b, sc, err);
        case LINE_KEY:
                return catalog_key(c, path, line, a, b, key_line, err);
        case LINE_LONG:
                return catalog_fail(err, path, line, -EINVAL, "line longer than %d bytes", CATALOG_LINE_MAX);
        case LINE_NUL:
                return catalog_fail(err, path, line, -EINVAL, "NUL byte in line");
        case LINE_WORDS:
                return catalog_fail(err, path, line, -EINVAL,
                                    "'%.64s': one address or prefix per line (comments start with '#')", a);
        default:
                return catalog_fail(err, path, line, -EINVAL, "'%.64s' is not an address or prefix", a);
        }
}

/* Read fd line by line through one buffer (a 1M-line catalog went through
 * getline and a strdup per entry before: a third of its reload). */
static int scan_fd(struct catalog *c, int fd, const char *path, const struct catalog_scan *sc, char *err)
{
        int key_line[KEY_COUNT] = { 0 };
        size_t have = 0, start = 0;
        int line = 0, r = 0;
        bool eof = false;
        char *buf;

        buf = malloc(SCAN_BUF + 1);
        if (!buf)
                return catalog_fail(err, path, 0, -ENOMEM, "out of memory");
        while (!eof) {
                ssize_t n;
                char *nl;

                if (start > 0) {
                        memmove(buf, buf + start, have - start);
                        have -= start;
                        start = 0;
                }
                n = read(fd, buf + have, SCAN_BUF - have);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = catalog_fail(err, path, 0, -errno, "%s", strerror(errno));
                        goto out;
                }
                if (n == 0)
                        eof = true;
                have += (size_t)n;
                while ((nl = memchr(buf + start, '\n', have - start))) {
                        r = scan_line(c, path, ++line, buf + start, (size_t)(nl - (buf + start)), key_line, sc,
                                      err);
                        if (r < 0)
                                goto out;
                        start = (size_t)(nl - buf) + 1;
                }
                /* what is left has no newline: the last line, or a line too
                 * long for the buffer (longer than any allowed one) */
                if (eof && start < have)
                        r = scan_line(c, path, ++line, buf + start, have - start, key_line, sc, err);
                else if (start == 0 && have == SCAN_BUF)
                        r = catalog_fail(err, path, line + 1, -EINVAL, "line longer than %d bytes",
                                         CATALOG_LINE_MAX);
                if (r < 0)
                        goto out;
        }
out:
        free(buf);
        return r;
}

int catalog_scan_file(const char *path, const char *name, struct catalog_scan *sc, struct catalog **ret,
                      char err[CONFIG_ERRLEN])
{
        struct catalog *c = NULL;
        int fd = -1, r;

        err[0] = '\0';
        if (sc)
                sc->fd = -1;
        c = calloc(1, sizeof(*c));
        if (!c)
                return catalog_fail(err, path, 0, -ENOMEM, "out of memory");
        if (name) {
                if (!catalog_name_valid(name)) {
                        r = catalog_fail(err, path, 0, -EINVAL, "bad provider name '%.64s'", name);
                        goto out;
                }
                snprintf(c->name, sizeof(c->name), "%s", name);
        } else if (name_from_path(path, c->name) < 0 || !catalog_name_valid(c->name)) {
                r = catalog_fail(err, path, 0, -EINVAL,
                                 "bad provider name (file names are NAME.conf, NAME of a-z 0-9 _ -)");
                goto out;
        }
        c->path = strdup(path);
        if (!c->path) {
                r = catalog_fail(err, path, 0, -ENOMEM, "out of memory");
                goto out;
        }

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || (sc && fstat(fd, &sc->st) < 0)) {
                r = -errno;
                catalog_fail(err, path, 0, r, "%s", strerror(-r));
                goto out;
        }
        r = scan_fd(c, fd, path, sc, err);
        if (r < 0)
                goto out;
        if (c->entries == 0 && !c->spf) {
                r = catalog_fail(err, path, 0, -EINVAL, "no addresses and no spf record");
                goto out;
        }
        *ret = c;
        c = NULL;
        if (sc) {
                sc->fd = fd;    /* handed over */
                fd = -1;
        }
        r = 0;
out:
        if (fd >= 0)
                close(fd);
        catalog_free(c);
        return r;
}

int catalog_parse_file(const char *path, const char *name, struct catalog **ret, char err[CONFIG_ERRLEN])
{
        return catalog_scan_file(path, name, NULL, ret, err);
}

/* ---- what changed between two versions of a catalog file ---------------- */

#define DIFF_BUF (1024 * 1024)
#define DIFF_BLOCK (256 * 1024)
#define DIFF_VERIFY 8192                /* bytes that must agree after a resync: more than a line */
#define DIFF_SLOTS 16384                /* lines hashed per side and region */

/* Part of a file in memory. */
struct window {
        int fd;
        off_t size;
        char *buf;
        off_t off;              /* file offset of buf[0] */
        size_t len;
};

/* At least min(want, what is left) bytes of the file at pos (want at most
 * DIFF_BUF), with *avail the bytes there are from pos; NULL and errno on a
 * read error or a file that shrank. */
static const char *window_at(struct window *w, off_t pos, size_t want, size_t *avail)
{
        size_t need = (size_t)(w->size - pos) < want ? (size_t)(w->size - pos) : want;

        if (pos < w->off || (size_t)(pos - w->off) + need > w->len) {
                size_t got = 0, cap = (size_t)(w->size - pos) < DIFF_BUF ? (size_t)(w->size - pos) : DIFF_BUF;

                while (got < cap) {
                        ssize_t n = pread(w->fd, w->buf + got, cap - got, pos + (off_t)got);

                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0)
                                return NULL;
                        if (n == 0)
                                break;
                        got += (size_t)n;
                }
                w->off = pos;
                w->len = got;
                if (got < need) {
                        errno = ESTALE;
                        return NULL;
                }
        }
        *avail = w->len - (size_t)(pos - w->off);
        return w->buf + (pos - w->off);
}

/* How many bytes a and b share from the start. */
static size_t common_prefix(const char *a, const char *b, size_t n)
{
        size_t i = 0;

        while (i + 4096 <= n && !memcmp(a + i, b + i, 4096))
                i += 4096;
        while (i + 8 <= n) {
                uint64_t x, y;

                memcpy(&x, a + i, 8);
                memcpy(&y, b + i, 8);
                if (x != y)
                        break;
                i += 8;
        }
        while (i < n && a[i] == b[i])
                i++;
        return i;
}

/* Do the two files agree for DIFF_VERIFY bytes from these offsets (or to
 * both their ends, when they are nearer)? */
static int diff_verify(struct window *o, off_t po, struct window *n, off_t pn)
{
        off_t ro = o->size - po, rn = n->size - pn;
        size_t want = DIFF_VERIFY, ao, an;
        const char *a, *b;

        if (ro < DIFF_VERIFY || rn < DIFF_VERIFY) {
                if (ro != rn)
                        return 0;
                want = (size_t)ro;
        }
        a = window_at(o, po, want, &ao);
        if (!a)
                return -errno;
        /* a stays valid: b comes from the other window */
        b = window_at(n, pn, want, &an);
        if (!b)
                return -errno;
        return common_prefix(a, b, want) == want;
}

/* The line at pos: its length with the newline in *len (the rest of the
 * file for a last line without one) and its hash; -EAGAIN for a line too
 * long to be a catalog's. */
static int diff_line(struct window *w, off_t pos, size_t *len, uint64_t *hash)
{
        size_t avail, n;
        const char *s = window_at(w, pos, CATALOG_LINE_MAX + 2, &avail), *nl;
        uint64_t h = 0xcbf29ce484222325ull;

        if (!s)
                return -errno;
        n = avail < CATALOG_LINE_MAX + 2 ? avail : CATALOG_LINE_MAX + 2;
        nl = memchr(s, '\n', n);
        if (nl)
                n = (size_t)(nl - s) + 1;
        else if (pos + (off_t)n < w->size)
                return -EAGAIN;
        for (size_t i = 0; i < n; i++)
                h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
        *len = n;
        *hash = h;
        return 0;
}

struct diff_slot {
        uint64_t hash;
        off_t off;              /* -1: free */
};

/* The first line at off with this hash on one side, or -1. */
static off_t slot_find(const struct diff_slot *t, uint64_t hash)
{
        for (size_t i = hash & (DIFF_SLOTS - 1); t[i].off >= 0; i = (i + 1) & (DIFF_SLOTS - 1))
                if (t[i].hash == hash)
                        return t[i].off;
        return -1;
}

static void slot_put(struct diff_slot *t, uint64_t hash, off_t off)
{
        size_t i;

        for (i = hash & (DIFF_SLOTS - 1); t[i].off >= 0; i = (i + 1) & (DIFF_SLOTS - 1))
                if (t[i].hash == hash)
                        return;
        t[i].hash = hash;
        t[i].off = off;
}

/* The lines of [from, to) of one side, each to fn without its newline. */
static int diff_emit(struct window *w, bool added, off_t from, off_t to,
                     int (*fn)(bool added, char *line, size_t len, void *userdata), void *userdata)
{
        char line[CATALOG_LINE_MAX + 3];

        while (from < to) {
                size_t len, avail;
                uint64_t h;
                const char *s;
                int r = diff_line(w, from, &len, &h);

                if (r < 0)
                        return r;
                s = window_at(w, from, len, &avail);
                if (!s)
                        return -errno;
                memcpy(line, s, len);
                from += (off_t)len;
                if (len > 0 && line[len - 1] == '\n')
                        len--;
                line[len] = '\0';
                r = fn(added, line, len, userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* From the line start (lo, ln) where the files stop agreeing, the nearest
 * pair of offsets where they agree again: lines of both sides are hashed in
 * turn until one has been seen on the other side and the bytes after it
 * agree (or both sides end). *budget is the bytes of difference left. */
static int diff_resync(struct window *o, struct window *n, off_t lo, off_t ln, struct diff_slot *to,
                       struct diff_slot *tn, size_t *budget, off_t *ret_o, off_t *ret_n)
{
        off_t co = lo, cn = ln;
        unsigned lines = 0;

        for (size_t i = 0; i < DIFF_SLOTS; i++)
                to[i].off = tn[i].off = -1;
        for (;;) {
                if (co >= o->size && cn >= n->size) {
                        *ret_o = o->size;
                        *ret_n = n->size;
                        break;
                }
                if ((size_t)(co - lo) + (size_t)(cn - ln) > *budget || ++lines > DIFF_SLOTS / 2)
                        return -E2BIG;
                for (int side = 0; side < 2; side++) {
                        struct window *w = side ? n : o, *other = side ? o : n;
                        struct diff_slot *mine = side ? tn : to, *theirs = side ? to : tn;
                        off_t *cur = side ? &cn : &co, seen;
                        uint64_t h;
                        size_t len;
                        int r;

                        if (*cur >= w->size)
                                continue;
                        r = diff_line(w, *cur, &len, &h);
                        if (r < 0)
                                return r;
                        seen = slot_find(theirs, h);
                        if (seen >= 0) {
                                r = side ? diff_verify(other, seen, w, *cur) : diff_verify(w, *cur, other, seen);
                                if (r < 0)
                                        return r;
                                if (r) {
                                        *ret_o = side ? seen : *cur;
                                        *ret_n = side ? *cur : seen;
                                        goto found;
                                }
                        }
                        slot_put(mine, h, *cur);
                        *cur += (off_t)len;
                }
        }
found:
        if (*ret_o == lo && *ret_n == ln)
                return -EAGAIN;         /* cannot be: the lines at lo and ln differ */
        *budget -= (size_t)(*ret_o - lo) + (size_t)(*ret_n - ln);
        return 0;
}

int catalog_diff(int old_fd, int new_fd, size_t limit,
                 int (*fn)(bool added, char *line, size_t len, void *userdata), void *userdata)
{
        struct window o = { .fd = old_fd }, n = { .fd = new_fd };
        struct diff_slot *to = NULL, *tn = NULL;
        off_t po = 0, pn = 0, line = 0;         /* line: start of the line po is in */
        struct stat so, sn;
        int r = 0;

        if (fstat(old_fd, &so) < 0 || fstat(new_fd, &sn) < 0)
                return -errno;
        o.size = so.st_size;
        n.size = sn.st_size;
        o.buf = malloc(DIFF_BUF);
        n.buf = malloc(DIFF_BUF);
        to = malloc(DIFF_SLOTS * sizeof(*to));
        tn = malloc(DIFF_SLOTS * sizeof(*tn));
        if (!o.buf || !n.buf || !to || !tn) {
                r = -ENOMEM;
                goto out;
        }
        for (;;) {
                off_t ro, rn;

                /* the bytes both share from here */
                for (;;) {
                        size_t ao, an, k, c;
                        const char *a = window_at(&o, po, DIFF_BLOCK, &ao), *b, *nl;

                        if (!a) {
                                r = -errno;
                                goto out;
                        }
                        b = window_at(&n, pn, DIFF_BLOCK, &an);
                        if (!b) {
                                r = -errno;
                                goto out;
                        }
                        k = ao < an ? ao : an;
                        if (k > DIFF_BLOCK)
                                k = DIFF_BLOCK;
                        c = common_prefix(a, b, k);
                        nl = c ? memrchr(a, '\n', c) : NULL;
                        if (nl)
                                line = po + (nl - a) + 1;
                        po += (off_t)c;
                        pn += (off_t)c;
                        if (c < k || k == 0)
                                break;
                }
                if (po == o.size && pn == n.size)
                        break;
                r = diff_resync(&o, &n, line, line + (pn - po), to, tn, &limit, &ro, &rn);
                if (r < 0)
                        goto out;
                r = diff_emit(&o, false, line, ro, fn, userdata);
                if (r == 0)
                        r = diff_emit(&n, true, line + (pn - po), rn, fn, userdata);
                if (r < 0)
                        goto out;
                po = line = ro;
                pn = rn;
        }
out:
        free(o.buf);
        free(n.buf);
        free(to);
        free(tn);
        return r;
}

/* Is DIR/NAME.conf a regular file? 1 yes, 0 no, negative errno when it
 * cannot be told (so that an unreadable override is not silently skipped). */
static int catalog_exists(const char *path)
{
        struct stat st;

        if (stat(path, &st) < 0) {
                if (errno == ENOENT || errno == ENOTDIR)
                        return 0;
                return -errno;
        }
        return S_ISREG(st.st_mode) ? 1 : 0;
}

static char *join_path(const char *dir, size_t dirlen, const char *name)
{
        char *p = NULL;

        if (asprintf(&p, "%.*s/%s%s", (int)dirlen, dir, name, CATALOG_SUFFIX) < 0)
                return NULL;
        return p;
}

int catalog_find(const char *dirs, const char *name, char **ret_path, char err[CONFIG_ERRLEN])
{
        char *found = NULL;
        const char *s = dirs;
        int r;

        err[0] = '\0';
        if (!name || !catalog_name_valid(name)) {
                snprintf(err, CONFIG_ERRLEN, "bad provider name '%.64s' (1-%d characters of a-z 0-9 _ -)",
                         name ? name : "", CATALOG_NAME_MAX - 1);
                return -EINVAL;
        }
        if (!dirs) {
                snprintf(err, CONFIG_ERRLEN, "no provider directories");
                return -EINVAL;
        }
        while (*s) {
                const char *e = strchr(s, ':');
                size_t n = e ? (size_t)(e - s) : strlen(s);

                if (n > 0) {
                        char *path = join_path(s, n, name);

                        if (!path) {
                                free(found);
                                snprintf(err, CONFIG_ERRLEN, "out of memory");
                                return -ENOMEM;
                        }
                        r = catalog_exists(path);
                        if (r < 0) {
                                snprintf(err, CONFIG_ERRLEN, "%s: %s", path, strerror(-r));
                                free(path);
                                free(found);
                                return r;
                        }
                        if (r > 0) {
                                free(found);
                                found = path;
                        } else {
                                free(path);
                        }
                }
                if (!e)
                        break;
                s = e + 1;
        }
        if (!found) {
                snprintf(err, CONFIG_ERRLEN, "provider '%s' not found (no %s%s in %.400s)",
                         name, name, CATALOG_SUFFIX, dirs);
                return -ENOENT;
        }
        *ret_path = found;
        return 0;
}

int catalog_load(const char *dirs, const char *name, struct catalog **ret, char err[CONFIG_ERRLEN])
{
        char *found = NULL;
        int r;

        r = catalog_find(dirs, name, &found, err);
        if (r < 0)
                return r;
        r = catalog_parse_file(found, name, ret, err);
        free(found);
        return r;
}

struct listed {
        char *name;
        char *path;
};

static int cmp_listed(const void *a, const void *b)
{
        return strcmp(((const struct listed *)a)->name, ((const struct listed *)b)->name);
}

/* Add or (later dirs win) replace name's path. */
static int listed_put(struct listed **v, size_t *n, size_t *cap, const char *name, char *path)
{
        for (size_t i = 0; i < *n; i++) {
                if (!strcmp((*v)[i].name, name)) {
                        free((*v)[i].path);
                        (*v)[i].path = path;
                        return 0;
                }
        }
        if (*n == *cap) {
                size_t c = *cap ? *cap * 2 : 16;
                struct listed *nv = realloc(*v, c * sizeof(*nv));

                if (!nv)
                        return -ENOMEM;
                *v = nv;
                *cap = c;
        }
        (*v)[*n].name = strdup(name);
        if (!(*v)[*n].name)
                return -ENOMEM;
        (*v)[*n].path = path;
        (*n)++;
        return 0;
}

static int list_dir(const char *dir, size_t dirlen, struct listed **v, size_t *n, size_t *cap)
{
        char *d = strndup(dir, dirlen);
        struct dirent *de;
        DIR *dh;
        int r = 0;

        if (!d)
                return -ENOMEM;
        dh = opendir(d);        /* glibc opens it O_CLOEXEC */
        if (!dh) {
                r = (errno == ENOENT || errno == ENOTDIR) ? 0 : -errno;
                free(d);
                return r;
        }
        while ((de = readdir(dh))) {
                size_t len = strlen(de->d_name), sl = strlen(CATALOG_SUFFIX);
                char name[CATALOG_NAME_MAX];
                char *path;

                if (len <= sl || len - sl >= CATALOG_NAME_MAX || strcmp(de->d_name + len - sl, CATALOG_SUFFIX))
                        continue;
                memcpy(name, de->d_name, len - sl);
                name[len - sl] = '\0';
                if (!catalog_name_valid(name))
                        continue;
                path = join_path(d, dirlen, name);
                if (!path) {
                        r = -ENOMEM;
                        break;
                }
                if (catalog_exists(path) <= 0) {
                        free(path);
                        continue;
                }
                r = listed_put(v, n, cap, name, path);
                if (r < 0) {
                        free(path);
                        break;
                }
        }
        closedir(dh);
        free(d);
        return r;
}

int catalog_list(const char *dirs, void (*cb)(const char *name, const char *path, void *userdata), void *userdata)
{
        struct listed *v = NULL;
        size_t n = 0, cap = 0;
        const char *s = dirs;
        int r = 0;

        if (!dirs)
                return -EINVAL;
        while (*s) {
                const char *e = strchr(s, ':');
                size_t len = e ? (size_t)(e - s) : strlen(s);

                if (len > 0) {
                        r = list_dir(s, len, &v, &n, &cap);
                        if (r < 0)
                                goto out;
                }
                if (!e)
                        break;
                s = e + 1;
        }
        if (n > 0)
                qsort(v, n, sizeof(*v), cmp_listed);
        for (size_t i = 0; i < n; i++)
                cb(v[i].name, v[i].path, userdata);
        r = 0;
out:
        for (size_t i = 0; i < n; i++) {
                free(v[i].name);
                free(v[i].path);
        }
        free(v);
        return r;
}

/* Does host (lower case) match pattern p, '*' taking any run? Linear
 * backtracking: only the last '*' is ever retried. */
static bool glob_host(const char *p, const char *h)
{
        const char *star = NULL, *mark = NULL;

        while (*h) {
                if (*p == '*') {
                        star = p++;
                        mark = h;
                } else if (*p == *h) {
                        p++;
                        h++;
                } else if (star) {
                        p = star + 1;
                        h = ++mark;
                } else {
                        return false;
                }
        }
        while (*p == '*')
                p++;
        return !*p;
}

size_t catalog_mx_match(const struct catalog *c, const char *host)
{
        char h[256];
        size_t n = host ? strlen(host) : 0, best = 0;

        if (n > 0 && host[n - 1] == '.')
                n--;
        if (n == 0 || n >= sizeof(h))
                return 0;
        for (size_t i = 0; i < n; i++)
                h[i] = (host[i] >= 'A' && host[i] <= 'Z') ? (char)(host[i] - 'A' + 'a') : host[i];
        h[n] = '\0';
        for (size_t i = 0; i < c->nmx; i++) {
                size_t lit = 0;

                for (const char *p = c->mx[i]; *p; p++)
                        lit += *p != '*';
                if (lit > best && glob_host(c->mx[i], h))
                        best = lit;
        }
        return best;
}

void catalog_free(struct catalog *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < c->n; i++) {
                free(c->v[i].text);
                free(c->v[i].comment);
        }
        free(c->v);
        free(c->path);
        free(c->description);
        free(c->source);
        free(c->spf);
        free(c->checked);
        free(c->provider);
        free(c->tenant);
        free(c->outbound);
        for (size_t i = 0; i < c->nmx; i++)
                free(c->mx[i]);
        free(c->mx);
        free(c);
}
