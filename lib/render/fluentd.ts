import * as fs from "node:fs";
import * as path from "node:path";
import { EFK_METRICS } from "../monitoring/metrics";
import { ID_SEED_FIELDS, RECORD_FIELDS, UNREGISTERED_CLUSTER } from "../records";
import { dataStreamName, SHARED_STREAM, type IndexLayout } from "../capacity";
import { directive, fromEnv, renderDirectives, type Directive, type Param } from "./directive";

/** Where the aggregator's files are, inside its container (the chart mounts the buffer volume at /var/log/fluent). */
export const FLUENTD_PATHS = {
  tlsDir: "/fluentd/tls",
  /** The registered clusters' client certificates, one `<cluster>.crt` each. */
  clientsDir: "/fluentd/clients",
  bufferDir: "/var/log/fluent/buffer",
  deadLetterDir: "/var/log/fluent/dead-letter",
} as const;

/** Environment variables the aggregator reads its secrets from (filled from a Kubernetes Secret). */
export const FLUENTD_ENV = {
  sharedKey: "FLUENT_SHARED_KEY",
  esPassword: "ES_WRITER_PASSWORD",
} as const;

/** The env var that holds a forwarding cluster's password: `FLUENT_PASSWORD_PROD_EU` for `prod-eu`. */
export function clusterPasswordEnv(cluster: string): string {
  return `FLUENT_PASSWORD_${cluster.toUpperCase().replace(/-/g, "_")}`;
}


/** The aggregator's forward `self_hostname`; clients must use a different one or the handshake fails. */
export const AGGREGATOR_HOSTNAME = "efk-aggregator";

/**
 * How the aggregator knows which cluster sends: `certificate` (the default), by the client certificate's
 * key, each registered cluster's certificate a file `<cluster>.crt` in `certsDir`; or `user`, by the
 * forward user and password each cluster logs in with (with the shared key).
 */
export type ForwardIdentity =
  | {
      kind: "certificate";
      /** The CA that signs the clusters' certificates. */
      caPath: string;
      certsDir: string;
    }
  | { kind: "user" };

/**
 * TLS 1.2 suites with forward secrecy and authenticated encryption only (OpenSSL names, ECDHE key
 * exchange, GCM or ChaCha20-Poly1305); TLS 1.3's own suites all are. Fluentd's default list also offers
 * static-RSA CBC suites such as AES128-SHA.
 */
export const FORWARD_TLS_CIPHERS = [
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
].join(":");

/**
 * The largest forward message a sender may send, in bytes, before its connection is closed. Fluent Bit
 * sends one chunk per message: at most 2,048,000 bytes (FLB_INPUT_CHUNK_FS_MAX_SIZE) plus the record that
 * passes it, a line of up to 1 MiB (`Buffer_Max_Size`) and its metadata. Twice that, rounded up: an
 * agent's message never comes near it, and a connection can make its worker hold no more than this.
 */
export const FORWARD_MESSAGE_LIMIT_BYTES = 8 * 2 ** 20;
/**
 * Fair shares of the Elasticsearch output's buffer, which every cluster's records wait in and which blocks
 * all input when full. From half full, a cluster that sent more than twice the other clusters' average bytes in
 * the last 10 s has its messages deferred (its agent sends them again after its retry delay, at most 30 s):
 * a flood fills at most the other half, and never blocks the clusters that send their usual amount. Below
 * half, nobody waits: a buffer that fills evenly (Elasticsearch down) blocks as before, losing nothing.
 */
export const FAIR_SHARE = { from: 0.5, factor: 2, windowSeconds: 10 } as const;

/**
 * The bytes of incomplete messages a worker may hold over all its connections: a fifth of its share of the
 * pod's memory, and never less than two messages. A message cut off at the limit costs its worker about
 * 2.5 times its bytes (20 MiB for 8 MiB, on the real Fluentd with jemalloc, `tests/integration/frontDoor.test.ts`),
 * so the budget keeps many hostile connections under the pod's limit with room for the buffer's own
 * flushes; agents hold one message each in flight, a few MB, and are refused only past some dozens at once
 * (they send it again).
 */
export function pendingLimitBytes(memoryBytes: number, workers: number): number {
  return Math.max(2 * FORWARD_MESSAGE_LIMIT_BYTES, Math.floor(memoryBytes / workers / 5));
}

