import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parse, stringify } from "yaml";
import {
  chartValuesOf,
  installOfflineEngine,
  settle,
  setStackConfig,
  valueOf,
  type DeclaredResource,
  type StackOutputsSnapshot,
} from "../lib/offline";
import { ALERT_RULES_CONFIGMAP, DASHBOARD_CONFIGMAP, RULES_FILE } from "../components/monitoring";
import { fluentBitConfFile, type FluentBitConfig } from "../lib/render/fluentBit";
import { EDGE_OUTPUTS } from "../lib/centralOutputs";

/** What a placeholder says in place of a value only a deployment can produce. */
export const PLACEHOLDER = {
  secret: (name: string, field: string) => `GENERATED-SECRET(${name}.${field})`,
  pem: (kind: string, name: string) =>
    `-----BEGIN ${kind}-----\nGENERATED-AT-DEPLOY(${name})\n-----END ${kind}-----\n`,
};

/** The `efk:*` settings of a stack file, as `pulumi config` would hand them to the program (strings). */
export function readStackConfig(projectDir: string, stack: string): Record<string, string> {
  const file = path.join(projectDir, `Pulumi.${stack}.yaml`);
  if (!existsSync(file)) {
    throw new Error(`no stack file ${file}: create it (see Pulumi.central.yaml and Pulumi.edge.yaml)`);
  }
  const doc = (parse(readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc.config ?? {})) {
    const [ns, name] = key.includes(":") ? key.split(":", 2) : ["efk", key];
    if (ns !== "efk") {
      continue;
    }
    if (typeof value === "object" && value !== null && "secure" in value) {
      throw new Error(`${file}: efk:${name} is an encrypted value; the offline render cannot decrypt it`);
    }
    out[name] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return out;
}

type Program = () => Promise<Record<string, pulumi.Output<unknown>>>;

/** Runs the entry point on `config` and returns what it declared and exported. */
async function evaluate(
  declared: DeclaredResource[],
  config: Record<string, string>,
): Promise<{ resources: DeclaredResource[]; outputs: StackOutputsSnapshot }> {
  declared.length = 0;
  setStackConfig(config);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const program = require("../index") as Program;
  const exported = await program();
  await settle();
  const outputs: Record<string, unknown> = {};
  const secretOutputNames: string[] = [];
  for (const [name, output] of Object.entries(exported)) {
    outputs[name] = await valueOf(output);
    if (await pulumi.isSecret(output)) {
      secretOutputNames.push(name);
    }
  }
  return { resources: [...declared], outputs: { outputs, secretOutputNames } };
}

/**
 * The node arguments that run `npm run render`'s script (`scripts/render.ts`, from the working directory)
 * on `stack` of the project in `dir`, writing into `out`.
 */
export function renderScriptArgs(stack: string, dir: string, out: string): string[] {
  return [
    "-r",
    "ts-node/register/transpile-only",
    "scripts/render.ts",
    "--stack",
    stack,
    "--dir",
    dir,
    "--out",
    out,
  ];
}

/** The local stack file an edge's `centralStack` names: its last segment (`org/efk/central` -> central). */
function centralStackFile(centralStack: string): string {
  return centralStack.split("/").pop() as string;
}

/** What an edge stack exports once it has run: its key request, and its password (secret). */
function edgeStandIn(stack: string): StackOutputsSnapshot {
  return {
    outputs: {
      [EDGE_OUTPUTS.csrPem]: PLACEHOLDER.pem("CERTIFICATE REQUEST", `${stack} ${EDGE_OUTPUTS.csrPem}`),
      [EDGE_OUTPUTS.password]: PLACEHOLDER.secret(stack, EDGE_OUTPUTS.password),
    },
    secretOutputNames: [EDGE_OUTPUTS.password],
  };
}

export interface RenderArgs {
  projectDir: string;
  stack: string;
  outDir: string;
}

/**
 * Evaluates a stack offline and writes what it would deploy. An edge stack reads the central stack's
 * outputs from the central stack file beside it, evaluated the same way.
 */
export async function renderStack(args: RenderArgs): Promise<string[]> {
  const others = new Map<string, StackOutputsSnapshot>();
  const declared = installOfflineEngine({
    secret: (_type, name, field) => PLACEHOLDER.secret(name, field),
    pem: (kind, name) => PLACEHOLDER.pem(kind, name),
    // A stack the render has no file for is an edge a central reads: what its first `pulumi up` exports.
    stack: (name) => others.get(name) ?? edgeStandIn(name),
  });

  const config = readStackConfig(args.projectDir, args.stack);
  if (config.role === "edge" && config.centralStack) {
    const centralName = centralStackFile(config.centralStack);
    const central = await evaluate(declared, readStackConfig(args.projectDir, centralName));
    others.set(config.centralStack, central.outputs);
  }
  const { resources } = await evaluate(declared, config);
  return writeRender(args.outDir, resources);
}

function write(file: string, text: string, written: string[]): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  written.push(file);
}

