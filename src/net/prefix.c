/* src/net/prefix.c: IPv4/IPv6 addresses and prefixes: parsing, merging into
 * non-overlapping ranges, lookup and CIDR decomposition. Pure, no I/O. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "prefix.h"


/* Longest text we look at: an IPv6 address with an embedded IPv4 tail plus
 * "/128"; anything longer is not a prefix. */
#define PREFIX_TEXT_MAX 64

/* The host part of a prefix of length len in a family of the given bits. */
static addr128 host_mask(unsigned bits, unsigned len)
{
        if (len >= bits)
                return 0;
        if (bits - len >= 128)
                return ADDR128_MAX;
        return ((addr128)1 << (bits - len)) - 1;
}

static int count_trailing_zeros(addr128 a)
{
        uint64_t low = (uint64_t)a, high = (uint64_t)(a >> 64);

        if (low)
                return __builtin_ctzll(low);
        if (high)
                return 64 + __builtin_ctzll(high);
        return 128;
}

/* floor(log2(a)) for a != 0. */
static int floor_log2(addr128 a)
{
        uint64_t low = (uint64_t)a, high = (uint64_t)(a >> 64);

        if (high)
                return 127 - __builtin_clzll(high);
        return 63 - __builtin_clzll(low);
}

addr128 addr_from_bytes(int family, const void *bytes)
{
        const uint8_t *b = bytes;
        size_t n = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
        addr128 a = 0;

        for (size_t i = 0; i < n; i++)
                a = (a << 8) | b[i];
        return a;
}

void addr_to_bytes(int family, addr128 a, void *bytes)
{
        uint8_t *b = bytes;
        size_t n = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;

        for (size_t i = n; i > 0; i--) {
                b[i - 1] = (uint8_t)a;
                a >>= 8;
        }
}

char *addr_format(int family, addr128 a, char *buf)
{
        uint8_t bytes[16];

        if (family == AF_INET) {
                /* dotted quad by hand: glibc's inet_ntop goes through sprintf,
                 * and a flood formats every source */
                uint32_t v = (uint32_t)a;
                char *p = buf;

                for (int shift = 24; shift >= 0; shift -= 8) {
                        unsigned o = (v >> shift) & 0xff;

                        if (o >= 100)
                                *p++ = (char)('0' + o / 100);
                        if (o >= 10)
                                *p++ = (char)('0' + o / 10 % 10);
                        *p++ = (char)('0' + o % 10);
                        *p++ = shift ? '.' : '\0';
                }
                return buf;
        }
        if (family != AF_INET6) {
                buf[0] = '\0';
                return buf;
        }
        addr_to_bytes(family, a, bytes);
        {
                /* RFC 5952 by hand, as glibc's inet_ntop writes it (which
                 * goes through sprintf, and a flood of IPv6 sources formats
                 * each one): the first longest run of two or more zero
                 * groups becomes "::". Addresses that inet_ntop writes with
                 * an IPv4 tail (::a.b.c.d, ::ffff:a.b.c.d) are left to it. */
                static const char hex[] = "0123456789abcdef";
                unsigned w[8];
                int best = -1, bestlen = 0, cur = -1, curlen = 0;
                char *p = buf;

                for (int i = 0; i < 8; i++) {
                        w[i] = (unsigned)bytes[2 * i] << 8 | bytes[2 * i + 1];
                        if (w[i] == 0) {
                                if (cur < 0)
                                        cur = i, curlen = 0;
                                if (++curlen > bestlen)
                                        best = cur, bestlen = curlen;
                        } else {
                                cur = -1;
                        }
                }
                if (bestlen < 2)
                        best = -1;
                if (best == 0 && (bestlen == 6 || (bestlen == 5 && w[5] == 0xffff))) {
                        if (!inet_ntop(family, bytes, buf, ADDR_STRLEN))
                                buf[0] = '\0';
                        return buf;
                }
                for (int i = 0; i < 8; i++) {
                        if (i == best) {
                                *p++ = ':';
                                if (i == 0)
                                        *p++ = ':';
                                i += bestlen - 1;
                                continue;
                        }
                        for (int sh = 12, lead = 1; sh >= 0; sh -= 4) {
                                unsigned d = (w[i] >> sh) & 0xf;

                                if (d == 0 && lead && sh)
                                        continue;
                                lead = 0;
                                *p++ = hex[d];
                        }
                        if (i < 7)
                                *p++ = ':';
                }
                *p = '\0';
        }
        return buf;
}

