#!/usr/bin/python3
"""tests/bench/dormant.py: set or clear the dormant flag of inet tables.

Usage: dormant.py TABLE 0|1 [TABLE 0|1 ...]   (in the namespace of the tables)

A dormant table keeps its sets and rules but its chains are unhooked, so
the allowed-path benchmark can switch between mxlock's table, a floor table
and no table at all in a second, without reloading a million elements:
windows of each alternate, and slow drift of this noisy machine falls on
all alike. One nf_tables transaction (NEWTABLE with NFTA_TABLE_FLAGS) for
all the tables named; nft 1.0.6 can set the flag but not clear it."""
import socket, struct, sys, os
NETLINK_NETFILTER = 12
def nlattr(t, data):
    l = 4 + len(data)
    return struct.pack("=HH", l, t) + data + b"\0" * ((4 - l % 4) % 4)
def msg(mtype, flags, seq, payload):
    return struct.pack("=IHHII", 16 + len(payload), mtype, flags, seq, 0) + payload
def nfgen(family, res_id=0):
    return struct.pack("=BBH", family, 0, socket.htons(res_id))
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
s.bind((0, 0))
seq = 1
buf = msg(0x10, 1, seq, nfgen(0, 10))
args = sys.argv[1:]
for i in range(0, len(args), 2):
    seq += 1
    pl = nfgen(1) + nlattr(1, args[i].encode() + b"\0") + nlattr(2, struct.pack(">I", int(args[i + 1])))
    buf += msg((10 << 8) | 0, 1 | 4, seq, pl)
seq += 1
buf += msg(0x11, 1, seq, nfgen(0, 10))
s.send(buf)
got = 0
s.settimeout(2)
while got < len(args) // 2:
    data = s.recv(65536)
    off = 0
    while off < len(data):
        l, t, f, sq, pid = struct.unpack_from("=IHHII", data, off)
        if t == 2:
            err = struct.unpack_from("=i", data, off + 16)[0]
            if err:
                print("error", -err, os.strerror(-err), file=sys.stderr); sys.exit(1)
            got += 1
        off += (l + 3) & ~3
