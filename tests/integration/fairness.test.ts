/**
 * One cluster floods the aggregator while two others keep sending their usual trickle, with an
 * Elasticsearch slower than the flood: on the real Fluentd with the rendered configuration (its buffer
 * shrunk to 16 MB so that it fills in seconds), and once more with fair shares taken out, to show what they
 * prevent. Prints each cluster's counts and the quiet clusters' delivery latency.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { decodeMultiStream, encode } from "@msgpack/msgpack";
import { encodeChunk } from "../../bench/forwardClient";
import { EFK_METRICS } from "../../lib/monitoring/metrics";
import { makeTestPki, type CertPair, type TestPki } from "./support/certs";
import { EsStandin } from "./support/esStandin";
import {
  assertBundleInstalled,
  metricValue,
  scrapeMetrics,
  sleep,
  startFluentd,
  stopAll,
  waitFor,
} from "./support/fluentd";
import { renderStackFile, startRenderedAggregator, TEST_SECRETS, type Aggregator } from "./support/rendered";
import { sendRecords, tailRecord } from "./support/sender";

const SERVER_NAME = "logs.efk.test";
const STACK = {
  role: "central",
  clusterName: "hub",
  edgeClusters: ["flood", "quiet-a", "quiet-b"],
  fluentdExternalHosts: [SERVER_NAME],
  fluentdLoadBalancerSourceRanges: ["0.0.0.0/0"],
  // Each cluster's records in a stream of their own, counted apart.
  indexLayout: "per-cluster",
};
/** The buffer the test gives the aggregator, in place of 80% of a volume of at least 1Gi. */
const BUFFER_BYTES = 16 * 2 ** 20;
/** Each bulk request waits this long: Elasticsearch drains about 2 MB per second (2 threads of 2 MB chunks). */
const BULK_DELAY_MS = 2000;
const FLOOD_SECONDS = 20;
/**
 * The quiet clusters' bound. Their pace: a record every 250 ms, each acknowledged before the next, so at
 * least 60% of FLOOD_SECONDS / 0.25 s records if their acknowledgements never wait for the buffer. Their
 * latency: what waits ahead of their chunks is at most the half of the buffer below the fair-share
 * threshold (8 MB, 4 s at 2 MB/s), plus a flush interval (5 s), plus their own bulk request's delay (2 s),
 * on a machine that runs the flood, the aggregator and the stand-in on two cores: 30 s.
 */
const QUIET_LATENCY_BOUND_MS = 30_000;
const QUIET_PACE = 0.6 * ((FLOOD_SECONDS * 1000) / 250);

interface Quiet {
  sent: number;
  acked: number;
  latencies: number[];
}

