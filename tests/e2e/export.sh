#!/usr/bin/env bash
# tests/e2e/export.sh: `mxlock export` maps the audit log to ECS and OCSF.
#
# - records written by a real mxlockd (refusals over IPv4 and IPv6, start,
#   reload, stop) plus the report fixture and crafted lines (a seal line, a
#   record with fields the exporter does not know, monitor-mode, missed with
#   failure = open, outbound) are exported in both formats and every line is
#   validated against the ECS 8.11.0 and OCSF 1.1.0 field definitions shipped
#   in tests/fixtures/schema (tests/schema_check.py); the checker itself must
#   reject broken records;
# - nothing is lost or invented: record counts and attempt sums agree with
#   the input; seal lines are skipped; --since filters; gzip is read;
# - --follow (tail -F) keeps exporting while the file is rotated by rename
#   (the writer keeps writing to the old file for a while, as mxlockd does
#   until SIGUSR1) and by copytruncate: every line once, none twice.
# e2e-timeout: 120
. "$(dirname "$0")/../lib.sh"
require_root
require_mxlockd
MXLOCK=${MXLOCK:-$MXT_ROOT/build/mxlock}
SCHEMA=$MXT_ROOT/tests/fixtures/schema
CHECK="$PY $MXT_ROOT/tests/schema_check.py"

ok "lab up" lab_up || lab_finish
mkconf "$T/mxlock.conf" <<'CONF'
[policy inbound-smtp]
ports = 25
allow = 198.51.100.0/24 2001:db8:25::/48
CONF
ok "mxlockd starts" mxlockd_start "$T/mxlock.conf" || lab_finish
ok "direct sender refused (IPv4)" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
sport4=$PROBE_SPORT
ok "direct sender refused (IPv6)" probe_is refused "$NS_SPAM" "$EXT6" 25 "" 1000
ok "reload" mxlockd_reload
ok "mxlockd stops" mxlockd_stop
ok "audit has the IPv4 refusal" audit_has refused src="$SPAM4" sport="$sport4"

# The input: the daemon's log, the report fixture, and crafted lines.
IN=$T/in.jsonl
{
        cat "$AUDIT" "$MXT_ROOT/tests/fixtures/report/basic.jsonl"
        echo '{"ts":"2026-12-01T00:00:00.000000Z","event":"seal","epoch":3,"tag":"00ff"}'
        echo '{"ts":"2026-12-01T00:00:01.000000Z","event":"refused","policy":"inbound-smtp","mode":"enforce","action":"drop","family":"ipv4","src":"192.0.2.77","sport":1234,"dst":"192.0.2.1","dport":25,"ttl":50,"iface":"ext0","count":1,"seal":"c2VhbA==","future":{"a":[1,2,{"b":null}]},"flag":true}'
        echo '{"ts":"2026-12-01T00:00:02.000000Z","event":"summary","policy":"inbound-smtp","mode":"monitor","action":"reject","family":"ipv6","src":"2001:db8:66::66","dport":25,"count":7,"first":"2026-12-01T00:00:00.000000Z","last":"2026-12-01T00:00:02.000000Z","folded_as":"observed"}'
        echo '{"ts":"2026-12-01T00:00:03.000000Z","event":"missed","policy":"inbound-smtp","mode":"enforce","action":"accept","count":12,"reason":"not running"}'
        echo '{"ts":"2026-12-01T00:00:04.000000Z","event":"refused","direction":"outbound","policy":"smarthost","mode":"enforce","action":"reject","family":"ipv4","src":"203.0.113.1","sport":40000,"dst":"198.51.100.99","dport":587,"count":1,"uid":1000,"user":"alice","unit":"cron.service","pid":4242,"comm":"curl"}'
        echo '{"ts":"2026-12-01T00:00:05.000000Z","event":"something-new","x":1}'
} >"$IN"

# What the input holds, counted independently of the exporter.
expect() {
        "$PY" - "$IN" "$1" <<'EOF'
import json, sys
net = ("refused", "observed", "summary", "missed")
life = ("start", "stop", "reload", "restored", "ranges-changed")
n_net = n_life = attempts = 0
for line in open(sys.argv[1], "rb"):
    try:
        r = json.loads(line)
        assert isinstance(r, dict) and isinstance(r["event"], str) and isinstance(r["ts"], str)
        if r["event"] in ("summary", "missed"):
            assert isinstance(r["count"], int)
    except Exception:
        continue
    if r["event"] in net:
        n_net += 1
        attempts += r.get("count", 1)
    elif r["event"] in life:
        n_life += 1
print({"ecs": n_net + n_life, "ocsf": n_net, "attempts": attempts}[sys.argv[2]])
EOF
}

