#!/usr/bin/env bash
# Run the tests. As root, in a network namespace that has only loopback, so no test can send
# media or anything else past this machine; elsewhere the tests force loopback addresses.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) -eq 0 ]] && unshare -n true 2>/dev/null && command -v ip >/dev/null; then
  exec unshare -n bash -c 'ip link set lo up && exec .venv/bin/python -m pytest "$@"' pytest "$@"
fi
exec .venv/bin/python -m pytest "$@"
