#!/usr/bin/env bash
# tests/bench/run.sh: the benchmarks of `make bench` (root, network namespaces).
#
# Each goal is measured against its baseline in the same run, on the same
# lab, and reported as a figure, a baseline, a ratio and PASS/MISS against
# the goal's target; tests/bench/summary.py prints the table and writes
# the JSON (tests/bench/results.json unless BENCH_OUT says otherwise).
#
# Lab: two namespaces joined by one veth; all traffic stays in them and uses
# documentation addresses only.
#
#     GEN  b1 192.0.2.2/30  2001:db8:0:1::2/64  (trafgen, the latency client)
#      |
#     SRV  b0 192.0.2.1/30  2001:db8:0:1::1/64  (mxlockd or a baseline)
#          default routes via GEN (static neighbours), rp_filter off.
#
# CPUs (2 here): trafgen runs on CPU 0, and a veth delivers in the sender's
# context, so the receiving side's kernel path (nftables, queueing, resets)
# runs on CPU 0 too; the consumers (mxlockd, nfq_min) and nft -f are pinned
# to CPU 1. (RPS to CPU 1 would split the kernel work off, but then the
# packets held in the other CPU's backlog exhaust trafgen's default socket
# send buffer and trafgen aborts with EAGAIN; raising it means changing a
# global sysctl, which --no-sock-mem forbids.)
#
# Flood sources: unique IPv6 sources 2001:db8:<96 random bits> (only IPv6
# has a documentation range big enough for a million distinct sources);
# repeat offenders 203.0.113.0/24 and 2001:db8:bad::/120 (512 sources);
# allowed sources: 128 addresses from the big catalog's ranges, and 198.51.100.0/24
# and 2001:db8:25::/120 (the config's own).
#
# Rates are packets the receiving side handled per second, from kernel
# counters in SRV (table inet mxbench: `offered` at prerouting priority
# -400 counts every SYN to port 25 that arrives; mxlockd's own counters queued_/handled_;
# /proc/net/netfilter/nfnetlink_queue) over a window of BENCH_SECONDS after
# one second of warm-up, while trafgen keeps sending.
#
# Environment: BENCH_SECONDS (3), BENCH_SIZES ("100000 1000000"),
# BENCH_QUICK=1 (sizes 10000 100000, 2 s windows, output to build/bench/),
# BENCH_PHASES (ABCDO: A example config: goals 7a 6 3 4 7c; B loads: 1 7b;
# C reload: 2; D allowed path: 5; C and D need B; O the outbound lock:
# O1 O2, tests/bench/outbound.sh in its own lab, which takes its own
# OB_* settings), BENCH_OUT (the JSON), BENCH_PERF=1 (perf record mxlockd during the floods
# and the 1M load, reports in the work dir), KEEP=1 (keep the work dir).
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BB=$BUILD/bench
MXLOCKD=${MXLOCKD:-$BUILD/mxlockd}
PY=/usr/bin/python3
HERE=$ROOT/tests/bench
# shellcheck disable=SC2034  # read by lib.sh
BENCH_NAME=bench
. "$HERE/lib.sh"
if [ "${BENCH_QUICK:-0}" = 1 ]; then
        SIZES=${BENCH_SIZES:-"10000 100000"}
        SECS=${BENCH_SECONDS:-2}
        OUT=${BENCH_OUT:-$BB/results-quick.json}
else
        SIZES=${BENCH_SIZES:-"100000 1000000"}
        SECS=${BENCH_SECONDS:-3}
        OUT=${BENCH_OUT:-$HERE/results.json}
fi
WARM=1
PHASES=${BENCH_PHASES:-ABCDO}
phase() { case $PHASES in *$1*) return 0 ;; esac; return 1; }
PIN="taskset -c 1"
[ "$(nproc)" -ge 2 ] || PIN=
QUEUE=25
POLICY=inbound-smtp
NS_SRV=mxb$$-srv
NS_GEN=mxb$$-gen
NS_NFT=mxb$$-nft
SRV4=192.0.2.1 GEN4=192.0.2.2
SRV6=2001:db8:0:1::1 GEN6=2001:db8:0:1::2
W=
MXPID=
BGPIDS=()


# ---- preconditions ------------------------------------------------------------

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces): sudo make bench"
for t in ip nft trafgen taskset gcc pkg-config awk; do
        command -v "$t" >/dev/null 2>&1 || die "missing $t (run tests/deps.sh; trafgen is in netsniff-ng)"
done
[ -x "$MXLOCKD" ] || die "$MXLOCKD is not built: run make"
[ "$(nproc)" -ge 2 ] || say "only $(nproc) CPU: sender and receiver share it, ratios still compare like with like"

# ---- cleanup ------------------------------------------------------------------


