/* tests/unit/test_hosts.c: the host-name cache (src/daemon/hosts.h) with an
 * injected resolver, no network: before the loop lookups block and
 * remember; after it, lookups come from the cache at once while a batch
 * resolves in the background, a finished batch says whether addresses
 * moved, a failed lookup keeps the last known addresses, the batch deadline
 * holds, and a batch in flight can be abandoned. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/hosts.h"
#include "daemon/loop.h"

/* The fake DNS: NAME -> one IPv4 address (last byte), or failing. */
static struct {
        pthread_mutex_t mu;
        unsigned last_byte;     /* answer 192.0.2.<last_byte> for every name */
        bool fail;
        unsigned delay_ms;
        unsigned calls;
} dns = { .mu = PTHREAD_MUTEX_INITIALIZER, .last_byte = 1 };

static void dns_set(unsigned last_byte, bool fail, unsigned delay_ms)
{
        pthread_mutex_lock(&dns.mu);
        dns.last_byte = last_byte;
        dns.fail = fail;
        dns.delay_ms = delay_ms;
        dns.calls = 0;
        pthread_mutex_unlock(&dns.mu);
}

static unsigned dns_calls(void)
{
        unsigned n;

        pthread_mutex_lock(&dns.mu);
        n = dns.calls;
        pthread_mutex_unlock(&dns.mu);
        return n;
}

static int fake_resolve(const char *name, struct prefix **ret, size_t *ret_n, uint32_t *ret_ttl, char *err,
                        size_t errlen, void *userdata)
{
        unsigned byte, delay;
        bool fail;

        (void)userdata;
        pthread_mutex_lock(&dns.mu);
        dns.calls++;
        byte = dns.last_byte;
        fail = dns.fail;
        delay = dns.delay_ms;
        pthread_mutex_unlock(&dns.mu);
        if (delay)
                usleep(delay * 1000);
        if (fail) {
                snprintf(err, errlen, "A %s: timeout", name);
                return -ETIMEDOUT;
        }
        *ret = calloc(1, sizeof(**ret));
        if (!*ret)
                return -ENOMEM;
        (*ret)->family = AF_INET;
        (*ret)->addr = (addr128)(0xc0000200u | byte);
        (*ret)->len = 32;
        *ret_n = 1;
        *ret_ttl = 30;
        return 0;
}

static struct hosts *new_hosts(unsigned deadline_ms)
{
        struct hosts_opts o = { .resolve = fake_resolve, .retry_ttl = 60, .deadline_ms = deadline_ms };
        struct hosts *h = NULL;

        assert_int_equal(hosts_new(&o, &h), 0);
        return h;
}

/* One lookup through the policy resolver; returns r, the address's last
 * byte in *ret_byte (0 when none) and the TTL. */
static int lookup(struct hosts *h, const char *name, unsigned *ret_byte, uint32_t *ret_ttl)
{
        struct policy_resolver res;
        struct prefix *v = NULL;
        size_t n = 0;
        char err[256] = "";
        int r;

        hosts_resolver(h, &res);
        r = res.resolve(name, &v, &n, ret_ttl, err, sizeof(err), res.userdata);
        *ret_byte = r == 0 && n == 1 ? (unsigned)(v[0].addr & 0xff) : 0;
        free(v);
        return r;
}

struct run {
        struct loop *l;
        struct hosts_outcome o;
        int done;
};

static void on_done(const struct hosts_outcome *o, void *data)
{
        struct run *rn = data;

        rn->o = *o;
        rn->done++;
        loop_quit(rn->l);
}

static void on_guard(void *data)
{
        loop_quit(((struct run *)data)->l);
}

/* Turn the loop until a batch is reported (at most 3 s). */
static void wait_batch(struct run *rn)
{
        int before = rn->done;
        uint64_t guard = loop_add_timeout(rn->l, 3000, on_guard, rn);

        assert_int_equal(loop_run(rn->l), 0);
        loop_del_timeout(rn->l, guard);
        assert_int_equal(rn->done, before + 1);
}

