#!/bin/sh
# The index-setup Job of efk-pulumi: installs in Elasticsearch, as `elastic`, the ILM policy and the index
# templates of the data streams and, when snapshots are configured, the snapshot repository and the SLM
# policy. Every request leaves the same state when repeated, so the Job may run any number of times.
#
# Environment (lib/render/esSetup.ts ES_SETUP_ENV names each one; the Job's pod sets them):
#   ES_URL, CA_FILE, ELASTIC_PASSWORD, SETUP_DIR (the folder of the JSON files below)
#   ILM_POLICY, INDEX_TEMPLATE, SHARED_TEMPLATE: names; ILM_POLICY_FILE, INDEX_TEMPLATE_FILE,
#   SHARED_TEMPLATE_FILE: their bodies
#   SLM_POLICY, SNAPSHOT_REPOSITORY: names; SLM_POLICY_FILE, SNAPSHOT_REPOSITORY_FILE: their bodies, set only
#   when snapshots are on (without them the SLM policy is removed, so nothing snapshots with credentials gone)
#   SETUP_TRIES (default 10), SETUP_RETRY_DELAY (seconds, default 5): while Elasticsearch does not answer
# The password reaches curl through a netrc file, never its command line.
set -eu
umask 077

: "${ES_URL:?}" "${CA_FILE:?}" "${ELASTIC_PASSWORD:?}" "${SETUP_DIR:?}"
: "${ILM_POLICY:?}" "${ILM_POLICY_FILE:?}" "${INDEX_TEMPLATE:?}" "${INDEX_TEMPLATE_FILE:?}"
: "${SHARED_TEMPLATE:?}" "${SHARED_TEMPLATE_FILE:?}" "${SLM_POLICY:?}" "${SNAPSHOT_REPOSITORY:?}"
tries="${SETUP_TRIES:-10}"
delay="${SETUP_RETRY_DELAY:-5}"

netrc="$(mktemp)"
out="$(mktemp)"
trap 'rm -f "$netrc" "$out"' EXIT
host="$(printf '%s' "$ES_URL" | sed -e 's#^https://##' -e 's#[:/].*$##')"
printf 'machine %s login elastic password %s\n' "$host" "$ELASTIC_PASSWORD" >"$netrc"

# request METHOD PATH [FILE]: sends FILE (in SETUP_DIR) as the JSON body; leaves the status in $code and
# the answer in $out. Retries only what says "not yet" (no connection, 429, 502-504); anything else,
# notably a 500 repository_verification_exception, is Elasticsearch's final answer.
request() {
  method="$1"
  path="$2"
  if [ -n "${3:-}" ]; then
    set -- --data-binary "@$SETUP_DIR/$3"
  else
    set --
  fi
  attempt=1
  while :; do
    code="$(curl -sS -o "$out" -w '%{http_code}' --cacert "$CA_FILE" --netrc-file "$netrc" \
      -X "$method" -H 'Content-Type: application/json' "$@" "$ES_URL$path")" || code=000
    case "$code" in
      000 | 429 | 502 | 503 | 504)
        if [ "$attempt" -lt "$tries" ]; then
          attempt=$((attempt + 1))
          sleep "$delay"
          continue
        fi
        ;;
    esac
    break
  done
  echo "$method $path: HTTP $code $(cat "$out")"
}

# fail: Elasticsearch's answer on stderr too (the Job's log shows both), then a non-zero exit.
fail() {
  echo "es-setup: $method $path failed: HTTP $code: $(cat "$out")" >&2
  exit 1
}

# put PATH FILE: must succeed.
put() {
  request PUT "$1" "$2"
  case "$code" in 2??) ;; *) fail ;; esac
}

put "/_ilm/policy/$ILM_POLICY" "$ILM_POLICY_FILE"
put "/_index_template/$INDEX_TEMPLATE" "$INDEX_TEMPLATE_FILE"
put "/_index_template/$SHARED_TEMPLATE" "$SHARED_TEMPLATE_FILE"

if [ -n "${SNAPSHOT_REPOSITORY_FILE:-}" ]; then
  : "${SLM_POLICY_FILE:?SLM_POLICY_FILE goes with SNAPSHOT_REPOSITORY_FILE}"
  # A PUT registers the repository first and verifies it on every master and data node only when its
  # settings changed (RepositoriesService#registerRepository: `isAcknowledged() && changed`): a failed
  # verification leaves it registered, and the Job's next attempt would pass unverified. So _verify,
  # which checks every node each time: a wrong credential or bucket fails here, with the store's reason,
  # before a policy is installed that would fail at every run.
  put "/_snapshot/$SNAPSHOT_REPOSITORY" "$SNAPSHOT_REPOSITORY_FILE"
  request POST "/_snapshot/$SNAPSHOT_REPOSITORY/_verify"
  case "$code" in 2??) ;; *) fail ;; esac
  put "/_slm/policy/$SLM_POLICY" "$SLM_POLICY_FILE"
  # A first snapshot now, unless the policy has succeeded before: it proves the whole path at deploy time
  # and gives the snapshot-age alert its first point. A repeated run takes none.
  request GET "/_slm/policy/$SLM_POLICY"
  case "$code" in 2??) ;; *) fail ;; esac
  if ! grep -q '"last_success"' "$out"; then
    request POST "/_slm/policy/$SLM_POLICY/_execute"
    case "$code" in 2??) ;; *) fail ;; esac
  fi
else
  # Snapshots off: a policy left from before would fail at every run once its credentials are gone.
  request DELETE "/_slm/policy/$SLM_POLICY"
  case "$code" in 2?? | 404) ;; *) fail ;; esac
fi
