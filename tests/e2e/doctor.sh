#!/usr/bin/env bash
# tests/e2e/doctor.sh: `mxlock doctor` on a mail server in a network
# namespace, against a real DNS server (dnsmasq) and the real mxlockd:
# a domain whose MXes all point at the gateway passes; a domain with a
# secondary MX pointing at the mail server itself fails with a bypass hole;
# missing SPF, a stale catalog, a table that is not loaded and a locked port
# nobody listens on are each reported; --format json carries the same. The
# catalog whose MX patterns fit the MX hosts is named (shipped catalogs), a
# policy with another region's catalog of that provider fails, and the
# shared-range caveat is an INFO line. With [outbound] sections: a section
# without users is a warning, and Postfix's relayhost (a fake postconf,
# MXLOCK_POSTCONF) must be an allowed destination of the section locking
# its port, its mail_owner one of the section's users. Ends with `mxlock
# sync` asking the running daemon to reload.
#
# MXLOCK=path overrides build/mxlock (it must have the doctor command).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../synclib.sh"

if [ "$(id -u)" -ne 0 ]; then
        echo "skip - $MXT_NAME (needs root: network namespaces)"
        exit 0
fi
for t in ip nft ss dnsmasq "$PY"; do
        if ! command -v "$t" >/dev/null 2>&1; then
                echo "skip - $MXT_NAME (missing tool $t: run tests/deps.sh)"
                exit 0
        fi
done
MXLOCK=${MXLOCK:-$MXT_ROOT/build/mxlock}
if ! "$MXLOCK" doctor --help >/dev/null 2>&1; then
        echo "skip - $MXT_NAME ($MXLOCK is not built or has no doctor command: run make)"
        exit 0
fi
require_mxlockd

DNS_PORT=5353
DNSMASQ_PID=
TODAY=$(date -u +%F)

lab_init
MXT_LAB=1
ip netns add "$NS_SRV" || lab_finish
ip -n "$NS_SRV" link set lo up
# The mail server's own outside addresses (what a secondary MX points at).
# (a veth pair inside the namespace: this kernel has no dummy driver)
ip -n "$NS_SRV" link add ext0 type veth peer name ext1 || lab_finish
ip -n "$NS_SRV" addr add "$EXT4/24" dev ext0
ip -n "$NS_SRV" addr add "$EXT6/64" dev ext0 nodad
ip -n "$NS_SRV" link set ext0 up
ip -n "$NS_SRV" link set ext1 up

# ---- fixture zones ----------------------------------------------------------

cat >"$T/dns.conf" <<EOF
# The gateway (provider "labgw"): its MX hosts and its SPF netblocks.
host-record=mx1.gw.example.net,$GW4,$GW6
host-record=mx2.gw.example.net,198.51.100.11,2001:db8:25::11
txt-record=_spf.gw.example.net,"v=spf1 ip4:198.51.100.0/24 ","ip6:2001:db8:25::/48 ip6:2001:db8:26::/48 -all"

# good.example.org: both MXes at the gateway, SPF includes the gateway.
mx-host=good.example.org,mx1.gw.example.net,10
mx-host=good.example.org,mx2.gw.example.net,20
txt-record=good.example.org,"v=spf1 include:_spf.gw.example.net ~all"

# example.org: a secondary MX pointing at the mail server itself.
mx-host=example.org,mx1.gw.example.net,10
mx-host=example.org,mail.example.org,20
host-record=mail.example.org,$EXT4,$EXT6
txt-record=example.org,"v=spf1 include:_spf.gw.example.net -all"

# nospf.example.org: MX fine, no SPF record; its SPF lives nowhere.
mx-host=nospf.example.org,mx1.gw.example.net,10

# wrongspf.example.org: SPF authorises someone else.
mx-host=wrongspf.example.org,mx1.gw.example.net,10
txt-record=wrongspf.example.org,"v=spf1 ip4:203.0.113.0/24 -all"

# nomx.example.org: no MX at all (mail goes to its A record).
host-record=nomx.example.org,$EXT4

# Regional MX host names that the shipped catalogs' mx patterns know
# (their addresses here are the lab gateway's, so the mx check passes).
host-record=eu-smtp-inbound-1.mimecast.com,198.51.100.21
host-record=eu-smtp-inbound-2.mimecast.com,198.51.100.22
host-record=de-smtp-inbound-1.mimecast.com,198.51.100.23
host-record=aspmx.l.google.com,198.51.100.24
mx-host=eu.example.org,eu-smtp-inbound-1.mimecast.com,10
mx-host=eu.example.org,eu-smtp-inbound-2.mimecast.com,20
mx-host=de.example.org,de-smtp-inbound-1.mimecast.com,10
mx-host=gmail.example.org,aspmx.l.google.com,10

