/* src/daemon/owner.c: who owns a connecting socket (see owner.h): one
 * sock_diag question for the socket's inode, uid and cgroup id, a cgroup
 * id -> path cache, a search of /proc for the inode, and user names from
 * the passwd file. Like the other library-like code it does not log. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/owner.h"

#define PASSWD_MAX (16u << 20)          /* a larger passwd file is not read */
#define CGROUP_DEPTH_MAX 32             /* the walk goes no deeper */
#define CGROUP_DIRS_MAX 65536           /* nor further than this many cgroups */
#define CGROUP_WALK_GAP_US 1000000      /* a miss of an old id walks the tree at most once a second */
#define CGROUP_WALK_NEW_US 10000        /* one of a new id at most every 10 ms, */
#define CGROUP_WALK_SHARE 20            /* and only after 20 times as long as the last walk took */
#define PROCS_MAX 4096                  /* pids read from one cgroup.procs */
#define PIDS_MAX 1048576               /* processes the scan of /proc considers */
#define LINKS_MAX 65536                 /* descriptors looked at per lookup */

struct user_entry {
        uint32_t uid;
        uint32_t line;                  /* the first line of a uid wins, as in getpwuid */
        char name[64];
};

struct cgroup_entry {
        uint64_t id;
        char *path;                     /* from the cgroup root: "/", "/system.slice/x.service" */
};

struct owner_ctx {
        int nl;                         /* NETLINK_SOCK_DIAG, non-blocking */
        uint32_t seq;
        int proc_fd;                    /* proc_root, O_PATH; -1 when missing */
        int cgroup_fd;                  /* the cgroup2 root, O_PATH; -1: no cgroup2 */
        char *passwd;
        bool passwd_read;
        struct stat passwd_st;          /* of the version read */
        struct user_entry *users;       /* sorted by uid, one per uid */
        size_t nusers;
        struct cgroup_entry *cgroups;   /* sorted by id */
        size_t ncgroups;
        uint64_t walked_us;             /* monotonic time of the last walk; 0: never */
        uint64_t walk_took_us;          /* how long it took */
        uint64_t max_id;                /* the highest id it found */
        int last_pid;                   /* the last process found: tried first next time */
        int *pids;                      /* /proc's pids, for the scan */
        size_t npids_cap;
};

static uint64_t now_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- unit names --------------------------------------------------------- */

static bool has_suffix(const char *s, size_t n, const char *suffix)
{
        size_t k = strlen(suffix);

        return n > k && memcmp(s + n - k, suffix, k) == 0;
}

const char *owner_unit_from_cgroup(const char *cgroup_path, char *buf, size_t len)
{
        const char *p = cgroup_path;

        if (!p)
                return NULL;
        while (*p) {
                const char *end;
                size_t n;

                while (*p == '/')
                        p++;
                end = strchrnul(p, '/');
                n = (size_t)(end - p);
                if (has_suffix(p, n, ".service") || has_suffix(p, n, ".scope")) {
                        if (n >= len)
                                return NULL;
                        memcpy(buf, p, n);
                        buf[n] = '\0';
                        return buf;
                }
                /* only slices lead to a unit: anything else is not systemd's tree */
                if (n > 0 && !has_suffix(p, n, ".slice"))
                        return NULL;
                p = end;
        }
        return NULL;
}

/* ---- user names ------------------------------------------------------------ */

static int user_cmp(const void *a, const void *b)
{
        const struct user_entry *x = a, *y = b;

        if (x->uid != y->uid)
                return x->uid < y->uid ? -1 : 1;
        return x->line < y->line ? -1 : x->line > y->line;
}

/* One passwd line (NUL-terminated, no newline) into e. False: not an
 * entry (comment, NIS marker, malformed, a name that does not fit). */
static bool passwd_line(char *line, struct user_entry *e)
{
        char *name = line, *pw, *uid, *end;
        unsigned long v;

        if (!*name || *name == '#' || *name == '+' || *name == '-')
                return false;
        pw = strchr(name, ':');
        if (!pw)
                return false;
        *pw++ = '\0';
        uid = strchr(pw, ':');
        if (!uid)
                return false;
        uid++;
        if (*uid < '0' || *uid > '9')
                return false;
        errno = 0;
        v = strtoul(uid, &end, 10);
        if (errno || *end != ':' || v > UINT32_MAX)
                return false;
        if (!*name || strlen(name) >= sizeof(e->name))
                return false;
        e->uid = (uint32_t)v;
        strcpy(e->name, name);
        return true;
}

