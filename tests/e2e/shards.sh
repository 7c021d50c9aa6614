#!/usr/bin/env bash
# tests/e2e/shards.sh: a big allowed list goes to the kernel sharded: one
# interval set per /8 (IPv4) or /12 (IPv6) behind a verdict map. Real mail
# from the gateway inside it gets through over IPv4 and IPv6, the direct
# sender is refused, explain follows the map, a reload touches only the
# part that changed, deny still wins inside a part, a reload switches
# between the sharded and the plain form without a gap, and a new version of
# the catalog is taken as its difference.
. "$(dirname "$0")/../lib.sh"
require_root
require_mxlockd

BAD4=198.51.100.66

ok "lab up" lab_up || lab_finish
ok "second gateway-side address" ip -n "$NS_GW" addr add "$BAD4/24" dev mx0
ok "postfix listening in SRV" postfix_up || lab_finish

# 20000 prefixes over the whole space, the gateway's ranges among them;
# nothing in 192.0.0.0/8 (the direct sender's part) or 2001:db8:66::/48.
mkdir -p "$T/providers"
"$PY" - "$T/providers/big.conf" <<'EOF'
import random, sys
rnd = random.Random(25)
lines = ["description = 20000 prefixes (tests/e2e/shards.sh)", "source = test fixture",
         "198.51.100.0/24", "2001:db8:25::/48"]
firsts = [o for o in range(1, 224) if o not in (10, 127, 192, 198)]
for i in range(16000):
    a = (rnd.choice(firsts) << 24) | (rnd.getrandbits(24) & ~0xff)
    lines.append("%d.%d.%d.%d/%d" % (a >> 24, (a >> 16) & 255, (a >> 8) & 255, 0, rnd.choice((22, 24, 24, 26))))
for i in range(4000):
    lines.append("%x:%x:%x::/48" % (rnd.randint(0x2400, 0x2fff), rnd.getrandbits(16), rnd.getrandbits(16)))
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
EOF

write_conf() {   # SHARD_MIN [ALLOW] [DENY]
        mkconf "$T/mxlock.conf" shard_min="$1" <<CONF
[policy inbound-smtp]
ports = 25
providers = big
${2:+allow = $2}
${3:+deny = $3}
CONF
}

explain_kernel() {      # ADDR true|false: the live kernel sets say so
        local out
        out=$(ip netns exec "$NS_SRV" "$MXT_ROOT/build/mxlock" -c "$T/mxlock.conf" explain --json "$1" 25 2>&1)
        echo "$out" | head -c 400
        echo
        echo "$out" | grep -q "\"kernel_allow\":$2"
}

in_force_line() {       # the daemon's last "in force" line matches
        grep 'in force:' "$MXLOCKD_ERR" | tail -n 1 | tee /dev/stderr | grep -q "$1"
}

write_conf 1000
ok "the sharded ruleset prints and nft -c accepts it" \
        sh -c "'$MXLOCKD' -c '$T/mxlock.conf' --print-ruleset >'$T/print.nft' &&
               grep -q 'vmap @allow4_inbound-smtp' '$T/print.nft' &&
               ip netns exec '$NS_SRV' nft -c -f '$T/print.nft'"
ok "mxlockd starts" mxlockd_start "$T/mxlock.conf" || lab_finish
ok "allow4 is a verdict map of parts" sh -c "ip netns exec '$NS_SRV' nft list map inet '$TABLE' allow4_inbound-smtp 2>/dev/null |
        grep -q '198.0.0.0 : jump allow4_inbound-smtp_c6'"
ok "allow6 is a verdict map of parts" sh -c "ip netns exec '$NS_SRV' nft list map inet '$TABLE' allow6_inbound-smtp 2>/dev/null |
        grep -q '2000:: : jump allow6_inbound-smtp_200'"
ok "the gateway's part holds its /24" sh -c "ip netns exec '$NS_SRV' nft list set inet '$TABLE' allow4_inbound-smtp_c6 2>/dev/null |
        grep -q '198.51.100.0/24'"
ok "gateway mail delivered over IPv4" deliver "$NS_GW" "$SRV4" --local-interface "$GW4"
ok "gateway mail delivered over IPv6" deliver "$NS_GW" "$SRV6" --local-interface "$GW6"
ok "direct sender refused with RST (IPv4)" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
ok "direct sender refused with RST (IPv6)" probe_is refused "$NS_SPAM" "$EXT6" 25 "" 1000
ok "audit: the direct sender's attempt" audit_wait refused src="$SPAM4" dport=25 reason=not-allowed
ok "explain: the gateway is in the live sets" explain_kernel "$GW4" true
ok "explain: the gateway's IPv6 is in the live sets" explain_kernel "$GW6" true
ok "explain: the direct sender is not" explain_kernel "$SPAM4" false
nft_srv list set inet "$TABLE" allow4_inbound-smtp_34 >"$T/part34.before"