# The smarthost of the outbound checks.
host-record=smarthost.example.net,$GW4,$GW6
EOF

ip netns exec "$NS_SRV" dnsmasq --keep-in-foreground --no-resolv --no-hosts --pid-file= \
        --port=$DNS_PORT --listen-address=127.0.0.1,::1 --bind-interfaces --user=nobody \
        --local=/#/ --local-ttl=300 --conf-file="$T/dns.conf" --log-facility="$T/dnsmasq.log" \
        >"$T/dnsmasq.out" 2>&1 &
DNSMASQ_PID=$!
track $DNSMASQ_PID
ok "dnsmasq answers in the namespace" wait_until 5 dns_answers || lab_finish

# ---- catalogs and configuration ---------------------------------------------

mkdir -p "$T/providers" "$T/state"
cat >"$T/providers/labgw.conf" <<EOF
description = Lab gateway (test fixture)
source = tests/e2e/doctor.sh
spf = _spf.gw.example.net
checked = $TODAY
198.51.100.0/24         # gateway
2001:db8:25::/48        # gateway
EOF
cat >"$T/providers/oldgw.conf" <<'EOF'
description = A catalog nobody looked at for years (test fixture)
source = tests/e2e/doctor.sh
checked = 2020-01-01
203.0.113.0/24
EOF
mkconf "$T/mxlock.conf" "provider_dirs=$T/providers:$T/state" <<'CONF'
[policy inbound-smtp]
ports = 25
providers = labgw

[policy submission]
ports = 2525
providers = oldgw
CONF

# doctor ARGS...: mxlock doctor in the namespace, bounded; output in $T/out.
doctor() {
        timeout 60 ip netns exec "$NS_SRV" "$MXLOCK" -c "$T/mxlock.conf" doctor \
                --nameserver 127.0.0.1:$DNS_PORT --timeout 1 "$@" >"$T/out" 2>&1
        MX_RC=$?
        { echo "=== mxlock doctor $* -> $MX_RC"; cat "$T/out"; } >>"$T/mxlock.log"
        return 0
}

# line STATUS CHECK TEXT: a checklist line "STATUS  CHECK ... TEXT".
line() {
        grep -E "^  $1  $2 " "$T/out" | grep -qF -- "$3" && return 0
        echo "no '$1 $2 ...$3...' line in:"
        cat "$T/out"
        return 1
}

no_line() {
        if grep -E "^  $1  $2 " "$T/out" | grep -qF -- "$3"; then
                echo "unexpected '$1 $2 ...$3...' line in:"
                cat "$T/out"
                return 1
        fi
}

# json PYTHON-EXPR: the JSON output j satisfies EXPR; st(check, subject_or_None) lists statuses.
json() {
        "$PY" - "$T/out" "$1" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
def st(check, subject=None):
    return sorted(c["status"] for c in j["checks"]
                  if c["check"] == check and (subject is None or c["subject"] == subject))
def msgs(check):
    return [c["message"] for c in j["checks"] if c["check"] == check]
if not eval(sys.argv[2]):
    sys.exit("JSON fails %s:\n%s" % (sys.argv[2], json.dumps(j, indent=1)))
EOF
}

# ---- before the daemon runs --------------------------------------------------

doctor good.example.org
ok "no daemon, no listener: exit 1" rc_is 1
ok "no daemon: the table is not loaded (FAIL)" line FAIL table "table inet $TABLE is not loaded: mxlockd is not running"
ok "no listener: port 25 (FAIL)" line FAIL listening "nothing listens on port 25 (policy inbound-smtp)"
ok "MX checks pass regardless" line PASS mx "MX 10 mx1.gw.example.net ($GW4, $GW6) is in the allowed ranges (policy inbound-smtp"
ok "stale catalog: WARN" line WARN stale "catalog oldgw"
ok "fresh catalog: PASS" line PASS stale "catalog labgw"
ok "closing line counts" grep -qx "result: FAIL (.* fail)" "$T/out"

# ---- with the daemon and listeners -------------------------------------------

