#!/usr/bin/env bash
# tests/e2e/reload_failure.sh: a reload that changes `failure` changes what
# the kernel does with a full queue, not only what `status` says. mxlockd
# starts with failure = open and is reloaded to closed; then it is stopped
# (SIGSTOP), so the queue fills with a burst of SYNs from a source that is
# not allowed, and a connection from the direct sender must not get through.
# The reverse reload (closed -> open) must let it through, which shows the
# probe can tell the two apart.
. "$(dirname "$0")/../lib.sh"
require_root
require_mxlockd
command -v hping3 >/dev/null || { echo "skip - reload_failure (hping3 missing: run tests/deps.sh)"; exit 0; }

ok "lab up" lab_up || lab_finish
ok "postfix listening in SRV" postfix_up || lab_finish

write_conf() {
        mkconf "$T/mxlock.conf" failure="$1" <<'CONF'
[policy inbound-smtp]
ports = 25
allow = 198.51.100.0/24 2001:db8:25::/48
CONF
}

status_failure() {
        ip netns exec "$NS_SRV" "$MXLOCK_CLI" -c "$T/mxlock.conf" status --json |
                "$PY" -c 'import json,sys; print(json.load(sys.stdin)["failure"])'
}

# The kernel's figures for our queue: waiting dropped (queue full + could not deliver).
queue_fig() {
        ip netns exec "$NS_SRV" awk -v q="$QUEUE" '$1 == q { print $3, $6 + $7 }' \
                /proc/net/netfilter/nfnetlink_queue
}

# fill_queue SRC: with mxlockd stopped, SYNs from SRC (spoofed, incrementing
# source ports) until the kernel no longer takes them into the queue.
fill_queue() {
        local before after
        read -r _ before <<<"$(queue_fig)"
        timeout 20 ip netns exec "$NS_SPAM" hping3 -q -S -p 25 -i u20 -c 20000 -a "$1" "$EXT4" >/dev/null 2>&1
        read -r waiting after <<<"$(queue_fig)"
        echo "queue $QUEUE: $waiting waiting; dropped $before -> $after"
        [ "$waiting" -gt 1000 ]
}

drained() {
        local waiting
        read -r waiting _ <<<"$(queue_fig)"
        [ "$waiting" -eq 0 ]
}

MXLOCK_CLI=$MXT_ROOT/build/mxlock

write_conf open
ok "mxlockd starts (failure = open)" mxlockd_start "$T/mxlock.conf" || lab_finish
write_conf closed
ok "reload to failure = closed" mxlockd_reload
ok "audit: reload ok" audit_has reload result=ok
ok "status says failure closed" test "$(status_failure)" = closed

kill -STOP "$MXLOCKD_PID"
ok "stopped daemon: queue filled by 20000 SYNs from 192.0.2.77" fill_queue 192.0.2.77
ok "failure = closed after reload: direct sender gets no connection with the queue full" \
        probe_is timeout "$NS_SPAM" "$EXT4" 25
kill -CONT "$MXLOCKD_PID"
ok "queue drained after SIGCONT" wait_until 30 drained

write_conf open
ok "reload to failure = open" mxlockd_reload
ok "status says failure open" test "$(status_failure)" = open
kill -STOP "$MXLOCKD_PID"
ok "stopped daemon: queue filled by 20000 SYNs from 192.0.2.78" fill_queue 192.0.2.78
ok "failure = open after reload: direct sender connects with the queue full" \
        probe_is connected "$NS_SPAM" "$EXT4" 25
kill -CONT "$MXLOCKD_PID"
ok "queue drained after SIGCONT" wait_until 30 drained

ok "mxlockd stops on SIGTERM with status 0" mxlockd_stop
ok "audit log is one JSON object per line" audit_valid

lab_finish
