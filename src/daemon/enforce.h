/* src/daemon/enforce.h: enforcement. Owns the catalog cache, the host-name
 * cache (hosts.h) and when names are re-resolved, the ruleset-generation
 * watch and the installed table's digest (self-heal), and the reload
 * figures. Load, install, reload, re-resolve, restore and enable all end
 * in one swap step: the new state is built, installed, and only then
 * takes the old one's place; on failure the old one stays in force. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>
#include <time.h>

#include "config.h"
#include "policy.h"
#include "ruleset.h"

struct daemon;
struct hosts;
struct hosts_outcome;

#define RESOLVE_MIN_S 10        /* re-resolve host names at most this often */
#define RESOLVE_RETRY_S 60      /* after a failed lookup */
#define RESOLVE_DEADLINE_MS 20000 /* a background resolution asks no more names after this */
#define WATCH_MS 250            /* how often the ruleset generation is polled */

struct enforce {
        struct policy_cache *cache;     /* parsed catalogs, reused across reloads */
        struct hosts *hosts;            /* last known addresses of host names (hosts.h) */
        bool reload_waiting;            /* a reload waits for new host names' first answers */
        time_t resolve_at;              /* monotonic seconds of the next re-resolution, 0: none */
        struct ruleset *watch;          /* polls the ruleset generation */
        uint32_t genid;                 /* the generation last checked */
        bool genid_known;
        bool check_table;               /* the ruleset generation moved */
        uint64_t shape;                 /* the table's digest right after our last install */
        bool shape_known;
        size_t shape_cursor;            /* where ruleset_intact samples long lists next */
        uint64_t reloads_ok, reloads_failed, restored;
        struct timeval last_reload;
        char last_reload_error[CONFIG_ERRLEN];
};

time_t monotonic_s(void);
void schedule_resolve(struct daemon *d);
int load(struct daemon *d, struct config **ret_cfg, struct policy_set **ret_pol, char err[CONFIG_ERRLEN]);
void opts_from_config(struct ruleset_opts *o, const struct config *c, bool native);
int install(struct daemon *d, const struct ruleset_opts *o, struct policy_set *want, const struct policy_set *have);
void check_table(struct daemon *d);
int reload(struct daemon *d, char err[CONFIG_ERRLEN]);
void re_resolve(struct daemon *d);
void set_enabled(struct daemon *d, bool on, char err[CONFIG_ERRLEN]);
/* Every WATCH_MS: has anyone committed to the ruleset? Then check_table. */
void on_watch(struct daemon *d);
/* Every second: start a background re-resolution when due. */
void enforce_tick(struct daemon *d);
/* A background resolution finished (hosts_attach's done callback; data:
 * the daemon). */
void enforce_hosts_done(const struct hosts_outcome *o, void *data);
void enforce_free(struct daemon *d);
