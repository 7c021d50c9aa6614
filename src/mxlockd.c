/* src/mxlockd.c: the daemon: loads the policy, installs the kernel table,
 * answers the queue, writes the audit log. One epoll loop; every handler
 * returns quickly. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "config.h"
#include "decode.h"
#include "log.h"
#include "notify.h"
#include "policy.h"
#include "queue.h"
#include "ruleset.h"

#define MXLOCK_VERSION "0.1.0"
#define EXIT_CONFIG 2
#define QUEUE_MAXLEN 16384
#define RECV_BATCH 256

struct daemon {
        const char *config_path;
        const char *provider_dirs_override;
        struct config *cfg;
        struct policy_set *pol;
        uint16_t port_policy[65536];    /* policy index + 1, 0: not locked */
        struct ruleset_opts opts;
        struct ruleset_nl *nl;
        struct queue *queue;
        struct audit *audit;
        int epfd, sigfd, timerfd;
        bool running;
        bool audit_failing;
        char ifnames[64][IF_NAMESIZE];
        uint64_t refused, observed, undecodable;
        struct timeval started;
};

static void warn_cb(const char *file, int line, const char *msg, void *userdata)
{
        if (line > 0)
                log_warning("%s:%d: %s", file, line, msg);
        else
                log_warning("%s: %s", file, msg);
}

/* Load and check the config and the policies it names. */
static int load(struct daemon *d, struct config **ret_cfg, struct policy_set **ret_pol, char err[CONFIG_ERRLEN])
{
        struct config *c = NULL;
        struct policy_set *p = NULL;
        int r;

        err[0] = '\0';
        r = config_load(d->config_path, &c, err, warn_cb, NULL);
        if (r < 0)
                return r;
        r = policy_build(c, d->provider_dirs_override, NULL, &p, err, warn_cb, NULL);
        if (r < 0) {
                config_free(c);
                return r;
        }
        *ret_cfg = c;
        *ret_pol = p;
        return 0;
}

static void opts_from_config(struct ruleset_opts *o, const struct config *c, bool native)
{
        o->table = c->table;
        o->queue = c->queue;
        o->queues = c->queues ? c->queues : 1;
        o->bypass = c->failure == FAILURE_OPEN;
        o->monitor = c->mode == MODE_MONITOR;
        o->drop = c->action == ACTION_DROP;
        o->native_queue = native;
}

static void index_ports(struct daemon *d)
{
        memset(d->port_policy, 0, sizeof(d->port_policy));
        for (size_t i = 0; i < d->pol->n; i++)
                for (size_t k = 0; k < d->pol->v[i].nports; k++)
                        d->port_policy[d->pol->v[i].ports[k]] = (uint16_t)(i + 1);
}

/* ---- audit records ---- */

static void audit_emit(struct daemon *d, struct jline *j)
{
        int r;

        jline_end(j);
        if (!d->audit)
                return;
        r = audit_write(d->audit, j);
        if (r < 0 && !d->audit_failing) {
                d->audit_failing = true;
                log_error_errno(r, "Cannot write the audit log %s, counting lost records: %m",
                                d->cfg->audit_log);
        } else if (r == 0 && d->audit_failing) {
                d->audit_failing = false;
                log_notice("Audit log %s writable again; %llu records lost", d->cfg->audit_log,
                           (unsigned long long)audit_lost(d->audit));
        }
}

