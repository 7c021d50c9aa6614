/* nfq/decode.c: decode the IPv4/IPv6 + TCP headers of a queued packet.
 *
 * Every read is checked against the number of bytes the kernel copied and
 * against the length the IP header claims, whichever is shorter. Nothing here
 * allocates or does I/O; the fuzz target tests/fuzz/fuzz_decode.c feeds it
 * arbitrary bytes. */
#include "decode.h"

#include <string.h>
#include <sys/socket.h>

#define IPV4_MIN_HDR 20
#define IPV6_HDR 40
#define TCP_MIN_HDR 20
#define IPV6_MAX_EXT_HDRS 16

enum {
        PROTO_HOPOPTS = 0,
        PROTO_TCP = 6,
        PROTO_ROUTING = 43,
        PROTO_FRAGMENT = 44,
        PROTO_AH = 51,
        PROTO_NONE = 59,
        PROTO_DSTOPTS = 60,
};

static uint16_t get_be16(const uint8_t *p)
{
        return (uint16_t)((p[0] << 8) | p[1]);
}

/* Decode the TCP header at pkt[off..end) into the port and flag fields. */
static int decode_tcp(const uint8_t *pkt, size_t off, size_t end, struct syn_info *info)
{
        const uint8_t *tcp;
        unsigned doff;

        if (off > end || end - off < TCP_MIN_HDR)
                return DECODE_TRUNCATED;
        tcp = pkt + off;
        doff = tcp[12] >> 4;
        if (doff < 5)
                return DECODE_MALFORMED;
        /* TCP options beyond the copied bytes are fine: we read only the
         * fixed part of the header. */
        info->sport = get_be16(tcp);
        info->dport = get_be16(tcp + 2);
        info->tcp_flags = tcp[13];
        return DECODE_OK;
}

static int decode_ipv4(const uint8_t *pkt, size_t len, struct syn_info *info)
{
        size_t ihl, tot_len, end;
        uint16_t frag;

        if (len < IPV4_MIN_HDR)
                return DECODE_TRUNCATED;
        ihl = (size_t)(pkt[0] & 0x0f) * 4;
        if (ihl < IPV4_MIN_HDR)
                return DECODE_MALFORMED;
        if (ihl > len)
                return DECODE_TRUNCATED;
        tot_len = get_be16(pkt + 2);
        if (tot_len < ihl)
                return DECODE_MALFORMED;
        /* The copy may be shorter than the datagram (copy range) or longer
         * (link-layer padding); trust neither beyond the other. */
        end = tot_len < len ? tot_len : len;

        frag = get_be16(pkt + 6);
        if ((frag & 0x1fff) != 0)
                return DECODE_NOT_TCP;
        if (pkt[9] != PROTO_TCP)
                return DECODE_NOT_TCP;

        info->family = AF_INET;
        info->ttl = pkt[8];
        memcpy(info->src, pkt + 12, 4);
        memcpy(info->dst, pkt + 16, 4);
        return decode_tcp(pkt, ihl, end, info);
}

static int decode_ipv6(const uint8_t *pkt, size_t len, struct syn_info *info)
{
        size_t payload_len, end, off, hlen;
        uint8_t next;
        int n;

        if (len < IPV6_HDR)
                return DECODE_TRUNCATED;
        payload_len = get_be16(pkt + 4);
        /* payload length 0 means a jumbogram (hop-by-hop option): then
         * only the copied length bounds the packet. */
        end = len;
        if (payload_len != 0 && IPV6_HDR + payload_len < len)
                end = IPV6_HDR + payload_len;

        next = pkt[6];
        off = IPV6_HDR;
        for (n = 0; next != PROTO_TCP; n++) {
                if (n >= IPV6_MAX_EXT_HDRS)
                        return DECODE_MALFORMED;
                switch (next) {
                case PROTO_HOPOPTS:
                case PROTO_ROUTING:
                case PROTO_DSTOPTS:
                        if (end - off < 2)
                                return DECODE_TRUNCATED;
                        hlen = ((size_t)pkt[off + 1] + 1) * 8;
                        break;
                case PROTO_FRAGMENT:
                        if (end - off < 8)
                                return DECODE_TRUNCATED;
                        if ((get_be16(pkt + off + 2) & 0xfff8) != 0)
                                return DECODE_NOT_TCP;
                        hlen = 8;
                        break;
                case PROTO_AH:
                        if (end - off < 2)
                                return DECODE_TRUNCATED;
                        hlen = ((size_t)pkt[off + 1] + 2) * 4;
                        break;
                case PROTO_NONE:
                default:
                        return DECODE_NOT_TCP;
                }
                if (end - off < hlen)
                        return DECODE_TRUNCATED;
                next = pkt[off];
                off += hlen;
        }

        info->family = AF_INET6;
        info->ttl = pkt[7];
        memcpy(info->src, pkt + 8, 16);
        memcpy(info->dst, pkt + 24, 16);
        return decode_tcp(pkt, off, end, info);
}

int syn_decode(const uint8_t *pkt, size_t len, struct syn_info *ret)
{
        struct syn_info info;
        int r;

        if (!pkt || len < 1)
                return DECODE_TRUNCATED;
        memset(&info, 0, sizeof(info));
        switch (pkt[0] >> 4) {
        case 4:
                r = decode_ipv4(pkt, len, &info);
                break;
        case 6:
                r = decode_ipv6(pkt, len, &info);
                break;
        default:
                return DECODE_MALFORMED;
        }
        if (r != DECODE_OK)
                return r;
        *ret = info;
        return DECODE_OK;
}

int syn_decode_network(const uint8_t *pkt, size_t len, struct syn_info *ret)
{
        struct syn_info info;

        if (!pkt || len < 1)
                return DECODE_TRUNCATED;
        memset(&info, 0, sizeof(info));
        switch (pkt[0] >> 4) {
        case 4:
                if (len < IPV4_MIN_HDR)
                        return DECODE_TRUNCATED;
                info.family = AF_INET;
                info.ttl = pkt[8];
                memcpy(info.src, pkt + 12, 4);
                memcpy(info.dst, pkt + 16, 4);
                break;
        case 6:
                if (len < IPV6_HDR)
                        return DECODE_TRUNCATED;
                info.family = AF_INET6;
                info.ttl = pkt[7];
                memcpy(info.src, pkt + 8, 16);
                memcpy(info.dst, pkt + 24, 16);
                break;
        default:
                return DECODE_MALFORMED;
        }
        *ret = info;
        return DECODE_OK;
}

const char *decode_strerror(int r)
{
        switch (r) {
        case DECODE_OK:
                return "ok";
        case DECODE_TRUNCATED:
                return "truncated packet";
        case DECODE_MALFORMED:
                return "malformed header";
        case DECODE_NOT_TCP:
                return "not a TCP segment";
        default:
                return "unknown decode error";
        }
}
