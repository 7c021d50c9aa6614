#!/usr/bin/env bash
# tests/e2e/systemd.sh: the Debian package under a real systemd.
# e2e-timeout: 900  (the first run on a machine builds the Debian root tree: minutes)
#
# A minimal Debian 12 (debootstrap, cached under $MXT_CACHE) boots with
# systemd-nspawn inside the lab's SRV network namespace; Postfix runs in the
# same namespace on the host side (tests/lib.sh). The .deb from `make deb` is
# installed with apt inside the container and driven with systemctl:
#
#   enable --now; gateway mail delivered, direct sender refused; reload after
#   a config change takes effect; a broken config makes `systemctl reload`
#   fail while enforcement stays; logrotate; the watchdog restarts a hung
#   daemon; a crash is restarted; `systemctl stop` with failure=closed (table
#   stays, bypass SYNs dropped) and failure=open (bypass accepted); an
#   upgrade opens no gap; purge removes the table.
#
# Environment: DEB=path/to/mxlock_*.deb skips `make deb`; MXT_CACHE (default
# /var/cache/mxlock-test); MIRROR (default: the first deb.debian.org-style URI
# in /etc/apt/sources.list{,.d/*.sources}).
. "$(dirname "$0")/../lib.sh"
require_root

MXT_CACHE=${MXT_CACHE:-/var/cache/mxlock-test}
ROOTFS=$MXT_CACHE/bookworm-rootfs
ROOTFS_PKGS=systemd,systemd-sysv,dbus,nftables,libmnl0,libnftnl11,libnetfilter-queue1,libcap2,zlib1g,libsodium23,logrotate,iproute2,procps
# Bump when the preparation below changes: the cache is rebuilt.
ROOTFS_VERSION="v1 bookworm minbase $ROOTFS_PKGS"

for t in debootstrap systemd-nspawn nsenter dpkg-buildpackage; do
        if ! command -v "$t" >/dev/null 2>&1; then
                echo "skip - $MXT_NAME (missing tool $t: run tests/deps.sh)"
                exit 0
        fi
done

CT_NSPAWN=         # pid of systemd-nspawn
CT_PID=            # the container's PID 1, as the host sees it
CT_ROOT=           # the overlay the container boots from
CT_MOUNTED=0
CONF=              # /etc/mxlock/mxlock.conf, seen from the host
SRV_TABLE_SEEN=0

# ---- the cached root tree ---------------------------------------------------

# The cached tree, built once per ROOTFS_VERSION (about a minute), shared by
# every run read-only (each run boots an overlay of it).
rootfs_ready() {
        [ -f "$ROOTFS.version" ] && [ "$(cat "$ROOTFS.version")" = "$ROOTFS_VERSION" ] &&
                [ -x "$ROOTFS/lib/systemd/systemd" ]
}

rootfs_build() {
        local tmp=$ROOTFS.tmp u
        mkdir -p "$MXT_CACHE"
        # One builder at a time; a second run waits and then finds it ready.
        exec 9>"$MXT_CACHE/.lock"
        flock -w 900 9 || return 1
        rootfs_ready && { exec 9>&-; return 0; }
        echo "# building $ROOTFS ($ROOTFS_VERSION) from $(mirror)"
        rm -rf "$tmp" "$ROOTFS" "$ROOTFS.version"
        timeout 600 debootstrap --variant=minbase --include="$ROOTFS_PKGS" bookworm "$tmp" "$(mirror)" \
                >"$MXT_CACHE/debootstrap.log" 2>&1 || {
                tail -n 20 "$MXT_CACHE/debootstrap.log"
                return 1
        }
        echo mxtest >"$tmp/etc/hostname"
        # Nothing in the container may touch the network or the dpkg lock.
        for u in apt-daily.timer apt-daily-upgrade.timer apt-daily.service apt-daily-upgrade.service \
                dpkg-db-backup.timer e2scrub_all.timer fstrim.timer logrotate.timer cron.service \
                getty@tty1.service console-getty.service systemd-networkd-wait-online.service; do
                ln -sf /dev/null "$tmp/etc/systemd/system/$u"
        done
        chroot "$tmp" apt-get clean
        mv "$tmp" "$ROOTFS"
        echo "$ROOTFS_VERSION" >"$ROOTFS.version"
        exec 9>&-
}

# ---- the container ----------------------------------------------------------

ct() {
        timeout 60 nsenter -t "$CT_PID" -a "$@"
}

