#!/usr/bin/python3
"""tests/bench/summary.py: the final table and JSON of `make bench`.

Usage: summary.py ROWS.jsonl META.json OUT.json

ROWS.jsonl has one object per figure, written by tests/bench/run.sh:
  goal, name, figure, unit, baseline, baseline_name, ratio,
  check ("ratio<=", "ratio>=", "figure<=", "figure>=", "info"), target,
  ok_extra (optional bool: a condition besides the figure, e.g. the audit
  accounting adding up), note, details.
Decides PASS / MISS / INFO / ERROR per row, prints the table, writes OUT."""
import json
import sys

rows = []
with open(sys.argv[1]) as f:
    for line in f:
        line = line.strip()
        if line:
            rows.append(json.loads(line))
with open(sys.argv[2]) as f:
    meta = json.load(f)


def status(r):
    chk = r.get("check", "info")
    if chk == "info":
        return "INFO"
    val = r.get("ratio") if chk.startswith("ratio") else r.get("figure")
    if val is None:
        return "ERROR"
    ok = val <= r["target"] if chk.endswith("<=") else val >= r["target"]
    if r.get("ok_extra") is False:
        ok = False
    return "PASS" if ok else "MISS"


def num(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, float):
        if abs(v) >= 1000:
            s = "%.0f" % v
        elif abs(v) >= 10:
            s = "%.1f" % v
        else:
            s = "%.3g" % v
    else:
        s = str(v)
    return s + (" " + unit if unit else "")


for r in rows:
    r["status"] = status(r)

hdr = ("goal", "figure", "baseline", "ratio", "target", "result")
table = []
for r in rows:
    chk = r.get("check", "info")
    tgt = "-" if chk == "info" else ("%s %s %s" % ("ratio" if chk.startswith("ratio") else "",
                                                  chk[-2:], num(r["target"], "" if chk.startswith("ratio")
                                                                else r.get("unit", "")))).strip()
    base = "-"
    if r.get("baseline") is not None:
        base = "%s (%s)" % (num(r["baseline"], r.get("baseline_unit", r.get("unit", ""))), r.get("baseline_name", ""))
    table.append(("%s %s" % (r["goal"], r["name"]), num(r.get("figure"), r.get("unit", "")), base,
                  num(r.get("ratio")), tgt, r["status"]))
w = [max(len(hdr[i]), *(len(t[i]) for t in table)) if table else len(hdr[i]) for i in range(len(hdr))]
line = "  ".join(h.ljust(w[i]) for i, h in enumerate(hdr))
print(line)
print("-" * len(line))
for t in table:
    print("  ".join(c.ljust(w[i]) for i, c in enumerate(t)))
notes = [r for r in rows if r.get("note")]
if notes:
    print()
    for r in notes:
        print("goal %s %s: %s" % (r["goal"], r["name"], r["note"]))
counts = {}
for r in rows:
    counts[r["status"]] = counts.get(r["status"], 0) + 1
print()
print("bench: " + ", ".join("%d %s" % (v, k) for k, v in sorted(counts.items())))
meta["summary"] = counts
meta["results"] = rows
with open(sys.argv[3], "w") as f:
    json.dump(meta, f, indent=1, sort_keys=False)
    f.write("\n")
