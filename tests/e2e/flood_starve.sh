#!/usr/bin/env bash
# tests/e2e/flood_starve.sh: a flood above what mxlockd can read (trafgen,
# 10 s of SYNs from random IPv6 sources, each new, so every one goes to the
# queue) starves neither signals nor the watchdog: a SIGHUP sent 3 s into
# the flood, after the configuration changed, reloads within 1 s (its
# reload record, ok, and the new range in the kernel), and the watchdog
# (WatchdogSec=3 s, through a $NOTIFY_SOCKET this test owns) is fed without
# a gap of 2.5 s throughout.
#
# Above capacity whatever the machine: trafgen and mxlockd share CPU 0, and
# mxlockd runs at nice 10 (about a tenth of the CPU while trafgen sends), so
# the queue is full for the whole flood; the test's own helpers run on CPU 1.
# e2e-timeout: 120
. "$(dirname "$0")/../lib.sh"
. "$MXT_ROOT/tests/edgelib.sh"
require_root
require_mxlockd
command -v trafgen >/dev/null || { echo "skip - flood_starve (trafgen missing: run tests/deps.sh)"; exit 0; }

ok "lab up" lab_up || lab_finish
edge_helpers
NOTIFY_CPU=1
ok "a notify socket with a 3 s watchdog" notify_up
mkconf "$T/mxlock.conf" <<'CONF'
[policy inbound-smtp]
ports = 25
allow = 198.51.100.0/24 2001:db8:25::/48
CONF
ok "mxlockd starts" mxlockd_start "$T/mxlock.conf" || lab_finish
ok "mxlockd on CPU 0 at nice 10" sh -c "taskset -pc 0 $MXLOCKD_PID && renice -n 10 -p $MXLOCKD_PID"
ok "the watchdog is fed" wait_until 5 watchdog_pings 2

SRV_MAC=$(ip netns exec "$NS_SRV" cat /sys/class/net/ext0/address | sed 's/^/0x/; s/:/, 0x/g')
SPAM_MAC=$(ip netns exec "$NS_SPAM" cat /sys/class/net/mx0/address | sed 's/^/0x/; s/:/, 0x/g')
# 2001:db8: and 12 random bytes to 2001:db8:66::1 (no route back: the
# resets go nowhere)
cat >"$T/flood.cfg" <<CFG
{ $SRV_MAC, $SPAM_MAC, const16(0x86dd), 0x60, 0, 0, 0, const16(20), 6, 64,
  0x20, 0x01, 0x0d, 0xb8, drnd(12),
  0x20, 0x01, 0x0d, 0xb8, 0, 0x66, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
  drnd(2), const16(25), drnd(4), const32(0), 0x50, 0x02, const16(64240), csumtcp6(14, 54), const16(0) }
CFG
# the change the reload must bring in
sed -i 's|^allow = .*|& 203.0.113.0/24|' "$T/mxlock.conf"

T0=$(mono)
timeout -s INT 10 taskset -c 0 ip netns exec "$NS_SPAM" trafgen --no-sock-mem --notouch-irq --cpus 1 -o mx0 \
        -i "$T/flood.cfg" >"$T/trafgen.out" 2>&1 &
TG=$!
track $TG
sleep 3
HUP_AT=$EPOCHREALTIME
kill -HUP "$MXLOCKD_PID"
QUEUE_AT_HUP=$(ip netns exec "$NS_SRV" awk '$1 == '"$QUEUE"' { print "waiting " $3 ", dropped " $6 }' \
        /proc/net/netfilter/nfnetlink_queue)
wait "$TG"
T1=$(mono)

flooded() {
        grep "packets outgoing" "$T/trafgen.out" || { tail -n 3 "$T/trafgen.out"; return 1; }
        echo "queue at the SIGHUP: $QUEUE_AT_HUP"
        ip netns exec "$NS_SRV" awk '$1 == '"$QUEUE"' { print "queue now: dropped " $6; exit !($6 > 0) }' \
                /proc/net/netfilter/nfnetlink_queue
}
ok "10 s of SYNs, more than mxlockd could read (the kernel queue dropped some)" flooded
reload_in_time() {
        audit_wait reload >/dev/null   # late, on the old code: to say how late
        "$PY" - "$AUDIT" "$HUP_AT" <<'EOF'
import datetime, json, sys
hup = float(sys.argv[2])
recs = [json.loads(l) for l in open(sys.argv[1]) if l.endswith("\n")]
rel = [r for r in recs if r["event"] == "reload"]
if not rel:
    print("no reload record")
    sys.exit(1)
r = rel[0]
t = datetime.datetime.fromisoformat(r["ts"].replace("Z", "+00:00")).timestamp()
print("reload record %s, %.3f s after the SIGHUP (want < 1 s)" % (r.get("result"), t - hup))
sys.exit(0 if r.get("result") == "ok" and t - hup < 1.0 else 1)
EOF
}
ok "SIGHUP during the flood: reloaded within 1 s" reload_in_time
ok "during the flood: the watchdog kept being fed (no gap of 2.5 s)" \
        "$PY" "$T/wdgaps.py" "$T/notify.log" "$T0" "$T1" 2.5
ok "mxlockd alive" mxlockd_alive
new_range() {
        nft_srv list table inet "$TABLE" | grep -q '203.0.113.0/24'
}
ok "the reload's new range is in the kernel" new_range
ok "the direct sender is refused" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
ok "mxlockd stops cleanly" mxlockd_stop
lab_finish
