/* src/daemon/figures.c: one snapshot of the daemon's figures, and its
 * three renderers (status JSON, status text, metrics). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"
#include "daemon/daemon.h"
#include "daemon/loop.h"

/* The live sizes of a policy's allowed sets. Counting means dumping the
 * set, which the kernel does slowly for a large one, and status must not
 * hold up the queue: only for sets of up to STATUS_DUMP_MAX ranges. */
static bool kernel_set_sizes(struct daemon *d, const struct policy *p, size_t *ret4, size_t *ret6)
{
        *ret4 = *ret6 = 0;
        if (p->allow[FAM_V4].n + p->allow[FAM_V6].n > STATUS_DUMP_MAX)
                return false;
        return ruleset_list_size(d->rs, p->name, RULESET_ALLOW, AF_INET, ret4) == 0 &&
               ruleset_list_size(d->rs, p->name, RULESET_ALLOW, AF_INET6, ret6) == 0;
}

int figures_take(struct daemon *d, bool kernel, struct figures *f)
{
        memset(f, 0, sizeof(*f));
        f->policies = calloc(d->pol->n ? d->pol->n : 1, sizeof(*f->policies));
        if (!f->policies)
                return -ENOMEM;
        gettimeofday(&f->now, NULL);
        (void)queue_proc(d, &f->waiting, &f->dropped);
        f->version = MXLOCK_VERSION;
        f->pid = (int)getpid();
        f->config_path = d->config_path;
        f->enabled = d->enabled;
        f->mode = cfg_mode_name(d->cfg->mode);
        f->action = cfg_action_name(d->cfg->action);
        f->failure = cfg_failure_name(d->cfg->failure);
        f->table = d->cfg->table;
        f->audit_log = d->cfg->audit_log;
        f->monitor = d->opts.monitor;
        f->native_queue = d->opts.native_queue;
        f->queue = d->opts.queue;
        f->queues = d->opts.queues;
        f->started = d->started;
        f->refused = d->acct.refused;
        f->observed = d->acct.observed;
        f->out_refused = d->acct.out_refused;
        f->out_observed = d->acct.out_observed;
        f->undecodable = d->pkt.undecodable;
        f->restored = d->enf.restored;
        f->audit_lost = d->out.audit ? audit_lost(d->out.audit) : 0;
        f->reloads_ok = d->enf.reloads_ok;
        f->reloads_failed = d->enf.reloads_failed;
        f->last_reload = d->enf.last_reload;
        f->last_reload_error = d->enf.last_reload_error;
        f->npolicies = d->pol->n;
        for (size_t i = 0; i < d->pol->n; i++) {
                struct figures_policy *fp = &f->policies[i];

                fp->p = &d->pol->v[i];
                fp->ps = &d->acct.pstats[i];
                if (kernel)
                        fp->kernel_known = kernel_set_sizes(d, fp->p, &fp->kernel4, &fp->kernel6);
        }
        return 0;
}

void figures_release(struct figures *f)
{
        free(f->policies);
        f->policies = NULL;
}

