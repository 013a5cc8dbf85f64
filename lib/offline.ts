import * as pulumi from "@pulumi/pulumi";

/**
 * Evaluates the program without an engine, a cluster or the Pulumi service: Pulumi's mock monitor
 * records every resource the program declares and answers the providers we use with stand-in values.
 * The unit tests and `npm run render` both run the real entry point on it.
 */

const SECRET_SIG_KEY = pulumi.runtime.specialSigKey;
const SECRET_SIG = pulumi.runtime.specialSecretSig;

export interface DeclaredResource {
  type: string;
  name: string;
  /** Inputs with secrets unwrapped to their values. */
  inputs: Record<string, unknown>;
  /** Inputs as the engine received them: secrets still wrapped, so one can see what was marked secret. */
  rawInputs: Record<string, unknown>;
}

/** Outputs of another stack, as a StackReference reads them. */
export interface StackOutputsSnapshot {
  outputs: Record<string, unknown>;
  secretOutputNames: string[];
}

export interface OfflineOptions {
  /** The stand-in for a generated secret: `field` of the provider resource `name` (e.g. `result`). */
  secret(type: string, name: string, field: string): string;
  /** The stand-in for a generated certificate or request (public, but unknown until deployed). */
  pem(kind: "CERTIFICATE" | "CERTIFICATE REQUEST" | "PUBLIC KEY", name: string): string;
  /** Other stacks' outputs, for StackReference. */
  stack(name: string): StackOutputsSnapshot | undefined;
}

export function isWrappedSecret(v: unknown): boolean {
  return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG;
}

/** True when any value inside `v` was marked secret. */
export function containsSecret(v: unknown): boolean {
  if (isWrappedSecret(v)) {
    return true;
  }
  if (typeof v === "object" && v !== null) {
    return Object.values(v).some(containsSecret);
  }
  return false;
}

export function unwrapSecrets(v: unknown): unknown {
  if (isWrappedSecret(v)) {
    return unwrapSecrets((v as Record<string, unknown>).value);
  }
  if (Array.isArray(v)) {
    return v.map(unwrapSecrets);
  }
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrapSecrets(x)]));
  }
  return v;
}

function providerState(o: OfflineOptions, type: string, name: string, inputs: Record<string, unknown>) {
  switch (type) {
    case "random:index/randomPassword:RandomPassword":
      return {
        ...inputs,
        result: o.secret(type, name, "result"),
        bcryptHash: o.secret(type, name, "bcryptHash"),
      };
    case "tls:index/privateKey:PrivateKey":
      return {
        ...inputs,
        privateKeyPem: o.secret(type, name, "privateKeyPem"),
        publicKeyPem: o.pem("PUBLIC KEY", name),
      };
    case "tls:index/selfSignedCert:SelfSignedCert":
    case "tls:index/locallySignedCert:LocallySignedCert":
      return { ...inputs, certPem: o.pem("CERTIFICATE", name) };
    case "tls:index/certRequest:CertRequest":
      return { ...inputs, certRequestPem: o.pem("CERTIFICATE REQUEST", name) };
    case "pulumi:pulumi:StackReference": {
      const stack = String(inputs.name);
      const snapshot = o.stack(stack);
      if (!snapshot) {
        throw new Error(`no outputs known for stack ${stack}`);
      }
      return { name: stack, outputs: snapshot.outputs, secretOutputNames: snapshot.secretOutputNames };
    }
    default:
      return inputs;
  }
}

/** Installs the offline engine; returns the list every declared resource is appended to. */
export function installOfflineEngine(
  options: OfflineOptions,
  project = "efk",
  stack = "offline",
): DeclaredResource[] {
  const declared: DeclaredResource[] = [];
  void pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs) {
        const rawInputs = args.inputs as Record<string, unknown>;
        const inputs = unwrapSecrets(rawInputs) as Record<string, unknown>;
        declared.push({ type: args.type, name: args.name, inputs, rawInputs });
        return { id: `${args.name}-id`, state: providerState(options, args.type, args.name, inputs) };
      },
      call(args: pulumi.runtime.MockCallArgs) {
        throw new Error(`unexpected provider call ${args.token}`);
      },
    },
    project,
    stack,
    false,
  );
  return declared;
}

/** Waits until every resource the program declared has reached the engine. */
export async function settle(): Promise<void> {
  await (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
}

/** Sets the `efk:*` configuration the program reads (values as `pulumi config` stores them: strings). */
export function setStackConfig(config: Record<string, string>): void {
  pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(config).map(([k, v]) => [`efk:${k}`, v])));
}

/** Resolves an Output's value (for use after `settle`). */
export function valueOf<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => o.apply((v) => resolve(v)));
}
