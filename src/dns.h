/* src/dns.h: DNS lookups (TXT, A, AAAA, MX) with glibc's resolver, with
 * TTLs, an optional fixed nameserver ("IP" or "IP:PORT", for tests and for
 * admins who want a particular resolver) and errors that tell a name that
 * does not exist or has no such records (permanent) from a server failure or
 * a timeout (transient). Does not log. */
#ifndef MXLOCK_DNS_H
#define MXLOCK_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prefix.h"

#define DNS_NAME_MAX 254        /* 253 characters and the NUL */

/* How to ask. Zero-initialised: the system's resolv.conf, 3 s, 2 tries. */
struct dns_resolver {
        const char *nameserver; /* NULL: resolv.conf; "192.0.2.53", "127.0.0.1:5353",
                                   "2001:db8::53" or "[2001:db8::53]:5353" */
        int timeout_ms;         /* per try; 0: 3000 */
        int tries;              /* 0: 2 */
};

/* Error codes returned by the lookups (negative):
 *   -ENOENT     NXDOMAIN: the name does not exist          (permanent)
 *   -ENODATA    the name exists but has no such records    (permanent)
 *   -ETIMEDOUT  no answer in time                          (transient)
 *   -EAGAIN     SERVFAIL                                   (transient)
 *   -ECONNREFUSED  nothing listens at the nameserver       (transient)
 *   -EREMOTEIO  the server refused or answered another error (transient)
 *   -EBADMSG    a malformed answer                          (transient)
 *   -EINVAL     a bad name or nameserver; -ENOMEM.
 * Each lookup also writes a one-line explanation into err. */

/* Is r a lookup error that says "no such name / no such records" (as opposed
 * to a failure to get an answer)? */
bool dns_error_is_permanent(int r);

/* Short name of a lookup error: "NXDOMAIN", "no data", "timeout", ... */
const char *dns_error_name(int r);

/* Check a nameserver override ("IP", "IP:PORT", "[IPv6]:PORT"). Returns 0 or
 * -EINVAL. */
int dns_nameserver_check(const char *text);

/* TXT records of name, each record's strings joined into one string (an SPF
 * record published as several strings comes back whole). *ret_v is an array
 * of malloc'd strings; free with dns_strv_free. *ret_ttl: the smallest TTL. */
int dns_txt(const struct dns_resolver *res, const char *name, char ***ret_v, size_t *ret_n,
            uint32_t *ret_ttl, char *err, size_t errlen);

/* Decode one TXT record's rdata (<len><bytes>...) into one string, its
 * strings joined without separators (RFC 7208 3.3); a NUL byte becomes '?'.
 * Pure. Returns 0 and a malloc'd *ret, -EBADMSG or -ENOMEM. */
int dns_txt_join(const unsigned char *rdata, size_t len, char **ret);

/* A (family AF_INET) or AAAA (AF_INET6) records of name as host prefixes
 * (/32, /128). Free *ret with free(). */
int dns_addrs(const struct dns_resolver *res, const char *name, int family, struct prefix **ret,
              size_t *ret_n, uint32_t *ret_ttl, char *err, size_t errlen);

struct dns_mx {
        uint16_t preference;
        char *host;             /* without the trailing dot; "." for a null MX (RFC 7505) */
};

/* MX records of name, sorted by preference then host. Free with dns_mx_free. */
int dns_mx(const struct dns_resolver *res, const char *name, struct dns_mx **ret, size_t *ret_n,
           uint32_t *ret_ttl, char *err, size_t errlen);

/* A and AAAA of a host name together (an address literal is returned as is,
 * TTL 0). Succeeds when either family has addresses and neither lookup
 * failed transiently; the TTL is the smaller one. Free *ret with free().
 * This is what the daemon uses to re-resolve host names in allow/deny: on a
 * failure it keeps the last known addresses. */
int dns_resolve_host(const struct dns_resolver *res, const char *name, struct prefix **ret,
                     size_t *ret_n, uint32_t *ret_ttl, char *err, size_t errlen);

/* dns_resolve_host in the shape of struct policy_resolver's resolve callback
 * (userdata: a const struct dns_resolver *, or NULL for the system's). */
int dns_policy_resolve(const char *name, struct prefix **ret, size_t *ret_n, uint32_t *ret_ttl,
                       char *err, size_t errlen, void *userdata);

struct spf_lookup;

/* Fill lk with callbacks that answer the SPF expander from DNS through res
 * (which must outlive lk; NULL: the system's resolver). */
void dns_spf_lookup_init(struct spf_lookup *lk, const struct dns_resolver *res);

void dns_strv_free(char **v, size_t n);
void dns_mx_free(struct dns_mx *v, size_t n);

#endif
