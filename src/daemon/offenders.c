/* src/daemon/offenders.c: repeat offenders: sources that flood are handed
 * to the kernel's offender sets, counted from their elements, written as
 * summaries, and let go when quiet; the early chain's rules follow the
 * sets. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "log.h"
#include "daemon/daemon.h"

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
        for (size_t i = 0; i < d->off.n; i++)
                want[d->off.v[i].policy] |= d->off.v[i].family == AF_INET ? RULESET_EARLY_V4
                                                                                  : RULESET_EARLY_V6;
        for (size_t i = 0; i < n || i < d->off.nearly; i++)
                if ((i < n ? want[i] : 0) != (d->off.early && i < d->off.nearly ? d->off.early[i] : 0))
                        same = false;
        if (same) {
                free(want);
                return;
        }
        r = d->k->early(d->rs, &d->pol->view, want);
        if (r < 0) {
                /* offenders then reach the queue and are refused and counted there */
                log_warning_errno(r, "Cannot update the repeat offenders' rules: %m");
                free(want);
                return;
        }
        free(d->off.early);
        d->off.early = want;
        d->off.nearly = n;
}

/* An install replaced the early chain: no rules in it now. */
void early_reset(struct daemon *d)
{
        free(d->off.early);
        d->off.early = NULL;
        d->off.nearly = 0;
}

void offender_add(struct daemon *d, struct tally_entry *e, const struct timeval *now)
{
        struct pending_offender *p;

        e->offender = true;
        if (d->off.npending == OFFENDERS_PENDING)
                offenders_apply(d);
        p = &d->off.pending[d->off.npending++];
        p->addr = e->addr;
        p->family = e->family;
        p->policy = e->policy;
        p->since = *now;
}

void offenders_apply(struct daemon *d)
{
        size_t added = 0;

        for (size_t k = 0; k < d->off.npending; k++) {
                const struct pending_offender *p = &d->off.pending[k];
                struct offender *o;
                bool known = false;
                int r;

                for (size_t i = 0; i < d->off.n && !known; i++)
                        known = d->off.v[i].addr == p->addr && d->off.v[i].family == p->family &&
                                d->off.v[i].policy == p->policy;
                if (known)
                        continue;
                if (d->off.n == OFFENDERS_MAX) {
                        d->off.full++;
                        continue;       /* still refused and counted, through the queue */
                }
                r = d->k->offender_add(d->rs, d->pol->v[p->policy].name, p->family, p->addr);
                if (r < 0) {
                        log_debug("Cannot add a repeat offender to the kernel: %s", strerror(-r));
                        continue;
                }
                o = &d->off.v[d->off.n++];
                memset(o, 0, sizeof(*o));
                o->addr = p->addr;
                o->family = p->family;
                o->policy = p->policy;
                o->since = p->since;
                added++;
        }
        d->off.npending = 0;
        if (added)
                early_sync(d);
}

/* A source left the kernel's offender set: if it floods again, it goes
 * back in (its fold entry would otherwise say it is there already). */
static void offender_forget(struct daemon *d, const struct offender *o)
{
        struct tally_entry *e = tally_find(&d->pkt.tally, o->family, o->addr, o->policy);

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
        d->acct.pstats[o->policy].repeat_accounted += n;
        d->acct.pstats[o->policy].refused += n;
        d->acct.refused += n;
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

        for (size_t i = 0; i < d->off.n; i++) {
                struct offender *o = &d->off.v[i];

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
                if (o->read > o->packets && tally_spend(&d->pkt.tally, &rd->now))
                        offender_write(d, o, &rd->now);
                return;
        }
}

/* Read the offenders' counters; write what they refused; let quiet ones go.
 * With `all`, every offender leaves (reload, stop). Then check the policy's
 * aggregate counter, so attempts of a source that left between a read and
 * its removal are counted too. */
void offenders_tick(struct daemon *d, bool all)
{
        if (!d->off.n && !all)
                return;
        for (size_t p = 0; p < d->pol->n; p++) {
                struct offender_read rd = { .d = d, .policy = (uint16_t)p };
                uint64_t after = 0, deferred;
                bool have = false;
                int r4, r6;

                for (size_t i = 0; i < d->off.n; i++)
                        if (d->off.v[i].policy == p) {
                                d->off.v[i].seen = false;
                                have = true;
                        }
                if (!have && !all)
                        continue;
                gettimeofday(&rd.now, NULL);
                r4 = d->k->offenders_read(d->rs, d->pol->v[p].name, AF_INET, offender_counted, &rd);
                r6 = d->k->offenders_read(d->rs, d->pol->v[p].name, AF_INET6, offender_counted, &rd);
                if ((r4 < 0 || r6 < 0) && !all) {
                        log_warning_errno(r4 < 0 ? r4 : r6, "Cannot read the repeat offenders of policy %s: %m",
                                          d->pol->v[p].name);
                        continue;
                }

                /* remove the quiet ones (all of them with `all`) */
                for (int fam = AF_INET; fam == AF_INET || fam == AF_INET6; fam = fam == AF_INET ? AF_INET6 : 0) {
                        addr128 gone[OFFENDERS_MAX];
                        size_t ngone = 0;

                        for (size_t i = 0; i < d->off.n;) {
                                struct offender *o = &d->off.v[i];

                                if (o->policy == p && o->family == fam &&
                                    (all || o->quiet >= OFFENDER_QUIET_TICKS || !o->seen)) {
                                        offender_write(d, o, &rd.now);
                                        gone[ngone++] = o->addr;
                                        offender_forget(d, o);
                                        d->off.v[i] = d->off.v[--d->off.n];
                                        continue;
                                }
                                i++;
                        }
                        if (ngone && !all)
                                (void)d->k->offenders_del(d->rs, d->pol->v[p].name, fam, gone, ngone);
                }
                if (all)
                        (void)d->k->offenders_flush(d->rs, d->pol->v[p].name);

                /* attempts in the kernel's counter that no element accounts
                 * for (what an element counted but waits for the budget is
                 * accounted for) */
                if (rd.active && !all)
                        continue;
                deferred = 0;
                for (size_t i = 0; i < d->off.n; i++)
                        if (d->off.v[i].policy == p)
                                deferred += d->off.v[i].read - d->off.v[i].packets;
                if (d->k->counter(d->rs, RULESET_COUNTER_REPEAT, d->pol->v[p].name, false, &after) == 0 &&
                    after > d->acct.pstats[p].repeat_accounted + deferred) {
                        uint64_t n = after - d->acct.pstats[p].repeat_accounted - deferred;

                        write_missed(d, d->pol->v[p].name, n,
                                     "refused in the kernel as repeat offenders while their sources were being "
                                     "removed from the offender set");
                        d->acct.pstats[p].missed += n;
                        d->acct.pstats[p].repeat_accounted = after;
                }
        }
        early_sync(d);
}

/* A rebuilt table starts with zeroed counters and empty offender sets. */
void counters_reset(struct daemon *d, size_t npolicies)
{
        for (size_t i = 0; d->acct.pstats && i < npolicies; i++) {
                d->acct.pstats[i].repeat_accounted = 0;
        }
        for (size_t i = 0; i < d->off.n; i++)
                offender_forget(d, &d->off.v[i]);
        d->off.n = 0;
}

void offenders_free(struct daemon *d)
{
        free(d->off.early);
        d->off.early = NULL;
        d->off.nearly = 0;
}
