/**
 * The aggregator configuration that `npm run render` writes, run by the real Fluentd: a forward client
 * sends over TLS with the shared key and a cluster's user; records must reach an Elasticsearch stand-in
 * in the right data stream; every kind of bad client must deliver nothing; and nothing acknowledged may
 * be lost when Elasticsearch throttles or is down while Fluentd is killed.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { runIndexSetup } from "./support/esSetup";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { FLUENTD_WRITER_ROLE, FLUENTD_WRITER_USER } from "../../lib/values/elasticsearch";
import { makeTestPki, type TestPki } from "./support/certs";
import { EsStandin } from "./support/esStandin";
import { EFK_METRICS, FLUENTD_OUTPUT_METRICS } from "../../lib/monitoring/metrics";
import {
  assertBundleInstalled,
  fluentdDryRun,
  freePort,
  metricValue,
  scrapeMetrics,
  stopAll,
  waitFor,
  type Sample,
} from "./support/fluentd";
import {
  aggregatorTlsDir,
  relocateAggregator,
  renderStackFile,
  renderedWriterPrefix,
  startRenderedAggregator,
  TEST_SECRETS,
  type Aggregator,
} from "./support/rendered";
import { sendRecords, type SenderOptions } from "./support/sender";
import { delivered, sentRecords as records } from "./support/delivered";

const SERVER_NAME = "logs.efk.test";
const ES_WRITER = FLUENTD_WRITER_USER;
const ELASTIC_PASSWORD = "test-elastic-password";
const SECRETS = TEST_SECRETS;
/** Clusters known by user and password (`clientCertAuth: false`); the certificate suite below renders its own. */
const STACK = {
  role: "central",
  clusterName: "hub",
  edgeClusters: ["edge-a", "edge-b"],
  fluentdExternalHosts: [SERVER_NAME],
  fluentdLoadBalancerSourceRanges: ["0.0.0.0/0"],
  clientCertAuth: false,
  retentionDays: 9,
  // A stream per cluster: what these tests read each cluster's records from (the shared layout has its own).
  indexLayout: "per-cluster",
};

/** Buffer chunk files below `dir`: directly in it, or in a worker's folder (`worker<N>/`). */
function chunkFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) =>
    /(^|\/)buffer\.[bq][0-9a-f]+\.log$/.test(f),
  );
}

function totalDocs(es: EsStandin): number {
  return es.streams().reduce((sum, s) => sum + es.docs(s).length, 0);
}

