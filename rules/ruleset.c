/* rules/ruleset.c: mxlockd's nf_tables table as one atomic transaction. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/gen.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>

#include "ruleset.h"

#define CHAIN_INPUT "input"
#define CHAIN_SYN "syn"
#define CHAIN_EARLY "early"    /* prerouting, before conntrack: repeat offenders */
#define CHAIN_FORWARD "forward" /* forward: connections DNAT sends on to an MTA behind this host */
#define CHAIN_OUTPUT "output"   /* output: this host's own new connections (outbound policies only) */
#define CHAIN_OUTSYN "outsyn"   /* their SYNs, dispatched on the destination port */
#define CHAIN_OUTFAIL "outfail" /* output, after ours: failure = closed while nobody reads the queue */
#define CHAIN_EARLY_PRIORITY (-300)
#define CHAIN_PRIORITY (-10)
#define TCP_FLAGS_MASK 0x17    /* fin|syn|rst|ack */
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_ACK 0x10
#define LOOPBACK_IFINDEX 1     /* lo is interface 1 in every network namespace */
#define ELEM_MSG_LIMIT 60000   /* bytes of elements per netlink message */

/* nftables data types, as nft defines them */
#define TYPE_IPADDR 7
#define TYPE_IP6ADDR 8
#define TYPE_INET_SERVICE 13
#define TYPE_UID 24
#define BYTEORDER_HOST_ENDIAN 1 /* nft's key byte order, in a set's user data */

/* struct xt_NFQ_info_v3 of linux/netfilter/xt_NFQUEUE.h */
struct nfq_xt_info_v3 {
        uint16_t queuenum;
        uint16_t queues_total;
        uint16_t flags;
        uint16_t pad;           /* XT_ALIGN to 8 bytes */
};
#define NFQ_XT_FLAG_BYPASS 0x01
#define NFQ_XT_FLAG_CPU_FANOUT 0x02

struct ruleset_nl {
        struct mnl_socket *sock;
        uint32_t portid;
        uint32_t seq;
};

struct ruleset {
        struct ruleset_nl *nl;
        char *table;
        struct ruleset_opts o;  /* o.table is table */
};

/* The per-policy objects. */
enum ruleset_obj {
        OBJ_ALLOW4, OBJ_ALLOW6, OBJ_DENY4, OBJ_DENY6, OBJ_PORTS, OBJ_CHAIN, OBJ_QUEUED, OBJ_HANDLED,
        OBJ_OFFENDERS4, OBJ_OFFENDERS6, OBJ_REPEAT, OBJ_REFUSE, OBJ_ACKS, OBJ_USERS,
};

/* A transaction under construction. */
struct txn {
        struct nftnl_batch *b;
        struct ruleset_nl *nl;
        const char *table;
        uint32_t seq;
        uint32_t first_seq;
        uint32_t set_id;
        struct ruleset_stats st;
};

static void *nn(void *p)
{
        if (!p)
                abort();        /* small allocations: out of memory is fatal, as in chrony */
        return p;
}

/* A per-policy object's name (buf of NAME_MAX+1). */
static const char *ruleset_obj_name(enum ruleset_obj k, const char *policy, char *buf, size_t len)
{
        static const char *const prefix[] = {
                [OBJ_ALLOW4] = "allow4_", [OBJ_ALLOW6] = "allow6_", [OBJ_DENY4] = "deny4_",
                [OBJ_DENY6] = "deny6_",   [OBJ_PORTS] = "ports_",   [OBJ_CHAIN] = "policy_",
                [OBJ_QUEUED] = "queued_", [OBJ_HANDLED] = "handled_",
                [OBJ_OFFENDERS4] = "offenders4_", [OBJ_OFFENDERS6] = "offenders6_", [OBJ_REPEAT] = "repeat_",
                [OBJ_REFUSE] = "refuse_", [OBJ_ACKS] = "acks_", [OBJ_USERS] = "users_",
        };
        snprintf(buf, len, "%s%s", prefix[k], policy);
        return buf;
}

static int nl_open(struct ruleset_nl **ret)
{
        struct ruleset_nl *nl;
        int r;

        nl = calloc(1, sizeof(*nl));
        if (!nl)
                return -ENOMEM;
        nl->sock = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
        if (!nl->sock) {
                r = -errno;
                free(nl);
                return r;
        }
        if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
                r = -errno;
                mnl_socket_close(nl->sock);
                free(nl);
                return r;
        }
        nl->portid = mnl_socket_get_portid(nl->sock);
        nl->seq = (uint32_t)time(NULL);
        *ret = nl;
        return 0;
}

static void nl_close(struct ruleset_nl *nl)
{
        if (!nl)
                return;
        mnl_socket_close(nl->sock);
        free(nl);
}

int ruleset_open(const struct ruleset_opts *o, struct ruleset **ret)
{
        struct ruleset *h = calloc(1, sizeof(*h));
        int r;

        if (!h || !(h->table = strdup(o->table))) {
                free(h);
                return -ENOMEM;
        }
        r = nl_open(&h->nl);
        if (r < 0) {
                free(h->table);
                free(h);
                return r;
        }
        ruleset_set_options(h, o);
        *ret = h;
        return 0;
}

void ruleset_close(struct ruleset *h)
{
        if (!h)
                return;
        nl_close(h->nl);
        free(h->table);
        free(h);
}

int ruleset_fd(const struct ruleset *h)
{
        return mnl_socket_get_fd(h->nl->sock);
}

const struct ruleset_opts *ruleset_options(const struct ruleset *h)
{
        return &h->o;
}

void ruleset_set_options(struct ruleset *h, const struct ruleset_opts *o)
{
        h->o = *o;
        h->o.table = h->table;
}

void ruleset_layout_free(struct ruleset_layout *l)
{
        if (!l)
                return;
        free(l->v);
        l->v = NULL;
        l->n = 0;
}

/* How these options lay out the view's allowed lists. */
static struct ruleset_layout layout_of(const struct ruleset_opts *o, const struct ruleset_view *s)
{
        struct ruleset_layout l = { .n = s->n, .v = nn(calloc(s->n ? s->n : 1, sizeof(*l.v))) };

        for (size_t i = 0; i < s->n; i++)
                for (int f = 0; f < FAM_N; f++)
                        l.v[i].sharded[f] = !s->v[i].outbound && ruleset_want_sharded(o, &s->v[i].allow[f]);
        return l;
}

/* The layout of have's policy i: as recorded (hl), else as o would lay it out. */
static struct ruleset_policy_layout layout_at(const struct ruleset_opts *o, const struct ruleset_view *have,
                                              const struct ruleset_layout *hl, size_t i)
{
        struct ruleset_policy_layout pl;

        if (hl && i < hl->n)
                return hl->v[i];
        for (int f = 0; f < FAM_N; f++)
                pl.sharded[f] = !have->v[i].outbound && ruleset_want_sharded(o, &have->v[i].allow[f]);
        return pl;
}

/* ---- transaction plumbing ---- */

static void txn_begin(struct txn *t, struct ruleset_nl *nl, const char *table)
{
        memset(t, 0, sizeof(*t));
        t->nl = nl;
        t->table = table;
        t->b = nn(nftnl_batch_alloc(128 * 1024, 128 * 1024));
        t->seq = nl ? nl->seq : 1;
        t->first_seq = t->seq;
        nftnl_batch_begin(nftnl_batch_buffer(t->b), t->seq++);
        nftnl_batch_update(t->b);
}

static struct nlmsghdr *txn_msg(struct txn *t, uint16_t type, uint16_t flags)
{
        t->st.messages++;
        return nftnl_nlmsg_build_hdr(nftnl_batch_buffer(t->b), type, NFPROTO_INET, flags | NLM_F_ACK, t->seq++);
}

static void txn_next(struct txn *t)
{
        if (nftnl_batch_update(t->b) < 0)
                abort();
}

/* Read acks until every message is answered; returns the first error. */
static int txn_wait(struct ruleset_nl *nl, uint32_t first, uint32_t last, size_t expect)
{
        size_t bufsize = 1 << 16;
        char *buf = nn(malloc(bufsize));
        int fd = mnl_socket_get_fd(nl->sock);
        int err = 0;
        size_t got = 0;

        while (got < expect) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int timeout = err ? 200 : 30000;
                ssize_t n;

                n = poll(&p, 1, timeout);
                if (n == 0) {
                        if (!err)
                                err = -ETIMEDOUT;
                        break;
                }
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        err = -errno;
                        break;
                }
                n = recv(fd, buf, bufsize, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (!err)
                                err = -errno;
                        break;
                }
                for (struct nlmsghdr *h = (struct nlmsghdr *)buf; mnl_nlmsg_ok(h, (int)n);
                     h = mnl_nlmsg_next(h, (int *)&n)) {
                        if (h->nlmsg_seq < first || h->nlmsg_seq > last)
                                continue;       /* a stale answer from an earlier call */
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);

                                got++;
                                if (e->error && !err)
                                        err = e->error;
                        }
                }
        }
        free(buf);
        return err;
}

static void txn_end(struct txn *t)
{
        nftnl_batch_end(nftnl_batch_buffer(t->b), t->seq++);
        txn_next(t);
}

static int txn_commit(struct txn *t)
{
        struct ruleset_nl *nl = t->nl;
        int fd = mnl_socket_get_fd(nl->sock);
        struct sockaddr_nl snl = { .nl_family = AF_NETLINK };
        struct msghdr msg = { 0 };
        struct iovec *iov;
        size_t total = 0;
        int niov, r, sndbuf;
        uint32_t last;

        txn_end(t);
        last = t->seq - 1;
        nl->seq = t->seq;

        niov = nftnl_batch_iovec_len(t->b);
        iov = nn(calloc((size_t)niov, sizeof(*iov)));
        nftnl_batch_iovec(t->b, iov, (uint32_t)niov);
        for (int i = 0; i < niov; i++)
                total += iov[i].iov_len;
        t->st.bytes = total;

        /* The whole transaction must go in one datagram. */
        sndbuf = (int)(total + 4096);
        if (sndbuf < (1 << 20))
                sndbuf = 1 << 20;
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf));
        {
                int rcvbuf = 4 << 20;
                (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
        }

        msg.msg_name = &snl;
        msg.msg_namelen = sizeof(snl);
        msg.msg_iov = iov;
        msg.msg_iovlen = (size_t)niov;
        if (sendmsg(fd, &msg, 0) < 0)
                r = -errno;
        else
                r = txn_wait(nl, t->first_seq, last, t->st.messages);
        free(iov);
        return r;
}

static void txn_free(struct txn *t)
{
        nftnl_batch_free(t->b);
        t->b = NULL;
}

/* ---- objects ---- */

static void put_table(struct txn *t, uint16_t type)
{
        struct nftnl_table *tb = nn(nftnl_table_alloc());
        struct nlmsghdr *nlh;

        nftnl_table_set_str(tb, NFTNL_TABLE_NAME, t->table);
        nftnl_table_set_u32(tb, NFTNL_TABLE_FAMILY, NFPROTO_INET);
        nlh = txn_msg(t, type, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0);
        nftnl_table_nlmsg_build_payload(nlh, tb);
        txn_next(t);
        nftnl_table_free(tb);
}

static void put_chain(struct txn *t, uint16_t type, const char *name, bool base)
{
        struct nftnl_chain *c = nn(nftnl_chain_alloc());
        struct nlmsghdr *nlh;

        nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, t->table);
        nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
        nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
        if (base && type == NFT_MSG_NEWCHAIN) {
                bool early = strcmp(name, CHAIN_EARLY) == 0;
                bool outfail = strcmp(name, CHAIN_OUTFAIL) == 0;
                unsigned hook = early ? NF_INET_PRE_ROUTING
                                : strcmp(name, CHAIN_FORWARD) == 0 ? NF_INET_FORWARD
                                : strcmp(name, CHAIN_OUTPUT) == 0 || outfail ? NF_INET_LOCAL_OUT : NF_INET_LOCAL_IN;

                nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
                nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, early ? CHAIN_EARLY_PRIORITY
                                                         : outfail ? CHAIN_PRIORITY + 1 : CHAIN_PRIORITY);
                nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
                nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
        }
        nlh = txn_msg(t, type, type == NFT_MSG_NEWCHAIN ? NLM_F_CREATE : 0);
        nftnl_chain_nlmsg_build_payload(nlh, c);
        txn_next(t);
        nftnl_chain_free(c);
}

/* Delete every rule of a chain. */
static void put_flush_chain(struct txn *t, const char *chain)
{
        struct nftnl_rule *r = nn(nftnl_rule_alloc());
        struct nlmsghdr *nlh;

        nftnl_rule_set_str(r, NFTNL_RULE_TABLE, t->table);
        nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
        nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
        nlh = txn_msg(t, NFT_MSG_DELRULE, 0);
        nftnl_rule_nlmsg_build_payload(nlh, r);
        txn_next(t);
        nftnl_rule_free(r);
}

/* A set (flags NFT_SET_INTERVAL, NFT_SET_MAP: a verdict map), with a
 * counter per element, and of a fixed size (0: none), or its deletion. */
static void put_set_full(struct txn *t, uint16_t type, const char *name, uint32_t keytype, uint32_t keylen,
                         uint32_t flags, bool counters, uint32_t size)
{
        struct nftnl_set *s = nn(nftnl_set_alloc());
        struct nlmsghdr *nlh;

        nftnl_set_set_str(s, NFTNL_SET_TABLE, t->table);
        nftnl_set_set_str(s, NFTNL_SET_NAME, name);
        nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
        if (type == NFT_MSG_NEWSET) {
                nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, keytype);
                nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, keylen);
                nftnl_set_set_u32(s, NFTNL_SET_FLAGS, flags);
                if (flags & NFT_SET_MAP)
                        nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
                if (size)
                        nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, size);
                nftnl_set_set_u32(s, NFTNL_SET_ID, ++t->set_id);
                if (counters)
                        nftnl_set_add_expr(s, nn(nftnl_expr_alloc("counter")));
                if (keytype == TYPE_UID) {
                        /* uids are in host order (as meta skuid loads
                         * them): say so, for `nft list` to print them */
                        struct nftnl_udata_buf *u = nn(nftnl_udata_buf_alloc(16));

                        nftnl_udata_put_u32(u, NFTNL_UDATA_SET_KEYBYTEORDER, BYTEORDER_HOST_ENDIAN);
                        nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(u), nftnl_udata_buf_len(u));
                        nftnl_udata_buf_free(u);
                }
        }
        nlh = txn_msg(t, type, type == NFT_MSG_NEWSET ? NLM_F_CREATE : 0);
        nftnl_set_nlmsg_build_payload(nlh, s);
        txn_next(t);
        nftnl_set_free(s);
}

