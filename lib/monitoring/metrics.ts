/**
 * The metrics the alerts and the dashboard read, named once. Ours are counted by the rendered Fluentd
 * configuration (our `efk_count` filter, in fluent-plugin-prometheus' registry); the rest are what the programs expose themselves:
 * fluent-plugin-prometheus 2.2's output monitor, Fluent Bit 5.1's `/api/v2/metrics/prometheus`, the
 * Elasticsearch exporter 1.11 and kube-state-metrics. The integration tests scrape the real Fluentd (and
 * the real Fluent Bit where one is available) and check that every name used here is exposed.
 */

/** Counted by the aggregator's own configuration. */
export const EFK_METRICS = {
  /** Records accepted from forwarders, by `cluster` (registered names and `unregistered` only). */
  recordsIn: "efk_fluentd_records_in_total",
  /** Records Elasticsearch refused for good, written to the dead-letter file, by `cluster`. */
  deadLetters: "efk_fluentd_dead_letter_records_total",
  /** Forward connections refused, by `reason` (see REFUSAL_REASONS in lib/render/fluentd.ts). */
  refusals: "efk_fluentd_forward_refusals_total",
  /** Forward connections closed for a message over the size limit, by `cluster` (`unauthenticated` before the handshake). */
  oversizedMessages: "efk_fluentd_forward_oversized_messages_total",
  /** Records whose `cluster` field named another cluster than their authenticated sender, by sender `cluster`. */
  impersonations: "efk_fluentd_forward_impersonated_records_total",
  /** Forward messages deferred (not acknowledged, sent again later) for a cluster over its fair share, by `cluster`. */
  deferred: "efk_fluentd_forward_deferred_messages_total",
  /**
   * When each certificate in use expires (its notAfter, seconds since the epoch), by `kind`, `subject`, `ca`
   * (`true` for a CA), `cluster` (client certificates only) and `source` (file, address or `handshake`).
   */
  certificateExpiry: "efk_certificate_expiry_timestamp_seconds",
  /** 1 when the last probe of a certificate file or endpoint read a certificate, 0 when not, by `kind` and `source`. */
  certificateProbe: "efk_certificate_probe_success",
} as const;

/** fluent-plugin-prometheus `prometheus_output_monitor` (gauges, labels `plugin_id` and `type`). */
export const FLUENTD_OUTPUT_METRICS = {
  /** 0 to 100: the share of `total_limit_size` still free. */
  availableSpace: "fluentd_output_status_buffer_available_space_ratio",
  /** Errors since start (a gauge that only grows): each failed flush, retries included. */
  errors: "fluentd_output_status_num_errors",
} as const;

/** Fluent Bit 5.1, `/api/v2/metrics/prometheus` (label `name`: the output's alias). */
export const FLUENT_BIT_METRICS = {
  retries: "fluentbit_output_retries_total",
  dropped: "fluentbit_output_dropped_records_total",
  /** 0 to 100: the share of `storage.total_limit_size` still free (updated when a flush ends). */
  availableCapacity: "fluentbit_output_chunk_available_capacity_percent",
} as const;

/** The Elasticsearch exporter 1.11 (prometheus-community/elasticsearch_exporter). */
export const ES_EXPORTER_METRICS = {
  /** 1 for the cluster's current `color` (green, yellow, red), 0 for the others. */
  health: "elasticsearch_cluster_health_status",
  unassignedShards: "elasticsearch_cluster_health_unassigned_shards",
  diskAvailable: "elasticsearch_filesystem_data_available_bytes",
  diskSize: "elasticsearch_filesystem_data_size_bytes",
  /** Documents per index (`--es.indices`), primaries only. */
  indexDocs: "elasticsearch_indices_docs_primary",
  /**
   * `--collector.snapshots` (v1.11.0 collector/snapshots.go `latestSnapshotTimestamp`), per `repository`:
   * the start time, in seconds, of the newest snapshot in state SUCCESS or PARTIAL; 0 when there is none.
   */
  latestSnapshotTime: "elasticsearch_snapshot_stats_latest_snapshot_timestamp_seconds",
  /**
   * `--collector.slm` (v1.11.0 collector/slm.go `slmSnapshotsFailed`), per `policy`: a counter of the
   * policy's failed snapshots, from `GET _slm/stats` (SLM counts a snapshot with failed shards as failed).
   */
  slmSnapshotsFailed: "elasticsearch_slm_stats_snapshots_failed_total",
} as const;

/** kube-state-metrics. */
export const KUBE_METRICS = {
  podReady: "kube_pod_status_ready",
  statefulSetReplicas: "kube_statefulset_replicas",
  statefulSetReady: "kube_statefulset_status_replicas_ready",
} as const;

/** Paths and ports Prometheus scrapes. */
export const SCRAPE = {
  // Every worker's series (worker 0 gathers them); /metrics would be worker 0's alone.
  fluentd: { port: 24231, path: "/aggregated_metrics", portName: "metrics" },
  fluentBit: { port: 2020, path: "/api/v2/metrics/prometheus", portName: "http" },
  esExporter: { port: 9108, path: "/metrics", portName: "http" },
} as const;
