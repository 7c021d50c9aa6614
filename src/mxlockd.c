/* src/mxlockd.c: the daemon: loads the policy, installs the kernel table,
 * answers the queue, writes the audit log. One epoll loop; every handler
 * returns quickly. */
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
#include "daemon/hosts.h"
#include "daemon/loop.h"
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

#define MXLOCK_VERSION "0.1.0"
#define EXIT_CONFIG 2
#define QUEUE_MAXLEN 16384
#define RECV_BATCH 256
#define TALLY_SLOTS 16384       /* sources tracked for folding (about 1 MiB) */
#define TALLY_LIMIT 3           /* individual records per source and window */
#define TALLY_WINDOW 10         /* seconds */
#define TALLY_NET_SLOTS 4096    /* networks tracked for folding */
#define TALLY_NET_LIMIT 3       /* individual records per network and window */
/* Records per second the fold table may write (individual attempts and
 * summaries); past it attempts fold into one summary per policy and family
 * a second. At about 400 bytes a record, a flood from any number of sources
 * writes at most about 40 KB/s (README, "The audit log"). */
#define TALLY_RATE 100

#define OFFENDERS_MAX 1024       /* sources refused in the kernel at once */
#define STATUS_DUMP_MAX 65536   /* count kernel set elements only up to this */
#define RESOLVE_MIN_S 10        /* re-resolve host names at most this often */
#define RESOLVE_RETRY_S 60      /* after a failed lookup */
#define RESOLVE_DEADLINE_MS 20000 /* a background resolution asks no more names after this */

#define OFFENDER_QUIET_TICKS 30 /* seconds without an attempt before a source leaves */
#define WATCH_NSEC 250000000L   /* how often the ruleset generation is polled */

/* Per-policy figures, kept by name across reloads. */
struct pstat {
        char name[POLICY_NAME_MAX];
        uint64_t refused, observed, folded, missed;
        uint64_t repeat_accounted;      /* kernel-refused repeat attempts written so far */
};

/* A source that floods: refused in the kernel, counted from its element. */
struct offender {
        addr128 addr;
        struct timeval since;           /* start of the attempts not yet written */
        uint64_t packets;               /* the element's counter up to which attempts are written */
        uint64_t read;                  /* the element's counter when last read */
        uint16_t policy;
        uint8_t family;
        uint8_t quiet;                  /* ticks without a new attempt */
        bool seen;                      /* found in this read */
};

struct daemon {
        const char *config_path;
        const char *provider_dirs_override;
        struct config *cfg;
        struct policy_set *pol;
        struct policy_cache *cache;     /* parsed catalogs, reused across reloads */
        struct hosts *hosts;            /* last known addresses of host names */
        bool reload_waiting;            /* a reload waits for new host names' first answers */
        struct loop *loop;
        time_t resolve_at;              /* monotonic seconds of the next re-resolution, 0: none */
        uint16_t port_policy[65536];    /* policy index + 1, 0: not locked */
        struct ruleset_opts opts;
        struct ruleset_nl *nl;
        struct queue *queue;
        struct audit *audit;
        struct journal *journal;
        struct control *control;
        int audit_dir_fd;               /* the log's directory while we hand it over, or -1 */
        struct ruleset_nl *watch;       /* polls the ruleset generation */
        uint32_t genid;                 /* the generation last checked */
        bool genid_known;
        struct tally tally;
        struct pstat *pstats;           /* parallel to pol->v */
        int sigfd, timerfd, watchfd;
        bool audit_failing;
        bool enabled;                   /* false after `mxlock disable` */
        bool check_table;               /* the ruleset generation moved */
        uint64_t shape;                 /* the table's digest right after our last install */
        bool shape_known;
        size_t shape_cursor;            /* where ruleset_intact samples long lists next */
        char ifnames[64][IF_NAMESIZE];
        uint64_t refused, observed, undecodable, restored;
        uint64_t pkts_tick;             /* packets since the last timer tick */
        uint64_t reloads_ok, reloads_failed;
        struct timeval last_reload;
        char last_reload_error[CONFIG_ERRLEN];
        unsigned ticks;
        struct timeval started;
        struct offender offenders[OFFENDERS_MAX];
        size_t noffenders;
        uint8_t *early;                 /* per policy: the families whose early rule is in (NULL: none) */
        size_t nearly;
        struct pending_offender {       /* offenders of the batch being read, for offenders_apply */
                addr128 addr;
                int family;
                uint16_t policy;
                struct timeval since;
        } pending[RECV_BATCH];
        size_t npending;
        uint64_t offenders_full;        /* floods we could not hand to the kernel */
};

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

static time_t monotonic_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec;
}

