/**
 * The pipeline's alerts, as Prometheus rule groups: plain data, for a PrometheusRule object and for the
 * rules file `npm run render` writes. Every alert carries `cluster` (the cluster it is about) and, where
 * one pod is at fault, `pod`; `severity` is `critical` when logs are being lost or will be soon, `warning`
 * otherwise. The README's alert table gives each one's meaning and first action; `runbook` repeats it.
 */

import { FLUENT_BIT_OUTPUT_ALIAS } from "../render/fluentBit";
import { FLUENTD_ES_OUTPUT_ID } from "../render/fluentd";
import {
  ES_EXPORTER_METRICS,
  EFK_METRICS,
  FLUENT_BIT_METRICS,
  FLUENTD_OUTPUT_METRICS,
  KUBE_METRICS,
} from "./metrics";
import { FLUENTD_FULLNAME } from "../names";
import { SLM_POLICY, SNAPSHOT_REPOSITORY, snapshotMaxAgeHours } from "../snapshots";

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: { summary: string; description: string; runbook: string };
}

export interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

/** Thresholds users tune (config keys). */
export interface AlertThresholds {
  /** A registered cluster that sent nothing for this many minutes is silent. */
  silentClusterMinutes: number;
  /** Buffer use, in percent of its limit, that warns (aggregator and agents). */
  bufferPercent: number;
  /** Elasticsearch data disk use, in percent, that warns (its low watermark is 85%). */
  esDiskPercent: number;
}

export interface AlertsInput {
  /** The namespace the pipeline runs in on this cluster: every selector is limited to it. */
  namespace: string;
  /** This cluster's name: the `cluster` label of alerts about its own pods. */
  clusterName: string;
  thresholds: AlertThresholds;
}

export interface CentralAlertsInput extends AlertsInput {
  /** Every registered cluster (this one and its edges): each must keep sending. */
  clusters: string[];
  /** Hours between snapshots, when snapshots are configured: their alerts exist only then. */
  snapshotIntervalHours?: number;
}

const AGGREGATOR_PODS = `${FLUENTD_FULLNAME}-[0-9]+`;

/** A PromQL string literal. */
function q(value: string): string {
  return JSON.stringify(value);
}

function sel(metric: string, matchers: Record<string, string>, regex: Record<string, string> = {}): string {
  const parts = [
    ...Object.entries(matchers).map(([k, v]) => `${k}=${q(v)}`),
    ...Object.entries(regex).map(([k, v]) => `${k}=~${q(v)}`),
  ];
  return `${metric}{${parts.join(", ")}}`;
}

function alert(
  name: string,
  expr: string,
  duration: string | undefined,
  severity: "critical" | "warning",
  labels: Record<string, string>,
  summary: string,
  description: string,
  runbook: string,
): AlertRule {
  return {
    alert: name,
    expr,
    ...(duration ? { for: duration } : {}),
    labels: { severity, ...labels },
    annotations: { summary, description, runbook },
  };
}

/** Alerts about the node agents of one cluster (every stack has them). */
export function agentRules(i: AlertsInput): RuleGroup {
  const out = { namespace: i.namespace, name: FLUENT_BIT_OUTPUT_ALIAS };
  const here = { cluster: i.clusterName };
  return {
    name: "efk-agent",
    rules: [
      alert(
        "EfkAgentRetrying",
        `increase(${sel(FLUENT_BIT_METRICS.retries, out)}[10m]) > 0`,
        "15m",
        "warning",
        here,
        "Fluent Bit {{ $labels.pod }} has been retrying delivery to the aggregator for 15 minutes",
        "Its records wait in its disk buffer; they are delivered once the aggregator answers.",
        "Check the agent's log for the error, then the aggregator's endpoint, certificate and credentials.",
      ),
      alert(
        "EfkAgentDropping",
        `increase(${sel(FLUENT_BIT_METRICS.dropped, out)}[10m]) > 0`,
        undefined,
        "critical",
        here,
        "Fluent Bit {{ $labels.pod }} dropped {{ $value }} records in 10 minutes",
        "Its disk buffer was full, so it dropped its oldest chunks: those logs are lost.",
        "Restore delivery to the aggregator first; raise fluentBitBufferSize if outages outlast it.",
      ),
      alert(
        "EfkAgentBufferNearFull",
        `100 - ${sel(FLUENT_BIT_METRICS.availableCapacity, out)} > ${i.thresholds.bufferPercent}`,
        "5m",
        "warning",
        here,
        "Fluent Bit {{ $labels.pod }}'s disk buffer is {{ $value }}% full",
        `Above ${i.thresholds.bufferPercent}% of fluentBitBufferSize; when full, the oldest records are dropped.`,
        "Find why the aggregator does not take the records (EfkAgentRetrying, the aggregator's alerts).",
      ),
    ],
  };
}

