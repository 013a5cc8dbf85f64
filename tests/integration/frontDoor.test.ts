/**
 * The aggregator's forward port tried as an attacker would: the rendered configuration on the real
 * Fluentd, hostile clients on raw TLS sockets (node:tls, frames built with @msgpack/msgpack) beside a
 * registered cluster that keeps sending. Each case prints one line: the aggregator's resident memory when
 * idle and at its peak (VmRSS of every process in its process group, sampled every 100 ms), whether it
 * stayed up, what the attacker managed, and what the legitimate cluster sent and got stored.
 */
import * as assert from "node:assert/strict";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { runIndexSetupOk } from "./support/esSetup";
import * as zlib from "node:zlib";
import { encode } from "@msgpack/msgpack";
import { encodeChunk } from "../../bench/forwardClient";
import { CONFIG_KEYS } from "../../config/keys";
import { EFK_METRICS } from "../../lib/monitoring/metrics";
import { FORWARD_HANDSHAKE_LIMIT_BYTES, FORWARD_MESSAGE_LIMIT_BYTES } from "../../lib/render/fluentd";
import { FLUENTD_WRITER_ROLE, FLUENTD_WRITER_USER } from "../../lib/values/elasticsearch";
import { makeTestPki, type CertPair, type TestPki } from "./support/certs";
import { EsStandin } from "./support/esStandin";
import {
  attempt,
  connectTls,
  describeAttempt,
  describeSent,
  GARBAGE,
  opensslCiphers,
  readMessage,
  readMessages,
  scan,
  sendMessage,
  str32Header,
  STREAM_CAP,
  STRING_FILLER,
  weaknesses,
  type Attempt,
  type TlsClient,
} from "./support/hostile";
import { allocatorEnv, idleRss, MiB, mib, rssSampler } from "./support/memory";
import {
  assertBundleInstalled,
  metricValue,
  scrapeMetrics,
  sleep,
  stopAll,
  type Sample,
} from "./support/fluentd";
import {
  renderStackFile,
  renderedWriterPrefix,
  startRenderedAggregator,
  TEST_SECRETS,
  type Aggregator,
} from "./support/rendered";
import { sendRecords, type SenderOptions } from "./support/sender";
import { delivered, sentRecords as records } from "./support/delivered";

const SERVER_NAME = "logs.efk.test";
const ELASTIC_PASSWORD = "test-elastic-password";
/** Clusters known by their client certificate (the default). */
const STACK = {
  role: "central",
  clusterName: "hub",
  edgeClusters: ["edge-a", "edge-b"],
  fluentdExternalHosts: [SERVER_NAME],
  fluentdLoadBalancerSourceRanges: ["0.0.0.0/0"],
};

/** What a MessagePack str32 header may announce and an attacker may claim to send. */
const HUGE_STRING_BYTES = 700 * MiB;
/** The memory limit of the aggregator's pod (the `fluentdMemory` default), in bytes. */
const POD_MEMORY_BYTES = mebibytes(String(CONFIG_KEYS.fluentdMemory.default));

function mebibytes(quantity: string): number {
  const m = /^(\d+)Mi$/.exec(quantity);
  if (!m) throw new Error(`expected a quantity in Mi, got ${quantity}`);
  return Number(m[1]) * MiB;
}

// ---- what the legitimate cluster sends ----

interface LegitSent {
  run: string;
  sent: number;
  acked: number;
}

interface Outcome {
  idle: number;
  peak: number;
  up: boolean;
  legit: LegitSent & { delivered: number; duplicates: number; lost: number; ms: number };
}

function describeOutcome(o: Outcome): string {
  const l = o.legit;
  return (
    `idle ${mib(o.idle)}, peak ${mib(o.peak)} (${o.peak >= o.idle ? "+" : ""}${mib(o.peak - o.idle)}), up: ${o.up ? "yes" : "NO"}; ` +
    `edge-a: sent ${l.sent} in ${(l.ms / 1000).toFixed(1)} s, acknowledged ${l.acked}, delivered ${l.delivered}, lost ${l.lost}, duplicates ${l.duplicates}`
  );
}

