/* src/daemon/enforce.c: enforcement: load the configuration and policies,
 * install them in the kernel, reload, re-resolve host names, self-heal (the
 * ruleset generation watch and check_table), enable and disable. */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "log.h"
#include "notify.h"
#include "daemon/daemon.h"
#include "daemon/hosts.h"

static void warn_cb(const char *file, int line, const char *msg, void *userdata)
{
        if (line > 0)
                log_warning("%s:%d: %s", file, line, msg);
        else
                log_warning("%s: %s", file, msg);
}

static double monotonic_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

time_t monotonic_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec;
}

/* Re-resolve before the shortest TTL among the policies' names runs out. */
void schedule_resolve(struct daemon *d)
{
        uint32_t ttl = 0;

        for (size_t i = 0; i < d->pol->n; i++)
                if (d->pol->v[i].min_ttl && (!ttl || d->pol->v[i].min_ttl < ttl))
                        ttl = d->pol->v[i].min_ttl;
        if (!ttl) {
                d->enf.resolve_at = 0;
                return;
        }
        ttl = ttl * 9 / 10;
        d->enf.resolve_at = monotonic_s() + (ttl < RESOLVE_MIN_S ? RESOLVE_MIN_S : ttl);
}

/* Load and check the config and the policies it names. */
int load(struct daemon *d, struct config **ret_cfg, struct policy_set **ret_pol, char err[CONFIG_ERRLEN])
{
        struct config *c = NULL;
        struct policy_set *p = NULL;
        int r;

        err[0] = '\0';
        r = config_load(d->config_path, &c, err, warn_cb, NULL);
        if (r < 0)
                return r;
        {
                struct policy_resolver res;
                struct policy_build_opts o = { .provider_dirs = d->provider_dirs_override, .cache = d->enf.cache,
                                               .res = &res };

                hosts_resolver(d->enf.hosts, &res);
                r = policy_build_with(c, &o, &p, err, warn_cb, NULL);
        }
        if (r < 0) {
                config_free(c);
                return r;
        }
        *ret_cfg = c;
        *ret_pol = p;
        return 0;
}

void opts_from_config(struct ruleset_opts *o, const struct config *c, bool native)
{
        o->table = c->table;
        o->queue = c->queue;
        o->queues = c->queues ? c->queues : 1;
        o->bypass = c->failure == FAILURE_OPEN;
        o->monitor = c->mode == MODE_MONITOR;
        o->drop = c->action == ACTION_DROP;
        o->native_queue = native;
        o->shard_min = c->shard_min;
}

static int install_quietly(struct daemon *d, struct ruleset_opts *o, struct policy_set *want,
                           const struct policy_set *have, struct ruleset_layout *layout, struct ruleset_stats *st);

/* What check_table compares the live table with: its digest right after
 * our own commit. */
static void take_shape(struct daemon *d, const struct policy_set *want)
{
        int r = ruleset_digest(d->rs, &want->view, &d->enf.shape);

        d->enf.shape_known = r == 0;
        if (r < 0)
                log_warning_errno(r, "Cannot read back table inet %s; only its removal will be noticed: %m",
                                  d->cfg->table);
}

int install(struct daemon *d, const struct ruleset_opts *o, struct policy_set *want,
            const struct policy_set *have)
{
        struct ruleset_opts tryo = *o;
        struct ruleset_stats st = { 0 };
        struct ruleset_layout layout = { 0 };
        int r;

        /* our own commit moves the generation too: the next watch tick
         * checks the table once, which also catches what others did
         * meanwhile */
        r = install_quietly(d, &tryo, want, have, &layout, &st);
        if (r < 0)
                return r;
        d->opts = tryo;
        ruleset_layout_free(&d->layout);
        d->layout = layout;
        early_reset(d);         /* the install emptied the early chain */
        take_shape(d, want);
        log_info("Table inet %s in force: %zu policies, %zu ranges (%zu elements added, %zu removed, "
                 "%zu messages, %zu bytes)", tryo.table, want->n, policy_set_ranges(want), st.elements_added,
                 st.elements_deleted, st.messages, st.bytes);
        return 0;
}

