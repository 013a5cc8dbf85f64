import * as pulumi from "@pulumi/pulumi";
import { quantityValue } from "./lib/quantity";
import type { StackConfig } from "./config";
import { Central, type CentralArgs } from "./components/central";
import { Edge } from "./components/edge";
import type { FluentBitSettings } from "./components/fluentBit";
import type { MonitoringSettings } from "./components/monitoring";
import { CENTRAL_OUTPUTS, checkOutput, edgeCredentialsSchema, FORWARD_ENDPOINT } from "./lib/centralOutputs";

/** Stack outputs. Everything secret is wrapped in `pulumi.secret` here, whatever the providers declare. */
export type StackOutputs = Record<string, pulumi.Output<unknown>>;

/** Builds the central or the edge composition from validated configuration. */
export async function deploy(cfg: StackConfig): Promise<StackOutputs> {
  return cfg.role === "central" ? deployCentral(cfg) : deployEdge(cfg);
}

/** The node agents' settings, the same keys on central and edge stacks. */
export function fluentBitSettings(cfg: StackConfig): FluentBitSettings {
  return {
    imageTag: cfg.fluentBitImageTag,
    cpu: cfg.fluentBitCpu,
    memory: cfg.fluentBitMemory,
    bufferSize: cfg.fluentBitBufferSize,
    backfillHours: cfg.fluentBitBackfillHours,
    excludeNamespaces: cfg.fluentBitExcludeNamespaces,
    excludeContainers: cfg.fluentBitExcludeContainers,
    metrics: cfg.metrics,
  };
}

/** `fluentdWorkers`, or one worker per CPU the pod requests, rounded up. */
export function fluentdWorkers(cfg: StackConfig): number {
  return cfg.fluentdWorkers > 0 ? cfg.fluentdWorkers : Math.max(1, Math.ceil(quantityValue(cfg.fluentdCpu)));
}

/** Scraping and alerting, the same keys on central and edge stacks. */
export function monitoringSettings(cfg: StackConfig): MonitoringSettings {
  return {
    style: cfg.metrics,
    rules: cfg.prometheusRules,
    labels: Object.fromEntries(cfg.prometheusLabels.map((l) => l.split("=", 2) as [string, string])),
    thresholds: {
      silentClusterMinutes: cfg.alertSilentClusterMinutes,
      bufferPercent: cfg.alertBufferPercent,
      esDiskPercent: cfg.alertEsDiskPercent,
    },
  };
}

/** The central composition's arguments: the stack configuration, grouped by the part it configures. */
export function centralArgs(cfg: StackConfig): CentralArgs {
  return {
    clusterName: cfg.clusterName,
    namespace: cfg.namespace,
    edgeClusters: cfg.edgeClusters,
    helm: {
      elasticRepo: cfg.elasticChartRepo,
      fluentRepo: cfg.fluentChartRepo,
      timeoutSeconds: cfg.helmTimeoutSeconds,
    },
    certificates: {
      caValidityHours: cfg.caValidityHours,
      certValidityHours: cfg.certValidityHours,
      certRenewalHours: cfg.certRenewalHours,
    },
    elasticsearch: {
      replicas: cfg.esReplicas,
      imageTag: cfg.esImageTag,
      antiAffinity: cfg.esAntiAffinity,
      sysctlInitContainer: cfg.esSysctlInitContainer,
      storageClass: cfg.esStorageClass,
      storageSize: cfg.esStorageSize,
      cpu: cfg.esCpu,
      memory: cfg.esMemory,
      retentionDays: cfg.retentionDays,
    },
    kibana: {
      imageTag: cfg.kibanaImageTag,
      cpu: cfg.kibanaCpu,
      memory: cfg.kibanaMemory,
      hosts: cfg.kibanaHosts,
    },
    fluentd: {
      replicas: cfg.fluentdReplicas,
      imageTag: cfg.fluentdImageTag,
      cpu: cfg.fluentdCpu,
      memory: cfg.fluentdMemory,
      storageClass: cfg.fluentdStorageClass,
      storageSize: cfg.fluentdStorageSize,
      clientCertAuth: cfg.clientCertAuth,
      serviceType: cfg.fluentdServiceType,
      nodePort: cfg.fluentdNodePort,
      externalHosts: cfg.fluentdExternalHosts,
      externalIps: cfg.fluentdExternalIps,
      loadBalancerSourceRanges: cfg.fluentdLoadBalancerSourceRanges,
      metrics: cfg.metrics,
      workers: fluentdWorkers(cfg),
    },
    fluentBit: fluentBitSettings(cfg),
    monitoring: {
      ...monitoringSettings(cfg),
      dashboard: cfg.grafanaDashboard,
      exporterChartRepo: cfg.prometheusChartRepo,
    },
  };
}

