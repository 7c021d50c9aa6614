/* tests/bench/outconn.c: the client and listener of the outbound
 * benchmarks (tests/bench/outbound.sh).
 *
 * Usage:
 *   outconn listen ADDR PORT
 *       accept and close connections until SIGINT or SIGTERM.
 *   outconn alternate UID DST PORT ROUNDS WINDOW_MS NAME=COMMAND...
 *       a child as UID makes blocking connect() after connect() to
 *       DST:PORT, each closed with a reset (SO_LINGER 0: no TIME_WAIT, so
 *       the ports never run out), while this process (root) puts the
 *       machine in each named state in turn (COMMAND, run by sh -c) and
 *       counts the child's connects over a window of WINDOW_MS in it;
 *       ROUNDS rounds, each starting one state further on. Nothing else
 *       starts during a window, so they can be short and close together.
 *       Prints one JSON object: each round's connects per second by state,
 *       and the child's outcomes.
 *   outconn flood UID DST PORT SECONDS INFLIGHT RATE
 *       as UID, non-blocking connects to DST:PORT for SECONDS: with RATE 0
 *       as fast as it can with INFLIGHT outstanding (a new one as soon as
 *       one ends), with RATE > 0 paced at RATE a second (open loop, at most
 *       INFLIGHT outstanding; a tick that finds them all busy is counted as
 *       "deferred" and its connect goes out when one ends). Each connect is
 *       timed from the call to the event that ends it (the refusal, or the
 *       connection); one unanswered after TIMEOUT_MS is closed, before the
 *       kernel's first SYN retransmit at 1 s, so that every attempt is one
 *       SYN. Prints one JSON object: attempts (SYNs sent), outcomes, the
 *       refusals per second over the run and the latency percentiles (ms).
 *
 * With OUTCONN_DUMP=FILE, flood also writes each refusal's start (ms
 * since the run began) and latency (ms) to FILE, one line each.
 *
 * UID is a number; the process drops its groups and takes that uid and
 * gid before the first socket (it needs not exist in /etc/passwd). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>


#define TIMEOUT_MS 900
#define MAX_INFLIGHT 1024

static volatile sig_atomic_t stop_flag;

static void on_stop(int sig)
{
        (void)sig;
        stop_flag = 1;
}

static int64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what)
{
        fprintf(stderr, "outconn: %s: %s\n", what, strerror(errno));
        exit(1);
}

static void become(const char *uid_s)
{
        uid_t uid = (uid_t)strtoul(uid_s, NULL, 10);

        if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
                die("cannot take the uid");
}

static void parse_dst(const char *addr, const char *port, struct sockaddr_in *sa)
{
        memset(sa, 0, sizeof(*sa));
        sa->sin_family = AF_INET;
        sa->sin_port = htons((uint16_t)atoi(port));
        if (inet_pton(AF_INET, addr, &sa->sin_addr) != 1) {
                fprintf(stderr, "outconn: not an IPv4 address: %s\n", addr);
                exit(2);
        }
}

static void catch_stop(void)
{
        struct sigaction sa = { .sa_handler = on_stop };

        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
}

static int do_listen(char **argv)
{
        struct sockaddr_in sa;
        int fd, one = 1;

        parse_dst(argv[0], argv[1], &sa);
        catch_stop();
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                die("socket");
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4096) < 0)
                die("listen");
        printf("ready\n");
        fflush(stdout);
        while (!stop_flag) {
                int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

                if (c >= 0)
                        close(c);
        }
        return 0;
}

struct tally {
        unsigned long connected, refused, other;
};

/* Connect and reset-close until stopped, counting into t (which may be
 * shared with a parent that reads it meanwhile). */
static void connect_loop(const struct sockaddr_in *sa, volatile struct tally *t)
{
        struct linger lg = { .l_onoff = 1, .l_linger = 0 };

        while (!stop_flag) {
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

                if (fd < 0)
                        die("socket");
                if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
                        t->connected++;
                else if (errno == ECONNREFUSED)
                        t->refused++;
                else if (errno != EINTR)
                        t->other++;
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
                close(fd);
        }
}

