/* src/mxlockd.c: the daemon's main: options, privileges, creating the
 * modules of src/daemon/ and wiring them to the loop (docs/design.md,
 * section 9). */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "audit.h"
#include "control.h"
#include "dns.h"
#include "journal.h"
#include "log.h"
#include "notify.h"
#include "privs.h"
#include "daemon/daemon.h"
#include "daemon/hosts.h"
#include "daemon/loop.h"

static char *simple_reply(bool ok, const char *error)
{
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);

        if (!f)
                return NULL;
        fprintf(f, "{\"ok\":%s", ok ? "true" : "false");
        if (error) {
                fputs(",\"error\":", f);
                json_fputs(f, error);
        }
        fputs("}\n", f);
        fclose(f);
        return out;
}

static void on_request(const char *req, char **ret_reply, void *userdata)
{
        struct daemon *d = userdata;
        char err[CONFIG_ERRLEN] = "";

        if (strcmp(req, "status") == 0) {
                *ret_reply = status_json(d);
        } else if (strcmp(req, "status-text") == 0) {
                *ret_reply = status_text(d);
        } else if (strcmp(req, "reload") == 0) {
                *ret_reply = simple_reply(reload(d, err) == 0, err[0] ? err : NULL);
        } else if (strcmp(req, "enable") == 0 || strcmp(req, "disable") == 0) {
                set_enabled(d, req[0] == 'e', err);
                *ret_reply = simple_reply(!err[0], err[0] ? err : NULL);
        } else {
                *ret_reply = simple_reply(false, "unknown request");
        }
}

static int sigfd = -1;

static void on_signal(int fd, uint32_t events, void *data)
{
        struct daemon *d = data;
        struct signalfd_siginfo si;
        char err[CONFIG_ERRLEN];

        while (read(fd, &si, sizeof(si)) == sizeof(si)) {
                switch (si.ssi_signo) {
                case SIGHUP:
                        (void)reload(d, err);
                        break;
                case SIGTERM:
                case SIGINT:
                        loop_quit(d->loop);
                        break;
                case SIGUSR1:
                        audit_out_reopen(d);
                        break;
                default:
                        break;
                }
        }
}

/* Wire the modules to the loop: signals, the queue, the control socket,
 * and the modules' timeouts. */
static int setup_loop(struct daemon *d)
{
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGUSR1);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        signal(SIGPIPE, SIG_IGN);
        sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sigfd < 0)
                return -errno;
        r = loop_new(&d->loop);
        if (r < 0)
                return r;
        if ((r = loop_add_fd(d->loop, sigfd, EPOLLIN, on_signal, d)) < 0 ||
            (r = loop_add_fd(d->loop, queue_fd(d->pkt.queue), EPOLLIN, packet_on_queue, d)) < 0)
                return r;
        if (d->control && (r = control_attach(d->control, d->loop, on_request, d)) < 0)
                return r;
        if ((r = hosts_attach(d->enf.hosts, d->loop, enforce_hosts_done, d)) < 0)
                return r;
        return daemon_start_timers(d);
}

/* The control socket, and its directory when it is ours to make. */
static int open_control(struct daemon *d, gid_t gid)
{
        int r;

        r = make_parent_dir(d->cfg->control_socket, 0755);
        if (r < 0)
                return r;
        r = control_listen(d->cfg->control_socket, gid, &d->control);
        if (r < 0)
                return log_error_errno(r, "Cannot listen on %s: %m", d->cfg->control_socket);
        return 0;
}

static bool in_group(gid_t gid)
{
        gid_t groups[256];
        int n;

        if (getegid() == gid)
                return true;
        n = getgroups(256, groups);
        for (int i = 0; i < n; i++)
                if (groups[i] == gid)
                        return true;
        return false;
}

static int lookup_group(const char *name, gid_t *ret)
{
        struct group gr, *res = NULL;
        char buf[4096];

        if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) != 0 || !res)
                return -ENOENT;
        *ret = gr.gr_gid;
        return 0;
}

/* Started as root with `user =`: hand what we opened to that user, then
 * become it with CAP_NET_ADMIN only. */
