#!/usr/bin/env bash
# tests/e2e/exthdr.sh: IPv6 SYNs whose extension headers are longer than
# what the queue used to copy (256 bytes) must be refused and recorded like
# any other, in enforce mode, and observed (accepted, recorded) in monitor
# mode: no SYN to a locked port leaves without a record or a count. One so
# long that even the larger copy does not reach its TCP header is still
# recorded, by its source, from the fixed header.
. "$(dirname "$0")/../lib.sh"
require_root
require_mxlockd
"$PY" -c 'import scapy' 2>/dev/null || { skip "$MXT_NAME" "python3-scapy is not installed (tests/deps.sh)"; lab_finish; }

ok "lab up" lab_up || lab_finish
ok "a listener on port 25" listener_up "$NS_SRV" 25
cat >"$T/syn6.py" <<'PY'
# syn6.py SRC DST PAD SPORT IFACE MAC: one IPv6 SYN to DST port 25 behind a
# destination options header of about PAD bytes of options, sent on IFACE to MAC;
# prints rst, synack or none.
import sys, time
from scapy.all import AsyncSniffer, Ether, HBHOptUnknown, IPv6, IPv6ExtHdrDestOpt, TCP, sendp, conf
conf.verb = 0
src, dst, pad, sport = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
iface, mac = sys.argv[5], sys.argv[6]
opts = []
while pad > 0:
    n = min(pad, 255)
    # an unknown option whose type says "skip it" (0x1e, RFC 3692); Linux
    # refuses PadN longer than 7 bytes
    opts.append(HBHOptUnknown(otype=0x1e, optdata=b"\0" * n))
    pad -= n
p = Ether(dst=mac) / IPv6(src=src, dst=dst) / IPv6ExtHdrDestOpt(options=opts) / \
    TCP(sport=sport, dport=25, flags="S", seq=1000)
sn = AsyncSniffer(iface=iface, filter="ip6 and tcp and src port 25 and dst port %d" % sport, count=1, timeout=2)
sn.start()
time.sleep(0.3)
sendp(p, iface=iface)
sn.join()
r = sn.results
if not r:
    print("none")
elif r[0][TCP].flags & 0x04:
    print("rst")
else:
    print("synack")
PY
# the attacker's kernel must not answer the SYN-ACKs with resets of its own
in_ns "$NS_SPAM" nft -f - <<'NFT'
table inet atk { chain out { type filter hook output priority 0; policy accept; tcp flags rst drop; } }
NFT
SRV_MAC=$(ip netns exec "$NS_SRV" cat /sys/class/net/ext0/address)
syn6() { timeout 10 ip netns exec "$NS_SPAM" "$PY" "$T/syn6.py" "$SPAM6" "$EXT6" "$1" "$2" mx0 "$SRV_MAC"; }
answer_is() {
        local want=$1 got
        shift
        got=$(syn6 "$@")
        echo "SYN with $1 bytes of options from port $2: $got (want $want)"
        [ "$got" = "$want" ]
}

ok "before mxlockd: a SYN with 600 bytes of options gets a SYN-ACK" answer_is synack 600 40001

mkconf "$T/mxlock.conf" <<'CONF'
[policy inbound-smtp]
ports = 25
allow = 198.51.100.0/24 2001:db8:25::/48
CONF
ok "mxlockd starts (enforce)" mxlockd_start "$T/mxlock.conf" || lab_finish
ok "a SYN with 600 bytes of options is refused with a reset" answer_is rst 600 40002
ok "and recorded with its ports" audit_wait refused family=ipv6 src="$SPAM6" sport=40002 dport=25 dst="$EXT6"
ok "a SYN with 1400 bytes of options is refused with a reset" answer_is rst 1400 40003
ok "and recorded by its source" audit_wait refused family=ipv6 src="$SPAM6" dst="$EXT6" policy=inbound-smtp 'sport!=40002'
ok "every refused SYN is on record" test "$(audit_count refused src="$SPAM6")" = 2
ok "mxlockd stops" mxlockd_stop

mkconf "$T/mxlock.conf" mode=monitor <<'CONF'
[policy inbound-smtp]
ports = 25
allow = 198.51.100.0/24 2001:db8:25::/48
CONF
ok "mxlockd starts (monitor)" mxlockd_start "$T/mxlock.conf" || lab_finish
ok "monitor: a SYN with 600 bytes of options is accepted" answer_is synack 600 40004
ok "monitor: and observed" audit_wait observed family=ipv6 src="$SPAM6" sport=40004 dport=25
ok "monitor: a SYN with 1400 bytes of options is accepted" answer_is synack 1400 40005
ok "monitor: and observed" test "$(audit_count observed src="$SPAM6")" = 2
ok "mxlockd stops" mxlockd_stop
lab_finish
