import { RECORD_FIELDS } from "../records";

/** Paths inside the Fluent Bit container. */
export const FLUENT_BIT_PATHS = {
  /** A host directory of its own (hostPath), so tail offsets and buffered chunks survive pod restarts. */
  stateDir: "/var/lib/fluent-bit",
  tlsDir: "/fluent-bit/tls",
  /**
   * The kubelet's own layout, `<namespace>_<pod>_<uid>/<container>/<restart>.log`, where it also keeps
   * the rotated file (`0.log.<timestamp>`) until the next rotation compresses it. /var/log/containers only
   * links to current files, so an agent that restarts after a rotation could not finish the old one.
   */
  podLogs: "/var/log/pods",
  /** The image's parsers file (named by `K8S-Logging.Parser` annotations). */
  parsersFile: "/fluent-bit/etc/parsers.conf",
  /** The chart mounts its ConfigMap here: our parsers are in custom_parsers.conf. */
  customParsersFile: "/fluent-bit/etc/conf/custom_parsers.conf",
  /** The pod's service account, as Kubernetes mounts it: the kubernetes filter's token and CA. */
  serviceAccountDir: "/var/run/secrets/kubernetes.io/serviceaccount",
} as const;

/** The API server as a pod reaches it (the kubernetes filter's default, written out so it is reviewable). */
export const KUBERNETES_API_URL = "https://kubernetes.default.svc:443";

/**
 * The longest the agent waits between two tries of a chunk (`scheduler.cap`, seconds). Fluent Bit's default
 * (2000 s) means that after a long outage of the aggregator, shipping resumes up to 33 minutes after it is
 * back; with 30 s, within half a minute, at the cost of one connection attempt per waiting chunk per try.
 */
export const RETRY_CAP_SECONDS = 30;

/**
 * How long the forward output waits on one read or write (`net.io_timeout`, seconds). Fluent Bit's default
 * is to wait forever: a connection whose peer vanished without a reset (a node that lost power, a load
 * balancer that dropped the backend) holds its chunk forever while the agent waits for the acknowledgement.
 * Longer than Fluentd takes to acknowledge in normal operation; when Fluentd is blocked on a full buffer
 * for longer, the chunk is sent again, and its ids make the second copy a no-op.
 */
export const IO_TIMEOUT_SECONDS = 60;

/** The tail input's tag: `kube.` and the file's path, slashes turned to dots. */
export const TAG_PREFIX = `kube${FLUENT_BIT_PATHS.podLogs.replace(/\//g, ".")}.`;

/** Tells the kubernetes filter the namespace, pod and container from a tag of the kubelet's layout. */
export const POD_LOG_PARSER = "efk-kubelet-pod-log";

/**
 * How long a rotated file stays followed after its rotation (`Rotate_Wait`, seconds). Once Fluent Bit lets
 * go of a rotated file it forgets its offset, and the rotated-file pattern would find it again and read it
 * from the start. So it is followed until the kubelet compresses or deletes it, or for an hour longer than
 * `Ignore_Older`, after which the pattern skips it as old. Without an age limit: a year.
 */
export function rotateWaitSeconds(backfillHours: number): number {
  return backfillHours > 0 ? (backfillHours + 1) * 3600 : 365 * 24 * 3600;
}

/** Environment variables Fluent Bit reads its secrets from (filled from a Kubernetes Secret). */
export const FLUENT_BIT_ENV = {
  sharedKey: "FLUENT_SHARED_KEY",
  password: "FLUENT_PASSWORD",
} as const;

