#!/usr/bin/env bash
# tests/e2e/check_config.sh: mxlockd -n accepts a good config (exit 0) and
# rejects bad ones with exit 2 and "FILE:LINE: message" on stderr, without
# touching the kernel; --print-ruleset prints what nft -c -f accepts.
. "$(dirname "$0")/../lib.sh"
require_root
require_mxlockd

lab_init
MXT_LAB=1
NS_CHK=$LAB-chk
ok "fresh namespace" ip netns add "$NS_CHK" || lab_finish

provider_fixture lab-gateway 198.51.100.0/24 2001:db8:25::/48

mkconf "$T/good.conf" <<'CONF'
[policy inbound-smtp]
ports = 25, 587
providers = lab-gateway
allow = 203.0.113.0/25 203.0.113.128/25    # adjacent: merged
allow = 2001:db8:99::/48
deny = 198.51.100.66

[policy submission-relays]
ports = 2525
allow = 192.0.2.10 2001:db8:66::10
CONF

# check_ok CONF: -n exits 0, in the fresh namespace, and installs nothing.
check_ok() {
        local rc
        ip netns exec "$NS_CHK" "$MXLOCKD" -c "$1" -n >"$T/n.out" 2>"$T/n.err"
        rc=$?
        cat "$T/n.err"
        [ $rc -eq 0 ] || { echo "exit $rc, want 0"; return 1; }
        if [ -n "$(ip netns exec "$NS_CHK" nft list tables 2>/dev/null)" ]; then
                echo "-n touched the kernel:"
                ip netns exec "$NS_CHK" nft list tables
                return 1
        fi
}

# check_bad NAME LINE: $T/NAME.conf exits 2 and stderr names FILE:LINE:
# (LINE "any" accepts any line number).
check_bad() {
        local f=$T/$1.conf want=$2 rc
        ip netns exec "$NS_CHK" "$MXLOCKD" -c "$f" -n >"$T/n.out" 2>"$T/n.err"
        rc=$?
        echo "exit $rc; stderr:"
        cat "$T/n.err"
        [ $rc -eq 2 ] || { echo "want exit 2"; return 1; }
        if [ "$want" = any ]; then
                grep -Eq "^$f:[0-9]+: ?[^ ]" "$T/n.err" || { echo "want $f:LINE: at line start"; return 1; }
        else
                grep -q "^$f:$want: \?[^ ]" "$T/n.err" || { echo "want $f:$want: at line start"; return 1; }
        fi
        [ -z "$(ip netns exec "$NS_CHK" nft list tables 2>/dev/null)" ] || { echo "-n touched the kernel"; return 1; }
}

ok "good config: -n exits 0" check_ok "$T/good.conf"

# A legacy wildcard is accepted with a warning naming FILE:LINE.
mkconf "$T/wild.conf" <<'CONF'
[policy inbound-smtp]
ports = 25
allow = 198.51.100.*
CONF
ok "wildcard 198.51.100.* accepted" check_ok "$T/wild.conf"
ok "wildcard warning names FILE:LINE" grep -q "$T/wild.conf:14: .*198.51.100" "$T/n.err"

# Bad configs. mkconf writes 11 lines (comment, [daemon], 8 keys, blank)
# before the policy text, so policy text line N is file line 11+N.
bad() {
        mkconf "$T/$1.conf"
}
printf '[policy inbound-smtp]\nports = 25\nallow = 198.51.100.0/33\n' | bad cidr
ok "prefix length 33 rejected at its line" check_bad cidr 14
printf '[policy inbound-smtp]\nports = 25\nallow = 198.51.100.300\n' | bad addr
ok "bad address rejected at its line" check_bad addr 14
printf '[policy inbound-smtp]\nports = 70000\nallow = 198.51.100.0/24\n' | bad port
ok "port 70000 rejected at its line" check_bad port 13
printf '[policy inbound-smtp]\nports = 25\nallow = 198.51.100.0/24\ncolour = blue\n' | bad key
ok "unknown key rejected at its line" check_bad key 15
printf '[policy inbound-smtp]\nports = 25\nthis line has no equals sign\n' | bad syntax
ok "line without = rejected at its line" check_bad syntax 14
printf '[policy inbound-smtp]\nports = 25\nallow = 198.51.100.0/24\n[frobnicate]\n' | bad section
ok "unknown section rejected at its line" check_bad section 15
printf '[policy Bad Name!]\nports = 25\nallow = 198.51.100.0/24\n' | bad pname
ok "bad policy name rejected at its line" check_bad pname 12
printf '[policy inbound-smtp]\nports = 25\n' | bad noallow
ok "policy with no allowed source rejected" check_bad noallow any
printf '[policy inbound-smtp]\nports = 25\nprovider = lab-gateway\n' | bad typo
ok "misspelt key (provider) rejected at its line" check_bad typo 14
printf '[policy inbound-smtp]\nports = 25\nproviders = no-such-provider\n' | bad noprov
ok "unknown provider rejected at its line" check_bad noprov 14
mkconf "$T/mode.conf" mode=sideways </dev/null
ok "mode = sideways rejected at its line" check_bad mode 3
mkconf "$T/action.conf" action=bounce </dev/null
ok "action = bounce rejected at its line" check_bad action 4
mkconf "$T/failure.conf" failure=maybe </dev/null
ok "failure = maybe rejected at its line" check_bad failure 5

missing_file() {
        local rc
        "$MXLOCKD" -c "$T/does-not-exist.conf" -n 2>"$T/n.err"
        rc=$?
        cat "$T/n.err"
        [ $rc -eq 2 ] && grep -q "$T/does-not-exist.conf" "$T/n.err"
}
ok "missing config file: exit 2 naming the file" missing_file

# --print-ruleset: nft syntax that nft -c accepts, with the merged prefixes.
print_ruleset() {
        ip netns exec "$NS_CHK" "$MXLOCKD" -c "$T/good.conf" --print-ruleset \
                >"$T/ruleset.nft" 2>"$T/ruleset.err"
        local rc=$?
        cat "$T/ruleset.err"
        [ $rc -eq 0 ] && [ -s "$T/ruleset.nft" ]
}
ok "--print-ruleset exits 0 with output" print_ruleset
ok "ruleset names table inet $TABLE" grep -q "table inet $TABLE" "$T/ruleset.nft"
ok "ruleset has the provider's prefixes" grep -q "198.51.100.0/24" "$T/ruleset.nft"
ok "ruleset merged the adjacent /25s" grep -q "203.0.113.0/24" "$T/ruleset.nft"
ok "ruleset keeps the deny address" grep -q "198.51.100.66" "$T/ruleset.nft"
ok "--print-ruleset did not touch the kernel" \
        test -z "$(ip netns exec "$NS_CHK" nft list tables 2>/dev/null)"
ok "nft -c -f accepts the printed ruleset" ip netns exec "$NS_CHK" nft -c -f "$T/ruleset.nft"
[ $MXT_FAIL -gt 0 ] && [ -s "$T/ruleset.nft" ] && { echo "# printed ruleset:"; diag <"$T/ruleset.nft"; }

lab_finish