ct_pid1() {
        local p
        pid_gone "$CT_NSPAWN" && return 2
        for p in $(pgrep -P "$CT_NSPAWN"); do
                if [ "$(awk '/^NSpid:/ { print $NF }' "/proc/$p/status" 2>/dev/null)" = 1 ]; then
                        CT_PID=$p
                        return 0
                fi
        done
        return 1
}

ct_booted() {
        local s
        pid_gone "$CT_NSPAWN" && return 2
        s=$(timeout 5 nsenter -t "$CT_PID" -a systemctl is-system-running 2>/dev/null)
        [ "$s" = running ] || [ "$s" = degraded ]
}

ct_up() {
        local deb=$1
        CT_ROOT=$T/ct/root
        mkdir -p "$T/ct/upper" "$T/ct/work" "$CT_ROOT"
        mount -t overlay overlay -o "lowerdir=$ROOTFS,upperdir=$T/ct/upper,workdir=$T/ct/work" "$CT_ROOT" || return 1
        CT_MOUNTED=1
        mkdir -p "$T/ct/deb"
        cp "$deb" "$T/ct/deb/" || return 1
        systemd-nspawn -q -D "$CT_ROOT" -M "$LAB" --register=no --keep-unit -b --console=passive \
                --network-namespace-path="/run/netns/$NS_SRV" --capability=CAP_NET_ADMIN \
                --bind-ro="$T/ct/deb:/mnt/deb" >"$T/ct/nspawn.log" 2>&1 &
        CT_NSPAWN=$!
        if ! wait_until 10 ct_pid1; then
                echo "systemd-nspawn did not start a PID 1:" >&2
                tail -n 20 "$T/ct/nspawn.log" >&2
                return 1
        fi
        if ! wait_until 30 ct_booted; then
                echo "container did not reach running: $(ct systemctl is-system-running 2>&1)" >&2
                ct systemctl --failed --no-pager >&2
                return 1
        fi
        ct systemctl --failed --no-legend --no-pager >&2
        return 0
}

ct_down() {
        [ -n "$CT_NSPAWN" ] || return 0
        if kill -0 "$CT_NSPAWN" 2>/dev/null; then
                # SIGTERM to nspawn powers the container off cleanly.
                kill -TERM "$CT_NSPAWN" 2>/dev/null
                wait_until 15 pid_gone "$CT_NSPAWN"
                kill -KILL "$CT_NSPAWN" 2>/dev/null
        fi
        wait "$CT_NSPAWN" 2>/dev/null
        CT_NSPAWN=
}

sd_cleanup() {
        local rc=$?
        set +e
        if [ $MXT_FAIL -gt 0 ] && [ -n "$CT_PID" ] && kill -0 "$CT_PID" 2>/dev/null; then
                echo "# --- journalctl -u mxlockd (in the container) ---"
                ct journalctl -u mxlockd --no-pager -n 120 -o short-monotonic 2>&1 | diag
                echo "# --- systemctl status mxlockd ---"
                ct systemctl status mxlockd --no-pager -n 0 2>&1 | diag
        fi
        ct_down
        if [ "$CT_MOUNTED" = 1 ]; then
                umount "$CT_ROOT" 2>/dev/null || umount -l "$CT_ROOT"
                CT_MOUNTED=0
        fi
        (exit $rc)
        lab_cleanup
}

# ---- mxlockd under systemd --------------------------------------------------

# write_conf [KEY=VALUE...]: the container's /etc/mxlock/mxlock.conf, the
# gateway side allowed.
write_conf() {
        local failure=closed kv
        for kv in "$@"; do
                case $kv in failure=*) failure=${kv#failure=} ;; esac
        done
        cat >"$CONF.tmp" <<EOF
# written by tests/e2e/systemd.sh
[daemon]
mode = enforce
action = reject
failure = $failure
queue = $QUEUE
table = $TABLE
audit_log = /var/log/mxlock/audit.jsonl
journal = yes
control_group = mxlock
metrics_file = /var/lib/prometheus/node-exporter/mxlock.prom
metrics_interval = 1

[policy inbound-smtp]
ports = 25
allow = 198.51.100.0/24 2001:db8:25::/48

[outbound smarthost]
ports = 25, 465, 587
to = $GW4 $GW6
users = mail
EOF
        mv "$CONF.tmp" "$CONF"
}

