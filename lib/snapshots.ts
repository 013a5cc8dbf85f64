/**
 * Snapshots of the central's Elasticsearch: one repository in an object store (S3 or S3-compatible, Google
 * Cloud Storage or Azure Blob Storage, all bundled as modules in Elasticsearch 8) and one snapshot lifecycle
 * (SLM) policy. The repository's credentials live in a Kubernetes Secret that the operator creates; the
 * chart's `keystore` init container turns its keys into Elasticsearch keystore entries on every node, so they
 * never appear in Helm values, ConfigMaps or the stack's state.
 */

/** What `snapshotType` may be; `none` keeps snapshots off. */
export const SNAPSHOT_TYPES = ["none", "s3", "gcs", "azure"] as const;
export type SnapshotType = Exclude<(typeof SNAPSHOT_TYPES)[number], "none">;

/** `snapshotIntervalHours`: the divisors of 24, so that every gap between two snapshots is the same. */
export const SNAPSHOT_INTERVALS = [1, 2, 3, 4, 6, 8, 12, 24] as const;

/** The repository's and the policy's names in Elasticsearch. */
export const SNAPSHOT_REPOSITORY = "efk-snapshots";
export const SLM_POLICY = "efk-snapshots";

/**
 * The repository client whose settings (`<type>.client.efk.*`) the keystore and elasticsearch.yml hold. A
 * client of our own, rather than `default`, so that nothing else on the nodes picks up these credentials.
 */
export const SNAPSHOT_CLIENT = "efk";

/**
 * Keys the operator's Secret must hold, per type, and the keystore setting each becomes. The secure settings
 * are Elasticsearch's (8.x docs, "S3 repository" client settings `access_key`/`secret_key`, "Google Cloud
 * Storage repository" `credentials_file`, "Azure repository" `account`/`key`). The chart's keystore init
 * container (elasticsearch 8.5.1 templates/statefulset.yaml) runs `elasticsearch-keystore add-file "$key"
 * "$i"` for every file `/tmp/keystoreSecrets/<secretName>/*`, with `key=$(basename $i)`: a Secret volume's
 * `items[].path` is that file name, so it is the keystore setting.
 */
export const SNAPSHOT_SECRET_KEYS: Record<SnapshotType, Record<string, string>> = {
  s3: {
    "access-key": `s3.client.${SNAPSHOT_CLIENT}.access_key`,
    "secret-key": `s3.client.${SNAPSHOT_CLIENT}.secret_key`,
  },
  gcs: { "credentials.json": `gcs.client.${SNAPSHOT_CLIENT}.credentials_file` },
  azure: {
    account: `azure.client.${SNAPSHOT_CLIENT}.account`,
    key: `azure.client.${SNAPSHOT_CLIENT}.key`,
  },
};

/** The repository and its schedule, as the stack configures them (snapshots on). */
export interface SnapshotSettings {
  type: SnapshotType;
  /** Bucket (S3, GCS) or container (Azure). */
  bucket: string;
  /** Path inside the bucket; "" for its root. */
  basePath: string;
  /** The operator's Secret in the stack's namespace, with the keys of `SNAPSHOT_SECRET_KEYS[type]`. */
  credentialsSecret: string;
  /** S3-compatible store (MinIO, Ceph...): its https URL; "" for AWS S3. */
  s3Endpoint: string;
  /** Hours between two snapshots, a divisor of 24. */
  intervalHours: number;
  /** Days a snapshot is kept (SLM retention `expire_after`). */
  retentionDays: number;
}

/**
 * The chart's `keystore` value: the operator's Secret, its keys mapped to keystore settings. Every node group
 * gets it: a repository is verified on every master and data node (`PUT _snapshot` with `verify`, the
 * default), and data nodes write shard data to the store.
 */
export function snapshotKeystore(s: SnapshotSettings): Record<string, unknown>[] {
  return [
    {
      secretName: s.credentialsSecret,
      items: Object.entries(SNAPSHOT_SECRET_KEYS[s.type]).map(([key, path]) => ({ key, path })),
    },
  ];
}

