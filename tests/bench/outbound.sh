#!/usr/bin/env bash
# tests/bench/outbound.sh: the outbound lock's benchmarks (root, network
# namespaces), each against its baseline in the same run, in the rows of
# tests/bench/run.sh (goals O1, O2; see that file for the row format).
#
#   O1  an allowed outbound connection (a listed user to an allowed
#       destination): connects per second with mxlockd's table against the
#       same table dormant, which is goal 5's method (states in short
#       windows that take turns, the median of the rounds' ratios; a
#       dormant table keeps connection tracking on, as every mail host's
#       firewall does). Goal: ratio >= 0.95. Row O1a: against no table at
#       all, connection tracking included; O1c: connection tracking alone.
#   O2  refused outbound attempts with full attribution: an unlisted user's
#       non-blocking connects to port 25 of an outside address, as fast as
#       one client can with OB_INFLIGHT outstanding: refusals per second,
#       against the same client refused by the far end's TCP stack (closed
#       port, no table). Goal: >= 1000 refused/s, and the audit log
#       (refused and summary records, direction outbound) adds up to the
#       attempts the client made.
#   O2l the p99 of connect() to the refusal at a steady offered OB_RATE
#       (1000) attempts a second, the goal's rate, against the same with no
#       table. Goal: <= 5 ms. (O2m: the p99 of O2's runs, information: with
#       connects outstanding a refusal also waits for those ahead of it.)
#
# Lab: its own two namespaces joined by one veth (documentation addresses):
#
#     SRV  o0 192.0.2.1/30   mxlockd, the clients (outconn.c), default via GEN
#      |
#     GEN  o1 192.0.2.2/30   the smarthost: a listener on port 25 (O1)
#             203.0.113.25   an MX on the internet: port 25 closed (O2)
#
# CPUs (2 here): the client on CPU 0, where the whole connection's kernel
# path runs too (a veth delivers in the sender's context); mxlockd, the
# listener and this script on CPU 1.
#
# Latency: the O2 runs keep every CPU out of halt with an idle-class spinner
# each (tests/edgelib.sh's cpus_awake, for the reason given there: on this
# virtual machine a halted vCPU's wake-up alone costs about 6 ms, and a
# refusal needs two cross-CPU wake-ups, mxlockd's and the client's), for
# the mxlockd runs and the baseline runs alike; OB_AWAKE=0 turns that off.
#
# Environment: BENCH_QUICK=1 (fewer rounds, shorter runs), OB_ROUNDS1 (30),
# OB_WINDOW1_MS (200), OB_ROUNDS2 (2), OB_SECONDS (3), OB_INFLIGHT (16),
# OB_RATE (1000), OB_GOALS (12: which of O1 and O2 to run), OB_AWAKE
# (1), OB_ROWS (append the rows there and print no table: run.sh's phase O),
# BENCH_OUT (the JSON when run alone), KEEP=1 (keep the work dir).
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BB=$BUILD/bench
MXLOCKD=${MXLOCKD:-$BUILD/mxlockd}
PY=/usr/bin/python3
HERE=$ROOT/tests/bench
# shellcheck disable=SC2034  # read by lib.sh
BENCH_NAME=bench-outbound
. "$HERE/lib.sh"
if [ "${BENCH_QUICK:-0}" = 1 ]; then
        ROUNDS1=${OB_ROUNDS1:-10}
        ROUNDS2=${OB_ROUNDS2:-1}
        SECS=${OB_SECONDS:-2}
        OUT=${BENCH_OUT:-$BB/results-outbound-quick.json}
else
        ROUNDS1=${OB_ROUNDS1:-30}
        ROUNDS2=${OB_ROUNDS2:-2}
        SECS=${OB_SECONDS:-3}
        OUT=${BENCH_OUT:-$BB/results-outbound.json}
