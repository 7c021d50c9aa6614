# shellcheck shell=bash
# tests/edgelib.sh: helpers of the e2e scripts that check that nothing blocks
# mxlockd's loop (dns_stall.sh, control_trickle.sh, flood_starve.sh): a
# client that measures how fast new sources are refused, and a
# $NOTIFY_SOCKET that records the daemon's watchdog pings. Sourced after
# lib.sh, after lab_init.

# edge_helpers: write the helper programs into $T.
edge_helpers() {
        cat >"$T/connlat.py" <<'EOF'
# connlat.py DST PORT SRCFILE INTERVAL_MS OUT: one non-blocking connect from
# each source address in SRCFILE (one per line), one every INTERVAL_MS;
# writes "START_MONOTONIC MS RESULT SRC" per connect into OUT, MS being the
# time from connect() to its outcome (refused: a reset), at most 15 s.
import errno, select, socket, sys, time
dst, port, srcfile, interval, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]) / 1000, sys.argv[5]
srcs = [l.strip() for l in open(srcfile) if l.strip()]
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
ep = select.epoll()
pending, results = {}, []
def finish(fd, res, now):
    s, t0, src = pending.pop(fd)
    ep.unregister(fd)
    s.close()
    results.append("%.6f %.3f %s %s" % (t0, (now - t0) * 1000, res, src))
start = time.monotonic()
i = 0
while i < len(srcs) or pending:
    now = time.monotonic()
    if i < len(srcs) and now >= start + i * interval:
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind((srcs[i], 0))
        t0 = time.monotonic()
        e = s.connect_ex((dst, port))
        pending[s.fileno()] = (s, t0, srcs[i])
        ep.register(s.fileno(), select.EPOLLOUT | select.EPOLLERR)
        i += 1
        continue
    for fd in [fd for fd, v in pending.items() if now - v[1] > 15]:
        finish(fd, "timeout", now)
    wait = max(0.0, start + i * interval - now) if i < len(srcs) else 0.05
    for fd, ev in ep.poll(wait):
        now = time.monotonic()
        e = pending[fd][0].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        finish(fd, "refused" if e == errno.ECONNREFUSED else "connected" if e == 0
               else "error:" + errno.errorcode.get(e, str(e)), now)
with open(out, "w") as f:
    f.write("\n".join(results) + "\n")
EOF
        cat >"$T/latency.py" <<'EOF'
# latency.py OUT WANT P99_MS MAX_MS: every connect of connlat.py's OUT ended
# as WANT, the 99th percentile of the times is under P99_MS and none is at
# or over MAX_MS. Prints the figures.
import sys
out, want, p99max, maxmax = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
rows = [l.split() for l in open(out) if l.strip()]
ms = sorted(float(r[1]) for r in rows)
bad = [r for r in rows if r[2] != want]
if not ms:
    print("no connects measured")
    sys.exit(1)
p = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]
print("%d connects, %d not %s: p50 %.2f ms, p99 %.2f ms, max %.2f ms (want p99 < %g, max < %g)"
      % (len(ms), len(bad), want, p(0.5), p(0.99), ms[-1], p99max, maxmax))
for r in bad[:5]:
    print("  " + " ".join(r))
slow = sorted(rows, key=lambda r: -float(r[1]))[:5]
print("slowest: " + ", ".join("%s ms (%s)" % (r[1], r[2]) for r in slow))
sys.exit(0 if not bad and p(0.99) < p99max and ms[-1] < maxmax else 1)
EOF
        cat >"$T/notify.py" <<'EOF'
# notify.py PATH OUT: a $NOTIFY_SOCKET; writes "MONOTONIC MESSAGE" per datagram.
import os, socket, sys, time
path, out = sys.argv[1], sys.argv[2]
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(out, "a", buffering=1) as f:
    while True:
        m = s.recv(4096)
        f.write("%.6f %s\n" % (time.monotonic(), m.decode(errors="replace").replace("\n", "|")))