/** Before the forward handshake: a PING is under 1 KB; one TLS record. */
export const FORWARD_HANDSHAKE_LIMIT_BYTES = 16 * 2 ** 10;

export interface FluentdConfInput {
  forwardPort: number;
  /** Prometheus metrics port; the chart's probes call /metrics on it. */
  metricsPort: number;
  tls: {
    certPath: string;
    keyPath: string;
  };
  identity: ForwardIdentity;
  /** See pendingLimitBytes. */
  pendingLimitBytes: number;
  /** Clusters allowed to forward, each logging in with its own name and password. */
  clusters: string[];
  /** Which data stream each cluster's records go to (see lib/capacity.ts). */
  layout: { kind: IndexLayout; dedicated: string[] };
  elasticsearch: {
    host: string;
    port: number;
    caPath: string;
    user: string;
  };
  /** Data streams are `<prefix>-<cluster>`; their template and ILM policy are installed beforehand. */
  dataStreamPrefix: string;
  bufferDir: string;
  /** Where records Elasticsearch refuses for good (a 400 for that document) are kept, as JSON lines. */
  deadLetterDir: string;
  /** Bytes the file buffer may hold before the input blocks (and forwarders buffer on their side), shared by the workers. */
  bufferLimitBytes: number;
  /** Worker processes (`<system> workers`): each has its own buffer directories and its share of the limit. */
  workers: number;
  /** The certificates in use whose expiry the aggregator exports (see certificateProbe); none: no probe. */
  certificates?: CertificateProbes;
}

/** What a certificate is for: the `kind` label of the certificate-expiry metrics. */
export const CERTIFICATE_KINDS = {
  /** The aggregator's forward server certificate (its file). */
  forwardServer: "fluentd-forward",
  /** The CA bundle clients verify our services with, and the aggregator verifies clients with (its file). */
  ca: "ca",
  /** A registered cluster's client certificate as the central signed it (its file in the clients directory). */
  registeredClient: "registered-client",
  /** A cluster's client certificate as its agents presented it in their latest handshake. */
  edgeClient: "edge-client",
  /** Presented by Elasticsearch's HTTPS endpoint, the one the aggregator writes to. */
  elasticsearchHttp: "elasticsearch-http",
  /** Presented by each Elasticsearch node's transport port. */
  elasticsearchTransport: "elasticsearch-transport",
  /** The bundle Elasticsearch nodes verify each other's transport certificates with (its file). */
  elasticsearchTransportCa: "elasticsearch-transport-ca",
  /** Presented by Kibana's HTTPS endpoint. */
  kibana: "kibana",
} as const;
export type CertificateKind = (typeof CERTIFICATE_KINDS)[keyof typeof CERTIFICATE_KINDS];

/** The certificate files and TLS endpoints the aggregator reads the certificates in use from. */
export interface CertificateProbes {
  /** PEM files (every certificate of a bundle). */
  files: { kind: CertificateKind; path: string }[];
  /** Directories of `<cluster>.crt` files. */
  directories: { kind: CertificateKind; path: string }[];
  /** TLS endpoints; `eachAddress`: every address the host resolves to (a headless Service's nodes). */
  endpoints: { kind: CertificateKind; host: string; port: number; eachAddress?: boolean }[];
}

/**
 * Seconds between certificate probe rounds: an expiry is days away when it alerts, and a probe round costs
 * a few TLS handshakes.
 */
export const CERTIFICATE_PROBE_INTERVAL_SECONDS = 300;

/**
 * The record field that carries a document's id from Fluentd's buffer to Elasticsearch. It stays in the
 * document: the plugin's error handler rebuilds each bulk item from the stored record, and with the id
 * removed (`remove_keys`) it can no longer match items, so it skips refused ones without a word.
 */
export const ID_FIELD = RECORD_FIELDS.id;

/**
 * Joins the seed fields before hashing. A newline: only the raw line (`log`), the last field, can hold
 * one, so no two different field lists join to the same text.
 */
export const ID_SEED_SEPARATOR = "\n";

/**
 * With dedicated streams in the shared layout, the field that carries a record's data stream to the
 * Elasticsearch output (`target_index_key`), which takes it off the record before sending: it is never
 * stored.
 */
