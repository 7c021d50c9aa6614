/* src/daemon/hosts.c: the host-name cache and its background resolution
 * (see hosts.h). One batch at a time runs on a helper thread; the thread
 * touches only its batch (names in, answers out) and, when done, writes the
 * eventfd under the batch's lock unless the cache abandoned it meanwhile
 * (then it frees the batch itself). The cache is touched by the loop only. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "daemon/hosts.h"
#include "daemon/loop.h"
#include "log.h"

#define HOSTS_DEADLINE_MS 30000
#define HOSTS_ERRLEN 256

struct host {
        char *name;
        struct prefix *v;               /* last known addresses, sorted; NULL when never resolved */
        size_t n;
        uint32_t ttl;
        bool failing;                   /* the last lookup failed: v stands in */
        bool wanted;                    /* a build asked for it before it was ever resolved */
        uint64_t gen;                   /* the last build that asked for it */
        int last_r;                     /* when n == 0: why */
        char last_err[HOSTS_ERRLEN];
        struct host *next;
};

struct answer {
        char *name;
        int r;
        struct prefix *v;
        size_t n;
        uint32_t ttl;
        char err[HOSTS_ERRLEN];
};

struct batch {
        pthread_mutex_t mu;
        pthread_t thread;
        bool done, abandoned;           /* under mu */
        int efd;
        hosts_resolve_fn resolve;
        void *userdata;
        unsigned deadline_ms;
        struct answer *a;
        size_t n;
};

struct hosts {
        struct hosts_opts o;
        struct host *list;
        int efd;
        struct batch *batch;            /* in flight, or NULL */
        bool attached, stale;
        uint64_t gen;                   /* builds so far (hosts_resolver calls) */
        struct loop *loop;
        hosts_done_fn done;
        void *done_data;
};

static int prefix_cmp(const void *a, const void *b)
{
        const struct prefix *x = a, *y = b;

        if (x->family != y->family)
                return x->family < y->family ? -1 : 1;
        if (x->addr != y->addr)
                return x->addr < y->addr ? -1 : 1;
        return (int)x->len - (int)y->len;
}

static struct host *host_find(struct hosts *h, const char *name)
{
        for (struct host *e = h->list; e; e = e->next)
                if (strcmp(e->name, name) == 0)
                        return e;
        return NULL;
}

static struct host *host_add(struct hosts *h, const char *name)
{
        struct host *e = calloc(1, sizeof(*e));

        if (!e || !(e->name = strdup(name))) {
                free(e);
                return NULL;
        }
        e->next = h->list;
        h->list = e;
        return e;
}

/* Keep a copy of v as e's addresses; true when they differ from before. */
static bool host_store(struct host *e, const struct prefix *v, size_t n, uint32_t ttl)
{
        struct prefix *copy = malloc(n * sizeof(*copy));
        bool changed;

        if (!copy)
                return false;   /* in force anyway; only not remembered */
        memcpy(copy, v, n * sizeof(*copy));
        qsort(copy, n, sizeof(*copy), prefix_cmp);
        changed = n != e->n || memcmp(copy, e->v, n * sizeof(*copy)) != 0;
        if (changed && e->n == n) {
                /* padding must not count: compare the fields */
                changed = false;
                for (size_t i = 0; i < n && !changed; i++)
                        changed = prefix_cmp(&copy[i], &e->v[i]) != 0;
        }
        free(e->v);
        e->v = copy;
        e->n = n;
        e->ttl = ttl;
        e->failing = false;
        e->wanted = false;
        e->last_r = 0;
        e->last_err[0] = '\0';
        return changed;
}

static int hand_out(struct hosts *h, struct host *e, struct prefix **ret, size_t *ret_n, uint32_t *ret_ttl)
{
        *ret = malloc(e->n * sizeof(**ret));
        if (!*ret)
                return -ENOMEM;
        memcpy(*ret, e->v, e->n * sizeof(**ret));
        *ret_n = e->n;
        *ret_ttl = e->failing ? h->o.retry_ttl : e->ttl;
        if (e->failing)
                h->stale = true;
        return 0;
}

static void warn_kept(const struct host *e, const char *err)
{
        log_warning("Cannot resolve %s (%s); keeping its last known %zu address%s", e->name, err, e->n,
                    e->n == 1 ? "" : "es");
}

