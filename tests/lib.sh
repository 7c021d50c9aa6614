# shellcheck shell=bash
# tests/lib.sh: the end-to-end lab for mxlockd, sourced by tests/e2e/*.sh
# and tests/demo.sh.
#
# A run builds three network namespaces with unique names:
#
#     GW (gateway)  198.51.100.10/24 2001:db8:25::10/64  mx0
#          |
#          | gw0      198.51.100.1/24  2001:db8:25::1/64
#     SRV (the mail server: Postfix + mxlockd)
#          | ext0     192.0.2.1/24     2001:db8:66::1/64
#          |
#     SPAM (direct sender) 192.0.2.66/24 2001:db8:66::66/64  mx0
#
# Every wait is bounded; an EXIT trap stops what the run started and deletes
# the namespaces, also on failure. Results are printed TAP-ish:
# "ok - NAME", "not ok - NAME" (followed by "#" diagnostics), "skip - NAME (why)".
# Set KEEP=1 to keep the run's temp dir.

MXT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MXLOCKD=${MXLOCKD:-$MXT_ROOT/build/mxlockd}
case $MXLOCKD in /*) ;; *) MXLOCKD=$MXT_ROOT/$MXLOCKD ;; esac
MXT_NAME=$(basename "${0%.sh}")
# Debian's interpreter: a pyenv shim on PATH can take a second per start.
PY=${PY:-/usr/bin/python3}
[ -x "$PY" ] || PY=python3

LAB=mxt$$
NS_SRV=$LAB-srv
NS_GW=$LAB-gw
NS_SPAM=$LAB-spam
TABLE=${TABLE:-mxlock}
QUEUE=${QUEUE:-25}

SRV4=198.51.100.1   SRV6=2001:db8:25::1     # SRV's address on the gateway side
GW4=198.51.100.10   GW6=2001:db8:25::10
EXT4=192.0.2.1      EXT6=2001:db8:66::1     # SRV's address on the outside
SPAM4=192.0.2.66    SPAM6=2001:db8:66::66

MXT_PASS=0
MXT_FAIL=0
MXT_SKIP=0
MXT_LAB=0
MXT_BGPIDS=()
MXT_NS_EXTRA=()         # more namespaces of this run (named $LAB-...), deleted at exit
MXLOCKD_PID=
MXLOCKD_ERR=
PROBE_SPORT=
PROBE_PID=
PF_DIR=
PF_PID=
T=

# ---- results ----------------------------------------------------------------

# Indent diagnostics as TAP comments.
diag() {
        sed 's/^/#   /'
}

pass() {
        MXT_PASS=$((MXT_PASS + 1))
        echo "ok - $1"
}

# fail NAME [DIAGNOSTIC...]
fail() {
        local name=$1
        shift
        MXT_FAIL=$((MXT_FAIL + 1))
        echo "not ok - $name"
        if [ $# -gt 0 ]; then
                printf '%s\n' "$@" | diag
        fi
}

skip() {
        MXT_SKIP=$((MXT_SKIP + 1))
        echo "skip - $1 (${2:-skipped})"
}

# ok NAME CMD...: run CMD (in this shell, so it may set variables); "ok" when
# it exits 0, else "not ok" with its output as diagnostics.
ok() {
        local name=$1 rc
        shift
        [ -n "$T" ] || lab_init
        "$@" >"$T/ok.out" 2>&1
        rc=$?
        if [ $rc -eq 0 ]; then
                pass "$name"
        else
                fail "$name" "command: $*" "exit: $rc" "$(tail -n 40 "$T/ok.out")"
        fi
        return $rc
}

# ok_fails NAME CMD...: the opposite of ok: CMD must fail.
ok_fails() {
        local name=$1 rc
        shift
        [ -n "$T" ] || lab_init
        "$@" >"$T/ok.out" 2>&1
        rc=$?
        if [ $rc -ne 0 ]; then
                pass "$name"
                return 0
        fi
        fail "$name" "command unexpectedly succeeded: $*" "$(tail -n 40 "$T/ok.out")"
        return 1
}

# Print the summary and exit with 1 when anything failed. Call last.
lab_finish() {
        echo "# $MXT_NAME: $MXT_PASS passed, $MXT_FAIL failed, $MXT_SKIP skipped"
        if [ $MXT_FAIL -gt 0 ]; then
                exit 1
        fi
        exit 0
}

# Skip the whole script unless root and the daemon is built; a script that
# cannot run says so loudly.
require_root() {
        if [ "$(id -u)" -ne 0 ]; then
                echo "skip - $MXT_NAME (NOT ROOT: end-to-end tests need root for network namespaces)"
                echo "# !!! $MXT_NAME was NOT run: run as root (sudo make check)" >&2
                exit 0
        fi
        local t
        for t in ip nft python3 swaks postconf ss; do
                if ! command -v "$t" >/dev/null 2>&1; then
                        echo "skip - $MXT_NAME (missing tool $t: run tests/deps.sh)"
                        exit 0
                fi
        done
}

require_mxlockd() {
        if [ ! -x "$MXLOCKD" ]; then
                echo "skip - $MXT_NAME ($MXLOCKD is not built: run make)"
                exit 0
        fi
}

# wait_until SECONDS CMD...: run CMD every 50 ms until it succeeds (0) or
# SECONDS (whole seconds) have passed (1). CMD exiting 2 means "will never
# succeed" and ends the wait at once (1).
wait_until() {
        local end=$(( ${EPOCHREALTIME/./} + $1 * 1000000 )) rc
        shift
        while :; do
                "$@"
                rc=$?
                [ $rc -eq 0 ] && return 0
                [ $rc -eq 2 ] && return 1
                [ "${EPOCHREALTIME/./}" -ge "$end" ] && return 1
                sleep 0.05
        done
}

pid_gone() {
        ! kill -0 "$1" 2>/dev/null
}

# ---- lab --------------------------------------------------------------------

in_ns() {
        local ns=$1
        shift
        ip netns exec "$ns" "$@"
}

# in_ns_as NS USER CMD...: CMD in NS as USER (its uid, its primary group, no
# other groups); as root when USER is empty.
in_ns_as() {
        local ns=$1 user=$2
        shift 2
        if [ -z "$user" ]; then
                ip netns exec "$ns" "$@"
                return
        fi
        ip netns exec "$ns" setpriv --reuid="$user" --regid="$(id -g "$user")" \
                --clear-groups -- "$@"
}

# client_as USER CMD...: run CMD (a lib function such as probe_is, swaks_from or
# deliver) with its probes and clients running as USER.
client_as() {
        local CLIENT_USER=$1
        shift
        "$@"
}

# Remember a background pid so that cleanup stops it.
track() {
        MXT_BGPIDS+=("$1")
}

# Stop a pid we started: TERM, up to 3 s, then KILL.
stop_pid() {
        local pid=$1
        [ -n "$pid" ] || return 0
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
        kill -TERM "$pid" 2>/dev/null
        wait_until 3 pid_gone "$pid"
        if kill -0 "$pid" 2>/dev/null; then
                kill -KILL "$pid" 2>/dev/null
        fi
        wait "$pid" 2>/dev/null
        return 0
}

lab_cleanup() {
        local rc=$? ns pid
        set +e
        trap - EXIT
        if [ -n "$MXLOCKD_PID" ]; then
                stop_pid "$MXLOCKD_PID"
                MXLOCKD_PID=
        fi
        for pid in "${MXT_BGPIDS[@]}"; do
                stop_pid "$pid"
        done
        postfix_down
        if [ "$MXT_LAB" = 1 ] || [ ${#MXT_NS_EXTRA[@]} -gt 0 ]; then
                for ns in "$NS_SRV" "$NS_GW" "$NS_SPAM" "$LAB-chk" "${MXT_NS_EXTRA[@]}"; do
                        [ -e "/run/netns/$ns" ] || continue
                        # Whatever still runs in our own namespaces was started by us.
                        for pid in $(ip netns pids "$ns" 2>/dev/null); do
                                kill -KILL "$pid" 2>/dev/null
                        done
                        ip netns del "$ns" 2>/dev/null
                done
        fi
        if [ $MXT_FAIL -gt 0 ] && [ -n "$MXLOCKD_ERR" ] && [ -s "$MXLOCKD_ERR" ]; then
                echo "# --- mxlockd stderr ($MXLOCKD_ERR) ---"
                tail -n 60 "$MXLOCKD_ERR" | diag
        fi
        if [ -n "$T" ] && [ -d "$T" ]; then
                if [ "${KEEP:-0}" = 1 ] || [ $MXT_FAIL -gt 0 ] || [ $rc -ne 0 ]; then
                        echo "# kept $T"
                else
                        rm -rf "$T"
                fi
        fi
        exit $rc
}

# Create the temp dir and install the cleanup trap (lab_up calls it).
lab_init() {
        [ -n "$T" ] && return 0
        T=$(mktemp -d "/tmp/mxlock-e2e.$MXT_NAME.XXXXXX")
        chmod 755 "$T"
        trap lab_cleanup EXIT
        trap 'exit 130' INT TERM HUP
        write_helpers
}

# veth_pair NS_A IF_A NS_B IF_B: a veth created directly inside the namespaces.
veth_pair() {
        ip link add name "$2" netns "$1" type veth peer name "$4" netns "$3"
}

# Build the three namespaces and their links.
lab_up() {
        local ns
        lab_init
        MXT_LAB=1
        for ns in "$NS_SRV" "$NS_GW" "$NS_SPAM"; do
                ip netns add "$ns" || return 1
                ip -n "$ns" link set lo up
        done
        veth_pair "$NS_SRV" gw0 "$NS_GW" mx0 || return 1
        veth_pair "$NS_SRV" ext0 "$NS_SPAM" mx0 || return 1
        ip -n "$NS_SRV" addr add "$SRV4/24" dev gw0
        ip -n "$NS_SRV" addr add "$SRV6/64" dev gw0 nodad
        ip -n "$NS_SRV" addr add "$EXT4/24" dev ext0
        ip -n "$NS_SRV" addr add "$EXT6/64" dev ext0 nodad
        ip -n "$NS_GW" addr add "$GW4/24" dev mx0
        ip -n "$NS_GW" addr add "$GW6/64" dev mx0 nodad
        ip -n "$NS_SPAM" addr add "$SPAM4/24" dev mx0
        ip -n "$NS_SPAM" addr add "$SPAM6/64" dev mx0 nodad
        ip -n "$NS_SRV" link set gw0 up
        ip -n "$NS_SRV" link set ext0 up
        ip -n "$NS_GW" link set mx0 up
        ip -n "$NS_SPAM" link set mx0 up
}

# ---- Debian trees for container tests ---------------------------------------

# The Debian mirror debootstrap uses: $MIRROR, else the host's own apt source.
mirror() {
        local m
        [ -n "${MIRROR:-}" ] && { echo "$MIRROR"; return; }
        m=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
                grep -v security | grep -oE 'https?://[^ ]+/debian/?' | head -n 1)
        echo "${m:-http://deb.debian.org/debian}"
}

# ---- Postfix ----------------------------------------------------------------

# postfix_up [KEY=VALUE...]: a private Postfix in SRV on every SRV address,
# port 25, delivering mail for example.test to the Maildir $PF_DIR/vmail/box/.
# The arguments are more main.cf settings (postconf -e), applied before it
# starts (inet_interfaces, say, which a reload does not change).
postfix_up() {
        local q i
        PF_DIR=$T/postfix
        q=$PF_DIR/queue
        install -d -m 755 "$PF_DIR" "$q" "$q/pid"
        cp /etc/postfix/main.cf /etc/postfix/master.cf "$PF_DIR/"
        postconf -c "$PF_DIR" -e \
                "queue_directory=$q" "data_directory=$PF_DIR/data" \
                "inet_interfaces=$SRV4, $SRV6, $EXT4, $EXT6" inet_protocols=all \
                myhostname=mx.example.test mydestination= \
                virtual_mailbox_domains=example.test \
                "virtual_mailbox_base=$PF_DIR/vmail" virtual_mailbox_maps=static:box/ \
                virtual_uid_maps=static:65534 virtual_gid_maps=static:65534 \
                "maillog_file=$PF_DIR/maillog" "maillog_file_prefixes=/var, /tmp" \
                alias_maps= alias_database= default_transport=error relayhost= \
                smtpd_peername_lookup=no || return 1
        if [ $# -gt 0 ]; then
                postconf -c "$PF_DIR" -e "$@" || return 1
        fi
        postconf -c "$PF_DIR" -F '*/*/chroot = n' || return 1
        # The queue layout "postfix check" would create, without its 4 s of checks.
        for i in active bounce corrupt defer deferred flush hold incoming private saved trace; do
                install -d -m 700 -o postfix -g root "$q/$i"
        done
        install -d -m 730 -o postfix -g postdrop "$q/maildrop"
        install -d -m 710 -o postfix -g postdrop "$q/public"
        install -d -m 700 -o postfix "$PF_DIR/data"
        install -d -m 755 -o 65534 -g 65534 "$PF_DIR/vmail"
        ip netns exec "$NS_SRV" /usr/lib/postfix/sbin/master -c "$PF_DIR" -d \
                >"$PF_DIR/master.out" 2>&1 &
        PF_PID=$!
        if wait_until 10 postfix_listening; then
                return 0
        fi
        echo "postfix did not start listening on port 25 in SRV" >&2
        cat "$PF_DIR/master.out" "$PF_DIR/maillog" 2>/dev/null | tail -n 20 >&2
        return 1
}

