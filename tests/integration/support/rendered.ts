/**
 * The aggregator configuration exactly as `npm run render` writes it, pointed at test folders and
 * loopback ports. Only the paths, addresses and ports below change; each must occur in the rendered
 * text, so a change in the renderer shows up here as a failure rather than as a silently different test.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import type { TestPki } from "./certs";
import { PROJECT_ROOT } from "./fluentd";

/** Runs `npm run render`'s script on a stack file written for the test; returns the output folder. */
export function renderStackFile(workDir: string, stack: string, config: Record<string, unknown>): string {
  fs.mkdirSync(workDir, { recursive: true });
  const efk = Object.fromEntries(Object.entries(config).map(([k, v]) => [`efk:${k}`, v]));
  fs.writeFileSync(path.join(workDir, `Pulumi.${stack}.yaml`), stringify({ config: efk }));
  const out = path.join(workDir, "render");
  execFileSync(
    process.execPath,
    [
      "-r",
      "ts-node/register/transpile-only",
      "scripts/render.ts",
      "--stack",
      stack,
      "--dir",
      workDir,
      "--out",
      out,
    ],
    { cwd: PROJECT_ROOT, stdio: "pipe" },
  );
  return out;
}

export interface Relocation {
  /** Holds tls.crt, tls.key and ca.crt, as the chart mounts the fluentd-tls Secret at /fluentd/tls. */
  tlsDir: string;
  bufferDir: string;
  deadLetterDir: string;
  forwardPort: number;
  metricsPort: number;
  esPort: number;
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
