#!/usr/bin/env bash
# tests/e2e/outbound_bypass.sh: the outbound lock tried as a local attacker
# would. On the mail host (SRV), with [outbound smarthost] allowing only
# postfix to the smarthost (GW): a web application's user (www-data)
# reaching an outside MX through an IPv4-mapped IPv6 address, a TCP Fast
# Open SYN that carries data, a SYN with ECN flags, or root crafting a SYN
# on a raw socket, is refused at once and recorded with its uid; a reload
# that drops postfix from users refuses postfix's new connections but
# leaves the one it has open; removing the section removes the output
# hook (outbound traffic is touched only where a section asks); the
# records add up to the kernel's count of queued outbound attempts; and
# while mxlockd is stopped (failure = closed) a refused program still
# fails at once, its attempt a missed record at the next start.
# e2e-timeout: 120
. "$(dirname "$0")/../lib.sh"
require_root
require_mxlockd
id www-data >/dev/null 2>&1 && id postfix >/dev/null 2>&1 ||
        { skip "$MXT_NAME" "users www-data and postfix are needed (tests/deps.sh installs postfix)"; lab_finish; }

ok "lab up" lab_up || lab_finish
ok "listeners on port 25: the outside MX and the smarthost" \
        eval 'listener_up "$NS_SPAM" 25 && listener_up "$NS_GW" 25'
# a listener that keeps what it accepts (reads until the client closes)
cat >"$T/keep.py" <<'EOF'
import socket, threading
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 587))
s.listen(8)
def drain(c):
    while c.recv(4096):
        pass
while True:
    c, _ = s.accept()
    threading.Thread(target=drain, args=(c,), daemon=True).start()
EOF
ip netns exec "$NS_GW" "$PY" "$T/keep.py" &
track $!
ok "a listener at the smarthost that keeps its connections (port 587)" wait_until 5 listening "$NS_GW" 587
cat >"$T/conn.py" <<'EOF'
# conn.py MODE DST PORT: one connect as the calling user; prints RESULT MS.
# MODE: plain, fastopen (the SYN carries data: sendto MSG_FASTOPEN),
# hold (connect, print, then keep the connection until stdin closes and
# report whether it is still alive: one byte sent, no reset).
import errno, signal, socket, sys, time
mode, dst, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET, socket.SOCK_STREAM)
if mode == "fastopen":
    signal.alarm(5)     # blocking: sendto waits for the handshake
else:
    s.settimeout(5)
t = time.monotonic()
try:
    if mode == "fastopen":
        s.sendto(b"EHLO x\r\n", socket.MSG_FASTOPEN, (dst, port))
        s.recv(1)
    else:
        s.connect((dst, port))
    r = "connected"
except ConnectionRefusedError:
    r = "refused"
except ConnectionResetError:
    r = "refused"
except socket.timeout:
    r = "timeout"
except OSError as e:
    r = "error:" + errno.errorcode.get(e.errno, str(e.errno))
print(r, int((time.monotonic() - t) * 1000), flush=True)
if mode == "hold" and r == "connected":
    sys.stdin.read()
    try:
        s.send(b"x")
        time.sleep(0.2)
        s.send(b"x")
        print("alive", flush=True)
    except OSError as e:
        print("dead:", e, flush=True)
EOF
chmod 644 "$T/conn.py"
# conn_as USER MODE DST PORT WANT [MAX_MS]: conn.py in SRV as USER ends as WANT.
conn_as() {
        local user=$1 mode=$2 dst=$3 port=$4 want=$5 max=${6:-1000} out res ms
        out=$(timeout 20 ip netns exec "$NS_SRV" setpriv --reuid="$user" --regid="$user" --clear-groups \
                "$PY" "$T/conn.py" "$mode" "$dst" "$port")
        read -r res ms <<<"$out"
        echo "$user $mode to $dst port $port: $res in $ms ms (want $want < $max ms)"
        [ "$res" = "$want" ] && [ "$ms" -lt "$max" ]
}
WWW=$(id -u www-data)

write_conf() {
        mkconf "$T/mxlock.conf" <<EOF
[policy inbound-smtp]
ports = 25
allow = $GW4 $GW6

$1
EOF
}
write_conf "[outbound smarthost]
ports = 25, 465, 587
to = $GW4 $GW6
users = postfix"
ok "mxlockd starts with [outbound smarthost]" mxlockd_start "$T/mxlock.conf" || lab_finish
ok "postfix reaches the smarthost" conn_as postfix plain "$GW4" 25 connected

ok "www-data to ::ffff:$SPAM4 (IPv4-mapped) is refused at once" conn_as www-data plain "::ffff:$SPAM4" 25 refused
ok "its record: an IPv4 attempt to $SPAM4, uid $WWW" \
        audit_wait refused direction=outbound family=ipv4 dst="$SPAM4" uid="$WWW" user=www-data
