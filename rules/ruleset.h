/* rules/ruleset.h: the kernel side: mxlockd's own `table inet NAME` with
 * per-policy interval sets, counters and chains, built and replaced as one
 * atomic nf_tables transaction (libnftnl + libmnl), and printed in nft
 * syntax. Never touches any other table. It owns the netlink socket, the
 * table's name and the options in force (struct ruleset, the handle) and
 * the names of every kernel object; it reads the policies through a small
 * view (struct ruleset_view) the caller fills, and returns how it laid the
 * allowed lists out (struct ruleset_layout) for the caller to keep and
 * hand back. Builds and returns errors; the caller logs. */
#ifndef MXLOCK_RULESET_H
#define MXLOCK_RULESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "prefix.h"

#define RULESET_MARK_BASE 0x6d780000u  /* "mx": packet marks on our verdicts */
#define RULESET_MARK_MASK 0xffff0000u
#define RULESET_MARK_QUEUED 0x8000u    /* queued: refused by the kernel, to be answered and recorded */
#define RULESET_MARK_DECIDE 0x4000u    /* queued by the interim table: mxlockd decides */
#define RULESET_MARK_FLAGS 0xf000u
#define RULESET_MARK_INDEX 0x0fffu     /* policy index + 1 */

struct ruleset_opts {
        const char *table;
        uint16_t queue;         /* first queue number */
        uint16_t queues;        /* number of queues (fanout when > 1) */
        bool bypass;            /* failure = open: accept while nobody reads the queue */
        bool monitor;           /* mode = monitor: marked packets are accepted */
        bool drop;              /* action = drop (else reject with tcp reset) */
        bool native_queue;      /* native nft queue expression, else xt NFQUEUE via nft_compat */
        size_t shard_min;       /* allowed lists of at least this many ranges are sharded; 0: never */
};

/* What the kernel side reads of one policy. The caller fills it (see
 * src/policy.c: a policy_set carries one) and keeps what it points to
 * alive while the view is in use; the lists are borrowed, never freed or
 * changed here. A list that is the very same array as the one installed
 * before (same v, same n) is known unchanged without a compare. */
struct ruleset_policy {
        const char *name;                /* [a-z0-9_-], names the policy's kernel objects */
        bool outbound;                   /* an outbound policy: allow is of destinations,
                                          * uids the local users that may connect out */
        const uint32_t *uids;            /* outbound, sorted */
        size_t nuids;
        const uint16_t *ports;           /* the locked ports */
        size_t nports;
        struct range_list allow[FAM_N];  /* merged, per family (FAM_V4, FAM_V6) */
        struct range_list deny[FAM_N];   /* merged */
};

/* The policies, in order: a policy's index is the one its marks carry. */
struct ruleset_view {
        struct ruleset_policy *v;
        size_t n;
};

/* How the allowed lists went to the kernel, per policy of the view an
 * apply installed (same order): plain interval sets or sharded. A reload
 * diffs against it, so the caller keeps it with the view it describes and
 * hands both back as `have`. */
struct ruleset_layout {
        size_t n;
        struct ruleset_policy_layout {
                bool sharded[FAM_N];
        } *v;
};
void ruleset_layout_free(struct ruleset_layout *l);

/* Sharding. The kernel's interval sets keep, besides their tree, a sorted
 * array for lookups that every commit touching the set rebuilds whole: a
 * one-element change to a 1M-range set costs a walk of all of it. A big
 * allowed list therefore goes to the kernel as one interval set per part
 * of the address space (the first RULESET_SHARD_BITS4 bits of an IPv4
 * address, RULESET_SHARD_BITS6 of IPv6), each behind its own chain, with
 * a verdict map keyed by the masked source address to pick the part:
 *     ip saddr & 255.0.0.0 vmap @allow4_P   { 52.0.0.0 : jump allow4_P_34, ... }
 *     chain allow4_P_34 { ip saddr @allow4_P_34 accept }
 * A part the list covers whole is a plain `accept` in the map. A reload
 * then commits only the parts that changed, and an allowed SYN searches
 * one small set. */
#define RULESET_SHARD_BITS4 8
#define RULESET_SHARD_BITS6 12

/* Would this allowed list go to the kernel sharded under these options? */
static inline bool ruleset_want_sharded(const struct ruleset_opts *o, const struct range_list *l)
{
        return o->shard_min > 0 && l->n >= o->shard_min;
}

/* What the last transaction sent, for logs and benchmarks. */
struct ruleset_stats {
        size_t messages;
        size_t elements_added;    /* interval elements (a range is 1 or 2) */
        size_t elements_deleted;
        size_t bytes;
};

/* The verdict mark for the policy with this index. */
static inline uint32_t ruleset_mark(size_t policy_index)
{
        return RULESET_MARK_BASE | (uint32_t)(policy_index + 1);
}

