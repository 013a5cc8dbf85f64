import * as pulumi from "@pulumi/pulumi";

/**
 * The one mock engine of the test suite. It records every resource the program registers (components
 * too), answers the providers we use with recognisable fake values, and throws on any provider call
 * that nobody expected. Import this module before any module that declares resources.
 */

const SECRET_SIG_KEY = pulumi.runtime.specialSigKey;
const SECRET_SIG = pulumi.runtime.specialSecretSig;

export interface Recorded {
  type: string;
  name: string;
  /** Inputs with secrets unwrapped to their values. */
  inputs: Record<string, unknown>;
  /** Inputs as the engine received them: secrets still wrapped, so tests can see what was marked secret. */
  rawInputs: Record<string, unknown>;
}

export const recorded: Recorded[] = [];

/** Every secret value the mocks handed out (passwords, private keys): a test can search for leaks. */
export const secretValues = new Set<string>();

/** Outputs a mocked central stack exposes to StackReference, keyed by stack name. */
export const stackReferences = new Map<
  string,
  { outputs: Record<string, unknown>; secretOutputNames: string[] }
>();

export function isWrappedSecret(v: unknown): boolean {
  return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG;
}

/** True when any value inside `v` was marked secret. */
export function containsSecret(v: unknown): boolean {
  if (isWrappedSecret(v)) {
    return true;
  }
  if (Array.isArray(v)) {
    return v.some(containsSecret);
  }
  if (typeof v === "object" && v !== null) {
    return Object.values(v).some(containsSecret);
  }
  return false;
}

function unwrap(v: unknown): unknown {
  if (isWrappedSecret(v)) {
    return unwrap((v as Record<string, unknown>).value);
  }
  if (Array.isArray(v)) {
    return v.map(unwrap);
  }
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrap(x)]));
  }
  return v;
}

function secret(value: string): string {
  secretValues.add(value);
  return value;
}

function providerState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  switch (type) {
    case "random:index/randomPassword:RandomPassword":
      return {
        ...inputs,
        result: secret(`mockpw${name.replace(/[^A-Za-z0-9]/g, "")}`),
        bcryptHash: secret(`$2a$10$mockbcrypt.${name}`),
      };
    case "tls:index/privateKey:PrivateKey":
      return {
        ...inputs,
        privateKeyPem: secret(
          `-----BEGIN RSA PRIVATE KEY-----\nmock-key-${name}\n-----END RSA PRIVATE KEY-----\n`,
        ),
        publicKeyPem: `-----BEGIN PUBLIC KEY-----\nmock-pub-${name}\n-----END PUBLIC KEY-----\n`,
      };
    case "tls:index/selfSignedCert:SelfSignedCert":
    case "tls:index/locallySignedCert:LocallySignedCert":
      return {
        ...inputs,
        certPem: `-----BEGIN CERTIFICATE-----\nmock-cert-${name}\n-----END CERTIFICATE-----\n`,
      };
    case "tls:index/certRequest:CertRequest":
      return {
        ...inputs,
        certRequestPem: `-----BEGIN CERTIFICATE REQUEST-----\nmock-csr-${name}\n-----END CERTIFICATE REQUEST-----\n`,
      };
    case "pulumi:pulumi:StackReference": {
      const stack = String(inputs.name);
      const ref = stackReferences.get(stack);
      if (!ref) {
        throw new Error(`no such stack: ${stack}`);
      }
      return { name: stack, outputs: ref.outputs, secretOutputNames: ref.secretOutputNames };
    }
    default:
      return inputs;
  }
}

void pulumi.runtime.setMocks(
  {
    newResource(args: pulumi.runtime.MockResourceArgs) {
      const rawInputs = args.inputs as Record<string, unknown>;
      const inputs = unwrap(rawInputs) as Record<string, unknown>;
      recorded.push({ type: args.type, name: args.name, inputs, rawInputs });
      return { id: `${args.name}-id`, state: providerState(args.type, args.name, inputs) };
    },
    call(args: pulumi.runtime.MockCallArgs) {
      throw new Error(`unexpected provider call ${args.token}`);
    },
  },
  "efk",
  "test",
  false,
);

/** Forget everything recorded; call before each test. */
export function resetMocks(): void {
  recorded.length = 0;
  stackReferences.clear();
}

/** Waits until the program's resource registrations have all reached the mock engine. */
export async function settle(): Promise<void> {
  await (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
}

export function byType(type: string): Recorded[] {
  return recorded.filter((r) => r.type === type);
}

/** The one recorded resource of `type` named `name`; fails loudly if it is missing. */
export function find(type: string, name: string): Recorded {
  const r = recorded.find((x) => x.type === type && x.name === name);
  if (!r) {
    const names = byType(type).map((x) => x.name);
    throw new Error(`no ${type} named ${name}; recorded: ${names.join(", ") || "none"}`);
  }
  return r;
}

/** The value of an Output, awaited: assertions on it can fail (unlike ones inside an un-awaited apply). */
export function valueOf<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => o.apply((v) => resolve(v)));
}

export function isSecretOutput(o: pulumi.Output<unknown>): Promise<boolean> {
  return pulumi.isSecret(o);
}
