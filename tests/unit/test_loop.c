/* tests/unit/test_loop.c: the event loop turns fairly: a descriptor that is
 * always ready does not starve timeouts or other descriptors, and handlers
 * may remove registrations, their own included. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/loop.h"

struct ctx {
        struct loop *l;
        int busy_calls, other_calls, timeouts;
        int pipe_a[2], pipe_b[2];
        uint64_t fired_at[4];
        uint64_t cancel_id;
};

/* Always readable (never drained): the shape of a flooded queue. */
static void on_busy(int fd, uint32_t events, void *data)
{
        struct ctx *c = data;

        (void)fd;
        assert_true(events & EPOLLIN);
        c->busy_calls++;
}

static void on_other(int fd, uint32_t events, void *data)
{
        struct ctx *c = data;
        char b;

        (void)events;
        assert_int_equal(read(fd, &b, 1), 1);
        c->other_calls++;
}

static void on_stop(void *data)
{
        struct ctx *c = data;

        c->fired_at[c->timeouts++] = loop_clock_ms();
        loop_quit(c->l);
}

static void test_busy_descriptor_does_not_starve(void **state)
{
        struct ctx c = { 0 };
        uint64_t t0;

        (void)state;
        assert_int_equal(loop_new(&c.l), 0);
        assert_int_equal(pipe(c.pipe_a), 0);
        assert_int_equal(pipe(c.pipe_b), 0);
        assert_int_equal(write(c.pipe_a[1], "x", 1), 1);
        assert_int_equal(write(c.pipe_b[1], "y", 1), 1);
        assert_int_equal(loop_add_fd(c.l, c.pipe_a[0], EPOLLIN, on_busy, &c), 0);
        assert_int_equal(loop_add_fd(c.l, c.pipe_b[0], EPOLLIN, on_other, &c), 0);
        assert_int_equal(loop_add_fd(c.l, c.pipe_b[0], EPOLLIN, on_other, &c), -EEXIST);
        t0 = loop_clock_ms();
        assert_true(loop_add_timeout(c.l, 30, on_stop, &c) > 0);
        assert_int_equal(loop_run(c.l), 0);
        assert_int_equal(c.timeouts, 1);
        assert_int_equal(c.other_calls, 1);
        assert_true(c.busy_calls > 1);
        assert_true(c.fired_at[0] - t0 >= 30);
        assert_true(c.fired_at[0] - t0 < 1000);
        assert_true(loop_turns(c.l) >= (uint64_t)c.busy_calls);
        loop_free(c.l);
        for (int i = 0; i < 2; i++) {
                close(c.pipe_a[i]);
                close(c.pipe_b[i]);
        }
}

static void on_self_remove(int fd, uint32_t events, void *data)
{
        struct ctx *c = data;

        (void)events;
        c->busy_calls++;
        loop_del_fd(c->l, fd);
        loop_del_timeout(c->l, c->cancel_id);
}

static void on_never(void *data)
{
        (void)data;
        fail_msg("a removed timeout fired");
}

static void test_remove_from_handler(void **state)
{
        struct ctx c = { 0 };

        (void)state;
        assert_int_equal(loop_new(&c.l), 0);
        assert_int_equal(pipe(c.pipe_a), 0);
        assert_int_equal(write(c.pipe_a[1], "x", 1), 1);
        assert_int_equal(loop_add_fd(c.l, c.pipe_a[0], EPOLLIN, on_self_remove, &c), 0);
        c.cancel_id = loop_add_timeout(c.l, 10, on_never, &c);
        assert_true(c.cancel_id > 0);
        assert_true(loop_add_timeout(c.l, 50, on_stop, &c) > 0);
        assert_int_equal(loop_run(c.l), 0);
        assert_int_equal(c.busy_calls, 1);
        assert_int_equal(c.timeouts, 1);
        /* Registering again after removal works. */
        assert_int_equal(loop_add_fd(c.l, c.pipe_a[0], EPOLLIN, on_self_remove, &c), 0);
        loop_free(c.l);
        close(c.pipe_a[0]);
        close(c.pipe_a[1]);
}

static void on_order(void *data)
{
        struct ctx *c = data;

        c->fired_at[c->timeouts++] = loop_clock_ms();
        if (c->timeouts == 3)
                loop_quit(c->l);
}

static void on_rearm(void *data)
{
        struct ctx *c = data;

        /* A timeout that re-arms at 0 ms runs once per turn, not in a loop. */
        if (++c->other_calls < 5)
                assert_true(loop_add_timeout(c->l, 0, on_rearm, c) > 0);
}

static void test_timeouts_in_order_and_rearm(void **state)
{
        struct ctx c = { 0 };
        uint64_t t0 = loop_clock_ms();

        (void)state;
        assert_int_equal(loop_new(&c.l), 0);
        assert_true(loop_add_timeout(c.l, 40, on_order, &c) > 0);
        assert_true(loop_add_timeout(c.l, 10, on_order, &c) > 0);
        assert_true(loop_add_timeout(c.l, 20, on_order, &c) > 0);
        assert_true(loop_add_timeout(c.l, 0, on_rearm, &c) > 0);
        assert_int_equal(loop_run(c.l), 0);
        assert_int_equal(c.timeouts, 3);
        assert_true(c.fired_at[0] <= c.fired_at[1] && c.fired_at[1] <= c.fired_at[2]);
        assert_true(c.fired_at[2] - t0 >= 40);
        assert_int_equal(c.other_calls, 5);
        assert_true(loop_turns(c.l) >= 5);
        loop_free(c.l);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_busy_descriptor_does_not_starve),
                cmocka_unit_test(test_remove_from_handler),
                cmocka_unit_test(test_timeouts_in_order_and_rearm),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
