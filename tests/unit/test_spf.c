/* tests/unit/test_spf.c: the SPF parser and expander (src/spf.c) against a
 * fake DNS, and the TXT string joining of src/dns.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "dns.h"
#include "prefix.h"
#include "spf.h"

/* ------------------------------------------------------------------ */
/* A fake DNS: records are (name, type, value). TXT values hold the record's
 * strings separated by '|' and go through dns_txt_join like real answers. */

struct fake_rr {
        const char *name;
        char type;              /* 'T' TXT, '4' A, '6' AAAA, 'M' MX, 'X' error for every type */
        const char *value;      /* 'X': ignored */
        int error;              /* 'X': the error to return */
};

struct fake_dns {
        const struct fake_rr *rr;
        size_t n;
        unsigned queries;
};

static const struct fake_rr *fake_error(struct fake_dns *d, const char *name)
{
        for (size_t i = 0; i < d->n; i++)
                if (d->rr[i].type == 'X' && strcasecmp(d->rr[i].name, name) == 0)
                        return &d->rr[i];
        return NULL;
}

static bool fake_name_exists(struct fake_dns *d, const char *name)
{
        for (size_t i = 0; i < d->n; i++)
                if (strcasecmp(d->rr[i].name, name) == 0)
                        return true;
        return false;
}

static int fake_txt(const char *name, char ***ret_v, size_t *ret_n, char *err, size_t errlen, void *userdata)
{
        struct fake_dns *d = userdata;
        const struct fake_rr *e;
        char **v = NULL;
        size_t n = 0;

        d->queries++;
        if ((e = fake_error(d, name))) {
                snprintf(err, errlen, "TXT %s: %s", name, dns_error_name(e->error));
                return e->error;
        }
        for (size_t i = 0; i < d->n; i++) {
                unsigned char rdata[2048];
                size_t len = 0;
                const char *s;
                char *joined;

                if (d->rr[i].type != 'T' || strcasecmp(d->rr[i].name, name) != 0)
                        continue;
                /* Encode "a|b|c" as <len>a<len>b<len>c. */
                s = d->rr[i].value;
                for (;;) {
                        size_t l = strcspn(s, "|");

                        assert_true(l < 256 && len + 1 + l < sizeof(rdata));
                        rdata[len++] = (unsigned char)l;
                        memcpy(rdata + len, s, l);
                        len += l;
                        if (!s[l])
                                break;
                        s += l + 1;
                }
                assert_int_equal(dns_txt_join(rdata, len, &joined), 0);
                v = realloc(v, (n + 1) * sizeof(*v));
                assert_non_null(v);
                v[n++] = joined;
        }
        if (n == 0) {
                snprintf(err, errlen, "TXT %s: none", name);
                return fake_name_exists(d, name) ? -ENODATA : -ENOENT;
        }
        *ret_v = v;
        *ret_n = n;
        return 0;
}

static int fake_addrs(const char *name, int family, struct prefix **ret, size_t *ret_n, char *err, size_t errlen,
                      void *userdata)
{
        struct fake_dns *d = userdata;
        const struct fake_rr *e;
        struct prefix *v = NULL;
        size_t n = 0;

        d->queries++;
        if ((e = fake_error(d, name))) {
                snprintf(err, errlen, "%s: %s", name, dns_error_name(e->error));
                return e->error;
        }
        for (size_t i = 0; i < d->n; i++) {
                char t = family == AF_INET ? '4' : '6';

                if (d->rr[i].type != t || strcasecmp(d->rr[i].name, name) != 0)
                        continue;
                v = realloc(v, (n + 1) * sizeof(*v));
                assert_non_null(v);
                assert_int_equal(prefix_parse(d->rr[i].value, &v[n], NULL), 0);
                n++;
        }
        if (n == 0)
                return fake_name_exists(d, name) ? -ENODATA : -ENOENT;
        *ret = v;
        *ret_n = n;
        return 0;
}

static int fake_mx(const char *name, char ***ret_hosts, size_t *ret_n, char *err, size_t errlen, void *userdata)
{
        struct fake_dns *d = userdata;
        const struct fake_rr *e;
        char **v = NULL;
        size_t n = 0;

        d->queries++;
        if ((e = fake_error(d, name))) {
                snprintf(err, errlen, "MX %s: %s", name, dns_error_name(e->error));
                return e->error;
        }
        for (size_t i = 0; i < d->n; i++) {
                if (d->rr[i].type != 'M' || strcasecmp(d->rr[i].name, name) != 0)
                        continue;
                v = realloc(v, (n + 1) * sizeof(*v));
                assert_non_null(v);
                v[n++] = strdup(d->rr[i].value);
        }
        if (n == 0)
                return fake_name_exists(d, name) ? -ENODATA : -ENOENT;
        *ret_hosts = v;
        *ret_n = n;
        return 0;
}

