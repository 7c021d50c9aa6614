/* tests/bench/audit_seal.c: what sealing costs the audit writer.
 *
 * Writes N refused records shaped like the unique-source flood's (a new
 * IPv6 source each, every field mxlockd writes) through audit.c into a
 * file, flushing every 64 records as mxlockd does per batch of verdicts;
 * once without a key (the baseline) and once with one, taking turns over
 * ROUNDS rounds in the same run so that drift falls on both. Prints both
 * rates, the median ratio sealed/plain and the time sealing adds per
 * record, and what that is as a share of the unique-source flood's
 * per-refusal budget at RATE refusals/s (from tests/bench/results.json,
 * goal 3).
 *
 * Usage: audit_seal [N [ROUNDS [RATE]]]  (defaults 200000 7 138622) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "seal.h"

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One run: records/s writing n records, sealed when key is set. */
static double run(const char *dir, const char *key, unsigned long n)
{
        char path[256], src[64];
        struct audit *a;
        struct timeval tv;
        struct jline j;
        double t0, t1;
        int r;

        snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
        (void) unlink(path);
        r = audit_open(path, &a);
        if (r == 0 && key)
                r = audit_seal(a, key, &(int){ 0 });
        if (r < 0) {
                fprintf(stderr, "audit_seal: %s: %s\n", path, strerror(-r));
                exit(1);
        }
        t0 = now_s();
        for (unsigned long i = 0; i < n; i++) {
                gettimeofday(&tv, NULL);
                snprintf(src, sizeof(src), "2001:db8:%lx:%lx:%lx::%lx", (i * 2654435761UL) & 0xffff,
                         (i >> 3) & 0xffff, i & 0xffff, (i * 40503UL) & 0xffff);
                jline_begin(&j, &tv, "refused");
                jline_str(&j, "policy", "inbound-smtp");
                jline_str(&j, "mode", "enforce");
                jline_str(&j, "action", "drop");
                jline_str(&j, "direction", "inbound");
                jline_str(&j, "family", "ipv6");
                jline_str(&j, "src", src);
                jline_uint(&j, "sport", 1024 + i % 60000);
                jline_str(&j, "dst", "2001:db8:0:1::1");
                jline_uint(&j, "dport", 25);
                jline_uint(&j, "ttl", 64);
                jline_str(&j, "iface", "b0");
                jline_uint(&j, "count", 1);
                jline_end(&j);
                if (audit_write(a, &j) < 0) {
                        fprintf(stderr, "audit_write failed\n");
                        exit(1);
                }
                if (i % 64 == 63)
                        (void) audit_flush(a);
        }
        (void) audit_flush(a);
        t1 = now_s();
        audit_close(a);
        (void) unlink(path);
        return (double)n / (t1 - t0);
}

static int cmp(const void *x, const void *y)
{
        double a = *(const double *)x, b = *(const double *)y;

        return a < b ? -1 : a > b;
}

static double median(double *v, int n)
{
        qsort(v, (size_t)n, sizeof(*v), cmp);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
        unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
        int rounds = argc > 2 ? atoi(argv[2]) : 7;
        double flood = argc > 3 ? atof(argv[3]) : 138622;
        char dir[] = "/tmp/mxlock-bench-seal-XXXXXX", key[256], vkey[SEAL_VKEY_MAX], cmd[300];
        double plain[64], sealed[64], ratio[64], mp, ms, mr, added_ns;

        if (rounds < 1 || rounds > 64 || n == 0 || !mkdtemp(dir))
                return 2;
        snprintf(key, sizeof(key), "%s/seal.key", dir);
        if (seal_setup(key, 900, time(NULL), (uid_t)-1, (gid_t)-1, false, vkey) < 0)
                return 1;
        (void) run(dir, NULL, n / 4);           /* warm up the page cache and the CPU */
        (void) run(dir, key, n / 4);
        for (int r = 0; r < rounds; r++) {
                if (r % 2) {
                        sealed[r] = run(dir, key, n);
                        plain[r] = run(dir, NULL, n);
                } else {
                        plain[r] = run(dir, NULL, n);
                        sealed[r] = run(dir, key, n);
                }
                ratio[r] = sealed[r] / plain[r];
                printf("round %d: plain %.0f records/s, sealed %.0f records/s, ratio %.3f\n", r + 1, plain[r],
                       sealed[r], ratio[r]);
        }
        mp = median(plain, rounds);
        ms = median(sealed, rounds);
        mr = median(ratio, rounds);
        added_ns = 1e9 / ms - 1e9 / mp;
        printf("audit writer, %lu records per run, median of %d rounds:\n"
               "  plain  %.0f records/s (%.0f ns per record)\n"
               "  sealed %.0f records/s (%.0f ns per record)\n"
               "  ratio sealed/plain %.3f: sealing adds %.0f ns per record\n"
               "  at the unique-source flood's %.0f refusals/s (one record each, %.0f ns each):"
               " %.1f %% of the per-refusal time\n",
               n, rounds, mp, 1e9 / mp, ms, 1e9 / ms, mr, added_ns, flood, 1e9 / flood,
               100.0 * added_ns / (1e9 / flood));
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : 1;
}