describe("one cluster flooding the aggregator, two keeping on", function () {
  this.timeout(300_000);
  let work: string;
  let pki: TestPki;
  let es: EsStandin;
  let render: string;
  const certs: Record<string, CertPair> = {};

  before(async () => {
    assertBundleInstalled();
    work = fs.mkdtempSync(path.join(os.tmpdir(), "efk-fair-"));
    pki = makeTestPki(path.join(work, "pki"));
    for (const c of ["hub", ...STACK.edgeClusters]) certs[c] = pki.client(c);
    render = renderStackFile(path.join(work, "stack"), "central", STACK);
    const esCert = pki.server("es", ["localhost"]);
    es = new EsStandin({
      cert: esCert.cert,
      key: esCert.key,
      username: "efk-fluentd",
      password: TEST_SECRETS.ES_WRITER_PASSWORD,
    });
    await es.start();
  });

  after(async () => {
    await stopAll();
    await es?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  /** The rendered aggregator with a 16 MB buffer, and (`fair: false`) without its fair-share settings. */
  async function aggregator(name: string, fair: boolean): Promise<Aggregator> {
    const agg = await startRenderedAggregator(render, path.join(work, name), {
      pki,
      serverNames: [SERVER_NAME],
      esPort: es.listeningPort as number,
      env: TEST_SECRETS,
      clients: Object.fromEntries(Object.entries(certs).map(([c, p]) => [c, p.cert])),
    });
    await agg.fluentd.kill();
    const etc = path.dirname(agg.conf);
    const outputs = path.join(etc, "config.d", "04_outputs.conf");
    const text = fs.readFileSync(outputs, "utf8");
    const shrunk = text.replace(/total_limit_size \d+\n/, `total_limit_size ${BUFFER_BYTES}\n`);
    assert.notEqual(shrunk, text, "no total_limit_size to shrink");
    fs.writeFileSync(outputs, shrunk);
    if (!fair) {
      const sources = path.join(etc, "config.d", "01_sources.conf");
      const s = fs.readFileSync(sources, "utf8");
      const unfair = s.replace(/\n\s+fair_share_output \S+/, "");
      assert.notEqual(unfair, s, "no fair_share_output to take out");
      fs.writeFileSync(sources, unfair);
    }
    return { ...agg, fluentd: await startFluentd(agg.conf, { env: TEST_SECRETS }) };
  }

  /**
   * The flooding cluster's agent: chunks of 1,000 records sent one after the other, each acknowledged
   * before the next; a chunk whose connection is closed unacknowledged is sent again a second later on a
   * new connection, as Fluent Bit does. Stops sending new chunks at `until`; returns the records acknowledged.
   */
  async function flood(port: number, until: number, run: string): Promise<number> {
    let seq = 0;
    let acked = 0;
    let socket: tls.TLSSocket | undefined;
    let next: (() => Promise<unknown>) | undefined;
    const connect = async () => {
      socket = tls.connect({
        host: "127.0.0.1",
        port,
        ca: fs.readFileSync(pki.caCert),
        servername: SERVER_NAME,
        cert: fs.readFileSync(certs.flood.cert),
        key: fs.readFileSync(certs.flood.key),
      });
      await new Promise((resolve, reject) => socket!.once("secureConnect", resolve).once("error", reject));
      const it = decodeMultiStream(socket)[Symbol.asyncIterator]();
      next = async () => {
        const r = await it.next();
        if (r.done) throw new Error("closed");
        return r.value;
      };
    };
    while (Date.now() < until) {
      const records = Array.from({ length: 1000 }, () => {
        const i = seq++;
        return {
          ...tailRecord(`/var/log/pods/${run}/flood.log`, i * 400, `${run} ${i} ${"x".repeat(300)}`),
          run,
          seq: i,
        };
      });
      const chunk = encodeChunk(records, Date.now());
      for (;;) {
        try {
          if (!socket || socket.destroyed) await connect();
          const id = randomBytes(16).toString("base64");
          socket!.write(encode(["efk.flood", chunk.entries, { size: chunk.records, chunk: id }]));
          const ack = (await next!()) as { ack?: string };
          if (ack?.ack !== id) throw new Error("wrong ack");
          acked += chunk.records;
          break;
        } catch {
          socket?.destroy();
          await sleep(1000);
        }
      }
    }
    socket?.end();
    return acked;
  }

  /** A quiet cluster: a record every 250 ms, each acknowledged, each stamped with when it was sent. */
  async function trickle(cluster: string, port: number, until: number, run: string): Promise<Quiet> {
    const q: Quiet = { sent: 0, acked: 0, latencies: [] };
    while (Date.now() < until) {
      const r = await sendRecords(
        { port, ca: pki.caCert, serverName: SERVER_NAME, clientCert: certs[cluster] },
        [
          {
            ...tailRecord(`/var/log/pods/${run}/${cluster}.log`, q.sent * 100, `${run} ${q.sent}`),
            run,
            seq: q.sent,
            sentAt: Date.now(),
          },
        ],
        30_000,
      );
      q.sent += 1;
      q.acked += r.acked;
      await sleep(250);
    }
    return q;
  }

  /** When each quiet record was first seen in Elasticsearch, less when it was sent. */
  function watchLatencies(cluster: string, run: string, q: Quiet, stop: () => boolean): Promise<void> {
    const seen = new Set<number>();
    return (async () => {
      while (!stop()) {
        for (const d of es.docs(`efk-logs-${cluster}`)) {
          if (d.run === run && !seen.has(d.seq as number)) {
            seen.add(d.seq as number);
            q.latencies.push(Date.now() - (d.sentAt as number));
          }
        }
        await sleep(200);
      }
    })();
  }

  async function scenario(fair: boolean) {
    const run = fair ? "fair" : "unfair";
    es.dropDocuments();
    es.slowBulk(BULK_DELAY_MS);
    const agg = await aggregator(run, fair);
    const port = agg.relocation.forwardPort;
    const until = Date.now() + FLOOD_SECONDS * 1000;
    const quiet: Record<string, Quiet> = {
      "quiet-a": { sent: 0, acked: 0, latencies: [] },
      "quiet-b": { sent: 0, acked: 0, latencies: [] },
    };
    let done = false;
    const watchers = Object.keys(quiet).map((c) => watchLatencies(c, run, quiet[c], () => done));
    const [flooded, a, b] = await Promise.all([
      flood(port, until, run),
      trickle("quiet-a", port, until, run),
      trickle("quiet-b", port, until, run),
    ]);
    quiet["quiet-a"] = { ...a, latencies: quiet["quiet-a"].latencies };
    quiet["quiet-b"] = { ...b, latencies: quiet["quiet-b"].latencies };
    // Let Elasticsearch catch up: everything acknowledged must arrive.
    es.slowBulk(0);
    await waitFor(
      () => es.docs("efk-logs-flood").filter((d) => d.run === run).length >= flooded,
      180_000,
      "the flood's acknowledged records",
    ).catch(() => undefined);
    await sleep(2000);
    done = true;
    await Promise.all(watchers);
    const deferred = metricValue(await scrapeMetrics(agg.relocation.metricsPort), EFK_METRICS.deferred, {
      cluster: "flood",
    });
    await agg.fluentd.kill();
    const stored = (c: string) => es.docs(`efk-logs-${c}`).filter((d) => d.run === run);
    const distinct = (c: string) => new Set(stored(c).map((d) => d.seq)).size;
    for (const [c, q] of Object.entries(quiet)) {
      const max = Math.max(0, ...q.latencies);
      console.log(
        `      ${run}: ${c} sent ${q.sent}, acknowledged ${q.acked}, delivered ${distinct(c)}, duplicates ${stored(c).length - distinct(c)}, ` +
          `latency max ${(max / 1000).toFixed(1)} s, median ${((q.latencies.sort((x, y) => x - y)[q.latencies.length >> 1] ?? 0) / 1000).toFixed(1)} s`,
      );
    }
    console.log(
      `      ${run}: flood acknowledged ${flooded}, delivered ${distinct("flood")}, duplicates ${stored("flood").length - distinct("flood")}, deferred messages ${deferred}`,
    );
    return { quiet, flooded, deferred, stored, distinct };
  }

  /** What each quiet cluster sent when fair shares held the flood back. */
  let fairSent = 0;

  it("keeps the quiet clusters flowing within the bound while the flood is deferred, and loses nothing", async () => {
    const r = await scenario(true);
    fairSent = Math.min(...Object.values(r.quiet).map((q) => q.sent));
    assert.ok(
      r.deferred > 0,
      "the flood was never deferred: the buffer never filled, the test proves nothing",
    );
    for (const [c, q] of Object.entries(r.quiet)) {
      assert.equal(q.acked, q.sent, `${c}: records not acknowledged`);
      assert.equal(r.distinct(c), q.sent, `${c}: records lost`);
      assert.equal(r.stored(c).length, q.sent, `${c}: records stored twice`);
      assert.ok(
        Math.max(...q.latencies) <= QUIET_LATENCY_BOUND_MS,
        `${c}: latency past ${QUIET_LATENCY_BOUND_MS} ms`,
      );
      assert.ok(q.sent >= QUIET_PACE, `${c}: sent ${q.sent} records, its acknowledgements waited`);
    }
    assert.equal(r.distinct("flood"), r.flooded, "the flood's acknowledged records must all arrive");
    assert.equal(r.stored("flood").length, r.distinct("flood"), "the flood's records stored twice");
  });

  it("without fair shares, the same flood stalls the quiet clusters (what the first test prevents)", async () => {
    const r = await scenario(false);
    const sent = Math.min(...Object.values(r.quiet).map((q) => q.sent));
    // Blocked behind a full buffer, their acknowledgements wait: they send less than half as much.
    assert.ok(sent < Math.min(QUIET_PACE, fairSent) / 2, `the quiet clusters sent ${sent} records anyway`);
    // Nothing is lost either way: the block only delays.
    for (const [c, q] of Object.entries(r.quiet)) assert.equal(r.distinct(c), q.sent, `${c}: records lost`);
  });
});