#define FAKE(arr) { .rr = (arr), .n = sizeof(arr) / sizeof((arr)[0]) }

static int expand(struct fake_dns *d, const char *domain, unsigned max, bool keep_going, struct spf_result *res,
                  char *err, size_t errlen)
{
        struct spf_lookup lk = { .txt = fake_txt, .addrs = fake_addrs, .mx = fake_mx, .userdata = d };
        struct spf_opts o = { .max_lookups = max, .keep_going = keep_going };

        return spf_expand(domain, &lk, &o, res, err, errlen);
}

/* The merged list as "lo-hi" or "prefix" strings joined by spaces, via the
 * CIDR decomposition (what a catalog would list). */
struct fmt_buf {
        char s[4096];
        size_t len;
};

static void fmt_cb(const struct prefix *p, void *userdata)
{
        struct fmt_buf *b = userdata;
        char buf[64];

        prefix_format(p, buf, sizeof(buf));
        b->len += (size_t)snprintf(b->s + b->len, sizeof(b->s) - b->len, "%s%s", b->len ? " " : "", buf);
}

static const char *fmt_list(const struct range_list *l, struct fmt_buf *b)
{
        b->len = 0;
        b->s[0] = '\0';
        for (size_t i = 0; i < l->n; i++)
                range_to_prefixes(l->family, l->v[i], fmt_cb, b);
        return b->s;
}

static bool list_has(const struct range_list *l, const char *addr)
{
        int family;
        addr128 a;

        assert_int_equal(addr_parse(addr, &family, &a), 0);
        assert_int_equal(family, l->family);
        return range_list_contains(l, a);
}

/* ------------------------------------------------------------------ */
/* Parser */

static void test_parse_terms(void **state)
{
        struct spf_record *r = NULL;
        char err[256];

        (void) state;
        assert_int_equal(spf_parse("v=spf1 ip4:192.0.2.0/24 -ip4:192.0.2.7 ip6:2001:db8::/32 ~a ?mx:mx.example.org/24//64 "
                                   "include:_spf.example.net a:relay.example.org//56 ptr exists:%{i}.x.example "
                                   "exp=explain.example.org foo=bar redirect=_spf.example.com -all", &r, err, sizeof(err)), 0);
        assert_int_equal(r->n, 10);
        assert_int_equal(r->v[0].kind, SPF_IP4);
        assert_int_equal(r->v[0].qualifier, '+');
        assert_int_equal(r->v[0].prefix.len, 24);
        assert_int_equal(r->v[1].qualifier, '-');
        assert_int_equal(r->v[1].prefix.len, 32);
        assert_int_equal(r->v[2].kind, SPF_IP6);
        assert_int_equal(r->v[2].prefix.len, 32);
        assert_int_equal(r->v[3].kind, SPF_A);
        assert_int_equal(r->v[3].qualifier, '~');
        assert_null(r->v[3].domain);
        assert_int_equal(r->v[3].cidr4, 32);
        assert_int_equal(r->v[3].cidr6, 128);
        assert_int_equal(r->v[4].kind, SPF_MX);
        assert_int_equal(r->v[4].qualifier, '?');
        assert_string_equal(r->v[4].domain, "mx.example.org");
        assert_int_equal(r->v[4].cidr4, 24);
        assert_int_equal(r->v[4].cidr6, 64);
        assert_int_equal(r->v[5].kind, SPF_INCLUDE);
        assert_string_equal(r->v[5].domain, "_spf.example.net");
        assert_int_equal(r->v[6].cidr4, 32);
        assert_int_equal(r->v[6].cidr6, 56);
        assert_int_equal(r->v[7].kind, SPF_PTR);
        assert_int_equal(r->v[8].kind, SPF_EXISTS);
        assert_true(r->v[8].macro);
        assert_int_equal(r->v[9].kind, SPF_ALL);
        assert_int_equal(r->v[9].qualifier, '-');
        assert_true(r->has_exp);
        assert_int_equal(r->unknown_modifiers, 1);
        assert_string_equal(r->redirect, "_spf.example.com");
        spf_record_free(r);

        /* Case-insensitive names and version; several spaces; empty record. */
        assert_int_equal(spf_parse("V=SPF1   IP4:192.0.2.1   MX/28  -ALL ", &r, err, sizeof(err)), 0);
        assert_int_equal(r->n, 3);
        assert_int_equal(r->v[1].kind, SPF_MX);
        assert_int_equal(r->v[1].cidr4, 28);
        spf_record_free(r);
        assert_int_equal(spf_parse("v=spf1", &r, err, sizeof(err)), 0);
        assert_int_equal(r->n, 0);
        spf_record_free(r);

        assert_true(spf_is_record("v=spf1 -all"));
        assert_true(spf_is_record("v=spf1"));
        assert_false(spf_is_record("v=spf10 -all"));
        assert_false(spf_is_record("google-site-verification=abc"));
        assert_false(spf_is_record(" v=spf1 -all"));
}

