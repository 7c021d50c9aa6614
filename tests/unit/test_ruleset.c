/* tests/unit/test_ruleset.c: the nf_tables transaction, decoded back with
 * libnftnl: the native queue and xt NFQUEUE encodings, verdict rules, only
 * our own table named, and reloads that send only the difference. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "ruleset.h"

static uint16_t port25 = 25;

static void policy_init(struct ruleset_policy *p, const char *name, const char *const *prefixes)
{
        memset(p, 0, sizeof(*p));
        p->name = name;
        p->ports = &port25;
        p->nports = 1;
        range_list_init(&p->allow[FAM_V4], AF_INET);
        range_list_init(&p->allow[FAM_V6], AF_INET6);
        range_list_init(&p->deny[FAM_V4], AF_INET);
        range_list_init(&p->deny[FAM_V6], AF_INET6);
        for (const char *const *t = prefixes; *t; t++) {
                struct prefix px;

                assert_int_equal(prefix_parse(*t, &px, NULL), 0);
                assert_int_equal(range_list_add(&p->allow[fam_index(px.family)], prefix_range(&px)), 0);
        }
        range_list_merge(&p->allow[FAM_V4]);
        range_list_merge(&p->allow[FAM_V6]);
}

static void policy_fini(struct ruleset_policy *p)
{
        for (int f = 0; f < FAM_N; f++) {
                range_list_free(&p->allow[f]);
                range_list_free(&p->deny[f]);
        }
}

struct seen {
        size_t rules;
        size_t queue_exprs, target_exprs, reject_exprs;
        uint16_t qnum, qtotal, qflags;
        uint16_t xt_num, xt_total, xt_flags;
        uint32_t xt_rev;
        size_t foreign;         /* messages naming a table that is not ours */
        size_t newelem_msgs, delelem_msgs;
        size_t deltable, newtable;
};

static int expr_cb(struct nftnl_expr *e, void *data)
{
        struct seen *s = data;
        const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

        if (strcmp(name, "queue") == 0) {
                s->queue_exprs++;
                s->qnum = nftnl_expr_get_u16(e, NFTNL_EXPR_QUEUE_NUM);
                s->qtotal = nftnl_expr_get_u16(e, NFTNL_EXPR_QUEUE_TOTAL);
                s->qflags = nftnl_expr_get_u16(e, NFTNL_EXPR_QUEUE_FLAGS);
        } else if (strcmp(name, "target") == 0) {
                uint32_t len = 0;
                const uint16_t *info = nftnl_expr_get(e, NFTNL_EXPR_TG_INFO, &len);

                s->target_exprs++;
                assert_string_equal(nftnl_expr_get_str(e, NFTNL_EXPR_TG_NAME), "NFQUEUE");
                s->xt_rev = nftnl_expr_get_u32(e, NFTNL_EXPR_TG_REV);
                assert_true(len >= 6);
                s->xt_num = info[0];
                s->xt_total = info[1];
                s->xt_flags = info[2];
        } else if (strcmp(name, "reject") == 0) {
                s->reject_exprs++;
                assert_int_equal(nftnl_expr_get_u32(e, NFTNL_EXPR_REJECT_TYPE), NFT_REJECT_TCP_RST);
        }
        return 0;
}