char *prefix_format(const struct prefix *p, char *buf, size_t len)
{
        char a[ADDR_STRLEN];

        if (len == 0)
                return buf;
        addr_format(p->family, p->addr, a);
        if (p->len >= addr_bits(p->family))
                snprintf(buf, len, "%s", a);
        else
                snprintf(buf, len, "%s/%u", a, (unsigned)p->len);
        return buf;
}

/* The n bytes at s as a dotted quad, read as inet_pton reads one (four
 * decimal octets up to 255, no leading zero) but without a copy to end it:
 * inet_pton was a tenth of a 1M-prefix catalog's parse. */
static bool parse_v4(const char *s, size_t n, uint32_t *ret)
{
        uint32_t a = 0, octet = 0;
        unsigned dots = 0, digits = 0;

        for (size_t i = 0; i < n; i++) {
                char ch = s[i];

                if (ch >= '0' && ch <= '9') {
                        if (digits > 0 && octet == 0)
                                return false;   /* leading zero */
                        octet = octet * 10 + (uint32_t)(ch - '0');
                        if (octet > 255)
                                return false;
                        digits++;
                } else if (ch == '.' && digits > 0 && dots < 3) {
                        a = a << 8 | octet;
                        octet = 0;
                        digits = 0;
                        dots++;
                } else {
                        return false;
                }
        }
        if (dots != 3 || digits == 0)
                return false;
        *ret = a << 8 | octet;
        return true;
}

/* The n bytes at s (no NUL among them) as an address. */
static int addr_parse_n(const char *s, size_t n, int *ret_family, addr128 *ret_addr)
{
        char buf[PREFIX_TEXT_MAX];
        uint8_t bytes[16];
        uint32_t v4;

        if (n == 0)
                return -EINVAL;
        if (!memchr(s, ':', n)) {
                if (!parse_v4(s, n, &v4))
                        return -EINVAL;
                *ret_family = AF_INET;
                *ret_addr = v4;
                return 0;
        }
        if (n >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, s, n);
        buf[n] = '\0';
        if (inet_pton(AF_INET6, buf, bytes) != 1)
                return -EINVAL;
        *ret_family = AF_INET6;
        *ret_addr = addr_from_bytes(AF_INET6, bytes);
        return 0;
}

int addr_parse(const char *text, int *ret_family, addr128 *ret_addr)
{
        if (!text)
                return -EINVAL;
        return addr_parse_n(text, strlen(text), ret_family, ret_addr);
}

/* "a.b.c.*", "a.b.*.*", "a.*.*.*": only trailing octets may be '*', at least
 * one octet must be given. The given octets are checked by inet_pton. */
