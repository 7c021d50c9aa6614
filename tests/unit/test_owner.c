/* tests/unit/test_owner.c: who owns a connecting socket
 * (src/daemon/owner.c): cgroup paths to unit names, user names from a
 * passwd file, the cgroup id cache over a fixture tree, and real lookups:
 * a child in a network namespace of its own (and a cgroup of its own)
 * leaves IPv4, IPv6 and v4-mapped connections waiting in SYN_SENT and must
 * be found by its pid, comm, uid and unit. The real lookups need root. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/owner.h"

static char tmpdir[64];

static int setup_dir(void **state)
{
        (void)state;
        strcpy(tmpdir, "/tmp/mxlock-owner-XXXXXX");
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
        char cmd[128];

        (void)state;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
}

/* ---- cgroup paths to units -------------------------------------------------- */

static void check_unit(const char *path, const char *want)
{
        char buf[256];
        const char *got = owner_unit_from_cgroup(path, buf, sizeof(buf));

        if (!want) {
                if (got)
                        fail_msg("%s: want no unit, got %s", path, got);
                return;
        }
        if (!got)
                fail_msg("%s: want %s, got none", path, want);
        assert_string_equal(got, want);
}

static void test_unit_from_cgroup(void **state)
{
        char small[8];

        check_unit("/system.slice/apache2.service", "apache2.service");
        check_unit("/user.slice/user-1000.slice/session-3.scope", "session-3.scope");
        check_unit("/system.slice/run-u12.service", "run-u12.service");
        check_unit("/system.slice/postfix@-.service", "postfix@-.service");
        check_unit("/system.slice/system-postfix.slice/postfix@-.service", "postfix@-.service");
        check_unit("/init.scope", "init.scope");
        check_unit("/system.slice/docker-0123abcd.scope", "docker-0123abcd.scope");
        /* a delegated subtree: the host's unit, not the names inside it */
        check_unit("/system.slice/foo.service/init.scope", "foo.service");
        check_unit("/user.slice/user-1000.slice/user@1000.service/app.slice/x.service", "user@1000.service");
        check_unit("/machine.slice/systemd-nspawn@c1.service/payload/system.slice/postfix.service",
                   "systemd-nspawn@c1.service");
        /* stray slashes */
        check_unit("system.slice/cron.service", "cron.service");
        check_unit("//system.slice//cron.service/", "cron.service");
        /* no unit */
        check_unit("/", NULL);
        check_unit("", NULL);
        check_unit(NULL, NULL);
        check_unit("/system.slice", NULL);
        check_unit("/user.slice/user-1000.slice", NULL);
        check_unit("/.service", NULL);
        check_unit("/system.slice/.scope", NULL);
        check_unit("/system.slice/foo.servicex", NULL);
        /* not systemd's tree: nothing under it is trusted to be a unit */
        check_unit("/docker/0123abcd", NULL);
        check_unit("/lxc/c1/system.slice/postfix.service", NULL);
        check_unit("/mxlock-test.service", "mxlock-test.service");
        /* does not fit */
        assert_null(owner_unit_from_cgroup("/system.slice/cron.service", small, sizeof(small)));
        assert_non_null(owner_unit_from_cgroup("/a.scope", small, sizeof(small)));
        assert_string_equal(small, "a.scope");
}

/* ---- user names ---------------------------------------------------------- */