static void decode(const void *buf, size_t len, const char *table, struct seen *s)
{
        const struct nlmsghdr *nlh = buf;
        int rem = (int)len;

        memset(s, 0, sizeof(*s));
        for (; mnl_nlmsg_ok(nlh, rem); nlh = mnl_nlmsg_next(nlh, &rem)) {
                uint16_t type = nlh->nlmsg_type & 0xff;
                struct nlattr *tb;
                const char *t = NULL;

                if ((nlh->nlmsg_type >> 8) != NFNL_SUBSYS_NFTABLES)
                        continue;       /* batch begin/end */
                /* every nf_tables message names the table first */
                tb = mnl_nlmsg_get_payload_offset(nlh, sizeof(struct nfgenmsg));
                if (mnl_attr_get_type(tb) == 1 /* NFTA_*_TABLE or NFTA_TABLE_NAME */)
                        t = mnl_attr_get_str(tb);
                if (!t || strcmp(t, table) != 0)
                        s->foreign++;
                if (type == NFT_MSG_NEWRULE) {
                        struct nftnl_rule *r = nftnl_rule_alloc();

                        assert_int_equal(nftnl_rule_nlmsg_parse(nlh, r), 0);
                        nftnl_expr_foreach(r, expr_cb, s);
                        nftnl_rule_free(r);
                        s->rules++;
                } else if (type == NFT_MSG_NEWSETELEM) {
                        s->newelem_msgs++;
                } else if (type == NFT_MSG_DELSETELEM) {
                        s->delelem_msgs++;
                } else if (type == NFT_MSG_DELTABLE) {
                        s->deltable++;
                } else if (type == NFT_MSG_NEWTABLE) {
                        s->newtable++;
                }
        }
        assert_int_equal(rem, 0);
}

static const char *const gfi[] = { "52.208.1.91", "52.58.249.172", "52.18.79.254", "52.31.67.15",
                                   "2001:db8:25::/48", NULL };

static void test_native_queue_encoding(void **state)
{
        struct ruleset_policy p;
        struct ruleset_view ps = { .v = &p, .n = 1 };
        struct ruleset_opts o = { .table = "mxlock", .queue = 25, .queues = 1, .native_queue = true };
        struct ruleset_stats st;
        struct seen s;
        void *buf;
        size_t len;

        policy_init(&p, "inbound-smtp", gfi);
        assert_int_equal(ruleset_build(&o, &ps, NULL, NULL, NULL, &buf, &len, &st), 0);
        decode(buf, len, "mxlock", &s);
        /* the catch-all queue only: empty deny sets get no rule */
        assert_int_equal(s.queue_exprs, 1);
        assert_int_equal(s.target_exprs, 0);
        assert_int_equal(s.qnum, 25);
        assert_int_equal(s.qtotal, 1);
        assert_int_equal(s.qflags, 0);          /* failure = closed: no bypass */
        assert_int_equal(s.reject_exprs, 1);    /* the verdict rule; offender rules come with offenders */
        /* input: the SYN test, the ACK-without-connection test; forward:
         * the same for DNAT'd connections; syn: the port and the original
         * port; the policy: allow4, allow6 (empty sets get none), goto
         * refuse; refuse: the verdict rule, lo, the ACK drop, the queue */
        assert_int_equal(s.rules, 2 + 2 + 2 + 3 + 4);
        assert_int_equal(s.foreign, 0);
        free(buf);

        /* a deny entry brings its rule (to the same refuse chain) */
        {
                struct prefix px;

                assert_int_equal(prefix_parse("52.208.1.0/24", &px, NULL), 0);
                assert_int_equal(range_list_add(&p.deny[FAM_V4], prefix_range(&px)), 0);
        }
        assert_int_equal(ruleset_build(&o, &ps, NULL, NULL, NULL, &buf, &len, &st), 0);
        decode(buf, len, "mxlock", &s);
        assert_int_equal(s.queue_exprs, 1);
        assert_int_equal(s.rules, 2 + 2 + 2 + 4 + 4);
        free(buf);

        o.bypass = true;
        o.queue = 100;
        o.queues = 2;
        assert_int_equal(ruleset_build(&o, &ps, NULL, NULL, NULL, &buf, &len, &st), 0);
        decode(buf, len, "mxlock", &s);
        assert_int_equal(s.qnum, 100);
        assert_int_equal(s.qtotal, 2);
        assert_int_equal(s.qflags, NFT_QUEUE_FLAG_BYPASS | NFT_QUEUE_FLAG_CPU_FANOUT);
        free(buf);
        policy_fini(&p);
}

