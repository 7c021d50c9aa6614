#!/usr/bin/env bash
# tests/e2e/outbound.sh: the outbound lock ([outbound smarthost]). A real
# Postfix on the mail host (SRV) relays through the smarthost (GW) and its
# mail arrives; a process of another user (www-data, root) connecting to an
# outside MX (SPAM) on 25, 465 or 587, or to the smarthost itself, fails at
# once with a reset (ECONNREFUSED) over IPv4 and IPv6, and its record names
# the user; Postfix itself sending straight to an outside MX is refused
# (destination-not-allowed) and its mail stays deferred in the queue, not
# delivered. Local submission (127.0.0.1, ::1, the host's own addresses) and
# ports not listed are untouched; the inbound lock works alongside; one
# record per attempt, matching the kernel's counters. In monitor mode the
# same attempts connect and are recorded as observed (and the deferred mail
# goes out). A provider catalog works as the allowed destinations. mxlockd -n
# rejects an outbound section with an unknown user or no allowed destination.
# e2e-timeout: 240
. "$(dirname "$0")/../lib.sh"
require_root
require_mxlockd

MXLOCK=${MXLOCK:-$(dirname "$MXLOCKD")/mxlock}
WWW_UID=$(id -u www-data)
PF_UID=$(id -u postfix)
if ! command -v setpriv >/dev/null 2>&1 || [ -z "$WWW_UID" ] || [ -z "$PF_UID" ]; then
        echo "skip - $MXT_NAME (needs setpriv and the users www-data and postfix)"
        exit 0
fi
ATONCE=500      # ms: a reset, not a SYN retried for 75 s

ok "lab up" lab_up || lab_finish

# ---- mxlockd -n: outbound sections it must reject ---------------------------

# check_rejects FILE PATTERN: mxlockd -n exits 2 and says FILE:LINE: where
# LINE matches PATTERN (a regular expression, or a line number).
check_rejects() {
        local file=$1 line=$2 rc
        "$MXLOCKD" -c "$file" -n >"$T/check.out" 2>&1
        rc=$?
        cat "$T/check.out"
        echo "exit $rc"
        [ $rc -eq 2 ] || return 1
        grep -qE "^$file:($line): " "$T/check.out"
}

mkconf "$T/good.conf" <<CONF
[outbound smarthost]
ports = 25, 465, 587
to = $GW4 $GW6
users = postfix
CONF
ok "mxlockd -n accepts an outbound section" "$MXLOCKD" -c "$T/good.conf" -n

mkconf "$T/bad-user.conf" <<CONF
[outbound smarthost]
ports = 25, 465, 587
to = $GW4 $GW6
users = postfix mxt-no-such-user
CONF
ok "mxlockd -n: an unknown user is an error (exit 2, FILE:LINE of users)" \
        check_rejects "$T/bad-user.conf" "$(grep -n '^users' "$T/bad-user.conf" | cut -d: -f1)"
ok "and the message names the user" grep -qF mxt-no-such-user "$T/check.out"

mkconf "$T/no-dest.conf" <<CONF
[outbound smarthost]
ports = 25, 465, 587
users = postfix
CONF
ok "mxlockd -n: no allowed destination (no to, no providers) is an error (exit 2, FILE:LINE)" \
        check_rejects "$T/no-dest.conf" '[0-9]+'

# ---- the lab: smarthost, outside MX, Postfix ----------------------------------

SMARTHOST=$T/smarthost          # Maildir of the smarthost in GW
OUTSIDE=$T/outside-mx           # Maildir of the outside MX in SPAM
ok "smarthost (SMTP, stores mail) in GW on port 25" \
        smtp_sink_up "$NS_GW" "$SMARTHOST" "$GW4:25" "$GW6:25" || lab_finish
ok "outside MX (SMTP, stores mail) in SPAM on port 25" \
        smtp_sink_up "$NS_SPAM" "$OUTSIDE" "0.0.0.0:25" ":::25" || lab_finish
ok "outside listeners in SPAM on 465, 587 and 2525" \
        eval 'listener_up "$NS_SPAM" 465 && listener_up "$NS_SPAM" 587 && listener_up "$NS_SPAM" 2525'
ok "a listener on the smarthost's port 587" listener_up "$NS_GW" 587
# Mail for outside domains goes to the smarthost; example.org and example.com
# are routed straight to the outside MX (over IPv4 and IPv6), which the lock
# must refuse to Postfix too.
ok "postfix in SRV, relaying through [$GW4]:25" postfix_up \
        "inet_interfaces=$SRV4, $SRV6, $EXT4, $EXT6, 127.0.0.1, [::1]" \
        default_transport=smtp relay_transport=smtp "relayhost=[$GW4]:25" \
        "transport_maps=inline:{example.org=smtp:[$SPAM4]:25, example.com=smtp:[$SPAM6]:25}" \
        smtp_connect_timeout=10s || lab_finish