/** Alerts about the aggregator, the registered clusters and Elasticsearch (central stacks). */
export function centralRules(i: CentralAlertsInput): RuleGroup[] {
  const ns = { namespace: i.namespace };
  const here = { cluster: i.clusterName };
  const es = { ...ns, plugin_id: FLUENTD_ES_OUTPUT_ID };
  const minutes = i.thresholds.silentClusterMinutes;
  const registered = i.clusters
    .map((c) => `label_replace(vector(1), "cluster", ${q(c)}, "", "")`)
    .join(" or ");
  const sending = `sum by (cluster) (increase(${sel(EFK_METRICS.recordsIn, ns)}[${minutes}m])) > 0`;
  const diskUsed = `100 * (1 - ${sel(ES_EXPORTER_METRICS.diskAvailable, ns)} / ${sel(ES_EXPORTER_METRICS.diskSize, ns)})`;
  return [
    {
      name: "efk-aggregator",
      rules: [
        alert(
          "EfkAggregatorNotReady",
          `${sel(KUBE_METRICS.podReady, { ...ns, condition: "true" }, { pod: AGGREGATOR_PODS })} == 0`,
          "5m",
          "critical",
          here,
          "Aggregator pod {{ $labels.pod }} has not been ready for 5 minutes",
          "Edges connected to it retry elsewhere or buffer; its own buffered records wait on its volume.",
          "kubectl describe pod and kubectl logs on it: a crash, a full volume, a missing Secret.",
        ),
        alert(
          "EfkAggregatorReplicasMissing",
          `${sel(KUBE_METRICS.statefulSetReady, { ...ns, statefulset: FLUENTD_FULLNAME })} < ${sel(KUBE_METRICS.statefulSetReplicas, { ...ns, statefulset: FLUENTD_FULLNAME })}`,
          "10m",
          "critical",
          here,
          "{{ $value }} aggregator pods are ready, fewer than the StatefulSet wants",
          "A pod is missing or not ready: unschedulable, crash-looping, or its volume is not bound.",
          "kubectl get pods,pvc in the namespace; describe the missing pod.",
        ),
        alert(
          "EfkAggregatorBufferNearFull",
          `100 - ${sel(FLUENTD_OUTPUT_METRICS.availableSpace, es)} > ${i.thresholds.bufferPercent}`,
          "5m",
          "critical",
          here,
          "Aggregator {{ $labels.pod }}'s buffer is {{ $value }}% full",
          `Above ${i.thresholds.bufferPercent}% of its limit; when full it stops accepting and edges buffer instead.`,
          "Elasticsearch is slow or refusing (EfkAggregatorOutputFailing, its health); add replicas or storage.",
        ),
        alert(
          "EfkAggregatorBufferGrowing",
          `predict_linear(${sel(FLUENTD_OUTPUT_METRICS.availableSpace, es)}[1h], 4 * 3600) <= 0 and ${sel(FLUENTD_OUTPUT_METRICS.availableSpace, es)} < 95`,
          "30m",
          "warning",
          here,
          "Aggregator {{ $labels.pod }}'s buffer will be full within 4 hours at the last hour's rate",
          "Records arrive faster than Elasticsearch takes them, steadily.",
          "Look at Elasticsearch's indexing rate and health; add aggregator replicas or Elasticsearch capacity.",
        ),
        alert(
          "EfkAggregatorOutputFailing",
          `increase(${sel(FLUENTD_OUTPUT_METRICS.errors, es)}[10m]) > 0`,
          "15m",
          "warning",
          here,
          "Aggregator {{ $labels.pod }} has failed to write to Elasticsearch for 15 minutes",
          "Every failed bulk request is retried; records wait in the buffer meanwhile.",
          "kubectl logs on the pod: the error (refused credentials, 429, 503, TLS) says where to look.",
        ),
        alert(
          "EfkDeadLetterRecords",
          `sum by (namespace, pod, cluster) (increase(${sel(EFK_METRICS.deadLetters, ns)}[10m])) > 0`,
          undefined,
          "warning",
          {},
          "{{ $value }} records from cluster {{ $labels.cluster }} went to the dead-letter file on {{ $labels.pod }}",
          "Elasticsearch refused them for good (a mapping conflict, say); they are kept on the pod's volume.",
          "Read /var/log/fluent/dead-letter/ on the pod and the 400 reason in its log; fix the mapping or the app.",
        ),
        alert(
          "EfkForwardRefused",
          `sum by (namespace, pod, reason) (increase(${sel(EFK_METRICS.refusals, ns)}[10m])) > 0`,
          undefined,
          "warning",
          here,
          "Aggregator {{ $labels.pod }} refused {{ $value }} forward connections ({{ $labels.reason }})",
          "A forwarder presented a wrong shared key, user or password, or no valid client certificate.",
          "Find the client in the pod's log (address, hostname, username); update or revoke that edge.",
        ),
        alert(
          "EfkForwardImpersonation",
          `sum by (namespace, pod, cluster) (increase(${sel(EFK_METRICS.impersonations, ns)}[10m])) > 0`,
          undefined,
          "critical",
          {},
          "Cluster {{ $labels.cluster }} sent {{ $value }} records naming another cluster",
          "Its records were stored under its own name, as always; but its agents should never name another cluster: its configuration was changed, or it is compromised.",
          "Look at the cluster's Fluent Bit configuration (its record_modifier); if you did not change it, revoke and re-key the cluster.",
        ),
      ],
    },
    {
      name: "efk-clusters",
      rules: [
        alert(
          "EfkClusterSilent",
          `(${registered}) unless on (cluster) (${sending})`,
          undefined,
          "critical",
          {},
          `Registered cluster {{ $labels.cluster }} has sent no record for ${minutes} minutes`,
          "Its agents are down, cannot reach the aggregator, or are refused (EfkForwardRefused).",
          "On that cluster: kubectl -n <namespace> logs ds/fluent-bit; its EfkAgent* alerts.",
        ),
      ],
    },
    {
      name: "efk-elasticsearch",
      rules: [
        alert(
          "EfkElasticsearchNotGreen",
          `max by (namespace) (${sel(ES_EXPORTER_METRICS.health, { ...ns, color: "green" })}) == 0`,
          "10m",
          "critical",
          here,
          "Elasticsearch has not been green for 10 minutes",
          "Yellow: a replica is unassigned, one node's loss would lose data. Red: a primary is missing.",
          "GET _cluster/health and _cluster/allocation/explain as elastic; look for a down node or a full disk.",
        ),
        alert(
          "EfkElasticsearchMetricsMissing",
          `absent(${sel(ES_EXPORTER_METRICS.health, ns)})`,
          "15m",
          "warning",
          here,
          "No Elasticsearch health has been scraped for 15 minutes",
          "The exporter is down or cannot reach Elasticsearch: its health alerts cannot fire.",
          "kubectl logs deploy/elasticsearch-exporter in the namespace: its error says what it cannot reach.",
        ),
        alert(
          "EfkElasticsearchDiskNearWatermark",
          `label_replace(${diskUsed}, "pod", "$1", "name", "(.+)") > ${i.thresholds.esDiskPercent}`,
          "10m",
          "warning",
          here,
          "Elasticsearch node {{ $labels.pod }}'s data disk is {{ $value }}% full",
          "At 85% Elasticsearch allocates no more shards to it, at 90% it moves them away, at 95% indices go read-only.",
          "Lower retentionDays, or raise esStorageSize (the volumes must allow expansion).",
        ),
      ],
    },
    agentRules(i),
  ];
}