# counts FILE ecs|ocsf: "RECORDS ATTEMPTS" in the export
counts() {
        "$PY" - "$1" "$2" <<'EOF'
import json, sys
n = a = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    n += 1
    if sys.argv[2] == "ecs":
        if "network" in r["event"]["category"]:
            a += r["event"]["count"]
    else:
        a += r["count"]
print(n, a)
EOF
}

export_both() {
        "$MXLOCK" export --format ecs "$IN" >"$T/out.ecs" 2>"$T/ecs.err" &&
        "$MXLOCK" export --format ocsf "$IN" >"$T/out.ocsf" 2>"$T/ocsf.err"
}
ok "export ecs and ocsf" export_both
ok "ECS: every record valid against ECS 8.11.0" $CHECK ecs "$SCHEMA/ecs-8.11.0-subset.json" "$T/out.ecs"
ok "OCSF: every record valid against OCSF 1.1.0 Network Activity" \
        $CHECK ocsf "$SCHEMA/ocsf-1.1.0-network_activity-subset.json" "$T/out.ocsf"

same_counts() {
        local got want
        got=$(counts "$T/out.$1" "$1")
        want="$(expect "$1") $(expect attempts)"
        echo "export: $got (records attempts), input: $want"
        [ "$got" = "$want" ]
}
ok "ECS: one record per network and lifecycle line, attempts add up" same_counts ecs
ok "OCSF: one record per network line, attempts add up" same_counts ocsf
ok "corrupt input lines named FILE:LINE" grep -q "in.jsonl:[0-9]*: corrupt audit line skipped" "$T/ecs.err"

field_is() {
        "$PY" - "$@" <<'EOF'
import json, sys
path, want = sys.argv[1], sys.argv[2:]
def get(r, k):
    for p in k.split("."):
        r = r[p] if isinstance(r, dict) and p in r else None
    return r
for line in open(path):
    r = json.loads(line)
    if all(json.dumps(get(r, w.split("=", 1)[0])) == w.split("=", 1)[1] for w in want):
        print(line.strip()); sys.exit(0)
print("no record with", want); sys.exit(1)
EOF
}
ok "ECS: the real IPv4 refusal" field_is "$T/out.ecs" source.ip="\"$SPAM4\"" source.port="$sport4" \
        destination.port=25 'event.type=["connection", "denied"]' 'event.category=["network"]' \
        'rule.name="inbound-smtp"' 'network.type="ipv4"' 'observer.type="firewall"' 'event.count=1'
ok "ECS: folded monitor summary is allowed, with event.count" field_is "$T/out.ecs" 'event.count=7' \
        'event.type=["connection", "allowed"]' 'network.type="ipv6"' 'event.start="2026-12-01T00:00:00.000000Z"'
ok "ECS: reload is a configuration change" field_is "$T/out.ecs" 'event.action="reload"' \
        'event.category=["configuration"]' 'event.outcome="success"'
ok "ECS: outbound names the user and process" field_is "$T/out.ecs" 'network.direction="outbound"' \
        'user.name="alice"' 'user.id="1000"' 'process.pid=4242'
ok "OCSF: refusal is Refuse/Denied/Blocked, type_uid 400105" field_is "$T/out.ocsf" \
        "src_endpoint.ip=\"$SPAM4\"" 'activity_id=5' 'action_id=2' 'disposition_id=2' 'type_uid=400105'
ok "OCSF: action = drop is disposition Dropped" field_is "$T/out.ocsf" 'src_endpoint.ip="192.0.2.77"' \
        'disposition_id=6'
ok "OCSF: missed with failure = open is allowed" field_is "$T/out.ocsf" 'count=12' 'action_id=1'
ok_fails "no seal record exported" grep -q '"seal"' "$T/out.ecs" "$T/out.ocsf"

# The checker can fail: broken records are caught.
sed -e 's/"denied"/"blocked"/' -e 's/"port":25,/"port":"25",/' "$T/out.ecs" >"$T/bad.ecs"
ok_fails "checker rejects a bad ECS event.type and a string port" \
        $CHECK ecs "$SCHEMA/ecs-8.11.0-subset.json" "$T/bad.ecs"
sed -e 's/"type_uid":400105/"type_uid":400106/' -e 's/,"time":[0-9]*//' "$T/out.ocsf" >"$T/bad.ocsf"
ok_fails "checker rejects a wrong OCSF type_uid and a missing time" \
        $CHECK ocsf "$SCHEMA/ocsf-1.1.0-network_activity-subset.json" "$T/bad.ocsf"