cleanup() {
        local rc=$? ns pid
        set +e
        trap - EXIT
        stop_pid "$MXPID"
        for pid in "${BGPIDS[@]}"; do
                stop_pid "$pid"
        done
        for ns in "$NS_SRV" "$NS_GEN" "$NS_NFT"; do
                [ -e "/run/netns/$ns" ] || continue
                for pid in $(ip netns pids "$ns" 2>/dev/null); do
                        kill -KILL "$pid" 2>/dev/null
                done
                # empty the big sets synchronously rather than in the
                # background of the next run
                ip netns exec "$ns" nft flush ruleset 2>/dev/null
                ip netns del "$ns" 2>/dev/null
        done
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

W=$(mktemp -d /tmp/mxlock-bench.XXXXXX)
chmod 755 "$W"
ROWS=$W/rows.jsonl
: >"$ROWS"

# ---- build the baseline consumer and the catalogs ----------------------------

mkdir -p "$BB"
if [ ! -x "$BB/nfq_min" ] || [ "$HERE/nfq_min.c" -nt "$BB/nfq_min" ]; then
        # shellcheck disable=SC2046
        gcc -std=gnu11 -O2 -Wall -Wextra -Werror -o "$BB/nfq_min" "$HERE/nfq_min.c" \
                $(pkg-config --cflags --libs libnetfilter_queue libmnl) || die "building nfq_min failed"
fi
mkdir -p "$W/prov"
cp "$ROOT"/rules/providers/*.conf "$W/prov/"
for n in $SIZES; do
        f=$BB/catalog-$n.conf
        if [ ! -s "$f" ] || [ "$HERE/gen_prefixes.py" -nt "$f" ]; then
                say "generating a catalog of $n prefixes"
                "$PY" "$HERE/gen_prefixes.py" "$n" "$f.tmp" 42 && mv "$f.tmp" "$f" || die "gen_prefixes failed"
        fi
        ln -sf "$f" "$W/prov/bench$n.conf"
done

# ---- the lab ------------------------------------------------------------------

lab_up() {
        ip netns add "$NS_SRV" && ip netns add "$NS_GEN" || return 1
        ip link add name b0 netns "$NS_SRV" type veth peer name b1 netns "$NS_GEN" || return 1
        in_srv ip link set lo up
        in_gen ip link set lo up
        in_srv ip addr add $SRV4/30 dev b0
        in_srv ip addr add $SRV6/64 dev b0 nodad
        in_gen ip addr add $GEN4/30 dev b1
        in_gen ip addr add $GEN6/64 dev b1 nodad
        # sources for the latency client
        for i in $(seq 101 200); do
                in_gen ip addr add 203.0.113.$i/32 dev b1
        done
        in_srv ip link set b0 up
        in_gen ip link set b1 up
        SRV_MAC=$(in_srv cat /sys/class/net/b0/address)
        GEN_MAC=$(in_gen cat /sys/class/net/b1/address)
        in_srv ip neigh replace $GEN4 lladdr "$GEN_MAC" dev b0 nud permanent
        in_srv ip neigh replace $GEN6 lladdr "$GEN_MAC" dev b0 nud permanent
        in_gen ip neigh replace $SRV4 lladdr "$SRV_MAC" dev b1 nud permanent
        in_gen ip neigh replace $SRV6 lladdr "$SRV_MAC" dev b1 nud permanent
        in_srv ip route add default via $GEN4 dev b0
        in_srv ip -6 route add default via $GEN6 dev b0
        in_gen ip route add 203.0.113.0/24 dev b1 2>/dev/null
        in_srv sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.b0.rp_filter=0 \
                net.ipv4.conf.default.rp_filter=0
        # the bench's own counters: every SYN to port 25 that arrives, at
        # prerouting before anything else (mxlockd refuses repeat offenders
        # at prerouting -300)
        in_srv nft -f - <<'EOF' || return 1
table inet mxbench {
        counter offered { }
        counter passed { }
        chain pre {
                type filter hook prerouting priority -400; policy accept;
                tcp dport 25 tcp flags & (fin | syn | rst | ack) == syn counter name "offered"
        }
}
EOF
}

# ---- trafgen ------------------------------------------------------------------

hexmac() { echo "$1" | sed 's/^/0x/; s/:/, 0x/g'; }

# tg_cfg KIND FILE: uniq6 | repeat | allowed
tg_cfg() {
        local kind=$1 file=$2 dm sm v4 v6 tcp
        dm=$(hexmac "$SRV_MAC")
        sm=$(hexmac "$GEN_MAC")
        tcp4="drnd(2), const16(25), drnd(4), const32(0), 0x50, 0x02, const16(64240), csumtcp(14, 34), const16(0)"
        tcp6="drnd(2), const16(25), drnd(4), const32(0), 0x50, 0x02, const16(64240), csumtcp6(14, 54), const16(0)"
        dst6="0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1"
        pkt4() {        # SRC_BYTES
                echo "{ $dm, $sm, const16(0x0800), 0x45, 0x00, const16(40), drnd(2), const16(0x4000), 64, 6, csumip(14, 33), $1, 192, 0, 2, 1, $tcp4 }"
        }
        pkt6() {        # SRC_BYTES
                echo "{ $dm, $sm, const16(0x86dd), 0x60, 0, 0, 0, const16(20), 6, 64, $1, $dst6, $tcp6 }"
        }
        case $kind in
        uniq6) pkt6 "0x20, 0x01, 0x0d, 0xb8, drnd(12)" >"$file" ;;
        repeat) { pkt4 "203, 0, 113, drnd(1)"; pkt6 "0x20, 0x01, 0x0d, 0xb8, 0x0b, 0xad, 0, 0, 0, 0, 0, 0, 0, 0, 0, drnd(1)"; } >"$file" ;;
        allowed) { pkt4 "198, 51, 100, drnd(1)"; pkt6 "0x20, 0x01, 0x0d, 0xb8, 0x00, 0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0, drnd(1)"; } >"$file" ;;
        catalog)        # one packet per address of $W/allowed-sources.txt, in turn
                "$PY" -c 'import ipaddress, sys
for a in open(sys.argv[1]):
    a = ipaddress.ip_address(a.strip())
    print(a.version, ", ".join(str(x) for x in a.packed))' "$W/allowed-sources.txt" |
                while read -r v b; do
                        if [ "$v" = 4 ]; then pkt4 "$b"; else pkt6 "$b"; fi
                done >"$file" ;;
        esac
}

TG_PID=
# tg_start KIND: trafgen on CPU 0 for WARM + SECS + 1 seconds.
tg_start() {
        tg_cfg "$1" "$W/tg-$1.cfg"
        timeout -s INT $((WARM + SECS + 1)) taskset -c 0 ip netns exec "$NS_GEN" \
                trafgen --no-sock-mem --notouch-irq --cpus 1 -o b1 -i "$W/tg-$1.cfg" \
                >"$W/tg-$1.out" 2>&1 &
        TG_PID=$!
        BGPIDS+=("$TG_PID")
}
tg_wait() {
        wait "$TG_PID" 2>/dev/null
        TG_PID=
}

# ---- counters -----------------------------------------------------------------

# ctr TABLE NAME: packets of a named counter in SRV (0 if none), from
# `nft list table`: `nft list counters` and `nft list counter` dump every
# set element of every table first, which takes 40 s with a 1M-prefix set
# (and `nft list counter` fails on table mxlock's xt compat expressions).
# Table mxlock is only read while its sets are small (part A).
ctr() {
        in_srv nft list table inet "$1" 2>/dev/null |
                awk -v k="$2" '$1 == "counter" && $3 == "{" { c = $2 }
                        $1 == "packets" && c == k { print $2; f = 1 } END { if (!f) print 0 }'
}

# The resets the refused floods earn are dropped at GEN's ingress while a
# window runs: otherwise GEN's TCP stack handles each one in the context of
# whoever sent it (mxlockd's verdict), which a real server never pays.
gen_rst_on() {
        in_gen nft -f - <<'EOF'
table netdev mxgen {
        counter rst { }
        chain in {
                type filter hook ingress device "b1" priority 0; policy accept;
                tcp flags & rst == rst counter name "rst" drop
        }
}
EOF
}
gen_rst_off() {
        RSTS=$(in_gen nft list counters 2>/dev/null | awk '$1 == "packets" { print $2; exit }')
        in_gen nft delete table netdev mxgen 2>/dev/null
}

# nfqproc: "id_sequence queue_dropped user_dropped waiting" for our queue.
nfqproc() {
        in_srv awk -v q=$QUEUE '$1 == q { print $8, $6, $7, $3; f = 1 } END { if (!f) print 0, 0, 0, 0 }' \
                /proc/net/netfilter/nfnetlink_queue
}

# snap: "T_NS OFFERED QUEUED HANDLED PASSED ID_SEQ QDROP UDROP WAITING";
# T_NS is the middle of the counter reads. mxlock's own counters only when
# SNAP_MX=1 (its table is then small).
SNAP_MX=1
snap() {
        local t0 t1 o p q=0 h=0
        t0=$(now_ns)
        o=$(ctr mxbench offered)
        p=$(ctr mxbench passed)
        if [ "$SNAP_MX" = 1 ]; then
                q=$(ctr mxlock "queued_$POLICY")
                h=$(ctr mxlock "handled_$POLICY")
        fi
        t1=$(now_ns)
        echo "$(( (t0 + t1) / 2 )) $o $q $h $p $(nfqproc)"
}

# window KIND: run trafgen, take snapshots after WARM and WARM+SECS, and
# sample mxlockd's RSS meanwhile; sets S1, S2 (arrays) and RSS_MAX (KiB).
window() {
        local t_end
        RSS_MAX=0
        gen_rst_on
        tg_start "$1"
        sleep $WARM
        read -r -a S1 <<<"$(snap)"
        [ -n "${WIN_AUDIT:-}" ] && AUD1=$(stat -c %s "$WIN_AUDIT")
        t_end=$(( $(now_ns) + SECS * 1000000000 ))
        while [ "$(now_ns)" -lt "$t_end" ]; do
                sample_rss
                sleep 0.2
        done
        read -r -a S2 <<<"$(snap)"
        [ -n "${WIN_AUDIT:-}" ] && AUD2=$(stat -c %s "$WIN_AUDIT")
        tg_wait
        gen_rst_off
}

# d IDX: S2[IDX] - S1[IDX]; rate IDX: per second over the window.
d() { echo $(( S2[$1] - S1[$1] )); }
rate() { calc "(${S2[$1]} - ${S1[$1]}) * 1e9 / (${S2[0]} - ${S1[0]})"; }
# verdicts given by whoever reads the queue: delivered - still waiting
verdicts_rate() {
        calc "((${S2[5]} - ${S2[7]} - ${S2[8]}) - (${S1[5]} - ${S1[7]} - ${S1[8]})) * 1e9 / (${S2[0]} - ${S1[0]})"
}

sample_rss() {
        local r
        [ -n "$MXPID" ] || return 0
        r=$(awk '/^VmRSS:/ { print $2 }' "/proc/$MXPID/status" 2>/dev/null)
        [ -n "$r" ] && [ "$r" -gt "$RSS_MAX" ] && RSS_MAX=$r
        return 0
}
rss() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }

# ---- mxlockd ------------------------------------------------------------------

# mkconf FILE PROVIDERS [ALLOW]: a config for the lab; audit log per config.
mkconf() {
        cat >"$1" <<EOF
# written by tests/bench/run.sh
[daemon]
mode = enforce
action = ${4:-reject}
failure = closed
queue = $QUEUE
table = mxlock
audit_log = ${1%.conf}.audit.jsonl
provider_dirs = $W/prov
control_socket = $W/ctl.sock

[policy $POLICY]
ports = 25
providers = $2
${3:+allow = $3}
EOF
}

ts_ns() { date -d "$1" +%s%N; }

# The ts of the Nth (1-based) record of EVENT, or nothing.
audit_ts() {
        grep -F "\"event\":\"$2\"" "$1" 2>/dev/null | sed -n "${3}p" |
                sed 's/^{"ts":"\([^"]*\)".*/\1/'
}