/**
 * Alerts about the central's snapshots (only with snapshots configured). The age limit comes from the
 * schedule (`snapshotMaxAgeHours`): a separate threshold could disagree with the schedule, and an interval
 * that divides the day has one gap between snapshots, so the limit is exact.
 */
export function snapshotRules(i: AlertsInput, intervalHours: number): RuleGroup {
  const here = { cluster: i.clusterName };
  const maxAge = snapshotMaxAgeHours(intervalHours);
  const repository = { namespace: i.namespace, repository: SNAPSHOT_REPOSITORY };
  return {
    name: "efk-snapshots",
    rules: [
      alert(
        "EfkSnapshotStale",
        `time() - ${sel(ES_EXPORTER_METRICS.latestSnapshotTime, repository)} > ${maxAge * 3600}`,
        "15m",
        "warning",
        here,
        `Elasticsearch's latest successful snapshot is more than ${maxAge} hours old`,
        `Snapshots are due every ${intervalHours} hours; logs since the latest one would be lost with the cluster.`,
        "GET _slm/policy/efk-snapshots as elastic (last_failure), GET _slm/status (RUNNING?); EfkSnapshotFailed says why.",
      ),
      alert(
        "EfkSnapshotFailed",
        `increase(${sel(ES_EXPORTER_METRICS.slmSnapshotsFailed, { namespace: i.namespace, policy: SLM_POLICY })}[1h]) > 0`,
        undefined,
        "warning",
        here,
        "A snapshot of policy {{ $labels.policy }} failed in the last hour",
        "SLM could not complete a snapshot (the store refused, a shard failed); the next one is due on schedule.",
        "GET _slm/policy/efk-snapshots as elastic: last_failure.details holds the store's error; POST _slm/policy/efk-snapshots/_execute once fixed.",
      ),
    ],
  };
}

/** Hours before expiry below which a certificate in use is critical: days to act, whatever the window. */
export const CERT_EXPIRY_CRITICAL_HOURS = 72;
/**
 * Hours a certificate may spend inside its renewal window before it warns: the drift workflow runs daily,
 * so two missed runs (or a renewal that did not reach the service) and no more; a quarter of a short window.
 */
