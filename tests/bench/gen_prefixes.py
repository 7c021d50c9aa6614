#!/usr/bin/python3
"""tests/bench/gen_prefixes.py: a large provider catalog for `make bench`.

Usage: gen_prefixes.py N OUT.conf [SEED]

Writes a catalog (description/source/checked, then one prefix a line) of N
prefixes: about 70% IPv4 (/20 to /32) and 30% IPv6 (/32 to /64), with about
6% overlapping input (an exact duplicate or a prefix inside an earlier one),
so that mxlockd has real merging to do. Deterministic for a given seed.

The ranges the benchmarks use on the wire stay out of it: no IPv4 prefix
starts with 0, 10, 100, 101, 127, 172, 192, 198, 203 or >= 224, and no IPv6
prefix is under 2001::/16. 101.1.2.0/24 is always present and never
overlapped (goal 2 removes it); 100.64.1.0/24 is never covered (goal 2 adds
it)."""
import random
import sys

n = int(sys.argv[1])
out = sys.argv[2]
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 42
rnd = random.Random(seed)
bad_first = {0, 10, 100, 101, 127, 172, 192, 198, 203}
firsts = [o for o in range(1, 224) if o not in bad_first]

v4 = []      # (addr int, len)
v6 = []      # (list of four 16-bit groups, len)
lines = ["description = Benchmark catalog: %d prefixes, IPv4 and IPv6, overlapping (seed %d)" % (n, seed),
         "source = tests/bench/gen_prefixes.py",
         "checked = 2026-11-23",
         "101.1.2.0/24     # goal 2 removes this one"]


def fmt4(a, plen):
    return "%d.%d.%d.%d/%d" % (a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255, plen)


def fmt6(g, plen):
    return "%x:%x:%x:%x::/%d" % (g[0], g[1], g[2], g[3], plen)


def mask4(a, plen):
    return a & ((0xffffffff << (32 - plen)) & 0xffffffff)


def mask6(g, plen):
    v = (g[0] << 48) | (g[1] << 32) | (g[2] << 16) | g[3]
    v &= ((1 << 64) - 1) ^ ((1 << (64 - plen)) - 1)
    return [(v >> 48) & 0xffff, (v >> 32) & 0xffff, (v >> 16) & 0xffff, v & 0xffff]


count = 1
while count < n:
    r = rnd.random()
    overlap = rnd.random() < 0.06
    if r < 0.7:
        if overlap and v4:
            a, plen = v4[rnd.randrange(len(v4))]
            if plen < 32 and rnd.random() < 0.5:
                nl = rnd.randint(plen + 1, 32)
                a = mask4(a | rnd.getrandbits(32 - plen), nl)
                plen = nl
        else:
            plen = rnd.choice((20, 22, 24, 24, 24, 26, 28, 29, 30, 32, 32, 32, 32, 32))
            a = (rnd.choice(firsts) << 24) | rnd.getrandbits(24)
            a = mask4(a, plen)
            v4.append((a, plen))
        lines.append(fmt4(a, plen))
    else:
        if overlap and v6:
            g, plen = v6[rnd.randrange(len(v6))]
            if plen < 64 and rnd.random() < 0.5:
                nl = rnd.randint(plen + 1, 64)
                g = mask6([g[0], g[1], g[2], g[3] | rnd.getrandbits(16)], nl)
                plen = nl
        else:
            plen = rnd.choice((32, 40, 44, 48, 48, 48, 56, 64, 64))
            g = mask6([rnd.randint(0x2400, 0x2fff), rnd.getrandbits(16), rnd.getrandbits(16),
                       rnd.getrandbits(16)], plen)
            v6.append((g, plen))
        lines.append(fmt6(g, plen))
    count += 1

with open(out, "w") as f:
    f.write("\n".join(lines))
    f.write("\n")