main_pid() {
        ct systemctl show -P MainPID mxlockd.service
}

svc_active() {
        [ "$(ct systemctl is-active mxlockd.service)" = active ]
}

# The service is active with a MainPID other than $1 (0: any).
restarted() {
        local pid
        svc_active || return 1
        pid=$(main_pid)
        [ -n "$pid" ] && [ "$pid" != 0 ] && [ "$pid" != "$1" ]
}

table_present() {
        nft_srv list table inet "$TABLE" >/dev/null
}

table_absent() {
        ! nft_srv list table inet "$TABLE" >/dev/null
}

status_text() {
        ct systemctl show -P StatusText mxlockd.service
}

# reload_ok: `systemctl reload` succeeds and the daemon records a good reload.
reload_ok() {
        local before
        before=$(audit_count reload result=ok)
        ct systemctl reload mxlockd.service || return 1
        wait_until 5 reload_result_after ok "$before" || {
                echo "no reload record with result ok" >&2
                return 1
        }
}

reload_result_after() {
        [ "$(audit_count reload result="$1")" -gt "$2" ]
}

# spam_loop SECONDS OUT: TCP connects from SPAM to port 25 every 50 ms for
# SECONDS; writes "connected=N refused=N timeout=N" to OUT.
spam_loop() {
        ip netns exec "$NS_SPAM" "$PY" - "$EXT4" "$1" "$2" <<'EOF' &
import socket, sys, time
dst, secs, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
n = {"connected": 0, "refused": 0, "timeout": 0, "error": 0}
end = time.monotonic() + secs
while time.monotonic() < end:
    s = socket.socket()
    s.settimeout(0.5)
    try:
        s.connect((dst, 25))
        n["connected"] += 1
    except ConnectionRefusedError:
        n["refused"] += 1
    except socket.timeout:
        n["timeout"] += 1
    except OSError:
        n["error"] += 1
    s.close()
    time.sleep(0.05)
with open(out, "w") as f:
    f.write(" ".join("%s=%d" % kv for kv in n.items()) + "\n")
EOF
        SPAM_LOOP_PID=$!
        track "$SPAM_LOOP_PID"
}

no_gap() {
        wait "$SPAM_LOOP_PID"
        echo "bypass attempts during the upgrade: $(cat "$1")"
        grep -q 'connected=0 ' "$1" && ! grep -q 'refused=0 timeout=0' "$1"
}

stderr_empty() {
        local out
        out=$("$@" 2>&1 >/dev/null)
        [ -z "$out" ] && return 0
        echo "stderr of $*:" >&2
        echo "$out" >&2
        return 1
}

exposure_at_most() {
        local max=$1 out score
        out=$(ct systemd-analyze security --no-pager mxlockd.service 2>&1)
        score=$(grep -oE 'Overall exposure level for mxlockd.service: [0-9.]+' <<<"$out" | grep -oE '[0-9.]+$')
        echo "exposure: ${score:-none}"
        [ -n "$score" ] && awk -v s="$score" -v m="$max" 'BEGIN { exit !(s <= m) }'
}

# Flush the start rate counter (5 starts in 10 s) between phases: this
# test starts mxlockd more often than any admin would.
fresh() {
        ct systemctl reset-failed mxlockd.service >/dev/null 2>&1
        return 0
}

journal_has() {
        ct journalctl -u mxlockd.service --no-pager -o cat | grep -qE "$1"
}

# ---- the run ----------------------------------------------------------------

lab_init
trap sd_cleanup EXIT

if ! rootfs_ready; then
        ok "debootstrap the cached Debian root tree" rootfs_build || lab_finish
fi

DEB=${DEB:+$(realpath "$DEB")}
if [ -z "$DEB" ]; then
        if ! (cd "$MXT_ROOT" && make -s deb) >"$T/make-deb.log" 2>&1; then
                fail "make deb" "$(tail -n 30 "$T/make-deb.log")"
                lab_finish
        fi
        DEB=$(ls -t "$MXT_ROOT"/build-deb/mxlock_*.deb | head -n 1)
        pass "make deb ($(basename "$DEB"))"
fi

ok "lab up" lab_up || lab_finish
ok "postfix listening in SRV" postfix_up || lab_finish
ok "container boots systemd in SRV's network namespace" ct_up "$DEB" || lab_finish
CONF=$CT_ROOT/etc/mxlock/mxlock.conf
AUDIT=$CT_ROOT/var/log/mxlock/audit.jsonl

