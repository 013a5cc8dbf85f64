import * as pulumi from "@pulumi/pulumi";
import { quantityValue } from "./lib/quantity";
import type { StackConfig } from "./config";
import { Central, type CentralArgs, type EdgeRequest } from "./components/central";
import { Edge, type CentralView, type EdgeStanding } from "./components/edge";
import type { FluentBitSettings } from "./components/fluentBit";
import type { MonitoringSettings } from "./components/monitoring";
import type { SnapshotSettings } from "./lib/snapshots";
import { edgeTrust, rotationProblem, type EdgeTrust } from "./lib/caRotation";
import {
  CENTRAL_OUTPUTS,
  checkOutput,
  CSR_PEM,
  EDGE_OUTPUTS,
  EDGE_TRUST,
  CA_FINGERPRINTS,
  FORWARD_AUTH,
  FORWARD_ENDPOINT,
  legacyEdgeCredentialsSchema,
  REGISTERED_EDGES,
} from "./lib/centralOutputs";

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

/** The snapshot repository and schedule; undefined with `snapshotType: none`. */
export function snapshotSettings(cfg: StackConfig): SnapshotSettings | undefined {
  if (cfg.snapshotType === "none") return undefined;
  return {
    type: cfg.snapshotType,
    bucket: cfg.snapshotBucket,
    basePath: cfg.snapshotBasePath,
    credentialsSecret: cfg.snapshotCredentialsSecret,
    s3Endpoint: cfg.snapshotS3Endpoint,
    intervalHours: cfg.snapshotIntervalHours,
    retentionDays: cfg.snapshotRetentionDays,
  };
}

/** The central composition's arguments: the stack configuration, grouped by the part it configures. */
export function centralArgs(cfg: StackConfig): Omit<CentralArgs, "edgeRequests"> {
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
      rotation: { generation: cfg.caGeneration, step: cfg.caRotation },
    },
    elasticsearch: {
      replicas: cfg.esReplicas,
      dedicatedMasters: cfg.esDedicatedMasters,
      masters: { cpu: cfg.esMasterCpu, memory: cfg.esMasterMemory, storageSize: cfg.esMasterStorageSize },
      imageTag: cfg.esImageTag,
      antiAffinity: cfg.esAntiAffinity,
      sysctlInitContainer: cfg.esSysctlInitContainer,
      storageClass: cfg.esStorageClass,
      storageSize: cfg.esStorageSize,
      cpu: cfg.esCpu,
      memory: cfg.esMemory,
      retentionDays: cfg.retentionDays,
      snapshots: snapshotSettings(cfg),
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
      indexLayout: cfg.indexLayout,
      dedicatedStreams: cfg.dedicatedStreams,
    },
    fluentBit: fluentBitSettings(cfg),
    monitoring: {
      ...monitoringSettings(cfg),
      dashboard: cfg.grafanaDashboard,
      exporterChartRepo: cfg.prometheusChartRepo,
      snapshotIntervalHours: cfg.snapshotType === "none" ? undefined : cfg.snapshotIntervalHours,
    },
  };
}

/** The stack an edge cluster's key request is read from (`efk:edgeStackName`, its placeholders filled). */
export function edgeStackName(template: string, cluster: string): string {
  // An engine without an organization (the mocks, some self-managed backends) is Pulumi's "organization".
  let org = "";
  try {
    org = pulumi.getOrganization();
  } catch {
    org = "";
  }
  return template
    .replace(/\{org\}/g, org || "organization")
    .replace(/\{project\}/g, pulumi.getProject())
    .replace(/\{cluster\}/g, cluster);
}

async function stackOutput(ref: pulumi.StackReference, name: string): Promise<unknown> {
  const details = await ref.getOutputDetails(name);
  return details.secretValue ?? details.value;
}

/**
 * Reads, from each edge's own stack, what the central needs to authenticate it: the request for the key the
 * edge keeps and its password. All of them before any resource is declared, so that an edge whose stack has
 * not run yet stops the update with the command that comes first, and nothing is half-applied.
 */
