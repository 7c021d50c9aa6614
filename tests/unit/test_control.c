/* tests/unit/test_control.c: the daemon's end of the control socket on the
 * loop: a client that trickles its request holds up nobody (another
 * client is answered meanwhile) and is closed at its total deadline
 * without its request being served; a request split across writes is
 * served whole. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "control.h"
#include "daemon/loop.h"

struct ctx {
        struct loop *l;
        char path[108];
        int trickler, normal;
        uint64_t t_trickle, t_normal;   /* connect times */
        uint64_t trickle_closed, normal_answered;
        char reply[256];
        size_t rlen;
        int served;
        char last_req[64];
        unsigned sent;
};

static void handler(const char *req, char **ret_reply, void *userdata)
{
        struct ctx *c = userdata;
        char buf[128];

        c->served++;
        snprintf(c->last_req, sizeof(c->last_req), "%s", req);
        snprintf(buf, sizeof(buf), "{\"ok\":true,\"req\":\"%s\"}\n", req);
        *ret_reply = strdup(buf);
}

static int connect_to(const char *path)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        return fd;
}

static void on_trickler(int fd, uint32_t events, void *data)
{
        struct ctx *c = data;
        char b[64];

        if (read(fd, b, sizeof(b)) > 0)
                return;
        c->trickle_closed = loop_clock_ms();
        loop_del_fd(c->l, fd);
        loop_quit(c->l);
}

static void trickle(void *data)
{
        struct ctx *c = data;

        if (c->trickle_closed)
                return;
        (void)!send(c->trickler, &"status"[c->sent++ % 6], 1, MSG_NOSIGNAL);
        loop_add_timeout(c->l, 100, trickle, c);
}

static void on_normal(int fd, uint32_t events, void *data)
{
        struct ctx *c = data;
        ssize_t n = read(fd, c->reply + c->rlen, sizeof(c->reply) - 1 - c->rlen);

        if (n > 0) {
                c->rlen += (size_t)n;
                return;
        }
        c->reply[c->rlen] = '\0';
        c->normal_answered = loop_clock_ms();
        loop_del_fd(c->l, fd);
}

static void start_normal(void *data)
{
        struct ctx *c = data;

        c->normal = connect_to(c->path);
        c->t_normal = loop_clock_ms();
        /* the request in two writes, as a slow but honest client might */
        assert_int_equal(write(c->normal, "sta", 3), 3);
        assert_int_equal(write(c->normal, "tus\n", 4), 4);
        shutdown(c->normal, SHUT_WR);
        assert_int_equal(loop_add_fd(c->l, c->normal, EPOLLIN, on_normal, c), 0);
}

static void on_guard(void *data)
{
        loop_quit(((struct ctx *)data)->l);
}

static void test_trickler_cut_off_others_served(void **state)
{
        struct ctx c = { .trickler = -1, .normal = -1 };
        char dir[] = "/tmp/test_control.XXXXXX";
        struct control *ctl = NULL;

        (void)state;
        assert_non_null(mkdtemp(dir));
        snprintf(c.path, sizeof(c.path), "%s/c.sock", dir);
        assert_int_equal(loop_new(&c.l), 0);
        assert_int_equal(control_listen(c.path, (gid_t)-1, &ctl), 0);
        assert_int_equal(control_attach(ctl, c.l, handler, &c), 0);

        c.trickler = connect_to(c.path);
        c.t_trickle = loop_clock_ms();
        assert_int_equal(loop_add_fd(c.l, c.trickler, EPOLLIN, on_trickler, &c), 0);
        trickle(&c);
        loop_add_timeout(c.l, 300, start_normal, &c);
        loop_add_timeout(c.l, 5000, on_guard, &c);
        assert_int_equal(loop_run(c.l), 0);

        /* the honest client: answered at once, its request whole */
        assert_true(c.normal_answered > 0);
        assert_true(c.normal_answered - c.t_normal < 500);
        assert_string_equal(c.reply, "{\"ok\":true,\"req\":\"status\"}\n");
        /* the trickler: closed at its 2 s deadline, never served */
        assert_true(c.trickle_closed > 0);
        assert_true(c.trickle_closed - c.t_trickle >= 1900);
        assert_true(c.trickle_closed - c.t_trickle < 3000);
        assert_int_equal(c.served, 1);
        assert_string_equal(c.last_req, "status");

        control_close(ctl);
        close(c.trickler);
        close(c.normal);
        loop_free(c.l);
        rmdir(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_trickler_cut_off_others_served),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