EOF
        cat >"$T/wdgaps.py" <<'EOF'
# wdgaps.py OUT T0 T1 MAX_S: the WATCHDOG=1 pings in notify.py's OUT leave
# no gap of MAX_S seconds or more between T0 and T1 (monotonic seconds),
# counting from T0 to the first ping and from the last one to T1.
import sys
out, t0, t1, mx = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
ts = [float(l.split()[0]) for l in open(out) if "WATCHDOG=1" in l]
inside = [t for t in ts if t0 <= t <= t1]
prev = max([t for t in ts if t < t0], default=t0)
marks = [prev] + inside + [t1]
gaps = [b - a for a, b in zip(marks, marks[1:])]
worst = max(gaps)
at = marks[gaps.index(worst)] - t0
print("%d watchdog pings in %.1f s; longest gap %.2f s (%.1f s into the window; want < %g s)"
      % (len(inside), t1 - t0, worst, at, mx))
sys.exit(0 if worst < mx else 1)
EOF
}

# The latency client runs at a real-time priority (when it can), so that
# what it measures is the daemon's delay, not its own wait for a CPU.
RT=()
# shellcheck disable=SC2034  # used by the scripts that source this file
chrt -f 1 true 2>/dev/null && RT=(chrt -f 1)

# cpus_awake: one spinner per CPU at SCHED_IDLE (it runs only when nothing
# else wants the CPU) until the test ends, so that no CPU halts while a
# latency is measured. On a virtual machine a halted vCPU waits for its
# host to schedule it again when an interrupt wakes it: measured here, that
# alone put about 9% of connects at a fixed 6 ms (p99 6-8 ms, max up to
# 42 ms) whether mxlockd was busy or not, and with the spinners the same
# run gave p99 0.5 ms, max 1 ms. What the tests measure is then mxlockd's
# delay, not the host's. A latency benchmark's usual set-up (cyclictest
# holds the CPUs out of deep idle the same way).
cpus_awake() {
        local c
        for ((c = 0; c < $(nproc); c++)); do
                taskset -c "$c" chrt -i 0 sh -c 'while :; do :; done' &
                track $!
        done
}

# mono: CLOCK_MONOTONIC seconds (what the helpers write).
mono() {
        "$PY" -c 'import time; print("%.6f" % time.monotonic())'
}

# notify_up: a $NOTIFY_SOCKET in $T for the next mxlockd_start, with a
# watchdog of WATCHDOG_S seconds (default 3); pings go to $T/notify.log.
# NOTIFY_CPU: the CPU the listener runs on (default: any).
notify_up() {
        local sock=$T/notify.sock
        : >"$T/notify.log"
        ${NOTIFY_CPU:+taskset -c "$NOTIFY_CPU"} "$PY" "$T/notify.py" "$sock" "$T/notify.log" &
        track $!
        wait_until 5 test -S "$sock" || return 1
        export NOTIFY_SOCKET=$sock
        export WATCHDOG_USEC=$(( ${WATCHDOG_S:-3} * 1000000 ))
}

# sources_add NS IFACE N PREFIX: N more IPv6 addresses PREFIX1..PREFIXn (hex)
# on IFACE in NS (no duplicate address detection: usable at once); their
# list goes to $T/sources.
sources_add() {
        local ns=$1 ifc=$2 n=$3 pfx=$4 i
        : >"$T/sources"
        for ((i = 1; i <= n; i++)); do
                printf '%s%x\n' "$pfx" "$i" >>"$T/sources"
        done
        sed "s|^\(.*\)$|addr add \1/128 dev $ifc nodad|" "$T/sources" | ip -n "$ns" -batch -
}

# watchdog_pings N: the daemon has sent at least N WATCHDOG=1.
watchdog_pings() {
        [ "$(grep -c 'WATCHDOG=1' "$T/notify.log")" -ge "$1" ]
}
