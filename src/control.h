/* src/control.h: the control socket between mxlockd and the mxlock CLI: a
 * unix stream socket; the client writes one request line, the daemon answers
 * with one JSON object line and closes. Peer credentials are checked: root,
 * or a member of the configured control_group. */
#ifndef MXLOCK_CONTROL_H
#define MXLOCK_CONTROL_H

#include <stdbool.h>
#include <sys/types.h>

#define CONTROL_DEFAULT_SOCKET "/run/mxlock/control.sock"

/* Client side: send `request` ("status", "reload", "explain ADDR PORT") and
 * read the reply (malloc'd, NUL-terminated JSON) into *ret_reply. Returns 0,
 * or negative errno (-ENOENT / -ECONNREFUSED: the daemon is not running,
 * -EACCES: not allowed). */
int control_call(const char *path, const char *request, int timeout_ms, char **ret_reply);

/* Server side (used by mxlockd). */
struct control;
struct loop;
typedef void (*control_handler_fn)(const char *request, char **ret_reply, void *userdata);
/* Create and listen on path (mode 0660, group gid when gid != (gid_t)-1). */
int control_listen(const char *path, gid_t gid, struct control **ret);
/* Change the owner of the socket at path: never through a symbolic link,
 * and only when a socket is there (-ENOTSOCK otherwise). */
int control_chown_path(const char *path, uid_t uid, gid_t gid);
int control_fd(const struct control *c);
/* Serve clients on the loop from now on: each is non-blocking and has 2 s
 * from accept to the end of its reply (then it is closed, with one log
 * line); peers that are not root, mxlockd's user or in the group are
 * refused, decided at accept. handler runs on the loop and must not block.
 * Returns 0 or -errno. */
int control_attach(struct control *c, struct loop *l, control_handler_fn handler, void *userdata);
void control_close(struct control *c);

#endif
