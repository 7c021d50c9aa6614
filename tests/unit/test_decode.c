/* tests/unit/test_decode.c: syn_decode on hand-built IPv4/IPv6 packets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "decode.h"

static const uint8_t v4_src[4] = { 192, 0, 2, 10 };
static const uint8_t v4_dst[4] = { 203, 0, 113, 1 };
static const uint8_t v6_src[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07 };
static const uint8_t v6_dst[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01 };

struct pkt {
        uint8_t b[512];
        size_t len;
};

static void put16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
}

/* A TCP SYN header with doff words of header (options filled with NOPs). */
static size_t put_tcp(uint8_t *p, uint16_t sport, uint16_t dport, uint8_t flags, unsigned doff)
{
        size_t i;

        memset(p, 0, doff * 4);
        put16(p, sport);
        put16(p + 2, dport);
        p[4] = 0x12; p[5] = 0x34; p[6] = 0x56; p[7] = 0x78;    /* seq */
        p[12] = (uint8_t)(doff << 4);
        p[13] = flags;
        put16(p + 14, 64240);                                   /* window */
        for (i = 20; i < doff * 4; i++)
                p[i] = 1;                                       /* NOP */
        return doff * 4;
}

static void ipv4_checksum(uint8_t *h, size_t ihl)
{
        uint32_t sum = 0;
        size_t i;

        h[10] = h[11] = 0;
        for (i = 0; i < ihl; i += 2)
                sum += (uint32_t)(h[i] << 8 | h[i + 1]);
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        put16(h + 10, (uint16_t)~sum);
}

/* IPv4 header with opt_len bytes of options, protocol proto, then a TCP SYN
 * (or 8 bytes of UDP when proto is 17). */
static void build_ipv4(struct pkt *p, size_t opt_len, uint8_t proto)
{
        size_t ihl = 20 + opt_len, l4;
        uint8_t *h = p->b;

        memset(p, 0, sizeof(*p));
        h[0] = (uint8_t)(0x40 | (ihl / 4));
        put16(h + 4, 0x1c46);                   /* id */
        put16(h + 6, 0x4000);                   /* DF */
        h[8] = 64;
        h[9] = proto;
        memcpy(h + 12, v4_src, 4);
        memcpy(h + 16, v4_dst, 4);
        if (opt_len > 0) {
                /* Record Route with room for two addresses, then padding:
                 * a real option whose bytes would look like ports. */
                h[20] = 7; h[21] = 11; h[22] = 4;
                memset(h + 23, 0xee, opt_len - 3);
                h[20 + opt_len - 1] = 0;        /* EOL */
        }
        if (proto == 6) {
                l4 = put_tcp(h + ihl, 40312, 25, 0x02, 5);
        } else {
                put16(h + ihl, 5353);
                put16(h + ihl + 2, 53);
                put16(h + ihl + 4, 8);
                l4 = 8;
        }
        p->len = ihl + l4;
        put16(h + 2, (uint16_t)p->len);
        ipv4_checksum(h, ihl);
}

/* IPv6 header followed by the given extension headers (each a type number;
 * the list ends with the upper-layer protocol), then TCP. */
static void build_ipv6(struct pkt *p, const uint8_t *chain, size_t n, size_t frag_off)
{
        uint8_t *h = p->b;
        size_t off = 40, i;

        memset(p, 0, sizeof(*p));
        h[0] = 0x60;
        h[6] = chain[0];
        h[7] = 57;
        memcpy(h + 8, v6_src, 16);
        memcpy(h + 24, v6_dst, 16);
        for (i = 0; i + 1 < n; i++) {
                uint8_t *e = h + off;

                e[0] = chain[i + 1];
                switch (chain[i]) {
                case 0:         /* hop-by-hop: PadN, 8 bytes */
                        e[1] = 0;
                        e[2] = 1; e[3] = 4;
                        off += 8;
                        break;
                case 60:        /* destination options: 16 bytes */
                        e[1] = 1;
                        e[2] = 1; e[3] = 12;
                        off += 16;
                        break;
                case 43:        /* routing type 0, segments left 0, 24 bytes */
                        e[1] = 2;
                        off += 24;
                        break;
                case 44:        /* fragment */
                        put16(e + 2, (uint16_t)((frag_off << 3) | 1));
                        e[4] = 0xde; e[5] = 0xad; e[6] = 0xbe; e[7] = 0xef;
                        off += 8;
                        break;
                case 51:        /* AH with a 96-bit ICV: (4 + 2) * 4 = 24 bytes */
                        e[1] = 4;
                        off += 24;
                        break;
                default:
                        fail_msg("bad extension header %u in test", chain[i]);
                }
        }
        if (chain[n - 1] == 6) {
                off += put_tcp(h + off, 51000, 25, 0x02, 5);
        } else {
                put16(h + off, 5353);
                put16(h + off + 2, 53);
                put16(h + off + 4, 8);
                off += 8;
        }
        p->len = off;
        put16(h + 4, (uint16_t)(off - 40));
}

