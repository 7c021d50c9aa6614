#!/usr/bin/env bash
# tests/e2e/failclosed.sh: when mxlockd dies (kill -9) its table stays: the
# gateway's mail still flows and the direct sender stays refused; on restart
# the daemon reports the attempts it missed. With failure = open a dead
# daemon lets everyone in.
. "$(dirname "$0")/../lib.sh"
require_root
require_mxlockd

ok "lab up" lab_up || lab_finish
ok "postfix listening in SRV" postfix_up || lab_finish

mkconf "$T/closed.conf" failure=closed <<'CONF'
[policy inbound-smtp]
ports = 25
allow = 198.51.100.0/24 2001:db8:25::/48
CONF

ok "mxlockd starts (failure = closed)" mxlockd_start "$T/closed.conf" || lab_finish
ok "direct sender refused while running" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
ok "kill -9 mxlockd" mxlockd_kill9
ok "table stays after the crash" nft_srv list table inet "$TABLE"
ok "dead daemon: direct sender gets no connection (IPv4)" probe_is blocked "$NS_SPAM" "$EXT4" 25
ok "dead daemon: direct sender gets no connection (IPv6)" probe_is blocked "$NS_SPAM" "$EXT6" 25
ok "dead daemon: swaks from the direct sender fails" swaks_fails "$NS_SPAM" "$EXT4" --timeout 3
ok "dead daemon: gateway mail delivered (IPv4)" deliver "$NS_GW" "$SRV4"
ok "dead daemon: gateway mail delivered (IPv6)" deliver "$NS_GW" "$SRV6"

ok "mxlockd restarts over the table it left" mxlockd_start "$T/closed.conf"
ok "audit: missed record counts the 3 attempts (or their retransmits)" audit_wait missed 'count>=3'
ok "restarted: direct sender refused with RST" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
ok "restarted: gateway mail delivered" deliver "$NS_GW" "$SRV4"
ok "mxlockd stops on SIGTERM with status 0" mxlockd_stop

mkconf "$T/open.conf" failure=open <<'CONF'
[policy inbound-smtp]
ports = 25
allow = 198.51.100.0/24 2001:db8:25::/48
CONF
ok "mxlockd starts (failure = open)" mxlockd_start "$T/open.conf" || lab_finish
ok "failure=open, running: direct sender refused" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
ok "kill -9 mxlockd (failure = open)" mxlockd_kill9
ok "failure=open, dead daemon: direct sender connects (IPv4)" probe_is connected "$NS_SPAM" "$EXT4" 25
ok "failure=open, dead daemon: direct sender connects (IPv6)" probe_is connected "$NS_SPAM" "$EXT6" 25
ok "failure=open, dead daemon: gateway mail delivered" deliver "$NS_GW" "$SRV4"
ok "audit log is one JSON object per line" audit_valid

lab_finish
