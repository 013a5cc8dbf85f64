/**
 * Proves the integration-test scaffolding end to end with a hand-written minimal configuration:
 *
 *   test --HTTP POST--> sender Fluentd (in_http -> out_forward, TLS + shared key + user auth, ack)
 *        --> aggregator Fluentd (in_forward <transport tls> + <security>)
 *        --> elasticsearch_data_stream over HTTPS (CA-verified, basic auth) --> EsStandin
 *
 * The sender is a second real Fluentd (out_forward), fed through in_http, so the forward handshake and
 * TLS verification are Fluentd's own on both ends.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { makeTestPki, type TestPki } from "./support/certs";
import { EsStandin } from "./support/esStandin";
import {
  assertBundleInstalled,
  fluentdDryRun,
  freePort,
  startFluentd,
  stopAll,
  waitFor,
  type FluentdProcess,
} from "./support/fluentd";

const ES_USER = "fluentd-writer";
const ES_PASSWORD = "es-secret-1";
const SHARED_KEY = "shared-key-1";
const EDGE_USER = "edge-a";
const EDGE_PASSWORD = "edge-a-password";
const FORWARD_NAME = "fluentd.efk.test"; // the only SAN of the forward server's certificate
const N = 5;

function postJson(port: number, tag: string, records: unknown[]): Promise<number> {
  const body = JSON.stringify(records);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        path: `/${tag}`,
        method: "POST",
        headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function processAlive(pid: number): boolean {
  try {
    return execFileSync("ps", ["-o", "args=", "-p", String(pid)], { encoding: "utf8" }).trim() !== "";
  } catch {
    return false; // ps exits 1 when there is no such process
  }
}

describe("integration scaffolding smoke test (real Fluentd, ES stand-in)", function () {
  this.timeout(60_000);

  let tmp: string;
  let pki: TestPki;
  let es: EsStandin;
  let aggregatorConf: string;
  let aggregator: FluentdProcess;
  let forwardPort: number;
  const started = new Map<string, FluentdProcess>();
  const env = {
    FLUENTD_SHARED_KEY: SHARED_KEY,
    EDGE_A_PASSWORD: EDGE_PASSWORD,
    ES_PASSWORD,
  };

  function senderConf(
    name: string,
    opts: { httpPort: number; forwardPort: number; sharedKey: string },
  ): string {
    const file = path.join(tmp, `${name}.conf`);
    fs.writeFileSync(
      file,
      `<source>
  @type http
  bind 127.0.0.1
  port ${opts.httpPort}
</source>
<match **>
  @type forward
  transport tls
  tls_cert_path ${pki.caCert}
  tls_verify_hostname true
  require_ack_response true
  <security>
    self_hostname ${name}.client
    shared_key ${opts.sharedKey}
  </security>
  <server>
    host 127.0.0.1
    name ${FORWARD_NAME}
    port ${opts.forwardPort}
    username ${EDGE_USER}
    password ${EDGE_PASSWORD}
  </server>
  <buffer>
    flush_interval 1s
    retry_wait 1s
  </buffer>
</match>
# Keep this Fluentd's own log events (tag fluent.*) out of the forward above.
<label @FLUENT_LOG>
  <match **>
    @type null
  </match>
</label>
`,
    );
    return file;
  }

  before(async function () {
    assertBundleInstalled();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "efk-smoke-"));
    pki = makeTestPki(path.join(tmp, "pki"));
    const esCert = pki.server("es-standin", ["es.efk.test"], ["127.0.0.1"]);
    const forwardCert = pki.server("fluentd-aggregator", [FORWARD_NAME]);

    es = new EsStandin({ ...esCert, username: ES_USER, password: ES_PASSWORD });
    const esPort = await es.start();
    forwardPort = await freePort();
    aggregatorConf = path.join(tmp, "aggregator.conf");
    fs.writeFileSync(
      aggregatorConf,
      `<source>
  @type forward
  bind 127.0.0.1
  port ${forwardPort}
  <transport tls>
    cert_path ${forwardCert.cert}
    private_key_path ${forwardCert.key}
  </transport>
  <security>
    self_hostname ${FORWARD_NAME}
    shared_key "#{ENV['FLUENTD_SHARED_KEY']}"
    user_auth true
    <user>
      username ${EDGE_USER}
      password "#{ENV['EDGE_A_PASSWORD']}"
    </user>
  </security>
</source>
<match **>
  @type elasticsearch_data_stream
  host 127.0.0.1
  port ${esPort}
  scheme https
  ssl_verify true
  ca_file ${pki.caCert}
  user ${ES_USER}
  password "#{ENV['ES_PASSWORD']}"
  data_stream_name efk-logs-\${cluster}
  reload_connections false
  verify_es_version_at_startup true
  <buffer tag, cluster>
    @type file
    path ${path.join(tmp, "buffer", "es")}
    flush_interval 1s
    retry_wait 1s
  </buffer>
</match>
# Fluentd's own log events (tag fluent.*) would otherwise match ** above and, lacking a cluster field,
# land in a data stream named "efk-logs-".
<label @FLUENT_LOG>
  <match **>
    @type null
  </match>
</label>
`,
    );
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed" || process.env.SMOKE_DEBUG) {
      for (const [name, f] of started) console.log(`---- ${name} (pid ${f.pid}) log:\n${f.log()}`);
      for (const name of es.streams()) console.log(`---- docs of ${name}:`, es.docs(name));
      console.log(`---- ES stand-in requests:\n${es.requests.map((r) => JSON.stringify(r)).join("\n")}`);
    }
  });

  after(async function () {
    await stopAll();
    await es?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("dry-runs the aggregator config (and fails a broken one)", function () {
    const ok = fluentdDryRun(aggregatorConf, env);
    assert.equal(ok.code, 0, ok.output);
    assert.match(ok.output, /finished dry run mode/);

    const broken = path.join(tmp, "broken.conf");
    fs.writeFileSync(
      broken,
      fs.readFileSync(aggregatorConf, "utf8").replace(/cert_path \S+/, "cert_path /nonexistent/server.crt"),
    );
    const bad = fluentdDryRun(broken, env);
    assert.equal(bad.code, 1, bad.output);
    assert.match(bad.output, /No such file or directory/);
  });

  it("delivers records over forward/TLS with shared key + user auth into the per-cluster data stream", async function () {
    aggregator = await startFluentd(aggregatorConf, { env });
    started.set("aggregator", aggregator);
    const [goodHttp, badHttp] = [await freePort(), await freePort()];
    const [good, bad] = await Promise.all([
      startFluentd(senderConf("edge-a", { httpPort: goodHttp, forwardPort, sharedKey: SHARED_KEY })),
      startFluentd(senderConf("edge-bad", { httpPort: badHttp, forwardPort, sharedKey: "wrong-key" })),
    ]);

    started.set("edge-a sender", good);
    started.set("edge-bad sender", bad);

    // The spawned PID is Fluentd itself (no `bundle` wrapper process), without a supervisor.
    const args = execFileSync("ps", ["-o", "args=", "-p", String(aggregator.pid)], { encoding: "utf8" });
    assert.match(args, /fluentd .*--no-supervisor/);

    const records = (cluster: string) =>
      Array.from({ length: N }, (_, i) => ({ message: `hello ${i}`, seq: i, cluster }));
    assert.equal(await postJson(goodHttp, "kube.app", records("edge-a")), 200);
    assert.equal(await postJson(badHttp, "kube.app", records("edge-bad")), 200);

    await waitFor(() => es.docs("efk-logs-edge-a").length >= N, 20_000, `${N} docs in efk-logs-edge-a`);
    const docs = es.docs("efk-logs-edge-a");
    assert.equal(docs.length, N);
    assert.deepEqual(
      docs.map((d) => d.seq),
      Array.from({ length: N }, (_, i) => i),
    );
    for (const d of docs) {
      assert.equal(d.cluster, "edge-a");
      assert.equal(typeof d["@timestamp"], "string");
    }
    // The plugin set the stream up first: ILM policy, index template, data stream.
    assert.ok(es.ilmPolicies.has("efk-logs-edge-a_policy"), [...es.ilmPolicies.keys()].join(","));
    assert.ok(es.indexTemplates.has("efk-logs-edge-a_template"), [...es.indexTemplates.keys()].join(","));
    assert.ok(es.dataStreams.has("efk-logs-edge-a"));
    assert.deepEqual(es.authFailures, []);

    // The wrong shared key is refused at the handshake and delivers nothing.
    await waitFor(
      () => /Shared key mismatch address="127.0.0.1" hostname="edge-bad.client"/.test(aggregator.log()),
      10_000,
      "the aggregator to refuse edge-bad's shared key",
    );
    assert.deepEqual(es.docs("efk-logs-edge-bad"), []);
    assert.deepEqual(es.streams(), ["efk-logs-edge-a"]);

    // SIGKILL ends the Fluentd process itself (the one that holds the buffer).
    assert.equal(await bad.kill("SIGKILL"), null);
    assert.equal(processAlive(bad.pid), false);
    // A graceful stop exits 0.
    assert.equal(await good.kill("SIGTERM"), 0);
  });

  it("stopAll() leaves no Fluentd behind", async function () {
    const pid = aggregator.pid;
    assert.ok(processAlive(pid));
    await stopAll();
    assert.equal(processAlive(pid), false);
    assert.equal(aggregator.running(), false);
  });
});
