/* src/daemon/figures.c: the daemon's figures for people and collectors:
 * status as JSON and as text, and the metrics file. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <malloc.h>
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
#include "control.h"
#include "decode.h"
#include "dns.h"
#include "journal.h"
#include "log.h"
#include "notify.h"
#include "policy.h"
#include "privs.h"
#include "queue.h"
#include "ruleset.h"
#include "tally.h"
#include "daemon/daemon.h"
#include "daemon/hosts.h"
#include "daemon/enforce.h"
#include "daemon/packet.h"
#include "daemon/accounting.h"
#include "daemon/offenders.h"
#include "daemon/audit_out.h"
#include "daemon/figures.h"

/* The live sizes of a policy's allowed sets. Counting means dumping the
 * set, which the kernel does slowly for a large one, and status must not
 * hold up the queue: only for sets of up to STATUS_DUMP_MAX ranges. */
static bool kernel_set_sizes(struct daemon *d, const struct policy *p, size_t *ret4, size_t *ret6)
{
        char set[128];

        *ret4 = *ret6 = 0;
        if (p->allow[FAM_V4].n + p->allow[FAM_V6].n > STATUS_DUMP_MAX)
                return false;
        return ruleset_set_size(d->nl, d->cfg->table, ruleset_obj_name(OBJ_ALLOW4, p->name, set, sizeof(set)),
                                ret4) == 0 &&
               ruleset_set_size(d->nl, d->cfg->table, ruleset_obj_name(OBJ_ALLOW6, p->name, set, sizeof(set)),
                                ret6) == 0;
}

char *status_json(struct daemon *d)
{
        uint64_t waiting = 0, dropped = 0;
        struct timeval now;
        char *out = NULL;
        size_t len = 0;
        char ts[40];
        FILE *f;

        f = open_memstream(&out, &len);
        if (!f)
                return NULL;
        gettimeofday(&now, NULL);
        (void)queue_proc(d, &waiting, &dropped);
        fprintf(f, "{\"ok\":true,\"version\":\"%s\",\"pid\":%d,\"config\":", MXLOCK_VERSION, (int)getpid());
        json_fputs(f, d->config_path);
        fprintf(f, ",\"enabled\":%s,\"mode\":\"%s\",\"action\":\"%s\",\"failure\":\"%s\",\"table\":",
                d->enabled ? "true" : "false", cfg_mode_name(d->cfg->mode), cfg_action_name(d->cfg->action),
                cfg_failure_name(d->cfg->failure));
        json_fputs(f, d->cfg->table);
        fprintf(f, ",\"queue\":%u,\"queues\":%u,\"queue_backend\":\"%s\",\"started\":\"%s\",\"uptime_s\":%ld",
                d->opts.queue, d->opts.queues, d->opts.native_queue ? "nft-queue" : "xt-NFQUEUE",
                audit_format_time(&d->started, ts), (long)(now.tv_sec - d->started.tv_sec));
        fprintf(f, ",\"refused\":%llu,\"observed\":%llu,\"undecodable\":%llu,\"queue_waiting\":%llu,"
                   "\"queue_dropped\":%llu,\"restored\":%llu,\"audit_log\":",
                (unsigned long long)d->refused, (unsigned long long)d->observed,
                (unsigned long long)d->undecodable, (unsigned long long)waiting, (unsigned long long)dropped,
                (unsigned long long)d->restored);
        json_fputs(f, d->cfg->audit_log);
        fprintf(f, ",\"audit_lost\":%llu,\"reloads_ok\":%llu,\"reloads_failed\":%llu,\"last_reload\":",
                (unsigned long long)(d->audit ? audit_lost(d->audit) : 0), (unsigned long long)d->reloads_ok,
                (unsigned long long)d->reloads_failed);
        if (d->last_reload.tv_sec) {
                fprintf(f, "{\"ts\":\"%s\",\"result\":\"%s\",\"error\":", audit_format_time(&d->last_reload, ts),
                        d->last_reload_error[0] ? "error" : "ok");
                json_fputs(f, d->last_reload_error[0] ? d->last_reload_error : NULL);
                fputc('}', f);
        } else {
                fputs("null", f);
        }
        fputs(",\"policies\":[", f);
        for (size_t i = 0; i < d->pol->n; i++) {
                const struct policy *p = &d->pol->v[i];
                const struct pstat *ps = &d->pstats[i];

                fprintf(f, "%s{\"name\":", i ? "," : "");
                json_fputs(f, p->name);
                fputs(",\"ports\":[", f);
                for (size_t k = 0; k < p->nports; k++)
                        fprintf(f, "%s%u", k ? "," : "", p->ports[k]);
                fputs("],\"providers\":[", f);
                for (size_t k = 0; k < p->nproviders; k++) {
                        fputs(k ? "," : "", f);
                        json_fputs(f, p->providers[k]);
                }
                fprintf(f, "],\"allow_v4\":%zu,\"allow_v6\":%zu,\"deny_v4\":%zu,\"deny_v6\":%zu",
                        p->allow[FAM_V4].n, p->allow[FAM_V6].n, p->deny[FAM_V4].n, p->deny[FAM_V6].n);
                {
                        size_t k4, k6;

                        if (kernel_set_sizes(d, p, &k4, &k6))
                                fprintf(f, ",\"kernel_allow_v4\":%zu,\"kernel_allow_v6\":%zu", k4, k6);
                }
                fprintf(f, ",\"refused\":%llu,\"observed\":%llu,\"folded\":%llu,\"missed\":%llu}",
                        (unsigned long long)ps->refused, (unsigned long long)ps->observed,
                        (unsigned long long)ps->folded, (unsigned long long)ps->missed);
        }
        fputs("]}\n", f);
        fclose(f);
        return out;
}