static void put_set(struct txn *t, uint16_t type, const char *name, uint32_t keytype, uint32_t keylen,
                    bool interval)
{
        put_set_full(t, type, name, keytype, keylen, interval ? NFT_SET_INTERVAL : 0, false, 0);
}

/* DELSETELEM without an element list flushes the set. */
static void put_set_flush(struct txn *t, const char *set)
{
        struct nlmsghdr *nlh = txn_msg(t, NFT_MSG_DELSETELEM, 0);

        mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, t->table);
        mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
        txn_next(t);
}

static void put_counter(struct txn *t, uint16_t type, const char *name)
{
        struct nftnl_obj *o = nn(nftnl_obj_alloc());
        struct nlmsghdr *nlh;

        nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, t->table);
        nftnl_obj_set_str(o, NFTNL_OBJ_NAME, name);
        nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
        nftnl_obj_set_u32(o, NFTNL_OBJ_FAMILY, NFPROTO_INET);
        nlh = txn_msg(t, type, type == NFT_MSG_NEWOBJ ? NLM_F_CREATE : 0);
        nftnl_obj_nlmsg_build_payload(nlh, o);
        txn_next(t);
        nftnl_obj_free(o);
}

/* ---- set elements, written directly with libmnl: 1M of them must be fast ---- */

struct elem_writer {
        struct txn *t;
        uint16_t type;          /* NFT_MSG_NEWSETELEM or NFT_MSG_DELSETELEM */
        const char *set;
        uint32_t keylen;
        struct nlmsghdr *nlh;
        struct nlattr *list;
        size_t *counter;
};

static void elem_close(struct elem_writer *w)
{
        if (!w->nlh)
                return;
        mnl_attr_nest_end(w->nlh, w->list);
        txn_next(w->t);
        w->nlh = NULL;
}

static void elem_put(struct elem_writer *w, const uint8_t *key, bool end)
{
        struct nlattr *e, *k;

        if (w->nlh && w->nlh->nlmsg_len > ELEM_MSG_LIMIT)
                elem_close(w);
        if (!w->nlh) {
                w->nlh = txn_msg(w->t, w->type, w->type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0);
                mnl_attr_put_strz(w->nlh, NFTA_SET_ELEM_LIST_TABLE, w->t->table);
                mnl_attr_put_strz(w->nlh, NFTA_SET_ELEM_LIST_SET, w->set);
                w->list = mnl_attr_nest_start(w->nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
        }
        e = mnl_attr_nest_start(w->nlh, NFTA_LIST_ELEM);
        k = mnl_attr_nest_start(w->nlh, NFTA_SET_ELEM_KEY);
        mnl_attr_put(w->nlh, NFTA_DATA_VALUE, w->keylen, key);
        mnl_attr_nest_end(w->nlh, k);
        if (end)
                mnl_attr_put_u32(w->nlh, NFTA_SET_ELEM_FLAGS, htonl(NFT_SET_ELEM_INTERVAL_END));
        mnl_attr_nest_end(w->nlh, e);
        (*w->counter)++;
}

static void elem_put_range(struct elem_writer *w, int family, const struct range *r)
{
        uint8_t key[16];

        addr_to_bytes(family, r->lo, key);
        elem_put(w, key, false);
        if (r->hi != addr_max(family)) {
                addr_to_bytes(family, r->hi + 1, key);
                elem_put(w, key, true);
        }
}

/* The same two elements, end first. */
static void elem_put_range_desc(struct elem_writer *w, int family, const struct range *r)
{
        uint8_t key[16];

        if (r->hi != addr_max(family)) {
                addr_to_bytes(family, r->hi + 1, key);
                elem_put(w, key, true);
        }
        addr_to_bytes(family, r->lo, key);
        elem_put(w, key, false);
}

static int range_cmp(const struct range *a, const struct range *b)
{
        if (a->lo != b->lo)
                return a->lo < b->lo ? -1 : 1;
        if (a->hi != b->hi)
                return a->hi < b->hi ? -1 : 1;
        return 0;
}

/* A run of a merged list's ranges, each clipped to [lo, hi]: a whole list
 * (no clipping), or the part of one that falls in one shard. */
struct slice {
        int family;
        uint32_t key;           /* the shard's leading bits */
        const struct range *v;
        size_t n;
        addr128 lo, hi;
};

static struct range slice_at(const struct slice *s, size_t i)
{
        struct range r = s->v[i];

        if (r.lo < s->lo)
                r.lo = s->lo;
        if (r.hi > s->hi)
                r.hi = s->hi;
        return r;
}

static struct slice slice_whole(const struct range_list *l)
{
        return (struct slice){ .family = l->family, .v = l->v, .n = l->n, .lo = 0, .hi = addr_max(l->family) };
}

/* want's i-th range against have's j-th, both clipped; a side that is used
 * up compares above everything. */
static int slice_cmp(const struct slice *want, size_t i, const struct slice *have, size_t j)
{
        struct range a, b;

        if (i >= want->n)
                return 1;
        if (j >= have->n)
                return -1;
        a = slice_at(want, i);
        b = slice_at(have, j);
        return range_cmp(&a, &b);
}

/* Send the difference between two slices of the same bounds (have NULL:
 * a fresh set): deletions first. */
static void put_range_diff(struct txn *t, const char *set, const struct slice *want, const struct slice *have)
{
        struct elem_writer w = { .t = t, .set = set, .keylen = want->family == AF_INET ? 4 : 16 };
        struct range r;
        size_t i, j;

        w.type = NFT_MSG_DELSETELEM;
        w.counter = &t->st.elements_deleted;
        for (i = 0, j = 0; have && j < have->n;) {
                int c = slice_cmp(want, i, have, j);

                if (c == 0) {
                        i++, j++;
                } else if (c < 0) {
                        i++;
                } else {
                        r = slice_at(have, j++);
                        elem_put_range(&w, want->family, &r);
                }
        }
        elem_close(&w);

        w.type = NFT_MSG_NEWSETELEM;
        w.counter = &t->st.elements_added;
        if (!have || have->n == 0) {
                /* a fresh set: from the highest address down, which the
                 * kernel's rbtree inserts about twice as fast */
                for (i = want->n; i > 0; i--) {
                        r = slice_at(want, i - 1);
                        elem_put_range_desc(&w, want->family, &r);
                }
                elem_close(&w);
                return;
        }
        /* changes: ascending, the order in which the kernel accepts a start
         * element deleted and added again in the same transaction */
        for (i = 0, j = 0; i < want->n;) {
                int c = slice_cmp(want, i, have, j);

                if (c == 0) {
                        i++, j++;
                } else if (c > 0) {
                        j++;
                } else {
                        r = slice_at(want, i++);
                        elem_put_range(&w, want->family, &r);
                }
        }
        elem_close(&w);
}

/* ---- sharded allowed lists (see ruleset.h) ---- */

static unsigned shard_bits(int family)
{
        return family == AF_INET ? RULESET_SHARD_BITS4 : RULESET_SHARD_BITS6;
}

static uint32_t shard_last(int family)
{
        return (1u << shard_bits(family)) - 1;
}

static uint32_t shard_key(int family, addr128 a)
{
        return (uint32_t)(a >> (addr_bits(family) - shard_bits(family)));
}

static addr128 shard_lo(int family, uint32_t k)
{
        return (addr128)k << (addr_bits(family) - shard_bits(family));
}

static addr128 shard_hi(int family, uint32_t k)
{
        return shard_lo(family, k) | (((addr128)1 << (addr_bits(family) - shard_bits(family))) - 1);
}

/* The name of the set and chain of one part of a sharded list: the list's
 * name, '_', the part's leading bits in hex (allow4_P_34, allow6_P_2a0). */
static const char *ruleset_shard_name(const char *list, int family, uint32_t key, char *buf, size_t len)
{
        snprintf(buf, len, "%s_%0*x", list, family == AF_INET ? 2 : 3, key);
        return buf;
}

/* The shards a merged list touches, in order, one slice each. */
struct shard_iter {
        const struct range_list *l;
        size_t i;               /* first range that may reach the next shard */
        uint32_t next;          /* the lowest key still to come */
        bool done;
};

static void shard_iter_init(struct shard_iter *it, const struct range_list *l)
{
        *it = (struct shard_iter){ .l = l, .done = !l || l->n == 0 };
}

static bool shard_next(struct shard_iter *it, struct slice *ret)
{
        const struct range_list *l = it->l;
        int f = l ? l->family : AF_INET;
        uint32_t k;
        size_t j;

        if (it->done)
                return false;
        k = it->next;
        while (it->i < l->n && l->v[it->i].hi < shard_lo(f, k))
                it->i++;
        if (it->i == l->n) {
                it->done = true;
                return false;
        }
        if (shard_key(f, l->v[it->i].lo) > k)
                k = shard_key(f, l->v[it->i].lo);
        j = range_list_upper(l, it->i + 1, shard_hi(f, k));     /* the first range beyond the shard */
        *ret = (struct slice){ .family = f, .key = k, .v = &l->v[it->i], .n = j - it->i,
                               .lo = shard_lo(f, k), .hi = shard_hi(f, k) };
        /* a range that goes on into the next shard is seen there again */
        it->i = l->v[j - 1].hi > ret->hi ? j - 1 : j;
        if (k == shard_last(f))
                it->done = true;
        else
                it->next = k + 1;
        return true;
}

/* The shard is one range that covers it whole: the map accepts it. */
static bool slice_full(const struct slice *s)
{
        return s->n == 1 && s->v[0].lo <= s->lo && s->v[0].hi >= s->hi;
}

/* The verdict map of a sharded list. Its size is the number of possible
 * shards, so the kernel picks a fixed-size hash. */
static void put_map(struct txn *t, const char *name, int family)
{
        put_set_full(t, NFT_MSG_NEWSET, name, family == AF_INET ? TYPE_IPADDR : TYPE_IP6ADDR,
                     family == AF_INET ? 4 : 16, NFT_SET_MAP, false, shard_last(family) + 1);
}

/* Add (chain: jump there, NULL: accept) or delete the map's element for a shard. */
static void put_map_elem(struct txn *t, uint16_t type, const char *map, int family, uint32_t key,
                         const char *chain)
{
        struct nlmsghdr *nlh = txn_msg(t, type, type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0);
        struct nlattr *list, *e, *k;
        uint8_t bytes[16];

        mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, t->table);
        mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, map);
        list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
        e = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
        k = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
        addr_to_bytes(family, shard_lo(family, key), bytes);
        mnl_attr_put(nlh, NFTA_DATA_VALUE, family == AF_INET ? 4 : 16, bytes);
        mnl_attr_nest_end(nlh, k);
        if (type == NFT_MSG_NEWSETELEM) {
                struct nlattr *d = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_DATA);
                struct nlattr *v = mnl_attr_nest_start(nlh, NFTA_DATA_VERDICT);

                mnl_attr_put_u32(nlh, NFTA_VERDICT_CODE, htonl(chain ? (uint32_t)NFT_JUMP : NF_ACCEPT));
                if (chain)
                        mnl_attr_put_strz(nlh, NFTA_VERDICT_CHAIN, chain);
                mnl_attr_nest_end(nlh, v);
                mnl_attr_nest_end(nlh, d);
                t->st.elements_added++;
        } else {
                t->st.elements_deleted++;
        }
        mnl_attr_nest_end(nlh, e);
        mnl_attr_nest_end(nlh, list);
        txn_next(t);
}

static void add_payload(struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len);
static void add_lookup(struct nftnl_rule *r, const char *set);
static void add_verdict(struct nftnl_rule *r, int verdict, const char *chain);
static struct nftnl_rule *rule_new(struct txn *t, const char *chain);
static void rule_put(struct txn *t, struct nftnl_rule *r);

/* ip(6) saddr, without the nfproto test (the caller knows the family) */
static void add_saddr(struct nftnl_rule *r, int family)
{
        if (family == AF_INET)
                add_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4);
        else
                add_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 16);
}

/* A shard's set, its elements and its chain: ip saddr @SHARD accept. */
static void put_shard_create(struct txn *t, const char *name, const struct slice *w)
{
        struct nftnl_rule *r;

        put_set(t, NFT_MSG_NEWSET, name, w->family == AF_INET ? TYPE_IPADDR : TYPE_IP6ADDR,
                w->family == AF_INET ? 4 : 16, true);
        put_range_diff(t, name, w, NULL);
        put_chain(t, NFT_MSG_NEWCHAIN, name, false);
        r = rule_new(t, name);
        add_saddr(r, w->family);
        add_lookup(r, name);
        add_verdict(r, NF_ACCEPT, NULL);
        rule_put(t, r);
}

/* After its map element is gone: the shard's chain, then its set. */
static void put_shard_delete(struct txn *t, const char *name)
{
        put_flush_chain(t, name);
        put_chain(t, NFT_MSG_DELCHAIN, name, false);
        put_set(t, NFT_MSG_DELSET, name, 0, 0, false);
}

/* One shard from have's form to want's (either may be NULL: none). */
static void put_shard(struct txn *t, const char *map, const struct slice *w, const struct slice *h)
{
        enum { NONE, PART, FULL } wf = !w ? NONE : slice_full(w) ? FULL : PART,
                                  hf = !h ? NONE : slice_full(h) ? FULL : PART;
        const struct slice *any = w ? w : h;
        char name[160];

        ruleset_shard_name(map, any->family, any->key, name, sizeof(name));
        if (wf == PART && hf == PART) {
                if (w->n != h->n || memcmp(w->v, h->v, w->n * sizeof(*w->v)) != 0)
                        put_range_diff(t, name, w, h);
                return;
        }
        if (wf == hf)
                return;
        if (hf != NONE)
                put_map_elem(t, NFT_MSG_DELSETELEM, map, any->family, any->key, NULL);
        if (hf == PART)
                put_shard_delete(t, name);
        if (wf == PART)
                put_shard_create(t, name, w);
        if (wf != NONE)
                put_map_elem(t, NFT_MSG_NEWSETELEM, map, any->family, any->key, wf == PART ? name : NULL);
}

/* Every shard of want against the same shard of have (NULL: a new map). */
static void put_shards_diff(struct txn *t, const char *map, const struct range_list *want,
                            const struct range_list *have)
{
        struct shard_iter wi, hi;
        struct slice ws, hs;
        bool wok, hok;

        shard_iter_init(&wi, want);
        shard_iter_init(&hi, have);
        wok = shard_next(&wi, &ws);
        hok = shard_next(&hi, &hs);
        while (wok || hok) {
                if (wok && (!hok || ws.key < hs.key)) {
                        put_shard(t, map, &ws, NULL);
                        wok = shard_next(&wi, &ws);
                } else if (!wok || hs.key < ws.key) {
                        put_shard(t, map, NULL, &hs);
                        hok = shard_next(&hi, &hs);
                } else {
                        put_shard(t, map, &ws, &hs);
                        wok = shard_next(&wi, &ws);
                        hok = shard_next(&hi, &hs);
                }
        }
}

