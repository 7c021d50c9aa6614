/* tests/fuzz/fuzz_prefix.c: libFuzzer target for src/net/prefix.c.
 *
 * The input is used twice:
 *  1. as text for prefix_parse; a parsed prefix must have its host bits
 *     clear, round-trip through prefix_format, and give lo <= hi;
 *  2. as a list of ranges (the first byte picks the encoding) that is merged;
 *     the merged list must be sorted, non-overlapping and non-adjacent,
 *     range_list_contains must agree with a naive scan of the input, and the
 *     CIDR decomposition must tile each merged range exactly.
 * Any violation calls abort().
 *
 * clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc -Isrc/net -Irules -Infq \
 *       tests/fuzz/fuzz_prefix.c src/net/prefix.c -o /tmp/fuzz_prefix
 * /tmp/fuzz_prefix -max_total_time=60 tests/fuzz/corpus/prefix/
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "prefix.h"

#define ALL_ONES (~(addr128)0)
#define MAX_RANGES 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                           \
        do {                                                                  \
                if (!(cond)) {                                                \
                        fprintf(stderr, "%s:%d: check failed: %s\n",          \
                                __FILE__, __LINE__, #cond);                   \
                        abort();                                              \
                }                                                             \
        } while (0)

static unsigned family_bits(int family)
{
        return family == AF_INET ? 32 : 128;
}

static addr128 family_max(int family)
{
        return family == AF_INET ? (addr128)0xffffffffu : ALL_ONES;
}

static addr128 host_mask(int family, unsigned len)
{
        unsigned bits = family_bits(family);

        if (len >= bits)
                return 0;
        if (bits - len == 128)
                return ALL_ONES;
        return ((addr128)1 << (bits - len)) - 1;
}

static void check_prefix_text(const char *text)
{
        struct prefix p, q;
        struct range r;
        unsigned flags = 0, qflags = 0;
        char buf[64], abuf[ADDR_STRLEN];
        int family;
        addr128 a;

        if (prefix_parse(text, &p, &flags) != 0)
                return;
        CHECK(p.family == AF_INET || p.family == AF_INET6);
        CHECK(p.len <= family_bits(p.family));
        CHECK(p.addr <= family_max(p.family));
        CHECK((p.addr & host_mask(p.family, p.len)) == 0);
        CHECK((flags & ~(unsigned)(PREFIX_WILDCARD | PREFIX_HOST_BITS)) == 0);
        if (flags & PREFIX_WILDCARD) {
                /* Only trailing octets are '*', one per missing byte. */
                const char *star = strchr(text, '*');
                static const char *const tails[] = { "*", "*.*", "*.*.*" };

                CHECK(p.family == AF_INET && p.len % 8 == 0 && p.len >= 8 && p.len <= 24);
                CHECK(star && strcmp(star, tails[(32 - p.len) / 8 - 1]) == 0);
        } else {
                CHECK(!strchr(text, '*'));
        }
        /* Nothing that parses contains a space. */
        CHECK(!strchr(text, ' '));

        prefix_format(&p, buf, sizeof(buf));
        CHECK(prefix_parse(buf, &q, &qflags) == 0);
        CHECK(qflags == 0);
        CHECK(q.family == p.family && q.addr == p.addr && q.len == p.len);
        /* A full-length prefix prints as a bare address that addr_parse takes. */
        if (p.len == family_bits(p.family)) {
                CHECK(!strchr(buf, '/'));
                CHECK(addr_parse(buf, &family, &a) == 0);
                CHECK(family == p.family && a == p.addr);
                CHECK(strcmp(addr_format(p.family, p.addr, abuf), buf) == 0);
        }

        r = prefix_range(&p);
        CHECK(r.lo <= r.hi);
        CHECK(r.lo == p.addr);
        CHECK(r.hi - r.lo == host_mask(p.family, p.len));
        CHECK(prefix_contains(&p, p.family, r.lo));
        CHECK(prefix_contains(&p, p.family, r.hi));
        if (r.lo > 0)
                CHECK(!prefix_contains(&p, p.family, r.lo - 1));
        if (r.hi < family_max(p.family))
                CHECK(!prefix_contains(&p, p.family, r.hi + 1));
        CHECK(!prefix_contains(&p, p.family == AF_INET ? AF_INET6 : AF_INET, r.lo));
}

static addr128 read_addr(const uint8_t *b, size_t n)
{
        addr128 a = 0;

        for (size_t i = 0; i < n; i++)
                a = (a << 8) | b[i];
        return a;
}

/* Decode the input into ranges. Byte 0: bit 0 family (IPv6 when set), bits
 * 1-2 mode. Compact modes put small ranges in a 256-address window at the
 * bottom, top or middle of the space so that overlaps, adjacency, duplicates
 * and the top address are common; the raw mode reads full addresses. */
static size_t decode_ranges(const uint8_t *data, size_t size, int *ret_family,
                            struct range *v, addr128 *ret_base)
{
        int family;
        unsigned mode;
        size_t n = 0;
        addr128 base = 0;

