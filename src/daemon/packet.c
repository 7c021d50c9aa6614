/* src/daemon/packet.c: the packet path: the port -> policy index, the queue
 * handler, decoding a queued SYN, its verdict, and folding it through the
 * tally. */
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "decode.h"
#include "log.h"
#include "daemon/daemon.h"

void index_ports(struct daemon *d)
{
        memset(d->pkt.port_policy, 0, sizeof(d->pkt.port_policy));
        for (size_t i = 0; i < d->pol->n; i++)
                for (size_t k = 0; k < d->pol->v[i].nports; k++)
                        d->pkt.port_policy[d->pol->v[i].ports[k]] = (uint16_t)(i + 1);
}

static const char *ifname(struct daemon *d, uint32_t ifindex, char *buf)
{
        if (ifindex == 0)
                return NULL;
        if (ifindex < 64) {
                if (!d->pkt.ifnames[ifindex][0] && !if_indextoname(ifindex, d->pkt.ifnames[ifindex]))
                        return NULL;
                return d->pkt.ifnames[ifindex];
        }
        return if_indextoname(ifindex, buf);
}

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
        return decoded == DECODE_OK ? d->pkt.port_policy[s->dport] : 0;
}

void on_packet(const struct queue_pkt *p, void *userdata)
{
        struct daemon *d = userdata;
        const struct policy_source *src = NULL;
        const struct policy *pol;
        struct tally_entry *te = NULL;
        struct pstat *ps;
        struct syn_info s;
        char ibuf[IF_NAMESIZE];
        struct timeval tv;
        bool decide;
        unsigned idx;
        addr128 a;
        int r;

        d->pkt.packets++;
        r = syn_decode(p->data, p->len, &s);
        idx = packet_policy(d, p, r, &s, &decide);
        if (!idx) {
                /* not ours to judge (not queued by our rules, and a port no
                 * policy names): the kernel's decision stands */
                d->pkt.undecodable++;
                d->k->verdict(d->pkt.queue, p, d->opts.monitor || r == 0 ? QUEUE_ACCEPT : QUEUE_DROP, 0);
                return;
        }
        pol = &d->pol->v[idx - 1];
        ps = &d->acct.pstats[idx - 1];
        if (r < 0 && syn_decode_network(p->data, p->len, &s) < 0) {
                /* not even an IP header: refused (observed), counted, no source to name */
                d->pkt.undecodable++;
                d->k->verdict(d->pkt.queue, p, QUEUE_REPEAT, ruleset_mark(idx - 1));
                return;
        }
        if (pol->outbound) {
                outbound_packet(d, p, idx, decide, r, &s);
                return;
        }
        a = addr_from_bytes(s.family, s.src);
        if (decide && policy_classify(pol, s.family, a, &src)) {
                /* the interim table of a restore asks: allowed, from our lists */
                d->k->verdict(d->pkt.queue, p, QUEUE_ACCEPT, 0);
                return;
        }
        d->k->verdict(d->pkt.queue, p, QUEUE_REPEAT, ruleset_mark(idx - 1));
        if (d->opts.monitor) {
                d->acct.observed++;
                ps->observed++;
        } else {
                d->acct.refused++;
                ps->refused++;
        }

        gettimeofday(&tv, NULL);
        if (!tally_hit(&d->pkt.tally, s.family, a, (uint16_t)(idx - 1), s.dport, &tv, write_summary, d, &te)) {
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
        write_attempt(d, &tv, pol->name, &s, r, ifname(d, p->ifindex, ibuf), src);
}

int packet_serve(struct daemon *d, int batches)
{
        int n = 0, r, done = 0;

        while (done < batches) {
                n = d->k->receive(d->pkt.queue, RECV_BATCH, on_packet, d);
                r = d->k->flush(d->pkt.queue);
                if (r < 0)
                        log_warning_errno(r, "Sending verdicts failed: %m");
                offenders_apply(d);
                if (n < 0)
                        break;
                done++;
                if (n < RECV_BATCH)
                        break;
        }
        if (n < 0)
                log_warning_errno(n, "Reading the queue failed: %m");
        audit_sync(d);
        return done;
}

/* A flood fills every batch: after PACKET_BATCHES the handler returns, and
 * the loop's other descriptors and due timeouts (signals, the watchdog,
 * self-heal) have their turn before it comes back. */
void packet_on_queue(int fd, uint32_t events, void *data)
{
        (void)packet_serve(data, PACKET_BATCHES);
}

void packet_drain(struct daemon *d)
{
        while (packet_serve(d, PACKET_BATCHES) == PACKET_BATCHES)
                ;
}

void packet_tick(struct daemon *d)
{
        struct timeval now;

        gettimeofday(&now, NULL);
        tally_sweep(&d->pkt.tally, &now, false, write_summary, d);
}