/* Remove an allowed list's objects in the form it was installed in. */
static void put_allow_delete(struct txn *t, const char *name, const struct range_list *l, bool sharded)
{
        struct shard_iter it;
        struct slice s;
        char shard[160];

        put_set(t, NFT_MSG_DELSET, name, 0, 0, false);
        if (!sharded)
                return;
        /* the map is gone first: nothing jumps to the shards' chains */
        shard_iter_init(&it, l);
        while (shard_next(&it, &s))
                if (!slice_full(&s))
                        put_shard_delete(t, ruleset_shard_name(name, s.family, s.key, shard, sizeof(shard)));
}

/* One family's allowed list of a policy (have NULL: a new policy), as a
 * plain interval set or sharded; a change of form replaces the objects. */
static void put_allow(struct txn *t, const struct ruleset_policy *want, bool ws, const struct ruleset_policy *have,
                      bool hs, int f)
{
        const struct range_list *wl = &want->allow[f], *hl = have ? &have->allow[f] : NULL;
        int family = f == FAM_V6 ? AF_INET6 : AF_INET;
        char name[128];

        ruleset_obj_name(f == FAM_V6 ? OBJ_ALLOW6 : OBJ_ALLOW4, want->name, name, sizeof(name));
        if (hl && hs != ws) {
                put_allow_delete(t, name, hl, hs);
                hl = NULL;
        }
        if (hl && hl->v == wl->v && hl->n == wl->n)
                return;         /* the very list the kernel has (kept by the policy cache) */
        if (ws) {
                if (!hl)
                        put_map(t, name, family);
                put_shards_diff(t, name, wl, hl);
        } else {
                struct slice w = slice_whole(wl), h;

                if (hl)
                        h = slice_whole(hl);
                else
                        put_set(t, NFT_MSG_NEWSET, name, family == AF_INET ? TYPE_IPADDR : TYPE_IP6ADDR,
                                family == AF_INET ? 4 : 16, true);
                put_range_diff(t, name, &w, hl ? &h : NULL);
        }
}

/* The ports in `from` that `not` (NULL: none) lacks, as elements of one
 * message. */
static bool has_port(const struct ruleset_policy *p, uint16_t port)
{
        for (size_t i = 0; i < p->nports; i++)
                if (p->ports[i] == port)
                        return true;
        return false;
}

static void put_ports_missing(struct txn *t, const char *set, uint16_t type, const struct ruleset_policy *from,
                              const struct ruleset_policy *not)
{
        struct elem_writer w = { .t = t, .type = type, .set = set, .keylen = 2 };

        w.counter = type == NFT_MSG_NEWSETELEM ? &t->st.elements_added : &t->st.elements_deleted;
        for (size_t i = 0; from && i < from->nports; i++) {
                uint16_t port = htons(from->ports[i]);

                if (!not || !has_port(not, from->ports[i]))
                        elem_put(&w, (const uint8_t *)&port, false);
        }
        elem_close(&w);
}

/* An outbound policy's users (a few uids, host order as meta skuid
 * loads them): emptied and filled again when they changed. */
static void put_users(struct txn *t, const char *set, const struct ruleset_policy *want,
                      const struct ruleset_policy *have)
{
        struct elem_writer w = { .t = t, .type = NFT_MSG_NEWSETELEM, .set = set, .keylen = 4 };

        if (have && have->nuids == want->nuids &&
            (want->nuids == 0 || memcmp(have->uids, want->uids, want->nuids * sizeof(*want->uids)) == 0))
                return;
        if (have)
                put_set_flush(t, set);
        w.counter = &t->st.elements_added;
        for (size_t i = 0; i < want->nuids; i++)
                elem_put(&w, (const uint8_t *)&want->uids[i], false);
        elem_close(&w);
}

/* Only the ports that changed, like the address sets. */
static void put_ports(struct txn *t, const char *set, const struct ruleset_policy *want,
                      const struct ruleset_policy *have)
{
        put_ports_missing(t, set, NFT_MSG_DELSETELEM, have, want);
        put_ports_missing(t, set, NFT_MSG_NEWSETELEM, want, have);
}

/* ---- expressions ---- */

static struct nftnl_expr *ex(const char *name)
{
        return nn(nftnl_expr_alloc(name));
}

/* register 1 == data */
static void add_cmp_eq(struct nftnl_rule *r, const void *data, uint32_t len)
{
        struct nftnl_expr *e = ex("cmp");

        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
        nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
        nftnl_rule_add_expr(r, e);
}

static void add_meta_cmp(struct nftnl_rule *r, uint32_t key, const void *data, uint32_t len)
{
        struct nftnl_expr *e = ex("meta");

        nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
        nftnl_rule_add_expr(r, e);
        add_cmp_eq(r, data, len);
}

static void add_payload(struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len)
{
        struct nftnl_expr *e = ex("payload");

        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
        nftnl_rule_add_expr(r, e);
}

static void add_lookup(struct nftnl_rule *r, const char *set)
{
        struct nftnl_expr *e = ex("lookup");

        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
        nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
        nftnl_rule_add_expr(r, e);
}

static void add_nfproto(struct nftnl_rule *r, int family)
{
        uint8_t proto = family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;

        add_meta_cmp(r, NFT_META_NFPROTO, &proto, 1);
}

/* meta nfproto ipvX + ip(6) saddr @set */
static void add_saddr_lookup(struct nftnl_rule *r, int family, const char *set)
{
        add_nfproto(r, family);
        add_saddr(r, family);
        add_lookup(r, set);
}

/* The mask that keeps an address's shard bits. */
static void shard_mask(int family, uint8_t *ret)
{
        addr_to_bytes(family, shard_hi(family, 0) ^ addr_max(family), ret);
}

/* meta nfproto ipvX + ip(6) saddr & MASK vmap @map */
static void add_saddr_vmap(struct nftnl_rule *r, int family, const char *map)
{
        uint32_t len = family == AF_INET ? 4 : 16;
        uint8_t mask[16], zero[16] = { 0 };
        struct nftnl_expr *e;

        add_nfproto(r, family);
        add_saddr(r, family);
        shard_mask(family, mask);
        e = ex("bitwise");
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
        nftnl_rule_add_expr(r, e);
        e = ex("lookup");
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
        nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, map);
        nftnl_rule_add_expr(r, e);
}

static void add_counter_ref(struct nftnl_rule *r, const char *name)
{
        struct nftnl_expr *e = ex("objref");

        nftnl_expr_set_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE, NFT_OBJECT_COUNTER);
        nftnl_expr_set_str(e, NFTNL_EXPR_OBJREF_IMM_NAME, name);
        nftnl_rule_add_expr(r, e);
}

static void add_verdict(struct nftnl_rule *r, int verdict, const char *chain)
{
        struct nftnl_expr *e = ex("immediate");

        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
        if (chain)
                nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
        nftnl_rule_add_expr(r, e);
}

static void add_queue(struct nftnl_rule *r, const struct ruleset_opts *o)
{
        struct nftnl_expr *e;
        uint16_t flags = 0;

        if (o->native_queue) {
                e = ex("queue");
                if (o->bypass)
                        flags |= NFT_QUEUE_FLAG_BYPASS;
                if (o->queues > 1)
                        flags |= NFT_QUEUE_FLAG_CPU_FANOUT;
                nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_NUM, o->queue);
                nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_TOTAL, o->queues);
                nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_FLAGS, flags);
        } else {
                struct nfq_xt_info_v3 *info = nn(calloc(1, sizeof(*info)));

                info->queuenum = o->queue;
                info->queues_total = o->queues;
                if (o->bypass)
                        info->flags |= NFQ_XT_FLAG_BYPASS;
                if (o->queues > 1)
                        info->flags |= NFQ_XT_FLAG_CPU_FANOUT;
                e = ex("target");
                nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME, "NFQUEUE");
                nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, 3);
                /* the expression takes ownership of info */
                nftnl_expr_set(e, NFTNL_EXPR_TG_INFO, info, sizeof(*info));
        }
        nftnl_rule_add_expr(r, e);
}

static struct nftnl_rule *rule_new(struct txn *t, const char *chain)
{
        struct nftnl_rule *r = nn(nftnl_rule_alloc());

        nftnl_rule_set_str(r, NFTNL_RULE_TABLE, t->table);
        nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
        nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
        return r;
}

static void rule_put(struct txn *t, struct nftnl_rule *r)
{
        struct nlmsghdr *nlh = txn_msg(t, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);

        nftnl_rule_nlmsg_build_payload(nlh, r);
        txn_next(t);
        nftnl_rule_free(r);
}

/* register 1 &= mask (len bytes) */
static void add_mask(struct nftnl_rule *r, const void *mask, uint32_t len)
{
        static const uint8_t zero[16];
        struct nftnl_expr *e = ex("bitwise");

        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
        nftnl_rule_add_expr(r, e);
}

/* meta l4proto tcp, tcp flags & (fin|syn|rst|ack) == flags */
static void add_flags_match(struct nftnl_rule *r, uint8_t flags)
{
        uint8_t tcp = IPPROTO_TCP, mask = TCP_FLAGS_MASK;

        add_meta_cmp(r, NFT_META_L4PROTO, &tcp, 1);
        add_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1);
        add_mask(r, &mask, 1);
        add_cmp_eq(r, &flags, 1);
}

static void add_syn_match(struct nftnl_rule *r)
{
        add_flags_match(r, TCP_FLAG_SYN);
}

/* ct KEY (of the original direction when dir), into register 1 */
static void add_ct(struct nftnl_rule *r, uint32_t key, bool dir)
{
        struct nftnl_expr *e = ex("ct");

        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
        if (dir)
                nftnl_expr_set_u8(e, NFTNL_EXPR_CT_DIR, IP_CT_DIR_ORIGINAL);
        nftnl_rule_add_expr(r, e);
}

/* ct KEY & bits != 0, for the 32-bit keys state and status */
static void add_ct_any(struct nftnl_rule *r, uint32_t key, uint32_t bits)
{
        uint32_t zero = 0;
        struct nftnl_expr *e;

        add_ct(r, key, false);
        add_mask(r, &bits, sizeof(bits));
        e = ex("cmp");
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_NEQ);
        nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, &zero, sizeof(zero));
        nftnl_rule_add_expr(r, e);
}

/* The conntrack states in which a segment without SYN would reach a
 * listening socket rather than a connection: no entry yet (new), none
 * wanted (untracked), or one conntrack could not make (invalid, e.g. with
 * nf_conntrack_tcp_loose = 0). */
#define CT_STATES_NO_CONNECTION                                                                        \
        (NF_CT_STATE_INVALID_BIT | NF_CT_STATE_BIT(IP_CT_NEW) | NF_CT_STATE_UNTRACKED_BIT)

/* meta mark set VALUE */
static void add_mark_set(struct nftnl_rule *r, uint32_t mark)
{
        struct nftnl_expr *e = ex("immediate");

        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
        nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, &mark, sizeof(mark));
        nftnl_rule_add_expr(r, e);
        e = ex("meta");
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_MARK);
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, NFT_REG_1);
        nftnl_rule_add_expr(r, e);
}

/* reject with tcp reset, or drop */
static bool view_has_outbound(const struct ruleset_view *s)
{
        for (size_t i = 0; s && i < s->n; i++)
                if (s->v[i].outbound)
                        return true;
        return false;
}

/* meta nfproto ipvX + ip(6) daddr @set */
static void add_daddr_lookup(struct nftnl_rule *r, int family, const char *set)
{
        add_nfproto(r, family);
        if (family == AF_INET)
                add_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4);
        else
                add_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 24, 16);
        add_lookup(r, set);
}

/* The refusal; an outbound one is always a reset (drop = 0), so that the
 * local program fails at once instead of retrying its SYN for a minute. */
static void add_refusal(struct nftnl_rule *r, const struct ruleset_opts *o)
{
        struct nftnl_expr *e;

        if (o->drop) {
                add_verdict(r, NF_DROP, NULL);
                return;
        }
        e = ex("reject");
        nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_TCP_RST);
        nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, 0);
        nftnl_rule_add_expr(r, e);
}

/* policy_X: deny -> queue, allow -> accept, rest -> queue. An empty set
 * gets no rule: every SYN would pay for a lookup that cannot match (a
 * reload that fills it rewrites the rules anyway). */
static const struct policy_step {
        enum ruleset_obj set;
        int family;
        bool deny;
} policy_steps[] = {
        { OBJ_DENY4, AF_INET, true },   { OBJ_DENY6, AF_INET6, true },
        { OBJ_ALLOW4, AF_INET, false }, { OBJ_ALLOW6, AF_INET6, false },
};
#define POLICY_STEPS (sizeof(policy_steps) / sizeof(policy_steps[0]))

static bool step_has_rule(const struct ruleset_policy *p, const struct policy_step *st)
{
        return (st->deny ? p->deny : p->allow)[fam_index(st->family)].n > 0;
}

/* early, one rule for a policy's offenders of one family: sources that
 * flood are refused before conntrack sees them (a new SYN would otherwise
 * cost a conntrack entry each), on a locked port of this host only. */
static void put_early_rule(struct txn *t, const struct ruleset_opts *o, const struct ruleset_policy *p, int family)
{
        char name[128], repeat[128], ports[128];
        struct nftnl_rule *r = rule_new(t, CHAIN_EARLY);
        struct nftnl_expr *e;
        uint32_t local = RTN_LOCAL;

        add_syn_match(r);
        add_saddr_lookup(r, family,
                         ruleset_obj_name(family == AF_INET6 ? OBJ_OFFENDERS6 : OBJ_OFFENDERS4, p->name, name,
                                          sizeof(name)));
        add_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
        add_lookup(r, ruleset_obj_name(OBJ_PORTS, p->name, ports, sizeof(ports)));
        e = ex("fib");
        nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
        nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
        nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
        nftnl_rule_add_expr(r, e);
        add_cmp_eq(r, &local, sizeof(local));
        add_counter_ref(r, ruleset_obj_name(OBJ_REPEAT, p->name, repeat, sizeof(repeat)));
        add_refusal(r, o);
        rule_put(t, r);
}

/* refuse_P's first rule: our verdict on a repeated packet (the policy's
 * mark) is counted and, in monitor mode, accepted with the mark cleared,
 * else refused as o says. */
static void put_verdict_rule(struct txn *t, const struct ruleset_opts *o, const struct ruleset_policy *p, size_t i,
                             const char *refuse)
{
        uint32_t mark = ruleset_mark(i);
        struct nftnl_rule *r = rule_new(t, refuse);
        char name[128];

        add_meta_cmp(r, NFT_META_MARK, &mark, sizeof(mark));
        add_counter_ref(r, ruleset_obj_name(OBJ_HANDLED, p->name, name, sizeof(name)));
        if (o->monitor) {
                add_mark_set(r, 0);
                add_verdict(r, NF_ACCEPT, NULL);
        } else {
                add_refusal(r, o);
        }
        rule_put(t, r);
}