/* The policy index a verdict mark encodes, or -1 when it is not one. */
static inline long ruleset_mark_policy(uint32_t mark)
{
        if ((mark & RULESET_MARK_MASK) != RULESET_MARK_BASE || (mark & RULESET_MARK_FLAGS) ||
            (mark & RULESET_MARK_INDEX) == 0)
                return -1;
        return (long)(mark & RULESET_MARK_INDEX) - 1;
}

/* The mark a queued packet carries: the kernel decided its policy (so
 * mxlockd never needs the TCP header for it) and whether mxlockd must
 * still decide from its own lists (the interim table of a restore) or
 * only answer and record a refusal. */
static inline uint32_t ruleset_queue_mark(size_t policy_index, bool decide)
{
        return RULESET_MARK_BASE | (decide ? RULESET_MARK_DECIDE : RULESET_MARK_QUEUED) |
               (uint32_t)(policy_index + 1);
}

/* The policy index a queued packet's mark encodes (and in *ret_decide
 * whether mxlockd must decide), or -1 when the mark is not one. */
static inline long ruleset_queue_mark_policy(uint32_t mark, bool *ret_decide)
{
        uint32_t flags = mark & RULESET_MARK_FLAGS;

        if ((mark & RULESET_MARK_MASK) != RULESET_MARK_BASE ||
            (flags != RULESET_MARK_QUEUED && flags != RULESET_MARK_DECIDE) || (mark & RULESET_MARK_INDEX) == 0)
                return -1;
        *ret_decide = flags == RULESET_MARK_DECIDE;
        return (long)(mark & RULESET_MARK_INDEX) - 1;
}

/* The handle: a netlink socket for nf_tables, the table's name and the
 * options in force. */
struct ruleset;

/* Open a handle for the table o->table with options o (copied). Returns 0
 * or negative errno. */
int ruleset_open(const struct ruleset_opts *o, struct ruleset **ret);
void ruleset_close(struct ruleset *h);
/* The socket's fd (for nf_tables event subscription by the caller). */
int ruleset_fd(const struct ruleset *h);
/* The options in force (their table is the handle's). */
const struct ruleset_opts *ruleset_options(const struct ruleset *h);
/* New options for the next transactions; the table stays the handle's. */
void ruleset_set_options(struct ruleset *h, const struct ruleset_opts *o);

/* Bring the kernel to the state for `want`, atomically, under the
 * handle's options. With `have` NULL, any existing table of that name is
 * deleted and rebuilt in the same transaction; with `have` (what the
 * previous apply installed, and have_layout what it returned; NULL: as
 * these options would lay have out), only the set elements that differ
 * are sent, and of a sharded list only the parts that changed. On success
 * *ret_layout (when not NULL) gets want's layout, to be freed with
 * ruleset_layout_free. Returns 0 or a negative errno; on error the kernel
 * state is unchanged. */
int ruleset_apply(struct ruleset *h, const struct ruleset_view *want, const struct ruleset_view *have,
                  const struct ruleset_layout *have_layout, struct ruleset_layout *ret_layout,
                  struct ruleset_stats *stats);

/* Build the same transaction without sending it (tests, benchmarks): the
 * batch's bytes, malloc'd, in *ret_buf. */
int ruleset_build(const struct ruleset_opts *o, const struct ruleset_view *want, const struct ruleset_view *have,
                  const struct ruleset_layout *have_layout, struct ruleset_layout *ret_layout, void **ret_buf,
                  size_t *ret_len, struct ruleset_stats *stats);

/* Delete the table (no error when it is not there). */
int ruleset_delete(struct ruleset *h);

/* Does the table exist? Returns 1, 0, or negative errno. */
int ruleset_table_exists(struct ruleset *h);

/* A policy's per-policy counters. */
enum ruleset_counter_kind {
        RULESET_COUNTER_QUEUED,         /* attempts the kernel sent to the queue */
        RULESET_COUNTER_HANDLED,        /* our verdicts that came back */
        RULESET_COUNTER_REPEAT,         /* refused in the kernel as repeat offenders */
        RULESET_COUNTER_ACKS,           /* segments without SYN turned away */
};

/* Read (and with reset, atomically zero) the packet count of a policy's
 * counter. Returns 0, -ENOENT when there is no such counter, or negative
 * errno. */
int ruleset_counter(struct ruleset *h, enum ruleset_counter_kind k, const char *policy, bool reset,
                    uint64_t *ret_packets);

/* A policy's address lists, as the kernel holds them. */
enum ruleset_list {
        RULESET_ALLOW,
        RULESET_DENY,
};

/* The name of the set that holds a policy's list of a family, for
 * messages (buf of NAME_MAX+1). */
const char *ruleset_list_name(const char *policy, enum ruleset_list l, int family, char *buf, size_t len);

/* Is the address in the policy's live list of its family (of a sharded
 * allowed list, in the part the map sends it to)? Returns 1, 0 or
 * negative errno. */
