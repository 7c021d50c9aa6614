#!/usr/bin/env bash
# tests/e2e/seal.sh: the sealed audit log, end to end.
#
# - `mxlock setup-keys` writes a 0600 key file and prints the verification
#   key (only that on stdout); it does not overwrite a key;
# - the real mxlockd in the lab seals its records while it refuses a direct
#   sender, across three logrotate rotations (rename, create, SIGUSR1 from
#   postrotate, compress + delaycompress) and a crash (SIGKILL) and restart;
# - `mxlock verify` exits 0 on the log as written (default files from the
#   configuration, and explicit ones), and 1 naming the right FILE:LINE for
#   each kind of tampering, each on a fresh copy: a byte edited inside a
#   gzip file, a line deleted, a line inserted, two lines swapped, the tail
#   of a rotated file cut, a rotated file deleted, the wrong key.
# e2e-timeout: 180
. "$(dirname "$0")/../lib.sh"
require_root
require_mxlockd
for t in logrotate gzip zcat; do
        command -v $t >/dev/null || { echo "skip - seal (missing $t: run tests/deps.sh)"; exit 0; }
done
MXLOCK=${MXLOCK:-$MXT_ROOT/build/mxlock}

ok "lab up" lab_up || lab_finish
# distinct sources in distinct networks (IPv6 /48s), so that no attempt is
# folded into a later summary, by source or by network
for i in $(seq 100 139); do
        ip -n "$NS_SPAM" addr add "2001:db8:$i::66/128" dev mx0 nodad || break
done
ip -n "$NS_SRV" route add 2001:db8:100::/40 via "$SPAM6"
NEXT_SRC=100

# ---- keys -------------------------------------------------------------------

setup_keys() {
        "$MXLOCK" -c /nonexistent setup-keys --key-file "$T/seal.key" --interval 900 \
                >"$T/vkey" 2>"$T/setup.err" || return 1
        KEY=$(cat "$T/vkey")
        echo "verification key: $KEY"
        [ "$(wc -l <"$T/vkey")" = 1 ] && [[ $KEY == mxls1-* ]] &&
                [ "$(stat -c %a "$T/seal.key")" = 600 ] && [ "$(stat -c %a "$T/seal.key.sync")" = 600 ] &&
                ! grep -q "${KEY:6:64}" "$T/seal.key" "$T/seal.key.sync"
}
ok "setup-keys: 0600 key files, the verification key alone on stdout and not on disk" setup_keys || lab_finish
ok_fails "setup-keys does not overwrite an existing key" \
        "$MXLOCK" -c /nonexistent setup-keys --key-file "$T/seal.key"

mkconf "$T/mxlock.conf" seal_key="$T/seal.key" <<'CONF'
[policy inbound-smtp]
ports = 25
allow = 198.51.100.0/24 2001:db8:25::/48
CONF
ok "mxlockd starts with sealing on" mxlockd_start "$T/mxlock.conf" || lab_finish

# refuse N: N direct attempts from new sources, each refused and audited.
refuse() {
        local i before
        before=$(audit_count refused)
        for ((i = 0; i < $1; i++)); do
                probe_is refused "$NS_SPAM" "$EXT6" 25 "2001:db8:$NEXT_SRC::66" 1000 || return 1
                NEXT_SRC=$((NEXT_SRC + 1))
        done
        wait_until 5 eval '[ "$(audit_count refused)" -ge $((before + $1)) ]'
}
sealed_lines() {
        "$PY" - "$AUDIT" <<'EOF'
import json, re, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    assert re.fullmatch(r"d:\d+:\d+:[0-9a-f]{32}", r["seal"]), line
    n += 1
print(n, "sealed records")
EOF
}
ok "direct sender refused and audited" refuse 4
ok "every record carries a seal" wait_until 5 sealed_lines

# ---- rotation ---------------------------------------------------------------

cat >"$T/logrotate.conf" <<EOF
# as systemd/mxlock.logrotate, numbered instead of dateext
$T/audit.jsonl {
	rotate 10
	missingok
	notifempty
	compress
	delaycompress
	create 0640
	sharedscripts
	postrotate
		kill -USR1 $MXLOCKD_PID
	endscript
}
EOF
reopened() {
        [ -s "$AUDIT" ] && grep -q '"reason":"reopen"' "$AUDIT"
}
rotate() {
        logrotate -f -s "$T/logrotate.state" "$T/logrotate.conf" || return 1
        wait_until 5 reopened
}
for n in 1 2 3; do
        ok "rotation $n (logrotate, SIGUSR1)" rotate || lab_finish
        ok "refused after rotation $n" refuse 3
