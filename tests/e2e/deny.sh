#!/usr/bin/env bash
# tests/e2e/deny.sh: deny wins over allow: a host inside the gateway's
# provider range that is denied is refused and audited, its neighbours are not.
. "$(dirname "$0")/../lib.sh"
require_root
require_mxlockd

BAD4=198.51.100.66
BAD6=2001:db8:25::66

ok "lab up" lab_up || lab_finish
ok "second gateway-side address" ip -n "$NS_GW" addr add "$BAD4/24" dev mx0
ok "second gateway-side IPv6 address" ip -n "$NS_GW" addr add "$BAD6/64" dev mx0 nodad
ok "postfix listening in SRV" postfix_up || lab_finish

# The gateway's ranges come from a provider catalog; deny carves a known-bad
# host out of them (a "Blocked" connection profile: deny wins over allow).
provider_fixture lab-gateway 198.51.100.0/24 2001:db8:25::/48
mkconf "$T/mxlock.conf" <<CONF
[policy inbound-smtp]
ports = 25
providers = lab-gateway
deny = $BAD4
deny = $BAD6/128
CONF

ok "mxlockd starts" mxlockd_start "$T/mxlock.conf" || lab_finish

ok "allowed gateway address delivers (IPv4)" deliver "$NS_GW" "$SRV4" --local-interface "$GW4"
ok "allowed gateway address delivers (IPv6)" deliver "$NS_GW" "$SRV6" --local-interface "$GW6"
ok "denied $BAD4 refused with RST" probe_is refused "$NS_GW" "$SRV4" 25 "$BAD4" 1000
sport4=$PROBE_SPORT
ok "denied $BAD6 refused with RST" probe_is refused "$NS_GW" "$SRV6" 25 "$BAD6" 1000
sport6=$PROBE_SPORT
ok "swaks from the denied address fails" swaks_fails "$NS_GW" "$SRV4" --local-interface "$BAD4"
ok "audit: denied IPv4 address refused" audit_wait refused \
        policy=inbound-smtp mode=enforce action=reject family=ipv4 \
        src="$BAD4" sport="$sport4" dst="$SRV4" dport=25 iface=gw0 count=1
ok "audit: denied IPv6 address refused" audit_wait refused \
        policy=inbound-smtp family=ipv6 src="$BAD6" sport="$sport6" dst="$SRV6" dport=25 iface=gw0
ok "audit: allowed neighbour not recorded" test "$(audit_count '*' src="$GW4")" = 0
ok "direct sender still refused" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
ok "mxlockd stops on SIGTERM with status 0" mxlockd_stop

lab_finish