char *figures_status_json(const struct figures *f)
{
        char *out = NULL;
        size_t len = 0;
        char ts[40];
        FILE *fp;

        fp = open_memstream(&out, &len);
        if (!fp)
                return NULL;
        fprintf(fp, "{\"ok\":true,\"version\":\"%s\",\"pid\":%d,\"config\":", f->version, f->pid);
        json_fputs(fp, f->config_path);
        fprintf(fp, ",\"enabled\":%s,\"mode\":\"%s\",\"action\":\"%s\",\"failure\":\"%s\",\"table\":",
                f->enabled ? "true" : "false", f->mode, f->action,
                f->failure);
        json_fputs(fp, f->table);
        fprintf(fp, ",\"queue\":%u,\"queues\":%u,\"queue_backend\":\"%s\",\"started\":\"%s\",\"uptime_s\":%ld",
                f->queue, f->queues, f->native_queue ? "nft-queue" : "xt-NFQUEUE",
                audit_format_time(&f->started, ts), (long)(f->now.tv_sec - f->started.tv_sec));
        fprintf(fp, ",\"refused\":%llu,\"observed\":%llu,\"undecodable\":%llu,\"queue_waiting\":%llu,"
                   "\"queue_dropped\":%llu,\"restored\":%llu,\"audit_log\":",
                (unsigned long long)f->refused, (unsigned long long)f->observed,
                (unsigned long long)f->undecodable, (unsigned long long)f->waiting, (unsigned long long)f->dropped,
                (unsigned long long)f->restored);
        json_fputs(fp, f->audit_log);
        fprintf(fp, ",\"by_direction\":{\"inbound\":{\"refused\":%llu,\"observed\":%llu},"
                   "\"outbound\":{\"refused\":%llu,\"observed\":%llu}}",
                (unsigned long long)(f->refused - f->out_refused), (unsigned long long)(f->observed - f->out_observed),
                (unsigned long long)f->out_refused, (unsigned long long)f->out_observed);
        fprintf(fp, ",\"audit_lost\":%llu,\"reloads_ok\":%llu,\"reloads_failed\":%llu,\"last_reload\":",
                (unsigned long long)f->audit_lost, (unsigned long long)f->reloads_ok,
                (unsigned long long)f->reloads_failed);
        if (f->last_reload.tv_sec) {
                fprintf(fp, "{\"ts\":\"%s\",\"result\":\"%s\",\"error\":", audit_format_time(&f->last_reload, ts),
                        f->last_reload_error[0] ? "error" : "ok");
                json_fputs(fp, f->last_reload_error[0] ? f->last_reload_error : NULL);
                fputc('}', fp);
        } else {
                fputs("null", fp);
        }
        fputs(",\"policies\":[", fp);
        for (size_t i = 0; i < f->npolicies; i++) {
                const struct policy *p = f->policies[i].p;
                const struct pstat *ps = f->policies[i].ps;

                fprintf(fp, "%s{\"name\":", i ? "," : "");
                json_fputs(fp, p->name);
                fprintf(fp, ",\"direction\":\"%s\",\"ports\":[", p->outbound ? "outbound" : "inbound");
                for (size_t k = 0; k < p->nports; k++)
                        fprintf(fp, "%s%u", k ? "," : "", p->ports[k]);
                if (p->outbound) {
                        fputs("],\"users\":[", fp);
                        for (size_t k = 0; k < p->nusers; k++) {
                                fputs(k ? "," : "", fp);
                                json_fputs(fp, p->users[k]);
                        }
                        fputs("],\"uids\":[", fp);
                        for (size_t k = 0; k < p->nuids; k++)
                                fprintf(fp, "%s%u", k ? "," : "", p->uids[k]);
                }
                fputs("],\"providers\":[", fp);
                for (size_t k = 0; k < p->nproviders; k++) {
                        fputs(k ? "," : "", fp);
                        json_fputs(fp, p->providers[k]);
                }
                fprintf(fp, "],\"allow_v4\":%zu,\"allow_v6\":%zu,\"deny_v4\":%zu,\"deny_v6\":%zu",
                        p->allow[FAM_V4].n, p->allow[FAM_V6].n, p->deny[FAM_V4].n, p->deny[FAM_V6].n);
                if (f->policies[i].kernel_known)
                        fprintf(fp, ",\"kernel_allow_v4\":%zu,\"kernel_allow_v6\":%zu", f->policies[i].kernel4,
                                f->policies[i].kernel6);
                fprintf(fp, ",\"refused\":%llu,\"observed\":%llu,\"folded\":%llu,\"missed\":%llu}",
                        (unsigned long long)ps->refused, (unsigned long long)ps->observed,
                        (unsigned long long)ps->folded, (unsigned long long)ps->missed);
        }
        fputs("]}\n", fp);
        fclose(fp);
        return out;
}

static bool figures_any_outbound(const struct figures *f)
{
        for (size_t i = 0; i < f->npolicies; i++)
                if (f->policies[i].p->outbound)
                        return true;
        return false;
}