/* Re-resolve before the shortest TTL among the policies' names runs out. */
static void schedule_resolve(struct daemon *d)
{
        uint32_t ttl = 0;

        for (size_t i = 0; i < d->pol->n; i++)
                if (d->pol->v[i].min_ttl && (!ttl || d->pol->v[i].min_ttl < ttl))
                        ttl = d->pol->v[i].min_ttl;
        if (!ttl) {
                d->resolve_at = 0;
                return;
        }
        ttl = ttl * 9 / 10;
        d->resolve_at = monotonic_s() + (ttl < RESOLVE_MIN_S ? RESOLVE_MIN_S : ttl);
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
        {
                struct policy_resolver res;
                struct policy_build_opts o = { .provider_dirs = d->provider_dirs_override, .cache = d->cache,
                                               .res = &res };

                hosts_resolver(d->hosts, &res);
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

static void opts_from_config(struct ruleset_opts *o, const struct config *c, bool native)
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

static void index_ports(struct daemon *d)
{
        memset(d->port_policy, 0, sizeof(d->port_policy));
        for (size_t i = 0; i < d->pol->n; i++)
                for (size_t k = 0; k < d->pol->v[i].nports; k++)
                        d->port_policy[d->pol->v[i].ports[k]] = (uint16_t)(i + 1);
}

/* ---- per-policy figures ---- */

/* Carry the figures of policies that stay over to the new policy set. */
static int remap_pstats(struct daemon *d, const struct policy_set *p)
{
        struct pstat *n = calloc(p->n ? p->n : 1, sizeof(*n));

        if (!n)
                return -ENOMEM;
        for (size_t i = 0; i < p->n; i++) {
                snprintf(n[i].name, sizeof(n[i].name), "%s", p->v[i].name);
                for (size_t k = 0; d->pol && d->pstats && k < d->pol->n; k++)
                        if (strcmp(d->pstats[k].name, p->v[i].name) == 0)
                                n[i] = d->pstats[k];
        }
        free(d->pstats);
        d->pstats = n;
        return 0;
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
        }
}

static void audit_sync(struct daemon *d)
{
        int r;

        if (!d->audit)
                return;
        r = audit_flush(d->audit);
        if (r < 0 && !d->audit_failing) {
                d->audit_failing = true;
                log_error_errno(r, "Cannot write the audit log %s, counting lost records: %m",
                                d->cfg->audit_log);
        } else if (r > 0 && d->audit_failing) {
                d->audit_failing = false;
                log_notice("Audit log %s writable again; %llu records lost so far", d->cfg->audit_log,
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
        audit_sync(d);
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

static const char *attempt_event(const struct daemon *d)
{
        return d->opts.monitor ? "observed" : "refused";
}

/* A structured journal entry for an attempt or a summary. */
static void journal_attempt(struct daemon *d, const char *event, const char *policy, const char *family,
                            const char *src, unsigned sport, const char *dst, unsigned dport, uint64_t count)
{
        char f[12][160];
        const char *fields[12];
        size_t n = 0;

        if (!d->journal)
                return;
        snprintf(f[n++], sizeof(f[0]), "MESSAGE=%s %s connection from %s to port %u (policy %s, %llu attempt%s)",
                 event, family, src, dport, policy, (unsigned long long)count, count == 1 ? "" : "s");
        snprintf(f[n++], sizeof(f[0]), "MESSAGE_ID=%s", JOURNAL_MESSAGE_ID_ATTEMPT);
        snprintf(f[n++], sizeof(f[0]), "PRIORITY=5");
        snprintf(f[n++], sizeof(f[0]), "SYSLOG_IDENTIFIER=mxlockd");
        snprintf(f[n++], sizeof(f[0]), "MXLOCK_EVENT=%s", event);
        snprintf(f[n++], sizeof(f[0]), "MXLOCK_POLICY=%s", policy);
        snprintf(f[n++], sizeof(f[0]), "MXLOCK_FAMILY=%s", family);
        snprintf(f[n++], sizeof(f[0]), "MXLOCK_SRC=%s", src);
        if (sport)
                snprintf(f[n++], sizeof(f[0]), "MXLOCK_SPORT=%u", sport);
        if (dst)
                snprintf(f[n++], sizeof(f[0]), "MXLOCK_DST=%s", dst);
        snprintf(f[n++], sizeof(f[0]), "MXLOCK_DPORT=%u", dport);
        snprintf(f[n++], sizeof(f[0]), "MXLOCK_COUNT=%llu", (unsigned long long)count);
        for (size_t i = 0; i < n; i++)
                fields[i] = f[i];
        (void)journal_send(d->journal, fields, n);
}

/* Folded attempts, written as one summary record: of one source, of the
 * sources of one network (src is the network, "fold":"network"), or of any
 * source once the records budget was spent (src 0.0.0.0/0 or ::/0,
 * "fold":"rate"). */
static void write_summary(const struct tally_entry *e, void *userdata)
{
        struct daemon *d = userdata;
        const char *policy = e->policy < d->pol->n ? d->pol->v[e->policy].name : "?";
        const char *family = e->family == AF_INET ? "ipv4" : "ipv6";
        char src[ADDR_STRLEN + 8];
        struct timeval now;
        struct jline j;

        gettimeofday(&now, NULL);
        addr_format(e->family, e->kind == TALLY_RATE ? 0 : e->addr, src);
        if (e->kind != TALLY_SOURCE)
                snprintf(src + strlen(src), sizeof(src) - strlen(src), "/%u",
                         e->kind == TALLY_RATE ? 0u : (unsigned)e->net_len);
        jline_begin(&j, &now, "summary");
        jline_str(&j, "policy", policy);
        jline_str(&j, "mode", cfg_mode_name(d->cfg->mode));
        jline_str(&j, "action", cfg_action_name(d->cfg->action));
        jline_str(&j, "family", family);
        jline_str(&j, "src", src);
        jline_uint(&j, "dport", e->dport);
        jline_uint(&j, "count", e->pending);
        jline_time(&j, "first", &e->first);
        jline_time(&j, "last", &e->last);
        jline_str(&j, "folded_as", attempt_event(d));
        if (e->kind != TALLY_SOURCE)
                jline_str(&j, "fold", e->kind == TALLY_NET ? "network" : "rate");
        audit_emit(d, &j);
        journal_attempt(d, "summary", policy, family, src, 0, NULL, e->dport, e->pending);
}

static void write_missed(struct daemon *d, const char *policy, uint64_t count, const char *reason);

/* ---- repeat offenders, refused in the kernel ---- */

static void write_repeat_summary(struct daemon *d, const struct offender *o, uint64_t count,
                                 const struct timeval *now)
{
        const char *policy = d->pol->v[o->policy].name;
        const char *family = o->family == AF_INET ? "ipv4" : "ipv6";
        char src[ADDR_STRLEN];
        struct jline j;

        addr_format(o->family, o->addr, src);
        jline_begin(&j, now, "summary");
        jline_str(&j, "policy", policy);
        jline_str(&j, "mode", cfg_mode_name(d->cfg->mode));
        jline_str(&j, "action", cfg_action_name(d->cfg->action));
        jline_str(&j, "family", family);
        jline_str(&j, "src", src);
        jline_uint(&j, "count", count);
        jline_time(&j, "first", &o->since);
        jline_time(&j, "last", now);
        jline_str(&j, "folded_as", "refused");
        jline_str(&j, "refused_by", "kernel");
        audit_emit(d, &j);
        journal_attempt(d, "summary", policy, family, src, 0, NULL, d->pol->v[o->policy].ports[0], count);
}

/* The early chain's rules follow the offender sets: a policy and family
 * with offenders has its rule, the others none, so that no other packet
 * pays for the offender check. */
static void early_sync(struct daemon *d)
{
        size_t n = d->pol->n;
        uint8_t *want = calloc(n ? n : 1, 1);
        bool same = true;
        int r;

        if (!want)
                return;
        for (size_t i = 0; i < d->noffenders; i++)
                want[d->offenders[i].policy] |= d->offenders[i].family == AF_INET ? RULESET_EARLY_V4
                                                                                  : RULESET_EARLY_V6;
        for (size_t i = 0; i < n || i < d->nearly; i++)
                if ((i < n ? want[i] : 0) != (d->early && i < d->nearly ? d->early[i] : 0))
                        same = false;
        if (same) {
                free(want);
                return;
        }
        r = ruleset_early(d->nl, &d->opts, d->pol, want);
        if (r < 0) {
                /* offenders then reach the queue and are refused and counted there */
                log_warning_errno(r, "Cannot update the repeat offenders' rules: %m");
                free(want);
                return;
        }
        free(d->early);
        d->early = want;
        d->nearly = n;
}

/* An install replaced the early chain: no rules in it now. */
static void early_reset(struct daemon *d)
{
        free(d->early);
        d->early = NULL;
        d->nearly = 0;
}

/* A source started flooding: let the kernel refuse it from now on. The
 * kernel's set is changed after the batch's verdicts are sent
 * (offenders_apply): a commit takes a millisecond, which the SYNs waiting
 * for their verdict should not. */
static void offenders_apply(struct daemon *d);

static void offender_add(struct daemon *d, struct tally_entry *e, const struct timeval *now)
{
        struct pending_offender *p;

        e->offender = true;
        if (d->npending == RECV_BATCH)
                offenders_apply(d);
        p = &d->pending[d->npending++];
        p->addr = e->addr;
        p->family = e->family;
        p->policy = e->policy;
        p->since = *now;
}

static void offenders_apply(struct daemon *d)
{
        size_t added = 0;

        for (size_t k = 0; k < d->npending; k++) {
                const struct pending_offender *p = &d->pending[k];
                struct offender *o;
                bool known = false;
                int r;

                for (size_t i = 0; i < d->noffenders && !known; i++)
                        known = d->offenders[i].addr == p->addr && d->offenders[i].family == p->family &&
                                d->offenders[i].policy == p->policy;
                if (known)
                        continue;
                if (d->noffenders == OFFENDERS_MAX) {
                        d->offenders_full++;
                        continue;       /* still refused and counted, through the queue */
                }
                r = ruleset_offender_add(d->nl, d->cfg->table, d->pol->v[p->policy].name, p->family, p->addr);
                if (r < 0) {
                        log_debug("Cannot add a repeat offender to the kernel: %s", strerror(-r));
                        continue;
                }
                o = &d->offenders[d->noffenders++];
                memset(o, 0, sizeof(*o));
                o->addr = p->addr;
                o->family = p->family;
                o->policy = p->policy;
                o->since = p->since;
                added++;
        }
        d->npending = 0;
        if (added)
                early_sync(d);
}

/* A source left the kernel's offender set: if it floods again, it goes
 * back in (its fold entry would otherwise say it is there already). */
static void offender_forget(struct daemon *d, const struct offender *o)
{
        struct tally_entry *e = tally_find(&d->tally, o->family, o->addr, o->policy);

        if (e)
                e->offender = false;
}

struct offender_read {
        struct daemon *d;
        uint16_t policy;
        struct timeval now;
        bool active;
};

/* Write what the kernel refused for o since its last summary. */
static void offender_write(struct daemon *d, struct offender *o, const struct timeval *now)
{
        uint64_t n = o->read - o->packets;

        if (o->read <= o->packets)
                return;
        write_repeat_summary(d, o, n, now);
        d->pstats[o->policy].repeat_accounted += n;
        d->pstats[o->policy].refused += n;
        d->refused += n;
        o->packets = o->read;
        o->since = *now;
}

/* A summary per active offender and second would let a thousand repeat
 * offenders write a thousand records a second: they draw from the fold
 * table's budget, and what waits is written on a later tick (or when the
 * offender leaves), so the counts stay exact. */
static void offender_counted(int family, addr128 a, uint64_t packets, void *userdata)
{
        struct offender_read *rd = userdata;
        struct daemon *d = rd->d;

        for (size_t i = 0; i < d->noffenders; i++) {
                struct offender *o = &d->offenders[i];

                if (o->addr != a || o->family != family || o->policy != rd->policy)
                        continue;
                o->seen = true;
                if (packets > o->read) {
                        o->read = packets;
                        o->quiet = 0;
                        rd->active = true;
                } else {
                        o->quiet++;
                }
                if (o->read > o->packets && tally_spend(&d->tally, &rd->now))
                        offender_write(d, o, &rd->now);
                return;
        }
}

/* Read the offenders' counters; write what they refused; let quiet ones go.
 * With `all`, every offender leaves (reload, stop). Then check the policy's
 * aggregate counter, so attempts of a source that left between a read and
 * its removal are counted too. */
static void offenders_tick(struct daemon *d, bool all)
{
        char repeat[128];

        if (!d->noffenders && !all)
                return;
        for (size_t p = 0; p < d->pol->n; p++) {
                struct offender_read rd = { .d = d, .policy = (uint16_t)p };
                uint64_t after = 0, deferred;
                bool have = false;
                int r4, r6;

                for (size_t i = 0; i < d->noffenders; i++)
                        if (d->offenders[i].policy == p) {
                                d->offenders[i].seen = false;
                                have = true;
                        }
                if (!have && !all)
                        continue;
                ruleset_obj_name(OBJ_REPEAT, d->pol->v[p].name, repeat, sizeof(repeat));
                gettimeofday(&rd.now, NULL);
                r4 = ruleset_offenders_read(d->nl, d->cfg->table, d->pol->v[p].name, AF_INET, offender_counted, &rd);
                r6 = ruleset_offenders_read(d->nl, d->cfg->table, d->pol->v[p].name, AF_INET6, offender_counted, &rd);
                if ((r4 < 0 || r6 < 0) && !all) {
                        log_warning_errno(r4 < 0 ? r4 : r6, "Cannot read the repeat offenders of policy %s: %m",
                                          d->pol->v[p].name);
                        continue;
                }

                /* remove the quiet ones (all of them with `all`) */
                for (int fam = AF_INET; fam == AF_INET || fam == AF_INET6; fam = fam == AF_INET ? AF_INET6 : 0) {
                        addr128 gone[OFFENDERS_MAX];
                        size_t ngone = 0;

                        for (size_t i = 0; i < d->noffenders;) {
                                struct offender *o = &d->offenders[i];

                                if (o->policy == p && o->family == fam &&
                                    (all || o->quiet >= OFFENDER_QUIET_TICKS || !o->seen)) {
                                        offender_write(d, o, &rd.now);
                                        gone[ngone++] = o->addr;
                                        offender_forget(d, o);
                                        d->offenders[i] = d->offenders[--d->noffenders];
                                        continue;
                                }
                                i++;
                        }
                        if (ngone && !all)
                                (void)ruleset_offenders_del(d->nl, d->cfg->table, d->pol->v[p].name, fam, gone, ngone);
                }
                if (all)
                        (void)ruleset_offenders_flush(d->nl, d->cfg->table, d->pol->v[p].name);

                /* attempts in the kernel's counter that no element accounts
                 * for (what an element counted but waits for the budget is
                 * accounted for) */
                if (rd.active && !all)
                        continue;
                deferred = 0;
                for (size_t i = 0; i < d->noffenders; i++)
                        if (d->offenders[i].policy == p)
                                deferred += d->offenders[i].read - d->offenders[i].packets;
                if (ruleset_counter(d->nl, d->cfg->table, repeat, false, &after) == 0 &&
                    after > d->pstats[p].repeat_accounted + deferred) {
                        uint64_t n = after - d->pstats[p].repeat_accounted - deferred;

                        write_missed(d, d->pol->v[p].name, n,
                                     "refused in the kernel as repeat offenders while their sources were being "
                                     "removed from the offender set");
                        d->pstats[p].missed += n;
                        d->pstats[p].repeat_accounted = after;
                }
        }
        early_sync(d);
}

/* ---- the queue ---- */

/* The policy of a queued packet: from the mark our rules set before the
 * queue (decided in the kernel, whatever the packet's headers), else, for a
 * packet a table of an older mxlockd queued, from its destination port.
 * Returns the index + 1, or 0 when it is none of ours. */
static unsigned packet_policy(const struct daemon *d, const struct queue_pkt *p, int decoded,
                              const struct syn_info *s, bool *ret_decide)
{
        long i = ruleset_queue_mark_policy(p->mark, ret_decide);

        if (i >= 0 && (size_t)i < d->pol->n)
                return (unsigned)i + 1;
        *ret_decide = false;
        return decoded == DECODE_OK ? d->port_policy[s->dport] : 0;
}

static void on_packet(const struct queue_pkt *p, void *userdata)
{
        struct daemon *d = userdata;
        const struct policy_source *src = NULL;
        const struct policy *pol;
        struct tally_entry *te = NULL;
        struct pstat *ps;
        struct syn_info s;
        char sbuf[ADDR_STRLEN], dbuf[ADDR_STRLEN], ibuf[IF_NAMESIZE];
        const char *family;
        struct timeval tv;
        struct jline j;
        bool decide;
        unsigned idx;
        addr128 a;
        int r;

        d->pkts_tick++;
        r = syn_decode(p->data, p->len, &s);
        idx = packet_policy(d, p, r, &s, &decide);
        if (!idx) {
                /* not ours to judge (not queued by our rules, and a port no
                 * policy names): the kernel's decision stands */
                d->undecodable++;
                queue_verdict(d->queue, p, d->opts.monitor || r == 0 ? QUEUE_ACCEPT : QUEUE_DROP, 0);
                return;
        }
        pol = &d->pol->v[idx - 1];
        ps = &d->pstats[idx - 1];
        if (r < 0 && syn_decode_network(p->data, p->len, &s) < 0) {
                /* not even an IP header: refused (observed), counted, no source to name */
                d->undecodable++;
                queue_verdict(d->queue, p, QUEUE_REPEAT, ruleset_mark(idx - 1));
                return;
        }
        a = addr_from_bytes(s.family, s.src);
        if (decide && policy_classify(pol, s.family, a, &src)) {
                /* the interim table of a restore asks: allowed, from our lists */
                queue_verdict(d->queue, p, QUEUE_ACCEPT, 0);
                return;
        }
        queue_verdict(d->queue, p, QUEUE_REPEAT, ruleset_mark(idx - 1));
        if (d->opts.monitor) {
                d->observed++;
                ps->observed++;
        } else {
                d->refused++;
                ps->refused++;
        }

        gettimeofday(&tv, NULL);
        if (!tally_hit(&d->tally, s.family, a, (uint16_t)(idx - 1), s.dport, &tv, write_summary, d, &te)) {
                ps->folded++;
                if (!d->opts.monitor && !te->offender && d->enabled)
                        offender_add(d, te, &tv);
                return;
        }
        /* the kernel decided; only a deny entry needs naming (a lookup in
         * the small deny list, not the allowed ranges) */
        src = NULL;
        if (range_list_contains(&pol->deny[fam_index(s.family)], a))
                (void)policy_classify(pol, s.family, a, &src);
        family = s.family == AF_INET ? "ipv4" : "ipv6";
        addr_format(s.family, a, sbuf);
        addr_format(s.family, addr_from_bytes(s.family, s.dst), dbuf);

        jline_begin(&j, &tv, attempt_event(d));
        jline_str(&j, "policy", pol->name);
        jline_str(&j, "mode", cfg_mode_name(d->cfg->mode));
        jline_str(&j, "action", cfg_action_name(d->cfg->action));
        jline_str(&j, "family", family);
        jline_str(&j, "src", sbuf);
        if (r == 0)
                jline_uint(&j, "sport", s.sport);
        jline_str(&j, "dst", dbuf);
        if (r == 0)
                jline_uint(&j, "dport", s.dport);
        jline_uint(&j, "ttl", s.ttl);
        jline_str(&j, "iface", ifname(d, p->ifindex, ibuf));
        jline_uint(&j, "count", 1);
        jline_str(&j, "reason", src && src->deny ? "denied" : "not-allowed");
        if (src && src->deny)
                jline_str(&j, "rule", src->origin);
        if (r < 0)     /* the ports are past what the queue copied, or unreadable */
                jline_str(&j, "headers", decode_strerror(r));
        audit_emit(d, &j);
        journal_attempt(d, attempt_event(d), pol->name, family, sbuf, s.sport, dbuf, s.dport, 1);
}

static void on_queue(struct daemon *d)
{
        int n, r;

        do {
                n = queue_receive(d->queue, RECV_BATCH, on_packet, d);
                r = queue_flush(d->queue);
                if (r < 0)
                        log_warning_errno(r, "Sending verdicts failed: %m");
                offenders_apply(d);
        } while (n == RECV_BATCH);
        if (n < 0)
                log_warning_errno(n, "Reading the queue failed: %m");
        audit_sync(d);
}

/* ---- kernel side ---- */

/* The kernel's per-queue figures from /proc/net/netfilter/nfnetlink_queue:
 * packets waiting for a verdict, and packets dropped because the queue was
 * full or could not be sent to us. */
static int queue_proc(const struct daemon *d, uint64_t *ret_waiting, uint64_t *ret_dropped)
{
        FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "re");
        unsigned long long qnum, portid, total, mode, range, qdrop, udrop;
        char line[256];

        *ret_waiting = *ret_dropped = 0;
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f)) {
                if (sscanf(line, "%llu %llu %llu %llu %llu %llu %llu", &qnum, &portid, &total, &mode, &range, &qdrop,
                           &udrop) != 7)
                        continue;
                if (qnum < d->opts.queue || qnum >= (unsigned long long)d->opts.queue + d->opts.queues)
                        continue;
                *ret_waiting += total;
                *ret_dropped += qdrop + udrop;
        }
        fclose(f);
        return 0;
}

static void write_missed(struct daemon *d, const char *policy, uint64_t count, const char *reason)
{
        struct timeval tv;
        struct jline j;

        gettimeofday(&tv, NULL);
        jline_begin(&j, &tv, "missed");
        jline_str(&j, "policy", policy);
        jline_str(&j, "mode", cfg_mode_name(d->cfg->mode));
        jline_str(&j, "action", d->cfg->failure == FAILURE_OPEN ? "accept" : "drop");
        jline_uint(&j, "count", count);
        jline_str(&j, "reason", reason);
        audit_emit(d, &j);
}

/* Attempts the kernel queued that nobody answered show as queued - handled
 * in the policy's two counters. When there are any, both counters are read
 * and zeroed (handled first) and the difference written as `missed`, so the
 * next reading, ours or a later mxlockd's after a crash, starts afresh and
 * nothing is written twice. Exact only while nothing is in flight. */
static uint64_t settle_gap(struct daemon *d, size_t i, const char *reason)
{
        char qname[128], hname[128];
        uint64_t queued = 0, handled = 0;

        ruleset_obj_name(OBJ_QUEUED, d->pol->v[i].name, qname, sizeof(qname));
        ruleset_obj_name(OBJ_HANDLED, d->pol->v[i].name, hname, sizeof(hname));
        if (ruleset_counter(d->nl, d->cfg->table, qname, false, &queued) < 0 ||
            ruleset_counter(d->nl, d->cfg->table, hname, false, &handled) < 0 || queued <= handled)
                return 0;
        if (ruleset_counter(d->nl, d->cfg->table, hname, true, &handled) < 0 ||
            ruleset_counter(d->nl, d->cfg->table, qname, true, &queued) < 0 || queued <= handled)
                return 0;
        write_missed(d, d->pol->v[i].name, queued - handled, reason);
        d->pstats[i].missed += queued - handled;
        return queued - handled;
}

/* Attempts the kernel refused while no mxlockd was reading, from the
 * counters the previous one left behind. */
static void account_missed_at_start(struct daemon *d)
{
        for (size_t i = 0; i < d->pol->n; i++) {
                uint64_t n = settle_gap(d, i, "mxlockd was not reading the queue");

                if (n)
                        log_notice("policy %s: %llu attempts while mxlockd was not running", d->pol->v[i].name,
                                   (unsigned long long)n);
        }
}

/* While running: attempts the kernel queued but never handed to us (a full
 * queue during a flood). Waits for a quiet moment with an empty queue, when
 * the difference is exact. */
static void reconcile(struct daemon *d, bool final)
{
        uint64_t waiting, dropped;

        if (!d->enabled || (!final && d->pkts_tick))
                return;
        /* without /proc/net (a sandbox), a tick without packets must do */
        if (d->queue && queue_proc(d, &waiting, &dropped) == 0 && waiting)
                return;
        for (size_t i = 0; i < d->pol->n; i++)
                (void)settle_gap(d, i, final ? "refused by the kernel while mxlockd was stopping"
                                             : "the kernel queue overflowed; refused without being read");
}

static int install_quietly(struct daemon *d, struct ruleset_opts *o, struct policy_set *want,
                           const struct policy_set *have, struct ruleset_stats *st);

/* A rebuilt table starts with zeroed counters and empty offender sets. */
static void counters_reset(struct daemon *d, size_t npolicies)
{
        for (size_t i = 0; d->pstats && i < npolicies; i++) {
                d->pstats[i].repeat_accounted = 0;
        }
        for (size_t i = 0; i < d->noffenders; i++)
                offender_forget(d, &d->offenders[i]);
        d->noffenders = 0;
}

/* What check_table compares the live table with: its digest right after
 * our own commit. */
static void take_shape(struct daemon *d, const struct policy_set *want)
{
        int r = ruleset_digest(d->nl, d->cfg->table, want, &d->shape);

        d->shape_known = r == 0;
        if (r < 0)
                log_warning_errno(r, "Cannot read back table inet %s; only its removal will be noticed: %m",
                                  d->cfg->table);
}

static int install(struct daemon *d, const struct ruleset_opts *o, struct policy_set *want,
                   const struct policy_set *have)
{
        struct ruleset_opts tryo = *o;
        struct ruleset_stats st = { 0 };
        int r;

        /* our own commit moves the generation too: the next watch tick
         * checks the table once, which also catches what others did
         * meanwhile */
        r = install_quietly(d, &tryo, want, have, &st);
        if (r < 0)
                return r;
        d->opts = tryo;
        early_reset(d);         /* the install emptied the early chain */
        take_shape(d, want);
        log_info("Table inet %s in force: %zu policies, %zu ranges (%zu elements added, %zu removed, "
                 "%zu messages, %zu bytes)", tryo.table, want->n, policy_set_ranges(want), st.elements_added,
                 st.elements_deleted, st.messages, st.bytes);
        return 0;
}

static int install_quietly(struct daemon *d, struct ruleset_opts *o, struct policy_set *want,
                           const struct policy_set *have, struct ruleset_stats *st)
{
        struct ruleset_opts tryo = *o;
        int r;

        r = ruleset_apply(d->nl, &tryo, want, have, st);
        if (r < 0 && tryo.native_queue && (r == -ENOENT || r == -EOPNOTSUPP)) {
                /* no nft_queue in this kernel: the xt NFQUEUE target via nft_compat */
                tryo.native_queue = false;
                r = ruleset_apply(d->nl, &tryo, want, have, st);
                if (r == 0)
                        log_info("Kernel lacks the native queue expression; using the xt NFQUEUE target");
        }
        if (r < 0 && have) {
                /* the table may have been altered behind our back: rebuild it
                 * whole, the port locked from the first step on */
                log_warning_errno(r, "Updating table inet %s failed (%m); rebuilding it whole", tryo.table);
                r = ruleset_restore(d->nl, &tryo, want, st);
                if (r == 0)
                        counters_reset(d, d->pol == want ? want->n : 0);
        }
        if (r == 0)
                *o = tryo;
        return r;
}

/* Someone deleted, emptied or altered our table (nft flush ruleset, a
 * firewall reload, a deleted rule or element): put it back and say so. The
 * port is locked again by the first, small transaction of the restore;
 * the gateway's SYNs meanwhile wait in the queue, and are answered from
 * our lists once the second is in. */
static void check_table(struct daemon *d)
{
        struct ruleset_stats st = { 0 };
        struct timeval tv;
        struct jline j;
        int r;

        d->check_table = false;
        if (!d->enabled)
                return;
        r = ruleset_intact(d->nl, d->cfg->table, d->pol, d->shape_known ? &d->shape : NULL, &d->shape_cursor);
        if (r != 0)
                return;         /* intact, or we cannot tell */
        r = ruleset_restore(d->nl, &d->opts, d->pol, &st);
        if (r == 0) {
                early_reset(d);
                take_shape(d, d->pol);
        }
        counters_reset(d, d->pol->n);
        tally_flush_all(&d->tally, write_summary, d);
        gettimeofday(&tv, NULL);
        jline_begin(&j, &tv, "restored");
        jline_str(&j, "table", d->cfg->table);
        jline_str(&j, "result", r < 0 ? "error" : "ok");
        if (r < 0)
                jline_str(&j, "error", strerror(-r));
        jline_str(&j, "reason", "the table was removed or altered by someone else");
        jline_uint(&j, "refused_before", d->refused);
        audit_emit(d, &j);
        audit_sync(d);
        if (r < 0) {
                log_error_errno(r, "Table inet %s was removed and could not be restored: %m", d->cfg->table);
        } else {
                d->restored++;
                log_warning("Table inet %s was removed or altered by someone else; restored (%zu elements, "
                            "%zu bytes)", d->cfg->table, st.elements_added, st.bytes);
        }
}

/* Create the directory a file of ours goes in (one level), when missing.
 * Returns 1 when we created it, 0 when it was there. */
static int make_parent_dir(const char *path, mode_t mode)
{
        char dir[PATH_MAX];
        char *slash;

        snprintf(dir, sizeof(dir), "%s", path);
        slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                if (mkdir(dir, mode) == 0)
                        return 1;
                if (errno != EEXIST)
                        return log_error_errno(errno, "Cannot create %s: %m", dir);
        }
        return 0;
}

