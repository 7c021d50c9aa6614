#!/usr/bin/env bash
# tests/e2e/dns_stall.sh: a DNS server that stops answering does not hold up
# mxlockd. Three host names in allow = (TTL 2 s: re-resolved every 10 s)
# come from dnsmasq in the SRV namespace; dnsmasq is then SIGSTOPped for
# 30 s while a new source connects to port 25 every 50 ms (600 distinct
# IPv6 addresses, so that every SYN goes through the queue): each must be
# refused as fast as with DNS up (p99 < 5 ms, none over 50 ms; the same
# figures are measured first with DNS up, 100 sources), and the
# watchdog (WatchdogSec=3 s, pinged through a $NOTIFY_SOCKET this test owns)
# must keep being fed. Then SIGCONT, and the daemon is still healthy.
# e2e-timeout: 180
. "$(dirname "$0")/../lib.sh"
. "$MXT_ROOT/tests/edgelib.sh"
require_root
require_mxlockd
command -v dnsmasq >/dev/null || { echo "skip - dns_stall (dnsmasq missing: run tests/deps.sh)"; exit 0; }
MXLOCK=${MXLOCK:-$MXT_ROOT/build/mxlock}

ok "lab up" lab_up || lab_finish
edge_helpers
cpus_awake
mkdir -p "/etc/netns/$NS_SRV"
echo "nameserver 127.0.0.1" >"/etc/netns/$NS_SRV/resolv.conf"
trap 'rm -rf "/etc/netns/$NS_SRV"; lab_cleanup' EXIT

GW4B=198.51.100.11 GW4C=198.51.100.12 GW4D=198.51.100.13
dns_up() {
        ip netns exec "$NS_SRV" dnsmasq --keep-in-foreground --no-resolv --no-hosts --port=53 \
                --listen-address=127.0.0.1 --bind-interfaces --user=nobody --local-ttl=2 \
                --local=/lab.test/ --host-record=relay1.lab.test,"$GW4" \
                --host-record=relay2.lab.test,"$GW4B" --host-record=relay3.lab.test,"$GW4C" \
                --host-record=relay4.lab.test,"$GW4D" \
                --pid-file="$T/dnsmasq.pid" >"$T/dnsmasq.log" 2>&1 &
        DNS_PID=$!
        track $DNS_PID
        wait_until 5 sh -c "ip netns exec '$NS_SRV' ss -Hlun 'sport = :53' | grep -q ."
}
ok "dnsmasq serves relay1..3.lab.test" dns_up || lab_finish
ok "a listener on port 25" listener_up "$NS_SRV" 25
ok "700 source addresses on the direct sender" sources_add "$NS_SPAM" mx0 700 2001:db8:66::2:
head -n 100 "$T/sources" >"$T/sources.base"
tail -n 600 "$T/sources" >"$T/sources.stall"
ok "a notify socket with a 3 s watchdog" notify_up
mkconf "$T/mxlock.conf" <<'CONF'
[policy inbound-smtp]
ports = 25
allow = relay1.lab.test relay2.lab.test relay3.lab.test
CONF
ok "mxlockd starts, resolving three names" mxlockd_start "$T/mxlock.conf" || lab_finish
ok "$GW4 (relay1) connects" probe_is connected "$NS_GW" "$SRV4" 25 "$GW4"
ok "the direct sender is refused" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
ok "the watchdog is fed" wait_until 5 watchdog_pings 2

# the same measure with DNS up, for comparison (this machine's baseline)
ip netns exec "$NS_SPAM" "${RT[@]}" "$PY" "$T/connlat.py" "$EXT6" 25 "$T/sources.base" 50 "$T/base.lat"
ok "DNS up (baseline): 100 new sources refused, p99 < 5 ms, none over 50 ms" \
        "$PY" "$T/latency.py" "$T/base.lat" refused 5 50

T0=$(mono)
kill -STOP "$DNS_PID"
ip netns exec "$NS_SPAM" "${RT[@]}" "$PY" "$T/connlat.py" "$EXT6" 25 "$T/sources.stall" 50 "$T/stall.lat"
T1=$(mono)
kill -CONT "$DNS_PID"

ok "DNS stopped 30 s: 600 new sources refused, p99 < 5 ms, none over 50 ms" \
        "$PY" "$T/latency.py" "$T/stall.lat" refused 5 50
ok "DNS stopped: the watchdog kept being fed (no gap of 2.5 s)" "$PY" "$T/wdgaps.py" "$T/notify.log" "$T0" "$T1" 2.5
ok "mxlockd alive" mxlockd_alive
status_fast() {
        local t0 t1
        t0=${EPOCHREALTIME/./}
        timeout 10 ip netns exec "$NS_SRV" "$MXLOCK" -c "$T/mxlock.conf" status >"$T/status.out" 2>&1 || return 1
        t1=${EPOCHREALTIME/./}
        echo "status answered in $(( (t1 - t0) / 1000 )) ms"
        [ $(( t1 - t0 )) -lt 2000000 ]
}
ok "DNS back: mxlock status answers within 2 s" status_fast
ok "DNS back: relay1 still connects" probe_is connected "$NS_GW" "$SRV4" 25 "$GW4"
ok "DNS back: the direct sender is refused" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
ok "DNS back: the watchdog is fed" wait_until 5 watchdog_pings "$(( $(grep -c 'WATCHDOG=1' "$T/notify.log") + 2 ))"

# A reload that names a new host: not looked up on the loop; the first
# attempt says so, and the reload is applied when the answer comes.
ip -n "$NS_GW" addr add "$GW4D/24" dev mx0
ok "before: $GW4D (relay4) is refused" probe_is refused "$NS_GW" "$SRV4" 25 "$GW4D" 1000
sed -i 's|^allow = .*|& relay4.lab.test|' "$T/mxlock.conf"
ok "SIGHUP with relay4.lab.test new: a reload record" mxlockd_reload
pending_said() {
        grep '"event":"reload"' "$AUDIT" | grep '"result":"error"' |
                grep -F "cannot resolve host name 'relay4.lab.test': not resolved yet (resolving in the background"
}
ok "the first reload says the name is being resolved in the background" pending_said
ok "then the reload is applied by itself" audit_wait reload result=ok
ok "$GW4D (relay4) connects" probe_is connected "$NS_GW" "$SRV4" 25 "$GW4D"
ok "mxlockd stops cleanly" mxlockd_stop
lab_finish