# mx_start CONF: start mxlockd in SRV, wait (up to 300 s) for its start
# record; sets MXPID, MX_T0 (ns before exec) and MX_T1 (ns of the record).
mx_start() {
        local conf=$1 audit ts i
        audit=$(audit_of "$conf")
        MXERR=${conf%.conf}.err
        MX_T0=$(now_ns)
        $PIN ip netns exec "$NS_SRV" "$MXLOCKD" -c "$conf" 2>>"$MXERR" &
        MXPID=$!
        # the time comes from the record; polling only finds it (slowly:
        # forks here cost CPU that the daemon being timed could use)
        for i in $(seq 1500); do
                ts=$(audit_ts "$audit" start 1)
                [ -n "$ts" ] && break
                kill -0 "$MXPID" 2>/dev/null || { cat "$MXERR" >&2; die "mxlockd died starting $conf"; }
                sleep 0.2
        done
        [ -n "$ts" ] || die "mxlockd did not start in 300 s ($conf)"
        MX_T1=$(ts_ns "$ts")
}

mx_stop() {
        [ -n "$MXPID" ] || return 0
        kill -TERM "$MXPID"
        wait "$MXPID"
        MXPID=
}

# The "Table ... in force" figures of the last install: "ADDED REMOVED MESSAGES BYTES".
inforce() {
        grep 'in force:' "$1" | tail -n 1 |
                sed 's/.*(\([0-9]*\) elements added, \([0-9]*\) removed, \([0-9]*\) messages, \([0-9]*\) bytes).*/\1 \2 \3 \4/'
}


# Wait until the queue is empty and mxlockd had a quiet timer tick (so that
# it reconciled queued - handled), then stop it.
mx_drain_stop() {
        local i
        for i in $(seq 100); do
                set -- $(nfqproc)
                [ "$4" = 0 ] && break
                sleep 0.05
        done
        sleep 2.2
        mx_stop
}

PERF_PID=
# perf_start NAME PID: profile one process; perf_start NAME -a: the whole
# machine (kernel work done in softirq or in nft's context shows there).
perf_start() {
        [ "${BENCH_PERF:-0}" = 1 ] && command -v perf >/dev/null || return 0
        if [ "$2" = -a ]; then
                perf record -a -g -F 499 -o "$W/perf-$1.data" >/dev/null 2>&1 &
        else
                perf record -g -o "$W/perf-$1.data" -p "$2" >/dev/null 2>&1 &
        fi
        PERF_PID=$!
        sleep 0.3
}
perf_stop() {
        [ -n "$PERF_PID" ] || return 0
        kill -INT "$PERF_PID"
        wait "$PERF_PID" 2>/dev/null
        PERF_PID=
        perf report -i "$W/perf-$1.data" --no-children --stdio -g none --sort comm,dso,sym \
                --percent-limit 0.7 2>/dev/null | grep -v '^#' | grep -v '^$' | head -n 60 >"$W/perf-$1.txt"
        say "perf profile ($1): $W/perf-$1.txt"
}

# ---- run ----------------------------------------------------------------------

T_START=$(now_ns)
# this script and its helpers stay off the consumers' CPU
[ -n "$PIN" ] && taskset -cp 0 $$ >/dev/null
lab_up || die "lab set-up failed"
say "lab up: $NS_SRV ($SRV4) <- $NS_GEN; work dir $W; windows of ${SECS}s after ${WARM}s warm-up"

if phase A; then
# ==== A: the shipped example config: memory, latency, floods ===================

EX=$W/example.conf
sed -e "s|^audit_log = .*|audit_log = $W/example.audit.jsonl|" \
    -e "s|^#provider_dirs = .*|provider_dirs = $W/prov|" \
    -e "s|^#control_socket = .*|control_socket = $W/ctl.sock|" \
    "$ROOT/mxlock.conf.example" >"$EX"
mx_start "$EX"
sleep 1
RSS_EX=$(rss "$MXPID" VmRSS)
HWM_EX=$(rss "$MXPID" VmHWM)
row 7a "RSS, shipped example config" "$RSS_EX" KiB "" "" "" "figure<=" 4096 "" \
        "VmHWM $HWM_EX KiB" "{\"vmrss_kib\":$RSS_EX,\"vmhwm_kib\":$HWM_EX}"

# -- goal 6: refusal latency, unloaded
LAT=$(in_gen "$PY" "$HERE/connlat.py" $SRV4 25 300 2 $(seq -f '203.0.113.%g' 101 200))
say "latency with mxlockd: $LAT"
mx_stop
del_table mxlock

# -- goal 6, the reason: the same with every vCPU kept out of halt by an
# idle-class spinner (it yields to anything else), on a fresh mxlockd so
# that the sources are new again. Information only: not the goal's figure.
mx_start "$EX"
sleep 1
SPIN=()
for c in $(seq 0 $(( $(nproc --all) - 1 ))); do
        taskset -c "$c" chrt -i 0 sh -c 'while :; do :; done' &
        SPIN+=($!)
        BGPIDS+=($!)
done
sleep 0.5
LATS=$(in_gen "$PY" "$HERE/connlat.py" $SRV4 25 300 2 $(seq -f '203.0.113.%g' 101 200))
kill "${SPIN[@]}" 2>/dev/null
wait "${SPIN[@]}" 2>/dev/null
say "latency with mxlockd, vCPUs kept busy: $LATS"
mx_stop
del_table mxlock

