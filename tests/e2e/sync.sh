#!/usr/bin/env bash
# tests/e2e/sync.sh: `mxlock sync` against a real DNS server: dnsmasq in a
# network namespace serving fixture zones built from the providers' published records
# (Google's nested netblocks with adjacent blocks, Microsoft EOP's shrink),
# plus nested includes with a and mx, an SPF record split into several
# strings, a loop, too many lookups, an empty record, and a DNS timeout.
# Checks the state files, the shipped catalogs (untouched), the exit codes
# and the ranges-changed audit records.
#
# MXLOCK=path overrides build/mxlock (it must have the sync command).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../synclib.sh"

if [ "$(id -u)" -ne 0 ]; then
        echo "skip - $MXT_NAME (needs root: network namespaces)"
        exit 0
fi
for t in ip dnsmasq "$PY"; do
        if ! command -v "$t" >/dev/null 2>&1; then
                echo "skip - $MXT_NAME (missing tool $t: run tests/deps.sh)"
                exit 0
        fi
done
MXLOCK=${MXLOCK:-$MXT_ROOT/build/mxlock}
if ! "$MXLOCK" sync --help >/dev/null 2>&1; then
        echo "skip - $MXT_NAME ($MXLOCK is not built or has no sync command: run make)"
        exit 0
fi

DNS_PORT=5353
DNSMASQ_PID=

lab_init
MXT_LAB=1
ip netns add "$NS_SRV" || lab_finish
ip -n "$NS_SRV" link set lo up

# ---- fixture zones ----------------------------------------------------------

NB1="v=spf1 ip4:35.190.247.0/24 ip4:64.233.160.0/19 ip4:66.102.0.0/20 ip4:66.249.80.0/20 ip4:72.14.192.0/18 "
NB1b="ip4:74.125.0.0/16 ip4:108.177.8.0/21 ip4:173.194.0.0/16 ip4:209.85.128.0/17 ip4:216.58.192.0/19 "
NB1c="ip4:216.239.32.0/20 ~all"
cat >"$T/dns.conf" <<EOF
# Google: _spf.google.com and its three netblocks (as published before 2025). The
# first netblocks record is published as three strings. 216.239.32.0/19 is
# split into two adjacent /20s across two records (they must merge back),
# and a new block 198.51.100.0/24 appeared in _netblocks3.
txt-record=_spf.google.com,"v=spf1 include:_netblocks.google.com include:_netblocks2.google.com include:_netblocks3.google.com ~all"
txt-record=_spf.google.com,"google-site-verification=not-an-spf-record"
txt-record=_netblocks.google.com,"$NB1","$NB1b","$NB1c"
txt-record=_netblocks2.google.com,"v=spf1 ip6:2001:4860:4000::/36 ip6:2404:6800:4000::/36 ip6:2607:f8b0:4000::/36 ip6:2800:3f0:4000::/36 ip6:2a00:1450:4000::/36 ip6:2c0f:fb50:4000::/36 ~all"
txt-record=_netblocks3.google.com,"v=spf1 ip4:172.217.0.0/19 ip4:172.217.32.0/20 ip4:172.217.128.0/19 ip4:172.217.160.0/20 ip4:172.217.192.0/19 ip4:108.177.96.0/19 ip4:216.239.48.0/20 ip4:198.51.100.0/24 ~all"

# Microsoft EOP: the current record; the shipped fixture has the older, larger one.
txt-record=spf.protection.outlook.com,"v=spf1 ip4:40.92.0.0/15 ip4:40.107.0.0/16 ip4:52.100.0.0/15 ip4:52.102.0.0/16 ip4:52.103.0.0/17 ip4:104.47.0.0/17 ip6:2a01:111:f400::/48 ip6:2a01:111:f403::/49 ip6:2a01:111:f403:8000::/51 ip6:2a01:111:f403:c000::/51 ip6:2a01:111:f403:f000::/52 -all"

# Mimecast-style region that lost most of its ranges (more than the default 20%).
txt-record=us._netblocks.mimecast.com,"v=spf1 ip4:207.211.30.0/24 ip4:205.139.110.0/24 ~all"