static void test_xt_nfqueue_encoding(void **state)
{
        struct ruleset_policy p;
        struct ruleset_view ps = { .v = &p, .n = 1 };
        struct ruleset_opts o = { .table = "mxl", .queue = 7, .queues = 1, .bypass = true, .drop = true };
        struct seen s;
        void *buf;
        size_t len;

        policy_init(&p, "p", gfi);
        assert_int_equal(ruleset_build(&o, &ps, NULL, NULL, NULL, &buf, &len, NULL), 0);
        decode(buf, len, "mxl", &s);
        assert_int_equal(s.queue_exprs, 0);
        assert_int_equal(s.target_exprs, 1);
        assert_int_equal(s.xt_rev, 3);
        assert_int_equal(s.xt_num, 7);
        assert_int_equal(s.xt_total, 1);
        assert_int_equal(s.xt_flags, 0x01);     /* NFQ_FLAG_BYPASS */
        assert_int_equal(s.reject_exprs, 0);    /* action = drop */
        assert_int_equal(s.foreign, 0);
        /* a fresh install replaces any table of ours: add, delete, add */
        assert_int_equal(s.newtable, 2);
        assert_int_equal(s.deltable, 1);
        free(buf);
        policy_fini(&p);
}

/* An outbound policy: the output chains appear only with it; its queue
 * rule bypasses (to outfail) whatever failure says; its refusal is a reset
 * even under action = drop, and with failure = closed outfail resets what
 * nobody answered; the printed ruleset says the same. */
static void test_outbound_encoding(void **state)
{
        static const char *const smarthost[] = { "198.51.100.25", "2001:db8:25::25", NULL };
        static const uint32_t uids[] = { 102, 4242 };
        struct ruleset_policy v[2];
        struct ruleset_view in = { .v = v, .n = 1 }, both = { .v = v, .n = 2 };
        struct ruleset_opts o = { .table = "mxl", .queue = 7, .queues = 1, .drop = true, .native_queue = true };
        struct seen s_in, s_both, s_diff;
        char *text = NULL;
        size_t tlen = 0;
        FILE *f;
        void *buf;
        size_t len;

        policy_init(&v[0], "in", gfi);
        policy_init(&v[1], "out", smarthost);
        v[1].outbound = true;
        v[1].uids = uids;
        v[1].nuids = 2;

        assert_int_equal(ruleset_build(&o, &in, NULL, NULL, NULL, &buf, &len, NULL), 0);
        decode(buf, len, "mxl", &s_in);
        free(buf);
        assert_int_equal(ruleset_build(&o, &both, NULL, NULL, NULL, &buf, &len, NULL), 0);
        decode(buf, len, "mxl", &s_both);
        free(buf);
        assert_int_equal(s_in.reject_exprs, 0);         /* inbound: action = drop */
        /* outbound: refuse_out's reset and outfail's two */
        assert_int_equal(s_both.reject_exprs, 3);
        assert_int_equal(s_both.queue_exprs, 2);
        assert_int_equal(s_both.qflags & NFT_QUEUE_FLAG_BYPASS, NFT_QUEUE_FLAG_BYPASS);
        assert_int_equal(s_both.foreign, 0);
        /* adding the section to a table without it: a diff, not a rebuild */
        assert_int_equal(ruleset_build(&o, &both, &in, NULL, NULL, &buf, &len, NULL), 0);
        decode(buf, len, "mxl", &s_diff);
        free(buf);
        assert_int_equal(s_diff.deltable, 0);
        assert_int_equal(s_diff.reject_exprs, 3);

        f = open_memstream(&text, &tlen);
        ruleset_print(f, &o, &both);
        fclose(f);
        assert_non_null(strstr(text, "type filter hook output priority -10;"));
        assert_non_null(strstr(text, "chain outsyn {\n\t\toif \"lo\" accept\n\t\ttcp dport @ports_out goto policy_out"));
        assert_non_null(strstr(text, "meta skuid @users_out ip daddr @allow4_out accept"));
        assert_non_null(strstr(text, "meta skuid @users_out ip6 daddr @allow6_out accept"));
        assert_non_null(strstr(text, "elements = { 102, 4242 }"));
        assert_non_null(strstr(text, "queue num 7 bypass"));
        assert_non_null(strstr(text, "meta mark & 0xfffff000 == 0x6d788000 reject with tcp reset"));
        assert_null(strstr(text, "tcp dport @ports_out goto policy_out\n\t\tmeta l4proto"));
        free(text);

        text = NULL;
        f = open_memstream(&text, &tlen);
        ruleset_print(f, &o, &in);
        fclose(f);
        assert_null(strstr(text, "hook output"));
        free(text);
        policy_fini(&v[0]);
        policy_fini(&v[1]);
}