ok "mxlockd starts" mxlockd_start "$T/mxlock.conf" || lab_finish
ok "listener on port 25" listener_up "$NS_SRV" 25
ok "listener on port 2525" listener_up "$NS_SRV" 2525

doctor good.example.org
ok "good domain: exit 0" rc_is 0
ok "good domain: config PASS" line PASS config "port 25 locked by inbound-smtp"
ok "good domain: MX 10 in the allowed ranges" line PASS mx "MX 10 mx1.gw.example.net"
ok "good domain: MX 20 in the allowed ranges" line PASS mx "MX 20 mx2.gw.example.net (198.51.100.11, 2001:db8:25::11)"
ok "good domain: SPF authorises the provider" line PASS spf "the SPF record of good.example.org authorises labgw"
ok "good domain: table loaded, inbound-smtp sets non-empty" line PASS table "table inet $TABLE is loaded: allow4_inbound-smtp has 1 ranges, allow6_inbound-smtp 1"
ok "good domain: port 25 listening" line PASS listening "port 25 (policy inbound-smtp) has a listener"
ok "good domain: port 2525 listening" line PASS listening "port 2525 (policy submission) has a listener"
ok "good domain: stale catalog still warned" line WARN stale "was checked 2020-01-01"
ok "good domain: result PASS with warnings" grep -qx "result: PASS with warnings (.*)" "$T/out"
ok "good domain: the shared-range caveat is an INFO line" line INFO caveat "catalog labgw: its ranges are shared by every customer of labgw"

doctor --format json good.example.org
ok "json: exit 0" rc_is 0
ok "json: ok, checks and counts" json 'j["ok"] is True and j["fail"] == 0 and j["warn"] == 1 and st("mx") == ["pass", "pass"] and st("spf") == ["pass"] and st("table") == ["pass", "pass"] and st("listening") == ["pass", "pass"] and st("stale", "oldgw") == ["warn"] and j["domains"] == ["good.example.org"]'

# ---- the catalog that fits the MX hosts: region check -------------------------

# The shipped catalogs (rules/providers) beside the lab's: a policy that names
# Mimecast's European catalog.
regions_conf() {   # regions_conf FILE PROVIDERS
        mkconf "$1" "provider_dirs=$MXT_ROOT/rules/providers:$T/providers" <<CONF
[policy inbound-smtp]
ports = 25
providers = $2
CONF
}
regions_conf "$T/eu.conf" "mimecast-eu labgw"
regions_conf "$T/global.conf" "mimecast-global labgw"

doctor_c() {   # doctor_c CONF ARGS...: as doctor, with another configuration
        local conf=$1
        shift
        timeout 60 ip netns exec "$NS_SRV" "$MXLOCK" -c "$conf" doctor \
                --nameserver 127.0.0.1:$DNS_PORT --timeout 1 "$@" >"$T/out" 2>&1
        MX_RC=$?
        { echo "=== mxlock -c $conf doctor $* -> $MX_RC"; cat "$T/out"; } >>"$T/mxlock.log"
        return 0
}

doctor_c "$T/eu.conf" --format json eu.example.org
ok "region: EU MX hosts, policy names mimecast-eu: provider checks pass" \
        json 'st("provider", "eu.example.org") == ["pass", "pass"] and st("mx", "eu.example.org") == ["pass", "pass"]'
doctor_c "$T/eu.conf" eu.example.org
ok "region: the fitting catalog is named" line PASS provider \
        "MX eu-smtp-inbound-1.mimecast.com fits catalog mimecast-eu (Mimecast, Europe and the UK (except Germany)), which policy inbound-smtp names"
ok "region: each MX host once" line PASS provider "MX eu-smtp-inbound-2.mimecast.com fits catalog mimecast-eu"

# MX in Germany, policy with the European catalog: mail from the German data
# centres would be refused in enforce mode.
doctor_c "$T/eu.conf" de.example.org
ok "wrong region: exit 1" rc_is 1
ok "wrong region: FAIL names the fitting catalog and the one in use" line FAIL provider \
        "wrong region: MX de-smtp-inbound-1.mimecast.com fits catalog mimecast-de (Mimecast, Germany), but policy inbound-smtp names mimecast-eu"
ok "wrong region: says what to name" line FAIL provider "name mimecast-de"
doctor_c "$T/eu.conf" --format json de.example.org
ok "wrong region: the only failure is the provider check (the MX address is allowed)" \
        json 'st("provider", "de.example.org") == ["fail"] and st("mx", "de.example.org") == ["pass"] and j["fail"] == 1'