static void test_passwd_names(void **state)
{
        static const uint32_t none[] = { 5, 12, 500, 501, 502, 503, 4294967293u };
        char path[128], name[64], longname[80];
        struct owner_ctx *c = owner_new("/proc", "/sys/fs/cgroup");
        char *text;

        assert_non_null(c);
        snprintf(path, sizeof(path), "%s/passwd", tmpdir);
        memset(longname, 'x', 70);
        longname[70] = '\0';
        assert_int_not_equal(asprintf(&text,
                                      "root:x:0:0:root:/root:/bin/bash\n"
                                      "# a comment:x:5:5\n"
                                      "\n"
                                      "postfix:x:108:114::/var/spool/postfix:/usr/sbin/nologin\n"
                                      "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
                                      "dup:x:33:33::/:/bin/false\n"
                                      "+nis:x:500:500::/:/bin/false\n"
                                      "-other:x:501:501::/:/bin/false\n"
                                      "%s:x:502:502::/:/bin/false\n"
                                      "bad:x:12ab:1::/:/bin/false\n"
                                      "neg:x:-3:1::/:/bin/false\n"
                                      "short:x\n"
                                      ":x:503:1::/:/bin/false\n"
                                      "big:x:4294967294:1::/:/bin/false\n"
                                      "last:x:1000:1000::/home/last:/bin/sh",
                                      longname),
                         -1);
        write_file(path, text);
        free(text);
        assert_int_equal(owner_set_passwd(c, path), 0);

        owner_user_name(c, 0, name, sizeof(name));
        assert_string_equal(name, "root");
        owner_user_name(c, 108, name, sizeof(name));
        assert_string_equal(name, "postfix");
        /* the first line of a uid wins, as getpwuid's files lookup */
        owner_user_name(c, 33, name, sizeof(name));
        assert_string_equal(name, "www-data");
        owner_user_name(c, 4294967294u, name, sizeof(name));
        assert_string_equal(name, "big");
        /* a last line without newline */
        owner_user_name(c, 1000, name, sizeof(name));
        assert_string_equal(name, "last");
        /* not entries: comments, NIS markers, names too long, bad uids, no name */
        for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
                owner_user_name(c, none[i], name, sizeof(name));
                assert_string_equal(name, "");
        }
        /* a buffer too small gets "" rather than a cut name */
        owner_user_name(c, 108, name, 4);
        assert_string_equal(name, "");

        /* a changed file is read again (renamed over: another inode) */
        {
                char tmp[160];

                snprintf(tmp, sizeof(tmp), "%s.new", path);
                write_file(tmp, "root:x:0:0::/:/bin/sh\nmxlock:x:108:1::/:/bin/false\n");
                assert_int_equal(rename(tmp, path), 0);
        }
        owner_user_name(c, 108, name, sizeof(name));
        assert_string_equal(name, "mxlock");
        owner_user_name(c, 33, name, sizeof(name));
        assert_string_equal(name, "");
        /* rewritten in place, another size */
        write_file(path, "root:x:0:0::/:/bin/sh\nsmtp:x:108:1::/:/bin/false\nwww:x:33:1::/:/bin/false\n");
        owner_user_name(c, 33, name, sizeof(name));
        assert_string_equal(name, "www");
        owner_user_name(c, 108, name, sizeof(name));
        assert_string_equal(name, "smtp");
        /* gone: the names read before stay */
        assert_int_equal(unlink(path), 0);
        owner_user_name(c, 108, name, sizeof(name));
        assert_string_equal(name, "smtp");

        /* a context whose file never existed knows no names */
        assert_int_equal(owner_set_passwd(c, "/nonexistent/passwd"), 0);
        owner_user_name(c, 0, name, sizeof(name));
        assert_string_equal(name, "");
        owner_free(c);
        owner_free(NULL);
}

/* ---- the cgroup id cache ------------------------------------------------- */

static uint64_t ino_of(const char *path)
{
        struct stat st;

        assert_int_equal(stat(path, &st), 0);
        return st.st_ino;
}

static void mkdirs(const char *root, const char *const *dirs, size_t n)
{
        char path[256];

        for (size_t i = 0; i < n; i++) {
                snprintf(path, sizeof(path), "%s/%s", root, dirs[i]);
                assert_int_equal(mkdir(path, 0755), 0);
        }
}

/* The highest inode number of the fixture's cgroups (dirs[0] is root). */
static uint64_t max_ino(const char *root, const char *const *dirs, size_t n)
{
        char path[256];
        uint64_t max = ino_of(root);

        for (size_t i = 1; i < n; i++) {
                uint64_t ino;

                snprintf(path, sizeof(path), "%s/%s", root, dirs[i] + 3);
                ino = ino_of(path);
                if (ino > max)
                        max = ino;
        }
        return max;
}

