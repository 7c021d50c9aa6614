#!/usr/bin/env bash
# tests/e2e/fleet_metrics.sh: fleet metrics on real Prometheus.
#
# - `promtool test rules` passes on the shipped rules
#   (docs/examples/prometheus/mxlock-rules.yml, tests/prometheus/);
# - two mail hosts (namespaces), each with a real mxlockd writing its
#   metrics file into the textfile directory of a real
#   prometheus-node-exporter; a real Prometheus in a third namespace, with
#   its own config and temp storage, listening on that namespace's loopback
#   only, scrapes both and loads the shipped rules;
# - a stream of refused SYNs to both hosts; after the daemons stop, a query
#   over both hosts returns the sum of the counts in their audit logs, per
#   host and in total (also through the shipped recording rule);
# - `mxlock sync` writes mxlock-sync.prom beside the metrics file: a failed
#   sync and the catalogs' checked dates reach Prometheus.
# e2e-timeout: 120
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../fleet.sh"
require_root
require_mxlockd
MXLOCK=${MXLOCK:-$MXT_ROOT/build/mxlock}
for t in prometheus prometheus-node-exporter promtool curl; do
        command -v $t >/dev/null || { echo "skip - fleet_metrics (missing $t: run tests/deps.sh)"; exit 0; }
done

RULES=$MXT_ROOT/docs/examples/prometheus/mxlock-rules.yml
ok "promtool check rules" promtool check rules "$RULES"
ok "promtool test rules" promtool test rules "$MXT_ROOT/tests/prometheus/mxlock-rules.test.yml"

ok "fleet lab up" fleet_lab h1:192.0.2.1 h2:192.0.2.2 mon:192.0.2.100 spam:192.0.2.66 || lab_finish
ok "mxlockd on h1" fleet_mxlockd h1 || lab_finish
ok "mxlockd on h2" fleet_mxlockd h2 || lab_finish

