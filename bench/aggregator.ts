/**
 * npm run bench
 *
 * Pushes records through the aggregator configuration `npm run render` writes (forward over TLS with a
 * registered client certificate, acknowledgements, file buffer, ids derived from each line's origin) into
 * the Elasticsearch stand-in, in one run:
 * - as rendered with 2 workers (the pod's CPU on this 2-core machine), on jemalloc as the pod runs it;
 * - as rendered with 1 process, on jemalloc, and on glibc's allocator (the image's default);
 * - the front door's cost: rendered with `clientCertAuth: false` (our input with the shared key and a
 *   user), and the same with Fluentd's own in_forward (the front door before: no identity, no limit);
 * - with the filters as they were (record_transformer with Ruby, the prometheus filter): what
 *   record_modifier and efk_count save;
 * - the common recipe (plain forward, no auth, no acknowledgements, memory buffer of 8 MB chunks, 4 flush
 *   threads, 1 process, glibc): the baseline.
 * Records arrive as from BENCH_CONNECTIONS agents (default 16), each connection opened BENCH_STAGGER_MS
 * (50) after the one before, in PackedForward chunks of BENCH_CHUNK_RECORDS (1000) encoded beforehand (see
 * forwardClient.ts). It prints records per second end to end and accepted, Fluentd's CPU seconds per 100k
 * records, its peak RSS (each process of a run, a supervisor and its workers, and their sum) and the
 * records each worker accepted. BENCH_RECORDS sets the records per variant (default 600000),
 * BENCH_VARIANTS picks variants by their run name (w2, w1, w1-user, w1-inforward, w1-glibc, w1-before,
 * plain, and with records shaped as the agent really sends them: w2-real, w1-real, w1-real-before,
 * plain-real).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { EFK_METRICS } from "../lib/monitoring/metrics";
import { makeTestPki } from "../tests/integration/support/certs";
import { EsStandin } from "../tests/integration/support/esStandin";
import {
  assertBundleInstalled,
  freePort,
  scrapeMetrics,
  startFluentd,
  stopAll,
  waitFor,
} from "../tests/integration/support/fluentd";
import { aggregatorTlsDir, relocateAggregator, renderStackFile } from "../tests/integration/support/rendered";
import { allocatorEnv, JEMALLOC } from "../tests/integration/support/memory";
import { tailRecord } from "../tests/integration/support/sender";
import { aggregatorBefore, withoutOjEnv } from "../tests/integration/support/before";
import { cpuSeconds, peakRssMiB } from "../tests/integration/support/cpu";
import { RECORD_FIELDS } from "../lib/records";
import { encodeChunk, sendChunks, type Chunk, type ForwardTarget } from "./forwardClient";

const N = Number(process.env.BENCH_RECORDS ?? 600_000);
/** Records per forward message: Fluent Bit sends a chunk of up to about 2 MB in one. */
const CHUNK_RECORDS = Number(process.env.BENCH_CHUNK_RECORDS ?? 1000);
const SERVER_NAME = "logs.efk.bench";
const SECRETS = {
  FLUENT_SHARED_KEY: "bench-shared-key",
  ES_WRITER_PASSWORD: "bench-es-password",
  FLUENT_PASSWORD_HUB: "bench-hub",
  FLUENT_PASSWORD_EDGE_A: "bench-edge-a",
};
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

/**
 * A record as the agent really sends it: what the agent suite's records test prints of a stored document
 * (tests/integration/agent.test.ts), without what the aggregator adds (`efk_id`, `@timestamp`). The CRI
 * parser's fields (`time` with nanoseconds, `stream`, `_p`), the kubelet layout's path and offset, the
 * kubernetes filter's metadata with the pod's labels, the cluster; every third line is an application's
 * JSON, merged under `log_processed` with its `log` dropped (`Merge_Log_Key`, `Keep_Log Off`).
 */
