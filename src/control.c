/* src/control.c: the control socket, both ends. The daemon's end is
 * served on the loop: each client non-blocking, read and answered as its
 * bytes come, with a total deadline (CLIENT_DEADLINE_MS). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "daemon/loop.h"
#include "log.h"

#define REQUEST_MAX 512
#define CLIENT_DEADLINE_MS 2000         /* from accept to the last byte of the reply */
#define CLIENT_DEADLINE_TEXT "2 s"
#define CONTROL_CLIENTS_MAX 16          /* at once; more wait in the listen backlog */

struct control;

/* One accepted client, served as its bytes come. */
struct client {
        struct control *c;
        int fd;
        struct ucred cr;
        bool denied;                    /* not allowed: its request is read, never served */
        bool writing;
        char req[REQUEST_MAX];
        size_t len;
        char *reply;
        size_t off, rlen;
        uint64_t deadline;              /* the loop's timeout id, 0 when fired */
        struct client *next;
};

struct control {
        int fd;
        char *path;
        gid_t gid;
        struct loop *loop;              /* NULL until control_attach */
        control_handler_fn handler;
        void *userdata;
        struct client *clients;
        size_t nclients;
};

static int fill_addr(const char *path, struct sockaddr_un *sa)
{
        memset(sa, 0, sizeof(*sa));
        sa->sun_family = AF_UNIX;
        if (strlen(path) >= sizeof(sa->sun_path))
                return -ENAMETOOLONG;
        strcpy(sa->sun_path, path);
        return 0;
}

int control_call(const char *path, const char *request, int timeout_ms, char **ret_reply)
{
        struct sockaddr_un sa;
        size_t len = 0, cap = 4096;
        char *buf = NULL;
        int fd, r;

        r = fill_addr(path, &sa);
        if (r < 0)
                return r;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                r = -errno;
                goto out;
        }
        if (dprintf(fd, "%s\n", request) < 0) {
                r = -errno;
                goto out;
        }
        (void)shutdown(fd, SHUT_WR);
        buf = malloc(cap);
        if (!buf) {
                r = -ENOMEM;
                goto out;
        }
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t n;

                r = poll(&p, 1, timeout_ms);
                if (r == 0) {
                        r = -ETIMEDOUT;
                        goto out;
                }
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto out;
                }
                if (len + 1 >= cap) {
                        char *nb = realloc(buf, cap * 2);
                        if (!nb) {
                                r = -ENOMEM;
                                goto out;
                        }
                        buf = nb;
                        cap *= 2;
                }
                n = read(fd, buf + len, cap - len - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto out;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        buf[len] = '\0';
        if (len == 0) {
                r = -EACCES;    /* the daemon closes without a word on refusal */
                goto out;
        }
        *ret_reply = buf;
        buf = NULL;
        r = 0;
out:
        free(buf);
        close(fd);
        return r;
}

