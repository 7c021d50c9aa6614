/* src/sync.h: `mxlock sync`: refreshes provider catalogs that name an
 * `spf =` record from DNS into a state directory (the shipped catalogs stay
 * untouched), refusing empty results, lookup failures and large shrinks
 * unless forced, writing a `ranges-changed` audit record per change and
 * asking mxlockd to reload. */
#ifndef MXLOCK_SYNC_H
#define MXLOCK_SYNC_H

#define SYNC_DEFAULT_STATE_DIR "/var/lib/mxlock/providers"
#define SYNC_DEFAULT_MAX_SHRINK 20      /* percent */

/* The `mxlock sync` command: argv[0] is "sync", options and provider names
 * follow. config_path: the configuration (audit_log, control_socket,
 * provider_dirs); a missing file means the defaults. Prints to stdout and
 * stderr. Returns the exit code: 0 ok (changed or not), 1 refused or failed,
 * 2 usage or configuration error. */
int sync_main(int argc, char **argv, const char *config_path);

#endif