fi
WIN1_MS=${OB_WINDOW1_MS:-200}
INFLIGHT=${OB_INFLIGHT:-16}
RATE=${OB_RATE:-1000}
AWAKE=${OB_AWAKE:-1}
GOALS=${OB_GOALS:-12}
goal() { case $GOALS in *$1*) return 0 ;; esac; return 1; }
PIN_CLIENT="taskset -c 0"
PIN_DAEMON="taskset -c 1"
if [ "$(nproc)" -lt 2 ]; then
        PIN_CLIENT=
        PIN_DAEMON=
fi
QUEUE=25
POLICY=smarthost
NS_SRV=mxo$$-srv
NS_GEN=mxo$$-gen
SRV4=192.0.2.1 GEN4=192.0.2.2 MX4=203.0.113.25
LISTED=64025            # the uid the section lists (it needs no passwd entry)
UNLISTED=65534          # nobody
W=
MXPID=
BGPIDS=()
SPIN=()
CG_SLICE=
CG_UNIT=

jget() { "$PY" -c 'import json, sys
v = json.loads(sys.argv[1])
for k in sys.argv[2].split("."):
    v = v[k]
print("" if v is None else v)' "$1" "$2" 2>/dev/null; }

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces): sudo make bench"
for t in ip nft nsenter taskset chrt gcc awk; do
        command -v "$t" >/dev/null 2>&1 || die "missing $t (run tests/deps.sh)"
done
[ -x "$MXLOCKD" ] || die "$MXLOCKD is not built: run make"

# ---- cleanup ------------------------------------------------------------------