static void test_reload_sends_only_the_difference(void **state)
{
        static const char *const before[] = { "192.0.2.0/24", "198.51.100.0/24", "203.0.113.7", NULL };
        static const char *const after[] = { "192.0.2.0/24", "198.51.100.0/25", "203.0.113.7", NULL };
        struct ruleset_policy a, b;
        struct ruleset_view have = { .v = &a, .n = 1 }, want = { .v = &b, .n = 1 };
        struct ruleset_opts o = { .table = "mxlock", .queue = 25, .queues = 1 };
        struct ruleset_stats st;
        struct seen s;
        void *buf;
        size_t len;

        policy_init(&a, "inbound-smtp", before);
        policy_init(&b, "inbound-smtp", after);
        assert_int_equal(ruleset_build(&o, &want, &have, NULL, NULL, &buf, &len, &st), 0);
        decode(buf, len, "mxlock", &s);
        /* 198.51.100.0/24 out (start + end), 198.51.100.0/25 in (start + end) */
        assert_int_equal(st.elements_deleted, 2);
        assert_int_equal(st.elements_added, 2);
        assert_int_equal(s.deltable, 0);
        assert_int_equal(s.newtable, 0);
        assert_int_equal(s.foreign, 0);
        free(buf);

        /* nothing changed: no element at all */
        assert_int_equal(ruleset_build(&o, &have, &have, NULL, NULL, &buf, &len, &st), 0);
        assert_int_equal(st.elements_deleted, 0);
        assert_int_equal(st.elements_added, 0);
        free(buf);

        /* port 587 added, 25 kept: one port element, no address */
        {
                static uint16_t ports[] = { 25, 587 };

                policy_fini(&b);
                policy_init(&b, "inbound-smtp", before);
                b.ports = ports;
                b.nports = 2;
                assert_int_equal(ruleset_build(&o, &want, &have, NULL, NULL, &buf, &len, &st), 0);
                assert_int_equal(st.elements_deleted, 0);
                assert_int_equal(st.elements_added, 1);
                free(buf);
                /* and back: one deleted */
                assert_int_equal(ruleset_build(&o, &have, &want, NULL, NULL, &buf, &len, &st), 0);
                assert_int_equal(st.elements_deleted, 1);
                assert_int_equal(st.elements_added, 0);
                free(buf);
        }
        policy_fini(&a);
        policy_fini(&b);
}

static void test_interval_end_at_top_of_space(void **state)
{
        static const char *const top[] = { "255.255.255.0/24", "0.0.0.0/8", NULL };
        struct ruleset_policy p;
        struct ruleset_view ps = { .v = &p, .n = 1 };
        struct ruleset_opts o = { .table = "mxlock", .queue = 25, .queues = 1 };
        struct ruleset_stats st;
        void *buf;
        size_t len;

        policy_init(&p, "x", top);
        assert_int_equal(ruleset_build(&o, &ps, NULL, NULL, NULL, &buf, &len, &st), 0);
        /* 0.0.0.0/8: start + end; 255.255.255.0/24: start only (no end past the top) */
        assert_int_equal(st.elements_added, 3 + 1);
        free(buf);
        policy_fini(&p);
}

static void test_large_set_splits_messages(void **state)
{
        struct ruleset_policy p;
        struct ruleset_view ps = { .v = &p, .n = 1 };
        struct ruleset_opts o = { .table = "mxlock", .queue = 25, .queues = 1 };
        struct ruleset_stats st;
        struct seen s;
        void *buf;
        size_t len;
        static const char *const none[] = { NULL };

        policy_init(&p, "big", none);
        for (uint32_t i = 0; i < 100000; i++) {
                struct range r = { .lo = (addr128)(0x0a000000u + i * 4), .hi = (addr128)(0x0a000000u + i * 4 + 1) };
                assert_int_equal(range_list_add(&p.allow[FAM_V4], r), 0);
        }
        range_list_merge(&p.allow[FAM_V4]);
        assert_int_equal(ruleset_build(&o, &ps, NULL, NULL, NULL, &buf, &len, &st), 0);
        decode(buf, len, "mxlock", &s);
        assert_int_equal(st.elements_added, 200000 + 1);
        assert_true(s.newelem_msgs > 20);       /* split into messages of bounded size */
        free(buf);
        policy_fini(&p);
}