/** Resources that apply a chart: Helm releases, and charts Pulumi renders itself. */
const HELM_TYPES = new Set(["kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart"]);

export function writeRender(outDir: string, resources: DeclaredResource[]): string[] {
  const written: string[] = [];
  for (const sub of ["values", "fluentd", "fluent-bit", "configmaps", "prometheus", "grafana"]) {
    rmSync(path.join(outDir, sub), { recursive: true, force: true });
  }
  for (const r of resources.filter((x) => HELM_TYPES.has(x.type))) {
    const i = r.inputs as {
      name: string;
      chart: string;
      version: string;
      namespace: string;
      repositoryOpts: { repo: string };
      values: Record<string, unknown>;
    };
    // A v4 Chart takes its values as a YAML file, and Pulumi renders it without hooks.
    const chart = r.type === "kubernetes:helm.sh/v4:Chart";
    const values = chart ? chartValuesOf(r.inputs) : i.values;
    const what = chart ? `chart ${i.name} (rendered by Pulumi, without hooks)` : `release ${i.name}`;
    const header =
      `# Helm values of ${what}: chart ${i.chart} ${i.version} from ${i.repositoryOpts.repo}, namespace ${i.namespace}.\n` +
      `# helm template ${i.name} ${i.chart} --repo ${i.repositoryOpts.repo} --version ${i.version} --namespace ${i.namespace}${chart ? " --no-hooks" : ""} -f values/${i.name}.yaml\n`;
    write(
      path.join(outDir, "values", `${i.name}.yaml`),
      header + stringify(values, { lineWidth: 0 }),
      written,
    );

    if (i.chart === "fluentd") {
      // The chart's layout: fluent.conf in /etc/fluent, the files it includes in /etc/fluent/config.d.
      const main = resources.find(
        (x) =>
          x.type === "kubernetes:core/v1:ConfigMap" &&
          (x.inputs.metadata as { name?: string }).name === values.mainConfigMapNameOverride,
      );
      if (!main)
        throw new Error(`no ConfigMap ${String(values.mainConfigMapNameOverride)} holds fluent.conf`);
      for (const [file, text] of Object.entries(main.inputs.data as Record<string, string>)) {
        write(path.join(outDir, "fluentd", file), text, written);
      }
      for (const [file, text] of Object.entries(values.fileConfigs as Record<string, string>)) {
        write(path.join(outDir, "fluentd", "config.d", file), text, written);
      }
    }
    if (i.chart === "fluent-bit") {
      const conf = values.config as FluentBitConfig;
      write(path.join(outDir, "fluent-bit", "fluent-bit.conf"), fluentBitConfFile(conf), written);
      write(path.join(outDir, "fluent-bit", "custom_parsers.conf"), conf.customParsers, written);
    }
  }
  // ConfigMaps the program itself creates (the index-setup Job's policy, template and script, the Kibana
  // setup Job's files, the alert rules and the dashboard); the rules and the dashboard also on their own.
  for (const cm of resources.filter((r) => r.type === "kubernetes:core/v1:ConfigMap")) {
    const data = (cm.inputs.data ?? {}) as Record<string, string>;
    for (const [key, text] of Object.entries(data)) {
      write(path.join(outDir, "configmaps", cm.name, key), text, written);
    }
    const cmName = (cm.inputs.metadata as { name?: string } | undefined)?.name;
    if (cmName === ALERT_RULES_CONFIGMAP) {
      write(path.join(outDir, "prometheus", "rules.yaml"), data[RULES_FILE], written);
    }
    if (cmName === DASHBOARD_CONFIGMAP) {
      for (const [key, text] of Object.entries(data)) {
        write(path.join(outDir, "grafana", key), text, written);
      }
    }
  }
  const list =
    resources
      .map((r) => {
        const k8sName = (r.outputs.metadata as { name?: string } | undefined)?.name;
        return `${r.type} ${r.name}${k8sName ? ` (${k8sName})` : ""}`;
      })
      .join("\n") + "\n";
  write(path.join(outDir, "resources.txt"), list, written);
  return written;
}
