/* nfq/decode.h: decode the IPv4/IPv6 + TCP headers of a queued packet. Pure,
 * no I/O, safe on any bytes (fuzzed). */
#ifndef MXLOCK_DECODE_H
#define MXLOCK_DECODE_H

#include <stddef.h>
#include <stdint.h>

struct syn_info {
        int family;             /* AF_INET or AF_INET6 */
        uint8_t src[16], dst[16]; /* network order; IPv4 uses the first 4 bytes */
        uint16_t sport, dport;  /* host order */
        uint8_t ttl;            /* IPv4 TTL or IPv6 hop limit */
        uint8_t tcp_flags;      /* TCP flags byte (FIN=0x01 SYN=0x02 RST=0x04 ACK=0x10) */
};

enum decode_result {
        DECODE_OK = 0,
        DECODE_TRUNCATED = -1,  /* shorter than its headers say */
        DECODE_MALFORMED = -2,  /* bad version, header length, ... */
        DECODE_NOT_TCP = -3,    /* no TCP header (other protocol, or a non-first fragment) */
};

/* Decode a packet that starts at the IP header (what NFQUEUE delivers).
 * IPv4 options and IPv6 extension headers (hop-by-hop, routing, destination
 * options, fragment with offset 0) are skipped. Returns DECODE_OK and fills
 * *ret, or a negative decode_result and leaves *ret untouched. */
int syn_decode(const uint8_t *pkt, size_t len, struct syn_info *ret);

/* Decode only the fixed IP header (family, addresses, TTL), for a packet
 * whose TCP header syn_decode cannot reach: ports and flags are left 0.
 * Returns DECODE_OK or a negative decode_result (*ret untouched). */
int syn_decode_network(const uint8_t *pkt, size_t len, struct syn_info *ret);

/* A short English name for a decode_result. */
const char *decode_strerror(int r);

#endif
