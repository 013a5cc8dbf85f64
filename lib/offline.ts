import { sha256Hex } from "./digest";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";

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
  /**
   * The URN the engine answered with, the one other resources' `dependencies` name. Empty until the
   * registration completes (after `settle`, it is set).
   */
  urn: string;
  /** URNs of every resource this one waits for, explicit (`dependsOn`) and implicit (its inputs' sources). */
  dependencies: string[];
  /** Per input property, the URNs its value came from. */
  propertyDependencies: Record<string, string[]>;
  /** The URN of the parent resource ("" for a child of the stack). */
  parent: string;
  /** The state the (stand-in) provider answered with: inputs plus what a provider computes. */
  outputs: Record<string, unknown>;
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
  // An asset's text is a promise: kept as it is, for `settle` to read.
  if (typeof v === "object" && v !== null && !(v instanceof Promise)) {
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
      return type.startsWith("kubernetes:") ? withKubernetesName(name, inputs) : inputs;
  }
}

/**
 * The Kubernetes provider names an object without `metadata.name` after its resource name plus a random
 * suffix; here the suffix is derived from the name, so offline renders stay the same from run to run.
 */
function withKubernetesName(name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  const metadata = inputs.metadata as Record<string, unknown> | undefined;
  if (!metadata || typeof metadata.name === "string") {
    return inputs;
  }
  const suffix = sha256Hex(name).slice(0, 8);
  return { ...inputs, metadata: { ...metadata, name: `${name}-${suffix}` } };
}

/** What the engine learns from a registration request beyond what `MockResourceArgs` carries. */
interface Registration {
  type: string;
  name: string;
  dependencies: string[];
  propertyDependencies: Record<string, string[]>;
  parent: string;
  declared?: DeclaredResource;
}

/** The parts of a RegisterResourceRequest / ReadResourceRequest (resource.proto) read here. */
interface MonitorRequest {
  getType(): string;
  getName(): string;
  getDependenciesList(): string[];
  getParent(): string;
  /** Only on RegisterResourceRequest: reads carry no property dependencies. */
  getPropertydependenciesMap?(): {
    forEach(f: (deps: { getUrnsList(): string[] }, property: string) => void): void;
  };
}

type MonitorCallback = (err: Error | null, response?: { getUrn(): string }) => void;
type MonitorMethod = (req: MonitorRequest, callback: MonitorCallback) => void;

/**
 * `MockResourceArgs` carries no dependencies, so the monitor's two resource RPCs are wrapped to read them
 * from the request, as the engine would. The mock monitor calls `newResource` once per request, so a
 * request is queued here and taken by the `newResource` of the same type and name; the URN is taken from
 * the monitor's answer, which is what the program's `resource.urn` resolves to.
 */
function interceptRegistrations(pending: Registration[]): void {
  const monitor = pulumi.runtime.getMonitor() as unknown as
    | Record<string, MonitorMethod | undefined>
    | undefined;
  if (!monitor) {
    throw new Error("no Pulumi mock monitor installed: the offline engine cannot record dependencies");
  }
  for (const method of ["registerResource", "readResource"]) {
    const original = monitor[method];
    if (typeof original !== "function") {
      throw new Error(
        `the Pulumi mock monitor has no ${method}: the offline engine cannot record dependencies`,
      );
    }
    monitor[method] = (req, callback) => {
      const propertyDependencies: Record<string, string[]> = {};
      req.getPropertydependenciesMap?.().forEach((deps, property) => {
        propertyDependencies[property] = deps.getUrnsList();
      });
      const registration: Registration = {
        type: req.getType(),
        name: req.getName(),
        dependencies: req.getDependenciesList(),
        propertyDependencies,
        parent: req.getParent(),
      };
      pending.push(registration);
      original.call(monitor, req, (err, response) => {
        const i = pending.indexOf(registration);
        if (i >= 0) {
          // The mock failed before reaching newResource; nothing was declared.
          pending.splice(i, 1);
        }
        if (registration.declared && response) {
          registration.declared.urn = response.getUrn();
        }
        callback(err, response);
      });
    };
  }
}

/** Installs the offline engine; returns the list every declared resource is appended to. */
export function installOfflineEngine(
  options: OfflineOptions,
  project = "efk",
  stack = "offline",
): DeclaredResource[] {
  const declared: DeclaredResource[] = [];
  const pending: Registration[] = [];
  // setMocks installs its monitor before its first await, so the monitor is in place once it returns.
  void pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs) {
        const i = pending.findIndex((p) => p.type === args.type && p.name === args.name);
        if (i < 0) {
          throw new Error(
            `offline engine: ${args.type} ${args.name} reached the mocks without a monitor request`,
          );
        }
        const [registration] = pending.splice(i, 1);
        const rawInputs = args.inputs as Record<string, unknown>;
        const inputs = unwrapSecrets(rawInputs) as Record<string, unknown>;
        readAssets(rawInputs);
        readAssets(inputs);
        const resource: DeclaredResource = {
          type: args.type,
          name: args.name,
          inputs,
          rawInputs,
          urn: "",
          dependencies: registration.dependencies,
          propertyDependencies: registration.propertyDependencies,
          parent: registration.parent,
          outputs: {},
        };
        registration.declared = resource;
        declared.push(resource);
        resource.outputs = providerState(options, args.type, args.name, inputs);
        return { id: `${args.name}-id`, state: resource.outputs };
      },
      call(args: pulumi.runtime.MockCallArgs) {
        throw new Error(`unexpected provider call ${args.token}`);
      },
    },
    project,
    stack,
    false,
  );
  interceptRegistrations(pending);
  return declared;
}

/** Reads of assets' text still under way (an asset's text is a promise). */
const assetReads: Promise<void>[] = [];

/** Replaces each text asset inside `v` by `{ text }`, once its text is read (`settle` waits for it). */
function readAssets(v: unknown): void {
  if (typeof v !== "object" || v === null) {
    return;
  }
  const holder = v as Record<string, unknown>;
  for (const [key, x] of Object.entries(holder)) {
    // The marker of an asset does not survive unwrapSecrets' copy; its text, a promise, does.
    const text = (x as { text?: unknown } | null)?.text;
    if (text instanceof Promise) {
      assetReads.push(
        text.then((t: unknown) => {
          holder[key] = { text: t };
        }),
      );
    } else {
      readAssets(x);
    }
  }
}

/** Waits until every resource the program declared has reached the engine, its assets read. */
export async function settle(): Promise<void> {
  await (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
  await Promise.all(assetReads.splice(0));
}

/** The values a `helm.v4.Chart` was given, from its YAML values files (read by `settle`). */
export function chartValuesOf(inputs: Record<string, unknown>): Record<string, unknown> {
  const files = (inputs.valueYamlFiles ?? []) as { text?: unknown }[];
  const merged: Record<string, unknown> = {};
  for (const file of files) {
    if (typeof file.text !== "string") {
      throw new Error("offline engine: a chart's values file was not read; call settle() first");
    }
    Object.assign(merged, parse(file.text));
  }
  return merged;
}

/** Sets the `efk:*` configuration the program reads (values as `pulumi config` stores them: strings). */
export function setStackConfig(config: Record<string, string>): void {
  pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(config).map(([k, v]) => [`efk:${k}`, v])));
}

/** Resolves an Output's value (for use after `settle`). */
export function valueOf<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => o.apply((v) => resolve(v)));
}