int control_chown_path(const char *path, uid_t uid, gid_t gid)
{
        struct stat st;

        /* by name, so: only what is there now, only a socket, and never
         * through a symbolic link (someone who can write the directory could
         * have put one in its place since our bind) */
        if (lstat(path, &st) < 0)
                return -errno;
        if (!S_ISSOCK(st.st_mode))
                return -ENOTSOCK;
        return fchownat(AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

int control_listen(const char *path, gid_t gid, struct control **ret)
{
        struct sockaddr_un sa;
        struct control *c;
        mode_t old;
        int r;

        r = fill_addr(path, &sa);
        if (r < 0)
                return r;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->gid = gid;
        c->path = strdup(path);
        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (!c->path || c->fd < 0) {
                r = c->path ? -errno : -ENOMEM;
                goto fail;
        }
        (void)unlink(path);
        old = umask(0117);
        r = bind(c->fd, (struct sockaddr *)&sa, sizeof(sa));
        umask(old);
        if (r < 0) {
                r = -errno;
                goto fail;
        }
        /* a socket already has our group: no chown (which a seccomp filter
         * such as systemd's ~@privileged forbids) */
        if (gid != (gid_t)-1 && gid != getegid() && (r = control_chown_path(path, (uid_t)-1, gid)) < 0)
                goto fail;
        if (listen(c->fd, 16) < 0) {
                r = -errno;
                goto fail;
        }
        *ret = c;
        return 0;
fail:
        if (c->fd >= 0)
                close(c->fd);
        free(c->path);
        free(c);
        return r;
}

int control_fd(const struct control *c)
{
        return c->fd;
}

/* Is the peer in the control group, as primary or supplementary group? */
static bool peer_in_group(int fd, const struct ucred *cr, gid_t gid)
{
        gid_t groups[256];
        socklen_t len = sizeof(groups);

        if (gid == (gid_t)-1)
                return false;
        if (cr->gid == gid)
                return true;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
                return false;
        for (size_t i = 0; i < len / sizeof(gid_t); i++)
                if (groups[i] == gid)
                        return true;
        return false;
}

static void client_close(struct client *cl, const char *why)
{
        struct control *c = cl->c;

        if (why)
                log_notice("Control client (pid %d, uid %u) %s: closed", (int)cl->cr.pid, (unsigned)cl->cr.uid,
                           why);
        loop_del_fd(c->loop, cl->fd);
        loop_del_timeout(c->loop, cl->deadline);
        close(cl->fd);
        for (struct client **p = &c->clients; *p; p = &(*p)->next)
                if (*p == cl) {
                        *p = cl->next;
                        break;
                }
        free(cl->reply);
        free(cl);
        if (c->nclients-- == CONTROL_CLIENTS_MAX)
                (void)loop_mod_fd(c->loop, c->fd, EPOLLIN);     /* room again */
}

static void client_deadline(void *data)
{
        struct client *cl = data;

        cl->deadline = 0;
        client_close(cl, "did not finish within " CLIENT_DEADLINE_TEXT);
}

/* Write what the socket takes; close when all is out. */
static void client_write(struct client *cl)
{
        while (cl->off < cl->rlen) {
                ssize_t n = write(cl->fd, cl->reply + cl->off, cl->rlen - cl->off);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return;
                if (n <= 0) {
                        client_close(cl, NULL);
                        return;
                }
                cl->off += (size_t)n;
        }
        client_close(cl, NULL);
}

/* The request is complete (a newline, the end of the client's writing, or
 * REQUEST_MAX): answer it, or refuse a peer the accept found not allowed. */
static void client_answer(struct client *cl)
{
        static const char deny[] = "{\"ok\":false,\"error\":\"permission denied: root or the control group only\"}\n";
        struct control *c = cl->c;

        cl->req[cl->len] = '\0';
        cl->req[strcspn(cl->req, "\r\n")] = '\0';
        if (cl->denied)
                cl->reply = strdup(deny);
        else
                c->handler(cl->req, &cl->reply, c->userdata);
        if (!cl->reply) {
                client_close(cl, NULL);
                return;
        }
        cl->rlen = strlen(cl->reply);
        cl->writing = true;
        if (loop_mod_fd(c->loop, cl->fd, EPOLLOUT) < 0) {
                client_close(cl, NULL);
                return;
        }
        client_write(cl);
}

static void on_client(int fd, uint32_t events, void *data)
{
        struct client *cl = data;

        if (cl->writing) {
                client_write(cl);
                return;
        }
        /* the request is one short line; read it as it comes. Read it even
         * from a peer we refuse: closing on unread data would reset the
         * connection instead of answering. */
        for (;;) {
                ssize_t n = read(fd, cl->req + cl->len, sizeof(cl->req) - 1 - cl->len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return;
                if (n > 0)
                        cl->len += (size_t)n;
                if (n <= 0 || cl->len == sizeof(cl->req) - 1 || memchr(cl->req, '\n', cl->len)) {
                        client_answer(cl);
                        return;
                }
        }
}

static void on_listen(int fd, uint32_t events, void *data)
{
        struct control *c = data;

        /* a bounded number per turn; level-triggered, the rest comes next */
        for (int i = 0; i < CONTROL_CLIENTS_MAX && c->nclients < CONTROL_CLIENTS_MAX; i++) {
                socklen_t crlen = sizeof(struct ucred);
                struct client *cl;
                int cfd;

                cfd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (cfd < 0)
                        return;
                cl = calloc(1, sizeof(*cl));
                if (!cl) {
                        close(cfd);
                        return;
                }
                cl->c = c;
                cl->fd = cfd;
                /* root, mxlockd's own user (systemctl reload runs as it), or
                 * the control group; decided before a byte is read */
                cl->denied = getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cl->cr, &crlen) < 0 ||
                             (cl->cr.uid != 0 && cl->cr.uid != geteuid() && !peer_in_group(cfd, &cl->cr, c->gid));
                cl->deadline = loop_add_timeout(c->loop, CLIENT_DEADLINE_MS, client_deadline, cl);
                if (!cl->deadline || loop_add_fd(c->loop, cfd, EPOLLIN, on_client, cl) < 0) {
                        loop_del_timeout(c->loop, cl->deadline);
                        close(cfd);
                        free(cl);
                        continue;
                }
                cl->next = c->clients;
                c->clients = cl;
                if (++c->nclients == CONTROL_CLIENTS_MAX)
                        (void)loop_mod_fd(c->loop, c->fd, 0);   /* full: accept when one leaves */
        }
}

int control_attach(struct control *c, struct loop *l, control_handler_fn handler, void *userdata)
{
        int r;

        c->loop = l;
        c->handler = handler;
        c->userdata = userdata;
        r = loop_add_fd(l, c->fd, EPOLLIN, on_listen, c);
        if (r < 0)
                c->loop = NULL;
        return r;
}

void control_close(struct control *c)
{
        if (!c)
                return;
        while (c->clients)
                client_close(c->clients, NULL);
        if (c->loop)
                loop_del_fd(c->loop, c->fd);
        close(c->fd);
        (void)unlink(c->path);
        free(c->path);
        free(c);
}
