#!/usr/bin/python3
"""tests/bench/audit_count.py: what an audit log accounts for (`make bench`).

Usage: audit_count.py AUDIT.jsonl

Prints one JSON object: the number of records by event, the attempts they
count (`count` of refused/observed/summary/missed records), and how many
lines were not JSON. Fast path for the common one-attempt records."""
import json
import sys

events = {}
counts = {"refused": 0, "observed": 0, "summary": 0, "missed": 0}
bad = 0
with open(sys.argv[1], "rb") as f:
    for line in f:
        if b'"event":"refused"' in line and b'"count":1,' in line:
            events["refused"] = events.get("refused", 0) + 1
            counts["refused"] += 1
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            bad += 1
            continue
        ev = rec.get("event", "?")
        events[ev] = events.get(ev, 0) + 1
        if ev in counts:
            counts[ev] += int(rec.get("count", 0))
print(json.dumps({"records": events, "attempts": counts,
                  "attempts_total": sum(counts.values()), "not_json": bad}))
