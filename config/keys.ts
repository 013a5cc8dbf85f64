import { z } from "zod";
import {
  cidr,
  clusterName,
  hostList,
  hours,
  httpsUrl,
  imageTag,
  ip,
  label,
  labelPair,
  positiveQuantity,
  STACK_NAME,
  stackVersionTag,
  storageClass,
  uniqueList,
} from "./rules";
import { ES_DEDICATED_MASTER_COUNTS, FLUENTD_SERVICE_TYPES, METRICS_STYLES } from "../lib/names";
import { quantityValue } from "../lib/quantity";
import { INDEX_LAYOUTS } from "../lib/capacity";
import { DEFAULT_STACK_VERSION, SUPPORTED_RANGE } from "../lib/stackVersion";
import { SNAPSHOT_INTERVALS, SNAPSHOT_TYPES } from "../lib/snapshots";
import { CA_ROTATION_STEPS } from "../lib/caRotation";

/**
 * The table of every stack configuration key: type, default, description, rule and the stacks it applies
 * to. `Pulumi.yaml` declares the same keys; a unit test keeps the two in agreement, and the README's
 * config reference is checked against it too.
 */

export const CONFIG_NAMESPACE = "efk";

export type KeyType = "string" | "integer" | "boolean" | "array";

export interface KeySpec {
  type: KeyType;
  description: string;
  /** Absent: the key is required (for the roles that use it). */
  default?: string | number | boolean | string[];
  /** Checks the value once it has the declared type. */
  schema: z.ZodType;
  /** The stacks the key applies to; setting it on another stack is refused. */
  roles: readonly Role[];
}

export type Role = "central" | "edge";
const BOTH: readonly Role[] = ["central", "edge"];
const CENTRAL: readonly Role[] = ["central"];
const EDGE: readonly Role[] = ["edge"];

