/**
 * Snapshots, as rendered: the index-setup script (the Job's real shell file, run with `sh`) against the
 * Elasticsearch stand-in over HTTPS, whose nodes' keystore is filled from a test Secret exactly as the
 * chart's keystore init container fills it from the rendered `keystore` value. The script registers and
 * verifies the repository, installs the SLM policy and takes a first snapshot; a second run changes
 * nothing; a wrong credential stops it loudly, with Elasticsearch's reason, before any policy exists, and
 * keeps stopping it on the Job's next attempt; a stack without snapshots removes the policy.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { SETUP_FILES } from "../../lib/render/esSetup";
import { SLM_POLICY, SNAPSHOT_REPOSITORY } from "../../lib/snapshots";
import { makeTestPki, type TestPki } from "./support/certs";
import { indexSetupDir, runIndexSetup } from "./support/esSetup";
import type { SnapshotStore } from "./support/esSnapshots";
import { EsStandin } from "./support/esStandin";
import { renderStackFile } from "./support/rendered";

const ELASTIC_PASSWORD = "elastic-test-password";
const SECRET_NAME = "efk-snapshot-credentials";
const SECRET_KEY = "s3-secret-value-not-to-be-printed";
/** The operator's Secret, as `kubectl create secret generic` would hold it. */
const GOOD_SECRET = { "access-key": "AKIAEFKTEST", "secret-key": SECRET_KEY };
const STORE: SnapshotStore = {
  type: "s3",
  buckets: ["efk-backups"],
  accepts: { access_key: "AKIAEFKTEST", secret_key: SECRET_KEY },
};
const BASE = {
  role: "central",
  clusterName: "hub",
  fluentdServiceType: "None",
  esReplicas: 1,
};
const SNAPSHOTS = {
  ...BASE,
  snapshotType: "s3",
  snapshotBucket: "efk-backups",
  snapshotBasePath: "efk/hub",
  snapshotCredentialsSecret: SECRET_NAME,
  snapshotS3Endpoint: "https://minio.example.com:9000",
};

/**
 * The keystore the chart's init container makes (elasticsearch 8.5.1 templates/statefulset.yaml): each
 * `keystore` entry mounts its Secret (only `items`, at their `path`, when given: a Kubernetes Secret
 * volume), and every file becomes the entry named by its file name (`key=$(basename $i)`).
 */
function keystoreOf(
  renderDir: string,
  secrets: Record<string, Record<string, string>>,
): Record<string, string> {
  const values = parse(fs.readFileSync(path.join(renderDir, "values", "elasticsearch.yaml"), "utf8")) as {
    keystore?: { secretName: string; items?: { key: string; path: string }[] }[];
  };
  const out: Record<string, string> = {};
  for (const entry of values.keystore ?? []) {
    const secret = secrets[entry.secretName];
    if (!secret) throw new Error(`the pod would not start: no Secret ${entry.secretName}`);
    for (const { key, path: file } of entry.items ?? Object.keys(secret).map((k) => ({ key: k, path: k }))) {
      if (!(key in secret))
        throw new Error(`the pod would not start: Secret ${entry.secretName} has no key ${key}`);
      out[path.basename(file)] = secret[key];
    }
  }
  return out;
}