/* What a transaction does to which object, one "TYPE NAME" per line:
 * NEWSET/DELSET/NEWCHAIN/DELCHAIN/NEWELEM/DELELEM and the set or chain. */
static void actions(const void *buf, size_t len, char *out, size_t outlen)
{
        const struct nlmsghdr *nlh = buf;
        int rem = (int)len;
        size_t used = 0;

        out[0] = '\0';
        for (; mnl_nlmsg_ok(nlh, rem); nlh = mnl_nlmsg_next(nlh, &rem)) {
                static const struct { uint16_t type; const char *name; uint16_t attr; } kinds[] = {
                        { NFT_MSG_NEWSET, "NEWSET", NFTA_SET_NAME },
                        { NFT_MSG_DELSET, "DELSET", NFTA_SET_NAME },
                        { NFT_MSG_NEWCHAIN, "NEWCHAIN", NFTA_CHAIN_NAME },
                        { NFT_MSG_DELCHAIN, "DELCHAIN", NFTA_CHAIN_NAME },
                        { NFT_MSG_NEWSETELEM, "NEWELEM", NFTA_SET_ELEM_LIST_SET },
                        { NFT_MSG_DELSETELEM, "DELELEM", NFTA_SET_ELEM_LIST_SET },
                };
                const struct nlattr *a;

                if ((nlh->nlmsg_type >> 8) != NFNL_SUBSYS_NFTABLES)
                        continue;
                for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
                        if ((nlh->nlmsg_type & 0xff) != kinds[k].type)
                                continue;
                        mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
                                if (mnl_attr_get_type(a) == kinds[k].attr)
                                        used += (size_t)snprintf(out + used, outlen - used, "%s %s\n",
                                                                 kinds[k].name, mnl_attr_get_str(a));
                        }
                }
                assert_true(used < outlen);
        }
}

static int count_lines(const char *text, const char *line)
{
        int n = 0;

        for (const char *p = text; (p = strstr(p, line)); p += strlen(line))
                n++;
        return n;
}

/* Sharded lists: a fresh install builds a map and a set and chain per
 * part; a reload touches only the parts that changed; a part covered whole
 * is an accept in the map; a change of form replaces the objects. */