static int wildcard_parse(const char *text, struct prefix *ret)
{
        char buf[PREFIX_TEXT_MAX];
        unsigned given = 0, stars = 0;
        const char *s = text;
        size_t o = 0;
        uint8_t bytes[4];

        for (unsigned octet = 0; octet < 4; octet++) {
                const char *end = strchr(s, '.');
                size_t n = end ? (size_t)(end - s) : strlen(s);

                if ((octet < 3) != (end != NULL))
                        return -EINVAL;
                if (n == 1 && s[0] == '*') {
                        stars++;
                        if (o + 2 > sizeof(buf))
                                return -EINVAL;
                        buf[o++] = '0';
                } else {
                        if (stars > 0 || n == 0 || n > 3)
                                return -EINVAL;
                        for (size_t i = 0; i < n; i++)
                                if (s[i] < '0' || s[i] > '9')
                                        return -EINVAL;
                        if (o + n + 1 > sizeof(buf))
                                return -EINVAL;
                        memcpy(buf + o, s, n);
                        o += n;
                        given++;
                }
                if (octet < 3)
                        buf[o++] = '.';
                s = end ? end + 1 : s + n;
        }
        buf[o] = '\0';
        if (given == 0 || stars == 0)
                return -EINVAL;
        if (inet_pton(AF_INET, buf, bytes) != 1)
                return -EINVAL;
        ret->family = AF_INET;
        ret->len = (uint8_t)(8 * given);
        ret->addr = addr_from_bytes(AF_INET, bytes) & ~host_mask(32, ret->len);
        return 0;
}

int prefix_parse(const char *text, struct prefix *ret, unsigned *ret_flags)
{
        char buf[PREFIX_TEXT_MAX];
        const char *slash;
        struct prefix p = {0};
        unsigned flags = 0, bits;
        unsigned long len;
        size_t alen;
        addr128 mask;
        int r;

        if (!text || !*text)
                return -EINVAL;
        slash = strchr(text, '/');
        alen = slash ? (size_t)(slash - text) : strlen(text);
        if (alen == 0 || alen >= sizeof(buf))
                return -EINVAL;

        if (memchr(text, '*', alen)) {
                if (slash)
                        return -EINVAL;
                memcpy(buf, text, alen);
                buf[alen] = '\0';
                r = wildcard_parse(buf, &p);
                if (r < 0)
                        return r;
                flags |= PREFIX_WILDCARD;
                goto done;
        }

        r = addr_parse_n(text, alen, &p.family, &p.addr);
        if (r < 0)
                return r;
        bits = addr_bits(p.family);
        len = bits;
        if (slash) {
                const char *d = slash + 1;
                size_t n = strlen(d);

                /* Plain decimal only: no sign, space, or leading zero. */
                if (n == 0 || n > 3 || (n > 1 && d[0] == '0'))
                        return -EINVAL;
                len = 0;
                for (size_t i = 0; i < n; i++) {
                        if (d[i] < '0' || d[i] > '9')
                                return -EINVAL;
                        len = len * 10 + (unsigned long)(d[i] - '0');
                }
                if (len > bits)
                        return -EINVAL;
        }
        p.len = (uint8_t)len;
        mask = host_mask(bits, p.len);
        if (p.addr & mask) {
                p.addr &= ~mask;
                flags |= PREFIX_HOST_BITS;
        }
done:
        *ret = p;
        if (ret_flags)
                *ret_flags = flags;
        return 0;
}

struct range prefix_range(const struct prefix *p)
{
        unsigned bits = addr_bits(p->family);
        addr128 mask = host_mask(bits, p->len);
        struct range r;

        r.lo = p->addr & ~mask & addr_max(p->family);
        r.hi = r.lo | mask;
        return r;
}

bool prefix_contains(const struct prefix *p, int family, addr128 a)
{
        struct range r;

        if (family != p->family || a > addr_max(family))
                return false;
        r = prefix_range(p);
        return a >= r.lo && a <= r.hi;
}