static void test_blocking_remembers_and_keeps_last(void **state)
{
        struct hosts *h = new_hosts(0);
        unsigned b;
        uint32_t ttl;

        (void)state;
        dns_set(7, false, 0);
        assert_int_equal(lookup(h, "relay.lab.test", &b, &ttl), 0);
        assert_int_equal(b, 7);
        assert_int_equal(ttl, 30);
        assert_false(hosts_stale(h));

        /* the server stops answering: the last known address stands in,
         * asked again after the retry TTL */
        dns_set(9, true, 0);
        assert_int_equal(lookup(h, "relay.lab.test", &b, &ttl), 0);
        assert_int_equal(b, 7);
        assert_int_equal(ttl, 60);
        assert_true(hosts_stale(h));
        hosts_clear_stale(h);
        assert_false(hosts_stale(h));

        /* a name never resolved has nothing to stand in */
        assert_int_equal(lookup(h, "other.lab.test", &b, &ttl), -ETIMEDOUT);
        hosts_free(h);
}

static void test_cached_never_waits(void **state)
{
        struct hosts *h = new_hosts(0);
        struct run rn = { 0 };
        uint64_t t0;
        unsigned b;
        uint32_t ttl;

        (void)state;
        dns_set(7, false, 0);
        assert_int_equal(lookup(h, "relay.lab.test", &b, &ttl), 0);
        assert_int_equal(loop_new(&rn.l), 0);
        assert_int_equal(hosts_attach(h, rn.l, on_done, &rn), 0);

        /* a slow server: the batch takes 300 ms, lookups answer at once */
        dns_set(8, false, 300);
        assert_int_equal(hosts_refresh(h), 0);
        assert_true(hosts_busy(h));
        assert_int_equal(hosts_refresh(h), -EBUSY);
        t0 = loop_clock_ms();
        assert_int_equal(lookup(h, "relay.lab.test", &b, &ttl), 0);
        assert_int_equal(b, 7);
        /* a new name: not known yet, asked for in the background */
        assert_int_equal(lookup(h, "new.lab.test", &b, &ttl), -EAGAIN);
        assert_true(hosts_pending(h));
        assert_true(loop_clock_ms() - t0 < 100);

        wait_batch(&rn);
        assert_true(rn.o.changed);
        assert_int_equal(rn.o.failed, 0);
        assert_false(rn.o.first);       /* new.lab.test was not in that batch */
        assert_int_equal(lookup(h, "relay.lab.test", &b, &ttl), 0);
        assert_int_equal(b, 8);

        assert_int_equal(hosts_refresh(h), 0);
        wait_batch(&rn);
        assert_true(rn.o.first);
        assert_false(hosts_pending(h));
        assert_int_equal(lookup(h, "new.lab.test", &b, &ttl), 0);
        assert_int_equal(b, 8);

        hosts_free(h);
        loop_free(rn.l);
}

static void test_changed_failed_and_stale(void **state)
{
        struct hosts *h = new_hosts(0);
        struct run rn = { 0 };
        unsigned b;
        uint32_t ttl;

        (void)state;
        dns_set(7, false, 0);
        assert_int_equal(lookup(h, "relay.lab.test", &b, &ttl), 0);
        assert_int_equal(loop_new(&rn.l), 0);
        assert_int_equal(hosts_attach(h, rn.l, on_done, &rn), 0);

        /* same answer: nothing to install */
        assert_int_equal(hosts_refresh(h), 0);
        wait_batch(&rn);
        assert_false(rn.o.changed);
        assert_int_equal(rn.o.failed, 0);

        /* no answer: kept, counted as failed, stale, retried at 60 s */
        dns_set(9, true, 0);
        assert_int_equal(hosts_refresh(h), 0);
        wait_batch(&rn);
        assert_false(rn.o.changed);
        assert_int_equal(rn.o.failed, 1);
        assert_true(hosts_stale(h));
        assert_int_equal(lookup(h, "relay.lab.test", &b, &ttl), 0);
        assert_int_equal(b, 7);
        assert_int_equal(ttl, 60);

        /* answering again, elsewhere */
        dns_set(9, false, 0);
        assert_int_equal(hosts_refresh(h), 0);
        wait_batch(&rn);
        assert_true(rn.o.changed);
        hosts_clear_stale(h);
        assert_int_equal(lookup(h, "relay.lab.test", &b, &ttl), 0);
        assert_int_equal(b, 9);
        assert_int_equal(ttl, 30);
        assert_false(hosts_stale(h));

        hosts_free(h);
        loop_free(rn.l);
}

