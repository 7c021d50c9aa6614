#!/usr/bin/python3
"""tests/bench/summary.py: the final table and JSON of `make bench`.

Usage: summary.py ROWS.jsonl META.json OUT.json

ROWS.jsonl has one object per figure, written by tests/bench/run.sh:
  goal, name, figure, unit, baseline, baseline_name, ratio,
  check ("ratio<=", "ratio>=", "figure<=", "figure>=", "info"), target,
  ok_extra (optional bool: a condition besides the figure, e.g. the audit
  accounting adding up), note, details.
Decides PASS / MISS / INFO / ERROR per row, prints the table, writes OUT.

A row that is not JSON (a figure that went missing leaves a field empty,
`"ratio":,`, or a division by zero writes `nan` or `inf`) is read with
those fields as null and counts as ERROR, with what was wrong in its note;
a line that cannot be read at all is an ERROR row of its own. A bench
that lost one figure still gets its table and its JSON."""
import json
import re
import sys


def load_row(line, n):
    try:
        r = json.loads(line)
        if isinstance(r, dict):
            return r
        err = "not an object"
    except ValueError as e:
        err = str(e)
    fixed = re.sub(r'(:\s*)(?=[,}\]])', r"\1null", line)
    fixed = re.sub(r'(:\s*)(-?nan|-?inf(inity)?|-)(?=\s*[,}\]])', r"\1null", fixed, flags=re.I)
    try:
        r = json.loads(fixed)
        if not isinstance(r, dict):
            raise ValueError(err)
    except ValueError:
        m = re.search(r'"goal":"([^"]*)","name":"([^"]*)"', line)
        return {"goal": m.group(1) if m else "?", "name": m.group(2) if m else "row %d" % n, "check": "error",
                "note": "row %d is not JSON (%s): %s" % (n, err, line[:300])}
    r["note"] = ("%s [row %d was not JSON (%s): its missing figures read as null]"
                 % (r.get("note") or "", n, err)).strip()
    r["check_declared"] = r.get("check")
    r["check"] = "error"
    return r


rows = []
with open(sys.argv[1]) as f:
    for n, line in enumerate(f, 1):
        line = line.strip()
        if line:
            rows.append(load_row(line, n))
with open(sys.argv[2]) as f:
    meta = json.load(f)


def status(r):
    chk = r.get("check", "info")
    if chk == "info":
        return "INFO"
    if chk not in ("ratio<=", "ratio>=", "figure<=", "figure>="):
        return "ERROR"
    val = r.get("ratio") if chk.startswith("ratio") else r.get("figure")
    if not isinstance(val, (int, float)) or not isinstance(r.get("target"), (int, float)):
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
    tgt = "-" if chk not in ("ratio<=", "ratio>=", "figure<=", "figure>=") else ("%s %s %s" % ("ratio" if chk.startswith("ratio") else "",
                                                  chk[-2:], num(r["target"], "" if chk.startswith("ratio")
                                                                else r.get("unit", "")))).strip()
    base = "-"
    if r.get("baseline") is not None:
        base = "%s (%s)" % (num(r["baseline"], r.get("baseline_unit", r.get("unit", ""))), r.get("baseline_name", ""))
    table.append(("%s %s" % (r.get("goal", "?"), r.get("name", "")), num(r.get("figure"), r.get("unit", "")), base,
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
        print("goal %s %s: %s" % (r.get("goal", "?"), r.get("name", ""), r["note"]))
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