export const STREAM_FIELD = "efk_stream";

function forwardSource(c: FluentdConfInput): Directive {
  const byCertificate = c.identity.kind === "certificate" ? c.identity : undefined;
  const transport = directive("transport", "tls", {
    cert_path: c.tls.certPath,
    private_key_path: c.tls.keyPath,
    // Both ends otherwise pin TLS 1.2 exactly; allow 1.3 for clients that offer it.
    min_version: "TLSv1_2",
    max_version: "TLSv1_3",
    ciphers: FORWARD_TLS_CIPHERS,
    // A client without a certificate from our CA is refused in the TLS handshake.
    ca_path: byCertificate?.caPath,
    client_cert_auth: byCertificate ? true : undefined,
  });
  // With certificates a cluster's key is its identity, and a shared key or password would add a secret
  // every edge must hold and nothing else.
  const security = byCertificate
    ? []
    : [
        directive(
          "security",
          undefined,
          { self_hostname: AGGREGATOR_HOSTNAME, shared_key: fromEnv(FLUENTD_ENV.sharedKey), user_auth: true },
          c.clusters.map((cluster) =>
            directive("user", undefined, { username: cluster, password: fromEnv(clusterPasswordEnv(cluster)) }),
          ),
        ),
      ];
  return directive(
    "source",
    undefined,
    [
      ["@type", "efk_forward"],
      ["@id", "in_forward"],
      ["@label", "@EFK"],
      ["bind", "0.0.0.0"],
      ["port", c.forwardPort],
      ["identity", c.identity.kind],
      ["client_certs_dir", byCertificate?.certsDir],
      ["message_limit", FORWARD_MESSAGE_LIMIT_BYTES],
      ["handshake_limit", FORWARD_HANDSHAKE_LIMIT_BYTES],
      ["pending_limit", c.pendingLimitBytes],
      ["tag_prefix", FORWARD_TAG_PREFIX],
      ["record_key", RECORD_FIELDS.cluster],
      ["oversized_metric", EFK_METRICS.oversizedMessages],
      ["impersonation_metric", EFK_METRICS.impersonations],
      ["fair_share_output", FLUENTD_ES_OUTPUT_ID],
      ["fair_share_from", FAIR_SHARE.from],
      ["fair_share_factor", FAIR_SHARE.factor],
      ["fair_share_window", `${FAIR_SHARE.windowSeconds}s`],
      ["deferred_metric", EFK_METRICS.deferred],
      ["certificate_metric", byCertificate ? EFK_METRICS.certificateExpiry : undefined],
      ["certificate_kind", byCertificate ? CERTIFICATE_KINDS.edgeClient : undefined],
    ],
    [transport, ...security],
    byCertificate
      ? "Fluent Bit on every cluster: TLS with a client certificate whose key a registered cluster holds."
      : "Fluent Bit on every cluster: TLS, shared key, and one user per registered cluster.",
  );
}

/**
 * The forward input emits every event as `<prefix>.<cluster>`, the cluster its sender authenticated as;
 * the pipeline reads the cluster from the tag, never from the record.
 */
export const FORWARD_TAG_PREFIX = "efk";

/**
 * A rotated file's name (`0.log.20261129-103000`) back to the container log's (`0.log`), so that a line
 * read before and after its file was rotated has one origin (and one id). Without backslashes, so that
 * it reads the same in Ruby and in JavaScript.
 */
export const ROTATION_SUFFIX_RUBY = "/[.]log[.][0-9]{8}-[0-9]{6}$/";

/**
 * record_modifier, not record_transformer: the same result for a third less CPU per record in `npm run
 * bench` (record_transformer builds its placeholders and evaluates per record; record_modifier compiles
 * its one expression once, and the rotation suffix is a plain regular-expression replacement).
 */
/** The field a data stream requires on every document. */
export const TIMESTAMP_FIELD = "@timestamp";

/**
 * A record's `@timestamp`: the runtime's own timestamp of the line (`time`, RFC 3339 with nanoseconds, which
 * Elasticsearch parses as it is), else the event's time. The Elasticsearch output's `include_timestamp` made
 * a DateTime of the event time for each record, about 5% of the aggregator's CPU on real records (bench/
 * profile.rb); a copied string costs next to nothing. The event time is the same instant: Fluent Bit's cri
 * and docker parsers take it from `time`. The pattern keeps a `time` that is not a timestamp out.
 */