/* An outbound policy's two chains. policy_P: a listed user's SYN to an
 * allowed destination is accepted (meta skuid @users_P ip daddr
 * @allow4_P accept, per family), anything else goes to refuse_P: our
 * verdict on a repeated packet (a reset, or in monitor mode accept), else
 * the queue, marked with the policy. Sockets without an owner (none make
 * a SYN) fail the skuid test and are refused. */
static void put_outbound_rules(struct txn *t, const struct ruleset_opts *o, const struct ruleset_policy *p,
                               size_t i, bool interim)
{
        struct ruleset_opts reset = *o, bypass = *o;
        char name[128], chain[128], refuse[128], users[128];
        struct nftnl_rule *r;

        reset.drop = false;
        bypass.bypass = true;
        ruleset_obj_name(OBJ_CHAIN, p->name, chain, sizeof(chain));
        ruleset_obj_name(OBJ_REFUSE, p->name, refuse, sizeof(refuse));
        ruleset_obj_name(OBJ_USERS, p->name, users, sizeof(users));
        for (int f = 0; f < FAM_N && !interim && p->nuids; f++) {
                int family = f == FAM_V6 ? AF_INET6 : AF_INET;
                struct nftnl_expr *e;

                if (p->allow[f].n == 0)
                        continue;
                r = rule_new(t, chain);
                e = ex("meta");
                nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_SKUID);
                nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
                nftnl_rule_add_expr(r, e);
                add_lookup(r, users);
                add_daddr_lookup(r, family,
                                 ruleset_obj_name(f == FAM_V6 ? OBJ_ALLOW6 : OBJ_ALLOW4, p->name, name, sizeof(name)));
                add_verdict(r, NF_ACCEPT, NULL);
                rule_put(t, r);
        }
        r = rule_new(t, chain);
        add_verdict(r, NFT_GOTO, refuse);
        rule_put(t, r);

        put_verdict_rule(t, &reset, p, i, refuse);
        /* bypass: with nobody reading the queue the SYN goes on to
         * outfail, which resets it (failure = closed) or lets it pass */
        r = rule_new(t, refuse);
        add_mark_set(r, ruleset_queue_mark(i, interim));
        add_counter_ref(r, ruleset_obj_name(OBJ_QUEUED, p->name, name, sizeof(name)));
        add_queue(r, &bypass);
        rule_put(t, r);
}

/* The rules of all chains, in order. An allowed SYN pays for as few
 * expressions as can decide it (each costs, measured, about 1 % of the
 * path of a SYN here): the SYN test, the port dispatch, the allowed set.
 * The early chain holds rules only while there are repeat offenders
 * (ruleset_early), and our verdicts, which come back as NF_REPEAT with a
 * mark and run the chains again, are finished in refuse_P: only
 * attempts that are not allowed get there, and only they pay for the
 * loopback test and the test that turns away a segment without SYN.
 *
 * What reaches the policy: a SYN to this host (input) or one DNAT sends on
 * to an MTA behind it (forward); and a segment without SYN that would meet
 * the listening socket rather than a connection (conntrack has none for
 * it), since with SYN cookies such an ACK alone creates the connection.
 * The port is the destination port after NAT or, from conntrack, the one
 * the client asked for: either locks it.
 *
 * interim: the small table of a two-step restore (ruleset_restore): no
 * lists, every attempt to a locked port goes to mxlockd, marked for a
 * decision from the lists it holds. */
static void put_rules(struct txn *t, const struct ruleset_opts *o, const struct ruleset_view *s,
                      const struct ruleset_layout *layout, bool interim)
{
        char name[128], chain[128], refuse[128];
        uint32_t lo = LOOPBACK_IFINDEX;
        struct nftnl_rule *r;

        r = rule_new(t, CHAIN_INPUT);
        add_syn_match(r);
        add_verdict(r, NFT_JUMP, CHAIN_SYN);
        rule_put(t, r);
        r = rule_new(t, CHAIN_INPUT);
        add_flags_match(r, TCP_FLAG_ACK);
        add_ct_any(r, NFT_CT_STATE, CT_STATES_NO_CONNECTION);
        add_verdict(r, NFT_JUMP, CHAIN_SYN);
        rule_put(t, r);

        r = rule_new(t, CHAIN_FORWARD);
        add_syn_match(r);
        add_ct_any(r, NFT_CT_STATUS, IPS_DST_NAT);
        add_verdict(r, NFT_JUMP, CHAIN_SYN);
        rule_put(t, r);
        r = rule_new(t, CHAIN_FORWARD);
        add_flags_match(r, TCP_FLAG_ACK);
        add_ct_any(r, NFT_CT_STATE, CT_STATES_NO_CONNECTION);
        add_ct_any(r, NFT_CT_STATUS, IPS_DST_NAT);
        add_verdict(r, NFT_JUMP, CHAIN_SYN);
        rule_put(t, r);

        /* syn: dispatch on the destination port, then on the original one */
        for (size_t i = 0; i < s->n; i++) {
                if (s->v[i].outbound)
                        continue;
                r = rule_new(t, CHAIN_SYN);
                add_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
                add_lookup(r, ruleset_obj_name(OBJ_PORTS, s->v[i].name, name, sizeof(name)));
                add_verdict(r, NFT_GOTO, ruleset_obj_name(OBJ_CHAIN, s->v[i].name, chain, sizeof(chain)));
                rule_put(t, r);
        }
        for (size_t i = 0; i < s->n; i++) {
                uint8_t tcp = IPPROTO_TCP;

                if (s->v[i].outbound)
                        continue;
                r = rule_new(t, CHAIN_SYN);
                add_meta_cmp(r, NFT_META_L4PROTO, &tcp, 1);
                add_ct(r, NFT_CT_PROTO_DST, true);
                add_lookup(r, ruleset_obj_name(OBJ_PORTS, s->v[i].name, name, sizeof(name)));
                add_verdict(r, NFT_GOTO, ruleset_obj_name(OBJ_CHAIN, s->v[i].name, chain, sizeof(chain)));
                rule_put(t, r);
        }

        /* output: this host's new connections to an outbound policy's
         * ports, but those to itself (they leave through lo, whatever
         * address of its own they were made to) */
        if (view_has_outbound(s)) {
                r = rule_new(t, CHAIN_OUTPUT);
                add_syn_match(r);
                add_verdict(r, NFT_JUMP, CHAIN_OUTSYN);
                rule_put(t, r);
                r = rule_new(t, CHAIN_OUTSYN);
                add_meta_cmp(r, NFT_META_OIF, &lo, sizeof(lo));
                add_verdict(r, NF_ACCEPT, NULL);
                rule_put(t, r);
                /* outfail: an outbound SYN still marked for the queue got
                 * here because nobody reads it (mxlockd is stopped): with
                 * failure = closed it is reset at once, so that the
                 * program fails now rather than after a minute of retries */
                for (int k = 0; k < 2 && !o->bypass; k++) {
                        uint32_t mask = RULESET_MARK_MASK | RULESET_MARK_FLAGS;
                        uint32_t want = RULESET_MARK_BASE | (k ? RULESET_MARK_DECIDE : RULESET_MARK_QUEUED);
                        struct ruleset_opts reset = *o;
                        struct nftnl_expr *e = ex("meta");

                        reset.drop = false;
                        r = rule_new(t, CHAIN_OUTFAIL);
                        nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_MARK);
                        nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
                        nftnl_rule_add_expr(r, e);
                        add_mask(r, &mask, sizeof(mask));
                        add_cmp_eq(r, &want, sizeof(want));
                        add_refusal(r, &reset);
                        rule_put(t, r);
                }
        }
        for (size_t i = 0; i < s->n; i++) {
                if (!s->v[i].outbound)
                        continue;
                r = rule_new(t, CHAIN_OUTSYN);
                add_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
                add_lookup(r, ruleset_obj_name(OBJ_PORTS, s->v[i].name, name, sizeof(name)));
                add_verdict(r, NFT_GOTO, ruleset_obj_name(OBJ_CHAIN, s->v[i].name, chain, sizeof(chain)));
                rule_put(t, r);
        }

        for (size_t i = 0; i < s->n; i++) {
                const struct ruleset_policy *p = &s->v[i];
                uint8_t syn = TCP_FLAG_SYN, zero = 0;
                char queued[128];

                if (p->outbound) {
                        put_outbound_rules(t, o, p, i, interim);
                        continue;
                }
                ruleset_obj_name(OBJ_CHAIN, p->name, chain, sizeof(chain));
                ruleset_obj_name(OBJ_REFUSE, p->name, refuse, sizeof(refuse));
                ruleset_obj_name(OBJ_QUEUED, p->name, queued, sizeof(queued));
                for (const struct policy_step *st = policy_steps; st < policy_steps + POLICY_STEPS; st++) {
                        if (interim || !step_has_rule(p, st))
                                continue;
                        r = rule_new(t, chain);
                        ruleset_obj_name(st->set, p->name, name, sizeof(name));
                        if (st->deny) {
                                add_saddr_lookup(r, st->family, name);
                                add_verdict(r, NFT_GOTO, refuse);
                        } else if (layout->v[i].sharded[fam_index(st->family)]) {
                                /* ip saddr & 255.0.0.0 vmap @allow4_P */
                                add_saddr_vmap(r, st->family, name);
                        } else {
                                add_saddr_lookup(r, st->family, name);
                                add_verdict(r, NF_ACCEPT, NULL);
                        }
                        rule_put(t, r);
                }
                r = rule_new(t, chain);
                add_verdict(r, NFT_GOTO, refuse);
                rule_put(t, r);

                /* refuse_P: our verdict on a repeated packet, else the queue */
                put_verdict_rule(t, o, p, i, refuse);
                /* local submission (over lo, from this host to itself) is the sanctioned path */
                r = rule_new(t, refuse);
                add_meta_cmp(r, NFT_META_IIF, &lo, sizeof(lo));
                add_verdict(r, NF_ACCEPT, NULL);
                rule_put(t, r);
                /* a segment without SYN from a source that is not allowed:
                 * turned away here, counted, never queued (a blind cookie
                 * guesser sends millions); dropped, not reset, so that a
                 * stray packet of a session conntrack lost costs nothing */
                r = rule_new(t, refuse);
                add_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1);
                add_mask(r, &syn, 1);
                add_cmp_eq(r, &zero, 1);
                add_counter_ref(r, ruleset_obj_name(OBJ_ACKS, p->name, name, sizeof(name)));
                add_verdict(r, o->monitor ? NF_ACCEPT : NF_DROP, NULL);
                rule_put(t, r);
                /* the mark names the policy (and whether mxlockd must
                 * decide), so mxlockd never needs the TCP header for it */
                r = rule_new(t, refuse);
                add_mark_set(r, ruleset_queue_mark(i, interim));
                add_counter_ref(r, queued);
                add_queue(r, o);
                rule_put(t, r);
        }
}

int ruleset_early(struct ruleset *h, const struct ruleset_view *s, const uint8_t *families)
{
        const struct ruleset_opts *o = &h->o;
        struct txn t;
        int r;

        txn_begin(&t, h->nl, o->table);
        put_flush_chain(&t, CHAIN_EARLY);
        for (size_t i = 0; i < s->n && !o->monitor; i++) {
                if (families[i] & RULESET_EARLY_V4)
                        put_early_rule(&t, o, &s->v[i], AF_INET);
                if (families[i] & RULESET_EARLY_V6)
                        put_early_rule(&t, o, &s->v[i], AF_INET6);
        }
        r = txn_commit(&t);
        txn_free(&t);
        return r;
}

/* Sets (but the allowed lists: put_allow), counters and chain of one policy. */
static void put_policy_objects(struct txn *t, const struct ruleset_policy *p)
{
        char name[128];

        put_set(t, NFT_MSG_NEWSET, ruleset_obj_name(OBJ_DENY4, p->name, name, sizeof(name)), TYPE_IPADDR, 4, true);
        put_set(t, NFT_MSG_NEWSET, ruleset_obj_name(OBJ_DENY6, p->name, name, sizeof(name)), TYPE_IP6ADDR, 16, true);
        put_set(t, NFT_MSG_NEWSET, ruleset_obj_name(OBJ_PORTS, p->name, name, sizeof(name)), TYPE_INET_SERVICE, 2,
                false);
        put_counter(t, NFT_MSG_NEWOBJ, ruleset_obj_name(OBJ_QUEUED, p->name, name, sizeof(name)));
        put_counter(t, NFT_MSG_NEWOBJ, ruleset_obj_name(OBJ_HANDLED, p->name, name, sizeof(name)));
        put_counter(t, NFT_MSG_NEWOBJ, ruleset_obj_name(OBJ_ACKS, p->name, name, sizeof(name)));
        put_set_full(t, NFT_MSG_NEWSET, ruleset_obj_name(OBJ_OFFENDERS4, p->name, name, sizeof(name)), TYPE_IPADDR, 4,
                     0, true, 0);
        put_set_full(t, NFT_MSG_NEWSET, ruleset_obj_name(OBJ_OFFENDERS6, p->name, name, sizeof(name)), TYPE_IP6ADDR,
                     16, 0, true, 0);
        put_counter(t, NFT_MSG_NEWOBJ, ruleset_obj_name(OBJ_REPEAT, p->name, name, sizeof(name)));
        put_set(t, NFT_MSG_NEWSET, ruleset_obj_name(OBJ_USERS, p->name, name, sizeof(name)), TYPE_UID, 4, false);
        put_chain(t, NFT_MSG_NEWCHAIN, ruleset_obj_name(OBJ_REFUSE, p->name, name, sizeof(name)), false);
        put_chain(t, NFT_MSG_NEWCHAIN, ruleset_obj_name(OBJ_CHAIN, p->name, name, sizeof(name)), false);
}

/* want's elements against have's (NULL: a new policy). */
static void put_policy_elements(struct txn *t, const struct ruleset_policy *want,
                                const struct ruleset_policy_layout *wl, const struct ruleset_policy *have,
                                const struct ruleset_policy_layout *hl)
{
        char name[128];

        put_allow(t, want, wl->sharded[FAM_V4], have, have && hl->sharded[FAM_V4], FAM_V4);
        put_allow(t, want, wl->sharded[FAM_V6], have, have && hl->sharded[FAM_V6], FAM_V6);
        for (int f = 0; f < FAM_N; f++) {
                struct slice w = slice_whole(&want->deny[f]), h;

                if (have)
                        h = slice_whole(&have->deny[f]);
                put_range_diff(t, ruleset_obj_name(f == FAM_V6 ? OBJ_DENY6 : OBJ_DENY4, want->name, name,
                                                   sizeof(name)),
                               &w, have ? &h : NULL);
        }
        put_ports(t, ruleset_obj_name(OBJ_PORTS, want->name, name, sizeof(name)), want, have);
        put_users(t, ruleset_obj_name(OBJ_USERS, want->name, name, sizeof(name)), want, have);
        if (have) {
                /* a reload may allow a source that flooded before */
                put_set_flush(t, ruleset_obj_name(OBJ_OFFENDERS4, want->name, name, sizeof(name)));
                put_set_flush(t, ruleset_obj_name(OBJ_OFFENDERS6, want->name, name, sizeof(name)));
        }
}

