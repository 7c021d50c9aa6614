#!/usr/bin/env bash
# tests/e2e/diskfull.sh: the audit log's file system fills up. mxlockd says
# so once on stderr, counts the records it could not write, keeps enforcing,
# and writes again once there is room.
. "$(dirname "$0")/../lib.sh"
require_root
require_mxlockd
MXLOCK=${MXLOCK:-$MXT_ROOT/build/mxlock}

ok "lab up" lab_up || lab_finish
SMALL=$T/small
mkdir -p "$SMALL"
ok "a 64 KiB file system for the audit log" mount -t tmpfs -o size=64k,mode=0755 mxlock-test "$SMALL"
trap 'umount "$SMALL" 2>/dev/null; lab_cleanup' EXIT
mkconf "$T/mxlock.conf" audit_log="$SMALL/audit.jsonl" <<'CONF'
[policy inbound-smtp]
ports = 25
allow = 198.51.100.0/24 2001:db8:25::/48
CONF
ok "mxlockd starts" mxlockd_start "$T/mxlock.conf" || lab_finish

fill() { dd if=/dev/zero of="$SMALL/filler" bs=4k count=64 2>/dev/null; df -k "$SMALL" | tail -1; true; }
ok "fill the file system" fill
# 300 attempts from as many sources: one record each, far more than fits
flood_sources() {
        timeout 20 ip netns exec "$NS_SPAM" hping3 -q -S -p 25 -i u2000 -c 300 --rand-source "$EXT4" 2>&1 |
                grep "300 packets transmitted"
}
ok "300 direct attempts from random sources" flood_sources
ok "the direct sender is still refused with a reset" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
reported_once() {
        local n
        n=$(grep -c "Cannot write the audit log" "$MXLOCKD_ERR")
        echo "reported $n times"
        [ "$n" = 1 ]
}
ok "the failure is reported on stderr, once" wait_until 5 reported_once
lost() {
        ip netns exec "$NS_SRV" "$MXLOCK" -c "$T/mxlock.conf" status --json |
                "$PY" -c 'import json,sys; s=json.load(sys.stdin); print("audit_lost", s["audit_lost"]); sys.exit(0 if s["audit_lost"] > 0 else 1)'
}
ok "status counts the lost records" lost
ok "mxlockd alive" mxlockd_alive

rm -f "$SMALL/filler"
ok "room again: another refused attempt" probe_is refused "$NS_SPAM" "$EXT6" 25 "" 1000
writable() { grep -q "writable again" "$MXLOCKD_ERR"; }
ok "mxlockd says the log is writable again" wait_until 5 writable
ok "and the new attempt is in the log" audit_wait refused src="$SPAM6"
ok "every line in the log is whole JSON" audit_valid
ok "mxlockd stops cleanly" mxlockd_stop
lab_finish
