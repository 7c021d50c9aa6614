/* src/daemon/loop.c: epoll for descriptors, a sorted list for timeouts
 * (the daemon holds a handful). Removal from inside a handler is safe: a
 * removed registration is only marked during a turn and freed after it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "daemon/loop.h"

#define LOOP_EVENTS 32

struct watch {
        int fd;
        bool dead;
        loop_fd_fn fn;
        void *data;
        struct watch *next;
};

struct timeout {
        uint64_t id, due;
        bool dead;
        loop_timeout_fn fn;
        void *data;
        struct timeout *next;
};

struct loop {
        int epfd;
        bool running;
        uint64_t now, turns, next_id;
        struct watch *watches;          /* all registrations, dead ones until the turn ends */
        struct timeout *timeouts;       /* sorted by due, then by id */
};

uint64_t loop_clock_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int loop_new(struct loop **ret)
{
        struct loop *l = calloc(1, sizeof(*l));

        if (!l)
                return -ENOMEM;
        l->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (l->epfd < 0) {
                int r = -errno;

                free(l);
                return r;
        }
        l->now = loop_clock_ms();
        *ret = l;
        return 0;
}

static void sweep(struct loop *l)
{
        for (struct watch **w = &l->watches; *w;) {
                if ((*w)->dead) {
                        struct watch *x = *w;

                        *w = x->next;
                        free(x);
                } else {
                        w = &(*w)->next;
                }
        }
        for (struct timeout **t = &l->timeouts; *t;) {
                if ((*t)->dead) {
                        struct timeout *x = *t;

                        *t = x->next;
                        free(x);
                } else {
                        t = &(*t)->next;
                }
        }
}

void loop_free(struct loop *l)
{
        if (!l)
                return;
        for (struct watch *w = l->watches; w; w = w->next)
                w->dead = true;
        for (struct timeout *t = l->timeouts; t; t = t->next)
                t->dead = true;
        sweep(l);
        close(l->epfd);
        free(l);
}

static struct watch *watch_find(struct loop *l, int fd)
{
        for (struct watch *w = l->watches; w; w = w->next)
                if (w->fd == fd && !w->dead)
                        return w;
        return NULL;
}

int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_fn fn, void *data)
{
        struct epoll_event ev = { .events = events };
        struct watch *w;

        if (fd < 0 || !fn)
                return -EINVAL;
        if (watch_find(l, fd))
                return -EEXIST;
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        *w = (struct watch){ .fd = fd, .fn = fn, .data = data, .next = l->watches };
        ev.data.ptr = w;
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                int r = -errno;

                free(w);
                return r;
        }
        l->watches = w;
        return 0;
}

int loop_mod_fd(struct loop *l, int fd, uint32_t events)
{
        struct watch *w = watch_find(l, fd);
        struct epoll_event ev = { .events = events };

        if (!w)
                return -ENOENT;
        ev.data.ptr = w;
        return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

void loop_del_fd(struct loop *l, int fd)
{
        struct watch *w = watch_find(l, fd);

        if (!w)
                return;
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
        w->dead = true;
        if (!l->running)
                sweep(l);
}

uint64_t loop_add_timeout(struct loop *l, uint64_t ms, loop_timeout_fn fn, void *data)
{
        struct timeout *t = calloc(1, sizeof(*t)), **at;

        if (!t || !fn) {
                free(t);
                return 0;
        }
        *t = (struct timeout){ .id = ++l->next_id, .due = loop_clock_ms() + ms, .fn = fn, .data = data };
        for (at = &l->timeouts; *at && (*at)->due <= t->due; at = &(*at)->next)
                ;
        t->next = *at;
        *at = t;
        return t->id;
}

void loop_del_timeout(struct loop *l, uint64_t id)
{
        for (struct timeout *t = l->timeouts; t; t = t->next)
                if (t->id == id)
                        t->dead = true;
        if (!l->running)
                sweep(l);
}

uint64_t loop_now_ms(const struct loop *l)
{
        return l->now;
}

uint64_t loop_turns(const struct loop *l)
{
        return l->turns;
}

void loop_quit(struct loop *l)
{
        l->running = false;
}

/* Milliseconds until the first live timeout, -1 for none. */
static int wait_ms(struct loop *l)
{
        for (struct timeout *t = l->timeouts; t; t = t->next) {
                if (t->dead)
                        continue;
                uint64_t now = loop_clock_ms();

                if (t->due <= now)
                        return 0;
                return t->due - now > 60000 ? 60000 : (int)(t->due - now);
        }
        return -1;
}

/* Fire the timeouts due at the start of this step; ones they add wait for
 * the next turn, so a timeout that re-arms itself at 0 ms cannot spin. */
static void run_timeouts(struct loop *l)
{
        uint64_t now = loop_clock_ms(), last = l->next_id;

        for (struct timeout *t = l->timeouts; t && t->due <= now; t = t->next) {
                if (t->dead || t->id > last)
                        continue;
                t->dead = true;
                t->fn(t->data);
        }
}

int loop_run(struct loop *l)
{
        struct epoll_event ev[LOOP_EVENTS];

        l->running = true;
        while (l->running) {
                int n = epoll_wait(l->epfd, ev, LOOP_EVENTS, wait_ms(l));

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        l->running = false;
                        return -errno;
                }
                l->now = loop_clock_ms();
                for (int i = 0; i < n && l->running; i++) {
                        struct watch *w = ev[i].data.ptr;

                        if (!w->dead)
                                w->fn(w->fd, ev[i].events, w->data);
                }
                if (l->running)
                        run_timeouts(l);
                l->turns++;
                sweep(l);
        }
        sweep(l);
        return 0;
}
