/**
 * The shard cliff, on the real Fluentd and the configuration the program renders: an Elasticsearch
 * stand-in with a small shard budget, the same clusters joining over the same simulated days, ILM
 * simulated by rolling every stream over daily and deleting indices past the rendered retention. A stream
 * per cluster (`indexLayout: per-cluster`) runs out of shards and a new cluster's records are refused
 * (400 validation_exception) into the dead-letter file; the shared stream delivers every record once.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { runIndexSetupOk } from "./support/esSetup";
import { clusterStream, dataStreamName, SHARED_STREAM, type IndexLayout } from "../../lib/capacity";
import { EFK_METRICS } from "../../lib/monitoring/metrics";
import { RECORD_FIELDS } from "../../lib/records";
import { SETUP_FILES } from "../../lib/render/esSetup";
import { clusterPasswordEnv, FLUENTD_ENV, STREAM_FIELD } from "../../lib/render/fluentd";
import { FLUENTD_WRITER_ROLE, FLUENTD_WRITER_USER } from "../../lib/values/elasticsearch";
import { makeTestPki, type TestPki } from "./support/certs";
import { EsStandin } from "./support/esStandin";
import { assertBundleInstalled, metricValue, scrapeMetrics, stopAll, waitFor } from "./support/fluentd";
import {
  renderStackFile,
  renderedWriterPrefix,
  startRenderedAggregator,
  type Aggregator,
} from "./support/rendered";
import { sendRecords, tailRecord } from "./support/sender";
import { delivered } from "./support/delivered";

const SERVER_NAME = "logs.efk.test";
const PREFIX = "efk-logs";
const ELASTIC_PASSWORD = "test-elastic-password";
const CLUSTERS = Array.from({ length: 12 }, (_, i) => `c${String(i + 1).padStart(2, "0")}`);
/** Clusters that start sending each simulated day: all twelve by day 4. */
const JOINING_PER_DAY = 3;
const DAYS = 5;
const RETENTION_DAYS = 2;
const RECORDS_PER_CLUSTER_DAY = 3;
/** 20 shards: one data node that may hold 20. Elasticsearch's default is 1,000 per data node. */
const BUDGET = { dataNodes: 1, maxShardsPerNode: 20 };
const LIMIT = BUDGET.dataNodes * BUDGET.maxShardsPerNode;
const DEDICATED = "c02";
const DAY_MS = 24 * 3600 * 1000;

const STACK = {
  role: "central",
  clusterName: CLUSTERS[0],
  edgeClusters: CLUSTERS.slice(1),
  fluentdExternalHosts: [SERVER_NAME],
  fluentdLoadBalancerSourceRanges: ["0.0.0.0/0"],
  clientCertAuth: false,
  retentionDays: RETENTION_DAYS,
  // One node: the templates ask for no replica and, for the shared stream, one primary.
  esReplicas: 1,
};

/** What the rendered aggregator reads from its environment (the fluentd-credentials Secret). */
const ENV: Record<string, string> = {
  [FLUENTD_ENV.sharedKey]: "test-shared-key",
  [FLUENTD_ENV.esPassword]: "test-es-writer-password",
  ...Object.fromEntries(CLUSTERS.map((c) => [clusterPasswordEnv(c), `${c}-password`])),
};

interface Outcome {
  layout: string;
  sent: number;
  delivered: number;
  duplicates: number;
  /** Counted by the aggregator's dead-letter metric, day by day. */
  deadLettered: number;
  /** The dead-letter file's records, read after the aggregator stopped (it flushes them at shutdown). */
  deadLetterFile: Record<string, unknown>[];
  /**
   * Delivered records checked the day they arrived (before ILM deletes them): in another stream than the
   * layout names for their cluster; whose `cluster` is not their sender's; that hold the routing field.
   */
  misplaced: { wrongStream: number; wrongCluster: number; routingField: number };
  peakShards: number;
  /** What Fluentd logged when it sent the first refused record to @ERROR, if it did. */
  refusalLogged?: string;
  rolloversRefused: number;
  /** The first day a record was refused; the first cluster refused; how many clusters' streams fitted before it. */
  cliff?: { day: number; cluster: string; fitted: number };
  es: EsStandin;
}

