/**
 * The Kibana setup Job's files, as `npm run render` writes them, run by Node.js against a Kibana stand-in
 * (a real HTTPS server with Kibana's rules, see support/kibanaStandin.ts) that grants the setup user what
 * the rendered Elasticsearch role grants it: a fresh Kibana, a rerun, a new cluster, a user's own choices,
 * wrong credentials, a Kibana still starting, and a certificate our CA did not sign.
 */
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { KIBANA_SETUP_ROLE, KIBANA_SETUP_USER } from "../../lib/values/elasticsearch";
import { makeTestPki, type TestPki } from "./support/certs";
import { KibanaStandin } from "./support/kibanaStandin";
import { renderStackFile, renderedKibanaPrivileges } from "./support/rendered";

const PASSWORD = "test-kibana-setup-password";
const STACK = {
  role: "central",
  clusterName: "hub",
  edgeClusters: ["edge-a", "edge-b"],
  fluentdExternalHosts: ["logs.efk.test"],
  fluentdLoadBalancerSourceRanges: ["0.0.0.0/0"],
  // A view per cluster's stream: what most of these tests manage (the shared layout's objects have their own test).
  indexLayout: "per-cluster",
};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

describe("Kibana setup Job (rendered script, Kibana stand-in)", function () {
  this.timeout(60000);
  let dir: string;
  let pki: TestPki;
  let render: string;
  let privileges: string[];

  before(function () {
    this.timeout(120000);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "efk-kibana-"));
    pki = makeTestPki(path.join(dir, "pki"));
    render = renderStackFile(path.join(dir, "stack"), "central", STACK);
    privileges = renderedKibanaPrivileges(render, KIBANA_SETUP_ROLE);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const standins: KibanaStandin[] = [];
  afterEach(async () => {
    await Promise.all(standins.splice(0).map((s) => s.stop()));
  });

  async function kibana(grants = privileges, tlsPki = pki): Promise<{ kibana: KibanaStandin; url: string }> {
    const s = new KibanaStandin(tlsPki.server("kibana", ["localhost"]), {
      [KIBANA_SETUP_USER]: { password: PASSWORD, privileges: grants },
    });
    standins.push(s);
    const port = await s.start();
    return { kibana: s, url: `https://localhost:${port}` };
  }

  /** Runs the rendered script as the Job does: its ConfigMap's files, the CA, the user and password. */
  function runSetup(
    url: string,
    opts: { renderDir?: string; password?: string; env?: object } = {},
  ): Promise<Run> {
    const setupDir = path.join(opts.renderDir ?? render, "configmaps", "efk-kibana-setup");
    const started = Date.now();
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [path.join(setupDir, "setup.js")],
        {
          env: {
            PATH: process.env.PATH,
            KIBANA_URL: url,
            CA_FILE: pki.caCert,
            SETUP_DIR: setupDir,
            SETUP_USER: KIBANA_SETUP_USER,
            SETUP_PASSWORD: opts.password ?? PASSWORD,
            WAIT_SECONDS: "30",
            POLL_SECONDS: "1",
            ...opts.env,
          },
          timeout: 50000,
        },
        (err, stdout, stderr) => {
          const code = err ? ((err as { code?: number }).code ?? -1) : 0;
          resolve({ code: typeof code === "number" ? code : -1, stdout, stderr, ms: Date.now() - started });
        },
      );
    });
  }

  function snapshot(s: KibanaStandin): unknown {
    return { objects: [...s.objects.entries()].sort(), default: s.defaultDataView };
  }

  it("grants the setup user Kibana privileges only: data views, saved searches, the default view", () => {
    assert.deepEqual([...privileges].sort(), [
      "feature_advancedSettings.all",
      "feature_discover.all",
      "feature_indexPatterns.all",
    ]);
  });

  it("creates one view per registered cluster, one for all (the default), one for the unregistered stream, and the saved search", async () => {
    const { kibana: k, url } = await kibana();
    const run = await runSetup(url);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(
      k
        .dataViews()
        .map((v) => [v.id, v.attributes.title, v.attributes.timeFieldName])
        .sort(),
      [
        ["efk-view-all-clusters", "efk-logs-*", "@timestamp"],
        ["efk-view-cluster-edge-a", "efk-logs-edge-a", "@timestamp"],
        ["efk-view-cluster-edge-b", "efk-logs-edge-b", "@timestamp"],
        ["efk-view-cluster-hub", "efk-logs-hub", "@timestamp"],
        ["efk-view-cluster-unregistered", "efk-logs-unregistered", "@timestamp"],
      ],
    );
    assert.equal(k.defaultDataView, "efk-view-all-clusters");
    const search = k.objects.get("search/efk-search-logs-by-cluster");
    assert.ok(search, "no saved search");
    assert.equal(search.attributes.title, "Logs by cluster");
    assert.deepEqual(search.attributes.columns, [
      "cluster",
      "kubernetes.namespace_name",
      "kubernetes.pod_name",
      "kubernetes.container_name",
      "log",
    ]);
    // What Discover needs to open it: the source's indexRefName names a reference to a view that exists.
    const source = JSON.parse(
      (search.attributes.kibanaSavedObjectMeta as { searchSourceJSON: string }).searchSourceJSON,
    ) as { indexRefName: string };
    const ref = search.references.find((r) => r.name === source.indexRefName);
    assert.ok(ref && k.objects.has(`index-pattern/${ref.id}`), "the saved search's data view does not exist");
    assert.match(run.stdout, /data views: 5 created, 0 updated, 0 unchanged, 0 made by hand/);
  });

  it("with the default shared layout: a view of the shared stream, and a search per cluster that finds its logs there", async () => {
    const shared = renderStackFile(path.join(dir, "shared"), "central", { ...STACK, indexLayout: "shared" });
    const { kibana: k, url } = await kibana();
    const run = await runSetup(url, { renderDir: shared });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(
      k
        .dataViews()
        .map((v) => v.attributes.title)
        .sort(),
      ["efk-logs-*", "efk-logs-shared"],
    );
    for (const cluster of ["hub", "edge-a", "edge-b"]) {
      const search = k.objects.get(`search/efk-search-cluster-${cluster}`);
      assert.ok(search, `no saved search for ${cluster}`);
      assert.equal(search.attributes.title, `Logs of ${cluster}`);
      const source = JSON.parse(
        (search.attributes.kibanaSavedObjectMeta as { searchSourceJSON: string }).searchSourceJSON,
      ) as { indexRefName: string; query: { query: string; language: string } };
      assert.deepEqual(source.query, { query: `cluster:"${cluster}"`, language: "kuery" });
      const ref = search.references.find((r) => r.name === source.indexRefName);
      assert.ok(ref && k.objects.has(`index-pattern/${ref.id}`), "the search's data view does not exist");
    }
  });

  it("changes nothing when run again: no write, no duplicate", async () => {
    const { kibana: k, url } = await kibana();
    assert.equal((await runSetup(url)).code, 0);
    const before = snapshot(k);
    const writesBefore = k.writes().length;
    const again = await runSetup(url);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(snapshot(k), before);
    assert.deepEqual(k.writes().slice(writesBefore), []);
    assert.match(again.stdout, /data views: 0 created, 0 updated, 5 unchanged, 0 made by hand/);
  });

  it("adds a new cluster's view on the next run, and keeps what users changed: the default, the saved search", async () => {
    const { kibana: k, url } = await kibana();
    assert.equal((await runSetup(url)).code, 0);
    k.defaultDataView = "efk-view-cluster-hub";
    const search = k.objects.get("search/efk-search-logs-by-cluster");
    assert.ok(search);
    search.attributes.columns = ["log"];
    const grown = renderStackFile(path.join(dir, "grown"), "central", {
      ...STACK,
      edgeClusters: [...STACK.edgeClusters, "edge-c"],
    });
    const run = await runSetup(url, { renderDir: grown });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(k.objects.get("index-pattern/efk-view-cluster-edge-c")?.attributes.title, "efk-logs-edge-c");
    assert.equal(k.dataViews().length, 6);
    assert.match(run.stdout, /data views: 1 created, 0 updated, 5 unchanged, 0 made by hand/);
    assert.equal(k.defaultDataView, "efk-view-cluster-hub");
    assert.deepEqual(search.attributes.columns, ["log"]);
  });

  it("keeps a removed cluster's view: a rerun never deletes", async () => {
    const { kibana: k, url } = await kibana();
    assert.equal((await runSetup(url)).code, 0);
    const shrunk = renderStackFile(path.join(dir, "shrunk"), "central", {
      ...STACK,
      edgeClusters: ["edge-a"],
    });
    const run = await runSetup(url, { renderDir: shrunk });
    assert.equal(run.code, 0, run.stderr);
    assert.ok(k.objects.has("index-pattern/efk-view-cluster-edge-b"));
    assert.equal(k.requests.filter((r) => r.method === "DELETE").length, 0);
  });

  it("puts back a view's pattern someone changed, and keeps a name someone gave another", async () => {
    const { kibana: k, url } = await kibana();
    assert.equal((await runSetup(url)).code, 0);
    const changed = k.objects.get("index-pattern/efk-view-cluster-edge-a");
    const renamed = k.objects.get("index-pattern/efk-view-cluster-edge-b");
    assert.ok(changed && renamed);
    changed.attributes.title = "something-else-*";
    renamed.attributes.name = "Edge B";
    const run = await runSetup(url);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(changed.attributes.title, "efk-logs-edge-a");
    assert.equal(renamed.attributes.name, "Edge B");
    assert.match(run.stdout, /data views: 0 created, 1 updated, 4 unchanged, 0 made by hand/);
  });

  it("fails at once on a wrong password, naming the user, its Secret and its role, and creates nothing", async () => {
    const { kibana: k, url } = await kibana();
    const run = await runSetup(url, { password: "not-the-password" });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /Kibana refused efk-kibana-setup \(HTTP 401\)/);
    assert.match(run.stderr, /Secret kibana-setup-credentials/);
    assert.match(run.stderr, /role efk_kibana_setup/);
    assert.ok(run.ms < 10000, `took ${run.ms} ms: it must not wait for a refusal to heal`);
    assert.equal(k.objects.size, 0);
  });

  it("fails with the role named when it lacks a privilege (here the saved search's)", async () => {
    const { url } = await kibana(privileges.filter((p) => p !== "feature_discover.all"));
    const run = await runSetup(url);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /Kibana refused efk-kibana-setup \(HTTP 403\) on GET \/api\/saved_objects\/search\//,
    );
  });

  it("waits for a Kibana that is still starting, then succeeds", async () => {
    const { kibana: k, url } = await kibana();
    k.readyAt = Date.now() + 3000;
    const run = await runSetup(url);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /waiting for Kibana: HTTP 503/);
    assert.ok(run.ms >= 3000);
    assert.ok(k.requests.filter((r) => r.path === "/api/status" && r.status === 503).length >= 2);
    assert.equal(k.dataViews().length, 5);
  });

  it("gives up on a Kibana that never gets ready, saying so", async () => {
    const { kibana: k, url } = await kibana();
    k.readyAt = Date.now() + 60000;
    const run = await runSetup(url, { env: { WAIT_SECONDS: "2" } });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /was not ready within 2 s \(last: HTTP 503\)/);
  });

  it("refuses a Kibana whose certificate our CA did not sign, without sending the password", async () => {
    const other = makeTestPki(path.join(dir, "other-pki"));
    const { kibana: k, url } = await kibana(privileges, other);
    const run = await runSetup(url);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /certificate failed verification/);
    assert.equal(k.requests.length, 0);
  });

  it("uses a view of the same pattern made by hand (before this Job existed) instead of making a second one", async () => {
    const { kibana: k, url } = await kibana();
    k.objects.set("index-pattern/made-by-hand", {
      type: "index-pattern",
      id: "made-by-hand",
      attributes: { title: "efk-logs-*", name: "efk-logs-*", timeFieldName: "@timestamp" },
      references: [],
    });
    const run = await runSetup(url);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(k.dataViews().filter((v) => v.attributes.title === "efk-logs-*").length, 1);
    assert.equal(k.dataViews().length, 5);
    assert.equal(k.defaultDataView, "made-by-hand");
    const search = k.objects.get("search/efk-search-logs-by-cluster");
    assert.deepEqual(
      search?.references.map((r) => r.id),
      ["made-by-hand"],
    );
    assert.match(run.stdout, /data views: 4 created, 0 updated, 0 unchanged, 1 made by hand/);
  });

  it("explains a view of our name but another pattern, instead of failing obscurely", async () => {
    const { kibana: k, url } = await kibana();
    k.objects.set("index-pattern/made-by-hand", {
      type: "index-pattern",
      id: "made-by-hand",
      attributes: { title: "hub-*", name: "efk-logs-hub", timeFieldName: "@timestamp" },
      references: [],
    });
    const run = await runSetup(url);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /a view of that name but another pattern exists: rename or delete it/);
    assert.equal(k.dataViews().filter((v) => v.attributes.name === "efk-logs-hub").length, 1);
  });
});
