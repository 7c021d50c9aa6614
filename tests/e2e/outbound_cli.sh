#!/usr/bin/env bash
# tests/e2e/outbound_cli.sh: what the command line says about the outbound
# lock, against a running mxlockd with [outbound smarthost] (postfix may
# connect out to the smarthost GW on ports 25 and 587) and a user that is
# not listed (www-data) trying an outside MX:
# - `mxlock explain --user` answers from the live kernel sets (users_P,
#   allow4_P/allow6_P): allowed and by which `to` entry, user not listed,
#   destination not allowed, a port no section locks, this host's address;
#   without --user, explain still answers for the inbound policy;
# - `mxlock status` (text and JSON) names each section's direction and
#   splits the totals by direction; the metrics file's per-policy series
#   carry direction="inbound|outbound" and pass promtool when it is there;
# - `mxlock report` groups the outbound attempts by user, unit and
#   destination, and its inbound figures leave them out.
# e2e-timeout: 120
. "$(dirname "$0")/../lib.sh"
require_root
require_mxlockd
id www-data >/dev/null 2>&1 && id postfix >/dev/null 2>&1 ||
        { skip "$MXT_NAME" "users www-data and postfix are needed (tests/deps.sh installs postfix)"; lab_finish; }
MXLOCK=${MXLOCK:-$MXT_ROOT/build/mxlock}
WWW=$(id -u www-data)
POSTFIX=$(id -u postfix)

ok "lab up" lab_up || lab_finish
ok "listeners: the outside MX (port 25) and the smarthost (25, 587)" \
        eval 'listener_up "$NS_SPAM" 25 && listener_up "$NS_GW" 25 && listener_up "$NS_GW" 587'

mkconf "$T/mxlock.conf" metrics_file="$T/mxlock.prom" metrics_interval=1 <<EOF
[policy inbound-smtp]
ports = 25
allow = $GW4 $GW6

[outbound smarthost]
ports = 25, 587
to = $GW4 $GW6
users = postfix
EOF
ok "mxlockd starts with [outbound smarthost]" mxlockd_start "$T/mxlock.conf" || lab_finish

# connect_as USER DST PORT: one connect from SRV as USER; prints the result.
connect_as() {
        timeout 20 ip netns exec "$NS_SRV" setpriv --reuid="$1" --regid="$1" --clear-groups \
                "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.settimeout(3)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print("connected")
except OSError:
    print("refused")' "$2" "$3"
}
ok "postfix reaches the smarthost" eval '[ "$(connect_as postfix "$GW4" 587)" = connected ]'
for i in 1 2 3; do connect_as www-data "$SPAM4" 25 >/dev/null; done
connect_as postfix "$SPAM4" 25 >/dev/null
ok "three attempts of www-data recorded" \
        eval '[ "$(audit_count refused direction=outbound uid="$WWW")" -ge 3 ] || audit_wait refused direction=outbound uid="$WWW"'
ok "postfix's attempt elsewhere recorded" audit_wait refused direction=outbound uid="$POSTFIX" reason=destination-not-allowed

# ---- explain --user -----------------------------------------------------------

# explain ARGS...: mxlock explain in SRV; output in $T/out.
explain() {
        timeout 20 ip netns exec "$NS_SRV" "$MXLOCK" -c "$T/mxlock.conf" explain "$@" >"$T/out" 2>&1
        MX_RC=$?
        { echo "=== mxlock explain $* -> $MX_RC"; cat "$T/out"; } >>"$T/mxlock.log"
        cat "$T/out"
}
has() {
        grep -qF -- "$1" "$T/out" || { echo "no '$1' in:"; cat "$T/out"; return 1; }
}

explain --user postfix "$GW4" 587 >/dev/null
ok "explain: postfix to the smarthost is accepted, by the to entry" \
        eval 'has "user postfix (uid $POSTFIX) to $GW4 port 587: accepted by outbound smarthost" &&
              has "matched: to $GW4 at" && has "users set matches, allow set matches"'
explain --user www-data "$GW4" >/dev/null
ok "explain: www-data is refused, not listed" \
        eval 'has "user www-data (uid $WWW) to $GW4 port 25: refused by outbound smarthost: user www-data (uid $WWW) is not listed in users" &&
              has "users set no match"'
explain --user "$POSTFIX" "$SPAM6" 25 >/dev/null
ok "explain: postfix (as a uid) to an outside MX over IPv6 is refused, destination" \
        has "refused by outbound smarthost: $SPAM6 is not among the allowed destinations (to, providers)"
