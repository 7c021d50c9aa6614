#!/usr/bin/env bash
# tests/e2e/flood.sh: a bounded burst of SYNs from the direct sender (hping3,
# 2000 packets at about 10k/s, incrementing source ports): none gets through,
# the gateway's mail still flows, and the audit log accounts for every
# attempt (refused records and summary folds add up to exactly 2000).
. "$(dirname "$0")/../lib.sh"
require_root
require_mxlockd
command -v hping3 >/dev/null || { echo "skip - flood (hping3 missing: run tests/deps.sh)"; exit 0; }

N=2000

ok "lab up" lab_up || lab_finish
ok "postfix listening in SRV" postfix_up || lab_finish
mkconf "$T/mxlock.conf" <<'CONF'
[policy inbound-smtp]
ports = 25
allow = 198.51.100.0/24 2001:db8:25::/48
CONF
ok "mxlockd starts" mxlockd_start "$T/mxlock.conf" || lab_finish

ok "$N SYNs sent from the direct sender" \
        timeout 30 ip netns exec "$NS_SPAM" hping3 -q -S -p 25 -i u100 -c "$N" "$EXT4"

sum_counts() {
        echo $(( $(audit_sum count refused src="$SPAM4") + $(audit_sum count summary src="$SPAM4") ))
}

# All counted while running: summary folds may take the daemon's fold
# interval to appear, so wait up to 15 s.
counted() {
        local n
        n=$(sum_counts)
        echo "refused + summary records count $n attempts from $SPAM4, want $N"
        [ "$n" -ge "$N" ]
}
ok "audit accounts for all $N attempts within 15 s" wait_until 15 counted
ok "mxlockd alive after the burst" mxlockd_alive
no_client() {
        ! grep "connect from .*\\[$SPAM4\\]" "$PF_DIR/maillog"
}
ok "no connection got through (Postfix saw no client from $SPAM4)" no_client
ok "gateway mail delivered after the burst" deliver "$NS_GW" "$SRV4"
ok "direct sender refused with RST after the burst (IPv6)" probe_is refused "$NS_SPAM" "$EXT6" 25 "" 1000
ok "mxlockd stops on SIGTERM with status 0" mxlockd_stop
exact() {
        local n
        n=$(sum_counts)
        echo "after stop: $n attempts from $SPAM4 in the log, want exactly $N"
        [ "$n" -eq "$N" ]
}
ok "after stop the log counts exactly $N attempts" exact
ok "audit log is one JSON object per line" audit_valid

lab_finish
