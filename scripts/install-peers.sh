#!/usr/bin/env bash
# Installs the Debian packages the interop tests and benchmarks start as real peers
# (see ARCHITECTURE.md, "Interop"). Idempotent; needs root. Safe to run on a fresh Debian 12.
set -euo pipefail
pkgs=(openvpn wireguard-go wireguard-tools iperf3 curl openssl iproute2 dnsmasq-base python3 gcc libc6-dev iputils-ping squid)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-peers: all packages present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-peers: not root; cannot install ${missing[*]} (interop tests will skip locally)" >&2
  exit 0
fi
echo "install-peers: installing ${missing[*]}"
apt-get update -q
echo 'iperf3 iperf3/start_daemon boolean false' | debconf-set-selections
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