postfix_listening() {
        [ "$(in_ns "$NS_SRV" ss -Hltn 'sport = :25' | wc -l)" -ge 4 ] && return 0
        pid_gone "$PF_PID" && return 2
        return 1
}

postfix_down() {
        [ -n "$PF_PID" ] || return 0
        if [ -e "/run/netns/$NS_SRV" ]; then
                timeout 10 ip netns exec "$NS_SRV" postfix -c "$PF_DIR" stop >/dev/null 2>&1
        fi
        wait_until 3 pid_gone "$PF_PID"
        stop_pid "$PF_PID"
        PF_PID=
}

# smtpd_up: a light SMTP server in SRV for the demo (Debian's
# python3-aiosmtpd), one listener per family on port 25, writing the same
# Maildir as postfix_up (so mail_count and mail_wait work for both). Unlike
# Postfix it brings no system-wide service with its package: `make demo`
# installs nothing that starts on the host.
smtpd_up() {
        local l
        PF_DIR=$T/smtpd
        install -d -m 755 "$PF_DIR" "$PF_DIR/vmail"
        for l in 0.0.0.0:25 :::25; do
                ip netns exec "$NS_SRV" "$PY" -m aiosmtpd -n -l "$l" \
                        -c aiosmtpd.handlers.Mailbox "$PF_DIR/vmail/box" >>"$PF_DIR/smtpd.out" 2>&1 &
                track $!
        done
        wait_until 10 smtpd_listening && return 0
        echo "aiosmtpd did not start listening on port 25 in SRV:" >&2
        tail -n 20 "$PF_DIR/smtpd.out" >&2
        return 1
}