function records(cluster: string, day: number, run: string): Record<string, unknown>[] {
  return Array.from({ length: RECORDS_PER_CLUSTER_DAY }, (_, i) => ({
    ...tailRecord(`/var/log/containers/app_${cluster}.log`, (day * 100 + i) * 100, `${run} ${cluster} ${i}`),
    cluster,
    sent_by: cluster,
    run,
    seq: i,
  }));
}

interface Layout {
  indexLayout: IndexLayout;
  dedicatedStreams?: string[];
}

/** Adds to `into` the records of `run` that are not where and as `layout` puts them. */
function checkPlacement(es: EsStandin, run: string, layout: Layout, into: Outcome["misplaced"]): void {
  for (const stream of es.streams()) {
    for (const doc of es.docs(stream)) {
      if (doc.run !== run) continue;
      const sender = String(doc.sent_by);
      const expected = clusterStream(layout.indexLayout, layout.dedicatedStreams ?? [], sender);
      if (stream !== dataStreamName(PREFIX, expected)) into.wrongStream++;
      if (doc[RECORD_FIELDS.cluster] !== sender) into.wrongCluster++;
      if (STREAM_FIELD in doc) into.routingField++;
    }
  }
}

/** Elasticsearch's refusal of `adding` shards when the budget is used up (see support/esStandin.ts). */
function fullBudget(adding: number): string {
  return (
    `Validation Failed: 1: this action would add [${adding}] shards, but this cluster currently has ` +
    `[${LIMIT}]/[${LIMIT}] maximum normal shards open;`
  );
}

/** `"2d"` (an ILM age in the rendered policy) in milliseconds; only days are used here. */
function days(age: string): number {
  const m = /^(\d+)d$/.exec(age);
  if (!m) throw new Error(`an ILM age in days was expected, not ${age}`);
  return Number(m[1]) * DAY_MS;
}