static void audit_event(struct daemon *d, const char *event, const char *result, const char *error)
{
        struct timeval tv;
        struct jline j;

        gettimeofday(&tv, NULL);
        jline_begin(&j, &tv, event);
        if (result)
                jline_str(&j, "result", result);
        if (error)
                jline_str(&j, "error", error);
        if (d->cfg) {
                jline_str(&j, "mode", cfg_mode_name(d->cfg->mode));
                jline_str(&j, "action", cfg_action_name(d->cfg->action));
                jline_str(&j, "failure", cfg_failure_name(d->cfg->failure));
                jline_str(&j, "table", d->cfg->table);
        }
        if (d->pol) {
                jline_uint(&j, "policies", d->pol->n);
                jline_uint(&j, "ranges", policy_set_ranges(d->pol));
        }
        if (strcmp(event, "start") == 0) {
                jline_str(&j, "version", MXLOCK_VERSION);
                jline_str(&j, "queue_backend", d->opts.native_queue ? "nft-queue" : "xt-NFQUEUE");
        }
        if (strcmp(event, "stop") == 0) {
                jline_uint(&j, "refused", d->refused);
                jline_uint(&j, "observed", d->observed);
        }
        audit_emit(d, &j);
        if (d->audit)
                (void)audit_flush(d->audit);
}

static const char *ifname(struct daemon *d, uint32_t ifindex, char *buf)
{
        if (ifindex == 0)
                return NULL;
        if (ifindex < 64) {
                if (!d->ifnames[ifindex][0] && !if_indextoname(ifindex, d->ifnames[ifindex]))
                        return NULL;
                return d->ifnames[ifindex];
        }
        return if_indextoname(ifindex, buf);
}

/* ---- the queue ---- */

static void on_packet(const struct queue_pkt *p, void *userdata)
{
        struct daemon *d = userdata;
        const struct policy_source *src = NULL;
        const struct policy *pol;
        struct syn_info s;
        char sbuf[ADDR_STRLEN], dbuf[ADDR_STRLEN], ibuf[IF_NAMESIZE];
        struct timeval tv;
        struct jline j;
        unsigned idx;
        addr128 a;
        int r;

        r = syn_decode(p->data, p->len, &s);
        if (r < 0 || !(idx = d->port_policy[s.dport])) {
                /* not ours to judge (a reload changed the ports): let the kernel decide */
                d->undecodable++;
                queue_verdict(d->queue, p, d->opts.monitor || r == 0 ? QUEUE_ACCEPT : QUEUE_DROP, 0);
                return;
        }
        pol = &d->pol->v[idx - 1];
        queue_verdict(d->queue, p, QUEUE_REPEAT, ruleset_mark(idx - 1));

        a = addr_from_bytes(s.family, s.src);
        (void)policy_classify(pol, s.family, a, &src);

        gettimeofday(&tv, NULL);
        jline_begin(&j, &tv, d->opts.monitor ? "observed" : "refused");
        jline_str(&j, "policy", pol->name);
        jline_str(&j, "mode", cfg_mode_name(d->cfg->mode));
        jline_str(&j, "action", cfg_action_name(d->cfg->action));
        jline_str(&j, "family", s.family == AF_INET ? "ipv4" : "ipv6");
        jline_str(&j, "src", addr_format(s.family, a, sbuf));
        jline_uint(&j, "sport", s.sport);
        jline_str(&j, "dst", addr_format(s.family, addr_from_bytes(s.family, s.dst), dbuf));
        jline_uint(&j, "dport", s.dport);
        jline_uint(&j, "ttl", s.ttl);
        jline_str(&j, "iface", ifname(d, p->ifindex, ibuf));
        jline_uint(&j, "count", 1);
        jline_str(&j, "reason", src && src->deny ? "denied" : "not-allowed");
        if (src && src->deny)
                jline_str(&j, "rule", src->origin);
        audit_emit(d, &j);
        if (d->opts.monitor)
                d->observed++;
        else
                d->refused++;
}

static void on_queue(struct daemon *d)
{
        int n, r;

        do {
                n = queue_receive(d->queue, RECV_BATCH, on_packet, d);
                r = queue_flush(d->queue);
                if (r < 0)
                        log_warning_errno(r, "Sending verdicts failed: %m");
        } while (n == RECV_BATCH);
        if (n < 0)
                log_warning_errno(n, "Reading the queue failed: %m");
        if (d->audit)
                (void)audit_flush(d->audit);
}

/* ---- kernel side ---- */

/* Attempts the kernel refused while nobody was reading (from the counters
 * a previous mxlockd left behind), written as `missed` records. */