static void put_policy_delete(struct txn *t, const struct ruleset_policy *p, const struct ruleset_policy_layout *pl)
{
        char name[128];

        put_chain(t, NFT_MSG_DELCHAIN, ruleset_obj_name(OBJ_CHAIN, p->name, name, sizeof(name)), false);
        put_chain(t, NFT_MSG_DELCHAIN, ruleset_obj_name(OBJ_REFUSE, p->name, name, sizeof(name)), false);
        put_allow_delete(t, ruleset_obj_name(OBJ_ALLOW4, p->name, name, sizeof(name)), &p->allow[FAM_V4],
                         pl->sharded[FAM_V4]);
        put_allow_delete(t, ruleset_obj_name(OBJ_ALLOW6, p->name, name, sizeof(name)), &p->allow[FAM_V6],
                         pl->sharded[FAM_V6]);
        put_set(t, NFT_MSG_DELSET, ruleset_obj_name(OBJ_DENY4, p->name, name, sizeof(name)), 0, 0, false);
        put_set(t, NFT_MSG_DELSET, ruleset_obj_name(OBJ_DENY6, p->name, name, sizeof(name)), 0, 0, false);
        put_set(t, NFT_MSG_DELSET, ruleset_obj_name(OBJ_PORTS, p->name, name, sizeof(name)), 0, 0, false);
        put_counter(t, NFT_MSG_DELOBJ, ruleset_obj_name(OBJ_QUEUED, p->name, name, sizeof(name)));
        put_counter(t, NFT_MSG_DELOBJ, ruleset_obj_name(OBJ_HANDLED, p->name, name, sizeof(name)));
        put_counter(t, NFT_MSG_DELOBJ, ruleset_obj_name(OBJ_ACKS, p->name, name, sizeof(name)));
        put_set(t, NFT_MSG_DELSET, ruleset_obj_name(OBJ_OFFENDERS4, p->name, name, sizeof(name)), 0, 0, false);
        put_set(t, NFT_MSG_DELSET, ruleset_obj_name(OBJ_OFFENDERS6, p->name, name, sizeof(name)), 0, 0, false);
        put_counter(t, NFT_MSG_DELOBJ, ruleset_obj_name(OBJ_REPEAT, p->name, name, sizeof(name)));
        put_set(t, NFT_MSG_DELSET, ruleset_obj_name(OBJ_USERS, p->name, name, sizeof(name)), 0, 0, false);
}

/* The index of the policy of that name in s, or -1. */
static long find_policy(const struct ruleset_view *s, const char *name)
{
        for (size_t i = 0; s && i < s->n; i++)
                if (strcmp(s->v[i].name, name) == 0)
                        return (long)i;
        return -1;
}

static void put_all(struct txn *t, const struct ruleset_opts *o, const struct ruleset_view *want,
                    const struct ruleset_layout *want_layout, const struct ruleset_view *have,
                    const struct ruleset_layout *have_layout, bool interim);

/* The transaction from have (have_layout) to want, under o, committed;
 * want's layout in *ret_layout on success. */
static int apply(struct ruleset_nl *nl, const struct ruleset_opts *o, const struct ruleset_view *want,
                 const struct ruleset_view *have, const struct ruleset_layout *have_layout,
                 struct ruleset_layout *ret_layout, struct ruleset_stats *stats)
{
        struct ruleset_layout layout;
        struct txn t;
        int r;

        if (want->n >= RULESET_MARK_INDEX)
                return -E2BIG;  /* the marks name a policy in 12 bits */
        layout = layout_of(o, want);
        txn_begin(&t, nl, o->table);
        put_all(&t, o, want, &layout, have, have_layout, false);
        r = txn_commit(&t);
        if (stats)
                *stats = t.st;
        txn_free(&t);
        if (r == 0 && ret_layout)
                *ret_layout = layout;
        else
                ruleset_layout_free(&layout);
        return r;
}

int ruleset_apply(struct ruleset *h, const struct ruleset_view *want, const struct ruleset_view *have,
                  const struct ruleset_layout *have_layout, struct ruleset_layout *ret_layout,
                  struct ruleset_stats *stats)
{
        return apply(h->nl, &h->o, want, have, have_layout, ret_layout, stats);
}

int ruleset_restore(struct ruleset *h, const struct ruleset_view *want, struct ruleset_layout *ret_layout,
                    struct ruleset_stats *stats)
{
        const struct ruleset_opts *o = &h->o;
        struct ruleset_view interim = { .n = want->n };
        struct ruleset_policy *iv;
        struct ruleset_layout layout;
        struct txn t;
        int r;

        if (want->n >= RULESET_MARK_INDEX)
                return -E2BIG;
        /* want's policies, ports and names, without a single range */
        iv = calloc(want->n ? want->n : 1, sizeof(*iv));
        if (!iv)
                return -ENOMEM;
        for (size_t i = 0; i < want->n; i++) {
                struct ruleset_policy *p = &iv[i];

                *p = want->v[i];
                for (int f = 0; f < FAM_N; f++) {
                        range_list_init(&p->allow[f], f == FAM_V6 ? AF_INET6 : AF_INET);
                        range_list_init(&p->deny[f], f == FAM_V6 ? AF_INET6 : AF_INET);
                }
        }
        interim.v = iv;
        layout = layout_of(o, &interim);        /* no list: nothing sharded */
        txn_begin(&t, h->nl, o->table);
        put_all(&t, o, &interim, &layout, NULL, NULL, true);
        r = txn_commit(&t);
        txn_free(&t);
        if (r == 0)
                r = apply(h->nl, o, want, &interim, &layout, ret_layout, stats);
        ruleset_layout_free(&layout);
        free(iv);
        return r;
}

int ruleset_build(const struct ruleset_opts *o, const struct ruleset_view *want, const struct ruleset_view *have,
                  const struct ruleset_layout *have_layout, struct ruleset_layout *ret_layout, void **ret_buf,
                  size_t *ret_len, struct ruleset_stats *stats)
{
        struct ruleset_layout layout = layout_of(o, want);
        struct iovec *iov;
        struct txn t;
        size_t total = 0;
        char *buf;
        int niov;

        txn_begin(&t, NULL, o->table);
        put_all(&t, o, want, &layout, have, have_layout, false);
        txn_end(&t);
        niov = nftnl_batch_iovec_len(t.b);
        iov = nn(calloc((size_t)niov, sizeof(*iov)));
        nftnl_batch_iovec(t.b, iov, (uint32_t)niov);
        for (int i = 0; i < niov; i++)
                total += iov[i].iov_len;
        buf = nn(malloc(total ? total : 1));
        total = 0;
        for (int i = 0; i < niov; i++) {
                memcpy(buf + total, iov[i].iov_base, iov[i].iov_len);
                total += iov[i].iov_len;
        }
        free(iov);
        t.st.bytes = total;
        if (stats)
                *stats = t.st;
        txn_free(&t);
        if (ret_layout)
                *ret_layout = layout;
        else
                ruleset_layout_free(&layout);
        *ret_buf = buf;
        *ret_len = total;
        return 0;
}

static void put_all(struct txn *t, const struct ruleset_opts *o, const struct ruleset_view *want,
                    const struct ruleset_layout *want_layout, const struct ruleset_view *have,
                    const struct ruleset_layout *have_layout, bool interim)
{
        if (!have) {
                /* add + delete + add: replaces any old table without failing
                 * when there is none, in the same transaction */
                put_table(t, NFT_MSG_NEWTABLE);
                put_table(t, NFT_MSG_DELTABLE);
                put_table(t, NFT_MSG_NEWTABLE);
                put_chain(t, NFT_MSG_NEWCHAIN, CHAIN_INPUT, true);
                put_chain(t, NFT_MSG_NEWCHAIN, CHAIN_SYN, false);
                put_chain(t, NFT_MSG_NEWCHAIN, CHAIN_EARLY, true);
                put_chain(t, NFT_MSG_NEWCHAIN, CHAIN_FORWARD, true);
                if (view_has_outbound(want)) {
                        put_chain(t, NFT_MSG_NEWCHAIN, CHAIN_OUTPUT, true);
                        put_chain(t, NFT_MSG_NEWCHAIN, CHAIN_OUTSYN, false);
                        put_chain(t, NFT_MSG_NEWCHAIN, CHAIN_OUTFAIL, true);
                }
        } else {
                char chain[128];

                put_flush_chain(t, CHAIN_INPUT);
                put_flush_chain(t, CHAIN_SYN);
                put_flush_chain(t, CHAIN_EARLY);
                put_flush_chain(t, CHAIN_FORWARD);
                /* the output hook is there only while an outbound policy is */
                if (view_has_outbound(have)) {
                        put_flush_chain(t, CHAIN_OUTPUT);
                        put_flush_chain(t, CHAIN_OUTSYN);
                        put_flush_chain(t, CHAIN_OUTFAIL);
                        if (!view_has_outbound(want)) {
                                put_chain(t, NFT_MSG_DELCHAIN, CHAIN_OUTPUT, true);
                                put_chain(t, NFT_MSG_DELCHAIN, CHAIN_OUTSYN, false);
                                put_chain(t, NFT_MSG_DELCHAIN, CHAIN_OUTFAIL, true);
                        }
                } else if (view_has_outbound(want)) {
                        put_chain(t, NFT_MSG_NEWCHAIN, CHAIN_OUTPUT, true);
                        put_chain(t, NFT_MSG_NEWCHAIN, CHAIN_OUTSYN, false);
                        put_chain(t, NFT_MSG_NEWCHAIN, CHAIN_OUTFAIL, true);
                }
                for (size_t i = 0; i < have->n; i++) {
                        put_flush_chain(t, ruleset_obj_name(OBJ_CHAIN, have->v[i].name, chain, sizeof(chain)));
                        put_flush_chain(t, ruleset_obj_name(OBJ_REFUSE, have->v[i].name, chain, sizeof(chain)));
                }
                for (size_t i = 0; i < have->n; i++) {
                        struct ruleset_policy_layout pl = layout_at(o, have, have_layout, i);

                        if (find_policy(want, have->v[i].name) < 0)
                                put_policy_delete(t, &have->v[i], &pl);
                }
        }
        for (size_t i = 0; i < want->n; i++) {
                long old = find_policy(have, want->v[i].name);
                struct ruleset_policy_layout pl = { { false, false } };

                if (old < 0)
                        put_policy_objects(t, &want->v[i]);
                else
                        pl = layout_at(o, have, have_layout, (size_t)old);
                put_policy_elements(t, &want->v[i], &want_layout->v[i], old < 0 ? NULL : &have->v[old], &pl);
        }
        put_rules(t, o, want, want_layout, interim);
}

int ruleset_delete(struct ruleset *h)
{
        struct ruleset_nl *nl = h->nl;
        const char *table = h->table;
        struct txn t;
        int r;

        txn_begin(&t, nl, table);
        put_table(&t, NFT_MSG_NEWTABLE);
        put_table(&t, NFT_MSG_DELTABLE);
        r = txn_commit(&t);
        txn_free(&t);
        return r;
}

/* ---- queries ---- */

/* Send one request and run cb over the answers. The kernel sizes a dump's
 * messages by the largest read buffer the socket has used (up to 32 KiB),
 * and txn_wait reads with 64 KiB: an 8 KiB buffer here truncated a dump of
 * a few hundred counted offenders (ENOSPC, then EPROTO on the rest). */
static int query(struct ruleset_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
        const size_t bufsize = 1 << 16;
        uint32_t seq = nlh->nlmsg_seq;
        int fd = mnl_socket_get_fd(nl->sock);
        char *buf;
        ssize_t n;
        int r;

        if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
                return -errno;
        buf = nn(malloc(bufsize));
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };

                r = poll(&p, 1, 5000);
                if (r == 0) {
                        r = -ETIMEDOUT;
                        break;
                }
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                n = mnl_socket_recvfrom(nl->sock, buf, bufsize);
                if (n < 0) {
                        r = -errno;
                        break;
                }
                r = mnl_cb_run(buf, (size_t)n, seq, nl->portid, cb, data);
                if (r < 0) {
                        r = -errno;
                        break;
                }
                if (r == MNL_CB_STOP) {
                        r = 0;
                        break;
                }
        }
        free(buf);
        return r;
}

/* 1 for a table that is there, 2 when it is there but dormant. */
static int table_cb(const struct nlmsghdr *nlh, void *data)
{
        struct nftnl_table *t = nn(nftnl_table_alloc());
        int state = 1;

        if (nftnl_table_nlmsg_parse(nlh, t) == 0 && nftnl_table_is_set(t, NFTNL_TABLE_FLAGS) &&
            (nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS) & NFT_TABLE_F_DORMANT))
                state = 2;
        nftnl_table_free(t);
        *(int *)data = state;
        return MNL_CB_OK;
}

/* The table's state: 0 missing, 1 active, 2 dormant; or negative errno. */
static int table_state(struct ruleset_nl *nl, const char *table)
{
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nftnl_table *t = nn(nftnl_table_alloc());
        struct nlmsghdr *nlh;
        int state = 0, r;

        nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_ACK, nl->seq++);
        nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
        nftnl_table_nlmsg_build_payload(nlh, t);
        nftnl_table_free(t);
        r = query(nl, nlh, table_cb, &state);
        if (r == -ENOENT)
                return 0;
        return r < 0 ? r : state;
}

int ruleset_table_exists(struct ruleset *h)
{
        int r = table_state(h->nl, h->table);

        return r < 0 ? r : r > 0;
}

struct counter_q {
        uint64_t packets;
        bool found;
};

static int counter_cb(const struct nlmsghdr *nlh, void *data)
{
        struct counter_q *q = data;
        struct nftnl_obj *o = nn(nftnl_obj_alloc());

        if (nftnl_obj_nlmsg_parse(nlh, o) == 0 && nftnl_obj_is_set(o, NFTNL_OBJ_CTR_PKTS)) {
                q->packets = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_PKTS);
                q->found = true;
        }
        nftnl_obj_free(o);
        return MNL_CB_OK;
}

