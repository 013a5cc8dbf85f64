#!/usr/bin/env bash
# Installs promtool, which the alert tests run: Debian's `prometheus` package (promtool 2.42 on Debian 12).
# Idempotent: with promtool on the PATH (or PROMTOOL_BIN set) it only prints the version.
set -euo pipefail

if [ -n "${PROMTOOL_BIN:-}" ]; then
  "$PROMTOOL_BIN" --version | head -1
  exit 0
fi
if ! command -v promtool >/dev/null 2>&1; then
  echo "setup-promtool: installing Debian's prometheus package (for promtool)"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update
  # The package's server is not started: Debian's maintainer scripts start services only under systemd.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends prometheus
fi
promtool --version | head -1
