/* src/daemon/hosts.h: the host-name cache. Owns the last addresses each
 * host name in allow/deny resolved to (in d->enf.hosts), so that a failed
 * lookup keeps them (and says so). Synchronous: resolve_remembering calls
 * the system resolver. Used by enforce.c only. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "prefix.h"

struct daemon;

/* The last addresses a host name in allow/deny resolved to. */
struct host_entry {
        char *name;
        struct prefix *v;
        size_t n;
        struct host_entry *next;
};

int resolve_remembering(const char *name, struct prefix **ret, size_t *ret_n, uint32_t *ret_ttl, char *err,
                        size_t errlen, void *userdata);
void hosts_free(struct daemon *d);