static void test_parse_malformed(void **state)
{
        static const char *const bad[] = {
                "v=spf2 -all",
                "spf1 -all",
                "v=spf1 foo",
                "v=spf1 include",
                "v=spf1 include:",
                "v=spf1 include:bad..domain",
                "v=spf1 ip4",
                "v=spf1 ip4:",
                "v=spf1 ip4:300.1.1.1",
                "v=spf1 ip4:192.0.2.0/33",
                "v=spf1 ip4:192.0.2.0/024",
                "v=spf1 ip4:192.0.2.0/",
                "v=spf1 ip4:10.100.80.*",
                "v=spf1 ip4:2001:db8::1",
                "v=spf1 ip6:192.0.2.1",
                "v=spf1 ip6:2001:db8::/129",
                "v=spf1 a/33",
                "v=spf1 mx//129",
                "v=spf1 a:/24",
                "v=spf1 a/",
                "v=spf1 mx:example.org/24//",
                "v=spf1 all:example.org",
                "v=spf1 -all/24",
                "v=spf1 ptr/24",
                "v=spf1 redirect=a.example redirect=b.example",
                "v=spf1 exp=a.example exp=b.example",
                "v=spf1 redirect=",
                "v=spf1 *all",
                "v=spf1 +-all",
                "v=spf1 include:%{",
                "v=spf1 a:exa\x01mple.org",
        };
        struct spf_record *r = NULL;
        char err[256];

        (void) state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                err[0] = '\0';
                if (spf_parse(bad[i], &r, err, sizeof(err)) != -EINVAL)
                        fail_msg("accepted malformed record '%s'", bad[i]);
                assert_true(err[0] != '\0');
        }
        /* The message names the offending term. */
        assert_int_equal(spf_parse("v=spf1 ip4:192.0.2.0/24 ip4:999.0.0.0 -all", &r, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "ip4:999.0.0.0"));
}

/* ------------------------------------------------------------------ */
/* Expander */

static void test_nested_includes(void **state)
{
        static const struct fake_rr rr[] = {
                { "top.example", 'T', "v=spf1 include:mid.example ip4:192.0.2.0/25 -all", 0 },
                { "top.example", 'T', "google-site-verification=xyz", 0 },
                { "mid.example", 'T', "v=spf1 include:leaf.example ip6:2001:db8:1::/48 ~all", 0 },
                { "leaf.example", 'T', "v=spf1 ip4:198.51.100.0/24 ip4:192.0.2.128/25 ?all", 0 },
        };
        struct fake_dns d = FAKE(rr);
        struct spf_result res;
        struct fmt_buf b;
        char err[512];

        (void) state;
        assert_int_equal(expand(&d, "top.example", 0, false, &res, err, sizeof(err)), 0);
        /* 192.0.2.0/25 + 192.0.2.128/25 merge into one /24. */
        assert_string_equal(fmt_list(&res.v4, &b), "192.0.2.0/24 198.51.100.0/24");
        assert_string_equal(fmt_list(&res.v6, &b), "2001:db8:1::/48");
        assert_int_equal(res.lookups, 2);
        assert_int_equal(res.ndomains, 3);
        assert_string_equal(res.domains[0], "top.example");
        assert_string_equal(res.domains[2], "leaf.example");
        assert_int_equal(res.norigins, 4);
        assert_int_equal(res.first_error, 0);
        spf_result_free(&res);
}

static void test_redirect(void **state)
{
        static const struct fake_rr rr[] = {
                { "r.example", 'T', "v=spf1 ip4:192.0.2.1 redirect=target.example", 0 },
                { "target.example", 'T', "v=spf1 ip4:198.51.100.0/24 -all", 0 },
                /* redirect is ignored when the record has 'all'. */
                { "withall.example", 'T', "v=spf1 ip4:192.0.2.1 ~all redirect=target.example", 0 },
                /* redirect only covers what no mechanism matched: -ip4 wins. */
                { "minus.example", 'T', "v=spf1 -ip4:198.51.100.7 redirect=target.example", 0 },
                { "dangling.example", 'T', "v=spf1 redirect=nothing.example", 0 },
        };
        struct fake_dns d = FAKE(rr);
        struct spf_result res;
        struct fmt_buf b;
        char err[512];

        (void) state;
        assert_int_equal(expand(&d, "r.example", 0, false, &res, err, sizeof(err)), 0);
        assert_string_equal(fmt_list(&res.v4, &b), "192.0.2.1 198.51.100.0/24");
        assert_int_equal(res.lookups, 1);
        spf_result_free(&res);

        assert_int_equal(expand(&d, "withall.example", 0, false, &res, err, sizeof(err)), 0);
        assert_string_equal(fmt_list(&res.v4, &b), "192.0.2.1");
        assert_int_equal(res.lookups, 0);
        spf_result_free(&res);

        assert_int_equal(expand(&d, "minus.example", 0, false, &res, err, sizeof(err)), 0);
        assert_true(list_has(&res.v4, "198.51.100.6"));
        assert_false(list_has(&res.v4, "198.51.100.7"));
        assert_true(list_has(&res.v4, "198.51.100.8"));
        spf_result_free(&res);

        assert_int_equal(expand(&d, "dangling.example", 0, false, &res, err, sizeof(err)), -ENOENT);
        assert_non_null(strstr(err, "nothing.example"));
        spf_result_free(&res);
}

