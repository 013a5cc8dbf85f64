/**
 * The aggregator configuration exactly as `npm run render` writes it, pointed at test folders and
 * loopback ports. Only the paths, addresses and ports below change; each must occur in the rendered
 * text, so a change in the renderer shows up here as a failure rather than as a silently different test.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { renderScriptArgs } from "../../../scripts/renderStack";
import type { TestPki } from "./certs";
import { PROJECT_ROOT, freePort, startFluentd, type FluentdProcess } from "./fluentd";

/**
 * Runs `npm run render`'s script on a stack file written for the test; returns the output folder. `others`
 * are stack files written beside it (the central stack an edge reads).
 */
export function renderStackFile(
  workDir: string,
  stack: string,
  config: Record<string, unknown>,
  others: Record<string, Record<string, unknown>> = {},
): string {
  fs.mkdirSync(workDir, { recursive: true });
  for (const [name, c] of [...Object.entries(others), [stack, config] as const]) {
    const efk = Object.fromEntries(Object.entries(c).map(([k, v]) => [`efk:${k}`, v]));
    fs.writeFileSync(path.join(workDir, `Pulumi.${name}.yaml`), stringify({ config: efk }));
  }
  const out = path.join(workDir, "render");
  execFileSync(process.execPath, renderScriptArgs(stack, workDir, out), { cwd: PROJECT_ROOT, stdio: "pipe" });
  return out;
}

/**
 * The Kibana privileges the rendered Elasticsearch role `role` grants in the default space, reduced to what
 * the Kibana stand-in enforces. Throws when the role grants anything in Elasticsearch itself, or in
 * another application or space, which the stand-in could not model.
 */
export function renderedKibanaPrivileges(renderDir: string, role: string): string[] {
  const values = parse(fs.readFileSync(path.join(renderDir, "values", "elasticsearch.yaml"), "utf8")) as {
    esConfig: Record<string, string>;
  };
  const r = (parse(values.esConfig["roles.yml"]) as Record<string, Record<string, unknown[]>>)[role];
  if (!r) throw new Error(`the rendered roles.yml has no role ${role}`);
  const { cluster = [], indices = [], applications = [], ...rest } = r;
  if (cluster.length + indices.length > 0 || Object.keys(rest).length > 0) {
    throw new Error(`role ${role} grants more than Kibana privileges: ${JSON.stringify(r)}`);
  }
  return (applications as { application: string; privileges: string[]; resources: string[] }[]).flatMap(
    (a) => {
      if (a.application !== "kibana-.kibana" || a.resources.join() !== "space:default") {
        throw new Error(
          `role ${role}: an application privilege the stand-in does not model: ${JSON.stringify(a)}`,
        );
      }
      return a.privileges;
    },
  );
}

/**
 * The Elasticsearch role Fluentd writes with, as the rendered elasticsearch values define it, reduced to
 * what the stand-in enforces: the prefix of the names it may create documents in. Throws when the role
 * grants anything else (a cluster privilege, another index privilege), which the stand-in could not model.
 */
export function renderedWriterPrefix(renderDir: string, role: string): string {
  const values = parse(fs.readFileSync(path.join(renderDir, "values", "elasticsearch.yaml"), "utf8")) as {
    esConfig: Record<string, string>;
  };
  const roles = parse(values.esConfig["roles.yml"]) as Record<
    string,
    { cluster: string[]; indices: { names: string[]; privileges: string[] }[] }
  >;
  const r = roles[role];
  const only = r?.indices.length === 1 ? r.indices[0] : undefined;
  const pattern = only?.names.length === 1 ? only.names[0] : "";
  const privileges = [...(only?.privileges ?? [])].sort().join(",");
  if (!r || r.cluster.length > 0 || !pattern.endsWith("*") || privileges !== "auto_configure,create_doc") {
    throw new Error(`the rendered role ${role} is not what the stand-in models: ${JSON.stringify(r)}`);
  }
  return pattern.slice(0, -1);
}