export const CERT_RENEWAL_GRACE_HOURS = 48;
/**
 * A CA certificate warns this many days before it expires: no workflow renews one, and a rotation takes
 * three `pulumi up`s of the central and every edge in between (README, Rotating the certificate authority).
 */
export const CA_EXPIRY_WARNING_DAYS = 90;

/** The expiry thresholds of the certificate alerts, in hours, from `certRenewalHours`. */
export function certificateExpiryThresholds(renewalHours: number): {
  warningHours: number;
  criticalHours: number;
} {
  const warningHours = renewalHours - Math.min(CERT_RENEWAL_GRACE_HOURS, renewalHours / 4);
  return { warningHours, criticalHours: Math.min(CERT_EXPIRY_CRITICAL_HOURS, warningHours / 2) };
}

/**
 * Alerts on the certificates in use (the aggregator's `efk_certificates` probe and the edges' handshakes).
 * A renewed certificate replaces its series, so renewal clears them. Series of one certificate seen by
 * several aggregator pods or workers are one (their latest: `max`), and a certificate of the central's own
 * services, which carries no cluster, is this cluster's.
 */
export function certificateRules(i: AlertsInput, renewalHours: number): RuleGroup {
  const ns = { namespace: i.namespace };
  const { warningHours, criticalHours } = certificateExpiryThresholds(renewalHours);
  const inUse = (matchers: Record<string, string>) =>
    `label_replace(max without (pod, instance, worker_id) (${sel(EFK_METRICS.certificateExpiry, { ...ns, ...matchers })}), "cluster", ${q(i.clusterName)}, "cluster", "")`;
  const left = (matchers: Record<string, string>) => `(${inUse(matchers)} - time())`;
  const days = (h: number) => `${Math.round((h / 24) * 10) / 10} days`;
  return {
    name: "efk-certificates",
    rules: [
      alert(
        "EfkCertificateExpiringSoon",
        `${left({ ca: "false" })} < ${warningHours * 3600} or ${left({ ca: "true" })} < ${CA_EXPIRY_WARNING_DAYS * 86400}`,
        "1h",
        "warning",
        {},
        "Certificate {{ $labels.subject }} ({{ $labels.kind }}, {{ $labels.source }}) expires in {{ $value | humanizeDuration }}",
        `A service or client certificate in use is within ${days(warningHours)} of expiry (certRenewalHours is ${days(renewalHours)}): its renewal did not happen or did not reach the service. A CA warns ${CA_EXPIRY_WARNING_DAYS} days ahead: nothing renews a CA.`,
        "Run the drift workflow (or pulumi up on the central, then the edge of cluster {{ $labels.cluster }}); if the stack already holds a new certificate, restart what serves the old one. A CA: rotate it (README, Rotating the certificate authority).",
      ),
      alert(
        "EfkCertificateExpiryCritical",
        `${left({})} < ${criticalHours * 3600}`,
        undefined,
        "critical",
        {},
        "Certificate {{ $labels.subject }} ({{ $labels.kind }}, {{ $labels.source }}) expires in {{ $value | humanizeDuration }}",
        `Within ${days(criticalHours)} of expiry: then TLS handshakes with it fail and logs stop flowing.`,
        "Renew now: pulumi up the central stack (then the edge of cluster {{ $labels.cluster }} for an edge-client certificate), and check the series clears.",
      ),
      alert(
        "EfkCertificateProbeFailing",
        `min without (instance, worker_id) (${sel(EFK_METRICS.certificateProbe, ns)}) == 0`,
        "15m",
        "warning",
        { cluster: i.clusterName },
        "Aggregator {{ $labels.pod }} cannot read the {{ $labels.kind }} certificate at {{ $labels.source }}",
        "Its expiry is unknown, so the certificate alerts cannot fire for it: the file is missing or unreadable, or the endpoint does not answer TLS.",
        "kubectl logs on the pod: 'Certificate probe' lines name the error; check the endpoint's Service and pods, or the mounted file.",
      ),
    ],
  };
}

/** Every rule group of a stack: the central's, or an edge's agent alerts. */
export function ruleGroups(
  i: AlertsInput & { clusters?: string[]; snapshotIntervalHours?: number; certRenewalHours?: number },
): RuleGroup[] {
  if (!i.clusters) return [agentRules(i)];
  const central = [
    ...centralRules({ ...i, clusters: i.clusters }),
    ...(i.certRenewalHours === undefined ? [] : [certificateRules(i, i.certRenewalHours)]),
  ];
  return i.snapshotIntervalHours === undefined
    ? central
    : [...central, snapshotRules(i, i.snapshotIntervalHours)];
}
