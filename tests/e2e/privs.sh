#!/usr/bin/env bash
# tests/e2e/privs.sh: started as root with `user =`, mxlockd opens what it
# needs and then runs as that user with CAP_NET_ADMIN only (read from
# /proc/PID/status), and still enforces, reloads and reopens its log.
. "$(dirname "$0")/../lib.sh"
require_root
require_mxlockd

RUNAS=nobody
ok "lab up" lab_up || lab_finish
mkdir -p "$T/log"
mkconf "$T/mxlock.conf" user=$RUNAS audit_log="$T/log/audit.jsonl" <<'CONF'
[policy inbound-smtp]
ports = 25
allow = 198.51.100.0/24 2001:db8:25::/48
CONF
ok "mxlockd starts as root with user = $RUNAS" mxlockd_start "$T/mxlock.conf" || lab_finish

uid=$(id -u $RUNAS)
status_is() {
        local st=/proc/$MXLOCKD_PID/status
        grep -E "^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapAmb|NoNewPrivs):" "$st"
        grep -qE "^Uid:\s+$uid\s+$uid\s+$uid\s+$uid$" "$st" &&
                grep -qE "^CapEff:\s+0000000000001000$" "$st" &&
                grep -qE "^CapPrm:\s+0000000000001000$" "$st" &&
                grep -qE "^CapInh:\s+0000000000000000$" "$st" &&
                grep -qE "^CapAmb:\s+0000000000000000$" "$st" &&
                grep -qE "^Groups:\s*$" "$st" &&
                grep -qE "^NoNewPrivs:\s+1$" "$st"
}
ok "/proc/PID/status: uid $RUNAS, CAP_NET_ADMIN only, no groups, no new privileges" status_is
ok "it says so" grep -q "Running as $RUNAS with CAP_NET_ADMIN only" "$MXLOCKD_ERR"
ok "enforces: the direct sender is refused with a reset" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
ok "the attempt is in the audit log" audit_wait refused src="$SPAM4"
log_mode() { [ "$(stat -c '%a %U' "$T/log/audit.jsonl")" = "640 $RUNAS" ]; }
ok "the audit log is 0640 and belongs to $RUNAS" log_mode

sed -i 's|^allow = .*|& 192.0.2.66/32|' "$T/mxlock.conf"
ok "SIGHUP reload works without root" mxlockd_reload
ok "the reload is in force: the direct sender connects now" \
        sh -c "ip netns exec '$NS_SRV' nft list set inet $TABLE allow4_inbound-smtp | grep -q 192.0.2.66"
mv "$T/log/audit.jsonl" "$T/log/audit.jsonl.1"
ok "SIGUSR1 reopens the log without root" kill -USR1 "$MXLOCKD_PID"
ok "status over the control socket" ip netns exec "$NS_SRV" "$MXT_ROOT/build/mxlock" -c "$T/mxlock.conf" status
ok "a refused IPv6 attempt after the rotation" probe_is refused "$NS_SPAM" "$EXT6" 25 "" 1000
reopened() { [ -s "$T/log/audit.jsonl" ]; }
ok "the new log file is written" wait_until 5 reopened
ok "and is 0640, $RUNAS's" log_mode
ok "mxlockd stops cleanly" mxlockd_stop

# A user that does not exist is a configuration error, found before anything
# is touched.
mkconf "$T/bad.conf" user=no-such-user-mxlock <<'CONF'
[policy inbound-smtp]
ports = 25
allow = 198.51.100.0/24
CONF
bad_user() {
        local out
        out=$(ip netns exec "$NS_SRV" "$MXLOCKD" -c "$T/bad.conf" 2>&1)
        local rc=$?
        echo "$out"
        [ $rc -eq 2 ] && grep -q "user 'no-such-user-mxlock' does not exist" <<<"$out"
}
ok "an unknown user stops the start with exit 2" bad_user
lab_finish