static void test_loop(void **state)
{
        static const struct fake_rr rr[] = {
                { "a.example", 'T', "v=spf1 ip4:192.0.2.1 include:b.example -all", 0 },
                { "b.example", 'T', "v=spf1 include:c.example -all", 0 },
                { "c.example", 'T', "v=spf1 include:A.EXAMPLE. -all", 0 },
                { "self.example", 'T', "v=spf1 redirect=self.example", 0 },
                /* A diamond is not a loop: d is seen twice, never on one path. */
                { "diamond.example", 'T', "v=spf1 include:l.example include:r.example -all", 0 },
                { "l.example", 'T', "v=spf1 include:d.example -all", 0 },
                { "r.example", 'T', "v=spf1 include:d.example -all", 0 },
                { "d.example", 'T', "v=spf1 ip4:203.0.113.0/24 -all", 0 },
        };
        struct fake_dns d = FAKE(rr);
        struct spf_result res;
        struct fmt_buf b;
        char err[512];

        (void) state;
        assert_int_equal(expand(&d, "a.example", 0, false, &res, err, sizeof(err)), -ELOOP);
        assert_non_null(strstr(err, "a.example -> b.example -> c.example -> A.EXAMPLE."));
        spf_result_free(&res);

        assert_int_equal(expand(&d, "self.example", 0, false, &res, err, sizeof(err)), -ELOOP);
        spf_result_free(&res);

        /* keep_going: the loop is reported, the rest still counts. */
        assert_int_equal(expand(&d, "a.example", 0, true, &res, err, sizeof(err)), 0);
        assert_int_equal(res.first_error, -ELOOP);
        assert_int_equal(res.nerrors, 1);
        assert_string_equal(fmt_list(&res.v4, &b), "192.0.2.1");
        spf_result_free(&res);

        assert_int_equal(expand(&d, "diamond.example", 0, false, &res, err, sizeof(err)), 0);
        assert_string_equal(fmt_list(&res.v4, &b), "203.0.113.0/24");
        assert_int_equal(res.lookups, 4);
        spf_result_free(&res);
}

static void test_lookup_cap(void **state)
{
        static const struct fake_rr rr[] = {
                { "eleven.example", 'T',
                  "v=spf1 include:i1.example include:i2.example include:i3.example include:i4.example "
                  "include:i5.example a:h.example mx:m.example include:i6.example include:i7.example "
                  "include:i8.example include:i9.example -all", 0 },
                { "ten.example", 'T',
                  "v=spf1 include:i1.example include:i2.example include:i3.example include:i4.example "
                  "include:i5.example a:h.example mx:m.example include:i6.example include:i7.example "
                  "include:i8.example -all", 0 },
                /* Nested lookups count too: 1 + 10 here. */
                { "deep.example", 'T', "v=spf1 include:ten.example -all", 0 },
                { "i1.example", 'T', "v=spf1 ip4:192.0.2.1 -all", 0 },
                { "i2.example", 'T', "v=spf1 ip4:192.0.2.2 -all", 0 },
                { "i3.example", 'T', "v=spf1 ip4:192.0.2.3 -all", 0 },
                { "i4.example", 'T', "v=spf1 ip4:192.0.2.4 -all", 0 },
                { "i5.example", 'T', "v=spf1 ip4:192.0.2.5 -all", 0 },
                { "i6.example", 'T', "v=spf1 ip4:192.0.2.6 -all", 0 },
                { "i7.example", 'T', "v=spf1 ip4:192.0.2.7 -all", 0 },
                { "i8.example", 'T', "v=spf1 ip4:192.0.2.8 -all", 0 },
                { "i9.example", 'T', "v=spf1 ip4:192.0.2.9 -all", 0 },
                { "h.example", '4', "192.0.2.9", 0 },
                { "m.example", 'M', "h.example", 0 },
        };
        struct fake_dns d = FAKE(rr);
        struct spf_result res;
        char err[512];

        (void) state;
        assert_int_equal(expand(&d, "ten.example", 0, false, &res, err, sizeof(err)), 0);
        assert_int_equal(res.lookups, 10);
        assert_int_equal(res.v4.n, 1);   /* 192.0.2.1-192.0.2.9: adjacent hosts merge */
        spf_result_free(&res);

        assert_int_equal(expand(&d, "eleven.example", 0, false, &res, err, sizeof(err)), -E2BIG);
        assert_non_null(strstr(err, "too many DNS lookups"));
        assert_non_null(strstr(err, "i9.example"));
        spf_result_free(&res);

        assert_int_equal(expand(&d, "deep.example", 0, false, &res, err, sizeof(err)), -E2BIG);
        spf_result_free(&res);

        /* keep_going: the one lookup past the cap is reported once and skipped. */
        assert_int_equal(expand(&d, "eleven.example", 0, true, &res, err, sizeof(err)), 0);
        assert_int_equal(res.first_error, -E2BIG);
        assert_int_equal(res.nerrors, 1);
        assert_int_equal(res.lookups, 11);
        assert_true(list_has(&res.v4, "192.0.2.8"));
        assert_true(list_has(&res.v4, "192.0.2.9"));     /* from a:h.example */
        spf_result_free(&res);

        /* A raised cap lets it through; a lowered one stops earlier. */
        assert_int_equal(expand(&d, "eleven.example", 11, false, &res, err, sizeof(err)), 0);
        assert_int_equal(res.lookups, 11);
        spf_result_free(&res);
        d.queries = 0;
        assert_int_equal(expand(&d, "ten.example", 3, false, &res, err, sizeof(err)), -E2BIG);
        assert_non_null(strstr(err, "include:i4.example"));
        assert_true(d.queries <= 4);     /* nothing is looked up past the cap */
        spf_result_free(&res);
}