describe("snapshots: the index-setup script against the stand-in", function () {
  this.timeout(120_000);
  let work: string;
  let pki: TestPki;
  let snapshotsRender: string;
  let plainRender: string;
  const standins: EsStandin[] = [];

  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "efk-snapshots-"));
    pki = makeTestPki(path.join(work, "pki"));
    snapshotsRender = renderStackFile(path.join(work, "snap"), "central", SNAPSHOTS);
    plainRender = renderStackFile(path.join(work, "plain"), "central", BASE);
  });
  after(async () => {
    for (const es of standins) await es.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  async function standin(secret: Record<string, string>): Promise<EsStandin> {
    const cert = pki.server("es", ["localhost"], ["127.0.0.1"]);
    const es = new EsStandin({
      cert: cert.cert,
      key: cert.key,
      username: "elastic",
      password: ELASTIC_PASSWORD,
      snapshotStore: STORE,
      keystore: keystoreOf(snapshotsRender, { [SECRET_NAME]: secret }),
    });
    await es.start();
    standins.push(es);
    return es;
  }

  const run = (render: string, es: EsStandin) =>
    runIndexSetup(render, {
      port: es.listeningPort as number,
      caFile: pki.caCert,
      password: ELASTIC_PASSWORD,
    });

  function request(es: EsStandin, method: string, p: string): Promise<{ status: number; body: unknown }> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: "127.0.0.1",
          port: es.listeningPort,
          path: p,
          method,
          ca: fs.readFileSync(pki.caCert),
          servername: "localhost",
          auth: `elastic:${ELASTIC_PASSWORD}`,
        },
        (res) => {
          let text = "";
          res.on("data", (c: Buffer) => (text += c.toString("utf8")));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }),
          );
        },
      );
      req.on("error", reject);
      req.end();
    });
  }

  const rendered = (file: string): unknown =>
    JSON.parse(fs.readFileSync(path.join(indexSetupDir(snapshotsRender), file), "utf8")) as unknown;

  it("maps the operator's Secret to the keystore settings of the repository's client", () => {
    assert.deepEqual(keystoreOf(snapshotsRender, { [SECRET_NAME]: GOOD_SECRET }), {
      "s3.client.efk.access_key": "AKIAEFKTEST",
      "s3.client.efk.secret_key": SECRET_KEY,
    });
    assert.throws(
      () => keystoreOf(snapshotsRender, { [SECRET_NAME]: { access_key: "x" } }),
      /has no key access-key/,
    );
  });

  it("registers the repository, installs the policy and takes a first snapshot of our data streams; a second run changes nothing", async () => {
    const es = await standin(GOOD_SECRET);
    // Streams that exist before the first snapshot: ours, and one the policy's indices do not cover.
    for (const stream of ["efk-logs-hub", "other-logs"]) {
      es.dataStreams.set(stream, {
        backingIndex: `.ds-${stream}-000001`,
        uuid: stream,
        generation: 1,
        indices: [
          { name: `.ds-${stream}-000001`, uuid: stream, generation: 1, shards: 1, createdAt: new Date() },
        ],
      });
    }

    const first = await run(snapshotsRender, es);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.match(first.stdout, new RegExp(`PUT /_snapshot/${SNAPSHOT_REPOSITORY}: HTTP 200`));
    assert.match(first.stdout, new RegExp(`POST /_snapshot/${SNAPSHOT_REPOSITORY}/_verify: HTTP 200`));
    assert.match(first.stdout, new RegExp(`PUT /_slm/policy/${SLM_POLICY}: HTTP 200`));
    assert.match(first.stdout, new RegExp(`POST /_slm/policy/${SLM_POLICY}/_execute: HTTP 200`));

    const repo = await request(es, "GET", `/_snapshot/${SNAPSHOT_REPOSITORY}`);
    assert.equal(repo.status, 200);
    assert.deepEqual(repo.body, { [SNAPSHOT_REPOSITORY]: rendered(SETUP_FILES.repository) });
    const policy = (await request(es, "GET", `/_slm/policy/${SLM_POLICY}`)).body as Record<
      string,
      { version: number; policy: unknown; last_success?: { snapshot_name: string } }
    >;
    assert.deepEqual(policy[SLM_POLICY].policy, rendered(SETUP_FILES.slmPolicy));
    const all = (await request(es, "GET", `/_snapshot/${SNAPSHOT_REPOSITORY}/_all`)).body as {
      snapshots: {
        snapshot: string;
        state: string;
        data_streams: string[];
        include_global_state: boolean;
        feature_states: { feature_name: string }[];
      }[];
    };
    assert.equal(all.snapshots.length, 1);
    const [snap] = all.snapshots;
    assert.equal(snap.state, "SUCCESS");
    assert.match(snap.snapshot, /^efk-snap-\d{4}\.\d{2}\.\d{2}-[a-z0-9_-]+$/);
    assert.equal(policy[SLM_POLICY].last_success?.snapshot_name, snap.snapshot);
    assert.deepEqual(snap.data_streams, ["efk-logs-hub"]);
    assert.equal(snap.include_global_state, true);
    assert.deepEqual(snap.feature_states.map((f) => f.feature_name).sort(), ["kibana", "security"]);

    const verifications = es.snapshotApi.verifications.length;
    const second = await run(snapshotsRender, es);
    assert.equal(second.code, 0, second.stdout + second.stderr);
    assert.deepEqual((await request(es, "GET", `/_snapshot/${SNAPSHOT_REPOSITORY}`)).body, repo.body);
    const again = (await request(es, "GET", `/_slm/policy/${SLM_POLICY}`)).body as typeof policy;
    assert.deepEqual(again[SLM_POLICY].policy, policy[SLM_POLICY].policy);
    // No second snapshot (the policy has succeeded), and the repository verified again, by _verify.
    assert.equal(
      ((await request(es, "GET", `/_snapshot/${SNAPSHOT_REPOSITORY}/_all`)).body as { total: number }).total,
      1,
    );
    assert.doesNotMatch(second.stdout, /_execute/);
    assert.deepEqual(es.snapshotApi.verifications.slice(verifications), [
      { repository: SNAPSHOT_REPOSITORY, ok: true },
    ]);
    // What the exporter's SLM collector reads.
    const stats = (await request(es, "GET", "/_slm/stats")).body as {
      policy_stats: { policy: string; snapshots_taken: number }[];
    };
    assert.deepEqual(
      stats.policy_stats.map((p) => [p.policy, p.snapshots_taken]),
      [[SLM_POLICY, 1]],
    );
  });

  it("fails loudly on a wrong credential, with Elasticsearch's reason, and installs no policy, on the Job's retry too", async () => {
    const es = await standin({ ...GOOD_SECRET, "secret-key": "a-wrong-secret" });
    for (const attempt of [1, 2]) {
      const r = await run(snapshotsRender, es);
      assert.notEqual(r.code, 0, `attempt ${attempt} passed:\n${r.stdout}`);
      assert.match(r.stderr, /es-setup: (PUT|POST) \/_snapshot\/efk-snapshots(\/_verify)? failed: HTTP 500/);
      assert.match(r.stderr, /repository_verification_exception/);
      assert.match(r.stderr, /is not accessible on master node/);
      assert.match(r.stderr, /InvalidAccessKeyId/);
      assert.doesNotMatch(r.stdout + r.stderr, new RegExp(`${SECRET_KEY}|a-wrong-secret`));
      assert.doesNotMatch(r.stdout, /_slm\/policy/);
      assert.equal(es.snapshotApi.policies.size, 0);
    }
    // The first attempt's PUT registered the repository (as Elasticsearch does) and verification failed; the
    // retry's PUT changed nothing, so only _verify caught it.
    assert.deepEqual(
      es.snapshotApi.verifications.map((v) => v.ok),
      [false, false],
    );
  });

  it("removes the policy when the stack no longer configures snapshots", async () => {
    const es = await standin(GOOD_SECRET);
    assert.equal((await run(snapshotsRender, es)).code, 0);
    assert.equal(es.snapshotApi.policies.size, 1);
    const off = await run(plainRender, es);
    assert.equal(off.code, 0, off.stdout + off.stderr);
    assert.match(off.stdout, new RegExp(`DELETE /_slm/policy/${SLM_POLICY}: HTTP 200`));
    assert.equal((await request(es, "GET", `/_slm/policy/${SLM_POLICY}`)).status, 404);
    // And again, with nothing to remove: a 404 is the state it wants.
    assert.equal((await run(plainRender, es)).code, 0);
    assert.ok(!fs.existsSync(path.join(indexSetupDir(plainRender), SETUP_FILES.repository)));
  });
});
