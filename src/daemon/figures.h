/* src/daemon/figures.h: the daemon's figures. Owns nothing that lasts: a
 * snapshot (struct figures) is filled once from the modules' state and
 * the kernel's queue figures, and three renderers turn it into status JSON,
 * status text and the metrics file (node_exporter's textfile format). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

struct daemon;
struct policy;
struct pstat;

struct figures_policy {
        const struct policy *p;
        const struct pstat *ps;
        bool kernel_known;              /* the kernel's set sizes were read */
        size_t kernel4, kernel6;
};

struct figures {
        const char *version, *config_path, *mode, *action, *failure, *table, *audit_log, *backend;
        int pid;
        bool enabled, monitor, native_queue;
        unsigned queue, queues;
        struct timeval now, started, last_reload;
        const char *last_reload_error;  /* "" when the last reload went well */
        uint64_t refused, observed, undecodable, waiting, dropped, restored, audit_lost;
        uint64_t out_refused, out_observed;     /* of refused and observed, the outbound lock's */
        uint64_t reloads_ok, reloads_failed;
        size_t npolicies;
        struct figures_policy *policies;
};

/* Fill f (kernel: also read the live kernel sets' sizes, for status). */
int figures_take(struct daemon *d, bool kernel, struct figures *f);
void figures_release(struct figures *f);
char *figures_status_json(const struct figures *f);
char *figures_status_text(const struct figures *f);
int figures_metrics(const struct figures *f, const char *path);

char *status_json(struct daemon *d);
char *status_text(struct daemon *d);
void write_metrics(struct daemon *d);
/* Start writing the metrics file every metrics_interval seconds. */
int figures_start(struct daemon *d);