static void sleep_ms(long ms)
{
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* States are NAME=COMMAND: the command (sh -c, in this process's
 * namespace, as root) puts the machine in that state. */
static int do_alternate(int argc, char **argv)
{
        struct sockaddr_in sa;
        volatile struct tally *t;
        int rounds = atoi(argv[3]);
        long win = atol(argv[4]);
        char **state = argv + 5;
        int nstates = argc - 5;
        pid_t child;
        int status;

        parse_dst(argv[1], argv[2], &sa);
        t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (t == MAP_FAILED)
                die("mmap");
        child = fork();
        if (child < 0)
                die("fork");
        if (child == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                catch_stop();
                become(argv[0]);
                connect_loop(&sa, t);
                _exit(0);
        }
        sleep_ms(300);
        printf("{\"window_ms\":%ld,\"rounds\":[", win);
        for (int r = 0; r < rounds; r++) {
                printf("%s{", r ? "," : "");
                for (int k = 0; k < nstates; k++) {
                        /* each round starts one state further on */
                        const char *st = state[(k + r) % nstates];
                        const char *eq = strchr(st, '=');
                        unsigned long c0, c1;
                        int64_t t0, t1;

                        if (!eq || system(eq + 1) != 0) {
                                fprintf(stderr, "outconn: state %s failed\n", st);
                                kill(child, SIGTERM);
                                return 1;
                        }
                        sleep_ms(20);
                        t0 = now_ns();
                        c0 = t->connected;
                        sleep_ms(win);
                        t1 = now_ns();
                        c1 = t->connected;
                        printf("%s\"%.*s\":%.0f", k ? "," : "", (int)(eq - st), st,
                               (double)(c1 - c0) * 1e9 / (double)(t1 - t0));
                }
                printf("}");
                fflush(stdout);
        }
        kill(child, SIGTERM);
        waitpid(child, &status, 0);
        printf("],\"connected\":%lu,\"refused\":%lu,\"other\":%lu}\n", t->connected, t->refused, t->other);
        return 0;
}

struct slot {
        int64_t t0;             /* 0: free */
};

struct flood {
        struct sockaddr_in dst;
        int ep;
        struct slot slot[65536];        /* by fd */
        int inflight, max_inflight, hi_fd;
        unsigned long attempts, refused, connected, timeout, errors, deferred, not_sent;
        double *lat;
        size_t nlat, cap;
        FILE *dump;             /* $OUTCONN_DUMP: one "start_ms latency_ms" line per refusal */
        int64_t t_start;
};

static void lat_add(struct flood *f, double ms)
{
        if (f->nlat == f->cap) {
                f->cap = f->cap ? 2 * f->cap : 65536;
                f->lat = realloc(f->lat, f->cap * sizeof(double));
                if (!f->lat)
                        die("realloc");
        }
        f->lat[f->nlat++] = ms;
}

static void finish(struct flood *f, int fd, int err, int64_t t)
{
        if (err == ECONNREFUSED) {
                f->refused++;
                lat_add(f, (double)(t - f->slot[fd].t0) / 1e6);
                if (f->dump)
                        fprintf(f->dump, "%.3f %.4f\n", (double)(f->slot[fd].t0 - f->t_start) / 1e6,
                                (double)(t - f->slot[fd].t0) / 1e6);
        } else if (err == 0) {
                struct linger lg = { .l_onoff = 1, .l_linger = 0 };

                /* closed with a reset: no TIME_WAIT holding the port */
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
                f->connected++;
        } else if (err == ETIMEDOUT) {
                f->timeout++;
        } else {
                f->errors++;
        }
        f->slot[fd].t0 = 0;
        f->inflight--;
        close(fd);
}

/* One non-blocking connect; 1 when a SYN went out, 0 when not. */
static int start_one(struct flood *f)
{
        struct epoll_event ev = { .events = EPOLLOUT | EPOLLERR | EPOLLHUP };
        int64_t t;
        int fd, r;

        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || fd >= 65536)
                die("socket");
        t = now_ns();
        r = connect(fd, (struct sockaddr *)&f->dst, sizeof(f->dst));
        f->slot[fd].t0 = t;
        f->inflight++;
        if (r == 0 || errno == ECONNREFUSED) {
                f->attempts++;
                finish(f, fd, r == 0 ? 0 : ECONNREFUSED, now_ns());
                return 1;
        }
        if (errno != EINPROGRESS) {
                f->not_sent++;
                f->slot[fd].t0 = 0;
                f->inflight--;
                close(fd);
                return 0;
        }
        f->attempts++;
        if (fd > f->hi_fd)
                f->hi_fd = fd;
        ev.data.fd = fd;
        if (epoll_ctl(f->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
                die("epoll_ctl");
        return 1;
}

static void expire(struct flood *f, int64_t t)
{
        for (int fd = 0; fd <= f->hi_fd; fd++)
                if (f->slot[fd].t0 && t - f->slot[fd].t0 > (int64_t)TIMEOUT_MS * 1000000)
                        finish(f, fd, ETIMEDOUT, t);
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return x < y ? -1 : x > y;
}

static double pct(const struct flood *f, double p)
{
        size_t k;

        if (!f->nlat)
                return -1;
        k = (size_t)(p / 100.0 * (double)(f->nlat - 1) + 0.5);
        return f->lat[k < f->nlat ? k : f->nlat - 1];
}

static void print_ms(const char *key, double v, const char *sep)
{
        if (v < 0)
                printf("\"%s\":null%s", key, sep);
        else
                printf("\"%s\":%.4f%s", key, v, sep);
}

static int do_flood(char **argv)
{
        static struct flood f;
        struct epoll_event evs[256];
        double secs = atof(argv[3]);
        unsigned long rate = strtoul(argv[5], NULL, 10), owed = 0;
        int64_t t_start, t_stop, t_end, t_last = 0;
        int tfd = -1;

        /* opened as root, before the uid changes */
        if (getenv("OUTCONN_DUMP") && !(f.dump = fopen(getenv("OUTCONN_DUMP"), "we")))
                die("OUTCONN_DUMP");
        become(argv[0]);
        parse_dst(argv[1], argv[2], &f.dst);
        f.max_inflight = atoi(argv[4]);
        if (f.max_inflight < 1 || f.max_inflight > MAX_INFLIGHT)
                f.max_inflight = MAX_INFLIGHT;
        catch_stop();
        f.ep = epoll_create1(EPOLL_CLOEXEC);
        if (f.ep < 0)
                die("epoll_create1");
        if (rate) {
                long period = (long)(1000000000UL / rate);
                struct itimerspec its = { .it_value = { 0, period }, .it_interval = { 0, period } };
                struct epoll_event ev = { .events = EPOLLIN, .data.fd = -1 };

                tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
                if (tfd < 0 || timerfd_settime(tfd, 0, &its, NULL) < 0 || epoll_ctl(f.ep, EPOLL_CTL_ADD, tfd, &ev) < 0)
                        die("timerfd");
        }
        t_start = f.t_start = now_ns();
        t_stop = t_start + (int64_t)(secs * 1e9);
        t_end = t_stop + (int64_t)TIMEOUT_MS * 1000000 + 100000000;
        for (;;) {
                int64_t t = now_ns();
                int n;

                if (stop_flag || t >= t_end || (t >= t_stop && f.inflight == 0))
                        break;
                if (t < t_stop) {
                        if (!rate) {
                                while (f.inflight < f.max_inflight)
                                        start_one(&f);
                        } else {
                                while (owed && f.inflight < f.max_inflight) {
                                        start_one(&f);
                                        owed--;
                                }
                        }
                }
                n = epoll_wait(f.ep, evs, 256, 10);
                t = now_ns();
                for (int i = 0; i < n; i++) {
                        int fd = evs[i].data.fd, err = 0;
                        socklen_t len = sizeof(err);

                        if (fd < 0) {
                                uint64_t exp = 0;

                                if (read(tfd, &exp, sizeof(exp)) == sizeof(exp) && t < t_stop) {
                                        if (f.inflight + owed >= (unsigned long)f.max_inflight)
                                                f.deferred += exp;
                                        owed += exp;
                                }
                                continue;
                        }
                        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
                        finish(&f, fd, err, t);
                }
                if (t - t_last > 50000000) {
                        expire(&f, t);
                        t_last = t;
                }
        }
        /* whatever is still out counts as timed out */
        expire(&f, INT64_MAX / 2);
        if (f.dump)
                fclose(f.dump);
        qsort(f.lat, f.nlat, sizeof(double), cmp_double);
        secs = (double)(t_stop - t_start) / 1e9;
        printf("{\"seconds\":%.3f,\"inflight\":%d,\"rate_offered\":%lu,\"attempts\":%lu,\"not_sent\":%lu,"
               "\"outcomes\":{\"refused\":%lu,\"connected\":%lu,\"timeout\":%lu,\"error\":%lu},\"deferred\":%lu,"
               "\"refused_per_s\":%.1f,",
               secs, f.max_inflight, rate, f.attempts, f.not_sent, f.refused, f.connected, f.timeout, f.errors,
               f.deferred, (double)f.refused / secs);
        print_ms("p50_ms", pct(&f, 50), ",");
        print_ms("p90_ms", pct(&f, 90), ",");
        print_ms("p99_ms", pct(&f, 99), ",");
        print_ms("max_ms", f.nlat ? f.lat[f.nlat - 1] : -1, "}\n");
        return 0;
}

int main(int argc, char **argv)
{
        if (argc == 4 && !strcmp(argv[1], "listen"))
                return do_listen(argv + 2);
        if (argc >= 8 && !strcmp(argv[1], "alternate"))
                return do_alternate(argc - 2, argv + 2);
        if (argc == 8 && !strcmp(argv[1], "flood"))
                return do_flood(argv + 2);
        fprintf(stderr, "usage: outconn listen ADDR PORT |"
                        " alternate UID DST PORT ROUNDS WINDOW_MS NAME=COMMAND... |"
                        " flood UID DST PORT SECONDS INFLIGHT RATE\n");
        return 2;
}