/* The same figures for a human at a terminal. */
char *status_text(struct daemon *d)
{
        uint64_t waiting = 0, dropped = 0;
        struct timeval now;
        char *out = NULL;
        size_t len = 0;
        char ts[40];
        long up;
        FILE *f;

        f = open_memstream(&out, &len);
        if (!f)
                return NULL;
        gettimeofday(&now, NULL);
        up = (long)(now.tv_sec - d->started.tv_sec);
        (void)queue_proc(d, &waiting, &dropped);
        fprintf(f, "mxlockd %s, pid %d, up %ldd %02ld:%02ld:%02ld (since %s)\n", MXLOCK_VERSION, (int)getpid(),
                up / 86400, up / 3600 % 24, up / 60 % 60, up % 60, audit_format_time(&d->started, ts));
        fprintf(f, "state:    %s\n", !d->enabled ? "DISABLED (mxlock disable): nothing is enforced"
                                   : d->opts.monitor ? "monitor: attempts are observed and accepted"
                                                     : "enforcing");
        fprintf(f, "mode:     %s, action %s, failure %s\n", cfg_mode_name(d->cfg->mode),
                cfg_action_name(d->cfg->action), cfg_failure_name(d->cfg->failure));
        fprintf(f, "kernel:   table inet %s, queue %u%s (%s)\n", d->cfg->table, d->opts.queue,
                d->opts.queues > 1 ? "+" : "", d->opts.native_queue ? "nft queue" : "xt NFQUEUE via nft_compat");
        fprintf(f, "attempts: %llu refused, %llu observed; queue: %llu waiting, %llu dropped by the kernel\n",
                (unsigned long long)d->refused, (unsigned long long)d->observed, (unsigned long long)waiting,
                (unsigned long long)dropped);
        fprintf(f, "audit:    %s (%llu records lost)\n", d->cfg->audit_log,
                (unsigned long long)(d->audit ? audit_lost(d->audit) : 0));
        if (d->last_reload.tv_sec)
                fprintf(f, "reload:   last at %s: %s%s (%llu ok, %llu failed)\n",
                        audit_format_time(&d->last_reload, ts), d->last_reload_error[0] ? "FAILED: " : "ok",
                        d->last_reload_error, (unsigned long long)d->reloads_ok,
                        (unsigned long long)d->reloads_failed);
        else
                fprintf(f, "reload:   none since start\n");
        if (d->restored)
                fprintf(f, "restored: the table was removed by someone else and put back %llu times\n",
                        (unsigned long long)d->restored);
        for (size_t i = 0; i < d->pol->n; i++) {
                const struct policy *p = &d->pol->v[i];
                const struct pstat *ps = &d->pstats[i];
                size_t k4, k6;

                fprintf(f, "policy %s: ports", p->name);
                for (size_t k = 0; k < p->nports; k++)
                        fprintf(f, "%s%u", k ? "," : " ", p->ports[k]);
                if (p->nproviders) {
                        fprintf(f, "; providers");
                        for (size_t k = 0; k < p->nproviders; k++)
                                fprintf(f, "%s%s", k ? "," : " ", p->providers[k]);
                }
                fprintf(f, "\n  allowed ranges: %zu IPv4, %zu IPv6; denied: %zu IPv4, %zu IPv6", p->allow[FAM_V4].n,
                        p->allow[FAM_V6].n, p->deny[FAM_V4].n, p->deny[FAM_V6].n);
                if (kernel_set_sizes(d, p, &k4, &k6))
                        fprintf(f, " (kernel: %zu + %zu)", k4, k6);
                fprintf(f, "\n  attempts: %llu refused, %llu observed, %llu missed (%llu folded into summaries)\n",
                        (unsigned long long)ps->refused, (unsigned long long)ps->observed,
                        (unsigned long long)ps->missed, (unsigned long long)ps->folded);
        }
        fclose(f);
        return out;
}