/* Decode from an exactly sized heap copy so ASan sees any over-read. */
static int decode_exact(const uint8_t *b, size_t len, struct syn_info *info)
{
        uint8_t *copy = malloc(len ? len : 1);
        int r;

        assert_non_null(copy);
        memcpy(copy, b, len);
        r = syn_decode(copy, len, info);
        free(copy);
        return r;
}

static void assert_v4_syn(const struct syn_info *s)
{
        assert_int_equal(s->family, AF_INET);
        assert_memory_equal(s->src, v4_src, 4);
        assert_memory_equal(s->dst, v4_dst, 4);
        assert_int_equal(s->sport, 40312);
        assert_int_equal(s->dport, 25);
        assert_int_equal(s->ttl, 64);
        assert_int_equal(s->tcp_flags, 0x02);
}

static void assert_v6_syn(const struct syn_info *s)
{
        assert_int_equal(s->family, AF_INET6);
        assert_memory_equal(s->src, v6_src, 16);
        assert_memory_equal(s->dst, v6_dst, 16);
        assert_int_equal(s->sport, 51000);
        assert_int_equal(s->dport, 25);
        assert_int_equal(s->ttl, 57);
        assert_int_equal(s->tcp_flags, 0x02);
}

/* The error must leave *ret untouched. */
static void assert_fails(const struct pkt *p, int want)
{
        struct syn_info s, before;

        memset(&s, 0xa5, sizeof(s));
        before = s;
        assert_int_equal(decode_exact(p->b, p->len, &s), want);
        assert_memory_equal(&s, &before, sizeof(s));
}

static void test_ipv4_plain(void **state)
{
        struct pkt p;
        struct syn_info s;

        (void)state;
        build_ipv4(&p, 0, 6);
        assert_int_equal(p.len, 40);
        assert_int_equal(decode_exact(p.b, p.len, &s), DECODE_OK);
        assert_v4_syn(&s);

        /* SYN+ACK and a different TTL come through as they are */
        p.b[20 + 13] = 0x12;
        p.b[8] = 1;
        assert_int_equal(decode_exact(p.b, p.len, &s), DECODE_OK);
        assert_int_equal(s.tcp_flags, 0x12);
        assert_int_equal(s.ttl, 1);
}

static void test_ipv4_options(void **state)
{
        struct pkt p;
        struct syn_info s;

        (void)state;
        build_ipv4(&p, 12, 6);
        assert_int_equal(p.b[0], 0x48);
        assert_int_equal(p.len, 52);
        assert_int_equal(decode_exact(p.b, p.len, &s), DECODE_OK);
        assert_v4_syn(&s);

        /* the maximum: IHL 15, 40 bytes of options */
        build_ipv4(&p, 40, 6);
        assert_int_equal(p.b[0], 0x4f);
        assert_int_equal(decode_exact(p.b, p.len, &s), DECODE_OK);
        assert_v4_syn(&s);
}