/**
 * elasticsearch.yml settings of the repository client: for an S3-compatible store, its endpoint (host and
 * port), protocol and path-style access (most S3-compatible stores have no per-bucket DNS names). These are
 * node settings, not repository settings: the S3 module reads `s3.client.<name>.endpoint` from the node's
 * configuration (8.x docs, "S3 repository", Client settings).
 */
export function snapshotNodeSettings(s: SnapshotSettings | undefined): Record<string, string | boolean> {
  if (!s || s.type !== "s3" || s.s3Endpoint === "") return {};
  const url = new URL(s.s3Endpoint);
  const client = `s3.client.${SNAPSHOT_CLIENT}`;
  return {
    [`${client}.endpoint`]: url.host,
    [`${client}.protocol`]: url.protocol.replace(/:$/, ""),
    [`${client}.path_style_access`]: true,
  };
}

/** `PUT _snapshot/<repository>`'s body. Azure calls the bucket a container. */
export function repositoryBody(s: SnapshotSettings): Record<string, unknown> {
  return {
    type: s.type,
    settings: {
      [s.type === "azure" ? "container" : "bucket"]: s.bucket,
      ...(s.basePath ? { base_path: s.basePath } : {}),
      client: SNAPSHOT_CLIENT,
    },
  };
}

/**
 * SLM's cron (Elasticsearch's Quartz-like `sec min hour day month weekday`): at 30 minutes past every
 * `intervalHours`-th hour from midnight UTC. A divisor of 24 keeps every gap equal, across midnight too.
 */
export function slmSchedule(intervalHours: number): string {
  if (!(SNAPSHOT_INTERVALS as readonly number[]).includes(intervalHours)) {
    throw new Error(
      `snapshot interval must be one of ${SNAPSHOT_INTERVALS.join(", ")} hours, got ${intervalHours}`,
    );
  }
  return intervalHours === 24 ? "0 30 0 * * ?" : `0 30 0/${intervalHours} * * ?`;
}

/** Successful snapshots SLM keeps even when they are older than the retention (a store that stopped working). */
export const SLM_MIN_COUNT = 3;
/**
 * Snapshots beyond those the schedule makes within the retention (the setup Job's first one, manual runs)
 * that `max_count` allows before it deletes unexpired snapshots: it bounds the repository, never the retention.
 */
export const SLM_EXTRA_COUNT = 10;

/**
 * `PUT _slm/policy/<policy>`'s body. `indices` covers our data streams (a snapshot of a data stream holds
 * its backing indices); `include_global_state` keeps the index templates, ILM and SLM policies; the
 * `kibana` and `security` feature states keep Kibana's saved objects and the native realm (users, the
 * `elastic` password, service tokens made by API). Request shape: x-pack core
 * `SnapshotLifecyclePolicy` (`schedule`, `name`, `repository`, `config`, `retention`) and
 * `SnapshotRetentionConfiguration` (`expire_after`, `min_count`, `max_count`).
 */
export function slmPolicyBody(s: SnapshotSettings, dataStreamPrefix: string): Record<string, unknown> {
  return {
    schedule: slmSchedule(s.intervalHours),
    // Date math, resolved by SLM; it appends a random suffix to make every name unique.
    name: "<efk-snap-{now/d}>",
    repository: SNAPSHOT_REPOSITORY,
    config: {
      indices: [`${dataStreamPrefix}-*`],
      include_global_state: true,
      feature_states: ["kibana", "security"],
    },
    retention: {
      expire_after: `${s.retentionDays}d`,
      min_count: SLM_MIN_COUNT,
      max_count: Math.ceil((s.retentionDays * 24) / s.intervalHours) + SLM_EXTRA_COUNT,
    },
  };
}

/**
 * The most a healthy schedule lets the latest successful snapshot age: its interval, plus 2 hours. The
 * exporter reports the latest successful snapshot's start time, and only once it has completed, so the
 * interval alone would fire during every snapshot's upload; 2 hours covers the upload of a day's logs.
 */
export function snapshotMaxAgeHours(intervalHours: number): number {
  return intervalHours + 2;
}