static int passwd_parse(struct owner_ctx *c, char *text)
{
        struct user_entry *v = NULL;
        size_t n = 0, cap = 0, k = 0;
        uint32_t line = 0;

        for (char *s = text, *nl; s && *s; s = nl) {
                struct user_entry e;

                nl = strchr(s, '\n');
                if (nl)
                        *nl++ = '\0';
                line++;
                if (!passwd_line(s, &e))
                        continue;
                if (n == cap) {
                        struct user_entry *t = reallocarray(v, cap ? cap * 2 : 64, sizeof(*v));

                        if (!t) {
                                free(v);
                                return -ENOMEM;
                        }
                        v = t;
                        cap = cap ? cap * 2 : 64;
                }
                e.line = line;
                v[n++] = e;
        }
        if (n)
                qsort(v, n, sizeof(*v), user_cmp);
        for (size_t i = 0; i < n; i++)
                if (k == 0 || v[k - 1].uid != v[i].uid)
                        v[k++] = v[i];
        free(c->users);
        c->users = v;
        c->nusers = k;
        return 0;
}

/* Read the passwd file again when it is another file or changed. On
 * failure the names read before stay. */
static void passwd_refresh(struct owner_ctx *c)
{
        struct stat st;
        char *text;
        ssize_t got;
        size_t off = 0;
        int fd;

        if (stat(c->passwd, &st) < 0)
                return;
        if (c->passwd_read && st.st_ino == c->passwd_st.st_ino && st.st_dev == c->passwd_st.st_dev &&
            st.st_size == c->passwd_st.st_size && st.st_mtim.tv_sec == c->passwd_st.st_mtim.tv_sec &&
            st.st_mtim.tv_nsec == c->passwd_st.st_mtim.tv_nsec)
                return;
        if (st.st_size < 0 || (size_t)st.st_size > PASSWD_MAX)
                return;
        fd = open(c->passwd, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return;
        text = malloc((size_t)st.st_size + 1);
        if (!text) {
                close(fd);
                return;
        }
        while (off < (size_t)st.st_size && (got = read(fd, text + off, (size_t)st.st_size - off)) > 0)
                off += (size_t)got;
        close(fd);
        text[off] = '\0';
        if (passwd_parse(c, text) == 0) {
                c->passwd_st = st;
                c->passwd_read = true;
        }
        free(text);
}

void owner_user_name(struct owner_ctx *c, uint32_t uid, char *buf, size_t len)
{
        size_t lo = 0, hi;

        if (len)
                buf[0] = '\0';
        if (!c || !len)
                return;
        passwd_refresh(c);
        hi = c->nusers;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (c->users[mid].uid == uid) {
                        if (strlen(c->users[mid].name) < len)
                                strcpy(buf, c->users[mid].name);
                        return;
                }
                if (c->users[mid].uid < uid)
                        lo = mid + 1;
                else
                        hi = mid;
        }
}

int owner_set_passwd(struct owner_ctx *c, const char *path)
{
        char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        free(c->passwd);
        c->passwd = p;
        c->passwd_read = false;
        free(c->users);
        c->users = NULL;
        c->nusers = 0;
        return 0;
}

/* ---- cgroup ids ------------------------------------------------------------ */

struct walk {
        struct cgroup_entry *v;
        size_t n, cap;
        char path[PATH_MAX];
};

static int walk_add(struct walk *w, uint64_t id)
{
        char *p;

        if (w->n == w->cap) {
                size_t cap = w->cap ? w->cap * 2 : 256;
                struct cgroup_entry *t = reallocarray(w->v, cap, sizeof(*t));

                if (!t)
                        return -ENOMEM;
                w->v = t;
                w->cap = cap;
        }
        p = strdup(w->path[0] ? w->path : "/");
        if (!p)
                return -ENOMEM;
        w->v[w->n++] = (struct cgroup_entry){ .id = id, .path = p };
        return 0;
}