ok "apt installs the .deb" ct env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "/mnt/deb/$(basename "$DEB")" || lab_finish
ok "user mxlock exists (sysusers)" ct getent passwd mxlock
ok "/etc/mxlock/mxlock.conf is a conffile" ct sh -c 'dpkg-query -W -f="\${Conffiles}" mxlock | grep -q /etc/mxlock/mxlock.conf'
ok "installed but not enabled or started" \
        test "$(ct systemctl is-enabled mxlockd.service)-$(ct systemctl is-active mxlockd.service)" = disabled-inactive
ok "systemd-analyze verify: nothing on stderr" stderr_empty ct systemd-analyze verify mxlockd.service
ok "systemd-analyze security: exposure <= 2.0" exposure_at_most 2.0

# node_exporter's textfile directory as Debian's prometheus-node-exporter
# makes it (root:root 0755), then the README's one step for mxlock to write there.
ct install -d -m 0755 /var/lib/prometheus/node-exporter
ok "README's metrics step: chgrp mxlock + chmod g+w on the textfile directory" \
        ct sh -c 'chgrp mxlock /var/lib/prometheus/node-exporter && chmod g+w /var/lib/prometheus/node-exporter'
write_conf
ok "enable --now" ct systemctl enable --now mxlockd.service || lab_finish
ok "active, table in the kernel" eval 'svc_active && table_present'
ok "READY with a STATUS line" eval '[ -n "$(status_text)" ] && echo "StatusText: $(status_text)"'
ok "runs as mxlock with CAP_NET_ADMIN only" ct sh -c '
        pid=$(systemctl show -P MainPID mxlockd.service)
        grep -E "^(Uid|CapEff|CapBnd|CapAmb):" /proc/$pid/status
        [ "$(stat -c %U /proc/$pid)" = mxlock ] &&
        grep -qE "^CapEff:\s+0000000000001000$" /proc/$pid/status &&
        grep -qE "^CapBnd:\s+0000000000001000$" /proc/$pid/status'
ok "audit: start record" audit_wait start

ok "gateway mail delivered over IPv4" deliver "$NS_GW" "$SRV4"
ok "gateway mail delivered over IPv6" deliver "$NS_GW" "$SRV6"
ok "direct sender refused with RST over IPv4" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
ok "direct sender refused with RST over IPv6" probe_is refused "$NS_SPAM" "$EXT6" 25 "" 1000
ok "swaks from the direct sender fails" swaks_fails "$NS_SPAM" "$EXT4"
ok "audit: refused record" audit_wait refused src="$SPAM4" dport=25
journal_fields() {
        ct journalctl --no-pager -o verbose MXLOCK_EVENT=refused MXLOCK_SRC="$SPAM4" >"$T/jrn.txt" 2>&1
        grep -q "MESSAGE_ID=6d786c6f636b4a1f9e2b7c3d5a8e0f11" "$T/jrn.txt" &&
                grep -q "MXLOCK_POLICY=inbound-smtp" "$T/jrn.txt" && grep -q "MXLOCK_DPORT=25" "$T/jrn.txt"
}
ok "journal: journalctl MXLOCK_EVENT=refused MXLOCK_SRC=... finds the attempt" wait_until 5 journal_fields

# The outbound lock: a transient unit of a user that is not listed
# connecting out is refused at once, and its record names the unit; the
# listed user (mail) reaches the smarthost.
ok "listeners on port 25 outside and at the smarthost" eval 'listener_up "$NS_SPAM" 25 && listener_up "$NS_GW" 25'
connect_out() {  # UID UNIT ADDR: 0 when connected, 1 when refused (5 s at most)
        ct systemd-run --quiet --wait --pipe --uid="$1" --unit="$2" \
                timeout 5 bash -c "exec 3<>/dev/tcp/$3/25" 2>/dev/null
}
ok "outbound: systemd-run --uid=nobody connecting out to port 25 is refused at once" \
        eval '! connect_out nobody mxt-webapp "$SPAM4"'
ok "audit: the outbound record names the unit, the user and the uid" \
        audit_wait refused direction=outbound unit=mxt-webapp.service user=nobody uid=65534 dst="$SPAM4"
