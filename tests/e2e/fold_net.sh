#!/usr/bin/env bash
# tests/e2e/fold_net.sh: one record per distinct source must not fill the
# disk. 300 SYNs from 300 addresses of one IPv6 /64, and 250 from 250
# addresses of one IPv4 /24 (scapy, from the direct sender's side): a few
# individual records, then one summary for the network; the counts still
# add up exactly to the kernel's count (a counter in a table of the test's
# own, before routing). Then 3 s of trafgen: every SYN from a new source
# in its own /48, mixed with 256 sources repeating themselves (kernel
# offenders): no second of the log holds more than the budget (100
# records, plus the rate summaries and queue-overflow records), and the
# counts still add up.
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

# ---- a distinct-source flood with repeat offenders ---------------------------
if ! command -v trafgen >/dev/null; then
        skip "distinct-source flood" "trafgen missing: run tests/deps.sh"
        lab_finish
fi
M_SRV=$(ip netns exec "$NS_SRV" cat /sys/class/net/ext0/address | sed 's/^/0x/; s/:/, 0x/g')
M_SPAM=$(ip netns exec "$NS_SPAM" cat /sys/class/net/mx0/address | sed 's/^/0x/; s/:/, 0x/g')
cat >"$T/mix.cfg" <<CFG
{ $M_SRV, $M_SPAM, const16(0x86dd), 0x60, 0, 0, 0, const16(20), 6, 64,
  0x20, 0x01, 0x0d, 0xb8, drnd(12),
  0x20, 0x01, 0x0d, 0xb8, 0, 0x66, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
  drnd(2), const16(25), drnd(4), const32(0), 0x50, 0x02, const16(64240), csumtcp6(14, 54), const16(0) }
{ $M_SRV, $M_SPAM, const16(0x86dd), 0x60, 0, 0, 0, const16(20), 6, 64,
  0x20, 0x01, 0x0d, 0xb8, 0, 0x66, 0, 0, 0, 0, 0, 0, 0, 1, 0, drnd(1),
  0x20, 0x01, 0x0d, 0xb8, 0, 0x66, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
  drnd(2), const16(25), drnd(4), const32(0), 0x50, 0x02, const16(64240), csumtcp6(14, 54), const16(0) }
CFG
nft_srv flush table inet mxtcount
# (a random source may fall in the allowed 2001:db8:25::/48: the kernel accepts those)
nft_srv add rule inet mxtcount pre iifname ext0 ip6 saddr != 2001:db8:25::/48 tcp dport 25 \
        tcp flags \& \(fin \| syn \| rst \| ack\) == syn counter
: >"$AUDIT"
ok "mxlockd restarts" mxlockd_start "$T/mxlock.conf" || lab_finish
mix() {
        timeout -s INT 3 ip netns exec "$NS_SPAM" trafgen --no-sock-mem --notouch-irq --cpus 1 -o mx0 \
                -i "$T/mix.cfg" >"$T/trafgen.out" 2>&1
        grep "packets outgoing" "$T/trafgen.out" || { tail -n 3 "$T/trafgen.out"; false; }
}
ok "3 s of SYNs: each from a new /48, and from 256 repeating sources" mix
sleep 2
ok "mxlockd stops on SIGTERM with status 0" mxlockd_stop
per_second() {
        "$PY" - "$AUDIT" "$(kernel_count)" <<'PY'
import collections, json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
att = [r for r in recs if r["event"] in ("refused", "summary", "missed")]
total, kernel = sum(r["count"] for r in att), int(sys.argv[2])
# What the fold table and the kernel offenders write draws from the budget;
# the rate summaries (two per family a second at most) and the queue's
# missed records come on top. The second of the stop is left out: stopping
# writes every remaining offender's summary at once (at most 1024).
stop = [r["ts"][:19] for r in recs if r["event"] == "stop"][-1]
budgeted = collections.Counter(r["ts"][:19] for r in att if r["ts"][:19] != stop and
                               (r["event"] == "refused" or (r["event"] == "summary" and r.get("fold") != "rate")))
other = collections.Counter(r["ts"][:19] for r in att if r["event"] == "missed" or r.get("fold") == "rate")
kernel_by = sum(r["count"] for r in att if r.get("refused_by") == "kernel")
print("kernel counted %d SYNs, the log %d (%+d) in %d records (%d refused in the kernel as offenders); "
      "busiest second: %d budgeted records, %d others" % (kernel, total, total - kernel, len(att), kernel_by,
      max(budgeted.values()), max(other.values() or [0])))
sys.exit(0 if total == kernel and max(budgeted.values()) <= 100
         and max(other.values() or [0]) <= 6 and kernel_by > 0 else 1)
PY
}
ok "no second over 100 budgeted records (+ at most 6 rate/missed); counts add up to the kernel's" per_second
ok "audit log is one JSON object per line" audit_valid

lab_finish
