/* src/net/prefix.h: IPv4/IPv6 addresses and prefixes: parsing, merging into
 * non-overlapping ranges, lookup and CIDR decomposition. Pure, no I/O. */
#ifndef MXLOCK_PREFIX_H
#define MXLOCK_PREFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* An address in host order; IPv4 uses the low 32 bits. */
typedef unsigned __int128 addr128;
#define ADDR128_MAX (~(addr128)0)

#define ADDR_STRLEN 46 /* INET6_ADDRSTRLEN */

/* Per-family arrays (a policy's lists) are indexed FAM_V4, FAM_V6. */
enum { FAM_V4 = 0, FAM_V6 = 1, FAM_N = 2 };

/* The index of the family in such arrays for AF_INET/AF_INET6. */
static inline int fam_index(int family)
{
        return family == 10 /* AF_INET6 */ ? FAM_V6 : FAM_V4;
}

struct prefix {
        int family;     /* AF_INET or AF_INET6 */
        addr128 addr;   /* network address, host bits cleared */
        uint8_t len;    /* 0..32 or 0..128 */
};

/* An inclusive range [lo, hi] of one family. */
struct range {
        addr128 lo, hi;
};

struct range_list {
        int family;
        struct range *v;
        size_t n, cap;
        bool borrowed;  /* v belongs to another list: never freed or grown here */
        bool mapped;    /* v came from range_list_alloc's mmap */
};

enum prefix_flags {
        PREFIX_WILDCARD = 1 << 0,       /* written as legacy a.b.c.* */
        PREFIX_HOST_BITS = 1 << 1,      /* host bits were set and cleared (10.0.0.1/24) */
};

/* Bits of an address of the family, and its highest address. */
static inline unsigned addr_bits(int family)
{
        return family == AF_INET ? 32 : 128;
}

static inline addr128 addr_max(int family)
{
        return family == AF_INET ? (addr128)0xffffffffu : ~(addr128)0;
}

/* Parse "192.0.2.0/24", "192.0.2.7", "2001:db8::/32", "2001:db8::1" or the
 * legacy wildcard "10.100.80.*" (also "10.100.*.*"). Returns 0, or -EINVAL
 * when the text is not an address or prefix. *ret_flags gets PREFIX_* bits. */
int prefix_parse(const char *text, struct prefix *ret, unsigned *ret_flags);

/* Format an address as text; buf must hold ADDR_STRLEN bytes. Returns buf. */
char *addr_format(int family, addr128 a, char *buf);

/* Format a prefix as "a/len" (bare address when len is the full length). */
char *prefix_format(const struct prefix *p, char *buf, size_t len);

/* Parse a bare address (no length). Returns 0 or -EINVAL. */
int addr_parse(const char *text, int *ret_family, addr128 *ret_addr);

/* Address from/to network-order bytes (4 or 16 of them by family). */
addr128 addr_from_bytes(int family, const void *bytes);
void addr_to_bytes(int family, addr128 a, void *bytes);

/* The inclusive range a prefix covers. */
struct range prefix_range(const struct prefix *p);

/* Does the prefix contain the address (same family)? */
bool prefix_contains(const struct prefix *p, int family, addr128 a);

/* Append r (no lower than the last range's start) to a merged list that
 * has room, joining it with the last range when they overlap or touch. */
void range_list_put_merged(struct range_list *l, struct range r);

/* Does a range starting at lo (not below last's start) overlap or touch last? */
static inline bool range_touches(const struct range *last, addr128 lo)
{
        return lo <= last->hi || lo - 1 == last->hi;
}

void range_list_init(struct range_list *l, int family);
void range_list_free(struct range_list *l);
/* Room for cap ranges in an initialised list (emptied) that a linear pass
 * is about to fill. A big one comes straight from the kernel with its pages
 * populated in one call: faulting them in one by one was a third of the
 * userspace time of a 1M-range reload.
 * Returns 0 or -ENOMEM. */
int range_list_alloc(struct range_list *l, size_t cap);
/* Append a range (unsorted); returns 0 or -ENOMEM. */
int range_list_add(struct range_list *l, struct range r);
/* Sort and merge overlapping and adjacent ranges in place. Returns the number
 * of input ranges that were exact duplicates of an earlier one. */
size_t range_list_merge(struct range_list *l);
/* range_list_merge, also appending to members (sorted, when it was empty)
 * every input range that shares its merged range with another: what an
 * edit of the input needs to redo one merged range. Returns 0 or -ENOMEM
 * (l is then sorted, not merged). */
int range_list_merge_members(struct range_list *l, struct range_list *members, size_t *ret_dups);
/* dst (initialised, empty) becomes the merged union of two merged lists of
 * its family, in one linear pass. Returns 0 or -ENOMEM. */
int range_list_union(struct range_list *dst, const struct range_list *a, const struct range_list *b);
/* dst shares src's ranges (read-only) until freed; src must outlive it. */
void range_list_borrow(struct range_list *dst, const struct range_list *src);

/* The index of the first range at or after `from` that starts above a
 * (l->n when none does): binary search in a sorted list. */
size_t range_list_upper(const struct range_list *l, size_t from, addr128 a);
/* Binary search in a merged list. */
bool range_list_contains(const struct range_list *l, addr128 a);
/* Number of addresses-independent CIDR blocks needed to express the list. */
size_t range_list_count_prefixes(const struct range_list *l);

/* Call cb once per CIDR block covering [r.lo, r.hi] exactly, in order. */
void range_to_prefixes(int family, struct range r,
                       void (*cb)(const struct prefix *p, void *userdata), void *userdata);

#endif