smtpd_listening() {
        [ "$(in_ns "$NS_SRV" ss -Hltn 'sport = :25' | wc -l)" -ge 2 ]
}

# smtp_sink_up NS DIR ADDR:PORT...: an SMTP server (aiosmtpd) in NS on each
# address (":::25" for every IPv6 address) that stores what it receives in
# the Maildir DIR; for a smarthost or a remote MX the mail host sends to.
smtp_sink_up() {
        local ns=$1 dir=$2 l port
        shift 2
        # a whole Maildir: aiosmtpd creates one only where there is no directory
        install -d -m 755 "$dir" "$dir/tmp" "$dir/new" "$dir/cur"
        for l in "$@"; do
                ip netns exec "$ns" "$PY" -m aiosmtpd -n -l "$l" \
                        -c aiosmtpd.handlers.Mailbox "$dir" >>"$dir.out" 2>&1 &
                track $!
        done
        for l in "$@"; do
                port=${l##*:}
                if ! wait_until 10 sink_listening "$ns" "${l%:*}" "$port"; then
                        echo "aiosmtpd did not start listening on $l in $ns:" >&2
                        tail -n 20 "$dir.out" >&2
                        return 1
                fi
        done
}

sink_listening() {
        local addr=${2#[}
        addr=${addr%]}
        case $addr in
        0.0.0.0 | :: | "") in_ns "$1" ss -Hltn "sport = :$3" | grep -q . ;;
        *:*) in_ns "$1" ss -Hltn "sport = :$3" | grep -qF "[$addr]:$3" ;;
        *) in_ns "$1" ss -Hltn "sport = :$3" | grep -qF "$addr:$3" ;;
        esac
}