cleanup() {
        local rc=$? ns pid
        set +e
        trap - EXIT
        stop_pid "$MXPID"
        for pid in "${SPIN[@]}" "${BGPIDS[@]}"; do
                stop_pid "$pid"
        done
        for ns in "$NS_SRV" "$NS_GEN"; do
                [ -e "/run/netns/$ns" ] || continue
                for pid in $(ip netns pids "$ns" 2>/dev/null); do
                        kill -KILL "$pid" 2>/dev/null
                done
                ip netns exec "$ns" nft flush ruleset 2>/dev/null
                ip netns del "$ns" 2>/dev/null
        done
        [ -n "$CG_UNIT" ] && rmdir "$CG_UNIT" 2>/dev/null
        [ -n "$CG_SLICE" ] && rmdir "$CG_SLICE" 2>/dev/null
        if [ -n "$W" ] && [ -d "$W" ]; then
                if [ "${KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then
                        say "kept $W"
                else
                        rm -rf "$W"
                fi
        fi
        exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

W=$(mktemp -d /tmp/mxlock-obench.XXXXXX)
chmod 755 "$W"
ROWS=${OB_ROWS:-$W/rows.jsonl}
[ -n "${OB_ROWS:-}" ] || : >"$ROWS"

# ---- the client ---------------------------------------------------------------

mkdir -p "$BB"
OUTCONN=$BB/outconn
if [ ! -x "$OUTCONN" ] || [ "$HERE/outconn.c" -nt "$OUTCONN" ]; then
        gcc -std=gnu11 -O2 -Wall -Wextra -Werror -o "$OUTCONN" "$HERE/outconn.c" || die "building outconn failed"
fi
mkdir -p "$W/prov"
cp "$ROOT"/rules/providers/*.conf "$W/prov/"

# ---- the lab ------------------------------------------------------------------

lab_up() {
        local srv_mac gen_mac
        ip netns add "$NS_SRV" && ip netns add "$NS_GEN" || return 1
        ip link add name o0 netns "$NS_SRV" type veth peer name o1 netns "$NS_GEN" || return 1
        in_srv ip link set lo up
        in_gen ip link set lo up
        in_srv ip addr add $SRV4/30 dev o0
        in_gen ip addr add $GEN4/30 dev o1
        in_gen ip addr add $MX4/32 dev o1
        in_srv ip link set o0 up
        in_gen ip link set o1 up
        srv_mac=$(in_srv cat /sys/class/net/o0/address)
        gen_mac=$(in_gen cat /sys/class/net/o1/address)
        in_srv ip neigh replace $GEN4 lladdr "$gen_mac" dev o0 nud permanent
        in_gen ip neigh replace $SRV4 lladdr "$srv_mac" dev o1 nud permanent
        in_srv ip route add default via $GEN4 dev o0
        # every SYN to port 25 this host sends, before anything else sees it
        in_srv nft -f - <<'EOF' || return 1
table inet mxobench {
        counter syn { }
        chain out {
                type filter hook output priority -400; policy accept;
                tcp dport 25 tcp flags & (fin | syn | rst | ack) == syn counter name "syn"
        }
}
EOF
}

# ctr TABLE NAME: packets of a named counter in SRV (0 if none).
ctr() {
        in_srv nft list table inet "$1" 2>/dev/null |
                awk -v k="$2" '$1 == "counter" && $3 == "{" { c = $2 }
                        $1 == "packets" && c == k { print $2; f = 1 } END { if (!f) print 0 }'
}
nfq_waiting() {
        in_srv awk -v q=$QUEUE '$1 == q { print $3; f = 1 } END { if (!f) print 0 }' /proc/net/netfilter/nfnetlink_queue
}

# ---- mxlockd ------------------------------------------------------------------

# mkconf FILE: the shipped shape: an inbound policy for port 25 and the
# outbound lock for the submission and relay ports, the smarthost and a
# provider's ranges allowed, one listed user.
mkconf() {
        cat >"$1" <<EOF
# written by tests/bench/outbound.sh
[daemon]
mode = enforce
action = reject
failure = closed
queue = $QUEUE
table = mxlock
audit_log = ${1%.conf}.audit.jsonl
provider_dirs = $W/prov
control_socket = $W/ctl.sock

[policy inbound-smtp]
ports = 25
providers = gfi-oneconnect
allow = 198.51.100.0/24

[outbound $POLICY]
ports = 25, 465, 587
to = $GEN4
providers = mimecast-de
users = $LISTED
EOF
}

# mx_start CONF: mxlockd in SRV with a fresh audit log, up to its start
# record. Through nsenter, not `ip netns exec`: that one mounts a fresh
# sysfs over /sys, without the cgroup trees under it, and mxlockd would
# find no cgroup to name a unit by.
mx_start() {
        local conf=$1 audit
        audit=$(audit_of "$conf")
        : >"$audit"
        $PIN_DAEMON nsenter --net="/run/netns/$NS_SRV" "$MXLOCKD" -c "$conf" 2>>"${conf%.conf}.err" &
        MXPID=$!
        for _ in $(seq 300); do
                grep -q '"event":"start"' "$audit" 2>/dev/null && return 0
                kill -0 "$MXPID" 2>/dev/null || { cat "${conf%.conf}.err" >&2; die "mxlockd died starting $conf"; }
                sleep 0.05
        done
        die "mxlockd did not start in 15 s ($conf)"
}
mx_stop() {
        [ -n "$MXPID" ] || return 0
        kill -TERM "$MXPID"
        wait "$MXPID"
        MXPID=
}
# mx_drain_stop: wait for the queue to empty, then stop (the stop writes
# the outbound fold's last summaries).
mx_drain_stop() {
        for _ in $(seq 100); do
                [ "$(nfq_waiting)" = 0 ] && break
                sleep 0.05
        done
        mx_stop
}

# awake_on / awake_off: tests/edgelib.sh's cpus_awake, for one run.
awake_on() {
        local c
        [ "$AWAKE" = 1 ] || return 0
        for ((c = 0; c < $(nproc); c++)); do
                taskset -c "$c" chrt -i 0 sh -c 'while :; do :; done' &
                SPIN+=($!)
        done
}
awake_off() {
        local pid
        for pid in "${SPIN[@]}"; do
                stop_pid "$pid"
        done
        SPIN=()
}

# ---- run ----------------------------------------------------------------------

T_START=$(now_ns)
[ -n "$PIN_DAEMON" ] && taskset -cp 1 $$ >/dev/null
lab_up || die "lab set-up failed"
say "outbound lab up: $NS_SRV ($SRV4) -> $NS_GEN ($GEN4 smarthost, $MX4 outside MX); work dir $W"
C=$W/ob.conf
mkconf "$C"

if goal 1; then
# ==== O1: allowed connections, mxlockd's table against none ====================
#
# First, with mxlockd running: the listed user's connects to the smarthost
# all connect and none reaches the queue, and the unlisted user's are all
# refused (the lock is in force for the destination). Then mxlockd stops
# and its table goes, and outconn's alternate mode times the listed user's
# connect loop in three states in turn, a window of WIN1_MS each, ROUNDS1
# rounds (this machine's rate drifts by tens of percent within seconds:
# short windows close together, nothing started during one):
#   live   mxlockd's table as it prints it (--print-ruleset; it installs
#          the same, with the xt NFQUEUE target in the queue rule that nft
#          cannot load, a rule no allowed SYN reaches)
#   none   no table at all
#   ct     the same table, dormant: its chains unhooked, but its ct
#          expressions keep connection tracking on in the namespace, as in
#          run.sh's goal 5, whose "no table" is this state
# Each round's ratios are against its own windows; the rows have medians.

in_gen $PIN_DAEMON "$OUTCONN" listen $GEN4 25 >"$W/listen.out" 2>&1 &
BGPIDS+=($!)
for _ in $(seq 100); do grep -q ready "$W/listen.out" && break; sleep 0.05; done
grep -q ready "$W/listen.out" || die "the listener did not start: $(cat "$W/listen.out")"
mx_start "$C"
SANE_OK=$($PIN_CLIENT ip netns exec "$NS_SRV" "$OUTCONN" flood $LISTED $GEN4 25 0.3 1 0)
SANE_NO=$($PIN_CLIENT ip netns exec "$NS_SRV" "$OUTCONN" flood $UNLISTED $GEN4 25 0.3 1 0)
SANE_Q=$(ctr mxlock "queued_$POLICY")
mx_drain_stop
del_table mxlock
SANE=false
[ "$(jget "$SANE_OK" outcomes.connected)" = "$(jget "$SANE_OK" attempts)" ] &&
        [ "$(jget "$SANE_NO" outcomes.refused)" = "$(jget "$SANE_NO" attempts)" ] &&
        [ "$SANE_Q" = "$(jget "$SANE_NO" attempts)" ] && SANE=true
say "O1 with mxlockd running: listed user $(jget "$SANE_OK" outcomes), unlisted $(jget "$SANE_NO" outcomes), queued $SANE_Q: $SANE"

"$MXLOCKD" -c "$C" --print-ruleset >"$W/o1.nft" 2>/dev/null
sed 's/^table inet mxlock {/&\n\tflags dormant/' "$W/o1.nft" >"$W/o1-ct.nft"
in_srv nft -c -f "$W/o1.nft" || die "nft does not take mxlockd's printed ruleset"
DEL="nft delete table inet mxlock 2>/dev/null"
ALT=$($PIN_CLIENT ip netns exec "$NS_SRV" "$OUTCONN" alternate $LISTED $GEN4 25 "$ROUNDS1" "$WIN1_MS" \
        "none=$DEL; :" "live=$DEL; nft -f $W/o1.nft" "ct=$DEL; nft -f $W/o1-ct.nft" 2>"$W/alt.err")
del_table mxlock
[ -n "$ALT" ] || say "O1 client failed: $(cat "$W/alt.err")"
say "O1: $ALT"
# "RATIO LO HI NONE LIVE CT RULES_RATIO CT_RATIO CLEAN"
read -r O1_RATIO O1_LO O1_HI O1_NONE O1_MX O1_CT O1_RULES O1_CTR O1_CLEAN <<<"$("$PY" - "$ALT" <<'PYEOF'
import json, statistics, sys
try:
    a = json.loads(sys.argv[1])
except ValueError:
    print("- - - - - - - - false")
    sys.exit(0)
rs = [r for r in a["rounds"] if r.get("none", 0) > 0 and r.get("ct", 0) > 0]
clean = a["refused"] == 0 and a["other"] == 0 and a["connected"] > 0
if not rs:
    print("- - - - - - - - %s" % ("true" if clean else "false"))
    sys.exit(0)
med = statistics.median
q = sorted(r["live"] / r["none"] for r in rs)
print("%.4f %.3f %.3f %d %d %d %.4f %.4f %s" % (
    med(q), q[len(q) // 4], q[(3 * len(q)) // 4],
    med(r["none"] for r in rs), med(r["live"] for r in rs), med(r["ct"] for r in rs),
    med(r["live"] / r["ct"] for r in rs), med(r["ct"] / r["none"] for r in rs), "true" if clean else "false"))
PYEOF
)"
for v in O1_RATIO O1_LO O1_HI O1_NONE O1_MX O1_CT O1_RULES O1_CTR; do
        [ "${!v:--}" = - ] && printf -v "$v" ''
done
O1_OK=false
[ "$O1_CLEAN" = true ] && [ "$SANE" = true ] && O1_OK=true
us() { [ -n "$1" ] && [ "$1" != 0 ] && calc "1e6 / $1"; }
O1_US=$(us "$O1_MX") O1_US0=$(us "$O1_NONE") O1_USC=$(us "$O1_CT")
row O1 "allowed outbound connects (listed user, allowed destination) vs the table dormant (goal 5's method)" "$O1_MX" \
        "connects/s" "$O1_CT" "table dormant (connection tracking on in both)" "$O1_RULES" "ratio>=" 0.95 "$O1_OK" \
        "what the table's chains and sets cost an allowed connection; connection tracking, which any ct expression in the namespace turns on, is on in both (rows O1a, O1c)" null
row O1a "the same vs no table at all (connection tracking off)" "$O1_MX" "connects/s" "$O1_NONE" \
        "no table" "$O1_RATIO" info "" "" \
        "median of $ROUNDS1 rounds of $WIN1_MS ms windows taking turns (mxlockd's table, no table, the table dormant), interquartile range of the rounds' ratios ${O1_LO:-?} to ${O1_HI:-?}; ${O1_US:-?} us per connect vs ${O1_US0:-?} us (one client: connect() and a reset close, so SYN, SYN-ACK, ACK, RST each); of the difference, connection tracking (which the table's ct expressions turn on) is row O1c and the rules row O1; none refused; with mxlockd running, the listed user's connects all went through without reaching the queue and the unlisted user's were all refused: $O1_OK" \
        "{\"alternate\":$(j "$ALT"),\"with_mxlockd\":{\"listed\":$(j "$SANE_OK"),\"unlisted\":$(j "$SANE_NO"),\"queued\":$(j "$SANE_Q")},\"us_per_connect\":$(j "$O1_US"),\"us_per_connect_no_table\":$(j "$O1_US0"),\"us_per_connect_dormant\":$(j "$O1_USC")}"
row O1c "connects with the table dormant (connection tracking on, no rules) vs no table" "$O1_CT" "connects/s" \
        "$O1_NONE" "no table" "$O1_CTR" info "" "" \
        "what connection tracking costs a connection here; any ct expression in the namespace turns it on (mxlockd's input and forward chains have them, for the inbound policies' bare ACKs and DNAT), as would another firewall's" null

fi

if goal 2; then
# ==== O2: refused attempts, mxlockd against the far end's reset ================
#
# ROUNDS2 rounds, each of four client runs of SECS as the unlisted user to
# 203.0.113.25:25: as fast as it can with INFLIGHT outstanding, and at a
# steady RATE a second; each with no table (the far end's TCP stack answers
# with a reset) and with mxlockd (the output chain queues the SYN, mxlockd
# looks up who tried, up to 100 a second, and its verdict sends the reset).
# Every mxlockd run has a fresh daemon and audit log, which must count
# every attempt the client made (refused and summary records, direction
# outbound) and agree with the kernel's queued_ counter. The rows have the
# medians over the rounds.

# cpu_ticks PID: utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# The client runs in a cgroup of its own that looks like a systemd unit's
# (mxobench-PID.slice/mxobench-client.service under the cgroup2 tree,
# removed at exit), so that mxlockd's lookups name a unit as on a systemd
# host, through the same cgroup path; without a cgroup2 tree it runs where
# it is and the records name no unit.
CG2=
for d in /sys/fs/cgroup /sys/fs/cgroup/unified; do
        [ -e "$d/cgroup.controllers" ] && CG2=$d && break
done
if [ -n "$CG2" ] && mkdir "$CG2/mxobench-$$.slice" 2>/dev/null; then
        CG_SLICE=$CG2/mxobench-$$.slice
        mkdir "$CG_SLICE/mxobench-client.service" 2>/dev/null && CG_UNIT=$CG_SLICE/mxobench-client.service
fi
in_unit() {
        if [ -n "$CG_UNIT" ]; then
                sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG_UNIT" "$@"
        else
                "$@"
        fi
}

# flood OUTFILE RATE: one client run as the unlisted user; prints its JSON.
flood() {
        awake_on
        in_unit $PIN_CLIENT ip netns exec "$NS_SRV" "$OUTCONN" flood $UNLISTED $MX4 25 "$SECS" "$INFLIGHT" "$2" >"$1" 2>&1
        awake_off
        cat "$1"
}

# o2_base KIND RATE / o2_mx KIND RATE: one run each; appends a JSON line to
# $W/o2.txt: {"kind", "table", "client", and for mxlockd "audit",
# "kernel_queued", "kernel_handled", "cpu_s"}.
o2_base() {
        local res
        res=$(flood "$W/flood.json" "$2")
        say "O2 $1, no table: $res"
        echo "{\"kind\":\"$1\",\"table\":false,\"client\":$res}" >>"$W/o2.txt"
}
o2_mx() {
        local res acc q h c0 c1
        mx_start "$C"
        c0=$(cpu_ticks "$MXPID")
        res=$(flood "$W/flood.json" "$2")
        c1=$(cpu_ticks "$MXPID")
        mx_drain_stop
        q=$(ctr mxlock "queued_$POLICY")
        h=$(ctr mxlock "handled_$POLICY")
        del_table mxlock
        acc=$("$PY" "$HERE/audit_count.py" "$(audit_of "$C")")
        say "O2 $1, mxlockd: $res; kernel queued $q, handled $h; audit: $acc"
        echo "{\"kind\":\"$1\",\"table\":true,\"client\":$res,\"audit\":$acc,\"kernel_queued\":$q,\"kernel_handled\":$h,\"cpu_s\":$(calc "($c1 - $c0) / $(getconf CLK_TCK)")}" >>"$W/o2.txt"
}

: >"$W/o2.txt"
for _ in $(seq "$ROUNDS2"); do
        o2_base max 0
        o2_mx max 0
        o2_base steady "$RATE"
        o2_mx steady "$RATE"
done
# once more at the steady rate with the CPUs left to halt, for row O2n
if [ "$AWAKE" = 1 ]; then
        AWAKE=0
        o2_mx halting "$RATE"
        AWAKE=1
fi

# the figures: "MAX_RATE MAX_P99 BASE_MAX_RATE BASE_MAX_P99 ST_RATE ST_P99
# BASE_ST_P99 ACC_MAX ACC_ST CPU_US NAMED WHY"
read -r M_RATE M_P99 B_RATE B_P99 S_RATE S_P99 BS_P99 ACC_MAX ACC_ST CPU_US NAMED WHY <<<"$("$PY" - "$W/o2.txt" "$CG_UNIT" <<'PYEOF'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
unit = sys.argv[2] != ""
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
def pick(kind, table):
    return [r for r in runs if r["kind"] == kind and r["table"] == table]
def fig(rs, k):
    v = med(r["client"][k] for r in rs)
    return "" if v is None else "%.6g" % v
def why(r):
    made, out = r["client"]["attempts"], []
    got = r["audit"]["attempts_by_direction"].get("outbound")
    if got != made:
        out.append("audit counts %s of %d attempts" % (got, made))
    if r["kernel_queued"] != made:
        out.append("kernel queued %d of %d" % (r["kernel_queued"], made))
    if r["client"]["outcomes"]["refused"] != made:
        out.append("%d of %d refused" % (r["client"]["outcomes"]["refused"], made))
    named = r["audit"]["outbound_named"]
    if not named["records"] or named["uid"] != named["records"]:
        out.append("%d of %d attempt records name the uid" % (named["uid"], named["records"]))
    if unit and named["unit"] != named["records"]:
        out.append("%d of %d attempt records name the unit" % (named["unit"], named["records"]))
    return ["%s: %s" % (r["kind"], w) for w in out]
mx_max, mx_st = pick("max", True), pick("steady", True)
bad = sum((why(r) for r in mx_max + mx_st + pick("halting", True)), [])
cpu = med(r["cpu_s"] * 1e6 / r["client"]["outcomes"]["refused"] for r in mx_max if r["client"]["outcomes"]["refused"])
named = {}
for r in mx_max + mx_st:
    for k, v in r["audit"]["outbound_named"].items():
        named[k] = named.get(k, 0) + v
print(fig(mx_max, "refused_per_s") or "-", fig(mx_max, "p99_ms") or "-",
      fig(pick("max", False), "refused_per_s") or "-", fig(pick("max", False), "p99_ms") or "-",
      fig(mx_st, "refused_per_s") or "-", fig(mx_st, "p99_ms") or "-", fig(pick("steady", False), "p99_ms") or "-",
      "true" if mx_max and not [w for w in bad if w.startswith("max")] else "false",
      "true" if mx_st and not [w for w in bad if w.startswith("steady")] else "false",
      "-" if cpu is None else "%.3g" % cpu,
      "%d/%d/%d/%d/%d/%d" % tuple(named.get(k, 0) for k in ("records", "uid", "user", "unit", "pid", "comm")),
      ("; ".join(bad) or "-").replace(" ", "_"))
PYEOF
)"
for v in M_RATE M_P99 B_RATE B_P99 S_RATE S_P99 BS_P99 CPU_US; do
        [ "${!v:--}" = - ] && printf -v "$v" ''
done
O2_ALL=$("$PY" -c 'import json,sys; print(json.dumps([json.loads(l) for l in open(sys.argv[1]) if l.strip()]))' "$W/o2.txt")
IFS=/ read -r N_REC N_UID N_USER N_UNIT N_PID N_COMM <<<"$NAMED"
AWAKE_NOTE="every CPU kept out of halt by an idle-class spinner (tests/edgelib.sh cpus_awake) in every run, mxlockd's and the baseline's"
[ "$AWAKE" = 1 ] || AWAKE_NOTE="no CPU keep-awake (OB_AWAKE=0)"
NAMED_NOTE="the $N_REC records with full attribution over these runs name uid $N_UID, user $N_USER, unit $N_UNIT, pid $N_PID, comm $N_COMM times"
if [ -n "$CG_UNIT" ]; then
        NAMED_NOTE="$NAMED_NOTE (the client ran in cgroup ${CG_UNIT#"$CG2"}, so each must name the unit)"
else
        NAMED_NOTE="$NAMED_NOTE (no cgroup2 tree here: no unit to name)"
fi
row O2 "refused outbound attempts with full attribution, as fast as one client can ($INFLIGHT outstanding)" "$M_RATE" \
        "refused/s" "$B_RATE" "no table: the far end's reset" "$( [ -n "$M_RATE" ] && [ -n "$B_RATE" ] && calc "$M_RATE / $B_RATE")" \
        "figure>=" 1000 "$ACC_MAX" \
        "median of $ROUNDS2 runs of ${SECS} s each, as uid $UNLISTED to $MX4:25, a fresh mxlockd each (the first 100 attempts of each second get the owner lookup and a record of their own, the rest fold into summaries); the baseline's reset is made in the client's own call on one CPU, mxlockd's path crosses to the other and back; p99 connect() to refusal ${M_P99:-?} ms (no table ${B_P99:-?} ms); mxlockd's CPU ${CPU_US:-?} us per refusal; every attempt refused, queued once and counted in the audit log (refused + summary records, direction outbound), and every attempt record naming the uid (and the unit): $ACC_MAX; $NAMED_NOTE; $AWAKE_NOTE" \
        "{\"runs\":$O2_ALL}"
row O2l "p99 connect() to refusal at a steady offered $RATE attempts/s, full attribution" "$S_P99" ms "$BS_P99" \
        "no table: the far end's reset" "$( [ -n "$S_P99" ] && [ -n "$BS_P99" ] && calc "$S_P99 / $BS_P99")" \
        "figure<=" 5 "$ACC_ST" \
        "median of $ROUNDS2 runs of ${SECS} s, connects paced by a timer, $S_RATE refused/s; every attempt refused and counted: $ACC_ST; $AWAKE_NOTE" \
        null
row O2m "p99 connect() to refusal, as fast as one client can ($INFLIGHT outstanding)" "$M_P99" ms "$B_P99" \
        "no table: the far end's reset" "$( [ -n "$M_P99" ] && [ -n "$B_P99" ] && calc "$M_P99 / $B_P99")" info "" "" \
        "the runs of O2: with $INFLIGHT connects outstanding a refusal also waits for those ahead of it" null
if [ "$AWAKE" = 1 ]; then
        HALT_P99=$("$PY" -c 'import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["kind"] == "halting" and r["client"]["p99_ms"] is not None:
        print(r["client"]["p99_ms"])' "$W/o2.txt")
        row O2n "p99 connect() to refusal at a steady $RATE/s, CPUs left to halt" "$HALT_P99" ms "$S_P99" \
                "the same kept awake (O2l)" "$( [ -n "$HALT_P99" ] && [ -n "$S_P99" ] && calc "$HALT_P99 / $S_P99")" info "" "" \
                "one run of ${SECS} s without the spinners: on this virtual machine each of the two cross-CPU wake-ups a refusal needs may wait for the host to run a halted vCPU again (tests/edgelib.sh cpus_awake)" null
fi
[ "$WHY" = - ] || say "O2 accounting: ${WHY//_/ }"

fi

# ==== report ===================================================================

say "outbound bench took $(calc "($(now_ns) - $T_START) / 1e9") s"
if [ -z "${OB_ROWS:-}" ]; then
        cat >"$W/meta.json" <<EOF
{"bench":"mxlock outbound","date":"$(date -u +%Y-%m-%dT%H:%M:%SZ)","kernel":"$(uname -r)","cpus":$(nproc),
 "commit":"$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)",
 "duration_s":$(calc "($(now_ns) - $T_START) / 1e9")}
EOF
        mkdir -p "$(dirname "$OUT")"
        "$PY" "$HERE/summary.py" "$ROWS" "$W/meta.json" "$OUT" || die "summary failed"
        echo "results: $OUT"
fi
