#!/usr/bin/env bash
# Installs jq, which the workflow tests run the drift workflow's own jq programs with: Debian's `jq`
# package (jq 1.6 on Debian 12; the GitHub runners have jq 1.7). Idempotent: with jq on the PATH (or
# JQ_BIN set) it only prints the version.
set -euo pipefail

if [ -n "${JQ_BIN:-}" ]; then
  "$JQ_BIN" --version
  exit 0
fi
if ! command -v jq >/dev/null 2>&1; then
  echo "setup-jq: installing Debian's jq package"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends jq
fi
jq --version