/* Every directory below dir (w->path: its path from the root, "" for the
 * root) with its inode number, which on cgroup2 is the cgroup's id. */
static int walk_dir(struct walk *w, int dir, unsigned depth)
{
        size_t plen = strlen(w->path);
        DIR *d;
        struct dirent *de;
        int r = 0;

        if (depth >= CGROUP_DEPTH_MAX)
                return 0;
        d = fdopendir(dir);
        if (!d) {
                close(dir);
                return 0;
        }
        while (r == 0 && (de = readdir(d))) {
                unsigned char type = de->d_type;
                int sub;

                if (de->d_name[0] == '.')
                        continue;
                if (type == DT_UNKNOWN) {
                        struct stat st;

                        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                                continue;
                        type = S_ISDIR(st.st_mode) ? DT_DIR : DT_REG;
                }
                if (type != DT_DIR)
                        continue;
                if (w->n >= CGROUP_DIRS_MAX)
                        break;
                if (plen + 1 + strlen(de->d_name) >= sizeof(w->path))
                        continue;
                w->path[plen] = '/';
                strcpy(w->path + plen + 1, de->d_name);
                r = walk_add(w, de->d_ino);
                if (r == 0) {
                        sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                        if (sub >= 0)
                                r = walk_dir(w, sub, depth + 1);
                }
                w->path[plen] = '\0';
        }
        closedir(d);
        return r;
}

static int cgroup_cmp(const void *a, const void *b)
{
        const struct cgroup_entry *x = a, *y = b;

        return x->id < y->id ? -1 : x->id > y->id;
}

static void cgroups_clear(struct cgroup_entry *v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(v[i].path);
        free(v);
}

