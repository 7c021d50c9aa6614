#!/usr/bin/env bash
# tests/e2e/audit.sh: an audit trail that adds up, and the tools to read it.
#
# - a flood (trafgen, random sources, overflowing the queue) plus repeat
#   offenders (hping3, fixed sources): the counts in the audit log add up
#   exactly to an independent kernel counter in a table of the test's own;
# - SIGKILL, attempts while nothing reads the queue, restart: a `missed`
#   record with exactly that count, and nothing written twice;
# - SIGUSR1 rotation under a steady stream: no record lost or duplicated;
# - the metrics file passes `promtool check metrics`;
# - the control socket refuses an unprivileged user, also when the file
#   permissions would let it in, and lets a control_group member in;
# - status, explain and report agree with the log.
# e2e-timeout: 240
. "$(dirname "$0")/../lib.sh"
require_root
require_mxlockd
for t in trafgen hping3 promtool setpriv; do
        command -v $t >/dev/null || { echo "skip - audit (missing $t: run tests/deps.sh)"; exit 0; }
done
MXLOCK=${MXLOCK:-$MXT_ROOT/build/mxlock}

ok "lab up" lab_up || lab_finish

# The test's own count of the SYNs to port 25 that mxlockd must account
# for: "the kernel's counter", in a table of the test's own.
# - A: at input (after routing, which drops random sources that are martians)
#   every SYN from outside the gateway's range;
# - B and C: the repeat offenders' SYNs before routing and at input: mxlockd
#   refuses them in prerouting once it knows them, so B - C never reach input.
# The total is A + B - C.
OFF="203.0.113.11-203.0.113.14"
nft_srv -f - <<EOF
table inet mxtcount {
	chain pre {
		type filter hook prerouting priority -400; policy accept;
		meta nfproto ipv4 tcp dport 25 tcp flags & (fin | syn | rst | ack) == syn ip saddr $OFF counter
	}
	chain in {
		type filter hook input priority -300; policy accept;
		meta nfproto ipv4 tcp dport 25 tcp flags & (fin | syn | rst | ack) == syn ip saddr != 198.51.100.0/24 counter
		meta nfproto ipv4 tcp dport 25 tcp flags & (fin | syn | rst | ack) == syn ip saddr $OFF counter
	}
}
EOF
kernel_count() {
        nft_srv list table inet mxtcount | awk '/counter packets/ { for (i = 1; i < NF; i++) if ($i == "packets") v[n++] = $(i + 1) }
                END { print v[1] + v[0] - v[2] }'
}

CTL_GROUP=mail
mkconf "$T/mxlock.conf" metrics_file="$T/mxlock.prom" metrics_interval=1 control_group=$CTL_GROUP <<'CONF'
[policy inbound-smtp]
ports = 25
allow = 198.51.100.0/24 2001:db8:25::/48
CONF
ok "mxlockd starts" mxlockd_start "$T/mxlock.conf" || lab_finish

# Sum of count over the records that account for refused attempts.
audit_total() {
        "$PY" - "$@" <<'EOF'
import json, sys
n = 0
for path in sys.argv[1:]:
    for line in open(path):
        r = json.loads(line)
        if r["event"] in ("refused", "summary", "missed"):
            n += r["count"]
print(n)
EOF
}

adds_up() {
        local k a
        k=$(kernel_count)
        a=$(audit_total "$AUDIT")
        echo "kernel counted $k SYNs, the audit log accounts for $a"
        [ -n "$k" ] && [ "$k" -gt 0 ] && [ "$k" = "$a" ]
}