# sink_count DIR [TEXT]: messages in the Maildir DIR (that contain TEXT).
sink_count() {
        local dir=$1 text=${2:-}
        if [ -z "$text" ]; then
                find "$dir" -path '*/new/*' -type f 2>/dev/null | wc -l
        else
                find "$dir" -path '*/new/*' -type f -exec grep -lF -- "$text" {} + 2>/dev/null | wc -l
        fi
}

# Number of messages Postfix delivered.
mail_count() {
        find "$PF_DIR/vmail" -path '*/new/*' -type f 2>/dev/null | wc -l
}

# mail_wait N: wait (up to 10 s) until at least N messages were delivered.
mail_at_least() {
        [ "$(mail_count)" -ge "$1" ]
}

mail_wait() {
        local want=$1
        wait_until 10 mail_at_least "$want" && return 0
        echo "only $(mail_count) of $want messages delivered; maillog tail:" >&2
        tail -n 15 "$PF_DIR/maillog" >&2 2>/dev/null
        return 1
}

# swaks_from NS SERVER [SWAKS ARGS...]: send one mail to user@example.test,
# bounded in time. Returns swaks's exit code; the transcript is in
# $T/swaks.last (and appended to $T/swaks.log). On failure its tail goes to
# stderr.
swaks_from() {
        local ns=$1 server=$2 rc
        shift 2
        in_ns_as "$ns" "${CLIENT_USER:-}" timeout 30 swaks --server "$server" --port 25 \
                --timeout 5 --helo "$ns.example.org" \
                --from "sender@example.org" --to "user@example.test" \
                --header "Subject: mxlock e2e $MXT_NAME from $ns to $server" \
                "$@" >"$T/swaks.last" 2>&1
        rc=$?
        { echo "=== swaks from $ns${CLIENT_USER:+ as $CLIENT_USER} to $server $* -> $rc"; cat "$T/swaks.last"; } >>"$T/swaks.log"
        if [ $rc -ne 0 ]; then
                { echo "swaks from $ns to $server exited $rc:"; tail -n 6 "$T/swaks.last"; } >&2
        fi
        return $rc
}