static void test_batch_deadline(void **state)
{
        static const char *const names[] = { "a.lab.test", "b.lab.test", "c.lab.test", "d.lab.test" };
        struct hosts *h = new_hosts(150);
        struct run rn = { 0 };
        uint64_t t0;
        unsigned b;
        uint32_t ttl;

        (void)state;
        dns_set(7, false, 0);
        for (size_t i = 0; i < 4; i++)
                assert_int_equal(lookup(h, names[i], &b, &ttl), 0);
        assert_int_equal(loop_new(&rn.l), 0);
        assert_int_equal(hosts_attach(h, rn.l, on_done, &rn), 0);

        /* 100 ms a name, 150 ms for the batch: two are asked, two are not */
        dns_set(8, false, 100);
        t0 = loop_clock_ms();
        assert_int_equal(hosts_refresh(h), 0);
        wait_batch(&rn);
        assert_true(loop_clock_ms() - t0 < 400);
        assert_int_equal(dns_calls(), 2);
        assert_int_equal(rn.o.failed, 2);
        assert_true(rn.o.changed);
        for (size_t i = 0; i < 4; i++)
                assert_int_equal(lookup(h, names[i], &b, &ttl), 0);     /* each has an address */
        hosts_free(h);
        loop_free(rn.l);
}

static void test_free_in_flight(void **state)
{
        struct hosts *h = new_hosts(0);
        struct loop *l;
        unsigned b;
        uint32_t ttl;

        (void)state;
        dns_set(7, false, 0);
        assert_int_equal(lookup(h, "relay.lab.test", &b, &ttl), 0);
        assert_int_equal(loop_new(&l), 0);
        assert_int_equal(hosts_attach(h, l, NULL, NULL), 0);
        dns_set(8, false, 200);
        assert_int_equal(hosts_refresh(h), 0);
        hosts_free(h);          /* does not wait for the 200 ms */
        loop_free(l);
        usleep(400 * 1000);     /* the thread frees its batch */
}

static void test_prune_forgets_unused_names(void **state)
{
        struct hosts *h = new_hosts(0);
        unsigned b;
        uint32_t ttl;

        (void)state;
        dns_set(7, false, 0);
        assert_int_equal(lookup(h, "a.lab.test", &b, &ttl), 0);
        assert_int_equal(lookup(h, "b.lab.test", &b, &ttl), 0);
        /* the last build asked for b only */
        assert_int_equal(lookup(h, "b.lab.test", &b, &ttl), 0);
        hosts_prune(h);
        dns_set(9, true, 0);
        assert_int_equal(lookup(h, "a.lab.test", &b, &ttl), -ETIMEDOUT);   /* forgotten */
        assert_int_equal(lookup(h, "b.lab.test", &b, &ttl), 0);            /* kept */
        assert_int_equal(b, 7);
        hosts_free(h);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_blocking_remembers_and_keeps_last),
                cmocka_unit_test(test_cached_never_waits),
                cmocka_unit_test(test_changed_failed_and_stale),
                cmocka_unit_test(test_batch_deadline),
                cmocka_unit_test(test_free_in_flight),
                cmocka_unit_test(test_prune_forgets_unused_names),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
