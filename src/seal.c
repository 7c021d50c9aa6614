/* src/seal.c: forward-secure sealing of the audit log (see seal.h).
 *
 * Keys: a random 32-byte seed S (the verification key, kept off the host);
 * stream key[0] = KDF(S, stream id), key[e+1] = KDF(key[e], e+1), both
 * libsodium's crypto_kdf (keyed BLAKE2b), so key[e] gives no key before it.
 * MAC of record N in epoch E: Poly1305 (crypto_onetimeauth) over N, the
 * previous MAC and the line, with a one-time key taken from the ChaCha20
 * keystream (crypto_stream_chacha20_ietf) of key[E] at a place that only
 * this writer run (a random 8-byte run id, named in its seal records) and N
 * give: the MAC of ChaCha20-Poly1305 (RFC 8439, 2.6 and 2.8), with the
 * keystream made 64 records at a time because that is what makes sealing
 * cheap (BLAKE2b over every line cost the writer 3 times as much: see
 * tests/bench/audit_seal.c). Only the framing is ours, not the crypto.
 *
 * The key file is text ("name value" lines) rewritten whole through a
 * temporary file, fsync and rename at every epoch; the old key is erased
 * from memory with sodium_memzero. */
#include "seal.h"
#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define SEAL_VKEY_PREFIX "mxls1-"
#define SEAL_FIELD ",\"seal\":\""
#define SEAL_KEYFILE_MAX 2048
#define SEAL_LINE_MAX (1024 * 1024)
#define SEAL_WRONG_KEY_PROBE 8
#define SEAL_MIN_START 1577836800       /* 2020-01-01: keys are younger */
#define SEAL_CLOCK_SLACK 300    /* seconds a record's time may precede its epoch (clock steps) */  /* sealed lines tried before "wrong key" */

#define SEAL_RUN_BYTES 8
#define SEAL_OTK_BATCH 64       /* one-time keys made per keystream call */

/* The one-time keys of SEAL_OTK_BATCH consecutive records. */
struct otk_cache {
        bool valid;
        uint64_t base;          /* index of the first, a multiple of the batch */
        unsigned char ks[SEAL_OTK_BATCH * crypto_onetimeauth_KEYBYTES];
};

struct seal {
        char *path;
        char stream;
        bool dirty;             /* the file on disk is behind (a failed save) */
        uint64_t start, interval, epoch, index;
        unsigned char key[SEAL_KEY_BYTES];
        unsigned char prev[SEAL_MAC_BYTES];     /* MAC of the last line sealed */
        unsigned char wprev[SEAL_MAC_BYTES];    /* MAC of the last line written */
        uint64_t lost;                          /* sealed but not written since */
        unsigned char run[SEAL_RUN_BYTES];      /* this writer run's id */
        struct otk_cache otk;                   /* one-time keys of this epoch */
};

static int stream_id(char stream)
{
        return stream == SEAL_STREAM_DAEMON ? 1 : stream == SEAL_STREAM_SYNC ? 2 : 0;
}

static void le64(unsigned char out[8], uint64_t v)
{
        for (int i = 0; i < 8; i++)
                out[i] = (unsigned char)(v >> (8 * i));
}

/* key[0] of a stream from the seed. */
static void derive_key0(unsigned char key[SEAL_KEY_BYTES], const unsigned char seed[SEAL_KEY_BYTES], char stream)
{
        (void) crypto_kdf_derive_from_key(key, SEAL_KEY_BYTES, (uint64_t)stream_id(stream), "mxlseal0", seed);
}

/* key[e+1] from key[e], in place; the old key is gone. */
static void evolve_key(unsigned char key[SEAL_KEY_BYTES], uint64_t next_epoch)
{
        unsigned char next[SEAL_KEY_BYTES];

        (void) crypto_kdf_derive_from_key(next, SEAL_KEY_BYTES, next_epoch, "mxlevolv", key);
        memcpy(key, next, sizeof(next));
        sodium_memzero(next, sizeof(next));
}

/* The Poly1305 key of record index under key and run: 32 bytes of the
 * ChaCha20 keystream, at a place no other (run, index) uses: the nonce is
 * the run id and the index's top 32 bits, the block counter its low bits
 * halved (two keys per 64-byte block). Cached a batch at a time; the cache
 * must be dropped (otk_drop) when the key or the run changes. */
static const unsigned char *otk_get(struct otk_cache *c, const unsigned char key[SEAL_KEY_BYTES],
                                    const unsigned char run[SEAL_RUN_BYTES], uint64_t index)
{
        uint64_t base = index & ~(uint64_t)(SEAL_OTK_BATCH - 1);
        unsigned char nonce[crypto_stream_chacha20_ietf_NONCEBYTES];

        if (!c->valid || c->base != base) {
                memcpy(nonce, run, SEAL_RUN_BYTES);
                for (int i = 0; i < 4; i++)
                        nonce[SEAL_RUN_BYTES + i] = (unsigned char)(base >> (32 + 8 * i));
                memset(c->ks, 0, sizeof(c->ks));
                (void) crypto_stream_chacha20_ietf_xor_ic(c->ks, c->ks, sizeof(c->ks), nonce,
                                                          (uint32_t)(base & 0xffffffffu) / 2, key);
                c->base = base;
                c->valid = true;
        }
        return c->ks + (index - base) * crypto_onetimeauth_KEYBYTES;
}

