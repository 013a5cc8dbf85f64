import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import { RELEASES, type MetricsStyle } from "../lib/names";
import { grafanaDashboard } from "../lib/monitoring/dashboard";
import { SCRAPE } from "../lib/monitoring/metrics";
import type { ScrapeTarget } from "../lib/monitoring/scrape";
import { ruleGroups, type AlertThresholds } from "../lib/monitoring/rules";
import { SECRETS } from "../lib/secrets";
import { ES_EXPORTER_CHART, ES_EXPORTER_FULLNAME, esExporterValues } from "../lib/values/esExporter";
import { helmRelease } from "./helm";
import { kubernetesSecret } from "./secrets";

/** How Prometheus finds the pipeline and what it is told to alert on (the same keys on every stack). */
export interface MonitoringSettings {
  style: MetricsStyle;
  /** PrometheusRule objects (only with the operator's style). */
  rules: boolean;
  /** Labels on the operator's objects, for the Prometheus that selects them. */
  labels: Record<string, string>;
  thresholds: AlertThresholds;
}

/** What only the central stack monitors: Elasticsearch (through the exporter) and the dashboard. */
export interface CentralMonitoringSettings extends MonitoringSettings {
  /** The Grafana dashboard ConfigMap. */
  dashboard: boolean;
  /** Helm repository of the exporter chart. */
  exporterChartRepo: string;
  /** Hours between snapshots when snapshots are configured: the exporter collects them, the rules alert. */
  snapshotIntervalHours?: number;
}

export interface MonitoringArgs {
  clusterName: string;
  namespace: string;
  namespaceRef: pulumi.Input<string>;
  settings: MonitoringSettings;
  /** Central stacks: every registered cluster, the dashboard, and what the exporter needs. */
  central?: {
    clusters: string[];
    /** The Grafana dashboard ConfigMap. */
    dashboard: boolean;
    /** Helm repository of the exporter chart. */
    exporterChartRepo: string;
    /** Hours between snapshots, when snapshots are configured. */
    snapshotIntervalHours?: number;
    /** `certRenewalHours`: the certificate alerts fire when a certificate in use passes it unrenewed. */
    certRenewalHours: number;
    dataStreamPrefix: string;
    timeoutSeconds: number;
    /** The exporter's Elasticsearch password (secret). */
    exporterPassword: pulumi.Input<string>;
    /** Whether Elasticsearch has dedicated masters (the exporter then reads it through the data nodes). */
    esDedicatedMasters: boolean;
    /** What must be ready before the exporter: the Elasticsearch release (its user lives there). */
    after: pulumi.Resource[];
  };
}

/** The group and version of the Prometheus Operator's objects. */
const MONITORING_API = "monitoring.coreos.com/v1";

/** The charts' Services, by their selector labels: what a ServiceMonitor picks. */
export const MONITORED_SERVICES = {
  fluentd: { name: "fluentd", instance: RELEASES.fluentd, target: SCRAPE.fluentd },
  fluentBit: { name: "fluent-bit", instance: RELEASES.fluentBit, target: SCRAPE.fluentBit },
  esExporter: { name: ES_EXPORTER_CHART.chart, instance: ES_EXPORTER_FULLNAME, target: SCRAPE.esExporter },
} as const;

/** The rules file: what the PrometheusRule holds, for a Prometheus that reads files; and its ConfigMap. */
export const RULES_FILE = "efk-alerts.yaml";
export const ALERT_RULES_CONFIGMAP = "efk-alert-rules";
/** The dashboard's ConfigMap, for Grafana's sidecar. */
export const DASHBOARD_CONFIGMAP = "efk-grafana-dashboard";

/**
 * Metrics scraping, alerts and the dashboard. With `annotations` the workloads carry `prometheus.io/*`
 * annotations (set by their values builders), with `prometheus-operator` this component declares
 * ServiceMonitors (and PrometheusRules when asked), and with `none` nothing is scraped. Objects of the
 * operator's kinds are declared only with its style, so a cluster without its CRDs deploys with the
 * default. The rules are always in a ConfigMap, for a Prometheus that loads rule files.
 */
