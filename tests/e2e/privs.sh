#!/usr/bin/env bash
# tests/e2e/privs.sh: started as root with `user =`, mxlockd opens what it
# needs and then runs as that user with CAP_NET_ADMIN only (read from
# /proc/PID/status), and still enforces, reloads and reopens its log.
. "$(dirname "$0")/../lib.sh"
require_root
require_mxlockd

RUNAS=nobody
ok "lab up" lab_up || lab_finish
# $T/log does not exist: mxlockd creates it, and gives what it created to $RUNAS
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
dir_mode() { [ "$(stat -c '%a %U' "$T/log")" = "750 $RUNAS" ]; }
ok "the log directory it created is 0750 and $RUNAS's" dir_mode

# ---- no way up from the daemon's user ----------------------------------------
as_user() {
        setpriv --reuid=$RUNAS --regid="$(id -g $RUNAS)" --clear-groups "$@"
}
for f in rootfile rootfile2; do
        echo "root's secret" >"$T/$f"
        chmod 600 "$T/$f"
done
root_file_intact() {
        stat -c '%n %U %G %a %s' "$T/$1"
        [ "$(stat -c '%U %G %a' "$T/$1")" = "root root 600" ] &&
                [ "$(cat "$T/$1")" = "root's secret" ]
}

# A symlink planted by the daemon's user where the audit log goes, pointing
# to a file of root's: the start is refused with a clear error and the file
# stays root's, unchanged.
mkdir -m 0750 "$T/ulog"
chown $RUNAS "$T/ulog"
as_user ln -s "$T/rootfile" "$T/ulog/audit.jsonl"
mkconf "$T/sym.conf" user=$RUNAS audit_log="$T/ulog/audit.jsonl" <<'CONF'
[policy inbound-smtp]
ports = 25
allow = 198.51.100.0/24
CONF
symlink_refused() {
        local out rc
        out=$(timeout 5 ip netns exec "$NS_SRV" "$MXLOCKD" -c "$T/sym.conf" 2>&1)
        rc=$?
        echo "$out" | tail -n 3
        echo "exit $rc"
        [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "symbolic link" <<<"$out"
}
ok "a symlink at the audit path: mxlockd refuses to start, naming it" symlink_refused
ok "the root-owned file it pointed to stays root's and unchanged" root_file_intact rootfile
ip netns exec "$NS_SRV" nft delete table inet "$TABLE" 2>/dev/null

# audit_log in a directory that exists and is root's (as /var/log): the
# directory is not handed to the daemon's user; the log file is.
mkdir -m 0755 "$T/varlog"
mkconf "$T/varlog.conf" user=$RUNAS audit_log="$T/varlog/x.jsonl" <<'CONF'
[policy inbound-smtp]
ports = 25
allow = 198.51.100.0/24
CONF
ok "mxlockd starts with audit_log in an existing root directory" mxlockd_start "$T/varlog.conf"
ok "mxlockd stops cleanly" mxlockd_stop
varlog_root() {
        stat -c '%n %U %a' "$T/varlog" "$T/varlog/x.jsonl"
        [ "$(stat -c '%U %a' "$T/varlog")" = "root 755" ] &&
                [ "$(stat -c '%U %a' "$T/varlog/x.jsonl")" = "$RUNAS 640" ]
}
ok "the existing directory stays root's; the log file is $RUNAS's" varlog_root

# The metrics file's temporary name: mxlockd as root (no user =) writing to a
# directory another user can write (a textfile collector's): a symlink that
# user plants at the old predictable name (FILE.tmp.PID) is not followed.
mkdir -m 0755 "$T/metrics"
chown $RUNAS "$T/metrics"
mkconf "$T/metrics.conf" metrics_file="$T/metrics/mxlock.prom" metrics_interval=1 <<'CONF'
[policy inbound-smtp]
ports = 25
allow = 198.51.100.0/24
CONF
ok "mxlockd starts as root with metrics_file" mxlockd_start "$T/metrics.conf"
MPID=$MXLOCKD_PID
as_user ln -s "$T/rootfile2" "$T/metrics/mxlock.prom.tmp.$MPID"
written_again() {
        [ "$(stat -c %Y "$T/metrics/mxlock.prom" 2>/dev/null || echo 0)" -gt "$1" ]
}
t0=$(stat -c %Y "$T/metrics/mxlock.prom" 2>/dev/null || echo 0)
ok "metrics file rewritten" wait_until 5 written_again "$t0"
ok "mxlockd stops cleanly" mxlockd_stop
ok "the file the planted symlink pointed to stays root's and unchanged" root_file_intact rootfile2
metrics_clean() {
        ls -la "$T/metrics"
        [ "$(stat -c '%F %a' "$T/metrics/mxlock.prom")" = "regular file 644" ] &&
                [ "$(find "$T/metrics" -name 'mxlock.prom.*' ! -name "mxlock.prom.tmp.$MPID" | wc -l)" -eq 0 ]
}
ok "mxlock.prom is a regular 0644 file, no temporary left" metrics_clean

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
