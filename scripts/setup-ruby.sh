#!/usr/bin/env bash
# Installs the Ruby tools that the integration tests run (Fluentd and its Elasticsearch output,
# pinned in Gemfile/Gemfile.lock) into vendor/bundle of this project.
#
# Idempotent: when the bundle is already complete it only checks and prints the Fluentd version.
# On a new Debian machine it first installs what native gem extensions need to build
# (Ruby headers, a C toolchain), if missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export BUNDLE_GEMFILE="$ROOT/Gemfile"

# Debian packages for building native extensions (msgpack, cool.io, yajl-ruby, strptime,
# http_parser.rb, json): ruby-dev for the headers, build-essential for gcc/make.
need_pkgs=()
for pkg in ruby ruby-dev build-essential; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    need_pkgs+=("$pkg")
  fi
done
if ! command -v bundle >/dev/null 2>&1; then
  need_pkgs+=(bundler)
fi
if ((${#need_pkgs[@]} > 0)); then
  echo "setup-ruby: installing Debian packages: ${need_pkgs[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${need_pkgs[@]}"
fi

# Project-local settings (.bundle/config, git-ignored): install into vendor/bundle, exactly as
# locked (deployment mode refuses a Gemfile that disagrees with Gemfile.lock).
bundle config set --local path vendor/bundle
bundle config set --local deployment true

if bundle check >/dev/null 2>&1; then
  echo "setup-ruby: bundle already complete in vendor/bundle"
else
  echo "setup-ruby: installing gems into vendor/bundle"
  bundle install --jobs 2 --retry 3
fi

bundle exec fluentd --version