static void otk_drop(struct otk_cache *c)
{
        sodium_memzero(c, sizeof(*c));
}

static void compute_mac(const unsigned char *otk, uint64_t index, const unsigned char prev[SEAL_MAC_BYTES],
                        const char *body, size_t len, unsigned char mac[SEAL_MAC_BYTES])
{
        crypto_onetimeauth_state st;
        unsigned char hdr[8 + SEAL_MAC_BYTES];

        le64(hdr, index);
        memcpy(hdr + 8, prev, SEAL_MAC_BYTES);
        (void) crypto_onetimeauth_init(&st, otk);
        (void) crypto_onetimeauth_update(&st, hdr, sizeof(hdr));
        (void) crypto_onetimeauth_update(&st, (const unsigned char *)body, len);
        (void) crypto_onetimeauth_final(&st, mac);
        /* st is not erased: it holds a one-time key, and the cache the
         * next 63 of them; the epoch's key itself is in memory anyway */
}

static void to_hex(char *out, const unsigned char *bin, size_t n)
{
        static const char hex[] = "0123456789abcdef";

        for (size_t i = 0; i < n; i++) {
                out[2 * i] = hex[bin[i] >> 4];
                out[2 * i + 1] = hex[bin[i] & 15];
        }
        out[2 * n] = '\0';
}

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

/* Exactly 2n lower-case hex digits at s. */
static bool from_hex(unsigned char *bin, size_t n, const char *s)
{
        for (size_t i = 0; i < n; i++) {
                int hi = hexval(s[2 * i]), lo = hi < 0 ? -1 : hexval(s[2 * i + 1]);

                if (lo < 0)
                        return false;
                bin[i] = (unsigned char)(hi << 4 | lo);
        }
        return true;
}

/* Decimal digits of v at the end of tmp[24]. */
static char *u64toa(uint64_t v, char tmp[24])
{
        char *p = tmp + 23;

        *p = '\0';
        do {
                *--p = (char)('0' + v % 10);
                v /= 10;
        } while (v);
        return p;
}

/* A decimal number at *s up to stop; advances *s. */
static bool parse_u64(const char **s, const char *end, char stop, uint64_t *ret)
{
        const char *p = *s;
        uint64_t v = 0;

        if (p >= end || *p < '0' || *p > '9')
                return false;
        while (p < end && *p >= '0' && *p <= '9') {
                if (v > (UINT64_MAX - 9) / 10)
                        return false;
                v = v * 10 + (uint64_t)(*p++ - '0');
        }
        if (p >= end || *p != stop)
                return false;
        *s = p + 1;
        *ret = v;
        return true;
}

/* ---- the seal field of a line ---- */

struct seal_field {
        size_t body_len;        /* the line up to ,"seal" */
        char stream;
        uint64_t epoch, index;
        unsigned char mac[SEAL_MAC_BYTES];
};

/* Find and parse ,"seal":"S:E:N:MAC"} ending the line (len without the
 * newline). Returns false when the line has no well-formed seal. */
static bool parse_seal(const char *line, size_t len, struct seal_field *f)
{
        const size_t flen = sizeof(SEAL_FIELD) - 1;
        const char *p, *end = line + len;
        size_t i;

        if (len < flen + 2 || line[0] != '{' || memcmp(end - 2, "\"}", 2) != 0)
                return false;
        /* the last ,"seal":" in the line: an escaped string cannot hold one */
        for (i = len - flen; ; i--) {
                if (memcmp(line + i, SEAL_FIELD, flen) == 0)
                        break;
                if (i == 0)
                        return false;
        }
        f->body_len = i;
        p = line + i + flen;
        if (end - p < 2 || !stream_id(p[0]) || p[1] != ':')
                return false;
        f->stream = p[0];
        p += 2;
        if (!parse_u64(&p, end, ':', &f->epoch) || !parse_u64(&p, end, ':', &f->index))
                return false;
        if (end - p != 2 * SEAL_MAC_BYTES + 2 || !from_hex(f->mac, SEAL_MAC_BYTES, p))
                return false;
        return true;
}

/* The fields of a sealed record's body (the line up to ,"seal") that
 * verify reads, through the JSON reader: the body closed with "}" must be
 * one JSON object. The MAC covers the bytes; these only steer the checks. */
struct body_fields {
        bool valid;                     /* the body is one JSON object */
        bool anchor;                    /* "event":"seal" */
        bool has_ts;                    /* "ts", to the second */
        time_t ts;
        bool has_prev, has_run, has_lost;
        unsigned char prev[SEAL_MAC_BYTES], run[SEAL_RUN_BYTES];
        uint64_t lost;
        bool close, stop;               /* "reason":"close" / "stop" */
};

/* "HEX" of exactly 2 * size digits into out. */
static bool value_hex(const struct json_value *jv, unsigned char *out, size_t size)
{
        return jv->type == JSON_STRING && jv->len == 2 * size && from_hex(out, size, jv->str);
}