/* Walk the cgroup tree again and replace the cache with what it found. */
static int cgroups_walk(struct owner_ctx *c)
{
        struct walk w = { 0 };
        struct stat st;
        int dir, r;

        if (fstat(c->cgroup_fd, &st) < 0)
                return -errno;
        r = walk_add(&w, st.st_ino);
        dir = openat(c->cgroup_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (r == 0 && dir >= 0)
                r = walk_dir(&w, dir, 0);
        else if (dir >= 0)
                close(dir);
        if (r < 0) {
                cgroups_clear(w.v, w.n);
                return r;
        }
        qsort(w.v, w.n, sizeof(*w.v), cgroup_cmp);
        c->max_id = w.v[w.n - 1].id;
        cgroups_clear(c->cgroups, c->ncgroups);
        c->cgroups = w.v;
        c->ncgroups = w.n;
        return 0;
}

static const char *cgroup_find(const struct owner_ctx *c, uint64_t id)
{
        size_t lo = 0, hi = c->ncgroups;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (c->cgroups[mid].id == id)
                        return c->cgroups[mid].path;
                if (c->cgroups[mid].id < id)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

/* The path of cgroup id: from the cache, or after a walk. cgroup2 gives
 * each new cgroup a higher id than any before it (kernfs ids count up), so
 * an id above the highest of the last walk is a cgroup made since, worth a
 * walk soon: a transient unit that connects as soon as it starts. Such
 * walks are spaced to take at most 1/CGROUP_WALK_SHARE of the loop's time;
 * any other miss (a cgroup removed since, or past the walk's bounds) walks
 * at most once a second. NULL: not known. */
static const char *cgroup_path(struct owner_ctx *c, uint64_t id)
{
        const char *p;
        uint64_t now, gap;

        if (c->cgroup_fd < 0)
                return NULL;
        p = cgroup_find(c, id);
        if (p)
                return p;
        now = now_us();
        gap = CGROUP_WALK_GAP_US;
        if (id > c->max_id) {
                gap = c->walk_took_us * CGROUP_WALK_SHARE;
                if (gap < CGROUP_WALK_NEW_US)
                        gap = CGROUP_WALK_NEW_US;
                if (gap > CGROUP_WALK_GAP_US)
                        gap = CGROUP_WALK_GAP_US;
        }
        if (c->walked_us && now - c->walked_us < gap)
                return NULL;
        c->walked_us = now;
        if (cgroups_walk(c) < 0)
                return NULL;
        c->walk_took_us = now_us() - now;
        return cgroup_find(c, id);
}

int owner_cgroup_path(struct owner_ctx *c, uint64_t id, char *buf, size_t len)
{
        const char *p = cgroup_path(c, id);

        if (!p)
                return -ENOENT;
        if (strlen(p) >= len)
                return -ENAMETOOLONG;
        strcpy(buf, p);
        return 0;
}

/* ---- the socket ------------------------------------------------------------ */

struct sock_found {
        uint32_t uid;
        uint32_t inode;
        bool has_cgroup;
        uint64_t cgroup;
};

/* Ask sock_diag for the TCP socket with this 4-tuple. The kernel answers
 * within the send, so the answer is read without waiting. Returns 0,
 * -ENOENT (no such socket) or another -errno. */
static int sock_query(struct owner_ctx *c, int family, const uint8_t src[16], uint16_t sport, const uint8_t dst[16],
                      uint16_t dport, struct sock_found *ret)
{
        struct {
                struct nlmsghdr nlh;
                struct inet_diag_req_v2 r;
        } req = {
                .nlh = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                         .nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = ++c->seq },
                .r = { .sdiag_family = (uint8_t)family, .sdiag_protocol = IPPROTO_TCP,
                       .idiag_states = 1u << TCP_SYN_SENT,
                       .id = { .idiag_sport = htons(sport), .idiag_dport = htons(dport),
                               .idiag_cookie = { INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE } } },
        };
        struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
        size_t alen = family == AF_INET ? 4 : 16;
        union {
                struct nlmsghdr h;
                char b[8192];
        } buf;

        memcpy(req.r.id.idiag_src, src, alen);
        memcpy(req.r.id.idiag_dst, dst, alen);
        /* a reply left over from an earlier question is skipped by its seq */
        if (sendto(c->nl, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
                return -errno;
        for (int tries = 0; tries < 8; tries++) {
                ssize_t n = recv(c->nl, &buf, sizeof(buf), MSG_DONTWAIT);
                int len;

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno == EAGAIN ? -ETIMEDOUT : -errno;
                }
                len = (int)n;
                for (struct nlmsghdr *h = &buf.h; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
                        struct inet_diag_msg *m;
                        struct rtattr *a;
                        int alen_left;

                        if (h->nlmsg_seq != c->seq)
                                continue;
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = NLMSG_DATA(h);

                                if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
                                        return -EBADMSG;
                                return e->error < 0 ? e->error : -ENOENT;
                        }
                        if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
                                return -EBADMSG;
                        m = NLMSG_DATA(h);
                        *ret = (struct sock_found){ .uid = m->idiag_uid, .inode = m->idiag_inode };
                        alen_left = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
                        for (a = (struct rtattr *)(m + 1); RTA_OK(a, alen_left); a = RTA_NEXT(a, alen_left))
                                if (a->rta_type == INET_DIAG_CGROUP_ID && RTA_PAYLOAD(a) >= sizeof(uint64_t)) {
                                        memcpy(&ret->cgroup, RTA_DATA(a), sizeof(uint64_t));
                                        ret->has_cgroup = true;
                                }
                        return 0;
                }
        }
        return -ETIMEDOUT;
}

/* ---- the process --------------------------------------------------------- */

struct search {
        char want[32];                  /* "socket:[INODE]" */
        size_t wantlen;
        uint64_t deadline;
        unsigned links;                 /* descriptors looked at */
};

static bool search_over(const struct search *s)
{
        return s->links >= LINKS_MAX || now_us() >= s->deadline;
}

/* Whether process pid holds the socket. */
static bool pid_holds(const struct owner_ctx *c, int pid, struct search *s)
{
        char path[32], link[64];
        struct dirent *de;
        bool found = false;
        DIR *d;
        int fd;

        snprintf(path, sizeof(path), "%d/fd", pid);
        fd = openat(c->proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return false;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return false;
        }
        while (!found && (de = readdir(d))) {
                ssize_t n;

                if (de->d_name[0] == '.')
                        continue;
                if ((++s->links & 255) == 0 && search_over(s))
                        break;
                n = readlinkat(dirfd(d), de->d_name, link, sizeof(link));
                found = n == (ssize_t)s->wantlen && memcmp(link, s->want, s->wantlen) == 0;
        }
        closedir(d);
        return found;
}

static int int_cmp(const void *a, const void *b)
{
        int x = *(const int *)a, y = *(const int *)b;

        return x < y ? -1 : x > y;
}

/* The pids in the cgroup's cgroup.procs, sorted, into v (at most
 * PROCS_MAX). Returns how many. */
static size_t cgroup_pids(const struct owner_ctx *c, const char *cgpath, int *v)
{
        char path[PATH_MAX], text[PROCS_MAX * 8];
        size_t n = 0, off = 0;
        ssize_t got;
        int fd;

        while (*cgpath == '/')
                cgpath++;
        if ((size_t)snprintf(path, sizeof(path), "%s%scgroup.procs", cgpath, *cgpath ? "/" : "") >= sizeof(path))
                return 0;
        fd = openat(c->cgroup_fd, path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        while (off < sizeof(text) - 1 && (got = read(fd, text + off, sizeof(text) - 1 - off)) > 0)
                off += (size_t)got;
        close(fd);
        text[off] = '\0';
        for (char *p = text, *end; *p && n < PROCS_MAX; p = end) {
                long pid = strtol(p, &end, 10);

                if (end == p)
                        break;
                if (pid > 0 && pid <= INT_MAX)
                        v[n++] = (int)pid;
                while (*end == '\n')
                        end++;
        }
        qsort(v, n, sizeof(*v), int_cmp);
        return n;
}

static bool in_sorted(const int *v, size_t n, int x)
{
        return n && bsearch(&x, v, n, sizeof(*v), int_cmp);
}

/* Every process in proc_root into c->pids (at most PIDS_MAX), in the
 * order /proc lists them (ascending). Returns how many. */
static size_t proc_pids(struct owner_ctx *c)
{
        struct dirent *de;
        size_t n = 0;
        DIR *d;
        int fd = openat(c->proc_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return 0;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return 0;
        }
        while ((de = readdir(d)) && n < PIDS_MAX) {
                char *end;
                long pid = strtol(de->d_name, &end, 10);

                if (*end || pid <= 0 || pid > INT_MAX)
                        continue;
                if (n == c->npids_cap) {
                        size_t cap = c->npids_cap ? c->npids_cap * 2 : 1024;
                        int *t = reallocarray(c->pids, cap, sizeof(*t));

                        if (!t)
                                break;
                        c->pids = t;
                        c->npids_cap = cap;
                }
                c->pids[n++] = (int)pid;
        }
        closedir(d);
        return n;
}

static bool pid_has_uid(const struct owner_ctx *c, int pid, uint32_t uid)
{
        char name[16];
        struct stat st;

        snprintf(name, sizeof(name), "%d", pid);
        return fstatat(c->proc_fd, name, &st, 0) == 0 && st.st_uid == uid;
}

/* The first process found holding the socket: among the processes of its
 * cgroup, then among all processes of its uid. In each, the last process
 * found comes first, then the newest (highest pid) first: the one that
 * connects is more often a recent worker or script than an old daemon
 * with many descriptors. Returns the pid or 0. */
static int pid_search(struct owner_ctx *c, const char *cgpath, uint32_t uid, uint32_t inode)
{
        int cg[PROCS_MAX];
        struct search s = { .deadline = now_us() + OWNER_BUDGET_US };
        size_t n = 0, m;
        int last = c->last_pid;

        if (c->proc_fd < 0)
                return 0;
        s.wantlen = (size_t)snprintf(s.want, sizeof(s.want), "socket:[%" PRIu32 "]", inode);
        if (cgpath) {
                n = cgroup_pids(c, cgpath, cg);
                if (last > 0 && in_sorted(cg, n, last) && pid_holds(c, last, &s))
                        return last;
                for (size_t i = n; i-- > 0 && !search_over(&s);)
                        if (cg[i] != last && pid_holds(c, cg[i], &s))
                                return cg[i];
        }
        /* not in its cgroup (moved since, or handed over), or no cgroup */
        if (search_over(&s))
                return 0;
        if (last > 0 && !in_sorted(cg, n, last) && pid_has_uid(c, last, uid) && pid_holds(c, last, &s))
                return last;
        m = proc_pids(c);
        for (size_t i = m; i-- > 0 && !search_over(&s);) {
                int pid = c->pids[i];

                if (pid == last || in_sorted(cg, n, pid) || !pid_has_uid(c, pid, uid))
                        continue;
                if (pid_holds(c, pid, &s))
                        return pid;
        }
        return 0;
}

static void read_comm(const struct owner_ctx *c, int pid, char *buf, size_t len)
{
        char path[32];
        ssize_t n;
        int fd;

        buf[0] = '\0';
        snprintf(path, sizeof(path), "%d/comm", pid);
        fd = openat(c->proc_fd, path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        n = read(fd, buf, len - 1);
        close(fd);
        if (n <= 0)
                n = 0;
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
}

int owner_lookup(struct owner_ctx *c, int family, const uint8_t src[16], uint16_t sport, const uint8_t dst[16],
                 uint16_t dport, struct owner *ret)
{
        struct sock_found f;
        const char *cgpath = NULL;

        if (family != AF_INET && family != AF_INET6)
                return -EINVAL;
        ret->user[0] = '\0';
        ret->pid = 0;
        ret->comm[0] = '\0';
        ret->unit[0] = '\0';
        if (sock_query(c, family, src, sport, dst, dport, &f) == 0) {
                if (!ret->has_uid) {
                        ret->has_uid = true;
                        ret->uid = f.uid;
                }
                if (f.has_cgroup) {
                        cgpath = cgroup_path(c, f.cgroup);
                        if (cgpath && !owner_unit_from_cgroup(cgpath, ret->unit, sizeof(ret->unit)))
                                ret->unit[0] = '\0';
                }
                ret->pid = pid_search(c, cgpath, f.uid, f.inode);
                if (ret->pid > 0) {
                        c->last_pid = ret->pid;
                        read_comm(c, ret->pid, ret->comm, sizeof(ret->comm));
                }
        }
        if (ret->has_uid)
                owner_user_name(c, ret->uid, ret->user, sizeof(ret->user));
        return 0;
}

/* ---- the context ----------------------------------------------------------- */

/* The cgroup2 root: cgroup_root itself, or its "unified" (the hybrid
 * layout); cgroup2 is the tree with cgroup.controllers in its root (v1
 * has none). -1 when neither is. */
static int cgroup_open(const char *cgroup_root)
{
        const char *sub[] = { ".", "unified" };
        int root = open(cgroup_root, O_PATH | O_DIRECTORY | O_CLOEXEC);

        if (root < 0)
                return -1;
        for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
                int fd = openat(root, sub[i], O_PATH | O_DIRECTORY | O_CLOEXEC);

                if (fd < 0)
                        continue;
                if (faccessat(fd, "cgroup.controllers", F_OK, 0) == 0) {
                        close(root);
                        return fd;
                }
                close(fd);
        }
        close(root);
        return -1;
}

struct owner_ctx *owner_new(const char *proc_root, const char *cgroup_root)
{
        struct owner_ctx *c = calloc(1, sizeof(*c));
        int e;

        if (!c)
                return NULL;
        c->proc_fd = c->cgroup_fd = -1;
        c->passwd = strdup("/etc/passwd");
        c->nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_SOCK_DIAG);
        if (!c->passwd || c->nl < 0) {
                e = c->passwd ? errno : ENOMEM;
                owner_free(c);
                errno = e;
                return NULL;
        }
        /* missing roots are not fatal: what they would tell stays unknown */
        c->proc_fd = open(proc_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        c->cgroup_fd = cgroup_open(cgroup_root);
        return c;
}

void owner_free(struct owner_ctx *c)
{
        if (!c)
                return;
        if (c->nl >= 0)
                close(c->nl);
        if (c->proc_fd >= 0)
                close(c->proc_fd);
        if (c->cgroup_fd >= 0)
                close(c->cgroup_fd);
        cgroups_clear(c->cgroups, c->ncgroups);
        free(c->users);
        free(c->passwd);
        free(c->pids);
        free(c);
}