static void test_split_txt(void **state)
{
        static const struct fake_rr rr[] = {
                /* One record in three strings; the joins fall inside terms. */
                { "split.example", 'T', "v=spf1 ip4:192.0.2.0/24 ip|4:198.51.100.0/24 ip6:2001:db8:|:/32 -all", 0 },
                { "split.example", 'T', "some|other|text", 0 },
        };
        struct fake_dns d = FAKE(rr);
        struct spf_result res;
        struct fmt_buf b;
        char err[512];
        char *s = NULL;
        static const unsigned char bad[] = { 5, 'a', 'b' };
        static const unsigned char nul[] = { 3, 'a', 0, 'b', 0 };

        (void) state;
        assert_int_equal(expand(&d, "split.example", 0, false, &res, err, sizeof(err)), 0);
        assert_string_equal(fmt_list(&res.v4, &b), "192.0.2.0/24 198.51.100.0/24");
        assert_string_equal(fmt_list(&res.v6, &b), "2001:db8::/32");
        spf_result_free(&res);

        assert_int_equal(dns_txt_join(bad, sizeof(bad), &s), -EBADMSG);
        assert_int_equal(dns_txt_join(nul, sizeof(nul), &s), 0);
        assert_string_equal(s, "a?b");  /* an empty string adds nothing, a NUL cannot cut the text */
        free(s);
}

static void test_a_mx_cidr(void **state)
{
        static const struct fake_rr rr[] = {
                { "am.example", 'T', "v=spf1 a a:relay.example/24 mx//64 mx:other.example/28//120 -all", 0 },
                { "am.example", '4', "192.0.2.10", 0 },
                { "am.example", '6', "2001:db8:a::1", 0 },
                { "am.example", 'M', "mx1.example", 0 },
                { "am.example", 'M', "mx2.example", 0 },
                { "relay.example", '4', "198.51.100.77", 0 },
                { "mx1.example", '4', "203.0.113.5", 0 },
                { "mx1.example", '6', "2001:db8:b::5", 0 },
                { "mx2.example", '6', "2001:db8:c::5", 0 },
                { "other.example", 'M', "mx3.example", 0 },
                { "mx3.example", '4', "203.0.113.200", 0 },
                { "mx3.example", '6', "2001:db8:d::1234", 0 },
                /* A name with no addresses is a void lookup, not an error. */
                { "void.example", 'T', "v=spf1 a:nothing.example mx:nothing.example ip4:192.0.2.1 -all", 0 },
                { "toomany.example", 'T', "v=spf1 mx -all", 0 },
                { "toomany.example", 'M', "h1.example", 0 }, { "toomany.example", 'M', "h2.example", 0 },
                { "toomany.example", 'M', "h3.example", 0 }, { "toomany.example", 'M', "h4.example", 0 },
                { "toomany.example", 'M', "h5.example", 0 }, { "toomany.example", 'M', "h6.example", 0 },
                { "toomany.example", 'M', "h7.example", 0 }, { "toomany.example", 'M', "h8.example", 0 },
                { "toomany.example", 'M', "h9.example", 0 }, { "toomany.example", 'M', "h10.example", 0 },
                { "toomany.example", 'M', "h11.example", 0 },
        };
        struct fake_dns d = FAKE(rr);
        struct spf_result res;
        struct fmt_buf b;
        char err[512];

        (void) state;
        assert_int_equal(expand(&d, "am.example", 0, false, &res, err, sizeof(err)), 0);
        assert_string_equal(fmt_list(&res.v4, &b), "192.0.2.10 198.51.100.0/24 203.0.113.5 203.0.113.192/28");
        assert_string_equal(fmt_list(&res.v6, &b),
                            "2001:db8:a::1 2001:db8:b::/64 2001:db8:c::/64 2001:db8:d::1200/120");
        assert_int_equal(res.lookups, 4);
        spf_result_free(&res);

        assert_int_equal(expand(&d, "void.example", 0, false, &res, err, sizeof(err)), 0);
        assert_string_equal(fmt_list(&res.v4, &b), "192.0.2.1");
        assert_int_equal(res.v6.n, 0);
        spf_result_free(&res);

        assert_int_equal(expand(&d, "toomany.example", 0, false, &res, err, sizeof(err)), -E2BIG);
        assert_non_null(strstr(err, "11 MX hosts"));
        spf_result_free(&res);
}

