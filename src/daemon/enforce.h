/* src/daemon/enforce.h: enforcement: load the configuration and policies,
 * install them in the kernel, reload, re-resolve host names, self-heal (the
 * ruleset generation watch and check_table), enable and disable. */
#pragma once

#include "daemon/daemon.h"

time_t monotonic_s(void);
void schedule_resolve(struct daemon *d);
int load(struct daemon *d, struct config **ret_cfg, struct policy_set **ret_pol, char err[CONFIG_ERRLEN]);
void opts_from_config(struct ruleset_opts *o, const struct config *c, bool native);
int install(struct daemon *d, const struct ruleset_opts *o, struct policy_set *want,
                   const struct policy_set *have);
void check_table(struct daemon *d);
int reload(struct daemon *d, char err[CONFIG_ERRLEN]);
void re_resolve(struct daemon *d);
void set_enabled(struct daemon *d, bool on, char err[CONFIG_ERRLEN]);
void on_watch(struct daemon *d);
