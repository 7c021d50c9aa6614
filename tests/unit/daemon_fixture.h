/* tests/unit/daemon_fixture.h: a daemon for the unit tests of its modules
 * (test_packet.c, test_offenders.c, test_accounting.c): a real
 * configuration and catalog in a temporary directory, loaded by enforce.c's
 * load(), a real audit log there, and a fake kernel behind struct
 * daemon_kops (verdicts, named counters, offender sets with per-element
 * counters, early rules) that the tests can read and set. No netlink, no
 * root. Packets are built in memory. */
#pragma once

#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/daemon.h"
#include "daemon/hosts.h"

/* ---- the fake kernel ---- */

#define FAKE_MAX 64

struct fake_element {
        char policy[POLICY_NAME_MAX];
        int family;
        addr128 addr;
        uint64_t packets;
};

struct fake_counter {
        char name[128];
        uint64_t packets;
};

static struct fake_kernel {
        unsigned waiting;               /* packets in the fake queue */
        unsigned receives, flushes_q;
        const uint8_t *pkt;             /* what each of them is */
        size_t pkt_len;
        unsigned verdicts;
        enum queue_verdict last_verdict;
        uint32_t last_mark;
        struct fake_element set[FAKE_MAX];
        size_t nset;
        unsigned adds, dels, flushes, early_calls;
        uint8_t early[8];               /* the families of the last ruleset_early, per policy */
        struct fake_counter counters[FAKE_MAX];
        size_t ncounters;
} fk;

static inline int fake_receive(struct queue *q, size_t max, void (*cb)(const struct queue_pkt *p, void *userdata),
                                void *userdata)
{
        size_t n = 0;

        fk.receives++;
        while (n < max && fk.waiting > 0) {
                struct queue_pkt qp = { .id = fk.receives, .mark = ruleset_queue_mark(0, false), .data = fk.pkt,
                                        .len = fk.pkt_len };

                fk.waiting--;
                cb(&qp, userdata);
                n++;
        }
        return (int)n;
}

static inline int fake_flush(struct queue *q)
{
        fk.flushes_q++;
        return 0;
}

static inline void fake_verdict(struct queue *q, const struct queue_pkt *p, enum queue_verdict v, uint32_t mark)
{
        fk.verdicts++;
        fk.last_verdict = v;
        fk.last_mark = mark;
}

static inline struct fake_counter *fake_counter_find(const char *name, bool create)
{
        for (size_t i = 0; i < fk.ncounters; i++)
                if (strcmp(fk.counters[i].name, name) == 0)
                        return &fk.counters[i];
        if (!create || fk.ncounters == FAKE_MAX)
                return NULL;
        snprintf(fk.counters[fk.ncounters].name, sizeof(fk.counters[0].name), "%s", name);
        return &fk.counters[fk.ncounters++];
}

/* Set the kernel's counter of kind k for policy `policy`. */
/* The tests name the counters as the kernel objects they stand for. */
#define OBJ_QUEUED RULESET_COUNTER_QUEUED
#define OBJ_HANDLED RULESET_COUNTER_HANDLED
#define OBJ_REPEAT RULESET_COUNTER_REPEAT

static inline void fake_counter_name(enum ruleset_counter_kind k, const char *policy, char *name, size_t len)
{
        snprintf(name, len, "%d/%s", (int)k, policy);
}

static inline void fake_set_counter(enum ruleset_counter_kind k, const char *policy, uint64_t packets)
{
        char name[128];

        fake_counter_name(k, policy, name, sizeof(name));
        fake_counter_find(name, true)->packets = packets;
}

static inline uint64_t fake_get_counter(enum ruleset_counter_kind k, const char *policy)
{
        char name[128];
        struct fake_counter *c;

        fake_counter_name(k, policy, name, sizeof(name));
        c = fake_counter_find(name, false);
        return c ? c->packets : 0;
}

static inline int fake_counter(struct ruleset *h, enum ruleset_counter_kind k, const char *policy, bool reset,
                               uint64_t *ret)
{
        char name[128];
        struct fake_counter *c;

        (void)h;
        fake_counter_name(k, policy, name, sizeof(name));
        c = fake_counter_find(name, false);

        if (!c)
                return -ENOENT;
        *ret = c->packets;
        if (reset)
                c->packets = 0;
        return 0;
}

static inline struct fake_element *fake_element_find(const char *policy, int family, addr128 a)
{
        for (size_t i = 0; i < fk.nset; i++)
                if (strcmp(fk.set[i].policy, policy) == 0 && fk.set[i].family == family && fk.set[i].addr == a)
                        return &fk.set[i];
        return NULL;
}