# -- goal 3: unique-source flood: mxlockd (action = drop, like the baseline,
# and the default action = reject) and the minimal batched-drop consumer on
# the same table and queue, taking turns over ROUNDS3 rounds so that this
# machine's drift falls on all of them; each mxlockd run's audit log must
# add up to what the kernel counted in that run.
ROUNDS3=${BENCH_ROUNDS3:-3}
U=$W/uniq.conf
# uniq_mx ACTION: one mxlockd run; appends "ACTION VRATE RATE OFFERED QDROP ACC_OK" to $W/uniq.txt
uniq_mx() {
        local action=$1 acc a_tot o_tot
        mkconf "$U" gfi-oneconnect "" "$action"
        : >"$(audit_of "$U")"
        mx_start "$U"
        [ -n "${RSS_PRE:-}" ] || RSS_PRE=$(rss "$MXPID" VmRSS)
        in_srv nft reset counter inet mxbench offered >/dev/null 2>&1
        [ "$action" = drop ] && [ -z "${PERF_DONE:-}" ] && perf_start uniq "$MXPID"
        WIN_AUDIT=$(audit_of "$U")
        window uniq6
        WIN_AUDIT=
        # goal 6a: the audit log's growth over the same window
        AUD_BPS=$(calc "($AUD2 - $AUD1) * 1e9 / (${S2[0]} - ${S1[0]})")
        AUD_BPS_MAX=$(calc "(${AUD_BPS_MAX:-0} > $AUD_BPS ? ${AUD_BPS_MAX:-0} : $AUD_BPS)")
        [ "$action" = drop ] && [ -z "${PERF_DONE:-}" ] && { perf_stop uniq; PERF_DONE=1; }
        [ "$RSS_MAX" -gt "${RSS_FLOOD:-0}" ] && RSS_FLOOD=$RSS_MAX
        HWM_FLOOD=$(rss "$MXPID" VmHWM)
        MX3_OFFERED=$(rate 1)
        echo "$action $(verdicts_rate) $(rate 3) $(rate 1) $(( $(d 6) + $(d 7) ))" >"$W/uniq.cur"
        mx_drain_stop
        o_tot=$(ctr mxbench offered)
        acc=$("$PY" "$HERE/audit_count.py" "$(audit_of "$U")")
        a_tot=$(echo "$acc" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["attempts_total"])')
        echo "$(cat "$W/uniq.cur") $( [ "$a_tot" = "$o_tot" ] && echo true || echo false)" >>"$W/uniq.txt"
        say "unique flood, mxlockd action=$action: $(cat "$W/uniq.cur") (verdicts/s, handled/s, offered/s, queue overflow); audit $a_tot of $o_tot offered"
        ACC_LAST=$acc O_LAST=$o_tot
        del_table mxlock
}
uniq_nfq() {
        mkconf "$W/nfqmin.conf" gfi-oneconnect
        mx_start "$W/nfqmin.conf"          # install the same table, then leave it
        mx_stop
        taskset -c 1 ip netns exec "$NS_SRV" "$BB/nfq_min" $QUEUE 64 >"$W/nfq_min.out" 2>&1 &
        NFQ_PID=$!
        BGPIDS+=("$NFQ_PID")
        for i in $(seq 100); do grep -q ready "$W/nfq_min.out" && break; sleep 0.05; done
        window uniq6
        echo "nfq $(verdicts_rate) 0 $(rate 1) $(( $(d 6) + $(d 7) )) true" >>"$W/uniq.txt"
        stop_pid "$NFQ_PID"
        say "unique flood, nfq_min: $(tail -n 1 "$W/uniq.txt")"
        del_table mxlock
}
: >"$W/uniq.txt"
RSS_PRE=
for r in $(seq "$ROUNDS3"); do
        uniq_mx drop
        uniq_nfq
        uniq_mx reject
done
# per round: drop/nfq, reject/nfq; medians
read -r R3 R3R MX3_VRATE MX3R_VRATE NFQ_RATE MX3_QDROP NFQ_QDROP ACC_OK <<<"$("$PY" - "$W/uniq.txt" <<'PYEOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
rounds = [rows[i:i + 3] for i in range(0, len(rows), 3)]
med = statistics.median
# a round whose nfq_min gave no verdicts has no ratio; none at all: "-"
based = [r for r in rounds if float(r[1][1]) > 0]
ratio = lambda k: "%.4f" % med(float(r[k][1]) / float(r[1][1]) for r in based) if based else "-"
print("%s %s %d %d %d %d %d %s" % (
    ratio(0), ratio(2),
    med(float(r[0][1]) for r in rounds), med(float(r[2][1]) for r in rounds), med(float(r[1][1]) for r in rounds),
    sum(int(r[0][4]) for r in rounds), sum(int(r[1][4]) for r in rounds),
    "true" if all(x[5] == "true" for x in rows) else "false"))
PYEOF
)"
[ "$R3" = - ] && R3=
[ "$R3R" = - ] && R3R=
UNIQ_ALL=$("$PY" -c 'import json,sys; print(json.dumps([l.split() for l in open(sys.argv[1])]))' "$W/uniq.txt")

# -- kernel-only drop rule (goals 3 and 4)
in_srv nft -f - <<'EOF'
table inet mxdrop {
        counter dropped { }
        chain input {
                type filter hook input priority -10; policy accept;
                tcp dport 25 tcp flags & (fin | syn | rst | ack) == syn counter name "dropped" drop
        }
}
EOF
window uniq6
KD3_RATE=$(rate 1)
window repeat
KD4_RATE=$(rate 1)
del_table mxdrop
# the same with a reset for each SYN, what action = reject costs the kernel
in_srv nft -f - <<'EOF'
table inet mxrej {
        counter rejected { }
        chain input {
                type filter hook input priority -10; policy accept;
                tcp dport 25 tcp flags & (fin | syn | rst | ack) == syn counter name "rejected" reject with tcp reset
        }
}
EOF
window repeat
KR4_RATE=$(rate 1)
del_table mxrej
say "kernel drop: unique sources $KD3_RATE/s, repeat offenders $KD4_RATE/s; kernel reject, repeat offenders: $KR4_RATE/s"

SAT3="mxlockd's queue overflowed ($MX3_QDROP over its drop windows): it is the limit"
[ "$MX3_QDROP" = 0 ] && SAT3="no queue overflow for mxlockd: it kept up with all CPU 0 (trafgen + the kernel path) could offer, so the ratio is bounded by the generator"
[ "$NFQ_QDROP" != 0 ] && SAT3="$SAT3; nfq_min's queue overflowed ($NFQ_QDROP)"
row 3 "unique-source flood, action = drop, vs nfq_min (drops)" "$MX3_VRATE" "refusals/s" "$NFQ_RATE" "nfq_min batched drop" "$R3" \
        "ratio>=" 0.9 "$ACC_OK" \
        "verdicts/s from /proc/net/netfilter/nfnetlink_queue; median of $ROUNDS3 rounds (mxlockd drop, nfq_min, mxlockd reject) of ${SECS} s windows; both refuse by dropping, mxlockd with its full audit; $SAT3; every run's audit log adds up to the kernel's count: $ACC_OK" \
        "{\"runs\":$UNIQ_ALL,\"kernel_drop_per_s\":$KD3_RATE,\"accounting_exact\":$ACC_OK,\"audit_last\":$ACC_LAST}"
row 3r "unique-source flood, action = reject (the default), vs nfq_min (drops)" "$MX3R_VRATE" "refusals/s" "$NFQ_RATE" \
        "nfq_min batched drop" "$R3R" info "" "$ACC_OK" \
        "the same rounds: mxlockd answers each SYN with a reset, which the kernel builds and sends in mxlockd's verdict" null
row 3k "unique-source flood, action = drop, vs kernel drop" "$MX3_VRATE" "refusals/s" "$KD3_RATE" "kernel drop rule" \
        "$(calc "$MX3_VRATE / $KD3_RATE")" info "" "" "" null

