import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "./config";
import { Central, type EdgeCredentials } from "./components/central";
import { Edge } from "./components/edge";
import type { ForwardEndpoint } from "./lib/names";

/** Stack outputs. Everything secret is wrapped in `pulumi.secret` here, whatever the providers declare. */
export type StackOutputs = Record<string, pulumi.Output<unknown>>;

/** Names of the central stack's outputs that edge stacks read. */
export const CENTRAL_OUTPUTS = {
  endpoint: "forwardEndpoint",
  caCertPem: "caCertPem",
  sharedKey: "forwardSharedKey",
  edgeCredentials: "edgeCredentials",
} as const;

/** Builds the central or the edge composition from validated configuration. */
export async function deploy(cfg: StackConfig): Promise<StackOutputs> {
  return cfg.role === "central" ? deployCentral(cfg) : deployEdge(cfg);
}

function deployCentral(cfg: StackConfig): StackOutputs {
  const central = new Central("efk", cfg);
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

async function centralOutput(ref: pulumi.StackReference, name: string): Promise<unknown> {
  const details = await ref.getOutputDetails(name);
  return details.secretValue ?? details.value;
}

/**
 * Reads everything from the central stack first and checks it, so that an edge the central does not know
 * fails at preview, before any resource of its own is declared.
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
  if (
    typeof caCertPem !== "string" ||
    typeof sharedKey !== "string" ||
    typeof credentials !== "object" ||
    !credentials
  ) {
    throw new pulumi.RunError(
      `${on} exports no ${CENTRAL_OUTPUTS.caCertPem}, ${CENTRAL_OUTPUTS.sharedKey} or ${CENTRAL_OUTPUTS.edgeCredentials}: ` +
        `is it a central stack, and has \`pulumi up\` run there?`,
    );
  }
  const mine = (credentials as Record<string, EdgeCredentials | undefined>)[cfg.clusterName];
  if (!mine) {
    const known = Object.keys(credentials);
    throw new pulumi.RunError(
      `cluster "${cfg.clusterName}" (efk:clusterName) is not registered on ${on}; it knows ` +
        `${known.length ? known.map((k) => `"${k}"`).join(", ") : "no edge cluster"}. Add it to efk:edgeClusters there ` +
        `and update that stack first:\n  pulumi config set --path 'edgeClusters[${known.length}]' ${cfg.clusterName} --stack ${cfg.centralStack}\n` +
        `  pulumi up --stack ${cfg.centralStack}`,
    );
  }
  if (!endpoint || typeof endpoint !== "object") {
    throw new pulumi.RunError(
      `${on} exports no ${CENTRAL_OUTPUTS.endpoint}: set efk:fluentdServiceType (LoadBalancer or NodePort) and ` +
        `efk:fluentdExternalHosts there, and run \`pulumi up\` on it`,
    );
  }
  const edge = new Edge("efk", {
    config: cfg,
    endpoint: endpoint as ForwardEndpoint,
    caCertPem,
    sharedKey: pulumi.secret(sharedKey),
    credentials: pulumi.secret(mine),
    clientCert: mine.clientCertPem !== undefined,
  });
  return {
    namespace: edge.namespace,
    forwardEndpoint: pulumi.output(endpoint as ForwardEndpoint),
  };
}