/* The same figures for a human at a terminal. */
char *figures_status_text(const struct figures *f)
{
        char *out = NULL;
        size_t len = 0;
        char ts[40];
        long up;
        FILE *fp;

        fp = open_memstream(&out, &len);
        if (!fp)
                return NULL;
        up = (long)(f->now.tv_sec - f->started.tv_sec);
        fprintf(fp, "mxlockd %s, pid %d, up %ldd %02ld:%02ld:%02ld (since %s)\n", f->version, f->pid,
                up / 86400, up / 3600 % 24, up / 60 % 60, up % 60, audit_format_time(&f->started, ts));
        fprintf(fp, "state:    %s\n", !f->enabled ? "DISABLED (mxlock disable): nothing is enforced"
                                   : f->monitor ? "monitor: attempts are observed and accepted"
                                                     : "enforcing");
        fprintf(fp, "mode:     %s, action %s, failure %s\n", f->mode,
                f->action, f->failure);
        fprintf(fp, "kernel:   table inet %s, queue %u%s (%s)\n", f->table, f->queue,
                f->queues > 1 ? "+" : "", f->native_queue ? "nft queue" : "xt NFQUEUE via nft_compat");
        fprintf(fp, "attempts: %llu refused, %llu observed; queue: %llu waiting, %llu dropped by the kernel\n",
                (unsigned long long)f->refused, (unsigned long long)f->observed, (unsigned long long)f->waiting,
                (unsigned long long)f->dropped);
        if (f->out_refused || f->out_observed || figures_any_outbound(f))
                fprintf(fp, "          inbound %llu refused, %llu observed; outbound %llu refused, %llu observed\n",
                        (unsigned long long)(f->refused - f->out_refused),
                        (unsigned long long)(f->observed - f->out_observed), (unsigned long long)f->out_refused,
                        (unsigned long long)f->out_observed);
        fprintf(fp, "audit:    %s (%llu records lost)\n", f->audit_log,
                (unsigned long long)f->audit_lost);
        if (f->last_reload.tv_sec)
                fprintf(fp, "reload:   last at %s: %s%s (%llu ok, %llu failed)\n",
                        audit_format_time(&f->last_reload, ts), f->last_reload_error[0] ? "FAILED: " : "ok",
                        f->last_reload_error, (unsigned long long)f->reloads_ok,
                        (unsigned long long)f->reloads_failed);
        else
                fprintf(fp, "reload:   none since start\n");
        if (f->restored)
                fprintf(fp, "restored: the table was removed by someone else and put back %llu times\n",
                        (unsigned long long)f->restored);
        for (size_t i = 0; i < f->npolicies; i++) {
                const struct policy *p = f->policies[i].p;
                const struct pstat *ps = f->policies[i].ps;

                fprintf(fp, "%s policy %s: ports", p->outbound ? "outbound" : "inbound", p->name);
                for (size_t k = 0; k < p->nports; k++)
                        fprintf(fp, "%s%u", k ? "," : " ", p->ports[k]);
                if (p->outbound) {
                        fprintf(fp, "; users");
                        for (size_t k = 0; k < p->nusers; k++)
                                fprintf(fp, "%s%s", k ? "," : " ", p->users[k]);
                        if (!p->nusers)
                                fprintf(fp, " none (every attempt is refused)");
                }
                if (p->nproviders) {
                        fprintf(fp, "; providers");
                        for (size_t k = 0; k < p->nproviders; k++)
                                fprintf(fp, "%s%s", k ? "," : " ", p->providers[k]);
                }
                if (p->outbound)
                        fprintf(fp, "\n  allowed destinations: %zu IPv4, %zu IPv6", p->allow[FAM_V4].n,
                                p->allow[FAM_V6].n);
                else
                        fprintf(fp, "\n  allowed ranges: %zu IPv4, %zu IPv6; denied: %zu IPv4, %zu IPv6",
                                p->allow[FAM_V4].n, p->allow[FAM_V6].n, p->deny[FAM_V4].n, p->deny[FAM_V6].n);
                if (f->policies[i].kernel_known)
                        fprintf(fp, " (kernel: %zu + %zu)", f->policies[i].kernel4, f->policies[i].kernel6);
                fprintf(fp, "\n  attempts: %llu refused, %llu observed, %llu missed (%llu folded into summaries)\n",
                        (unsigned long long)ps->refused, (unsigned long long)ps->observed,
                        (unsigned long long)ps->missed, (unsigned long long)ps->folded);
        }
        fclose(fp);
        return out;
}