static void test_sharded_lists(void **state)
{
        static const char *const before[] = { "10.1.0.0/16", "10.2.0.0/16", "52.208.1.91", "52.58.249.172",
                                              "198.51.100.0/24", "2001:db8:25::/48", "2a01:111:f400::/48", NULL };
        static const char *const after[] = { "10.1.0.0/16", "10.2.0.0/17", "52.208.1.91", "52.58.249.172",
                                             "198.51.100.0/24", "2001:db8:25::/48", "2a01:111:f400::/48", NULL };
        static const char *const whole[] = { "10.0.0.0/8", "52.208.1.91", "52.58.249.172",
                                             "2001:db8:25::/48", "2a01:111:f400::/48", NULL };
        static const char *const fewer[] = { "52.208.1.91", "52.58.249.172", "2001:db8:25::/48",
                                             "2a01:111:f400::/48", NULL };
        struct ruleset_policy a, b;
        struct ruleset_view have = { .v = &a, .n = 1 }, want = { .v = &b, .n = 1 };
        struct ruleset_opts o = { .table = "mxlock", .queue = 25, .queues = 1, .shard_min = 2 };
        struct ruleset_stats st;
        char act[16384];
        struct ruleset_layout la = { 0 }, lb = { 0 };
        void *buf;
        size_t len;

        policy_init(&a, "p", before);
        assert_int_equal(ruleset_build(&o, &have, NULL, NULL, &la, &buf, &len, &st), 0);
        assert_true(la.v[0].sharded[FAM_V4] && la.v[0].sharded[FAM_V6]);
        actions(buf, len, act, sizeof(act));
        assert_non_null(strstr(act, "NEWSET allow4_p\n"));     /* the map */
        assert_non_null(strstr(act, "NEWSET allow4_p_0a\n"));
        assert_non_null(strstr(act, "NEWCHAIN allow4_p_0a\n"));
        assert_non_null(strstr(act, "NEWELEM allow4_p_0a\n"));
        assert_non_null(strstr(act, "NEWSET allow4_p_34\n"));
        assert_non_null(strstr(act, "NEWSET allow4_p_c6\n"));
        assert_non_null(strstr(act, "NEWSET allow6_p_200\n"));
        assert_non_null(strstr(act, "NEWSET allow6_p_2a0\n"));
        assert_int_equal(count_lines(act, "NEWELEM allow4_p\n"), 3);  /* one map element per part */
        free(buf);

        /* 10.2.0.0/16 becomes 10.2.0.0/17: only part 0a's set changes */
        policy_init(&b, "p", after);
        assert_int_equal(ruleset_build(&o, &want, &have, &la, NULL, &buf, &len, &st), 0);
        actions(buf, len, act, sizeof(act));
        assert_string_equal(act, "DELELEM allow4_p_0a\nNEWELEM allow4_p_0a\n"
                                 "DELELEM offenders4_p\nDELELEM offenders6_p\n");
        assert_int_equal(st.elements_deleted, 2);       /* 10.2.0.0/16: start and end */
        assert_int_equal(st.elements_added, 2);         /* 10.2.0.0/17 */
        free(buf);

        /* 10.0.0.0/8 covers part 0a whole: its set and chain go, the map accepts it;
         * 198.51.100.0/24 is gone: part c6 goes */
        policy_fini(&b);
        policy_init(&b, "p", whole);
        assert_int_equal(ruleset_build(&o, &want, &have, &la, NULL, &buf, &len, &st), 0);
        actions(buf, len, act, sizeof(act));
        assert_non_null(strstr(act, "DELCHAIN allow4_p_0a\nDELSET allow4_p_0a\n"));
        assert_non_null(strstr(act, "DELCHAIN allow4_p_c6\nDELSET allow4_p_c6\n"));
        assert_int_equal(count_lines(act, "DELELEM allow4_p\n"), 2);
        assert_int_equal(count_lines(act, "NEWELEM allow4_p\n"), 1);
        assert_null(strstr(act, "allow4_p_34"));
        assert_null(strstr(act, "allow6_p"));
        free(buf);

        /* below shard_min (one IPv4 range): the map and its parts give way to a plain set */
        policy_fini(&b);
        policy_init(&b, "p", fewer);
        o.shard_min = 3;
        assert_int_equal(ruleset_build(&o, &want, &have, &la, &lb, &buf, &len, &st), 0);
        assert_false(lb.v[0].sharded[FAM_V4]);
        assert_false(lb.v[0].sharded[FAM_V6]);
        actions(buf, len, act, sizeof(act));
        assert_non_null(strstr(act, "DELSET allow4_p\n"));
        assert_non_null(strstr(act, "DELCHAIN allow4_p_0a\nDELSET allow4_p_0a\n"));
        assert_non_null(strstr(act, "DELCHAIN allow4_p_34\nDELSET allow4_p_34\n"));
        assert_non_null(strstr(act, "DELSET allow6_p_2a0\n"));
        assert_true(strstr(act, "NEWSET allow4_p\n") > strstr(act, "DELSET allow4_p\n"));
        assert_non_null(strstr(act, "NEWELEM allow4_p\n"));
        free(buf);
        ruleset_layout_free(&la);
        ruleset_layout_free(&lb);
        policy_fini(&a);
        policy_fini(&b);
}

/* A range across parts is cut at their edges, and the parts it covers whole
 * are accepts: 9.255.255.0-11.0.0.255 is three parts. */