# deliver NS SERVER [SWAKS ARGS...]: swaks succeeds and the message lands.
deliver() {
        local before
        before=$(mail_count)
        swaks_from "$@" || return 1
        mail_wait $((before + 1))
}

# swaks_fails NS SERVER [ARGS...]: swaks cannot deliver and nothing lands.
swaks_fails() {
        local before rc
        before=$(mail_count)
        swaks_from "$@" 2>/dev/null
        rc=$?
        if [ $rc -eq 0 ]; then
                echo "swaks delivered from $1 to $2 but should have failed:" >&2
                tail -n 8 "$T/swaks.last" >&2
                return 1
        fi
        sleep 0.2
        if [ "$(mail_count)" -ne "$before" ]; then
                echo "a message was delivered although swaks failed" >&2
                return 1
        fi
        return 0
}

# ---- probes -----------------------------------------------------------------

write_helpers() {
        cat >"$T/probe.py" <<'EOF'
# probe.py DST PORT [SRC] [TIMEOUT]: one TCP connect; prints RESULT MILLISECONDS
# SPORT PID where RESULT is connected, refused (a TCP reset), timeout or
# error:ERRNO, and PID is the connecting process.
import errno, os, socket, sys, time
dst, port = sys.argv[1], int(sys.argv[2])
src = sys.argv[3] if len(sys.argv) > 3 else ""
tmo = float(sys.argv[4]) if len(sys.argv) > 4 else 3.0
v6 = ":" in dst
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_STREAM)
s.bind((src or ("::" if v6 else "0.0.0.0"), 0))
sport = s.getsockname()[1]
s.settimeout(tmo)
t = time.monotonic()
try:
    s.connect((dst, port))
    r = "connected"
except ConnectionRefusedError:
    r = "refused"
except socket.timeout:
    r = "timeout"
except OSError as e:
    r = "error:" + errno.errorcode.get(e.errno, str(e.errno))
ms = int((time.monotonic() - t) * 1000)
s.close()
print(r, ms, sport, os.getpid())
EOF
        cat >"$T/listen.py" <<'EOF'
# listen.py PORT: accept TCP connections on every address (v4 and v6) and
# close them; for "ports no policy names are untouched" checks.
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[1])))
s.listen(64)
while True:
    c, _ = s.accept()
    c.close()
EOF
        cat >"$T/hold.py" <<'EOF'
