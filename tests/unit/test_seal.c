/* tests/unit/test_seal.c: the sealed audit log: the writer (audit.c with a
 * key), key evolution, and the verifier against each kind of tampering. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "audit.h"
#include "config.h"
#include "seal.h"

static char tmpdir[64];
static char keyfile[128];
static char vkey[SEAL_VKEY_MAX];
static char files[3][128];      /* rotated .gz, rotated plain, live */

#define PER_FILE 6              /* records written per file (plus seal records) */

static int setup_dir(void **state)
{
        (void)state;
        strcpy(tmpdir, "/tmp/mxlock-seal-XXXXXX");
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
        char cmd[128];

        (void)state;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

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

static void spit(const char *path, const char *buf, size_t len);

static void spit_str(const char *path, const char *text)
{
        spit(path, text, strlen(text));
}

static void spit(const char *path, const char *buf, size_t len)
{
        FILE *f = fopen(path, "wbe");

        assert_non_null(f);
        assert_int_equal(fwrite(buf, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
}

static void gzip_file(const char *from, const char *to)
{
        size_t n;
        char *buf = slurp(from, &n);
        gzFile gz = gzopen(to, "wb");

        assert_non_null(gz);
        assert_int_equal(gzwrite(gz, buf, (unsigned)n), (int)n);
        assert_int_equal(gzclose(gz), Z_OK);
        free(buf);
        assert_int_equal(unlink(from), 0);
}

static void gunzip_file(const char *from, const char *to)
{
        char *buf = malloc(1 << 20);
        gzFile gz = gzopen(from, "rb");
        int n;

        assert_non_null(gz);
        n = gzread(gz, buf, 1 << 20);
        assert_true(n >= 0);
        gzclose(gz);
        spit(to, buf, (size_t)n);
        free(buf);
}

static void write_records(struct audit *a, unsigned first, unsigned n)
{
        struct jline j;

        for (unsigned i = first; i < first + n; i++) {
                jline_begin(&j, NULL, "refused");
                jline_str(&j, "src", "198.51.100.7");
                jline_uint(&j, "dport", 25);
                jline_uint(&j, "n", i);
                jline_end(&j);
                assert_int_equal(audit_write(a, &j), 0);
        }
        assert_true(audit_flush(a) >= 0);
}

/* A fresh key with its epoch 0 starting `back` epochs of `interval` ago. */
static void new_key(const char *name, uint64_t interval, unsigned back, char out[SEAL_VKEY_MAX])
{
        char sync[160];

        snprintf(keyfile, sizeof(keyfile), "%s/%s", tmpdir, name);
        snprintf(sync, sizeof(sync), "%s.sync", keyfile);
        (void) unlink(keyfile);
        (void) unlink(sync);
        assert_int_equal(seal_setup(keyfile, interval, time(NULL) - (time_t)(back * interval), (uid_t)-1,
                                    (gid_t)-1, false, out), 0);
}

/* Run the verifier over the given files. */
static int verify(const char *key, const char *const *fs, size_t n, struct seal_failure *f)
{
        struct seal_verify_stats st;

        return seal_verify(key, fs, n, f, &st);
}

static void expect_fail(const char *const *fs, size_t n, size_t file, uint64_t line, const char *why)
{
        struct seal_failure f;
        int r = verify(vkey, fs, n, &f);

        if (r != 1 || f.file != file || f.line != line || strncmp(f.why, why, strlen(why)) != 0)
                fail_msg("expected %s:%llu: %s..., got %d %s:%llu: %s", fs[file], (unsigned long long)line, why, r,
                         fs[f.file], (unsigned long long)f.line, f.why);
}

/* The standard three-file log, built fresh for each test. */
static void three_files(void)
{
        char live[128];
        struct audit *a;

        new_key("seal.key", 900, 0, vkey);
        snprintf(live, sizeof(live), "%s/audit.jsonl", tmpdir);
        (void) unlink(live);
        snprintf(files[0], sizeof(files[0]), "%s/audit.jsonl-1", tmpdir);
        snprintf(files[1], sizeof(files[1]), "%s/audit.jsonl-2", tmpdir);
        snprintf(files[2], sizeof(files[2]), "%s", live);
        assert_int_equal(audit_open(live, &a), 0);
        assert_int_equal(audit_seal(a, keyfile, &(int){ 0 }), 0);
        write_records(a, 0, PER_FILE);
        assert_int_equal(rename(live, files[0]), 0);
        assert_int_equal(audit_reopen(a), 0);
        write_records(a, 100, PER_FILE);
        assert_int_equal(rename(live, files[1]), 0);
        assert_int_equal(audit_reopen(a), 0);
        write_records(a, 200, PER_FILE);
        audit_close(a);
        /* the oldest is compressed, as logrotate's delaycompress leaves it */
        strcat(files[0], ".gz");
        {
                char plain[128];

                snprintf(plain, sizeof(plain), "%s/audit.jsonl-1", tmpdir);
                (void) unlink(files[0]);
                gzip_file(plain, files[0]);
        }
}

static const char *const *all(void)
{
        static const char *v[3];

        for (int i = 0; i < 3; i++)
                v[i] = files[i];
        return v;
}

/* Replace line `line` (1-based) of path with text (NULL: delete it); or
 * insert text before it when insert. */
static void edit_line(const char *path, unsigned line, const char *text, bool insert)
{
        size_t n, out = 0;
        char *buf = slurp(path, &n), *res = malloc(n + 8192), *p = buf;
        unsigned k = 1;

        while (p < buf + n) {
                char *nl = memchr(p, '\n', (size_t)(buf + n - p));
                size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(buf + n - p);

                if (k == line && text) {
                        memcpy(res + out, text, strlen(text));
                        out += strlen(text);
                }
                if (k != line || insert) {
                        memcpy(res + out, p, len);
                        out += len;
                }
                p += len;
                k++;
        }
        spit(path, res, out);
        free(buf);
        free(res);
}

/* Line `line` of path (with its newline) into a new string. */
static char *get_line(const char *path, unsigned line)
{
        size_t n;
        char *buf = slurp(path, &n), *p = buf, *res;
        unsigned k = 1;

        while (k < line) {
                p = strchr(p, '\n');
                assert_non_null(p);
                p++;
                k++;
        }
        res = strndup(p, (size_t)(strchr(p, '\n') - p) + 1);
        free(buf);
        return res;
}

/* ---- tests ---- */

static void test_clean_chain(void **state)
{
        struct seal_verify_stats st;
        struct seal_failure f;
        char *first;

        (void)state;
        three_files();
        assert_int_equal(seal_verify(vkey, all(), 3, &f, &st), 0);
        /* 18 records, an open, two reopen and a close seal record */
        assert_int_equal(st.sealed, 3 * PER_FILE + 4);
        assert_int_equal(st.anchors, 4);
        assert_true(st.ended_stop);
        /* every file starts with a seal record naming the chain before it */
        first = get_line(files[1], 1);
        assert_non_null(strstr(first, "\"event\":\"seal\",\"reason\":\"reopen\",\"prev\":\""));
        assert_non_null(strstr(first, ",\"seal\":\"d:0:"));
        free(first);
        /* each file also verifies on its own */
        assert_int_equal(verify(vkey, (const char *const[]){ files[1] }, 1, &f), 0);
        assert_int_equal(verify(vkey, (const char *const[]){ files[0] }, 1, &f), 0);
}

static void test_edit_byte(void **state)
{
        char *l;

        (void)state;
        three_files();
        l = get_line(files[1], 4);
        *strstr(l, "198.51") = '8';     /* 198 -> 898 */
        edit_line(files[1], 4, l, false);
        free(l);
        expect_fail(all(), 3, 1, 4, "edited");
}

static void test_edit_in_gz(void **state)
{
        char plain[128];
        char *l;

        (void)state;
        three_files();
        snprintf(plain, sizeof(plain), "%s/plain", tmpdir);
        gunzip_file(files[0], plain);
        l = get_line(plain, 3);
        *strstr(l, "\"dport\":25") = ' ';
        edit_line(plain, 3, l, false);
        free(l);
        (void) unlink(files[0]);
        gzip_file(plain, files[0]);
        expect_fail(all(), 3, 0, 3, "edited");
}

static void test_delete_line(void **state)
{
        (void)state;
        three_files();
        edit_line(files[1], 3, NULL, false);
        expect_fail(all(), 3, 1, 3, "deleted: 1 record");
}

static void test_insert_line(void **state)
{
        (void)state;
        three_files();
        edit_line(files[2], 3, "{\"ts\":\"2026-12-04T10:00:00.000000Z\",\"event\":\"refused\",\"src\":\"192.0.2.9\"}\n",
                  true);
        expect_fail(all(), 3, 2, 3, "inserted");
}

static void test_insert_copy(void **state)
{
        char *l;

        (void)state;
        three_files();
        l = get_line(files[1], 2);
        edit_line(files[1], 5, l, true);        /* an old sealed record again */
        free(l);
        expect_fail(all(), 3, 1, 5, "inserted or reordered");
}

static void test_swap_lines(void **state)
{
        char *a, *b;

        (void)state;
        three_files();
        a = get_line(files[2], 3);
        b = get_line(files[2], 4);
        edit_line(files[2], 3, b, false);
        edit_line(files[2], 4, a, false);
        free(a);
        free(b);
        expect_fail(all(), 3, 2, 3, "reordered");
}

static void test_truncate_rotated_tail(void **state)
{
        size_t n;
        char *buf;

        (void)state;
        three_files();
        /* the last two records of the middle file go */
        buf = slurp(files[1], &n);
        n--;
        for (int k = 0; k < 2; k++) {
                while (n > 0 && buf[n - 1] != '\n')
                        n--;
                n--;
        }
        n++;
        spit(files[1], buf, n);
        free(buf);
        expect_fail(all(), 3, 2, 1, "deleted: 2 record");
}

static void test_truncate_cut_line(void **state)
{
        size_t n;
        char *buf;

        (void)state;
        three_files();
        buf = slurp(files[2], &n);
        spit(files[2], buf, n - 20);
        free(buf);
        expect_fail(all(), 3, 2, PER_FILE + 2, "truncated");
}

static void test_truncate_gz(void **state)
{
        size_t n;
        char *buf;

        (void)state;
        three_files();
        buf = slurp(files[0], &n);
        spit(files[0], buf, n - 12);    /* the gzip trailer and some data */
        free(buf);
        {
                struct seal_failure f;

                assert_int_equal(verify(vkey, all(), 3, &f), 1);
                assert_int_equal(f.file, 0);
                assert_non_null(strstr(f.why, "truncated"));
        }
}

static void test_delete_middle_file(void **state)
{
        const char *two[2];

        (void)state;
        three_files();
        two[0] = files[0];
        two[1] = files[2];
        expect_fail(two, 2, 1, 1, "deleted");
}

static void test_wrong_key(void **state)
{
        char other[SEAL_VKEY_MAX];
        struct seal_failure f;

        (void)state;
        three_files();
        new_key("other.key", 900, 0, other);
        assert_int_equal(verify(other, all(), 3, &f), 1);
        assert_int_equal(f.file, 0);
        assert_int_equal(f.line, 1);
        assert_non_null(strstr(f.why, "wrong key"));
        /* a first record edited is not taken for a wrong key */
        {
                char *l = get_line(files[2], 1);

                *strstr(l, "\"reason\":\"reopen\"") = ' ';
                edit_line(files[2], 1, l, false);
                free(l);
                expect_fail((const char *const[]){ files[2] }, 1, 0, 1, "edited");
        }
        assert_int_equal(verify("mxls1-nothex", all(), 3, &f), -EINVAL);
}

/* Key value (hex) in a key file. */
static void key_hex(char out[2 * SEAL_KEY_BYTES + 1], uint64_t *epoch)
{
        char *buf = slurp(keyfile, NULL), *p = strstr(buf, "\nkey ");

        assert_non_null(p);
        memcpy(out, p + 5, 2 * SEAL_KEY_BYTES);
        out[2 * SEAL_KEY_BYTES] = '\0';
        p = strstr(buf, "\nepoch ");
        assert_non_null(p);
        *epoch = strtoull(p + 7, NULL, 10);
        free(buf);
}

static void test_key_evolution_erases(void **state)
{
        char k0[2 * SEAL_KEY_BYTES + 1], k3[2 * SEAL_KEY_BYTES + 1], *buf, tmp[160];
        struct seal *s;
        struct stat st;
        uint64_t e;
        time_t t0;

        (void)state;
        new_key("evolve.key", 60, 0, vkey);
        assert_int_equal(stat(keyfile, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        key_hex(k0, &e);
        assert_int_equal(e, 0);
        t0 = (time_t)strtoull(strrchr(vkey, '-') - 10, NULL, 10);     /* start, from the verification key */
        assert_int_equal(seal_open(keyfile, &s, &(int){ 0 }), 0);
        assert_false(seal_due(s, t0 + 59));
        assert_true(seal_due(s, t0 + 60));
        assert_int_equal(seal_advance(s, t0 + 3 * 60 + 1), 1);
        key_hex(k3, &e);
        assert_int_equal(e, 3);
        assert_string_not_equal(k0, k3);
        buf = slurp(keyfile, NULL);
        assert_null(strstr(buf, k0));                   /* the old key is gone from the file */
        free(buf);
        snprintf(tmp, sizeof(tmp), "%s.tmp", keyfile);
        assert_int_equal(access(tmp, F_OK), -1);        /* and no copy left beside it */
        assert_int_equal(stat(keyfile, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        /* never backwards */
        assert_int_equal(seal_advance(s, t0), 0);
        key_hex(k3, &e);
        assert_int_equal(e, 3);
        seal_close(s);
        /* a fresh key does not replace an existing one unless forced */
        assert_int_equal(seal_setup(keyfile, 60, t0, (uid_t)-1, (gid_t)-1, false, vkey), -EEXIST);
}

/* Whoever holds today's key cannot rewrite a record of an earlier epoch. */
static void test_forward_secure(void **state)
{
        char live[128], *l, suffix[SEAL_SUFFIX_MAX], *buf, *forged;
        struct seal_failure f;
        struct seal *s;
        struct audit *a;
        size_t n;

        (void)state;
        new_key("fs.key", 60, 0, vkey);
        snprintf(live, sizeof(live), "%s/fs.jsonl", tmpdir);
        (void) unlink(live);
        assert_int_equal(audit_open(live, &a), 0);
        assert_int_equal(audit_seal(a, keyfile, &(int){ 0 }), 0);
        write_records(a, 0, 4);
        audit_close(a);
        assert_int_equal(verify(vkey, (const char *const[]){ live }, 1, &f), 0);

        /* the intruder: the key file as it is ten epochs later, its chain
         * state set back to make line 3 its next record */
        assert_int_equal(seal_open(keyfile, &s, &(int){ 0 }), 0);
        assert_int_equal(seal_advance(s, time(NULL) + 10 * 60), 1);
        seal_close(s);
        buf = slurp(keyfile, &n);
        *strstr(buf, "\nindex ") = '\0';
        strcat(buf, "\nindex 0\n");
        spit_str(keyfile, buf);
        free(buf);
        assert_int_equal(seal_open(keyfile, &s, &(int){ 0 }), 0);
        /* chain on from line 2 and re-seal line 3 with a changed source */
        buf = slurp(live, &n);
        l = strchr(strchr(buf, '\n') + 1, '\n') + 1;     /* line 3 */
        (void) seal_resume(s, buf, (size_t)(l - buf));
        l = get_line(live, 3);
        *strstr(l, ",\"seal\"") = '\0';
        *strstr(l, "198.51.100.7") = '9';
        n = seal_line(s, l, strlen(l), suffix);
        assert_true(asprintf(&forged, "%s%s", l, suffix) > 0);
        edit_line(live, 3, forged, false);
        expect_fail((const char *const[]){ live }, 1, 0, 3, "edited: sealed in epoch 10");
        free(forged);
        free(l);
        free(buf);
        seal_close(s);
}

/* A log written by hand through the seal API at chosen times: what the
 * writer does over epochs 0, 1 and 2 (interval 60 s, from t0). */
static FILE *hand_log;

static void hand_line(struct seal *s, time_t t, const char *event, const char *reason)
{
        char ts[32], body[512], suffix[SEAL_SUFFIX_MAX], prev[33], run[17];
        struct timeval tv = { .tv_sec = t, .tv_usec = 0 };
        int n;

        audit_format_time(&tv, ts);
        if (reason) {
                seal_prev_hex(s, prev);
                seal_run_hex(s, run);
                n = snprintf(body, sizeof(body), "{\"ts\":\"%s\",\"event\":\"seal\",\"reason\":\"%s\","
                             "\"prev\":\"%s\",\"run\":\"%s\"", ts, reason, prev, run);
        } else {
                n = snprintf(body, sizeof(body), "{\"ts\":\"%s\",\"event\":\"%s\",\"src\":\"192.0.2.1\"",
                             ts, event);
        }
        seal_line(s, body, (size_t)n, suffix);
        fprintf(hand_log, "%s%s", body, suffix);
}

/* The writer at the end of an epoch: close it, evolve, open the next. */
static void hand_tick(struct seal *s, time_t t)
{
        hand_line(s, t, NULL, "close");
        assert_int_equal(seal_advance(s, t), 1);
        hand_line(s, t, NULL, "epoch");
}

/* An intruder with the key of epoch 2 cannot take out epoch 1 (which is
 * over) and put records of its own in its place. */
static void test_completed_epoch_kept(void **state)
{
        char live[128], forged[128], key2[160];
        struct seal *s;
        time_t t0;

        (void)state;
        new_key("hand.key", 60, 3, vkey);       /* epoch 0 began 3 minutes ago */
        t0 = (time_t)strtoull(strrchr(vkey, '-') - 10, NULL, 10);     /* start, from the verification key */
        snprintf(live, sizeof(live), "%s/hand.jsonl", tmpdir);
        snprintf(forged, sizeof(forged), "%s/forged.jsonl", tmpdir);
        snprintf(key2, sizeof(key2), "%s/hand.key.at2", tmpdir);

        /* the genuine log; the intruder's copy of the key file at epoch 2 */
        hand_log = fopen(live, "we");
        assert_int_equal(seal_open(keyfile, &s, &(int){ 0 }), 0);
        hand_line(s, t0 + 1, NULL, "open");
        hand_line(s, t0 + 2, "refused", NULL);
        hand_tick(s, t0 + 60);
        hand_line(s, t0 + 70, "refused", NULL);
        hand_line(s, t0 + 80, "refused", NULL);
        hand_tick(s, t0 + 120);
        assert_int_equal(rename(keyfile, key2), 0);    /* the key file as it is now */
        hand_line(s, t0 + 130, "refused", NULL);
        seal_close(s);
        fclose(hand_log);
        assert_int_equal(verify(vkey, (const char *const[]){ live }, 1, &(struct seal_failure){ 0 }), 0);

        /* the intruder keeps lines 1-3 (up to the close of epoch 0) and goes
         * on from there with the key of epoch 2 */
        {
                char *buf = slurp(live, NULL), *p = buf;

                for (int k = 0; k < 3; k++)
                        p = strchr(p, '\n') + 1;
                *p = '\0';
                spit_str(forged, buf);
                free(buf);
        }
        assert_int_equal(rename(key2, keyfile), 0);
        {
                /* index and prev from the last line kept (the key file's own are ahead) */
                char *buf = slurp(keyfile, NULL);

                *strstr(buf, "\nindex ") = '\0';
                strcat(buf, "\nindex 0\n");
                spit_str(keyfile, buf);
                free(buf);
        }
        assert_int_equal(seal_open(keyfile, &s, &(int){ 0 }), 0);
        {
                char *buf = slurp(forged, NULL);

                assert_int_equal(seal_resume(s, buf, strlen(buf)), 1);
                free(buf);
        }
        hand_log = fopen(forged, "ae");
        hand_line(s, t0 + 125, NULL, "epoch");
        hand_line(s, t0 + 126, "refused", NULL);
        fclose(hand_log);
        seal_close(s);
        expect_fail((const char *const[]){ forged }, 1, 0, 4, "deleted: epoch 2 follows the close of epoch 0");
}

/* After a crash (no close, key file not saved) the writer goes on from
 * the log's last sealed line, and the chain holds. */
static void test_crash_resume(void **state)
{
        char live[128];
        struct seal_failure f;
        struct audit *a;
        pid_t pid;
        int status;

        (void)state;
        new_key("crash.key", 900, 0, vkey);
        snprintf(live, sizeof(live), "%s/crash.jsonl", tmpdir);
        (void) unlink(live);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (audit_open(live, &a) < 0 || audit_seal(a, keyfile, &(int){ 0 }) < 0)
                        _exit(1);
                write_records(a, 0, 5);
                _exit(0);       /* no audit_close: as a crash */
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_int_equal(status, 0);
        assert_int_equal(audit_open(live, &a), 0);
        assert_int_equal(audit_seal(a, keyfile, &(int){ 0 }), 0);
        write_records(a, 5, 3);
        audit_close(a);
        assert_int_equal(verify(vkey, (const char *const[]){ live }, 1, &f), 0);
}

/* A writer whose key file is several epochs old closes that epoch before
 * it moves on; a change of epoch without a close is a removed tail. */
static void test_epoch_close(void **state)
{
        char live[128];
        struct seal_failure f;
        struct audit *a;
        unsigned close_line = 0, k = 0;
        char *buf, *p;

        (void)state;
        new_key("old.key", 60, 4, vkey);        /* epoch 0 began 4 minutes ago */
        snprintf(live, sizeof(live), "%s/epoch.jsonl", tmpdir);
        (void) unlink(live);
        assert_int_equal(audit_open(live, &a), 0);
        assert_int_equal(audit_seal(a, keyfile, &(int){ 0 }), 0);
        write_records(a, 0, 3);
        audit_close(a);
        assert_int_equal(verify(vkey, (const char *const[]){ live }, 1, &f), 0);
        buf = slurp(live, NULL);
        assert_non_null(strstr(buf, "\"reason\":\"close\""));
        assert_non_null(strstr(buf, "\"reason\":\"epoch\""));
        assert_non_null(strstr(buf, ",\"seal\":\"d:4:"));
        for (p = buf; *p; p = strchr(p, '\n') + 1) {
                k++;
                if (strstr(p, "\"reason\":\"close\"") && strstr(p, "\"reason\":\"close\"") < strchr(p, '\n')) {
                        close_line = k;
                        break;
                }
        }
        free(buf);
        assert_int_equal(close_line, 2);        /* open (epoch 0), close (epoch 0), epoch (4) */
        edit_line(live, close_line, NULL, false);
        expect_fail((const char *const[]){ live }, 1, 0, 2, "deleted");
}

/* Records the writer could not write (a full disk) are declared, and the
 * chain goes on. */
static void test_lost_declared(void **state)
{
        char live[128];
        struct seal_verify_stats st;
        struct seal_failure f;
        struct rlimit rl, old;
        struct audit *a;
        struct stat sb;
        uint64_t lost;

        (void)state;
        new_key("lost.key", 900, 0, vkey);
        snprintf(live, sizeof(live), "%s/lost.jsonl", tmpdir);
        (void) unlink(live);
        assert_int_equal(audit_open(live, &a), 0);
        assert_int_equal(audit_seal(a, keyfile, &(int){ 0 }), 0);
        write_records(a, 0, 3);
        assert_int_equal(stat(live, &sb), 0);
        signal(SIGXFSZ, SIG_IGN);
        assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
        rl = old;
        rl.rlim_cur = (rlim_t)sb.st_size + 150;        /* one more record fits, not four */
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
        {
                struct jline j;

                for (unsigned i = 3; i < 7; i++) {
                        jline_begin(&j, NULL, "refused");
                        jline_uint(&j, "n", i);
                        jline_end(&j);
                        assert_int_equal(audit_write(a, &j), 0);
                }
                assert_true(audit_flush(a) < 0);
        }
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
        lost = audit_lost(a);
        assert_true(lost >= 3);
        write_records(a, 10, 2);
        audit_close(a);
        if (seal_verify(vkey, (const char *const[]){ live }, 1, &f, &st) != 0)
                fail_msg("%llu: %s", (unsigned long long)f.line, f.why);
        assert_int_equal(st.lost, lost);
}

static void test_unsealed_before(void **state)
{
        char live[128], *buf;
        struct seal_verify_stats st;
        struct seal_failure f;
        struct audit *a;
        size_t n;

        (void)state;
        new_key("pre.key", 900, 0, vkey);
        snprintf(live, sizeof(live), "%s/pre.jsonl", tmpdir);
        spit_str(live, "{\"ts\":\"2026-01-01T00:00:00.000000Z\",\"event\":\"start\"}\n"
                   "{\"ts\":\"2026-01-01T00:00:01.000000Z\",\"event\":\"refused\"}\n");
        assert_int_equal(audit_open(live, &a), 0);
        assert_int_equal(audit_seal(a, keyfile, &(int){ 0 }), 0);
        write_records(a, 0, 2);
        audit_close(a);
        assert_int_equal(seal_verify(vkey, (const char *const[]){ live }, 1, &f, &st), 0);
        assert_int_equal(st.unsealed_before, 2);
        /* but not in front of a chain that does not begin there */
        buf = slurp(live, &n);
        (void) buf;
        free(buf);
        edit_line(live, 3, NULL, false);        /* the open seal record (record 0) */
        expect_fail((const char *const[]){ live }, 1, 0, 1, "inserted");
        /* nothing sealed at all */
        spit_str(live, "{\"ts\":\"2026-01-01T00:00:00.000000Z\",\"event\":\"start\"}\n");
        expect_fail((const char *const[]){ live }, 1, 0, 1, "missing seal");
}

/* mxlockd and mxlock sync append to the same file, each in its own chain
 * (seal_key and seal_key.sync); both are checked. */
static void test_two_streams(void **state)
{
        char live[128], sync_key[160], *l;
        struct audit *d, *sy;
        struct jline j;

        (void)state;
        new_key("two.key", 900, 0, vkey);
        snprintf(sync_key, sizeof(sync_key), "%s.sync", keyfile);
        snprintf(live, sizeof(live), "%s/two.jsonl", tmpdir);
        (void) unlink(live);
        assert_int_equal(audit_open(live, &d), 0);
        assert_int_equal(audit_seal(d, keyfile, &(int){ 0 }), 0);
        write_records(d, 0, 2);
        for (int run = 0; run < 2; run++) {
                assert_int_equal(audit_open(live, &sy), 0);
                assert_int_equal(audit_seal(sy, sync_key, &(int){ 0 }), 0);
                jline_begin(&j, NULL, "ranges-changed");
                jline_str(&j, "provider", "example");
                jline_end(&j);
                assert_int_equal(audit_write(sy, &j), 0);
                audit_close(sy);
                write_records(d, 10 * (run + 1), 2);
        }
        audit_close(d);
        assert_int_equal(verify(vkey, (const char *const[]){ live }, 1, &(struct seal_failure){ 0 }), 0);
        l = get_line(live, 5);
        assert_non_null(strstr(l, "\"event\":\"ranges-changed\""));
        assert_non_null(strstr(l, ",\"seal\":\"s:0:1:"));
        free(l);
        /* sync's first record goes: its chain shows it */
        edit_line(live, 5, NULL, false);
        expect_fail((const char *const[]){ live }, 1, 0, 5, "deleted: 1 record(s) of stream s");
}

static void test_config_seal_key(void **state)
{
        char path[128], err[CONFIG_ERRLEN];
        struct config *c = NULL;

        (void)state;
        snprintf(path, sizeof(path), "%s/c.conf", tmpdir);
        spit_str(path, "[daemon]\nseal_key = /var/lib/mxlock/seal.key\n[policy p]\nports = 25\nallow = 192.0.2.1\n");
        assert_int_equal(config_load(path, &c, err, NULL, NULL), 0);
        assert_string_equal(c->seal_key, "/var/lib/mxlock/seal.key");
        config_free(c);
        spit_str(path, "[daemon]\n\nseal_key = seal.key\n[policy p]\nports = 25\nallow = 192.0.2.1\n");
        assert_int_equal(config_load(path, &c, err, NULL, NULL), -EINVAL);
        assert_non_null(strstr(err, ":3: seal_key: 'seal.key' is not an absolute path"));
        spit_str(path, "[daemon]\nseal_key = /a\nseal_key = /b\n[policy p]\nports = 25\nallow = 192.0.2.1\n");
        assert_int_equal(config_load(path, &c, err, NULL, NULL), -EINVAL);
        assert_non_null(strstr(err, ":3: seal_key set twice"));
}

static void test_keyfile_errors(void **state)
{
        char path[128];
        struct seal *s = NULL;
        int line = 0;

        (void)state;
        snprintf(path, sizeof(path), "%s/bad.key", tmpdir);
        spit_str(path, "version 1\nstream d\nkey 00\n");
        assert_int_equal(seal_open(path, &s, &line), -EBADMSG);
        assert_int_equal(line, 3);
        assert_int_equal(seal_open("/nonexistent/seal.key", &s, &line), -ENOENT);
        assert_null(s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_clean_chain),
                cmocka_unit_test(test_edit_byte),
                cmocka_unit_test(test_edit_in_gz),
                cmocka_unit_test(test_delete_line),
                cmocka_unit_test(test_insert_line),
                cmocka_unit_test(test_insert_copy),
                cmocka_unit_test(test_swap_lines),
                cmocka_unit_test(test_truncate_rotated_tail),
                cmocka_unit_test(test_truncate_cut_line),
                cmocka_unit_test(test_truncate_gz),
                cmocka_unit_test(test_delete_middle_file),
                cmocka_unit_test(test_wrong_key),
                cmocka_unit_test(test_key_evolution_erases),
                cmocka_unit_test(test_forward_secure),
                cmocka_unit_test(test_completed_epoch_kept),
                cmocka_unit_test(test_crash_resume),
                cmocka_unit_test(test_epoch_close),
                cmocka_unit_test(test_lost_declared),
                cmocka_unit_test(test_unsealed_before),
                cmocka_unit_test(test_two_streams),
                cmocka_unit_test(test_config_seal_key),
                cmocka_unit_test(test_keyfile_errors),
        };

        return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