export interface Relocation {
  /** Holds tls.crt, tls.key and ca.crt, as the chart mounts the fluentd-tls Secret at /fluentd/tls. */
  tlsDir: string;
  /**
   * Holds `<cluster>.crt` for each registered cluster, as the program mounts the fluentd-clients ConfigMap
   * at /fluentd/clients: required when the rendered aggregator knows clusters by certificate.
   */
  clientsDir?: string;
  bufferDir: string;
  deadLetterDir: string;
  forwardPort: number;
  metricsPort: number;
  esPort: number;
  /**
   * Where the certificate probe (`efk_certificates`) reads and connects, and how often; without it, its
   * files and endpoints stay as rendered (in-cluster names that do not resolve here: failed probes).
   */
  certificates?: CertificatesRelocation;
}

/** The certificate probe's files and endpoints, relocated (see Relocation). */
export interface CertificatesRelocation {
  /** Holds transport-ca.crt, as the program mounts that key of Elasticsearch's TLS Secret. */
  transportCaDir: string;
  /** The Elasticsearch HTTPS port the probe connects to on localhost (the output's host). */
  esHttpPort: number;
  /** Elasticsearch's transport port: on 127.0.0.1 (each address of it), as the headless Service's nodes. */
  esTransportPort: number;
  /** Kibana's HTTPS port on localhost. */
  kibanaPort: number;
  /** Seconds between probe rounds, instead of the rendered interval. */
  intervalSeconds: number;
}

/** Replaces every `from`; throws when there is none, so a renderer change cannot go unnoticed. */
function replaceAll(text: string, from: string, to: string, file: string): string {
  if (!text.includes(from)) {
    throw new Error(`${file}: expected "${from.trim()}" in the rendered configuration`);
  }
  return text.split(from).join(to);
}

/**
 * Copies the rendered fluent.conf and config.d/ to `dir`, relocated; returns the path of fluent.conf.
 * The Elasticsearch host becomes `localhost` (in the stand-in's certificate; the in-cluster name does
 * not resolve here).
 */
export function relocateAggregator(renderDir: string, dir: string, r: Relocation): string {
  const src = path.join(renderDir, "fluentd");
  fs.mkdirSync(path.join(dir, "config.d"), { recursive: true });
  fs.copyFileSync(path.join(src, "fluent.conf"), path.join(dir, "fluent.conf"));
  // Our plugins, into the directory startFluentd passes with -p (in the pod: /fluentd/plugins).
  const plugins = fs.readdirSync(src).filter((f) => f.endsWith(".rb"));
  if (plugins.length === 0) {
    throw new Error(`${src}: no plugin (*.rb) in the rendered aggregator files`);
  }
  fs.mkdirSync(path.join(dir, "plugins"), { recursive: true });
  for (const f of plugins) {
    fs.copyFileSync(path.join(src, f), path.join(dir, "plugins", f));
  }
  const rules: [string, string, string][] = [
    ["01_sources.conf", "/fluentd/tls/", `${r.tlsDir}/`],
    ["01_sources.conf", "bind 0.0.0.0\n", "bind 127.0.0.1\n"],
    ["01_sources.conf", "port 24224\n", `port ${r.forwardPort}\n`],
    ["01_sources.conf", "port 24231\n", `port ${r.metricsPort}\n`],
    ["04_outputs.conf", "/fluentd/tls/", `${r.tlsDir}/`],
    ["04_outputs.conf", "/var/log/fluent/buffer/", `${r.bufferDir}/`],
    ["04_outputs.conf", "/var/log/fluent/dead-letter/", `${r.deadLetterDir}/`],
    ["04_outputs.conf", "host elasticsearch-master.logging.svc\n", "host localhost\n"],
    ["04_outputs.conf", "port 9200\n", `port ${r.esPort}\n`],
  ];
  if (fs.readFileSync(path.join(src, "config.d", "01_sources.conf"), "utf8").includes("client_certs_dir")) {
    if (!r.clientsDir)
      throw new Error("the rendered aggregator knows clusters by certificate: give a clientsDir");
    rules.push([
      "01_sources.conf",
      "client_certs_dir /fluentd/clients\n",
      `client_certs_dir ${r.clientsDir}\n`,
    ]);
  }
  if (r.certificates) {
    const c = r.certificates;
    const endpoint = (host: string, port: number) => `host ${host}\n      port ${port}\n`;
    rules.push(
      ["01_sources.conf", "interval 300\n", `interval ${c.intervalSeconds}\n`],
      ["01_sources.conf", "path /fluentd/es-transport-ca/", `path ${c.transportCaDir}/`],
      [
        "01_sources.conf",
        endpoint("elasticsearch-master.logging.svc", 9200),
        endpoint("localhost", c.esHttpPort),
      ],
      [
        "01_sources.conf",
        endpoint("elasticsearch-master-headless.logging.svc", 9300),
        endpoint("127.0.0.1", c.esTransportPort),
      ],
      ["01_sources.conf", endpoint("kibana-kibana.logging.svc", 5601), endpoint("localhost", c.kibanaPort)],
    );
    if (r.clientsDir) {
      rules.push(["01_sources.conf", "path /fluentd/clients\n", `path ${r.clientsDir}\n`]);
    }
  }
  const files = fs.readdirSync(path.join(src, "config.d"));
  for (const file of files) {
    let text = fs.readFileSync(path.join(src, "config.d", file), "utf8");
    for (const [target, from, to] of rules) {
      if (target === file) {
        text = replaceAll(text, from, to, file);
      }
    }
    fs.writeFileSync(path.join(dir, "config.d", file), text);
  }
  return path.join(dir, "fluent.conf");
}

