#!/usr/bin/env bash
# tests/e2e/unit_files.sh: the systemd files as `make install` installs them.
#
# - `systemd-analyze verify` prints nothing on stderr (it exits 0 even for
#   unknown keys, so its exit code alone proves little);
# - `systemd-analyze security --offline=true` rates the unit 2.0 or lower,
#   read from its "Overall exposure level" line and cross-checked with
#   --threshold=20 (the threshold is in tenths);
# - the sysusers, tmpfiles and logrotate snippets parse;
# - a deliberately weakened copy of the unit scores above 2.0 and a unit with
#   an unknown key makes verify print on stderr (the checks can fail).
#
# Needs root only for the private mount namespace in which the freshly built
# binaries appear at /usr/sbin/mxlockd and /usr/bin/mxlock (verify checks
# that ExecStart= and friends are executable); the host is not changed.
. "$(dirname "$0")/../lib.sh"
require_root

for t in systemd-analyze systemd-sysusers systemd-tmpfiles unshare; do
        if ! command -v "$t" >/dev/null 2>&1; then
                echo "skip - $MXT_NAME (missing tool $t)"
                exit 0
        fi
done

lab_init
DEST=$T/dest
MAX_EXPOSURE=2.0

if ! (cd "$MXT_ROOT" && make -s install PREFIX=/usr DESTDIR="$DEST" BUILD="$T/build") \
        >"$T/install.log" 2>&1; then
        fail "make install PREFIX=/usr DESTDIR=..." "$(tail -n 30 "$T/install.log")"
        lab_finish
fi
pass "make install PREFIX=/usr DESTDIR=..."
UNIT=$DEST/lib/systemd/system/mxlockd.service

installed() {
        local f
        for f in usr/sbin/mxlockd usr/bin/mxlock lib/systemd/system/mxlockd.service \
                lib/systemd/system/postfix@.service.d/mxlock.conf usr/lib/sysusers.d/mxlock.conf \
                usr/lib/tmpfiles.d/mxlock.conf etc/logrotate.d/mxlock etc/mxlock/mxlock.conf \
                usr/share/mxlock/providers/gfi-oneconnect.conf; do
                [ -e "$DEST/$f" ] || { echo "missing $f"; return 1; }
        done
}
ok "make install puts every file in place" installed

# in_root CMD...: CMD in a private mount namespace where the installed
# binaries are overlaid onto /usr/sbin and /usr/bin.
in_root() {
        unshare -m sh -c '
                mount --make-rprivate / &&
                mount -t overlay overlay -o "lowerdir=$1/usr/sbin:/usr/sbin" /usr/sbin &&
                mount -t overlay overlay -o "lowerdir=$1/usr/bin:/usr/bin" /usr/bin &&
                shift && exec "$@"' in_root "$DEST" "$@"
}

# verify_quiet FILE...: exit 0 and nothing on stderr.
verify_quiet() {
        local rc
        in_root systemd-analyze verify --no-pager "$@" 2>"$T/verify.err" >"$T/verify.out"
        rc=$?
        cat "$T/verify.out" "$T/verify.err"
        [ $rc -eq 0 ] && [ ! -s "$T/verify.err" ]
}

ok "systemd-analyze verify mxlockd.service: clean" verify_quiet "$UNIT"

# The postfix@ drop-in, applied to an instance of a stand-in template.
mkdir -p "$T/dropin/postfix@.service.d"
cat >"$T/dropin/postfix@.service" <<'EOF'
[Unit]
Description=stand-in for Debian's postfix@.service
[Service]
Type=oneshot
ExecStart=/bin/true
EOF
cp "$DEST/lib/systemd/system/postfix@.service.d/mxlock.conf" "$T/dropin/postfix@.service.d/"
cp "$UNIT" "$T/dropin/"
dropin_orders() {
        local out
        out=$(SYSTEMD_UNIT_PATH="$T/dropin:" in_root systemd-analyze verify "$T/dropin/postfix@-.service" 2>&1) || {
                echo "$out"
                return 1
        }
        [ -z "$out" ] || { echo "$out"; return 1; }
        grep -q '^After=mxlockd.service' "$T/dropin/postfix@.service.d/mxlock.conf"
}
ok "postfix@.service drop-in verifies" dropin_orders

# exposure FILE: the overall exposure level, e.g. 1.7.
exposure() {
        in_root systemd-analyze security --offline=true --no-pager "$1" 2>&1 |
                sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9.]*\).*/\1/p'
}

le() {
        awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'
}