/** A PackedForward message (`[tag, entries, {chunk, size}]`) of exactly `bytes` bytes. */
function packedForward(run: string, bytes: number): { message: Buffer; chunk: string; records: number } {
  const chunk = crypto.randomBytes(16).toString("base64");
  const line = "x".repeat(60_000);
  const build = (n: number, lastLine: number) => {
    const rs = records("edge-a", n, run, line);
    rs[n - 1] = records("edge-a", n, run, "y".repeat(lastLine))[n - 1];
    const c = encodeChunk(rs, Date.now());
    return Buffer.from(encode(["app", c.entries, { chunk, size: c.records }]));
  };
  let n = 1;
  while (build(n + 1, 30_000).length < bytes) n++;
  // The last record's line takes up the difference; its length header stays 3 bytes (str16).
  let lastLine = 30_000;
  let message = build(n, lastLine);
  for (let i = 0; i < 3 && message.length !== bytes; i++) {
    lastLine += bytes - message.length;
    message = build(n, lastLine);
  }
  if (message.length !== bytes) throw new Error(`built ${message.length} bytes, not ${bytes}`);
  return { message, chunk, records: n };
}

/**
 * A PackedForward message whose entries are gzip-compressed (`compressed: "gzip"`, as Fluent Bit's
 * `Compress gzip` sends): `mebibytes` MiB of records of one repeated character, a few hundred KB on the wire.
 */
async function gzipBomb(run: string, mebibytes: number): Promise<{ message: Buffer; inflated: number }> {
  const entries = encodeChunk(records("edge-a", 16, run, "a".repeat(65_000)), Date.now()).entries;
  const gzip = zlib.createGzip({ level: 9 });
  const parts: Buffer[] = [];
  gzip.on("data", (d: Buffer) => parts.push(d));
  const ended = new Promise((resolve) => gzip.on("end", resolve));
  let inflated = 0;
  while (inflated < mebibytes * MiB) {
    if (!gzip.write(entries)) await new Promise((resolve) => gzip.once("drain", resolve));
    inflated += entries.length;
  }
  gzip.end();
  await ended;
  const option = { chunk: run, size: (16 * inflated) / entries.length, compressed: "gzip" };
  return { message: Buffer.from(encode(["app", Buffer.concat(parts), option])), inflated };
}

