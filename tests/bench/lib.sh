# shellcheck shell=bash
# tests/bench/lib.sh: what run.sh and outbound.sh share: messages, arithmetic,
# commands in the lab's namespaces, stopping a process, and the result rows
# (one JSON object per line in $ROWS, read by summary.py). Sourced after
# the script sets PY, NS_SRV, NS_GEN and BENCH_NAME.

say() { printf '# %s\n' "$*" >&2; }
die() { printf '%s: %s\n' "${BENCH_NAME:-bench}" "$*" >&2; exit 1; }
now_ns() { date +%s%N; }
calc() { awk "BEGIN { printf \"%.6g\", $* }"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
in_srv() { ip netns exec "$NS_SRV" "$@"; }
in_gen() { ip netns exec "$NS_GEN" "$@"; }
del_table() { in_srv nft delete table inet "$1" 2>/dev/null; }
audit_of() { echo "${1%.conf}.audit.jsonl"; }

# stop_pid PID: TERM, up to 5 s, then KILL; reaps it.
stop_pid() {
        local pid=$1
        [ -n "$pid" ] || return 0
        kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
        for _ in $(seq 100); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.05
        done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        return 0
}

# row GOAL NAME FIGURE UNIT BASELINE BASELINE_NAME RATIO CHECK TARGET OK_EXTRA NOTE DETAILS_JSON
# A details argument that is not JSON (a figure that went missing) becomes
# null rather than a row summary.py cannot read.
j() { if [ -z "$1" ]; then echo null; else echo "$1"; fi; }
row() {
        local det
        det=$(j "${12:-}")
        "$PY" -c 'import json, sys; json.loads(sys.argv[1])' "$det" 2>/dev/null || det=null
        printf '{"goal":"%s","name":"%s","figure":%s,"unit":"%s","baseline":%s,"baseline_name":"%s","ratio":%s,"check":"%s","target":%s,"ok_extra":%s,"note":"%s","details":%s}\n' \
                "$1" "$2" "$(j "$3")" "$4" "$(j "$5")" "$6" "$(j "$7")" "$8" "$(j "$9")" "$(j "${10}")" \
                "${11//\"/\'}" "$det" >>"$ROWS"
        say "goal $1 $2: $3 $4 (baseline ${5:-none} ${6}) ratio ${7:-n/a}"
}
