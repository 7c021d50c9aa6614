#!/usr/bin/env bash
# tests/deps.sh: install the Debian packages the build, the demo or the tests need.
# Idempotent: when everything is installed it touches neither apt nor the
# network; otherwise one `apt-get update` and one install.
set -euo pipefail

# tests/deps.sh [build|demo|test]: install the Debian packages one job
# needs; each set includes the one before. Default: test (everything).
#   build: compile mxlockd and mxlock
#   demo:  `make demo`: the build plus the lab's tools. Nothing in it starts
#          a service on the host (the demo's SMTP server is aiosmtpd, run in
#          a namespace), so the demo leaves no MTA behind.
#   test:  `make check`: every test, packaging, the containers.
SET=${1:-test}
BUILD_PKGS=(
        build-essential pkg-config
        libmnl-dev libnftnl-dev libnetfilter-queue-dev libcap-dev zlib1g-dev
        libsodium-dev
)
DEMO_PKGS=(
        nftables iproute2 swaks libio-socket-inet6-perl python3 python3-aiosmtpd
        procps psmisc util-linux bsdutils coreutils findutils
        # /etc/protocols and /etc/services: without them swaks cannot connect
        # (a minimal Debian lacks them)
        netbase
)
TEST_PKGS=(
        clang libcmocka-dev
        # end-to-end lab: a real Postfix
        postfix
        # crafted packets (scapy), an MTA behind DNAT (aiosmtpd), conntrack -F
        python3-scapy conntrack
        # load and DNS fixtures; promtool checks the metrics file; systemd-analyze
        netsniff-ng hping3 dnsmasq-base prometheus systemd logrotate
        # peak memory (report_memory.sh)
        time
        # packaging (make deb), the systemd container and first-run tests
        debhelper dpkg-dev fakeroot debootstrap systemd-container git
        # fleet (issue 16): rsyslog forwarding, node_exporter, man pages, lintian, completion
        rsyslog rsyslog-relp prometheus-node-exporter curl scdoc man-db groff-base lintian bash-completion
)
case $SET in
build) PKGS=("${BUILD_PKGS[@]}") ;;
demo) PKGS=("${BUILD_PKGS[@]}" "${DEMO_PKGS[@]}") ;;
test) PKGS=("${BUILD_PKGS[@]}" "${DEMO_PKGS[@]}" "${TEST_PKGS[@]}") ;;
*)
        echo "usage: tests/deps.sh [build|demo|test]" >&2
        exit 2
        ;;
esac

# One dpkg-query for all of them; packages it does not know print nothing.
installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${PKGS[@]}" 2>/dev/null |
        awk '$1 ~ /^ii/ { print $2 }' || true)
missing=()
for p in "${PKGS[@]}"; do
        grep -qx "$p" <<<"$installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
        echo "deps ($SET): all ${#PKGS[@]} packages installed"
        exit 0
fi

echo "deps ($SET): installing ${missing[*]}"
SUDO=
if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
                SUDO=sudo
        else
                echo "deps: missing packages (${missing[*]}) and not root" >&2
                exit 1
        fi
fi
# Postfix asks debconf questions; answer them for a local-only install.
if printf '%s\n' "${missing[@]}" | grep -qx postfix; then
        printf '%s\n' "postfix postfix/main_mailer_type select Local only" \
                "postfix postfix/mailname string localhost" | $SUDO debconf-set-selections
fi
$SUDO apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