async function readEdgeRequests(cfg: StackConfig): Promise<Record<string, EdgeRequest>> {
  const read = await Promise.all(
    cfg.edgeClusters.map(async (cluster) => {
      const stack = edgeStackName(cfg.edgeStackName, cluster);
      const first =
        `run the edge stack first, which makes the cluster's own key and exports the request:\n` +
        `  pulumi up --stack ${stack}\nthen this stack again`;
      const ref = new pulumi.StackReference(`efk-edge-${cluster}`, { name: stack });
      let csr: unknown;
      let password: unknown;
      let trustedCas: unknown;
      let clientCertIssuer: unknown;
      try {
        [csr, password, trustedCas, clientCertIssuer] = await Promise.all([
          stackOutput(ref, EDGE_OUTPUTS.csrPem),
          stackOutput(ref, EDGE_OUTPUTS.password),
          stackOutput(ref, EDGE_OUTPUTS.trustedCas),
          stackOutput(ref, EDGE_OUTPUTS.clientCertIssuer),
        ]);
      } catch (e) {
        throw new pulumi.RunError(
          `edge cluster "${cluster}" (efk:edgeClusters): its stack "${stack}" (efk:edgeStackName) cannot be read ` +
            `(${(e as Error).message.split("\n")[0]}): ${first}`,
        );
      }
      const checked = checkOutput(CSR_PEM, csr);
      if ("problems" in checked) {
        throw new pulumi.RunError(
          `edge cluster "${cluster}" (efk:edgeClusters): its stack "${stack}" exports no ${EDGE_OUTPUTS.csrPem}` +
            `${csr === undefined ? "" : ` usable here (${checked.problems.join("; ")})`}: ${first}`,
        );
      }
      if (!cfg.clientCertAuth && (typeof password !== "string" || password === "")) {
        throw new pulumi.RunError(
          `edge cluster "${cluster}" (efk:edgeClusters): its stack "${stack}" exports no ${EDGE_OUTPUTS.password}, ` +
            `which the aggregator checks with efk:clientCertAuth false: ${first}`,
        );
      }
      // An edge of an earlier version exports neither: the CA rotation check refuses to go past it by name.
      let trust: EdgeTrust | undefined;
      if (trustedCas !== undefined) {
        const read = checkOutput(EDGE_TRUST, { trustedCas, clientCertIssuer });
        if ("problems" in read) {
          throw new pulumi.RunError(
            `edge cluster "${cluster}" (efk:edgeClusters): its stack "${stack}" exports ${EDGE_OUTPUTS.trustedCas} ` +
              `and ${EDGE_OUTPUTS.clientCertIssuer} this version cannot read (${read.problems.join("; ")}): ` +
              `update that stack's program to this version and run \`pulumi up --stack ${stack}\`, then this stack again`,
          );
        }
        trust = read.value;
      }
      const request: EdgeRequest = {
        csrPem: checked.value,
        ...(cfg.clientCertAuth ? {} : { password: pulumi.secret(password as string) }),
      };
      return [cluster, { request, stack, trust }] as const;
    }),
  );
  // Whether the CA rotation may take the step the configuration asks for: before any resource, so that a
  // refusal changes nothing.
  const problem = rotationProblem({
    rotation: { generation: cfg.caGeneration, step: cfg.caRotation },
    byCertificate: cfg.clientCertAuth,
    edges: Object.fromEntries(read.map(([cluster, r]) => [cluster, r.trust])),
    stackOf: (cluster) => edgeStackName(cfg.edgeStackName, cluster),
  });
  if (problem !== undefined) {
    throw new pulumi.RunError(problem);
  }
  return Object.fromEntries(read.map(([cluster, r]) => [cluster, r.request]));
}

async function deployCentral(cfg: StackConfig): Promise<StackOutputs> {
  const central = new Central("efk", { ...centralArgs(cfg), edgeRequests: await readEdgeRequests(cfg) });
  // Each of these is something every edge may read (the StackReference of an edge stores them all): no
  // credential of the central's own. The `elastic` password stays in its Kubernetes Secret (see README).
  const outputs: StackOutputs = {
    elasticsearchUrl: central.elasticsearchUrl,
    kibanaUrl: central.kibanaUrl,
    [CENTRAL_OUTPUTS.caCertPem]: central.caCertPem,
    [CENTRAL_OUTPUTS.caFingerprints]: central.caFingerprints,
    [CENTRAL_OUTPUTS.forwardAuth]: pulumi.output(central.forwardAuth),
    [CENTRAL_OUTPUTS.edges]: central.forwardEdges,
  };
  if (central.forwardSharedKey) {
    outputs[CENTRAL_OUTPUTS.sharedKey] = pulumi.secret(central.forwardSharedKey);
  }
  if (central.forwardEndpoint) {
    outputs[CENTRAL_OUTPUTS.endpoint] = pulumi.output(central.forwardEndpoint);
  }
  return outputs;
}

