import "../mocks";
import * as assert from "node:assert/strict";
import { dependsOnTransitively, find, recorded, type Recorded } from "../mocks";
import { CENTRAL_CONFIG, EDGE_CONFIG, centralRef, runProgram } from "../harness";

const RELEASE = "kubernetes:helm.sh/v3:Release";
const CHART = "kubernetes:helm.sh/v4:Chart";
const JOB = "kubernetes:batch/v1:Job";
const SECRET = "kubernetes:core/v1:Secret";

/**
 * The engine creates a resource only once everything it depends on exists, and a Helm release exists only
 * once its workloads are ready: so "waits for" here is "starts after". Read from the dependencies the
 * program sends the engine, not from the order it happens to declare things in.
 */
function assertWaitsFor(release: string, first: Recorded[], type = RELEASE): void {
  const r = find(type, release);
  for (const f of first) {
    assert.ok(dependsOnTransitively(r, f), `${release} does not wait for ${f.type} ${f.name}`);
  }
}

const secret = (name: string) => find(SECRET, name);

describe("central stack: what each release waits for", () => {
  before(async () => {
    await runProgram({
      ...CENTRAL_CONFIG,
      edgeClusters: '["prod-eu"]',
      fluentdExternalHosts: '["logs.example.com"]',
    });
    // A resource without a URN would make every check below vacuous.
    assert.deepEqual(
      recorded.filter((r) => !r.urn).map((r) => r.name),
      [],
    );
  });

  it("starts Elasticsearch after the Secrets it mounts: credentials, certificates, file realm, service tokens", () => {
    assertWaitsFor("efk-elasticsearch-release", [
      secret("efk-elasticsearch-credentials"),
      secret("efk-elasticsearch-tls"),
      secret("efk-elasticsearch-file-realm"),
      secret("efk-elasticsearch-service-tokens"),
    ]);
  });

  it("starts Kibana after Elasticsearch is ready (it holds Kibana's token) and after the CA Secret", () => {
    assertWaitsFor("efk-kibana-chart", [find(RELEASE, "efk-elasticsearch-release"), secret("efk-ca")], CHART);
  });

  it("starts Kibana after its own certificate, encryption-key and token Secrets", () => {
    assertWaitsFor(
      "efk-kibana-chart",
      [secret("efk-kibana-tls"), secret("efk-kibana-encryption-keys"), secret("efk-kibana-es-token")],
      CHART,
    );
  });

  it("creates Kibana's data views once Kibana is ready and its setup user's password is in place", () => {
    assertWaitsFor(
      "efk-kibana-setup",
      [
        find(CHART, "efk-kibana-chart"),
        secret("efk-kibana-setup-credentials"),
        find(RELEASE, "efk-elasticsearch-release"),
      ],
      JOB,
    );
  });

  it("starts Fluentd after Elasticsearch (its writer user lives there) and after its own Secrets", () => {
    assertWaitsFor("efk-fluentd-release", [
      find(RELEASE, "efk-elasticsearch-release"),
      // The template must exist before the first document, or Elasticsearch makes a plain index.
      find("kubernetes:batch/v1:Job", "efk-elasticsearch-index-setup"),
      secret("efk-fluentd-credentials"),
      secret("efk-fluentd-tls"),
    ]);
  });

  it("starts the Fluentd aggregator after the registered clusters' certificates, which it admits senders by", () => {
    assertWaitsFor("efk-fluentd-release", [find("kubernetes:core/v1:ConfigMap", "efk-fluentd-clients")]);
  });

  it("starts the central Fluent Bit after the Fluentd aggregator and after its own key's Secret", () => {
    assertWaitsFor("efk-fluent-bit-release", [
      find(RELEASE, "efk-fluentd-release"),
      secret("efk-fluent-bit-tls"),
    ]);
  });

  it("starts Elasticsearch first: it waits for no other release", () => {
    const es = find(RELEASE, "efk-elasticsearch-release");
    for (const other of [
      find(CHART, "efk-kibana-chart"),
      find(RELEASE, "efk-fluentd-release"),
      find(RELEASE, "efk-fluent-bit-release"),
    ]) {
      assert.equal(dependsOnTransitively(es, other), false, `Elasticsearch waits for ${other.name}`);
    }
  });
});

describe("edge stack: what its release waits for", () => {
  before(async () => {
    await runProgram(EDGE_CONFIG, centralRef());
  });

  it("starts Fluent Bit after the Secret holding its key, its certificate and the central CA", () => {
    assertWaitsFor("efk-fluent-bit-release", [secret("efk-fluent-bit-tls")]);
  });
});