# One address allowed in a part that had nothing: a new set, chain and map
# element, and nothing else.
write_conf 1000 "$SPAM4"
ok "reload allowing the direct sender" mxlockd_reload
ok "audit: reload ok" audit_has reload result=ok
ok "only the new part was sent (start + end + one map element)" \
        in_force_line "(3 elements added, 0 removed"
ok "the direct sender now connects" probe_is connected "$NS_SPAM" "$EXT4" 25
ok "explain: the direct sender is in the live sets" explain_kernel "$SPAM4" true
nft_srv list set inet "$TABLE" allow4_inbound-smtp_34 >"$T/part34.after"
ok "an untouched part is unchanged" cmp "$T/part34.before" "$T/part34.after"

# The plain form: the map and its parts give way to one set per family.
write_conf 0 "$SPAM4"
ok "reload with shard_min = 0" mxlockd_reload
ok "audit: reload ok (plain)" audit_has reload result=ok
ok "allow4 is one interval set again" sh -c "ip netns exec '$NS_SRV' nft list set inet '$TABLE' allow4_inbound-smtp 2>/dev/null |
        grep -q 'flags interval'"
ok_fails "the parts are gone" nft_srv list set inet "$TABLE" allow4_inbound-smtp_c6
ok "gateway mail delivered (plain form)" deliver "$NS_GW" "$SRV4" --local-interface "$GW4"
ok "explain: the gateway in the plain set" explain_kernel "$GW4" true

# Back to parts, with a denied host inside the gateway's part.
write_conf 1000 "" "$BAD4"
ok "reload back to parts, with a deny" mxlockd_reload
ok "audit: reload ok (parts again)" audit_has reload result=ok
ok "allow4 is a map again" sh -c "ip netns exec '$NS_SRV' nft list map inet '$TABLE' allow4_inbound-smtp >/dev/null 2>&1"
ok "denied $BAD4 refused inside a sharded range" probe_is refused "$NS_GW" "$SRV4" 25 "$BAD4" 1000
ok "audit: the denied host refused" audit_wait refused src="$BAD4" reason=denied
ok "its neighbour, the gateway, delivers" deliver "$NS_GW" "$SRV4" --local-interface "$GW4"
ok "the direct sender is refused again" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
ok "gateway IPv6 still delivers" deliver "$NS_GW" "$SRV6" --local-interface "$GW6"

reload_line() {         # the daemon's last "Reload done" line matches
        grep 'Reload done' "$MXLOCKD_ERR" | tail -n 1 | tee /dev/stderr | grep -q "$1"
}

# A new version of the catalog renamed over it, as mxlock sync and packages
# write one: taken as its difference from the version read before.
cp "$T/providers/big.conf" "$T/big.v1"
{ cat "$T/big.v1"; echo "192.0.2.0/24    # the direct sender's /24, for a while"; } >"$T/providers/big.conf.new"
mv "$T/providers/big.conf.new" "$T/providers/big.conf"
ok "reload with a new version of the catalog" mxlockd_reload
ok "audit: reload ok (new catalog)" audit_has reload result=ok
ok "the catalog was taken as its difference" reload_line "changed catalogs: 0 read whole, 1 as a difference"
ok "only the new part was sent (start + end + one map element)" in_force_line "(3 elements added, 0 removed"
ok "the direct sender now connects" probe_is connected "$NS_SPAM" "$EXT4" 25
ok "explain: the direct sender is in the live sets" explain_kernel "$SPAM4" true
ok "gateway mail still delivered" deliver "$NS_GW" "$SRV4" --local-interface "$GW4"

# Edited in place: the version read before is gone, so it is read whole.
cat "$T/big.v1" >"$T/providers/big.conf"
ok "reload after an edit in place" mxlockd_reload
ok "the catalog was read whole" reload_line "changed catalogs: 1 read whole, 0 as a difference"
ok "the direct sender is refused again" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
ok "explain: the direct sender is out of the live sets" explain_kernel "$SPAM4" false

# A bad line in a new version: the whole read's error, with file and line,
# and the rules in force stay.
{ cat "$T/big.v1"; echo "10.1.2.300/24"; } >"$T/providers/big.conf.new"
mv "$T/providers/big.conf.new" "$T/providers/big.conf"
ok "reload with a bad catalog line is answered" mxlockd_reload
ok "audit: reload record with result error" audit_has reload result=error
ok "the error names the file and line" grep -q "big.conf:20005: '10.1.2.300/24' is not an address or prefix" "$MXLOCKD_ERR"
ok "gateway mail delivered after the failed reload" deliver "$NS_GW" "$SRV4" --local-interface "$GW4"
ok "the direct sender still refused" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000

ok "mxlockd stops on SIGTERM with status 0" mxlockd_stop
ok "audit log is one JSON object per line" audit_valid

lab_finish
