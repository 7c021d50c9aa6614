#!/usr/bin/python3
"""tests/bench/audit_count.py: what an audit log accounts for (`make bench`).

Usage: audit_count.py AUDIT.jsonl

Prints one JSON object: the number of records by event, the attempts they
count (`count` of refused/observed/summary/missed records), the same
totals by direction (records from before the outbound lock have no
`direction`: they are inbound), how many outbound attempt records name
each of who tried (uid, user, unit, pid, comm), and how many lines were
not JSON. Fast path for the common one-attempt inbound records."""
import json
import sys

events = {}
counts = {"refused": 0, "observed": 0, "summary": 0, "missed": 0}
by_dir = {"inbound": 0, "outbound": 0}
named = {"records": 0, "uid": 0, "user": 0, "unit": 0, "pid": 0, "comm": 0}
bad = 0
with open(sys.argv[1], "rb") as f:
    for line in f:
        if b'"event":"refused"' in line and b'"count":1,' in line and b'"direction":"outbound"' not in line:
            events["refused"] = events.get("refused", 0) + 1
            counts["refused"] += 1
            by_dir["inbound"] += 1
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            bad += 1
            continue
        ev = rec.get("event", "?")
        events[ev] = events.get(ev, 0) + 1
        if ev in counts:
            n = int(rec.get("count", 0))
            counts[ev] += n
            d = rec.get("direction", "inbound")
            by_dir[d] = by_dir.get(d, 0) + n
            if d == "outbound" and ev in ("refused", "observed"):
                named["records"] += 1
                for k in ("uid", "user", "unit", "pid", "comm"):
                    named[k] += rec.get(k) is not None
print(json.dumps({"records": events, "attempts": counts, "attempts_total": sum(counts.values()),
                  "attempts_by_direction": by_dir, "outbound_named": named, "not_json": bad}))
