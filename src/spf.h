/* src/spf.h: SPF records (RFC 7208) turned into address ranges: a pure
 * parser for one record, and an expander that walks include: and redirect=
 * through a lookup callback (real DNS, or a fake in unit tests), resolves
 * a and mx mechanisms, caps the DNS-querying terms and detects loops.
 *
 * What counts as an allowed source: the addresses for which the record's
 * result is "pass", computed with SPF's first-match order. Only mechanisms
 * with the '+' qualifier (the default) grant addresses; '-', '~' and '?'
 * ones (including -all, ~all, ?all) never do, and they hide the addresses
 * they match from every later mechanism. "+all" (a record that authorises
 * the whole Internet) is an error, never a range list. ptr and exists
 * cannot be turned into ranges: they are skipped with a note (and still
 * count towards the lookup cap, as they do for a receiver). exp= and
 * unknown modifiers are ignored. Macros (%{...}) in a domain are an error
 * for include, redirect, a and mx. Does not log. */
#ifndef MXLOCK_SPF_H
#define MXLOCK_SPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prefix.h"

#define SPF_DEFAULT_MAX_LOOKUPS 10      /* RFC 7208 4.6.4 */
#define SPF_MAX_MX_HOSTS 10             /* RFC 7208 4.6.4: per mx mechanism */
#define SPF_MAX_DEPTH 32                /* nesting of include/redirect */

enum spf_kind {
        SPF_ALL,
        SPF_INCLUDE,
        SPF_A,
        SPF_MX,
        SPF_PTR,
        SPF_IP4,
        SPF_IP6,
        SPF_EXISTS,
};

/* One directive (qualifier + mechanism). */
struct spf_term {
        enum spf_kind kind;
        char qualifier;         /* '+', '-', '~' or '?' */
        char *domain;           /* include/exists: required; a/mx/ptr: NULL = the record's domain */
        struct prefix prefix;   /* ip4/ip6 */
        uint8_t cidr4, cidr6;   /* a/mx: /len and //len (32 and 128 when not given) */
        bool macro;             /* domain contains a %{...} macro */
};

struct spf_record {
        struct spf_term *v;
        size_t n;
        char *redirect;         /* redirect=DOMAIN, or NULL */
        bool redirect_macro;
        bool has_exp;           /* exp= seen (ignored) */
        size_t unknown_modifiers;
};

/* Is text an SPF version 1 record ("v=spf1" then a space or the end,
 * case-insensitive)? */
bool spf_is_record(const char *text);

/* Parse one SPF record. Returns 0 and *ret, or -EINVAL with the reason (and
 * the offending term) in err. */
int spf_parse(const char *text, struct spf_record **ret, char *err, size_t errlen);

void spf_record_free(struct spf_record *r);

/* DNS for the expander. Every callback returns 0, or a negative errno with a
 * message in err: -ENOENT (NXDOMAIN) and -ENODATA (no records) are "void"
 * answers, anything else is a lookup failure. Arrays and strings handed back
 * are malloc'd and freed by the expander with free(). */
struct spf_lookup {
        /* TXT records of name, each one's strings already joined. */
        int (*txt)(const char *name, char ***ret_v, size_t *ret_n, char *err, size_t errlen, void *userdata);
        /* A (AF_INET) or AAAA (AF_INET6) addresses of name. */
        int (*addrs)(const char *name, int family, struct prefix **ret, size_t *ret_n, char *err, size_t errlen,
                     void *userdata);
        /* MX host names of name, in preference order. */
        int (*mx)(const char *name, char ***ret_hosts, size_t *ret_n, char *err, size_t errlen, void *userdata);
        void *userdata;
};

struct spf_opts {
        unsigned max_lookups;   /* DNS-querying terms (include a mx ptr exists redirect); 0: 10 */
        bool keep_going;        /* on an error, note it, treat that term as matching nothing, go on */
};

/* Where an ip4/ip6 range came from, for comments in generated catalogs. */
struct spf_origin {
        struct prefix prefix;
        char *domain;
};

struct spf_result {
        struct range_list v4, v6;       /* merged "pass" ranges */
        unsigned lookups;               /* DNS-querying terms evaluated */
        char **domains;                 /* every record read, in walk order */
        size_t ndomains;
        struct spf_origin *origins;     /* '+' ip4/ip6 terms, in walk order */
        size_t norigins;
        char **notes;                   /* skipped terms (ptr, exists, exp) */
        size_t nnotes;
        char **errors;                  /* with keep_going: every error met */
        size_t nerrors;
        int first_error;                /* 0, or the first error's code */
};

/* Expand domain's SPF record into ranges. Returns 0 and fills *ret (which
 * the caller frees with spf_result_free, also on error), or the first error:
 * -ELOOP (a domain included twice on one path), -E2BIG (more DNS-querying
 * terms than max_lookups, or an mx with more than 10 hosts), -EINVAL (a
 * malformed record, several SPF records, a macro), -ENOENT (no SPF record
 * at a domain that must have one), -EPERM (+all), or a lookup failure from
 * the callbacks, with "DOMAIN: message" in err. With opts->keep_going the
 * walk goes on past errors and returns 0; ret->first_error and ret->errors
 * tell what went wrong. */
int spf_expand(const char *domain, const struct spf_lookup *lk, const struct spf_opts *opts,
               struct spf_result *ret, char *err, size_t errlen);

void spf_result_free(struct spf_result *r);

/* Number of addresses a merged list covers (as a long double: IPv6 counts
 * do not fit in 128 bits for ::/0). */
long double spf_range_count(const struct range_list *l);

/* out = a minus b, both merged; out is initialised here and merged.
 * Returns 0 or -ENOMEM. */
int spf_range_subtract(const struct range_list *a, const struct range_list *b, struct range_list *out);

#endif