int ruleset_list_lookup(struct ruleset *h, const char *policy, enum ruleset_list l, int family, addr128 a);

/* Outbound: is the uid in the policy's live set of users (users_P)?
 * Returns 1, 0 (also when the set is missing) or negative errno. */
int ruleset_users_lookup(struct ruleset *h, const char *policy, uint32_t uid);

/* Count the ranges (interval start elements) of the policy's live list of
 * a family, or of all the parts of a sharded one (a part the map accepts
 * whole counts one). Returns 0, -ENOENT when there is no such table or
 * set, or negative errno. */
int ruleset_list_size(struct ruleset *h, const char *policy, enum ruleset_list l, int family, size_t *ret_n);

/* A digest of the live table's shape: its chains (with their hooks), the
 * rules of all but the early chain, its objects' names, its sets'
 * definitions, and the elements of every set but the offenders' and those
 * of allowed lists longer than RULESET_DIGEST_RANGES ranges. Taken right
 * after an install, it is what ruleset_intact compares with. Returns 0 or
 * negative errno (-ENOENT: no such table). */
#define RULESET_DIGEST_RANGES 4096
int ruleset_digest(struct ruleset *h, const struct ruleset_view *want, uint64_t *ret);

/* Is the table there, not dormant, and as installed: the same digest as
 * *shape (NULL: only there and active), and the long allowed lists
 * holding a few of their ranges (the first, the last, and one that
 * *cursor moves on at every call)? Returns 1, 0 (missing or tampered
 * with) or negative errno. */
int ruleset_intact(struct ruleset *h, const struct ruleset_view *want, const uint64_t *shape, size_t *cursor);

/* Put the table back after someone removed or altered it, in two
 * transactions: first a small one, the policies' ports, chains and rules
 * with no list at all, in which every attempt to a locked port goes to
 * mxlockd marked for a decision from the lists it holds (the port is
 * locked again within milliseconds, and the gateway's SYNs wait in the
 * queue rather than pass or fail), then the lists, as a reload would add
 * them. On success *ret_layout (when not NULL) gets want's layout.
 * Returns 0 or negative errno. */
int ruleset_restore(struct ruleset *h, const struct ruleset_view *want, struct ruleset_layout *ret_layout,
                    struct ruleset_stats *stats);

/* The ruleset generation of this network namespace: every commit, by
 * anyone, changes it. The daemon polls it to notice others' changes
 * instead of listening to nf_tables events: netlink's listener map is
 * host-wide, so one listener anywhere makes the kernel build an event per
 * set element for every commit in every namespace (measured: nft -f of
 * 1M elements 3 to 5 times slower). Returns 0 or negative errno. */
int ruleset_genid(struct ruleset *h, uint32_t *ret_id);

/* Repeat offenders: sources mxlockd has seen flood a policy are refused in
 * the kernel from a per-policy set whose elements carry their own packet
 * counter, so every attempt is still counted per source. */
int ruleset_offender_add(struct ruleset *h, const char *policy, int family, addr128 a);
/* Remove these sources (n of them, all of one family). */
int ruleset_offenders_del(struct ruleset *h, const char *policy, int family, const addr128 *a, size_t n);
/* Call cb with every offender of the policy and family and its packet count. */
int ruleset_offenders_read(struct ruleset *h, const char *policy, int family,
                           void (*cb)(int family, addr128 a, uint64_t packets, void *userdata), void *userdata);
/* The early (prerouting) chain's rules that refuse a policy's offenders
 * are there only while it has some, so that no other packet pays for
 * them: families[i] says, per policy of s, which families' rules to have
 * (RULESET_EARLY_V4 | RULESET_EARLY_V6). One transaction replaces them. */
#define RULESET_EARLY_V4 1
#define RULESET_EARLY_V6 2
int ruleset_early(struct ruleset *h, const struct ruleset_view *s, const uint8_t *families);
/* Empty both offender sets of a policy. */
int ruleset_offenders_flush(struct ruleset *h, const char *policy);

/* Every rule of any table in this namespace that matches a TCP/UDP
 * destination port to one value and DNATs (native nat or the xt DNAT
 * target): cb gets the table's family and name, the chain and the port.
 * Returns 0 or negative errno. */
int ruleset_dnat_rules(struct ruleset *h,
                       void (*cb)(const char *family, const char *table, const char *chain, uint16_t port,
                                  void *userdata),
                       void *userdata);

/* Does our table check the connections DNAT sends on (it is there, active,
 * and has its forward chain)? Returns 1, 0 or negative errno. */
int ruleset_covers_dnat(struct ruleset *h);

/* Best guess, without touching the ruleset, whether the running kernel has
 * the native queue expression. */
bool ruleset_probe_native_queue(void);

/* Print the ruleset for `want` in `nft -f` syntax. */
void ruleset_print(FILE *f, const struct ruleset_opts *o, const struct ruleset_view *want);

#endif
