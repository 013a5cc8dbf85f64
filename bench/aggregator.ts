/**
 * npm run bench
 *
 * Pushes records through the aggregator configuration `npm run render` writes (forward over TLS, shared
 * key, user auth, acknowledgements, file buffer) into the Elasticsearch stand-in, and, in the same run,
 * through the same with random ids instead of ids derived from each line's origin (what the derived ids
 * cost), and through what the common recipe deploys (plain forward, no auth, no acknowledgements, memory
 * buffer), and prints records per second and Fluentd's CPU seconds per 100k records for each.
 * BENCH_RECORDS sets the number of records per variant (default 200000).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { makeTestPki } from "../tests/integration/support/certs";
import { EsStandin } from "../tests/integration/support/esStandin";
import {
  assertBundleInstalled,
  freePort,
  startFluentd,
  stopAll,
  waitFor,
} from "../tests/integration/support/fluentd";
import { aggregatorTlsDir, relocateAggregator, renderStackFile } from "../tests/integration/support/rendered";
import { sendRecords, tailRecord } from "../tests/integration/support/sender";

const N = Number(process.env.BENCH_RECORDS ?? 200_000);
const SERVER_NAME = "logs.efk.bench";
const SECRETS = {
  FLUENT_SHARED_KEY: "bench-shared-key",
  ES_WRITER_PASSWORD: "bench-es-password",
  FLUENT_PASSWORD_HUB: "bench-hub",
  FLUENT_PASSWORD_EDGE_A: "bench-edge-a",
};
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

/** User + system CPU seconds a process has used so far. */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** A record shaped like what Fluent Bit sends: a log line plus Kubernetes metadata. */
function record(i: number, run: string): Record<string, unknown> {
  return {
    ...tailRecord(
      `/var/log/containers/web-7d9f8c6b5-${(i % 50).toString(36)}_shop_web-${run}.log`,
      i * 160,
      `2026-11-28T12:00:00.000Z INFO request ${i} served path=/api/v1/items/${i % 977} status=200 duration_ms=${i % 211}`,
    ),
    cluster: "edge-a",
    run,
    seq: i,
    kubernetes: {
      pod_name: `web-7d9f8c6b5-${(i % 50).toString(36)}`,
      namespace_name: "shop",
      container_name: "web",
      host: `node-${i % 7}`,
      labels: { app: "web", "pod-template-hash": "7d9f8c6b5" },
    },
  };
}

/** The common recipe, made from the same rendered file: no TLS, no auth, memory buffer. */
function commonRecipe(confDir: string): void {
  const sources = path.join(confDir, "config.d", "01_sources.conf");
  let text = fs.readFileSync(sources, "utf8");
  text = text
    .replace(/\n\s*<transport tls>[\s\S]*?<\/transport>/, "")
    .replace(/\n\s*<security>[\s\S]*?<\/security>/, "");
  fs.writeFileSync(sources, text);
  const outputs = path.join(confDir, "config.d", "04_outputs.conf");
  const out = fs.readFileSync(outputs, "utf8");
  const memory = out.replace(/(<buffer tag, cluster>\n\s+)@type file\n\s+path \S+\n/, "$1@type memory\n");
  if (memory === out) {
    throw new Error(`${outputs}: no file buffer for Elasticsearch to replace`);
  }
  fs.writeFileSync(outputs, memory);
}

/**
 * The rendered configuration as it was before ids were derived from each line's origin: random ids. The
 * same run measures both, so the difference is what the derived ids cost.
 */
function randomIds(confDir: string): void {
  const outputs = path.join(confDir, "config.d", "04_outputs.conf");
  const out = fs.readFileSync(outputs, "utf8");
  const random = out.replace(/\n\s+use_record_as_seed true\n[\s\S]*?hash_type sha256/, "");
  if (random === out) {
    throw new Error(`${outputs}: no derived-id filter to replace`);
  }
  fs.writeFileSync(outputs, random);
}

