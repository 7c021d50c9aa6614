#!/usr/bin/env bash
# tests/e2e/policies.sh: several policies at once. inbound-smtp locks port 25
# to the gateway; filter-peers locks the mail filter's multi-server ports
# 9095 and 9096 to its peer (here the host on the outside link). Each port
# refuses by its own policy and says which; a port no policy names is never
# touched; a reload that drops a policy unlocks its ports; two queues with
# fanout share the work.
. "$(dirname "$0")/../lib.sh"
require_root
require_mxlockd

ok "lab up" lab_up || lab_finish
for port in 25 9095 9096 2525; do
        ok "a listener on port $port" listener_up "$NS_SRV" $port
done
mkconf "$T/mxlock.conf" queues=2 <<'CONF'
[policy inbound-smtp]
ports = 25
allow = 198.51.100.0/24 2001:db8:25::/48

[policy filter-peers]
ports = 9095-9096
allow = 192.0.2.66 2001:db8:66::66
CONF
ok "mxlockd starts with two policies and two queues" mxlockd_start "$T/mxlock.conf" || lab_finish

ok "gateway -> 25 connects" probe_is connected "$NS_GW" "$SRV4" 25
ok "gateway -> 9095 refused with a reset (not a peer)" probe_is refused "$NS_GW" "$SRV4" 9095 "" 1000
ok "gateway -> 9096 over IPv6 refused" probe_is refused "$NS_GW" "$SRV6" 9096 "" 1000
ok "the refusal names filter-peers and port 9095" audit_wait refused policy=filter-peers src="$GW4" dport=9095
ok "peer -> 9095 connects" probe_is connected "$NS_SPAM" "$EXT4" 9095
ok "peer -> 9096 over IPv6 connects" probe_is connected "$NS_SPAM" "$EXT6" 9096
ok "peer -> 25 refused (not the gateway)" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
ok "the refusal names inbound-smtp and port 25" audit_wait refused policy=inbound-smtp src="$SPAM4" dport=25
ok "port 2525, in no policy, is untouched from the peer" probe_is connected "$NS_SPAM" "$EXT4" 2525
ok "port 2525 is untouched from the gateway" probe_is connected "$NS_GW" "$SRV4" 2525

spread() {
        local i
        for i in $(seq 1 20); do
                probe_is refused "$NS_GW" "$SRV4" 9095 "" 1000 >/dev/null || return 1
        done
        ip netns exec "$NS_SRV" awk '$1 == 25 || $1 == 26 { print "queue", $1, "packets", $8 }' \
                /proc/net/netfilter/nfnetlink_queue
}
ok "20 more refusals through the fanout queues" spread

# Drop the second policy: its ports are free again.
"$PY" - "$T/mxlock.conf" <<'EOF'
import sys
p = sys.argv[1]
s = open(p).read()
open(p, "w").write(s[:s.index("[policy filter-peers]")])
EOF
ok "reload without filter-peers" mxlockd_reload
ok "the reload is recorded ok" audit_has reload result=ok
ok "gateway -> 9095 connects now" probe_is connected "$NS_GW" "$SRV4" 9095
gone() { ! nft_srv list chain inet "$TABLE" policy_filter-peers >/dev/null; }
ok "the policy's chain and sets are gone from the table" gone
ok "port 25 still locked: peer refused" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
ok "mxlockd stops cleanly" mxlockd_stop
lab_finish