# hold.py SERVER GOFILE RESULTFILE [SRC]: open an SMTP session (banner, EHLO),
# hold it until GOFILE exists (at most 120 s), then NOOP + QUIT on the same
# connection; writes "alive" or "dead: why" to RESULTFILE.
import os, socket, sys, time
server, go, result = sys.argv[1], sys.argv[2], sys.argv[3]
src = sys.argv[4] if len(sys.argv) > 4 else ""
def out(msg):
    with open(result + ".tmp", "w") as f:
        f.write(msg + "\n")
    os.rename(result + ".tmp", result)
def reply(f):
    while True:
        line = f.readline()
        if not line:
            raise EOFError("connection closed")
        if line[3:4] != "-":
            return line
try:
    s = socket.create_connection((server, 25), timeout=10,
                                 source_address=(src, 0) if src else None)
    f = s.makefile("r", encoding="latin-1", newline="\r\n")
    if not reply(f).startswith("220"):
        raise RuntimeError("no banner")
    s.sendall(b"EHLO hold.example.org\r\n")
    if not reply(f).startswith("250"):
        raise RuntimeError("EHLO refused")
    with open(result + ".open", "w") as o:
        o.write("open\n")
    deadline = time.monotonic() + 120
    while not os.path.exists(go) and time.monotonic() < deadline:
        time.sleep(0.05)
    s.sendall(b"NOOP\r\n")
    r = reply(f)
    if not r.startswith("250"):
        raise RuntimeError("NOOP answered " + r.strip())
    s.sendall(b"QUIT\r\n")
    reply(f)
    out("alive")
except Exception as e:
    out("dead: %r" % (e,))
EOF
        cat >"$T/audit.py" <<'EOF'
# audit.py FILE EVENT [COND...]: exit 0 when some record of EVENT matches
# every COND: KEY=VALUE (string compare of the JSON value), KEY!=VALUE,
# KEY>=NUMBER, KEY (present). "-c" as first argument prints the number of
# matching records instead and always exits 0. "-s KEY" prints the sum of KEY.
# "-w SECONDS" waits that long for a match.
import json, sys, time
args = sys.argv[1:]
mode = None
wait = 0.0
if args and args[0] == "-w":
    args.pop(0)
    wait = float(args.pop(0))
if args and args[0] in ("-c", "-s"):
    mode = args.pop(0)
    sumkey = args.pop(0) if mode == "-s" else None
path, event, conds = args[0], args[1], args[2:]
def val(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    return str(v)
def match(rec):
    if event != "*" and rec.get("event") != event:
        return False
    for c in conds:
        if ">=" in c:
            k, v = c.split(">=", 1)
            if not isinstance(rec.get(k), (int, float)) or rec[k] < float(v):
                return False
        elif "!=" in c:
            k, v = c.split("!=", 1)
            if k in rec and val(rec[k]) == v:
                return False
        elif "=" in c:
            k, v = c.split("=", 1)
            if k not in rec or val(rec[k]) != v:
                return False
        elif c not in rec:
            return False
    return True
def load():
    recs, bad = [], []
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.endswith("\n"):
                    break           # a line still being written
                try:
                    recs.append(json.loads(line))
                except ValueError:
                    bad.append("%s:%d: not JSON: %r" % (path, n, line[:200]))
    except FileNotFoundError:
        pass
    return recs, bad
end = time.monotonic() + wait
while True:
    recs, bad = load()
    hits = [r for r in recs if match(r)]
    if hits or bad or time.monotonic() >= end:
        break
    time.sleep(0.05)
if mode == "-c":
    print(len(hits))
    sys.exit(0)
if mode == "-s":
    print(sum(int(r.get(sumkey, 0)) for r in hits))
    sys.exit(0)
if bad:
    print("\n".join(bad))
    sys.exit(1)
if hits:
    sys.exit(0)
print("no %s record with %s among %d records:" % (event, " ".join(conds), len(recs)))
for r in recs[-12:]:
    print(json.dumps(r))
sys.exit(1)
EOF
}

# tcp_probe NS DST PORT [SRC] [TIMEOUT]: prints "RESULT MS SPORT PID" (see probe.py).
tcp_probe() {
        local ns=$1 dst=$2 port=$3 src=${4:-} tmo=${5:-3}
        in_ns_as "$ns" "${CLIENT_USER:-}" timeout 20 "$PY" "$T/probe.py" "$dst" "$port" "$src" "$tmo"
}