interface Result {
  variant: string;
  seconds: number;
  acceptSeconds: number;
  cpu: number;
  rss: number;
}

async function main(): Promise<void> {
  assertBundleInstalled();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "efk-bench-"));
  const pki = makeTestPki(path.join(work, "pki"));
  const esCert = pki.server("es", ["localhost"]);
  const es = new EsStandin({
    cert: esCert.cert,
    key: esCert.key,
    username: "efk-fluentd",
    password: SECRETS.ES_WRITER_PASSWORD,
  });
  await es.start();
  const renderDir = renderStackFile(path.join(work, "stack"), "bench", {
    role: "central",
    clusterName: "hub",
    edgeClusters: ["edge-a"],
    fluentdExternalHosts: [SERVER_NAME],
  });
  const results: Result[] = [];
  try {
    for (const variant of [
      "rendered (TLS, shared key, user auth, ack, file buffer, ids derived from origin)",
      "rendered, random ids (as before ids were derived)",
      "common recipe (plain, no ack, memory buffer)",
    ]) {
      const secured = variant.startsWith("rendered");
      const random = variant.includes("random ids");
      const run = random ? "random-ids" : secured ? "secured" : "plain";
      const dir = path.join(work, run);
      const tlsDir = aggregatorTlsDir(path.join(dir, "tls"), pki, `fluentd-${run}`, [SERVER_NAME]);
      const port = await freePort();
      const conf = relocateAggregator(renderDir, path.join(dir, "etc"), {
        tlsDir,
        bufferDir: path.join(dir, "buffer"),
        deadLetterDir: path.join(dir, "dead-letter"),
        forwardPort: port,
        metricsPort: await freePort(),
        esPort: es.listeningPort as number,
      });
      if (!secured) {
        commonRecipe(path.dirname(conf));
      }
      if (random) {
        randomIds(path.dirname(conf));
      }
      const fluentd = await startFluentd(conf, { env: SECRETS });
      const records = Array.from({ length: N }, (_, i) => record(i, run));
      const cpu0 = cpuSeconds(fluentd.pid);
      const t0 = process.hrtime.bigint();
      const sent = await sendRecords(
        secured
          ? {
              port,
              ca: pki.caCert,
              serverName: SERVER_NAME,
              sharedKey: SECRETS.FLUENT_SHARED_KEY,
              username: "edge-a",
              password: SECRETS.FLUENT_PASSWORD_EDGE_A,
            }
          : { port, plain: true },
        records,
        600_000,
        true,
      );
      const accepted = Number(process.hrtime.bigint() - t0) / 1e9;
      if (sent.acked !== N) {
        throw new Error(`${variant}: ${sent.acked} of ${N} accepted: ${sent.errors.slice(0, 3).join("; ")}`);
      }
      await waitFor(
        () => es.docs("efk-logs-edge-a").filter((d) => d.run === run).length >= N,
        600_000,
        `${N} records`,
      );
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      results.push({
        variant,
        seconds,
        acceptSeconds: accepted,
        cpu: cpuSeconds(fluentd.pid) - cpu0,
        rss: peakRssMiB(fluentd.pid),
      });
      await fluentd.kill();
    }
  } finally {
    await stopAll();
    await es.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }

  console.log(
    `records per variant: ${N} (~${JSON.stringify(record(0, "x")).length} bytes each), flush_interval 5s, ${os.cpus().length} cores`,
  );
  console.log(
    "| variant | records/s end to end | records/s accepted | Fluentd CPU s per 100k | Fluentd peak RSS MiB |",
  );
  console.log("|---|---|---|---|---|");
  for (const r of results) {
    console.log(
      `| ${r.variant} | ${Math.round(N / r.seconds)} | ${Math.round(N / r.acceptSeconds)} | ${((r.cpu / N) * 100_000).toFixed(2)} | ${r.rss.toFixed(0)} |`,
    );
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : String(e));
  process.exit(1);
});
