# shellcheck shell=bash
# tests/synclib.sh: helpers of the e2e scripts that run `mxlock sync` and
# `mxlock doctor` against DNS fixtures (dnsmasq in the SRV namespace).
# Sourced after lib.sh; the script sets DNSMASQ_PID, DNS_PORT, MXLOCK,
# STATE and AUDIT.

# dns_answers: the fixture server listens (2: it has died).
dns_answers() {
        pid_gone "$DNSMASQ_PID" && return 2
        in_ns "$NS_SRV" ss -Hlun "sport = :$DNS_PORT" | grep -q 127.0.0.1
}

# mx ARGS...: mxlock -c CONF ARGS inside the namespace, bounded; output in $T/out.
mx() {
        timeout 60 ip netns exec "$NS_SRV" "$MXLOCK" -c "$T/mxlock.conf" "$@" >"$T/out" 2>&1
        MX_RC=$?
        { echo "=== mxlock $* -> $MX_RC"; cat "$T/out"; } >>"$T/mxlock.log"
        return 0
}

# rc_is N: the last command exited N.
rc_is() {
        [ "$MX_RC" -eq "$1" ] && return 0
        echo "exit $MX_RC, want $1; output:"
        cat "$T/out"
        return 1
}

# out_has TEXT: the last command's output has TEXT.
out_has() {
        grep -qF -- "$1" "$T/out" && return 0
        echo "output lacks '$1':"
        cat "$T/out"
        return 1
}

# no_state NAME: sync wrote no STATE/NAME.conf.
no_state() {
        [ ! -e "$STATE/$1.conf" ] && return 0
        echo "$STATE/$1.conf was written:"
        cat "$STATE/$1.conf"
        return 1
}

# changes PROVIDER: number of ranges-changed records for PROVIDER.
changes() {
        "$PY" - "$AUDIT" "$1" <<'PY'
import json, sys
n = 0
try:
    for line in open(sys.argv[1], encoding="utf-8"):
        r = json.loads(line)
        if r.get("event") == "ranges-changed" and r.get("provider") == sys.argv[2]:
            n += 1
except FileNotFoundError:
    pass
print(n)
PY
}
