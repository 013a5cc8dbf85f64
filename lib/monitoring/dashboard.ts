/**
 * The pipeline's Grafana dashboard: records per second per cluster in (at the aggregator) and out (into
 * Elasticsearch), buffer use, retries and errors, refusals, dead letters, and Elasticsearch's health.
 * Queries are limited to the pipeline's namespace; the integration tests pass every one through promtool.
 */

import { FLUENT_BIT_OUTPUT_ALIAS } from "../render/fluentBit";
import { FLUENTD_ES_OUTPUT_ID } from "../render/fluentd";
import { ES_EXPORTER_METRICS, EFK_METRICS, FLUENT_BIT_METRICS, FLUENTD_OUTPUT_METRICS } from "./metrics";

export interface DashboardInput {
  namespace: string;
  /** Data streams are `<prefix>-<cluster>`: their backing indices name the cluster. */
  dataStreamPrefix: string;
}

export interface Panel {
  title: string;
  description: string;
  type: "timeseries" | "stat";
  unit: string;
  targets: { expr: string; legendFormat: string }[];
}

/** The dashboard's panels, in order (two per row). */
export function dashboardPanels(d: DashboardInput): Panel[] {
  const ns = `namespace="${d.namespace}"`;
  const es = `${ns}, plugin_id="${FLUENTD_ES_OUTPUT_ID}"`;
  const agent = `${ns}, name="${FLUENT_BIT_OUTPUT_ALIAS}"`;
  // A data stream's backing indices are `.ds-<stream>-<yyyy.MM.dd>-<generation>`.
  const backing = `\\\\.ds-${d.dataStreamPrefix.replace(/[.]/g, "\\\\.")}-(.+)-[0-9]{4}\\\\.[0-9]{2}\\\\.[0-9]{2}-[0-9]+`;
  return [
    {
      title: "Records in per cluster",
      description: "Records per second the aggregator accepted, by the cluster they came from.",
      type: "timeseries",
      unit: "reqps",
      targets: [
        { expr: `sum by (cluster) (rate(${EFK_METRICS.recordsIn}{${ns}}[5m]))`, legendFormat: "{{cluster}}" },
      ],
    },
    {
      title: "Records out per cluster",
      description: "Documents per second added to each cluster's data stream in Elasticsearch.",
      type: "timeseries",
      unit: "reqps",
      targets: [
        {
          expr: `sum by (cluster) (label_replace(rate(${ES_EXPORTER_METRICS.indexDocs}{${ns}, index=~"${backing}"}[5m]), "cluster", "$1", "index", "${backing}"))`,
          legendFormat: "{{cluster}}",
        },
      ],
    },
    {
      title: "Aggregator buffer use",
      description: "Share of each aggregator pod's buffer limit in use.",
      type: "timeseries",
      unit: "percent",
      targets: [{ expr: `100 - ${FLUENTD_OUTPUT_METRICS.availableSpace}{${es}}`, legendFormat: "{{pod}}" }],
    },
    {
      title: "Agent disk buffer use",
      description: "Share of each node agent's disk buffer limit in use.",
      type: "timeseries",
      unit: "percent",
      targets: [{ expr: `100 - ${FLUENT_BIT_METRICS.availableCapacity}{${agent}}`, legendFormat: "{{pod}}" }],
    },
    {
      title: "Retries and errors",
      description: "Failed flushes to Elasticsearch (aggregator) and retries to the aggregator (agents).",
      type: "timeseries",
      unit: "short",
      targets: [
        {
          expr: `sum by (pod) (increase(${FLUENTD_OUTPUT_METRICS.errors}{${es}}[5m]))`,
          legendFormat: "aggregator {{pod}}",
        },
        {
          expr: `sum by (pod) (increase(${FLUENT_BIT_METRICS.retries}{${agent}}[5m]))`,
          legendFormat: "agent {{pod}}",
        },
      ],
    },
    {
      title: "Refused forward connections",
      description: "Connections the aggregator refused, by reason, per 5 minutes.",
      type: "timeseries",
      unit: "short",
      targets: [
        {
          expr: `sum by (reason) (increase(${EFK_METRICS.refusals}{${ns}}[5m]))`,
          legendFormat: "{{reason}}",
        },
      ],
    },
    {
      title: "Dead letters and drops",
      description:
        "Records Elasticsearch refused for good (kept in the dead-letter file) and records agents dropped from a full buffer, per 5 minutes.",
      type: "timeseries",
      unit: "short",
      targets: [
        {
          expr: `sum by (cluster) (increase(${EFK_METRICS.deadLetters}{${ns}}[5m]))`,
          legendFormat: "dead letters {{cluster}}",
        },
        {
          expr: `sum by (pod) (increase(${FLUENT_BIT_METRICS.dropped}{${agent}}[5m]))`,
          legendFormat: "dropped {{pod}}",
        },
      ],
    },
    {
      title: "Elasticsearch health",
      description: "Cluster health (2 green, 1 yellow, 0 red) and unassigned shards.",
      type: "stat",
      unit: "short",
      targets: [
        {
          expr: `max(${ES_EXPORTER_METRICS.health}{${ns}, color="green"}) * 2 + max(${ES_EXPORTER_METRICS.health}{${ns}, color="yellow"})`,
          legendFormat: "health",
        },
        { expr: `max(${ES_EXPORTER_METRICS.unassignedShards}{${ns}})`, legendFormat: "unassigned shards" },
      ],
    },
    {
      title: "Elasticsearch disk use",
      description: "Share of each node's data disk in use (Elasticsearch stops allocating at 85%).",
      type: "timeseries",
      unit: "percent",
      targets: [
        {
          expr: `100 * (1 - ${ES_EXPORTER_METRICS.diskAvailable}{${ns}} / ${ES_EXPORTER_METRICS.diskSize}{${ns}})`,
          legendFormat: "{{name}}",
        },
      ],
    },
  ];
}

/** The dashboard JSON (Grafana's dashboard model), with a data source variable. */
export function grafanaDashboard(d: DashboardInput): Record<string, unknown> {
  const datasource = { type: "prometheus", uid: "${datasource}" };
  return {
    title: "EFK pipeline",
    uid: `efk-pipeline-${d.namespace}`.slice(0, 40),
    tags: ["efk-pulumi", "logging"],
    timezone: "browser",
    schemaVersion: 39,
    refresh: "1m",
    time: { from: "now-6h", to: "now" },
    templating: {
      list: [{ name: "datasource", label: "Data source", type: "datasource", query: "prometheus" }],
    },
    panels: dashboardPanels(d).map((p, i) => ({
      id: i + 1,
      type: p.type,
      title: p.title,
      description: p.description,
      datasource,
      gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
      fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
      targets: p.targets.map((t, j) => ({
        datasource,
        expr: t.expr,
        legendFormat: t.legendFormat,
        refId: String.fromCharCode(65 + j),
      })),
    })),
  };
}