static int counter(struct ruleset_nl *nl, const char *table, const char *name, bool reset, uint64_t *ret_packets)
{
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nftnl_obj *o = nn(nftnl_obj_alloc());
        struct counter_q q = { 0 };
        struct nlmsghdr *nlh;
        int r;

        nlh = nftnl_nlmsg_build_hdr(buf, reset ? NFT_MSG_GETOBJ_RESET : NFT_MSG_GETOBJ, NFPROTO_INET, NLM_F_ACK,
                                    nl->seq++);
        nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, table);
        nftnl_obj_set_str(o, NFTNL_OBJ_NAME, name);
        nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
        nftnl_obj_nlmsg_build_payload(nlh, o);
        nftnl_obj_free(o);
        r = query(nl, nlh, counter_cb, &q);
        if (r < 0)
                return r;
        if (!q.found)
                return -ENOENT;
        *ret_packets = q.packets;
        return 0;
}

/* Call fn for each element of a GETSETELEM answer. */
static void each_elem(const struct nlmsghdr *nlh, void (*fn)(struct nftnl_set_elem *e, void *data), void *data)
{
        struct nftnl_set *s = nn(nftnl_set_alloc());
        struct nftnl_set_elems_iter *it;
        struct nftnl_set_elem *e;

        if (nftnl_set_elems_nlmsg_parse(nlh, s) == 0) {
                it = nftnl_set_elems_iter_create(s);
                while (it && (e = nftnl_set_elems_iter_next(it)))
                        fn(e, data);
                nftnl_set_elems_iter_destroy(it);
        }
        nftnl_set_free(s);
}

static void count_elem(struct nftnl_set_elem *e, void *data)
{
        uint32_t flags = 0;

        if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS))
                flags = nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS);
        if (!(flags & NFT_SET_ELEM_INTERVAL_END))
                (*(size_t *)data)++;
}

/* Count the interval start elements of a GETSETELEM answer. */
static int count_cb(const struct nlmsghdr *nlh, void *data)
{
        each_elem(nlh, count_elem, data);
        return MNL_CB_OK;
}

/* The set's flags (NFT_SET_MAP tells a sharded list's map). */
static int set_flags_cb(const struct nlmsghdr *nlh, void *data)
{
        struct nftnl_set *s = nn(nftnl_set_alloc());

        if (nftnl_set_nlmsg_parse(nlh, s) == 0 && nftnl_set_is_set(s, NFTNL_SET_FLAGS))
                *(uint32_t *)data = nftnl_set_get_u32(s, NFTNL_SET_FLAGS);
        nftnl_set_free(s);
        return MNL_CB_OK;
}

static int set_flags(struct ruleset_nl *nl, const char *table, const char *set, uint32_t *ret)
{
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nftnl_set *s = nn(nftnl_set_alloc());
        struct nlmsghdr *nlh;

        *ret = 0;
        nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSET, NFPROTO_INET, NLM_F_ACK, nl->seq++);
        nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
        nftnl_set_set_str(s, NFTNL_SET_NAME, set);
        nftnl_set_nlmsg_build_payload(nlh, s);
        nftnl_set_free(s);
        return query(nl, nlh, set_flags_cb, ret);
}

/* What a map's elements say: per element a verdict and, for a jump, the
 * chain (which names the shard's set too). */
struct map_elems {
        size_t n, cap;
        struct map_elem {
                uint32_t verdict;
                char chain[NFT_CHAIN_MAXNAMELEN];
        } *v;
};

static void map_elem(struct nftnl_set_elem *e, void *data)
{
        struct map_elems *m = data;
        struct map_elem *x;

        if (m->n == m->cap) {
                m->cap = m->cap ? m->cap * 2 : 64;
                m->v = nn(realloc(m->v, m->cap * sizeof(*m->v)));
        }
        x = &m->v[m->n++];
        x->verdict = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_VERDICT) ? nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_VERDICT)
                                                                     : NF_DROP;
        snprintf(x->chain, sizeof(x->chain), "%s",
                 nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_CHAIN) ? nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN) : "");
}

static int map_elems_cb(const struct nlmsghdr *nlh, void *data)
{
        each_elem(nlh, map_elem, data);
        return MNL_CB_OK;
}

/* GETSETELEM for one key (the kernel answers with the element, or the
 * interval, holding it). */
static int elem_query_key(struct ruleset_nl *nl, const char *table, const char *set, const void *key,
                          size_t len, mnl_cb_t cb, void *data)
{
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh;
        struct nlattr *list, *e, *k;

        nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_ACK, nl->seq++);
        mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, table);
        mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
        list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
        e = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
        k = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
        mnl_attr_put(nlh, NFTA_DATA_VALUE, len, key);
        mnl_attr_nest_end(nlh, k);
        mnl_attr_nest_end(nlh, e);
        mnl_attr_nest_end(nlh, list);
        return query(nl, nlh, cb, data);
}

static int elem_query(struct ruleset_nl *nl, const char *table, const char *set, int family, addr128 a,
                      mnl_cb_t cb, void *data)
{
        uint8_t key[16];

        addr_to_bytes(family, a, key);
        return elem_query_key(nl, table, set, key, family == AF_INET ? 4 : 16, cb, data);
}

static int set_lookup(struct ruleset_nl *nl, const char *table, const char *set, int family, addr128 a)
{
        struct map_elems m = { 0 };
        uint32_t flags;
        size_t found = 0;
        int r;

        r = set_flags(nl, table, set, &flags);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (flags & NFT_SET_MAP) {
                /* sharded: the map names the shard, or accepts it whole */
                r = elem_query(nl, table, set, family, shard_lo(family, shard_key(family, a)), map_elems_cb, &m);
                if (r == 0 && m.n == 1 && m.v[0].verdict == NF_ACCEPT)
                        r = 1;
                else if (r == 0 && m.n == 1 && m.v[0].verdict == (uint32_t)NFT_JUMP)
                        r = set_lookup(nl, table, m.v[0].chain, family, a);
                else if (r == 0 || r == -ENOENT)
                        r = 0;
                free(m.v);
                return r;
        }
        r = elem_query(nl, table, set, family, a, count_cb, &found);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        return found > 0;
}

static int set_dump(struct ruleset_nl *nl, const char *table, const char *set, mnl_cb_t cb, void *data)
{
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh;

        nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_DUMP | NLM_F_ACK, nl->seq++);
        mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, table);
        mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
        return query(nl, nlh, cb, data);
}

static int set_size(struct ruleset_nl *nl, const char *table, const char *set, size_t *ret_n)
{
        struct map_elems m = { 0 };
        uint32_t flags;
        size_t n = 0;
        int r;

        r = set_flags(nl, table, set, &flags);
        if (r < 0)
                return r;
        if (!(flags & NFT_SET_MAP)) {
                r = set_dump(nl, table, set, count_cb, &n);
                if (r < 0)
                        return r;
                *ret_n = n;
                return 0;
        }
        r = set_dump(nl, table, set, map_elems_cb, &m);
        for (size_t i = 0; r == 0 && i < m.n; i++) {
                if (m.v[i].verdict == (uint32_t)NFT_JUMP)
                        r = set_dump(nl, table, m.v[i].chain, count_cb, &n);
                else if (m.v[i].verdict == NF_ACCEPT)
                        n++;
        }
        free(m.v);
        if (r < 0)
                return r;
        *ret_n = n;
        return 0;
}

static const enum ruleset_obj counter_objs[] = {
        [RULESET_COUNTER_QUEUED] = OBJ_QUEUED, [RULESET_COUNTER_HANDLED] = OBJ_HANDLED,
        [RULESET_COUNTER_REPEAT] = OBJ_REPEAT, [RULESET_COUNTER_ACKS] = OBJ_ACKS,
};

int ruleset_counter(struct ruleset *h, enum ruleset_counter_kind k, const char *policy, bool reset,
                    uint64_t *ret_packets)
{
        char name[128];

        return counter(h->nl, h->table, ruleset_obj_name(counter_objs[k], policy, name, sizeof(name)), reset,
                       ret_packets);
}

const char *ruleset_list_name(const char *policy, enum ruleset_list l, int family, char *buf, size_t len)
{
        enum ruleset_obj k = l == RULESET_DENY ? (family == AF_INET6 ? OBJ_DENY6 : OBJ_DENY4)
                                               : (family == AF_INET6 ? OBJ_ALLOW6 : OBJ_ALLOW4);

        return ruleset_obj_name(k, policy, buf, len);
}

int ruleset_list_lookup(struct ruleset *h, const char *policy, enum ruleset_list l, int family, addr128 a)
{
        char name[128];

        return set_lookup(h->nl, h->table, ruleset_list_name(policy, l, family, name, sizeof(name)), family, a);
}

int ruleset_users_lookup(struct ruleset *h, const char *policy, uint32_t uid)
{
        char name[128];
        size_t found = 0;
        int r;

        /* the key is in host byte order, as meta skuid loads it */
        r = elem_query_key(h->nl, h->table, ruleset_obj_name(OBJ_USERS, policy, name, sizeof(name)), &uid,
                           sizeof(uid), count_cb, &found);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        return found > 0;
}

int ruleset_list_size(struct ruleset *h, const char *policy, enum ruleset_list l, int family, size_t *ret_n)
{
        char name[128];

        return set_size(h->nl, h->table, ruleset_list_name(policy, l, family, name, sizeof(name)), ret_n);
}

/* ---- the table's shape ---- */

struct digest {
        uint64_t h;
        const struct ruleset_view *want;
        struct set_seen {
                char name[NFT_SET_MAXNAMELEN];
                uint32_t flags;
        } *sets;
        size_t nsets;
        bool skip_chain;        /* set by the rule callback for rules of the early chain */
};

/* FNV-1a over a tagged, length-prefixed field */
static void digest_put(struct digest *d, uint16_t tag, const void *p, size_t len)
{
        const uint8_t *b = p;
        uint8_t hdr[6] = { (uint8_t)tag, (uint8_t)(tag >> 8), (uint8_t)len, (uint8_t)(len >> 8),
                           (uint8_t)(len >> 16), (uint8_t)(len >> 24) };

        for (size_t i = 0; i < sizeof(hdr); i++)
                d->h = (d->h ^ hdr[i]) * 0x100000001b3ull;
        for (size_t i = 0; i < len; i++)
                d->h = (d->h ^ b[i]) * 0x100000001b3ull;
}

/* Hash the attributes of the listed types, in the order they come. */
static void digest_attrs(struct digest *d, uint16_t kind, const struct nlattr *first, size_t len,
                         const uint16_t *types, size_t ntypes)
{
        const struct nlattr *a = first;
        int rem = (int)len;

        for (; mnl_attr_ok(a, rem); rem -= (int)MNL_ALIGN(a->nla_len), a = mnl_attr_next(a)) {
                uint16_t type = mnl_attr_get_type(a);

                for (size_t i = 0; i < ntypes; i++)
                        if (types[i] == type)
                                digest_put(d, (uint16_t)(kind << 8 | type), mnl_attr_get_payload(a),
                                           mnl_attr_get_payload_len(a));
        }
}

static const struct nlattr *msg_attrs(const struct nlmsghdr *nlh, size_t *ret_len)
{
        *ret_len = nlh->nlmsg_len - MNL_NLMSG_HDRLEN - MNL_ALIGN(sizeof(struct nfgenmsg));
        return mnl_nlmsg_get_payload_offset(nlh, sizeof(struct nfgenmsg));
}

static const char *msg_str(const struct nlmsghdr *nlh, uint16_t type)
{
        const struct nlattr *a;

        mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
                if (mnl_attr_get_type(a) == type)
                        return mnl_attr_get_str(a);
        return "";
}

static int digest_chain_cb(const struct nlmsghdr *nlh, void *data)
{
        static const uint16_t types[] = { NFTA_CHAIN_NAME, NFTA_CHAIN_HOOK, NFTA_CHAIN_POLICY, NFTA_CHAIN_TYPE,
                                          NFTA_CHAIN_FLAGS };
        size_t len;
        const struct nlattr *a = msg_attrs(nlh, &len);

        digest_attrs(data, 1, a, len, types, sizeof(types) / sizeof(types[0]));
        return MNL_CB_OK;
}

/* Rules of every chain but early, whose rules mxlockd itself changes
 * with its repeat offenders (and which can only refuse). */
static int digest_rule_cb(const struct nlmsghdr *nlh, void *data)
{
        static const uint16_t types[] = { NFTA_RULE_CHAIN, NFTA_RULE_EXPRESSIONS };
        size_t len;
        const struct nlattr *a = msg_attrs(nlh, &len);

        if (strcmp(msg_str(nlh, NFTA_RULE_CHAIN), CHAIN_EARLY) == 0)
                return MNL_CB_OK;
        digest_attrs(data, 2, a, len, types, sizeof(types) / sizeof(types[0]));
        return MNL_CB_OK;
}

static int digest_set_cb(const struct nlmsghdr *nlh, void *data)
{
        static const uint16_t types[] = { NFTA_SET_NAME, NFTA_SET_FLAGS, NFTA_SET_KEY_TYPE, NFTA_SET_KEY_LEN,
                                          NFTA_SET_DATA_TYPE, NFTA_SET_DATA_LEN };
        struct digest *d = data;
        const struct nlattr *a = NULL;
        struct set_seen *v;
        size_t len;

        a = msg_attrs(nlh, &len);
        digest_attrs(d, 3, a, len, types, sizeof(types) / sizeof(types[0]));
        v = realloc(d->sets, (d->nsets + 1) * sizeof(*d->sets));
        if (!v)
                abort();
        d->sets = v;
        v = &d->sets[d->nsets++];
        snprintf(v->name, sizeof(v->name), "%s", msg_str(nlh, NFTA_SET_NAME));
        v->flags = 0;
        mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
                if (mnl_attr_get_type(a) == NFTA_SET_FLAGS)
                        v->flags = ntohl(mnl_attr_get_u32(a));
        return MNL_CB_OK;
}

static int digest_elem_cb(const struct nlmsghdr *nlh, void *data)
{
        static const uint16_t types[] = { NFTA_SET_ELEM_KEY, NFTA_SET_ELEM_KEY_END, NFTA_SET_ELEM_DATA,
                                          NFTA_SET_ELEM_FLAGS };
        const struct nlattr *a, *e, *el;

        mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
                if (mnl_attr_get_type(a) != NFTA_SET_ELEM_LIST_ELEMENTS)
                        continue;
                mnl_attr_for_each_nested(e, a) {
                        el = mnl_attr_get_payload(e);
                        digest_attrs(data, 4, el, mnl_attr_get_payload_len(e), types,
                                     sizeof(types) / sizeof(types[0]));
                }
        }
        return MNL_CB_OK;
}

static int digest_obj_cb(const struct nlmsghdr *nlh, void *data)
{
        static const uint16_t types[] = { NFTA_OBJ_NAME, NFTA_OBJ_TYPE };
        size_t len;
        const struct nlattr *a = msg_attrs(nlh, &len);

        digest_attrs(data, 5, a, len, types, sizeof(types) / sizeof(types[0]));
        return MNL_CB_OK;
}