function deployCentral(cfg: StackConfig): StackOutputs {
  const central = new Central("efk", centralArgs(cfg));
  const outputs: StackOutputs = {
    elasticsearchUrl: central.elasticsearchUrl,
    kibanaUrl: central.kibanaUrl,
    [CENTRAL_OUTPUTS.caCertPem]: central.caCertPem,
    elasticPassword: pulumi.secret(central.elasticPassword),
    [CENTRAL_OUTPUTS.sharedKey]: pulumi.secret(central.forwardSharedKey),
    [CENTRAL_OUTPUTS.edgeCredentials]: pulumi.secret(central.edgeCredentials),
  };
  if (central.forwardEndpoint) {
    outputs[CENTRAL_OUTPUTS.endpoint] = pulumi.output(central.forwardEndpoint);
  }
  return outputs;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

async function centralOutput(ref: pulumi.StackReference, name: string): Promise<unknown> {
  const details = await ref.getOutputDetails(name);
  return details.secretValue ?? details.value;
}

/**
 * Reads everything from the central stack first and checks it, so that an edge the central does not know,
 * or a central whose outputs this program cannot use, fails at preview before any resource of the edge's
 * own is declared.
 */
async function deployEdge(cfg: StackConfig): Promise<StackOutputs> {
  const central = new pulumi.StackReference("efk-central", { name: cfg.centralStack });
  const [endpoint, caCertPem, sharedKey, credentials] = await Promise.all([
    centralOutput(central, CENTRAL_OUTPUTS.endpoint),
    centralOutput(central, CENTRAL_OUTPUTS.caCertPem),
    centralOutput(central, CENTRAL_OUTPUTS.sharedKey),
    centralOutput(central, CENTRAL_OUTPUTS.edgeCredentials),
  ]);
  const on = `the central stack "${cfg.centralStack}" (efk:centralStack)`;
  const redeploy = `Is it deployed by the same version of this program as this edge? Update it (\`pulumi up --stack ${cfg.centralStack}\`) and try again`;
  if (typeof caCertPem !== "string" || typeof sharedKey !== "string" || !isObject(credentials)) {
    throw new pulumi.RunError(
      `${on} exports no ${CENTRAL_OUTPUTS.caCertPem}, ${CENTRAL_OUTPUTS.sharedKey} or ${CENTRAL_OUTPUTS.edgeCredentials}: ` +
        `is it a central stack, and has \`pulumi up\` run there?`,
    );
  }
  // hasOwn: a cluster named like an Object property ("constructor") must not find one.
  if (!Object.hasOwn(credentials, cfg.clusterName)) {
    // Only a count: the names are other tenants' and this edge's logs are not the place for them.
    const known = Object.keys(credentials).length;
    throw new pulumi.RunError(
      `cluster "${cfg.clusterName}" (efk:clusterName) is not registered on ${on}; it knows ` +
        `${known === 0 ? "no" : known} edge cluster${known === 1 ? "" : "s"}. Add it to efk:edgeClusters there ` +
        `and update that stack first:\n  pulumi config set --path 'edgeClusters[${known}]' ${cfg.clusterName} --stack ${cfg.centralStack}\n` +
        `  pulumi up --stack ${cfg.centralStack}`,
    );
  }
  const mine = checkOutput(edgeCredentialsSchema(cfg.clusterName), credentials[cfg.clusterName]);
  if ("problems" in mine) {
    throw new pulumi.RunError(
      `${on} exports ${CENTRAL_OUTPUTS.edgeCredentials} whose entry for "${cfg.clusterName}" is malformed: ` +
        `${mine.problems.join("; ")}. ${redeploy}`,
    );
  }
  if (!endpoint) {
    throw new pulumi.RunError(
      `${on} exports no ${CENTRAL_OUTPUTS.endpoint}: set efk:fluentdServiceType (LoadBalancer or NodePort) and ` +
        `efk:fluentdExternalHosts there, and run \`pulumi up\` on it`,
    );
  }
  const forward = checkOutput(FORWARD_ENDPOINT, endpoint);
  if ("problems" in forward) {
    throw new pulumi.RunError(
      `${on} exports a malformed ${CENTRAL_OUTPUTS.endpoint}: ${forward.problems.join("; ")}. ${redeploy}`,
    );
  }
  const forwardEndpoint = forward.value;
  const { password, clientCertPem, clientKeyPem } = mine.value;
  const edge = new Edge("efk", {
    clusterName: cfg.clusterName,
    namespace: cfg.namespace,
    chartRepo: cfg.fluentChartRepo,
    timeoutSeconds: cfg.helmTimeoutSeconds,
    fluentBit: fluentBitSettings(cfg),
    monitoring: monitoringSettings(cfg),
    endpoint: forwardEndpoint,
    caCertPem,
    // The Edge component marks both secret itself.
    sharedKey,
    password,
    clientCert:
      clientCertPem !== undefined && clientKeyPem !== undefined
        ? { certPem: pulumi.secret(clientCertPem), privateKeyPem: pulumi.secret(clientKeyPem) }
        : undefined,
  });
  return {
    namespace: edge.namespace,
    forwardEndpoint: pulumi.output(forwardEndpoint),
  };
}