explain --json --user postfix "$SPAM4" >/dev/null
ok "explain --json: rule, kernel sets, config agrees" "$PY" -c '
import json, sys
j = json.load(open(sys.argv[1]))
print(j)
assert j["direction"] == "outbound" and j["verdict"] == "refused" and j["rule"] == "destination-not-allowed"
assert j["uid"] == int(sys.argv[2]) and j["user"] == "postfix" and j["policy"] == "smarthost"
assert j["kernel_table"] is True and j["kernel_users"] is True and j["kernel_allow"] is False
assert j["config_agrees"] is True' "$T/out" "$POSTFIX"
explain --user www-data "$SPAM4" 2525 >/dev/null
ok "explain: a port no section locks is not touched" has "no [outbound] section locks this port"
explain --user www-data "$EXT4" 25 >/dev/null
ok "explain: this host's own address goes through lo" has "an address of this host"
explain "$SPAM4" >/dev/null
ok "explain without --user: the inbound policy answers" \
        has "$SPAM4 port 25: refused by policy inbound-smtp: not in any allowed range"
explain "$SPAM4" 587 >/dev/null
ok "explain without --user, a port only an outbound section locks: says so" \
        has "no inbound policy locks this port: mxlock does not touch it (an [outbound] section does: ask with --user)"
explain --user nosuchuser-x "$SPAM4" >/dev/null
ok "explain: an unknown user is a usage error" eval '[ "$MX_RC" = 2 ] && has "unknown user"'

# ---- status and metrics ---------------------------------------------------------

status() {
        timeout 20 ip netns exec "$NS_SRV" "$MXLOCK" -c "$T/mxlock.conf" status "$@" >"$T/out" 2>&1
        cat "$T/out"
}
status >/dev/null
ok "status: each section says its direction" \
        eval 'has "inbound policy inbound-smtp: ports 25" && has "outbound policy smarthost: ports 25,587; users postfix"'
ok "status: the totals split by direction" \
        eval 'grep -qE "^ +inbound [0-9]+ refused, 0 observed; outbound [1-9][0-9]* refused, 0 observed$" "$T/out" || { cat "$T/out"; false; }'
status --json >/dev/null
ok "status --json: direction per policy, by_direction totals" "$PY" -c '
import json, sys
s = json.load(open(sys.argv[1]))
d = {p["name"]: p for p in s["policies"]}
print(s["by_direction"], [(p["name"], p["direction"], p["refused"]) for p in s["policies"]])
assert d["inbound-smtp"]["direction"] == "inbound" and d["smarthost"]["direction"] == "outbound"
assert d["smarthost"]["users"] == ["postfix"] and d["smarthost"]["refused"] >= 4
b = s["by_direction"]
assert b["outbound"]["refused"] == d["smarthost"]["refused"]
assert b["inbound"]["refused"] + b["outbound"]["refused"] == s["refused"]' "$T/out"

metrics_direction() {
        grep -E "^mxlock_(attempts_total|set_ranges)\{" "$T/mxlock.prom" | grep -v "direction=" && return 1
        grep -qE '^mxlock_attempts_total\{policy="smarthost",direction="outbound",outcome="refused"\} [1-9]' "$T/mxlock.prom" &&
                grep -qE '^mxlock_attempts_total\{policy="inbound-smtp",direction="inbound",outcome="refused"\} ' "$T/mxlock.prom"
}
ok "metrics: every per-policy series has its direction" wait_until 5 metrics_direction
if command -v promtool >/dev/null 2>&1; then
        ok "metrics: promtool check metrics" sh -c "promtool check metrics <'$T/mxlock.prom'"
fi

# ---- report ----------------------------------------------------------------------

ok "report --format json: outbound by user and destination; inbound figures without them" \
        "$PY" - "$MXLOCK" "$AUDIT" "$WWW" "$SPAM4" "$EXT4" <<'EOF'
import json, subprocess, sys
mxlock, audit, www, spam, ext = sys.argv[1:]
r = json.loads(subprocess.run([mxlock, "report", "--format", "json", audit], check=True,
                              capture_output=True, text=True).stdout)
recs = [json.loads(l) for l in open(audit)]
out = sum(x.get("count", 1) for x in recs
          if x.get("direction") == "outbound" and x["event"] in ("refused", "observed", "summary", "missed"))
inb = sum(x.get("count", 1) for x in recs
          if x.get("direction") != "outbound" and x["event"] in ("refused", "observed", "summary", "missed"))
ob = r["outbound"]
print("report: inbound", r["attempts"], "outbound", ob["attempts"], "; log:", inb, out)
print("users", ob["top_users"], "destinations", ob["top_destinations"])
assert ob["attempts"] == out > 0 and r["attempts"] == inb
users = {u["uid"]: u for u in ob["top_users"]}
assert users[int(www)]["user"] == "www-data" and users[int(www)]["attempts"] >= 3
assert users[int(www)]["user_not_allowed"] == users[int(www)]["attempts"]
assert any(d["dst"] == spam and d["port"] == 25 for d in ob["top_destinations"])
assert all(s["src"] != ext for s in r["top_sources"]), "this host's address is not an inbound source"
EOF
ok "report (table): the outbound section" \
        sh -c "'$MXLOCK' report '$AUDIT' | tee '$T/report.txt' | grep -q '^Outbound attempts by user' && grep -q '  www-data ($WWW) ' '$T/report.txt'"

ok "mxlockd stops cleanly" mxlockd_stop
lab_finish