ok "outbound: the listed user (mail) reaches the smarthost" connect_out mail mxt-mta "$GW4"
ok "outbound: the listed user to another MX is refused" eval '! connect_out mail mxt-mta2 "$SPAM4"'
ok "audit: its record says destination-not-allowed" \
        audit_wait refused direction=outbound unit=mxt-mta2.service user=mail reason=destination-not-allowed
ok "mxlock status works for a control_group member (mxlock) over the socket" \
        ct sh -c 'setpriv --reuid=nobody --regid=nogroup --groups=$(getent group mxlock | cut -d: -f3) mxlock status'
ok "and is refused to a user outside the group" \
        ct sh -c '! setpriv --reuid=nobody --regid=nogroup --clear-groups mxlock status' 
PROM=/var/lib/prometheus/node-exporter/mxlock.prom
metrics_written() {
        ct test -s $PROM && return 0
        ct journalctl -u mxlockd.service --no-pager -o cat | grep -i metrics | tail -n 3
        return 1
}
ok "the service writes the README's metrics file (ProtectSystem=strict)" wait_until 5 metrics_written
ok "the metrics file is 0644 despite UMask=0027" test "$(ct stat -c %a $PROM)" = 644
ok "a user outside mxlock's group (node_exporter's) can read it" \
        ct setpriv --reuid=nobody --regid=nogroup --clear-groups grep -q '^mxlock_up 1$' $PROM
if command -v promtool >/dev/null; then
        ok "promtool: the metrics file is valid exposition format" \
                sh -c "promtool check metrics <'$CT_ROOT$PROM'"
fi

# Reload after a config change takes effect.
pid0=$(main_pid)
sed -i 's|^allow = .*|& 192.0.2.66/32|' "$CONF"
ok "systemctl reload after allowing the direct sender" reload_ok
ok "the change is in force: the direct sender connects" probe_is connected "$NS_SPAM" "$EXT4" 25
ok "reload kept the process" test "$(main_pid)" = "$pid0"
write_conf
ok "systemctl reload back" reload_ok
ok "the direct sender is refused again" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000

# A broken config: reload fails, enforcement stays.
cp "$CONF" "$T/good.conf"
badline=$(( $(wc -l <"$CONF") + 1 ))
printf 'this line is not valid\n' >>"$CONF"
nerr=$(audit_count reload result=error)
ok_fails "systemctl reload fails on a broken config" ct systemctl reload mxlockd.service
ok "audit: reload error recorded" wait_until 5 reload_result_after error "$nerr"
ok "still active, same process" eval 'svc_active && [ "$(main_pid)" = "$pid0" ]'
ok "enforcement stays: direct sender refused" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
ok "enforcement stays: gateway mail delivered" deliver "$NS_GW" "$SRV4"
cp "$T/good.conf" "$CONF"
ok "journal: the reload failure names the line" journal_has "mxlock.conf:$badline: .*this line is not valid"