for h in h1 h2; do
        addr=192.0.2.${h#h}
        ip netns exec "${FLEET_NS[$h]}" prometheus-node-exporter --web.listen-address="$addr:9100" \
                --collector.disable-defaults --collector.textfile \
                --collector.textfile.directory="$T/$h/textfile" >"$T/$h/node.log" 2>&1 &
        track $!
done

cat >"$T/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $RULES
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ['192.0.2.1:9100', '192.0.2.2:9100']
EOF
ip netns exec "${FLEET_NS[mon]}" prometheus --config.file="$T/prometheus.yml" \
        --storage.tsdb.path="$T/prom-data" --web.listen-address=127.0.0.1:9090 \
        >"$T/prometheus.log" 2>&1 &
track $!

# query EXPR: the Prometheus HTTP API's result, as "labels value" lines
query() {
        ip netns exec "${FLEET_NS[mon]}" curl -sf --max-time 5 http://127.0.0.1:9090/api/v1/query \
                --data-urlencode "query=$1" | "$PY" -c '
import json, sys
for r in json.load(sys.stdin)["data"]["result"]:
    print(",".join("%s=%s" % kv for kv in sorted(r["metric"].items())), r["value"][1])'
}
both_up() {
        [ "$(query 'sum(up{job="node"})' | awk '{ print $NF }')" = 2 ] &&
        [ "$(query 'count(mxlock_up == 1)' | awk '{ print $NF }')" = 2 ]
}
ok "Prometheus scrapes both node exporters and sees mxlockd up" wait_until 30 both_up ||
        { tail -n 20 "$T/prometheus.log"; lab_finish; }

# mxlock sync writes mxlock-sync.prom beside the metrics file: on h1 it
# fails (its catalog's SPF cannot be looked up: no DNS server answers), on
# h2 there is nothing to refresh, which is a success.
printf '%s\n' 'description = Lab provider with SPF' 'source = tests/e2e/fleet_metrics.sh' \
        'spf = _spf.example.test' 'checked = 2026-01-01' '198.51.100.0/24' >"$T/h1/providers/lab-spf.conf"
printf '%s\n' 'description = Lab provider' 'source = tests/e2e/fleet_metrics.sh' \
        'checked = 2026-06-01' '198.51.100.0/24' >"$T/h2/providers/lab-static.conf"
sync_on() {
        ip netns exec "${FLEET_NS[$1]}" "$MXLOCK" -c "$T/$1/mxlock.conf" sync --nameserver 127.0.0.1:53 --timeout 1 \
                --state-dir "$T/$1/state" --no-reload
}
ok_fails "mxlock sync on h1 refuses (no DNS)" sync_on h1
ok "mxlock sync on h2 has nothing to do" sync_on h2
ok "mxlock-sync.prom passes promtool check metrics" \
        sh -c "promtool check metrics <'$T/h1/textfile/mxlock-sync.prom' && promtool check metrics <'$T/h2/textfile/mxlock-sync.prom'"
sync_seen() {
        [ "$(query 'mxlock_sync_success{instance="192.0.2.1:9100"}' | awk '{ print $NF }')" = 0 ] &&
        [ "$(query 'mxlock_sync_success{instance="192.0.2.2:9100"}' | awk '{ print $NF }')" = 1 ] &&
        [ "$(query 'mxlock_catalog_checked_timestamp_seconds{provider="lab-spf"}' | awk '{ print $NF }')" = \
                "$(date -u -d 2026-01-01 +%s)" ]
}
ok "Prometheus sees h1's sync failing, h2's not, and the catalogs' dates" wait_until 15 sync_seen
catalog_ages() { [ "$(query 'count(mxlock:catalog_age:days)' | awk '{ print $NF }')" = 2 ]; }
ok "the stale-catalog recording rule covers both hosts" wait_until 10 catalog_ages

# A stream of bypass attempts: different numbers to each host, from several sources.
ip -n "${FLEET_NS[spam]}" addr add 192.0.2.67/24 dev eth0
ip -n "${FLEET_NS[spam]}" addr add 192.0.2.68/24 dev eth0
refuse_n() {
        local dst=$1 n=$2 i src res
        for ((i = 0; i < n; i++)); do
                src=192.0.2.$((66 + i % 3))
                res=$(tcp_probe "${FLEET_NS[spam]}" "$dst" 25 "$src" 2 | awk '{ print $1 }')
                [ "$res" = refused ] || { echo "probe $i to $dst from $src: $res"; return 1; }
        done
}
ok "12 attempts refused by h1" refuse_n 192.0.2.1 12
ok "20 attempts refused by h2" refuse_n 192.0.2.2 20

stop_both() {
        local h
        for h in h1 h2; do
                kill -TERM "${FLEET_PID[$h]}" && wait "${FLEET_PID[$h]}" || return 1
        done
}
ok "both mxlockd stop cleanly (final metrics written)" stop_both

a1=$(fleet_attempts "$T/h1/audit.jsonl")
a2=$(fleet_attempts "$T/h2/audit.jsonl")
echo "# audit logs: h1 $a1, h2 $a2 attempts"
sum_is() {
        local got
        got=$(query "$1" | awk '{ print $NF }')
        echo "$1 = $got (want $2)"
        [ "$got" = "$2" ]
}
ok "audit logs account for every attempt" test "$a1" -ge 12 -a "$a2" -ge 20
ok "query over both hosts: sum(mxlock_attempts_total) = $((a1 + a2))" \
        wait_until 20 sum_is 'sum(mxlock_attempts_total)' $((a1 + a2))
ok "per host: h1 = $a1" sum_is 'sum(mxlock_attempts_total{instance="192.0.2.1:9100"})' "$a1"
ok "per host: h2 = $a2" sum_is 'sum(mxlock_attempts_total{instance="192.0.2.2:9100"})' "$a2"
ok "the shipped recording rule agrees" \
        wait_until 10 sum_is 'mxlock:fleet_attempts:total' $((a1 + a2))
ok "the shipped rules are loaded, none broken" \
        sh -c "ip netns exec '${FLEET_NS[mon]}' curl -sf http://127.0.0.1:9090/api/v1/rules |
                $PY -c 'import json,sys; g=json.load(sys.stdin)[\"data\"][\"groups\"]; r=[x for y in g for x in y[\"rules\"]];
print(len(r), \"rules\"); sys.exit(0 if len(r) == 17 and all(x[\"health\"] == \"ok\" for x in r) else 1)'"

lab_finish