/* Elements not in the digest: the offenders' (mxlockd's own, changing),
 * and those of an allowed list too long to dump at every check (the
 * caller samples them). */
static bool digest_skips_elements(const struct digest *d, const struct set_seen *set)
{
        char name[128];
        size_t n;

        if (strncmp(set->name, "offenders", 9) == 0)
                return true;
        for (size_t i = 0; d->want && i < d->want->n; i++) {
                for (int f = 0; f < FAM_N; f++) {
                        if (d->want->v[i].allow[f].n <= RULESET_DIGEST_RANGES)
                                continue;
                        n = strlen(ruleset_obj_name(f == FAM_V6 ? OBJ_ALLOW6 : OBJ_ALLOW4, d->want->v[i].name, name,
                                                    sizeof(name)));
                        if (strcmp(set->name, name) == 0 && !(set->flags & NFT_SET_MAP))
                                return true;
                        if (strncmp(set->name, name, n) == 0 && set->name[n] == '_')
                                return true;
                }
        }
        return false;
}

/* A dump request of one message type for the table. */
static struct nlmsghdr *dump_req(struct ruleset_nl *nl, char *buf, uint16_t type, uint16_t table_attr,
                                 const char *table)
{
        struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, type, NFPROTO_INET, NLM_F_DUMP | NLM_F_ACK, nl->seq++);

        mnl_attr_put_strz(nlh, table_attr, table);
        return nlh;
}

static int digest(struct ruleset_nl *nl, const char *table, const struct ruleset_view *want, uint64_t *ret)
{
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct digest d = { .h = 0xcbf29ce484222325ull, .want = want };
        int r;

        r = query(nl, dump_req(nl, buf, NFT_MSG_GETCHAIN, NFTA_CHAIN_TABLE, table), digest_chain_cb, &d);
        if (r == 0)
                r = query(nl, dump_req(nl, buf, NFT_MSG_GETRULE, NFTA_RULE_TABLE, table), digest_rule_cb, &d);
        if (r == 0)
                r = query(nl, dump_req(nl, buf, NFT_MSG_GETOBJ, NFTA_OBJ_TABLE, table), digest_obj_cb, &d);
        if (r == 0)
                r = query(nl, dump_req(nl, buf, NFT_MSG_GETSET, NFTA_SET_TABLE, table), digest_set_cb, &d);
        for (size_t i = 0; r == 0 && i < d.nsets; i++) {
                if (digest_skips_elements(&d, &d.sets[i]))
                        continue;
                digest_put(&d, 6, d.sets[i].name, strlen(d.sets[i].name));
                r = set_dump(nl, table, d.sets[i].name, digest_elem_cb, &d);
        }
        free(d.sets);
        if (r < 0)
                return r;
        *ret = d.h;
        return 0;
}

/* A few ranges of each long allowed list, looked up in the live sets:
 * the first, the last and one more that moves on at every call. */
static int sample_lists(struct ruleset_nl *nl, const char *table, const struct ruleset_view *want, size_t *cursor)
{
        char name[128];
        int r;

        for (size_t i = 0; i < want->n; i++) {
                for (int f = 0; f < FAM_N; f++) {
                        const struct range_list *l = &want->v[i].allow[f];
                        size_t pick[3];

                        if (l->n <= RULESET_DIGEST_RANGES)
                                continue;
                        pick[0] = 0;
                        pick[1] = l->n - 1;
                        pick[2] = *cursor % l->n;
                        ruleset_obj_name(f == FAM_V6 ? OBJ_ALLOW6 : OBJ_ALLOW4, want->v[i].name, name, sizeof(name));
                        for (size_t k = 0; k < 3; k++) {
                                r = set_lookup(nl, table, name, l->family, l->v[pick[k]].lo);
                                if (r <= 0)
                                        return r;
                                r = set_lookup(nl, table, name, l->family, l->v[pick[k]].hi);
                                if (r <= 0)
                                        return r;
                        }
                }
        }
        (*cursor) += 7919;      /* a prime: the samples walk every list */
        return 1;
}

int ruleset_digest(struct ruleset *h, const struct ruleset_view *want, uint64_t *ret)
{
        return digest(h->nl, h->table, want, ret);
}

int ruleset_intact(struct ruleset *h, const struct ruleset_view *want, const uint64_t *shape, size_t *cursor)
{
        struct ruleset_nl *nl = h->nl;
        const char *table = h->table;
        uint64_t now;
        int r;

        /* a dormant table's hooks are off: it enforces nothing */
        r = table_state(nl, table);
        if (r != 1)
                return r < 0 ? r : 0;
        if (!shape)
                return 1;       /* nothing to compare with: the table is there */
        r = digest(nl, table, want, &now);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (now != *shape)
                return 0;
        return sample_lists(nl, table, want, cursor);
}

/* ---- DNAT rules in other tables (for doctor) ---- */

struct dnat_q {
        void (*cb)(const char *family, const char *table, const char *chain, uint16_t port, void *userdata);
        void *userdata;
        uint32_t port_reg;      /* the register holding the transport's destination port, 0: none */
        int port;               /* the port a cmp matched it to, -1: none */
        bool dnat;
};

static int dnat_expr_cb(struct nftnl_expr *e, void *data)
{
        struct dnat_q *q = data;
        const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

        if (strcmp(name, "payload") == 0) {
                q->port_reg = 0;
                if (nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE) == NFT_PAYLOAD_TRANSPORT_HEADER &&
                    nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET) == 2 &&
                    nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN) == 2)
                        q->port_reg = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_DREG);
        } else if (strcmp(name, "cmp") == 0) {
                uint32_t len = 0;
                const uint8_t *v = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len);

                if (q->port_reg && nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_SREG) == q->port_reg &&
                    nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP) == NFT_CMP_EQ && v && len == 2)
                        q->port = v[0] << 8 | v[1];
        } else if (strcmp(name, "nat") == 0) {
                q->dnat |= nftnl_expr_get_u32(e, NFTNL_EXPR_NAT_TYPE) == NFT_NAT_DNAT;
        } else if (strcmp(name, "target") == 0) {
                q->dnat |= strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_TG_NAME), "DNAT") == 0;
        }
        return 0;
}

static const char *family_name(uint32_t f)
{
        switch (f) {
        case NFPROTO_IPV4:
                return "ip";
        case NFPROTO_IPV6:
                return "ip6";
        case NFPROTO_INET:
                return "inet";
        default:
                return "?";
        }
}

static int dnat_rule_cb(const struct nlmsghdr *nlh, void *data)
{
        struct dnat_q *q = data;
        struct nftnl_rule *r = nn(nftnl_rule_alloc());

        if (nftnl_rule_nlmsg_parse(nlh, r) == 0) {
                q->port_reg = 0;
                q->port = -1;
                q->dnat = false;
                nftnl_expr_foreach(r, dnat_expr_cb, q);
                if (q->dnat && q->port >= 0)
                        q->cb(family_name(nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY)),
                              nftnl_rule_get_str(r, NFTNL_RULE_TABLE), nftnl_rule_get_str(r, NFTNL_RULE_CHAIN),
                              (uint16_t)q->port, q->userdata);
        }
        nftnl_rule_free(r);
        return MNL_CB_OK;
}

int ruleset_dnat_rules(struct ruleset *h,
                       void (*cb)(const char *family, const char *table, const char *chain, uint16_t port,
                                  void *userdata),
                       void *userdata)
{
        struct ruleset_nl *nl = h->nl;
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct dnat_q q = { .cb = cb, .userdata = userdata };
        struct nlmsghdr *nlh;

        nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_UNSPEC, NLM_F_DUMP | NLM_F_ACK, nl->seq++);
        return query(nl, nlh, dnat_rule_cb, &q);
}

static int found_cb(const struct nlmsghdr *nlh, void *data)
{
        *(bool *)data = true;
        return MNL_CB_OK;
}

int ruleset_covers_dnat(struct ruleset *h)
{
        struct ruleset_nl *nl = h->nl;
        const char *table = h->table;
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh;
        bool found = false;
        int r;

        r = table_state(nl, table);
        if (r != 1)
                return r < 0 ? r : 0;
        nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, NFPROTO_INET, NLM_F_ACK, nl->seq++);
        mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, table);
        mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, CHAIN_FORWARD);
        r = query(nl, nlh, found_cb, &found);
        if (r == -ENOENT)
                return 0;
        return r < 0 ? r : found;
}

static int gen_cb(const struct nlmsghdr *nlh, void *data)
{
        struct nftnl_gen *g = nn(nftnl_gen_alloc());

        if (nftnl_gen_nlmsg_parse(nlh, g) == 0 && nftnl_gen_is_set(g, NFTNL_GEN_ID))
                *(uint32_t *)data = nftnl_gen_get_u32(g, NFTNL_GEN_ID);
        nftnl_gen_free(g);
        return MNL_CB_OK;
}

int ruleset_genid(struct ruleset *h, uint32_t *ret_id)
{
        struct ruleset_nl *nl = h->nl;
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh;
        uint32_t id = 0;
        int r;

        nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, NFPROTO_UNSPEC, NLM_F_ACK, nl->seq++);
        r = query(nl, nlh, gen_cb, &id);
        if (r < 0)
                return r;
        *ret_id = id;
        return 0;
}

static void put_offender_elems(struct txn *t, uint16_t type, const char *set, int family, const addr128 *a,
                               size_t n)
{
        struct elem_writer w = { .t = t, .type = type, .set = set, .keylen = family == AF_INET ? 4 : 16 };
        uint8_t key[16];

        w.counter = type == NFT_MSG_NEWSETELEM ? &t->st.elements_added : &t->st.elements_deleted;
        for (size_t i = 0; i < n; i++) {
                addr_to_bytes(family, a[i], key);
                elem_put(&w, key, false);
        }
        elem_close(&w);
}

static int offenders_txn(struct ruleset_nl *nl, const char *table, const char *policy, int family, uint16_t type,
                         const addr128 *a, size_t n)
{
        char set[128];
        struct txn t;
        int r;

        txn_begin(&t, nl, table);
        ruleset_obj_name(family == AF_INET ? OBJ_OFFENDERS4 : OBJ_OFFENDERS6, policy, set, sizeof(set));
        put_offender_elems(&t, type, set, family, a, n);
        r = txn_commit(&t);
        txn_free(&t);
        return r;
}

int ruleset_offender_add(struct ruleset *h, const char *policy, int family, addr128 a)
{
        return offenders_txn(h->nl, h->table, policy, family, NFT_MSG_NEWSETELEM, &a, 1);
}

int ruleset_offenders_del(struct ruleset *h, const char *policy, int family, const addr128 *a, size_t n)
{
        if (n == 0)
                return 0;
        return offenders_txn(h->nl, h->table, policy, family, NFT_MSG_DELSETELEM, a, n);
}

int ruleset_offenders_flush(struct ruleset *h, const char *policy)
{
        struct ruleset_nl *nl = h->nl;
        const char *table = h->table;
        char set[128];
        struct txn t;
        int r;

        txn_begin(&t, nl, table);
        put_set_flush(&t, ruleset_obj_name(OBJ_OFFENDERS4, policy, set, sizeof(set)));
        put_set_flush(&t, ruleset_obj_name(OBJ_OFFENDERS6, policy, set, sizeof(set)));
        r = txn_commit(&t);
        txn_free(&t);
        return r;
}

struct offenders_q {
        int family;
        void (*cb)(int family, addr128 a, uint64_t packets, void *userdata);
        void *userdata;
};

static int elem_counter_cb(struct nftnl_expr *e, void *data)
{
        if (strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "counter") == 0)
                *(uint64_t *)data = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
        return 0;
}

static void offender_elem(struct nftnl_set_elem *e, void *data)
{
        struct offenders_q *q = data;
        uint32_t len = 0;
        const void *key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
        uint64_t packets = 0;

        if (!key || len != (q->family == AF_INET ? 4u : 16u))
                return;
        nftnl_set_elem_expr_foreach(e, elem_counter_cb, &packets);
        q->cb(q->family, addr_from_bytes(q->family, key), packets, q->userdata);
}

static int offenders_cb(const struct nlmsghdr *nlh, void *data)
{
        each_elem(nlh, offender_elem, data);
        return MNL_CB_OK;
}

int ruleset_offenders_read(struct ruleset *h, const char *policy, int family,
                           void (*cb)(int family, addr128 a, uint64_t packets, void *userdata), void *userdata)
{
        struct ruleset_nl *nl = h->nl;
        const char *table = h->table;
        struct offenders_q q = { .family = family, .cb = cb, .userdata = userdata };
        char buf[MNL_SOCKET_BUFFER_SIZE], set[128];
        struct nlmsghdr *nlh;

        nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_DUMP | NLM_F_ACK, nl->seq++);
        mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, table);
        mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET,
                          ruleset_obj_name(family == AF_INET ? OBJ_OFFENDERS4 : OBJ_OFFENDERS6, policy, set,
                                           sizeof(set)));
        return query(nl, nlh, offenders_cb, &q);
}

/* ---- probing ---- */

static bool file_has_line_ending(const char *path, const char *needle)
{
        char line[512];
        gzFile f = gzopen(path, "r");
        bool found = false;

        if (!f)
                return false;
        while (!found && gzgets(f, line, sizeof(line)))
                found = strstr(line, needle) != NULL;
        gzclose(f);
        return found;
}

bool ruleset_probe_native_queue(void)
{
        struct utsname u;
        char path[512];

        if (access("/sys/module/nft_queue", F_OK) == 0)
                return true;
        if (access("/proc/config.gz", R_OK) == 0)
                return file_has_line_ending("/proc/config.gz", "CONFIG_NFT_QUEUE=");
        if (uname(&u) < 0)
                return true;
        snprintf(path, sizeof(path), "/lib/modules/%s/modules.builtin", u.release);
        if (file_has_line_ending(path, "nft_queue.ko"))
                return true;
        snprintf(path, sizeof(path), "/lib/modules/%s/modules.dep", u.release);
        if (access(path, R_OK) == 0)
                return file_has_line_ending(path, "nft_queue.ko");
        return true;    /* nothing to tell: assume a standard kernel */
}

/* ---- nft syntax ---- */

struct print_ctx {
        FILE *f;
        size_t n;
};

static void print_prefix(const struct prefix *p, void *userdata)
{
        struct print_ctx *c = userdata;
        char buf[64];

        fprintf(c->f, "%s%s", c->n++ ? ", " : "", prefix_format(p, buf, sizeof(buf)));
}