describe("the rendered aggregator on the real Fluentd", function () {
  this.timeout(180_000);

  let work: string;
  let pki: TestPki;
  let strangerPki: TestPki;
  let es: EsStandin;
  let renderDir: string;
  let mtlsRenderDir: string;
  let workersRenderDir: string;
  let setupOutput: string;

  before(async () => {
    assertBundleInstalled();
    work = fs.mkdtempSync(path.join(os.tmpdir(), "efk-it-"));
    pki = makeTestPki(path.join(work, "pki"));
    strangerPki = makeTestPki(path.join(work, "stranger-pki"), "stranger-ca");
    renderDir = renderStackFile(path.join(work, "stack"), "it", STACK);
    mtlsRenderDir = renderStackFile(path.join(work, "stack-mtls"), "it", { ...STACK, clientCertAuth: true });
    workersRenderDir = renderStackFile(path.join(work, "stack-workers"), "it", {
      ...STACK,
      fluentdWorkers: 2,
    });
    const esCert = pki.server("es", ["localhost"], ["127.0.0.1"]);
    // elastic may do anything; Fluentd's user only what the rendered role grants it.
    es = new EsStandin({
      cert: esCert.cert,
      key: esCert.key,
      username: "elastic",
      password: ELASTIC_PASSWORD,
      users: {
        [ES_WRITER]: {
          password: SECRETS.ES_WRITER_PASSWORD,
          createDocPrefix: renderedWriterPrefix(renderDir, FLUENTD_WRITER_ROLE),
        },
      },
    });
    await es.start();
    // What the index-setup Job runs, as rendered, before Fluentd starts on the cluster.
    setupOutput = await runSetup(ELASTIC_PASSWORD);
  });

  /**
   * Runs the rendered index-setup script against the stand-in, as the Job does. Asynchronously: the
   * stand-in answers from this very process.
   */
  async function runSetup(password: string): Promise<string> {
    const r = await runIndexSetup(renderDir, {
      port: es.listeningPort as number,
      caFile: pki.caCert,
      password,
    });
    if (r.code !== 0)
      throw Object.assign(new Error(`the setup script exited ${r.code}`), { stdout: r.stdout });
    return r.stdout;
  }

  after(async () => {
    await stopAll();
    await es?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  /** The rendered aggregator under `work/<name>`, with its certificate for both names edges use. */
  function startAggregator(
    name: string,
    fromRender = renderDir,
    bufferDir?: string,
    clients?: Record<string, string>,
  ): Promise<Aggregator> {
    return startRenderedAggregator(fromRender, path.join(work, name), {
      pki,
      serverNames: [SERVER_NAME, "fluentd.logging.svc"],
      esPort: es.listeningPort as number,
      env: SECRETS,
      bufferDir,
      clients,
    });
  }

  /** Every metric name a scrape of any aggregator in this suite returned. */
  const seen = new Set<string>();
  async function scrape(agg: Aggregator): Promise<Sample[]> {
    const samples = await scrapeMetrics(agg.relocation.metricsPort, "/aggregated_metrics");
    for (const sample of samples) seen.add(sample.name);
    return samples;
  }
  async function refusals(agg: Aggregator, reason: string): Promise<number> {
    return metricValue(await scrape(agg), EFK_METRICS.refusals, { reason });
  }
  /** Waits until the refusal counter for `reason` passes `before`: the counter is fed from the log, asynchronously. */
  async function waitForRefusal(agg: Aggregator, reason: string, before: number): Promise<void> {
    let now = before;
    await waitFor(
      async () => (now = await refusals(agg, reason)) > before,
      10_000,
      `${EFK_METRICS.refusals}{reason="${reason}"} above ${before} (now ${now})`,
    );
  }

  function client(agg: Aggregator, overrides: Partial<SenderOptions> = {}): SenderOptions {
    return {
      port: agg.relocation.forwardPort,
      ca: pki.caCert,
      serverName: SERVER_NAME,
      sharedKey: SECRETS.FLUENT_SHARED_KEY,
      username: "edge-a",
      password: SECRETS.FLUENT_PASSWORD_EDGE_A,
      ...overrides,
    };
  }

  describe("index setup", () => {
    it("installs the retention policy and the data-stream template as elastic, verifying the CA", () => {
      assert.match(setupOutput, /PUT \/_ilm\/policy\/efk-logs-retention: HTTP 200/);
      assert.match(setupOutput, /PUT \/_index_template\/efk-logs: HTTP 200/);
      const policy = es.ilmPolicies.get("efk-logs-retention") as {
        policy: { phases: { delete: { min_age: string } } };
      };
      assert.equal(policy.policy.phases.delete.min_age, "9d");
      const template = es.indexTemplates.get("efk-logs") as {
        index_patterns: string[];
        data_stream: object;
        priority: number;
        template: { settings: Record<string, unknown> };
      };
      assert.deepEqual(template.index_patterns, ["efk-logs-*"]);
      assert.deepEqual(template.data_stream, {});
      assert.ok(template.priority > 100, "must outrank the built-in logs template");
      assert.equal(template.template.settings["index.lifecycle.name"], "efk-logs-retention");
    });

    it("fails, and says so, when Elasticsearch refuses the password", async () => {
      await assert.rejects(runSetup("wrong"), (e: Error & { stdout: string }) => /HTTP 401/.test(e.stdout));
    });
  });

  describe("configuration", () => {
    it("passes fluentd --dry-run as rendered, with and without client certificates", async () => {
      for (const [name, dir] of [
        ["dry", renderDir],
        ["dry-mtls", mtlsRenderDir],
      ]) {
        const tlsDir = aggregatorTlsDir(path.join(work, name, "tls"), pki, name, [SERVER_NAME]);
        const clientsDir = path.join(work, name, "clients");
        fs.mkdirSync(clientsDir, { recursive: true });
        for (const c of STACK.edgeClusters.concat(STACK.clusterName)) {
          fs.copyFileSync(pki.client(`${name}-${c}`).cert, path.join(clientsDir, `${c}.crt`));
        }
        const conf = relocateAggregator(dir, path.join(work, name, "etc"), {
          tlsDir,
          clientsDir,
          bufferDir: path.join(work, name, "buffer"),
          deadLetterDir: path.join(work, name, "dead-letter"),
          forwardPort: await freePort(),
          metricsPort: await freePort(),
          esPort: es.listeningPort as number,
        });
        const result = fluentdDryRun(conf, SECRETS);
        assert.equal(result.code, 0, result.output);
        assert.match(result.output, /finished dry run mode/);
      }
    });

    it("fails --dry-run when the server certificate is missing (so the check above can fail)", async () => {
      const dir = path.join(work, "dry-broken");
      const conf = relocateAggregator(renderDir, path.join(dir, "etc"), {
        tlsDir: path.join(dir, "no-such-tls"),
        bufferDir: path.join(dir, "buffer"),
        deadLetterDir: path.join(dir, "dead-letter"),
        forwardPort: await freePort(),
        metricsPort: await freePort(),
        esPort: es.listeningPort as number,
      });
      const result = fluentdDryRun(conf, SECRETS);
      assert.notEqual(result.code, 0);
    });
  });

  describe("delivery", () => {
    let agg: Aggregator;
    before(async () => {
      agg = await startAggregator("main");
    });
    after(async () => {
      await agg?.fluentd.kill();
    });

    it("delivers each registered cluster's records into its own data stream, over verified TLS", async () => {
      const a = await sendRecords(client(agg), records("edge-a", 20, "route"));
      const b = await sendRecords(
        client(agg, { username: "edge-b", password: SECRETS.FLUENT_PASSWORD_EDGE_B }),
        records("edge-b", 10, "route"),
      );
      assert.deepEqual([a.acked, b.acked], [20, 10], JSON.stringify([a.errors, b.errors]));
      await waitFor(() => delivered(es, "route").distinct === 30, 30_000, "30 routed records");
      const docsA = es.docs("efk-logs-edge-a").filter((d) => d.run === "route");
      const docsB = es.docs("efk-logs-edge-b").filter((d) => d.run === "route");
      assert.equal(docsA.length, 20);
      assert.equal(docsB.length, 10);
      assert.ok(docsA.every((d) => d.cluster === "edge-a" && typeof d["@timestamp"] === "string"));
      assert.ok(docsB.every((d) => d.cluster === "edge-b"));
    });

    it("stores records that name another cluster under their sender's, creating no stream, and counts them", async () => {
      const r = await sendRecords(client(agg), [
        ...records("Not-A-Cluster", 2, "stray"),
        ...records("hub", 1, "stray").map((x) => ({ ...x, seq: 2 })),
      ]);
      assert.equal(r.acked, 3);
      await waitFor(() => delivered(es, "stray").distinct === 3, 30_000, "3 stray records");
      assert.deepEqual([...delivered(es, "stray").streams], ["efk-logs-edge-a"]);
      assert.ok(
        es
          .docs("efk-logs-edge-a")
          .filter((d) => d.run === "stray")
          .every((d) => d.cluster === "edge-a"),
      );
      assert.ok(!es.streams().some((s) => s.toLowerCase().includes("not-a-cluster")));
      assert.equal(
        metricValue(await scrape(agg), EFK_METRICS.impersonations, { cluster: "edge-a" }),
        3,
        "each record that named another cluster is counted under its sender",
      );
    });

    it("needs nothing from Elasticsearch beyond creating documents, and makes real data streams", async () => {
      const a = await sendRecords(client(agg), records("edge-a", 2, "privilege"));
      const b = await sendRecords(
        client(agg, { username: "edge-b", password: SECRETS.FLUENT_PASSWORD_EDGE_B }),
        records("edge-b", 2, "privilege"),
      );
      assert.deepEqual([a.acked, b.acked], [2, 2]);
      await waitFor(() => delivered(es, "privilege").distinct === 4, 30_000, "4 records");
      // The stand-in refuses Fluentd's user anything its role lacks, and records it.
      assert.deepEqual(es.denied, []);
      assert.deepEqual(
        es.authFailures.filter((f) => f.username === ES_WRITER),
        [],
      );
      assert.ok(es.dataStreams.has("efk-logs-edge-a") && es.dataStreams.has("efk-logs-edge-b"));
    });

    it("counts accepted records by cluster, and exposes its output's buffer and error metrics", async () => {
      // This aggregator has accepted, above: edge-a 20 + 3 claiming others + 2, edge-b 10 + 2.
      const samples = await scrape(agg);
      const byCluster = (cluster: string) => metricValue(samples, EFK_METRICS.recordsIn, { cluster });
      assert.deepEqual(
        ["edge-a", "edge-b", "unregistered", "Not-A-Cluster", "hub"].map(byCluster),
        [25, 12, 0, 0, 0],
      );
      const output = { plugin_id: "out_elasticsearch" };
      let now: Sample[] = samples;
      // The output monitor refreshes every 10 s.
      await waitFor(
        async () => (now = await scrape(agg)).some((x) => x.name === FLUENTD_OUTPUT_METRICS.availableSpace),
        15_000,
        "the output monitor's first sample",
      );
      const space = metricValue(now, FLUENTD_OUTPUT_METRICS.availableSpace, output);
      assert.ok(space > 99 && space <= 100, `available space ${space}%: a percentage, near 100 when idle`);
      assert.equal(metricValue(now, FLUENTD_OUTPUT_METRICS.errors, output), 0);
    });

    describe("refusals deliver nothing", () => {
      const cases: { title: string; opts: () => Partial<SenderOptions>; log?: RegExp; reason?: string }[] = [
        {
          title: "a wrong shared key",
          opts: () => ({ sharedKey: "not-the-key" }),
          log: /Shared key mismatch/,
          reason: "shared_key",
        },
        {
          title: "an unknown user",
          opts: () => ({ username: "edge-z" }),
          log: /Authentication failed/,
          reason: "user_password",
        },
        {
          title: "a wrong password",
          opts: () => ({ password: "not-the-password" }),
          log: /Authentication failed/,
          reason: "user_password",
        },
        { title: "a client that does not trust the server's CA", opts: () => ({ ca: strangerPki.caCert }) },
        {
          title: "a server certificate for another host name",
          opts: () => ({ serverName: "other.efk.test" }),
        },
      ];
      for (const c of cases) {
        it(`refuses ${c.title}${c.reason ? `, counted as ${c.reason}` : ""}`, async () => {
          const refusedBefore = c.reason ? await refusals(agg, c.reason) : 0;
          const before = totalDocs(es);
          const result = await sendRecords(client(agg, c.opts()), records("edge-a", 5, "refused"), 3000);
          assert.equal(result.acked, 0);
          assert.ok(result.errors.length > 0, "the client saw no error");
          if (c.log) {
            await waitFor(() => c.log!.test(agg.fluentd.log()), 5000, `${String(c.log)} in Fluentd's log`);
          }
          // Longer than the flush interval: anything accepted would have been written by now.
          await new Promise((r) => setTimeout(r, 6000));
          assert.equal(totalDocs(es), before);
          assert.equal(delivered(es, "refused").distinct, 0);
          if (c.reason) await waitForRefusal(agg, c.reason, refusedBefore);
        });
      }
    });
  });

  describe("clusters known by their client certificate (the default)", () => {
    let agg: Aggregator;
    /** The keys the registered clusters hold, their certificates signed by our CA (the central's, here). */
    const certs: Record<string, { cert: string; key: string }> = {};
    before(async () => {
      for (const c of ["hub", "edge-a", "edge-b"]) certs[c] = pki.client(c);
      agg = await startAggregator("mtls", mtlsRenderDir, undefined, {
        hub: certs.hub.cert,
        "edge-a": certs["edge-a"].cert,
        "edge-b": certs["edge-b"].cert,
      });
    });
    after(async () => {
      await agg?.fluentd.kill();
    });

    /** A sender with a client certificate and nothing else: no shared key, no user. */
    function certClient(pair?: { cert: string; key: string }): SenderOptions {
      return { port: agg.relocation.forwardPort, ca: pki.caCert, serverName: SERVER_NAME, clientCert: pair };
    }

    it("refuses a client without a certificate in the TLS handshake (counted), and accepts a registered one", async () => {
      const counted = await refusals(agg, "client_certificate");
      const refused = await sendRecords(certClient(), records("edge-a", 5, "no-cert"), 5000);
      assert.equal(refused.acked, 0);
      await waitForRefusal(agg, "client_certificate", counted);
      const accepted = await sendRecords(certClient(certs["edge-a"]), records("edge-a", 5, "with-cert"));
      assert.equal(accepted.acked, 5, accepted.errors.join("; "));
      await waitFor(
        () => delivered(es, "with-cert").distinct === 5,
        30_000,
        "5 records with a client certificate",
      );
      assert.deepEqual([...delivered(es, "with-cert").streams], ["efk-logs-edge-a"]);
      assert.equal(delivered(es, "no-cert").distinct, 0);
    });

    it("refuses a client certificate from another CA, counted", async () => {
      const counted = await refusals(agg, "client_certificate");
      const result = await sendRecords(
        certClient(strangerPki.client("edge-a")),
        records("edge-a", 5, "stranger-cert"),
        5000,
      );
      assert.equal(result.acked, 0);
      await waitForRefusal(agg, "client_certificate", counted);
      await new Promise((r) => setTimeout(r, 6000));
      assert.equal(delivered(es, "stranger-cert").distinct, 0);
    });

    it("refuses a certificate our CA signed for a key no registered cluster holds (revoked, re-keyed), counted", async () => {
      const counted = await refusals(agg, "unregistered_certificate");
      // Same CA, same name as a registered cluster, another key: what a revoked or re-keyed edge still holds.
      const stale = pki.client("edge-b-old");
      const result = await sendRecords(certClient(stale), records("edge-b", 5, "stale-key"), 5000);
      assert.equal(result.acked, 0);
      await waitForRefusal(agg, "unregistered_certificate", counted);
      assert.match(agg.fluentd.log(), /Client certificate not registered/);
      await new Promise((r) => setTimeout(r, 6000));
      assert.equal(delivered(es, "stale-key").distinct, 0);
    });

    it("stores what edge-a sends as cluster hub under edge-a: nothing reaches efk-logs-hub, and it is counted", async () => {
      const hubBefore = es.docs("efk-logs-hub").length;
      const r = await sendRecords(certClient(certs["edge-a"]), records("hub", 4, "claims-hub"));
      assert.equal(r.acked, 4, r.errors.join("; "));
      await waitFor(() => delivered(es, "claims-hub").distinct === 4, 30_000, "4 records claiming hub");
      assert.deepEqual([...delivered(es, "claims-hub").streams], ["efk-logs-edge-a"]);
      assert.equal(es.docs("efk-logs-hub").length, hubBefore);
      assert.equal(metricValue(await scrape(agg), EFK_METRICS.impersonations, { cluster: "edge-a" }), 4);
    });
  });

  /** The fault tests, on the configuration rendered to `render()`; `suffix` keeps their records and folders apart. */
  function faults(title: string, render: () => string, suffix: string): void {
    describe(title, () => {
      it("delivers every record after Elasticsearch answers 429 and then 503 for a while", async () => {
        const agg = await startAggregator(`throttle${suffix}`, render());
        try {
          es.failBulkWith(429);
          const bulkBefore = es.bulkRequests();
          const sent = await sendRecords(client(agg), records("edge-a", 200, `throttled${suffix}`));
          assert.equal(sent.acked, 200, sent.errors.join("; "));
          await waitFor(() => es.bulkRequests() >= bulkBefore + 2, 30_000, "two refused bulk requests");
          es.failBulkWith(503);
          await waitFor(() => es.bulkRequests() >= bulkBefore + 3, 30_000, "a third refused bulk request");
          const refused = es.bulkRequests() - bulkBefore;
          assert.equal(delivered(es, `throttled${suffix}`).distinct, 0);
          es.failBulkWith(null);
          await waitFor(
            () => delivered(es, `throttled${suffix}`).distinct === 200,
            90_000,
            "all 200 throttled records",
          );
          const d = delivered(es, `throttled${suffix}`);
          console.log(
            `      ${suffix ? "2 workers, " : ""}throttling: sent 200, acknowledged ${sent.acked}, refused bulk requests ${refused}, delivered ${d.distinct}, duplicates ${d.duplicates}, lost ${200 - d.distinct}`,
          );
          assert.equal(d.distinct, 200);
        } finally {
          es.failBulkWith(null);
          await agg.fluentd.kill();
        }
      });

      it("delivers every record, once, when Elasticsearch refuses single documents with 429", async () => {
        const agg = await startAggregator(`item-429${suffix}`, render());
        try {
          const conflictsBefore = es.conflicts;
          es.failItemsWith(429, 120);
          const sent = await sendRecords(client(agg), records("edge-a", 300, `item-throttled${suffix}`));
          assert.equal(sent.acked, 300, sent.errors.join("; "));
          await waitFor(
            () => delivered(es, `item-throttled${suffix}`).distinct === 300,
            90_000,
            "all 300 item-throttled records",
          );
          await new Promise((r) => setTimeout(r, 3000));
          const d = delivered(es, `item-throttled${suffix}`);
          console.log(
            `      ${suffix ? "2 workers, " : ""}item 429s: sent 300, acknowledged ${sent.acked}, items refused 120, resent and refused as existing (409) ${es.conflicts - conflictsBefore}, delivered ${d.distinct}, duplicates ${d.duplicates}, lost ${300 - d.distinct}`,
          );
          assert.equal(d.duplicates, 0);
        } finally {
          es.failItemsWith(429, 0);
          await agg.fluentd.kill();
        }
      });

      it("keeps a document Elasticsearch refuses for good in the dead-letter file, and delivers the rest", async () => {
        const agg = await startAggregator(`poison${suffix}`, render());
        try {
          es.rejectDocuments((doc) => doc.poison === true);
          const batch = records("edge-a", 5, `poison${suffix}`).map((r, i) =>
            i === 2 ? { ...r, poison: true } : r,
          );
          const sent = await sendRecords(client(agg), batch);
          assert.equal(sent.acked, 5);
          await waitFor(() => delivered(es, `poison${suffix}`).distinct === 4, 30_000, "the 4 good records");
          let dead = 0;
          await waitFor(
            async () =>
              (dead = metricValue(await scrape(agg), EFK_METRICS.deadLetters, { cluster: "edge-a" })) === 1,
            10_000,
            `1 dead letter counted for edge-a (now ${dead})`,
          );
          // The dead-letter buffer is flushed hourly, and at shutdown.
          assert.equal(await agg.fluentd.kill("SIGTERM"), 0);
          const dir = agg.relocation.deadLetterDir;
          const lines = fs
            .readdirSync(dir)
            .flatMap((f) => fs.readFileSync(path.join(dir, f), "utf8").trim().split("\n"))
            .map((l) => JSON.parse(l) as Record<string, unknown>);
          assert.deepEqual(
            lines.map((l) => [l.run, l.seq, l.poison]),
            [[`poison${suffix}`, 2, true]],
          );
        } finally {
          es.rejectDocuments(null);
          await agg.fluentd.kill();
        }
      });

      it("loses no acknowledged record when Fluentd is killed with SIGKILL while Elasticsearch is down", async () => {
        const bufferDir = path.join(work, `crash-buffer${suffix}`);
        const first = await startAggregator(`crash-1${suffix}`, render(), bufferDir);
        const esPort = es.listeningPort as number;
        await es.stop();
        const N = 1000;
        const sent = await sendRecords(client(first), records("edge-a", N, `crash${suffix}`));
        assert.equal(sent.acked, N, sent.errors.join("; "));
        const chunks = () => chunkFiles(path.join(bufferDir, "elasticsearch"));
        await waitFor(() => chunks().length > 0, 10_000, "chunk files in the buffer folder");
        const code = await first.fluentd.kill("SIGKILL");
        assert.equal(code, null, "Fluentd was not killed by the signal");
        assert.ok(chunks().length > 0, "the buffer folder is empty after the crash");

        const second = await startAggregator(`crash-2${suffix}`, render(), bufferDir);
        try {
          await es.start(esPort);
          await waitFor(
            () => delivered(es, `crash${suffix}`).distinct === N,
            90_000,
            `all ${N} acknowledged records`,
          );
          // Let any late retry of an already delivered chunk show up as a duplicate.
          await new Promise((r) => setTimeout(r, 3000));
          const d = delivered(es, `crash${suffix}`);
          console.log(
            `      ${suffix ? "2 workers, " : ""}crash: sent ${N}, acknowledged ${sent.acked}, delivered ${d.distinct}, duplicates ${d.duplicates}, lost ${sent.acked - d.distinct}`,
          );
          assert.equal(d.distinct, sent.acked);
        } finally {
          await second.fluentd.kill();
        }
      });
    });
  }

  faults("faults", () => renderDir, "");
  faults("faults, with 2 workers", () => workersRenderDir, "-w2");

  describe("workers", () => {
    it("delivers records from many connections once each, counted across workers, and refuses as one process does", async () => {
      const agg = await startAggregator("workers-deliver", workersRenderDir);
      try {
        const runs = Array.from({ length: 6 }, (_, k) => `w-deliver-${k}`);
        const sent = await Promise.all(
          runs.map((run) => sendRecords(client(agg), records("edge-a", 200, run))),
        );
        assert.deepEqual(
          sent.map((r) => r.acked),
          runs.map(() => 200),
        );
        await waitFor(
          () => runs.every((run) => delivered(es, run).distinct === 200),
          60_000,
          "1200 records from 6 connections",
        );
        assert.ok(runs.every((run) => delivered(es, run).duplicates === 0));
        const samples = await scrape(agg);
        const byWorker = samples
          .filter((x) => x.name === EFK_METRICS.recordsIn && x.labels.cluster === "edge-a")
          .map((x) => `worker ${x.labels.worker_id}: ${x.value}`);
        console.log(`      2 workers: 1200 records from 6 connections, accepted by ${byWorker.join(", ")}`);
        // Each worker's series keeps its own labels: two samples with one label set are invalid exposition.
        const series = samples.map((x) => `${x.name}${JSON.stringify(Object.entries(x.labels).sort())}`);
        assert.deepEqual(
          series.filter((k, i) => series.indexOf(k) !== i),
          [],
          "series exposed twice by /aggregated_metrics",
        );
        assert.ok(
          samples
            .filter((x) => x.name === EFK_METRICS.recordsIn)
            .every((x) => x.labels.worker_id === "0" || x.labels.worker_id === "1"),
          `${EFK_METRICS.recordsIn} without a worker_id: ${byWorker.join(", ")}`,
        );
        assert.equal(metricValue(samples, EFK_METRICS.recordsIn, { cluster: "edge-a" }), 1200);
        const before = await refusals(agg, "user_password");
        const refused = await sendRecords(
          client(agg, { password: "not-the-password" }),
          records("edge-a", 5, "w-refused"),
          3000,
        );
        assert.equal(refused.acked, 0);
        await waitForRefusal(agg, "user_password", before);
      } finally {
        await agg.fluentd.kill();
      }
    });

    it("hands the chunks of a gone worker to worker 0 when the count changes, 2 to 1 and back: nothing lost or doubled", async () => {
      const bufferDir = path.join(work, "change-buffer");
      const dirs = [path.join(bufferDir, "elasticsearch"), path.join(bufferDir, "dead-letter")];
      const inWorker = (id: number) => chunkFiles(path.join(dirs[0], `worker${id}`)).length;
      const handOn = (render: string, workers: number) =>
        execFileSync("sh", [path.join(render, "fluentd", "buffer-workers.sh"), String(workers), ...dirs], {
          encoding: "utf8",
        });
      const esPort = es.listeningPort as number;
      const runs: string[] = [];
      await es.stop();
      const two = await startAggregator("change-2", workersRenderDir, bufferDir);
      // Connections land on either worker: send until both hold chunks.
      for (let k = 0; k < 10 && !(inWorker(0) > 0 && inWorker(1) > 0); k++) {
        const batch = [0, 1, 2, 3].map((j) => `change-${k}-${j}`);
        const sent = await Promise.all(
          batch.map((run) => sendRecords(client(two), records("edge-a", 250, run))),
        );
        assert.ok(
          sent.every((r) => r.acked === 250),
          "a batch was not acknowledged",
        );
        runs.push(...batch);
        await waitFor(() => chunkFiles(dirs[0]).length > 0, 10_000, "chunk files");
      }
      const split = [inWorker(0), inWorker(1)];
      assert.ok(split[0] > 0 && split[1] > 0, `chunks by worker: ${split.join(", ")}`);
      await two.fluentd.kill("SIGKILL");

      const handed = handOn(renderDir, 1);
      assert.match(handed, /files of worker 1 handed to worker 0 \(1 worker\(s\) now\)/);
      assert.equal(inWorker(0) + inWorker(1), 0, "chunks left in a worker's folder");
      const one = await startAggregator("change-1", renderDir, bufferDir);
      let back: string[] = [];
      try {
        await es.start(esPort);
        await waitFor(
          () => runs.every((run) => delivered(es, run).distinct === 250),
          120_000,
          `all ${runs.length * 250} records acknowledged by 2 workers, delivered by 1`,
        );
        // And back to 2 workers: what one process left is resumed by worker 0.
        await es.stop();
        back = ["change-back-0", "change-back-1"];
        const sent = await Promise.all(
          back.map((run) => sendRecords(client(one), records("edge-a", 250, run))),
        );
        assert.ok(sent.every((r) => r.acked === 250));
        await waitFor(() => chunkFiles(dirs[0]).length > 0, 10_000, "chunk files of one process");
      } finally {
        await one.fluentd.kill("SIGKILL");
      }
      handOn(workersRenderDir, 2);
      const twoAgain = await startAggregator("change-2-again", workersRenderDir, bufferDir);
      try {
        await es.start(esPort);
        await waitFor(
          () => back.every((run) => delivered(es, run).distinct === 250),
          120_000,
          "500 records of one process, delivered by 2 workers",
        );
        await new Promise((r) => setTimeout(r, 3000));
        const all = [...runs, ...back].map((run) => delivered(es, run));
        const total = all.reduce((n, d) => n + d.distinct, 0);
        const duplicates = all.reduce((n, d) => n + d.duplicates, 0);
        console.log(
          `      workers 2 -> 1 -> 2: sent ${(runs.length + back.length) * 250}, delivered ${total}, duplicates ${duplicates}, lost ${(runs.length + back.length) * 250 - total}; chunks by worker before the change ${split.join(" and ")}`,
        );
        assert.equal(total, (runs.length + back.length) * 250);
        assert.equal(duplicates, 0);
      } finally {
        await twoAgain.fluentd.kill();
      }
    });
  });

  describe("metrics", () => {
    it("exposes every Fluentd metric the rendered alerts and dashboard read", () => {
      const read = new Set<string>();
      const texts = [
        fs.readFileSync(path.join(renderDir, "prometheus", "rules.yaml"), "utf8"),
        ...fs
          .readdirSync(path.join(renderDir, "grafana"))
          .map((f) => fs.readFileSync(path.join(renderDir, "grafana", f), "utf8")),
      ];
      for (const text of texts) {
        for (const m of text.matchAll(/\b((?:efk_)?fluentd_[a-z_]+)\b/g)) read.add(m[1]);
      }
      assert.ok(read.size >= 5, `only ${[...read].join(", ")} found in the rules and dashboard`);
      assert.deepEqual(
        [...read].filter((name) => !seen.has(name)),
        [],
        "metrics the alerts or the dashboard read that the real Fluentd never exposed in this suite",
      );
    });
  });
});