static void test_ipv4_total_length(void **state)
{
        struct pkt p;
        struct syn_info s;

        (void)state;
        /* Ethernet padding after the datagram is ignored */
        build_ipv4(&p, 0, 6);
        p.len = 60;
        assert_int_equal(decode_exact(p.b, p.len, &s), DECODE_OK);
        assert_v4_syn(&s);

        /* a copy shorter than tot_len (copy range) still has the TCP header */
        build_ipv4(&p, 0, 6);
        put16(p.b + 2, 1500);
        assert_int_equal(decode_exact(p.b, p.len, &s), DECODE_OK);
        assert_v4_syn(&s);

        /* tot_len smaller than the IP header */
        build_ipv4(&p, 0, 6);
        put16(p.b + 2, 19);
        assert_fails(&p, DECODE_MALFORMED);
        build_ipv4(&p, 12, 6);
        put16(p.b + 2, 24);
        assert_fails(&p, DECODE_MALFORMED);
        build_ipv4(&p, 0, 6);
        put16(p.b + 2, 0);
        assert_fails(&p, DECODE_MALFORMED);

        /* tot_len says the TCP header is cut even though bytes follow */
        build_ipv4(&p, 0, 6);
        put16(p.b + 2, 39);
        assert_fails(&p, DECODE_TRUNCATED);
        put16(p.b + 2, 20);
        assert_fails(&p, DECODE_TRUNCATED);
}

static void test_ipv4_bad_ihl(void **state)
{
        struct pkt p;
        uint8_t ihl;

        (void)state;
        for (ihl = 0; ihl < 5; ihl++) {
                build_ipv4(&p, 0, 6);
                p.b[0] = (uint8_t)(0x40 | ihl);
                assert_fails(&p, DECODE_MALFORMED);
        }
        /* IHL pointing past the copied bytes */
        build_ipv4(&p, 0, 6);
        p.b[0] = 0x4f;
        p.len = 50;
        put16(p.b + 2, 50);
        assert_fails(&p, DECODE_TRUNCATED);
}

static void test_bad_version(void **state)
{
        struct pkt p;
        unsigned v;

        (void)state;
        for (v = 0; v < 16; v++) {
                if (v == 4 || v == 6)
                        continue;
                build_ipv4(&p, 0, 6);
                p.b[0] = (uint8_t)((v << 4) | 5);
                assert_fails(&p, DECODE_MALFORMED);
        }
        /* an IPv6 packet labelled version 4 is not silently misread */
        {
                const uint8_t chain[] = { 6 };

                build_ipv6(&p, chain, 1, 0);
                p.b[0] = 0x40;
                assert_fails(&p, DECODE_MALFORMED);     /* IHL 0 */
        }
}

static void test_not_tcp(void **state)
{
        struct pkt p;
        const uint8_t udp6[] = { 17 };
        const uint8_t icmp6[] = { 58 };
        const uint8_t nonext[] = { 0, 59 };

        (void)state;
        build_ipv4(&p, 0, 17);
        assert_fails(&p, DECODE_NOT_TCP);
        build_ipv4(&p, 12, 17);
        assert_fails(&p, DECODE_NOT_TCP);
        build_ipv4(&p, 0, 6);
        p.b[9] = 1;                     /* ICMP */
        assert_fails(&p, DECODE_NOT_TCP);

        build_ipv6(&p, udp6, 1, 0);
        assert_fails(&p, DECODE_NOT_TCP);
        build_ipv6(&p, icmp6, 1, 0);
        assert_fails(&p, DECODE_NOT_TCP);
        /* hop-by-hop then "no next header" */
        build_ipv6(&p, nonext, 2, 0);
        p.len = 48;
        put16(p.b + 4, 8);
        assert_fails(&p, DECODE_NOT_TCP);
}

static void test_ipv4_fragments(void **state)
{
        struct pkt p;
        struct syn_info s;

        (void)state;
        /* first fragment (MF, offset 0) carries the TCP header */
        build_ipv4(&p, 0, 6);
        put16(p.b + 6, 0x2000);
        assert_int_equal(decode_exact(p.b, p.len, &s), DECODE_OK);
        assert_v4_syn(&s);

        /* later fragments: whatever follows the header is not TCP */
        put16(p.b + 6, 0x2001);
        assert_fails(&p, DECODE_NOT_TCP);
        put16(p.b + 6, 0x1fff);
        assert_fails(&p, DECODE_NOT_TCP);
        put16(p.b + 6, 0x0185);         /* last fragment, offset 389 */
        assert_fails(&p, DECODE_NOT_TCP);
}