        if (size < 1)
                return 0;
        family = (data[0] & 1) ? AF_INET6 : AF_INET;
        mode = (data[0] >> 1) & 3;
        data++;
        size--;
        if (mode == 1)
                base = family_max(family) - 255;
        else if (mode == 2)
                base = family == AF_INET ? 0xc0000200u : (addr128)0x20010db8 << 96;
        if (mode < 3) {
                for (size_t i = 0; i + 1 < size && n < MAX_RANGES; i += 2) {
                        unsigned lo = data[i], w = data[i + 1] & 31;
                        unsigned hi = lo + w > 255 ? 255 : lo + w;

                        v[n].lo = base + lo;
                        v[n].hi = base + hi;
                        n++;
                }
        } else {
                size_t step = family == AF_INET ? 4 : 16;

                for (size_t i = 0; i + 2 * step <= size && n < MAX_RANGES; i += 2 * step) {
                        addr128 a = read_addr(data + i, step), b = read_addr(data + i + step, step);

                        v[n].lo = a < b ? a : b;
                        v[n].hi = a < b ? b : a;
                        n++;
                }
        }
        *ret_family = family;
        *ret_base = base;
        return n;
}

static bool naive_contains(const struct range *v, size_t n, addr128 a)
{
        for (size_t i = 0; i < n; i++)
                if (v[i].lo <= a && a <= v[i].hi)
                        return true;
        return false;
}

static void probe(const struct range_list *l, const struct range *in, size_t n,
                  addr128 a)
{
        if (a > family_max(l->family))
                return;
        CHECK(range_list_contains(l, a) == naive_contains(in, n, a));
}

struct tile {
        int family;
        addr128 next;   /* first address the next block must start at */
        bool done;      /* the previous block ended at the top of the space */
        size_t count;
        unsigned prev_len;
        addr128 prev_addr;
};

static void tile_cb(const struct prefix *p, void *userdata)
{
        struct tile *t = userdata;
        struct range r = prefix_range(p);
        unsigned bits = family_bits(t->family);

        CHECK(p->family == t->family);
        CHECK(p->len <= bits);
        CHECK((p->addr & host_mask(p->family, p->len)) == 0);
        CHECK(!t->done);
        CHECK(r.lo == t->next);
        /* Minimality: two equal-size neighbours that form an aligned block
         * of double size would have been one block. */
        if (t->count > 0 && p->len == t->prev_len && p->len > 0)
                CHECK((t->prev_addr & host_mask(p->family, p->len - 1u)) != 0);
        t->prev_len = p->len;
        t->prev_addr = p->addr;
        t->count++;
        if (r.hi == ALL_ONES)
                t->done = true;
        else
                t->next = r.hi + 1;
}

static void check_ranges(const uint8_t *data, size_t size)
{
        struct range in[MAX_RANGES];
        struct range_list l;
        size_t n, dups = 0, total = 0;
        int family;
        addr128 base;

        if (size == 0)
                return;
        n = decode_ranges(data, size, &family, in, &base);
        range_list_init(&l, family);
        for (size_t i = 0; i < n; i++)
                if (range_list_add(&l, in[i]) != 0)
                        abort();
        CHECK(l.n == n);
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < i; j++)
                        if (in[i].lo == in[j].lo && in[i].hi == in[j].hi) {
                                dups++;
                                break;
                        }
        CHECK(range_list_merge(&l) == dups);
        CHECK(l.n <= n);
        CHECK((l.n == 0) == (n == 0));

        for (size_t i = 0; i < l.n; i++) {
                struct tile t = { .family = family, .next = l.v[i].lo };

                CHECK(l.v[i].lo <= l.v[i].hi);
                CHECK(l.v[i].hi <= family_max(family));
                if (i > 0) {
                        /* sorted, non-overlapping, non-adjacent */
                        CHECK(l.v[i - 1].hi < l.v[i].lo);
                        CHECK(l.v[i - 1].hi + 1 < l.v[i].lo);
                }
                range_to_prefixes(family, l.v[i], tile_cb, &t);
                CHECK(t.count > 0);
                if (l.v[i].hi == ALL_ONES)
                        CHECK(t.done);
                else
                        CHECK(!t.done && t.next == l.v[i].hi + 1);
                total += t.count;
                probe(&l, in, n, l.v[i].lo);
                probe(&l, in, n, l.v[i].hi);
                if (l.v[i].lo > 0)
                        probe(&l, in, n, l.v[i].lo - 1);
                probe(&l, in, n, l.v[i].hi + 1);
        }
        CHECK(range_list_count_prefixes(&l) == total);

        for (size_t i = 0; i < n; i++) {
                probe(&l, in, n, in[i].lo);
                probe(&l, in, n, in[i].hi);
                probe(&l, in, n, in[i].lo + (in[i].hi - in[i].lo) / 2);
                if (in[i].lo > 0)
                        probe(&l, in, n, in[i].lo - 1);
                if (in[i].hi < ALL_ONES)
                        probe(&l, in, n, in[i].hi + 1);
        }
        if (((data[0] >> 1) & 3) < 3)
                for (unsigned k = 0; k < 256; k++)
                        probe(&l, in, n, base + k);
        probe(&l, in, n, 0);
        probe(&l, in, n, family_max(family));

        /* Merging again is a no-op. */
        {
                size_t before = l.n;

                CHECK(range_list_merge(&l) == 0);
                CHECK(l.n == before);
        }
        range_list_free(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *text = malloc(size + 1);

        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        check_prefix_text(text);
        /* Also each line on its own, so a corpus file can hold several. */
        for (char *line = text, *nl; line; line = nl) {
                nl = strchr(line, '\n');
                if (nl)
                        *nl++ = '\0';
                if (line != text || nl)
                        check_prefix_text(line);
        }
        free(text);
        check_ranges(data, size);
        return 0;
}