static void test_cgroup_cache(void **state)
{
        static const char *const dirs[] = {
                "cg", "cg/system.slice", "cg/system.slice/apache2.service", "cg/user.slice",
                "cg/user.slice/user-1000.slice", "cg/user.slice/user-1000.slice/session-3.scope",
        };
        char root[128], path[256], got[256];
        struct owner_ctx *c;
        uint64_t id;
        int r;

        mkdirs(tmpdir, dirs, sizeof(dirs) / sizeof(dirs[0]));
        snprintf(root, sizeof(root), "%s/cg", tmpdir);
        snprintf(path, sizeof(path), "%s/cgroup.controllers", root);
        write_file(path, "");
        snprintf(path, sizeof(path), "%s/system.slice/apache2.service/cgroup.procs", root);
        write_file(path, "1\n");

        c = owner_new("/proc", root);
        assert_non_null(c);
        snprintf(path, sizeof(path), "%s/user.slice/user-1000.slice/session-3.scope", root);
        assert_int_equal(owner_cgroup_path(c, ino_of(path), got, sizeof(got)), 0);
        assert_string_equal(got, "/user.slice/user-1000.slice/session-3.scope");
        snprintf(path, sizeof(path), "%s/system.slice/apache2.service", root);
        assert_int_equal(owner_cgroup_path(c, ino_of(path), got, sizeof(got)), 0);
        assert_string_equal(got, "/system.slice/apache2.service");
        assert_int_equal(owner_cgroup_path(c, ino_of(root), got, sizeof(got)), 0);
        assert_string_equal(got, "/");
        assert_int_equal(owner_cgroup_path(c, ino_of(path), got, 8), -ENAMETOOLONG);

        /* a cgroup made after the walk: its id is newer than any the walk
         * saw (on cgroup2 always; on the fixture's file system when its
         * inode number is higher), so a miss soon after walks again (10 ms,
         * or 20 times the last walk's time: 100 ms leaves room for a slow
         * sanitizer build); an older id waits a second */
        snprintf(path, sizeof(path), "%s/system.slice/run-u12.service", root);
        assert_int_equal(mkdir(path, 0755), 0);
        id = ino_of(path);
        usleep(100 * 1000);
        r = owner_cgroup_path(c, id, got, sizeof(got));
        if (id > max_ino(root, dirs, sizeof(dirs) / sizeof(dirs[0])))
                assert_int_equal(r, 0);
        if (r == -ENOENT) {
                usleep(1100 * 1000);
                r = owner_cgroup_path(c, id, got, sizeof(got));
        }
        assert_int_equal(r, 0);
        assert_string_equal(got, "/system.slice/run-u12.service");
        /* gone: the cache still answers for it (ids are not reused) */
        assert_int_equal(rmdir(path), 0);
        assert_int_equal(owner_cgroup_path(c, id, got, sizeof(got)), 0);
        owner_free(c);

        /* the hybrid layout: cgroup2 under unified/ */
        snprintf(path, sizeof(path), "%s/hy", tmpdir);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/hy/unified", tmpdir);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/hy/unified/cgroup.controllers", tmpdir);
        write_file(path, "");
        snprintf(path, sizeof(path), "%s/hy/unified/system.slice", tmpdir);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(root, sizeof(root), "%s/hy", tmpdir);
        c = owner_new("/proc", root);
        assert_non_null(c);
        assert_int_equal(owner_cgroup_path(c, ino_of(path), got, sizeof(got)), 0);
        assert_string_equal(got, "/system.slice");
        owner_free(c);

        /* no cgroup2 at all (a v1 tree has no cgroup.controllers): no paths */
        c = owner_new("/proc", tmpdir);
        assert_non_null(c);
        assert_int_equal(owner_cgroup_path(c, ino_of(path), got, sizeof(got)), -ENOENT);
        owner_free(c);
}

/* ---- real lookups ---------------------------------------------------------- */

#define LOOPS 1000
#define COLD_LOOPS 50

