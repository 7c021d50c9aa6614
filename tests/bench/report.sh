#!/bin/sh
# tests/bench/report.sh: time `mxlock report` over generated audit logs.
# Usage: tests/bench/report.sh [MXLOCK_BINARY] [RECORDS]
# Generates RECORDS (default 1000000) audit lines: refused attempts from
# ~50000 sources (IPv4 and IPv6) over two policies, some summary and reload
# records, a few corrupt lines; times the report over the plain and the gzip
# log and prints records/s, plus the ratio to `wc -l` over the same file
# (a rough "how close to I/O speed" figure). Not a pass/fail test.
set -eu

bin=${1:-}
n=${2:-1000000}
if [ -z "$bin" ]; then
        for b in build/mxlock build-san/mxlock; do
                [ -x "$b" ] && bin=$b && break
        done
fi
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
        echo "usage: $0 MXLOCK_BINARY [RECORDS]  (or run 'make' first)" >&2
        exit 2
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/mxlock-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM
log=$dir/audit.jsonl

awk -v n="$n" 'BEGIN {
        t0 = 1795471200         # 2026-11-23T22:00:00Z
        srand(42)
        for (i = 0; i < n; i++) {
                t = t0 + int(i * 86400 / n)
                s = strftime("%Y-%m-%dT%H:%M:%S", t, 1) sprintf(".%06dZ", i % 1000000)
                k = int(rand() * rand() * 50000)
                if (k % 5 == 0)
                        src = sprintf("2001:db8:%x::%x", k % 65536, k)
                else
                        src = sprintf("198.51.%d.%d", int(k / 256) % 256, k % 256)
                pol = (k % 7 == 0) ? "submission" : "inbound-smtp"
                port = (pol == "submission") ? 587 : 25
                if (i % 1000 == 999)
                        printf "{\"ts\":\"%s\",\"event\":\"summary\",\"policy\":\"%s\",\"mode\":\"enforce\",\"action\":\"reject\",\"family\":\"ipv4\",\"src\":\"%s\",\"dport\":%d,\"count\":%d,\"first\":\"%s\",\"last\":\"%s\"}\n", s, pol, src, port, 100 + k % 900, s, s
                else if (i % 100000 == 50000)
                        printf "{\"ts\":\"%s\",\"event\":\"reload\",\"result\":\"ok\"}\n", s
                else if (i % 250000 == 1)
                        printf "{\"ts\":\"%s\",\"event\":\"refused\",\"src\":\"trunc\n", s
                else
                        printf "{\"ts\":\"%s\",\"event\":\"refused\",\"policy\":\"%s\",\"mode\":\"enforce\",\"action\":\"reject\",\"family\":\"ipv4\",\"src\":\"%s\",\"sport\":%d,\"dst\":\"203.0.113.1\",\"dport\":%d,\"ttl\":64,\"iface\":\"eth0\",\"count\":1}\n", s, pol, src, 1024 + i % 60000, port
        }
}' > "$log"
gzip -c "$log" > "$log.1.gz"

now() { date +%s.%N; }

run() {
        label=$1; shift
        t0=$(now)
        "$@" > "$dir/out" 2>/dev/null || true
        t1=$(now)
        echo "$t0 $t1"
}

set -- $(run wc wc -l "$log"); wc_s=$(echo "$1 $2" | awk '{print $2 - $1}')
set -- $(run plain "$bin" report --format json "$log"); plain_s=$(echo "$1 $2" | awk '{print $2 - $1}')
grep -q '"attempts":' "$dir/out" || { echo "report failed on the plain log" >&2; exit 1; }
set -- $(run gzip "$bin" report --format json "$log.1.gz"); gz_s=$(echo "$1 $2" | awk '{print $2 - $1}')
set -- $(run html "$bin" report --format html --top 100 "$log"); html_s=$(echo "$1 $2" | awk '{print $2 - $1}')

size=$(wc -c < "$log")
awk -v n="$n" -v size="$size" -v wc="$wc_s" -v p="$plain_s" -v g="$gz_s" -v h="$html_s" 'BEGIN {
        printf "records            %d (%.0f MB)\n", n, size / 1e6
        printf "plain  json        %.2f s  %.0f records/s  (%.1fx wc -l)\n", p, n / p, p / (wc > 0 ? wc : 1e-9)
        printf "gzip   json        %.2f s  %.0f records/s\n", g, n / g
        printf "plain  html top100 %.2f s  %.0f records/s\n", h, n / h
}'