/**
 * What the rendered aggregator of a central stack "hub" with edges edge-a and edge-b reads from its
 * environment (the fluentd-credentials Secret), as the tests fill it.
 */
export const TEST_SECRETS = {
  FLUENT_SHARED_KEY: "test-shared-key",
  ES_WRITER_PASSWORD: "test-es-writer-password",
  FLUENT_PASSWORD_HUB: "hub-password",
  FLUENT_PASSWORD_EDGE_A: "edge-a-password",
  FLUENT_PASSWORD_EDGE_B: "edge-b-password",
};

export interface AgentRelocation {
  /** Replaces /var/log/pods (the tail input's paths, its exclusions and the kubernetes tag prefix). */
  podsDir: string;
  /** Replaces the agent's host directory (tail DB and chunk storage). */
  stateDir: string;
  /** Holds ca.crt (and tls.crt, tls.key with client certificates), as the fluent-bit-tls Secret is mounted. */
  tlsDir: string;
  /** Holds token, ca.crt and namespace, as Kubernetes mounts a service account. */
  serviceAccountDir: string;
  parsersFile: string;
  kubeApiPort: number;
  /** The endpoint the rendered configuration names (from the central stack), and where it really is. */
  forwardHost: string;
  forwardPort: number;
  metricsPort: number;
}

/** Copies the rendered fluent-bit.conf and custom_parsers.conf to `dir`, relocated; returns the first's path. */
export function relocateAgent(renderDir: string, dir: string, r: AgentRelocation): string {
  const file = "fluent-bit.conf";
  let text = fs.readFileSync(path.join(renderDir, "fluent-bit", file), "utf8");
  fs.mkdirSync(dir, { recursive: true });
  const customParsers = path.join(dir, "custom_parsers.conf");
  fs.copyFileSync(path.join(renderDir, "fluent-bit", "custom_parsers.conf"), customParsers);
  const tagPrefix = (p: string) => `kube${p.replace(/\//g, ".")}.`;
  const rules: [string, string][] = [
    ["/var/log/pods/", `${r.podsDir}/`],
    [`Kube_Tag_Prefix     ${tagPrefix("/var/log/pods")}\n`, `Kube_Tag_Prefix     ${tagPrefix(r.podsDir)}\n`],
    ["/fluent-bit/etc/conf/custom_parsers.conf\n", `${customParsers}\n`],
    ["/var/lib/fluent-bit/", `${r.stateDir}/`],
    ["/fluent-bit/tls/", `${r.tlsDir}/`],
    ["/fluent-bit/etc/parsers.conf\n", `${r.parsersFile}\n`],
    ["/var/run/secrets/kubernetes.io/serviceaccount/", `${r.serviceAccountDir}/`],
    ["https://kubernetes.default.svc:443\n", `https://127.0.0.1:${r.kubeApiPort}\n`],
    ["HTTP_Listen               0.0.0.0\n", "HTTP_Listen               127.0.0.1\n"],
    ["HTTP_Port                 2020\n", `HTTP_Port                 ${r.metricsPort}\n`],
    [`Host                            ${r.forwardHost}\n`, "Host                            127.0.0.1\n"],
    ["Port                            24224\n", `Port                            ${r.forwardPort}\n`],
  ];
  for (const [from, to] of rules) {
    text = replaceAll(text, from, to, file);
  }
  const out = path.join(dir, file);
  fs.writeFileSync(out, text);
  return out;
}

