# shellcheck shell=bash
# tests/fleet.sh: a lab of several hosts on one segment, for the fleet tests
# (tests/e2e/fleet_*.sh); sourced after tests/lib.sh.
#
# fleet_lab NAME:ADDRESS...: one namespace $LAB-NAME per host with eth0 at
# ADDRESS/24, all bridged in $LAB-net. Sets FLEET_NS[NAME]. The namespaces
# are deleted by lib.sh's cleanup.
declare -A FLEET_NS=()

fleet_lab() {
        local spec name addr net=$LAB-net
        lab_init
        ip netns add "$net" || return 1
        MXT_NS_EXTRA+=("$net")
        ip -n "$net" link set lo up
        ip -n "$net" link add br0 type bridge || return 1
        ip -n "$net" link set br0 up
        for spec in "$@"; do
                name=${spec%%:*}
                addr=${spec#*:}
                ip netns add "$LAB-$name" || return 1
                MXT_NS_EXTRA+=("$LAB-$name")
                FLEET_NS[$name]=$LAB-$name
                ip -n "$LAB-$name" link set lo up
                ip link add name eth0 netns "$LAB-$name" type veth peer name "$name" netns "$net" || return 1
                ip -n "$net" link set "$name" master br0
                ip -n "$net" link set "$name" up
                ip -n "$LAB-$name" addr add "$addr/24" dev eth0
                ip -n "$LAB-$name" link set eth0 up
        done
}

# fleet_mxlockd NAME: mxlockd in host NAME with its own files in $T/NAME
# (config, audit.jsonl, textfile/mxlock.prom written every second).
# Sets FLEET_PID[NAME]; waits (5 s) for its start record.
declare -A FLEET_PID=()
fleet_mxlockd() {
        local name=$1 d=$T/$1
        mkdir -p "$d/textfile" "$d/providers"
        cat >"$d/mxlock.conf" <<CONF
[daemon]
mode = enforce
action = reject
queue = $QUEUE
table = $TABLE
audit_log = $d/audit.jsonl
control_socket = $d/mxlock.sock
provider_dirs = $d/providers
metrics_file = $d/textfile/mxlock.prom
metrics_interval = 1

[policy inbound-smtp]
ports = 25
allow = 198.51.100.0/24 2001:db8:25::/48
CONF
        ip netns exec "${FLEET_NS[$name]}" "$MXLOCKD" -c "$d/mxlock.conf" 2>>"$d/mxlockd.err" &
        FLEET_PID[$name]=$!
        track "${FLEET_PID[$name]}"
        wait_until 5 fleet_started "$d/audit.jsonl"
}

# (grep's exit 2 for a missing file would end wait_until at once)
fleet_started() {
        [ -s "$1" ] && grep -q '"event":"start"' "$1"
}

# fleet_attempts FILE...: the attempts the audit logs account for.
fleet_attempts() {
        "$PY" - "$@" <<'PYEOF'
import json, sys
n = 0
for path in sys.argv[1:]:
    for line in open(path):
        r = json.loads(line)
        if r["event"] in ("refused", "observed", "summary", "missed"):
            n += r.get("count", 1)
print(n)
PYEOF
}
