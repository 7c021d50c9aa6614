#!/usr/bin/env bash
# tests/e2e/drop.sh: action drop: the direct sender's SYNs vanish (no reset,
# the client times out) and are audited with action drop; the gateway's mail
# still flows.
. "$(dirname "$0")/../lib.sh"
require_root
require_mxlockd

ok "lab up" lab_up || lab_finish
ok "postfix listening in SRV" postfix_up || lab_finish

mkconf "$T/mxlock.conf" action=drop <<'CONF'
[policy inbound-smtp]
ports = 25
allow = 198.51.100.0/24, 2001:db8:25::/48
CONF

ok "mxlockd starts" mxlockd_start "$T/mxlock.conf" || lab_finish

ok "gateway mail delivered over IPv4" deliver "$NS_GW" "$SRV4"
ok "gateway mail delivered over IPv6" deliver "$NS_GW" "$SRV6"
ok "direct sender times out over IPv4 (no RST)" probe_is timeout "$NS_SPAM" "$EXT4" 25
sport4=$PROBE_SPORT
ok "direct sender times out over IPv6 (no RST)" probe_is timeout "$NS_SPAM" "$EXT6" 25
sport6=$PROBE_SPORT
ok "audit: refused IPv4 record with action drop" audit_wait refused \
        policy=inbound-smtp mode=enforce action=drop family=ipv4 \
        src="$SPAM4" sport="$sport4" dst="$EXT4" dport=25 iface=ext0 'count>=1'
ok "audit: refused IPv6 record with action drop" audit_wait refused \
        policy=inbound-smtp mode=enforce action=drop family=ipv6 \
        src="$SPAM6" sport="$sport6" dst="$EXT6" dport=25 iface=ext0 'count>=1'
ok "audit: no record claims action reject" test "$(audit_count refused action=reject)" = 0
ok "gateway still delivers" deliver "$NS_GW" "$SRV4"
ok "mxlockd stops on SIGTERM with status 0" mxlockd_stop
ok "audit log is one JSON object per line" audit_valid

lab_finish
