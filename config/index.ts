import * as pulumi from "@pulumi/pulumi";
import { capacity, MAX_SHARDS_PER_NODE, maxClusters, SAFE_SHARE } from "../lib/capacity";
import { kibanaAheadOfElasticsearch } from "../lib/stackVersion";
import {
  CONFIG_KEYS,
  CONFIG_NAMESPACE,
  REMOVED_KEYS,
  STACK_CONFIG_SCHEMA,
  type ConfigKey,
  type KeySpec,
  type Role,
  type StackConfig,
} from "./keys";

/**
 * Reads the stack configuration in one place: every key of the table in `./keys`, typed and checked,
 * with every problem reported at once.
 */

export {
  CONFIG_KEYS,
  CONFIG_NAMESPACE,
  type ConfigKey,
  type KeySpec,
  type KeyType,
  type Role,
  type StackConfig,
} from "./keys";

/** Where the `efk:*` values come from: the stack's Pulumi config (`stackConfigSource`), or a plain map in tests. */
export interface ConfigSource {
  /** The raw value of `key` (no `efk:` prefix), a string as `pulumi config` stores it. */
  get(key: string): string | undefined;
  /** Every key set in the `efk` namespace, without the prefix: keys the table does not know are refused. */
  keys(): string[];
}

/** The stack's `efk:*` configuration, as the Pulumi engine hands it to the program. */
export function stackConfigSource(): ConfigSource {
  const config = new pulumi.Config(CONFIG_NAMESPACE);
  const prefix = `${CONFIG_NAMESPACE}:`;
  return {
    get: (key) => config.get(key),
    // pulumi.Config cannot list its keys; the runtime's map holds every namespace, keyed "efk:key".
    keys: () =>
      Object.keys(pulumi.runtime.allConfig())
        .filter((k) => k.startsWith(prefix))
        .map((k) => k.slice(prefix.length)),
  };
}

