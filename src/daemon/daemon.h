/* src/daemon/daemon.h: the daemon's state while it is being divided among
 * the modules under src/daemon/: the limits they share, the per-policy
 * figures, the offender record, and struct daemon, which main creates and
 * hands to each module. */
#pragma once

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

struct host_entry;

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
        struct host_entry *hosts;       /* last known addresses of host names */
        bool host_stale;                /* a lookup failed and old addresses stand in */
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
        int epfd, sigfd, timerfd, watchfd;
        bool running;
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
