#!/usr/bin/env bash
# tests/e2e/monitor.sh: mode monitor refuses nothing: the direct sender's mail
# is delivered, and each attempt that enforce mode would refuse is audited
# as "observed".
. "$(dirname "$0")/../lib.sh"
require_root
require_mxlockd

ok "lab up" lab_up || lab_finish
ok "postfix listening in SRV" postfix_up || lab_finish

mkconf "$T/mxlock.conf" mode=monitor <<'CONF'
[policy inbound-smtp]
ports = 25
allow = 198.51.100.0/24
allow = 2001:db8:25::/48
CONF

ok "mxlockd starts" mxlockd_start "$T/mxlock.conf" || lab_finish

ok "direct sender connects over IPv4" probe_is connected "$NS_SPAM" "$EXT4" 25 "" 1000
sport4=$PROBE_SPORT
ok "direct sender mail delivered over IPv4" deliver "$NS_SPAM" "$EXT4"
ok "direct sender mail delivered over IPv6" deliver "$NS_SPAM" "$EXT6"
ok "gateway mail delivered" deliver "$NS_GW" "$SRV4"
ok "audit: observed IPv4 record" audit_wait observed \
        policy=inbound-smtp mode=monitor family=ipv4 \
        src="$SPAM4" sport="$sport4" dst="$EXT4" dport=25 ttl=64 iface=ext0 count=1
ok "audit: observed IPv6 record" audit_wait observed \
        mode=monitor family=ipv6 src="$SPAM6" dst="$EXT6" dport=25 iface=ext0
ok "audit: nothing recorded as refused" test "$(audit_count refused)" = 0
ok "audit: the gateway is not recorded" test "$(audit_count '*' src="$GW4")" = 0
ok "mxlockd stops on SIGTERM with status 0" mxlockd_stop
ok "audit log is one JSON object per line" audit_valid

lab_finish