score=$(exposure "$UNIT")
if [ -n "$score" ] && le "$score" "$MAX_EXPOSURE"; then
        pass "systemd-analyze security --offline=true: exposure $score <= $MAX_EXPOSURE"
else
        fail "systemd-analyze security --offline=true: exposure ${score:-unparsed} <= $MAX_EXPOSURE" \
                "$(in_root systemd-analyze security --offline=true --no-pager "$UNIT" 2>&1 | grep '✗')"
fi
ok "systemd-analyze security --threshold=20 exits 0" \
        in_root systemd-analyze security --offline=true --threshold=20 --no-pager "$UNIT"

# The unit's promises, one by one (a change that drops one fails here, not
# only through the score).
unit_has() {
        grep -qxF "$1" "$UNIT" || { echo "no line '$1' in the unit"; return 1; }
}
for line in Type=notify WatchdogSec=30s User=mxlock AmbientCapabilities=CAP_NET_ADMIN \
        CapabilityBoundingSet=CAP_NET_ADMIN NoNewPrivileges=yes ProtectSystem=strict \
        "RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6" \
        "ExecStartPre=/usr/sbin/mxlockd -c /etc/mxlock/mxlock.conf -n" \
        "Before=postfix.service exim4.service opensmtpd.service sendmail.service" \
        "After=nftables.service firewalld.service"; do
        ok "unit: $line" unit_has "$line"
done

# The checks can fail: a weakened unit scores above the limit, an unknown
# key is reported on stderr.
sed -e '/^ProtectSystem=/d' -e '/^SystemCallFilter=/d' -e '/^CapabilityBoundingSet=/d' \
        -e '/^PrivateDevices=/d' -e '/^RestrictAddressFamilies=/d' -e '/^User=/d' \
        "$UNIT" >"$T/weak.service"
weak=$(exposure "$T/weak.service")
if [ -n "$weak" ] && ! le "$weak" "$MAX_EXPOSURE"; then
        pass "a weakened unit scores $weak > $MAX_EXPOSURE (the check can fail)"
else
        fail "a weakened unit scores above $MAX_EXPOSURE" "score: ${weak:-unparsed}"
fi
sed 's/^\[Service\]$/[Service]\nNoSuchKey=1/' "$UNIT" >"$T/bad.service"
ok_fails "verify reports an unknown key on stderr (the check can fail)" verify_quiet "$T/bad.service"

# The snippets.
sysusers_ok() {
        local root=$T/sysroot
        mkdir -p "$root/etc"
        : >"$root/etc/passwd"; : >"$root/etc/group"; : >"$root/etc/shadow"; : >"$root/etc/gshadow"
        systemd-sysusers --root="$root" "$DEST/usr/lib/sysusers.d/mxlock.conf" || return 1
        grep -E '^mxlock:x:[0-9]+:[0-9]+:[^:]*:/var/lib/mxlock:/usr/sbin/nologin$' "$root/etc/passwd" &&
                grep -q '^mxlock:' "$root/etc/group"
}
ok "sysusers snippet creates user and group mxlock" sysusers_ok

tmpfiles_ok() {
        # Into a scratch root whose passwd knows mxlock.
        local out d
        local root=$T/tmproot
        mkdir -p "$root/etc"
        cp "$T/sysroot/etc/passwd" "$T/sysroot/etc/group" "$root/etc/"
        out=$(systemd-tmpfiles --root="$root" --create "$DEST/usr/lib/tmpfiles.d/mxlock.conf" 2>&1)
        echo "$out"
        [ -z "$out" ] || return 1
        for d in run/mxlock var/log/mxlock var/lib/mxlock; do
                [ -d "$root/$d" ] || { echo "no $d"; return 1; }
        done
        [ "$(stat -c %a "$root/var/log/mxlock")" = 750 ]
}
ok "tmpfiles snippet parses and creates the directories" tmpfiles_ok

logrotate_ok() {
        command -v logrotate >/dev/null || { echo "logrotate not installed: syntax not checked"; return 0; }
        local root=$T/lr
        mkdir -p "$root/log"
        : >"$root/log/audit.jsonl"
        sed -e "s|/var/log/mxlock/|$root/log/|" -e '/^\tsu /d' -e '/^\tcreate /d' \
                "$DEST/etc/logrotate.d/mxlock" >"$root/mxlock"
        logrotate -d -s "$root/state" "$root/mxlock" >"$root/out" 2>&1
        local rc=$?
        if [ $rc -ne 0 ] || grep -qiE '^error' "$root/out"; then
                cat "$root/out"
                return 1
        fi
        return 0
}
ok "logrotate snippet parses" logrotate_ok

lab_finish