POLICIES="[policy inbound-smtp]
ports = 25
allow = $GW4 $GW6

[outbound smarthost]
ports = 25, 465, 587
to = $GW4 $GW6
users = postfix"
mkconf "$T/mxlock.conf" <<<"$POLICIES"
ok "mxlockd starts with an inbound and an outbound policy" mxlockd_start "$T/mxlock.conf" || lab_finish

# ---- Postfix relays through the smarthost -----------------------------------

# submit USER SERVER RCPT TOKEN: swaks as USER (root when empty) in SRV; the
# queue id goes to $T/qid.
submit() {
        local user=$1 server=$2 rcpt=$3 token=$4
        client_as "$user" swaks_from "$NS_SRV" "$server" --to "$rcpt" \
                --header "Subject: mxlock e2e $MXT_NAME $token" || return 1
        sed -n 's/.*queued as \([0-9A-Za-z]*\).*/\1/p' "$T/swaks.last" | tail -n 1 >"$T/qid"
        echo "queued as $(cat "$T/qid")"
        [ -s "$T/qid" ]
}

sink_has() {
        [ "$(sink_count "$1" "$2")" -ge 1 ]
}

# arrives DIR TOKEN: the message with TOKEN lands in the Maildir DIR (15 s).
arrives() {
        wait_until 15 sink_has "$1" "$2" && return 0
        echo "no message with $2 in $1; maillog tail:"
        tail -n 15 "$PF_DIR/maillog"
        return 1
}

# maillog_says QID TEXT: the maillog has a line of QID containing TEXT (15 s).
maillog_has() {
        grep -F "$1: " "$PF_DIR/maillog" 2>/dev/null | grep -qF -- "$2"
}
maillog_says() {
        wait_until 15 maillog_has "$1" "$2" && return 0
        echo "no line of $1 with '$2' in the maillog:"
        grep -F "$1" "$PF_DIR/maillog" | tail -n 10
        return 1
}

ok "mail for user@example.net submitted on 127.0.0.1" submit "" 127.0.0.1 user@example.net relay-1
qid_relay=$(cat "$T/qid")
ok "it reaches the smarthost in GW" arrives "$SMARTHOST" relay-1
ok "maillog: sent through the smarthost" maillog_says "$qid_relay" "relay=${GW4}[$GW4]:25"
ok "audit: Postfix's connection to the smarthost is not recorded" \
        test "$(audit_count '*' dst="$GW4")" = 0
ok "postfix (listed user) connects to the smarthost over IPv6" \
        client_as postfix probe_is connected "$NS_SRV" "$GW6" 25 "" 1000
ok "postfix (listed user) connects to the smarthost on 587" \
        client_as postfix probe_is connected "$NS_SRV" "$GW4" 587 "" 1000
ok "audit: neither is recorded" test "$(audit_count '*' direction=outbound user=postfix)" = 0

# ---- another user connecting out --------------------------------------------

# refused_at_once USER DST PORT REASON: the connect fails with ECONNREFUSED
# in under $ATONCE ms, and one refused record names the user, the uid, the
# reason and the connection.
refused_at_once() {
        local user=$1 dst=$2 port=$3 reason=$4 family=ipv4 uid rc
        uid=$(id -u "$user")
        case $dst in *:*) family=ipv6 ;; esac
        client_as "$user" probe_is refused "$NS_SRV" "$dst" "$port" "" "$ATONCE" >"$T/probe.last"
        rc=$?
        cat "$T/probe.last"
        cat "$T/probe.last" >>"$T/refusals.log"
        [ $rc -eq 0 ] || return 1
        audit_wait refused direction=outbound policy=smarthost mode=enforce action=reject \
                family=$family sport="$PROBE_SPORT" dst="$dst" dport="$port" \
                uid="$uid" user="$user" reason="$reason" count=1 src || return 1
        [ "$(audit_count refused sport="$PROBE_SPORT" dst="$dst")" = 1 ] ||
                { echo "more than one record of the attempt"; return 1; }
}

for port in 25 465 587; do
        ok "www-data -> outside MX $SPAM4:$port: refused at once, recorded (user-not-allowed)" \
                refused_at_once www-data "$SPAM4" $port user-not-allowed
        ok "www-data -> outside MX [$SPAM6]:$port: refused at once, recorded (user-not-allowed)" \
                refused_at_once www-data "$SPAM6" $port user-not-allowed