# -- repeat offenders with the default action = reject
R4C=$W/repeat.conf
mkconf "$R4C" gfi-oneconnect
mx_start "$R4C"
in_srv nft reset counter inet mxbench offered >/dev/null 2>&1
perf_start repeat "$MXPID"
window repeat
perf_stop repeat
# handled: offered SYNs minus those the kernel dropped at a full queue and
# those still waiting: whatever the kernel itself refuses (a managed set)
# counts as handled, as long as the audit accounts for it
MX4_OFFERED=$(rate 1)
MX4_RATE=$(calc "(($(d 1) - $(d 6) - $(d 7)) - (${S2[8]} - ${S1[8]})) * 1e9 / (${S2[0]} - ${S1[0]})")
MX4_QRATE=$(rate 3)
mx_drain_stop
O4_TOT=$(ctr mxbench offered)
Q4_TOT=$(ctr mxlock "queued_$POLICY")
H4_TOT=$(ctr mxlock "handled_$POLICY")
ACC4=$("$PY" "$HERE/audit_count.py" "$(audit_of "$R4C")")
A4_TOT=$(echo "$ACC4" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["attempts_total"])')
A4_MISSED=$(echo "$ACC4" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["attempts"]["missed"])')
ACC4_OK=false
[ "$A4_TOT" = "$O4_TOT" ] && ACC4_OK=true
del_table mxlock
R4=$(calc "$MX4_RATE / $KD4_RATE")
row 4j "repeat-offender flood, action = reject, vs kernel drop" "$MX4_RATE" "refusals/s" "$KD4_RATE" "kernel drop rule" "$R4" \
        info "" "$ACC4_OK" \
        "512 sources; offered $MX4_OFFERED/s; handled by mxlockd's queue $MX4_QRATE/s; audit counts $A4_TOT attempts ($A4_MISSED as missed) of $O4_TOT offered (queued $Q4_TOT, handled $H4_TOT): every attempt counted: $ACC4_OK" \
        "{\"mxlockd_handled_per_s\":$MX4_RATE,\"mxlockd_offered_per_s\":$MX4_OFFERED,\"mxlockd_queue_handled_per_s\":$MX4_QRATE,\"kernel_drop_per_s\":$KD4_RATE,\"audit\":$ACC4,\"kernel_offered\":$O4_TOT,\"kernel_queued\":$Q4_TOT,\"kernel_handled\":$H4_TOT,\"accounting_exact\":$ACC4_OK}"

row 4r "repeat-offender flood, action = reject, vs kernel reject" "$MX4_RATE" "refusals/s" "$KR4_RATE" "kernel reject rule" \
        "$(calc "$MX4_RATE / $KR4_RATE")" info "" "" \
        "a kernel rule answering every SYN with a reset: the ceiling for action = reject" null

# -- goal 4 proper: the same flood with action = drop, against the kernel
# drop rule (like for like; with action = reject every refusal also builds
# and sends a reset, which a kernel reject rule pays as well: rows 4j, 4r).
# ROUNDS4 rounds of (kernel drop rule, mxlockd) windows, so that this
# machine's drift falls on both; the row has the median of the ratios, and
# every mxlockd run's audit log must add up to what the kernel counted.
ROUNDS4=${BENCH_ROUNDS4:-3}
R4D=$W/repeatdrop.conf
: >"$W/repeat4.txt"
ACC4D_OK=true
for r in $(seq "$ROUNDS4"); do
        in_srv nft -f - <<'EOF'
table inet mxdrop {
        chain input {
                type filter hook input priority -10; policy accept;
                tcp dport 25 tcp flags & (fin | syn | rst | ack) == syn drop
        }
}
EOF
        window repeat
        kd=$(rate 1)
        del_table mxdrop
        mkconf "$R4D" gfi-oneconnect "" drop
        : >"$(audit_of "$R4D")"
        mx_start "$R4D"
        in_srv nft reset counter inet mxbench offered >/dev/null 2>&1
        window repeat
        mx=$(calc "(($(d 1) - $(d 6) - $(d 7)) - (${S2[8]} - ${S1[8]})) * 1e9 / (${S2[0]} - ${S1[0]})")
        mx_drain_stop
        O4D_TOT=$(ctr mxbench offered)
        ACC4D=$("$PY" "$HERE/audit_count.py" "$(audit_of "$R4D")")
        A4D_TOT=$(echo "$ACC4D" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["attempts_total"])')
        [ "$A4D_TOT" = "$O4D_TOT" ] || ACC4D_OK=false
        del_table mxlock
        echo "$kd $mx $A4D_TOT $O4D_TOT" >>"$W/repeat4.txt"
        say "repeat offenders, round $r: kernel drop $kd/s, mxlockd (drop) $mx/s; audit $A4D_TOT of $O4D_TOT offered"
done
read -r R4D KD4M MX4D_RATE <<<"$("$PY" - "$W/repeat4.txt" <<'PYEOF'
import statistics, sys
rows = [[float(x) for x in l.split()] for l in open(sys.argv[1])]
print("%.4f %d %d" % (statistics.median(r[1] / r[0] for r in rows), statistics.median(r[0] for r in rows),
                      statistics.median(r[1] for r in rows)))
PYEOF
)"
REP4_ALL=$("$PY" -c 'import json,sys; print(json.dumps([l.split() for l in open(sys.argv[1])]))' "$W/repeat4.txt")
row 4 "repeat-offender flood, action = drop, vs kernel drop" "$MX4D_RATE" "refusals/s" "$KD4M" \
        "kernel drop rule" "$R4D" "ratio>=" 0.9 "$ACC4D_OK" \
        "median of $ROUNDS4 rounds (kernel drop rule, mxlockd) of ${SECS} s windows; every run's audit log adds up to the kernel's count: $ACC4D_OK" \
        "{\"rounds\":$REP4_ALL}"

# -- goal 7c: memory during the million-source flood
row 7c "VmRSS max during the unique-source flood" "$RSS_FLOOD" KiB "$RSS_PRE" "before the flood" \
        "" "figure<=" 8192 "" "VmHWM $HWM_FLOOD KiB; about $(calc "$MX3_OFFERED * ($SECS + $WARM)") distinct-source SYNs offered; target: bounded at 8 MiB" \
        "{\"vmrss_before_kib\":$RSS_PRE,\"vmrss_max_kib\":$RSS_FLOOD,\"vmhwm_kib\":${HWM_FLOOD:-null}}"

# -- goal 6a: the audit log's bytes per second under the distinct-source
# flood. The bound: the fold table writes at most 100 records a second
# (src/daemon/daemon.h TALLY_RATE) plus two rate summaries per policy and family
# and a missed record per second, each under 500 bytes: 52 KB/s; the target
# leaves room up to 64 KiB/s. Before the cap it was one record per SYN.
row 6a "audit log growth during the unique-source flood" "$AUD_BPS_MAX" "bytes/s" "" "" "" "figure<=" 65536 "$ACC_OK" \
        "the largest over the mxlockd runs of goal 3 (each ${SECS} s); every run's audit log adds up to the kernel's count: $ACC_OK" \
        "{\"bytes_per_s_max\":$AUD_BPS_MAX,\"accounting_exact\":$ACC_OK}"