static int drop_privileges(struct daemon *d)
{
        uid_t uid;
        gid_t gid;
        int r;

        if (!d->cfg->user)
                return 0;
        if (geteuid() != 0) {
                log_warning("user = %s ignored: not started as root", d->cfg->user);
                return 0;
        }
        r = privs_lookup(d->cfg->user, &uid, &gid);
        if (r < 0)
                return log_error_errno(r, "%s: user '%s' not found: %m", d->config_path, d->cfg->user);
        /* What we opened, by descriptor: the audit log, and its directory
         * only when we created it (so that SIGUSR1 can make a new file
         * there). A directory that was there stays as it is: the admin (or
         * the package's tmpfiles.d) decides who may write it. */
        if (d->out.audit_dir_fd >= 0) {
                if (fchown(d->out.audit_dir_fd, uid, gid) < 0)
                        log_warning_errno(errno, "Cannot hand the directory of %s to %s: %m", d->cfg->audit_log,
                                          d->cfg->user);
                close(d->out.audit_dir_fd);
                d->out.audit_dir_fd = -1;
        }
        r = audit_chown(d->out.audit, uid, gid);
        if (r == -EMLINK) {
                log_error("The audit log %s has other names (hard links): not handing it to %s; move it away",
                          d->cfg->audit_log, d->cfg->user);
                return r;
        }
        if (r < 0)
                log_warning_errno(r, "Cannot hand %s to %s: %m", d->cfg->audit_log, d->cfg->user);
        if (d->control && (r = control_chown_path(d->cfg->control_socket, uid, (gid_t)-1)) < 0)
                log_warning_errno(r, "Cannot hand %s to %s: %m", d->cfg->control_socket, d->cfg->user);
        r = privs_drop(uid, gid);
        if (r < 0)
                return log_error_errno(r, "Dropping privileges to %s failed: %m", d->cfg->user);
        log_info("Running as %s with CAP_NET_ADMIN only", d->cfg->user);
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
        gid_t control_gid = (gid_t)-1;
        int c, r;

        log_setup("mxlockd");
        /* big range arrays in their own mappings, so that a reload that frees
         * the old ones gives the memory back */
        (void)mallopt(M_MMAP_THRESHOLD, 256 * 1024);
        d->config_path = "/etc/mxlock/mxlock.conf";
        daemon_init(d);
        d->enf.cache = policy_cache_new();
        if (!d->enf.cache)
                return 1;
        {
                struct hosts_opts ho = { .resolve = dns_policy_resolve, .retry_ttl = RESOLVE_RETRY_S,
                                         .deadline_ms = RESOLVE_DEADLINE_MS };

                if (hosts_new(&ho, &d->enf.hosts) < 0)
                        return 1;
        }
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
        if (d->cfg->control_group && lookup_group(d->cfg->control_group, &control_gid) < 0) {
                fprintf(stderr, "%s: control_group '%s' does not exist\n", d->config_path, d->cfg->control_group);
                r = EXIT_CONFIG;
                goto out;
        }
        if (d->cfg->control_group && geteuid() != 0 && control_gid != getegid() && !in_group(control_gid)) {
                /* chown of the socket would fail at start: say it now, also for -n */
                fprintf(stderr,
                        "%s: control_group '%s': mxlockd runs as a user outside that group and cannot give it "
                        "the control socket; use the service's own group (control_group = mxlock) and add "
                        "the admins to it\n",
                        d->config_path, d->cfg->control_group);
                r = EXIT_CONFIG;
                goto out;
        }
        if (d->cfg->user && !check && !print) {
                uid_t uid;
                gid_t gid;

                if (privs_lookup(d->cfg->user, &uid, &gid) < 0) {
                        fprintf(stderr, "%s: user '%s' does not exist\n", d->config_path, d->cfg->user);
                        r = EXIT_CONFIG;
                        goto out;
                }
        }
        opts_from_config(&d->opts, d->cfg, ruleset_probe_native_queue());
        if (check) {
                fprintf(stderr, "%s: configuration valid: %zu policies, %zu ranges\n", d->config_path, d->pol->n,
                        policy_set_ranges(d->pol));
                r = 0;
                goto out;
        }
        if (print) {
                ruleset_print(stdout, &d->opts, &d->pol->view);
                r = fflush(stdout) == 0 ? 0 : 1;
                goto out;
        }

        index_ports(d);
        d->enabled = true;
        gettimeofday(&d->started, NULL);
        if (remap_pstats(d, d->pol) < 0 || tally_init(&d->pkt.tally, TALLY_SLOTS, TALLY_LIMIT, TALLY_WINDOW) < 0 ||
            tally_limit(&d->pkt.tally, TALLY_NET_SLOTS, TALLY_NET_LIMIT, TALLY_RATE) < 0) {
                log_error("Out of memory");
                goto out_fail;
        }
        if (open_audit(d) < 0)
                goto out_fail;
        if (d->cfg->journal) {
                r = journal_open(NULL, &d->out.journal);
                if (r < 0)
                        log_warning_errno(r, "Cannot reach journald, attempts go to the audit log only: %m");
        }
        r = ruleset_open(&d->opts, &d->rs);
        if (r < 0) {
                log_error_errno(r, "Cannot open the nf_tables netlink socket: %m");
                goto out_fail;
        }
        r = ruleset_open(&d->opts, &d->enf.watch);
        if (r < 0)
                log_warning_errno(r, "Cannot watch the ruleset; a removed table will not be restored: %m");
        r = queue_open(d->cfg->queue, d->opts.queues, QUEUE_MAXLEN, d->cfg->failure == FAILURE_OPEN, &d->pkt.queue);
        if (r < 0) {
                log_error_errno(r, "Cannot bind NFQUEUE %u: %m", d->cfg->queue);
                goto out_fail;
        }
        if (ruleset_table_exists(d->rs) > 0)
                account_missed_at_start(d);
        r = install(d, &d->opts, d->pol, NULL);
        if (r < 0) {
                log_error_errno(r, "Installing table inet %s failed: %m", d->cfg->table);
                goto out_fail;
        }
        if (open_control(d, control_gid) < 0)
                goto out_fail;
        outbound_init(d);
        if (drop_privileges(d) < 0)
                goto out_fail;
        r = setup_loop(d);
        if (r < 0) {
                log_error_errno(r, "Setting up the event loop failed: %m");
                goto out_fail;
        }
        audit_event(d, "start", NULL, NULL);
        (void)malloc_trim(0);
        schedule_resolve(d);
        write_metrics(d);
        log_info("mxlockd %s %s: mode %s, action %s, failure %s", MXLOCK_VERSION,
                 d->cfg->mode == MODE_MONITOR ? "observing" : "enforcing", cfg_mode_name(d->cfg->mode), cfg_action_name(d->cfg->action), cfg_failure_name(d->cfg->failure));
        notify_send("READY=1\nSTATUS=Enforcing");

        r = loop_run(d->loop);
        if (r < 0)
                log_error_errno(r, "epoll_wait: %m");

        notify_send("STOPPING=1");
        packet_drain(d);
        outbound_flush(d, true);
        /* unbind first: from here on the kernel refuses (or with failure =
         * open accepts) on its own, counts, and the next start writes it */
        queue_close(d->pkt.queue);
        d->pkt.queue = NULL;
        tally_sweep(&d->pkt.tally, &d->started, true, write_summary, d);
        if (d->enabled)
                offenders_tick(d, true);        /* while stopped, the queue path counts them */
        reconcile(d, true);
        audit_event(d, "stop", NULL, NULL);
        write_metrics(d);
        if (d->enabled)
                log_info("Stopping; table inet %s stays in place (failure = %s: %s)", d->cfg->table,
                         cfg_failure_name(d->cfg->failure),
                         d->cfg->failure == FAILURE_OPEN ? "bypass attempts are accepted until mxlockd is back"
                                                         : "bypass attempts stay refused");
        r = r < 0 ? 1 : 0;
        goto out;
out_fail:
        r = 1;
out:
        if (d->loop) {
                if (sigfd >= 0)
                        loop_del_fd(d->loop, sigfd);
                if (d->pkt.queue)
                        loop_del_fd(d->loop, queue_fd(d->pkt.queue));
        }
        if (sigfd >= 0)
                close(sigfd);
        control_close(d->control);
        daemon_free(d);
        loop_free(d->loop);
        return r;
}