describe("index layout: the shard cliff on the real Fluentd (ES stand-in with a 20-shard budget)", function () {
  this.timeout(240_000);

  let work: string;
  let pki: TestPki;
  let esCert: { cert: string; key: string };
  /** Each layout's run, started for all three at once (they take a minute each, mostly waiting). */
  const runs = new Map<string, Promise<Outcome>>();

  before(() => {
    assertBundleInstalled();
    work = fs.mkdtempSync(path.join(os.tmpdir(), "efk-layout-"));
    pki = makeTestPki(path.join(work, "pki"));
    esCert = pki.server("es", ["localhost"], ["127.0.0.1"]);
  });

  after(async () => {
    await stopAll();
    fs.rmSync(work, { recursive: true, force: true });
  });

  /** A request to the stand-in as `elastic`, over verified TLS. */
  function esRequest(
    es: EsStandin,
    method: string,
    urlPath: string,
    body?: string,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: "127.0.0.1",
          port: es.listeningPort,
          path: urlPath,
          method,
          ca: fs.readFileSync(pki.caCert),
          auth: `elastic:${ELASTIC_PASSWORD}`,
          headers: { "Content-Type": body?.includes("\n") ? "application/x-ndjson" : "application/json" },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            resolve({
              status: res.statusCode ?? 0,
              body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>),
            });
          });
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  /** A stand-in with the budget, Fluentd's user allowed what the rendered role grants, and `clock`. */
  async function startStandin(renderDir: string, clock?: () => Date): Promise<EsStandin> {
    const es = new EsStandin({
      ...esCert,
      username: "elastic",
      password: ELASTIC_PASSWORD,
      users: {
        [FLUENTD_WRITER_USER]: {
          password: ENV[FLUENTD_ENV.esPassword],
          createDocPrefix: renderedWriterPrefix(renderDir, FLUENTD_WRITER_ROLE),
        },
      },
      ...BUDGET,
      clock,
    });
    await es.start();
    return es;
  }

  /** The rendered index-setup script, run against the stand-in as the Job runs it. */
  async function runSetup(renderDir: string, es: EsStandin): Promise<string> {
    return runIndexSetupOk(renderDir, {
      port: es.listeningPort as number,
      caFile: pki.caCert,
      password: ELASTIC_PASSWORD,
    });
  }

  /**
   * What ILM does once a day under the rendered policy: delete every index whose rollover is `delete.min_age`
   * old, then roll over every write index `rollover.max_age` old. Deleting first is the order kindest to a
   * full cluster. Returns the rollovers the shard limit refused.
   */
  async function simulateIlm(es: EsStandin, now: Date, renderDir: string): Promise<number> {
    const policy = JSON.parse(
      fs.readFileSync(
        path.join(renderDir, "configmaps", "efk-elasticsearch-index-setup", SETUP_FILES.policy),
        "utf8",
      ),
    ) as {
      policy: {
        phases: { hot: { actions: { rollover: { max_age: string } } }; delete: { min_age: string } };
      };
    };
    const retention = days(policy.policy.phases.delete.min_age);
    const maxAge = days(policy.policy.phases.hot.actions.rollover.max_age);
    for (const stream of es.dataStreams.keys()) {
      for (const index of es.backingIndices(stream)) {
        if (index.rolledOverAt && now.getTime() - index.rolledOverAt.getTime() >= retention) {
          const r = await esRequest(es, "DELETE", `/${index.name}`);
          assert.equal(r.status, 200, JSON.stringify(r.body));
        }
      }
    }
    let refused = 0;
    for (const stream of es.dataStreams.keys()) {
      const write = es.backingIndices(stream).at(-1);
      if (write && now.getTime() - write.createdAt.getTime() >= maxAge) {
        const r = await esRequest(es, "POST", `/${stream}/_rollover`);
        if (r.status !== 200) {
          assert.equal(
            (r.body.error as { type: string }).type,
            "validation_exception",
            JSON.stringify(r.body),
          );
          refused++;
        }
      }
    }
    return refused;
  }

  /**
   * Renders a central stack for the twelve clusters with `layout`, runs its index setup against a fresh
   * stand-in and its aggregator on the real Fluentd, then lives the days: ILM, the clusters that joined
   * so far send, and each day's records are waited for (in Elasticsearch or in the dead-letter counter).
   */
  async function runDays(name: string, layout: Layout): Promise<Outcome> {
    const renderDir = renderStackFile(path.join(work, name), "layout", { ...STACK, ...layout });
    let now = new Date(Date.UTC(2026, 0, 1, 6));
    const es = await startStandin(renderDir, () => now);
    const setup = await runSetup(renderDir, es);
    assert.match(setup, /PUT \/_index_template\/efk-logs-shared: HTTP 200/);
    let agg: Aggregator | undefined;
    let cliffDay: number | undefined;
    let exitCode: number | null | undefined;
    const outcome: Omit<Outcome, "deadLetterFile" | "cliff"> = {
      layout: name,
      sent: 0,
      delivered: 0,
      duplicates: 0,
      deadLettered: 0,
      misplaced: { wrongStream: 0, wrongCluster: 0, routingField: 0 },
      peakShards: 0,
      rolloversRefused: 0,
      es,
    };
    try {
      const aggregator = await startRenderedAggregator(renderDir, path.join(work, name, "aggregator"), {
        pki,
        serverNames: [SERVER_NAME],
        esPort: es.listeningPort as number,
        env: ENV,
      });
      agg = aggregator;
      const metricsPort = aggregator.relocation.metricsPort;
      const deadLetters = async () =>
        metricValue(await scrapeMetrics(metricsPort, "/aggregated_metrics"), EFK_METRICS.deadLetters);
      for (let day = 1; day <= DAYS; day++) {
        now = new Date(Date.UTC(2026, 0, day, 6));
        if (day > 1) outcome.rolloversRefused += await simulateIlm(es, now, renderDir);
        const sending = CLUSTERS.slice(0, Math.min(CLUSTERS.length, day * JOINING_PER_DAY));
        const run = `${name}-day${day}`;
        const deadBefore = await deadLetters();
        const sent = await Promise.all(
          sending.map((cluster) =>
            sendRecords(
              {
                port: aggregator.relocation.forwardPort,
                ca: pki.caCert,
                serverName: SERVER_NAME,
                sharedKey: ENV[FLUENTD_ENV.sharedKey],
                username: cluster,
                password: ENV[clusterPasswordEnv(cluster)],
              },
              records(cluster, day, run),
            ),
          ),
        );
        const acked = sent.reduce((n, r) => n + r.acked, 0);
        assert.equal(
          acked,
          sending.length * RECORDS_PER_CLUSTER_DAY,
          sent.flatMap((r) => r.errors).join("; "),
        );
        let dead = 0;
        await waitFor(
          async () => delivered(es, run).distinct + (dead = (await deadLetters()) - deadBefore) >= acked,
          30_000,
          `day ${day}: ${acked} records in Elasticsearch or in the dead-letter file`,
        );
        const d = delivered(es, run);
        outcome.sent += acked;
        outcome.delivered += d.distinct;
        outcome.duplicates += d.duplicates;
        outcome.deadLettered += dead;
        checkPlacement(es, run, layout, outcome.misplaced);
        outcome.peakShards = Math.max(outcome.peakShards, es.shardsInUse());
        cliffDay ??= dead > 0 ? day : undefined;
      }
    } finally {
      // The dead-letter buffer is written out hourly and at shutdown.
      exitCode = await agg?.fluentd.kill("SIGTERM");
      await es.stop();
    }
    assert.equal(exitCode, 0, "the aggregator did not stop cleanly");
    const dir = agg.relocation.deadLetterDir;
    const deadLetterFile = fs.existsSync(dir)
      ? fs
          .readdirSync(dir)
          .flatMap((f) => fs.readFileSync(path.join(dir, f), "utf8").split("\n"))
          .filter((l) => l.trim() !== "")
          .map((l) => JSON.parse(l) as Record<string, unknown>)
      : [];
    const refused = CLUSTERS.find((c) => deadLetterFile.some((r) => r[RECORD_FIELDS.cluster] === c));
    const cliff =
      cliffDay !== undefined && refused !== undefined
        ? { day: cliffDay, cluster: refused, fitted: CLUSTERS.indexOf(refused) }
        : undefined;
    const refusalLogged = agg.fluentd
      .log()
      .split("\n")
      .find((l) => l.includes("send an error event to @ERROR"));
    const result: Outcome = { ...outcome, deadLetterFile, cliff, refusalLogged };
    return result;
  }

  /** One line of figures per layout. */
  function printFigures(o: Outcome): void {
    const refused = CLUSTERS.filter((c) =>
      o.es.shardLimitRefusals.some((r) => r.action === "create data stream" && r.target === `${PREFIX}-${c}`),
    );
    console.log(
      `      ${o.layout}: clusters ${CLUSTERS.length} (${JOINING_PER_DAY} more a day), days ${DAYS}, retention ${RETENTION_DAYS} d, ` +
        `shards peak ${o.peakShards} / budget ${o.es.shardLimit} (${BUDGET.dataNodes} data node x ${BUDGET.maxShardsPerNode}), ` +
        `streams ${o.es.dataStreams.size}, sent ${o.sent}, delivered ${o.delivered}, ` +
        `dead-lettered ${o.deadLettered} (in the file ${o.deadLetterFile.length}), duplicates ${o.duplicates}, ` +
        `misplaced ${o.misplaced.wrongStream + o.misplaced.wrongCluster + o.misplaced.routingField}, ` +
        `rollovers refused ${o.rolloversRefused}, new streams refused ${refused.join(" ") || "none"}` +
        (o.cliff
          ? `; cliff on day ${o.cliff.day}: ${o.cliff.cluster} refused, the streams of ${o.cliff.fitted} clusters fill the budget`
          : ""),
    );
  }

  function layoutRun(name: string): Promise<Outcome> {
    const run = runs.get(name);
    if (!run) throw new Error(`no run of layout ${name}`);
    return run;
  }

  describe("the stand-in's shard limit", () => {
    it("refuses a data stream's first index and a rollover past the limit as Elasticsearch does, and frees shards when an old index is deleted", async () => {
      const renderDir = renderStackFile(path.join(work, "limit"), "layout", {
        ...STACK,
        indexLayout: "per-cluster",
      });
      let now = new Date(Date.UTC(2026, 0, 1));
      const es = await startStandin(renderDir, () => now);
      const create = (stream: string, id: string) =>
        `${JSON.stringify({ create: { _index: stream, _id: id } })}\n` +
        `${JSON.stringify({ "@timestamp": now.toISOString(), id })}\n`;
      const bulk = async (body: string) => {
        const r = await esRequest(es, "POST", "/_bulk", body);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        return (
          r.body.items as Record<string, { status: number; error?: { type: string; reason: string } }>[]
        ).map((i) => i.create);
      };
      const full = fullBudget(1);
      try {
        await runSetup(renderDir, es);
        // Streams of one shard each (the rendered template on one node: one primary, no replica), and a.
        const filler = Array.from({ length: LIMIT - 2 }, (_, i) =>
          create(`${PREFIX}-fill${i}`, `f${i}`),
        ).join("");
        assert.ok(
          (await bulk(filler + create(`${PREFIX}-a`, "a1") + create(`${PREFIX}-a`, "a2"))).every(
            (i) => i.status === 201,
          ),
        );
        assert.equal(es.shardsInUse(), LIMIT - 1);
        now = new Date(Date.UTC(2026, 0, 2));
        const rolled = await esRequest(es, "POST", `/${PREFIX}-a/_rollover`);
        assert.equal(rolled.status, 200, JSON.stringify(rolled.body));
        assert.deepEqual(
          [rolled.body.old_index, rolled.body.new_index],
          [`.ds-${PREFIX}-a-2026.01.01-000001`, `.ds-${PREFIX}-a-2026.01.02-000002`],
        );
        assert.equal(es.shardsInUse(), LIMIT);

        // Full: a new stream's items are refused, each alike; so is a rollover.
        const refused = await bulk(
          create(`${PREFIX}-b`, "b1") + create(`${PREFIX}-b`, "b2") + create(`${PREFIX}-a`, "a1"),
        );
        assert.deepEqual(
          refused.map((i) => i.status),
          [400, 400, 201],
          "a stream that exists takes documents; a1 again in a's new write index (ids are per backing index)",
        );
        for (const item of refused.slice(0, 2)) {
          assert.deepEqual(item.error, { type: "validation_exception", reason: full });
        }
        assert.equal(es.dataStreams.has(`${PREFIX}-b`), false);
        const rollover = await esRequest(es, "POST", `/${PREFIX}-a/_rollover`);
        assert.equal(rollover.status, 400);
        assert.deepEqual(rollover.body.error, {
          root_cause: [{ type: "validation_exception", reason: full }],
          type: "validation_exception",
          reason: full,
        });
        assert.deepEqual(
          es.backingIndices(`${PREFIX}-a`).map((b) => [b.name, b.docs]),
          [
            [`.ds-${PREFIX}-a-2026.01.01-000001`, 2],
            [`.ds-${PREFIX}-a-2026.01.02-000002`, 1],
          ],
        );

        // The write index cannot go; the old one can, with its documents and its shard: b then fits.
        const writeIndex = await esRequest(es, "DELETE", `/.ds-${PREFIX}-a-2026.01.02-000002`);
        assert.equal(writeIndex.status, 400);
        const old = await esRequest(es, "DELETE", `/.ds-${PREFIX}-a-2026.01.01-000001`);
        assert.equal(old.status, 200, JSON.stringify(old.body));
        assert.equal(es.shardsInUse(), LIMIT - 1);
        assert.equal(es.count(`${PREFIX}-a`), 1);
        assert.deepEqual(
          (await bulk(create(`${PREFIX}-b`, "b1"))).map((i) => i.status),
          [201],
        );
        const info = await esRequest(es, "GET", `/_data_stream/${PREFIX}-a`);
        const [ds] = info.body.data_streams as { generation: number; indices: { index_name: string }[] }[];
        assert.equal(ds.generation, 2);
        assert.deepEqual(
          ds.indices.map((i) => i.index_name),
          [`.ds-${PREFIX}-a-2026.01.02-000002`],
        );
        assert.deepEqual(
          es.shardLimitRefusals.map((r) => [r.action, r.target]),
          [
            ["create data stream", `${PREFIX}-b`],
            ["rollover", `${PREFIX}-a`],
          ],
        );
      } finally {
        await es.stop();
      }
    });
  });

  describe("the same clusters and days on each layout", () => {
    const layouts: Record<string, Layout> = {
      "per-cluster": { indexLayout: "per-cluster" },
      shared: { indexLayout: "shared" },
      "shared+dedicated": { indexLayout: "shared", dedicatedStreams: [DEDICATED] },
    };
    before(() => {
      for (const [name, layout] of Object.entries(layouts)) {
        const run = runDays(name, layout);
        // Each test awaits its own run and fails with it; this only keeps a run no test awaits from being an unhandled rejection.
        run.catch(() => undefined);
        runs.set(name, run);
      }
    });
    it("a stream per cluster (per-cluster) hits the shard limit: a new cluster's records are refused into the dead-letter file", async () => {
      const o = await layoutRun("per-cluster");
      printFigures(o);
      console.log(`      Fluentd: ${o.refusalLogged ?? "(no refusal logged)"}`);
      assert.ok(o.cliff, "no record was refused: the per-cluster layout did not reach the budget");
      assert.ok(o.deadLettered > 0);
      // Nothing is lost: what Elasticsearch refused is in the dead-letter file, record for record.
      assert.equal(o.delivered + o.deadLettered, o.sent);
      assert.equal(o.deadLetterFile.length, o.deadLettered);
      // Refused are the clusters whose stream could not be made, for the shard limit.
      const refusedClusters = new Set(o.deadLetterFile.map((r) => String(r[RECORD_FIELDS.cluster])));
      for (const cluster of refusedClusters) {
        assert.equal(o.es.dataStreams.has(`${PREFIX}-${cluster}`), false, `${cluster} has a stream`);
        const refusal = o.es.shardLimitRefusals.find((r) => r.target === `${PREFIX}-${cluster}`);
        assert.equal(refusal?.reason, fullBudget(1));
      }
      assert.ok(refusedClusters.size > 0 && !refusedClusters.has(CLUSTERS[0]));
      assert.match(
        o.refusalLogged ?? "",
        /400 - Rejected by Elasticsearch \[error type\]: validation_exception/,
      );
      // The clusters that fitted are hurt too: their write indices can no longer roll over, so ILM can
      // delete nothing of theirs past the retention.
      assert.ok(o.rolloversRefused > 0);
      assert.equal(o.duplicates, 0);
      assert.deepEqual(o.misplaced, { wrongStream: 0, wrongCluster: 0, routingField: 0 });
    });

    it("one shared stream (shared, the default) delivers every record of every cluster once, within the same budget", async () => {
      const o = await layoutRun("shared");
      printFigures(o);
      assert.equal(o.delivered, o.sent);
      assert.equal(o.duplicates, 0);
      assert.deepEqual(o.misplaced, { wrongStream: 0, wrongCluster: 0, routingField: 0 });
      assert.equal(o.deadLettered, 0);
      assert.deepEqual(o.deadLetterFile, []);
      assert.deepEqual(o.es.shardLimitRefusals, []);
      assert.deepEqual([...o.es.dataStreams.keys()], [dataStreamName(PREFIX, SHARED_STREAM)]);
      // Not vacuous: ILM did roll over and delete, and more clusters sent than the old layout could hold.
      const shared = o.es.backingIndices(dataStreamName(PREFIX, SHARED_STREAM));
      assert.equal(shared.at(-1)?.generation, DAYS);
      assert.equal(shared.length, RETENTION_DAYS + 1);
      // The same budget held fewer clusters with a stream each (the test above shows them refused).
      const old = await layoutRun("per-cluster");
      assert.ok(
        old.cliff && CLUSTERS.length > old.cliff.fitted,
        "the budget is not tight for the old layout",
      );
    });

    it(`a dedicated stream (shared, dedicatedStreams [${DEDICATED}]) takes that cluster's records, the shared one the rest, without the routing field`, async () => {
      const o = await layoutRun("shared+dedicated");
      printFigures(o);
      assert.equal(o.delivered, o.sent);
      assert.equal(o.duplicates, 0);
      assert.deepEqual(o.misplaced, { wrongStream: 0, wrongCluster: 0, routingField: 0 });
      assert.equal(o.deadLettered, 0);
      assert.deepEqual(
        [...o.es.dataStreams.keys()].sort(),
        [dataStreamName(PREFIX, DEDICATED), dataStreamName(PREFIX, SHARED_STREAM)].sort(),
      );
      const own = o.es.docs(dataStreamName(PREFIX, DEDICATED));
      const shared = o.es.docs(dataStreamName(PREFIX, SHARED_STREAM));
      assert.ok(own.length > 0 && shared.length > 0);
      assert.ok(own.every((d) => d[RECORD_FIELDS.cluster] === DEDICATED && d.sent_by === DEDICATED));
      assert.ok(
        shared.every((d) => d[RECORD_FIELDS.cluster] !== DEDICATED && d[RECORD_FIELDS.cluster] === d.sent_by),
      );
      assert.deepEqual(
        [...own, ...shared].filter((d) => STREAM_FIELD in d),
        [],
        `documents holding the routing field ${STREAM_FIELD}`,
      );
    });
  });
});