static void test_sharded_range_across_parts(void **state)
{
        static const char *const none[] = { "192.0.2.1", NULL };
        struct ruleset_policy p;
        struct ruleset_view ps = { .v = &p, .n = 1 };
        struct ruleset_opts o = { .table = "mxlock", .queue = 25, .queues = 1, .shard_min = 1 };
        struct ruleset_stats st;
        char act[4096];
        void *buf;
        size_t len;

        policy_init(&p, "x", none);
        range_list_free(&p.allow[FAM_V4]);
        range_list_init(&p.allow[FAM_V4], AF_INET);
        assert_int_equal(range_list_add(&p.allow[FAM_V4],
                                        (struct range){ .lo = 0x09ffff00u, .hi = 0x0b0000ffu }), 0);
        assert_int_equal(ruleset_build(&o, &ps, NULL, NULL, NULL, &buf, &len, &st), 0);
        actions(buf, len, act, sizeof(act));
        assert_non_null(strstr(act, "NEWSET allow4_x_09\n"));
        assert_null(strstr(act, "NEWSET allow4_x_0a\n"));     /* covered whole */
        assert_non_null(strstr(act, "NEWSET allow4_x_0b\n"));
        assert_int_equal(count_lines(act, "NEWELEM allow4_x\n"), 3);
        /* 9.255.255.0 start + an end element at 10.0.0.0, 11.0.0.0 start +
         * 11.0.1.0 end, 3 map elements, port 25 */
        assert_int_equal(st.elements_added, 2 + 2 + 3 + 1);
        free(buf);
        policy_fini(&p);
}

/* A policy with sharded lists that a reload drops takes its map, its
 * parts' sets and chains and its refuse chain with it. */
static void test_sharded_policy_removed(void **state)
{
        static const char *const a_pfx[] = { "10.1.0.0/16", "52.208.1.91", NULL };
        static const char *const b_pfx[] = { "40.92.0.0/15", "52.100.0.0/15", "2a01:111:f400::/48", NULL };
        struct ruleset_policy two[2], one;
        struct ruleset_view have = { .v = two, .n = 2 }, want = { .v = &one, .n = 1 };
        struct ruleset_opts o = { .table = "mxlock", .queue = 25, .queues = 1, .shard_min = 2 };
        char act[16384];
        struct ruleset_layout l2 = { 0 };
        void *buf;
        size_t len;

        policy_init(&two[0], "a", a_pfx);
        policy_init(&two[1], "b", b_pfx);
        assert_int_equal(ruleset_build(&o, &have, NULL, NULL, &l2, &buf, &len, NULL), 0);
        free(buf);
        assert_true(l2.v[1].sharded[FAM_V4]);
        assert_false(l2.v[1].sharded[FAM_V6]);   /* one range: below shard_min */
        policy_init(&one, "a", a_pfx);
        assert_int_equal(ruleset_build(&o, &want, &have, &l2, NULL, &buf, &len, NULL), 0);
        actions(buf, len, act, sizeof(act));
        assert_non_null(strstr(act, "DELCHAIN policy_b\nDELCHAIN refuse_b\nDELSET allow4_b\n"));
        assert_non_null(strstr(act, "DELCHAIN allow4_b_28\nDELSET allow4_b_28\n"));
        assert_non_null(strstr(act, "DELCHAIN allow4_b_34\nDELSET allow4_b_34\n"));
        assert_non_null(strstr(act, "DELSET allow6_b\n"));
        assert_null(strstr(act, "DELSET allow4_a"));
        assert_null(strstr(act, "NEWSET"));
        free(buf);
        ruleset_layout_free(&l2);
        policy_fini(&two[0]);
        policy_fini(&two[1]);
        policy_fini(&one);
}

/* The layout an apply returns is what the next diff needs: without it,
 * have's form is taken to be what the options make of it, which is right
 * while they stay and wrong once shard_min moves. */