export interface FluentBitConfInput {
  /** Put on every record as `cluster`; also the forward username. */
  clusterName: string;
  forward: {
    host: string;
    port: number;
    /** Name checked against the server certificate (the host, or a name in the certificate when `host` is an IP). */
    tlsVhost: string;
    caFile: string;
    /** Client certificate and key files, when the aggregator requires them. */
    clientCert?: { certFile: string; keyFile: string };
    /** Log in with the shared key and this cluster's user (when the aggregator knows clusters by user). */
    userAuth: boolean;
  };
  /** Disk the output may fill while the aggregator is unreachable; past it the oldest chunks are dropped. */
  bufferLimitBytes: number;
  /**
   * Files not written to for this many hours are not read (`Ignore_Older`); 0 reads every file. Bounds the
   * history a new node agent ships, since it reads every other file from its start.
   */
  backfillHours: number;
  excludeNamespaces: string[];
  excludeContainers: string[];
  /** The namespace the logging stack runs in: its own agents' logs are not shipped (see ownContainers). */
  ownNamespace: string;
  metricsPort: number;
}

/**
 * Containers of the logging stack itself whose logs stay out: when Elasticsearch struggles they log about
 * every retry, and shipping that through the same pipeline feeds the storm. `kubectl logs` still has them.
 */
export const OWN_CONTAINERS = ["fluent-bit", "fluentd"];

/** The chart's `config` sections; the chart concatenates service, inputs, filters and outputs into fluent-bit.conf. */
export interface FluentBitConfig {
  service: string;
  inputs: string;
  filters: string;
  outputs: string;
  customParsers: string;
}

type Entry = [string, string | number | undefined];

/** One `[SECTION]` of Fluent Bit's classic format; keys aligned for reading. */
export function section(name: string, entries: Entry[], comment?: string): string {
  const present = entries.filter((e): e is [string, string | number] => e[1] !== undefined);
  const width = Math.max(...present.map(([k]) => k.length));
  const lines = present.map(([k, v]) => `    ${k.padEnd(width)} ${String(v)}`);
  const head = comment ? comment.split("\n").map((l) => `# ${l}\n`).join("") : "";
  return `${head}[${name}]\n${lines.join("\n")}\n`;
}

/** The files the agent reads: every container's current log, and the one the kubelet rotated last. */
export function tailPaths(): string {
  const dir = FLUENT_BIT_PATHS.podLogs;
  return `${dir}/*/*/*.log,${dir}/*/*/*.log.*`;
}

/** `Exclude_Path` globs for unwanted namespaces and containers: their files are never read. */
export function excludePaths(namespaces: string[], containers: string[], ownNamespace: string): string {
  // The kubelet's layout: <namespace>_<pod>_<uid>/<container>/<restart>.log
  const dir = FLUENT_BIT_PATHS.podLogs;
  const globs = [
    // Rotated files the kubelet compressed, or is compressing: read already, before they were renamed.
    "*.gz",
    "*.tmp",
    ...OWN_CONTAINERS.map((c) => `${dir}/${ownNamespace}_*/${c}/*`),
    ...namespaces.map((ns) => `${dir}/${ns}_*/*/*`),
    ...containers.map((c) => `${dir}/*/${c}/*`),
  ];
  return globs.join(",");
}

/**
 * The kubernetes filter's view of a tag (after `TAG_PREFIX`): `<namespace>_<pod>_<uid>.<container>.<restart>.log`
 * (and a rotation suffix). Namespaces and container names are DNS labels, pod names DNS subdomains: none
 * holds an underscore, container names hold no dot.
 */
export const POD_LOG_REGEX =
  "^(?<namespace_name>[^_]+)_(?<pod_name>[^_]+)_(?<pod_uid>[a-f0-9-]+)\\.(?<container_name>[^.]+)\\.[0-9]+\\.log";

/** The tag records carry to the aggregator. */
export function forwardTag(clusterName: string): string {
  return `efk.${clusterName}`;
}

/** Differs from the aggregator's (`efk-aggregator`): the handshake refuses a client with the server's name. */
export function forwardSelfHostname(clusterName: string): string {
  return `${clusterName}-fluent-bit`;
}

/** Flushes a connection to the aggregator serves before it is replaced by a new one. */
export const KEEPALIVE_MAX_RECYCLE = 100;

