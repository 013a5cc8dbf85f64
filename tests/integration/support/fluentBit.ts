/**
 * Runs a real Fluent Bit: the binary that `FLUENT_BIT_BIN` names (none installs from the registries these
 * machines reach; build it from the fluent/fluent-bit v5.1.1 source, outside this repository). Without it,
 * the suites that need it skip and say why.
 */
import { execFileSync } from "node:child_process";
import * as http from "node:http";
import { waitFor } from "./fluentd";
import { spawnManaged, type ManagedProcess } from "./process";

export const FLUENT_BIT_VERSION = "5.1.1";

/** Why the real-Fluent-Bit suites cannot run here, or undefined when they can. */
export function fluentBitUnavailable(): string | undefined {
  const bin = process.env.FLUENT_BIT_BIN;
  if (!bin) {
    return "FLUENT_BIT_BIN is not set: it names a Fluent Bit 5.1.1 binary (see the README's Tests section)";
  }
  let version: string;
  try {
    version = execFileSync(bin, ["--version"], { encoding: "utf8" });
  } catch (e) {
    return `FLUENT_BIT_BIN=${bin} does not run: ${(e as Error).message}`;
  }
  if (!version.includes(`v${FLUENT_BIT_VERSION}`)) {
    return `FLUENT_BIT_BIN=${bin} is not Fluent Bit ${FLUENT_BIT_VERSION}: ${version.split("\n")[0]}`;
  }
  return undefined;
}

export interface FluentBitProcess extends ManagedProcess {
  metricsPort: number;
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path, timeout: 2000 }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString("utf8")));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
  });
}

/** Starts Fluent Bit on `confPath`; resolves once its HTTP server answers. */
export async function startFluentBit(
  confPath: string,
  metricsPort: number,
  env: Record<string, string>,
): Promise<FluentBitProcess> {
  const bin = process.env.FLUENT_BIT_BIN as string;
  const p = await spawnManaged(bin, ["-c", confPath], { env: { ...process.env, ...env } });
  await waitFor(
    async () => {
      if (!p.running()) throw new Error(`fluent-bit exited before it was running:\n${p.log()}`);
      return get(metricsPort, "/api/v1/health").then(
        (r) => r.status === 200,
        () => false,
      );
    },
    30_000,
    "fluent-bit's HTTP server",
  );
  return Object.assign(p, { metricsPort });
}

/** The sum of a Prometheus counter over all its label sets, from Fluent Bit's metrics endpoint. */
export async function fluentBitCounter(port: number, name: string): Promise<number> {
  const { body } = await get(port, "/api/v2/metrics/prometheus");
  let sum = 0;
  for (const line of body.split("\n")) {
    const m = /^(\w+)(\{[^}]*\})? ([0-9.e+-]+)/.exec(line);
    if (m && m[1] === name) sum += Number(m[3]);
  }
  return sum;
}