function realRecord(i: number, run: string): Record<string, unknown> {
  const pod = `web-7d9f8c6b5-${(i % 50).toString(36).padStart(5, "x")}`;
  const uid = `878eee7f-d5b6-28f1-497f-${(0x9c0d4719238c + (i % 50)).toString(16).padStart(12, "0")}`;
  const stamp = new Date(Date.UTC(2026, 11, 4, 12, 0, 0) + Math.floor(i / 10)).toISOString();
  const line =
    i % 3 === 0
      ? {
          log_processed: {
            level: "info",
            msg: `request served`,
            path: `/api/v1/items/${i % 977}`,
            status: 200,
            duration_ms: i % 211,
            run,
            seq: i,
          },
        }
      : {
          log: `${stamp} INFO request ${i} served path=/api/v1/items/${i % 977} status=200 run=${run} seq=${i}`,
        };
  return {
    time: `${stamp.slice(0, 23)}${String(i % 1_000_000).padStart(6, "0")}Z`,
    stream: "stdout",
    _p: "F",
    [RECORD_FIELDS.file]: `/var/log/pods/shop_${pod}_${uid}/web/0.log`,
    [RECORD_FIELDS.offset]: i * 160,
    ...line,
    kubernetes: {
      pod_name: pod,
      namespace_name: "shop",
      pod_id: uid,
      labels: { app: "web", "pod-template-hash": "7d9f8c6b5", tier: "frontend" },
      host: `node-${i % 7}`,
      pod_ip: `10.1.${i % 7}.${i % 50}`,
      container_name: "web",
    },
    cluster: "edge-a",
  };
}

/**
 * The common recipe, made from the same rendered file: no TLS, no auth, a memory buffer of 8 MB chunks (its
 * default) flushed by 4 threads (more than the plugin's default of 1), Fluentd's other flush defaults.
 */
function commonRecipe(confDir: string): void {
  const sources = path.join(confDir, "config.d", "01_sources.conf");
  let text = fs.readFileSync(sources, "utf8");
  text = text
    .replace(/\n\s+client_certs_dir \S+/, "")
    .replace(/\n\s*<transport tls>[\s\S]*?<\/transport>/, "")
    .replace(/\n\s*<security>[\s\S]*?<\/security>/, "");
  fs.writeFileSync(sources, text);
  const outputs = path.join(confDir, "config.d", "04_outputs.conf");
  const out = fs.readFileSync(outputs, "utf8");
  const memory = out
    .replace(/(<buffer tag, cluster>\n\s+)@type file\n\s+path \S+\n/, "$1@type memory\n")
    .replace(/flush_thread_count \d+\n/, "flush_thread_count 4\n")
    .replace(/\n\s+queued_chunks_limit_size \S+/, "")
    .replace(/chunk_limit_size \S+\n/, "chunk_limit_size 8MB\n")
    .replace(/\n\s+flush_thread_burst_interval \S+\n/, "\n");
  if (
    !/@type memory\n[\s\S]*flush_thread_count 4\n[\s\S]*chunk_limit_size 8MB\n/.test(memory) ||
    memory.includes("flush_thread_burst_interval")
  ) {
    throw new Error(`${outputs}: no file buffer, flush threads and chunk size for Elasticsearch to replace`);
  }
  fs.writeFileSync(outputs, memory);
}

/**
 * The front door before `efk_forward`: Fluentd's in_forward with the same TLS, shared key and users, which
 * emits the sender's own tag (the bench sends `efk.edge-a`, as Fluent Bit does) and bounds nothing.
 */
function inForward(confDir: string): void {
  const sources = path.join(confDir, "config.d", "01_sources.conf");
  const text = fs.readFileSync(sources, "utf8");
  const before = text
    .replace("@type efk_forward\n", "@type forward\n")
    .replace(
      /\n\s+(identity|message_limit|handshake_limit|tag_prefix|record_key|oversized_metric|impersonation_metric) \S+/g,
      "",
    );
  if (!text.includes("@type efk_forward\n") || /identity|message_limit/.test(before)) {
    throw new Error(`${sources}: no efk_forward source to replace`);
  }
  fs.writeFileSync(sources, before);
}

/**
 * The filters as they were before: record_transformer evaluating Ruby for each record, and
 * fluent-plugin-prometheus's filter labelling each record for the accepted-records counter, with the same
 * results. The same run measures both, so the difference is what record_modifier and efk_count save.
 */