/** The forward output's alias: the `name` label of its metrics. */
export const FLUENT_BIT_OUTPUT_ALIAS = "to_aggregator";

function userAuth(c: FluentBitConfInput): Entry[] {
  if (!c.forward.userAuth) {
    return [];
  }
  return [
    ["Self_Hostname", forwardSelfHostname(c.clusterName)],
    ["Shared_Key", `\${${FLUENT_BIT_ENV.sharedKey}}`],
    ["Username", c.clusterName],
    ["Password", `\${${FLUENT_BIT_ENV.password}}`],
  ];
}

export function renderFluentBitConfig(c: FluentBitConfInput): FluentBitConfig {
  const state = FLUENT_BIT_PATHS.stateDir;
  const service = section("SERVICE", [
    ["Daemon", "Off"],
    ["Flush", 1],
    ["Log_Level", "info"],
    ["Parsers_File", FLUENT_BIT_PATHS.parsersFile],
    ["Parsers_File", FLUENT_BIT_PATHS.customParsersFile],
    ["HTTP_Server", "On"],
    ["HTTP_Listen", "0.0.0.0"],
    ["HTTP_Port", c.metricsPort],
    ["Health_Check", "On"],
    // Chunks are written to the node's disk before they are sent: a restart or an unreachable
    // aggregator loses nothing that was read.
    ["storage.path", `${state}/storage/`],
    // Chunks are written through a shared memory map: a killed process loses nothing written so far, only a
    // node crash can lose what the kernel has not written back yet ("full" would sync every write).
    ["storage.sync", "normal"],
    // With checksums on, a chunk the process was killed while writing fails its check and is skipped.
    ["storage.checksum", "Off"],
    ["storage.backlog.mem_limit", "16M"],
    ["storage.max_chunks_up", 128],
    ["scheduler.cap", RETRY_CAP_SECONDS],
  ]);
  const inputs = section(
    "INPUT",
    [
      ["Name", "tail"],
      ["Tag", "kube.*"],
      ["Path", tailPaths()],
      ["Exclude_Path", excludePaths(c.excludeNamespaces, c.excludeContainers, c.ownNamespace)],
      ["multiline.parser", "docker, cri"],
      // Lines up to 1 MiB (stack traces); longer ones are skipped whole rather than stalling the file.
      ["Buffer_Max_Size", "1M"],
      // Offsets on the host: a restarted pod resumes where it stopped instead of re-reading or skipping.
      ["DB", `${state}/tail.db`],
      ["DB.locking", "true"],
      // A file its DB does not know is read from its start, also when found at startup (by default only
      // later discoveries are): files created or rotated in while the agent was down (a new pod, a log
      // rotation, a rollout of this DaemonSet) are otherwise skipped up to where they stood at its start.
      ["Read_from_Head", "On"],
      ["Ignore_Older", c.backfillHours > 0 ? `${c.backfillHours}h` : undefined],
      ["Rotate_Wait", rotateWaitSeconds(c.backfillHours)],
      // Where each line was read: with the line itself, what its document id is derived from.
      ["Path_Key", RECORD_FIELDS.file],
      ["Offset_Key", RECORD_FIELDS.offset],
      ["Skip_Long_Lines", "On"],
      ["Refresh_Interval", 10],
      // Never paused: memory limits do not apply to filesystem buffering, so a full output buffer drops its
      // oldest chunks (counted) rather than stopping the reading of files that may rotate away meanwhile.
      ["storage.type", "filesystem"],
    ],
    "Every container's log on this node.",
  );
  const filters = [
    section("FILTER", [
      ["Name", "kubernetes"],
      ["Match", "kube.*"],
      ["Kube_URL", KUBERNETES_API_URL],
      ["Kube_CA_File", `${FLUENT_BIT_PATHS.serviceAccountDir}/ca.crt`],
      ["Kube_Token_File", `${FLUENT_BIT_PATHS.serviceAccountDir}/token`],
      ["Kube_Tag_Prefix", TAG_PREFIX],
      ["Regex_Parser", POD_LOG_PARSER],
      ["Merge_Log", "On"],
      // Applications' JSON goes under one key (mapped `flattened`), not onto the record's root, where two
      // applications' fields of the same name and different types would make Elasticsearch refuse one.
      ["Merge_Log_Key", RECORD_FIELDS.logProcessed],
      ["Keep_Log", "Off"],
      ["K8S-Logging.Parser", "On"],
      ["K8S-Logging.Exclude", "On"],
      ["Labels", "On"],
      ["Annotations", "Off"],
    ]),
    section("FILTER", [
      ["Name", "record_modifier"],
      ["Match", "*"],
      ["Record", `${RECORD_FIELDS.cluster} ${c.clusterName}`],
    ]),
  ].join("\n");
  const outputs = section(
    "OUTPUT",
    [
      ["Name", "forward"],
      // Names the output in its metrics (`name` label), which the alerts select.
      ["Alias", FLUENT_BIT_OUTPUT_ALIAS],
      ["Match", "*"],
      // One tag per cluster: the aggregator buffers by tag, and per-container tags would mean a chunk
      // (and a bulk request) per container. The Kubernetes metadata is in the record.
      ["Tag", forwardTag(c.clusterName)],
      ["Host", c.forward.host],
      ["Port", c.forward.port],
      // With client certificates the key is the identity: no forward handshake, no secret but the key.
      ...userAuth(c),
      // Records leave the disk buffer only once the aggregator has written them to its own.
      ["Require_Ack_Response", "On"],
      ["net.io_timeout", `${IO_TIMEOUT_SECONDS}s`],
      // A kept-alive connection is retired after this many flushes (Fluent Bit's default: 2000), so that
      // agents reconnect now and then and new connections spread over every aggregator replica behind the
      // Service; each reconnect costs one TLS and forward handshake.
      ["net.keepalive_max_recycle", KEEPALIVE_MAX_RECYCLE],
      // Fluent Bit 5 sends metadata Fluentd 1.19 rejects as invalid, silently: send plain events.
      ["Retain_Metadata_In_Forward_Mode", "Off"],
      ["tls", "On"],
      ["tls.verify", "On"],
      // Off by default in Fluent Bit: without it any certificate our CA signed would do.
      ["tls.verify_hostname", "On"],
      ["tls.vhost", c.forward.tlsVhost],
      ["tls.ca_file", c.forward.caFile],
      ["tls.crt_file", c.forward.clientCert?.certFile],
      ["tls.key_file", c.forward.clientCert?.keyFile],
      // The default (1 retry) drops data; keep retrying, bounded by the disk limit below.
      ["Retry_Limit", "no_limits"],
      // Full: the oldest chunks are dropped to make room, each with a warning in the log and counted in
      // fluentbit_output_dropped_records_total. Fluent Bit has no setting that pauses reading on a full
      // disk instead; the input's pause settings bound memory, and a paused tail lets rotated files go.
      ["storage.total_limit_size", c.bufferLimitBytes],
    ],
    c.forward.userAuth
      ? "The aggregator: TLS with certificate and host name verified, shared key, this cluster's user."
      : "The aggregator: TLS with certificate and host name verified; this cluster's own key is its identity.",
  );
  const customParsers = section(
    "PARSER",
    [
      ["Name", POD_LOG_PARSER],
      ["Format", "regex"],
      ["Regex", POD_LOG_REGEX],
    ],
    "The kubelet's log layout, for the kubernetes filter (Regex_Parser).",
  );
  return { service, inputs, filters, outputs, customParsers };
}

/** fluent-bit.conf as the chart assembles it (configmap.yaml: service, inputs, filters, outputs). */
export function fluentBitConfFile(c: FluentBitConfig): string {
  return [c.service, c.inputs, c.filters, c.outputs].join("\n");
}