/**
 * Reads everything from the central stack first and checks it, so that a central whose outputs this
 * program cannot use fails at preview before any resource of the edge's own is declared.
 */
async function deployEdge(cfg: StackConfig): Promise<StackOutputs> {
  const central = new pulumi.StackReference("efk-central", { name: cfg.centralStack });
  const [endpoint, caCertPem, forwardAuth, edges, sharedKey, legacy] = await Promise.all(
    [
      CENTRAL_OUTPUTS.endpoint,
      CENTRAL_OUTPUTS.caCertPem,
      CENTRAL_OUTPUTS.forwardAuth,
      CENTRAL_OUTPUTS.edges,
      CENTRAL_OUTPUTS.sharedKey,
      CENTRAL_OUTPUTS.legacyEdgeCredentials,
    ].map((o) => stackOutput(central, o)),
  );
  const on = `the central stack "${cfg.centralStack}" (efk:centralStack)`;
  const redeploy = `Is it deployed by the same version of this program as this edge? Update it (\`pulumi up --stack ${cfg.centralStack}\`) and try again`;
  if (typeof caCertPem !== "string" || (forwardAuth === undefined && legacy === undefined)) {
    throw new pulumi.RunError(
      `${on} exports no ${CENTRAL_OUTPUTS.caCertPem} or ${CENTRAL_OUTPUTS.forwardAuth}: ` +
        `is it a central stack, and has \`pulumi up\` run there?`,
    );
  }
  const view = () => {
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
    return { endpoint: forward.value, caCertPem };
  };
  const standing =
    forwardAuth === undefined
      ? legacyStanding(cfg, on, redeploy, legacy, sharedKey, view)
      : currentStanding(cfg, on, redeploy, forwardAuth, edges, sharedKey, view);
  const edge = new Edge("efk", {
    clusterName: cfg.clusterName,
    namespace: cfg.namespace,
    chartRepo: cfg.fluentChartRepo,
    timeoutSeconds: cfg.helmTimeoutSeconds,
    fluentBit: fluentBitSettings(cfg),
    monitoring: monitoringSettings(cfg),
    standing,
  });
  // What this edge trusts and holds, as it deploys it now: the central's CA rotation waits for it. A central
  // of an earlier version publishes no generations: the fingerprints go without them.
  const fingerprints = checkOutput(
    CA_FINGERPRINTS,
    (await stackOutput(central, CENTRAL_OUTPUTS.caFingerprints)) ?? {},
  );
  if ("problems" in fingerprints) {
    throw new pulumi.RunError(
      `${on} exports a malformed ${CENTRAL_OUTPUTS.caFingerprints}: ${fingerprints.problems.join("; ")}. ${redeploy}`,
    );
  }
  const trust = edgeTrust(
    standing.state === "unregistered" ? undefined : caCertPem,
    standing.state === "certificate" ? standing.clientCertPem : undefined,
    fingerprints.value,
  );
  const outputs: StackOutputs = {
    [EDGE_OUTPUTS.csrPem]: edge.csrPem,
    [EDGE_OUTPUTS.password]: pulumi.secret(edge.password),
    [EDGE_OUTPUTS.trustedCas]: pulumi.output(trust.trustedCas),
  };
  if (trust.clientCertIssuer) {
    outputs[EDGE_OUTPUTS.clientCertIssuer] = pulumi.output(trust.clientCertIssuer);
  }
  if (edge.namespace) {
    outputs.namespace = edge.namespace;
  }
  if (standing.state !== "unregistered") {
    outputs.forwardEndpoint = pulumi.output(standing.endpoint);
  }
  return outputs;
}