export const TIMESTAMP_EXPRESSION = `\${t = record['${RECORD_FIELDS.time}']; t.is_a?(String) && t.match?(/\\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}/) ? t : Time.at(time).utc.iso8601(9)}`;

function clusterFilter(c: FluentdConfInput): Directive {
  // The forward input admits registered clusters only; checked again here, so that no other name can
  // ever become a data stream. \A and \z, not ^ and $, which match at any line break in Ruby.
  const known = `/\\A(?:${c.clusters.join("|")})\\z/`;
  const dedicated = c.layout.kind === "shared" ? c.layout.dedicated : [];
  const stream =
    dedicated.length > 0
      ? {
          [STREAM_FIELD]: `\${tag_parts[1].match?(/\\A(?:${dedicated.join("|")})\\z/) ? '${c.dataStreamPrefix}-' + tag_parts[1] : '${dataStreamName(c.dataStreamPrefix, SHARED_STREAM)}'}`,
        }
      : {};
  return directive(
    "filter",
    "**",
    { "@type": "record_modifier" },
    [
      directive("record", undefined, {
        [RECORD_FIELDS.cluster]: `\${tag_parts[1].match?(${known}) ? tag_parts[1] : '${UNREGISTERED_CLUSTER}'}`,
        [TIMESTAMP_FIELD]: TIMESTAMP_EXPRESSION,
        ...stream,
      }),
      directive("replace", undefined, {
        key: RECORD_FIELDS.file,
        expression: ROTATION_SUFFIX_RUBY,
        replace: ".log",
      }),
    ],
    "The cluster is the one the sender authenticated as (the tag), whatever the record says; a rotated\n" +
      "file is named as the container's log.",
  );
}

function idFilter(): Directive {
  return directive(
    "filter",
    "**",
    {
      "@type": "elasticsearch_genid",
      hash_id_key: ID_FIELD,
      use_record_as_seed: true,
      record_keys: ID_SEED_FIELDS.join(","),
      separator: ID_SEED_SEPARATOR,
      hash_type: "sha256",
    },
    [],
    "Each record's id is a hash of where it was read (cluster, file, offset) and of the line itself, so the\n" +
      "same line sent twice (a lost acknowledgement, an agent restart, a lost tail DB, a retry) is created\n" +
      "once: Elasticsearch answers 409 for an id it has.",
  );
}

/** The Elasticsearch output's buffer: flush threads per worker, and the size of a chunk (one bulk request). */
const FLUSH_THREADS = 2;
const CHUNK_LIMIT = "2MB";

/**
 * Where the output writes: each cluster's stream (`per-cluster`); the shared stream; or, with dedicated
 * streams, the stream the cluster filter put on each record.
 */
function streamParams(c: FluentdConfInput): [string, Param][] {
  if (c.layout.kind === "per-cluster") {
    return [["index_name", dataStreamName(c.dataStreamPrefix, "${cluster}")]];
  }
  const shared: [string, Param] = ["index_name", dataStreamName(c.dataStreamPrefix, SHARED_STREAM)];
  return c.layout.dedicated.length > 0 ? [shared, ["target_index_key", STREAM_FIELD]] : [shared];
}