done
# the process is best-effort (it may have gone before the lookup): when the
# record names one it must be the prober
www_sport=$PROBE_SPORT www_pid=$PROBE_PID
if [ "$(audit_count refused sport="$www_sport" pid)" = 1 ]; then
        ok "audit: the record names the process (the prober's pid, comm python3)" \
                audit_has refused sport="$www_sport" uid="$WWW_UID" pid="$www_pid" comm=python3
else
        skip "audit: the record names the process" "no pid in the record (best-effort)"
fi
ok "audit: the source of an IPv4 refusal is the host's outside address" \
        audit_has refused direction=outbound user=www-data dst="$SPAM4" src="$EXT4"
ok "www-data -> the smarthost $GW4:25 (user not listed): refused at once" \
        refused_at_once www-data "$GW4" 25 user-not-allowed
ok "www-data -> the smarthost [$GW6]:25 (user not listed): refused at once" \
        refused_at_once www-data "$GW6" 25 user-not-allowed
ok "root -> outside MX $SPAM4:25 (user not listed): refused at once" \
        refused_at_once root "$SPAM4" 25 user-not-allowed
ok "postfix -> outside MX $SPAM4:587 (destination not listed): refused at once" \
        refused_at_once postfix "$SPAM4" 587 destination-not-allowed

slowest=$(sed -n 's/.*: refused in \([0-9]*\) ms.*/\1/p' "$T/refusals.log" | sort -n | tail -n 1)
echo "# $(wc -l <"$T/refusals.log") outbound refusals seen by the program, the slowest in ${slowest:-?} ms"

# ---- Postfix itself sending straight to an outside MX ---------------------------

queued() {
        in_ns "$NS_SRV" postqueue -c "$PF_DIR" -p | grep -q "^$1\b"
}

# deferred_not_sent QID TOKEN: the maillog says deferred with "Connection
# refused" (a reset, not a timeout), the message is still queued and the
# outside MX never saw it.
deferred_not_sent() {
        local qid=$1 token=$2
        maillog_says "$qid" "status=deferred" || return 1
        grep -F "$qid: " "$PF_DIR/maillog" | grep -F status=deferred
        grep -F "$qid: " "$PF_DIR/maillog" | grep -F status=deferred | grep -qF "Connection refused" ||
                { echo "deferred, but not for a refused connection"; return 1; }
        queued "$qid" || { echo "$qid is not in the queue:"; in_ns "$NS_SRV" postqueue -c "$PF_DIR" -p; return 1; }
        [ "$(sink_count "$OUTSIDE" "$token")" = 0 ] || { echo "the outside MX got it"; return 1; }
}

ok "mail for user@example.org (routed to $SPAM4) accepted by Postfix" \
        submit "" 127.0.0.1 user@example.org direct-4
qid_direct4=$(cat "$T/qid")
ok "Postfix's connection to the outside MX is refused: mail deferred, still queued, not delivered" \
        deferred_not_sent "$qid_direct4" direct-4
ok "audit: that refusal names postfix and destination-not-allowed" \
        audit_wait refused direction=outbound policy=smarthost family=ipv4 dst="$SPAM4" dport=25 \
        uid="$PF_UID" user=postfix reason=destination-not-allowed count=1
if [ "$(audit_count refused user=postfix dst="$SPAM4" dport=25 pid)" -ge 1 ]; then
        ok "audit: that record names Postfix's smtp process" \
                audit_has refused user=postfix dst="$SPAM4" dport=25 comm=smtp
else
        skip "audit: that record names Postfix's smtp process" "no pid in the record (best-effort)"
fi
ok "mail for user@example.com (routed to [$SPAM6]) accepted by Postfix" \
        submit "" 127.0.0.1 user@example.com direct-6
qid_direct6=$(cat "$T/qid")
ok "over IPv6 too: deferred, still queued, not delivered" \
        deferred_not_sent "$qid_direct6" direct-6
ok "audit: the IPv6 refusal names postfix and destination-not-allowed" \
        audit_wait refused direction=outbound policy=smarthost family=ipv6 dst="$SPAM6" dport=25 \
        uid="$PF_UID" user=postfix reason=destination-not-allowed count=1
ok "the outside MX got no mail at all" test "$(sink_count "$OUTSIDE")" = 0
ok "and the relayed mail still goes out meanwhile" submit "" 127.0.0.1 user@example.net relay-2
ok "it reaches the smarthost" arrives "$SMARTHOST" relay-2

# ---- local submission and ports not listed are untouched -----------------------