static void account_missed(struct daemon *d)
{
        char qname[128], hname[128];

        for (size_t i = 0; i < d->pol->n; i++) {
                uint64_t queued = 0, handled = 0;
                struct timeval tv;
                struct jline j;

                ruleset_obj_name(OBJ_QUEUED, d->pol->v[i].name, qname, sizeof(qname));
                ruleset_obj_name(OBJ_HANDLED, d->pol->v[i].name, hname, sizeof(hname));
                if (ruleset_counter(d->nl, d->cfg->table, qname, false, &queued) < 0 ||
                    ruleset_counter(d->nl, d->cfg->table, hname, false, &handled) < 0)
                        continue;
                if (queued <= handled)
                        continue;
                gettimeofday(&tv, NULL);
                jline_begin(&j, &tv, "missed");
                jline_str(&j, "policy", d->pol->v[i].name);
                jline_str(&j, "mode", cfg_mode_name(d->cfg->mode));
                jline_str(&j, "action", d->cfg->failure == FAILURE_OPEN ? "accept" : "drop");
                jline_uint(&j, "count", queued - handled);
                jline_str(&j, "reason", "mxlockd was not reading the queue");
                audit_emit(d, &j);
                log_notice("policy %s: %llu attempts while mxlockd was not running", d->pol->v[i].name,
                           (unsigned long long)(queued - handled));
        }
}

static int install(struct daemon *d, const struct ruleset_opts *o, struct policy_set *want,
                   const struct policy_set *have)
{
        struct ruleset_opts tryo = *o;
        struct ruleset_stats st = { 0 };
        int r;

        r = ruleset_apply(d->nl, &tryo, want, have, &st);
        if (r < 0 && tryo.native_queue && (r == -ENOENT || r == -EOPNOTSUPP)) {
                /* no nft_queue in this kernel: the xt NFQUEUE target via nft_compat */
                tryo.native_queue = false;
                r = ruleset_apply(d->nl, &tryo, want, have, &st);
                if (r == 0)
                        log_info("Kernel lacks the native queue expression; using the xt NFQUEUE target");
        }
        if (r < 0 && have) {
                /* the table may have been removed behind our back: rebuild */
                r = ruleset_apply(d->nl, &tryo, want, NULL, &st);
        }
        if (r < 0)
                return r;
        d->opts = tryo;
        log_info("Table inet %s in force: %zu policies, %zu ranges (%zu elements added, %zu removed, "
                 "%zu messages, %zu bytes)", tryo.table, want->n, policy_set_ranges(want), st.elements_added,
                 st.elements_deleted, st.messages, st.bytes);
        return 0;
}

static int open_audit(struct daemon *d)
{
        char dir[PATH_MAX];
        char *slash;
        int r;

        snprintf(dir, sizeof(dir), "%s", d->cfg->audit_log);
        slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                if (mkdir(dir, 0750) < 0 && errno != EEXIST)
                        return log_error_errno(errno, "Cannot create %s: %m", dir);
        }
        r = audit_open(d->cfg->audit_log, &d->audit);
        if (r < 0)
                return log_error_errno(r, "Cannot open the audit log %s: %m", d->cfg->audit_log);
        return 0;
}

/* ---- reload ---- */