/* An RFC 3339 "ts", to the second. */
static bool value_ts(const struct json_value *jv, time_t *ret)
{
        char buf[20];
        struct tm tm;
        const char *end;

        if (jv->type != JSON_STRING || jv->len < 19)
                return false;
        memcpy(buf, jv->str, 19);
        buf[19] = '\0';
        memset(&tm, 0, sizeof(tm));
        end = strptime(buf, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!end || *end)
                return false;
        *ret = timegm(&tm);
        return true;
}

/* Read body[0..len) into b; *buf (of *cap bytes, grown as needed) holds the
 * copy the reader decodes in place. Returns 0 or -ENOMEM. */
static int body_read(const char *body, size_t len, char **buf, size_t *cap, struct body_fields *b)
{
        struct json_iter it;
        struct json_value jv;
        const char *key;
        int r;

        memset(b, 0, sizeof(*b));
        if (len + 2 > *cap) {
                char *n = realloc(*buf, len + 2);

                if (!n)
                        return -ENOMEM;
                *buf = n;
                *cap = len + 2;
        }
        memcpy(*buf, body, len);
        (*buf)[len] = '}';
        if (json_iter_object(&it, *buf, len + 1) < 0)
                return 0;
        while ((r = json_iter_next(&it, &key, &jv)) > 0) {
                if (!strcmp(key, "event"))
                        b->anchor = jv.type == JSON_STRING && !strcmp(jv.str, "seal");
                else if (!strcmp(key, "ts"))
                        b->has_ts = value_ts(&jv, &b->ts);
                else if (!strcmp(key, "prev"))
                        b->has_prev = value_hex(&jv, b->prev, SEAL_MAC_BYTES);
                else if (!strcmp(key, "run"))
                        b->has_run = value_hex(&jv, b->run, SEAL_RUN_BYTES);
                else if (!strcmp(key, "lost"))
                        b->has_lost = json_value_uint(&jv, UINT64_MAX, &b->lost);
                else if (!strcmp(key, "reason") && jv.type == JSON_STRING) {
                        b->close = !strcmp(jv.str, "close");
                        b->stop = !strcmp(jv.str, "stop");
                }
        }
        if (r < 0) {
                memset(b, 0, sizeof(*b));
                return 0;
        }
        b->valid = true;
        return 0;
}

/* ---- key files ---- */

static int write_keyfile(const char *path, char stream, uint64_t start, uint64_t interval, uint64_t epoch,
                         const unsigned char key[SEAL_KEY_BYTES], uint64_t index,
                         const unsigned char prev[SEAL_MAC_BYTES], uid_t uid, gid_t gid)
{
        char buf[SEAL_KEYFILE_MAX], khex[2 * SEAL_KEY_BYTES + 1], phex[2 * SEAL_MAC_BYTES + 1];
        char *tmp = NULL, *dir = NULL, *slash;
        int fd = -1, dfd, n, r = 0;
        size_t done = 0;

        to_hex(khex, key, SEAL_KEY_BYTES);
        to_hex(phex, prev, SEAL_MAC_BYTES);
        n = snprintf(buf, sizeof(buf),
                     "# mxlock sealing key: secret, evolves every epoch; see mxlock setup-keys\n"
                     "version 1\nstream %c\nstart %llu\ninterval %llu\nepoch %llu\nkey %s\nindex %llu\nprev %s\n",
                     stream, (unsigned long long)start, (unsigned long long)interval, (unsigned long long)epoch,
                     khex, (unsigned long long)index, phex);
        sodium_memzero(khex, sizeof(khex));
        if (asprintf(&tmp, "%s.tmp", path) < 0) {
                tmp = NULL;
                r = -ENOMEM;
                goto out;
        }
        (void) unlink(tmp);     /* a leftover of a crash in here */
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
                r = -errno;
                goto out;
        }
        if (uid != (uid_t)-1 && fchown(fd, uid, gid) < 0) {
                r = -errno;
                goto out;
        }
        while (done < (size_t)n) {
                ssize_t w = write(fd, buf + done, (size_t)n - done);

                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0) {
                        r = w < 0 ? -errno : -EIO;
                        goto out;
                }
                done += (size_t)w;
        }
        if (fsync(fd) < 0 || close(fd) < 0) {
                fd = -1;
                r = -errno;
                goto out;
        }
        fd = -1;
        if (rename(tmp, path) < 0) {
                r = -errno;
                goto out;
        }
        /* the rename itself reaches the disk with the directory */
        dir = strdup(path);
        if (!dir) {
                r = -ENOMEM;
                goto out;
        }
        slash = strrchr(dir, '/');
        if (slash)
                slash[slash == dir ? 1 : 0] = '\0';
        dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
                (void) fsync(dfd);
                (void) close(dfd);
        }
out:
        sodium_memzero(buf, sizeof(buf));
        if (fd >= 0) {
                (void) close(fd);
                (void) unlink(tmp);
        } else if (r < 0 && tmp) {
                (void) unlink(tmp);
        }
        free(tmp);
        free(dir);
        return r;
}