struct child_result {
        int pid;                        /* the child's */
        int err;                        /* set-up failed: errno */
        char step[64];                  /* which step failed */
        bool in_cgroup;                 /* the child ran in the test cgroup */
        bool in_new;                    /* it ran in a cgroup made after the first walk */
        struct owner v4, v6, mapped, prefilled, missing, moved, fresh;
        int r_missing;
        double mean_us, mean_moved_us, cold_us, cold_moved_us;
};

/* The cgroup2 root of this host, as owner_new finds it. */
static const char *cgroup2_root(void)
{
        if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0)
                return "/sys/fs/cgroup";
        if (access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) == 0)
                return "/sys/fs/cgroup/unified";
        return NULL;
}

static bool join_cgroup(const char *dir)
{
        char path[256];
        int fd;
        bool ok;

        snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        ok = write(fd, "0", 1) == 1;
        close(fd);
        return ok;
}

/* A non-blocking connect left in SYN_SENT; its local address and port. */
static int connect_pending(int family, const char *dst, uint8_t ret_src[16], uint16_t *ret_sport)
{
        struct sockaddr_storage ss = { 0 };
        socklen_t len;
        int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -1;
        if (family == AF_INET) {
                struct sockaddr_in *a = (struct sockaddr_in *)&ss;

                a->sin_family = AF_INET;
                a->sin_port = htons(25);
                inet_pton(AF_INET, dst, &a->sin_addr);
                len = sizeof(*a);
        } else {
                struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

                a->sin6_family = AF_INET6;
                a->sin6_port = htons(25);
                inet_pton(AF_INET6, dst, &a->sin6_addr);
                len = sizeof(*a);
        }
        if (connect(fd, (struct sockaddr *)&ss, len) == 0 || errno != EINPROGRESS)
                return -1;
        len = sizeof(ss);
        if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
                return -1;
        memset(ret_src, 0, 16);
        if (ss.ss_family == AF_INET) {
                memcpy(ret_src, &((struct sockaddr_in *)&ss)->sin_addr, 4);
                *ret_sport = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else {
                memcpy(ret_src, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
                *ret_sport = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
        return fd;
}

static double mean_lookup_us(struct owner_ctx *c, int family, const uint8_t src[16], uint16_t sport,
                             const uint8_t dst[16])
{
        struct timespec a, b;

        clock_gettime(CLOCK_MONOTONIC, &a);
        for (int i = 0; i < LOOPS; i++) {
                struct owner o = { 0 };

                owner_lookup(c, family, src, sport, dst, 25, &o);
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        return ((double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3) / LOOPS;
}

/* The first lookup of a fresh context: the cgroup tree walked, the passwd
 * file read, no last pid to try first. */
static double mean_cold_us(int family, const uint8_t src[16], uint16_t sport, const uint8_t dst[16])
{
        double sum = 0;

        for (int i = 0; i < COLD_LOOPS; i++) {
                struct owner_ctx *c = owner_new("/proc", "/sys/fs/cgroup");
                struct owner o = { 0 };
                struct timespec a, b;

                if (!c)
                        return -1;
                clock_gettime(CLOCK_MONOTONIC, &a);
                owner_lookup(c, family, src, sport, dst, 25, &o);
                clock_gettime(CLOCK_MONOTONIC, &b);
                sum += (double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3;
                owner_free(c);
        }
        return sum / COLD_LOOPS;
}

static struct child_result *mmap_result(void)
{
        void *p = mmap(NULL, sizeof(struct child_result), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
                       0);

        assert_true(p != MAP_FAILED);
        memset(p, 0, sizeof(struct child_result));
        return p;
}

#define STEP(cond, name)                                                        \
        do {                                                                    \
                if (!(cond)) {                                                  \
                        r->err = errno;                                         \
                        snprintf(r->step, sizeof(r->step), "%s", name);         \
                        return;                                                 \
                }                                                               \
        } while (0)

/* The child: its own network namespace with a link whose peer never
 * answers (static neighbours, so no ARP or ND failure ends the connects),
 * its own cgroup when one was made. */
static void child_run(const char *cgdir, const char *cgnew, const char *cgroot, struct child_result *r)
{
        uint8_t src4[16], src6[16], srcm[16], dst4[16] = { 0 }, dst6[16] = { 0 };
        uint8_t srcn[16];
        uint16_t sport4, sport6, sportm, sportn;
        struct owner_ctx *c;
        int fd4, fd6, fdm, fdn = -1;

        r->pid = getpid();
        STEP(prctl(PR_SET_NAME, "owner-test") == 0, "prctl");
        r->in_cgroup = cgdir && join_cgroup(cgdir);
        STEP(unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET)");
        STEP(system("ip link set lo up && ip link add ow0 type veth peer name ow1 && "
                    "ip link set ow0 up && ip link set ow1 up && ip addr add 192.0.2.2/24 dev ow0 && "
                    "ip -6 addr add 2001:db8::2/64 dev ow0 nodad && "
                    "ip neigh add 192.0.2.1 lladdr 02:00:00:00:00:01 dev ow0 nud permanent && "
                    "ip -6 neigh add 2001:db8::1 lladdr 02:00:00:00:00:01 dev ow0 nud permanent") == 0,
             "ip (link, addresses, neighbours)");
        inet_pton(AF_INET, "192.0.2.1", dst4);
        inet_pton(AF_INET6, "2001:db8::1", dst6);
        fd4 = connect_pending(AF_INET, "192.0.2.1", src4, &sport4);
        STEP(fd4 >= 0, "IPv4 connect");
        fd6 = connect_pending(AF_INET6, "2001:db8::1", src6, &sport6);
        STEP(fd6 >= 0, "IPv6 connect");
        fdm = connect_pending(AF_INET6, "::ffff:192.0.2.1", srcm, &sportm);
        STEP(fdm >= 0, "v4-mapped connect");
        /* the packet of a v4-mapped socket is IPv4: so is the question */
        memmove(srcm, srcm + 12, 4);
        memset(srcm + 4, 0, 12);

        c = owner_new("/proc", "/sys/fs/cgroup");
        STEP(c != NULL, "owner_new");
        owner_lookup(c, AF_INET, src4, sport4, dst4, 25, &r->v4);
        owner_lookup(c, AF_INET6, src6, sport6, dst6, 25, &r->v6);
        owner_lookup(c, AF_INET, srcm, sportm, dst4, 25, &r->mapped);
        r->prefilled = (struct owner){ .has_uid = true, .uid = 4242 };
        owner_lookup(c, AF_INET, src4, sport4, dst4, 25, &r->prefilled);
        r->r_missing = owner_lookup(c, AF_INET, src4, (uint16_t)(sport4 + 1), dst4, 25, &r->missing);
        r->mean_us = mean_lookup_us(c, AF_INET, src4, sport4, dst4);
        r->cold_us = mean_cold_us(AF_INET, src4, sport4, dst4);
        /* a cgroup made after the context's walk (a transient unit that
         * connects as soon as it starts) is found without waiting a second */
        if (r->in_cgroup && mkdir(cgnew, 0755) == 0 && join_cgroup(cgnew)) {
                r->in_new = true;
                fdn = connect_pending(AF_INET, "192.0.2.1", srcn, &sportn);
                STEP(fdn >= 0, "IPv4 connect in the new cgroup");
                usleep(100 * 1000);
                owner_lookup(c, AF_INET, srcn, sportn, dst4, 25, &r->fresh);
        }
        /* moved out of the cgroup it made the socket in: the unit stays the
         * socket's, the process is found among its uid's */
        if (r->in_cgroup && join_cgroup(cgroot)) {
                owner_lookup(c, AF_INET, src4, sport4, dst4, 25, &r->moved);
                r->mean_moved_us = mean_lookup_us(c, AF_INET, src4, sport4, dst4);
                r->cold_moved_us = mean_cold_us(AF_INET, src4, sport4, dst4);
        }
        owner_free(c);
        close(fd4);
        close(fd6);
        close(fdm);
        if (fdn >= 0)
                close(fdn);
}

static void check_found(const struct child_result *r, const struct owner *o, const char *unit, const char *what)
{
        if (o->pid != r->pid)
                fail_msg("%s: pid %d, want %d", what, o->pid, r->pid);
        assert_true(o->has_uid);
        assert_int_equal(o->uid, 0);
        assert_string_equal(o->user, "root");
        assert_string_equal(o->comm, "owner-test");
        assert_string_equal(o->unit, unit);
}

static void test_lookup_real(void **state)
{
        struct child_result *r;
        const char *cgroot = cgroup2_root();
        char cgdir[256] = "", cgnew[256] = "", unit[64] = "", unit_new[64] = "";
        pid_t pid;
        int status;

        if (geteuid() != 0) {
                printf("skip: the real lookups need root (a network namespace, a cgroup)\n");
                skip();
        }
        r = mmap_result();
        if (cgroot) {
                snprintf(unit, sizeof(unit), "mxlock-owner-test-%d.service", (int)getpid());
                snprintf(cgdir, sizeof(cgdir), "%s/%s", cgroot, unit);
                snprintf(unit_new, sizeof(unit_new), "mxlock-owner-test-%d.scope", (int)getpid());
                snprintf(cgnew, sizeof(cgnew), "%s/%s", cgroot, unit_new);
                if (mkdir(cgdir, 0755) < 0) {
                        printf("# cannot make the test cgroup %s (%s): units not checked\n", cgdir,
                               strerror(errno));
                        cgdir[0] = unit[0] = '\0';
                }
        }
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                child_run(cgdir[0] ? cgdir : NULL, cgnew, cgroot, r);
                _exit(0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (cgdir[0]) {
                (void)rmdir(cgdir);
                (void)rmdir(cgnew);
        }
        if (r->step[0] && (r->err == EPERM || r->err == ENOSYS) && !strcmp(r->step, "unshare(CLONE_NEWNET)")) {
                printf("skip: %s: %s\n", r->step, strerror(r->err));
                skip();
        }
        if (r->step[0])
                fail_msg("child: %s failed: %s", r->step, strerror(r->err));
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        if (!r->in_cgroup)
                unit[0] = '\0';

        check_found(r, &r->v4, unit, "IPv4");
        check_found(r, &r->v6, unit, "IPv6");
        check_found(r, &r->mapped, unit, "v4-mapped");
        /* the caller's uid (the queue's) wins */
        assert_true(r->prefilled.has_uid);
        assert_int_equal(r->prefilled.uid, 4242);
        assert_int_equal(r->prefilled.pid, r->pid);
        /* no such socket: nothing known, not an error */
        assert_int_equal(r->r_missing, 0);
        assert_false(r->missing.has_uid);
        assert_int_equal(r->missing.pid, 0);
        assert_string_equal(r->missing.unit, "");
        if (r->in_cgroup)
                check_found(r, &r->moved, unit, "moved out of its cgroup");
        if (r->in_new)
                check_found(r, &r->fresh, unit_new, "in a cgroup made after the first walk");
        else
                printf("# no cgroup made after the first walk: not checked\n");
        printf("# owner_lookup: mean %.1f us over %d lookups (process in the socket's cgroup%s)\n", r->mean_us,
               LOOPS, r->in_cgroup ? "" : ": none made, /proc scan");
        printf("# owner_lookup: mean %.1f us over %d first lookups of a fresh context\n", r->cold_us, COLD_LOOPS);
        if (r->in_cgroup)
                printf("# owner_lookup: mean %.1f us over %d lookups, %.1f us first of a fresh context (process "
                       "moved: /proc scan by uid)\n",
                       r->mean_moved_us, LOOPS, r->cold_moved_us);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_unit_from_cgroup),
                cmocka_unit_test_setup_teardown(test_passwd_names, setup_dir, teardown_dir),
                cmocka_unit_test_setup_teardown(test_cgroup_cache, setup_dir, teardown_dir),
                cmocka_unit_test(test_lookup_real),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