static void test_qualifiers(void **state)
{
        static const struct fake_rr rr[] = {
                { "q.example", 'T', "v=spf1 -ip4:192.0.2.7 ip4:192.0.2.0/24 ~ip4:198.51.100.0/24 "
                                    "?ip4:203.0.113.0/24 +ip6:2001:db8::/48 -ip6:2001:db8:1::/48 -all", 0 },
                /* Terms after 'all' are never reached. */
                { "after.example", 'T', "v=spf1 ip4:192.0.2.1 -all ip4:198.51.100.0/24", 0 },
                { "soft.example", 'T', "v=spf1 ip4:192.0.2.1 ~all ip4:198.51.100.0/24", 0 },
                /* A '-include' hides what the include passes. */
                { "neg.example", 'T', "v=spf1 -include:inner.example ip4:192.0.2.0/24 -all", 0 },
                { "inner.example", 'T', "v=spf1 ip4:192.0.2.64/26 -all", 0 },
                /* ~include / ?include grant nothing either. */
                { "tilde.example", 'T', "v=spf1 ~include:inner.example ?include:inner.example -all", 0 },
                { "plusall.example", 'T', "v=spf1 ip4:192.0.2.1 +all", 0 },
                { "bareall.example", 'T', "v=spf1 include:plusall.example -all", 0 },
                { "empty.example", 'T', "v=spf1 -all", 0 },
                { "ptr.example", 'T', "v=spf1 ptr exists:%{i}.e.example ip4:192.0.2.1 -all", 0 },
        };
        struct fake_dns d = FAKE(rr);
        struct spf_result res;
        struct fmt_buf b;
        char err[512];

        (void) state;
        assert_int_equal(expand(&d, "q.example", 0, false, &res, err, sizeof(err)), 0);
        assert_true(list_has(&res.v4, "192.0.2.6"));
        assert_false(list_has(&res.v4, "192.0.2.7"));
        assert_true(list_has(&res.v4, "192.0.2.255"));
        assert_false(list_has(&res.v4, "198.51.100.1"));
        assert_false(list_has(&res.v4, "203.0.113.1"));
        assert_string_equal(fmt_list(&res.v6, &b), "2001:db8::/48");
        spf_result_free(&res);

        assert_int_equal(expand(&d, "after.example", 0, false, &res, err, sizeof(err)), 0);
        assert_string_equal(fmt_list(&res.v4, &b), "192.0.2.1");
        spf_result_free(&res);
        assert_int_equal(expand(&d, "soft.example", 0, false, &res, err, sizeof(err)), 0);
        assert_string_equal(fmt_list(&res.v4, &b), "192.0.2.1");
        spf_result_free(&res);

        assert_int_equal(expand(&d, "neg.example", 0, false, &res, err, sizeof(err)), 0);
        assert_string_equal(fmt_list(&res.v4, &b), "192.0.2.0/26 192.0.2.128/25");
        spf_result_free(&res);

        assert_int_equal(expand(&d, "tilde.example", 0, false, &res, err, sizeof(err)), 0);
        assert_int_equal(res.v4.n, 0);
        spf_result_free(&res);

        assert_int_equal(expand(&d, "plusall.example", 0, false, &res, err, sizeof(err)), -EPERM);
        assert_non_null(strstr(err, "+all"));
        spf_result_free(&res);
        assert_int_equal(expand(&d, "bareall.example", 0, false, &res, err, sizeof(err)), -EPERM);
        spf_result_free(&res);

        assert_int_equal(expand(&d, "empty.example", 0, false, &res, err, sizeof(err)), 0);
        assert_int_equal(res.v4.n + res.v6.n, 0);
        spf_result_free(&res);

        assert_int_equal(expand(&d, "ptr.example", 0, false, &res, err, sizeof(err)), 0);
        assert_string_equal(fmt_list(&res.v4, &b), "192.0.2.1");
        assert_int_equal(res.nnotes, 2);
        assert_non_null(strstr(res.notes[0], "ptr"));
        assert_int_equal(res.lookups, 2);
        spf_result_free(&res);
}