# Nested includes three deep, with a (cidr) and mx (cidr6) at the bottom.
txt-record=nest.example.net,"v=spf1 include:l1.nest.example.net ip6:2001:db8:10::/48 -all"
txt-record=l1.nest.example.net,"v=spf1 include:l2.nest.example.net ip4:203.0.113.0/26 -all"
txt-record=l2.nest.example.net,"v=spf1 a:relay.nest.example.net/28 mx//64 -all"
host-record=relay.nest.example.net,203.0.113.77
mx-host=l2.nest.example.net,mx.nest.example.net,10
host-record=mx.nest.example.net,203.0.113.100,2001:db8:20::5

# One SPF record in two strings, split in the middle of a term, next to another TXT record.
txt-record=split.example.net,"v=spf1 ip4:192.0.2.0/25 ip4:192.0.2.1","28/25 ip6:2001:db8:5::/48 -all"
txt-record=split.example.net,"some-other-verification=abc"

# A loop: loop -> loop2 -> loop.
txt-record=loop.example.net,"v=spf1 include:loop2.example.net -all"
txt-record=loop2.example.net,"v=spf1 ip4:192.0.2.1 include:loop.example.net -all"

# Eleven includes: one lookup too many.
txt-record=many.example.net,"v=spf1 include:i1.many.example.net include:i2.many.example.net include:i3.many.example.net include:i4.many.example.net include:i5.many.example.net include:i6.many.example.net ","include:i7.many.example.net include:i8.many.example.net include:i9.many.example.net include:i10.many.example.net include:i11.many.example.net -all"
EOF
for i in 1 2 3 4 5 6 7 8 9 10 11; do
        echo "txt-record=i$i.many.example.net,\"v=spf1 ip4:198.51.100.$i -all\"" >>"$T/dns.conf"
done
echo 'txt-record=empty.example.net,"v=spf1 -all"' >>"$T/dns.conf"

dns_up() {
        ip netns exec "$NS_SRV" dnsmasq --keep-in-foreground --no-resolv --no-hosts --pid-file= \
                --port=$DNS_PORT --listen-address=127.0.0.1,::1 --bind-interfaces --user=nobody \
                --local=/#/ --local-ttl=300 --conf-file="$T/dns.conf" --log-facility="$T/dnsmasq.log" \
                >"$T/dnsmasq.out" 2>&1 &
        DNSMASQ_PID=$!
        track $DNSMASQ_PID
        wait_until 5 dns_answers
}

# ---- catalogs and configuration ---------------------------------------------

mkdir -p "$T/providers"
# Google's older, nested form: the catalog shipped before
# 2026-12, kept here as merge-test data (the shipped one is flattened now).
{
        echo "description = Google (test fixture, older netblocks)"
        echo "source = tests/e2e/sync.sh"
        echo "spf = _spf.google.com"
        echo "checked = 2025-01-01"
        for p in 35.190.247.0/24 64.233.160.0/19 66.102.0.0/20 66.249.80.0/20 72.14.192.0/18 74.125.0.0/16 \
                108.177.8.0/21 173.194.0.0/16 209.85.128.0/17 216.58.192.0/19 216.239.32.0/19 \
                2001:4860:4000::/36 2404:6800:4000::/36 2607:f8b0:4000::/36 2800:3f0:4000::/36 \
                2a00:1450:4000::/36 2c0f:fb50:4000::/36 172.217.0.0/19 172.217.32.0/20 172.217.128.0/19 \
                172.217.160.0/20 172.217.192.0/19 108.177.96.0/19; do
                echo "$p"
        done
} >"$T/providers/google.conf"
cat >"$T/providers/microsoft-eop.conf" <<'EOF'
# The older Microsoft EOP list: 52.100.0.0/14 and 2a01:111:f403::/48.
description = Microsoft Exchange Online Protection (test fixture, older list)
source = tests/e2e/sync.sh
spf = spf.protection.outlook.com
checked = 2025-01-01
40.92.0.0/15
40.107.0.0/16
52.100.0.0/14
104.47.0.0/17
2a01:111:f400::/48
2a01:111:f403::/48
EOF
cat >"$T/providers/mimecast-us.conf" <<'EOF'
description = Mimecast US (test fixture)
source = tests/e2e/sync.sh
spf = us._netblocks.mimecast.com
checked = 2025-01-01
207.211.30.0/24
207.211.31.0/25
205.139.110.0/24
205.139.111.0/24
216.205.24.0/24
63.128.21.0/24
EOF
spf_only() {   # spf_only NAME DOMAIN [ENTRY...]
        local name=$1 spf=$2 e
        shift 2
        {
                echo "description = $name (test fixture)"
                echo "source = tests/e2e/sync.sh"
                echo "spf = $spf"
                for e in "$@"; do echo "$e"; done
        } >"$T/providers/$name.conf"
}
spf_only nested nest.example.net
spf_only split split.example.net
spf_only loopy loop.example.net 192.0.2.1
spf_only greedy many.example.net
spf_only emptyp empty.example.net 192.0.2.0/24
# A catalog without spf is never synced.
provider_fixture static 198.51.100.0/24