function elasticsearchOutput(c: FluentdConfInput): Directive {
  // The plugin requires `tag` among the chunk keys; Fluent Bit sends one tag per cluster (efk.<cluster>),
  // so this still makes one chunk stream per cluster rather than one per container.
  const buffer = directive(
    "buffer",
    "tag, cluster",
    [
      ["@type", "file"],
      ["path", bufferDirs(c.bufferDir).elasticsearch],
      ["flush_mode", "interval"],
      ["flush_interval", "5s"],
      // A flush holds about ten times its chunk in memory (the records, the bulk body, the response):
      // 2 threads of 2 MB chunks keep a worker near 150 MiB where 4 of 8 MB took 360 (npm run bench).
      // One chunk is one bulk request: the plugin's bulk_message_request_threshold would split it, but a
      // failed request in the middle of a chunk then goes to @ERROR instead of being retried.
      ["flush_thread_count", FLUSH_THREADS],
      // Chunks are per cluster, and Fluentd queues at most this many at a time (its default: the flush
      // threads, 2): with 40 clusters one record each took 25 s to deliver, with room for every cluster's
      // chunk 9 s (tests/integration/layout.test.ts's measurement). On disk, within total_limit_size.
      ["queued_chunks_limit_size", Math.max(FLUSH_THREADS, c.clusters.length)],
      // With chunks queued, a thread waits this long between flushes (Fluentd's default is 1 s, which capped
      // each thread at one chunk a second: 17k against 26k records/s end to end on 2 workers).
      ["flush_thread_burst_interval", 0.1],
      // Flush what is buffered when the pod stops; what is left stays on the volume for the next start.
      ["flush_at_shutdown", true],
      ["chunk_limit_size", CHUNK_LIMIT],
      // Each worker has a buffer of its own: the pod's limit is shared out.
      ["total_limit_size", Math.floor(c.bufferLimitBytes / c.workers)],
      // Full buffer: stop reading from forwarders (they buffer on disk) rather than drop anything.
      ["overflow_action", "block"],
      ["retry_type", "exponential_backoff"],
      ["retry_forever", true],
      ["retry_max_interval", "60s"],
    ],
  );
  return directive(
    "match",
    "**",
    [
      ["@type", "elasticsearch"],
      ["@id", FLUENTD_ES_OUTPUT_ID],
      ["host", c.elasticsearch.host],
      ["port", c.elasticsearch.port],
      ["scheme", "https"],
      ["ssl_verify", true],
      ["ca_file", c.elasticsearch.caPath],
      ["ssl_min_version", "TLSv1_2"],
      ["ssl_max_version", "TLSv1_3"],
      ["user", c.elasticsearch.user],
      ["password", fromEnv(FLUENTD_ENV.esPassword)],
      // `create` into the data stream's name: Elasticsearch makes the stream from our template on first
      // write. The data_stream output would instead install its own templates and policies, which needs
      // cluster-wide privileges, and it logs and drops documents Elasticsearch refuses one by one.
      ...streamParams(c),
      ["write_operation", "create"],
      ["id_key", ID_FIELD],
      // @timestamp is set by the cluster filter (TIMESTAMP_EXPRESSION), from the line's own timestamp.
      ["include_timestamp", false],
      ["suppress_type_name", true],
      // Elasticsearch may be down when Fluentd starts (or restarts with a full buffer): do not exit then.
      ["verify_es_version_at_startup", false],
      ["default_elasticsearch_version", 8],
      ["reload_connections", false],
      ["reconnect_on_error", true],
      ["request_timeout", "30s"],
      ["log_es_400_reason", true],
    ],
    [buffer],
    "Elasticsearch over HTTPS, CA verified, one data stream per cluster, as a user that may only add\n" +
      "documents. Rejected items: 429s retry the chunk; a 400 sends that record to @ERROR.",
  );
}

function deadLetter(c: FluentdConfInput): Directive {
  return directive(
    "label",
    "@ERROR",
    [],
    [
      counter(
        EFK_METRICS.deadLetters,
        "Records Elasticsearch refused for good, kept in the dead-letter file.",
        "cluster",
      ),
      directive(
        "match",
        "**",
        { "@type": "file", "@id": "out_dead_letter", path: `${c.deadLetterDir}/records`, append: true },
        [
          directive("format", undefined, { "@type": "json" }),
          directive("buffer", "time", {
            "@type": "file",
            path: bufferDirs(c.bufferDir).deadLetter,
            timekey: "1h",
            timekey_wait: "1m",
            flush_at_shutdown: true,
            retry_forever: true,
          }),
        ],
      ),
    ],
    "Records Elasticsearch refused for good (mapping conflicts and the like), kept on the volume.",
  );
}

/** The Elasticsearch output's id: the `plugin_id` label of its buffer and output metrics. */
export const FLUENTD_ES_OUTPUT_ID = "out_elasticsearch";

/**
 * The file buffers' directories. With several workers Fluentd keeps each worker's chunks in `worker<N>/`
 * below them; worker 0, or a single process, also resumes chunks left directly in them.
 */