static void test_bad_records(void **state)
{
        static const struct fake_rr rr[] = {
                { "two.example", 'T', "v=spf1 ip4:192.0.2.1 -all", 0 },
                { "two.example", 'T', "v=spf1 ip4:192.0.2.2 -all", 0 },
                { "none.example", 'T', "just text", 0 },
                { "broken.example", 'T', "v=spf1 ip4:192.0.2.1 include -all", 0 },
                { "incbroken.example", 'T', "v=spf1 ip4:192.0.2.9 include:broken.example -all", 0 },
                { "macro.example", 'T', "v=spf1 include:%{d}.spf.example -all", 0 },
                { "tmo.example", 'T', "v=spf1 ip4:192.0.2.3 include:slow.example include:fine.example -all", 0 },
                { "slow.example", 'X', NULL, -ETIMEDOUT },
                { "fine.example", 'T', "v=spf1 ip6:2001:db8::/32 -all", 0 },
                { "afail.example", 'T', "v=spf1 a:slow.example -all", 0 },
        };
        struct fake_dns d = FAKE(rr);
        struct spf_result res;
        struct fmt_buf b;
        char err[512];

        (void) state;
        assert_int_equal(expand(&d, "two.example", 0, false, &res, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "2 SPF records"));
        spf_result_free(&res);
        assert_int_equal(expand(&d, "none.example", 0, false, &res, err, sizeof(err)), -ENOENT);
        spf_result_free(&res);
        assert_int_equal(expand(&d, "nx.example", 0, false, &res, err, sizeof(err)), -ENOENT);
        assert_non_null(strstr(err, "NXDOMAIN"));
        spf_result_free(&res);
        assert_int_equal(expand(&d, "incbroken.example", 0, false, &res, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "broken.example: malformed SPF record"));
        spf_result_free(&res);
        assert_int_equal(expand(&d, "macro.example", 0, false, &res, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "macros"));
        spf_result_free(&res);
        assert_int_equal(expand(&d, "bad..name", 0, false, &res, err, sizeof(err)), -EINVAL);
        spf_result_free(&res);

        /* A lookup that times out fails the walk... */
        assert_int_equal(expand(&d, "tmo.example", 0, false, &res, err, sizeof(err)), -ETIMEDOUT);
        assert_non_null(strstr(err, "slow.example"));
        spf_result_free(&res);
        assert_int_equal(expand(&d, "afail.example", 0, false, &res, err, sizeof(err)), -ETIMEDOUT);
        spf_result_free(&res);
        /* ...or, with keep_going, is reported and the rest is kept. */
        assert_int_equal(expand(&d, "tmo.example", 0, true, &res, err, sizeof(err)), 0);
        assert_int_equal(res.first_error, -ETIMEDOUT);
        assert_int_equal(res.nerrors, 1);
        assert_string_equal(fmt_list(&res.v4, &b), "192.0.2.3");
        assert_string_equal(fmt_list(&res.v6, &b), "2001:db8::/32");
        spf_result_free(&res);
}

static void test_google_merge(void **state)
{
        static const struct fake_rr rr[] = {
                { "_spf.google.com", 'T', "v=spf1 include:_netblocks.google.com include:_netblocks2.google.com "
                                          "include:_netblocks3.google.com ~all", 0 },
                { "_netblocks.google.com", 'T',
                  "v=spf1 ip4:35.190.247.0/24 ip4:64.233.160.0/19 ip4:66.102.0.0/20 ip4:66.249.80.0/20 "
                  "ip4:72.14.192.0/18 ip4:74.125.0.0/16 ip4:108.177.8.0/21 ip4:173.194.0.0/16 "
                  "ip4:209.85.128.0/17 ip4:216.58.192.0/19 ip4:216.239.32.0/19 ~all", 0 },
                { "_netblocks2.google.com", 'T',
                  "v=spf1 ip6:2001:4860:4000::/36 ip6:2404:6800:4000::/36 ip6:2607:f8b0:4000::/36 "
                  "ip6:2800:3f0:4000::/36 ip6:2a00:1450:4000::/36 ip6:2c0f:fb50:4000::/36 ~all", 0 },
                { "_netblocks3.google.com", 'T',
                  "v=spf1 ip4:172.217.0.0/19 ip4:172.217.32.0/20 ip4:172.217.128.0/19 ip4:172.217.160.0/20 "
                  "ip4:172.217.192.0/19 ip4:108.177.96.0/19 ~all", 0 },
        };
        struct fake_dns d = FAKE(rr);
        struct spf_result res;
        struct fmt_buf b;
        char err[512];

        (void) state;
        assert_int_equal(expand(&d, "_spf.google.com", 0, false, &res, err, sizeof(err)), 0);
        assert_int_equal(res.lookups, 3);
        assert_int_equal(res.norigins, 23);
        /* 17 IPv4 blocks; 172.217.0.0/19+/20 and 172.217.128.0/19+/20 are adjacent
         * and merge into one range each: 15 ranges. */
        assert_int_equal(res.v4.n, 15);
        assert_int_equal(res.v6.n, 6);
        assert_true(list_has(&res.v4, "172.217.47.255"));
        assert_false(list_has(&res.v4, "172.217.48.0"));
        assert_true(list_has(&res.v4, "172.217.175.255"));
        assert_false(list_has(&res.v4, "172.217.176.0"));
        assert_true(list_has(&res.v6, "2a00:1450:4fff::1"));
        /* The CIDR form still lists each block once. */
        fmt_list(&res.v4, &b);
        assert_non_null(strstr(b.s, "172.217.0.0/19 172.217.32.0/20"));
        assert_true(spf_range_count(&res.v4) > 0);
        spf_result_free(&res);
}

