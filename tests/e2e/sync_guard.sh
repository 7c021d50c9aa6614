#!/usr/bin/env bash
# tests/e2e/sync_guard.sh: `mxlock sync` against a real DNS server (dnsmasq
# in a namespace) for two ways a sync could weaken or break the lock:
#
# - run as root before the daemon's first start, it must create the audit log
#   (and its state files) as the daemon's user, so that mxlockd running as
#   that user (the shipped unit's User=) can still open its log;
# - an SPF record that allows the whole internet (ip4:0.0.0.0/0, ip6:::/0,
#   a/0) or a list that grows far beyond what it was must be refused unless
#   --force, and a forced ranges-changed record names the guard.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../synclib.sh"
require_root
require_mxlockd
for t in dnsmasq setpriv "$PY"; do
        command -v "$t" >/dev/null 2>&1 || { echo "skip - $MXT_NAME (missing tool $t: run tests/deps.sh)"; exit 0; }
done
MXLOCK=${MXLOCK:-$MXT_ROOT/build/mxlock}
DNS_PORT=5353
DNSMASQ_PID=
RUNAS=nobody
RUNGRP=$(id -gn $RUNAS)

lab_init
MXT_LAB=1
ip netns add "$NS_SRV" || lab_finish
ip -n "$NS_SRV" link set lo up

cat >"$T/dns.conf" <<'EOF'
txt-record=split.example.net,"v=spf1 ip4:192.0.2.0/25 ip4:192.0.2.128/25 -all"
txt-record=all4.example.net,"v=spf1 ip4:0.0.0.0/0 -all"
txt-record=all6.example.net,"v=spf1 ip4:192.0.2.0/24 ip6:::/0 -all"
txt-record=alla.example.net,"v=spf1 a:relay.alla.example.net/0 -all"
host-record=relay.alla.example.net,192.0.2.25
txt-record=seven.example.net,"v=spf1 ip4:198.0.0.0/7 -all"
txt-record=eight.example.net,"v=spf1 ip4:12.0.0.0/8 -all"
txt-record=wide6.example.net,"v=spf1 ip4:192.0.2.0/24 ip6:2000::/15 -all"
txt-record=four.example.net,"v=spf1 ip4:198.51.100.0/24 ip4:192.0.2.0/24 ip4:203.0.113.0/24 ip4:198.51.101.0/24 -all"
txt-record=five.example.net,"v=spf1 ip4:198.51.100.0/24 ip4:192.0.2.0/24 ip4:203.0.113.0/24 ip4:198.51.101.0/24 ip4:198.51.102.0/24 -all"
EOF

dns_up() {
        ip netns exec "$NS_SRV" dnsmasq --keep-in-foreground --no-resolv --no-hosts --pid-file= \
                --port=$DNS_PORT --listen-address=127.0.0.1 --bind-interfaces --user=nobody \
                --local=/#/ --local-ttl=300 --conf-file="$T/dns.conf" --log-facility="$T/dnsmasq.log" \
                >"$T/dnsmasq.out" 2>&1 &
        DNSMASQ_PID=$!
        track $DNSMASQ_PID
        wait_until 5 dns_answers
}

catalog() {    # catalog NAME SPF PREFIX...
        local name=$1 spf=$2 p
        shift 2
        {
                echo "description = $name (test fixture)"
                echo "source = tests/e2e/sync_guard.sh"
                echo "spf = $spf"
                for p in "$@"; do echo "$p"; done
        } >"$T/providers/$name.conf"
}

# The directories as the package makes them (tmpfiles.d): the daemon's user owns them.
mkdir -p "$T/providers"
install -d -m 0750 -o $RUNAS -g "$RUNGRP" "$T/log" "$T/run"
install -d -m 0755 -o $RUNAS -g "$RUNGRP" "$T/state"
STATE=$T/state
catalog split split.example.net 192.0.2.0/26
catalog all4 all4.example.net 192.0.2.0/24
catalog all6 all6.example.net 192.0.2.0/24
catalog alla alla.example.net 192.0.2.0/24
catalog seven seven.example.net 198.51.100.0/24
catalog eight eight.example.net 12.0.0.0/9
catalog wide6 wide6.example.net 192.0.2.0/24 2001:db8::/32
catalog four four.example.net 198.51.100.0/24
catalog five five.example.net 198.51.100.0/24
mkconf "$T/mxlock.conf" audit_log="$T/log/audit.jsonl" control_socket="$T/run/mxlock.sock" \
        "provider_dirs=$T/providers:$STATE" <<'CONF'
[policy inbound-smtp]
ports = 25
providers = split
CONF