ok "www-data with a TCP Fast Open SYN carrying data is refused at once" conn_as www-data fastopen "$SPAM4" 25 refused
ip netns exec "$NS_SRV" sysctl -qw net.ipv4.tcp_ecn=1
ok "www-data with an ECN SYN (ECE, CWR set) is refused at once" conn_as www-data plain "$SPAM4" 587 refused
ip netns exec "$NS_SRV" sysctl -qw net.ipv4.tcp_ecn=2
ok "its record says port 587" audit_wait refused direction=outbound dport=587 uid="$WWW"
ok "postfix through ::ffff:$SPAM4 (not an allowed destination) is refused" \
        conn_as postfix plain "::ffff:$SPAM4" 25 refused
ok "its record says destination-not-allowed" \
        audit_wait refused direction=outbound user=postfix reason=destination-not-allowed dst="$SPAM4"

if "$PY" -c 'import scapy' 2>/dev/null; then
        # an IP raw socket (IP_HDRINCL) goes through the output hook; a
        # packet socket (AF_PACKET) would not, nor any netfilter hook: a
        # process with CAP_NET_RAW is beyond the lock (README says so)
        raw_syn() {
                ip netns exec "$NS_SRV" "$PY" - "$EXT4" "$SPAM4" <<'EOF'
import sys
from scapy.all import IP, TCP, conf, L3RawSocket
conf.verb = 0
s = L3RawSocket()
s.send(IP(src=sys.argv[1], dst=sys.argv[2]) / TCP(sport=40999, dport=25, flags="S", seq=1))
EOF
        }
        ok "root crafting a SYN on an IP raw socket (scapy, IP_HDRINCL)" raw_syn
        ok "is queued and recorded as uid 0" \
                audit_wait refused direction=outbound sport=40999 dst="$SPAM4" uid=0 reason=user-not-allowed
else
        skip "raw SYN" "python3-scapy is not installed (tests/deps.sh)"
fi

# A reload that takes postfix off the list: new connections are refused,
# the open one stays (established connections are never disturbed).
mkfifo "$T/hold.in"
ip netns exec "$NS_SRV" setpriv --reuid=postfix --regid=postfix --clear-groups \
        "$PY" "$T/conn.py" hold "$GW4" 587 <"$T/hold.in" >"$T/hold.out" 2>&1 &
HOLD=$!
track $HOLD
exec 9>"$T/hold.in"
ok "postfix holds a connection to the smarthost" wait_until 5 grep -q '^connected' "$T/hold.out"
write_conf "[outbound smarthost]
ports = 25, 465, 587
to = $GW4 $GW6
users = www-data"
ok "reload: users = www-data" mxlockd_reload
ok "postfix's new connection is refused" conn_as postfix plain "$GW4" 25 refused
ok "www-data now reaches the smarthost" conn_as www-data plain "$GW4" 25 connected
exec 9>&-
ok "postfix's open connection survived the reload" eval 'wait_until 5 grep -q "^alive" "$T/hold.out"; cat "$T/hold.out"; grep -q "^alive" "$T/hold.out"'

# The counts add up: every outbound attempt the kernel queued is in a record.
queued_out() {
        nft_srv list counter inet "$TABLE" queued_smarthost | awk '/packets/ { print $2 }'
}
counts_add_up() {
        local k a
        k=$(queued_out)
        a=$(( $(audit_sum count refused direction=outbound) + $(audit_sum count summary direction=outbound) ))
        echo "kernel queued $k outbound attempts; the audit log holds $a"
        [ "$k" -gt 0 ] && [ "$k" = "$a" ]
}
ok "the outbound records add up to the kernel's queued counter" wait_until 5 counts_add_up

# Removing the section removes the output hook: nothing outbound is touched.
write_conf ""
ok "reload without the outbound section" mxlockd_reload
ok "no output chain in the table" eval '! nft_srv list chain inet "$TABLE" output >/dev/null 2>&1'
ok "www-data reaches the outside MX" conn_as www-data plain "$SPAM4" 25 connected
ok "the inbound lock still holds" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000

# While mxlockd is stopped the kernel keeps the lock (failure = closed),
# and a refused program still fails at once; with failure = open it passes.
write_conf "[outbound smarthost]
ports = 25, 465, 587
to = $GW4 $GW6
users = postfix"
ok "reload with the section back" mxlockd_reload
ok "mxlockd stops (failure = closed)" mxlockd_stop
ok "stopped: www-data to the outside MX is refused at once" conn_as www-data plain "$SPAM4" 25 refused
ok "stopped: postfix still reaches the smarthost" conn_as postfix plain "$GW4" 25 connected
ok "mxlockd starts again" mxlockd_start "$T/mxlock.conf"
ok "the attempt made while it was stopped is a missed record of the outbound section" \
        audit_wait missed direction=outbound policy=smarthost count=1
sed -i 's/^failure = closed/failure = open/' "$T/mxlock.conf"
ok "reload with failure = open" mxlockd_reload
ok "mxlockd stops (failure = open)" mxlockd_stop
ok "stopped, failure = open: www-data reaches the outside MX" conn_as www-data plain "$SPAM4" 25 connected
lab_finish