function filtersBefore(confDir: string): void {
  const outputs = path.join(confDir, "config.d", "04_outputs.conf");
  const out = fs.readFileSync(outputs, "utf8");
  const before = out
    .replace(
      /<filter \*\*>\n(\s+)@type record_modifier\n[\s\S]*?<\/filter>/,
      (_m, indent: string) =>
        `<filter **>\n${indent}@type record_transformer\n${indent}enable_ruby true\n${indent}<record>\n` +
        `${indent}  cluster "\${%w[hub edge-a].include?(record['cluster']) ? record['cluster'] : 'unregistered'}"\n` +
        `${indent}  log_file "\${record['log_file'].is_a?(String) ? record['log_file'].sub(/[.]log[.][0-9]{8}-[0-9]{6}$/, '.log') : record['log_file']}"\n` +
        `${indent}</record>\n${indent.slice(2)}</filter>`,
    )
    .replace(
      /<filter \*\*>\n(\s+)@type efk_count\n\s+metric_name (\S+)\n[\s\S]*?<\/filter>/,
      (_m, indent: string, name: string) =>
        `<filter **>\n${indent}@type prometheus\n${indent}<metric>\n${indent}  name ${name}\n` +
        `${indent}  type counter\n${indent}  desc "Records accepted from forwarders, by cluster."\n` +
        `${indent}  <labels>\n${indent}    cluster $.cluster\n${indent}  </labels>\n${indent}</metric>\n` +
        `${indent.slice(2)}</filter>`,
    );
  if (!before.includes("@type record_transformer") || !before.includes("@type prometheus\n")) {
    throw new Error(`${outputs}: no record_modifier or efk_count filter to replace`);
  }
  fs.writeFileSync(outputs, before);
}

interface Variant {
  name: string;
  /** The records' `run` field and the work folder. */
  run: string;
  workers: 1 | 2;
  /** TLS, the sender's identity, acknowledgements, file buffer: as rendered. */
  secured: boolean;
  /** Rendered with `clientCertAuth: false`: the shared key and a user instead of a client certificate. */
  user?: boolean;
  /** Fluentd's own in_forward in place of ours (with `user`): the front door before. */
  inForward?: boolean;
  jemalloc: boolean;
  /** The filters as they were before (record_transformer with Ruby, the prometheus filter). */
  filtersBefore?: boolean;
  /** Records shaped as the agent really sends them (realRecord), not the bench's own (record). */
  real?: boolean;
  /** The aggregator as before issue 22's cost cuts (tests/integration/support/before.ts). */
  before?: boolean;
}

/** Connections records arrive on, as from several nodes' agents. */
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const STAGGER_MS = Number(process.env.BENCH_STAGGER_MS ?? 50);