# -- goal 6 row (measured above; baseline: no mxlock table, the TCP stack's own reset)
LAT0=$(in_gen "$PY" "$HERE/connlat.py" $SRV4 25 300 2 $(seq -f '203.0.113.%g' 101 200))
P99=$(echo "$LAT" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["p99_ms"] or "")')
P99_0=$(echo "$LAT0" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["p99_ms"] or "")')
ALLREF=$(echo "$LAT" | "$PY" -c 'import json,sys; j=json.load(sys.stdin); print("true" if j["refused"]==j["count"] else "false")')
row 6 "refusal latency p99" "$P99" ms "$P99_0" "no table: TCP stack reset" "$(calc "${P99:-0} / ${P99_0:-1}")" \
        "figure<=" 1 "$ALLREF" "300 connects from 100 refused sources, 2 ms apart" \
        "{\"mxlockd\":$LAT,\"no_table\":$LAT0}"
P99S=$(echo "$LATS" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["p99_ms"] or "")')
row 6s "refusal latency p99, every vCPU kept out of halt" "$P99S" ms "$P99" "the goal's run" "$(calc "${P99S:-0} / ${P99:-1}")" \
        info "" "" "the same 300 connects with an idle-class spinner on each vCPU: this guest has no cpuidle driver, so an idle vCPU halts, and each of the two cross-vCPU wake-ups a refusal needs (mxlockd's, then the client's) waits for the host to run it again" \
        "{\"mxlockd_spinners\":$LATS}"

fi

SNAP_MX=0
if phase B; then
if [ -z "${RSS_EX:-}" ]; then
        EX=$W/example.conf
        sed -e "s|^audit_log = .*|audit_log = $W/example.audit.jsonl|" \
            -e "s|^#provider_dirs = .*|provider_dirs = $W/prov|" \
            -e "s|^#control_socket = .*|control_socket = $W/ctl.sock|" \
            "$ROOT/mxlock.conf.example" >"$EX"
        mx_start "$EX"
        sleep 1
        RSS_EX=$(rss "$MXPID" VmRSS)
        mx_stop
        del_table mxlock
fi
# ==== B: load time, 100k and 1M ================================================

nft_load() {     # N: nft -f of the same ruleset in a fresh namespace; prints seconds
        local n=$1 t0 t1
        sed 's/^table inet mxlock {/table inet nftbase {/' "$W/load$n.nft" >"$W/nft$n.nft"
        ip netns add "$NS_NFT"
        t0=$(now_ns)
        $PIN ip netns exec "$NS_NFT" nft -f "$W/nft$n.nft" 2>"$W/nft$n.err" || say "nft -f failed: $(head -c 300 "$W/nft$n.err")"
        t1=$(now_ns)
        ip netns exec "$NS_NFT" nft flush ruleset 2>/dev/null
        ip netns del "$NS_NFT"
        calc "($t1 - $t0) / 1e9"
}

LAST_N=
for n in $SIZES; do
        C=$W/load$n.conf
        mkconf "$C" "bench$n" "198.51.100.0/24 2001:db8:25::/48 100.64.9.0/24"
        "$MXLOCKD" -c "$C" --print-ruleset >"$W/load$n.nft" 2>/dev/null
        [ -n "$LAST_N" ] && { mx_stop; del_table mxlock; }
        # nft first, while no mxlockd runs: any nf_tables event listener on
        # the host (mxlockd's self-heal socket, `nft monitor`), in any
        # namespace, makes the kernel build an event per element of every
        # commit (netlink's listener map is global), which slowed nft -f
        # 3 to 5 times in earlier runs. mxlockd drops its own listener
        # while it loads, so both now load with none.
        # sizes below 1M: three loads of each, alternating, and the medians
        # (a 100k load takes about a second, and single ones varied by 40 %)
        reps=1
        [ "$n" -lt 1000000 ] && reps=3
        nft_all=() mx_all=()
        for rep in $(seq "$reps"); do
                [ "$rep" -gt 1 ] && { mx_stop; del_table mxlock; : >"$(audit_of "$C")"; }
                nft_all+=("$(nft_load "$n")")
                [ "$n" = "${SIZES##* }" ] && perf_start "load$n" -a
                mx_start "$C"
                perf_stop "load$n"
                mx_all+=("$(calc "($MX_T1 - $MX_T0) / 1e9")")
        done
        NFT_S=$(median "${nft_all[@]}")
        MX_S=$(median "${mx_all[@]}")
        say "load $n: mxlockd ${mx_all[*]} s, nft -f ${nft_all[*]} s"
        read -r EA ED EM EB <<<"$(inforce "$MXERR")"
        RANGES=$(grep -o '[0-9]* ranges' "$MXERR" | tail -n 1 | cut -d' ' -f1)
        sleep 0.5
        RSS_N=$(rss "$MXPID" VmRSS)
        HWM_N=$(rss "$MXPID" VmHWM)
        row 1 "load $n prefixes" "$MX_S" s "$NFT_S" "nft -f, same merged elements" "$(calc "$MX_S / $NFT_S")" \
                "ratio<=" 0.5 "" "$RANGES merged ranges, $EA elements in $EM messages ($EB bytes); median of $reps (mxlockd ${mx_all[*]} s, nft ${nft_all[*]} s)" \
                "{\"prefixes\":$n,\"ranges\":${RANGES:-null},\"elements\":${EA:-null},\"messages\":${EM:-null},\"bytes\":${EB:-null},\"mxlockd_s\":$MX_S,\"nft_s\":$NFT_S,\"vmrss_kib\":$RSS_N,\"vmhwm_kib\":$HWM_N}"
        LAST_N=$n
done
N=$LAST_N
C=$W/load$N.conf

# -- goal 7b: memory per prefix
PERP=$(calc "($RSS_N - $RSS_EX) * 1024 / $N")
row 7b "RSS per prefix above the example, $N prefixes" "$PERP" B "" "" "" "figure<=" 48 "" \
        "VmRSS $RSS_N KiB, VmHWM $HWM_N KiB (peak during load), example $RSS_EX KiB; $(calc "($RSS_N - $RSS_EX) * 1024 / ${RANGES:-1}") B per merged range" \
        "{\"vmrss_kib\":$RSS_N,\"vmhwm_kib\":$HWM_N,\"vmrss_example_kib\":$RSS_EX,\"prefixes\":$N,\"ranges\":${RANGES:-null}}"

fi

if phase B && phase C; then
# ==== C: change one prefix in the big policy, by reload =======================
#
# Two versions of the big catalog (101.1.2.0/24 removed and 100.64.1.0/24
# added, and back) and two of the config's allow list (100.64.9.0/24 or
# 100.64.3.0/24): each reload changes one prefix in and one out. Each kind
# is timed REL_REPS times, alternating, from SIGHUP to the reload record;
# the row has the median. No nf_tables listener runs meanwhile (one would
# make the kernel build an event per element of the commit); the kernel's
# state is read before and after instead: the map of parts and the two
# parts the change touches (100.0.0.0/8 and 101.0.0.0/8), so that what the
# kernel holds, not only what mxlockd says it sent, shows the difference.

REL_REPS=${BENCH_REL_REPS:-5}
cp "$BB/catalog-$N.conf" "$W/bench-a.conf"
{ grep -v '^101\.1\.2\.0/24' "$BB/catalog-$N.conf"; echo "100.64.1.0/24    # goal 2 adds this one"; } >"$W/bench-b.conf"