/* Before the loop: ask now; remember; stand in with the last answer. */
static int resolve_blocking(struct hosts *h, const char *name, struct prefix **ret, size_t *ret_n, uint32_t *ret_ttl,
                            char *err, size_t errlen)
{
        struct host *e = host_find(h, name);
        int r;

        r = h->o.resolve(name, ret, ret_n, ret_ttl, err, errlen, h->o.userdata);
        if (r == 0 && *ret_n > 0) {
                if (e || (e = host_add(h, name))) {
                        (void)host_store(e, *ret, *ret_n, *ret_ttl);
                        e->gen = h->gen;
                }
                return 0;
        }
        if (!e || e->n == 0)
                return r < 0 ? r : -EHOSTUNREACH;
        free(*ret);
        *ret = NULL;
        e->failing = true;
        warn_kept(e, err);
        return hand_out(h, e, ret, ret_n, ret_ttl);
}

/* On the loop: the cache only. */
static int resolve_cached(struct hosts *h, const char *name, struct prefix **ret, size_t *ret_n, uint32_t *ret_ttl,
                          char *err, size_t errlen)
{
        struct host *e = host_find(h, name);

        if (e && e->n > 0)
                return hand_out(h, e, ret, ret_n, ret_ttl);
        if (!e && !(e = host_add(h, name)))
                return -ENOMEM;
        e->wanted = true;
        e->gen = h->gen;
        if (e->last_r < 0) {
                snprintf(err, errlen, "%s", e->last_err);
                return e->last_r;
        }
        snprintf(err, errlen, "not resolved yet (resolving in the background; applied when the answer comes)");
        return -EAGAIN;
}

static int resolve_cb(const char *name, struct prefix **ret, size_t *ret_n, uint32_t *ret_ttl, char *err,
                      size_t errlen, void *userdata)
{
        struct hosts *h = userdata;
        struct host *e;

        if ((e = host_find(h, name)))
                e->gen = h->gen;
        *ret = NULL;
        *ret_n = 0;
        *ret_ttl = 0;
        return h->attached ? resolve_cached(h, name, ret, ret_n, ret_ttl, err, errlen)
                           : resolve_blocking(h, name, ret, ret_n, ret_ttl, err, errlen);
}

void hosts_resolver(struct hosts *h, struct policy_resolver *ret)
{
        ret->resolve = resolve_cb;
        ret->userdata = h;
        h->gen++;
}

void hosts_prune(struct hosts *h)
{
        for (struct host **e = &h->list; *e;) {
                if ((*e)->gen != h->gen) {
                        struct host *x = *e;

                        *e = x->next;
                        free(x->v);
                        free(x->name);
                        free(x);
                } else {
                        e = &(*e)->next;
                }
        }
}

bool hosts_pending(const struct hosts *h)
{
        for (const struct host *e = h->list; e; e = e->next)
                if (e->wanted && e->n == 0 && e->last_r == 0)
                        return true;
        return false;
}

bool hosts_stale(const struct hosts *h)
{
        return h->stale;
}

void hosts_clear_stale(struct hosts *h)
{
        h->stale = false;
}

int hosts_new(const struct hosts_opts *o, struct hosts **ret)
{
        struct hosts *h;

        if (!o->resolve)
                return -EINVAL;
        h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->o = *o;
        if (!h->o.deadline_ms)
                h->o.deadline_ms = HOSTS_DEADLINE_MS;
        h->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (h->efd < 0) {
                int r = -errno;

                free(h);
                return r;
        }
        *ret = h;
        return 0;
}

static void batch_free(struct batch *b)
{
        for (size_t i = 0; i < b->n; i++) {
                free(b->a[i].name);
                free(b->a[i].v);
        }
        free(b->a);
        pthread_mutex_destroy(&b->mu);
        free(b);
}

/* The helper thread: each name in turn until the batch's deadline; the
 * names it did not begin by then fail without a query. */
