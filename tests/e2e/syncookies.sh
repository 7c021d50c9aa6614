#!/usr/bin/env bash
# tests/e2e/syncookies.sh: with SYN cookies (tcp_syncookies = 2, per network
# namespace) a bare ACK that carries a valid cookie creates a connection at
# the listener without any SYN passing the check. The attacker here gets
# its cookie while nothing is locked (before mxlockd starts), and conntrack
# forgets the half-open connection (as it would for a cookie guessed blind);
# once mxlockd runs, the ACK must not create a connection. The gateway's
# mail still flows and its established session survives a reload.
. "$(dirname "$0")/../lib.sh"
require_root
require_mxlockd
"$PY" -c 'import scapy' 2>/dev/null || { skip "$MXT_NAME" "python3-scapy is not installed (tests/deps.sh)"; lab_finish; }
command -v conntrack >/dev/null || { skip "$MXT_NAME" "conntrack is not installed (tests/deps.sh)"; lab_finish; }

ok "lab up" lab_up || lab_finish
ok "SYN cookies always on in SRV" in_ns "$NS_SRV" sysctl -qw net.ipv4.tcp_syncookies=2
ok "postfix listening in SRV" postfix_up || lab_finish
cat >"$T/cookie.py" <<'PY'
# cookie.py syn|ack SRC DST SPORT IFACE MAC STATE: "syn" sends a SYN and
# saves the SYN-ACK's sequence number (the cookie) in STATE; "ack" sends
# the ACK that completes that handshake and prints "connected" when the
# server then speaks (Postfix's banner), else "nothing".
import sys, time
from scapy.all import AsyncSniffer, Ether, IP, TCP, sendp, conf
conf.verb = 0
what, src, dst, sport, iface, mac, state = sys.argv[1:8]
sport = int(sport)
flt = "tcp and src host %s and src port 25 and dst port %d" % (dst, sport)
if what == "syn":
    sn = AsyncSniffer(iface=iface, filter=flt, count=1, timeout=3)
    sn.start(); time.sleep(0.3)
    sendp(Ether(dst=mac) / IP(src=src, dst=dst) / TCP(sport=sport, dport=25, flags="S", seq=5000), iface=iface)
    sn.join()
    r = [p for p in sn.results if p[TCP].flags & 0x12 == 0x12]
    if not r:
        print("no SYN-ACK"); sys.exit(1)
    open(state, "w").write("%d\n" % r[0][TCP].seq)
    print("cookie", r[0][TCP].seq)
else:
    cookie = int(open(state).read())
    sn = AsyncSniffer(iface=iface, filter=flt, timeout=3)
    sn.start(); time.sleep(0.3)
    sendp(Ether(dst=mac) / IP(src=src, dst=dst) /
          TCP(sport=sport, dport=25, flags="A", seq=5001, ack=(cookie + 1) & 0xffffffff), iface=iface)
    sn.join()
    data = [p for p in sn.results if len(p[TCP].payload) > 0]
    print("connected" if data else "nothing")
PY
# the attacker's kernel must not reset the handshake it does not know about
in_ns "$NS_SPAM" nft -f - <<'NFT'
table inet atk { chain out { type filter hook output priority 0; policy accept; tcp flags rst drop; } }
NFT
SRV_MAC=$(ip netns exec "$NS_SRV" cat /sys/class/net/ext0/address)
cookie() { timeout 15 ip netns exec "$NS_SPAM" "$PY" "$T/cookie.py" "$1" "$SPAM4" "$EXT4" "$2" mx0 "$SRV_MAC" "$T/cookie.$2"; }
ack_gives() {
        local got
        got=$(cookie ack "$2")
        echo "ACK with the cookie from port $2: $got (want $1)"
        [ "$got" = "$1" ]
}
forget() { in_ns "$NS_SRV" conntrack -F >/dev/null 2>&1; return 0; }

# Without mxlockd: the cookie ACK does create a connection (the attack works).
ok "a cookie for port 41001" cookie syn 41001
ok "without mxlockd the cookie's ACK connects" ack_gives connected 41001

ok "a cookie for port 41002 while nothing is locked yet" cookie syn 41002
mkconf "$T/mxlock.conf" <<'CONF'
[policy inbound-smtp]
ports = 25
allow = 198.51.100.0/24 2001:db8:25::/48
CONF
ip netns exec "$NS_GW" "$PY" "$T/hold.py" "$SRV4" "$T/go" "$T/held" >/dev/null 2>&1 &
track $!
ok "the gateway holds a session open" wait_until 10 test -e "$T/held.open"
ok "mxlockd starts" mxlockd_start "$T/mxlock.conf" || lab_finish
forget
ok "with mxlockd the cookie's ACK creates no connection" ack_gives nothing 41002
ok "a SYN from the attacker is refused" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
ok "gateway mail delivered (cookies on)" deliver "$NS_GW" "$SRV4"
ok "gateway mail delivered over IPv6 (cookies on)" deliver "$NS_GW" "$SRV6"
ok "reload" mxlockd_reload
ok "gateway mail delivered after the reload" deliver "$NS_GW" "$SRV4"
touch "$T/go"
ok "the gateway's session opened before start survives start and reload" \
        sh -c "for i in \$(seq 50); do [ -s '$T/held' ] && break; sleep 0.1; done; grep -qx alive '$T/held'"
ok "mxlockd stops cleanly" mxlockd_stop
lab_finish
