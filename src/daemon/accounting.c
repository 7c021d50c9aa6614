/* src/daemon/accounting.c: accounting of missed attempts: the per-policy
 * figures (pstats), the kernel queue's drops, and the queued/handled
 * counter gaps written as `missed` records (at start, while running, at
 * stop). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "daemon/daemon.h"

/* Carry the figures of policies that stay over to the new policy set. */
int remap_pstats(struct daemon *d, const struct policy_set *p)
{
        struct pstat *n = calloc(p->n ? p->n : 1, sizeof(*n));

        if (!n)
                return -ENOMEM;
        for (size_t i = 0; i < p->n; i++) {
                snprintf(n[i].name, sizeof(n[i].name), "%s", p->v[i].name);
                for (size_t k = 0; d->pol && d->acct.pstats && k < d->pol->n; k++)
                        if (strcmp(d->acct.pstats[k].name, p->v[i].name) == 0)
                                n[i] = d->acct.pstats[k];
        }
        free(d->acct.pstats);
        d->acct.pstats = n;
        return 0;
}

/* The kernel's per-queue figures from /proc/net/netfilter/nfnetlink_queue:
 * packets waiting for a verdict, and packets dropped because the queue was
 * full or could not be sent to us. */
int queue_proc(const struct daemon *d, uint64_t *ret_waiting, uint64_t *ret_dropped)
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

/* Attempts the kernel queued that nobody answered show as queued - handled
 * in the policy's two counters. When there are any, both counters are read
 * and zeroed (handled first) and the difference written as `missed`, so the
 * next reading, ours or a later mxlockd's after a crash, starts afresh and
 * nothing is written twice. Exact only while nothing is in flight. */
uint64_t settle_gap(struct daemon *d, size_t i, const char *reason)
{
        const char *name = d->pol->v[i].name;
        uint64_t queued = 0, handled = 0;

        if (d->k->counter(d->rs, RULESET_COUNTER_QUEUED, name, false, &queued) < 0 ||
            d->k->counter(d->rs, RULESET_COUNTER_HANDLED, name, false, &handled) < 0 || queued <= handled)
                return 0;
        if (d->k->counter(d->rs, RULESET_COUNTER_HANDLED, name, true, &handled) < 0 ||
            d->k->counter(d->rs, RULESET_COUNTER_QUEUED, name, true, &queued) < 0 || queued <= handled)
                return 0;
        write_missed(d, d->pol->v[i].name, queued - handled, reason);
        d->acct.pstats[i].missed += queued - handled;
        return queued - handled;
}

/* Attempts the kernel refused while no mxlockd was reading, from the
 * counters the previous one left behind. */
void account_missed_at_start(struct daemon *d)
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
void reconcile(struct daemon *d, bool final)
{
        uint64_t waiting, dropped;

        if (!d->enabled || (!final && d->pkt.packets != d->acct.packets_seen))
                return;
        /* without /proc/net (a sandbox), a tick without packets must do */
        if (d->pkt.queue && queue_proc(d, &waiting, &dropped) == 0 && waiting)
                return;
        for (size_t i = 0; i < d->pol->n; i++)
                (void)settle_gap(d, i, final ? "refused by the kernel while mxlockd was stopping"
                                             : "the kernel queue overflowed; refused without being read");
}

void accounting_tick(struct daemon *d)
{
        reconcile(d, false);
        d->acct.packets_seen = d->pkt.packets;
}

void accounting_free(struct daemon *d)
{
        free(d->acct.pstats);
        d->acct.pstats = NULL;
}