/** Thrown for bad stack configuration; lists every problem, each naming the key, the value and what is allowed. */
// A RunError: Pulumi prints its message alone, without a stack trace.
export class ConfigError extends pulumi.RunError {
  constructor(readonly problems: string[]) {
    super(`Invalid stack configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

function show(value: unknown): string {
  return JSON.stringify(value);
}

function problem(key: string, value: unknown, allowed: string): string {
  return `${CONFIG_NAMESPACE}:${key} = ${show(value)}: must be ${allowed}`;
}

function isConfigKey(key: string): key is ConfigKey {
  return Object.hasOwn(CONFIG_KEYS, key);
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length];
}

function unknownKey(key: string): string {
  const near = Object.keys(CONFIG_KEYS)
    .map((k) => ({ k, d: editDistance(k.toLowerCase(), key.toLowerCase()) }))
    .filter(({ d }) => d <= 2)
    .sort((x, y) => x.d - y.d)[0]?.k;
  return (
    `${CONFIG_NAMESPACE}:${key} is not a key of this project` +
    `${near ? ` (did you mean ${CONFIG_NAMESPACE}:${near}?)` : ""}: ` +
    `remove it (pulumi config rm ${key}); Pulumi.yaml lists every key`
  );
}

function notForRole(key: string, spec: KeySpec, role: Role): string {
  return (
    `${CONFIG_NAMESPACE}:${key} only applies to ${spec.roles.join(" and ")} stacks, and this is ` +
    `${role === "edge" ? "an edge" : "a central"} stack: remove it (pulumi config rm ${key})`
  );
}

/** Pulumi config values arrive as strings; turn each into its declared type before the rules run. */
function parseRaw(key: string, spec: KeySpec, raw: string): { value?: unknown; error?: string } {
  switch (spec.type) {
    case "string":
      return { value: raw };
    case "integer":
      // Not Number(): it also takes "1e3", "0x3", " 3 " and "", which are typos more often than numbers.
      return /^-?[0-9]+$/.test(raw) && Number.isSafeInteger(Number(raw))
        ? { value: Number(raw) }
        : { error: problem(key, raw, "a whole number") };
    case "boolean":
      if (raw === "true" || raw === "false") {
        return { value: raw === "true" };
      }
      return { error: problem(key, raw, "true or false") };
    case "array": {
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        parsed = undefined;
      }
      if (!Array.isArray(parsed)) {
        return {
          error: problem(key, raw, `a list (pulumi config set --path '${key}[0]' <value>, or a JSON array)`),
        };
      }
      return { value: parsed };
    }
  }
}

/** One key's raw value, typed and checked: its value, or every problem with it. */
function readKey(key: string, spec: KeySpec, raw: string): { value: unknown } | { problems: string[] } {
  const parsed = parseRaw(key, spec, raw);
  if (parsed.error) {
    return { problems: [parsed.error] };
  }
  const result = spec.schema.safeParse(parsed.value);
  if (result.success) {
    return { value: result.data };
  }
  return {
    problems: result.error.issues.map((issue) => {
      const [index] = issue.path;
      const shown =
        typeof index === "number" && Array.isArray(parsed.value)
          ? (parsed.value as unknown[])[index]
          : parsed.value;
      return problem(typeof index === "number" ? `${key}[${index}]` : key, shown, issue.message);
    }),
  };
}

/**
 * `pulumi up` hands a stack every default Pulumi.yaml declares, central-only keys included, so a key of
 * another role holding its default cannot tell us it was set by hand; only another value can.
 */
function holdsDefault(key: string, spec: KeySpec, raw: string): boolean {
  const parsed = parseRaw(key, spec, raw);
  return parsed.error === undefined && show(parsed.value) === show(spec.default);
}

/**
 * Reads and validates the whole configuration. Throws a ConfigError naming every bad key at once, so
 * nothing is created from a half-valid configuration.
 */
export function loadConfig(source: ConfigSource): StackConfig {
  const problems = source
    .keys()
    .filter((k) => !isConfigKey(k))
    .map((k) =>
      Object.hasOwn(REMOVED_KEYS, k)
        ? `${CONFIG_NAMESPACE}:${k} is no longer a setting: ${REMOVED_KEYS[k]}; remove it (pulumi config rm ${k})`
        : unknownKey(k),
    );
  const values: Record<string, unknown> = {};
  const roleRaw = source.get("role");
  const role: Role | undefined = roleRaw === "central" || roleRaw === "edge" ? roleRaw : undefined;

  for (const [key, spec] of Object.entries(CONFIG_KEYS) as [ConfigKey, KeySpec][]) {
    const raw = source.get(key);
    if (raw === undefined) {
      if (spec.default !== undefined) {
        values[key] = spec.default;
      } else if (role === undefined ? key === "role" : spec.roles.includes(role)) {
        problems.push(
          `${CONFIG_NAMESPACE}:${key} is required${role ? ` for a ${role} stack` : ""}: ${spec.description}`,
        );
      }
      continue;
    }
    if (role !== undefined && !spec.roles.includes(role)) {
      if (!holdsDefault(key, spec, raw)) {
        problems.push(notForRole(key, spec, role));
      }
      values[key] = spec.default;
      continue;
    }
    const read = readKey(key, spec, raw);
    if ("problems" in read) {
      problems.push(...read.problems);
    } else {
      values[key] = read.value;
    }
  }

  problems.push(...nodeGroupProblems(values));
  if (problems.length > 0) {
    throw new ConfigError(problems);
  }
  // Every key holds a value its own rule accepted (or its default): this only gives them their types.
  const parsed = STACK_CONFIG_SCHEMA.safeParse(values);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => problem(i.path.join("."), values[String(i.path[0])], i.message)),
    );
  }
  const crossProblems = crossChecks(parsed.data);
  if (crossProblems.length > 0) {
    throw new ConfigError(crossProblems);
  }
  return parsed.data;
}

/** The keys that size the dedicated masters: without them, every node is sized by efk:esCpu and the like. */
const ES_MASTER_KEYS = ["esMasterCpu", "esMasterMemory", "esMasterStorageSize"] as const;

/**
 * Elasticsearch's node groups: whether efk:esReplicas may be even, and whether the master keys mean
 * anything, depend on efk:esDedicatedMasters. Checked with the keys' own rules (of the keys that passed
 * them), not with the cross checks, which wait for every key to be valid: an even efk:esReplicas is
 * reported beside the other bad keys, as it was when oddness was its own rule.
 */
function nodeGroupProblems(values: Record<string, unknown>): string[] {
  const { esReplicas: replicas, esDedicatedMasters: masters } = values;
  if (typeof masters !== "number") {
    return [];
  }
  const out: string[] = [];
  if (masters === 0 && typeof replicas === "number" && replicas % 2 === 0) {
    out.push(
      problem(
        "esReplicas",
        replicas,
        "an odd number of master-eligible nodes (1, 3, 5, ...) while efk:esDedicatedMasters is 0, so that a majority survives a partition; with efk:esDedicatedMasters 3 or 5 it counts data nodes, any number from 1",
      ),
    );
  }
  if (masters === 0) {
    for (const key of ES_MASTER_KEYS) {
      if (values[key] !== undefined && show(values[key]) !== show(CONFIG_KEYS[key].default)) {
        out.push(
          problem(
            key,
            values[key],
            "left unset while efk:esDedicatedMasters is 0: without dedicated masters every node is sized by efk:esCpu, efk:esMemory and efk:esStorageSize (set efk:esDedicatedMasters to 3 or 5 to size masters apart)",
          ),
        );
      }
    }
  }
  return out;
}

/**
 * What Elasticsearch will hold in steady state must stay within the safe share of its shard limit: past
 * the limit it refuses new indices, so a new cluster's first record and every rollover fail.
 */
function capacityProblems(c: StackConfig): string[] {
  const clusters = [c.clusterName, ...c.edgeClusters];
  const out: string[] = [];
  const unknown = c.dedicatedStreams.filter((d) => !clusters.includes(d));
  if (unknown.length > 0) {
    out.push(
      problem(
        "dedicatedStreams",
        c.dedicatedStreams,
        `registered clusters (efk:clusterName or efk:edgeClusters); not registered: ${unknown.join(", ")}`,
      ),
    );
  }
  if (c.indexLayout === "per-cluster" && c.dedicatedStreams.length > 0) {
    out.push(
      problem(
        "dedicatedStreams",
        c.dedicatedStreams,
        "empty with efk:indexLayout per-cluster (every cluster has a stream of its own already)",
      ),
    );
  }
  const input = {
    clusters: clusters.length,
    layout: c.indexLayout,
    dedicatedStreams: c.dedicatedStreams.length,
    retentionDays: c.retentionDays,
    dataNodes: c.esReplicas,
  };
  const plan = capacity(input);
  if (!plan.fits) {
    const most = maxClusters(input);
    out.push(
      `Elasticsearch would hold ${plan.shards} shards (${plan.streams} data stream${plan.streams === 1 ? "" : "s"} x ` +
        `${plan.indicesPerStream} indices for efk:retentionDays ${c.retentionDays}, with replicas), over ` +
        `${Math.round(SAFE_SHARE * 100)}% of its limit of ${plan.limit} (${MAX_SHARDS_PER_NODE} per data node x ` +
        `efk:esReplicas ${c.esReplicas}): it refuses new indices at the limit. Options: ` +
        (c.indexLayout === "per-cluster"
          ? `efk:indexLayout shared (one stream for every cluster; this layout fits ${most} clusters); `
          : `fewer efk:dedicatedStreams (${c.dedicatedStreams.length} now); `) +
        `a shorter efk:retentionDays; more data nodes (efk:esReplicas). npm run capacity -- --clusters ${clusters.length} ` +
        `--retention ${c.retentionDays} --nodes ${c.esReplicas} shows the numbers.`,
    );
  }
  return out;
}

/** The keys that mean something only with efk:snapshotType set. */
const SNAPSHOT_KEYS = [
  "snapshotBucket",
  "snapshotBasePath",
  "snapshotCredentialsSecret",
  "snapshotS3Endpoint",
  "snapshotIntervalHours",
  "snapshotRetentionDays",
] as const;

/**
 * Snapshots: a repository needs a bucket and the Secret of its credentials; without a type, the other
 * snapshot keys would be ignored silently, so they are refused; an S3 endpoint is for S3 only.
 */
function snapshotProblems(c: StackConfig): string[] {
  const out: string[] = [];
  if (c.snapshotType === "none") {
    for (const key of SNAPSHOT_KEYS) {
      if (show(c[key]) !== show(CONFIG_KEYS[key].default)) {
        out.push(
          problem(
            key,
            c[key],
            "left unset while efk:snapshotType is none (no snapshots): set efk:snapshotType to s3, gcs or azure to use it",
          ),
        );
      }
    }
    return out;
  }
  if (c.snapshotBucket === "") {
    out.push(
      problem(
        "snapshotBucket",
        c.snapshotBucket,
        `the bucket (or Azure container) to write to, since efk:snapshotType is ${c.snapshotType}`,
      ),
    );
  }
  if (c.snapshotCredentialsSecret === "") {
    out.push(
      problem(
        "snapshotCredentialsSecret",
        c.snapshotCredentialsSecret,
        `the name of the Secret you create in efk:namespace with the store's credentials, since efk:snapshotType is ${c.snapshotType} (see Backups in the README)`,
      ),
    );
  }
  if (c.snapshotType !== "s3" && c.snapshotS3Endpoint !== "") {
    out.push(
      problem(
        "snapshotS3Endpoint",
        c.snapshotS3Endpoint,
        `empty unless efk:snapshotType is s3 (it is ${c.snapshotType})`,
      ),
    );
  }
  return out;
}

