#!/usr/bin/env bash
# tests/e2e/fleet_rsyslog.sh: the shipped rsyslog configuration forwards the
# audit log to a central collector, losing nothing and repeating nothing.
#
# - both shipped files (docs/examples/rsyslog/) pass `rsyslogd -N1`;
# - a mail host namespace runs Debian's rsyslogd with mxlock-forward.conf,
#   a collector namespace runs rsyslogd with mxlock-collector.conf; each has
#   its own config, pid file and work directory in the test's temp dir
#   (only the audit path, the collector's address and the output directory
#   are substituted); the host's syslog is never touched;
# - audit records are appended at a steady rate (about 40/s) with a
#   sequence number; the collector is stopped for 20 s and started again,
#   and the audit log is rotated (rename, as logrotate does) while it is
#   away; then the mail host's rsyslogd is restarted under the stream;
# - every record arrives exactly once, unchanged, in the collector's file
#   for that host, and that file is a valid audit log for `mxlock export`.
# e2e-timeout: 150
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../fleet.sh"
require_root
for t in rsyslogd; do
        command -v $t >/dev/null || { echo "skip - fleet_rsyslog (missing $t: run tests/deps.sh)"; exit 0; }
done
if [ ! -e /usr/lib/x86_64-linux-gnu/rsyslog/omrelp.so ] && ! ls /usr/lib/*/rsyslog/omrelp.so >/dev/null 2>&1; then
        echo "skip - fleet_rsyslog (rsyslog-relp is not installed: run tests/deps.sh)"
        exit 0
fi
MXLOCK=${MXLOCK:-$MXT_ROOT/build/mxlock}
EX=$MXT_ROOT/docs/examples/rsyslog
COLL=192.0.2.10

ok "fleet lab up" fleet_lab mail:192.0.2.1 coll:$COLL || lab_finish
mkdir -p "$T/mail/work" "$T/coll/work" "$T/coll/out"
AUD=$T/mail/audit.jsonl
: >"$AUD"

# The shipped files with the site's values substituted, included from a
# main config that only sets the work directory and the host name.
sed -e "s|/var/log/mxlock/audit.jsonl|$AUD|" -e "s|\"COLLECTOR\"|\"$COLL\"|" \
        "$EX/mxlock-forward.conf" >"$T/mail/mxlock-forward.conf"
sed -e "s|/var/log/mxlock-fleet|$T/coll/out|" "$EX/mxlock-collector.conf" >"$T/coll/mxlock-collector.conf"
ok "substitutions applied" sh -c "grep -q '$AUD' '$T/mail/mxlock-forward.conf' &&
        grep -q '\"$COLL\"' '$T/mail/mxlock-forward.conf' && grep -q '$T/coll/out' '$T/coll/mxlock-collector.conf'"
cat >"$T/mail/rsyslog.conf" <<EOF
global(workDirectory="$T/mail/work" localHostName="mail1.example.test")
include(file="$T/mail/mxlock-forward.conf")
EOF
cat >"$T/coll/rsyslog.conf" <<EOF
global(workDirectory="$T/coll/work" localHostName="collector.example.test")
include(file="$T/coll/mxlock-collector.conf")
EOF
ok "rsyslogd -N1 accepts the mail host's config" rsyslogd -N1 -f "$T/mail/rsyslog.conf"
ok "rsyslogd -N1 accepts the collector's config" rsyslogd -N1 -f "$T/coll/rsyslog.conf"

COLL_PID=
coll_start() {
        ip netns exec "${FLEET_NS[coll]}" rsyslogd -n -f "$T/coll/rsyslog.conf" -i "$T/coll/rsyslog.pid" \
                >>"$T/coll/rsyslogd.log" 2>&1 &
        COLL_PID=$!
        track "$COLL_PID"
        wait_until 5 coll_listening
}
coll_listening() {
        ip netns exec "${FLEET_NS[coll]}" ss -Hltn "sport = :2514" | grep -q .
}
coll_stop() {
        kill -TERM "$COLL_PID" && wait "$COLL_PID"
        ! coll_listening
}

ok "collector rsyslogd listens on 2514" coll_start || lab_finish
MAIL_PID=
mail_start() {
        ip netns exec "${FLEET_NS[mail]}" rsyslogd -n -f "$T/mail/rsyslog.conf" -i "$T/mail/rsyslog.pid" \
                >>"$T/mail/rsyslogd.log" 2>&1 &
        MAIL_PID=$!
        track "$MAIL_PID"
}
mail_start

# The writer: a refused record every 25 ms with a sequence number in sport;
# it keeps its file open like mxlockd and reopens the path when asked.
cat >"$T/writer.py" <<'EOF'
import datetime, os, sys, time
path, ctl = sys.argv[1], sys.argv[2]
f = open(path, "a")
seq = 0
while not os.path.exists(ctl + ".stop"):
    if os.path.exists(ctl + ".reopen"):
        os.unlink(ctl + ".reopen")
        f.close()
        f = open(path, "a")
    seq += 1
    ts = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    f.write('{"ts":"%s","event":"refused","policy":"inbound-smtp","mode":"enforce","action":"reject",'
            '"family":"ipv4","src":"203.0.113.%d","sport":%d,"dst":"192.0.2.1","dport":25,"ttl":64,'
            '"iface":"eth0","count":1,"reason":"not-allowed \\"quoted\\" \\u00e9"}\n' % (ts, seq % 250 + 1, seq))
    f.flush()
    open(ctl + ".seq.tmp", "w").write(str(seq))
    os.rename(ctl + ".seq.tmp", ctl + ".seq")
    time.sleep(0.025)
EOF
"$PY" "$T/writer.py" "$AUD" "$T/ctl" &
WRITER_PID=$!
track "$WRITER_PID"

OUT=$T/coll/out/mail1.example.test/audit.jsonl
lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
arrived_some() { [ "$(lines "$OUT")" -gt 50 ]; }
ok "records arrive at the collector" wait_until 10 arrived_some

ok "collector stopped" coll_stop
before=$(lines "$OUT")
sleep 8
mv "$AUD" "$AUD.1"
sleep 0.5
touch "$T/ctl.reopen"
sleep 11.5
ok "nothing arrived while the collector was stopped" test "$(lines "$OUT")" = "$before"
ok "collector started again after 20 s" coll_start
sleep 3
# the mail host's rsyslogd restarts too: its queue and its read position
# in the audit log survive in its work directory
mail_restart() {
        kill -TERM "$MAIL_PID" && wait "$MAIL_PID"
        mail_start
}
ok "mail host rsyslogd restarted under the stream" mail_restart
sleep 3
touch "$T/ctl.stop"
wait "$WRITER_PID"
N=$(cat "$T/ctl.seq")
all_arrived() { [ "$(lines "$OUT")" -ge "$N" ]; }
ok "all $N records at the collector within 40 s" wait_until 40 all_arrived
sleep 2         # anything extra (a duplicate) would come now

once_each() {
        "$PY" - "$OUT" "$N" "$AUD.1" "$AUD" <<'EOF'
import collections, json, sys
out, n = sys.argv[1], int(sys.argv[2])
got = [l for l in open(out, encoding="utf-8")]
sent = [l for p in sys.argv[3:] for l in open(p, encoding="utf-8")]
seqs = collections.Counter(json.loads(l)["sport"] for l in got)
missing = sorted(set(range(1, n + 1)) - set(seqs))
twice = sorted(s for s, c in seqs.items() if c > 1)
print("written %d, received %d lines, %d distinct; missing %s; twice %s" % (n, len(got), len(seqs), missing[:20], twice[:20]))
ok = n > 500 and not missing and not twice and len(got) == n
# unchanged, byte for byte, in the order written
if sorted(got) != sorted(sent):
    print("received lines differ from the lines written")
    ok = False
sys.exit(0 if ok else 1)
EOF
}
ok "every record arrived exactly once, unchanged" once_each
ok "the collected file is an audit log: mxlock export reads every line" \
        sh -c "[ \$('$MXLOCK' export --format ecs '$OUT' | wc -l) = $N ]"
# (the only errors expected: the collector could not be reached while stopped)
ok "mail host rsyslogd reported no other error" \
        sh -c "! grep -i error '$T/mail/rsyslogd.log' | grep -v -e 'librelp error 10008' -e 'opening connection to remote peer'"
ok "collector rsyslogd reported no error" sh -c "! grep -i error '$T/coll/rsyslogd.log'"

lab_finish
