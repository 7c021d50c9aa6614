/* src/control.c: the control socket, both ends. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"

#define REQUEST_MAX 512
#define CLIENT_TIMEOUT_MS 1000

struct control {
        int fd;
        char *path;
        gid_t gid;
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

void control_serve(struct control *c, control_handler_fn handler, void *userdata)
{
        for (;;) {
                struct ucred cr;
                socklen_t crlen = sizeof(cr);
                char req[REQUEST_MAX];
                size_t len = 0;
                char *reply = NULL;
                int fd;

                fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0)
                        return;
                /* the request is one short line; the client has sent it all.
                 * Read it even from a peer we refuse: closing on unread data
                 * would reset the connection instead of answering. */
                while (len < sizeof(req) - 1) {
                        struct pollfd p = { .fd = fd, .events = POLLIN };
                        ssize_t n;

                        if (poll(&p, 1, CLIENT_TIMEOUT_MS) <= 0)
                                break;
                        n = read(fd, req + len, sizeof(req) - 1 - len);
                        if (n <= 0)
                                break;
                        len += (size_t)n;
                        if (memchr(req, '\n', len))
                                break;
                }
                req[len] = '\0';
                req[strcspn(req, "\r\n")] = '\0';
                /* root, mxlockd's own user (systemctl reload runs as it), or
                 * the control group */
                if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0 ||
                    (cr.uid != 0 && cr.uid != geteuid() && !peer_in_group(fd, &cr, c->gid))) {
                        static const char deny[] =
                                "{\"ok\":false,\"error\":\"permission denied: root or the control group only\"}\n";
                        (void)!write(fd, deny, sizeof(deny) - 1);
                        close(fd);
                        continue;
                }
                handler(req, &reply, userdata);
                if (reply) {
                        size_t off = 0, rl = strlen(reply);

                        while (off < rl) {
                                struct pollfd p = { .fd = fd, .events = POLLOUT };
                                ssize_t n;

                                if (poll(&p, 1, CLIENT_TIMEOUT_MS) <= 0)
                                        break;
                                n = write(fd, reply + off, rl - off);
                                if (n <= 0)
                                        break;
                                off += (size_t)n;
                        }
                        free(reply);
                }
                close(fd);
        }
}

void control_close(struct control *c)
{
        if (!c)
                return;
        close(c->fd);
        (void)unlink(c->path);
        free(c->path);
        free(c);
}
