/**
 * Runs the real Fluentd from the project's bundle (Gemfile, installed into vendor/bundle by
 * scripts/setup-ruby.sh).
 *
 * How processes are run:
 * - `bundle exec fluentd ...` with `BUNDLE_GEMFILE` set. Bundler loads the fluentd executable into its own
 *   Ruby process (Kernel.load), so the spawned PID *is* Fluentd: there is no extra `bundle` layer.
 * - `--no-supervisor`: one process that reads the config, holds the buffers and handles signals itself
 *   (TERM/INT: graceful stop; USR1: flush buffers; USR2: reload config; CONT: sigdump). The supervisor
 *   runs only for a configuration with several workers (`<system> workers N`), which needs it; its
 *   workers are in its process group, so signals reach them too.
 * - Each Fluentd gets its own process group (`detached`) and signals go to the whole group, so anything it
 *   starts goes with it. `stopAll()` kills whatever is still running; a process `exit` hook does the same if
 *   the test run ends without it.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { spawnManaged, stopAll, type ManagedProcess } from "./process";

export { stopAll };
export type FluentdProcess = ManagedProcess;

export const PROJECT_ROOT = path.resolve(__dirname, "..", "..", "..");
const GEMFILE = path.join(PROJECT_ROOT, "Gemfile");
const READY_LINE = /fluentd worker is now running worker=\d+/;

function fluentdEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, BUNDLE_GEMFILE: GEMFILE, ...env };
}

let bundleChecked = false;

/**
 * Throws a helpful error unless the bundle is installed (`bundle check`, once per test run). Call it in a
 * `before` hook of Fluentd tests.
 */
export function assertBundleInstalled(): void {
  if (bundleChecked) return;
  const r = spawnSync("bundle", ["check"], { cwd: PROJECT_ROOT, env: fluentdEnv(), encoding: "utf8" });
  if (r.status !== 0) {
    throw new Error(
      `The Ruby gems for the integration tests are not installed: run scripts/setup-ruby.sh\n` +
        `${r.error?.message ?? ""}${r.stdout ?? ""}${r.stderr ?? ""}`,
    );
  }
  bundleChecked = true;
}

/**
 * `bundle exec fluentd --dry-run -c <confPath>`: parses the config and runs every plugin's `configure`
 * (which reads TLS certificates and, for a data-stream output with a static name, talks to Elasticsearch),
 * then exits. Returns the exit code (-1 if it was killed after 60 s) and stdout+stderr in order.
 */
export function fluentdDryRun(
  confPath: string,
  env?: Record<string, string>,
): { code: number; output: string } {
  const outFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "fluentd-dry-run-")), "output.log");
  const fd = fs.openSync(outFile, "w");
  try {
    const r = spawnSync(
      "bundle",
      ["exec", "fluentd", "--dry-run", "-c", confPath, ...pluginDirArgs(confPath)],
      {
        cwd: PROJECT_ROOT,
        env: fluentdEnv(env),
        stdio: ["ignore", fd, fd],
        timeout: 60_000,
        killSignal: "SIGKILL",
      },
    );
    fs.closeSync(fd);
    let output = fs.readFileSync(outFile, "utf8");
    if (r.error) output += `\n[fluentdDryRun] ${r.error.message}`;
    return { code: r.status ?? -1, output };
  } finally {
    fs.rmSync(path.dirname(outFile), { recursive: true, force: true });
  }
}

/**
 * Spawns `bundle exec fluentd -c <confPath> --no-supervisor` in PROJECT_ROOT, with `process.env` +
 * `BUNDLE_GEMFILE` + `opts.env`. Resolves once the log shows "fluentd worker is now running"; rejects
 * (with the log in the message) if it exits first or is not running within `timeoutMs` (default 30 s; it is
 * then killed).
 */
export async function startFluentd(
  confPath: string,
  opts: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<FluentdProcess> {
  const workers = configuredWorkers(confPath);
  const args = [
    "exec",
    "fluentd",
    "-c",
    confPath,
    ...pluginDirArgs(confPath),
    ...(workers > 1 ? [] : ["--no-supervisor"]),
  ];
  const f = await spawnManaged("bundle", args, { cwd: PROJECT_ROOT, env: fluentdEnv(opts.env) });
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  // Each worker says it is running.
  while ((f.log().match(new RegExp(READY_LINE.source, "g")) ?? []).length < workers) {
    if (!f.running()) {
      throw new Error(`fluentd (${confPath}) exited before it was running:\n${f.log()}`);
    }
    if (Date.now() > deadline) {
      await f.kill("SIGKILL");
      throw new Error(`fluentd (${confPath}) was not running after ${timeoutMs} ms:\n${f.log()}`);
    }
    await sleep(50);
  }
  return f;
}

/**
 * `-p <dir>` when `plugins/` is beside the configuration: the aggregator's image loads its plugin
 * directory so, and relocateAggregator puts the rendered plugins there.
 */
function pluginDirArgs(confPath: string): string[] {
  const dir = path.join(path.dirname(confPath), "plugins");
  return fs.existsSync(dir) ? ["-p", dir] : [];
}

/** The worker count of a configuration (`<system> workers N` in the file itself), 1 without one. */
export function configuredWorkers(confPath: string): number {
  const m = /<system>[^<]*?\bworkers\s+(\d+)/.exec(fs.readFileSync(confPath, "utf8"));
  return m ? Number(m[1]) : 1;
}

/** Polls `cond` every 100 ms until it returns true; rejects after `timeoutMs` naming `what`. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A TCP port on 127.0.0.1 that was free a moment ago (listen on 0, close), for a Fluentd to bind. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("no port"))));
    });
  });
}

/** One sample of a Prometheus text exposition. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Scrapes a Prometheus endpoint on 127.0.0.1 and parses its samples (text format 0.0.4). */
export async function scrapeMetrics(port: number, path = "/metrics"): Promise<Sample[]> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  if (!res.ok) throw new Error(`GET ${path} on ${port}: HTTP ${res.status}`);
  const samples: Sample[] = [];
  for (const line of (await res.text()).split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]] = l[2];
    }
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

/** The sum of the samples named `name` whose labels include `labels`. */
export function metricValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}
