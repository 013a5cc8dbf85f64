import { setStackConfig } from "../lib/offline";
import { edgeStacks, recorded, resetMocks, settle, stackReferences } from "./mocks";
import type { StackOutputs } from "../program";

/** Mocked stacks that StackReference can read: outputs and which of them are secret. */
export type StackRefs = Record<string, { outputs: Record<string, unknown>; secretOutputNames: string[] }>;

/** The central stack the edge fixtures read, and its public and secret outputs. */
export const CENTRAL_STACK = "acme/efk/central";
export const CENTRAL_CA = "-----BEGIN CERTIFICATE-----\ncentral-ca\n-----END CERTIFICATE-----\n";
export const CENTRAL_SHARED_KEY = "central-shared-key-value";

/** An edge stack "prod-eu" in namespace "logs", reading CENTRAL_STACK. */
export const EDGE_CONFIG: Record<string, string> = {
  role: "edge",
  clusterName: "prod-eu",
  centralStack: CENTRAL_STACK,
  namespace: "logs",
};

/** What `forwardEdges` says of prod-eu once the central has signed its request. */
export const EDGE_CLIENT_CERT = "-----BEGIN CERTIFICATE-----\nprod-eu-client\n-----END CERTIFICATE-----\n";

/**
 * A mocked central stack of this version: clusters known by certificate, `edges` its registered edges
 * (`forwardEdges`); `extra` adds or overrides outputs.
 */
export function centralRef(
  edges: Record<string, unknown> = { "prod-eu": { clientCertPem: EDGE_CLIENT_CERT } },
  extra: Record<string, unknown> = {},
): StackRefs {
  return {
    [CENTRAL_STACK]: {
      outputs: {
        forwardEndpoint: { host: "logs.example.com", port: 24224, serverName: "logs.example.com" },
        caCertPem: CENTRAL_CA,
        forwardAuth: "certificate",
        forwardEdges: edges,
        ...extra,
      },
      secretOutputNames: Object.hasOwn(extra, "forwardSharedKey") ? ["forwardSharedKey"] : [],
    },
  };
}

/** A mocked central of this version that knows clusters by user: the shared key is its one secret output. */
export function userCentralRef(edges: Record<string, unknown> = { "prod-eu": {} }): StackRefs {
  return centralRef(edges, { forwardAuth: "user", forwardSharedKey: CENTRAL_SHARED_KEY });
}

/** A mocked central of the version before edges made their own keys: it exported their credentials. */
export function legacyCentralRef(credentials: Record<string, unknown>): StackRefs {
  return {
    [CENTRAL_STACK]: {
      outputs: {
        forwardEndpoint: { host: "logs.example.com", port: 24224, serverName: "logs.example.com" },
        caCertPem: CENTRAL_CA,
        forwardSharedKey: CENTRAL_SHARED_KEY,
        edgeCredentials: credentials,
        elasticPassword: "legacy-elastic-password",
      },
      secretOutputNames: ["forwardSharedKey", "edgeCredentials", "elasticPassword"],
    },
  };
}

/** The minimal valid central configuration; tests override single keys. */
export const CENTRAL_CONFIG: Record<string, string> = {
  role: "central",
  clusterName: "hub",
  fluentdLoadBalancerSourceRanges: '["0.0.0.0/0"]',
};

/**
 * Runs the real entry point (`index.ts`) with the given `efk:*` config, as `pulumi up` would, and waits
 * for every registration to reach the mock engine.
 */
export async function runProgram(
  config: Record<string, string>,
  refs: StackRefs = {},
  opts: { edgeStacksRan?: boolean } = {},
): Promise<StackOutputs> {
  resetMocks();
  edgeStacks.ranFirst = opts.edgeStacksRan ?? true;
  for (const [stack, ref] of Object.entries(refs)) {
    stackReferences.set(stack, ref);
  }
  setStackConfig(config);
  // Required here, not imported at the top: the entry point must load after the mocks are set.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const main = require("../index") as () => Promise<StackOutputs>;
  const outputs = await main();
  await settle();
  return outputs;
}

/** Runs the program expecting it to fail; returns the error and how many resources got registered. */
export async function runProgramExpectingError(
  config: Record<string, string>,
  refs: StackRefs = {},
  opts: { edgeStacksRan?: boolean } = {},
): Promise<{ error: Error; registered: number }> {
  try {
    await runProgram(config, refs, opts);
  } catch (e) {
    await settle();
    return { error: e as Error, registered: recorded.length };
  }
  throw new Error("the program succeeded, but an error was expected");
}
