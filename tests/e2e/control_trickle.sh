#!/usr/bin/env bash
# tests/e2e/control_trickle.sh: a control client that trickles its request
# (one byte every 0.9 s, for about 10 s, never a newline) holds up nothing:
# new sources connecting every 50 ms (240 distinct IPv6 addresses) are
# refused without delay (none over 50 ms), a normal `mxlock status` during
# the trickle answers promptly, and the trickling client is cut off at its
# total deadline (the daemon closes it within 3 s of its connect).
# e2e-timeout: 120
. "$(dirname "$0")/../lib.sh"
. "$MXT_ROOT/tests/edgelib.sh"
require_root
require_mxlockd
MXLOCK=${MXLOCK:-$MXT_ROOT/build/mxlock}

ok "lab up" lab_up || lab_finish
edge_helpers
cpus_awake
cat >"$T/trickle.py" <<'EOF'
# trickle.py SOCKET BYTES INTERVAL OUT: connect to the control socket, send
# BYTES bytes of "status" (no newline), one every INTERVAL seconds, and write
# into OUT when the daemon closed the connection ("closed SECONDS", counted
# from the connect) or "open" when it never did.
import socket, sys, time
path, nbytes, interval, out = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
t0 = time.monotonic()
s.settimeout(interval)
res = "open"
for i in range(nbytes):
    try:
        s.send(b"status"[i % 6:i % 6 + 1])
        if s.recv(4096) == b"":
            res = "closed %.2f" % (time.monotonic() - t0)
            break
    except socket.timeout:
        continue
    except OSError:
        res = "closed %.2f" % (time.monotonic() - t0)
        break
open(out, "w").write(res + "\n")
EOF
ok "240 source addresses on the direct sender" sources_add "$NS_SPAM" mx0 240 2001:db8:66::3:
mkconf "$T/mxlock.conf" <<'CONF'
[policy inbound-smtp]
ports = 25
allow = 198.51.100.0/24 2001:db8:25::/48
CONF
ok "mxlockd starts" mxlockd_start "$T/mxlock.conf" || lab_finish

ip netns exec "$NS_SRV" "$PY" "$T/trickle.py" "$T/mxlock.sock" 11 0.9 "$T/trickle.out" &
TRICKLE=$!
track $TRICKLE
ip netns exec "$NS_SPAM" "${RT[@]}" "$PY" "$T/connlat.py" "$EXT6" 25 "$T/sources" 50 "$T/trickle.lat" &
CONNLAT=$!
track $CONNLAT
sleep 1.5
t0=${EPOCHREALTIME/./}
timeout 20 ip netns exec "$NS_SRV" "$MXLOCK" -c "$T/mxlock.conf" status >"$T/status.out" 2>&1
STATUS_RC=$?
STATUS_MS=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
wait "$CONNLAT"
wait "$TRICKLE"

ok "during the trickle: 240 new sources refused, none over 50 ms" \
        "$PY" "$T/latency.py" "$T/trickle.lat" refused 50 50
status_prompt() {
        echo "mxlock status exited $STATUS_RC in $STATUS_MS ms (want 0 in < 1000 ms)"
        [ "$STATUS_RC" = 0 ] && [ "$STATUS_MS" -lt 1000 ]
}
ok "during the trickle: mxlock status answers within 1 s" status_prompt
cut_off() {
        local r
        r=$(cat "$T/trickle.out")
        echo "trickling client: $r (want closed within 3 s)"
        case $r in closed*) ;; *) return 1 ;; esac
        awk -v s="${r#closed }" 'BEGIN { exit !(s < 3) }'
}
ok "the trickling client is cut off at its deadline" cut_off
ok "mxlockd alive" mxlockd_alive
ok "the direct sender is refused" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
ok "mxlockd stops cleanly" mxlockd_stop
lab_finish
