/**
 * The node agent, end to end on the real programs: the rendered edge configuration on a real Fluent Bit
 * 5.1.1 tails container logs laid out as the kubelet writes them, asks a Kubernetes API stand-in for pod
 * metadata, and forwards to the rendered aggregator on the real Fluentd, which writes into the
 * Elasticsearch stand-in. Each fault test prints sent, delivered, lost and duplicated lines.
 *
 * Needs FLUENT_BIT_BIN (a Fluent Bit 5.1.1 binary); without it the suite says so and skips.
 */
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ID_SEED_FIELDS, RECORD_FIELDS } from "../../lib/records";
import { FLUENTD_WRITER_ROLE, FLUENTD_WRITER_USER } from "../../lib/values/elasticsearch";
import { makeTestPki, type CertPair, type TestPki } from "./support/certs";
import { EsStandin } from "./support/esStandin";
import {
  assertBundleInstalled,
  freePort,
  metricValue,
  scrapeMetrics,
  sleep,
  stopAll,
  waitFor,
} from "./support/fluentd";
import {
  fluentBitCounter,
  fluentBitUnavailable,
  startFluentBit,
  type FluentBitProcess,
} from "./support/fluentBit";
import { KubeApiStandin } from "./support/kubeApi";
import { chartConfigDrift, writeChartDefault } from "./support/chartDefault";
import { cpuSeconds, peakRssMiB } from "./support/cpu";
import { allocatorEnv } from "./support/memory";
import { aggregatorBefore, withoutOjEnv } from "./support/before";
import { FreezingProxy, RoundRobinProxy } from "./support/tcpProxy";
import { EFK_METRICS } from "../../lib/monitoring/metrics";
import {
  formatTally,
  markerOf,
  NodeLogs,
  tally,
  type ContainerLog,
  type Pod,
  type Tally,
} from "./support/nodeLogs";
import {
  relocateAgent,
  renderedWriterPrefix,
  renderStackFile,
  startRenderedAggregator,
  TEST_SECRETS,
  type Aggregator,
} from "./support/rendered";

const SERVER_NAME = "logs.efk.test";
const TOKEN = "service-account-token";
const SECRETS = TEST_SECRETS;
/** The defaults: clusters known by their client certificates. */
const CENTRAL = {
  role: "central",
  clusterName: "hub",
  edgeClusters: ["edge-a"],
  fluentdExternalHosts: [SERVER_NAME],
  fluentdLoadBalancerSourceRanges: ["0.0.0.0/0"],
  // edge-a's records in a stream of their own, which the tally reads.
  indexLayout: "per-cluster",
};
const EDGE = { role: "edge", clusterName: "edge-a", centralStack: "organization/efk/hub" };
const STREAM = "efk-logs-edge-a";

function pod(name: string, namespace = "shop"): Pod {
  const uid = createHash("md5").update(`${namespace}/${name}`).digest("hex");
  return {
    namespace,
    name,
    uid: `${uid.slice(0, 8)}-${uid.slice(8, 12)}-${uid.slice(12, 16)}-${uid.slice(16, 20)}-${uid.slice(20, 32)}`,
    labels: { app: name.split("-")[0], tier: "web" },
  };
}

const unavailable = fluentBitUnavailable();

