/* src/privs.c: privilege drop with libcap. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "privs.h"

int privs_lookup(const char *user, uid_t *ret_uid, gid_t *ret_gid)
{
        struct passwd pw, *res = NULL;
        char buf[4096];
        int r;

        r = getpwnam_r(user, &pw, buf, sizeof(buf), &res);
        if (r != 0)
                return -r;
        if (!res)
                return -ENOENT;
        *ret_uid = pw.pw_uid;
        *ret_gid = pw.pw_gid;
        return 0;
}

int privs_drop(uid_t uid, gid_t gid)
{
        cap_t caps;
        int r = 0;

        if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) < 0)
                return -errno;
        if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
                return -errno;
        caps = cap_from_text("cap_net_admin=ep");
        if (!caps)
                return -errno;
        if (cap_set_proc(caps) < 0)
                r = -errno;
        cap_free(caps);
        if (r < 0)
                return r;
        if (prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L) < 0)
                return -errno;
        /* nothing we exec could gain privileges; we exec nothing anyway */
        if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0)
                return -errno;
        return 0;
}
