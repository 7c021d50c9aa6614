/* src/daemon/owner.h: who owns a local TCP socket that is connecting out
 * (docs/design.md, section 15). Given the 4-tuple of a queued outbound SYN,
 * while its socket still waits in SYN_SENT, it names the uid, the user, the
 * systemd unit and, where it can, the pid and comm of a process holding the
 * socket. The context owns one sock_diag netlink socket, a cache of user
 * names read from the passwd file, a cache of cgroup v2 ids to paths, and
 * the last pid found.
 *
 * Built to be called on the daemon's loop about 100 times a second: the
 * kernel answers sock_diag within the send, the rest is reading small files
 * under /proc and the cgroup tree, each lookup bounded in entries and
 * time (OWNER_BUDGET_US). Nothing here calls NSS: getpwuid_r may ask LDAP
 * and wait on the network, so user names come from the passwd file itself
 * (re-read when it changes); a user known only to NSS has no name here.
 *
 * What is exact and what is not:
 * - uid: exact. The queue's (NFQA_UID, filled in by the caller), or else
 *   the kernel's idiag_uid for the socket; both are the socket's owner.
 * - user: the passwd file's name for that uid now.
 * - unit: the cgroup the socket was created in (the kernel keeps it with
 *   the socket), turned into a unit name by owner_unit_from_cgroup. A
 *   process moved to another cgroup after creating the socket is still
 *   named by the first one.
 * - pid, comm: best-effort. The first process found holding the socket's
 *   inode, looked for among the processes of the socket's cgroup, then
 *   among all of its uid's. After a fork several may hold it and any one
 *   of them is named; the process may have exited or closed the socket;
 *   processes whose /proc/PID/fd mxlockd may not read (other users',
 *   without CAP_SYS_PTRACE, or hidden by ProtectProc=invisible) are not
 *   seen. The search stops at its budget and leaves pid 0 and comm "". */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The time one owner_lookup may spend looking for the pid. */
#define OWNER_BUDGET_US 2000

struct owner {
        bool has_uid;
        uint32_t uid;                   /* exact: from the queue (the caller fills) or sock_diag */
        char user[64];                  /* "": unknown */
        int pid;                        /* 0: unknown */
        char comm[16];                  /* "": unknown */
        char unit[256];                 /* systemd unit; "": unknown */
};

struct owner_ctx;

/* Open the context: proc_root and cgroup_root are "/proc" and
 * "/sys/fs/cgroup" in the daemon (other roots in tests). A cgroup_root
 * that is not cgroup2 but has cgroup2 at cgroup_root/unified (the hybrid
 * layout) uses that. User names come from /etc/passwd. Returns NULL when
 * out of memory or when the sock_diag socket cannot be opened (errno
 * says why). */
struct owner_ctx *owner_new(const char *proc_root, const char *cgroup_root);
/* Accepts NULL. */
void owner_free(struct owner_ctx *c);
/* Read user names from path instead of /etc/passwd (tests). */
int owner_set_passwd(struct owner_ctx *c, const char *path);

/* Who owns the TCP socket with local address src:sport and remote
 * dst:dport. family: AF_INET or AF_INET6; addresses in network order (an
 * IPv4 one in the first 4 bytes), ports in host order. ret->has_uid and
 * ret->uid may be filled in by the caller (the queue's uid wins over the
 * kernel's); the other fields are overwritten. Returns 0 with whatever
 * could be known filled in (even when the socket was not found: then the
 * user of a given uid only), or -EINVAL for a bad family. */
int owner_lookup(struct owner_ctx *c, int family, const uint8_t src[16], uint16_t sport, const uint8_t dst[16],
                 uint16_t dport, struct owner *ret);

/* The path of cgroup id (from the cgroup root, "/" for the root) into
 * buf, from the cache. A miss walks the tree again: soon for an id newer
 * than any the last walk saw (a cgroup made since), but with walks taking
 * at most a twentieth of the time; at most once a second for any other.
 * Returns 0, -ENOENT or -ENAMETOOLONG. */
int owner_cgroup_path(struct owner_ctx *c, uint64_t id, char *buf, size_t len);

/* The passwd file's name for uid into buf ("" when unknown). */
void owner_user_name(struct owner_ctx *c, uint32_t uid, char *buf, size_t len);

/* The systemd unit of a cgroup v2 path (relative to the cgroup root), in
 * buf: the outermost component that names a service or a scope, which is
 * the unit the host's systemd made and knows. Inside a delegated subtree
 * (a container's, a user manager's) the names are chosen by the service
 * itself and could imitate any unit, so they are not used:
 * "/system.slice/apache2.service" -> "apache2.service",
 * "/user.slice/user-1000.slice/session-3.scope" -> "session-3.scope",
 * "/system.slice/foo.service/init.scope" -> "foo.service",
 * "/user.slice/user-1000.slice/user@1000.service/app.slice/x.service" ->
 * "user@1000.service". Returns buf, or NULL when the path names no unit
 * ("/", slices only, a non-systemd tree) or the name does not fit. */
const char *owner_unit_from_cgroup(const char *cgroup_path, char *buf, size_t len);
