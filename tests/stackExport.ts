/**
 * A `pulumi stack export` of what the program declared under the mocks, in the shape the CLI writes it
 * (deployment version 3): the stack resource, default providers, and each resource with its URN, parent,
 * dependencies, inputs and outputs, secrets as ciphertext objects. The workflows' jq programs run on it.
 *
 * URNs are built as Pulumi builds them (`urn:pulumi:<stack>::<project>::<qualified type>::<name>`), where
 * the qualified type is every ancestor's type from the outermost, then the resource's own, joined by `$`,
 * the root stack's type left out (Pulumi's resource/urn.go, `NewURN` with the parent's qualified type). The
 * mock monitor's own URNs carry only the direct parent's type, so they are rebuilt here from the parents.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Recorded } from "./mocks";

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

export interface ExportedResource {
  urn: string;
  custom: boolean;
  id?: string;
  type: string;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
  parent?: string;
  provider?: string;
  dependencies?: string[];
  external?: boolean;
}

export interface StackExport {
  version: 3;
  deployment: {
    manifest: { time: string; magic: string; version: string };
    secrets_providers: { type: string; state: Record<string, unknown> };
    resources: ExportedResource[];
  };
}

/** What a state file holds for a secret: its ciphertext, never its value. */
function asStored(v: unknown): unknown {
  if (typeof v === "object" && v !== null && (v as Record<string, unknown>)[SECRET_SIG] !== undefined) {
    return { [SECRET_SIG]: SECRET_VALUE, ciphertext: "v1:ciphertext" };
  }
  if (Array.isArray(v)) {
    return v.map(asStored);
  }
  if (typeof v === "object" && v !== null && !(v instanceof Promise)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, asStored(x)]));
  }
  return v;
}

// Pulumi's specialSigKey wraps secrets in rawInputs: the same key the state file uses.
if (pulumi.runtime.specialSigKey !== SECRET_SIG) {
  throw new Error("Pulumi's secret signature changed: update tests/stackExport.ts");
}

/** Whether a resource of this type is a component (no provider, not custom). */
function isComponent(type: string): boolean {
  return type.startsWith("efk:");
}

export function stackExport(recorded: Recorded[], stack: string, project = "efk"): StackExport {
  const byMockUrn = new Map(recorded.map((r) => [r.urn, r]));
  const qualifiedType = (r: Recorded): string => {
    const types = [r.type];
    for (let p = byMockUrn.get(r.parent); p !== undefined; p = byMockUrn.get(p.parent)) {
      types.unshift(p.type);
    }
    return types.join("$");
  };
  const urnOf = new Map(
    recorded.map((r) => [r.urn, `urn:pulumi:${stack}::${project}::${qualifiedType(r)}::${r.name}`]),
  );
  const stackUrn = `urn:pulumi:${stack}::${project}::pulumi:pulumi:Stack::${project}-${stack}`;
  const providers = new Map<string, ExportedResource>();
  const providerOf = (type: string): string => {
    const pkg = type.split(":")[0];
    let provider = providers.get(pkg);
    if (provider === undefined) {
      provider = {
        urn: `urn:pulumi:${stack}::${project}::pulumi:providers:${pkg}::default`,
        custom: true,
        id: `${pkg}-provider-id`,
        type: `pulumi:providers:${pkg}`,
        inputs: {},
        outputs: {},
      };
      providers.set(pkg, provider);
    }
    return `${provider.urn}::${provider.id}`;
  };
  const resources = recorded.map((r): ExportedResource => {
    const urn = urnOf.get(r.urn);
    if (!urn) {
      throw new Error(`${r.type} ${r.name} has no URN: call settle() before exporting`);
    }
    const base = {
      urn,
      type: r.type,
      parent: urnOf.get(r.parent) ?? stackUrn,
      dependencies: r.dependencies.map((d) => urnOf.get(d) ?? d),
    };
    if (isComponent(r.type)) {
      return { ...base, custom: false };
    }
    if (r.type === "pulumi:pulumi:StackReference") {
      return {
        ...base,
        custom: true,
        external: true,
        id: String(r.inputs.name),
        inputs: { name: r.inputs.name },
      };
    }
    return {
      ...base,
      custom: true,
      id: `${r.name}-id`,
      inputs: asStored(r.rawInputs) as Record<string, unknown>,
      outputs:
        r.type === "tls:index/privateKey:PrivateKey"
          ? { ...r.outputs, privateKeyPem: asStored({ [SECRET_SIG]: 1 }) }
          : r.outputs,
      provider: providerOf(r.type),
    };
  });
  return {
    version: 3,
    deployment: {
      manifest: { time: "2026-01-01T00:00:00Z", magic: "", version: "v3.200.0" },
      secrets_providers: { type: "service", state: {} },
      resources: [
        { urn: stackUrn, custom: false, type: "pulumi:pulumi:Stack" },
        ...providers.values(),
        ...resources,
      ],
    },
  };
}
