#!/usr/bin/env bash
# Installs jemalloc, which `npm run bench` preloads into Fluentd as the aggregator pod does: Debian's
# libjemalloc2. Idempotent: with the library present it only says where it is.
set -euo pipefail

for f in /usr/lib/libjemalloc.so.2 /usr/lib/x86_64-linux-gnu/libjemalloc.so.2; do
  if [ -e "$f" ]; then
    echo "setup-jemalloc: $f"
    exit 0
  fi
done
echo "setup-jemalloc: installing Debian's libjemalloc2 (the bench preloads it into Fluentd, as the pod does)"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends libjemalloc2
dpkg -L libjemalloc2 | grep 'libjemalloc.so.2$'