# The global catalog admits every region: a warning, not a failure.
doctor_c "$T/global.conf" --format json de.example.org
ok "global catalog: WARN, not FAIL" json 'st("provider", "de.example.org") == ["warn"]'
doctor_c "$T/global.conf" de.example.org
ok "global catalog: says to name the region" line WARN provider \
        "policy inbound-smtp names mimecast-global, which admits every Mimecast region: name mimecast-de instead"

# Another provider's MX host: named, with a warning.
doctor_c "$T/eu.conf" gmail.example.org
ok "other provider: its catalog is named (WARN)" line WARN provider \
        "MX aspmx.l.google.com fits catalog google (Google Workspace (Gmail) outbound mail servers), which no port-25 policy names"

# No catalog has patterns for the lab gateway's hosts: no provider line.
doctor_c "$T/eu.conf" --format json good.example.org
ok "no pattern fits: no provider check" json 'st("provider") == []'

# The shared-range caveat: one INFO line per catalog the port-25 policies name.
doctor_c "$T/eu.conf" eu.example.org
ok "caveat: INFO for mimecast-eu, with what Mimecast offers" line INFO caveat \
        "catalog mimecast-eu: its ranges are shared by every customer of Mimecast, so the lock proves mail came through some Mimecast customer, not through your own account. At the MTA: Mimecast delivery routes can carry SMTP authentication credentials"
ok "caveat: INFO for a catalog without tenant advice: the generic advice" line INFO caveat \
        "catalog labgw: its ranges are shared by every customer of labgw, so the lock proves mail came through some labgw customer, not through your own account. At the MTA: accept mail from these ranges for your own domains only"
doctor_c "$T/eu.conf" --format json eu.example.org
ok "caveat: INFO is counted apart and fails nothing" \
        json 'st("caveat") == ["info", "info"] and j["info"] == 2 and j["ok"] is True and j["fail"] == 0'

# ---- back to the lab gateway ---------------------------------------------------

# The secondary MX at the mail server itself.
doctor example.org
ok "secondary MX at this host: exit 1" rc_is 1
ok "secondary MX at this host: bypass hole FAIL" line FAIL mx \
        "bypass hole: MX mail.example.org ($EXT4, an address of this host, $EXT6, an address of this host) is not in the allowed ranges; senders will deliver to it directly"
ok "secondary MX at this host: the primary still passes" line PASS mx "MX 10 mx1.gw.example.net"
ok "secondary MX at this host: SPF passes" line PASS spf "authorises labgw"
doctor --format json example.org
ok "json: the hole is a failed mx check" json 'j["ok"] is False and j["fail"] == 1 and st("mx", "example.org") == ["fail", "pass"] and any("bypass hole: MX mail.example.org" in m for m in msgs("mx"))'

doctor nospf.example.org wrongspf.example.org
ok "SPF problems are warnings: exit 0" rc_is 0
ok "no SPF record: WARN" line WARN spf "nospf.example.org has no SPF record"
ok "SPF without the provider: WARN" line WARN spf "the SPF record of wrongspf.example.org does not authorise labgw"

doctor nomx.example.org nxdomain.example.org
ok "no MX / NXDOMAIN: exit 1" rc_is 1
ok "no MX records: FAIL" line FAIL mx "nomx.example.org has no MX records"
ok "NXDOMAIN: FAIL" line FAIL mx "nxdomain.example.org does not exist (NXDOMAIN)"

# An empty set in the kernel: flush the gateway's set behind the daemon's
# back, while it is stopped (running, it puts the set back at once).
kill -STOP "$MXLOCKD_PID"
ok "flush the allow4 set in the kernel" nft_srv flush set inet "$TABLE" allow4_inbound-smtp
doctor good.example.org
ok "empty kernel set: FAIL" line FAIL table "policy inbound-smtp: the kernel sets are empty"
kill -CONT "$MXLOCKD_PID"
ok "reload (SIGHUP) restores the set" mxlockd_reload

# ---- the outbound lock: sections and Postfix's relay host ---------------------

