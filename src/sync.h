/* src/sync.h: `mxlock sync`: refreshes provider catalogs that name an
 * `spf =` record from DNS into a state directory (the shipped catalogs stay
 * untouched), refusing empty results, lookup failures and large shrinks
 * unless forced, writing a `ranges-changed` audit record per change and
 * asking mxlockd to reload. */
#ifndef MXLOCK_SYNC_H
#define MXLOCK_SYNC_H

#define SYNC_DEFAULT_STATE_DIR "/var/lib/mxlock/providers"
#define SYNC_DEFAULT_MAX_SHRINK 20      /* percent */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct sync_opts {
        bool force;
        bool dry_run;
        bool no_reload;
        unsigned max_shrink;
        unsigned max_growth;
        unsigned max_lookups;
        int timeout_ms;
        const char *state_dir;
        const char *nameserver;
        const char *provider_dirs;
        const char *audit_log;
        const char *config_path;        /* audit_log, control_socket, provider_dirs;
                                         * a missing file means the defaults */
        char **names;                   /* provider names, into argv; none: every catalog */
        size_t nnames;
};

/* The `mxlock sync` command, in the convention of src/cli.h: argv[0] is
 * "sync", options and provider names follow. cmd_sync writes its own
 * messages to out and err; the steps inside (each catalog, the reload) still
 * print to stdout and stderr. Returns the exit code: 0 ok (changed or not),
 * 1 refused or failed, 2 usage or configuration error. */
struct cli;
int sync_parse(struct sync_opts *o, const struct cli *cli, int argc, char **argv, FILE *out, FILE *err);
int cmd_sync(const struct sync_opts *o, FILE *out, FILE *err);

#endif