# ---- flood ------------------------------------------------------------------
SRV_MAC=$(ip netns exec "$NS_SRV" cat /sys/class/net/ext0/address)
SPAM_MAC=$(ip netns exec "$NS_SPAM" cat /sys/class/net/mx0/address)
cat >"$T/syn.cfg" <<EOF
{ eth(da=$SRV_MAC, sa=$SPAM_MAC, type=0x0800), ipv4(saddr=drnd(), daddr=$EXT4, ttl=64, df), tcp(sp=drnd(), dp=25, seq=drnd(), syn, win=64240), }
EOF
flood() {
        local i pids=()
        for i in 11 12 13 14; do
                timeout 4 ip netns exec "$NS_SPAM" hping3 -q -S -p 25 -i u50 -a 203.0.113.$i "$EXT4" >/dev/null 2>&1 &
                pids+=($!)
        done
        # mxlockd stops reading mid-flood while 20000 more SYNs from random
        # sources arrive, so the queue (16384) overflows however fast or
        # busy this machine is
        (
                sleep 1
                kill -STOP "$MXLOCKD_PID"
                timeout 20 ip netns exec "$NS_SPAM" hping3 -q -S -p 25 -i u20 -c 20000 --rand-source "$EXT4" \
                        >/dev/null 2>&1
                kill -CONT "$MXLOCKD_PID"
        ) &
        pids+=($!)
        timeout -s INT 3 ip netns exec "$NS_SPAM" trafgen --no-sock-mem --notouch-irq --cpus 1 -o mx0 \
                -i "$T/syn.cfg" >"$T/trafgen.out" 2>&1
        wait "${pids[@]}"
        tail -n 3 "$T/trafgen.out"
}
ok "a 3 s flood: random sources and 4 repeat offenders; mxlockd paused for 1 s of it" flood
ok "the audit log adds up to the kernel's count within 30 s" wait_until 30 adds_up
ok "repeat offenders were refused in the kernel and counted per source" \
        audit_has summary refused_by=kernel src=203.0.113.11
ok "the flood overflowed the queue and that is written as missed" audit_has missed
ok "every line is valid JSON" audit_valid
ok "mxlockd alive after the flood" mxlockd_alive

# ---- missed after SIGKILL --------------------------------------------------
ok "SIGKILL mxlockd" mxlockd_kill9
before=$(kernel_count)
send50() {
        # hping3 exits 1 when nothing answers, which is the point here
        timeout 10 ip netns exec "$NS_SPAM" hping3 -q -S -p 25 -i u2000 -c 50 -a 192.0.2.77 "$EXT4" 2>&1 |
                grep "50 packets transmitted, 0 packets received"
}
ok "50 SYNs from 192.0.2.77 while nothing reads the queue, none answered" send50
ok "mxlockd restarts" mxlockd_start "$T/mxlock.conf"
missed_after_restart() {
        "$PY" - "$AUDIT" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
starts = [i for i, r in enumerate(recs) if r["event"] == "start"]
after = recs[starts[-1] - 1:] if len(starts) > 1 else []
m = [r for r in recs[starts[-2]:] if r["event"] == "missed" and "not reading" in r.get("reason", "")]
print(m)
sys.exit(0 if len(m) == 1 and m[0]["count"] == 50 else 1)
EOF
}
ok "a missed record counts exactly the 50 attempts" missed_after_restart
ok "still adds up after the restart" wait_until 15 adds_up

# ---- SIGUSR1 rotation -------------------------------------------------------
stream() {
        timeout 20 ip netns exec "$NS_SPAM" hping3 -q -S -p 25 -i u10000 -c 400 --rand-source "$EXT4" >/dev/null 2>&1
}
stream &
SPID=$!
sleep 2
mv "$AUDIT" "$AUDIT.1"
ok "SIGUSR1 reopens the log" kill -USR1 "$MXLOCKD_PID"
wait $SPID
new_file_written() { [ -s "$AUDIT" ]; }
ok "records go to the new file" wait_until 5 new_file_written
no_loss_no_dup() {
        "$PY" - "$AUDIT.1" "$AUDIT" <<'EOF'
import json, sys
seen = {}
for path in sys.argv[1:]:
    for line in open(path):
        r = json.loads(line)
        if r["event"] == "refused" and r.get("sport") is not None:
            key = (r["src"], r["sport"], r["ts"])
            seen[key] = seen.get(key, 0) + 1
dups = [k for k, n in seen.items() if n > 1]
print(len(seen), "refused records,", len(dups), "duplicated")
sys.exit(1 if dups else 0)
EOF
}
ok "no record duplicated across the rotation" no_loss_no_dup
adds_up_rotated() {
        local k a
        k=$(kernel_count)
        a=$(audit_total "$AUDIT.1" "$AUDIT")
        echo "kernel counted $k SYNs, both files account for $a"
        [ "$k" = "$a" ]
}
ok "no record lost across the rotation (both files add up)" wait_until 15 adds_up_rotated

