#!/usr/bin/env bash
# tests/e2e/report_memory.sh: `mxlock report` on the log of a long
# distinct-source flood stays within bounded memory. A generated log of a
# million refused records from a million distinct IPv6 sources is read
# under `ulimit -v` 48 MiB (the report used about 77 MiB before sources were
# bounded), the totals are exact, and the resident size stays under 24 MiB.
. "$(dirname "$0")/../lib.sh"
MXLOCK=${MXLOCK:-$MXT_ROOT/build/mxlock}
[ -x "$MXLOCK" ] || { echo "skip - $MXT_NAME ($MXLOCK is not built: run make)"; exit 0; }
[ -x /usr/bin/time ] || { echo "skip - $MXT_NAME (/usr/bin/time missing: run tests/deps.sh)"; exit 0; }
lab_init

N=1000000
gen() {
        "$PY" - "$T/flood.jsonl" "$N" <<'EOF'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    w = f.write
    for i in range(n):
        s = i * 7919 % (1 << 32)
        sec = i * 86400 // n
        w('{"ts":"2026-11-23T%02d:%02d:%02d.000000Z","event":"refused","policy":"inbound-smtp","mode":"enforce",'
          '"action":"reject","family":"ipv6","src":"2001:db8:%x:%x::%x","sport":40312,"dst":"2001:db8::1",'
          '"dport":25,"ttl":64,"iface":"eth0","count":1,"reason":"not-allowed"}\n'
          % (sec // 3600, sec // 60 % 60, sec % 60, s >> 16 & 0xffff, s & 0xffff, i & 0xfff))
EOF
}
ok "a log of $N records from $N distinct sources" gen

bounded() {
        local rc
        (
                ulimit -v 49152
                /usr/bin/time -f "%M" -o "$T/rss" "$MXLOCK" report --format json "$T/flood.jsonl" >"$T/report.json"
        )
        rc=$?
        echo "exit $rc, max RSS $(cat "$T/rss" 2>/dev/null) KiB"
        [ $rc -eq 0 ] && [ "$(tail -n 1 "$T/rss")" -lt 24576 ]
}
ok "report under ulimit -v 48 MiB: exit 0, RSS < 24 MiB" bounded
exact() {
        "$PY" - "$T/report.json" "$N" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
print("attempts %d, sources %d, folded by network %d" % (r["attempts"], r["sources"], r["sources_folded_attempts"]))
top = sum(s["attempts"] for s in r["top_sources"])
sys.exit(0 if r["attempts"] == n and r["attempts_by_event"]["refused"] == n
         and 0 < r["sources_folded_attempts"] < n and r["sources"] < 200000 else 1)
EOF
}
ok "totals exact; past the bound, sources counted by network" exact
rm -f "$T/flood.jsonl"

lab_finish
