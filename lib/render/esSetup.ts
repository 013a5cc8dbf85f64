/**
 * What the index-setup Job installs in Elasticsearch before Fluentd writes: the ILM policy and the index
 * templates of our data streams, and with snapshots configured, the repository and the SLM policy.
 * Installing them as `elastic`, once, is what lets Fluentd's user hold nothing but the right to add
 * documents to `<prefix>-*` data streams.
 */

import * as fs from "node:fs";
import * as path from "node:path";
import { dataStreamName, indexReplicas, SHARED_STREAM } from "../capacity";
import { RECORD_FIELDS } from "../records";
import {
  repositoryBody,
  SLM_POLICY,
  slmPolicyBody,
  SNAPSHOT_REPOSITORY,
  type SnapshotSettings,
} from "../snapshots";

export const SETUP_FILES = {
  policy: "ilm-policy.json",
  template: "index-template.json",
  sharedTemplate: "index-template-shared.json",
  repository: "snapshot-repository.json",
  slmPolicy: "slm-policy.json",
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
 * The Job's script, a shell file of its own (`scripts/es-setup.sh`, checked by shellcheck): it PUTs each body
 * of the ConfigMap as `elastic`, verifying Elasticsearch's certificate. Everything it needs comes from the
 * environment, under the names of `ES_SETUP_ENV`.
 */
export const SETUP_SCRIPT = fs.readFileSync(path.join(__dirname, "scripts", "es-setup.sh"), "utf8");

/**
 * The environment the script reads, by role: the one definition the Job's pod spec and the tests use. The
 * URL, CA file, setup folder and password depend on where it runs; `esSetupEnv` gives the rest.
 */
export const ES_SETUP_ENV = {
  url: "ES_URL",
  caFile: "CA_FILE",
  password: "ELASTIC_PASSWORD",
  dir: "SETUP_DIR",
  ilmPolicy: "ILM_POLICY",
  ilmPolicyFile: "ILM_POLICY_FILE",
  template: "INDEX_TEMPLATE",
  templateFile: "INDEX_TEMPLATE_FILE",
  sharedTemplate: "SHARED_TEMPLATE",
  sharedTemplateFile: "SHARED_TEMPLATE_FILE",
  slmPolicy: "SLM_POLICY",
  slmPolicyFile: "SLM_POLICY_FILE",
  repository: "SNAPSHOT_REPOSITORY",
  repositoryFile: "SNAPSHOT_REPOSITORY_FILE",
  /** Not set by the pod (the script's defaults, 10 and 5 seconds, hold there): tests shorten the waits. */
  tries: "SETUP_TRIES",
  retryDelay: "SETUP_RETRY_DELAY",
} as const;

/**
 * The names and file names the script installs, as environment: the same wherever it runs. The snapshot
 * files only when snapshots are on; the policy's name always (without snapshots, the script removes it).
 */
export function esSetupEnv(prefix: string, snapshots: boolean): Record<string, string> {
  const e = ES_SETUP_ENV;
  return {
    [e.ilmPolicy]: ilmPolicyName(prefix),
    [e.ilmPolicyFile]: SETUP_FILES.policy,
    [e.template]: indexTemplateName(prefix),
    [e.templateFile]: SETUP_FILES.template,
    [e.sharedTemplate]: sharedTemplateName(prefix),
    [e.sharedTemplateFile]: SETUP_FILES.sharedTemplate,
    [e.slmPolicy]: SLM_POLICY,
    [e.repository]: SNAPSHOT_REPOSITORY,
    ...(snapshots ? { [e.repositoryFile]: SETUP_FILES.repository, [e.slmPolicyFile]: SETUP_FILES.slmPolicy } : {}),
  };
}

/**
 * The files of the Job's ConfigMap: no secret among them (the repository's credentials are in the nodes'
 * keystore; its body names only the bucket, the path and the client).
 */
export function setupFiles(
  prefix: string,
  retentionDays: number,
  replicas: number,
  snapshots?: SnapshotSettings,
): Record<string, string> {
  return {
    [SETUP_FILES.policy]: JSON.stringify(ilmPolicy(retentionDays), null, 2),
    [SETUP_FILES.template]: JSON.stringify(indexTemplate(prefix, replicas), null, 2),
    [SETUP_FILES.sharedTemplate]: JSON.stringify(sharedIndexTemplate(prefix, replicas), null, 2),
    ...(snapshots
      ? {
          [SETUP_FILES.repository]: JSON.stringify(repositoryBody(snapshots), null, 2),
          [SETUP_FILES.slmPolicy]: JSON.stringify(slmPolicyBody(snapshots, prefix), null, 2),
        }
      : {}),
    [SETUP_FILES.script]: SETUP_SCRIPT,
  };
}