/* The directory we just created for the audit log, held open so that
 * drop_privileges() can give exactly that directory to `user =` (a
 * directory that was already there is never handed over). */
static void hold_created_dir(struct daemon *d, const char *path)
{
        char dir[PATH_MAX];
        char *slash;
        struct stat st;
        int fd;

        snprintf(dir, sizeof(dir), "%s", path);
        slash = strrchr(dir, '/');
        if (!slash)
                return;
        *slash = '\0';
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return;
        /* the one we made is ours; anything else was swapped in meanwhile */
        if (fstat(fd, &st) < 0 || st.st_uid != geteuid()) {
                close(fd);
                return;
        }
        d->audit_dir_fd = fd;
}

static int open_audit(struct daemon *d)
{
        int r;

        r = make_parent_dir(d->cfg->audit_log, 0750);
        if (r < 0)
                return r;
        if (r > 0 && d->cfg->user && geteuid() == 0)
                hold_created_dir(d, d->cfg->audit_log);
        r = audit_open(d->cfg->audit_log, &d->audit);
        if (r == -ELOOP) {
                log_error("Cannot open the audit log %s: it is a symbolic link, which mxlockd does not follow; "
                          "remove it (the log must be a plain file)", d->cfg->audit_log);
                return r;
        }
        if (r < 0)
                return log_error_errno(r, "Cannot open the audit log %s: %m", d->cfg->audit_log);
        if (d->cfg->seal_key && (r = audit_seal(d->audit, d->cfg->seal_key, &(int){ 0 })) < 0)
                return log_error_errno(r, "Cannot seal the audit log with %s (mxlock setup-keys): %m", d->cfg->seal_key);
        return 0;
}