export class Monitoring extends pulumi.ComponentResource {
  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super("efk:logging:Monitoring", name, {}, opts);
    const s = args.settings;
    const groups = ruleGroups({
      namespace: args.namespace,
      clusterName: args.clusterName,
      thresholds: s.thresholds,
      clusters: args.central?.clusters,
      snapshotIntervalHours: args.central?.snapshotIntervalHours,
      certRenewalHours: args.central?.certRenewalHours,
    });
    const labels = { "app.kubernetes.io/part-of": "efk-pulumi" };
    const metadata = (objectName: string, extra: Record<string, string> = {}) => ({
      name: objectName,
      namespace: args.namespaceRef,
      labels: { ...labels, ...extra },
    });

    new k8s.core.v1.ConfigMap(
      `${name}-rules`,
      {
        metadata: metadata(ALERT_RULES_CONFIGMAP),
        data: { [RULES_FILE]: stringify({ groups }, { lineWidth: 0 }) },
      },
      { parent: this },
    );

    const central = args.central;
    if (central && s.style !== "none") {
      const credentials = kubernetesSecret(
        `${name}-exporter-credentials`,
        SECRETS.esExporterCredentials.name,
        args.namespaceRef,
        { [SECRETS.esExporterCredentials.keys.password]: central.exporterPassword },
        this,
      );
      helmRelease(
        `${name}-exporter`,
        {
          chart: ES_EXPORTER_CHART,
          repo: central.exporterChartRepo,
          releaseName: ES_EXPORTER_FULLNAME,
          namespace: args.namespaceRef,
          values: esExporterValues({
            namespace: args.namespace,
            esDedicatedMasters: central.esDedicatedMasters,
            metrics: s.style,
            snapshots: central.snapshotIntervalHours !== undefined,
          }),
          timeoutSeconds: central.timeoutSeconds,
        },
        { parent: this, dependsOn: [...central.after, credentials] },
      );
    }

    if (s.style === "prometheus-operator") {
      const monitored = central
        ? [MONITORED_SERVICES.fluentd, MONITORED_SERVICES.fluentBit, MONITORED_SERVICES.esExporter]
        : [MONITORED_SERVICES.fluentBit];
      for (const svc of monitored) {
        new k8s.apiextensions.CustomResource(
          `${name}-${svc.instance}`,
          {
            apiVersion: MONITORING_API,
            kind: "ServiceMonitor",
            metadata: metadata(`efk-${svc.instance}`, s.labels),
            spec: serviceMonitorSpec(args.namespace, svc.name, svc.instance, svc.target),
          },
          { parent: this },
        );
      }
      if (s.rules) {
        new k8s.apiextensions.CustomResource(
          `${name}-prometheus-rule`,
          {
            apiVersion: MONITORING_API,
            kind: "PrometheusRule",
            metadata: metadata("efk-alerts", s.labels),
            spec: { groups },
          },
          { parent: this },
        );
      }
    }

    if (central?.dashboard) {
      new k8s.core.v1.ConfigMap(
        `${name}-dashboard`,
        {
          // Grafana's dashboard sidecar (the grafana chart's sidecar.dashboards) loads ConfigMaps with this label.
          metadata: metadata(DASHBOARD_CONFIGMAP, { grafana_dashboard: "1" }),
          data: {
            "efk-pipeline.json": JSON.stringify(
              grafanaDashboard({ namespace: args.namespace, dataStreamPrefix: central.dataStreamPrefix }),
              null,
              2,
            ),
          },
        },
        { parent: this },
      );
    }
    this.registerOutputs({});
  }
}

/** A ServiceMonitor of one chart's Service, in the pipeline's namespace only. */
export function serviceMonitorSpec(
  namespace: string,
  appName: string,
  instance: string,
  target: ScrapeTarget & { portName: string },
): Record<string, unknown> {
  return {
    selector: { matchLabels: { "app.kubernetes.io/name": appName, "app.kubernetes.io/instance": instance } },
    namespaceSelector: { matchNames: [namespace] },
    endpoints: [{ port: target.portName, path: target.path, interval: "30s" }],
  };
}
