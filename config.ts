import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { isQuantity, quantityValue } from "./lib/quantity";

/**
 * The stack configuration: one table of keys (type, default, description, rule), read in one place.
 * `Pulumi.yaml` declares the same keys; a unit test keeps the two in agreement, and the README's
 * config reference is checked against it too.
 */

export const CONFIG_NAMESPACE = "efk";

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_LABEL_RULE =
  "a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters";
// A host name a certificate can carry: DNS-1123 subdomain, optionally with a leading wildcard label.
const HOSTNAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const IPV4 =
  /^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}$/;
const IPV6 = /^[0-9a-fA-F:]+:[0-9a-fA-F:.]*$/;
// pulumi stack names: "stack", "project/stack" or "org/project/stack".
const STACK_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*\/){0,2}[A-Za-z0-9][-A-Za-z0-9_.]*$/;
const SEMVER = /^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$/;
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const QUANTITY_RULE =
  "a Kubernetes quantity such as 512Mi, 2Gi, 30Gi, 500m or 1 (binary suffixes Ki Mi Gi Ti)";

const label = z.string().refine((v) => v.length <= 63 && DNS1123_LABEL.test(v), DNS1123_LABEL_RULE);
// `abort`: later rules assume a well-formed quantity.
const quantity = z.string().refine(isQuantity, { message: QUANTITY_RULE, abort: true });
const positiveQuantity = quantity.refine((v) => quantityValue(v) > 0, "a quantity greater than zero");
const hostname = z
  .string()
  .refine(
    (v) => v.length <= 253 && HOSTNAME.test(v),
    "a DNS name (lowercase, dot-separated labels, optionally starting with '*.')",
  );
const ip = z.string().refine((v) => IPV4.test(v) || IPV6.test(v), "an IPv4 or IPv6 address");
const chartVersion = z.string().refine((v) => SEMVER.test(v), "a chart version such as 8.5.1");
const imageTag = z.string().refine((v) => IMAGE_TAG.test(v), "a container image tag");
const httpsUrl = z
  .string()
  .refine((v) => /^(https|oci):\/\/[^\s]+$/.test(v), "an https:// or oci:// chart repository URL");
const hours = z.number().int("a whole number of hours").positive("a positive number of hours");
const uniqueList = <T extends z.ZodType<string>>(item: T) =>
  z.array(item).refine((a) => new Set(a).size === a.length, "a list without duplicates");

type KeyType = "string" | "integer" | "boolean" | "array";

