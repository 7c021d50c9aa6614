#!/usr/bin/env bash
# tests/e2e/resolve.sh: host names in allow = are re-resolved before their
# TTL runs out, and a failed lookup keeps the last known addresses.
#
# A real DNS server (dnsmasq) runs in the mail server's namespace with a TTL
# of 2 s; mxlockd there resolves through it (ip netns exec mounts
# /etc/netns/NS/resolv.conf over /etc/resolv.conf for that namespace only).
# e2e-timeout: 120
. "$(dirname "$0")/../lib.sh"
require_root
require_mxlockd
command -v dnsmasq >/dev/null || { echo "skip - resolve (dnsmasq missing: run tests/deps.sh)"; exit 0; }

ok "lab up" lab_up || lab_finish
GW4B=198.51.100.20
ip -n "$NS_GW" addr add "$GW4B/24" dev mx0
mkdir -p "/etc/netns/$NS_SRV"
echo "nameserver 127.0.0.1" >"/etc/netns/$NS_SRV/resolv.conf"
cleanup_netns_etc() { rm -rf "/etc/netns/$NS_SRV"; }
trap 'cleanup_netns_etc; lab_cleanup' EXIT

DNS_PID=
dns_up() {
        local addr=$1
        ip netns exec "$NS_SRV" dnsmasq --keep-in-foreground --no-resolv --no-hosts --port=53 \
                --listen-address=127.0.0.1 --bind-interfaces --user=nobody --local-ttl=2 \
                --local=/example.test/ --host-record=relay.example.test,"$addr" \
                --pid-file="$T/dnsmasq.pid" >"$T/dnsmasq.log" 2>&1 &
        DNS_PID=$!
        track $DNS_PID
        wait_until 5 sh -c "ip netns exec '$NS_SRV' ss -Hlun 'sport = :53' | grep -q ."
}
dns_down() {
        stop_pid "$DNS_PID"
        DNS_PID=
}

ok "dnsmasq: relay.example.test is $GW4" dns_up "$GW4"
ok "a listener on port 25" listener_up "$NS_SRV" 25
mkconf "$T/mxlock.conf" <<'CONF'
[policy inbound-smtp]
ports = 25
allow = relay.example.test
CONF
ok "mxlockd starts, resolving relay.example.test" mxlockd_start "$T/mxlock.conf" || lab_finish
ok "$GW4 (the relay's address) connects" probe_is connected "$NS_GW" "$SRV4" 25 "$GW4"
ok "$GW4B is refused" probe_is refused "$NS_GW" "$SRV4" 25 "$GW4B" 1000

dns_down
ok "dnsmasq: relay.example.test moves to $GW4B" dns_up "$GW4B"
moved() {
        probe_is connected "$NS_GW" "$SRV4" 25 "$GW4B" >/dev/null &&
                probe_is refused "$NS_GW" "$SRV4" 25 "$GW4" 1000 >/dev/null
}
ok "within 20 s the new address is allowed and the old one refused" wait_until 20 moved

dns_down
kept_last() { grep -q "Cannot resolve relay.example.test .*keeping its last known 1 address" "$MXLOCKD_ERR"; }
ok "with DNS gone, mxlockd says it keeps the last known addresses" wait_until 25 kept_last
ok "and the relay still connects" probe_is connected "$NS_GW" "$SRV4" 25 "$GW4B"
ok "the direct sender is still refused" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
ok "mxlockd alive" mxlockd_alive
ok "mxlockd stops cleanly" mxlockd_stop
lab_finish