static void test_ipv6_plain(void **state)
{
        struct pkt p;
        struct syn_info s;
        const uint8_t chain[] = { 6 };

        (void)state;
        build_ipv6(&p, chain, 1, 0);
        assert_int_equal(p.len, 60);
        assert_int_equal(decode_exact(p.b, p.len, &s), DECODE_OK);
        assert_v6_syn(&s);

        /* traffic class and flow label do not disturb the version */
        p.b[0] = 0x6f; p.b[1] = 0xff; p.b[2] = 0xff; p.b[3] = 0xff;
        assert_int_equal(decode_exact(p.b, p.len, &s), DECODE_OK);
        assert_v6_syn(&s);

        /* payload length shorter than the TCP header */
        build_ipv6(&p, chain, 1, 0);
        put16(p.b + 4, 19);
        assert_fails(&p, DECODE_TRUNCATED);
}

static void test_ipv6_extension_headers(void **state)
{
        struct pkt p;
        struct syn_info s;
        const uint8_t hbh_dst_frag[] = { 0, 60, 44, 6 };
        const uint8_t routing_ah[] = { 0, 43, 51, 60, 6 };

        (void)state;
        build_ipv6(&p, hbh_dst_frag, 4, 0);
        assert_int_equal(p.len, 40 + 8 + 16 + 8 + 20);
        assert_int_equal(decode_exact(p.b, p.len, &s), DECODE_OK);
        assert_v6_syn(&s);

        build_ipv6(&p, routing_ah, 5, 0);
        assert_int_equal(p.len, 40 + 8 + 24 + 24 + 16 + 20);
        assert_int_equal(decode_exact(p.b, p.len, &s), DECODE_OK);
        assert_v6_syn(&s);

        /* payload length that ends inside the extension headers */
        build_ipv6(&p, hbh_dst_frag, 4, 0);
        put16(p.b + 4, 8 + 16 + 4);
        assert_fails(&p, DECODE_TRUNCATED);
}

/* A copy that ends inside the extension headers (what a queue copy range
 * shorter than the headers gives): the TCP header is out of reach, and
 * syn_decode_network still names the source from the fixed header. */
static void test_network_header_only(void **state)
{
        struct pkt p;
        struct syn_info s;
        const uint8_t hbh_dst_frag[] = { 0, 60, 44, 6 };
        uint8_t *copy;

        (void)state;
        build_ipv6(&p, hbh_dst_frag, 4, 0);
        assert_int_equal(decode_exact(p.b, 40 + 8 + 4, &s), DECODE_TRUNCATED);
        copy = malloc(40);
        assert_non_null(copy);
        memcpy(copy, p.b, 40);
        memset(&s, 0xff, sizeof(s));
        assert_int_equal(syn_decode_network(copy, 40, &s), DECODE_OK);
        assert_int_equal(s.family, AF_INET6);
        assert_memory_equal(s.src, v6_src, 16);
        assert_memory_equal(s.dst, v6_dst, 16);
        assert_int_equal(s.ttl, 57);
        assert_int_equal(s.sport, 0);
        assert_int_equal(s.dport, 0);
        assert_int_equal(syn_decode_network(copy, 39, &s), DECODE_TRUNCATED);
        free(copy);

        build_ipv4(&p, 0, 6);
        assert_int_equal(syn_decode_network(p.b, 20, &s), DECODE_OK);
        assert_int_equal(s.family, AF_INET);
        assert_memory_equal(s.src, v4_src, 4);
        assert_int_equal(syn_decode_network(p.b, 19, &s), DECODE_TRUNCATED);
        p.b[0] = 0x50;
        assert_int_equal(syn_decode_network(p.b, 20, &s), DECODE_MALFORMED);
        assert_int_equal(syn_decode_network(NULL, 0, &s), DECODE_TRUNCATED);
}

static void test_ipv6_fragment_not_first(void **state)
{
        struct pkt p;
        const uint8_t chain[] = { 0, 60, 44, 6 };
        const uint8_t frag_only[] = { 44, 6 };

        (void)state;
        build_ipv6(&p, chain, 4, 1);
        assert_fails(&p, DECODE_NOT_TCP);
        build_ipv6(&p, frag_only, 2, 8191);
        assert_fails(&p, DECODE_NOT_TCP);
}