for dst in 127.0.0.1 ::1 "$EXT4" "$EXT6" "$SRV4"; do
        ok "www-data -> $dst:25 (this host, over lo) connects" \
                client_as www-data probe_is connected "$NS_SRV" "$dst" 25 "" 1000
done
ok "www-data submits on 127.0.0.1:25 and Postfix accepts (delivered)" \
        client_as www-data deliver "$NS_SRV" 127.0.0.1
ok "www-data submits on $EXT4:25 (own address) and Postfix accepts (delivered)" \
        client_as www-data deliver "$NS_SRV" "$EXT4"
ok "www-data submits mail for outside on 127.0.0.1 and it goes out through the smarthost" \
        submit www-data 127.0.0.1 user@example.net relay-www
ok "it reaches the smarthost" arrives "$SMARTHOST" relay-www
ok "audit: nothing recorded for connections to this host" \
        test "$(audit_count '*' iface=lo)$(audit_count '*' dst=127.0.0.1)$(audit_count '*' dst=::1)$(audit_count '*' direction=outbound dst="$EXT4")$(audit_count '*' direction=outbound dst="$SRV4")" = 00000
ok "www-data -> outside $SPAM4:2525 (port not listed) connects" \
        client_as www-data probe_is connected "$NS_SRV" "$SPAM4" 2525 "" 1000
ok "www-data -> outside [$SPAM6]:2525 (port not listed) connects" \
        client_as www-data probe_is connected "$NS_SRV" "$SPAM6" 2525 "" 1000
ok "audit: port 2525 not recorded" test "$(audit_count '*' dport=2525)" = 0

# ---- the inbound lock alongside -----------------------------------------------

ok "inbound: the gateway connects in over IPv4" probe_is connected "$NS_GW" "$SRV4" 25 "" 1000
ok "inbound: the gateway's mail is delivered" deliver "$NS_GW" "$SRV4"
ok "inbound: the direct sender is refused at once over IPv4" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
sport_in=$PROBE_SPORT
ok "audit: its record says direction inbound" \
        audit_wait refused direction=inbound policy=inbound-smtp src="$SPAM4" sport="$sport_in" dport=25 iface=ext0 count=1
ok "inbound: the direct sender is refused over IPv6" probe_is refused "$NS_SPAM" "$EXT6" 25 "" 1000
ok "audit: every refused record has a direction" test "$(audit_count refused 'direction!=inbound' 'direction!=outbound')" = 0

# ---- one record per attempt, as many as the kernel counted ---------------------

# counter NAME: the packets of the named counter in SRV's table.
counter() {
        nft_srv list counter inet "$TABLE" "$1" | sed -n 's/.*packets \([0-9]*\).*/\1/p'
}

# attempts_add_up N: N attempts of www-data to [SPAM6]:465 give N refused
# records (count 1 each, one per source port) and N more packets on the
# policy's queued and handled counters.
records_of() {
        [ "$(audit_count refused direction=outbound user=www-data dst="$SPAM6" dport=465 count=1)" -ge "$1" ]
}
attempts_add_up() {
        local n=$1 q0 h0 q1 h1 r0 r1
        q0=$(counter queued_smarthost)
        h0=$(counter handled_smarthost)
        r0=$(audit_count refused direction=outbound user=www-data dst="$SPAM6" dport=465)
        echo "before: queued $q0 handled $h0 records $r0"
        [ -n "$q0" ] && [ -n "$h0" ] || { echo "no counters queued_smarthost / handled_smarthost"; nft_srv list counters table inet "$TABLE"; return 1; }
        for _ in $(seq "$n"); do
                client_as www-data probe_is refused "$NS_SRV" "$SPAM6" 465 "" "$ATONCE" || return 1
        done
        wait_until 5 records_of $((r0 + n))
        sleep 0.3
        q1=$(counter queued_smarthost)
        h1=$(counter handled_smarthost)
        r1=$(audit_count refused direction=outbound user=www-data dst="$SPAM6" dport=465 count=1)
        echo "after: queued $q1 handled $h1 records (count 1) $r1; sum of count $(audit_sum count refused direction=outbound user=www-data dst="$SPAM6" dport=465)"
        [ $((r1 - r0)) -eq "$n" ] && [ $((q1 - q0)) -eq "$n" ] && [ $((h1 - h0)) -eq "$n" ]
}
ok "10 attempts: 10 records of count 1, 10 queued and 10 handled in the kernel" attempts_add_up 10
ok "no summary record (10 attempts are far below any fold)" test "$(audit_count summary)" = 0

# ---- mxlock report ---------------------------------------------------------------

