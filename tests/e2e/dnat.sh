#!/usr/bin/env bash
# tests/e2e/dnat.sh: an MTA in its own namespace behind SRV, published with a
# DNAT rule in someone else's table (what Docker's `-p 25:25` does). Its
# SYNs go through forward, not input: the direct sender must still be
# refused with a record, the gateway's mail delivered, established sessions
# left alone, and `mxlock doctor` must name the DNAT rule and say it is
# covered.
. "$(dirname "$0")/../lib.sh"
require_root
require_mxlockd
MXLOCK=${MXLOCK:-$MXT_ROOT/build/mxlock}
NS_CT=$LAB-ct
CT4=203.0.113.25 CT6=2001:db8:c0::25

ok "lab up" lab_up || lab_finish
MXT_NS_EXTRA+=("$NS_CT")
container_up() {
        ip netns add "$NS_CT" || return 1
        ip -n "$NS_CT" link set lo up
        veth_pair "$NS_SRV" ct0 "$NS_CT" eth0 || return 1
        ip -n "$NS_SRV" addr add 203.0.113.1/24 dev ct0
        ip -n "$NS_SRV" addr add 2001:db8:c0::1/64 dev ct0 nodad
        ip -n "$NS_CT" addr add "$CT4/24" dev eth0
        ip -n "$NS_CT" addr add "$CT6/64" dev eth0 nodad
        ip -n "$NS_SRV" link set ct0 up
        ip -n "$NS_CT" link set eth0 up
        ip -n "$NS_CT" route add default via 203.0.113.1
        ip -n "$NS_CT" -6 route add default via 2001:db8:c0::1
        in_ns "$NS_SRV" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
        # Docker's shape: DNAT of the host's own addresses, port 25
        in_ns "$NS_SRV" nft -f - <<NFT
table ip dockerish {
        chain prerouting { type nat hook prerouting priority dstnat; policy accept;
                fib daddr type local tcp dport 25 dnat to $CT4:25
        }
}
table ip6 dockerish6 {
        chain prerouting { type nat hook prerouting priority dstnat; policy accept;
                fib daddr type local tcp dport 25 dnat to [$CT6]:25
        }
}
NFT
}
ok "a container namespace behind SRV with DNAT rules to it" container_up || lab_finish

# The MTA: aiosmtpd writing a Maildir, on both families.
mkdir -p "$T/box/tmp" "$T/box/new" "$T/box/cur"
ip netns exec "$NS_CT" "$PY" -m aiosmtpd -n -l "$CT4:25" -c aiosmtpd.handlers.Mailbox "$T/box" \
        >"$T/smtpd4.out" 2>&1 &
track $!
ip netns exec "$NS_CT" "$PY" -m aiosmtpd -n -l "$CT6:25" -c aiosmtpd.handlers.Mailbox "$T/box" \
        >"$T/smtpd6.out" 2>&1 &
track $!
ok "the MTA listens in its namespace" wait_until 10 listening "$NS_CT" 25
box_count() { find "$T/box/new" -type f 2>/dev/null | wc -l; }
box_at_least() { [ "$(box_count)" -ge "$1" ]; }
deliver_ct() {
        local before
        before=$(box_count)
        swaks_from "$@" || return 1
        wait_until 10 box_at_least $((before + 1))
}
swaks_fails_ct() {
        local before
        before=$(box_count)
        ! swaks_from "$@" 2>/dev/null && sleep 0.2 && [ "$(box_count)" -eq "$before" ]
}

ok "before mxlockd: the direct sender reaches the MTA through DNAT" \
        probe_is connected "$NS_SPAM" "$EXT4" 25 "" 1000
ok "before mxlockd: and delivers" deliver_ct "$NS_SPAM" "$EXT4"

mkconf "$T/mxlock.conf" <<'CONF'
[policy inbound-smtp]
ports = 25
allow = 198.51.100.0/24 2001:db8:25::/48
CONF
# a session the gateway opened before mxlockd starts
ip netns exec "$NS_GW" "$PY" "$T/hold.py" "$SRV4" "$T/go" "$T/held" >/dev/null 2>&1 &
track $!
ok "the gateway holds a session open" wait_until 10 test -e "$T/held.open"
ok "mxlockd starts" mxlockd_start "$T/mxlock.conf" || lab_finish

ok "direct sender refused through DNAT over IPv4" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
sport4=$PROBE_SPORT
ok "direct sender refused through DNAT over IPv6" probe_is refused "$NS_SPAM" "$EXT6" 25 "" 1000
ok "swaks from the direct sender fails" swaks_fails_ct "$NS_SPAM" "$EXT4"
ok "audit: a refused record for the DNAT'd attempt" audit_wait refused \
        policy=inbound-smtp family=ipv4 src="$SPAM4" sport="$sport4" iface=ext0
ok "audit: IPv6 too" audit_wait refused policy=inbound-smtp family=ipv6 src="$SPAM6"
ok "gateway mail delivered through DNAT over IPv4" deliver_ct "$NS_GW" "$SRV4"
ok "gateway mail delivered through DNAT over IPv6" deliver_ct "$NS_GW" "$SRV6"
ok "the gateway is never recorded" test "$(audit_count '*' src="$GW4")$(audit_count '*' src="$GW6")" = 00
ok "reload" mxlockd_reload
touch "$T/go"
ok "the gateway's earlier session is alive after start and reload" \
        sh -c "for i in \$(seq 50); do [ -s '$T/held' ] && break; sleep 0.1; done; grep -qx alive '$T/held'"

doctor_out() {
        timeout 60 ip netns exec "$NS_SRV" "$MXLOCK" -c "$T/mxlock.conf" doctor --nameserver 127.0.0.1 --timeout 1 example.test >"$T/doctor.out" 2>&1
        cat "$T/doctor.out"
}
ok "doctor names the DNAT rule to port 25 and says it is covered" \
        sh -c "$(declare -f doctor_out); T='$T' NS_SRV='$NS_SRV' MXLOCK='$MXLOCK' doctor_out | grep -E 'PASS +dnat .*dockerish.*covered'"
ok "mxlockd stops cleanly" mxlockd_stop
ok "doctor says a DNAT rule to a locked port is not covered when the table is gone" \
        sh -c "ip netns exec '$NS_SRV' nft delete table inet '$TABLE'; $(declare -f doctor_out); T='$T' NS_SRV='$NS_SRV' MXLOCK='$MXLOCK' doctor_out | grep -E 'FAIL +dnat .*not covered'"
lab_finish