static void reload(struct daemon *d)
{
        struct config *c = NULL;
        struct policy_set *p = NULL;
        struct ruleset_opts o;
        char err[CONFIG_ERRLEN];
        int r;

        log_info("Reloading %s", d->config_path);
        notify_send("RELOADING=1\nSTATUS=Reloading");
        r = load(d, &c, &p, err);
        if (r < 0) {
                log_error("Reload failed, the rules in force stay: %s", err);
                audit_event(d, "reload", "error", err);
                goto out;
        }
        if (strcmp(c->table, d->cfg->table) != 0 || c->queue != d->cfg->queue || c->queues != d->cfg->queues ||
            strcmp(c->audit_log, d->cfg->audit_log) != 0) {
                snprintf(err, sizeof(err), "%s: table, queue and audit_log cannot change on reload; restart mxlockd",
                         d->config_path);
                log_error("Reload failed, the rules in force stay: %s", err);
                audit_event(d, "reload", "error", err);
                config_free(c);
                policy_set_free(p);
                goto out;
        }
        opts_from_config(&o, c, d->opts.native_queue);
        r = install(d, &o, p, d->pol);
        if (r < 0) {
                snprintf(err, sizeof(err), "installing the ruleset failed: %s", strerror(-r));
                log_error("Reload failed, the rules in force stay: %s", err);
                audit_event(d, "reload", "error", err);
                config_free(c);
                policy_set_free(p);
                goto out;
        }
        config_free(d->cfg);
        policy_set_free(d->pol);
        d->cfg = c;
        d->pol = p;
        index_ports(d);
        audit_event(d, "reload", "ok", NULL);
        log_info("Reload done");
out:
        notify_send("READY=1\nSTATUS=Enforcing");
}

/* ---- signals and the loop ---- */

static int setup_loop(struct daemon *d)
{
        struct epoll_event ev = { .events = EPOLLIN };
        struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGUSR1);
        sigaddset(&mask, SIGPIPE);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        d->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        d->epfd = epoll_create1(EPOLL_CLOEXEC);
        d->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (d->sigfd < 0 || d->epfd < 0 || d->timerfd < 0)
                return -errno;
        if (timerfd_settime(d->timerfd, 0, &its, NULL) < 0)
                return -errno;
        ev.data.fd = d->sigfd;
        if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->sigfd, &ev) < 0)
                return -errno;
        ev.data.fd = queue_fd(d->queue);
        if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0)
                return -errno;
        ev.data.fd = d->timerfd;
        if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->timerfd, &ev) < 0)
                return -errno;
        return 0;
}

static void on_signal(struct daemon *d)
{
        struct signalfd_siginfo si;

        while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
                switch (si.ssi_signo) {
                case SIGHUP:
                        reload(d);
                        break;
                case SIGTERM:
                case SIGINT:
                        d->running = false;
                        break;
                case SIGUSR1:
                        if (d->audit) {
                                int r = audit_reopen(d->audit);
                                if (r < 0)
                                        log_error_errno(r, "Reopening %s failed: %m", d->cfg->audit_log);
                                else
                                        log_info("Audit log reopened");
                        }
                        break;
                default:
                        break;
                }
        }
}

static void on_timer(struct daemon *d)
{
        uint64_t ticks;
        uint64_t wd = notify_watchdog_usec();

        (void)!read(d->timerfd, &ticks, sizeof(ticks));
        if (d->audit)
                (void)audit_flush(d->audit);
        if (wd)
                notify_send("WATCHDOG=1");
}

static int run(struct daemon *d)
{
        struct epoll_event evs[8];

        d->running = true;
        while (d->running) {
                int n = epoll_wait(d->epfd, evs, 8, -1);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return log_error_errno(errno, "epoll_wait: %m");
                }
                for (int i = 0; i < n; i++) {
                        int fd = evs[i].data.fd;

                        if (fd == d->sigfd)
                                on_signal(d);
                        else if (fd == d->timerfd)
                                on_timer(d);
                        else if (d->queue && fd == queue_fd(d->queue))
                                on_queue(d);
                }
        }
        return 0;
}

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: mxlockd [-c FILE] [-n | --print-ruleset] [-d]\n"
                "Lock an SMTP port down to the email-security gateway's ranges.\n\n"
                "  -c, --config FILE     configuration (default /etc/mxlock/mxlock.conf)\n"
                "  -n, --check           check the configuration and exit (0 valid, 2 not)\n"
                "      --print-ruleset   print the nftables ruleset it would install and exit\n"
                "      --provider-dirs D override provider catalog dirs (colon-separated)\n"
                "  -d, --debug           debug messages\n"
                "  -V, --version         print the version\n");
}

