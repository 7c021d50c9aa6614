#!/usr/bin/env bash
# tests/e2e/enforce.sh: enforce mode with action reject. The gateway's mail is
# delivered over IPv4 and IPv6; the direct sender is refused with a TCP reset
# at the first SYN and audited; someone else's table, ports no policy names
# and outbound connections are left alone.
. "$(dirname "$0")/../lib.sh"
require_root
require_mxlockd

ok "lab up" lab_up || lab_finish
ok "postfix listening in SRV" postfix_up || lab_finish

# Someone else's table, with a set and a counter, installed before mxlockd.
ok "foreign table installed" in_ns "$NS_SRV" nft -f - <<'NFT'
table ip foreign {
        set watch {
                type ipv4_addr
                elements = { 203.0.113.9, 203.0.113.10 }
        }
        chain c {
                type filter hook input priority 0; policy accept;
                ip saddr @watch counter
                counter
        }
}
NFT
nft_srv -s list table ip foreign >"$T/foreign.before"

foreign_unchanged() {
        nft_srv -s list table ip foreign >"$T/foreign.now"
        diff -u "$T/foreign.before" "$T/foreign.now"
}

mkconf "$T/mxlock.conf" action=reject <<'CONF'
[policy inbound-smtp]
ports = 25
allow = 198.51.100.0/24 2001:db8:25::/48
CONF

ok "mxlockd starts" mxlockd_start "$T/mxlock.conf" || lab_finish
ok "foreign table unchanged after start" foreign_unchanged

# The gateway.
ok "gateway connects over IPv4" probe_is connected "$NS_GW" "$SRV4" 25
ok "gateway connects over IPv6" probe_is connected "$NS_GW" "$SRV6" 25
ok "gateway mail delivered over IPv4" deliver "$NS_GW" "$SRV4"
ok "gateway mail delivered over IPv6" deliver "$NS_GW" "$SRV6"

# The direct sender.
ok "direct sender refused with RST over IPv4 in < 1 s" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
sport4=$PROBE_SPORT
ok "direct sender refused with RST over IPv6 in < 1 s" probe_is refused "$NS_SPAM" "$EXT6" 25 "" 1000
sport6=$PROBE_SPORT
ok "swaks from the direct sender fails over IPv4" swaks_fails "$NS_SPAM" "$EXT4"
ok "swaks from the direct sender fails over IPv6" swaks_fails "$NS_SPAM" "$EXT6"

ok "audit: refused IPv4 record with every field" audit_wait refused \
        policy=inbound-smtp mode=enforce action=reject family=ipv4 \
        src="$SPAM4" sport="$sport4" dst="$EXT4" dport=25 ttl=64 iface=ext0 count=1
ok "audit: refused IPv6 record with every field" audit_wait refused \
        policy=inbound-smtp mode=enforce action=reject family=ipv6 \
        src="$SPAM6" sport="$sport6" dst="$EXT6" dport=25 ttl=64 iface=ext0 count=1
ok "audit: the gateway is never recorded" \
        test "$(audit_count '*' src="$GW4")$(audit_count '*' src="$GW6")" = 00

# Ports no policy names, and outbound traffic.
ok "listener on SRV port 2525" listener_up "$NS_SRV" 2525
ok "unnamed port 2525 reachable from the direct sender (IPv4)" probe_is connected "$NS_SPAM" "$EXT4" 2525
ok "unnamed port 2525 reachable from the direct sender (IPv6)" probe_is connected "$NS_SPAM" "$EXT6" 2525
ok "listener on SPAM port 25" listener_up "$NS_SPAM" 25
ok "outbound SRV -> SPAM port 25 untouched (IPv4)" probe_is connected "$NS_SRV" "$SPAM4" 25
ok "outbound SRV -> SPAM port 25 untouched (IPv6)" probe_is connected "$NS_SRV" "$SPAM6" 25
ok "audit: port 2525 and outbound not recorded" \
        test "$(audit_count '*' dport=2525)$(audit_count '*' dst="$SPAM4")" = 00

ok "reload (SIGHUP) succeeds" mxlockd_reload
ok "audit: reload record not an error" audit_has reload 'result!=error'
ok "foreign table unchanged after reload" foreign_unchanged
ok "direct sender still refused after reload" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
ok "gateway still delivers after reload" deliver "$NS_GW" "$SRV4"

ok "mxlockd stops on SIGTERM with status 0" mxlockd_stop
ok "foreign table unchanged after stop" foreign_unchanged
ok "audit: start and stop records" audit_has start
ok "audit: stop record" audit_has stop
ok "audit log is one JSON object per line" audit_valid

lab_finish
