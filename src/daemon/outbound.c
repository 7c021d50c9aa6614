/* src/daemon/outbound.c: verdicts and records of this host's own
 * connection attempts (see outbound.h). */
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "log.h"
#include "daemon/daemon.h"
#include "daemon/owner.h"
#include "daemon/outbound.h"

int outbound_init(struct daemon *d)
{
        d->ob.owner = owner_new("/proc", "/sys/fs/cgroup");
        if (!d->ob.owner)
                log_warning("Cannot open the socket diagnostics for outbound attribution: records name the "
                            "uid only");
        return 0;
}

void outbound_free(struct daemon *d)
{
        owner_free(d->ob.owner);
        d->ob.owner = NULL;
}

static void fold_write(struct daemon *d, struct outbound_fold *f)
{
        const struct policy *pol = f->policy < d->pol->n ? &d->pol->v[f->policy] : NULL;
        char user[64] = "";

        if (f->has_uid && d->ob.owner)
                owner_user_name(d->ob.owner, f->uid, user, sizeof(user));
        write_outbound_summary(d, pol ? pol->name : "?", f->family, f->has_uid, f->uid, user[0] ? user : NULL,
                               f->count, &f->first, &f->last);
        f->used = false;
}

void outbound_flush(struct daemon *d, bool all)
{
        struct timeval now;

        gettimeofday(&now, NULL);
        if (!all && now.tv_sec == d->ob.second)
                return;
        for (size_t i = 0; i < OUTBOUND_FOLD_SLOTS; i++)
                if (d->ob.fold[i].used)
                        fold_write(d, &d->ob.fold[i]);
}

/* Fold one attempt: into its policy, user and family's slot; a full table
 * is written out first (more summaries that second, no count lost). */
static void fold_add(struct daemon *d, unsigned policy, const struct queue_pkt *p, int family,
                     const struct timeval *tv)
{
        struct outbound_fold *free_slot = NULL;

        for (size_t i = 0; i < OUTBOUND_FOLD_SLOTS; i++) {
                struct outbound_fold *f = &d->ob.fold[i];

                if (!f->used) {
                        if (!free_slot)
                                free_slot = f;
                        continue;
                }
                if (f->policy == policy && f->family == family && f->has_uid == p->has_uid &&
                    (!p->has_uid || f->uid == p->uid)) {
                        f->count++;
                        f->last = *tv;
                        return;
                }
        }
        if (!free_slot) {
                outbound_flush(d, true);
                free_slot = &d->ob.fold[0];
        }
        *free_slot = (struct outbound_fold){ .used = true, .policy = (uint16_t)policy, .has_uid = p->has_uid,
                                             .uid = p->uid, .family = family, .count = 1, .first = *tv,
                                             .last = *tv };
}

void outbound_packet(struct daemon *d, const struct queue_pkt *p, unsigned idx, bool decide, int decoded,
                     const struct syn_info *s)
{
        const struct policy *pol = &d->pol->v[idx - 1];
        struct pstat *ps = &d->acct.pstats[idx - 1];
        addr128 dst = addr_from_bytes(s->family, s->dst);
        bool user_ok = p->has_uid && policy_has_uid(pol, p->uid);
        bool dst_ok = range_list_contains(&pol->allow[fam_index(s->family)], dst);
        struct owner who = { .has_uid = p->has_uid, .uid = p->uid };
        struct timeval tv;
        char ibuf[IF_NAMESIZE];

        if (decide && user_ok && dst_ok) {
                /* the interim table of a restore asks: allowed, from our
                 * lists; the mark no longer says "queued", so that outfail
                 * lets it pass */
                d->k->verdict(d->pkt.queue, p, QUEUE_ACCEPT, RULESET_MARK_BASE);
                return;
        }
        if (d->opts.monitor) {
                d->acct.observed++;
                ps->observed++;
        } else {
                d->acct.refused++;
                ps->refused++;
        }
        gettimeofday(&tv, NULL);
        if (tv.tv_sec != d->ob.second) {
                outbound_flush(d, true);
                d->ob.second = tv.tv_sec;
                d->ob.written = 0;
        }
        if (d->ob.written >= OUTBOUND_RATE) {
                ps->folded++;
                fold_add(d, idx - 1, p, s->family, &tv);
                d->k->verdict(d->pkt.queue, p, QUEUE_REPEAT, ruleset_mark(idx - 1));
                return;
        }
        d->ob.written++;
        /* before the verdict goes out: the socket still exists, waiting
         * for its SYN to be answered */
        if (d->ob.owner && decoded == DECODE_OK)
                (void)owner_lookup(d->ob.owner, s->family, s->src, s->sport, s->dst, s->dport, &who);
        else if (d->ob.owner && who.has_uid)
                owner_user_name(d->ob.owner, who.uid, who.user, sizeof(who.user));
        d->k->verdict(d->pkt.queue, p, QUEUE_REPEAT, ruleset_mark(idx - 1));
        write_outbound_attempt(d, &tv, pol->name, s, decoded, p->outdev ? if_indextoname(p->outdev, ibuf) : NULL,
                               &who, user_ok ? "destination-not-allowed" : "user-not-allowed");
}