void write_metrics(struct daemon *d)
{
        char tmp[PATH_MAX];
        uint64_t waiting = 0, dropped = 0;
        FILE *f;
        int fd;

        if (!d->cfg->metrics_file)
                return;
        /* A fresh name in the file's own directory (which a textfile
         * collector's user may be able to write): mkostemp never opens what
         * is there. The collector reads only *.prom, so it never sees it.
         * 0644 set on the descriptor: the unit's UMask=0027 would leave it
         * unreadable to node_exporter. */
        snprintf(tmp, sizeof(tmp), "%s.XXXXXX", d->cfg->metrics_file);
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0 || fchmod(fd, 0644) < 0 || !(f = fdopen(fd, "w"))) {
                log_warning_errno(errno, "Cannot write metrics to %s: %m", tmp);
                if (fd >= 0) {
                        close(fd);
                        (void)unlink(tmp);
                }
                return;
        }
        (void)queue_proc(d, &waiting, &dropped);
        fprintf(f, "# HELP mxlock_up Whether mxlockd is running and enforcing (0 when disabled).\n"
                   "# TYPE mxlock_up gauge\nmxlock_up %d\n", d->enabled ? 1 : 0);
        fprintf(f, "# HELP mxlock_start_time_seconds When mxlockd started, in seconds since the epoch.\n"
                   "# TYPE mxlock_start_time_seconds gauge\nmxlock_start_time_seconds %ld\n",
                (long)d->started.tv_sec);
        fprintf(f, "# HELP mxlock_attempts_total Connection attempts that bypassed the gateway, by outcome.\n"
                   "# TYPE mxlock_attempts_total counter\n");
        for (size_t i = 0; i < d->pol->n; i++) {
                const struct pstat *ps = &d->pstats[i];

                fprintf(f, "mxlock_attempts_total{policy=\"%s\",outcome=\"refused\"} %llu\n", ps->name,
                        (unsigned long long)ps->refused);
                fprintf(f, "mxlock_attempts_total{policy=\"%s\",outcome=\"observed\"} %llu\n", ps->name,
                        (unsigned long long)ps->observed);
                fprintf(f, "mxlock_attempts_total{policy=\"%s\",outcome=\"missed\"} %llu\n", ps->name,
                        (unsigned long long)ps->missed);
        }
        fprintf(f, "# HELP mxlock_queue_dropped_total Packets the kernel dropped because the queue was full.\n"
                   "# TYPE mxlock_queue_dropped_total counter\nmxlock_queue_dropped_total %llu\n",
                (unsigned long long)dropped);
        fprintf(f, "# HELP mxlock_set_ranges Ranges in the kernel sets, by policy, list and family.\n"
                   "# TYPE mxlock_set_ranges gauge\n");
        for (size_t i = 0; i < d->pol->n; i++) {
                const struct policy *p = &d->pol->v[i];

                fprintf(f, "mxlock_set_ranges{policy=\"%s\",list=\"allow\",family=\"ipv4\"} %zu\n", p->name,
                        p->allow[FAM_V4].n);
                fprintf(f, "mxlock_set_ranges{policy=\"%s\",list=\"allow\",family=\"ipv6\"} %zu\n", p->name,
                        p->allow[FAM_V6].n);
                fprintf(f, "mxlock_set_ranges{policy=\"%s\",list=\"deny\",family=\"ipv4\"} %zu\n", p->name,
                        p->deny[FAM_V4].n);
                fprintf(f, "mxlock_set_ranges{policy=\"%s\",list=\"deny\",family=\"ipv6\"} %zu\n", p->name,
                        p->deny[FAM_V6].n);
        }
        fprintf(f, "# HELP mxlock_reloads_total Reloads, by result.\n# TYPE mxlock_reloads_total counter\n"
                   "mxlock_reloads_total{result=\"ok\"} %llu\nmxlock_reloads_total{result=\"error\"} %llu\n",
                (unsigned long long)d->reloads_ok, (unsigned long long)d->reloads_failed);
        fprintf(f, "# HELP mxlock_table_restored_total Times the table was removed by someone else and put back.\n"
                   "# TYPE mxlock_table_restored_total counter\nmxlock_table_restored_total %llu\n",
                (unsigned long long)d->restored);
        fprintf(f, "# HELP mxlock_audit_lost_total Audit records that could not be written.\n"
                   "# TYPE mxlock_audit_lost_total counter\nmxlock_audit_lost_total %llu\n",
                (unsigned long long)(d->audit ? audit_lost(d->audit) : 0));
        if (fflush(f) != 0 || fsync(fileno(f)) < 0) {
                log_warning_errno(errno, "Cannot write metrics to %s: %m", tmp);
                fclose(f);
                (void)unlink(tmp);
                return;
        }
        fclose(f);
        if (rename(tmp, d->cfg->metrics_file) < 0) {
                log_warning_errno(errno, "Cannot rename %s to %s: %m", tmp, d->cfg->metrics_file);
                (void)unlink(tmp);
        }
}
