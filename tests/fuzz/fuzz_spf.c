/* tests/fuzz/fuzz_spf.c: libFuzzer target for the SPF parser and expander
 * (src/spf.c).
 *
 * The input is split on '\n' into records r0 .. rN. Each line is parsed on
 * its own with spf_parse: on success every term must be well formed (a
 * known kind and qualifier, cidr lengths in range, ip4/ip6 prefixes of the
 * right family with host bits clear, a domain where one is required). Then
 * the lines become a fake DNS (TXT of "rK.f" is line K; A and AAAA of any
 * name are one address derived from the name; MX of "rK.f" is "rK.f") and
 * r0.f is expanded, with the first byte choosing the lookup cap and
 * keep_going. The result must be merged (sorted, non-overlapping,
 * non-adjacent), the lookup count must not pass the cap by more than one,
 * and an error must come with a message.
 *
 * clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc -Isrc/net -Irules -Infq \
 *     tests/fuzz/fuzz_spf.c src/spf.c src/net/prefix.c -o fuzz_spf
 * ./fuzz_spf -max_total_time=60 tests/fuzz/corpus/spf
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "prefix.h"
#include "spf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) abort(); } while (0)
#define MAX_LINES 64

struct fz {
        char *line[MAX_LINES];
        size_t n;
};

/* "rK.f" (any case, optional trailing dot) -> K, else -1. */
static long record_index(const char *name)
{
        char *end;
        long k;

        if ((name[0] != 'r' && name[0] != 'R') || name[1] < '0' || name[1] > '9')
                return -1;
        k = strtol(name + 1, &end, 10);
        if (strcasecmp(end, ".f") != 0 && strcasecmp(end, ".f.") != 0)
                return -1;
        return k;
}

static int fz_txt(const char *name, char ***ret_v, size_t *ret_n, char *err, size_t errlen, void *userdata)
{
        struct fz *z = userdata;
        long k = record_index(name);
        char **v;

        if (k < 0 || (size_t)k >= z->n) {
                snprintf(err, errlen, "%s: NXDOMAIN", name);
                return k == 7 ? -ETIMEDOUT : -ENOENT;    /* r7.f past the end: a timeout */
        }
        v = malloc(sizeof(*v));
        CHECK(v);
        v[0] = strdup(z->line[k]);
        CHECK(v[0]);
        *ret_v = v;
        *ret_n = 1;
        return 0;
}

static int fz_addrs(const char *name, int family, struct prefix **ret, size_t *ret_n, char *err, size_t errlen,
                    void *userdata)
{
        struct prefix *p;
        unsigned h = 0;

        (void) userdata;
        for (const char *s = name; *s; s++)
                h = h * 31 + (unsigned char)*s;
        if (h % 5 == 0) {
                snprintf(err, errlen, "%s: no data", name);
                return -ENODATA;
        }
        p = malloc(sizeof(*p));
        CHECK(p);
        p->family = family;
        p->len = family == AF_INET ? 32 : 128;
        p->addr = family == AF_INET ? (addr128)h : ((addr128)0x20010db8u << 96) | h;
        *ret = p;
        *ret_n = 1;
        return 0;
}

static int fz_mx(const char *name, char ***ret_hosts, size_t *ret_n, char *err, size_t errlen, void *userdata)
{
        char **v;

        (void) userdata;
        (void) err;
        (void) errlen;
        v = malloc(2 * sizeof(*v));
        CHECK(v);
        v[0] = strdup(name);
        v[1] = strdup("mx.example");
        CHECK(v[0] && v[1]);
        *ret_hosts = v;
        *ret_n = 2;
        return 0;
}

static void check_record(const struct spf_record *r)
{
        for (size_t i = 0; i < r->n; i++) {
                const struct spf_term *t = &r->v[i];

                CHECK(t->qualifier == '+' || t->qualifier == '-' || t->qualifier == '~' || t->qualifier == '?');
                CHECK(t->kind >= SPF_ALL && t->kind <= SPF_EXISTS);
                switch (t->kind) {
                case SPF_IP4:
                case SPF_IP6: {
                        struct range rg = prefix_range(&t->prefix);

                        CHECK(t->prefix.family == (t->kind == SPF_IP4 ? AF_INET : AF_INET6));
                        CHECK(t->prefix.len <= (t->kind == SPF_IP4 ? 32 : 128));
                        CHECK(rg.lo == t->prefix.addr && rg.lo <= rg.hi);
                        break;
                }
                case SPF_INCLUDE:
                case SPF_EXISTS:
                        CHECK(t->domain && t->domain[0]);
                        break;
                case SPF_A:
                case SPF_MX:
                        CHECK(t->cidr4 <= 32 && t->cidr6 <= 128);
                        CHECK(!t->domain || t->domain[0]);
                        break;
                default:
                        CHECK(!t->domain || t->domain[0]);
                        break;
                }
        }
        CHECK(!r->redirect || r->redirect[0]);
}

static void check_merged(const struct range_list *l)
{
        for (size_t i = 0; i < l->n; i++) {
                CHECK(l->v[i].lo <= l->v[i].hi);
                if (l->family == AF_INET)
                        CHECK(l->v[i].hi <= 0xffffffffu);
                if (i)
                        CHECK(l->v[i - 1].hi < l->v[i].lo && l->v[i - 1].hi + 1 < l->v[i].lo);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct spf_lookup lk = { .txt = fz_txt, .addrs = fz_addrs, .mx = fz_mx };
        struct spf_opts o = { 0 };
        struct spf_result res;
        struct fz z = { .n = 0 };
        char err[512];
        char *text;
        size_t start = 0;
        int r;

        if (size == 0)
                return 0;
        o.max_lookups = data[0] & 0x0f;         /* 0: the default 10 */
        o.keep_going = data[0] & 0x10;
        text = malloc(size);
        CHECK(text);
        memcpy(text, data + 1, size - 1);
        text[size - 1] = '\0';
        for (size_t i = 0; i <= size - 1 && z.n < MAX_LINES; i++) {
                if (i == size - 1 || text[i] == '\n' || text[i] == '\0') {
                        bool end = i == size - 1 || text[i] == '\0';

                        text[i] = '\0';
                        z.line[z.n++] = text + start;
                        start = i + 1;
                        if (end)
                                break;
                }
        }
        for (size_t k = 0; k < z.n; k++) {
                struct spf_record *rec = NULL;

                err[0] = '\0';
                r = spf_parse(z.line[k], &rec, err, sizeof(err));
                if (r == 0) {
                        CHECK(spf_is_record(z.line[k]));
                        check_record(rec);
                        spf_record_free(rec);
                } else {
                        CHECK(r == -EINVAL || r == -ENOMEM);
                        CHECK(err[0]);
                }
        }

        lk.userdata = &z;
        err[0] = '\0';
        r = spf_expand("r0.f", &lk, &o, &res, err, sizeof(err));
        check_merged(&res.v4);
        check_merged(&res.v6);
        CHECK(res.v4.family == AF_INET && res.v6.family == AF_INET6);
        CHECK(res.lookups <= (o.max_lookups ? o.max_lookups : SPF_DEFAULT_MAX_LOOKUPS) + 1);
        if (r < 0)
                CHECK(err[0] && res.first_error == r);
        if (r == 0 && res.first_error)
                CHECK(o.keep_going && res.nerrors > 0 && err[0]);
        if (r == 0 && !o.keep_going)
                CHECK(res.first_error == 0);
        spf_result_free(&res);
        free(text);
        return 0;
}