int main(int argc, char **argv)
{
        static const struct option longopts[] = {
                { "config", required_argument, NULL, 'c' },
                { "check", no_argument, NULL, 'n' },
                { "print-ruleset", no_argument, NULL, 'P' },
                { "provider-dirs", required_argument, NULL, 'D' },
                { "debug", no_argument, NULL, 'd' },
                { "version", no_argument, NULL, 'V' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        static struct daemon dd;
        struct daemon *d = &dd;
        bool check = false, print = false;
        char err[CONFIG_ERRLEN];
        int c, r;

        log_setup("mxlockd");
        d->config_path = "/etc/mxlock/mxlock.conf";
        d->epfd = d->sigfd = d->timerfd = -1;
        while ((c = getopt_long(argc, argv, "c:ndVh", longopts, NULL)) != -1) {
                switch (c) {
                case 'c': d->config_path = optarg; break;
                case 'n': check = true; break;
                case 'P': print = true; break;
                case 'D': d->provider_dirs_override = optarg; break;
                case 'd': log_set_debug(1); break;
                case 'V': printf("mxlockd %s\n", MXLOCK_VERSION); return 0;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return EXIT_CONFIG;
                }
        }
        if (optind < argc) {
                usage(stderr);
                return EXIT_CONFIG;
        }

        r = load(d, &d->cfg, &d->pol, err);
        if (r < 0) {
                fprintf(stderr, "%s\n", err);
                return EXIT_CONFIG;
        }
        opts_from_config(&d->opts, d->cfg, ruleset_probe_native_queue());
        if (check) {
                fprintf(stderr, "%s: configuration valid: %zu policies, %zu ranges\n", d->config_path, d->pol->n,
                        policy_set_ranges(d->pol));
                r = 0;
                goto out;
        }
        if (print) {
                ruleset_print(stdout, &d->opts, d->pol);
                r = fflush(stdout) == 0 ? 0 : 1;
                goto out;
        }

        index_ports(d);
        gettimeofday(&d->started, NULL);
        if (open_audit(d) < 0) {
                r = 1;
                goto out;
        }
        r = ruleset_nl_open(&d->nl);
        if (r < 0) {
                log_error_errno(r, "Cannot open the nf_tables netlink socket: %m");
                goto out_fail;
        }
        r = queue_open(d->cfg->queue, d->opts.queues, QUEUE_MAXLEN, d->cfg->failure == FAILURE_OPEN, &d->queue);
        if (r < 0) {
                log_error_errno(r, "Cannot bind NFQUEUE %u: %m", d->cfg->queue);
                goto out_fail;
        }
        if (ruleset_table_exists(d->nl, d->cfg->table) > 0)
                account_missed(d);
        r = install(d, &d->opts, d->pol, NULL);
        if (r < 0) {
                log_error_errno(r, "Installing table inet %s failed: %m", d->cfg->table);
                goto out_fail;
        }
        r = setup_loop(d);
        if (r < 0) {
                log_error_errno(r, "Setting up the event loop failed: %m");
                goto out_fail;
        }
        audit_event(d, "start", NULL, NULL);
        log_info("mxlockd %s enforcing: mode %s, action %s, failure %s", MXLOCK_VERSION,
                 cfg_mode_name(d->cfg->mode), cfg_action_name(d->cfg->action), cfg_failure_name(d->cfg->failure));
        notify_send("READY=1\nSTATUS=Enforcing");

        r = run(d);

        notify_send("STOPPING=1");
        audit_event(d, "stop", NULL, NULL);
        log_info("Stopping; table inet %s stays in place (failure = %s)", d->cfg->table,
                 cfg_failure_name(d->cfg->failure));
        r = r < 0 ? 1 : 0;
        goto out;
out_fail:
        r = 1;
out:
        queue_close(d->queue);
        ruleset_nl_close(d->nl);
        audit_close(d->audit);
        if (d->epfd >= 0)
                close(d->epfd);
        if (d->sigfd >= 0)
                close(d->sigfd);
        if (d->timerfd >= 0)
                close(d->timerfd);
        policy_set_free(d->pol);
        config_free(d->cfg);
        return r;
}