/* ---- reload ---- */

static void reload_failed(struct daemon *d, const char *err)
{
        log_error("Reload failed, the rules in force stay: %s", err);
        audit_event(d, "reload", "error", err);
        d->reloads_failed++;
        gettimeofday(&d->last_reload, NULL);
        snprintf(d->last_reload_error, sizeof(d->last_reload_error), "%s", err);
}

/* The queue's fail-open flag is what `failure` means for a full queue: set
 * at start, and again when a reload changes it, so that what status says is
 * what the kernel does. On error d->cfg->failure goes back to old, the
 * setting the kernel still has. */
static int apply_failure(struct daemon *d, enum cfg_failure old, char err[CONFIG_ERRLEN])
{
        int r;

        if (!d->queue || d->cfg->failure == old)
                return 0;
        r = queue_set_fail_open(d->queue, d->cfg->failure == FAILURE_OPEN, on_packet, d);
        (void)queue_flush(d->queue);
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

/* Returns 0 when the new configuration is in force. */
static int reload(struct daemon *d, char err[CONFIG_ERRLEN])
{
        struct config *c = NULL;
        struct policy_set *p = NULL;
        struct ruleset_opts o;
        double t0 = monotonic_ms(), t_built, t_in_force = 0;
        struct policy_cache_stats before = *policy_cache_stats(d->cache);
        char how[96] = "";
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
                if (hosts_pending(d->hosts) && (hosts_refresh(d->hosts) == 0 || hosts_busy(d->hosts)))
                        d->reload_waiting = true;
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
        if (d->enabled) {
                /* the reload empties the offender sets: count what they refused first */
                offenders_tick(d, true);
                r = install(d, &o, p, d->pol);
                if (r < 0) {
                        snprintf(err, CONFIG_ERRLEN, "installing the ruleset failed: %s", strerror(-r));
                        reload_failed(d, err);
                        goto out;
                }
                t_in_force = monotonic_ms();
        } else {
                d->opts = o;
        }
        r = remap_pstats(d, p);
        if (r < 0) {
                snprintf(err, CONFIG_ERRLEN, "out of memory");
                reload_failed(d, err);
                goto out;
        }
        /* folded attempts name policies by index: write them out first */
        tally_flush_all(&d->tally, write_summary, d);
        /* the old configuration goes after the record: unmapping its lists
         * and closing its catalog versions (the last holder of a replaced
         * file frees it) took longer than the kernel's commit */
        {
                struct config *oc = d->cfg;
                struct policy_set *op = d->pol;

                d->cfg = c;
                d->pol = p;
                c = oc;
                p = op;
        }
        index_ports(d);
        r = apply_failure(d, c->failure, err);
        if (r < 0) {
                reload_failed(d, err);
                goto out;
        }
        d->reloads_ok++;
        hosts_prune(d->hosts);
        schedule_resolve(d);
        gettimeofday(&d->last_reload, NULL);
        d->last_reload_error[0] = '\0';
        audit_event(d, "reload", "ok", NULL);
        config_free(c);
        policy_set_free(p);
        c = NULL;
        p = NULL;
        (void)malloc_trim(0);   /* the parse's small allocations */
        {
                const struct policy_cache_stats *now = policy_cache_stats(d->cache);
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
static void re_resolve(struct daemon *d)
{
        struct policy_resolver res;
        struct policy_build_opts bo = { .provider_dirs = d->provider_dirs_override, .cache = d->cache, .res = &res };
        struct policy_set *p = NULL;
        char err[CONFIG_ERRLEN];
        int r;

        hosts_resolver(d->hosts, &res);
        hosts_clear_stale(d->hosts);
        r = policy_build_with(d->cfg, &bo, &p, err, warn_cb, NULL);
        if (r < 0) {
                log_warning("Re-resolving host names failed, the rules in force stay: %s", err);
                d->resolve_at = monotonic_s() + RESOLVE_RETRY_S;
                return;
        }
        if (d->enabled) {
                r = install(d, &d->opts, p, d->pol);
                if (r < 0) {
                        log_error_errno(r, "Updating host name addresses failed, the rules in force stay: %m");
                        policy_set_free(p);
                        d->resolve_at = monotonic_s() + RESOLVE_RETRY_S;
                        return;
                }
        }
        if (remap_pstats(d, p) < 0) {
                policy_set_free(p);
                return;
        }
        tally_flush_all(&d->tally, write_summary, d);
        policy_set_free(d->pol);
        d->pol = p;
        index_ports(d);
        schedule_resolve(d);
        if (hosts_stale(d->hosts) && (!d->resolve_at || d->resolve_at > monotonic_s() + RESOLVE_RETRY_S))
                d->resolve_at = monotonic_s() + RESOLVE_RETRY_S;
}

/* A background resolution finished (src/daemon/hosts.h): addresses that
 * moved are installed (from the cache: nothing here waits on DNS); a reload
 * that waited for new names' first answers is tried again. */
static void on_hosts_done(const struct hosts_outcome *o, void *userdata)
{
        struct daemon *d = userdata;
        char err[CONFIG_ERRLEN];

        if (d->reload_waiting && o->first) {
                d->reload_waiting = false;
                (void)reload(d, err);
        } else if (o->changed) {
                re_resolve(d);
        } else {
                schedule_resolve(d);
                if (o->failed && (!d->resolve_at || d->resolve_at > monotonic_s() + RESOLVE_RETRY_S))
                        d->resolve_at = monotonic_s() + RESOLVE_RETRY_S;
        }
        if (hosts_pending(d->hosts))
                (void)hosts_refresh(d->hosts);
}

/* ---- control socket ---- */

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

static char *status_json(struct daemon *d)
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
static char *status_text(struct daemon *d)
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

static void set_enabled(struct daemon *d, bool on, char err[CONFIG_ERRLEN])
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
                tally_flush_all(&d->tally, write_summary, d);
                d->enabled = true;
                audit_event(d, "enabled", "ok", NULL);
                notify_send("STATUS=Enforcing");
                log_notice("Enabled by mxlock enable: table inet %s in force", d->cfg->table);
        } else {
                offenders_tick(d, true);
                reconcile(d, true);
                r = ruleset_delete(d->nl, d->cfg->table);
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

/* ---- metrics (node_exporter textfile collector) ---- */

static void write_metrics(struct daemon *d)
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

/* ---- signals and the loop ---- */

static void on_fd(int fd, uint32_t events, void *data);

static int watch_fd(struct daemon *d, int fd)
{
        return loop_add_fd(d->loop, fd, EPOLLIN, on_fd, d);
}

static int setup_loop(struct daemon *d)
{
        struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
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
        if ((r = loop_new(&d->loop)) < 0)
                return r;
        d->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        d->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (d->sigfd < 0 || d->timerfd < 0)
                return -errno;
        if (timerfd_settime(d->timerfd, 0, &its, NULL) < 0)
                return -errno;
        if ((r = watch_fd(d, d->sigfd)) < 0 || (r = watch_fd(d, queue_fd(d->queue))) < 0 ||
            (r = watch_fd(d, d->timerfd)) < 0)
                return r;
        if (d->control && (r = control_attach(d->control, d->loop, on_request, d)) < 0)
                return r;
        if ((r = hosts_attach(d->hosts, d->loop, on_hosts_done, d)) < 0)
                return r;
        if (d->watch) {
                struct itimerspec w = { .it_interval = { 0, WATCH_NSEC }, .it_value = { 0, WATCH_NSEC } };

                d->watchfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
                if (d->watchfd < 0)
                        return -errno;
                if (timerfd_settime(d->watchfd, 0, &w, NULL) < 0)
                        return -errno;
                if ((r = watch_fd(d, d->watchfd)) < 0)
                        return r;
        }
        return 0;
}

static void on_signal(struct daemon *d)
{
        struct signalfd_siginfo si;
        char err[CONFIG_ERRLEN];

        while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
                switch (si.ssi_signo) {
                case SIGHUP:
                        (void)reload(d, err);
                        break;
                case SIGTERM:
                case SIGINT:
                        loop_quit(d->loop);
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
        struct timeval now;
        uint64_t ticks;
        int r;

        (void)!read(d->timerfd, &ticks, sizeof(ticks));
        gettimeofday(&now, NULL);
        tally_sweep(&d->tally, &now, false, write_summary, d);
        if (d->enabled)
                offenders_tick(d, false);
        reconcile(d, false);
        if (d->resolve_at && monotonic_s() >= d->resolve_at) {
                /* the answers come to on_hosts_done */
                r = hosts_refresh(d->hosts);
                d->resolve_at = r == 0 || r == -EBUSY ? 0 : monotonic_s() + RESOLVE_RETRY_S;
        }
        d->pkts_tick = 0;
        audit_sync(d);
        d->ticks++;
        if (d->cfg->metrics_file && d->ticks % (d->cfg->metrics_interval ? d->cfg->metrics_interval : 15) == 0)
                write_metrics(d);
        if (notify_watchdog_usec())
                notify_send("WATCHDOG=1");
}

/* Has anyone committed to this namespace's ruleset since the last look?
 * Then check our table (see ruleset_genid for why this polls). */
static void on_watch(struct daemon *d)
{
        uint64_t expirations;
        uint32_t id;

        if (read(d->watchfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
                log_debug("watch timer: %m");
        if (ruleset_genid(d->watch, &id) < 0)
                return;
        if (!d->genid_known || id != d->genid) {
                d->genid = id;
                d->genid_known = true;
                d->check_table = true;
        }
}

static void check_table_due(void *data)
{
        struct daemon *d = data;

        if (d->check_table)
                check_table(d);
}

/* The daemon's own descriptors; the table is checked after the turn's
 * other descriptors (a timeout due now runs after them). */
static void on_fd(int fd, uint32_t events, void *data)
{
        struct daemon *d = data;

        if (fd == d->sigfd) {
                on_signal(d);
        } else if (fd == d->timerfd) {
                on_timer(d);
        } else if (d->queue && fd == queue_fd(d->queue)) {
                on_queue(d);
        } else if (fd == d->watchfd) {
                on_watch(d);
                if (d->check_table)
                        (void)loop_add_timeout(d->loop, 0, check_table_due, d);
        }
}

static int run(struct daemon *d)
{
        int r = loop_run(d->loop);

        return r < 0 ? log_error_errno(r, "The event loop failed: %m") : 0;
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
        if (d->audit_dir_fd >= 0) {
                if (fchown(d->audit_dir_fd, uid, gid) < 0)
                        log_warning_errno(errno, "Cannot hand the directory of %s to %s: %m", d->cfg->audit_log,
                                          d->cfg->user);
                close(d->audit_dir_fd);
                d->audit_dir_fd = -1;
        }
        r = audit_chown(d->audit, uid, gid);
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
        d->cache = policy_cache_new();
        if (!d->cache)
                return 1;
        d->sigfd = d->timerfd = d->watchfd = d->audit_dir_fd = -1;
        {
                struct hosts_opts ho = { .resolve = dns_policy_resolve, .retry_ttl = RESOLVE_RETRY_S,
                                         .deadline_ms = RESOLVE_DEADLINE_MS };

                if (hosts_new(&ho, &d->hosts) < 0)
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
                ruleset_print(stdout, &d->opts, d->pol);
                r = fflush(stdout) == 0 ? 0 : 1;
                goto out;
        }

        index_ports(d);
        d->enabled = true;
        gettimeofday(&d->started, NULL);
        if (remap_pstats(d, d->pol) < 0 || tally_init(&d->tally, TALLY_SLOTS, TALLY_LIMIT, TALLY_WINDOW) < 0 ||
            tally_limit(&d->tally, TALLY_NET_SLOTS, TALLY_NET_LIMIT, TALLY_RATE) < 0) {
                log_error("Out of memory");
                goto out_fail;
        }
        if (open_audit(d) < 0)
                goto out_fail;
        if (d->cfg->journal) {
                r = journal_open(NULL, &d->journal);
                if (r < 0)
                        log_warning_errno(r, "Cannot reach journald, attempts go to the audit log only: %m");
        }
        r = ruleset_nl_open(&d->nl);
        if (r < 0) {
                log_error_errno(r, "Cannot open the nf_tables netlink socket: %m");
                goto out_fail;
        }
        r = ruleset_nl_open(&d->watch);
        if (r < 0)
                log_warning_errno(r, "Cannot watch the ruleset; a removed table will not be restored: %m");
        r = queue_open(d->cfg->queue, d->opts.queues, QUEUE_MAXLEN, d->cfg->failure == FAILURE_OPEN, &d->queue);
        if (r < 0) {
                log_error_errno(r, "Cannot bind NFQUEUE %u: %m", d->cfg->queue);
                goto out_fail;
        }
        if (ruleset_table_exists(d->nl, d->cfg->table) > 0)
                account_missed_at_start(d);
        r = install(d, &d->opts, d->pol, NULL);
        if (r < 0) {
                log_error_errno(r, "Installing table inet %s failed: %m", d->cfg->table);
                goto out_fail;
        }
        if (open_control(d, control_gid) < 0)
                goto out_fail;
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
        log_info("mxlockd %s enforcing: mode %s, action %s, failure %s", MXLOCK_VERSION,
                 cfg_mode_name(d->cfg->mode), cfg_action_name(d->cfg->action), cfg_failure_name(d->cfg->failure));
        notify_send("READY=1\nSTATUS=Enforcing");

        r = run(d);

        notify_send("STOPPING=1");
        on_queue(d);
        /* unbind first: from here on the kernel refuses (or with failure =
         * open accepts) on its own, counts, and the next start writes it */
        queue_close(d->queue);
        d->queue = NULL;
        tally_sweep(&d->tally, &d->started, true, write_summary, d);
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
        queue_close(d->queue);
        ruleset_nl_close(d->watch);
        ruleset_nl_close(d->nl);
        control_close(d->control);
        journal_close(d->journal);
        audit_close(d->audit);
        if (d->sigfd >= 0)
                close(d->sigfd);
        if (d->timerfd >= 0)
                close(d->timerfd);
        if (d->watchfd >= 0)
                close(d->watchfd);
        tally_free(&d->tally);
        free(d->pstats);
        free(d->early);
        policy_set_free(d->pol);
        policy_cache_free(d->cache);
        hosts_free(d->hosts);
        config_free(d->cfg);
        loop_free(d->loop);
        return r;
}
