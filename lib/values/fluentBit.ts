import type { ForwardEndpoint } from "../centralOutputs";
import type { MetricsStyle } from "../names";
import { SCRAPE } from "../monitoring/metrics";
import { scrapeAnnotations } from "../monitoring/scrape";
import { quantityBytes } from "../quantity";
import { FLUENT_BIT_PATHS, renderFluentBitConfig, type FluentBitConfig } from "../render/fluentBit";
import { SECRETS } from "../secrets";

export const FLUENT_BIT_METRICS_PORT = SCRAPE.fluentBit.port;

/** What a stack's configuration says about its node agents: the same settings on central and edge stacks. */
export interface FluentBitSettings {
  /** Fluent Bit image tag. */
  imageTag: string;
  /** CPU request per pod. */
  cpu: string;
  /** Memory request and limit per pod. */
  memory: string;
  /** Disk each node may use to buffer records while the aggregator is unreachable (a Kubernetes quantity). */
  bufferSize: string;
  /** Files not written to for this many hours are not read (0: no limit): bounds a new agent's backfill. */
  backfillHours: number;
  /** Namespaces whose container logs are never read. */
  excludeNamespaces: string[];
  /** Container names whose logs are never read. */
  excludeContainers: string[];
  /** How Prometheus finds the metrics: `annotations` puts `prometheus.io/*` on the pods. */
  metrics: MetricsStyle;
}

export interface FluentBitValuesInput extends FluentBitSettings {
  /** This cluster's name: the `cluster` field and the forward username. */
  clusterName: string;
  /** The namespace Fluent Bit is deployed to. */
  namespace: string;
  /** The aggregator as this cluster reaches it, and the name its certificate must carry. */
  endpoint: ForwardEndpoint;
  /** Whether the aggregator requires a client certificate (then the TLS Secret holds tls.crt and tls.key). */
  clientCert: boolean;
  /** Whether the agent logs in with the shared key and a password (from the credentials Secret). */
  userAuth: boolean;
}

export function fluentBitConfig(v: FluentBitValuesInput): FluentBitConfig {
  const tls = (file: string) => `${FLUENT_BIT_PATHS.tlsDir}/${file}`;
  return renderFluentBitConfig({
    clusterName: v.clusterName,
    forward: {
      host: v.endpoint.host,
      port: v.endpoint.port,
      tlsVhost: v.endpoint.serverName,
      caFile: tls(SECRETS.fluentBitTls.keys.ca),
      clientCert: v.clientCert
        ? { certFile: tls(SECRETS.fluentBitTls.keys.cert), keyFile: tls(SECRETS.fluentBitTls.keys.key) }
        : undefined,
      userAuth: v.userAuth,
    },
    bufferLimitBytes: quantityBytes(v.bufferSize),
    backfillHours: v.backfillHours,
    excludeNamespaces: v.excludeNamespaces,
    excludeContainers: v.excludeContainers,
    ownNamespace: v.namespace,
    metricsPort: FLUENT_BIT_METRICS_PORT,
  });
}

/** The chart and the one version these values are written for (see `PinnedChart`). */
export const FLUENT_BIT_CHART = { chart: "fluent-bit", version: "0.58.1" } as const;

/**
 * The agents' PriorityClass, which the program creates (cluster-wide): above every workload (0 unless
 * classed) and below the system classes (2,000,000,000 and up). On a full node the scheduler makes room
 * for the agent by preempting lower pods, and never preempts the agent for them.
 */
export const NODE_AGENT_PRIORITY_CLASS = { name: "efk-node-agent", value: 1_000_000 } as const;

/** Values for the fluent/fluent-bit 0.58.1 chart: a DaemonSet on every node, host logs read-only. */
export function fluentBitValues(v: FluentBitValuesInput): Record<string, unknown> {
  const hostPath = (path: string, type?: string) => ({ hostPath: { path, ...(type ? { type } : {}) } });
  return {
    fullnameOverride: "fluent-bit",
    kind: "DaemonSet",
    image: { tag: v.imageTag },
    // A helm-test hook pod pulling busybox:latest; nothing we need.
    testFramework: { enabled: false },
    config: fluentBitConfig(v),
    podAnnotations: scrapeAnnotations(v.metrics, SCRAPE.fluentBit),
    // The shared key and password, when the agent logs in with them; a client certificate needs neither.
    envFrom: v.userAuth ? [{ secretRef: { name: SECRETS.fluentBitEnv.name } }] : [],
    // Host logs read-only; state (offsets, buffered chunks) in a directory of its own.
    daemonSetVolumes: [
      { name: "varlog", ...hostPath("/var/log") },
      { name: "varlibdockercontainers", ...hostPath("/var/lib/docker/containers") },
      { name: "etcmachineid", ...hostPath("/etc/machine-id", "File") },
      { name: "state", ...hostPath("/var/lib/efk-fluent-bit", "DirectoryOrCreate") },
    ],
    daemonSetVolumeMounts: [
      { name: "varlog", mountPath: "/var/log", readOnly: true },
      { name: "varlibdockercontainers", mountPath: "/var/lib/docker/containers", readOnly: true },
      { name: "etcmachineid", mountPath: "/etc/machine-id", readOnly: true },
      { name: "state", mountPath: FLUENT_BIT_PATHS.stateDir },
    ],
    extraVolumes: [{ name: "tls", secret: { secretName: SECRETS.fluentBitTls.name, defaultMode: 0o400 } }],
    extraVolumeMounts: [{ name: "tls", mountPath: FLUENT_BIT_PATHS.tlsDir, readOnly: true }],
    // Every node, tainted ones included: logs from any node are wanted.
    tolerations: [{ operator: "Exists" }],
    // A node's logs are read only while its agent runs there (_pod.tpl: `priorityClassName:` on the pod).
    priorityClassName: NODE_AGENT_PRIORITY_CLASS.name,
    resources: { requests: { cpu: v.cpu, memory: v.memory }, limits: { memory: v.memory } },
    // The pod's (_pod.tpl: `securityContext:` from podSecurityContext); the agent runs as root to read the
    // host's logs, so the runtime's syscall filter stays on.
    podSecurityContext: { seccompProfile: { type: "RuntimeDefault" } },
    securityContext: {
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    },
  };
}