/** Every config key of the project, in the order the README documents them. */
export const CONFIG_KEYS = {
  role: {
    type: "string",
    description: "Which part of the system this stack deploys: `central` or `edge`.",
    schema: z.enum(["central", "edge"], { error: "one of: central, edge" }),
    roles: BOTH,
  },
  clusterName: {
    type: "string",
    description:
      "This cluster's name: the `cluster` field on its records, its forward user and its data stream.",
    schema: clusterName,
    roles: BOTH,
  },
  namespace: {
    type: "string",
    description: "Kubernetes namespace for everything this stack deploys (created by the stack).",
    default: "logging",
    schema: label,
    roles: BOTH,
  },
  centralStack: {
    type: "string",
    description:
      "Edge only: the central stack to read the endpoint, CA and credentials from (`org/project/stack`).",
    // Declared with a default so that Pulumi does not demand it from central stacks; edges must set it.
    default: "",
    schema: z
      .string()
      .refine(
        (v) => v === "" || STACK_NAME.test(v),
        "a stack name: stack, project/stack or org/project/stack",
      ),
    roles: EDGE,
  },
  edgeClusters: {
    type: "array",
    description:
      "Central only: the edge clusters allowed to ship logs. Removing a name revokes that cluster.",
    default: [],
    schema: uniqueList(clusterName),
    roles: CENTRAL,
  },
  edgeStackName: {
    type: "string",
    description:
      "Central only: the stack of each edge cluster, which the central reads the edge's certificate request (and, with `clientCertAuth: false`, its password) from. `{cluster}` is the cluster's name; `{org}` and `{project}` are this stack's organization and project.",
    default: "{org}/{project}/{cluster}",
    schema: z
      .string()
      .refine(
        (v) => v.includes("{cluster}") && STACK_NAME.test(v.replace(/\{(cluster|org|project)\}/g, "x")),
        "a stack name (stack, project/stack or org/project/stack) with {cluster} in it, such as acme/efk/{cluster}",
      ),
    roles: CENTRAL,
  },
  elasticChartRepo: {
    type: "string",
    description: "Helm repository of the Elasticsearch and Kibana charts.",
    default: "https://helm.elastic.co",
    schema: httpsUrl,
    roles: CENTRAL,
  },
  fluentChartRepo: {
    type: "string",
    description: "Helm repository of the Fluentd and Fluent Bit charts.",
    default: "https://fluent.github.io/helm-charts",
    schema: httpsUrl,
    roles: BOTH,
  },
  helmTimeoutSeconds: {
    type: "integer",
    description:
      "How long each Helm release may take to become ready (a fresh 3-node Elasticsearch needs minutes), and the Kibana setup Job waits for Kibana.",
    default: 1200,
    schema: z.number().int().min(60, "at least 60 seconds").max(7200, "at most 7200 seconds"),
    roles: BOTH,
  },
  esImageTag: {
    type: "string",
    description: `Elasticsearch image tag: a release from ${SUPPORTED_RANGE}. A newer one upgrades the nodes one at a time (see Upgrading Elasticsearch and Kibana); Elasticsearch cannot go back to an older one.`,
    default: DEFAULT_STACK_VERSION,
    schema: stackVersionTag("Elasticsearch"),
    roles: CENTRAL,
  },
  esReplicas: {
    type: "integer",
    description:
      "Elasticsearch nodes, all master-eligible: an odd number, so a majority survives a partition. With `esDedicatedMasters`, the data nodes: any number from 1.",
    default: 3,
    // Whether it must be odd depends on esDedicatedMasters: config/index.ts checks the two together.
    schema: z
      .number()
      .int("an odd whole number")
      .min(
        1,
        "an odd number of master-eligible nodes (1, 3, 5, ...), or with efk:esDedicatedMasters at least 1 data node",
      ),
    roles: CENTRAL,
  },
  esDedicatedMasters: {
    type: "integer",
    description:
      "Dedicated Elasticsearch master nodes (3 or 5), a node group of their own beside the data nodes (`esReplicas`); 0 keeps one group of master-eligible data nodes. See Node groups.",
    default: 0,
    schema: z
      .number()
      .int("0, 3 or 5")
      .refine(
        (n) => (ES_DEDICATED_MASTER_COUNTS as readonly number[]).includes(n),
        "0 (every node master-eligible), 3 or 5 (a quorum that survives one or two lost masters)",
      ),
    roles: CENTRAL,
  },
  esAntiAffinity: {
    type: "string",
    description: "`hard` puts every Elasticsearch node on its own Kubernetes node; `soft` only prefers to.",
    default: "hard",
    schema: z.enum(["hard", "soft"], { error: "one of: hard, soft" }),
    roles: CENTRAL,
  },
  esSysctlInitContainer: {
    type: "boolean",
    description:
      "Set vm.max_map_count with the chart's privileged init container; false when the nodes already set it and the namespace refuses privileged pods.",
    default: true,
    schema: z.boolean(),
    roles: CENTRAL,
  },
  esStorageClass: {
    type: "string",
    description: "StorageClass of the Elasticsearch volumes; empty means the cluster's default.",
    default: "",
    schema: storageClass,
    roles: CENTRAL,
  },
  esStorageSize: {
    type: "string",
    description: "Size of each Elasticsearch (data) node's volume.",
    default: "30Gi",
    schema: positiveQuantity,
    roles: CENTRAL,
  },
  esCpu: {
    type: "string",
    description:
      "CPU request of each Elasticsearch (data) node (no CPU limit is set: limits throttle the JVM).",
    default: "1",
    schema: positiveQuantity,
    roles: CENTRAL,
  },
  esMemory: {
    type: "string",
    description: "Memory request and limit of each Elasticsearch (data) node; the JVM heap is sized from it.",
    default: "2Gi",
    schema: positiveQuantity,
    roles: CENTRAL,
  },
  esMasterCpu: {
    type: "string",
    description: "With `esDedicatedMasters`: CPU request of each master node (no CPU limit).",
    default: "500m",
    schema: positiveQuantity,
    roles: CENTRAL,
  },
  esMasterMemory: {
    type: "string",
    description:
      "With `esDedicatedMasters`: memory request and limit of each master node; its JVM heap, sized from it, holds the cluster state only.",
    default: "1Gi",
    schema: positiveQuantity,
    roles: CENTRAL,
  },
  esMasterStorageSize: {
    type: "string",
    description:
      "With `esDedicatedMasters`: size of each master node's volume (the cluster state, no shards).",
    default: "5Gi",
    schema: positiveQuantity,
    roles: CENTRAL,
  },
  kibanaImageTag: {
    type: "string",
    description: `Kibana image tag: a release from ${SUPPORTED_RANGE}, no newer than \`esImageTag\` (keep the two equal).`,
    default: DEFAULT_STACK_VERSION,
    schema: stackVersionTag("Kibana"),
    roles: CENTRAL,
  },
  kibanaHosts: {
    type: "array",
    description: "External DNS names Kibana is reached by (added to its certificate).",
    default: [],
    schema: hostList("becomes Kibana's server.publicBaseUrl"),
    roles: CENTRAL,
  },
  kibanaCpu: {
    type: "string",
    description: "CPU request of Kibana.",
    default: "500m",
    schema: positiveQuantity,
    roles: CENTRAL,
  },
  kibanaMemory: {
    type: "string",
    description: "Memory request and limit of Kibana.",
    default: "1Gi",
    schema: positiveQuantity,
    roles: CENTRAL,
  },
  caValidityHours: {
    type: "integer",
    description: "Validity of the generated certificate authority, in hours (default 10 years).",
    default: 87600,
    schema: hours,
    roles: CENTRAL,
  },
  certValidityHours: {
    type: "integer",
    description: "Validity of each service certificate, in hours (default 1 year).",
    default: 8760,
    schema: hours,
    roles: CENTRAL,
  },
  certRenewalHours: {
    type: "integer",
    description:
      "A `pulumi up` this many hours or fewer before a certificate expires replaces it (default 30 days).",
    default: 720,
    schema: hours,
    roles: CENTRAL,
  },
  caGeneration: {
    type: "integer",
    description:
      "The generation of the certificate authorities that sign every certificate when no rotation is under way (1: the first). Raised by one, with `caRotation: none`, in the last step of a rotation; see Rotating the certificate authority.",
    default: 1,
    schema: z.number().int("a whole number").min(1, "at least 1"),
    roles: CENTRAL,
  },
  caRotation: {
    type: "string",
    description:
      "How far a rotation to generation `caGeneration` + 1 has gone: `none`; `trust`, every trust bundle holds both generations; `issue`, the new generation signs every certificate too (refused until every edge trusts it). See Rotating the certificate authority.",
    default: "none",
    schema: z.enum(CA_ROTATION_STEPS, { error: `one of: ${CA_ROTATION_STEPS.join(", ")}` }),
    roles: CENTRAL,
  },
  fluentdImageTag: {
    type: "string",
    description: "Tag of the `fluent/fluentd-kubernetes-daemonset` image (an Elasticsearch 8 variant).",
    default: "v1.19.3-debian-elasticsearch8-1.1",
    schema: imageTag.refine((v) => v.includes("elasticsearch8"), "an elasticsearch8 variant tag"),
    roles: CENTRAL,
  },
  fluentdReplicas: {
    type: "integer",
    description: "Fluentd aggregator pods (a StatefulSet, each with its own buffer volume).",
    default: 3,
    schema: z.number().int("a whole number").min(1, "at least 1").max(50, "at most 50"),
    roles: CENTRAL,
  },
  fluentdCpu: {
    type: "string",
    description: "CPU request of each Fluentd pod.",
    default: "500m",
    schema: positiveQuantity,
    roles: CENTRAL,
  },
  fluentdWorkers: {
    type: "integer",
    description:
      "Fluentd worker processes per aggregator pod, each with its own buffer on the volume and its share of the buffer limit; 0: one per CPU of fluentdCpu, rounded up. Changing it hands the chunks of workers that no longer exist to worker 0 when the pod starts.",
    default: 0,
    schema: z.number().int("a whole number").min(0, "0 (one per CPU) to 16").max(16, "0 (one per CPU) to 16"),
    roles: CENTRAL,
  },
  fluentdMemory: {
    type: "string",
    description:
      "Memory request and limit of each Fluentd pod. `npm run bench`'s 600k-record burst peaked under 180 MiB with one worker and under 400 MiB with two (all processes); add 192Mi per worker beyond two.",
    default: "512Mi",
    schema: positiveQuantity,
    roles: CENTRAL,
  },
  fluentdStorageClass: {
    type: "string",
    description: "StorageClass of the Fluentd buffer volumes; empty means the cluster's default.",
    default: "",
    schema: storageClass,
    roles: CENTRAL,
  },
  fluentdStorageSize: {
    type: "string",
    description:
      "Size of each Fluentd pod's buffer volume; the file buffer may fill 80% of it, then input blocks.",
    default: "20Gi",
    schema: positiveQuantity.refine((v) => quantityValue(v) >= 2 ** 30, "at least 1Gi"),
    roles: CENTRAL,
  },
  fluentdServiceType: {
    type: "string",
    description:
      "How edge clusters reach Fluentd: `LoadBalancer`, `NodePort`, or `None` (no external Service).",
    default: "LoadBalancer",
    schema: z.enum(FLUENTD_SERVICE_TYPES, { error: `one of: ${FLUENTD_SERVICE_TYPES.join(", ")}` }),
    roles: CENTRAL,
  },
  fluentdNodePort: {
    type: "integer",
    description: "The node port of the external Service when `fluentdServiceType` is `NodePort`.",
    default: 30224,
    schema: z
      .number()
      .int()
      .min(30000, "a port from 30000 to 32767")
      .max(32767, "a port from 30000 to 32767"),
    roles: CENTRAL,
  },
  fluentdExternalHosts: {
    type: "array",
    description:
      "DNS names edges reach Fluentd by (in its certificate); the first is the endpoint edges use.",
    default: [],
    schema: hostList("is the host edges dial"),
    roles: CENTRAL,
  },
  fluentdExternalIps: {
    type: "array",
    description:
      "IP addresses edges reach Fluentd by (in its certificate); used as endpoint when no host is set.",
    default: [],
    schema: uniqueList(ip),
    roles: CENTRAL,
  },
  fluentdLoadBalancerSourceRanges: {
    type: "array",
    description:
      'CIDR ranges allowed to reach the external LoadBalancer Service (`loadBalancerSourceRanges`): the edges\' egress addresses. Required with `fluentdServiceType: LoadBalancer`; to allow anywhere, say so: `["0.0.0.0/0", "::/0"]`.',
    default: [],
    schema: uniqueList(cidr),
    roles: CENTRAL,
  },
  clientCertAuth: {
    type: "boolean",
    description:
      "Know every forwarder by its client certificate: the central signs the request for the key each edge keeps, and the aggregator refuses, in the TLS handshake, any client without a certificate of a registered cluster's key. `false` falls back to a shared key and a password per cluster (each edge makes its own), and every edge then holds the shared key.",
    default: true,
    schema: z.boolean(),
    roles: CENTRAL,
  },
  indexLayout: {
    type: "string",
    description:
      "How clusters' logs are laid out in Elasticsearch: `shared`, one data stream `efk-logs-shared` for every cluster (each record keeps its `cluster` field), whose shards do not grow with the number of clusters; or `per-cluster`, a stream `efk-logs-<cluster>` each, which costs every cluster about `(retentionDays + 2) x 2` shards and fits a few dozen clusters. `npm run capacity` shows what a configuration holds.",
    default: "shared",
    schema: z.enum(INDEX_LAYOUTS, { error: `one of: ${INDEX_LAYOUTS.join(", ")}` }),
    roles: CENTRAL,
  },
  dedicatedStreams: {
    type: "array",
    description:
      "With `indexLayout: shared`: clusters (the central one or edges) whose logs go to a stream of their own, `efk-logs-<cluster>`, for the loud ones. Each costs about `(retentionDays + 2) x 2` shards.",
    default: [],
    schema: uniqueList(clusterName),
    roles: CENTRAL,
  },
  retentionDays: {
    type: "integer",
    description: "Days a cluster's logs are kept in Elasticsearch before ILM deletes them.",
    default: 30,
    schema: z.number().int("a whole number of days").min(1, "at least 1 day").max(3650, "at most 3650 days"),
    roles: CENTRAL,
  },
  snapshotType: {
    type: "string",
    description:
      "Where Elasticsearch snapshots go: `s3` (AWS S3 or an S3-compatible store, see `snapshotS3Endpoint`), `gcs`, `azure`, or `none` (no snapshots). See Backups.",
    default: "none",
    schema: z.enum(SNAPSHOT_TYPES, { error: `one of: ${SNAPSHOT_TYPES.join(", ")}` }),
    roles: CENTRAL,
  },
  snapshotBucket: {
    type: "string",
    description:
      "With `snapshotType`: the bucket (S3, GCS) or container (Azure) the snapshots go to; it must exist.",
    default: "",
    schema: z
      .string()
      .refine(
        (v) => v === "" || /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/.test(v),
        "a bucket or container name: 3 to 63 lowercase letters, digits, dots, hyphens or underscores, starting and ending with a letter or digit",
      ),
    roles: CENTRAL,
  },
  snapshotBasePath: {
    type: "string",
    description:
      "With `snapshotType`: the path inside the bucket (empty: its root). Give each central stack its own path when they share a bucket.",
    default: "",
    schema: z
      .string()
      .refine(
        (v) => v === "" || /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(v),
        "a relative path of letters, digits, dots, hyphens and underscores, segments joined by /, without a leading or trailing /",
      ),
    roles: CENTRAL,
  },
  snapshotCredentialsSecret: {
    type: "string",
    description:
      "With `snapshotType`: the Secret, in `namespace`, that you create with the store's credentials (`access-key` and `secret-key` for s3, `credentials.json` for gcs, `account` and `key` for azure); they reach every Elasticsearch node's keystore, never values or ConfigMaps.",
    default: "",
    schema: z
      .string()
      .refine(
        (v) => v === "" || (v.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v)),
        "a Kubernetes Secret name (lowercase letters, digits and hyphens, up to 63)",
      ),
    roles: CENTRAL,
  },
  snapshotS3Endpoint: {
    type: "string",
    description:
      "With `snapshotType: s3`: the https URL of an S3-compatible store (MinIO, Ceph...), e.g. `https://minio.example.com:9000`, reached with path-style requests; empty for AWS S3.",
    default: "",
    schema: z
      .string()
      .refine(
        (v) => v === "" || /^https:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?\/?$/.test(v),
        "empty (AWS S3) or an https:// URL of a host and optional port, without a path",
      ),
    roles: CENTRAL,
  },
  snapshotIntervalHours: {
    type: "integer",
    description:
      "With `snapshotType`: hours between snapshots (at 30 minutes past the hour, from 00:30 UTC); the snapshot-age alert fires when the latest successful one is 2 hours older than this.",
    default: 24,
    schema: z
      .number()
      .int("a whole number of hours")
      .refine(
        (n) => (SNAPSHOT_INTERVALS as readonly number[]).includes(n),
        `one of ${SNAPSHOT_INTERVALS.join(", ")} (a divisor of 24, so that every gap is the same)`,
      ),
    roles: CENTRAL,
  },
  snapshotRetentionDays: {
    type: "integer",
    description:
      "With `snapshotType`: days a snapshot is kept before SLM deletes it (the 3 latest successful ones are always kept).",
    default: 30,
    schema: z.number().int("a whole number of days").min(1, "at least 1 day").max(3650, "at most 3650 days"),
    roles: CENTRAL,
  },
  fluentBitImageTag: {
    type: "string",
    description: "Fluent Bit image tag.",
    default: "5.1.1",
    schema: imageTag,
    roles: BOTH,
  },
  fluentBitCpu: {
    type: "string",
    description: "CPU request of each Fluent Bit pod.",
    default: "100m",
    schema: positiveQuantity,
    roles: BOTH,
  },
  fluentBitMemory: {
    type: "string",
    description: "Memory request and limit of each Fluent Bit pod.",
    default: "256Mi",
    schema: positiveQuantity,
    roles: BOTH,
  },
  fluentBitBufferSize: {
    type: "string",
    description:
      "Disk each node's Fluent Bit may use to buffer records while Fluentd is unreachable; when it is full the oldest records are dropped, logged and counted (`fluentbit_output_dropped_records_total`).",
    default: "2Gi",
    // Fluent Bit makes room by dropping whole chunks (up to 2 MB each) that are not being sent: with room
    // for only a few, it cannot, and discards new lines without counting them.
    schema: positiveQuantity.refine(
      (v) => quantityValue(v) >= 16 * 2 ** 20,
      "at least 16Mi (room for several of Fluent Bit's chunks of up to 2 MB)",
    ),
    roles: BOTH,
  },
  fluentBitBackfillHours: {
    type: "integer",
    description:
      "A new node agent reads each container's log files (the current and the last rotated one) from their start, except files not written to for this many hours (0: no limit). Also skips, after an agent outage longer than this, what went into files quiet since.",
    default: 24,
    schema: z
      .number()
      .int("a whole number of hours")
      .min(0, "0 (no limit) or more hours")
      .max(8760, "at most 8760 hours (a year)"),
    roles: BOTH,
  },
  fluentBitExcludeNamespaces: {
    type: "array",
    description: "Namespaces whose container logs are not read at all.",
    default: [],
    schema: uniqueList(label),
    roles: BOTH,
  },
  fluentBitExcludeContainers: {
    type: "array",
    description: "Container names whose logs are not read, in any namespace.",
    default: [],
    schema: uniqueList(label),
    roles: BOTH,
  },
  metrics: {
    type: "string",
    description:
      "How Prometheus finds the pipeline's metrics: `prometheus-operator` (ServiceMonitor objects; needs the Prometheus Operator's CRDs), `annotations` (`prometheus.io/*` pod annotations) or `none`.",
    default: "annotations",
    schema: z.enum(METRICS_STYLES, { error: `one of: ${METRICS_STYLES.join(", ")}` }),
    roles: BOTH,
  },
  prometheusRules: {
    type: "boolean",
    description:
      "Create PrometheusRule objects with the pipeline's alerts (needs `metrics: prometheus-operator`). `npm run render` writes the same rules to `prometheus/rules.yaml` either way.",
    default: false,
    schema: z.boolean(),
    roles: BOTH,
  },
  prometheusLabels: {
    type: "array",
    description:
      "Labels (`key=value`) on the ServiceMonitor and PrometheusRule objects, for the Prometheus that selects them (e.g. `release=kube-prometheus-stack`).",
    default: [],
    schema: uniqueList(labelPair),
    roles: BOTH,
  },
  prometheusChartRepo: {
    type: "string",
    description: "Helm repository of the Elasticsearch exporter chart (prometheus-community).",
    default: "https://prometheus-community.github.io/helm-charts",
    schema: httpsUrl,
    roles: CENTRAL,
  },
  grafanaDashboard: {
    type: "boolean",
    description:
      "Create the pipeline's Grafana dashboard as a ConfigMap labelled `grafana_dashboard: \"1\"`, which Grafana's dashboard sidecar loads.",
    default: true,
    schema: z.boolean(),
    roles: CENTRAL,
  },
  alertSilentClusterMinutes: {
    type: "integer",
    description:
      "Alert when a registered cluster has sent no record to the aggregator for this many minutes.",
    default: 15,
    schema: z
      .number()
      .int("a whole number of minutes")
      .min(5, "at least 5 minutes")
      .max(10080, "at most a week"),
    roles: CENTRAL,
  },
  alertBufferPercent: {
    type: "integer",
    description:
      "Alert when an aggregator's buffer, or a node agent's disk buffer, is fuller than this percentage of its limit.",
    default: 80,
    schema: z.number().int("a whole percentage").min(1, "1 to 99").max(99, "1 to 99"),
    roles: BOTH,
  },
  alertEsDiskPercent: {
    type: "integer",
    description:
      "Alert when an Elasticsearch node's data disk is fuller than this percentage (Elasticsearch stops allocating shards to it at 85%).",
    default: 80,
    schema: z.number().int("a whole percentage").min(1, "1 to 99").max(99, "1 to 99"),
    roles: CENTRAL,
  },
} satisfies Record<string, KeySpec>;

