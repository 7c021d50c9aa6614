/* src/audit.c: the audit log: JSON lines built in a fixed buffer, appended
 * to a file through a write buffer that the caller flushes.
 *
 * A line is never broken: strings are escaped (and invalid UTF-8 replaced)
 * so nothing from the network can end a line or a string early, and a field
 * that does not fit is cut or left out while the object is still closed. A
 * record that lost something carries "truncated":true. */
#include "audit.h"
#include "log.h"
#include "seal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define AUDIT_BUF_SIZE (64 * 1024)
#define AUDIT_MODE 0640

/* Room kept free in a jline for what jline_end appends, plus the NUL. */
#define JLINE_TAIL ",\"truncated\":true}\n"
#define JLINE_MAX (sizeof(((struct jline *)0)->buf) - (sizeof(JLINE_TAIL) - 1) - 1)

struct audit {
        char *path;
        int fd;                 /* -1 after a failed reopen; flush retries */
        bool partial;           /* a failed write left part of a line in the file */
        uint64_t lost;
        struct seal *seal;      /* NULL: lines are not sealed */
        bool seal_anchor_queued; /* a seal record declaring lost lines is buffered */
        bool seal_warned;       /* the key file could not be rewritten */
        size_t used;
        char buf[AUDIT_BUF_SIZE];
};

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

/* After jline_end the line ends in a newline, which no field contains. */
static bool jline_closed(const struct jline *j)
{
        return j->len > 0 && j->buf[j->len - 1] == '\n';
}

/* Append n bytes if the content stays within limit. */
static bool jline_put(struct jline *j, size_t limit, const char *s, size_t n)
{
        if (j->len > limit || n > limit - j->len)
                return false;
        memcpy(j->buf + j->len, s, n);
        j->len += n;
        j->buf[j->len] = '\0';
        return true;
}

/* Append ,"key": leaving at least reserve bytes below JLINE_MAX. */
static bool jline_key(struct jline *j, const char *key, size_t reserve)
{
        size_t limit = JLINE_MAX - reserve;

        /* keys are the program's own ASCII names: no escaping needed */
        if (!jline_put(j, limit, ",\"", 2))
                return false;
        if (!jline_put(j, limit, key, strlen(key)))
                return false;
        return jline_put(j, limit, "\":", 2);
}

/* Undo a field that did not fit and mark the line. */
static void jline_cut(struct jline *j, size_t start)
{
        j->len = start;
        j->buf[j->len] = '\0';
        j->truncated = true;
}

void jline_begin(struct jline *j, const struct timeval *tv, const char *event)
{
        struct timeval now;
        char ts[32];

        if (!tv) {
                gettimeofday(&now, NULL);
                tv = &now;
        }
        j->len = 0;
        j->truncated = false;
        audit_format_time(tv, ts);
        /* always fits: a timestamp is at most 31 bytes */
        (void) jline_put(j, JLINE_MAX, "{\"ts\":\"", 7);
        (void) jline_put(j, JLINE_MAX, ts, strlen(ts));
        (void) jline_put(j, JLINE_MAX, "\"", 1);
        jline_str(j, "event", event);
}

void jline_str(struct jline *j, const char *key, const char *value)
{
        size_t start = j->len;

        if (!value) {
                jline_raw(j, key, "null");
                return;
        }
        if (jline_closed(j))
                return;
        /* the opening quote and at least the closing one */
        if (!jline_key(j, key, 2) || !jline_put(j, JLINE_MAX - 1, "\"", 1)) {
                jline_cut(j, start);
                return;
        }
        if (!json_escape(j->buf, JLINE_MAX, &j->len, value))
                j->truncated = true;
        /* room for it was kept above */
        (void) jline_put(j, JLINE_MAX, "\"", 1);
}

