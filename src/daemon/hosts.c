/* src/daemon/hosts.c: the host-name cache: the last addresses each host
 * name in allow/deny resolved to, so that a failed lookup keeps them (and
 * says so). Synchronous for now. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "log.h"
#include "daemon/daemon.h"
#include "daemon/hosts.h"

static struct host_entry *host_find(struct daemon *d, const char *name)
{
        for (struct host_entry *h = d->enf.hosts; h; h = h->next)
                if (strcmp(h->name, name) == 0)
                        return h;
        return NULL;
}

/* Resolve with the system resolver; remember what a name resolved to, and
 * when a later lookup fails keep the last known addresses and say so. */
int resolve_remembering(const char *name, struct prefix **ret, size_t *ret_n, uint32_t *ret_ttl, char *err,
                        size_t errlen, void *userdata)
{
        struct daemon *d = userdata;
        struct host_entry *h = host_find(d, name);
        int r;

        r = dns_policy_resolve(name, ret, ret_n, ret_ttl, err, errlen, NULL);
        if (r == 0 && *ret_n > 0) {
                struct prefix *copy = malloc(*ret_n * sizeof(*copy));

                if (!copy)
                        return 0;       /* in force anyway; only not remembered */
                memcpy(copy, *ret, *ret_n * sizeof(*copy));
                if (!h) {
                        h = calloc(1, sizeof(*h));
                        if (!h || !(h->name = strdup(name))) {
                                free(h);
                                free(copy);
                                return 0;
                        }
                        h->next = d->enf.hosts;
                        d->enf.hosts = h;
                }
                free(h->v);
                h->v = copy;
                h->n = *ret_n;
                return 0;
        }
        if (!h || h->n == 0)
                return r < 0 ? r : -EHOSTUNREACH;
        log_warning("Cannot resolve %s (%s); keeping its last known %zu address%s", name, err, h->n,
                    h->n == 1 ? "" : "es");
        d->enf.host_stale = true;
        *ret = malloc(h->n * sizeof(**ret));
        if (!*ret)
                return -ENOMEM;
        memcpy(*ret, h->v, h->n * sizeof(**ret));
        *ret_n = h->n;
        *ret_ttl = RESOLVE_RETRY_S;
        return 0;
}

void hosts_free(struct daemon *d)
{
        while (d->enf.hosts) {
                struct host_entry *n = d->enf.hosts->next;

                free(d->enf.hosts->v);
                free(d->enf.hosts->name);
                free(d->enf.hosts);
                d->enf.hosts = n;
        }
}