# logrotate: the daemon reopens the log on SIGUSR1.
ok "logrotate -f rotates the audit log" ct logrotate -f /etc/logrotate.d/mxlock
ok "rotated file exists" eval 'ls "$CT_ROOT"/var/log/mxlock/ | grep -q "audit.jsonl-"'
ok "refused after the rotation" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
ok "new records go to the new audit.jsonl" audit_wait refused src="$SPAM4" ||
        { ls -la "$CT_ROOT/var/log/mxlock/"; tail -n 3 "$CT_ROOT"/var/log/mxlock/*; } 2>&1 | diag

# The watchdog restarts a hung daemon.
mkdir -p "$CT_ROOT/etc/systemd/system/mxlockd.service.d"
cat >"$CT_ROOT/etc/systemd/system/mxlockd.service.d/test-watchdog.conf" <<'EOF'
[Service]
WatchdogSec=3s
TimeoutAbortSec=2s
LimitCORE=0
EOF
ct systemctl daemon-reload
fresh
ok "restart with WatchdogSec=3s" ct systemctl restart mxlockd.service
ok "active after restart" wait_until 5 svc_active
pid1=$(main_pid)
nrestarts=$(ct systemctl show -P NRestarts mxlockd.service)
ok "daemon hung (SIGSTOP)" ct kill -STOP "$pid1"
ok "while it hangs the gateway still delivers" deliver "$NS_GW" "$SRV4"
ok "watchdog restarts it within 20 s" wait_until 20 restarted "$pid1"
ok "journal: watchdog timeout" journal_has "[Ww]atchdog timeout"
ok "NRestarts went up" test "$(ct systemctl show -P NRestarts mxlockd.service)" -gt "$nrestarts"
ok "after the watchdog restart the direct sender is refused" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
rm -f "$CT_ROOT/etc/systemd/system/mxlockd.service.d/test-watchdog.conf"
ct systemctl daemon-reload

fresh
# A crash: systemd restarts it (Restart=on-failure).
pid2=$(main_pid)
ok "crash (SIGKILL)" ct systemctl kill -s KILL --kill-who=main mxlockd.service
ok "restarted after the crash within 10 s" wait_until 10 restarted "$pid2"
ok "after the crash the direct sender is refused" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000

# nftables.service (Debian's /etc/nftables.conf begins with `flush ruleset`)
# coexists: a restart of it wipes the table, mxlockd puts it back.
nrest=$(audit_count restored)
ok "systemctl restart nftables (flush ruleset)" ct systemctl restart nftables.service
ok "table restored after the flush" wait_until 5 table_present
ok "audit: restored record" wait_until 5 eval '[ "$(audit_count restored)" -gt "$nrest" ]'
ok "after the flush the direct sender is refused" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
ok "ordered after nftables.service, before postfix" eval '
        ct systemctl show -P After mxlockd.service | grep -qw nftables.service &&
        ct systemctl show -P Before mxlockd.service | grep -qw postfix.service'

fresh
# An upgrade (the same package again: prerm upgrade, postinst restart) opens no gap.
pid3=$(main_pid)
spam_loop 6 "$T/upgrade.spam"
sleep 0.5
ok "apt reinstall (upgrade path) restarts mxlockd" eval 'ct env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --reinstall "/mnt/deb/$(basename "$DEB")" && wait_until 10 restarted "$pid3"'
ok "no bypass connection got through during the upgrade" no_gap "$T/upgrade.spam"
ok "gateway mail delivered after the upgrade" deliver "$NS_GW" "$SRV4"

# systemctl stop with failure = closed: the table stays, bypass SYNs are dropped.
ok "systemctl stop (failure=closed)" ct systemctl stop mxlockd.service
ok "inactive, not failed" test "$(ct systemctl is-active mxlockd.service)" = inactive
ok "table stays in the kernel after stop" table_present
ok "audit: stop record" audit_wait stop
ok "stopped, failure=closed: direct sender times out (SYN dropped)" probe_is timeout "$NS_SPAM" "$EXT4" 25
ok "stopped, failure=closed: gateway mail still delivered" deliver "$NS_GW" "$SRV4"

# failure = open: stop lets bypass attempts through.
write_conf failure=open
fresh
ok "start with failure=open" ct systemctl start mxlockd.service
ok "failure=open running: direct sender refused" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
ok "systemctl stop (failure=open)" ct systemctl stop mxlockd.service
ok "table stays after stop (failure=open)" table_present
ok "stopped, failure=open: direct sender connects" probe_is connected "$NS_SPAM" "$EXT4" 25

write_conf
fresh
ok "start again (failure=closed)" ct systemctl start mxlockd.service
ok "active" wait_until 5 svc_active

# mxlock disable lifts the lock (the daemon keeps running, idle); enable
# puts it back.
if ct mxlock help 2>&1 | grep -qw disable; then
        ok "mxlock disable" ct mxlock disable
        ok "disable: table gone" table_absent
        ok "disable: direct sender connects" probe_is connected "$NS_SPAM" "$EXT4" 25
        ok "mxlock enable" ct mxlock enable
        ok "enable: table back" table_present
        ok "enable: direct sender refused" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
        fresh
        ok "disable, then systemctl restart" eval 'ct mxlock disable && table_absent &&
                ct systemctl restart mxlockd.service'
        ok "a restart enforces again (disable lasts until the next start)" table_present
else
        skip "mxlock disable/enable" "mxlock has no disable command"
fi

# Purge removes the table from the kernel.
ok "table present before purge" table_present
ok "apt purge" ct env DEBIAN_FRONTEND=noninteractive apt-get purge -y mxlock
ok "purge: table removed from the kernel" table_absent
ok "purge: logs and state removed" eval '[ ! -e "$CT_ROOT/var/log/mxlock" ] && [ ! -e "$CT_ROOT/var/lib/mxlock" ] && [ ! -e "$CT_ROOT/etc/mxlock" ]'
ok "purge: direct sender connects (lock lifted)" probe_is connected "$NS_SPAM" "$EXT4" 25

lab_finish
