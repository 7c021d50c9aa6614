#!/usr/bin/python3
"""tests/bench/connlat.py: refusal latency for `make bench` (goal 6).

Usage: connlat.py DST PORT COUNT GAP_MS SRC [SRC...]

Makes COUNT TCP connect() calls to DST:PORT one after another (GAP_MS
apart, so the path is unloaded), cycling through the source addresses, and
times each from connect() to its failure. Prints one JSON object: the
outcomes and the latency percentiles in milliseconds."""
import json
import socket
import sys
import time

dst, port, count, gap = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]) / 1000.0
srcs = sys.argv[5:] or [""]
v6 = ":" in dst
fam = socket.AF_INET6 if v6 else socket.AF_INET
lat = []
outcomes = {}
for i in range(count):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind((srcs[i % len(srcs)], 0))
    s.settimeout(3.0)
    t = time.perf_counter_ns()
    try:
        s.connect((dst, port))
        r = "connected"
    except ConnectionRefusedError:
        r = "refused"
    except socket.timeout:
        r = "timeout"
    except OSError as e:
        r = "error:%d" % e.errno
    dt = (time.perf_counter_ns() - t) / 1e6
    s.close()
    outcomes[r] = outcomes.get(r, 0) + 1
    if r == "refused":
        lat.append(dt)
    time.sleep(gap)
lat.sort()


def pct(p):
    if not lat:
        return None
    k = min(len(lat) - 1, int(round(p / 100.0 * (len(lat) - 1))))
    return round(lat[k], 4)


print(json.dumps({"count": count, "outcomes": outcomes, "refused": len(lat), "p50_ms": pct(50),
                  "p90_ms": pct(90), "p99_ms": pct(99), "max_ms": round(lat[-1], 4) if lat else None,
                  "min_ms": round(lat[0], 4) if lat else None}))
