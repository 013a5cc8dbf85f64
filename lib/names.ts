/**
 * Names that the charts derive from values, computed here once so that Secrets, certificate SANs and
 * URLs agree with what the charts render. The chart templates these mirror are cited beside each.
 */

import type { ForwardEndpoint } from "./centralOutputs";

/** Helm release names. Explicit, because several chart object names derive from them. */
export const RELEASES = {
  elasticsearch: "elasticsearch",
  kibana: "kibana",
  fluentd: "fluentd",
  fluentBit: "fluent-bit",
  /** With dedicated masters, the data nodes' release (the `elasticsearch` release then holds the masters). */
  elasticsearchData: "elasticsearch-data",
} as const;

/**
 * elasticsearch chart: clusterName + nodeGroup make `uname`, which names the StatefulSet and Services
 * (_helpers.tpl `elasticsearch.uname`). This group holds every node, or the dedicated masters.
 */
export const ES_CLUSTER_NAME = "elasticsearch";
export const ES_NODE_GROUP = "master";
export const ES_UNAME = `${ES_CLUSTER_NAME}-${ES_NODE_GROUP}`;
export const ES_HEADLESS_SERVICE = `${ES_UNAME}-headless`;
/** How many dedicated masters may be asked for: 0 (every node master-eligible) or a small odd quorum. */
export const ES_DEDICATED_MASTER_COUNTS = [0, 3, 5] as const;
/** With dedicated masters, the data nodes' group: its own StatefulSet and Services. */
export const ES_DATA_NODE_GROUP = "data";
export const ES_DATA_UNAME = `${ES_CLUSTER_NAME}-${ES_DATA_NODE_GROUP}`;
export const ES_DATA_HEADLESS_SERVICE = `${ES_DATA_UNAME}-headless`;
/** The `elastic` credentials, under the name the chart would give them (`<uname>-credentials`). */
export const ES_CREDENTIALS_SECRET = `${ES_UNAME}-credentials`;
export const ES_HTTP_PORT = 9200;
/** Elasticsearch's transport port (the chart's `transportPort`), on every node behind the headless Services. */
export const ES_TRANSPORT_PORT = 9300;

/** kibana chart: `<release>-kibana` names the Deployment, the Service and the token Secret's prefix. */
export const KIBANA_FULLNAME = `${RELEASES.kibana}-kibana`;
export const KIBANA_PORT = 5601;

/** fluentd chart: fullname is `<release>` when the release name contains the chart name. */
export const FLUENTD_FULLNAME = RELEASES.fluentd;
export const FLUENTD_FORWARD_PORT = 24224;
/** fluentd chart: the aggregator pods' labels (_helpers.tpl `fluentd.selectorLabels`; no nameOverride). */
export const FLUENTD_SELECTOR_LABELS = {
  "app.kubernetes.io/name": "fluentd",
  "app.kubernetes.io/instance": RELEASES.fluentd,
} as const;

/** The in-cluster DNS names of a Service, shortest first. */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.cluster.local`,
  ];
}

/**
 * The Service clients send HTTP requests to: the one group's, or with dedicated masters the data nodes',
 * so that masters take no client traffic (their release has no client Service then).
 */
export function elasticsearchClientService(dedicatedMasters: boolean): string {
  return dedicatedMasters ? ES_DATA_UNAME : ES_UNAME;
}

/**
 * Names an Elasticsearch node answers to: the client Service, and each group's headless Service and the
 * pods behind it. Both groups share one certificate (one TLS Secret).
 */
export function elasticsearchDnsNames(namespace: string, dedicatedMasters: boolean): string[] {
  const headless = (service: string) => [
    ...serviceDnsNames(service, namespace),
    `*.${service}.${namespace}.svc`,
    `*.${service}.${namespace}.svc.cluster.local`,
  ];
  return [
    ...serviceDnsNames(elasticsearchClientService(dedicatedMasters), namespace),
    ...(dedicatedMasters ? headless(ES_DATA_HEADLESS_SERVICE) : []),
    ...headless(ES_HEADLESS_SERVICE),
    // kubectl port-forward: lets an operator verify the certificate from a laptop.
    "localhost",
  ];
}

export function kibanaDnsNames(namespace: string, externalHosts: string[]): string[] {
  return unique([...serviceDnsNames(KIBANA_FULLNAME, namespace), ...externalHosts, "localhost"]);
}

/** The Fluentd aggregator: its Services (in-cluster and external) plus the names edges reach it by. */
export function fluentdDnsNames(namespace: string, externalHosts: string[]): string[] {
  return unique([
    ...serviceDnsNames(FLUENTD_FULLNAME, namespace),
    ...serviceDnsNames(`${FLUENTD_FULLNAME}-external`, namespace),
    ...externalHosts,
  ]);
}

/** The URL every in-cluster client uses for Elasticsearch; its host is in the certificate. */
export function elasticsearchUrl(namespace: string, dedicatedMasters: boolean): string {
  return `https://${elasticsearchClientService(dedicatedMasters)}.${namespace}.svc:${ES_HTTP_PORT}`;
}

export function kibanaUrl(namespace: string): string {
  return `https://${KIBANA_FULLNAME}.${namespace}.svc:${KIBANA_PORT}`;
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

/** How edge clusters reach the aggregator: a cloud load balancer, a port on every node, or not at all. */
export const FLUENTD_SERVICE_TYPES = ["LoadBalancer", "NodePort", "None"] as const;
export type FluentdServiceType = (typeof FLUENTD_SERVICE_TYPES)[number];

/** The aggregator as forwarders on the central cluster reach it. */
export function inClusterForwardEndpoint(namespace: string): ForwardEndpoint {
  const host = `${FLUENTD_FULLNAME}.${namespace}.svc`;
  return { host, port: FLUENTD_FORWARD_PORT, serverName: host };
}

/**
 * The aggregator as edge clusters reach it: the first external name, else the first external IP (then
 * checked against a DNS name that is in the certificate, because host name checks do not match IPs).
 */
export function externalForwardEndpoint(
  namespace: string,
  hosts: string[],
  ips: string[],
  serviceType: FluentdServiceType,
  nodePort: number,
): ForwardEndpoint | undefined {
  const host = hosts[0] ?? ips[0];
  if (serviceType === "None" || host === undefined) {
    return undefined;
  }
  return {
    host,
    port: serviceType === "NodePort" ? nodePort : FLUENTD_FORWARD_PORT,
    serverName: hosts[0] ?? `${FLUENTD_FULLNAME}-external.${namespace}.svc`,
  };
}

/** How Prometheus finds the pipeline's metrics (`metrics`). */
export const METRICS_STYLES = ["prometheus-operator", "annotations", "none"] as const;
export type MetricsStyle = (typeof METRICS_STYLES)[number];