function crossChecks(c: StackConfig): string[] {
  const out: string[] = [];
  if (c.role === "edge" && c.centralStack === "") {
    out.push(
      `${CONFIG_NAMESPACE}:centralStack is required for an edge stack: the central stack to read the endpoint, CA and credentials from, e.g. pulumi config set centralStack myorg/efk/central`,
    );
  }
  const kibanaAhead = kibanaAheadOfElasticsearch(c.esImageTag, c.kibanaImageTag);
  if (c.role === "central" && kibanaAhead) {
    out.push(
      problem(
        "kibanaImageTag",
        c.kibanaImageTag,
        `no newer than efk:esImageTag (${show(c.esImageTag)}); it is ${kibanaAhead}. Upgrade Elasticsearch first (efk:esImageTag), then Kibana, or set both to the same release`,
      ),
    );
  }
  if (c.certRenewalHours >= c.certValidityHours) {
    out.push(
      problem(
        "certRenewalHours",
        c.certRenewalHours,
        `fewer hours than efk:certValidityHours (${c.certValidityHours}), or every update would replace the certificates`,
      ),
    );
  }
  if (c.certValidityHours > c.caValidityHours) {
    out.push(
      problem("certValidityHours", c.certValidityHours, `at most efk:caValidityHours (${c.caValidityHours})`),
    );
  }
  if (c.role === "central" && c.edgeClusters.includes(c.clusterName)) {
    out.push(
      problem(
        "edgeClusters",
        c.edgeClusters,
        `a list that does not contain this central cluster's own name "${c.clusterName}" (it is registered already)`,
      ),
    );
  }
  if (
    c.role === "central" &&
    c.edgeClusters.length > 0 &&
    c.fluentdServiceType !== "None" &&
    c.fluentdExternalHosts.length === 0 &&
    c.fluentdExternalIps.length === 0
  ) {
    out.push(
      problem(
        "fluentdExternalHosts",
        c.fluentdExternalHosts,
        "at least one name (or efk:fluentdExternalIps one address) when efk:edgeClusters is set: edges verify Fluentd's certificate against it",
      ),
    );
  }
  if (c.prometheusRules && c.metrics !== "prometheus-operator") {
    out.push(
      problem(
        "prometheusRules",
        c.prometheusRules,
        `false unless efk:metrics is prometheus-operator (it is ${c.metrics}): PrometheusRule objects need the Prometheus Operator; npm run render writes the rules file either way`,
      ),
    );
  }
  if (c.prometheusLabels.length > 0 && c.metrics !== "prometheus-operator") {
    out.push(
      problem(
        "prometheusLabels",
        c.prometheusLabels,
        `empty unless efk:metrics is prometheus-operator (it is ${c.metrics}): they label ServiceMonitor and PrometheusRule objects`,
      ),
    );
  }
  if (
    c.role === "central" &&
    c.fluentdServiceType === "LoadBalancer" &&
    c.fluentdLoadBalancerSourceRanges.length === 0
  ) {
    out.push(
      problem(
        "fluentdLoadBalancerSourceRanges",
        c.fluentdLoadBalancerSourceRanges,
        `the CIDR ranges the edges send from when efk:fluentdServiceType is LoadBalancer: an empty list leaves the forward port open to the whole internet. Allowing anywhere must be said: pulumi config set --path 'fluentdLoadBalancerSourceRanges[0]' 0.0.0.0/0 (and '[1]' ::/0)`,
      ),
    );
  }
  if (c.role === "central") {
    out.push(...capacityProblems(c));
    out.push(...snapshotProblems(c));
  }
  if (c.role === "central" && c.edgeClusters.length > 0 && c.fluentdServiceType === "None") {
    out.push(
      problem(
        "fluentdServiceType",
        c.fluentdServiceType,
        "LoadBalancer or NodePort when efk:edgeClusters is set: edges need a way in",
      ),
    );
  }
  return out;
}
