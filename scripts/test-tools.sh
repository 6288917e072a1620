#!/usr/bin/env bash
# Checks for the command-line tools the tests use as oracles and clients, and installs the missing
# ones when this run may (root with apt-get); otherwise stops with one line naming the packages.
# Sourced by scripts/test.sh and .ci/run.  PCAPLINE_NO_INSTALL=1 forbids installing.
set -euo pipefail

# tool → Debian package
declare -A PACKAGE_OF=(
  [tshark]=tshark [capinfos]=tshark [tcpdump]=tcpdump [kcat]=kcat [curl]=curl [flock]=util-linux
  [chromium]=chromium # the pcap-server page's browser test (driven by playwright-core)
)

ensure_test_tools() {
  local missing=() tool
  for tool in tshark capinfos tcpdump kcat curl flock chromium; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("${PACKAGE_OF[$tool]}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local packages
  packages=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  packages=${packages% }
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ -z "${PCAPLINE_NO_INSTALL:-}" ]; then
    echo "== installing test tools with apt-get: $packages"
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture; answer once, non-interactively.
    echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections 2>/dev/null || true
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $packages >/dev/null
    echo "== installed: $packages"
  else
    echo "missing test tools; install the Debian packages: $packages (e.g. sudo apt-get install $packages)" >&2
    exit 2
  fi
}