export type ConfigKey = keyof typeof CONFIG_KEYS;

/**
 * Keys earlier versions had, and why they are gone: a stack that still sets one is refused with the
 * reason, rather than the value being ignored.
 */
const PINNED_CHART =
  "the chart version is pinned with the values written for it (another version's values differ in shape); the README names the versions";
export const REMOVED_KEYS: Record<string, string> = {
  esChartVersion: PINNED_CHART,
  kibanaChartVersion: PINNED_CHART,
  fluentdChartVersion: PINNED_CHART,
  fluentBitChartVersion: PINNED_CHART,
};

/** Each key's schema, under its key: what `StackConfig` is derived from. */
function schemasOf<T extends Record<string, KeySpec>>(keys: T): { [K in keyof T]: T[K]["schema"] } {
  // Object.fromEntries forgets which schema belongs to which key; the mapped type restores it.
  return Object.fromEntries(Object.entries(keys).map(([k, spec]) => [k, spec.schema])) as {
    [K in keyof T]: T[K]["schema"];
  };
}

/** The whole configuration's schema: one field per key of the table, each with that key's rule. */
export const STACK_CONFIG_SCHEMA = z.object(schemasOf(CONFIG_KEYS));

/** Typed, validated configuration, one field per key of the table. Components never see raw config. */
export type StackConfig = z.output<typeof STACK_CONFIG_SCHEMA>;
