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

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isFilledString(value: unknown): value is string {
  return typeof value === "string" && value !== "";
}

// The checks below name fields, never their values: the credentials are secret.

/** What is wrong with the central stack's forward endpoint; empty when it is a ForwardEndpoint. */
function endpointProblems(endpoint: Record<string, unknown>): string[] {
  const out: string[] = [];
  if (!isFilledString(endpoint.host)) {
    out.push("host must be a non-empty string");
  }
  const port = endpoint.port;
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    out.push("port must be a whole number from 1 to 65535");
  }
  if (!isFilledString(endpoint.serverName)) {
    out.push("serverName must be a non-empty string");
  }
  return out;
}

/** What is wrong with this cluster's entry of the central stack's credentials; empty when it is usable. */
function credentialProblems(entry: unknown, clusterName: string): string[] {
  if (!isRecord(entry)) {
    return ["it is not an object"];
  }
  const out: string[] = [];
  if (entry.username !== clusterName) {
    out.push(`username must be "${clusterName}"`);
  }
  if (!isFilledString(entry.password)) {
    out.push("password must be a non-empty string");
  }
  const hasCert = entry.clientCertPem != null;
  const hasKey = entry.clientKeyPem != null;
  if (hasCert !== hasKey) {
    out.push("clientCertPem and clientKeyPem must come together: one is missing");
  } else if (hasCert && !(isFilledString(entry.clientCertPem) && isFilledString(entry.clientKeyPem))) {
    out.push("clientCertPem and clientKeyPem must be non-empty strings");
  }
  return out;
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
  if (typeof caCertPem !== "string" || typeof sharedKey !== "string" || !isRecord(credentials)) {
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
  const mine = credentials[cfg.clusterName];
  const wrongCredentials = credentialProblems(mine, cfg.clusterName);
  if (wrongCredentials.length > 0) {
    throw new pulumi.RunError(
      `${on} exports ${CENTRAL_OUTPUTS.edgeCredentials} whose entry for "${cfg.clusterName}" is malformed: ` +
        `${wrongCredentials.join("; ")}. ${redeploy}`,
    );
  }
  if (!endpoint) {
    throw new pulumi.RunError(
      `${on} exports no ${CENTRAL_OUTPUTS.endpoint}: set efk:fluentdServiceType (LoadBalancer or NodePort) and ` +
        `efk:fluentdExternalHosts there, and run \`pulumi up\` on it`,
    );
  }
  const wrongEndpoint = isRecord(endpoint) ? endpointProblems(endpoint) : ["it is not an object"];
  if (wrongEndpoint.length > 0) {
    throw new pulumi.RunError(
      `${on} exports a malformed ${CENTRAL_OUTPUTS.endpoint}: ${wrongEndpoint.join("; ")}. ${redeploy}`,
    );
  }
  const checked = mine as EdgeCredentials;
  // Only the fields checked above travel on, so nothing unexpected from the central reaches the edge.
  const edgeCredentials: EdgeCredentials = {
    username: checked.username,
    password: checked.password,
    ...(checked.clientCertPem != null
      ? { clientCertPem: checked.clientCertPem, clientKeyPem: checked.clientKeyPem }
      : {}),
  };
  const { host, port, serverName } = endpoint as ForwardEndpoint;
  const forwardEndpoint: ForwardEndpoint = { host, port, serverName };
  const edge = new Edge("efk", {
    config: cfg,
    endpoint: forwardEndpoint,
    caCertPem,
    sharedKey: pulumi.secret(sharedKey),
    credentials: pulumi.secret(edgeCredentials),
    clientCert: edgeCredentials.clientCertPem !== undefined,
  });
  return {
    namespace: edge.namespace,
    forwardEndpoint: pulumi.output(forwardEndpoint),
  };
}