export function bufferDirs(bufferDir: string): { elasticsearch: string; deadLetter: string } {
  return { elasticsearch: `${bufferDir}/elasticsearch`, deadLetter: `${bufferDir}/dead-letter` };
}

/**
 * Run before Fluentd starts (an init container): moves the chunks of workers that no longer exist (all of
 * them when Fluentd runs as one process) to the buffer directory itself, which worker 0 resumes. Chunk ids
 * are unique, so nothing is overwritten; a chunk and its `.meta` move together. Arguments: the worker
 * count, then the buffer directories.
 */
export const BUFFER_WORKERS_SCRIPT = `#!/bin/sh
# Hands the buffer chunks of workers that no longer exist to worker 0 (efk-pulumi).
set -eu
workers="$1"
shift
for dir in "$@"; do
  for w in "$dir"/worker*; do
    [ -d "$w" ] || continue
    id="\${w##*/worker}"
    case "$id" in "" | *[!0-9]*) continue ;; esac
    if [ "$workers" -gt 1 ] && [ "$id" -lt "$workers" ]; then
      continue
    fi
    moved=0
    for f in "$w"/buffer.*; do
      [ -e "$f" ] || continue
      mv "$f" "$dir/"
      moved=$((moved + 1))
    done
    rmdir "$w" 2>/dev/null || true
    echo "$dir: $moved files of worker $id handed to worker 0 ($workers worker(s) now)"
  done
done
`;

/**
 * Our Fluentd plugins, mounted into the image's plugin directory, which the image's entrypoint loads
 * (`-p`): the `efk_count` filter, a Prometheus counter of the records passing through by one record field,
 * counted once per event stream (the prometheus filter it replaces copied every record to label it);
 * the `efk_forward` input, in_forward with the sender's identity and bounded messages; the
 * `efk_certificates` input, the expiry of the certificates in use; and the gauges those two share (a file
 * they require, not a plugin).
 */
export const FLUENTD_PLUGINS = [
  "filter_efk_count.rb",
  "in_efk_forward.rb",
  "in_efk_certificates.rb",
  "efk_certificate_metrics.rb",
].map((file) => ({
  file,
  source: fs.readFileSync(path.join(__dirname, "plugins", file), "utf8"),
}));
/** The image's plugin directory. */
export const FLUENTD_PLUGIN_DIR = "/fluentd/plugins";

/** A counter of the records passing through, labelled by the record field `key` (see FLUENTD_PLUGINS). */
function counter(name: string, desc: string, key: string, match = "**"): Directive {
  return directive("filter", match, { "@type": "efk_count", metric_name: name, desc, key });
}

/**
 * The `efk_certificates` input, in worker 0 only: every worker would read the same files and endpoints, and
 * worker 0's series are in /aggregated_metrics as every worker's are.
 */
function certificateProbe(p: CertificateProbes): Directive {
  if (p.files.length + p.directories.length + p.endpoints.length === 0) {
    throw new Error("renderFluentdConfig: a certificate probe needs a file, a directory or an endpoint");
  }
  const source = directive(
    "source",
    undefined,
    {
      "@type": "efk_certificates",
      "@id": "in_efk_certificates",
      interval: CERTIFICATE_PROBE_INTERVAL_SECONDS,
      timeout: 10,
      expiry_metric: EFK_METRICS.certificateExpiry,
      probe_metric: EFK_METRICS.certificateProbe,
    },
    [
      ...p.files.map((f) => directive("file", undefined, { kind: f.kind, path: f.path })),
      ...p.directories.map((d) => directive("directory", undefined, { kind: d.kind, path: d.path })),
      ...p.endpoints.map((e) =>
        directive("endpoint", undefined, {
          kind: e.kind,
          host: e.host,
          port: e.port,
          each_address: e.eachAddress ? true : undefined,
        }),
      ),
    ],
  );
  return directive(
    "worker",
    "0",
    [],
    [source],
    "When the certificates in use expire: the files the aggregator and Elasticsearch loaded, and what the\n" +
      "endpoints present (README, Certificate expiry).",
  );
}