void jline_raw(struct jline *j, const char *key, const char *json)
{
        size_t start = j->len;

        if (jline_closed(j))
                return;
        if (!json)
                json = "null";
        if (!jline_key(j, key, 0) || !jline_put(j, JLINE_MAX, json, strlen(json)))
                jline_cut(j, start);
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

void jline_int(struct jline *j, const char *key, long long value)
{
        char tmp[24];
        char *p;

        if (value >= 0) {
                jline_raw(j, key, utoa((unsigned long long)value, tmp));
                return;
        }
        p = utoa(0ULL - (unsigned long long)value, tmp);
        *--p = '-';
        jline_raw(j, key, p);
}

void jline_uint(struct jline *j, const char *key, unsigned long long value)
{
        char tmp[24];

        jline_raw(j, key, utoa(value, tmp));
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

        if (jline_closed(j))
                return;
        if (j->truncated)
                (void) jline_put(j, limit, ",\"truncated\":true", sizeof(",\"truncated\":true") - 1);
        (void) jline_put(j, limit, "}\n", 2);
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

char *audit_format_time(const struct timeval *tv, char *buf)
{
        /* one strftime per second: a flood formats many times a second */
        static __thread time_t cached_t = -1;
        static __thread char cached[24];
        static __thread size_t cached_n;
        time_t t = tv->tv_sec;
        long usec = (long)tv->tv_usec;
        struct tm tm;
        size_t n;

        if (usec < 0 || usec > 999999) {
                t += usec / 1000000;
                usec %= 1000000;
                if (usec < 0) {
                        usec += 1000000;
                        t--;
                }
        }
        /* Years that do not have four digits cannot be written in this
         * format; they come only from a broken clock: show the epoch. */
        if (t == cached_t) {
                memcpy(buf, cached, cached_n);
                n = cached_n;
        } else {
                time_t t0 = t;

                if (!gmtime_r(&t, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900) {
                        t = 0;
                        usec = 0;
                        (void) gmtime_r(&t, &tm);
                }
                n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
                if (t == t0 && n < sizeof(cached)) {
                        memcpy(cached, buf, n);
                        cached_n = n;
                        cached_t = t;
                }
        }
        buf[n++] = '.';
        for (int i = 5; i >= 0; i--, usec /= 10)
                buf[n + (size_t)i] = (char)('0' + usec % 10);
        n += 6;
        buf[n++] = 'Z';
        buf[n] = '\0';
        return buf;
}

/* Opened with O_NONBLOCK (a FIFO at the path must not hang the start);
 * writes block as usual. */
static int audit_check_fd(int fd)
{
        int fl = fcntl(fd, F_GETFL);

        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
                (void) close(fd);
                return -EINVAL;
        }
        return fd;
}

/* Open path for appending; a file we create gets exactly AUDIT_MODE. A
 * symbolic link at path is never followed (-ELOOP): the log's directory may
 * belong to the daemon's user, who must not point a root start at a file of
 * root's. */
static int audit_open_fd(const char *path)
{
        const int flags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK;
        int fd, tries;

        for (tries = 0; tries < 8; tries++) {
                fd = open(path, flags);
                if (fd >= 0)
                        return audit_check_fd(fd);
                if (errno != ENOENT)
                        return -errno;
                fd = open(path, flags | O_CREAT | O_EXCL, AUDIT_MODE);
                if (fd >= 0) {
                        /* The umask may have removed bits the security team's
                         * group needs; it can only have made the file more
                         * private, so a failure here is not worth failing for. */
                        (void) fchmod(fd, AUDIT_MODE);
                        return audit_check_fd(fd);
                }
                if (errno != EEXIST)
                        return -errno;
                /* someone else created it in between: open theirs */
        }
        return -EEXIST;
}

int audit_chown(struct audit *a, uid_t uid, gid_t gid)
{
        struct stat st;

        if (fstat(a->fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return 0;       /* a device (/dev/full in tests) is no one's to give */
        /* a second name could be a file of someone else's that was linked here */
        if (st.st_nlink != 1)
                return -EMLINK;
        if (st.st_uid == uid && st.st_gid == gid)
                return 0;
        return fchown(a->fd, uid, gid) < 0 ? -errno : 0;
}

int audit_open(const char *path, struct audit **ret)
{
        struct audit *a;
        int r;

        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->fd = -1;
        a->path = strdup(path);
        if (!a->path) {
                r = -ENOMEM;
                goto err_free;
        }
        r = audit_open_fd(a->path);
        if (r < 0)
                goto err_free;
        a->fd = r;
        *ret = a;
        return 0;

err_free:
        free(a->path);
        free(a);
        return r;
}

/* Write all of buf, retrying on EINTR and short writes; *done says how much
 * reached the file even on failure. */
static int write_all(int fd, const char *buf, size_t n, size_t *done)
{
        ssize_t w;

        *done = 0;
        while (*done < n) {
                w = write(fd, buf + *done, n - *done);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (w == 0)
                        return -EIO;
                *done += (size_t)w;
        }
        return 0;
}

static uint64_t count_lines(const char *buf, size_t n)
{
        uint64_t lines = 0;
        size_t i;

        for (i = 0; i < n; i++)
                if (buf[i] == '\n')
                        lines++;
        return lines;
}

static int audit_anchor(struct audit *a, const char *reason);

/* Write the buffered lines out (audit_flush without the epoch check). */
static int audit_write_out(struct audit *a)
{
        size_t done = 0, dummy;
        uint64_t nlost;
        int r;

        if (a->used == 0)
                return 0;
        if (a->fd < 0) {
                r = audit_open_fd(a->path);
                if (r < 0)
                        goto err_lose;
                a->fd = r;
        }
        if (a->partial) {
                /* end the broken line so the next record starts its own */
                r = write_all(a->fd, "\n", 1, &dummy);
                if (r < 0)
                        goto err_lose;
                a->partial = false;
        }
        r = write_all(a->fd, a->buf, a->used, &done);
        if (r < 0)
                goto err_lose;
        a->used = 0;
        if (a->seal) {
                seal_written(a->seal);
                a->seal_anchor_queued = false;
        }
        return 1;

err_lose:
        /* every line not written completely is lost, a half-written one too */
        nlost = count_lines(a->buf + done, a->used - done);
        a->lost += nlost;
        if (a->seal) {
                /* the next line goes after a seal record that declares them */
                seal_lost(a->seal, nlost, a->buf, done);
                a->seal_anchor_queued = false;
        }
        if (done > 0 && a->buf[done - 1] != '\n') {
                /* take the fragment back out of the file, so every line in
                 * it stays one whole record; failing that, end it with a
                 * newline before the next record */
                size_t frag = 0;
                struct stat st;

                while (frag < done && a->buf[done - 1 - frag] != '\n')
                        frag++;
                if (fstat(a->fd, &st) < 0 || (off_t)frag > st.st_size ||
                    ftruncate(a->fd, st.st_size - (off_t)frag) < 0)
                        a->partial = true;
        }
        a->used = 0;
        return r;
}

/* At an epoch's end: its last record, a "close" seal record, sealed with
 * its key and written out before the key evolves and is erased; then the
 * new epoch's first record, an "epoch" seal record. A verifier takes a
 * change of epoch without the close record before it for removed records. */
static void audit_seal_tick(struct audit *a)
{
        time_t now = time(NULL);
        int r;

        if (seal_due(a->seal, now)) {
                (void) audit_anchor(a, "close");
                (void) audit_write_out(a);
        }
        r = seal_advance(a->seal, now);
        if (r == 1) {
                /* at once: a log that ends at a close was cut there */
                (void) audit_anchor(a, "epoch");
                (void) audit_write_out(a);
        }
        if (r < 0 && !a->seal_warned) {
                a->seal_warned = true;
                log_warning_errno(r, "Cannot rewrite the sealing key file, the previous epoch's key stays on "
                                  "disk until it can: %m");
        } else if (r >= 0) {
                a->seal_warned = false;
        }
}

int audit_flush(struct audit *a)
{
        if (!a)
                return 0;
        if (a->seal)
                audit_seal_tick(a);
        return audit_write_out(a);
}

/* Make room for need bytes in the buffer, writing it out when full. */
static int audit_room(struct audit *a, size_t need)
{
        int r;

        if (need <= sizeof(a->buf) - a->used)
                return 0;
        r = audit_write_out(a);
        return r < 0 ? r : 0;
}

/* Buffer a finished line (room made), with its seal when sealing is on. */
static void audit_put(struct audit *a, const char *line, size_t len)
{
        if (a->seal) {
                /* the seal goes in as the record's last field, before "}\n" */
                len -= 2;
                memcpy(a->buf + a->used, line, len);
                a->used += len;
                a->used += seal_line(a->seal, line, len, a->buf + a->used);
                return;
        }
        memcpy(a->buf + a->used, line, len);
        a->used += len;
}

/* Buffer a seal record: where a writer opened a file, or after lost lines. */
static int audit_anchor(struct audit *a, const char *reason)
{
        char prev[2 * SEAL_MAC_BYTES + 1], run[17];
        struct jline j;
        int r;

        r = audit_room(a, sizeof(j.buf) + SEAL_SUFFIX_MAX);
        if (r < 0)
                return r;       /* nothing sealed yet: nothing lost */
        jline_begin(&j, NULL, "seal");
        jline_str(&j, "reason", reason);
        if (seal_pending_lost(a->seal)) {
                jline_uint(&j, "lost", seal_pending_lost(a->seal));
                a->seal_anchor_queued = true;
        }
        seal_prev_hex(a->seal, prev);
        jline_str(&j, "prev", prev);
        seal_run_hex(a->seal, run);
        jline_str(&j, "run", run);
        jline_end(&j);
        audit_put(a, j.buf, j.len);
        return 0;
}

int audit_write(struct audit *a, const struct jline *j)
{
        int r;

        if (j->len < 2 || j->len > sizeof(a->buf) - SEAL_SUFFIX_MAX || !jline_closed(j) ||
            j->buf[j->len - 2] != '}') {
                /* not a finished line: writing it would merge two records */
                a->lost++;
                return -EINVAL;
        }
        if (a->seal && seal_pending_lost(a->seal) && !a->seal_anchor_queued) {
                r = audit_anchor(a, "lost");
                if (r < 0) {
                        a->lost++;
                        return r;
                }
        }
        r = audit_room(a, j->len + SEAL_SUFFIX_MAX);
        if (r < 0) {
                a->lost++;
                return r;
        }
        /* buffered: whether it reaches the file, audit_flush says */
        audit_put(a, j->buf, j->len);
        return 0;
}

int audit_seal(struct audit *a, const char *keyfile, int *ret_line)
{
        struct seal *s = NULL;
        struct stat st;
        char *tail = NULL;
        ssize_t n = 0;
        int fd, r;

        r = seal_open(keyfile, &s, ret_line);
        if (r < 0)
                return r;
        /* after a crash the key file is behind the log: go on from the
         * log's last sealed line */
        fd = open(a->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd >= 0) {
                if (fstat(fd, &st) == 0 && st.st_size > 0) {
                        size_t want = st.st_size > AUDIT_BUF_SIZE ? AUDIT_BUF_SIZE : (size_t)st.st_size;

                        tail = malloc(want);
                        if (tail)
                                n = pread(fd, tail, want, st.st_size - (off_t)want);
                        if (tail && n > 0)
                                (void) seal_resume(s, tail, (size_t)n);
                        free(tail);
                }
                (void) close(fd);
        }
        /* the key file must be writable: it is rewritten every epoch */
        r = seal_save(s);
        if (r < 0) {
                seal_close(s);
                return r;
        }
        a->seal = s;
        r = audit_anchor(a, "open");
        if (r < 0)
                return r;
        /* a key file left behind in an earlier epoch closes that epoch first */
        audit_seal_tick(a);
        return 0;
}

uint64_t audit_lost(const struct audit *a)
{
        return a->lost;
}

int audit_reopen(struct audit *a)
{
        struct stat st;
        int r, fd;

        r = audit_flush(a);
        if (a->fd >= 0) {
                (void) close(a->fd);
                a->fd = -1;
        }
        fd = audit_open_fd(a->path);
        if (fd < 0)
                return fd;
        a->fd = fd;
        /* a fresh file has no broken line to end */
        if (a->partial && fstat(fd, &st) == 0 && st.st_size == 0)
                a->partial = false;
        if (a->seal) {
                /* a crash from here on resumes from the key file: keep it close */
                (void) seal_save(a->seal);
                (void) audit_anchor(a, "reopen");
        }
        return r < 0 ? r : 0;
}

void audit_close(struct audit *a)
{
        if (!a)
                return;
        (void) audit_flush(a);
        if (a->seal)
                (void) audit_anchor(a, "stop");        /* a clean end, not a cut */
        (void) audit_write_out(a);
        seal_close(a->seal);
        if (a->fd >= 0)
                (void) close(a->fd);
        free(a->path);
        free(a);
}
