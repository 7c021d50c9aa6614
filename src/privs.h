/* src/privs.h: dropping root: switch to an unprivileged user and keep only
 * CAP_NET_ADMIN (needed for nf_tables and NFQUEUE verdicts), as chronyd does. */
#ifndef MXLOCK_PRIVS_H
#define MXLOCK_PRIVS_H

#include <sys/types.h>

/* Look up user's uid and primary gid. Returns 0 or -ENOENT/-errno. */
int privs_lookup(const char *user, uid_t *ret_uid, gid_t *ret_gid);

/* Become uid/gid keeping CAP_NET_ADMIN only (effective and permitted).
 * Returns 0 or negative errno; on error the process must not go on. */
int privs_drop(uid_t uid, gid_t gid);

#endif