report_names() {
        "$MXLOCK" report "$AUDIT" >"$T/report.txt" 2>&1 || { cat "$T/report.txt"; return 1; }
        cat "$T/report.txt"
        grep -qw www-data "$T/report.txt" && grep -qw postfix "$T/report.txt"
}
ok "mxlock report names the users that tried (www-data, postfix)" report_names

ok "mxlockd stops on SIGTERM with status 0" mxlockd_stop
# failure = closed: the table stays; without mxlockd to give verdicts the
# lock still holds and still fails at once, and the listed user still relays.
ok "mxlockd stopped: www-data -> outside MX $SPAM4:25 still refused at once" \
        client_as www-data probe_is refused "$NS_SRV" "$SPAM4" 25 "" "$ATONCE"
ok "mxlockd stopped: postfix -> the smarthost still connects" \
        client_as postfix probe_is connected "$NS_SRV" "$GW4" 25 "" 1000

# ---- monitor mode ------------------------------------------------------------------

refused_before=$(audit_count refused)
mkconf "$T/monitor.conf" mode=monitor <<<"$POLICIES"
ok "mxlockd starts in monitor mode" mxlockd_start "$T/monitor.conf" || lab_finish

# observed_connects USER DST PORT: connects, and an observed record
# names the user and the connection.
observed_connects() {
        local user=$1 dst=$2 port=$3 family=ipv4
        case $dst in *:*) family=ipv6 ;; esac
        client_as "$user" probe_is connected "$NS_SRV" "$dst" "$port" "" 1000 || return 1
        audit_wait observed direction=outbound policy=smarthost mode=monitor family=$family \
                sport="$PROBE_SPORT" dst="$dst" dport="$port" uid="$(id -u "$user")" user="$user" count=1
}
ok "monitor: www-data -> outside MX $SPAM4:25 connects; observed record names www-data" \
        observed_connects www-data "$SPAM4" 25
ok "monitor: www-data -> outside MX [$SPAM6]:587 connects; observed record" \
        observed_connects www-data "$SPAM6" 587
ok "monitor: the observed record gives the reason (user-not-allowed)" \
        audit_has observed direction=outbound user=www-data dst="$SPAM4" reason=user-not-allowed
ok "monitor: the inbound direct sender connects; observed with direction inbound" \
        eval 'probe_is connected "$NS_SPAM" "$EXT4" 25 "" 1000 && audit_wait observed direction=inbound src="$SPAM4" sport="$PROBE_SPORT"'

flush_queue() {
        in_ns "$NS_SRV" postqueue -c "$PF_DIR" -f
}
ok "monitor: the deferred mail goes out when the queue is flushed" \
        eval 'flush_queue && arrives "$OUTSIDE" direct-4 && arrives "$OUTSIDE" direct-6'
ok "monitor: observed records name postfix (destination-not-allowed)" \
        audit_wait observed direction=outbound user=postfix uid="$PF_UID" dst="$SPAM4" dport=25 reason=destination-not-allowed
ok "monitor: nothing refused" test "$(audit_count refused)" = "$refused_before"
ok "mxlockd stops on SIGTERM with status 0 (monitor)" mxlockd_stop

# ---- a provider catalog as the allowed destinations ------------------------------

provider_fixture lab-relay "$GW4/32" "$GW6/128"
mkconf "$T/providers.conf" <<'CONF'
[outbound smarthost]
ports = 25, 465, 587
providers = lab-relay
users = postfix
CONF
ok "mxlockd -n accepts providers without to" "$MXLOCKD" -c "$T/providers.conf" -n
ok "mxlockd starts with providers = lab-relay" mxlockd_start "$T/providers.conf" || lab_finish
ok "providers: postfix -> the catalog's $GW4:25 connects" \
        client_as postfix probe_is connected "$NS_SRV" "$GW4" 25 "" 1000
ok "providers: postfix -> the catalog's [$GW6]:25 connects" \
        client_as postfix probe_is connected "$NS_SRV" "$GW6" 25 "" 1000
ok "providers: postfix -> outside MX $SPAM4:25 refused at once (destination-not-allowed)" \
        refused_at_once postfix "$SPAM4" 25 destination-not-allowed
ok "providers: www-data -> the catalog's $GW4:25 refused at once (user-not-allowed)" \
        refused_at_once www-data "$GW4" 25 user-not-allowed
ok "providers: mail for outside still goes through the smarthost" \
        eval 'submit "" 127.0.0.1 user@example.net relay-3 && arrives "$SMARTHOST" relay-3'
ok "mxlockd stops on SIGTERM with status 0 (providers)" mxlockd_stop
ok "audit log is one JSON object per line" audit_valid

lab_finish