static void print_slice(FILE *f, const char *name, const struct slice *s)
{
        struct print_ctx c = { .f = f };

        fprintf(f, "\tset %s {\n\t\ttype %s\n\t\tflags interval\n", name,
                s->family == AF_INET ? "ipv4_addr" : "ipv6_addr");
        if (s->n) {
                fprintf(f, "\t\telements = { ");
                for (size_t i = 0; i < s->n; i++)
                        range_to_prefixes(s->family, slice_at(s, i), print_prefix, &c);
                fprintf(f, " }\n");
        }
        fprintf(f, "\t}\n");
}

/* An allowed list: one interval set, or its shards' sets and chains and
 * the map that picks them. */
static void print_allow(FILE *f, const struct ruleset_opts *o, const char *name, const struct range_list *l)
{
        struct shard_iter it;
        struct slice s;
        char shard[160], key[ADDR_STRLEN];
        size_t n = 0;

        if (!ruleset_want_sharded(o, l)) {
                s = slice_whole(l);
                print_slice(f, name, &s);
                return;
        }
        shard_iter_init(&it, l);
        while (shard_next(&it, &s)) {
                if (slice_full(&s))
                        continue;
                ruleset_shard_name(name, s.family, s.key, shard, sizeof(shard));
                print_slice(f, shard, &s);
                fprintf(f, "\tchain %s {\n\t\t%s saddr @%s accept\n\t}\n", shard,
                        s.family == AF_INET ? "ip" : "ip6", shard);
        }
        fprintf(f, "\tmap %s {\n\t\ttype %s : verdict\n\t\tsize %u\n\t\telements = { ", name,
                l->family == AF_INET ? "ipv4_addr" : "ipv6_addr", shard_last(l->family) + 1);
        shard_iter_init(&it, l);
        while (shard_next(&it, &s)) {
                fprintf(f, "%s%s : ", n++ ? ", " : "", addr_format(s.family, s.lo, key));
                if (slice_full(&s))
                        fprintf(f, "accept");
                else
                        fprintf(f, "jump %s", ruleset_shard_name(name, s.family, s.key, shard, sizeof(shard)));
        }
        fprintf(f, " }\n\t}\n");
}

static void print_queue(FILE *f, const struct ruleset_opts *o, const char *counter)
{
        char q[64];

        if (o->queues > 1)
                snprintf(q, sizeof(q), "queue num %u-%u fanout%s", o->queue, o->queue + o->queues - 1,
                         o->bypass ? ",bypass" : "");
        else
                snprintf(q, sizeof(q), "queue num %u%s", o->queue, o->bypass ? " bypass" : "");
        if (o->native_queue)
                fprintf(f, "counter name \"%s\" %s\n", counter, q);
        else
                fprintf(f, "counter name \"%s\" # %s: installed as the xt NFQUEUE target (nft_compat), "
                           "this kernel has no native queue expression\n", counter, q);
}

static size_t outbound_count(const struct ruleset_view *s)
{
        size_t n = 0;

        for (size_t i = 0; i < s->n; i++)
                n += s->v[i].outbound;
        return n;
}

/* An outbound policy's chains, as put_outbound_rules builds them. */
static void print_outbound(FILE *f, const struct ruleset_opts *o, const struct ruleset_policy *p, size_t i,
                           const char *queued, const char *refuse)
{
        struct ruleset_opts bypass = *o;
        char name[128], users[128];

        bypass.bypass = true;
        fprintf(f, "\tchain %s {\n\t\tmeta mark 0x%08x counter name \"%s\" %s\n", refuse, ruleset_mark(i),
                ruleset_obj_name(OBJ_HANDLED, p->name, name, sizeof(name)),
                o->monitor ? "meta mark set 0x0 accept" : "reject with tcp reset");
        fprintf(f, "\t\tmeta mark set 0x%08x ", ruleset_queue_mark(i, false));
        print_queue(f, &bypass, queued);
        fprintf(f, "\t}\n");
        fprintf(f, "\tchain %s {\n", ruleset_obj_name(OBJ_CHAIN, p->name, name, sizeof(name)));
        ruleset_obj_name(OBJ_USERS, p->name, users, sizeof(users));
        for (int fam = 0; fam < FAM_N && p->nuids; fam++)
                if (p->allow[fam].n)
                        fprintf(f, "\t\tmeta skuid @%s %s daddr @%s accept\n", users, fam == FAM_V6 ? "ip6" : "ip",
                                ruleset_obj_name(fam == FAM_V6 ? OBJ_ALLOW6 : OBJ_ALLOW4, p->name, name,
                                                 sizeof(name)));
        fprintf(f, "\t\tgoto %s\n\t}\n", refuse);
}

void ruleset_print(FILE *f, const struct ruleset_opts *o, const struct ruleset_view *want)
{
        char name[128];

        fprintf(f, "# mxlockd ruleset: only this table is mxlockd's; it touches no other.\n");
        fprintf(f, "table inet %s {\n", o->table);
        for (size_t i = 0; i < want->n; i++) {
                const struct ruleset_policy *p = &want->v[i];

                fprintf(f, "\t# policy %s\n", p->name);
                print_allow(f, o, ruleset_obj_name(OBJ_ALLOW4, p->name, name, sizeof(name)), &p->allow[FAM_V4]);
                print_allow(f, o, ruleset_obj_name(OBJ_ALLOW6, p->name, name, sizeof(name)), &p->allow[FAM_V6]);
                for (int fd = 0; fd < FAM_N; fd++) {
                        struct slice d = slice_whole(&p->deny[fd]);

                        print_slice(f, ruleset_obj_name(fd == FAM_V6 ? OBJ_DENY6 : OBJ_DENY4, p->name, name,
                                                        sizeof(name)),
                                    &d);
                }
                fprintf(f, "\tset %s {\n\t\ttype inet_service\n\t\telements = { ",
                        ruleset_obj_name(OBJ_PORTS, p->name, name, sizeof(name)));
                for (size_t k = 0; k < p->nports; k++)
                        fprintf(f, "%s%u", k ? ", " : "", p->ports[k]);
                fprintf(f, " }\n\t}\n");
                fprintf(f, "\tcounter %s {\n\t}\n", ruleset_obj_name(OBJ_QUEUED, p->name, name, sizeof(name)));
                fprintf(f, "\tcounter %s {\n\t}\n", ruleset_obj_name(OBJ_HANDLED, p->name, name, sizeof(name)));
                fprintf(f, "\tcounter %s {\n\t}\n", ruleset_obj_name(OBJ_ACKS, p->name, name, sizeof(name)));
                fprintf(f, "\tset %s {\n\t\ttype ipv4_addr\n\t\tcounter\n\t}\n",
                        ruleset_obj_name(OBJ_OFFENDERS4, p->name, name, sizeof(name)));
                fprintf(f, "\tset %s {\n\t\ttype ipv6_addr\n\t\tcounter\n\t}\n",
                        ruleset_obj_name(OBJ_OFFENDERS6, p->name, name, sizeof(name)));
                fprintf(f, "\tcounter %s {\n\t}\n", ruleset_obj_name(OBJ_REPEAT, p->name, name, sizeof(name)));
                fprintf(f, "\tset %s {\n\t\ttype uid\n", ruleset_obj_name(OBJ_USERS, p->name, name, sizeof(name)));
                for (size_t k = 0; k < p->nuids; k++)
                        fprintf(f, "%s%u", k ? ", " : "\t\telements = { ", p->uids[k]);
                fprintf(f, "%s\t}\n", p->nuids ? " }\n" : "");
        }
        fprintf(f, "\tchain %s {\n\t\ttype filter hook input priority %d; policy accept;\n", CHAIN_INPUT,
                CHAIN_PRIORITY);
        fprintf(f, "\t\ttcp flags & (fin | syn | rst | ack) == syn jump %s\n", CHAIN_SYN);
        fprintf(f, "\t\ttcp flags & (fin | syn | rst | ack) == ack ct state invalid,new,untracked jump %s\n\t}\n",
                CHAIN_SYN);
        fprintf(f, "\tchain %s {\n\t\ttype filter hook forward priority %d; policy accept;\n", CHAIN_FORWARD,
                CHAIN_PRIORITY);
        fprintf(f, "\t\ttcp flags & (fin | syn | rst | ack) == syn ct status dnat jump %s\n", CHAIN_SYN);
        fprintf(f, "\t\ttcp flags & (fin | syn | rst | ack) == ack ct state invalid,new,untracked ct status dnat "
                   "jump %s\n\t}\n", CHAIN_SYN);
        fprintf(f, "\tchain %s {\n\t\ttype filter hook prerouting priority %d; policy accept;\n", CHAIN_EARLY,
                CHAIN_EARLY_PRIORITY);
        if (!o->monitor && want->n > outbound_count(want))
                fprintf(f, "\t\t# while a policy has repeat offenders, mxlockd adds per policy and family:\n");
        for (size_t i = 0; i < want->n && !o->monitor; i++) {
                const struct ruleset_policy *p = &want->v[i];
                char repeat[128], ports[128];

                if (p->outbound)
                        continue;
                ruleset_obj_name(OBJ_REPEAT, p->name, repeat, sizeof(repeat));
                ruleset_obj_name(OBJ_PORTS, p->name, ports, sizeof(ports));
                for (int fam = 0; fam < 2; fam++)
                        fprintf(f, "\t\t# tcp flags & (fin | syn | rst | ack) == syn %s saddr @%s tcp dport @%s "
                                   "fib daddr type local counter name \"%s\" %s\n",
                                fam ? "ip6" : "ip",
                                ruleset_obj_name(fam ? OBJ_OFFENDERS6 : OBJ_OFFENDERS4, p->name, name, sizeof(name)),
                                ports, repeat, o->drop ? "drop" : "reject with tcp reset");
        }
        fprintf(f, "\t}\n");
        fprintf(f, "\tchain %s {\n", CHAIN_SYN);
        for (size_t i = 0; i < want->n; i++) {
                char chain[128];

                if (want->v[i].outbound)
                        continue;
                fprintf(f, "\t\ttcp dport @%s goto %s\n",
                        ruleset_obj_name(OBJ_PORTS, want->v[i].name, name, sizeof(name)),
                        ruleset_obj_name(OBJ_CHAIN, want->v[i].name, chain, sizeof(chain)));
        }
        for (size_t i = 0; i < want->n; i++) {
                char chain[128];

                if (want->v[i].outbound)
                        continue;
                fprintf(f, "\t\tmeta l4proto tcp ct original proto-dst @%s goto %s\n",
                        ruleset_obj_name(OBJ_PORTS, want->v[i].name, name, sizeof(name)),
                        ruleset_obj_name(OBJ_CHAIN, want->v[i].name, chain, sizeof(chain)));
        }
        fprintf(f, "\t}\n");
        if (outbound_count(want)) {
                fprintf(f, "\tchain %s {\n\t\ttype filter hook output priority %d; policy accept;\n", CHAIN_OUTPUT,
                        CHAIN_PRIORITY);
                fprintf(f, "\t\ttcp flags & (fin | syn | rst | ack) == syn jump %s\n\t}\n", CHAIN_OUTSYN);
                fprintf(f, "\tchain %s {\n\t\toif \"lo\" accept\n", CHAIN_OUTSYN);
                for (size_t i = 0; i < want->n; i++) {
                        char chain[128];

                        if (want->v[i].outbound)
                                fprintf(f, "\t\ttcp dport @%s goto %s\n",
                                        ruleset_obj_name(OBJ_PORTS, want->v[i].name, name, sizeof(name)),
                                        ruleset_obj_name(OBJ_CHAIN, want->v[i].name, chain, sizeof(chain)));
                }
                fprintf(f, "\t}\n");
                fprintf(f, "\tchain %s {\n\t\ttype filter hook output priority %d; policy accept;\n",
                        CHAIN_OUTFAIL, CHAIN_PRIORITY + 1);
                if (!o->bypass)
                        fprintf(f, "\t\tmeta mark & 0x%08x == 0x%08x reject with tcp reset\n"
                                   "\t\tmeta mark & 0x%08x == 0x%08x reject with tcp reset\n",
                                RULESET_MARK_MASK | RULESET_MARK_FLAGS, RULESET_MARK_BASE | RULESET_MARK_QUEUED,
                                RULESET_MARK_MASK | RULESET_MARK_FLAGS, RULESET_MARK_BASE | RULESET_MARK_DECIDE);
                fprintf(f, "\t}\n");
        }
        for (size_t i = 0; i < want->n; i++) {
                const struct ruleset_policy *p = &want->v[i];
                char queued[128], refuse[128];

                ruleset_obj_name(OBJ_QUEUED, p->name, queued, sizeof(queued));
                ruleset_obj_name(OBJ_REFUSE, p->name, refuse, sizeof(refuse));
                if (p->outbound) {
                        print_outbound(f, o, p, i, queued, refuse);
                        continue;
                }
                fprintf(f, "\tchain %s {\n\t\tmeta mark 0x%08x counter name \"%s\" ", refuse, ruleset_mark(i),
                        ruleset_obj_name(OBJ_HANDLED, p->name, name, sizeof(name)));
                if (o->monitor)
                        fprintf(f, "meta mark set 0x0 accept\n");
                else if (o->drop)
                        fprintf(f, "drop\n");
                else
                        fprintf(f, "reject with tcp reset\n");
                fprintf(f, "\t\tiif \"lo\" accept\n");
                fprintf(f, "\t\ttcp flags & syn == 0 counter name \"%s\" %s\n",
                        ruleset_obj_name(OBJ_ACKS, p->name, name, sizeof(name)), o->monitor ? "accept" : "drop");
                fprintf(f, "\t\tmeta mark set 0x%08x ", ruleset_queue_mark(i, false));
                print_queue(f, o, queued);
                fprintf(f, "\t}\n");
                fprintf(f, "\tchain %s {\n", ruleset_obj_name(OBJ_CHAIN, p->name, name, sizeof(name)));
                for (const struct policy_step *st = policy_steps; st < policy_steps + POLICY_STEPS; st++) {
                        if (!step_has_rule(p, st))
                                continue;
                        ruleset_obj_name(st->set, p->name, name, sizeof(name));
                        if (!st->deny && ruleset_want_sharded(o, &p->allow[fam_index(st->family)])) {
                                char mask[ADDR_STRLEN];
                                uint8_t m[16];

                                shard_mask(st->family, m);
                                addr_format(st->family, addr_from_bytes(st->family, m), mask);
                                fprintf(f, "\t\t%s saddr & %s vmap @%s\n", st->family == AF_INET ? "ip" : "ip6",
                                        mask, name);
                                continue;
                        }
                        fprintf(f, "\t\t%s saddr @%s %s%s\n", st->family == AF_INET ? "ip" : "ip6", name,
                                st->deny ? "goto " : "accept", st->deny ? refuse : "");
                }
                fprintf(f, "\t\tgoto %s\n\t}\n", refuse);
        }
        fprintf(f, "}\n");
}