int figures_metrics(const struct figures *f, const char *path)
{
        char tmp[PATH_MAX];
        FILE *fp;
        int fd;

        /* A fresh name in the file's own directory (which a textfile
         * collector's user may be able to write): mkostemp never opens what
         * is there. The collector reads only *.prom, so it never sees it.
         * 0644 set on the descriptor: the unit's UMask=0027 would leave it
         * unreadable to node_exporter. */
        snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0 || fchmod(fd, 0644) < 0 || !(fp = fdopen(fd, "w"))) {
                log_warning_errno(errno, "Cannot write metrics to %s: %m", tmp);
                if (fd >= 0) {
                        close(fd);
                        (void)unlink(tmp);
                }
                return -1;
        }
        fprintf(fp, "# HELP mxlock_up Whether mxlockd is running and enforcing (0 when disabled).\n"
                   "# TYPE mxlock_up gauge\nmxlock_up %d\n", f->enabled ? 1 : 0);
        fprintf(fp, "# HELP mxlock_start_time_seconds When mxlockd started, in seconds since the epoch.\n"
                   "# TYPE mxlock_start_time_seconds gauge\nmxlock_start_time_seconds %ld\n",
                (long)f->started.tv_sec);
        fprintf(fp, "# HELP mxlock_attempts_total Connection attempts refused or observed, by policy, direction "
                   "(inbound: bypassing the gateway; outbound: a user or destination not allowed) and outcome.\n"
                   "# TYPE mxlock_attempts_total counter\n");
        for (size_t i = 0; i < f->npolicies; i++) {
                const struct pstat *ps = f->policies[i].ps;
                const char *dir = f->policies[i].p->outbound ? "outbound" : "inbound";

                fprintf(fp, "mxlock_attempts_total{policy=\"%s\",direction=\"%s\",outcome=\"refused\"} %llu\n",
                        ps->name, dir, (unsigned long long)ps->refused);
                fprintf(fp, "mxlock_attempts_total{policy=\"%s\",direction=\"%s\",outcome=\"observed\"} %llu\n",
                        ps->name, dir, (unsigned long long)ps->observed);
                fprintf(fp, "mxlock_attempts_total{policy=\"%s\",direction=\"%s\",outcome=\"missed\"} %llu\n",
                        ps->name, dir, (unsigned long long)ps->missed);
        }
        fprintf(fp, "# HELP mxlock_queue_dropped_total Packets the kernel dropped because the queue was full.\n"
                   "# TYPE mxlock_queue_dropped_total counter\nmxlock_queue_dropped_total %llu\n",
                (unsigned long long)f->dropped);
        fprintf(fp, "# HELP mxlock_set_ranges Ranges in the kernel sets, by policy, direction, list and family.\n"
                   "# TYPE mxlock_set_ranges gauge\n");
        for (size_t i = 0; i < f->npolicies; i++) {
                const struct policy *p = f->policies[i].p;
                const char *dir = p->outbound ? "outbound" : "inbound";

                fprintf(fp, "mxlock_set_ranges{policy=\"%s\",direction=\"%s\","
                           "list=\"allow\",family=\"ipv4\"} %zu\n",
                        p->name, dir, p->allow[FAM_V4].n);
                fprintf(fp, "mxlock_set_ranges{policy=\"%s\",direction=\"%s\","
                           "list=\"allow\",family=\"ipv6\"} %zu\n",
                        p->name, dir, p->allow[FAM_V6].n);
                fprintf(fp, "mxlock_set_ranges{policy=\"%s\",direction=\"%s\","
                           "list=\"deny\",family=\"ipv4\"} %zu\n",
                        p->name, dir, p->deny[FAM_V4].n);
                fprintf(fp, "mxlock_set_ranges{policy=\"%s\",direction=\"%s\","
                           "list=\"deny\",family=\"ipv6\"} %zu\n",
                        p->name, dir, p->deny[FAM_V6].n);
        }
        fprintf(fp, "# HELP mxlock_reloads_total Reloads, by result.\n# TYPE mxlock_reloads_total counter\n"
                   "mxlock_reloads_total{result=\"ok\"} %llu\nmxlock_reloads_total{result=\"error\"} %llu\n",
                (unsigned long long)f->reloads_ok, (unsigned long long)f->reloads_failed);
        fprintf(fp, "# HELP mxlock_table_restored_total Times the table was removed by someone else and put back.\n"
                   "# TYPE mxlock_table_restored_total counter\nmxlock_table_restored_total %llu\n",
                (unsigned long long)f->restored);
        fprintf(fp, "# HELP mxlock_audit_lost_total Audit records that could not be written.\n"
                   "# TYPE mxlock_audit_lost_total counter\nmxlock_audit_lost_total %llu\n",
                (unsigned long long)f->audit_lost);
        if (fflush(fp) != 0 || fsync(fileno(fp)) < 0) {
                log_warning_errno(errno, "Cannot write metrics to %s: %m", tmp);
                fclose(fp);
                (void)unlink(tmp);
                return -1;
        }
        fclose(fp);
        if (rename(tmp, path) < 0) {
                log_warning_errno(errno, "Cannot rename %s to %s: %m", tmp, path);
                (void)unlink(tmp);
                return -1;
        }
        return 0;
}

static char *render(struct daemon *d, char *(*fn)(const struct figures *f))
{
        struct figures f;
        char *out;

        if (figures_take(d, true, &f) < 0)
                return NULL;
        out = fn(&f);
        figures_release(&f);
        return out;
}

char *status_json(struct daemon *d)
{
        return render(d, figures_status_json);
}

char *status_text(struct daemon *d)
{
        return render(d, figures_status_text);
}

void write_metrics(struct daemon *d)
{
        struct figures f;

        if (!d->cfg->metrics_file)
                return;
        if (figures_take(d, false, &f) < 0)
                return;
        (void)figures_metrics(&f, d->cfg->metrics_file);
        figures_release(&f);
}

static void metrics_due(void *data)
{
        struct daemon *d = data;
        unsigned s = d->cfg->metrics_interval ? d->cfg->metrics_interval : 15;

        d->metrics_id = loop_add_timeout(d->loop, (uint64_t)s * 1000, metrics_due, d);
        write_metrics(d);
}

int figures_start(struct daemon *d)
{
        unsigned s = d->cfg->metrics_interval ? d->cfg->metrics_interval : 15;

        d->metrics_id = loop_add_timeout(d->loop, (uint64_t)s * 1000, metrics_due, d);
        return d->metrics_id ? 0 : -ENOMEM;
}