parts() {       # the kernel's map of parts and the entries of parts 64 and 65, one per line
        local o
        for o in "map allow4_$POLICY" "set allow4_${POLICY}_64" "set allow4_${POLICY}_65"; do
                in_srv nft list ${o% *} inet mxlock ${o#* } 2>/dev/null | tr -d '\n' | sed -n 's/.*elements = { \([^}]*\) }.*/\1/p' |
                        tr ',' '\n' | sed "s/^[[:space:]]*//; s|^|${o#* } |"
        done | sort
}

# reload_measure: SIGHUP and the time to the next reload record (sets
# CH_MS, RELOAD_OK, CA CD CM CB from the "in force" line, MX_MS from
# mxlockd's own "in force N ms after the signal", SEEN: kernel entries changed).
NRELOAD=0
reload_measure() {
        local t0 i ts
        NRELOAD=$((NRELOAD + 1))
        parts >"$W/parts.before"
        sleep 0.2
        t0=$(now_ns)
        kill -HUP "$MXPID"
        ts=
        for i in $(seq 2000); do
                ts=$(audit_ts "$AUD" reload "$NRELOAD")
                [ -n "$ts" ] && break
                sleep 0.005
        done
        CH_MS=
        [ -n "$ts" ] && CH_MS=$(calc "($(ts_ns "$ts") - $t0) / 1e6")
        RELOAD_OK=false
        grep -F '"event":"reload"' "$AUD" | sed -n "${NRELOAD}p" | grep -q '"result":"ok"' && RELOAD_OK=true
        read -r CA CD CM CB <<<"$(inforce "$MXERR")"
        MX_MS=$(grep -o 'in force [0-9.]* ms after the signal' "$MXERR" | tail -n 1 | cut -d' ' -f3)
        HOW=$(grep -o 'changed catalogs read whole [0-9]*, as a difference [0-9]*' "$MXERR" | tail -n 1)
        parts >"$W/parts.after"
        SEEN=$(comm -3 "$W/parts.before" "$W/parts.after" | wc -l)
        say "reload: $CH_MS ms to the reload record (mxlockd: in force after $MX_MS ms); $CA added $CD removed $CM messages $CB bytes; kernel entries changed: $SEEN"
}

# measure_kind KIND: REL_REPS reloads, each switching to the other version;
# sets K_MS (median), K_MX (median of mxlockd's own), K_ALL, K_OK, K_CHG (max
# elements), K_SEEN (max kernel entries changed), K_EXPLAIN (the change is live each time)
measure_kind() {
        local kind=$1 rep ms=() mx=() ok=true chg=0 seen=0 explain=true new old diffed=0
        for rep in $(seq "$REL_REPS"); do
                if [ "$kind" = catalog ]; then
                        if [ $((rep % 2)) = 1 ]; then cp "$W/bench-b.conf" "$W/prov/bench$N.conf.new"; new=100.64.1.7 old=101.1.2.7
                        else cp "$W/bench-a.conf" "$W/prov/bench$N.conf.new"; new=101.1.2.7 old=100.64.1.7; fi
                        mv "$W/prov/bench$N.conf.new" "$W/prov/bench$N.conf"
                else
                        if [ $((rep % 2)) = 1 ]; then sed -i 's|100\.64\.9\.0/24|100.64.3.0/24|' "$C"; new=100.64.3.7 old=100.64.9.7
                        else sed -i 's|100\.64\.3\.0/24|100.64.9.0/24|' "$C"; new=100.64.9.7 old=100.64.3.7; fi
                fi
                reload_measure
                ms+=("${CH_MS:-99999}")
                mx+=("${MX_MS:-99999}")
                [ "$RELOAD_OK" = true ] || ok=false
                if [ "$kind" = catalog ]; then
                        case $HOW in *"as a difference 1") diffed=$((diffed + 1)) ;; esac
                        HOW=
                fi
                [ $(( ${CA:-99} + ${CD:-99} )) -gt $chg ] && chg=$(( ${CA:-99} + ${CD:-99} ))
                [ "$SEEN" -gt "$seen" ] && seen=$SEEN
                # the live kernel sets, one element looked up each
                in_srv "$BUILD/mxlock" -c "$C" explain --json $new 25 2>/dev/null | grep -q '"kernel_allow":true' || explain=false
                in_srv "$BUILD/mxlock" -c "$C" explain --json $old 25 2>/dev/null | grep -q '"kernel_allow":false' || explain=false
        done
        K_MS=$(median "${ms[@]}")
        K_MX=$(median "${mx[@]}")
        K_ALL=$(printf '%s,' "${ms[@]}")
        K_ALL="[${K_ALL%,}]"
        K_OK=$ok K_CHG=$chg K_SEEN=$seen K_EXPLAIN=$explain K_DIFFED=$diffed
}

AUD=$(audit_of "$C")
measure_kind catalog
row 2a "one prefix in and one out of the $N catalog, reload in force" "$K_MS" ms "" "" "" "figure<=" 50 \
        "$( [ "$K_OK" = true ] && [ "$K_EXPLAIN" = true ] && echo true || echo false)" \
        "median of $REL_REPS reloads, SIGHUP to the reload record (mxlockd's own in-force time: median $K_MX ms); the catalog file replaced by a new version (renamed over it), which mxlockd took as its difference from the last in $K_DIFFED of $REL_REPS; the change live in the kernel each time: $K_EXPLAIN" \
        "{\"ms\":$K_ALL,\"mxlockd_in_force_ms\":$K_MX,\"result_ok\":$K_OK,\"live\":$K_EXPLAIN,\"as_difference\":$K_DIFFED}"
A_CHG=$K_CHG A_SEEN=$K_SEEN
measure_kind allow
row 2c "one prefix in and one out of the config's allow list beside the $N catalog, reload in force" "$K_MS" ms "" "" "" \
        "figure<=" 50 "$( [ "$K_OK" = true ] && [ "$K_EXPLAIN" = true ] && echo true || echo false)" \
        "median of $REL_REPS reloads, SIGHUP to the reload record (mxlockd's own: median $K_MX ms); catalog unchanged; the change live in the kernel each time: $K_EXPLAIN" \
        "{\"ms\":$K_ALL,\"mxlockd_in_force_ms\":$K_MX,\"result_ok\":$K_OK,\"live\":$K_EXPLAIN}"
CHG=$(( A_CHG > K_CHG ? A_CHG : K_CHG ))
row 2b "elements sent for one such change (the most of any reload above)" "$CHG" elements "" "" "" "figure<=" 6 \
        "$( [ "$A_SEEN" -le 4 ] && [ "$K_SEEN" -le 4 ] && echo true || echo false)" \
        "mxlockd's count of interval and map elements in the transaction: the difference is two ranges of 2 interval elements each, and one map element for a part that comes or goes (101.0.0.0/8 holds only 101.1.2.0/24); entries the kernel's map and touched parts changed by: catalog $A_SEEN, allow $K_SEEN" \
        "{\"elements_max\":$CHG,\"kernel_entries_changed_catalog\":$A_SEEN,\"kernel_entries_changed_allow\":$K_SEEN}"
fi


if phase B && phase D; then

# ==== D: allowed path with the big policy loaded, against no mxlock table ========
#
# mxlockd's table, a floor table and no table at all take turns while one
# trafgen run goes on: each is made live in turn (the others dormant, see
# dormant.py) for a 1 s window, ROUNDS5 rounds, and each round's ratio is
# taken against its own no-table window; the median goes in the row. Two
# kinds of allowed sources: 128 addresses drawn from the big catalog's own
# ranges (64 per family, spread over the address space and the shards)
# and, as information, the one gateway /24 of the config.