static int install_quietly(struct daemon *d, struct ruleset_opts *o, struct policy_set *want,
                           const struct policy_set *have, struct ruleset_layout *layout, struct ruleset_stats *st)
{
        struct ruleset_opts tryo = *o;
        const struct ruleset_view *hv = have ? &have->view : NULL;
        const struct ruleset_layout *hl = have ? &d->layout : NULL;    /* have is the set in force */
        int r;

        ruleset_set_options(d->rs, &tryo);
        r = ruleset_apply(d->rs, &want->view, hv, hl, layout, st);
        if (r < 0 && tryo.native_queue && (r == -ENOENT || r == -EOPNOTSUPP)) {
                /* no nft_queue in this kernel: the xt NFQUEUE target via nft_compat */
                tryo.native_queue = false;
                ruleset_set_options(d->rs, &tryo);
                r = ruleset_apply(d->rs, &want->view, hv, hl, layout, st);
                if (r == 0)
                        log_info("Kernel lacks the native queue expression; using the xt NFQUEUE target");
        }
        if (r < 0 && have) {
                /* the table may have been altered behind our back: rebuild it
                 * whole, the port locked from the first step on */
                log_warning_errno(r, "Updating table inet %s failed (%m); rebuilding it whole", tryo.table);
                r = ruleset_restore(d->rs, &want->view, layout, st);
                if (r == 0)
                        counters_reset(d, d->pol == want ? want->n : 0);
        }
        if (r == 0)
                *o = tryo;
        else
                ruleset_set_options(d->rs, &d->opts);
        return r;
}

/* Someone deleted, emptied or altered our table (nft flush ruleset, a
 * firewall reload, a deleted rule or element): put it back and say so. The
 * port is locked again by the first, small transaction of the restore;
 * the gateway's SYNs meanwhile wait in the queue, and are answered from
 * our lists once the second is in. */
void check_table(struct daemon *d)
{
        struct ruleset_stats st = { 0 };
        int r;

        d->enf.check_table = false;
        if (!d->enabled)
                return;
        r = ruleset_intact(d->rs, &d->pol->view, d->enf.shape_known ? &d->enf.shape : NULL, &d->enf.shape_cursor);
        if (r != 0)
                return;         /* intact, or we cannot tell */
        ruleset_layout_free(&d->layout);      /* whatever is left of the table is replaced */
        r = ruleset_restore(d->rs, &d->pol->view, &d->layout, &st);
        if (r == 0) {
                early_reset(d);
                take_shape(d, d->pol);
        }
        counters_reset(d, d->pol->n);
        tally_flush_all(&d->pkt.tally, write_summary, d);
        outbound_flush(d, true);
        write_restored(d, r);
        if (r < 0) {
                log_error_errno(r, "Table inet %s was removed and could not be restored: %m", d->cfg->table);
        } else {
                d->enf.restored++;
                log_warning("Table inet %s was removed or altered by someone else; restored (%zu elements, "
                            "%zu bytes)", d->cfg->table, st.elements_added, st.bytes);
        }
}

static void reload_failed(struct daemon *d, const char *err)
{
        log_error("Reload failed, the rules in force stay: %s", err);
        audit_event(d, "reload", "error", err);
        d->enf.reloads_failed++;
        gettimeofday(&d->enf.last_reload, NULL);
        snprintf(d->enf.last_reload_error, sizeof(d->enf.last_reload_error), "%s", err);
}

/* The queue's fail-open flag is what `failure` means for a full queue: set
 * at start, and again when a reload changes it, so that what status says is
 * what the kernel does. On error d->cfg->failure goes back to old, the
 * setting the kernel still has. */
static int apply_failure(struct daemon *d, enum cfg_failure old, char err[CONFIG_ERRLEN])
{
        int r;

        if (!d->pkt.queue || d->cfg->failure == old)
                return 0;
        r = queue_set_fail_open(d->pkt.queue, d->cfg->failure == FAILURE_OPEN, on_packet, d);
        (void)queue_flush(d->pkt.queue);
        if (r < 0) {
                snprintf(err, CONFIG_ERRLEN, "the queue's failure setting could not be changed (%s); "
                         "it stays %s: restart mxlockd", strerror(-r), cfg_failure_name(old));
                d->cfg->failure = old;
                return r;
        }
        log_info("Queue %u: failure = %s in force (a full queue %s)", d->cfg->queue,
                 cfg_failure_name(d->cfg->failure), d->cfg->failure == FAILURE_OPEN ? "accepts" : "drops");
        return 0;
}

/* The one swap step of reload and re-resolution: install *p (when
 * enabled) over what is in force with options o, carry the per-policy
 * figures over, write out the folded attempts (they name policies by
 * index), and only then let *p (and *c, unless c is NULL) take the place
 * of d->pol (and d->cfg); *p and *c then hold the old ones, for the caller
 * to free. On failure nothing of d changed but, when *ret_installed says
 * the failure came after the install (out of memory), the kernel's lists;
 * *p and *c stay the caller's. */