describe("the rendered node agent on a real Fluent Bit", function () {
  this.timeout(300_000);

  let work: string;
  let pki: TestPki;
  let es: EsStandin;
  let api: KubeApiStandin;
  let apiPort: number;
  let centralRender: string;
  let edgeRender: string;
  let saDir: string;
  let parsersFile: string;
  /** edge-a's key and the certificate its central signed for it; hub's, registered beside it. */
  let edgeCert: CertPair;
  let hubCert: CertPair;

  before(async function () {
    if (unavailable) {
      console.log(`      SKIPPED: the real-Fluent-Bit suite did not run. ${unavailable}`);
      this.skip();
    }
    assertBundleInstalled();
    work = fs.mkdtempSync(path.join(os.tmpdir(), "efk-agent-"));
    pki = makeTestPki(path.join(work, "pki"));
    const apiCert = pki.server("kube-api", ["localhost"], ["127.0.0.1"]);
    api = new KubeApiStandin({ cert: apiCert.cert, key: apiCert.key, token: TOKEN });
    apiPort = await api.start();
    saDir = path.join(work, "serviceaccount");
    fs.mkdirSync(saDir);
    // As Kubernetes mounts it: no trailing newline (Fluent Bit sends the file verbatim).
    fs.writeFileSync(path.join(saDir, "token"), TOKEN);
    fs.copyFileSync(pki.caCert, path.join(saDir, "ca.crt"));
    fs.writeFileSync(path.join(saDir, "namespace"), "logging");
    parsersFile = path.join(work, "parsers.conf");
    fs.writeFileSync(parsersFile, "");
    edgeCert = pki.client("edge-a");
    hubCert = pki.client("hub");
    centralRender = renderStackFile(path.join(work, "central"), "hub", CENTRAL);
    edgeRender = renderStackFile(path.join(work, "edge"), "edge-a", EDGE, { hub: CENTRAL });
    const esCert = pki.server("es", ["localhost"], ["127.0.0.1"]);
    es = new EsStandin({
      cert: esCert.cert,
      key: esCert.key,
      username: "elastic",
      password: "unused",
      users: {
        [FLUENTD_WRITER_USER]: {
          password: SECRETS.ES_WRITER_PASSWORD,
          createDocPrefix: renderedWriterPrefix(centralRender, FLUENTD_WRITER_ROLE),
        },
      },
    });
    await es.start();
  });

  after(async () => {
    if (unavailable) return;
    await stopAll();
    await es?.stop();
    await api?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  function startAggregator(name: string, reuse?: Aggregator): Promise<Aggregator> {
    return startRenderedAggregator(centralRender, path.join(work, name), {
      pki,
      serverNames: [SERVER_NAME],
      esPort: es.listeningPort as number,
      env: SECRETS,
      bufferDir: reuse?.relocation.bufferDir,
      forwardPort: reuse?.relocation.forwardPort,
      clients: { hub: hubCert.cert, "edge-a": edgeCert.cert },
    });
  }

  /** One node: its log folder, the agent's host folder, and the agent's relocated configuration. */
  interface Node {
    logs: NodeLogs;
    conf: string;
    stateDir: string;
    metricsPort: number;
  }

  async function node(
    name: string,
    agg: Aggregator,
    render = edgeRender,
    forwardPort = agg.relocation.forwardPort,
  ): Promise<Node> {
    const dir = path.join(work, name);
    const logs = new NodeLogs(path.join(dir, "log"), name);
    const stateDir = path.join(dir, "state");
    const tlsDir = path.join(dir, "tls");
    fs.mkdirSync(tlsDir, { recursive: true });
    fs.copyFileSync(pki.caCert, path.join(tlsDir, "ca.crt"));
    // As the fluent-bit-tls Secret holds them: the cluster's own key and its signed certificate.
    fs.copyFileSync(edgeCert.cert, path.join(tlsDir, "tls.crt"));
    fs.copyFileSync(edgeCert.key, path.join(tlsDir, "tls.key"));
    const metricsPort = await freePort();
    const conf = relocateAgent(render, path.join(dir, "etc"), {
      podsDir: logs.podsDir,
      stateDir,
      tlsDir,
      serviceAccountDir: saDir,
      parsersFile,
      kubeApiPort: apiPort,
      forwardHost: SERVER_NAME,
      forwardPort,
      metricsPort,
    });
    return { logs, conf, stateDir, metricsPort };
  }

  /**
   * An aggregator, a node, and one pod with one container on it that the API knows. `via` puts something
   * between the agent and the aggregator: it gets the aggregator's forward port and returns the agent's.
   */
  async function scenario(
    name: string,
    podName: string,
    opts: { render?: string; via?: (aggregatorPort: number) => Promise<number> } = {},
  ): Promise<{ agg: Aggregator; n: Node; c: ContainerLog }> {
    const agg = await startAggregator(`${name}-aggregator`);
    const port = opts.via ? await opts.via(agg.relocation.forwardPort) : agg.relocation.forwardPort;
    const n = await node(name, agg, opts.render ?? edgeRender, port);
    const p = pod(podName);
    api.addPod(p);
    return { agg, n, c: n.logs.container(p, "app") };
  }

  function agent(n: Node): Promise<FluentBitProcess> {
    // No shared key or password: the rendered agent presents its certificate, and nothing else.
    return startFluentBit(n.conf, n.metricsPort, {});
  }

  function count(n: Node): Tally {
    return tally(n.logs.written, es.docs(STREAM));
  }

  /** Waits until every line written on `n` has arrived (or the time is up), then a little longer. */
  async function settle(n: Node, timeoutMs = 90_000): Promise<Tally> {
    await waitFor(() => count(n).lost === 0, timeoutMs, `every line of ${n.logs.root}`).catch(
      () => undefined,
    );
    // Late resends of what already arrived would show up now as duplicates.
    await sleep(3000);
    return count(n);
  }

  function assertExactlyOnce(t: Tally): void {
    assert.deepEqual(
      { lost: t.lost, duplicates: t.duplicates },
      { lost: 0, duplicates: 0 },
      `missing e.g. ${t.missing.join(", ")}`,
    );
  }

  describe("records", () => {
    let agg: Aggregator;
    let n: Node;
    let fb: FluentBitProcess;
    before(async () => {
      agg = await startAggregator("records-aggregator");
      n = await node("records", agg);
      const web = pod("web-1");
      api.addPod(web);
      const c = n.logs.container(web, "app");
      c.write(30, { partialEvery: 7, jsonEvery: 5 });
      fb = await agent(n);
      await settle(n, 60_000);
    });
    after(async () => {
      await fb?.kill();
      await agg?.fluentd.kill();
    });

    it("arrive once each, with the cluster, the Kubernetes metadata from the API and where they were read", () => {
      const t = count(n);
      console.log(formatTally("records", t));
      assertExactlyOnce(t);
      const docs = es.docs(STREAM).filter((d) => String(d[RECORD_FIELDS.file]).includes(n.logs.podsDir));
      assert.equal(docs.length, 30);
      for (const d of docs) {
        assert.equal(d.cluster, "edge-a");
        const k = d.kubernetes as {
          pod_name: string;
          namespace_name: string;
          container_name: string;
          labels: object;
        };
        assert.deepEqual(
          [k?.pod_name, k?.namespace_name, k?.container_name, k?.labels],
          ["web-1", "shop", "app", { app: "web", tier: "web" }],
          JSON.stringify(d),
        );
        assert.equal(typeof d[RECORD_FIELDS.offset], "number");
        assert.match(String(d[RECORD_FIELDS.time]), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
        // The aggregator's cluster filter copies the line's own timestamp; the output makes none.
        assert.equal(d["@timestamp"], d[RECORD_FIELDS.time]);
      }
      // Fluentd's user needed nothing beyond what its rendered role grants.
      assert.deepEqual(es.denied, []);
      // The API saw the service account's token, as a pod's agent sends it.
      assert.ok(
        api.requests.some((r) => r.path === "/api/v1/namespaces/shop/pods/web-1" && r.status === 200),
      );
    });

    it("join a line the runtime wrote in parts, and nest JSON lines under log_processed", () => {
      const docs = es.docs(STREAM);
      const joined = docs.find((d) => /first part, second part$/.test(String(d.log)));
      assert.ok(joined, "no joined partial line");
      const json = docs.find((d) => (d[RECORD_FIELDS.logProcessed] as { level?: string })?.level === "info");
      assert.ok(json, "no merged JSON line");
      assert.equal(json[RECORD_FIELDS.log], undefined);
      // The shape `npm run bench` sends (bench/aggregator.ts, realRecord), printed to compare.
      console.log(`      a JSON line as stored: ${JSON.stringify(json)}`);
      console.log(`      a joined line as stored: ${JSON.stringify(joined)}`);
    });

    it("carry an id that is the SHA-256 of their origin and line, so a resend cannot make a second one", () => {
      const docs = es.docs(STREAM).filter((d) => String(d[RECORD_FIELDS.file]).includes(n.logs.podsDir));
      for (const d of docs) {
        // As Fluentd's genid filter seeds it: each field's text, absent ones empty, joined by newlines.
        const seed = ID_SEED_FIELDS.map((f) =>
          d[f] === undefined ? "" : String(d[f] as string | number),
        ).join("\n");
        assert.equal(d[RECORD_FIELDS.id], createHash("sha256").update(seed).digest("base64"));
      }
      assert.equal(new Set(docs.map((d) => d[RECORD_FIELDS.id])).size, docs.length, "two lines share an id");
    });
  });

  describe("a burst on one node", () => {
    /** Lines per burst (BURST_LINES, default 100,000), over BURST_CONTAINERS containers (default 4). */
    const LINES = Number(process.env.BURST_LINES ?? 100_000);
    const CONTAINERS = Number(process.env.BURST_CONTAINERS ?? 4);

    interface BurstResult {
      agent: string;
      lines: number;
      seconds: number;
      agentCpu: number;
      agentRssMiB: number;
      aggregatorCpu: number;
      ownCpu: number;
    }

    /**
     * Writes LINES lines at once into CONTAINERS containers' logs on `n` while `start`'s agent runs, and
     * measures until `delivered()` has grown by LINES: seconds, and the CPU seconds the agent, the
     * aggregator (when given) and this process (the stand-ins) used meanwhile.
     */
    async function burst(
      label: string,
      logs: NodeLogs,
      start: () => Promise<FluentBitProcess>,
      delivered: () => number,
      aggregatorPid?: number,
    ): Promise<BurstResult> {
      const containers = Array.from({ length: CONTAINERS }, (_, k) => {
        const p = pod(`burst-${label.replace(/[^a-z0-9]/g, "")}-${k}`);
        api.addPod(p);
        return logs.container(p, "app");
      });
      const fb = await start();
      try {
        // Idle first: start-up (and the first metadata lookups) out of the measurement.
        await sleep(2000);
        const before = delivered();
        const fb0 = cpuSeconds(fb.pid);
        const agg0 = aggregatorPid ? cpuSeconds(aggregatorPid) : 0;
        const own0 = process.cpuUsage();
        const t0 = process.hrtime.bigint();
        containers.forEach((c, k) =>
          c.write(Math.floor(LINES / CONTAINERS) + (k < LINES % CONTAINERS ? 1 : 0), { jsonEvery: 3 }),
        );
        await waitFor(() => delivered() - before >= LINES, 300_000, `${LINES} lines from ${label}`).catch(
          (e: Error) => {
            throw new Error(`${e.message}: ${delivered() - before} arrived\n${fb.log().slice(-3000)}`);
          },
        );
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        const own = process.cpuUsage(own0);
        const r: BurstResult = {
          agent: label,
          lines: LINES,
          seconds,
          agentCpu: cpuSeconds(fb.pid) - fb0,
          agentRssMiB: peakRssMiB(fb.pid).reduce((a, b) => a + b, 0),
          aggregatorCpu: aggregatorPid ? cpuSeconds(aggregatorPid) - agg0 : 0,
          ownCpu: (own.user + own.system) / 1e6,
        };
        console.log(`      ${label}: ${JSON.stringify(r)}`);
        return r;
      } finally {
        await fb.kill();
      }
    }

    it("prints lines/s end to end and CPU s per 100k lines: the rendered agent, as before, and the chart's default", async function () {
      this.timeout(1_800_000);
      const drift = chartConfigDrift();
      assert.equal(drift, undefined, drift);
      // The aggregator with two workers, on jemalloc as the pod runs it: what one node's agent may spread
      // over; and the same as it was before (support/before.ts), in the same run.
      const central = renderStackFile(path.join(work, "burst-central"), "hub", {
        ...CENTRAL,
        fluentdWorkers: 2,
      });
      const aggregator = (name: string, before: boolean) =>
        startRenderedAggregator(central, path.join(work, name), {
          pki,
          serverNames: [SERVER_NAME],
          esPort: es.listeningPort as number,
          env: { ...SECRETS, ...allocatorEnv(central), ...(before ? withoutOjEnv() : {}) },
          clients: { hub: hubCert.cert, "edge-a": edgeCert.cert },
          patch: before ? aggregatorBefore : undefined,
        });
      const results: BurstResult[] = [];
      const tallies: [string, Tally][] = [];
      {
        for (const [label, before] of [
          ["rendered, aggregator as before", true],
          ["rendered", false],
        ] as const) {
          const agg = await aggregator(`burst-aggregator-${before ? "before" : "now"}`, before);
          try {
            const n = await node(`burst-${before ? "before" : "now"}`, agg);
            results.push(
              await burst(
                label,
                n.logs,
                () => agent(n),
                () => es.count(STREAM),
                agg.fluentd.pid,
              ),
            );
            tallies.push([label, count(n)]);
          } finally {
            await agg.fluentd.kill();
          }
        }
        const dir = path.join(work, "burst-chart");
        const logs = new NodeLogs(path.join(dir, "log"), "burst-chart");
        const metricsPort = await freePort();
        const conf = writeChartDefault(path.join(dir, "etc"), {
          containersDir: logs.containersDir,
          parsersFile,
          kubeApiPort: apiPort,
          serviceAccountDir: saDir,
          metricsPort,
          es: { port: es.listeningPort as number, caFile: pki.caCert, user: "elastic", password: "unused" },
        });
        const logstash = () =>
          es
            .streams()
            .filter((s) => s.startsWith("logstash-"))
            .reduce((sum, s) => sum + es.count(s), 0);
        results.push(
          await burst(
            "the chart's default configuration",
            logs,
            () => startFluentBit(conf, metricsPort, {}),
            logstash,
          ),
        );
      }
      const per100k = (cpu: number, lines: number) => ((cpu / lines) * 100_000).toFixed(2);
      console.log(
        `      ${LINES} lines in ${CONTAINERS} containers of one node, at once; ${os.cpus().length} cores; the aggregator: 2 workers, jemalloc`,
      );
      console.log(
        "      | agent | lines/s end to end | seconds | Fluent Bit CPU s per 100k | Fluent Bit peak RSS MiB | Fluentd CPU s per 100k | stand-ins CPU s per 100k |",
      );
      console.log("      |---|---|---|---|---|---|---|");
      for (const r of results) {
        console.log(
          `      | ${r.agent} | ${Math.round(r.lines / r.seconds)} | ${r.seconds.toFixed(1)} | ${per100k(r.agentCpu, r.lines)} | ${r.agentRssMiB.toFixed(0)} | ${r.aggregatorCpu ? per100k(r.aggregatorCpu, r.lines) : "(none: Elasticsearch directly)"} | ${per100k(r.ownCpu, r.lines)} |`,
        );
      }
      const [before, after, chart] = results;
      console.log(
        `      end to end, rendered against the aggregator as before: ${(before.seconds / after.seconds).toFixed(2)}x; ` +
          `agent CPU per line against the chart's default: ${(after.agentCpu / chart.agentCpu).toFixed(2)}x`,
      );
      for (const [label, t] of tallies) {
        console.log(formatTally(`burst, ${label}`, t));
        assertExactlyOnce(t);
      }
    });
  });

  describe("faults", () => {
    it("loses nothing and stores nothing twice across restarts (SIGTERM and SIGKILL), new files and rotations", async () => {
      const agg = await startAggregator("restart-aggregator");
      const n = await node("restarts", agg);
      const pods = [pod("api-1"), pod("api-2")];
      pods.forEach((p) => api.addPod(p));
      const containers = pods.map((p) => n.logs.container(p, "app"));
      let fb = await agent(n);
      let created = 0;
      for (let round = 0; round < 4; round++) {
        // While it runs: steady writing, and a rotation in the middle of it.
        for (let i = 0; i < 10; i++) {
          containers.forEach((c) => c.write(20, { partialEvery: 9 }));
          if (i === 5) containers[round % containers.length].rotate();
          await sleep(100);
        }
        await fb.kill(round % 2 === 0 ? "SIGKILL" : "SIGTERM");
        // While it is down: more lines, a new pod, and a rotation whose new file is written to.
        containers.forEach((c) => c.write(25));
        const fresh = pod(`batch-${++created}`);
        api.addPod(fresh);
        const c = n.logs.container(fresh, "job");
        c.write(40);
        containers.push(c);
        fb = await agent(n);
      }
      containers.forEach((c) => c.write(10));
      const t = await settle(n);
      console.log(formatTally("agent restarts (4, 2 of them SIGKILL), 4 new files, 4 rotations", t));
      await fb.kill();
      await agg.fluentd.kill();
      assertExactlyOnce(t);
    });

    it("ships what was written while it was down, before and after the file rotated, with metadata", async () => {
      const { agg, n, c } = await scenario("rotate-down", "worker-1");
      c.write(50);
      let fb = await agent(n);
      await waitFor(() => count(n).lost === 0, 60_000, "the first 50 lines");
      await fb.kill("SIGKILL");
      // Into the file that is rotated next: only the rotated name holds these when the agent is back.
      const beforeRotation = c.write(200);
      c.rotate();
      c.write(200);
      fb = await agent(n);
      const t = await settle(n);
      console.log(formatTally("written while down, rotated while down", t));
      await fb.kill();
      await agg.fluentd.kill();
      assertExactlyOnce(t);
      const markers = new Set(beforeRotation.map((w) => w.marker));
      const fromRotated = es.docs(STREAM).filter((d) => markers.has(markerOf(d) ?? ""));
      assert.equal(fromRotated.length, 200);
      for (const d of fromRotated) {
        assert.equal((d.kubernetes as { pod_name?: string } | undefined)?.pod_name, "worker-1");
        // Named as the container's log, not the rotated file: one origin for a line, whatever it was read as.
        assert.match(String(d[RECORD_FIELDS.file]), /\/app\/0\.log$/);
      }
    });

    it("stores every line once when the agent's tail DB is lost and it reads every file again", async () => {
      const { agg, n, c } = await scenario("db-loss", "shop-1");
      c.write(300, { partialEvery: 11, jsonEvery: 13 });
      let fb = await agent(n);
      await waitFor(() => count(n).lost === 0, 60_000, "300 lines");
      // Read once as the current file; read again below under its rotated name.
      c.rotate();
      c.write(100);
      await waitFor(() => count(n).lost === 0, 60_000, "400 lines");
      await fb.kill();
      const conflictsBefore = es.conflicts;
      fs.rmSync(path.join(n.stateDir, "tail.db"));
      fb = await agent(n);
      // Everything comes again: Elasticsearch refuses each as existing.
      await waitFor(
        () => es.conflicts - conflictsBefore >= 300,
        60_000,
        "300 resent lines refused as existing",
      );
      const t = await settle(n);
      console.log(
        formatTally(
          "tail DB lost",
          t,
          `, resent and refused as existing (409) ${es.conflicts - conflictsBefore}`,
        ),
      );
      await fb.kill();
      await agg.fluentd.kill();
      assertExactlyOnce(t);
    });

    it("loses nothing and stores nothing twice when the aggregator is killed with SIGKILL mid-stream", async () => {
      const { agg: first, n, c } = await scenario("aggregator-kill", "pay-1");
      const fb = await agent(n);
      for (let i = 0; i < 20; i++) {
        c.write(50);
        await sleep(50);
      }
      await first.fluentd.kill("SIGKILL");
      c.write(500);
      await sleep(3000);
      const second = await startAggregator("kill-aggregator-2", first);
      c.write(200);
      const t = await settle(n, 120_000);
      console.log(formatTally("aggregator SIGKILL", t));
      await fb.kill();
      await second.fluentd.kill();
      assertExactlyOnce(t);
    });

    it("delivers everything once after Elasticsearch answers 503, then 429, for a while", async () => {
      const { agg, n, c } = await scenario("es-fail", "cart-1");
      const fb = await agent(n);
      try {
        es.failBulkWith(503);
        const bulkBefore = es.bulkRequests();
        c.write(300);
        await waitFor(() => es.bulkRequests() >= bulkBefore + 2, 60_000, "two refused bulk requests");
        es.failBulkWith(429);
        c.write(300);
        await waitFor(() => es.bulkRequests() >= bulkBefore + 4, 90_000, "two more refused bulk requests");
        const refused = es.bulkRequests() - bulkBefore;
        es.failBulkWith(null);
        const t = await settle(n, 120_000);
        console.log(formatTally("Elasticsearch 503 then 429", t, `, refused bulk requests ${refused}`));
        assertExactlyOnce(t);
      } finally {
        es.failBulkWith(null);
        await fb.kill();
        await agg.fluentd.kill();
      }
    });

    it("delivers everything once after the aggregator was unreachable for a minute, rotation included", async () => {
      const { agg: first, n, c } = await scenario("outage", "search-1");
      const fb = await agent(n);
      c.write(100);
      await waitFor(() => count(n).lost === 0, 60_000, "100 lines before the outage");
      await first.fluentd.kill();
      const down = Date.now();
      for (let i = 0; i < 6; i++) {
        c.write(200);
        // Rotated under backpressure: the rest of the old file must still be read.
        if (i === 2) c.rotate();
        await sleep(10_000);
      }
      const second = await startAggregator("outage-aggregator-2", first);
      const back = Date.now();
      const t = await settle(n, 120_000);
      console.log(
        formatTally(
          `aggregator unreachable ${Math.round((back - down) / 1000)} s`,
          t,
          `, delivered within ${Math.round((Date.now() - back) / 1000)} s of its return`,
        ),
      );
      await fb.kill();
      await second.fluentd.kill();
      assertExactlyOnce(t);
    });

    it("delivers everything once when its connection to the aggregator goes silent, without a reset", async () => {
      const proxy = new FreezingProxy();
      const { agg, n, c } = await scenario("silent", "mail-1", { via: (port) => proxy.start(port) });
      const fb = await agent(n);
      try {
        c.write(100);
        await waitFor(() => count(n).lost === 0, 60_000, "100 lines before the connection goes silent");
        // The agent keeps its connection for the next chunk: it will write into silence and wait for an ack.
        const frozen = proxy.freeze();
        assert.ok(frozen > 0, "no open connection to freeze");
        const silent = Date.now();
        // Several flushes, so that every output worker, the one holding the silent connection included, gets one.
        for (let i = 0; i < 10; i++) {
          c.write(20);
          await sleep(1500);
        }
        const t = await settle(n, 180_000);
        console.log(
          formatTally(
            `connection silent (${frozen} frozen)`,
            t,
            `, delivered within ${Math.round((Date.now() - silent) / 1000) - 3} s`,
          ),
        );
        assertExactlyOnce(t);
      } finally {
        await fb.kill();
        await agg.fluentd.kill();
        await proxy.stop();
      }
    });

    it("reconnects every net.keepalive_max_recycle flushes, so its connections reach every aggregator replica", async () => {
      const second = await startAggregator("spread-aggregator-2");
      const proxy = new RoundRobinProxy();
      const {
        agg: first,
        n,
        c,
      } = await scenario("spread", "shop-1", {
        via: (port) => proxy.start([port, second.relocation.forwardPort]),
      });
      // The rendered agent retires a connection after 100 flushes; this test lowers that to 2 to see it in seconds.
      const text = fs.readFileSync(n.conf, "utf8");
      assert.match(text, /net\.keepalive_max_recycle\s+100\n/);
      fs.writeFileSync(n.conf, text.replace(/(net\.keepalive_max_recycle\s+)100\n/, "$12\n"));
      const fb = await agent(n);
      try {
        for (let i = 0; i < 12; i++) {
          c.write(20);
          await sleep(1200);
        }
        const t = await settle(n, 120_000);
        const counts = await Promise.all(
          [first, second].map(async (a) =>
            metricValue(
              await scrapeMetrics(a.relocation.metricsPort, "/aggregated_metrics"),
              EFK_METRICS.recordsIn,
            ),
          ),
        );
        console.log(
          formatTally(
            "connections recycled",
            t,
            `, ${proxy.connections} connections, records by aggregator ${counts.join(" and ")}`,
          ),
        );
        assertExactlyOnce(t);
        // Fluent Bit's forward output opens 2 connections (2 workers): more means it reconnected.
        assert.ok(proxy.connections > 2, `${proxy.connections} connections: the agent never reconnected`);
        assert.ok(
          counts.every((x) => x > 0),
          `records by aggregator: ${counts.join(", ")}`,
        );
      } finally {
        await fb.kill();
        await first.fluentd.kill();
        await second.fluentd.kill();
        await proxy.stop();
      }
    });

    it("drops the oldest records when its disk buffer is full, and counts and logs every one", async () => {
      const central = { ...CENTRAL };
      const small = renderStackFile(
        path.join(work, "edge-small"),
        "edge-a",
        { ...EDGE, fluentBitBufferSize: "16Mi" },
        { hub: central },
      );
      const { agg: first, n, c } = await scenario("full", "noisy-1", { render: small });
      const fb = await agent(n);
      await first.fluentd.kill();
      // About 50 MiB of records (with their metadata) into a 16 MiB buffer.
      for (let i = 0; i < 40; i++) {
        c.write(5000);
        await sleep(250);
      }
      await waitFor(
        async () => (await fluentBitCounter(fb.metricsPort, "fluentbit_output_dropped_records_total")) > 0,
        30_000,
        "dropped records in the agent's metrics",
      );
      const second = await startAggregator("full-aggregator-2", first);
      let t = count(n);
      await waitFor(
        async () => {
          t = count(n);
          const dropped = await fluentBitCounter(fb.metricsPort, "fluentbit_output_dropped_records_total");
          return t.delivered + dropped >= t.sent;
        },
        120_000,
        "every line delivered or counted as dropped",
      ).catch(async (e: Error) => {
        const dropped = await fluentBitCounter(fb.metricsPort, "fluentbit_output_dropped_records_total");
        throw new Error(`${e.message}: ${JSON.stringify(t)}, dropped ${dropped}\n${fb.log().slice(-3000)}`);
      });
      await sleep(3000);
      t = count(n);
      const dropped = await fluentBitCounter(fb.metricsPort, "fluentbit_output_dropped_records_total");
      const warnings = (fb.log().match(/evicted from output queue/g) ?? []).length;
      // What the alerts and the dashboard read of the agent, on the real Fluent Bit, after retries and drops.
      const samples = await scrapeMetrics(fb.metricsPort, "/api/v2/metrics/prometheus");
      const read = new Set<string>();
      for (const text of [
        fs.readFileSync(path.join(small, "prometheus", "rules.yaml"), "utf8"),
        fs.readFileSync(path.join(centralRender, "grafana", "efk-pipeline.json"), "utf8"),
      ]) {
        for (const m of text.matchAll(/\b(fluentbit_[a-z_]+)\b/g)) read.add(m[1]);
      }
      assert.ok(read.size >= 3, `only ${[...read].join(", ")} in the rules and dashboard`);
      for (const name of read) {
        assert.ok(
          samples.some((x) => x.name === name && x.labels.name === "to_aggregator"),
          `${name}{name="to_aggregator"} is not among the agent's metrics`,
        );
      }
      console.log(
        formatTally(
          "disk buffer full (16Mi)",
          t,
          `, dropped and counted ${dropped}, eviction warnings ${warnings}`,
        ),
      );
      await fb.kill();
      await second.fluentd.kill();
      assert.ok(dropped > 0, "nothing was dropped: the buffer never filled");
      assert.equal(t.delivered + dropped, t.sent, "a line was lost without being counted");
      assert.equal(t.duplicates, 0);
      assert.ok(warnings > 0, "no eviction warning in the agent's log");
    });
  });
});