done
ok "rotated files: two compressed, one not yet" \
        test -s "$T/audit.jsonl.3.gz" -a -s "$T/audit.jsonl.2.gz" -a -s "$T/audit.jsonl.1"

# A crash, then a restart that goes on with the chain.
ok "crash (SIGKILL)" mxlockd_kill9
ok "mxlockd restarts" mxlockd_start "$T/mxlock.conf" || lab_finish
ok "refused after the restart" refuse 2

FILES=("$T/audit.jsonl.3.gz" "$T/audit.jsonl.2.gz" "$T/audit.jsonl.1" "$T/audit.jsonl")

verify_ok() {
        "$MXLOCK" -c "$T/mxlock.conf" verify --key "$KEY" "$@"
}
ok "verify: 0 while mxlockd runs (files from the configuration)" verify_ok
ok "mxlockd stops" mxlockd_stop
ok "verify: 0 after a clean stop (explicit files, key from a file)" \
        "$MXLOCK" verify --key "$T/vkey" "${FILES[@]}"
ok "verify: says the log ended with a clean stop" \
        eval '"$MXLOCK" verify --key "$KEY" "${FILES[@]}" | grep -q "a clean stop"'

# ---- tampering, each on a fresh copy ------------------------------------------

# fresh: a copy of the four files in $T/c; C[] their paths.
fresh() {
        rm -rf "$T/c"
        mkdir "$T/c"
        cp -a "${FILES[@]}" "$T/c/"
        C=("$T/c/audit.jsonl.3.gz" "$T/c/audit.jsonl.2.gz" "$T/c/audit.jsonl.1" "$T/c/audit.jsonl")
}
# expect_bad WHERE WHY [FILES...]: verify exits 1 and names WHERE (FILE:LINE)
# and a reason starting with WHY.
expect_bad() {
        local where=$1 why=$2 out rc
        shift 2
        out=$("$MXLOCK" verify --key "${VKEY:-$KEY}" "$@")
        rc=$?
        echo "verify exit $rc: $out (want 1: $where: $why...)"
        [ $rc -eq 1 ] && [[ $out == "$where: $why"* ]]
}
# line_of FILE REGEX: the first line number matching.
line_of() {
        zcat -f "$1" | grep -n -m1 -E "$2" | cut -d: -f1
}

fresh
zcat "${C[1]}" >"$T/c/plain"
n=$(line_of "$T/c/plain" '"event":"refused"')
sed -i "${n}s/\"dport\":25/\"dport\":26/" "$T/c/plain"
gzip -c "$T/c/plain" >"${C[1]}"
ok "verify: a byte edited inside a gzip file -> ${C[1]##*/}:$n edited" expect_bad "${C[1]}:$n" edited "${C[@]}"

fresh
sed -i 3d "${C[2]}"
ok "verify: a line deleted -> ${C[2]##*/}:3 deleted" expect_bad "${C[2]}:3" deleted "${C[@]}"

fresh
sed -i '2i {"ts":"2026-12-04T10:00:00.000000Z","event":"refused","src":"192.0.2.99","dport":25,"count":1}' "${C[3]}"
ok "verify: a line inserted -> ${C[3]##*/}:2 inserted" expect_bad "${C[3]}:2" inserted "${C[@]}"

fresh
"$PY" - "${C[2]}" <<'EOF'
import sys
p = sys.argv[1]
lines = open(p).readlines()
lines[1], lines[2] = lines[2], lines[1]
open(p, "w").writelines(lines)
EOF
ok "verify: two lines swapped -> ${C[2]##*/}:2 reordered" expect_bad "${C[2]}:2" reordered "${C[@]}"

fresh
head -n -2 "${C[2]}" >"$T/c/cut" && cat "$T/c/cut" >"${C[2]}"
ok "verify: the tail of a rotated file cut -> ${C[3]##*/}:1 deleted" expect_bad "${C[3]}:1" deleted "${C[@]}"

fresh
ok "verify: a rotated file deleted -> ${C[2]##*/}:1 deleted" \
        expect_bad "${C[2]}:1" deleted "${C[0]}" "${C[2]}" "${C[3]}"

fresh
ok "verify: the live file's last line cut short -> truncated" \
        eval 'truncate -s -10 "${C[3]}"; expect_bad "${C[3]}:$(wc -l <"${FILES[3]}")" truncated "${C[@]}"'

other_key() {
        VKEY=$("$MXLOCK" setup-keys --key-file "$T/other.key" 2>/dev/null) || return 1
        expect_bad "${C[0]}:1" "wrong key" "${C[@]}"
}
fresh
ok "verify: the wrong key -> ${C[0]##*/}:1 wrong key" other_key
VKEY=

ok_fails "verify: a key that is not one is refused" "$MXLOCK" verify --key mxls1-00 "${FILES[@]}"

lab_finish
