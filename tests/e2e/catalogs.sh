#!/usr/bin/env bash
# tests/e2e/catalogs.sh: every shipped catalog that names an SPF record
# (rules/providers/*.conf with an `spf =` line; the list comes from the files,
# so a new catalog is covered without editing this test) syncs without
# --force against a real DNS server (dnsmasq in a network namespace) serving
# the providers' records as last published (tests/fixtures/spf/published.conf).
# A catalog that ships ranges must match its record exactly ("unchanged"): a
# stale catalog would be refused by the shrink guard on the first daily sync.
# A bare `mxlock sync` (what the daily timer runs) succeeds too, the state
# files keep the catalogs' provider, tenant and mx lines, and the shipped
# files are never touched.
#
# MXLOCK=path overrides build/mxlock (it must have the sync command).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../synclib.sh"

if [ "$(id -u)" -ne 0 ]; then
        echo "skip - $MXT_NAME (needs root: network namespaces)"
        exit 0
fi
for t in ip ss dnsmasq; do
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
SHIPPED=$MXT_ROOT/rules/providers
PUBLISHED=$MXT_ROOT/tests/fixtures/spf/published.conf

lab_init
MXT_LAB=1
ip netns add "$NS_SRV" || lab_finish
ip -n "$NS_SRV" link set lo up

ip netns exec "$NS_SRV" dnsmasq --keep-in-foreground --no-resolv --no-hosts --pid-file= \
        --port=$DNS_PORT --listen-address=127.0.0.1,::1 --bind-interfaces --user=nobody \
        --local=/#/ --local-ttl=300 --conf-file="$PUBLISHED" --log-facility="$T/dnsmasq.log" \
        >"$T/dnsmasq.out" 2>&1 &
DNSMASQ_PID=$!
track $DNSMASQ_PID
ok "dnsmasq serves the published records" wait_until 5 dns_answers || lab_finish

mkdir -p "$T/state"
mkconf "$T/mxlock.conf" "provider_dirs=$SHIPPED:$T/state" <<'CONF'
[policy inbound-smtp]
ports = 25
providers = gfi-oneconnect
CONF
sha256sum "$SHIPPED"/*.conf >"$T/shipped.sha256"

# key FILE KEY: the value of a catalog key line.
key() {
        sed -n "s/^$2[[:space:]]*=[[:space:]]*//p" "$1" | head -n 1
}
# entries FILE: the number of entry lines.
entries() {
        grep -cE '^[[:space:]]*[0-9a-fA-F:.]+(/[0-9]+)?[[:space:]]*(#.*)?$' "$1"
}

sync_() {
        timeout 120 ip netns exec "$NS_SRV" "$MXLOCK" -c "$T/mxlock.conf" sync \
                --nameserver 127.0.0.1:$DNS_PORT --state-dir "$T/state" --timeout 2 --no-reload "$@" \
                >"$T/out" 2>&1
        MX_RC=$?
        { echo "=== mxlock sync $* -> $MX_RC"; cat "$T/out"; } >>"$T/mxlock.log"
        return 0
}

synced_ok() {   # synced_ok NAME WANT: exit 0, and the summary says WANT
        [ "$MX_RC" -eq 0 ] && grep -q "^$1: $2" "$T/out" && return 0
        echo "mxlock sync $1: exit $MX_RC, want 0 and '$1: $2...'; output:"
        cat "$T/out"
        return 1
}

has_fixture() {  # has_fixture SPF: the fixture file publishes a record for it
        grep -q "^txt-record=$1," "$PUBLISHED" && return 0
        echo "no published record for $1 in $PUBLISHED: add the provider's record (or a marked placeholder)"
        return 1
}

mx_patterns() {  # mx_patterns FILE: the mx patterns, one a line
        sed -n 's/^mx[[:space:]]*=[[:space:]]*//p' "$1" | sed 's/#.*//' | tr ', \t' '\n\n\n' | grep -v '^$'
}

carried() {     # carried NAME: the state file keeps provider, tenant and mx
        local k f=$SHIPPED/$1.conf s=$T/state/$1.conf
        for k in provider tenant; do
                [ "$(key "$f" $k)" = "$(key "$s" $k)" ] || { echo "$s: $k differs"; cat "$s"; return 1; }
        done
        diff <(mx_patterns "$f") <(mx_patterns "$s") || { echo "$s: mx patterns differ"; return 1; }
}

n=0
for f in "$SHIPPED"/*.conf; do
        name=$(basename "$f" .conf)
        spf=$(key "$f" spf)
        [ -n "$spf" ] || continue
        n=$((n + 1))
        ok "$name: the fixture publishes $spf" has_fixture "$spf" || continue
        sync_ "$name"
        if [ "$(entries "$f")" -gt 0 ]; then
                ok "$name: sync without --force: the shipped list is the published one (unchanged)" \
                        synced_ok "$name" unchanged
        else
                ok "$name: sync without --force fills the catalog that ships no ranges" \
                        synced_ok "$name" "updated from $spf"
        fi
        ok "$name: the state file (which overrides the shipped one) keeps provider, tenant and mx" carried "$name"
done
ok "catalogs with an spf record were found ($n)" test "$n" -ge 10

# What the daily timer runs: every catalog with spf, no --force, from scratch.
rm -f "$T"/state/*.conf
sync_
ok "mxlock sync (all catalogs, as the timer runs it): exit 0" eval '[ "$MX_RC" -eq 0 ] || { cat "$T/out"; false; }'
ok "mxlock sync (all): nothing refused" eval '! grep -q REFUSED "$T/out" || { cat "$T/out"; false; }'
ok "mxlock sync (all): the Mimecast global list is the union of the regions" grep -q "^mimecast-global: unchanged" "$T/out"
ok "shipped catalogs untouched" sha256sum -c --quiet "$T/shipped.sha256"

lab_finish