static void test_subtract_count(void **state)
{
        struct range_list a, bl, out;
        struct prefix p;
        struct fmt_buf b;

        (void) state;
        range_list_init(&a, AF_INET);
        range_list_init(&bl, AF_INET);
        /* Microsoft's 52.100.0.0/14 became /15 + /16 + /17. */
        assert_int_equal(prefix_parse("52.100.0.0/14", &p, NULL), 0);
        range_list_add(&a, prefix_range(&p));
        range_list_merge(&a);
        assert_int_equal(prefix_parse("52.100.0.0/15", &p, NULL), 0);
        range_list_add(&bl, prefix_range(&p));
        assert_int_equal(prefix_parse("52.102.0.0/16", &p, NULL), 0);
        range_list_add(&bl, prefix_range(&p));
        assert_int_equal(prefix_parse("52.103.0.0/17", &p, NULL), 0);
        range_list_add(&bl, prefix_range(&p));
        range_list_merge(&bl);
        assert_int_equal(spf_range_subtract(&a, &bl, &out), 0);
        assert_string_equal(fmt_list(&out, &b), "52.103.128.0/17");
        range_list_free(&out);
        assert_int_equal(spf_range_subtract(&bl, &a, &out), 0);
        assert_int_equal(out.n, 0);
        range_list_free(&out);
        assert_true(spf_range_count(&a) == 262144.0L);
        assert_true(spf_range_count(&bl) == 229376.0L);
        range_list_free(&a);
        range_list_free(&bl);

        /* The whole IPv6 space does not overflow the count. */
        range_list_init(&a, AF_INET6);
        range_list_add(&a, (struct range){ 0, ~(addr128)0 });
        assert_true(spf_range_count(&a) > 3.4e38L);
        range_list_free(&a);
}

static void test_nameserver_check(void **state)
{
        (void) state;
        assert_int_equal(dns_nameserver_check("127.0.0.1"), 0);
        assert_int_equal(dns_nameserver_check("127.0.0.1:5353"), 0);
        assert_int_equal(dns_nameserver_check("2001:db8::53"), 0);
        assert_int_equal(dns_nameserver_check("[2001:db8::53]:53"), 0);
        assert_int_equal(dns_nameserver_check("[::1]"), 0);
        assert_int_equal(dns_nameserver_check("127.0.0.1:0"), -EINVAL);
        assert_int_equal(dns_nameserver_check("127.0.0.1:65536"), -EINVAL);
        assert_int_equal(dns_nameserver_check("127.0.0.1:"), -EINVAL);
        assert_int_equal(dns_nameserver_check("ns.example.org"), -EINVAL);
        assert_int_equal(dns_nameserver_check("[::1"), -EINVAL);
        assert_int_equal(dns_nameserver_check(""), -EINVAL);
        assert_true(dns_error_is_permanent(-ENOENT));
        assert_true(dns_error_is_permanent(-ENODATA));
        assert_false(dns_error_is_permanent(-ETIMEDOUT));
        assert_false(dns_error_is_permanent(-EAGAIN));
        assert_string_equal(dns_error_name(-ETIMEDOUT), "timeout");
        assert_string_equal(dns_error_name(-EAGAIN), "SERVFAIL");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_terms),
                cmocka_unit_test(test_parse_malformed),
                cmocka_unit_test(test_nested_includes),
                cmocka_unit_test(test_redirect),
                cmocka_unit_test(test_loop),
                cmocka_unit_test(test_lookup_cap),
                cmocka_unit_test(test_split_txt),
                cmocka_unit_test(test_a_mx_cidr),
                cmocka_unit_test(test_qualifiers),
                cmocka_unit_test(test_bad_records),
                cmocka_unit_test(test_google_merge),
                cmocka_unit_test(test_subtract_count),
                cmocka_unit_test(test_nameserver_check),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
