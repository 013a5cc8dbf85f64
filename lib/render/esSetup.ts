/**
 * What the index-setup Job installs in Elasticsearch before Fluentd writes: the ILM policy and the one
 * index template of our data streams. Installing them as `elastic`, once, is what lets Fluentd's user hold
 * nothing but the right to add documents to `<prefix>-*` data streams.
 */

import { dataStreamName, indexReplicas, SHARED_STREAM } from "../capacity";
import { RECORD_FIELDS } from "../records";

export const SETUP_FILES = {
  policy: "ilm-policy.json",
  template: "index-template.json",
  sharedTemplate: "index-template-shared.json",
  script: "setup.sh",
} as const;

export function ilmPolicyName(prefix: string): string {
  return `${prefix}-retention`;
}

export function indexTemplateName(prefix: string): string {
  return prefix;
}

/** The shared stream's own template: the same as the others' but for its primaries. */
export function sharedTemplateName(prefix: string): string {
  return dataStreamName(prefix, SHARED_STREAM);
}

/**
 * Roll over daily or at 50 GB per primary shard; delete `retentionDays` after rollover.
 */
export function ilmPolicy(retentionDays: number): Record<string, unknown> {
  return {
    policy: {
      phases: {
        hot: { actions: { rollover: { max_age: "1d", max_primary_shard_size: "50gb" } } },
        delete: { min_age: `${retentionDays}d`, actions: { delete: {} } },
      },
    },
  };
}

/**
 * One composable template for every cluster's data stream. Priority 200 beats the built-in `logs`
 * template (100) should a name ever match both. Labels, annotations and applications' merged JSON are
 * `flattened`: one field each, so differently typed keys from different applications (`app` as text
 * here, `app.kubernetes.io/name` as an object there) cannot make Elasticsearch reject documents.
 */
export function indexTemplate(prefix: string, replicas: number): Record<string, unknown> {
  return {
    index_patterns: [`${prefix}-*`],
    data_stream: {},
    priority: 200,
    template: {
      settings: {
        "index.lifecycle.name": ilmPolicyName(prefix),
        // A lone node cannot hold a replica; with more, one replica survives a node's loss.
        "index.number_of_replicas": indexReplicas(replicas),
      },
      mappings: {
        properties: {
          "@timestamp": { type: "date" },
          [RECORD_FIELDS.cluster]: { type: "keyword" },
          [RECORD_FIELDS.id]: { type: "keyword" },
          [RECORD_FIELDS.log]: { type: "text" },
          [RECORD_FIELDS.logProcessed]: { type: "flattened" },
          [RECORD_FIELDS.file]: { type: "keyword" },
          [RECORD_FIELDS.offset]: { type: "long" },
          kubernetes: {
            properties: {
              labels: { type: "flattened" },
              annotations: { type: "flattened" },
            },
          },
        },
      },
    },
    _meta: { managed_by: "efk-pulumi" },
  };
}

/**
 * The shared stream's template: every cluster writes there, so its indices have a primary on every data
 * node (each node indexes), and a higher priority than the template of the per-cluster streams (an index
 * takes the one template of highest priority that matches; nothing is merged).
 */
export function sharedIndexTemplate(prefix: string, dataNodes: number): Record<string, unknown> {
  const base = indexTemplate(prefix, dataNodes) as { template: { settings: Record<string, unknown> } };
  return {
    ...base,
    index_patterns: [sharedTemplateName(prefix)],
    priority: 201,
    template: {
      ...base.template,
      settings: { ...base.template.settings, "index.number_of_shards": dataNodes },
    },
  };
}

/**
 * The Job's script: PUT the policy, then the template, as `elastic`, verifying Elasticsearch's certificate.
 * The password comes from the environment and reaches curl through a netrc file, not its command line.
 * Environment: ES_URL, CA_FILE, ELASTIC_PASSWORD, SETUP_DIR.
 */
export function setupScript(prefix: string): string {
  return `#!/bin/sh
# Installs the ILM policy and the index template of the ${prefix}-* data streams (efk-pulumi).
set -eu
umask 077
netrc="$(mktemp)"
trap 'rm -f "$netrc"' EXIT
host="$(printf '%s' "$ES_URL" | sed -e 's#^https://##' -e 's#[:/].*$##')"
printf 'machine %s login elastic password %s\\n' "$host" "$ELASTIC_PASSWORD" > "$netrc"

put() {
  out="$(mktemp)"
  code="$(curl -sS --retry 10 --retry-connrefused --retry-delay 5 -o "$out" -w '%{http_code}' \\
    --cacert "$CA_FILE" --netrc-file "$netrc" -X PUT -H 'Content-Type: application/json' \\
    --data-binary "@$SETUP_DIR/$2" "$ES_URL$1")"
  echo "PUT $1: HTTP $code $(cat "$out")"
  case "$code" in 2??) ;; *) exit 1 ;; esac
}

put "/_ilm/policy/${ilmPolicyName(prefix)}" ${SETUP_FILES.policy}
put "/_index_template/${indexTemplateName(prefix)}" ${SETUP_FILES.template}
put "/_index_template/${sharedTemplateName(prefix)}" ${SETUP_FILES.sharedTemplate}
`;
}

/** The files of the Job's ConfigMap: no secret among them. */
export function setupFiles(prefix: string, retentionDays: number, replicas: number): Record<string, string> {
  return {
    [SETUP_FILES.policy]: JSON.stringify(ilmPolicy(retentionDays), null, 2),
    [SETUP_FILES.template]: JSON.stringify(indexTemplate(prefix, replicas), null, 2),
    [SETUP_FILES.sharedTemplate]: JSON.stringify(sharedIndexTemplate(prefix, replicas), null, 2),
    [SETUP_FILES.script]: setupScript(prefix),
  };
}
