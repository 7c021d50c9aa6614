#!/usr/bin/env bash
# tests/deps.sh: install every Debian package the build and the tests need.
# Idempotent: when everything is installed it touches neither apt nor the
# network; otherwise one `apt-get update` and one install.
set -euo pipefail

PKGS=(
        # build
        build-essential pkg-config clang
        libmnl-dev libnftnl-dev libnetfilter-queue-dev libcap-dev zlib1g-dev
        libcmocka-dev libsodium-dev
        # end-to-end lab
        nftables iproute2 postfix swaks libio-socket-inet6-perl python3 procps psmisc util-linux
        bsdutils coreutils findutils
        # crafted packets (scapy), an MTA behind DNAT (aiosmtpd), conntrack -F
        python3-scapy python3-aiosmtpd conntrack
        # load and DNS fixtures; promtool checks the metrics file; systemd-analyze
        netsniff-ng hping3 dnsmasq-base prometheus systemd logrotate
        # crafted sources (fold_net.sh); peak memory (report_memory.sh)
        python3-scapy time
        # packaging (make deb) and the systemd container test
        debhelper dpkg-dev fakeroot debootstrap systemd-container
        # fleet (issue 16): rsyslog forwarding, node_exporter, man pages, lintian, completion
        rsyslog rsyslog-relp prometheus-node-exporter curl scdoc man-db groff-base lintian bash-completion
)

# One dpkg-query for all of them; packages it does not know print nothing.
installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${PKGS[@]}" 2>/dev/null |
        awk '$1 ~ /^ii/ { print $2 }' || true)
missing=()
for p in "${PKGS[@]}"; do
        grep -qx "$p" <<<"$installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
        echo "deps: all ${#PKGS[@]} packages installed"
        exit 0
fi

echo "deps: installing ${missing[*]}"
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