mkconf "$T/mxlock.conf" "provider_dirs=$T/providers:$T/state" <<'CONF'
[policy inbound-smtp]
ports = 25
providers = google microsoft-eop nested split
CONF
STATE=$T/state
for f in "$T"/providers/*.conf; do
        sha256sum "$f"
done >"$T/shipped.sha256"

# sync ARGS...: mx sync with the lab's nameserver and state dir.
sync_() {
        mx sync --nameserver 127.0.0.1:$DNS_PORT --state-dir "$STATE" --timeout 1 "$@"
}

# state_has NAME LINE...: STATE/NAME.conf has each entry (first word of a line).
state_has() {
        local f=$STATE/$1.conf p
        shift
        [ -f "$f" ] || { echo "$f is missing"; return 1; }
        for p in "$@"; do
                awk '{print $1}' "$f" | grep -qxF -- "$p" || { echo "$f lacks $p:"; cat "$f"; return 1; }
        done
}

state_lacks() {
        local f=$STATE/$1.conf p
        shift
        for p in "$@"; do
                if awk '{print $1}' "$f" | grep -qxF -- "$p"; then
                        echo "$f has $p:"
                        cat "$f"
                        return 1
                fi
        done
}

# prefixes NAME: the entries of STATE/NAME.conf, sorted.
prefixes() {
        grep -v '^#' "$STATE/$1.conf" | grep -v '=' | awk 'NF {print $1}' | sort
}

shipped_untouched() {
        sha256sum -c --quiet "$T/shipped.sha256"
}

# last_change PROVIDER PYTHON-EXPR: the provider's last ranges-changed record r satisfies EXPR.
last_change() {
        "$PY" - "$AUDIT" "$1" "$2" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
mine = [r for r in recs if r.get("event") == "ranges-changed" and r.get("provider") == sys.argv[2]]
if not mine:
    sys.exit("no ranges-changed record for %s" % sys.argv[2])
r = mine[-1]
for k in ("ts", "added", "removed", "count_before", "count_after", "forced"):
    if k not in r:
        sys.exit("record lacks %s: %s" % (k, json.dumps(r)))
if not eval(sys.argv[3]):
    sys.exit("record fails %s: %s" % (sys.argv[3], json.dumps(r)))
EOF
}

# ---- tests ------------------------------------------------------------------

ok "dnsmasq answers in the namespace" dns_up || lab_finish

# Google: nested includes, a record in three strings, adjacent blocks merging.
sync_ google
ok "google: sync exits 0" rc_is 0
ok "google: summary line" out_has "google: updated from _spf.google.com (3 lookups): 23 -> 24 prefixes, +1 -0"
ok "google: daemon not running is reported, not an error" out_has "mxlockd is not running"
ok "google: state file has the IPv4 and IPv6 blocks" state_has google 35.190.247.0/24 74.125.0.0/16 \
        172.217.0.0/19 172.217.32.0/20 108.177.96.0/19 198.51.100.0/24 2001:4860:4000::/36 2c0f:fb50:4000::/36
ok "google: adjacent /20s from two records merge into 216.239.32.0/19" state_has google 216.239.32.0/19
ok "google: the halves are not listed" state_lacks google 216.239.32.0/20 216.239.48.0/20
ok "google: state file is a catalog (spf, checked = today)" \
        grep -qx "checked = $(date -u +%F)" "$STATE/google.conf"
ok "google: header names the record and the time" grep -q "^# Generated by mxlock sync at .* from the SPF record of _spf.google.com" "$STATE/google.conf"
ok "google: 24 prefixes" test "$(prefixes google | wc -l)" -eq 24
ok "shipped catalogs untouched" shipped_untouched
ok "audit: ranges-changed for google (+198.51.100.0/24, 23 -> 24, not forced)" last_change google \
        'r["added"] == ["198.51.100.0/24"] and r["removed"] == [] and r["count_before"] == 23 and r["count_after"] == 24 and r["forced"] is False and r["spf"] == "_spf.google.com"'

sync_ google
ok "google: second sync exits 0" rc_is 0
ok "google: second sync says unchanged" out_has "google: unchanged (24 prefixes"
ok "audit: no record for an unchanged list" test "$(changes google)" -eq 1

# Over IPv6 to the nameserver.
mx sync --nameserver "[::1]:$DNS_PORT" --state-dir "$STATE" --timeout 1 --no-reload google
ok "google: sync through an IPv6 nameserver" rc_is 0

# Nested includes with a/cidr and mx//cidr6 resolved through real DNS.
sync_ nested
ok "nested: sync exits 0" rc_is 0
ok "nested: includes three deep, a/28, mx//64" state_has nested 203.0.113.0/26 203.0.113.64/28 \
        203.0.113.100 2001:db8:10::/48 2001:db8:20::/64
ok "nested: exactly those five" test "$(prefixes nested | wc -l)" -eq 5

# An SPF record in two strings split inside a term.
sync_ split
ok "split: sync exits 0" rc_is 0
ok "split: the strings are joined (192.0.2.128/25 merges with .0/25)" state_has split 192.0.2.0/24 2001:db8:5::/48
ok "split: exactly those two" test "$(prefixes split | wc -l)" -eq 2

# A loop is refused and nothing is written.
sync_ loopy
ok "loop: sync exits 1" rc_is 1
ok "loop: the loop is named" out_has "loop.example.net -> loop2.example.net -> loop.example.net"
ok "loop: nothing written" no_state loopy

# Too many lookups.
sync_ greedy
ok "too many lookups: sync exits 1" rc_is 1
ok "too many lookups: said so" out_has "too many DNS lookups"
ok "too many lookups: nothing written" no_state greedy
sync_ --max-lookups 11 greedy
ok "too many lookups: --max-lookups 11 accepts it" rc_is 0
ok "too many lookups: 11 hosts merged into one range" state_has greedy 198.51.100.1 198.51.100.2/31 198.51.100.4/30 198.51.100.8/30

# An empty result is refused.
sync_ emptyp
ok "empty: sync exits 1" rc_is 1
ok "empty: said so" out_has "gives no addresses"
ok "empty: nothing written" no_state emptyp

# Microsoft-style shrink: 52.100.0.0/14 -> /15+/16+/17 (IPv4 -6.7%), f403::/48 -> pieces (IPv6 -9.4%).
sync_ --max-shrink 5 microsoft-eop
ok "shrink: refused without --force (exit 1)" rc_is 1
ok "shrink: the refusal names the shrink" out_has "microsoft-eop: REFUSED: the IPv4 address count and the IPv6 address count would shrink by 6.7% (more than --max-shrink 5%)"
ok "shrink: lists what would go" out_has "- 52.103.128.0/17"
ok "shrink: nothing written" no_state microsoft-eop
ok "shrink: no audit record" test "$(changes microsoft-eop)" -eq 0
sync_ --max-shrink 5 --force microsoft-eop
ok "shrink: accepted with --force (exit 0)" rc_is 0
ok "shrink: state file has the new list" state_has microsoft-eop 52.100.0.0/15 52.102.0.0/16 52.103.0.0/17 \
        2a01:111:f403::/49 2a01:111:f403:8000::/51 2a01:111:f403:c000::/51 2a01:111:f403:f000::/52
ok "shrink: the old /14 and /48 are gone" state_lacks microsoft-eop 52.100.0.0/14 2a01:111:f403::/48
ok "audit: forced ranges-changed with exactly what was removed" last_change microsoft-eop \
        'r["forced"] is True and sorted(r["removed"]) == sorted(["52.103.128.0/17", "2a01:111:f403:a000::/51", "2a01:111:f403:e000::/52"]) and r["added"] == [] and r["count_before"] == 6'
# The policy's four providers now all have state files: the daemon accepts them.
if [ -x "$MXLOCKD" ]; then
        ok "mxlockd -n accepts the synced lists (state dir in provider_dirs)" "$MXLOCKD" -c "$T/mxlock.conf" -n
else
        skip "mxlockd -n accepts the synced lists" "$MXLOCKD not built"
fi

sync_ mimecast-us
ok "shrink beyond the default 20%: refused" rc_is 1
ok "shrink beyond the default 20%: said so" out_has "more than --max-shrink 20%"
ok "shrink beyond the default 20%: nothing written" no_state mimecast-us

# Dry run.
sync_ --dry-run --force mimecast-us
ok "dry run: exit 0" rc_is 0
ok "dry run: nothing written" no_state mimecast-us

# A DNS timeout keeps the last good list: freeze dnsmasq.
cp "$STATE/google.conf" "$T/google.before"
kill -STOP "$DNSMASQ_PID"
sync_ google
kill -CONT "$DNSMASQ_PID"
ok "timeout: sync exits 1" rc_is 1
ok "timeout: the timeout is named" out_has "_spf.google.com: TXT lookup failed: TXT _spf.google.com: timeout"
ok "timeout: the last good list stays" cmp "$T/google.before" "$STATE/google.conf"
ok "timeout: no audit record" test "$(changes google)" -eq 1
# Nobody answering at all (port closed) is a failure too.
mx sync --nameserver 127.0.0.1:5399 --state-dir "$STATE" --timeout 1 google
ok "no nameserver: sync exits 1 and keeps the list" eval 'rc_is 1 && cmp "$T/google.before" "$STATE/google.conf"'

# Every catalog with spf: good ones are written, bad ones refused, exit 1.
rm -f "$STATE/split.conf"
sync_ --no-reload
ok "all providers: exit 1 (some refused)" rc_is 1
ok "all providers: the good ones still written" state_has split 192.0.2.0/24
ok "all providers: a catalog without spf is not synced" no_state static
ok "all providers: --no-reload said so" out_has "not reloading mxlockd (--no-reload)"

# Usage errors.
sync_ nosuchprovider
ok "unknown provider: exit 2" rc_is 2
sync_ static
ok "provider without spf named: exit 2" rc_is 2
mx sync --max-shrink 101 google
ok "bad --max-shrink: exit 2" rc_is 2
mx sync --nameserver not-an-ip google
ok "bad --nameserver: exit 2" rc_is 2

ok "shipped catalogs still untouched" shipped_untouched
ok "audit log is valid JSON lines" audit_valid

# report_counts_changes: `mxlock report` counts the log's ranges-changed
# records under their own event (the schema's table), not as other.
report_counts_changes() {
        "$MXLOCK" report --format json "$AUDIT" >"$T/report.json" || return 1
        "$PY" - "$AUDIT" "$T/report.json" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
want = sum(1 for r in recs if r.get("event") == "ranges-changed")
ev = json.load(open(sys.argv[2]))["events"]
print("ranges-changed records:", want, "report:", ev.get("ranges-changed"), "other:", ev.get("other"))
if want == 0 or ev.get("ranges-changed") != want or ev.get("other") != 0:
    sys.exit(1)
EOF
}
ok "report counts the ranges-changed records as their own event" report_counts_changes

lab_finish