int seal_setup(const char *path, uint64_t interval, time_t now, uid_t uid, gid_t gid, bool force,
               char vkey[SEAL_VKEY_MAX])
{
        unsigned char seed[SEAL_KEY_BYTES], key[SEAL_KEY_BYTES], zero[SEAL_MAC_BYTES] = { 0 };
        char shex[2 * SEAL_KEY_BYTES + 1], *spath = NULL;
        struct stat st;
        int r;

        if (sodium_init() < 0)
                return -EIO;
        if (interval < SEAL_MIN_INTERVAL || now < SEAL_MIN_START)
                return -EINVAL;
        if (asprintf(&spath, "%s.sync", path) < 0)
                return -ENOMEM;
        if (!force && (lstat(path, &st) == 0 || lstat(spath, &st) == 0)) {
                r = -EEXIST;
                goto out;
        }
        randombytes_buf(seed, sizeof(seed));
        derive_key0(key, seed, SEAL_STREAM_DAEMON);
        r = write_keyfile(path, SEAL_STREAM_DAEMON, (uint64_t)now, interval, 0, key, 0, zero, uid, gid);
        if (r < 0)
                goto out;
        derive_key0(key, seed, SEAL_STREAM_SYNC);
        r = write_keyfile(spath, SEAL_STREAM_SYNC, (uint64_t)now, interval, 0, key, 0, zero, uid, gid);
        if (r < 0)
                goto out;
        to_hex(shex, seed, sizeof(seed));
        snprintf(vkey, SEAL_VKEY_MAX, SEAL_VKEY_PREFIX "%s-%llu-%llu", shex, (unsigned long long)now,
                 (unsigned long long)interval);
        sodium_memzero(shex, sizeof(shex));
out:
        sodium_memzero(seed, sizeof(seed));
        sodium_memzero(key, sizeof(key));
        free(spath);
        return r;
}

/* One "name value" line of a key file into s. */
static int keyfile_field(struct seal *s, char *line, bool *seen_key)
{
        char *v = strchr(line, ' ');
        const char *p;
        uint64_t n;

        if (line[0] == '#' || line[0] == '\0')
                return 0;
        if (!v)
                return -EBADMSG;
        *v++ = '\0';
        if (!strcmp(line, "stream"))
                return stream_id(v[0]) && !v[1] ? (s->stream = v[0], 0) : -EBADMSG;
        if (!strcmp(line, "key")) {
                if (strlen(v) != 2 * SEAL_KEY_BYTES || !from_hex(s->key, SEAL_KEY_BYTES, v))
                        return -EBADMSG;
                *seen_key = true;
                return 0;
        }
        if (!strcmp(line, "prev"))
                return strlen(v) == 2 * SEAL_MAC_BYTES && from_hex(s->prev, SEAL_MAC_BYTES, v) ? 0 : -EBADMSG;
        p = v;
        if (!parse_u64(&p, v + strlen(v) + 1, '\0', &n))
                return -EBADMSG;
        if (!strcmp(line, "version"))
                return n == 1 ? 0 : -EBADMSG;
        if (!strcmp(line, "start"))
                s->start = n;
        else if (!strcmp(line, "interval"))
                s->interval = n;
        else if (!strcmp(line, "epoch"))
                s->epoch = n;
        else if (!strcmp(line, "index"))
                s->index = n;
        else
                return -EBADMSG;
        return 0;
}

int seal_open(const char *path, struct seal **ret, int *ret_line)
{
        char buf[SEAL_KEYFILE_MAX + 1], *line, *save = NULL;
        struct seal *s;
        bool seen_key = false;
        ssize_t n;
        int fd, r = 0, lineno = 0;

        *ret_line = 0;
        if (sodium_init() < 0)
                return -EIO;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, SEAL_KEYFILE_MAX);
        r = n < 0 ? -errno : 0;
        (void) close(fd);
        if (r < 0)
                return r;
        buf[n] = '\0';
        s = calloc(1, sizeof(*s));
        if (!s) {
                r = -ENOMEM;
                goto out;
        }
        (void) sodium_mlock(s, sizeof(*s));     /* best effort: keep the key out of swap */
        for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                lineno++;
                r = keyfile_field(s, line, &seen_key);
                if (r < 0) {
                        *ret_line = lineno;
                        goto out;
                }
        }
        if (!seen_key || !s->stream || s->interval == 0) {
                r = -EBADMSG;
                goto out;
        }
        s->path = strdup(path);
        if (!s->path) {
                r = -ENOMEM;
                goto out;
        }
        memcpy(s->wprev, s->prev, SEAL_MAC_BYTES);
        randombytes_buf(s->run, sizeof(s->run));
        *ret = s;
        s = NULL;
out:
        sodium_memzero(buf, sizeof(buf));
        if (s) {
                sodium_munlock(s, sizeof(*s));  /* zeroes it too */
                free(s);
        }
        return r;
}

/* The seal of the last whole line of stream in buf. */
static bool last_sealed(const char *buf, size_t len, char stream, struct seal_field *f)
{
        const char *end, *nl, *start;

        /* only whole lines: the last one may have been cut */
        while (len > 0 && buf[len - 1] != '\n')
                len--;
        end = buf + len;
        while (end > buf) {
                nl = end - 1;   /* the newline of the line before end */
                start = nl;
                while (start > buf && start[-1] != '\n')
                        start--;
                if (parse_seal(start, (size_t)(nl - start), f) && f->stream == stream)
                        return true;
                end = start;
        }
        return false;
}

