#!/usr/bin/env bash
# Install Lawroom into .venv; with --test, also everything the tests need (Debian packages too).
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

if ((want_test)); then
  # chromium: the page tests; iproute2: loopback in the tests' network namespace.
  # Fonts: without them the screenshots show boxes for Chinese and Mongolian.
  apt_install chromium iproute2 fonts-noto-cjk fonts-noto-core postgresql redis-server
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if ((want_test)); then
  .venv/bin/python -m pip install -q -e '.[test]'
else
  .venv/bin/python -m pip install -q -e .
fi