# probe_is EXPECT NS DST PORT [SRC] [MAX_MS]: the probe's result is EXPECT
# (connected|refused|timeout|blocked = refused or timeout), within MAX_MS.
# Sets PROBE_SPORT to the source port used, PROBE_PID to the prober's pid.
probe_is() {
        local want=$1 ns=$2 dst=$3 port=$4 src=${5:-} max=${6:-} out res ms tmo=3
        [ "$want" = timeout ] && tmo=2.5
        out=$(tcp_probe "$ns" "$dst" "$port" "$src" "$tmo")
        read -r res ms PROBE_SPORT PROBE_PID <<<"$out"
        echo "probe from $ns${src:+ ($src)}:$PROBE_SPORT (pid $PROBE_PID)${CLIENT_USER:+ as $CLIENT_USER} to $dst port $port: $res in ${ms} ms (want $want${max:+ < $max ms})"
        case $want in
        blocked) [ "$res" = refused ] || [ "$res" = timeout ] || return 1 ;;
        *) [ "$res" = "$want" ] || return 1 ;;
        esac
        if [ -n "$max" ] && [ "$ms" -ge "$max" ]; then
                return 1
        fi
        return 0
}

listening() {
        in_ns "$1" ss -Hltn "sport = :$2" | grep -q .
}

# listener_up NS PORT: a TCP listener in NS on every address.
listener_up() {
        local ns=$1 port=$2
        ip netns exec "$ns" "$PY" "$T/listen.py" "$port" >/dev/null 2>&1 &
        track $!
        wait_until 5 listening "$ns" "$port" && return 0
        echo "listener on port $port in $ns did not come up" >&2
        return 1
}

# ---- audit log --------------------------------------------------------------

AUDIT=

# audit_has EVENT [COND...]: some record matches (prints the log tail if not).
audit_has() {
        "$PY" "$T/audit.py" "$AUDIT" "$@"
}

# audit_wait EVENT [COND...]: wait up to 5 s for a matching record.
audit_wait() {
        "$PY" "$T/audit.py" -w 5 "$AUDIT" "$@"
}

# audit_count EVENT [COND...]
audit_count() {
        "$PY" "$T/audit.py" -c "$AUDIT" "$@"
}

# audit_sum KEY EVENT [COND...]: sum of KEY over matching records.
audit_sum() {
        local key=$1
        shift
        "$PY" "$T/audit.py" -s "$key" "$AUDIT" "$@"
}

# audit_valid: every line of the log is one JSON object with ts and event.
audit_valid() {
        "$PY" - "$AUDIT" <<'EOF'
import json, sys
n = 0
for i, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    rec = json.loads(line)
    assert isinstance(rec, dict), "line %d is not an object" % i
    assert "ts" in rec and "event" in rec, "line %d lacks ts/event: %s" % (i, line)
    n += 1
assert n > 0, "empty audit log"
print(n, "records")
EOF
}

# ---- configuration ----------------------------------------------------------

# provider_fixture NAME PREFIX...: a catalog in $T/providers.
provider_fixture() {
        local name=$1 p
        shift
        mkdir -p "$T/providers"
        {
                echo "description = Lab gateway $name (test fixture)"
                echo "source = tests/lib.sh"
                for p in "$@"; do
                        echo "$p        # lab gateway"
                done
        } >"$T/providers/$name.conf"
}

