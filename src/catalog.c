/* src/catalog.c: provider catalogs (see catalog.h and DESIGN.md).
 *
 * Key lines "key = value" (description, source, spf, checked) and entry lines
 * holding one address or prefix with an optional "# comment". Entries are
 * only checked loosely here; the policy module parses them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
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

static int catalog_key(struct catalog *c, const char *path, int line, const char *key,
                       const char *value, int key_line[4], char *err)
{
        static const char *const keys[4] = { "description", "source", "spf", "checked" };
        char **dst[4] = { &c->description, &c->source, &c->spf, &c->checked };
        int k;

        for (k = 0; k < 4; k++)
                if (!strcmp(key, keys[k]))
                        break;
        if (k == 4)
                return catalog_fail(err, path, line, -EINVAL,
                                    "unknown key '%.64s' (allowed: description, source, spf, checked)", key);
        if (key_line[k])
                return catalog_fail(err, path, line, -EINVAL, "%s set twice (first at line %d)",
                                    key, key_line[k]);
        if (!*value)
                return catalog_fail(err, path, line, -EINVAL, "empty value for '%s'", key);
        if (k == 2 && !cfg_domain_valid(value))
                return catalog_fail(err, path, line, -EINVAL, "spf: '%.64s' is not a domain name", value);
        if (k == 3 && !date_valid(value))
                return catalog_fail(err, path, line, -EINVAL, "checked: '%.64s' is not a date (YYYY-MM-DD)",
                                    value);
        *dst[k] = strdup(value);
        if (!*dst[k])
                return catalog_fail(err, path, 0, -ENOMEM, "out of memory");
        key_line[k] = line;
        return 0;
}

/* Hand over or keep an entry that passed the loose check. */
static int entry_put(struct catalog *c, const char *path, int line, const char *text, const char *comment,
                     const struct catalog_scan *sc, char *err)
{
        struct catalog_entry *e;

        c->entries++;
        if (sc && sc->entry)
                return sc->entry(text, comment && *comment ? comment : NULL, line, err, sc->userdata);
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
        e->comment = comment && *comment ? strdup(comment) : NULL;
        if (!e->text || (comment && *comment && !e->comment)) {
                free(e->text);
                free(e->comment);
                return catalog_fail(err, path, 0, -ENOMEM, "out of memory");
        }
        c->n++;
        return 0;
}

static int catalog_entry(struct catalog *c, const char *path, int line, const char *text,
                         const char *comment, const struct catalog_scan *sc, char *err)
{
        if (strpbrk(text, " \t"))
                return catalog_fail(err, path, line, -EINVAL,
                                    "'%.64s': one address or prefix per line (comments start with '#')", text);
        if (!entry_valid(text))
                return catalog_fail(err, path, line, -EINVAL, "'%.64s' is not an address or prefix", text);
        return entry_put(c, path, line, text, comment, sc, err);
}

static int catalog_line(struct catalog *c, const char *path, int line, char *s, int key_line[4],
                        const struct catalog_scan *sc, char *err)
{
        char *hash, *comment = NULL, *eq;

        hash = strchr(s, '#');
        if (hash) {
                *hash = '\0';
                comment = cfg_trim(hash + 1);
        }
        s = cfg_trim(s);
        if (!*s)
                return 0;
        eq = strchr(s, '=');
        if (!eq)
                return catalog_entry(c, path, line, s, comment, sc, err);
        *eq = '\0';
        return catalog_key(c, path, line, cfg_trim(s), cfg_trim(eq + 1), key_line, err);
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

/* One line of the file, without its "\n" or "\r\n", NUL-terminated in place. */
static int scan_line(struct catalog *c, const char *path, int line, char *s, size_t len, int key_line[4],
                     const struct catalog_scan *sc, char *err)
{
        size_t i;

        if (len > 0 && s[len - 1] == '\r')
                len--;
        s[len] = '\0';
        if (len > CATALOG_LINE_MAX)
                return catalog_fail(err, path, line, -EINVAL, "line longer than %d bytes", CATALOG_LINE_MAX);
        /* most lines of a big catalog are a bare prefix (no NUL, comment,
         * blank or key): those skip the checks and searches of catalog_line */
        for (i = 0; i < len && entry_char(s[i]); i++)
                ;
        if (i == len && len > 0)
                return entry_put(c, path, line, s, NULL, sc, err);
        if (memchr(s, '\0', len))
                return catalog_fail(err, path, line, -EINVAL, "NUL byte in line");
        return catalog_line(c, path, line, s, key_line, sc, err);
}

/* Read fd line by line through one buffer (a 1M-line catalog went through
 * getline and a strdup per entry before: a third of its reload). */
static int scan_fd(struct catalog *c, int fd, const char *path, const struct catalog_scan *sc, char *err)
{
        int key_line[4] = { 0 };
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
        free(c);
}