ROUNDS5=${BENCH_ROUNDS5:-8}
in_srv nft -f - <<'EOF'
table inet mxbench {
        chain post {
                type filter hook input priority 10; policy accept;
                tcp dport 25 tcp flags & (fin | syn | rst | ack) == syn counter name "passed" drop
        }
}
EOF
# the allowed path does not involve the daemon: stop it (the table stays,
# failure = closed), so that it does not restore its table when it goes dormant
mx_stop
in_srv nft list table inet mxlock >/dev/null 2>&1 || die "mxlockd's table is gone after stop"

# the floor: the same allowed ranges as two plain interval sets behind one
# rule per family in one base chain, what any nftables table holding them costs
sed '/^shard_min = /d; /^\[daemon\]/a shard_min = 0' "$C" >"$W/floor.conf"
"$MXLOCKD" -c "$W/floor.conf" --print-ruleset >"$W/floor-src.nft" 2>/dev/null
"$PY" - "$W/floor-src.nft" "$W/floor.nft" "$W/allowed-sources.txt" <<'PYEOF'
import ipaddress, random, re, sys
text = open(sys.argv[1]).read()
blocks = re.findall(r"(\tset allow([46])_\S+ \{.*?\n\t\})\n", text, re.S)
out = ["table inet mxfloor {", "\tflags dormant"]
nets = {}
for block, fam in blocks:
    out.append(re.sub(r"set allow([46])_\S+ \{", r"set a\1 {", block, count=1))
    m = re.search(r"elements = \{ (.*?) \}", block, re.S)
    nets[fam] = [e.strip() for e in m.group(1).split(",")] if m else []
out.append("\tchain input {\n\t\ttype filter hook input priority -10; policy accept;")
out.append("\t\tip saddr @a4 accept\n\t\tip6 saddr @a6 accept\n\t}\n}")
open(sys.argv[2], "w").write("\n".join(out) + "\n")
# allowed sources: a random address in each of 64 random ranges per family
rnd = random.Random(5)
with open(sys.argv[3], "w") as f:
    for fam in "46":
        for e in rnd.sample(nets[fam], 64):
            n = ipaddress.ip_network(e)
            f.write("%s\n" % (n.network_address + rnd.randrange(min(n.num_addresses, 1 << 32))))
PYEOF
in_srv nft -f "$W/floor.nft" 2>"$W/floor.err" || say "floor table failed: $(head -c 300 "$W/floor.err")"
in_srv "$PY" "$HERE/dormant.py" mxlock 1 || die "cannot make table mxlock dormant"

# rotate KIND: one trafgen run, ROUNDS5 rounds of (none, mxlock, mxfloor);
# sets R5_MX, R5_FLOOR (median ratios), R5_NONE, R5_MXRATE, R5_FLRATE
# (median rates) and R5_ALL (every window, JSON)
rotate() {
        local kind=$1 r v p0 p1 t0 t1
        tg_cfg "$kind" "$W/tg-rot-$kind.cfg"
        timeout -s INT $(( ROUNDS5 * 5 + 4 )) taskset -c 0 ip netns exec "$NS_GEN" \
                trafgen --no-sock-mem --notouch-irq --cpus 1 -o b1 -i "$W/tg-rot-$kind.cfg" \
                >"$W/tg-rot-$kind.out" 2>&1 &
        TG_PID=$!
        BGPIDS+=("$TG_PID")
        sleep 1
        : >"$W/rot-$kind.txt"
        for r in $(seq "$ROUNDS5"); do
                for v in none mxlock mxfloor; do
                        [ $v = none ] || in_srv "$PY" "$HERE/dormant.py" $v 0
                        sleep 0.2
                        t0=$(now_ns)
                        p0=$(ctr mxbench passed)
                        sleep 1
                        t1=$(now_ns)
                        p1=$(ctr mxbench passed)
                        [ $v = none ] || in_srv "$PY" "$HERE/dormant.py" $v 1
                        echo "$r $v $(( (p1 - p0) * 1000000000 / (t1 - t0) ))" >>"$W/rot-$kind.txt"
                done
        done
        kill -INT "$TG_PID" 2>/dev/null
        tg_wait
        read -r R5_MX R5_FLOOR R5_NONE R5_MXRATE R5_FLRATE <<<"$("$PY" - "$W/rot-$kind.txt" <<'PYEOF'
import collections, statistics, sys
by = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    r, v, rate = line.split()
    by[r][v] = int(rate)
rounds = [d for d in by.values() if d.get("none")]
med = lambda xs: statistics.median(xs) if xs else 0
print("%.4f %.4f %d %d %d" % (med([d["mxlock"] / d["none"] for d in rounds]),
                              med([d["mxfloor"] / d["none"] for d in rounds]),
                              med([d["none"] for d in rounds]), med([d["mxlock"] for d in rounds]),
                              med([d["mxfloor"] for d in rounds])))
PYEOF
)"
        R5_ALL=$("$PY" -c 'import json,sys; print(json.dumps([l.split() for l in open(sys.argv[1])]))' "$W/rot-$kind.txt")
}

perf_start allowed -a
rotate catalog
perf_stop allowed
row 5 "allowed SYNs from the $N catalog's ranges vs no table" "$R5_MXRATE" "SYN/s" "$R5_NONE" "no table (dormant)" \
        "$R5_MX" "ratio>=" 0.95 "" \
        "median of $ROUNDS5 rounds of 1 s windows taking turns (mxlock, floor, no table); 128 sources drawn from the catalog's ranges; floor $R5_FLOOR" \
        "{\"rounds\":$R5_ALL,\"floor_ratio\":$R5_FLOOR}"
row 5f "allowed SYNs, the same ranges in a one-rule table (floor), vs no table" "$R5_FLRATE" "SYN/s" "$R5_NONE" \
        "no table (dormant)" "$R5_FLOOR" info "" "" \
        "the floor for any nftables table with these ranges: plain interval sets, ip saddr @a4 accept, ip6 saddr @a6 accept, in one base chain" null
rotate allowed
row 5g "allowed SYNs from the gateway's /24 only vs no table" "$R5_MXRATE" "SYN/s" "$R5_NONE" \
        "no table (dormant)" "$R5_MX" info "" "" \
        "198.51.100.0/24 and 2001:db8:25::/120, the config's own allow entries (a small part of their own); floor $R5_FLOOR" \
        "{\"rounds\":$R5_ALL,\"floor_ratio\":$R5_FLOOR}"
T0=$(now_ns)
del_table mxlock
DEL_S=$(calc "($(now_ns) - $T0) / 1e9")
del_table mxfloor
say "deleting the $N-prefix table took ${DEL_S}s"

fi

if phase O; then
# ==== O: the outbound lock =======================================================
#
# tests/bench/outbound.sh builds its own two namespaces and appends its rows
# to ours; a failure there costs its rows only.
mx_stop
OB_ROWS=$ROWS BUILD=$BUILD MXLOCKD=$MXLOCKD "$HERE/outbound.sh" || say "the outbound bench failed: rows O1, O2 are missing"

fi

# ==== report ===================================================================

T_END=$(now_ns)
cat >"$W/meta.json" <<EOF
{"bench":"mxlock","date":"$(date -u +%Y-%m-%dT%H:%M:%SZ)","kernel":"$(uname -r)","cpus":$(nproc),
 "commit":"$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)",
 "window_s":$SECS,"warmup_s":$WARM,"sizes":"$SIZES","duration_s":$(calc "($T_END - $T_START) / 1e9"),
 "trafgen":"$(trafgen -v 2>/dev/null | head -n 1 | tr -d '"')"}
EOF
mkdir -p "$(dirname "$OUT")"
"$PY" "$HERE/summary.py" "$ROWS" "$W/meta.json" "$OUT" || die "summary failed"
echo "results: $OUT"