static inline int fake_offender_add(struct ruleset *h, const char *policy, int family, addr128 a)
{
        fk.adds++;
        if (fake_element_find(policy, family, a))
                return 0;
        if (fk.nset == FAKE_MAX)
                return -ENOSPC;
        snprintf(fk.set[fk.nset].policy, POLICY_NAME_MAX, "%s", policy);
        fk.set[fk.nset].family = family;
        fk.set[fk.nset].addr = a;
        fk.set[fk.nset].packets = 0;
        fk.nset++;
        return 0;
}

static inline int fake_offenders_del(struct ruleset *h, const char *policy, int family, const addr128 *a, size_t n)
{
        fk.dels++;
        for (size_t k = 0; k < n; k++) {
                struct fake_element *e = fake_element_find(policy, family, a[k]);

                if (e)
                        *e = fk.set[--fk.nset];
        }
        return 0;
}

static inline int fake_offenders_read(struct ruleset *h, const char *policy, int family,
                               void (*cb)(int family, addr128 a, uint64_t packets, void *userdata), void *userdata)
{
        for (size_t i = 0; i < fk.nset; i++)
                if (strcmp(fk.set[i].policy, policy) == 0 && fk.set[i].family == family)
                        cb(family, fk.set[i].addr, fk.set[i].packets, userdata);
        return 0;
}

static inline int fake_offenders_flush(struct ruleset *h, const char *policy)
{
        fk.flushes++;
        for (size_t i = 0; i < fk.nset;)
                if (strcmp(fk.set[i].policy, policy) == 0)
                        fk.set[i] = fk.set[--fk.nset];
                else
                        i++;
        return 0;
}

static inline int fake_early(struct ruleset *h, const struct ruleset_view *s, const uint8_t *families)
{
        fk.early_calls++;
        memset(fk.early, 0, sizeof(fk.early));
        for (size_t i = 0; i < s->n && i < sizeof(fk.early); i++)
                fk.early[i] = families[i];
        return 0;
}

static const struct daemon_kops fake_kops = {
        .receive = fake_receive,
        .flush = fake_flush,
        .verdict = fake_verdict,
        .counter = fake_counter,
        .offender_add = fake_offender_add,
        .offenders_del = fake_offenders_del,
        .offenders_read = fake_offenders_read,
        .offenders_flush = fake_offenders_flush,
        .early = fake_early,
};

/* ---- the daemon ---- */

static char fx_dir[64];
static char fx_conf[128];
static char fx_audit[128];

static inline void fx_write(const char *name, const char *text)
{
        char path[192];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", fx_dir, name);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

/* A daemon with one policy "inbound" on port 25 that allows 198.51.100.0/24
 * (catalog gw) and 2001:db8:25::/48, and denies 203.0.113.66. mode is
 * "enforce" or "monitor". */

static inline int fx_no_resolve(const char *name, struct prefix **ret, size_t *ret_n, uint32_t *ret_ttl, char *err,
                                size_t errlen, void *userdata)
{
        (void)ret;
        (void)ret_n;
        (void)ret_ttl;
        (void)userdata;
        snprintf(err, errlen, "%s: no resolver in unit tests", name);
        return -EHOSTUNREACH;
}

static inline struct daemon *fx_daemon_conf(const char *mode, const char *extra);

static inline struct daemon *fx_daemon(const char *mode)
{
        return fx_daemon_conf(mode, "");
}

/* The same daemon, with more sections after the policy (extra). */
static inline struct daemon *fx_daemon_conf(const char *mode, const char *extra)
{
        struct daemon *d = calloc(1, sizeof(*d));
        char text[2048], err[CONFIG_ERRLEN];
        int r;

        assert_non_null(d);
        memset(&fk, 0, sizeof(fk));
        snprintf(fx_dir, sizeof(fx_dir), "/tmp/mxlock-unit-XXXXXX");
        assert_non_null(mkdtemp(fx_dir));
        snprintf(fx_conf, sizeof(fx_conf), "%s/mxlock.conf", fx_dir);
        snprintf(fx_audit, sizeof(fx_audit), "%s/log/audit.jsonl", fx_dir);
        fx_write("gw.conf", "description = test\nsource = test\n198.51.100.0/24\n");
        snprintf(text, sizeof(text),
                 "[daemon]\nmode = %s\nprovider_dirs = %s\naudit_log = %s\n\n"
                 "[policy inbound]\nports = 25\nproviders = gw\nallow = 2001:db8:25::/48\ndeny = 203.0.113.66\n%s",
                 mode, fx_dir, fx_audit, extra);
        fx_write("mxlock.conf", text);

        daemon_init(d);
        d->k = &fake_kops;
        d->config_path = fx_conf;
        d->enf.cache = policy_cache_new();
        assert_non_null(d->enf.cache);
        {
                /* the fixture's policies name no host: a resolver that is never asked */
                struct hosts_opts ho = { .resolve = fx_no_resolve };

                assert_int_equal(hosts_new(&ho, &d->enf.hosts), 0);
        }
        r = load(d, &d->cfg, &d->pol, err);
        if (r < 0)
                fail_msg("load: %s", err);
        opts_from_config(&d->opts, d->cfg, true);
        index_ports(d);
        d->enabled = true;
        gettimeofday(&d->started, NULL);
        assert_int_equal(remap_pstats(d, d->pol), 0);
        assert_int_equal(tally_init(&d->pkt.tally, TALLY_SLOTS, TALLY_LIMIT, TALLY_WINDOW), 0);
        assert_int_equal(tally_limit(&d->pkt.tally, TALLY_NET_SLOTS, TALLY_NET_LIMIT, TALLY_RATE), 0);
        assert_int_equal(open_audit(d), 0);
        return d;
}

static inline void fx_free(struct daemon *d)
{
        char cmd[128];

        daemon_free(d);
        free(d);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx_dir);
        assert_int_equal(system(cmd), 0);
}