static int swap_in(struct daemon *d, const struct ruleset_opts *o, struct config **c, struct policy_set **p,
                   double *ret_in_force, bool *ret_installed)
{
        struct policy_set *op = d->pol;
        int r;

        *ret_installed = false;
        if (d->enabled) {
                r = install(d, o, *p, d->pol);
                if (r < 0)
                        return r;
                *ret_installed = true;
                if (ret_in_force)
                        *ret_in_force = monotonic_ms();
        } else {
                d->opts = *o;
                ruleset_set_options(d->rs, o);
        }
        if (remap_pstats(d, *p) < 0)
                return -ENOMEM;
        tally_flush_all(&d->pkt.tally, write_summary, d);
        outbound_flush(d, true);
        if (c) {
                struct config *oc = d->cfg;

                d->cfg = *c;
                *c = oc;
        }
        d->pol = *p;
        *p = op;
        index_ports(d);
        return 0;
}

/* Returns 0 when the new configuration is in force. */
int reload(struct daemon *d, char err[CONFIG_ERRLEN])
{
        struct config *c = NULL;
        struct policy_set *p = NULL;
        struct ruleset_opts o;
        double t0 = monotonic_ms(), t_built, t_in_force = 0;
        struct policy_cache_stats before = *policy_cache_stats(d->enf.cache);
        char how[96] = "";
        bool installed;
        int r;

        err[0] = '\0';
        log_info("Reloading %s", d->config_path);
        notify_send("RELOADING=1\nSTATUS=Reloading");
        r = load(d, &c, &p, err);
        t_built = monotonic_ms();
        if (r < 0) {
                reload_failed(d, err);
                /* new host names: resolved in the background, and the
                 * reload is tried again when their answers come */
                if (hosts_pending(d->enf.hosts) &&
                    (hosts_refresh(d->enf.hosts) == 0 || hosts_busy(d->enf.hosts)))
                        d->enf.reload_waiting = true;
                goto out;
        }
        if (strcmp(c->table, d->cfg->table) != 0 || c->queue != d->cfg->queue || c->queues != d->cfg->queues ||
            strcmp(c->audit_log, d->cfg->audit_log) != 0) {
                snprintf(err, CONFIG_ERRLEN, "%s: table, queue, queues and audit_log cannot change on reload; "
                         "restart mxlockd", d->config_path);
                r = -EINVAL;
                reload_failed(d, err);
                goto out;
        }
        opts_from_config(&o, c, d->opts.native_queue);
        if (d->enabled)
                /* the reload empties the offender sets: count what they refused first */
                offenders_tick(d, true);
        r = swap_in(d, &o, &c, &p, &t_in_force, &installed);
        if (r < 0) {
                if (installed || !d->enabled)
                        snprintf(err, CONFIG_ERRLEN, "out of memory");
                else
                        snprintf(err, CONFIG_ERRLEN, "installing the ruleset failed: %s", strerror(-r));
                reload_failed(d, err);
                goto out;
        }
        /* the old configuration (now in c and p) goes after the record:
         * unmapping its lists and closing its catalog versions (the last
         * holder of a replaced file frees it) took longer than the
         * kernel's commit */
        r = apply_failure(d, c->failure, err);
        if (r < 0) {
                reload_failed(d, err);
                goto out;
        }
        d->enf.reloads_ok++;
        hosts_prune(d->enf.hosts);
        schedule_resolve(d);
        gettimeofday(&d->enf.last_reload, NULL);
        d->enf.last_reload_error[0] = '\0';
        audit_event(d, "reload", "ok", NULL);
        config_free(c);
        policy_set_free(p);
        c = NULL;
        p = NULL;
        (void)malloc_trim(0);   /* the parse's small allocations */
        {
                const struct policy_cache_stats *now = policy_cache_stats(d->enf.cache);
                unsigned long whole = now->parsed - before.parsed, diffed = now->diffed - before.diffed;

                if (whole || diffed)
                        snprintf(how, sizeof(how), ", changed catalogs: %lu read whole, %lu as a difference",
                                 whole, diffed);
        }
        if (t_in_force > 0)
                log_info("Reload done: in force %.1f ms after the signal (configuration and catalogs %.1f ms%s; "
                         "kernel %.1f ms)", t_in_force - t0, t_built - t0, how, t_in_force - t_built);
        else
                log_info("Reload done");
out:
        config_free(c);
        policy_set_free(p);
        notify_send(d->enabled ? "READY=1\nSTATUS=Enforcing" : "READY=1\nSTATUS=Disabled by mxlock disable");
        return r;
}

/* Host names' addresses may have moved: rebuild the policies from the
 * configuration in force (not the file, which may be half edited) and send
 * what changed. */