since_filters() {
        local n want
        n=$("$MXLOCK" export --format ocsf --since 2026-12-01T00:00:02Z "$IN" 2>/dev/null | wc -l)
        want=$("$PY" -c 'import json, sys
print(sum(json.loads(l)["time"] >= 1796083202000 for l in open(sys.argv[1])))' "$T/out.ocsf")
        echo "records since 2026-12-01T00:00:02Z: $n (want $want of $(wc -l <"$T/out.ocsf"))"
        [ "$n" = "$want" ] && [ "$n" -gt 2 ] && [ "$n" -lt "$(wc -l <"$T/out.ocsf")" ]
}
ok "--since filters" since_filters
gzip -c "$IN" >"$T/in.jsonl.1.gz"
ok "a gzip log exports the same" cmp <("$MXLOCK" export --format ecs "$T/in.jsonl.1.gz" 2>/dev/null) "$T/out.ecs"
ok_fails "unknown format is a usage error" "$MXLOCK" export --format cef "$IN"

# ---- --follow across rotation ---------------------------------------------

LIVE=$T/live/audit.jsonl
mkdir -p "$T/live"
: >"$LIVE"
# A writer that keeps its file open like mxlockd: it reopens the path only
# when asked (the SIGUSR1 of logrotate's postrotate), and can be paused.
cat >"$T/writer.py" <<'EOF'
import os, sys, time
path, ctl = sys.argv[1], sys.argv[2]
f = open(path, "a")
seq = 0
while not os.path.exists(ctl + ".stop"):
    if os.path.exists(ctl + ".reopen"):
        os.unlink(ctl + ".reopen")
        f.close()
        f = open(path, "a")
    if os.path.exists(ctl + ".pause"):
        open(ctl + ".paused", "w").close()
        time.sleep(0.02)
        continue
    seq += 1
    f.write('{"ts":"2026-11-24T01:%02d:%02d.%06dZ","event":"refused","policy":"inbound-smtp","mode":"enforce",'
            '"action":"reject","family":"ipv4","src":"192.0.2.%d","sport":%d,"dst":"192.0.2.1","dport":25,'
            '"ttl":64,"iface":"ext0","count":1}\n' % (seq // 60 % 60, seq % 60, seq, seq % 250 + 1, 1024 + seq))
    f.flush()
    open(ctl + ".seq", "w").write(str(seq))
    time.sleep(0.01)
EOF
"$MXLOCK" export --format ecs --follow "$LIVE" >"$T/follow.ecs" 2>"$T/follow.err" &
FOLLOW_PID=$!
track "$FOLLOW_PID"
"$PY" "$T/writer.py" "$LIVE" "$T/ctl" &
WRITER_PID=$!
track "$WRITER_PID"

lines_in() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
caught_up() { [ "$(lines_in "$T/follow.ecs")" -ge "$(cat "$T/ctl.seq" 2>/dev/null || echo 1)" ]; }

sleep 1
# rename rotation: the writer keeps writing to the renamed file for 0.3 s
mv "$LIVE" "$LIVE.1"
sleep 0.3
touch "$T/ctl.reopen"
sleep 1.5
# copytruncate: logrotate copies then truncates in place; the writer keeps
# its descriptor (O_APPEND). Lines written between the copy and the
# truncation are lost by copytruncate itself, so the writer pauses for it.
touch "$T/ctl.pause"
wait_until 3 test -f "$T/ctl.paused"
wait_until 5 caught_up
cp "$LIVE" "$LIVE.2"
truncate -s 0 "$LIVE"
rm -f "$T/ctl.pause" "$T/ctl.paused"
sleep 1.5
touch "$T/ctl.stop"
wait "$WRITER_PID"
ok "follow: exported every line within 5 s" wait_until 5 caught_up
kill "$FOLLOW_PID" 2>/dev/null
wait "$FOLLOW_PID" 2>/dev/null

once_each() {
        "$PY" - "$T/follow.ecs" "$(cat "$T/ctl.seq")" <<'EOF'
import collections, json, sys
ports = collections.Counter(json.loads(l)["source"]["port"] - 1024 for l in open(sys.argv[1]))
n = int(sys.argv[2])
missing = sorted(set(range(1, n + 1)) - set(ports))
twice = sorted(p for p, c in ports.items() if c > 1)
print("written %d, exported %d distinct, missing %s, twice %s" % (n, len(ports), missing[:20], twice[:20]))
sys.exit(0 if n > 100 and not missing and not twice and len(ports) == n else 1)
EOF
}
ok "follow: across rename and copytruncate every line once, none twice" once_each
ok "follow: output valid ECS" $CHECK ecs "$SCHEMA/ecs-8.11.0-subset.json" "$T/follow.ecs"

lab_finish
