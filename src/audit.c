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

        if (j->len < 2 || j->len > sizeof(a->buf) - SEAL_SUFFIX_MAX || j->buf[j->len - 1] != '\n' ||
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