int seal_resume(struct seal *s, const char *buf, size_t len)
{
        struct seal_field f;

        if (!last_sealed(buf, len, s->stream, &f) || f.index < s->index)
                return 0;
        s->index = f.index + 1;
        memcpy(s->prev, f.mac, SEAL_MAC_BYTES);
        memcpy(s->wprev, f.mac, SEAL_MAC_BYTES);
        if (f.epoch > s->epoch) {
                /* a key file older than the log: never seal backwards */
                while (s->epoch < f.epoch)
                        evolve_key(s->key, ++s->epoch);
                otk_drop(&s->otk);
        }
        s->dirty = true;
        return 1;
}

void seal_written(struct seal *s)
{
        memcpy(s->wprev, s->prev, SEAL_MAC_BYTES);
        s->lost = 0;
}

void seal_lost(struct seal *s, uint64_t n, const char *written, size_t len)
{
        struct seal_field f;

        if (last_sealed(written, len, s->stream, &f)) {
                /* everything up to that line reached the file */
                memcpy(s->wprev, f.mac, SEAL_MAC_BYTES);
                s->lost = 0;
        }
        memcpy(s->prev, s->wprev, SEAL_MAC_BYTES);
        s->lost += n;
}

uint64_t seal_pending_lost(const struct seal *s)
{
        return s->lost;
}

int seal_save(struct seal *s)
{
        int r = write_keyfile(s->path, s->stream, s->start, s->interval, s->epoch, s->key, s->index, s->prev,
                              (uid_t)-1, (gid_t)-1);

        s->dirty = r < 0;
        return r;
}

static uint64_t epoch_of(const struct seal *s, time_t now)
{
        return now > 0 && (uint64_t)now > s->start ? ((uint64_t)now - s->start) / s->interval : 0;
}

bool seal_due(const struct seal *s, time_t now)
{
        return epoch_of(s, now) > s->epoch;
}

int seal_advance(struct seal *s, time_t now)
{
        uint64_t want = epoch_of(s, now);
        int r;

        if (want <= s->epoch)
                return s->dirty ? seal_save(s) : 0;
        while (s->epoch < want)
                evolve_key(s->key, ++s->epoch);
        otk_drop(&s->otk);
        r = seal_save(s);
        return r < 0 ? r : 1;
}

size_t seal_line(struct seal *s, const char *body, size_t len, char suffix[SEAL_SUFFIX_MAX])
{
        unsigned char mac[SEAL_MAC_BYTES];
        char tmp[24], *p = suffix, *d;
        size_t n;

        compute_mac(otk_get(&s->otk, s->key, s->run, s->index), s->index, s->prev, body, len, mac);
        memcpy(p, SEAL_FIELD, sizeof(SEAL_FIELD) - 1);
        p += sizeof(SEAL_FIELD) - 1;
        *p++ = s->stream;
        *p++ = ':';
        d = u64toa(s->epoch, tmp);
        n = strlen(d);
        memcpy(p, d, n);
        p += n;
        *p++ = ':';
        d = u64toa(s->index, tmp);
        n = strlen(d);
        memcpy(p, d, n);
        p += n;
        *p++ = ':';
        to_hex(p, mac, SEAL_MAC_BYTES);
        p += 2 * SEAL_MAC_BYTES;
        memcpy(p, "\"}\n", 4);
        p += 3;
        memcpy(s->prev, mac, SEAL_MAC_BYTES);
        s->index++;
        return (size_t)(p - suffix);
}

void seal_prev_hex(const struct seal *s, char hex[2 * SEAL_MAC_BYTES + 1])
{
        to_hex(hex, s->prev, SEAL_MAC_BYTES);
}

void seal_run_hex(const struct seal *s, char hex[2 * SEAL_RUN_BYTES + 1])
{
        to_hex(hex, s->run, SEAL_RUN_BYTES);
}

void seal_close(struct seal *s)
{
        if (!s)
                return;
        (void) seal_save(s);
        free(s->path);
        sodium_munlock(s, sizeof(*s));
        free(s);
}

/* ---- verification ---- */

struct vstream {
        bool started;
        uint64_t next;                  /* expected index */
        unsigned char prev[SEAL_MAC_BYTES];
        uint64_t last_epoch;
        bool have_key;
        uint64_t key_epoch;
        unsigned char key[SEAL_KEY_BYTES];
        unsigned char run[SEAL_RUN_BYTES];      /* of the one-time key cache */
        unsigned char cur_run[SEAL_RUN_BYTES];  /* named by the stream's last seal record */
        struct otk_cache otk;                   /* for key_epoch and run */
        size_t last_file;               /* where its last record was */
        size_t last_file_seen;
        uint64_t last_line;
        bool last_close;                /* that record closed its epoch ... */
        uint64_t last_close_at;         /* ... in the epoch its time falls in */
        bool last_stop;                 /* that record ended the writer's run */
};

