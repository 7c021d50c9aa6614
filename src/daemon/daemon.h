/* src/daemon/daemon.h: what the modules share. Main creates one struct
 * daemon: the configuration and policy set in force (swapped by enforce.c
 * only), the kernel options and netlink socket, the kernel-facing calls
 * (struct daemon_kops, replaceable so that unit tests need neither netlink
 * nor root), the loop, and one member per module holding the state that
 * module owns (see each module's header). A module changes only its own
 * member; it reads the shared part and calls other modules' functions. */
#pragma once


#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "config.h"
#include "policy.h"
#include "queue.h"
#include "ruleset.h"
#include "daemon/accounting.h"
#include "daemon/audit_out.h"
#include "daemon/enforce.h"
#include "daemon/figures.h"
#include "daemon/offenders.h"
#include "daemon/outbound.h"
#include "daemon/packet.h"

#define MXLOCK_VERSION "0.1.0"
#define EXIT_CONFIG 2
#define QUEUE_MAXLEN 16384
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

#define STATUS_DUMP_MAX 65536   /* count kernel set elements only up to this */
#define TICK_MS 1000            /* the modules' per-second work */

struct loop;
struct control;

/* The kernel-facing calls of the packet path, offenders and accounting;
 * the same signatures as the ruleset and queue functions they stand for. */
struct daemon_kops {
        int (*receive)(struct queue *q, size_t max, void (*cb)(const struct queue_pkt *p, void *userdata),
                       void *userdata);
        int (*flush)(struct queue *q);
        void (*verdict)(struct queue *q, const struct queue_pkt *p, enum queue_verdict v, uint32_t mark);
        int (*counter)(struct ruleset *h, enum ruleset_counter_kind k, const char *policy, bool reset,
                       uint64_t *ret_packets);
        int (*offender_add)(struct ruleset *h, const char *policy, int family, addr128 a);
        int (*offenders_del)(struct ruleset *h, const char *policy, int family, const addr128 *a, size_t n);
        int (*offenders_read)(struct ruleset *h, const char *policy, int family,
                              void (*cb)(int family, addr128 a, uint64_t packets, void *userdata),
                              void *userdata);
        int (*offenders_flush)(struct ruleset *h, const char *policy);
        int (*early)(struct ruleset *h, const struct ruleset_view *s, const uint8_t *families);
};

/* The real kernel: ruleset_*() and queue_*(). */
extern const struct daemon_kops daemon_kops_kernel;

struct daemon {
        /* shared: set by main, swapped by enforce.c */
        const char *config_path;
        const char *provider_dirs_override;
        struct config *cfg;
        struct policy_set *pol;
        struct ruleset_opts opts;
        struct ruleset *rs;             /* the table's handle; its options are opts once in force */
        struct ruleset_layout layout;   /* how the lists in force went to the kernel */
        const struct daemon_kops *k;
        struct loop *loop;
        bool enabled;                   /* false after `mxlock disable` */
        struct timeval started;
        struct control *control;        /* main's; here for drop_privileges */

        /* one member per module: the state it owns */
        struct packet_path pkt;
        struct offenders off;
        struct accounting acct;
        struct enforce enf;
        struct audit_out out;
        struct outbound ob;
        uint64_t tick_id, watch_id, watchdog_id, metrics_id;   /* the loop's timeouts */
        uint64_t watchdog_ms;
};

/* Fill d's defaults (kernel calls, descriptors -1); main sets the rest. */
void daemon_init(struct daemon *d);
/* Register the modules' timeouts with d->loop: the per-second tick (the
 * fold table, offenders, accounting, re-resolution, in that order), the
 * ruleset watch, the metrics, and the watchdog, which is fed from a
 * timeout and so only while the loop turns. */
int daemon_start_timers(struct daemon *d);
void daemon_tick(struct daemon *d);
void daemon_free(struct daemon *d);