sync_() {
        mx sync --nameserver 127.0.0.1:$DNS_PORT --state-dir "$STATE" --timeout 1 --no-reload "$@"
}
last_change() {        # last_change PROVIDER PYTHON-EXPR
        "$PY" - "$AUDIT" "$1" "$2" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
mine = [r for r in recs if r.get("event") == "ranges-changed" and r.get("provider") == sys.argv[2]]
if not mine:
    sys.exit("no ranges-changed record for %s" % sys.argv[2])
r = mine[-1]
if not eval(sys.argv[3]):
    sys.exit("record fails %s: %s" % (sys.argv[3], json.dumps(r)))
EOF
}
owner_is() {   # owner_is FILE "MODE USER GROUP"
        local got
        got=$(stat -c '%a %U %G' "$1")
        echo "$1: $got (want $2)"
        [ "$got" = "$2" ]
}

ok "dnsmasq answers in the namespace" dns_up || lab_finish

# ---- sync as root before the first start ---------------------------------------
sync_ split
ok "root sync before the first start: exit 0" rc_is 0
ok "it created the audit log as the daemon's user, 0640" owner_is "$T/log/audit.jsonl" "640 $RUNAS $RUNGRP"
ok "its state file belongs to the daemon's user too" owner_is "$STATE/split.conf" "644 $RUNAS $RUNGRP"

# mxlockd as that user, with CAP_NET_ADMIN only (the shipped unit's User=mxlock).
started_as_user() {
        pid_gone "$MXLOCKD_PID" && return 2
        [ "$(audit_count start)" -gt 0 ]
}
ip netns exec "$NS_SRV" setpriv --reuid=$RUNAS --regid="$RUNGRP" --clear-groups --inh-caps=+net_admin \
        --ambient-caps=+net_admin "$MXLOCKD" -c "$T/mxlock.conf" 2>"$T/mxlockd.err" &
MXLOCKD_PID=$!
MXLOCKD_ERR=$T/mxlockd.err
started_or_say() {
        wait_until 5 started_as_user && return 0
        tail -n 5 "$T/mxlockd.err"
        return 1
}
ok "mxlockd as $RUNAS opens the log that root's sync created, and starts" started_or_say
ok "mxlockd as $RUNAS stops cleanly" mxlockd_stop

# A sync as the daemon's user (the timer unit's User=) also works.
sync_as_user() {
        timeout 60 ip netns exec "$NS_SRV" setpriv --reuid=$RUNAS --regid="$RUNGRP" --clear-groups \
                "$MXLOCK" -c "$T/mxlock.conf" sync --nameserver 127.0.0.1:$DNS_PORT --state-dir "$STATE" \
                --timeout 1 --no-reload --force split >"$T/out" 2>&1
        MX_RC=$?
}
sync_as_user
ok "sync as $RUNAS: exit 0" rc_is 0

# ---- the whole internet, or far more than before --------------------------------
sync_ all4
ok "ip4:0.0.0.0/0: refused (exit 1)" rc_is 1
ok "ip4:0.0.0.0/0: the refusal names the prefix and the limit" out_has "0.0.0.0/0 is shorter than /8"
ok "ip4:0.0.0.0/0: nothing written" no_state all4
ok "ip4:0.0.0.0/0: no ranges-changed record" test "$(changes all4)" -eq 0
sync_ all6
ok "ip6:::/0: refused (exit 1)" rc_is 1
ok "ip6:::/0: the refusal names the prefix and the limit" out_has "::/0 is shorter than /16"
ok "ip6:::/0: nothing written" no_state all6
sync_ alla
ok "a/0: refused (exit 1)" rc_is 1
ok "a/0: nothing written" no_state alla
sync_ seven
ok "ip4 /7: refused (exit 1)" rc_is 1
ok "ip4 /7: nothing written" no_state seven
sync_ wide6
ok "ip6 /15: refused (exit 1)" rc_is 1
ok "ip6 /15: nothing written" no_state wide6
sync_ eight
ok "ip4 /8 grown from a /9 (x2): accepted" rc_is 0
sync_ five
ok "growth x5 (one /24 to five): refused (exit 1)" rc_is 1
ok "growth x5: the refusal names the growth" out_has "would grow 5.0 times"
ok "growth x5: nothing written" no_state five
sync_ four
ok "growth x4 (one /24 to four): accepted" rc_is 0

sync_ --force all4
ok "ip4:0.0.0.0/0 with --force: accepted (exit 0)" rc_is 0
ok "audit: the forced record names the prefix-length guard" last_change all4 \
        'r["forced"] is True and "prefix-length" in r["guards"]'
sync_ --force five
ok "growth x5 with --force: accepted" rc_is 0
ok "audit: the forced record names the growth guard" last_change five \
        'r["forced"] is True and r["guards"] == ["growth"]'
ok "audit: an unforced record has no guard" last_change four 'r["forced"] is False and r.get("guards", []) == []'
ok "audit log is valid JSON lines" audit_valid

lab_finish
