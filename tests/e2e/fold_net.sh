#!/usr/bin/env bash
# tests/e2e/fold_net.sh: one record per distinct source must not fill the
# disk. 300 SYNs from 300 addresses of one IPv6 /64, and 250 from 250
# addresses of one IPv4 /24 (scapy, from the direct sender's side): a few
# individual records, then one summary for the network; the counts still
# add up exactly to the kernel's count (a counter in a table of the test's
# own, before routing).
. "$(dirname "$0")/../lib.sh"
require_root
require_mxlockd
"$PY" -c 'import scapy.all' 2>/dev/null || { echo "skip - $MXT_NAME (python3-scapy missing: run tests/deps.sh)"; exit 0; }

ok "lab up" lab_up || lab_finish
nft_srv -f - <<'EOF'
table inet mxtcount {
	chain pre {
		type filter hook prerouting priority -400; policy accept;
		iifname "ext0" ip6 saddr 2001:db8:66::/64 tcp dport 25 tcp flags & (fin | syn | rst | ack) == syn counter
		iifname "ext0" ip saddr 203.0.113.0/24 tcp dport 25 tcp flags & (fin | syn | rst | ack) == syn counter
	}
}
EOF
# The sources are on SRV's outside link: replies find their way (or not) by neighbour discovery.
ip -n "$NS_SRV" route add 203.0.113.0/24 dev ext0

mkconf "$T/mxlock.conf" <<'CONF'
[policy inbound-smtp]
ports = 25
allow = 198.51.100.0/24 2001:db8:25::/48
CONF
ok "mxlockd starts" mxlockd_start "$T/mxlock.conf" || lab_finish

cat >"$T/flood.py" <<'EOF'
import sys
from scapy.all import Ether, IP, IPv6, TCP, sendp, conf
conf.verb = 0
iface, srvmac, dst4, dst6 = sys.argv[1:5]
pkts = [Ether(dst=srvmac) / IPv6(src="2001:db8:66::%x" % (0x1000 + i), dst=dst6) /
        TCP(sport=40000 + i, dport=25, flags="S", seq=i) for i in range(300)]
pkts += [Ether(dst=srvmac) / IP(src="203.0.113.%d" % (1 + i), dst=dst4) /
         TCP(sport=41000 + i, dport=25, flags="S", seq=i) for i in range(250)]
sendp(pkts, iface=iface, inter=0.001)
EOF
SRV_MAC=$(ip netns exec "$NS_SRV" cat /sys/class/net/ext0/address)
ok "550 SYNs sent: 300 sources in one /64, 250 in one /24" \
        timeout 30 ip netns exec "$NS_SPAM" "$PY" "$T/flood.py" mx0 "$SRV_MAC" "$EXT4" "$EXT6"

kernel_count() {      # the test's own counters: IPv6 IPv4
        nft_srv list chain inet mxtcount pre | grep -o 'packets [0-9]*' | cut -d' ' -f2 | xargs
}
ok "the kernel counted 300 and 250" test "$(kernel_count)" = "300 250"
ok "mxlockd alive" mxlockd_alive
ok "mxlockd stops on SIGTERM with status 0" mxlockd_stop

# net PREFIX: records and attempts of the sources in PREFIX (a summary names the network)
net_records() {
        "$PY" - "$AUDIT" "$1" "$2" "$3" <<'PY'
import ipaddress, json, sys
path, prefix, want, maxrec = sys.argv[1], ipaddress.ip_network(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
recs = n = 0
for line in open(path):
    r = json.loads(line)
    if r["event"] not in ("refused", "summary", "missed"):
        continue
    src = r.get("src") or ""
    try:
        inside = ipaddress.ip_network(src, strict=False).subnet_of(prefix) or \
            prefix.subnet_of(ipaddress.ip_network(src, strict=False))
    except (ValueError, TypeError):
        inside = False
    if inside:
        recs += 1
        n += r["count"]
print("%s: %d records account for %d attempts (want %d attempts in at most %d records)" % (prefix, recs, n, want, maxrec))
sys.exit(0 if n == want and recs <= maxrec else 1)
PY
}
ok "IPv6 /64: 300 attempts in at most 10 records" net_records 2001:db8:66::/64 300 10
ok "IPv4 /24: 250 attempts in at most 10 records" net_records 203.0.113.0/24 250 10
ok "audit: a summary names the IPv6 network" audit_has summary src=2001:db8:66::/48 fold=network
ok "audit log is one JSON object per line" audit_valid

lab_finish
