#!/usr/bin/env bash
# Runs shellcheck on every shell script the project ships: the tracked *.sh files (the scripts here, the
# index-setup Job's script under lib/render/scripts) and .ci/run. Each is checked as the shell its `#!`
# line names (`sh` is checked as POSIX sh: the Elasticsearch image runs the Job's script with dash).
set -euo pipefail
cd "$(dirname "$0")/.."

shellcheck="${SHELLCHECK_BIN:-shellcheck}"
files=()
while IFS= read -r f; do files+=("$f"); done < <(
  { git ls-files -co --exclude-standard -- '*.sh' 2>/dev/null || find . -name '*.sh' -not -path './node_modules/*' -not -path './vendor/*'; echo .ci/run; } | sort -u
)
if [ "${#files[@]}" -eq 0 ]; then
  echo "check-shell: no shell scripts found" >&2
  exit 1
fi
"$shellcheck" --external-sources "${files[@]}"
echo "check-shell: ${#files[@]} scripts pass shellcheck: ${files[*]}"
