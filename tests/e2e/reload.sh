#!/usr/bin/env bash
# tests/e2e/reload.sh: SIGHUP reloads atomically. An SMTP session that is
# already open survives a reload that removes its source from the allowed
# set (only new connections are inspected); new connections follow the new
# policy; a broken config keeps the rules in force and is audited as an error.
. "$(dirname "$0")/../lib.sh"
require_root
require_mxlockd

ok "lab up" lab_up || lab_finish
ok "postfix listening in SRV" postfix_up || lab_finish

write_full() {
        mkconf "$T/mxlock.conf" <<'CONF'
[policy inbound-smtp]
ports = 25
allow = 198.51.100.0/24 2001:db8:25::/48
CONF
}

write_v6_only() {
        mkconf "$T/mxlock.conf" <<'CONF'
[policy inbound-smtp]
ports = 25
allow = 2001:db8:25::/48
CONF
}

session_open() {
        test -e "$T/hold.result.open" && return 0
        test -e "$T/hold.result" && return 2
        return 1
}

session_done() {
        test -e "$T/hold.result"
}

write_full
ok "mxlockd starts" mxlockd_start "$T/mxlock.conf" || lab_finish
ok "gateway mail delivered" deliver "$NS_GW" "$SRV4"

# A session from the gateway, opened now and held across the reloads.
ip netns exec "$NS_GW" "$PY" "$T/hold.py" "$SRV4" "$T/hold.go" "$T/hold.result" \
        >"$T/hold.out" 2>&1 &
track $!
ok "gateway SMTP session open (banner + EHLO)" wait_until 10 session_open

write_v6_only
ok "reload removing 198.51.100.0/24" mxlockd_reload
ok "audit: reload record without error" audit_has reload 'result!=error'
ok "new IPv4 connection from the gateway refused" probe_is refused "$NS_GW" "$SRV4" 25 "" 1000
ok "audit: the gateway's new connection refused" audit_wait refused src="$GW4" dport=25
ok "IPv6 from the gateway still allowed" probe_is connected "$NS_GW" "$SRV6" 25
ok "IPv6 mail from the gateway delivered" deliver "$NS_GW" "$SRV6"

write_full
ok "reload adding 198.51.100.0/24 back" mxlockd_reload
ok "new IPv4 connection from the gateway allowed" probe_is connected "$NS_GW" "$SRV4" 25
ok "IPv4 mail from the gateway delivered" deliver "$NS_GW" "$SRV4"

cp "$T/mxlock.conf" "$T/mxlock.conf.good"
nft_srv list table inet "$TABLE" >"$T/table.before"
printf '[daemon\nthis is = = not a config\n[policy !!]\nports = many\n' >>"$T/mxlock.conf"
errors_before=$(audit_count reload result=error)
ok "reload with a broken config is answered" mxlockd_reload
ok "audit: reload record with result error" audit_has reload result=error error
ok "mxlockd still running after the failed reload" mxlockd_alive
ok "gateway still allowed after the failed reload" deliver "$NS_GW" "$SRV4"
ok "direct sender still refused after the failed reload" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
ok "direct sender still refused over IPv6" probe_is refused "$NS_SPAM" "$EXT6" 25 "" 1000

# A config that parses but names a provider nobody ships.
mkconf "$T/mxlock.conf" <<'CONF'
[policy inbound-smtp]
ports = 25
providers = no-such-provider-anywhere
allow = 198.51.100.0/24
CONF
ok "reload with an unknown provider is answered" mxlockd_reload
ok "audit: unknown provider reload is an error" \
        test "$(audit_count reload result=error)" -ge $((errors_before + 2))
ok "gateway still allowed after the second failed reload" deliver "$NS_GW" "$SRV6"
ok "direct sender still refused after the second failed reload" probe_is refused "$NS_SPAM" "$EXT6" 25 "" 1000

touch "$T/hold.go"
ok "held session finished" wait_until 10 session_done
ok "the session opened before the reloads is still alive" grep -qx alive "$T/hold.result"
[ -e "$T/hold.result" ] && sed 's/^/# held session: /' "$T/hold.result"

ok "mxlockd stops on SIGTERM with status 0" mxlockd_stop
ok "audit: start record" audit_has start
ok "audit: stop record" audit_has stop
ok "audit log is one JSON object per line" audit_valid

lab_finish
