#!/usr/bin/env bash
# tests/e2e/firstrun.sh: the README's first command, run once on a fresh
# machine, the way a new user meets it.
#
# A minimal Debian 12 (debootstrap --variant=minbase with only git,
# ca-certificates and make: no sudo, no compiler, no -dev packages), a clone
# of this repository in it, and the command from the README's "Try it" block
# run once as root inside it (systemd-nspawn, not booted; apt reaches the
# Debian mirror from inside). Its success is read from what it prints. Then
# the container is checked for what the demo must not install on a user's
# host: an MTA, Prometheus, debootstrap, debhelper, systemd-container.
#
# The clone is of the committed HEAD: uncommitted changes are not tested.
# Environment: MXT_CACHE (default /var/cache/mxlock-test) keeps the minbase
# tree between runs; MIRROR as in systemd.sh.
. "$(dirname "$0")/../lib.sh"
require_root

MXT_CACHE=${MXT_CACHE:-/var/cache/mxlock-test}
BASE=$MXT_CACHE/firstrun-minbase
BASE_PKGS=git,ca-certificates,make
BASE_VERSION="v1 bookworm minbase $BASE_PKGS"

for t in debootstrap systemd-nspawn git; do
        if ! command -v "$t" >/dev/null 2>&1; then
                echo "skip - $MXT_NAME (missing tool $t: run tests/deps.sh)"
                exit 0
        fi
done

base_ready() {
        [ -f "$BASE.version" ] && [ "$(cat "$BASE.version")" = "$BASE_VERSION" ] && [ -x "$BASE/usr/bin/git" ]
}

# The fresh tree, built once (about 35 s) and copied for every run, so that
# each run starts from a machine nothing has been installed on.
base_build() {
        local tmp=$BASE.tmp
        mkdir -p "$MXT_CACHE"
        exec 9>"$MXT_CACHE/.firstrun.lock"
        flock -w 900 9 || return 1
        base_ready && { exec 9>&-; return 0; }
        echo "# building $BASE ($BASE_VERSION) from $(mirror)"
        rm -rf "$tmp" "$BASE" "$BASE.version"
        timeout 600 debootstrap --variant=minbase --include="$BASE_PKGS" bookworm "$tmp" "$(mirror)" \
                >"$MXT_CACHE/firstrun-debootstrap.log" 2>&1 || {
                tail -n 20 "$MXT_CACHE/firstrun-debootstrap.log"
                return 1
        }
        chroot "$tmp" apt-get clean
        mv "$tmp" "$BASE"
        echo "$BASE_VERSION" >"$BASE.version"
        exec 9>&-
}

# The README's first command: the first line of its "Try it" code block.
readme_command() {
        awk '/^## Try it/ { s = 1 } s && /^```/ { n++; next } s && n == 1 { print; exit }' \
                "$MXT_ROOT/README.md" | sed 's/[[:space:]]*#.*$//'
}

lab_init
ROOT=$T/root
ok "a fresh minimal Debian 12 tree (debootstrap, cached)" base_build || lab_finish
ok "copy it for this run" cp -a "$BASE" "$ROOT" || lab_finish
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"

fresh_machine() {
        local p
        for p in sudo gcc pkg-config libnftnl-dev postfix; do
                if chroot "$ROOT" dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii'; then
                        echo "$p is already installed in the fresh tree"
                        return 1
                fi
        done
}
ok "the tree is fresh: no sudo, compiler, pkg-config, -dev packages or MTA" fresh_machine

ok "clone the repository into it" git clone -q "$MXT_ROOT" "$ROOT/root/mxlock" || lab_finish

CMD=$(readme_command)
# With no sudo on the machine, the user types the command without it.
RUN=${CMD#sudo }
echo "# README's first command: '$CMD'; run as root: '$RUN'"
case $RUN in
make\ demo*) pass "the README's first command is make demo" ;;
*) fail "the README's first command is make demo" "found: '$CMD'" ;;
esac

run_first() {
        timeout 1200 systemd-nspawn --register=no --keep-unit -q -D "$ROOT" \
                --capability=CAP_NET_ADMIN,CAP_SYS_ADMIN --chdir=/root/mxlock \
                --setenv=TERM=dumb bash -c "$RUN" </dev/null >"$T/firstrun.out" 2>&1
}
t0=$SECONDS
run_first
rc=$?
echo "# first run took $((SECONDS - t0)) s, exit $rc"
if [ $rc -eq 0 ]; then
        pass "'$RUN' exits 0 on its first run"
else
        fail "'$RUN' exits 0 on its first run" "exit $rc" "$(tail -n 40 "$T/firstrun.out")"
fi

said() {
        grep -qF -- "$1" "$T/firstrun.out" || {
                echo "not in the output: $1"
                tail -n 30 "$T/firstrun.out"
                return 1
        }
}
never_said() {
        ! grep -nE -- "$1" "$T/firstrun.out"
}
ok "it installed the packages itself" said "deps (demo): installing"
ok "no link error (pkg-config read after the install)" never_said 'undefined reference|pkg-config does not find'
ok "it built mxlockd" test -x "$ROOT/root/mxlock/build/mxlockd"
ok "it says the gateway's mail was delivered and the direct sender refused" \
        said "Mail through the gateway was delivered; the direct sender was refused at the first SYN."
ok "gateway -> mail server over IPv4 and IPv6: delivered" \
        bash -c "[ \"\$(grep -cE 'gateway -> mail server, IPv[46] +delivered' '$T/firstrun.out')\" -eq 2 ]"
ok "spammer -> mail server over IPv4 and IPv6: refused" \
        bash -c "[ \"\$(grep -cE 'spammer -> mail server directly, IPv[46] +refused' '$T/firstrun.out')\" -eq 2 ]"
ok "the demo printed refused audit records" said '"event":"refused"'

not_installed() {
        local p bad=
        for p in postfix exim4-daemon-light opensmtpd prometheus debootstrap debhelper systemd-container; do
                chroot "$ROOT" dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' && bad+=" $p"
        done
        [ -z "$bad" ] || { echo "the demo installed:$bad"; return 1; }
}
ok "the demo installs no MTA, prometheus, debootstrap, debhelper or systemd-container" not_installed

if [ $MXT_FAIL -gt 0 ]; then
        echo "# --- the first run's output (tail) ---"
        tail -n 60 "$T/firstrun.out" | diag
fi
rm -rf "$ROOT"
lab_finish