/** The chart's `fileConfigs`: files it mounts in /etc/fluent/config.d and includes from fluent.conf. */
export function renderFluentdConfig(c: FluentdConfInput): Record<string, string> {
  if (c.clusters.length === 0) {
    throw new Error("renderFluentdConfig: no cluster is registered; nobody could forward");
  }
  const metrics = directive("source", undefined, {
    "@type": "prometheus",
    "@id": "in_prometheus",
    bind: "0.0.0.0",
    port: c.metricsPort,
    metrics_path: "/metrics",
  });
  // Buffer and output metrics of every output, refreshed every 10 s.
  const outputMonitor = directive("source", undefined, {
    "@type": "prometheus_output_monitor",
    "@id": "in_prometheus_output_monitor",
    interval: 10,
  });
  const pipeline = directive(
    "label",
    "@EFK",
    [],
    [
      clusterFilter(c),
      // After the cluster filter: the label takes registered names and `unregistered` only.
      counter(EFK_METRICS.recordsIn, "Records accepted from forwarders, by cluster.", "cluster"),
      idFilter(),
      elasticsearchOutput(c),
    ],
  );
  return {
    "01_sources.conf": renderDirectives([
      metrics,
      outputMonitor,
      forwardSource(c),
      ...(c.certificates ? [certificateProbe(c.certificates)] : []),
    ]),
    // The chart's default files 02 and 03 tail host logs and relabel them; an aggregator has none.
    "02_filters.conf": "# (none: records arrive enriched by Fluent Bit)\n",
    "03_dispatch.conf": "# (none)\n",
    "04_outputs.conf": renderDirectives([pipeline, deadLetter(c)]),
  };
}

/**
 * Why a forward connection was refused, from the aggregator's own warnings (in_forward and its TLS
 * server, Fluentd 1.18/1.19). A bare TCP connection that closes (a load balancer's health check) logs
 * "unexpected eof" and is not a refusal, so it is not counted.
 */
export const REFUSAL_REASONS = [
  { reason: "shared_key", pattern: "Shared key mismatch" },
  { reason: "user_password", pattern: "Authentication failed" },
  { reason: "anonymous", pattern: "Anonymous client disallowed" },
  { reason: "unregistered_certificate", pattern: "Client certificate not registered" },
  { reason: "message_size", pattern: "Message over the size limit" },
  { reason: "memory_budget", pattern: "Worker's message budget exhausted" },
  { reason: "message_format", pattern: "Message format refused" },
  {
    reason: "client_certificate",
    pattern: "did not return a certificate|certificate verify failed|certificate required|unknown ca|bad certificate",
  },
] as const;

/**
 * fluent.conf, in the ConfigMap the program gives the chart (`mainConfigMapNameOverride`): the chart's own
 * (fluentd chart 0.6.0, fluentd-configurations-cm.yaml) drops Fluentd's own log events, and Fluentd
 * allows one `@FLUENT_LOG` label. Ours counts refused forward connections from them, then drops them too
 * (they are on stdout already), and includes config.d as the chart's does.
 */
export function fluentdMainConf(workers: number): string {
  const all = REFUSAL_REASONS.map((r) => r.pattern).join("|");
  const reason =
    REFUSAL_REASONS.map((r) => `m.match?(/${r.pattern}/) ? '${r.reason}' : `).join("") + "'other'";
  // One process when one worker: its buffers stay where a single process keeps them.
  const system =
    workers > 1
      ? [directive("system", undefined, { workers }, [], "Worker processes: each takes connections and has its own buffers.")]
      : [];
  return renderDirectives([
    ...system,
    directive(
      "label",
      "@FLUENT_LOG",
      [],
      [
        directive("filter", "fluent.warn", { "@type": "grep" }, [
          directive("regexp", undefined, { key: "message", pattern: `/\\[in_forward\\] .*(${all})/` }),
        ]),
        directive("filter", "fluent.warn", { "@type": "record_transformer", enable_ruby: true }, [
          directive("record", undefined, { reason: `\${m = record['message'].to_s; ${reason}}` }),
        ]),
        counter(EFK_METRICS.refusals, "Forward connections refused, by reason.", "reason", "fluent.warn"),
        directive("match", "**", { "@type": "null", "@id": "ignore_fluent_logs" }),
      ],
      "Fluentd's own log events: count refused forward connections, then drop them (they are on stdout).",
    ),
  ]) + "\n@include config.d/*.conf\n";
}
