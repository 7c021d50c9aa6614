#!/usr/bin/env bash
# tests/e2e/restore.sh: after `nft flush ruleset` with a long allowed list,
# the port must not stay open for as long as the whole list takes to go
# back in. mxlockd first puts back a small table that sends every attempt
# to it (and answers them from the lists it holds), then the lists: the
# direct sender is refused again within the poll interval plus a small
# commit, whatever the list's length, and the gateway still connects while
# the lists are going back in.
. "$(dirname "$0")/../lib.sh"
require_root
require_mxlockd

N=${RESTORE_RANGES:-400000}
ok "lab up" lab_up || lab_finish
ok "a listener on port 25" listener_up "$NS_SRV" 25
mkdir -p "$T/providers"
# N separate IPv6 /64s in 2001:db8::/32 (every other one, so none merge),
# and the gateway's ranges
"$PY" - "$T/providers/big.conf" "$N" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    f.write("description = %d ranges (tests/e2e/restore.sh)\nsource = test fixture\n" % n)
    f.write("198.51.100.0/24\n2001:db8:25::/48\n")
    for i in range(n):
        f.write("2001:db8:%x:%x::/64\n" % (0x1000 + (i >> 15), (i & 0x7fff) * 2))
PY
mkconf "$T/mxlock.conf" <<'CONF'
[policy inbound-smtp]
ports = 25
providers = big
CONF
ip netns exec "$NS_SRV" "$MXLOCKD" -c "$T/mxlock.conf" 2>>"$T/mxlockd.err" >>"$T/mxlockd.out" &
MXLOCKD_PID=$!
MXLOCKD_ERR=$T/mxlockd.err
started() { [ "$(audit_count start)" -gt 0 ]; }
ok "mxlockd is up" wait_until 120 started || lab_finish
ok "the direct sender is refused" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000

# knock.py DST SECONDS: connect every 20 ms; print ms-since-start and result
cat >"$T/knock.py" <<'PY'
import socket, sys, time
dst, secs = sys.argv[1], float(sys.argv[2])
t0 = time.monotonic()
while time.monotonic() - t0 < secs:
    s = socket.socket()
    s.settimeout(0.2)
    try:
        s.connect((dst, 25)); r = "connected"
    except ConnectionRefusedError:
        r = "refused"
    except OSError:
        r = "timeout"
    s.close()
    print("%d %s" % ((time.monotonic() - t0) * 1000, r), flush=True)
    time.sleep(0.02)
PY
restored() { [ "$(audit_count restored result=ok)" -gt 0 ]; }
window() {
        local t0 t1 open_ms
        ip netns exec "$NS_SPAM" "$PY" "$T/knock.py" "$EXT4" 12 >"$T/knock.out" 2>&1 &
        local kp=$!
        sleep 1
        t0=${EPOCHREALTIME/./}
        nft_srv flush ruleset
        # the gateway tries while the lists are going back in
        tcp_probe "$NS_GW" "$SRV4" 25 "" 15 >"$T/gw.out" &
        local gp=$!
        wait_until 60 restored || { echo "no restored record"; return 1; }
        t1=${EPOCHREALTIME/./}
        wait "$gp"
        wait "$kp"
        echo "whole restore finished $(( (t1 - t0) / 1000 )) ms after the flush"
        echo "gateway: $(cat "$T/gw.out")"
        # how long after the flush did the direct sender still connect?
        open_ms=$(awk -v f=1000 '$1 >= f && $2 == "connected" { last = $1 - f } END { print last + 0 }' "$T/knock.out")
        echo "direct sender connected until $open_ms ms after the flush;" \
                "$(grep -c connected "$T/knock.out") connects, $(grep -c refused "$T/knock.out") refusals"
        echo "$open_ms" >"$T/open_ms"
        grep -q '^connected' "$T/gw.out"
}
ok "nft flush ruleset: restored, and the gateway connects meanwhile" window
ok "the direct sender was refused again within 700 ms of the flush" test "$(cat "$T/open_ms")" -lt 700
ok "the lock holds afterwards" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
ok "the gateway connects afterwards" probe_is connected "$NS_GW" "$SRV4" 25
ok "mxlockd stops cleanly" mxlockd_stop
lab_finish