void range_list_init(struct range_list *l, int family)
{
        *l = (struct range_list){ .family = family };
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#define RANGE_MAP_MIN (1u << 20)   /* bytes: smaller lists come from malloc */

static size_t mapped_size(size_t cap)
{
        size_t page = 4096;

        return (cap * sizeof(struct range) + page - 1) & ~(page - 1);
}

void range_list_free(struct range_list *l)
{
        if (!l)
                return;
        if (!l->borrowed) {
                if (l->mapped)
                        (void)munmap(l->v, mapped_size(l->cap));
                else
                        free(l->v);
        }
        l->v = NULL;
        l->n = l->cap = 0;
        l->borrowed = false;
        l->mapped = false;
}

int range_list_alloc(struct range_list *l, size_t cap)
{
        void *p;

        range_list_free(l);
        if (cap == 0)
                return 0;
        if (cap > SIZE_MAX / sizeof(struct range) / 2)
                return -ENOMEM;
        if (cap * sizeof(struct range) < RANGE_MAP_MIN) {
                l->v = malloc(cap * sizeof(struct range));
                if (!l->v)
                        return -ENOMEM;
                l->cap = cap;
                return 0;
        }
        p = mmap(NULL, mapped_size(cap), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                return -ENOMEM;
        /* all pages in one call (Linux 5.14); an older kernel faults them
         * in as the pass goes. Huge pages were faster on average, but their
         * compaction stalled a reload now and then for 60 ms. */
        (void)madvise(p, mapped_size(cap), MADV_POPULATE_WRITE);
        l->v = p;
        l->cap = cap;
        l->mapped = true;
        return 0;
}

void range_list_borrow(struct range_list *dst, const struct range_list *src)
{
        range_list_free(dst);
        dst->family = src->family;
        dst->v = src->v;
        dst->n = dst->cap = src->n;
        dst->borrowed = true;
}

void range_list_put_merged(struct range_list *l, struct range r)
{
        if (l->n) {
                struct range *last = &l->v[l->n - 1];

                if (range_touches(last, r.lo)) {
                        if (r.hi > last->hi)
                                last->hi = r.hi;
                        return;
                }
        }
        l->v[l->n++] = r;
}

int range_list_union(struct range_list *dst, const struct range_list *a, const struct range_list *b)
{
        const struct range_list *in[2] = { a, b };
        size_t at[2] = { 0, 0 };

        dst->family = a->family;
        if (range_list_alloc(dst, a->n + b->n) < 0)
                return -ENOMEM;
        while (at[0] < a->n || at[1] < b->n) {
                /* x: the list with the lower next start; y: the other */
                int x = at[1] < b->n && (at[0] >= a->n || b->v[at[1]].lo < a->v[at[0]].lo);
                int y = !x;
                addr128 stop = at[y] < in[y]->n ? in[y]->v[at[y]].lo : ADDR128_MAX;
                struct range *out;

                /* x's ranges that join what is there; past it, the rest of
                 * x's run up to y's next range is copied as it is (a merged
                 * list's ranges never touch each other) */
                do
                        range_list_put_merged(dst, in[x]->v[at[x]++]);
                while (at[x] < in[x]->n && in[x]->v[at[x]].lo < stop &&
                       range_touches(&dst->v[dst->n - 1], in[x]->v[at[x]].lo));
                out = dst->v + dst->n;
                while (at[x] < in[x]->n && in[x]->v[at[x]].lo < stop)
                        *out++ = in[x]->v[at[x]++];
                dst->n = (size_t)(out - dst->v);
        }
        return 0;
}

int range_list_add(struct range_list *l, struct range r)
{
        if (l->borrowed)
                return -EPERM;
        if (r.lo > r.hi || r.hi > addr_max(l->family))
                return -EINVAL;
        if (l->n == l->cap) {
                size_t cap = l->cap ? l->cap * 2 : 16;
                struct range *v;

                if (cap < l->cap || cap > SIZE_MAX / sizeof(*v))
                        return -ENOMEM;
                if (l->mapped) {
                        v = malloc(cap * sizeof(*v));
                        if (!v)
                                return -ENOMEM;
                        memcpy(v, l->v, l->n * sizeof(*v));
                        (void)munmap(l->v, mapped_size(l->cap));
                        l->mapped = false;
                } else {
                        v = realloc(l->v, cap * sizeof(*v));
                        if (!v)
                                return -ENOMEM;
                }
                l->v = v;
                l->cap = cap;
        }
        l->v[l->n++] = r;
        return 0;
}

static int range_compare(const void *a, const void *b)
{
        const struct range *x = a, *y = b;

        if (x->lo != y->lo)
                return x->lo < y->lo ? -1 : 1;
        if (x->hi != y->hi)
                return x->hi < y->hi ? -1 : 1;
        return 0;
}

#define RADIX_MIN 4096
#define RADIX_BITS 11                   /* 3 passes for IPv4, 6 for IPv6 */
#define RADIX_DIGITS (1 << RADIX_BITS)

/* A range's sort key and where it was. */
struct keyed {
        uint64_t key;
        size_t i;
};

static void insertion_sort(struct range *v, size_t n)
{
        for (size_t i = 1; i < n; i++) {
                struct range r = v[i];
                size_t j = i;

                while (j > 0 && range_compare(&r, &v[j - 1]) < 0) {
                        v[j] = v[j - 1];
                        j--;
                }
                v[j] = r;
        }
}

/* Ranges in (lo, hi) order: a radix sort of the 64 bits of lo from the
 * highest one that differs between them, then whatever those bits tie
 * (ranges starting together, or IPv6 ones differing only further down)
 * sorted by comparison. qsort was half of a 1M-prefix catalog's reload.
 * Returns 0, or a negative errno (the caller sorts another way). */
static int sort_radix(struct range_list *l)
{
        struct keyed *a = NULL, *b = NULL, *t;
        struct range *sorted = NULL;
        size_t count[RADIX_DIGITS], n = l->n;
        addr128 diff = 0;
        unsigned top, shift;
        uint64_t hi;
        int r = -ENOMEM;

        for (size_t i = 1; i < n; i++)
                diff |= l->v[i].lo ^ l->v[0].lo;
        if (diff == 0)
                return -EINVAL;         /* one start: only hi to sort by */
        hi = (uint64_t)(diff >> 64);
        top = hi ? 127 - (unsigned)__builtin_clzll(hi) : 63 - (unsigned)__builtin_clzll((uint64_t)diff);
        shift = top >= 63 ? top - 63 : 0;
        a = malloc(n * sizeof(*a));
        b = malloc(n * sizeof(*b));
        sorted = malloc(n * sizeof(*sorted));
        if (!a || !b || !sorted)
                goto out;
        for (size_t i = 0; i < n; i++) {
                a[i].key = (uint64_t)(l->v[i].lo >> shift);
                a[i].i = i;
        }
        for (unsigned s = 0; s < 64; s += RADIX_BITS) {
                size_t sum = 0;

                memset(count, 0, sizeof(count));
                for (size_t i = 0; i < n; i++)
                        count[(a[i].key >> s) & (RADIX_DIGITS - 1)]++;
                if (count[(a[0].key >> s) & (RADIX_DIGITS - 1)] == n)
                        continue;       /* this digit is the same everywhere */
                for (int k = 0; k < RADIX_DIGITS; k++) {
                        size_t c = count[k];

                        count[k] = sum;
                        sum += c;
                }
                for (size_t i = 0; i < n; i++)
                        b[count[(a[i].key >> s) & (RADIX_DIGITS - 1)]++] = a[i];
                t = a, a = b, b = t;
        }
        for (size_t i = 0; i < n; i++)
                sorted[i] = l->v[a[i].i];
        for (size_t i = 0; i < n;) {
                size_t j = i + 1;

                while (j < n && a[j].key == a[i].key)
                        j++;
                if (j - i > 16)
                        qsort(sorted + i, j - i, sizeof(*sorted), range_compare);
                else if (j - i > 1)
                        insertion_sort(sorted + i, j - i);
                i = j;
        }
        memcpy(l->v, sorted, n * sizeof(*sorted));
        r = 0;
out:
        free(a);
        free(b);
        free(sorted);
        return r;
}

/* Sort by (lo, hi): radix for big lists, qsort when that cannot be had. */
static void range_list_sort(struct range_list *l)
{
        if (l->n >= RADIX_MIN && sort_radix(l) == 0)
                return;
        qsort(l->v, l->n, sizeof(*l->v), range_compare);
}

/* Does r join the merged range last (overlapping or adjacent)? A range
 * ending at the top of the space swallows everything after it. */
static bool range_joins(const struct range *last, const struct range *r)
{
        return last->hi == ADDR128_MAX || r->lo <= last->hi + 1;
}

int range_list_merge_members(struct range_list *l, struct range_list *members, size_t *ret_dups)
{
        size_t dups = 0, w = 0;

        if (l->n == 0 || l->borrowed) {
                *ret_dups = 0;
                return 0;       /* a borrowed list was merged by its owner */
        }
        range_list_sort(l);
        if (members) {
                /* before merging in place: the runs of two ranges or more */
                struct range span = l->v[0];
                size_t start = 0;

                for (size_t i = 1; i <= l->n; i++) {
                        if (i < l->n && range_joins(&span, &l->v[i])) {
                                if (l->v[i].hi > span.hi)
                                        span.hi = l->v[i].hi;
                                continue;
                        }
                        for (size_t k = start; i - start > 1 && k < i; k++)
                                if (range_list_add(members, l->v[k]) < 0)
                                        return -ENOMEM;
                        if (i < l->n) {
                                span = l->v[i];
                                start = i;
                        }
                }
        }
        for (size_t i = 0; i < l->n; i++) {
                struct range r = l->v[i];
                struct range *last = w ? &l->v[w - 1] : NULL;

                if (i > 0 && r.lo == l->v[i - 1].lo && r.hi == l->v[i - 1].hi)
                        dups++;
                if (last && range_joins(last, &r)) {
                        if (r.hi > last->hi)
                                last->hi = r.hi;
                        continue;
                }
                l->v[w++] = r;
        }
        l->n = w;
        *ret_dups = dups;
        return 0;
}

size_t range_list_merge(struct range_list *l)
{
        size_t dups;

        (void)range_list_merge_members(l, NULL, &dups);
        return dups;
}

size_t range_list_upper(const struct range_list *l, size_t from, addr128 a)
{
        size_t lo = from, hi = l->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (l->v[mid].lo <= a)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

bool range_list_contains(const struct range_list *l, addr128 a)
{
        /* the range before the first that starts above a is the only candidate */
        size_t i = range_list_upper(l, 0, a);

        return i > 0 && a <= l->v[i - 1].hi;
}

/* Walk the minimal CIDR blocks of r, calling cb (when set) for each; returns
 * their number. */
static size_t range_walk(int family, struct range r,
                         void (*cb)(const struct prefix *p, void *userdata), void *userdata)
{
        unsigned bits = addr_bits(family);
        addr128 lo = r.lo;
        size_t count = 0;

        if (family != AF_INET && family != AF_INET6)
                return 0;
        if (r.lo > r.hi || r.hi > addr_max(family))
                return 0;
        for (;;) {
                addr128 span = r.hi - lo;
                int k = count_trailing_zeros(lo);
                int fit = span == ADDR128_MAX ? 128 : floor_log2(span + 1);
                addr128 size_mask;

                if (k > (int)bits)
                        k = (int)bits;
                if (fit < k)
                        k = fit;
                size_mask = host_mask(128, (unsigned)(128 - k));
                if (cb) {
                        struct prefix p = {
                                .family = family,
                                .addr = lo,
                                .len = (uint8_t)(bits - (unsigned)k),
                        };
                        cb(&p, userdata);
                }
                count++;
                if (lo + size_mask == r.hi)
                        break;
                lo += size_mask + 1;
        }
        return count;
}

size_t range_list_count_prefixes(const struct range_list *l)
{
        size_t total = 0;

        for (size_t i = 0; i < l->n; i++)
                total += range_walk(l->family, l->v[i], NULL, NULL);
        return total;
}

void range_to_prefixes(int family, struct range r,
                       void (*cb)(const struct prefix *p, void *userdata), void *userdata)
{
        range_walk(family, r, cb, userdata);
}