# A fake postconf (MXLOCK_POSTCONF): `postconf -h NAME` answers from the
# environment, as Postfix would from main.cf.
cat >"$T/postconf" <<'EOF'
#!/bin/sh
case "$2" in
relayhost) printf '%s\n' "$FAKE_RELAYHOST" ;;
mail_owner) printf '%s\n' "${FAKE_MAIL_OWNER:-root}" ;;
*) exit 1 ;;
esac
EOF
chmod 755 "$T/postconf"
mkconf "$T/outbound.conf" "provider_dirs=$T/providers:$T/state" <<CONF
[policy inbound-smtp]
ports = 25
providers = labgw

[outbound smarthost]
ports = 25, 587
to = $GW4 $GW6
users = root

[outbound nobody-out]
ports = 465
to = $GW4
CONF
# doctor_ob RELAYHOST ARGS...: doctor with outbound.conf and the fake postconf.
doctor_ob() {
        local relay=$1
        shift
        FAKE_RELAYHOST=$relay MXLOCK_POSTCONF="$T/postconf" doctor_c "$T/outbound.conf" "$@"
}

doctor_ob "[smarthost.example.net]:587" good.example.org
ok "outbound: the MX checks still use the inbound policy" line PASS mx "MX 10 mx1.gw.example.net"
ok "outbound: a locked outbound port is not a port to listen on" no_line FAIL listening "587"
ok "outbound: a section without users is a warning" line WARN outbound \
        "outbound nobody-out lists no users: nobody may connect out to ports 465: every attempt is refused"
ok "outbound: a section with users passes" line PASS outbound "outbound smarthost: root may connect out to ports 25,587"
ok "relay: the relay host (a name, port 587) is an allowed destination" line PASS relay \
        "relayhost [smarthost.example.net]:587 ($GW4, $GW6) is an allowed destination of outbound smarthost (port 587: to $GW4"
ok "relay: Postfix's mail_owner is one of the section's users" line PASS relay \
        "Postfix's mail_owner root (uid 0) is one of the users of outbound smarthost"

doctor_ob "[$SPAM4]" --format json good.example.org
ok "relay elsewhere: exit 1" rc_is 1
ok "relay elsewhere: json, a failed relay check" \
        json "st('relay', '[$SPAM4]') == ['fail'] and st('outbound', 'nobody-out') == ['warn'] and any('$SPAM4 is not an allowed destination of outbound smarthost (port 25)' in m for m in msgs('relay'))"

FAKE_MAIL_OWNER=nobody doctor_ob "smarthost.example.net:587" good.example.org
ok "mail_owner not among the users: FAIL" line FAIL relay \
        "Postfix's mail_owner nobody (uid 65534) is not one of the users of outbound smarthost"

doctor_ob "" good.example.org
ok "no relayhost while port 25 is locked outbound: WARN" line WARN relay \
        "Postfix has no relayhost: it delivers to each recipient's MX on port 25, which outbound smarthost refuses"

doctor_ob "[$GW4]:2525" good.example.org
ok "a relay port no section locks: PASS" line PASS relay "no [outbound] section locks port 2525"

MXLOCK_POSTCONF=/nonexistent/postconf doctor_c "$T/outbound.conf" good.example.org
ok "postconf that cannot run: WARN" line WARN relay "the relay host is not checked"

doctor good.example.org
ok "no outbound section: no outbound or relay check" eval '! grep -qE "^  [A-Z]+  (outbound|relay) " "$T/out"'

# Usage.
doctor
ok "no domain: exit 2" rc_is 2
doctor --format xml good.example.org
ok "bad --format: exit 2" rc_is 2

# ---- sync asks the running daemon to reload ------------------------------------

sync_reload() {
        timeout 60 ip netns exec "$NS_SRV" "$MXLOCK" -c "$T/mxlock.conf" sync \
                --nameserver 127.0.0.1:$DNS_PORT --state-dir "$T/state" --timeout 1 labgw >"$T/out" 2>&1
        MX_RC=$?
        { echo "=== mxlock sync labgw -> $MX_RC"; cat "$T/out"; } >>"$T/mxlock.log"
        return 0
}
if "$MXLOCK" sync --help >/dev/null 2>&1; then
        before=$(audit_count reload)
        sync_reload
        ok "sync with a running daemon: exit 0" rc_is 0
        ok "sync with a running daemon: reloaded" grep -q "mxlockd reloaded" "$T/out"
        ok "sync with a running daemon: the daemon wrote a reload record" \
                test "$(audit_count reload 'result!=error')" -gt "$before"
        ok "sync: state file written" test -s "$T/state/labgw.conf"
fi

ok "mxlockd stops cleanly" mxlockd_stop
lab_finish