/* The audit log's records so far (flushed first), as one string. */
static inline char *fx_audit_text(struct daemon *d)
{
        char *buf;
        long n;
        FILE *f;

        audit_sync(d);
        f = fopen(fx_audit, "r");
        assert_non_null(f);
        fseek(f, 0, SEEK_END);
        n = ftell(f);
        fseek(f, 0, SEEK_SET);
        buf = calloc(1, (size_t)n + 1);
        assert_non_null(buf);
        assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
        fclose(f);
        return buf;
}

/* Records of this event ("event":"NAME"), and the sum of their counts. */
static inline unsigned fx_records(struct daemon *d, const char *event, uint64_t *ret_sum, const char *must_have)
{
        char *text = fx_audit_text(d), *line, *save = NULL, key[64];
        unsigned n = 0;

        snprintf(key, sizeof(key), "\"event\":\"%s\"", event);
        if (ret_sum)
                *ret_sum = 0;
        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                const char *c;

                if (!strstr(line, key) || (must_have && !strstr(line, must_have)))
                        continue;
                n++;
                c = strstr(line, "\"count\":");
                if (c && ret_sum)
                        *ret_sum += strtoull(c + 8, NULL, 10);
        }
        free(text);
        return n;
}

/* ---- packets in memory ---- */

struct fx_pkt {
        uint8_t b[128];
        size_t len;
};

static inline void fx_put16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
}

static inline void fx_syn4_to(struct fx_pkt *p, const char *src, uint16_t sport, const char *dst, uint16_t dport);

/* An IPv4 TCP SYN from src (dotted) port sport to 192.0.2.1 port dport. */
static inline void fx_syn4(struct fx_pkt *p, const char *src, uint16_t sport, uint16_t dport)
{
        fx_syn4_to(p, src, sport, "192.0.2.1", dport);
}

/* The same to dst. */
static inline void fx_syn4_to(struct fx_pkt *p, const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
        uint8_t *h = p->b, *t = p->b + 20;
        uint32_t sum = 0;

        memset(p, 0, sizeof(*p));
        h[0] = 0x45;
        h[8] = 57;
        h[9] = 6;
        assert_int_equal(inet_pton(AF_INET, src, h + 12), 1);
        assert_int_equal(inet_pton(AF_INET, dst, h + 16), 1);
        fx_put16(t, sport);
        fx_put16(t + 2, dport);
        t[12] = 5 << 4;
        t[13] = 0x02;
        fx_put16(t + 14, 64240);
        p->len = 40;
        fx_put16(h + 2, (uint16_t)p->len);
        for (size_t i = 0; i < 20; i += 2)
                sum += (uint32_t)(h[i] << 8 | h[i + 1]);
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        fx_put16(h + 10, (uint16_t)~sum);
}

/* Hand the packet to the packet path as the queue would. */
static inline void fx_queue(struct daemon *d, const struct fx_pkt *p, uint32_t mark)
{
        struct queue_pkt q = { .id = 1, .mark = mark, .data = p->b, .len = p->len };

        on_packet(&q, d);
}

static inline addr128 fx_addr(const char *text)
{
        int family;
        addr128 a;

        assert_int_equal(addr_parse(text, &family, &a), 0);
        return a;
}