describe("the aggregator's front door, tried as an attacker would", function () {
  this.timeout(120_000);

  let work: string;
  let pki: TestPki;
  let es: EsStandin;
  const certs: Record<string, CertPair> = {};

  before(async () => {
    assertBundleInstalled();
    work = fs.mkdtempSync(path.join(os.tmpdir(), "efk-front-door-"));
    pki = makeTestPki(path.join(work, "pki"));
    for (const c of ["hub", "edge-a", "edge-b"]) certs[c] = pki.client(c);
    const renderDir = renderStackFile(path.join(work, "stack"), "it", STACK);
    const allocator = allocatorEnv(renderDir);
    console.log(
      `      allocator: ${allocator.LD_PRELOAD ? `jemalloc as the pod (${allocator.LD_PRELOAD}, MALLOC_CONF ${allocator.MALLOC_CONF})` : "glibc (no libjemalloc here; the pod preloads it)"}`,
    );
    const esCert = pki.server("es", ["localhost"], ["127.0.0.1"]);
    es = new EsStandin({
      cert: esCert.cert,
      key: esCert.key,
      username: "elastic",
      password: ELASTIC_PASSWORD,
      users: {
        [FLUENTD_WRITER_USER]: {
          password: TEST_SECRETS.ES_WRITER_PASSWORD,
          createDocPrefix: renderedWriterPrefix(renderDir, FLUENTD_WRITER_ROLE),
        },
      },
    });
    await es.start();
    // What the index-setup Job runs before Fluentd starts: the data streams' template and policy.
    await runIndexSetupOk(renderDir, {
      port: es.listeningPort as number,
      caFile: pki.caCert,
      password: ELASTIC_PASSWORD,
    });
  });

  after(async () => {
    await stopAll();
    await es?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  function startAggregator(name: string, config: Record<string, unknown>): Promise<Aggregator> {
    const renderDir = renderStackFile(path.join(work, `stack-${name}`), "it", config);
    return startRenderedAggregator(renderDir, path.join(work, name), {
      pki,
      serverNames: [SERVER_NAME],
      esPort: es.listeningPort as number,
      env: { ...TEST_SECRETS, ...allocatorEnv(renderDir) },
      clients:
        config.clientCertAuth === false
          ? undefined
          : { hub: certs.hub.cert, "edge-a": certs["edge-a"].cert, "edge-b": certs["edge-b"].cert },
    });
  }

  async function scrape(agg: Aggregator): Promise<Sample[]> {
    return scrapeMetrics(agg.relocation.metricsPort, "/aggregated_metrics");
  }

  type Counter = "oversized" | "refusals";
  type Counters = (name: Counter, label: string) => number;

  /** The counters an attack moves: oversized messages by cluster, refusals by reason. */
  async function counters(agg: Aggregator): Promise<Counters> {
    const samples = await scrape(agg);
    return (name, label) =>
      name === "oversized"
        ? metricValue(samples, EFK_METRICS.oversizedMessages, { cluster: label })
        : metricValue(samples, EFK_METRICS.refusals, { reason: label });
  }

  /**
   * The counters once `name{label}` has grown by `by` since `before` (or after 10 s): refusals are counted
   * from Fluentd's own log, a moment after the refusal.
   */
  async function settled(
    agg: Aggregator,
    before: Counters,
    name: Counter,
    label: string,
    by = 1,
  ): Promise<Counters> {
    let now = await counters(agg);
    for (let i = 0; i < 50 && now(name, label) < before(name, label) + by; i++) {
      await sleep(200);
      now = await counters(agg);
    }
    return now;
  }

  /** The `bytes=` of each "Message over the size limit" warning Fluentd logged after `from`. */
  function oversizedReads(agg: Aggregator, from: number): number[] {
    return [
      ...agg.fluentd
        .log()
        .slice(from)
        .matchAll(/Message over the size limit .*?bytes=(\d+)/g),
    ].map((m) => Number(m[1]));
  }

  /**
   * Runs `attack` and `legit` at once while the aggregator's memory is sampled, then waits for what the
   * legitimate cluster had acknowledged to be stored (or 30 s).
   */
  async function underAttack<T>(
    agg: Aggregator,
    attack: (legitDone: () => boolean) => Promise<T>,
    legit: (attacking: Promise<T>) => Promise<LegitSent>,
  ): Promise<{ outcome: Outcome; attack: T }> {
    const pgid = agg.fluentd.pid;
    const idle = await idleRss(pgid);
    const sampler = rssSampler(pgid);
    let legitDone = false;
    const started = Date.now();
    const attacking = attack(() => legitDone);
    const sent = await legit(attacking).finally(() => (legitDone = true));
    const ms = Date.now() - started;
    const attackResult = await attacking;
    const peak = await sampler.stop();
    const up =
      agg.fluentd.running() &&
      (await scrape(agg).then(
        () => true,
        () => false,
      ));
    const deadline = Date.now() + 30_000;
    while (delivered(es, sent.run).distinct < sent.acked && Date.now() < deadline) await sleep(200);
    const d = delivered(es, sent.run);
    return {
      outcome: {
        idle,
        peak,
        up,
        legit: { ...sent, delivered: d.distinct, duplicates: d.duplicates, lost: sent.sent - d.distinct, ms },
      },
      attack: attackResult,
    };
  }

  /** edge-a sends `n` records, one message each, each acknowledged before the next. */
  function legitRecords(client: SenderOptions, run: string, n: number): () => Promise<LegitSent> {
    return async () => {
      const r = await sendRecords(client, records("edge-a", n, run), 60_000);
      return { run, sent: n, acked: r.acked };
    };
  }

  function assertServed(o: Outcome): void {
    assert.ok(o.up, "Fluentd went down");
    assert.equal(o.legit.acked, o.legit.sent, "edge-a's records were not all acknowledged");
    assert.equal(o.legit.delivered, o.legit.sent, "edge-a lost records");
    assert.equal(o.legit.duplicates, 0, "edge-a's records were stored more than once");
  }

  describe("clusters known by their client certificate (the default)", () => {
    let agg: Aggregator;
    before(async () => {
      agg = await startAggregator("certificate", STACK);
    });
    after(async () => {
      await agg?.fluentd.kill();
    });

    const client = (cert?: CertPair): TlsClient => ({
      port: agg.relocation.forwardPort,
      ca: pki.caCert,
      serverName: SERVER_NAME,
      cert,
    });
    const edgeA = (): SenderOptions => ({
      port: agg.relocation.forwardPort,
      ca: pki.caCert,
      serverName: SERVER_NAME,
      clientCert: certs["edge-a"],
    });

    it("refuses a client without a certificate in the TLS handshake, before it reads a byte of its 700 MB string", async () => {
      const before = await counters(agg);
      const logFrom = agg.fluentd.log().length;
      const hugeString = (v: tls.SecureVersion) =>
        attempt({ ...client(), maxVersion: v }, str32Header(HUGE_STRING_BYTES), STRING_FILLER);
      const { outcome, attack } = await underAttack(
        agg,
        // TLS 1.3 clients finish their side of the handshake before the server has checked their certificate.
        async () => ({ tls12: await hugeString("TLSv1.2"), tls13: await hugeString("TLSv1.3") }),
        legitRecords(edgeA(), "no-cert-700mb", 100),
      );
      const after = await settled(agg, before, "refusals", "client_certificate", 2);
      console.log(
        `      no certificate, 700 MB string: ${describeOutcome(outcome)}; attacker on TLS 1.2: ${describeAttempt(attack.tls12)}; on TLS 1.3: ${describeAttempt(attack.tls13)}`,
      );
      assertServed(outcome);
      assert.equal(attack.tls12.connected, false, "the TLS 1.2 handshake succeeded without a certificate");
      for (const a of [attack.tls12, attack.tls13]) {
        assert.ok(a.closedByServer !== false, `the connection stayed open: ${describeAttempt(a)}`);
        assert.ok(a.ms < 2000, `the connection lasted ${a.ms} ms`);
      }
      assert.ok(outcome.peak < 150 * MiB, `peak ${mib(outcome.peak)}`);
      assert.ok(outcome.peak - outcome.idle < 16 * MiB, `grew ${mib(outcome.peak - outcome.idle)}`);
      // Refused in the handshake: no forward byte was read, none counted against a limit.
      assert.deepEqual(oversizedReads(agg, logFrom), []);
      assert.equal(after("oversized", "unauthenticated"), before("oversized", "unauthenticated"));
      assert.equal(after("refusals", "client_certificate"), before("refusals", "client_certificate") + 2);
    });

    it("closes a registered cluster's connection once its 700 MB string passes the 8 MiB limit, counted under its name", async () => {
      const before = await counters(agg);
      const logFrom = agg.fluentd.log().length;
      const { outcome, attack } = await underAttack(
        agg,
        () => attempt(client(certs["edge-a"]), str32Header(HUGE_STRING_BYTES), STRING_FILLER),
        legitRecords(edgeA(), "edge-a-700mb", 100),
      );
      const after = await counters(agg);
      const reads = oversizedReads(agg, logFrom);
      console.log(
        `      edge-a certificate, 700 MB string: ${describeOutcome(outcome)}; attacker: ${describeAttempt(attack)}; Fluentd read ${reads.join(", ")} B before closing`,
      );
      assertServed(outcome);
      assert.ok(attack.closedByServer, `not closed by the server: ${describeAttempt(attack)}`);
      assert.equal(reads.length, 1);
      assert.ok(
        reads[0] > FORWARD_MESSAGE_LIMIT_BYTES && reads[0] <= FORWARD_MESSAGE_LIMIT_BYTES + 16 * 1024,
      );
      assert.ok(outcome.peak - outcome.idle < 64 * MiB, `grew ${mib(outcome.peak - outcome.idle)}`);
      assert.equal(after("oversized", "edge-a"), before("oversized", "edge-a") + 1);
    });

    it("refuses a PackedForward message 64 KiB over the limit (no ack, closed, counted) and stores one 512 KiB under it once", async () => {
      const before = await counters(agg);
      const logFrom = agg.fluentd.log().length;
      const over = packedForward("over-limit", FORWARD_MESSAGE_LIMIT_BYTES + 64 * 1024);
      const under = packedForward("under-limit", FORWARD_MESSAGE_LIMIT_BYTES - 512 * 1024);
      const sendOne = (m: { message: Buffer }) => sendMessage(client(certs["edge-a"]), m.message);
      const { outcome, attack } = await underAttack(
        agg,
        () => sendOne(over),
        // After the refused one: had its records been accepted, they would be in the same buffer chunk
        // as these, and stored with them.
        async (attacking) => {
          await attacking;
          const r = await sendOne(under);
          const acked = (r.answer as { ack?: string } | undefined)?.ack === under.chunk;
          return { run: "under-limit", sent: under.records, acked: acked ? under.records : 0 };
        },
      );
      const after = await counters(agg);
      const reads = oversizedReads(agg, logFrom);
      console.log(
        `      PackedForward ${over.message.length} B (${over.records} records): ${describeSent(attack)}, Fluentd read ${reads.join(", ")} B; ${under.message.length} B (${under.records} records): ${describeOutcome(outcome)}`,
      );
      assertServed(outcome);
      assert.ok(attack.closedByServer, `the oversized message: ${describeSent(attack)}`);
      assert.equal(reads.length, 1);
      assert.ok(
        reads[0] > FORWARD_MESSAGE_LIMIT_BYTES && reads[0] <= FORWARD_MESSAGE_LIMIT_BYTES + 16 * 1024,
      );
      assert.equal(delivered(es, "over-limit").distinct, 0);
      assert.equal(after("oversized", "edge-a"), before("oversized", "edge-a") + 1);
      assert.ok(outcome.peak - outcome.idle < 128 * MiB, `grew ${mib(outcome.peak - outcome.idle)}`);
    });

    it("refuses a gzip-compressed message, under 512 KiB that inflate to 128 MiB, before inflating it (counted)", async () => {
      const before = await counters(agg);
      const bomb = await gzipBomb("gzip-bomb", 128);
      const { outcome, attack } = await underAttack(
        agg,
        () => sendMessage(client(certs["edge-a"]), bomb.message),
        legitRecords(edgeA(), "beside-gzip-bomb", 100),
      );
      const after = await settled(agg, before, "refusals", "message_format");
      console.log(
        `      gzip bomb, ${bomb.message.length} B inflating to ${mib(bomb.inflated)}: ${describeOutcome(outcome)}; attacker: ${describeSent(attack)}`,
      );
      assertServed(outcome);
      assert.ok(bomb.message.length < 512 * 1024, `the bomb is ${bomb.message.length} B`);
      assert.ok(attack.closedByServer, `the compressed message: ${describeSent(attack)}`);
      assert.equal(delivered(es, "gzip-bomb").distinct, 0);
      assert.ok(outcome.peak - outcome.idle < 32 * MiB, `grew ${mib(outcome.peak - outcome.idle)}`);
      assert.equal(after("refusals", "message_format"), before("refusals", "message_format") + 1);
    });

    it("takes two messages on one connection when a read starts with '[' mid-stream (not mistaken for JSON)", async () => {
      const message = (run: string, line: string) => {
        const c = encodeChunk(records("edge-a", 1, run, line), Date.now());
        return Buffer.from(encode(["app", c.entries, { chunk: run, size: c.records }]));
      };
      const first = message("pipelined-1", "");
      const second = message("pipelined-2", " [INFO] a line as applications write them");
      const at = second.indexOf("[INFO]");
      const socket = await connectTls(client(certs["edge-a"]));
      socket.on("error", () => undefined);
      const answers = readMessages(socket, 2, 10_000).catch((e: Error) => e.message);
      // One read ends with the first message and the start of the second; the next begins with "[".
      socket.write(Buffer.concat([first, second.subarray(0, at)]));
      await sleep(300);
      socket.write(second.subarray(at));
      const got = await answers;
      socket.destroy();
      console.log(`      pipelined, second read starting with "[": ${JSON.stringify(got)}`);
      assert.deepEqual(got, [{ ack: "pipelined-1" }, { ack: "pipelined-2" }]);
    });

    it("stays under the pod's memory with 20 hostile connections, and loses or doubles none of edge-a's 2,000 records", async () => {
      const before = await counters(agg);
      const logFrom = agg.fluentd.log().length;
      const hostile = (kind: "garbage" | "string") => async (legitDone: () => boolean) => {
        const attempts: Attempt[] = [];
        const deadline = Date.now() + STREAM_CAP.ms;
        while (!legitDone() && Date.now() < deadline) {
          attempts.push(
            kind === "garbage"
              ? await attempt(client(), GARBAGE.subarray(0, 1), GARBAGE, { stop: legitDone })
              : await attempt(client(certs["edge-b"]), str32Header(HUGE_STRING_BYTES), STRING_FILLER, {
                  stop: legitDone,
                }),
          );
        }
        return attempts;
      };
      const { outcome, attack } = await underAttack(
        agg,
        async (legitDone) => {
          const all = await Promise.all([
            ...Array.from({ length: 10 }, () => hostile("garbage")(legitDone)),
            ...Array.from({ length: 10 }, () => hostile("string")(legitDone)),
          ]);
          return { garbage: all.slice(0, 10).flat(), strings: all.slice(10).flat() };
        },
        legitRecords(edgeA(), "beside-20-hostile", 2000),
      );
      const after = await counters(agg);
      const cut = attack.strings.filter((a) => a.closedByServer).length;
      const reads = oversizedReads(agg, logFrom);
      const mibWritten = (as: Attempt[]) => mib(as.reduce((sum, a) => sum + (a.written ?? 0), 0));
      console.log(
        `      20 hostile connections: ${describeOutcome(outcome)}; without a certificate: ${attack.garbage.length} connections, longest ${Math.max(...attack.garbage.map((a) => a.ms))} ms, ${mibWritten(attack.garbage)} written; edge-b 700 MB strings: ${attack.strings.length} connections, ${cut} closed by Fluentd after reading ${reads.length ? `${Math.min(...reads)}-${Math.max(...reads)} B` : "-"}, ${mibWritten(attack.strings)} written, counted ${after("oversized", "edge-b") - before("oversized", "edge-b")}`,
      );
      assertServed(outcome);
      assert.ok(outcome.peak < POD_MEMORY_BYTES, `peak ${mib(outcome.peak)}`);
      assert.ok(cut > 0, "no edge-b connection was closed by the aggregator");
      // The last ones may have been open a moment when edge-a was done, and closed by the client.
      const longest = Math.max(...attack.garbage.map((a) => a.ms));
      assert.ok(longest < 2000, `a connection without a certificate lasted ${longest} ms`);
      assert.ok(after("oversized", "edge-b") - before("oversized", "edge-b") >= cut);
    });

    it("holds a compromised edge's 50 connections to the worker's budget, under the pod's memory, and serves edge-a", async () => {
      // Each of these connections may hold up to 8 MiB; 50 of them, 400 MiB of messages, cost about 650 MiB
      // before the worker's budget (pending_limit) bounded them together.
      const before = await counters(agg);
      const { outcome, attack } = await underAttack(
        agg,
        async (legitDone) => {
          const loop = async () => {
            const attempts: Attempt[] = [];
            const deadline = Date.now() + STREAM_CAP.ms;
            while (!legitDone() && Date.now() < deadline) {
              attempts.push(
                await attempt(client(certs["edge-b"]), str32Header(HUGE_STRING_BYTES), STRING_FILLER, {
                  stop: legitDone,
                }),
              );
            }
            return attempts;
          };
          return (await Promise.all(Array.from({ length: 50 }, loop))).flat();
        },
        legitRecords(edgeA(), "beside-50-hostile", 2000),
      );
      const after = await settled(agg, before, "refusals", "memory_budget");
      const budget = after("refusals", "memory_budget") - before("refusals", "memory_budget");
      console.log(
        `      50 connections of edge-b's certificate: ${describeOutcome(outcome)}; ${attack.length} connections, ${attack.filter((a) => a.closedByServer).length} closed by Fluentd, ${budget} of them past the worker's budget`,
      );
      assertServed(outcome);
      assert.ok(outcome.peak < POD_MEMORY_BYTES, `peak ${mib(outcome.peak)}`);
      assert.ok(budget > 0, "the worker's budget never refused a connection: 50 were not enough to reach it");
    });

    it("offers only forward-secret AEAD suites on TLS 1.2, TLS 1.3, and nothing older", async () => {
      const ciphers = opensslCiphers();
      const { outcome, attack } = await underAttack(
        agg,
        () => scan(client(certs["edge-a"]), ciphers),
        legitRecords(edgeA(), "beside-tls-scan", 100),
      );
      const v = attack.versions;
      console.log(
        `      TLS scan: ${describeOutcome(outcome)}; of ${ciphers.length} ciphers (${attack.untried.length} this Node cannot offer) accepted: ${attack.accepted.join(", ")}; TLSv1 ${v.TLSv1.ok}, TLSv1.1 ${v["TLSv1.1"].ok}, TLSv1.2 ${v["TLSv1.2"].ok} (${v["TLSv1.2"].cipher}), TLSv1.3 ${v["TLSv1.3"].ok} (${v["TLSv1.3"].cipher})`,
      );
      assertServed(outcome);
      assert.deepEqual(weaknesses(attack), []);
      assert.ok(attack.accepted.length > 0, "no cipher accepted: the scan tried nothing");
      assert.ok(v["TLSv1.2"].ok && v["TLSv1.3"].ok, "TLS 1.2 or 1.3 refused");
    });
  });

  it("the TLS scan flags a server that accepts static-RSA CBC suites and TLS 1.0 (Node's defaults, TLS 1.0 allowed)", async () => {
    const pair = pki.server("weak", [SERVER_NAME]);
    const server = tls.createServer({
      cert: fs.readFileSync(pair.cert),
      key: fs.readFileSync(pair.key),
      ciphers: `${tls.DEFAULT_CIPHERS}:@SECLEVEL=0`,
      minVersion: "TLSv1",
    });
    // The client closes each connection once its handshake is done.
    const open = new Set<tls.TLSSocket>();
    server.on("secureConnection", (s: tls.TLSSocket) => {
      open.add(s);
      s.on("error", () => undefined).on("close", () => open.delete(s));
    });
    server.on("tlsClientError", () => undefined);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const port = (server.address() as { port: number }).port;
      const found = weaknesses(
        await scan(
          { port, ca: pki.caCert, serverName: SERVER_NAME, cert: certs["edge-a"] },
          opensslCiphers(),
        ),
      );
      console.log(
        `      a weak server: ${found.length} findings, among them ${found.filter((f) => /^AES128-SHA:|TLSv1 /.test(f)).join("; ")}`,
      );
      assert.ok(found.includes("AES128-SHA: no forward secrecy"));
      assert.ok(found.includes("AES128-SHA: not AEAD"));
      assert.ok(found.includes("TLSv1 accepted"));
    } finally {
      for (const s of open) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  describe("clusters known by their forward user (clientCertAuth: false)", () => {
    let agg: Aggregator;
    before(async () => {
      agg = await startAggregator("user", { ...STACK, clientCertAuth: false });
    });
    after(async () => {
      await agg?.fluentd.kill();
    });

    it("closes a connection that streams a 700 MB string instead of its PING once past 16 KiB, counted as unauthenticated", async () => {
      const before = await counters(agg);
      const logFrom = agg.fluentd.log().length;
      let helo: unknown;
      const { outcome, attack } = await underAttack(
        agg,
        () =>
          attempt(
            { port: agg.relocation.forwardPort, ca: pki.caCert, serverName: SERVER_NAME },
            str32Header(HUGE_STRING_BYTES),
            STRING_FILLER,
            {
              beforeStreaming: async (socket) => {
                helo = await readMessage(socket, 5000);
                if (!Array.isArray(helo) || helo[0] !== "HELO")
                  throw new Error(`expected HELO, got ${String(helo)}`);
              },
            },
          ),
        legitRecords(
          {
            port: agg.relocation.forwardPort,
            ca: pki.caCert,
            serverName: SERVER_NAME,
            sharedKey: TEST_SECRETS.FLUENT_SHARED_KEY,
            username: "edge-a",
            password: TEST_SECRETS.FLUENT_PASSWORD_EDGE_A,
          },
          "user-700mb",
          100,
        ),
      );
      const reads = oversizedReads(agg, logFrom);
      const after = await settled(agg, before, "refusals", "message_size");
      console.log(
        `      before the handshake, 700 MB string: ${describeOutcome(outcome)}; attacker: ${describeAttempt(attack)}; Fluentd read ${reads.join(", ")} B before closing`,
      );
      assertServed(outcome);
      assert.ok(Array.isArray(helo), `no HELO: ${attack.error ?? ""}`);
      assert.ok(attack.closedByServer, `not closed by the server: ${describeAttempt(attack)}`);
      assert.equal(reads.length, 1);
      assert.ok(
        reads[0] > FORWARD_HANDSHAKE_LIMIT_BYTES && reads[0] <= FORWARD_HANDSHAKE_LIMIT_BYTES + 16 * 1024,
      );
      assert.ok(outcome.peak - outcome.idle < 32 * MiB, `grew ${mib(outcome.peak - outcome.idle)}`);
      assert.ok(outcome.peak < POD_MEMORY_BYTES / 4, `peak ${mib(outcome.peak)}`);
      assert.equal(after("oversized", "unauthenticated"), before("oversized", "unauthenticated") + 1);
      assert.equal(after("refusals", "message_size"), before("refusals", "message_size") + 1);
    });
  });
});
