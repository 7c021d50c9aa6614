#!/usr/bin/env bash
# tests/demo.sh: `sudo make demo`. Builds a small lab in network namespaces
# (a mail server running an SMTP server, its email-security gateway and a spammer
# who skips the MX), starts build/mxlockd with a demo provider catalog for
# the gateway, sends mail both ways over IPv4 and IPv6, shows what happened
# and the audit records, and tears everything down. Touches nothing outside
# its own namespaces and temp dir.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
        echo "The demo builds network namespaces and needs root: sudo make demo" >&2
        exit 1
fi
if [ ! -x "$MXLOCKD" ]; then
        echo "$MXLOCKD is not built: run make first" >&2
        exit 1
fi

B='' N='' G='' R=''
if [ -t 1 ]; then
        B=$(tput bold 2>/dev/null || true)
        N=$(tput sgr0 2>/dev/null || true)
        G=$(tput setaf 2 2>/dev/null || true)
        R=$(tput setaf 1 2>/dev/null || true)
fi

say() {
        printf '\n%s== %s ==%s\n' "$B" "$*" "$N"
}

die() {
        MXT_FAIL=1
        echo "${R}demo failed: $*${N}" >&2
        exit 1
}

# try DESCRIPTION EXPECT NS SERVER [SWAKS ARGS]: send one mail and say what
# happened; EXPECT is "delivered" or "refused".
OUTCOME_BAD=0
try() {
        local what=$1 expect=$2 ns=$3 server=$4 before got why=
        shift 4
        before=$(mail_count)
        if swaks_from "$ns" "$server" "$@" 2>/dev/null && mail_wait $((before + 1)) 2>/dev/null; then
                got=delivered
        else
                got=refused
                # The reason, in swaks's words.
                why=$(grep -m1 -oE 'Connection refused|[Tt]imed out|Connection timed out' "$T/swaks.last" ||
                        grep -m1 '^\*\*\*' "$T/swaks.last" | sed 's/^\*\*\* *//')
        fi
        if [ "$got" = "$expect" ]; then
                printf '  %-52s %s%-9s%s %s\n' "$what" "$G" "$got" "$N" "${why:+($why)}"
        else
                printf '  %-52s %s%-9s%s expected %s %s\n' "$what" "$R" "$got" "$N" "$expect" "${why:+($why)}"
                OUTCOME_BAD=1
        fi
}

say "Lab"
lab_up || die "could not build the namespaces"
cat <<EOF
  gateway       $NS_GW    $GW4  $GW6   (the MX: the filtering provider)
                   |
  mail server   $NS_SRV   $SRV4 / $EXT4, $SRV6 / $EXT6
                   |        SMTP server (aiosmtpd) on port 25, accepts mail for example.test
  spammer       $NS_SPAM  $SPAM4  $SPAM6   (skips the MX, connects directly)
EOF
smtpd_up || die "the SMTP server did not start"

say "Configuration"
provider_fixture demo-gateway 198.51.100.0/24 2001:db8:25::/48
shipped=$MXT_ROOT/rules/providers
mkconf "$T/mxlock.conf" provider_dirs="$shipped:$T/providers" <<'CONF'
[policy inbound-smtp]
ports = 25
providers = demo-gateway
CONF
sed 's/^/  /' "$T/mxlock.conf"
echo
echo "  provider catalog demo-gateway.conf:"
sed 's/^/    /' "$T/providers/demo-gateway.conf"

say "Starting mxlockd"
mxlockd_start "$T/mxlock.conf" || die "mxlockd did not start: $(tail -n 5 "$T/mxlockd.err")"
echo "  mxlockd running (pid $MXLOCKD_PID); its table in the mail server's namespace:"
nft_srv list table inet "$TABLE" | sed 's/^/    /' | head -n 60

say "Sending mail"
try "gateway -> mail server, IPv4" delivered "$NS_GW" "$SRV4"
try "gateway -> mail server, IPv6" delivered "$NS_GW" "$SRV6"
try "spammer -> mail server directly, IPv4" refused "$NS_SPAM" "$EXT4"
try "spammer -> mail server directly, IPv6" refused "$NS_SPAM" "$EXT6"
echo
read -r res ms _ <<<"$(tcp_probe "$NS_SPAM" "$EXT4" 25)"
echo "  a bare TCP connection attempt from the spammer to port 25: $res in $ms ms"
echo "  messages in the mailbox: $(mail_count) (the gateway's 2)"

say "Audit log ($AUDIT)"
sed 's/^/  /' "$AUDIT"
if [ -x "$MXT_ROOT/build/mxlock" ]; then
        echo
        echo "  mxlock report:"
        "$MXT_ROOT/build/mxlock" -c "$T/mxlock.conf" report "$AUDIT" 2>&1 | sed 's/^/    /'
fi

say "Stopping"
mxlockd_stop || echo "  mxlockd did not stop cleanly: $(tail -n 5 "$T/mxlockd.err")"
echo "  stopped; the namespaces are removed on exit"

if [ "$OUTCOME_BAD" -ne 0 ]; then
        MXT_FAIL=1
        echo
        echo "${R}${B}The demo did not go as expected; mxlockd's stderr:${N}"
        sed 's/^/  /' "$T/mxlockd.err"
        exit 1
fi
echo
echo "${G}${B}Mail through the gateway was delivered; the direct sender was refused at the first SYN.${N}"
exit 0