struct verifier {
        unsigned char seed[SEAL_KEY_BYTES];
        uint64_t start, interval, max_epoch;
        struct vstream st[3];           /* by stream_id */
        struct seal_verify_stats *stats;
        struct seal_failure *fail;
        bool failed;
        /* records before the first sealed one: fine only before record 0 */
        bool any_sealed;
        size_t unsealed_file;
        uint64_t unsealed_line, unsealed_n;
        /* a gap: look on for the missing record to tell reordered from deleted */
        bool searching;
        char search_stream;
        uint64_t search_index, search_found, search_gap;
        size_t search_file;
        uint64_t search_line;
        /* a first record that does not verify: edited, or the wrong key? */
        bool mac_pending;
        char *body;                     /* a record's body for the JSON reader */
        size_t body_cap;
        size_t mac_file;
        uint64_t mac_line, mac_probes;
};

static void vfail(struct verifier *v, size_t file, uint64_t line, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void vfail(struct verifier *v, size_t file, uint64_t line, const char *fmt, ...)
{
        va_list ap;

        if (v->failed)
                return;
        v->failed = true;
        v->fail->file = file;
        v->fail->line = line;
        va_start(ap, fmt);
        vsnprintf(v->fail->why, sizeof(v->fail->why), fmt, ap);
        va_end(ap);
}

static int parse_vkey(struct verifier *v, const char *vkey)
{
        const size_t pl = sizeof(SEAL_VKEY_PREFIX) - 1;
        const char *p, *end;
        uint64_t now;

        while (*vkey == ' ' || *vkey == '\t')
                vkey++;
        end = vkey + strlen(vkey);
        while (end > vkey && (end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\r'))
                end--;
        if ((size_t)(end - vkey) < pl + 2 * SEAL_KEY_BYTES + 4 || memcmp(vkey, SEAL_VKEY_PREFIX, pl) != 0)
                return -EINVAL;
        p = vkey + pl;
        if (!from_hex(v->seed, SEAL_KEY_BYTES, p) || p[2 * SEAL_KEY_BYTES] != '-')
                return -EINVAL;
        p += 2 * SEAL_KEY_BYTES + 1;
        if (!parse_u64(&p, end, '-', &v->start) || p >= end)
                return -EINVAL;
        v->interval = 0;
        for (; p < end; p++) {
                if (*p < '0' || *p > '9' || v->interval > UINT32_MAX)
                        return -EINVAL;
                v->interval = v->interval * 10 + (uint64_t)(*p - '0');
        }
        /* bounds that keep the key evolution a verifier does short (a few
         * million steps at most): no key is older or has shorter epochs */
        if (v->interval < SEAL_MIN_INTERVAL || v->start < SEAL_MIN_START)
                return -EINVAL;
        /* a record cannot come from an epoch after tomorrow */
        now = (uint64_t)time(NULL) + 86400;
        v->max_epoch = (now > v->start ? now - v->start : 0) / v->interval + 1;
        return 0;
}

/* The one-time key of record index of a stream in epoch e and run. */
static const unsigned char *stream_otk(struct verifier *v, char stream, uint64_t e,
                                       const unsigned char run[SEAL_RUN_BYTES], uint64_t index)
{
        struct vstream *s = &v->st[stream_id(stream)];

        if (!s->have_key || e < s->key_epoch) {
                derive_key0(s->key, v->seed, stream);
                s->key_epoch = 0;
                s->have_key = true;
                otk_drop(&s->otk);
        }
        if (e != s->key_epoch) {
                while (s->key_epoch < e)
                        evolve_key(s->key, ++s->key_epoch);
                otk_drop(&s->otk);
        }
        if (memcmp(run, s->run, SEAL_RUN_BYTES) != 0) {
                memcpy(s->run, run, SEAL_RUN_BYTES);
                otk_drop(&s->otk);
        }
        return otk_get(&s->otk, s->key, s->run, index);
}

/* While searching a gap: is this the missing record? */
static void search_line(struct verifier *v, const struct seal_field *f)
{
        if (f->stream == v->search_stream && f->index == v->search_index) {
                v->searching = false;
                vfail(v, v->search_file, v->search_line,
                      "reordered: record %c:%llu comes before record %c:%llu, which is further on",
                      v->search_stream, (unsigned long long)v->search_found, v->search_stream,
                      (unsigned long long)v->search_index);
        }
}

static void check_line(struct verifier *v, size_t file, uint64_t lineno, const char *line, size_t len, bool last_cut)
{
        struct seal_field f;
        struct vstream *s;
        unsigned char mac[SEAL_MAC_BYTES];
        struct body_fields b;
        time_t ts;
        bool anchor;

        v->stats->lines++;
        if (!parse_seal(line, len, &f)) {
                if (v->searching || v->mac_pending)
                        return;
                if (last_cut) {
                        vfail(v, file, lineno, "truncated: the last line is cut off");
                        return;
                }
                if (!v->any_sealed) {
                        if (v->unsealed_n++ == 0) {
                                v->unsealed_file = file;
                                v->unsealed_line = lineno;
                        }
                        return;
                }
                vfail(v, file, lineno, "inserted: a record without a seal (or its seal was removed)");
                return;
        }
        if (v->searching) {
                search_line(v, &f);
                return;
        }
        s = &v->st[stream_id(f.stream)];
        if (body_read(line, f.body_len, &v->body, &v->body_cap, &b) < 0) {
                vfail(v, file, lineno, "out of memory");
                return;
        }
        anchor = b.anchor;
        if (!v->any_sealed) {
                v->any_sealed = true;
                if (v->unsealed_n && f.index != 0) {
                        vfail(v, v->unsealed_file, v->unsealed_line,
                              "inserted: a record without a seal before the sealed records");
                        return;
                }
                v->stats->unsealed_before = v->unsealed_n;
        }
        if (f.epoch > v->max_epoch) {
                vfail(v, file, lineno, "edited: the seal names epoch %llu, which has not begun yet",
                      (unsigned long long)f.epoch);
                return;
        }
        {
                if (!b.valid) {
                        vfail(v, file, lineno, "edited: the record is not one JSON object");
                        return;
                }
                if (!b.has_ts) {
                        vfail(v, file, lineno, "edited: the record has no readable \"ts\"");
                        return;
                }
                ts = b.ts;
                if ((uint64_t)ts + SEAL_CLOCK_SLACK < v->start + f.epoch * v->interval) {
                        vfail(v, file, lineno, "edited: sealed in epoch %llu, which began after the record's time: "
                              "rewritten later with a newer key", (unsigned long long)f.epoch);
                        return;
                }
        }
        if (anchor && (!b.has_prev || !b.has_run)) {
                vfail(v, file, lineno, "edited: a seal record without its \"prev\" or \"run\"");
                return;
        }
        if (!s->started) {
                if (anchor) {
                        memcpy(s->prev, b.prev, SEAL_MAC_BYTES);
                } else {
                        vfail(v, file, lineno, "deleted: the chain of stream %c starts inside (at record %llu) "
                              "without its seal record: the lines before it were cut", f.stream,
                              (unsigned long long)f.index);
                        return;
                }
                s->started = true;
                s->next = f.index;
                s->last_epoch = f.epoch;
        }
        if (f.index > s->next) {
                uint64_t lost;

                if (anchor && b.has_lost && (lost = b.lost) == f.index - s->next) {
                        /* the writer could not write them (disk full) and says so */
                        v->stats->lost += lost;
                        s->next = f.index;
                } else {
                        v->searching = true;
                        v->search_stream = f.stream;
                        v->search_index = s->next;
                        v->search_found = f.index;
                        v->search_gap = f.index - s->next;
                        v->search_file = file;
                        v->search_line = lineno;
                        return;
                }
        }
        if (f.index < s->next) {
                vfail(v, file, lineno, "inserted or reordered: record %c:%llu again after record %c:%llu "
                      "(a copy, or a record moved down)", f.stream, (unsigned long long)f.index, f.stream,
                      (unsigned long long)(s->next - 1));
                return;
        }
        if (f.epoch < s->last_epoch) {
                vfail(v, file, lineno, "reordered: epoch %llu after epoch %llu", (unsigned long long)f.epoch,
                      (unsigned long long)s->last_epoch);
                return;
        }
        if (anchor && sodium_memcmp(b.prev, s->prev, SEAL_MAC_BYTES) != 0 && !v->mac_pending) {
                vfail(v, file, lineno, "deleted or replaced: this seal record does not continue the chain "
                      "of the record before it (file %zu line %llu)", s->last_file + 1,
                      (unsigned long long)s->last_line);
                return;
        }
        /* A writer closes an epoch (a "close" seal record, written when the
         * epoch is over) before it seals in a later one, and moves to the
         * epoch of that record's time, not beyond: records of an epoch
         * that is over cannot be removed and replaced by an intruder's. */
        if (f.epoch > s->last_epoch && !v->mac_pending) {
                if (!s->last_close) {
                        vfail(v, file, lineno, "deleted: epoch %llu of stream %c ends at file %zu line %llu "
                              "without its closing seal record: records after it were removed (or the writer "
                              "crashed and came back in a later epoch)", (unsigned long long)s->last_epoch,
                              f.stream, s->last_file + 1, (unsigned long long)s->last_line);
                        return;
                }
                if (f.epoch > s->last_close_at) {
                        vfail(v, file, lineno, "deleted: epoch %llu follows the close of epoch %llu at file %zu "
                              "line %llu, written in epoch %llu: the records of the epochs between were removed",
                              (unsigned long long)f.epoch, (unsigned long long)s->last_epoch, s->last_file + 1,
                              (unsigned long long)s->last_line, (unsigned long long)s->last_close_at);
                        return;
                }
        }
        compute_mac(stream_otk(v, f.stream, f.epoch, anchor ? b.run : s->cur_run, f.index), f.index,
                    anchor ? b.prev : s->prev, line, f.body_len, mac);
        if (anchor)
                memcpy(s->cur_run, b.run, SEAL_RUN_BYTES);
        if (sodium_memcmp(mac, f.mac, SEAL_MAC_BYTES) != 0) {
                if (v->mac_pending) {
                        if (++v->mac_probes >= SEAL_WRONG_KEY_PROBE)
                                goto wrong_key;
                } else if (v->stats->sealed > 0) {
                        vfail(v, file, lineno, "edited: the record does not match its seal");
                        return;
                } else {
                        /* nothing verified yet: edited, or the wrong key */
                        v->mac_pending = true;
                        v->mac_file = file;
                        v->mac_line = lineno;
                        v->mac_probes = 1;
                }
        } else if (v->mac_pending) {
                vfail(v, v->mac_file, v->mac_line, "edited: the record does not match its seal");
                return;
        } else {
                v->stats->sealed++;
                if (anchor)
                        v->stats->anchors++;
        }
        memcpy(s->prev, f.mac, SEAL_MAC_BYTES);
        s->next = f.index + 1;
        s->last_epoch = f.epoch;
        s->last_file = file;
        s->last_line = lineno;
        s->last_close = anchor && b.close;
        s->last_close_at = (uint64_t)ts > v->start ? ((uint64_t)ts - v->start) / v->interval : 0;
        s->last_stop = anchor && b.stop;
        s->last_file_seen = file;
        if (f.stream == SEAL_STREAM_DAEMON) {
                v->stats->last_epoch_start = v->start + f.epoch * v->interval;
                v->stats->ended_stop = s->last_stop;
        }
        return;
wrong_key:
        vfail(v, v->mac_file, v->mac_line, "wrong key: no record verifies with this verification key");
}

/* Read one file line by line into check_line. */
static int verify_file(struct verifier *v, size_t idx, const char *path)
{
        size_t cap = 64 * 1024, have;
        char *buf = malloc(cap);
        uint64_t lineno = 0;
        gzFile gz;
        int r = 0, zerr;

        if (!buf)
                return -ENOMEM;
        gz = gzopen(path, "rb");
        if (!gz) {
                r = errno ? -errno : -ENOMEM;
                free(buf);
                return r;
        }
        while (!v->failed) {
                have = 0;
                for (;;) {
                        if (!gzgets(gz, buf + have, (int)(cap - have)))
                                break;
                        have += strlen(buf + have);
                        if (have > 0 && buf[have - 1] == '\n')
                                break;
                        if (cap - have > 1)
                                continue;       /* read up to EOF */
                        if (cap >= SEAL_LINE_MAX) {
                                vfail(v, idx, lineno + 1, "edited: a line longer than %d bytes", SEAL_LINE_MAX);
                                goto out;
                        }
                        {
                                char *nb = realloc(buf, cap * 2);

                                if (!nb) {
                                        r = -ENOMEM;
                                        goto out;
                                }
                                buf = nb;
                                cap *= 2;
                        }
                }
                (void) gzerror(gz, &zerr);
                if (zerr == Z_ERRNO) {
                        r = errno ? -errno : -EIO;
                        goto out;
                }
                if (zerr != Z_OK) {
                        /* Z_BUF_ERROR: the gzip stream ends early */
                        vfail(v, idx, lineno + 1, "truncated: the compressed file is damaged or cut off");
                        goto out;
                }
                if (have == 0)
                        break;
                lineno++;
                if (buf[have - 1] == '\n')
                        check_line(v, idx, lineno, buf, have - 1, false);
                else
                        check_line(v, idx, lineno, buf, have, true);
        }
out:
        gzclose(gz);
        free(buf);
        return r;
}

int seal_verify(const char *vkey, const char *const *files, size_t nfiles, struct seal_failure *fail,
                struct seal_verify_stats *stats)
{
        struct verifier *v;
        size_t i;
        int r = 0;

        memset(fail, 0, sizeof(*fail));
        memset(stats, 0, sizeof(*stats));
        if (sodium_init() < 0)
                return -EIO;
        v = calloc(1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        v->fail = fail;
        v->stats = stats;
        r = parse_vkey(v, vkey);
        if (r < 0)
                goto out;
        for (i = 0; i < nfiles && !v->failed; i++) {
                r = verify_file(v, i, files[i]);
                if (r < 0) {
                        fail->file = i;
                        goto out;
                }
        }
        if (v->searching)
                vfail(v, v->search_file, v->search_line,
                      "deleted: %llu record(s) of stream %c missing before this line (expected record %llu, "
                      "found %llu)", (unsigned long long)v->search_gap, v->search_stream,
                      (unsigned long long)v->search_index, (unsigned long long)v->search_found);
        if (v->mac_pending)
                vfail(v, v->mac_file, v->mac_line, "wrong key: no record verifies with this verification key");
        /* the next epoch's first record follows a close at once: a log that
         * ends at a close was cut there */
        for (i = 1; i < 3 && !v->failed; i++)
                if (v->st[i].started && v->st[i].last_close)
                        vfail(v, v->st[i].last_file, v->st[i].last_line + 1, "truncated: the log ends at the "
                              "close of epoch %llu; the records after it were removed",
                              (unsigned long long)v->st[i].last_epoch);
        if (!v->failed && !v->any_sealed)
                vfail(v, nfiles ? nfiles - 1 : 0, stats->lines, "missing seal: no sealed record in %s",
                      nfiles == 1 ? "this file" : "these files");
        r = v->failed ? 1 : 0;
out:
        free(v->body);
        sodium_memzero(v, sizeof(*v));
        free(v);
        return r;
}
