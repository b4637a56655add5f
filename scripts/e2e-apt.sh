#!/usr/bin/env bash
# System packages the end-to-end test needs (Debian): Chromium for Playwright, ripgrep for
# code-server's search, and the headers code-server's native modules build against.
# Skips apt when everything is already installed, so CI reruns cost nothing.
set -euo pipefail
pkgs=(chromium ripgrep libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "e2e-apt: all packages present"
  exit 0
fi
echo "e2e-apt: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=900 update -qq
$SUDO apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${missing[@]}"
