/* src/daemon/packet.c: the packet path: the port -> policy index, the queue
 * handler, decoding a queued SYN, its verdict, and folding it through the
 * tally. */
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

void index_ports(struct daemon *d)
{
        memset(d->port_policy, 0, sizeof(d->port_policy));
        for (size_t i = 0; i < d->pol->n; i++)
                for (size_t k = 0; k < d->pol->v[i].nports; k++)
                        d->port_policy[d->pol->v[i].ports[k]] = (uint16_t)(i + 1);
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

void on_packet(const struct queue_pkt *p, void *userdata)
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

void on_queue(struct daemon *d)
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
