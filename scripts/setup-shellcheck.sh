#!/usr/bin/env bash
# Installs shellcheck, which checks every shell script the project ships (scripts/check-shell.sh): Debian's
# `shellcheck` package (0.9.0 on Debian 12). Idempotent: with shellcheck on the PATH (or SHELLCHECK_BIN
# set) it only prints the version.
set -euo pipefail

if [ -n "${SHELLCHECK_BIN:-}" ]; then
  "$SHELLCHECK_BIN" --version | sed -n 2p
  exit 0
fi
if ! command -v shellcheck >/dev/null 2>&1; then
  echo "setup-shellcheck: installing Debian's shellcheck package"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends shellcheck
fi
shellcheck --version | sed -n 2p