function currentStanding(
  cfg: StackConfig,
  on: string,
  redeploy: string,
  forwardAuth: unknown,
  edges: unknown,
  sharedKey: unknown,
  view: () => CentralView,
): EdgeStanding {
  const auth = checkOutput(FORWARD_AUTH, forwardAuth);
  const registered = checkOutput(REGISTERED_EDGES, edges ?? {});
  if ("problems" in auth || "problems" in registered) {
    const problems = [auth, registered].flatMap((r) => ("problems" in r ? r.problems : []));
    throw new pulumi.RunError(
      `${on} exports a malformed ${CENTRAL_OUTPUTS.forwardAuth} or ${CENTRAL_OUTPUTS.edges}: ${problems.join("; ")}. ${redeploy}`,
    );
  }
  // hasOwn: a cluster named like an Object property ("constructor") must not find one.
  const mine = Object.hasOwn(registered.value, cfg.clusterName)
    ? registered.value[cfg.clusterName]
    : undefined;
  if (mine === undefined) {
    // Not an error: this run makes the cluster's key and request, which the central reads next. Only a
    // count of the others: their names are other tenants'.
    const known = Object.keys(registered.value).length;
    void pulumi.log.warn(
      `cluster "${cfg.clusterName}" is not registered on ${on} yet (or no longer): this update makes its own ` +
        `key and certificate request and deploys nothing else. Next, on the central stack:\n` +
        `  pulumi config set --path 'edgeClusters[${known}]' ${cfg.clusterName} --stack ${cfg.centralStack}\n` +
        `  pulumi up --stack ${cfg.centralStack}\n` +
        `then \`pulumi up\` this stack again.`,
    );
    return { state: "unregistered" };
  }
  if (auth.value === "certificate") {
    if (!mine.clientCertPem) {
      throw new pulumi.RunError(
        `${on} registers "${cfg.clusterName}" without a client certificate although it requires one. ${redeploy}`,
      );
    }
    return { state: "certificate", clientCertPem: mine.clientCertPem, ...view() };
  }
  if (typeof sharedKey !== "string" || sharedKey === "") {
    throw new pulumi.RunError(
      `${on} exports no ${CENTRAL_OUTPUTS.sharedKey}, which its forwardAuth user needs. ${redeploy}`,
    );
  }
  return { state: "user", sharedKey: pulumi.secret(sharedKey), ...view() };
}

/** A central of an earlier version, which made this cluster's credentials: keep using them until it is updated. */
function legacyStanding(
  cfg: StackConfig,
  on: string,
  redeploy: string,
  legacy: unknown,
  sharedKey: unknown,
  view: () => CentralView,
): EdgeStanding {
  const all = typeof legacy === "object" && legacy !== null ? (legacy as Record<string, unknown>) : {};
  if (!Object.hasOwn(all, cfg.clusterName) || typeof sharedKey !== "string") {
    void pulumi.log.warn(
      `${on} is of an earlier version of this program and does not know "${cfg.clusterName}": this update makes ` +
        `the cluster's own key and request only. Update the central (pulumi up --stack ${cfg.centralStack}) ` +
        `with "${cfg.clusterName}" in its efk:edgeClusters, then run this stack again.`,
    );
    return { state: "unregistered" };
  }
  const mine = checkOutput(legacyEdgeCredentialsSchema(cfg.clusterName), all[cfg.clusterName]);
  if ("problems" in mine) {
    throw new pulumi.RunError(
      `${on} exports ${CENTRAL_OUTPUTS.legacyEdgeCredentials} whose entry for "${cfg.clusterName}" is malformed: ` +
        `${mine.problems.join("; ")}. ${redeploy}`,
    );
  }
  void pulumi.log.warn(
    `${on} is of an earlier version of this program: this edge keeps the credentials it made, and makes its ` +
      `own key and request for the update. Next: pulumi up --stack ${cfg.centralStack}, then this stack again.`,
  );
  const { password, clientCertPem, clientKeyPem } = mine.value;
  return {
    state: "legacy",
    sharedKey: pulumi.secret(sharedKey),
    password: pulumi.secret(password),
    clientCert:
      clientCertPem !== undefined && clientKeyPem !== undefined
        ? { certPem: pulumi.output(clientCertPem), privateKeyPem: pulumi.secret(clientKeyPem) }
        : undefined,
    ...view(),
  };
}