/**
 * Writes tls.crt, tls.key (a server certificate for `dnsNames`) and ca.crt into `dir`, as the chart mounts
 * the fluentd-tls Secret at /fluentd/tls; returns `dir`.
 */
export function aggregatorTlsDir(dir: string, pki: TestPki, certName: string, dnsNames: string[]): string {
  fs.mkdirSync(dir, { recursive: true });
  const cert = pki.server(certName, dnsNames);
  fs.copyFileSync(cert.cert, path.join(dir, "tls.crt"));
  fs.copyFileSync(cert.key, path.join(dir, "tls.key"));
  fs.copyFileSync(pki.caCert, path.join(dir, "ca.crt"));
  return dir;
}

export interface Aggregator {
  fluentd: FluentdProcess;
  conf: string;
  relocation: Relocation;
}

/**
 * Lays out the TLS folder under `dir` as the chart mounts the fluentd-tls Secret (a server certificate for
 * `serverNames`), relocates the rendered configuration there and starts the real Fluentd on it. A given
 * `bufferDir` or `forwardPort` lets a second aggregator take over from a killed one.
 */
export async function startRenderedAggregator(
  renderDir: string,
  dir: string,
  o: {
    pki: TestPki;
    serverNames: string[];
    esPort: number;
    env: Record<string, string>;
    bufferDir?: string;
    forwardPort?: number;
    /**
     * The registered clusters' client certificates, by cluster (files), for an aggregator that knows clusters
     * by certificate: copied to `<dir>/clients/<cluster>.crt`, as the fluentd-clients ConfigMap is mounted.
     */
    clients?: Record<string, string>;
    /** Where the certificate probe reads and connects (see Relocation). */
    certificates?: CertificatesRelocation;
    /** Changes the relocated configuration (given fluent.conf's path) before Fluentd starts. */
    patch?: (confPath: string) => void;
  },
): Promise<Aggregator> {
  const tlsDir = aggregatorTlsDir(
    path.join(dir, "tls"),
    o.pki,
    `${path.basename(dir)}-fluentd`,
    o.serverNames,
  );
  const clientsDir = o.clients ? path.join(dir, "clients") : undefined;
  if (clientsDir && o.clients) {
    fs.mkdirSync(clientsDir, { recursive: true });
    for (const [cluster, cert] of Object.entries(o.clients)) {
      fs.copyFileSync(cert, path.join(clientsDir, `${cluster}.crt`));
    }
  }
  const relocation: Relocation = {
    tlsDir,
    clientsDir,
    bufferDir: o.bufferDir ?? path.join(dir, "buffer"),
    deadLetterDir: path.join(dir, "dead-letter"),
    forwardPort: o.forwardPort ?? (await freePort()),
    metricsPort: await freePort(),
    esPort: o.esPort,
    certificates: o.certificates,
  };
  const conf = relocateAggregator(renderDir, path.join(dir, "etc"), relocation);
  o.patch?.(conf);
  const fluentd = await startFluentd(conf, { env: o.env });
  return { fluentd, conf, relocation };
}