static void *batch_run(void *arg)
{
        struct batch *b = arg;
        uint64_t start = loop_clock_ms();
        bool abandoned;

        for (size_t i = 0; i < b->n; i++) {
                struct answer *a = &b->a[i];

                if (loop_clock_ms() - start >= b->deadline_ms) {
                        a->r = -ETIMEDOUT;
                        snprintf(a->err, sizeof(a->err), "%s: not asked: the resolution's %u ms deadline passed",
                                 a->name, b->deadline_ms);
                        continue;
                }
                a->r = b->resolve(a->name, &a->v, &a->n, &a->ttl, a->err, sizeof(a->err), b->userdata);
        }
        pthread_mutex_lock(&b->mu);
        b->done = true;
        abandoned = b->abandoned;
        if (!abandoned)
                (void)!write(b->efd, &(uint64_t){ 1 }, sizeof(uint64_t));
        pthread_mutex_unlock(&b->mu);
        if (abandoned)
                batch_free(b);
        return NULL;
}

bool hosts_busy(const struct hosts *h)
{
        return h->batch != NULL;
}

int hosts_refresh(struct hosts *h)
{
        struct batch *b;
        sigset_t all, old;
        size_t n = 0;
        int r;

        if (h->batch)
                return -EBUSY;
        for (struct host *e = h->list; e; e = e->next)
                n++;
        if (!n)
                return -ENOENT;
        b = calloc(1, sizeof(*b));
        if (!b || !(b->a = calloc(n, sizeof(*b->a)))) {
                free(b);
                return -ENOMEM;
        }
        pthread_mutex_init(&b->mu, NULL);
        b->efd = h->efd;
        b->resolve = h->o.resolve;
        b->userdata = h->o.userdata;
        b->deadline_ms = h->o.deadline_ms;
        for (struct host *e = h->list; e; e = e->next) {
                if (!(b->a[b->n].name = strdup(e->name))) {
                        batch_free(b);
                        return -ENOMEM;
                }
                b->n++;
        }
        /* signals stay with the loop's signalfd */
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        r = -pthread_create(&b->thread, NULL, batch_run, b);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r < 0) {
                batch_free(b);
                return r;
        }
        h->batch = b;
        return 0;
}

int hosts_fd(const struct hosts *h)
{
        return h->efd;
}

int hosts_collect(struct hosts *h, struct hosts_outcome *ret)
{
        struct hosts_outcome o = { 0 };
        struct batch *b = h->batch;
        uint64_t v;

        if (!b || read(h->efd, &v, sizeof(v)) != sizeof(v))
                return 0;
        pthread_join(b->thread, NULL);
        h->batch = NULL;
        for (size_t i = 0; i < b->n; i++) {
                struct answer *a = &b->a[i];
                struct host *e = host_find(h, a->name);

                if (!e)
                        continue;
                if (e->wanted && e->n == 0)
                        o.first = true;
                if (a->r == 0 && a->n > 0) {
                        if (host_store(e, a->v, a->n, a->ttl))
                                o.changed = true;
                        continue;
                }
                o.failed++;
                if (e->n > 0) {
                        e->failing = true;
                        h->stale = true;
                        warn_kept(e, a->r < 0 ? a->err : "no addresses");
                } else {
                        e->last_r = a->r < 0 ? a->r : -EHOSTUNREACH;
                        snprintf(e->last_err, sizeof(e->last_err), "%s", a->r < 0 ? a->err : "no addresses");
                }
        }
        batch_free(b);
        *ret = o;
        return 1;
}

static void on_done(int fd, uint32_t events, void *data)
{
        struct hosts *h = data;
        struct hosts_outcome o;

        if (hosts_collect(h, &o) > 0 && h->done)
                h->done(&o, h->done_data);
}

int hosts_attach(struct hosts *h, struct loop *l, hosts_done_fn done, void *userdata)
{
        int r = loop_add_fd(l, h->efd, EPOLLIN, on_done, h);

        if (r < 0)
                return r;
        h->loop = l;
        h->done = done;
        h->done_data = userdata;
        h->attached = true;
        return 0;
}

void hosts_free(struct hosts *h)
{
        if (!h)
                return;
        if (h->batch) {
                struct batch *b = h->batch;

                pthread_mutex_lock(&b->mu);
                if (b->done) {
                        pthread_mutex_unlock(&b->mu);
                        pthread_join(b->thread, NULL);
                        batch_free(b);
                } else {
                        b->abandoned = true;
                        pthread_mutex_unlock(&b->mu);
                        pthread_detach(b->thread);
                }
        }
        if (h->loop)
                loop_del_fd(h->loop, h->efd);
        close(h->efd);
        while (h->list) {
                struct host *n = h->list->next;

                free(h->list->v);
                free(h->list->name);
                free(h->list);
                h->list = n;
        }
        free(h);
}