interface Result {
  variant: string;
  /** CPU seconds of this process meanwhile: the senders and the Elasticsearch stand-in, on the same cores. */
  own: number;
  seconds: number;
  acceptSeconds: number;
  /** Records each worker accepted, most first. */
  byWorker: number[];
  cpu: number;
  /** Peak RSS of each process, the supervisor first. */
  rss: number[];
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
  const render = (workers: number, clientCertAuth = true) =>
    renderStackFile(path.join(work, `stack-${workers}-${clientCertAuth}`), "bench", {
      role: "central",
      clusterName: "hub",
      edgeClusters: ["edge-a"],
      fluentdExternalHosts: [SERVER_NAME],
      fluentdLoadBalancerSourceRanges: ["127.0.0.0/8"],
      indexLayout: "per-cluster",
      fluentdWorkers: workers,
      clientCertAuth,
    });
  const renders = { 1: render(1), 2: render(2) };
  const userRender = render(1, false);
  // The registered clusters' certificates, as the fluentd-clients ConfigMap holds them; edge-a sends.
  const edgeA = pki.client("edge-a");
  const clients = { hub: pki.client("hub").cert, "edge-a": edgeA.cert };
  const variants: Variant[] = [
    { name: "rendered, 2 workers, jemalloc", run: "w2", workers: 2, secured: true, jemalloc: true },
    { name: "rendered, 1 process, jemalloc", run: "w1", workers: 1, secured: true, jemalloc: true },
    {
      name: "rendered with clientCertAuth false (shared key and user), 1 process, jemalloc",
      run: "w1-user",
      workers: 1,
      secured: true,
      jemalloc: true,
      user: true,
    },
    {
      name: "the same with Fluentd's in_forward (the front door before), 1 process, jemalloc",
      run: "w1-inforward",
      workers: 1,
      secured: true,
      jemalloc: true,
      user: true,
      inForward: true,
    },
    {
      name: "rendered, 1 process, glibc malloc",
      run: "w1-glibc",
      workers: 1,
      secured: true,
      jemalloc: false,
    },
    {
      name: "rendered, 1 process, jemalloc, filters as before (record_transformer, prometheus)",
      run: "w1-before",
      workers: 1,
      secured: true,
      jemalloc: true,
      filtersBefore: true,
    },
    {
      name: "common recipe (plain, no ack, memory buffer, 1 process, glibc)",
      run: "plain",
      workers: 1,
      secured: false,
      jemalloc: false,
    },
    {
      name: "real records: rendered, 2 workers, jemalloc",
      run: "w2-real",
      workers: 2,
      secured: true,
      jemalloc: true,
      real: true,
    },
    {
      name: "real records: rendered, 1 process, jemalloc",
      run: "w1-real",
      workers: 1,
      secured: true,
      jemalloc: true,
      real: true,
    },
    {
      name: "real records: rendered, 1 process, jemalloc, as before (include_timestamp, Yajl)",
      run: "w1-real-before",
      workers: 1,
      secured: true,
      jemalloc: true,
      real: true,
      before: true,
    },
    {
      name: "real records: common recipe",
      run: "plain-real",
      workers: 1,
      secured: false,
      jemalloc: false,
      real: true,
    },
  ];
  const only = process.env.BENCH_VARIANTS?.split(",").map((r) => r.trim());
  const chosen = only ? variants.filter((v) => only.includes(v.run)) : variants;
  if (chosen.length === 0) {
    throw new Error(
      `BENCH_VARIANTS=${process.env.BENCH_VARIANTS}: none of ${variants.map((v) => v.run).join(", ")}`,
    );
  }
  const results: Result[] = [];
  try {
    for (const v of chosen) {
      if (v.jemalloc && !JEMALLOC) {
        throw new Error(
          "no libjemalloc.so.2 here: run `bash scripts/setup-jemalloc.sh` (Debian's libjemalloc2), as the pod preloads jemalloc",
        );
      }
      es.dropDocuments();
      const dir = path.join(work, v.run);
      const tlsDir = aggregatorTlsDir(path.join(dir, "tls"), pki, `fluentd-${v.run}`, [SERVER_NAME]);
      const port = await freePort();
      const metricsPort = await freePort();
      const renderDir = v.user ? userRender : renders[v.workers];
      const clientsDir = path.join(dir, "clients");
      fs.mkdirSync(clientsDir, { recursive: true });
      for (const [cluster, cert] of Object.entries(clients)) {
        fs.copyFileSync(cert, path.join(clientsDir, `${cluster}.crt`));
      }
      const conf = relocateAggregator(renderDir, path.join(dir, "etc"), {
        tlsDir,
        clientsDir,
        bufferDir: path.join(dir, "buffer"),
        deadLetterDir: path.join(dir, "dead-letter"),
        forwardPort: port,
        metricsPort,
        esPort: es.listeningPort as number,
      });
      if (!v.secured) {
        inForward(path.dirname(conf));
        commonRecipe(path.dirname(conf));
      }
      if (v.filtersBefore) {
        filtersBefore(path.dirname(conf));
      }
      if (v.inForward) {
        inForward(path.dirname(conf));
      }
      if (v.before) {
        aggregatorBefore(conf);
      }
      const fluentd = await startFluentd(conf, {
        env: {
          ...SECRETS,
          ...(v.jemalloc ? allocatorEnv(renderDir) : {}),
          ...(v.before ? withoutOjEnv() : {}),
        },
      });
      // As several nodes' agents do: one connection each (a connection stays with one worker), chunks
      // encoded before the clock starts, as Fluent Bit sends its chunk files.
      const now = Date.now();
      const slices = Array.from({ length: CONNECTIONS }, (_, k) => {
        const chunks: Chunk[] = [];
        for (let i = k * CHUNK_RECORDS; i < N; i += CONNECTIONS * CHUNK_RECORDS) {
          const ids = Array.from({ length: Math.min(CHUNK_RECORDS, N - i) }, (_r, j) => i + j);
          chunks.push(
            encodeChunk(
              ids.map((id) => (v.real ? realRecord(id, v.run) : record(id, v.run))),
              now,
            ),
          );
        }
        return chunks;
      });
      const target: ForwardTarget = v.secured
        ? {
            port,
            secured: {
              ca: pki.caCert,
              serverName: SERVER_NAME,
              ...(v.user
                ? {
                    login: {
                      sharedKey: SECRETS.FLUENT_SHARED_KEY,
                      username: "edge-a",
                      password: SECRETS.FLUENT_PASSWORD_EDGE_A,
                      clientHostname: "edge-a-fluent-bit",
                    },
                  }
                : { clientCert: edgeA }),
            },
          }
        : { port };
      const cpu0 = cpuSeconds(fluentd.pid);
      const own0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      // Agents do not connect in the same millisecond: each connection opens STAGGER_MS after the one before.
      const sent = await Promise.all(
        slices.map(async (chunks, k) => {
          await new Promise((resolve) => setTimeout(resolve, k * STAGGER_MS));
          // Fluent Bit's tag (efk.<cluster>): what the front door before routed by.
          return sendChunks(target, "efk.edge-a", chunks);
        }),
      );
      const accepted = Number(process.hrtime.bigint() - t0) / 1e9;
      const acked = sent.reduce((n, r) => n + r, 0);
      if (acked !== N) {
        throw new Error(`${v.name}: ${acked} of ${N} accepted`);
      }
      await waitFor(() => es.count("efk-logs-edge-a") >= N, 600_000, `${N} records`);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      // Which worker accepted what: a connection stays with the worker that accepted it.
      const byWorker = (await scrapeMetrics(metricsPort, v.workers > 1 ? "/aggregated_metrics" : "/metrics"))
        .filter((x) => x.name === EFK_METRICS.recordsIn)
        .map((x) => x.value)
        .sort((a, b) => b - a);
      results.push({
        variant: v.name,
        seconds,
        byWorker,
        acceptSeconds: accepted,
        cpu: cpuSeconds(fluentd.pid) - cpu0,
        rss: peakRssMiB(fluentd.pid),
        own: (() => {
          const u = process.cpuUsage(own0);
          return (u.user + u.system) / 1e6;
        })(),
      });
      await fluentd.kill();
    }
  } finally {
    await stopAll();
    await es.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }

  console.log(
    `records per variant: ${N} (~${JSON.stringify(record(0, "x")).length} bytes each; real records ~${JSON.stringify(realRecord(1, "x")).length} and ~${JSON.stringify(realRecord(0, "x")).length} with JSON) on ${CONNECTIONS} connections opened ${STAGGER_MS} ms apart, ${CHUNK_RECORDS} records per chunk, flush_interval 5s, ${os.cpus().length} cores`,
  );
  console.log(
    "| variant | records/s end to end | records/s accepted | CPU s per 100k | peak RSS MiB (all processes) | peak RSS MiB by process | records by worker | load generator CPU s per 100k |",
  );
  console.log("|---|---|---|---|---|---|---|---|");
  for (const r of results) {
    console.log(
      `| ${r.variant} | ${Math.round(N / r.seconds)} | ${Math.round(N / r.acceptSeconds)} | ${((r.cpu / N) * 100_000).toFixed(2)} | ${r.rss.reduce((a, b) => a + b, 0).toFixed(0)} | ${r.rss.map((x) => x.toFixed(0)).join(" + ")} | ${r.byWorker.join(" + ")} | ${((r.own / N) * 100_000).toFixed(2)} |`,
    );
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : String(e));
  process.exit(1);
});
