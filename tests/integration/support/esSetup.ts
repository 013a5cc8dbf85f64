/**
 * Runs the rendered index-setup script (`configmaps/efk-elasticsearch-index-setup/setup.sh` of a render) the
 * way the Job runs it: with `sh`, and the environment the Job's pod sets (ES_SETUP_ENV), pointed at a
 * stand-in. The names and file names come from the same function as the pod's (`esSetupEnv`); whether
 * snapshots are on, from the rendered ConfigMap (it holds the repository's body only then).
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { DATA_STREAM_PREFIX } from "../../../components/central";
import { ES_SETUP_ENV, esSetupEnv, SETUP_FILES } from "../../../lib/render/esSetup";

/** The rendered ConfigMap's folder: the script and the bodies it sends. */
export function indexSetupDir(renderDir: string): string {
  return path.join(renderDir, "configmaps", "efk-elasticsearch-index-setup");
}

export interface IndexSetupRun {
  /** The script's exit status. */
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the script against `https://localhost:<port>` as `elastic` with `password`, verifying with `caFile`.
 * Resolves with its exit status and output, also when it fails (tests assert on both).
 */
export function runIndexSetup(
  renderDir: string,
  target: { port: number; caFile: string; password: string },
  timeoutMs = 60_000,
): Promise<IndexSetupRun> {
  const dir = indexSetupDir(renderDir);
  const snapshots = fs.existsSync(path.join(dir, SETUP_FILES.repository));
  const env = {
    ...process.env,
    [ES_SETUP_ENV.url]: `https://localhost:${target.port}`,
    [ES_SETUP_ENV.caFile]: target.caFile,
    [ES_SETUP_ENV.dir]: dir,
    [ES_SETUP_ENV.password]: target.password,
    // The stand-in answers at once: no reason to wait 5 seconds between tries.
    [ES_SETUP_ENV.retryDelay]: "1",
    ...esSetupEnv(DATA_STREAM_PREFIX, snapshots),
  };
  return new Promise((resolve) => {
    execFile(
      "sh",
      [path.join(dir, SETUP_FILES.script)],
      { env, encoding: "utf8", timeout: timeoutMs },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Runs the script and fails the test, with its output, unless it exits 0. */
export async function runIndexSetupOk(
  renderDir: string,
  target: { port: number; caFile: string; password: string },
): Promise<string> {
  const r = await runIndexSetup(renderDir, target);
  if (r.code !== 0) {
    throw new Error(`the index-setup script exited ${r.code}:\n${r.stdout}${r.stderr}`);
  }
  return r.stdout;
}