void re_resolve(struct daemon *d)
{
        struct policy_resolver res;
        struct policy_build_opts bo = { .provider_dirs = d->provider_dirs_override, .cache = d->enf.cache, .res = &res };
        struct policy_set *p = NULL;
        char err[CONFIG_ERRLEN];
        bool installed;
        int r;

        hosts_resolver(d->enf.hosts, &res);
        hosts_clear_stale(d->enf.hosts);
        r = policy_build_with(d->cfg, &bo, &p, err, warn_cb, NULL);
        if (r < 0) {
                log_warning("Re-resolving host names failed, the rules in force stay: %s", err);
                d->enf.resolve_at = monotonic_s() + RESOLVE_RETRY_S;
                return;
        }
        r = swap_in(d, &d->opts, NULL, &p, NULL, &installed);
        if (r < 0) {
                if (d->enabled && !installed) {
                        log_error_errno(r, "Updating host name addresses failed, the rules in force stay: %m");
                        d->enf.resolve_at = monotonic_s() + RESOLVE_RETRY_S;
                }
                policy_set_free(p);
                return;
        }
        policy_set_free(p);     /* the old one */
        schedule_resolve(d);
        if (hosts_stale(d->enf.hosts) && (!d->enf.resolve_at || d->enf.resolve_at > monotonic_s() + RESOLVE_RETRY_S))
                d->enf.resolve_at = monotonic_s() + RESOLVE_RETRY_S;
}

void set_enabled(struct daemon *d, bool on, char err[CONFIG_ERRLEN])
{
        int r;

        err[0] = '\0';
        if (on == d->enabled)
                return;
        if (on) {
                r = install(d, &d->opts, d->pol, NULL);
                if (r < 0) {
                        snprintf(err, CONFIG_ERRLEN, "installing the ruleset failed: %s", strerror(-r));
                        return;
                }
                counters_reset(d, d->pol->n);
                tally_flush_all(&d->pkt.tally, write_summary, d);
        outbound_flush(d, true);
                d->enabled = true;
                audit_event(d, "enabled", "ok", NULL);
                notify_send("STATUS=Enforcing");
                log_notice("Enabled by mxlock enable: table inet %s in force", d->cfg->table);
        } else {
                offenders_tick(d, true);
                reconcile(d, true);
                r = ruleset_delete(d->rs);
                if (r < 0) {
                        snprintf(err, CONFIG_ERRLEN, "deleting the table failed: %s", strerror(-r));
                        return;
                }
                d->enabled = false;
                audit_event(d, "disabled", "ok", NULL);
                notify_send("STATUS=Disabled by mxlock disable: port 25 is open to everyone");
                log_warning("Disabled by mxlock disable: table inet %s removed, nothing is enforced",
                            d->cfg->table);
        }
}

/* Has anyone committed to this namespace's ruleset since the last look?
 * Then check our table (see ruleset_genid for why this polls). */
void on_watch(struct daemon *d)
{
        uint32_t id;

        if (!d->enf.watch || ruleset_genid(d->enf.watch, &id) < 0)
                return;
        if (!d->enf.genid_known || id != d->enf.genid) {
                d->enf.genid = id;
                d->enf.genid_known = true;
                d->enf.check_table = true;
        }
        if (d->enf.check_table)
                check_table(d);
}

void enforce_tick(struct daemon *d)
{
        int r;

        if (d->enf.resolve_at && monotonic_s() >= d->enf.resolve_at) {
                /* the answers come to enforce_hosts_done */
                r = hosts_refresh(d->enf.hosts);
                d->enf.resolve_at = r == 0 || r == -EBUSY ? 0 : monotonic_s() + RESOLVE_RETRY_S;
        }
}

/* A background resolution finished (src/daemon/hosts.h): addresses that
 * moved are installed (from the cache: nothing here waits on DNS); a reload
 * that waited for new names' first answers is tried again. */
void enforce_hosts_done(const struct hosts_outcome *o, void *data)
{
        struct daemon *d = data;
        char err[CONFIG_ERRLEN];

        if (d->enf.reload_waiting && o->first) {
                d->enf.reload_waiting = false;
                (void)reload(d, err);
        } else if (o->changed) {
                re_resolve(d);
        } else {
                schedule_resolve(d);
                if (o->failed && (!d->enf.resolve_at || d->enf.resolve_at > monotonic_s() + RESOLVE_RETRY_S))
                        d->enf.resolve_at = monotonic_s() + RESOLVE_RETRY_S;
        }
        if (hosts_pending(d->enf.hosts))
                (void)hosts_refresh(d->enf.hosts);
}

void enforce_free(struct daemon *d)
{
        ruleset_close(d->enf.watch);
        d->enf.watch = NULL;
        policy_cache_free(d->enf.cache);
        d->enf.cache = NULL;
        hosts_free(d->enf.hosts);
        d->enf.hosts = NULL;
}