interface KeySpec {
  type: KeyType;
  description: string;
  /** Absent: the key is required (for the roles that use it). */
  default?: string | number | boolean | string[];
  schema: z.ZodType;
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
    schema: label,
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
    schema: uniqueList(label),
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
      "How long each Helm release may take to become ready (a fresh 3-node Elasticsearch needs minutes).",
    default: 1200,
    schema: z.number().int().min(60, "at least 60 seconds").max(7200, "at most 7200 seconds"),
    roles: BOTH,
  },
  esChartVersion: {
    type: "string",
    description: "Version of the `elasticsearch` chart.",
    default: "8.5.1",
    schema: chartVersion,
    roles: CENTRAL,
  },
  esImageTag: {
    type: "string",
    description: "Elasticsearch image tag.",
    default: "8.5.1",
    schema: imageTag,
    roles: CENTRAL,
  },
  esReplicas: {
    type: "integer",
    description:
      "Elasticsearch nodes (all master-eligible): an odd number, so a majority survives a partition.",
    default: 3,
    schema: z
      .number()
      .int("an odd whole number")
      .refine((n) => n >= 1 && n % 2 === 1, "an odd number of master-eligible nodes (1, 3, 5, ...)"),
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
    schema: z
      .string()
      .refine((v) => v === "" || DNS1123_LABEL.test(v) || HOSTNAME.test(v), "a StorageClass name"),
    roles: CENTRAL,
  },
  esStorageSize: {
    type: "string",
    description: "Size of each Elasticsearch node's volume.",
    default: "30Gi",
    schema: positiveQuantity,
    roles: CENTRAL,
  },
  esCpu: {
    type: "string",
    description: "CPU request of each Elasticsearch node (no CPU limit is set: limits throttle the JVM).",
    default: "1",
    schema: positiveQuantity,
    roles: CENTRAL,
  },
  esMemory: {
    type: "string",
    description: "Memory request and limit of each Elasticsearch node; the JVM heap is sized from it.",
    default: "2Gi",
    schema: positiveQuantity,
    roles: CENTRAL,
  },
  kibanaChartVersion: {
    type: "string",
    description: "Version of the `kibana` chart.",
    default: "8.5.1",
    schema: chartVersion,
    roles: CENTRAL,
  },
  kibanaImageTag: {
    type: "string",
    description: "Kibana image tag (keep it equal to the Elasticsearch one).",
    default: "8.5.1",
    schema: imageTag,
    roles: CENTRAL,
  },
  kibanaHosts: {
    type: "array",
    description: "External DNS names Kibana is reached by (added to its certificate).",
    default: [],
    schema: uniqueList(hostname),
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
  fluentdChartVersion: {
    type: "string",
    description: "Version of the `fluentd` chart.",
    default: "0.6.0",
    schema: chartVersion,
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
  fluentdMemory: {
    type: "string",
    description:
      "Memory request and limit of each Fluentd pod (a 200k-record burst peaked at 720 MiB in `npm run bench`).",
    default: "2Gi",
    schema: positiveQuantity,
    roles: CENTRAL,
  },
  fluentdStorageClass: {
    type: "string",
    description: "StorageClass of the Fluentd buffer volumes; empty means the cluster's default.",
    default: "",
    schema: z
      .string()
      .refine((v) => v === "" || DNS1123_LABEL.test(v) || HOSTNAME.test(v), "a StorageClass name"),
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
    schema: z.enum(["LoadBalancer", "NodePort", "None"], { error: "one of: LoadBalancer, NodePort, None" }),
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
    schema: uniqueList(hostname),
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
  clientCertAuth: {
    type: "boolean",
    description:
      "Require a client certificate from every forwarder; the central stack issues one per cluster.",
    default: false,
    schema: z.boolean(),
    roles: CENTRAL,
  },
  retentionDays: {
    type: "integer",
    description: "Days a cluster's logs are kept in Elasticsearch before ILM deletes them.",
    default: 30,
    schema: z.number().int("a whole number of days").min(1, "at least 1 day").max(3650, "at most 3650 days"),
    roles: CENTRAL,
  },
  fluentBitChartVersion: {
    type: "string",
    description: "Version of the `fluent-bit` chart.",
    default: "0.58.1",
    schema: chartVersion,
    roles: BOTH,
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
    description: "Disk each node's Fluent Bit may use to buffer records while Fluentd is unreachable.",
    default: "2Gi",
    schema: positiveQuantity.refine((v) => quantityValue(v) >= 2 ** 20, "at least 1Mi"),
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
} satisfies Record<string, KeySpec>;

export type ConfigKey = keyof typeof CONFIG_KEYS;

/** Typed, validated configuration. Components never see raw config. */
export interface StackConfig {
  role: Role;
  clusterName: string;
  namespace: string;
  /** Empty on central stacks. */
  centralStack: string;
  edgeClusters: string[];
  elasticChartRepo: string;
  fluentChartRepo: string;
  helmTimeoutSeconds: number;
  esChartVersion: string;
  esImageTag: string;
  esReplicas: number;
  esAntiAffinity: "hard" | "soft";
  esSysctlInitContainer: boolean;
  esStorageClass: string;
  esStorageSize: string;
  esCpu: string;
  esMemory: string;
  kibanaChartVersion: string;
  kibanaImageTag: string;
  kibanaHosts: string[];
  kibanaCpu: string;
  kibanaMemory: string;
  caValidityHours: number;
  certValidityHours: number;
  certRenewalHours: number;
  fluentdChartVersion: string;
  fluentdImageTag: string;
  fluentdReplicas: number;
  fluentdCpu: string;
  fluentdMemory: string;
  fluentdStorageClass: string;
  fluentdStorageSize: string;
  fluentdServiceType: "LoadBalancer" | "NodePort" | "None";
  fluentdNodePort: number;
  fluentdExternalHosts: string[];
  fluentdExternalIps: string[];
  clientCertAuth: boolean;
  retentionDays: number;
  fluentBitChartVersion: string;
  fluentBitImageTag: string;
  fluentBitCpu: string;
  fluentBitMemory: string;
  fluentBitBufferSize: string;
  fluentBitExcludeNamespaces: string[];
  fluentBitExcludeContainers: string[];
}

/** What `pulumi.Config` offers; tests pass a plain map. */
export interface ConfigSource {
  get(key: string): string | undefined;
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

/** Pulumi config values arrive as strings; turn each into its declared type before the rules run. */
function parseRaw(key: string, spec: KeySpec, raw: string): { value?: unknown; error?: string } {
  switch (spec.type) {
    case "string":
      return { value: raw };
    case "integer": {
      const n = Number(raw.trim());
      return raw.trim() !== "" && Number.isFinite(n)
        ? { value: n }
        : { error: problem(key, raw, "a number") };
    }
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

/**
 * Reads and validates the whole configuration. Throws a ConfigError naming every bad key at once, so
 * nothing is created from a half-valid configuration.
 */
export function loadConfig(source: ConfigSource): StackConfig {
  const problems: string[] = [];
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
    const parsed = parseRaw(key, spec, raw);
    if (parsed.error) {
      problems.push(parsed.error);
      continue;
    }
    const result = spec.schema.safeParse(parsed.value);
    if (!result.success) {
      for (const issue of result.error.issues) {
        const [index] = issue.path;
        const shown =
          typeof index === "number" && Array.isArray(parsed.value)
            ? (parsed.value as unknown[])[index]
            : parsed.value;
        const where = typeof index === "number" ? `${key}[${index}]` : key;
        problems.push(problem(where, shown, issue.message));
      }
      continue;
    }
    values[key] = result.data;
  }

  if (problems.length === 0) {
    problems.push(...crossChecks(values as unknown as StackConfig));
  }
  if (problems.length > 0) {
    throw new ConfigError(problems);
  }
  return values as unknown as StackConfig;
}

function crossChecks(c: StackConfig): string[] {
  const out: string[] = [];
  if (c.role === "edge" && c.centralStack === "") {
    out.push(
      `${CONFIG_NAMESPACE}:centralStack is required for an edge stack: the central stack to read the endpoint, CA and credentials from, e.g. pulumi config set centralStack myorg/efk/central`,
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
