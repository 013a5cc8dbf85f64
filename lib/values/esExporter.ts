import type { MetricsStyle } from "../names";
import { elasticsearchUrl } from "../names";
import { SCRAPE } from "../monitoring/metrics";
import { scrapeAnnotations } from "../monitoring/scrape";
import { SECRETS } from "../secrets";
import { ES_EXPORTER_USER } from "./elasticsearch";

/** The chart and the one version these values are written for (see `PinnedChart`): exporter v1.11.0. */
export const ES_EXPORTER_CHART = { chart: "prometheus-elasticsearch-exporter", version: "7.4.0" } as const;

/** The Deployment's and Service's name. */
export const ES_EXPORTER_FULLNAME = "elasticsearch-exporter";

const CA_DIR = "/ssl";

export interface EsExporterValuesInput {
  /** Namespace of Elasticsearch (and of the exporter). */
  namespace: string;
  /** Whether Elasticsearch has dedicated masters: clients then reach it through the data nodes' Service. */
  esDedicatedMasters: boolean;
  metrics: MetricsStyle;
  /** Snapshots are configured: collect the repository's snapshots and SLM's statistics. */
  snapshots?: boolean;
}

/**
 * Values for the prometheus-community/prometheus-elasticsearch-exporter 7.4.0 chart: Elasticsearch over
 * HTTPS verified against our CA (the CA Secret mounted, no client certificate), as a file-realm user that
 * may only monitor (`ES_USERNAME`, and `ES_PASSWORD` from a Secret). Cluster health, every node's stats
 * (disk) and per-index document counts, and with snapshots configured the repository's snapshots and SLM's
 * statistics; no mappings, settings, shards or aliases, which would need more privileges.
 */
export function esExporterValues(v: EsExporterValuesInput): Record<string, unknown> {
  return {
    fullnameOverride: ES_EXPORTER_FULLNAME,
    es: {
      uri: elasticsearchUrl(v.namespace, v.esDedicatedMasters),
      all: true,
      indices: true,
      indices_settings: false,
      indices_mappings: false,
      shards: false,
      // The chart's `--collector.snapshots` and `--collector.slm` (templates/deployment.yaml); their
      // privileges are ES_EXPORTER_SNAPSHOT_PRIVILEGES, granted only when snapshots are configured.
      snapshots: v.snapshots === true,
      ...(v.snapshots ? { slm: true } : {}),
      cluster_settings: false,
      aliases: false,
      ssl: {
        enabled: true,
        useExistingSecrets: true,
        ca: { path: `${CA_DIR}/${SECRETS.ca.keys.ca}` },
        client: { enabled: false },
      },
    },
    secretMounts: [{ name: "ca", secretName: SECRETS.ca.name, path: CA_DIR }],
    env: { ES_USERNAME: ES_EXPORTER_USER },
    extraEnvSecrets: {
      ES_PASSWORD: {
        secret: SECRETS.esExporterCredentials.name,
        key: SECRETS.esExporterCredentials.keys.password,
      },
    },
    // In the cluster only: Prometheus reaches it there.
    service: { type: "ClusterIP", httpPort: SCRAPE.esExporter.port },
    podAnnotations: scrapeAnnotations(v.metrics, SCRAPE.esExporter),
    resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "128Mi" } },
  };
}
