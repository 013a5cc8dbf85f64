import {
  installOfflineEngine,
  settle as settleEngine,
  type DeclaredResource,
  type StackOutputsSnapshot,
} from "../lib/offline";

/**
 * The one mock engine of the test suite: the offline engine `npm run render` uses too, answering the
 * providers with recognisable fake values. Every secret value it hands out is remembered, so tests can
 * search for leaks. Import this module before any module that declares resources.
 */

export { containsSecret, isWrappedSecret, valueOf, type DeclaredResource as Recorded } from "../lib/offline";

/** Every secret value the mocks handed out (passwords, private keys): a test can search for leaks. */
export const secretValues = new Set<string>();

/** Outputs of mocked stacks that StackReference reads, keyed by stack name. */
export const stackReferences = new Map<string, StackOutputsSnapshot>();

/**
 * Edge stacks that have run, under the default efk:edgeStackName (`organization/efk/<cluster>` under the
 * mocks): each exports its key request and its password. A test that needs an edge stack missing turns this
 * off, or names the stack in `stackReferences` itself.
 */
export const edgeStacks = { ranFirst: true };

/** What an edge stack of `cluster` exports once it has run (its password is remembered as a secret). */
export function edgeStackOutputs(cluster: string): StackOutputsSnapshot {
  return {
    outputs: {
      forwardCsrPem: `-----BEGIN CERTIFICATE REQUEST-----\nmock-csr-edge-${cluster}\n-----END CERTIFICATE REQUEST-----\n`,
      forwardPassword: remember(`edge-password-${cluster}`),
    },
    secretOutputNames: ["forwardPassword"],
  };
}

function edgeStack(name: string): StackOutputsSnapshot | undefined {
  const m = /^organization\/efk\/([a-z0-9-]+)$/.exec(name);
  return edgeStacks.ranFirst && m ? edgeStackOutputs(m[1]) : undefined;
}

function remember(value: string): string {
  secretValues.add(value);
  return value;
}

export const recorded = installOfflineEngine(
  {
    secret(_type, name, field) {
      switch (field) {
        case "result":
          return remember(`mockpw${name.replace(/[^A-Za-z0-9]/g, "")}`);
        case "bcryptHash":
          return remember(`$2a$10$mockbcrypt.${name}`);
        default:
          return remember(
            `-----BEGIN RSA PRIVATE KEY-----\nmock-key-${name}\n-----END RSA PRIVATE KEY-----\n`,
          );
      }
    },
    pem(kind, name) {
      const what = { CERTIFICATE: "cert", "CERTIFICATE REQUEST": "csr", "PUBLIC KEY": "pub" }[kind];
      return `-----BEGIN ${kind}-----\nmock-${what}-${name}\n-----END ${kind}-----\n`;
    },
    stack: (name) => stackReferences.get(name) ?? edgeStack(name),
  },
  "efk",
  "test",
);

/** Forget everything recorded; call before each program run. */
export function resetMocks(): void {
  recorded.length = 0;
  stackReferences.clear();
  edgeStacks.ranFirst = true;
}

/** Waits until the program's resource registrations have all reached the mock engine. */
export const settle = settleEngine;

export function byType(type: string) {
  return recorded.filter((r) => r.type === type);
}

/** The one recorded resource of `type` named `name`; fails loudly if it is missing. */
export function find(type: string, name: string) {
  const r = recorded.find((x) => x.type === type && x.name === name);
  if (!r) {
    const names = byType(type).map((x) => x.name);
    throw new Error(`no ${type} named ${name}; recorded: ${names.join(", ") || "none"}`);
  }
  return r;
}

/** True when `a` waits for `b`, directly or through resources it waits for: the engine creates `b` first. */
export function dependsOnTransitively(a: DeclaredResource, b: DeclaredResource): boolean {
  const byUrn = new Map(recorded.map((r) => [r.urn, r]));
  const seen = new Set<string>();
  const queue = [...a.dependencies];
  for (let urn = queue.shift(); urn !== undefined; urn = queue.shift()) {
    if (urn === b.urn) {
      return true;
    }
    if (!seen.has(urn)) {
      seen.add(urn);
      queue.push(...(byUrn.get(urn)?.dependencies ?? []));
    }
  }
  return false;
}