static void test_ipv6_header_limit(void **state)
{
        struct pkt p;
        struct syn_info s;
        uint8_t chain[18];
        size_t i;

        (void)state;
        /* 16 destination-options headers are walked ... */
        for (i = 0; i < 16; i++)
                chain[i] = 60;
        chain[16] = 6;
        build_ipv6(&p, chain, 17, 0);
        assert_int_equal(decode_exact(p.b, p.len, &s), DECODE_OK);
        assert_v6_syn(&s);

        /* ... a 17th is not */
        for (i = 0; i < 17; i++)
                chain[i] = 60;
        chain[17] = 6;
        build_ipv6(&p, chain, 18, 0);
        assert_fails(&p, DECODE_MALFORMED);
}

static void test_tcp_data_offset(void **state)
{
        struct pkt p;
        struct syn_info s;
        const uint8_t chain[] = { 6 };
        uint8_t doff;

        (void)state;
        for (doff = 0; doff < 5; doff++) {
                build_ipv4(&p, 0, 6);
                p.b[20 + 12] = (uint8_t)(doff << 4);
                assert_fails(&p, DECODE_MALFORMED);
                build_ipv6(&p, chain, 1, 0);
                p.b[40 + 12] = (uint8_t)(doff << 4);
                assert_fails(&p, DECODE_MALFORMED);
        }
        /* options announced but not copied: the fixed header is enough */
        build_ipv4(&p, 0, 6);
        p.b[20 + 12] = 0xf0;
        assert_int_equal(decode_exact(p.b, p.len, &s), DECODE_OK);
        assert_v4_syn(&s);

        /* a real SYN with MSS/SACK/TS/WS options (doff 10) */
        build_ipv4(&p, 0, 6);
        p.len = 20 + put_tcp(p.b + 20, 40312, 25, 0x02, 10);
        put16(p.b + 2, (uint16_t)p.len);
        assert_int_equal(decode_exact(p.b, p.len, &s), DECODE_OK);
        assert_v4_syn(&s);
}

/* Every prefix of a valid packet is an error and is read within bounds. */
static void check_all_truncations(const struct pkt *full)
{
        struct pkt p;
        struct syn_info s;
        size_t n;

        assert_int_equal(decode_exact(full->b, full->len, &s), DECODE_OK);
        for (n = 0; n < full->len; n++) {
                p = *full;
                p.len = n;
                assert_fails(&p, DECODE_TRUNCATED);
        }
}

static void test_truncations(void **state)
{
        struct pkt p;
        const uint8_t plain[] = { 6 };
        const uint8_t ext[] = { 0, 60, 44, 6 };
        const uint8_t ext2[] = { 0, 43, 51, 60, 6 };

        (void)state;
        build_ipv4(&p, 0, 6);
        check_all_truncations(&p);
        build_ipv4(&p, 12, 6);
        check_all_truncations(&p);
        build_ipv4(&p, 40, 6);
        check_all_truncations(&p);
        build_ipv6(&p, plain, 1, 0);
        check_all_truncations(&p);
        build_ipv6(&p, ext, 4, 0);
        check_all_truncations(&p);
        build_ipv6(&p, ext2, 5, 0);
        check_all_truncations(&p);

        assert_int_equal(syn_decode(NULL, 0, NULL), DECODE_TRUNCATED);
}

static void test_strerror(void **state)
{
        const int codes[] = { DECODE_OK, DECODE_TRUNCATED, DECODE_MALFORMED, DECODE_NOT_TCP, 42 };
        size_t i, j;

        (void)state;
        for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
                assert_non_null(decode_strerror(codes[i]));
                assert_true(strlen(decode_strerror(codes[i])) > 0);
                for (j = 0; j < i; j++)
                        assert_string_not_equal(decode_strerror(codes[i]), decode_strerror(codes[j]));
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ipv4_plain),
                cmocka_unit_test(test_ipv4_options),
                cmocka_unit_test(test_ipv4_total_length),
                cmocka_unit_test(test_ipv4_bad_ihl),
                cmocka_unit_test(test_bad_version),
                cmocka_unit_test(test_not_tcp),
                cmocka_unit_test(test_ipv4_fragments),
                cmocka_unit_test(test_ipv6_plain),
                cmocka_unit_test(test_ipv6_extension_headers),
                cmocka_unit_test(test_ipv6_fragment_not_first),
                cmocka_unit_test(test_network_header_only),
                cmocka_unit_test(test_ipv6_header_limit),
                cmocka_unit_test(test_tcp_data_offset),
                cmocka_unit_test(test_truncations),
                cmocka_unit_test(test_strerror),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