# mkconf FILE [KEY=VALUE...] < POLICY-SECTIONS: write a config whose [daemon]
# section has the lab defaults (audit log, provider dirs, control socket in
# $T) overridden by the KEY=VALUE arguments; stdin is appended as is.
mkconf() {
        local file=$1 kv k
        shift
        local -A d=(
                [mode]=enforce [action]=reject [failure]=closed [queue]=$QUEUE
                [table]=$TABLE [audit_log]=$T/audit.jsonl
                [provider_dirs]=$T/providers [control_socket]=$T/mxlock.sock
        )
        local order=(mode action failure queue table audit_log provider_dirs control_socket)
        for kv in "$@"; do
                k=${kv%%=*}
                [ -n "${d[$k]+x}" ] || order+=("$k")
                d[$k]=${kv#*=}
        done
        mkdir -p "$T/providers"
        {
                echo "# written by tests/lib.sh for $MXT_NAME"
                echo "[daemon]"
                for k in "${order[@]}"; do
                        [ -n "${d[$k]}" ] && echo "$k = ${d[$k]}"
                done
                echo
                cat
        } >"$file"
        AUDIT=${d[audit_log]}
}

# ---- mxlockd ----------------------------------------------------------------

# Up (0), still starting (1) or dead (2, which ends wait_until).
mxlockd_started() {
        pid_gone "$MXLOCKD_PID" && return 2
        in_ns "$NS_SRV" nft list table inet "$TABLE" >/dev/null 2>&1 || return 1
        [ "$(audit_count start)" -gt "$1" ]
}

# mxlockd_start CONF: run the daemon in SRV, stderr to $T/mxlockd.err, and wait
# (5 s) until its table exists and it wrote its start record.
mxlockd_start() {
        local conf=$1 starts
        MXLOCKD_ERR=$T/mxlockd.err
        starts=$(audit_count start 2>/dev/null || echo 0)
        echo "=== $(date +%T.%N) start $MXLOCKD -c $conf" >>"$MXLOCKD_ERR"
        ip netns exec "$NS_SRV" "$MXLOCKD" -c "$conf" 2>>"$MXLOCKD_ERR" >>"$T/mxlockd.out" &
        MXLOCKD_PID=$!
        if wait_until 5 mxlockd_started "$starts"; then
                return 0
        fi
        if pid_gone "$MXLOCKD_PID"; then
                wait "$MXLOCKD_PID"
                echo "mxlockd exited ($?) during start-up:" >&2
                tail -n 30 "$MXLOCKD_ERR" >&2
                MXLOCKD_PID=
                return 1
        fi
        echo "mxlockd did not create table inet $TABLE and a start record in 5 s:" >&2
        tail -n 30 "$MXLOCKD_ERR" >&2
        return 1
}

# mxlockd_stop: SIGTERM, wait up to 5 s; returns the daemon's exit status
# (1 when it had to be killed).
mxlockd_stop() {
        local rc
        [ -n "$MXLOCKD_PID" ] || { echo "mxlockd is not running" >&2; return 1; }
        kill -TERM "$MXLOCKD_PID" 2>/dev/null
        wait_until 5 pid_gone "$MXLOCKD_PID"
        if kill -0 "$MXLOCKD_PID" 2>/dev/null; then
                echo "mxlockd ignored SIGTERM for 5 s; killed" >&2
                kill -KILL "$MXLOCKD_PID"
                wait "$MXLOCKD_PID" 2>/dev/null
                MXLOCKD_PID=
                return 1
        fi
        wait "$MXLOCKD_PID"
        rc=$?
        MXLOCKD_PID=
        if [ $rc -ne 0 ]; then
                echo "mxlockd exited $rc after SIGTERM:" >&2
                tail -n 20 "$MXLOCKD_ERR" >&2
        fi
        return $rc
}

# mxlockd_kill9: simulate a crash.
mxlockd_kill9() {
        [ -n "$MXLOCKD_PID" ] || return 1
        kill -KILL "$MXLOCKD_PID"
        wait "$MXLOCKD_PID" 2>/dev/null
        MXLOCKD_PID=
        return 0
}

reload_recorded() {
        [ "$(audit_count reload)" -gt "$1" ] && return 0
        pid_gone "$MXLOCKD_PID" && return 2
        return 1
}

# mxlockd_reload: SIGHUP and wait (5 s) for the next reload record.
mxlockd_reload() {
        local before
        [ -n "$MXLOCKD_PID" ] || { echo "mxlockd is not running" >&2; return 1; }
        before=$(audit_count reload)
        kill -HUP "$MXLOCKD_PID"
        wait_until 5 reload_recorded "$before" && return 0
        echo "no new reload record after SIGHUP (daemon alive: $(kill -0 "$MXLOCKD_PID" 2>/dev/null && echo yes || echo no))" >&2
        tail -n 20 "$MXLOCKD_ERR" >&2
        return 1
}

mxlockd_alive() {
        [ -n "$MXLOCKD_PID" ] && kill -0 "$MXLOCKD_PID" 2>/dev/null
}

# nft_srv ARGS...: nft inside SRV (the compat warnings go to /dev/null).
nft_srv() {
        ip netns exec "$NS_SRV" nft "$@" 2>/dev/null
}
