#!/usr/bin/env bash
# tests/e2e/selfheal.sh: someone runs `nft flush ruleset` (or flushes or
# deletes mxlockd's table) under traffic: the table is back within a second
# with a `restored` record, and the lock holds again. A deliberate
# `mxlock disable` is not fought; `mxlock enable` brings the table back.
# A foreign table in the namespace stays exactly as its owner left it.
. "$(dirname "$0")/../lib.sh"
require_root
require_mxlockd
MXLOCK=${MXLOCK:-$MXT_ROOT/build/mxlock}

ok "lab up" lab_up || lab_finish
ok "a listener on port 25" listener_up "$NS_SRV" 25
mkconf "$T/mxlock.conf" <<'CONF'
[policy inbound-smtp]
ports = 25
allow = 198.51.100.0/24 2001:db8:25::/48
CONF
ok "mxlockd starts" mxlockd_start "$T/mxlock.conf" || lab_finish

# Traffic during the whole test: the direct sender knocks every 50 ms.
(
        end=$((SECONDS + 40))
        while [ $SECONDS -lt $end ]; do
                timeout 1 ip netns exec "$NS_SPAM" "$PY" "$T/probe.py" "$EXT4" 25 "" 0.5 >/dev/null 2>&1
                sleep 0.05
        done
) &
track $!

table_present() { nft_srv list table inet "$TABLE" >/dev/null; }
restored_count() { audit_count restored; }

# back_within WHAT CMD...: run CMD, then time until the table is whole again.
back_within() {
        local what=$1 before t0 t1
        shift
        before=$(restored_count)
        t0=${EPOCHREALTIME/./}
        "$@" || return 1
        wait_until 2 intact_again "$before" || { echo "not back after 2 s"; return 1; }
        t1=${EPOCHREALTIME/./}
        echo "$what: table whole again after $(( (t1 - t0) / 1000 )) ms"
        [ $(( t1 - t0 )) -lt 1000000 ]
}
intact_again() {
        [ "$(restored_count)" -gt "$1" ] && table_present &&
                nft_srv list chain inet "$TABLE" input | grep -q "jump syn" &&
                ! nft_srv list table inet "$TABLE" | grep -q "flags dormant"
}

ok "nft flush ruleset: back within a second" back_within "flush ruleset" nft_srv flush ruleset
ok "the restored record says what happened" audit_has restored result=ok
ok "the lock holds again: direct sender refused" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
ok "gateway still connects" probe_is connected "$NS_GW" "$SRV4" 25

ok "nft flush table inet $TABLE: back within a second" back_within "flush table" nft_srv flush table inet "$TABLE"
ok "nft delete table inet $TABLE: back within a second" back_within "delete table" nft_srv delete table inet "$TABLE"
ok "the lock holds again after a delete" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
# a dormant table keeps every rule but its hooks are off: nothing enforced
ok "nft add table inet $TABLE { flags dormant; }: back within a second" \
        back_within "dormant" nft_srv add table inet "$TABLE" "{ flags dormant; }"
ok "the lock holds again after dormant" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000

# Tampering inside the table: each kind leaves the table in place but opens
# the port (or closes it to the gateway); each must be noticed and undone.
P=inbound-smtp
tamper() {      # WHAT NFT-ARGS...: tamper, see it restored, the lock holds
        local what=$1
        shift
        back_within "$what" nft_srv "$@" || return 1
        probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000 || return 1
        probe_is refused "$NS_SPAM" "$EXT6" 25 "" 1000 || return 1
        probe_is connected "$NS_GW" "$SRV4" 25 || return 1
        probe_is connected "$NS_GW" "$SRV6" 25
}
ok "flushed syn chain: restored, lock holds" tamper "flush syn" flush chain inet "$TABLE" syn
ok "flushed policy chain: restored, lock holds" tamper "flush policy" flush chain inet "$TABLE" "policy_$P"
ok "flushed refuse chain: restored, lock holds" tamper "flush refuse" flush chain inet "$TABLE" "refuse_$P"
ok "an accept slipped into the syn chain: restored" tamper "insert accept" insert rule inet "$TABLE" syn accept
ok "deleted port element: restored, lock holds" \
        tamper "delete port" delete element inet "$TABLE" "ports_$P" "{ 25 }"
ok "emptied allow set: restored, the gateway connects again" tamper "flush allow4" flush set inet "$TABLE" "allow4_$P"
ok "emptied allow6 set: restored" tamper "flush allow6" flush set inet "$TABLE" "allow6_$P"
ok "an element added to the allow set: restored" \
        tamper "add allow" add element inet "$TABLE" "allow4_$P" "{ $SPAM4 }"
ok "every tampering has its restored record" test "$(audit_count restored result=ok)" -ge 12

# A foreign table is never touched, however often ours is rebuilt.
nft_srv -f - <<'EOF'
table ip foreign {
	set keep { type ipv4_addr; elements = { 192.0.2.99 } }
	chain c { type filter hook input priority 10; policy accept; ip saddr @keep counter }
}
EOF
nft_srv -s list table ip foreign >"$T/foreign.before"
ok "another flush of our table only" back_within "flush table again" nft_srv flush table inet "$TABLE"
ok "the foreign table is byte-for-byte unchanged" \
        sh -c "ip netns exec '$NS_SRV' nft -s list table ip foreign 2>/dev/null | cmp - '$T/foreign.before'"

# mxlock disable is deliberate: the table stays gone.
ok "mxlock disable" ip netns exec "$NS_SRV" "$MXLOCK" -c "$T/mxlock.conf" disable
stays_gone() { ! table_present; }
sleep 1.5
ok "disabled: the table stays gone (not restored)" stays_gone
ok "disabled: the direct sender connects" probe_is connected "$NS_SPAM" "$EXT4" 25
ok "a disabled record" audit_has disabled
ok "mxlock enable" ip netns exec "$NS_SRV" "$MXLOCK" -c "$T/mxlock.conf" enable
ok "enabled: the table is back" table_present
ok "enabled: the direct sender is refused again" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
ok "mxlockd alive" mxlockd_alive
ok "mxlockd stops cleanly" mxlockd_stop
lab_finish
