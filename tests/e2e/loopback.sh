#!/usr/bin/env bash
# tests/e2e/loopback.sh: local clients (a web application, monitoring)
# submit to the local MTA on 127.0.0.1:25, [::1]:25 or the host's own
# address over lo: never refused and never recorded, while the direct
# sender from outside stays refused.
. "$(dirname "$0")/../lib.sh"
require_root
require_mxlockd

ok "lab up" lab_up || lab_finish
ok "a listener on port 25" listener_up "$NS_SRV" 25
mkconf "$T/mxlock.conf" <<'CONF'
[policy inbound-smtp]
ports = 25
allow = 198.51.100.0/24 2001:db8:25::/48
deny = 192.0.2.1
CONF
ok "mxlockd starts" mxlockd_start "$T/mxlock.conf" || lab_finish

ok "127.0.0.1:25 from the host connects" probe_is connected "$NS_SRV" 127.0.0.1 25 "" 1000
ok "[::1]:25 from the host connects" probe_is connected "$NS_SRV" ::1 25 "" 1000
# the host's own outside address, over lo (and listed in deny: lo still wins)
ok "$EXT4:25 from the host itself connects" probe_is connected "$NS_SRV" "$EXT4" 25 "" 1000
ok "$EXT6:25 from the host itself connects" probe_is connected "$NS_SRV" "$EXT6" 25 "" 1000
ok "$EXT4:25 from $SRV4 (its own address) connects" probe_is connected "$NS_SRV" "$EXT4" 25 "$SRV4" 1000
ok "no record of any local attempt" \
        test "$(audit_count '*' iface=lo)$(audit_count refused)$(audit_count summary)" = 000
ok "the direct sender is still refused" probe_is refused "$NS_SPAM" "$EXT4" 25 "" 1000
ok "and recorded" audit_wait refused src="$SPAM4" iface=ext0
ok "mxlockd stops cleanly" mxlockd_stop
lab_finish