static void test_layout_handed_back(void **state)
{
        static const char *const pfx[] = { "10.1.0.0/16", "52.208.1.91", "2001:db8:25::/48", NULL };
        static const char *const pfx2[] = { "10.1.0.0/17", "52.208.1.91", "2001:db8:25::/48", NULL };
        struct ruleset_policy a, b;
        struct ruleset_view have = { .v = &a, .n = 1 }, want = { .v = &b, .n = 1 };
        struct ruleset_opts o = { .table = "mxlock", .queue = 25, .queues = 1, .shard_min = 2 };
        struct ruleset_layout la = { 0 };
        void *buf1, *buf2;
        size_t len1, len2;

        policy_init(&a, "p", pfx);
        policy_init(&b, "p", pfx2);
        assert_int_equal(ruleset_build(&o, &have, NULL, NULL, &la, &buf1, &len1, NULL), 0);
        free(buf1);
        assert_int_equal(la.n, 1);
        assert_true(la.v[0].sharded[FAM_V4]);
        assert_false(la.v[0].sharded[FAM_V6]);
        /* same options: the recorded layout and none give the same batch */
        assert_int_equal(ruleset_build(&o, &want, &have, &la, NULL, &buf1, &len1, NULL), 0);
        assert_int_equal(ruleset_build(&o, &want, &have, NULL, NULL, &buf2, &len2, NULL), 0);
        assert_int_equal(len1, len2);
        assert_memory_equal(buf1, buf2, len1);
        free(buf1);
        free(buf2);
        /* shard_min moved: only the recorded layout knows the map must go */
        o.shard_min = 0;
        assert_int_equal(ruleset_build(&o, &want, &have, &la, NULL, &buf1, &len1, NULL), 0);
        assert_int_equal(ruleset_build(&o, &want, &have, NULL, NULL, &buf2, &len2, NULL), 0);
        assert_true(len1 != len2 || memcmp(buf1, buf2, len1) != 0);
        {
                char act[4096];

                actions(buf1, len1, act, sizeof(act));
                assert_non_null(strstr(act, "DELSET allow4_p\n"));
                assert_non_null(strstr(act, "DELCHAIN allow4_p_0a\nDELSET allow4_p_0a\n"));
                actions(buf2, len2, act, sizeof(act));
                assert_null(strstr(act, "DELSET allow4_p\n"));
        }
        free(buf1);
        free(buf2);
        ruleset_layout_free(&la);
        assert_null(la.v);
        policy_fini(&a);
        policy_fini(&b);
}

static void test_marks(void **state)
{
        assert_int_equal(ruleset_mark_policy(ruleset_mark(0)), 0);
        assert_int_equal(ruleset_mark_policy(ruleset_mark(41)), 41);
        assert_int_equal(ruleset_mark_policy(0), -1);
        assert_int_equal(ruleset_mark_policy(0x12340001), -1);
        assert_int_equal(ruleset_mark_policy(RULESET_MARK_BASE), -1);
        /* the marks set before the queue are not verdicts, and name their policy */
        {
                bool decide = true;

                assert_int_equal(ruleset_mark_policy(ruleset_queue_mark(3, false)), -1);
                assert_int_equal(ruleset_mark_policy(ruleset_queue_mark(3, true)), -1);
                assert_int_equal(ruleset_queue_mark_policy(ruleset_queue_mark(3, false), &decide), 3);
                assert_false(decide);
                assert_int_equal(ruleset_queue_mark_policy(ruleset_queue_mark(4094, true), &decide), 4094);
                assert_true(decide);
                assert_int_equal(ruleset_queue_mark_policy(ruleset_mark(3), &decide), -1);
                assert_int_equal(ruleset_queue_mark_policy(0, &decide), -1);
                assert_int_equal(ruleset_queue_mark_policy(RULESET_MARK_BASE | RULESET_MARK_QUEUED, &decide), -1);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_native_queue_encoding),
                cmocka_unit_test(test_xt_nfqueue_encoding),
                cmocka_unit_test(test_outbound_encoding),
                cmocka_unit_test(test_reload_sends_only_the_difference),
                cmocka_unit_test(test_interval_end_at_top_of_space),
                cmocka_unit_test(test_large_set_splits_messages),
                cmocka_unit_test(test_sharded_lists),
                cmocka_unit_test(test_sharded_range_across_parts),
                cmocka_unit_test(test_sharded_policy_removed),
                cmocka_unit_test(test_layout_handed_back),
                cmocka_unit_test(test_marks),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