# ---- metrics ----------------------------------------------------------------
metrics_ok() {
        [ -s "$T/mxlock.prom" ] || return 1
        promtool check metrics <"$T/mxlock.prom" && grep -q '^mxlock_attempts_total{policy="inbound-smtp",direction="inbound",outcome="refused"} [1-9]' "$T/mxlock.prom"
}
ok "the metrics file passes promtool check metrics" wait_until 5 metrics_ok

# ---- control socket ---------------------------------------------------------
SOCK=$T/mxlock.sock
ok "root: mxlock status works" ip netns exec "$NS_SRV" "$MXLOCK" -c "$T/mxlock.conf" status
nobody_refused() {
        local out
        out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$MXLOCK" -c "$T/mxlock.conf" status 2>&1)
        local rc=$?
        echo "$out"
        [ $rc -ne 0 ] && grep -qi "permission denied" <<<"$out"
}
ok "an unprivileged user is refused" nobody_refused
chmod 0666 "$SOCK"
ok "refused by peer credentials even when the socket file is world-writable" nobody_refused
chmod 0660 "$SOCK"
GID=$(getent group $CTL_GROUP | cut -d: -f3)
ok "a member of control_group may ask for status" \
        setpriv --reuid=65534 --regid=65534 --groups="$GID" "$MXLOCK" -c "$T/mxlock.conf" status --json

# ---- status, explain, report ------------------------------------------------
status_counts() {
        ip netns exec "$NS_SRV" "$MXLOCK" -c "$T/mxlock.conf" status --json | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
p = s["policies"][0]
print(s["mode"], s["refused"], p["name"], p["allow_v4"], p.get("kernel_allow_v4"))
assert s["ok"] and s["mode"] == "enforce" and s["refused"] > 0
assert p["name"] == "inbound-smtp" and p["kernel_allow_v4"] == 1 and p["kernel_allow_v6"] == 1'
}
ok "status --json: mode, counters, live set sizes" status_counts
explain_refused() {
        local out
        out=$(ip netns exec "$NS_SRV" "$MXLOCK" -c "$T/mxlock.conf" explain "$SPAM4")
        echo "$out"
        grep -q "refused by policy inbound-smtp: not in any allowed range" <<<"$out"
}
ok "explain says why the direct sender is refused" explain_refused
explain_allowed() {
        local out
        out=$(ip netns exec "$NS_SRV" "$MXLOCK" -c "$T/mxlock.conf" explain 2001:db8:25::10 25)
        echo "$out"
        grep -q "accepted by policy inbound-smtp" <<<"$out" && grep -q "allow 198.51.100.0/24 2001:db8:25::/48\|allow 2001:db8:25::/48" <<<"$out"
}
ok "explain names the allow entry for the gateway (IPv6)" explain_allowed
report_agrees() {
        "$MXLOCK" report --format json "$AUDIT.1" "$AUDIT" >"$T/report.json" || return 1
        "$PY" - "$T/report.json" "$(audit_total "$AUDIT.1" "$AUDIT")" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
want = int(sys.argv[2])
def find(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if k in ("attempts", "total_attempts") and isinstance(v, int):
                yield v
            yield from find(v)
got = list(find(r))
print("report attempts figures:", got[:5], "audit total:", want)
sys.exit(0 if want in got else 1)
EOF
}
ok "report --format json totals match the log" report_agrees
ok "report --format html is one file with an SVG timeline" \
        sh -c "'$MXLOCK' report --format html '$AUDIT.1' '$AUDIT' | grep -q '<svg'"

ok "mxlockd stops cleanly" mxlockd_stop
nft_srv delete table inet mxtcount
lab_finish
