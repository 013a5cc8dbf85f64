import "../mocks";
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { byType, edgeStackOutputs, find, recorded, secretValues, valueOf } from "../mocks";
import {
  CENTRAL_CONFIG,
  CENTRAL_STACK,
  EDGE_CONFIG,
  legacyCentralRef,
  runProgram,
  runProgramExpectingError,
  type StackRefs,
} from "../harness";
import { leaksIn } from "../leaks";
import type { StackOutputs } from "../../program";

/**
 * Each edge holds its own keys and nothing else: what flows from the central to an edge, the order of
 * `pulumi up`s that onboards, revokes and re-keys a cluster, and the migration from a central that made
 * the edges' credentials itself.
 */

const CENTRAL = {
  ...CENTRAL_CONFIG,
  edgeClusters: '["prod-eu","prod-us"]',
  fluentdExternalHosts: '["logs.example.com"]',
};

/** A stack's outputs as a StackReference to it stores them: every value, secrets included, and which are secret. */
async function asStored(outputs: StackOutputs): Promise<StackRefs[string]> {
  const stored: Record<string, unknown> = {};
  const secretOutputNames: string[] = [];
  for (const [name, output] of Object.entries(outputs)) {
    stored[name] = await valueOf(output);
    if (await pulumi.isSecret(output)) secretOutputNames.push(name);
  }
  return { outputs: stored, secretOutputNames };
}

/**
 * Everything prod-eu's state holds of the central: the central's outputs as its StackReference stores them,
 * after a real run of the central program; and every secret that run made or read.
 */
async function whatAnEdgeReads(
  config: Record<string, string>,
): Promise<{ read: unknown; secrets: string[] }> {
  secretValues.clear();
  const central = await asStored(await runProgram(config));
  const secrets = [...secretValues];
  // The edge reads exactly what is stored, and deploys from it.
  await runProgram(EDGE_CONFIG, { [CENTRAL_STACK]: central });
  assert.ok(
    byType("kubernetes:helm.sh/v3:Release").length === 1,
    "the edge did not deploy from what it read",
  );
  return { read: central, secrets };
}

describe("what an edge stack can read of the central", () => {
  it("holds no other edge's secret, no private key and no elastic credential: nothing secret at all", async () => {
    const { read, secrets } = await whatAnEdgeReads(CENTRAL);
    // The central made or read passwords, keys and tokens of its own and of both edges.
    assert.ok(secrets.length >= 10, `only ${secrets.length} secrets were made`);
    assert.ok(
      secrets.includes("edge-password-prod-us") && secrets.includes("mockpwefkelasticsearchelasticpassword"),
    );
    assert.deepEqual(leaksIn(read, secrets), []);
    assert.doesNotMatch(JSON.stringify(read), /PRIVATE KEY/);
    assert.deepEqual((read as { secretOutputNames: string[] }).secretOutputNames, []);
  });

  it("with clientCertAuth false: the shared key is the one secret, and no edge's password", async () => {
    const { read, secrets } = await whatAnEdgeReads({ ...CENTRAL, clientCertAuth: "false" });
    const sharedKey = "mockpwefkfluentdsharedkey";
    assert.ok(secrets.includes(sharedKey));
    assert.deepEqual(leaksIn(read, secrets), [sharedKey]);
    assert.deepEqual((read as { secretOutputNames: string[] }).secretOutputNames, ["forwardSharedKey"]);
  });

  it("flags what a central of the earlier version exported (so the searches above can fail)", () => {
    const legacy = legacyCentralRef({
      "prod-us": { username: "prod-us", password: "other-edge-password" },
    })[CENTRAL_STACK];
    assert.deepEqual(leaksIn(legacy, ["other-edge-password", "legacy-elastic-password"]), [
      "other-edge-password",
      "legacy-elastic-password",
    ]);
  });
});

describe("onboarding, in the order of its pulumi ups", () => {
  it("1. the edge first: it makes its key and request; 2. the central signs it; 3. the edge deploys with it", async () => {
    const first = await asStored(
      await runProgram(EDGE_CONFIG, {
        [CENTRAL_STACK]: await asStored(await runProgram({ ...CENTRAL_CONFIG })),
      }),
    );
    assert.equal(byType("kubernetes:helm.sh/v3:Release").length, 0);
    const csr = String(first.outputs.forwardCsrPem);
    assert.match(csr, /BEGIN CERTIFICATE REQUEST/);

    const central = await asStored(
      await runProgram(
        { ...CENTRAL_CONFIG, edgeClusters: '["prod-eu"]', fluentdExternalHosts: '["logs.example.com"]' },
        {
          "organization/efk/prod-eu": first,
        },
      ),
    );
    const signed = find("tls:index/locallySignedCert:LocallySignedCert", "efk-pki-edge-prod-eu");
    assert.equal(signed.inputs.certRequestPem, csr);
    const certPem = String(signed.outputs.certPem);
    assert.deepEqual(central.outputs.forwardEdges, { "prod-eu": { clientCertPem: certPem } });

    await runProgram(EDGE_CONFIG, { [CENTRAL_STACK]: central });
    const tls = find("kubernetes:core/v1:Secret", "efk-fluent-bit-tls").inputs.stringData as Record<
      string,
      string
    >;
    assert.equal(tls["tls.crt"], certPem);
    assert.match(tls["tls.key"], /mock-key-efk-forward-key/);
  });

  it("refuses a central whose edge stack has not run, naming the command that comes first, and declares nothing", async () => {
    const { error, registered } = await runProgramExpectingError(
      { ...CENTRAL_CONFIG, edgeClusters: '["prod-eu"]', fluentdExternalHosts: '["logs.example.com"]' },
      {},
      { edgeStacksRan: false },
    );
    assert.ok(error instanceof pulumi.RunError, String(error));
    assert.match(
      error.message,
      /edge cluster "prod-eu" \(efk:edgeClusters\): its stack "organization\/efk\/prod-eu" \(efk:edgeStackName\) cannot be read/,
    );
    assert.match(
      error.message,
      /run the edge stack first[^\n]*\n {2}pulumi up --stack organization\/efk\/prod-eu\nthen this stack again/,
    );
    assert.deepEqual(
      recorded.map((r) => r.type),
      ["pulumi:pulumi:StackReference"],
    );
    assert.equal(registered, 1);
  });

  it("refuses a central whose edge stack exports no request (an earlier version, or a failed first run)", async () => {
    const { error } = await runProgramExpectingError(
      { ...CENTRAL_CONFIG, edgeClusters: '["prod-eu"]', fluentdExternalHosts: '["logs.example.com"]' },
      { "organization/efk/prod-eu": { outputs: { namespace: "logs" }, secretOutputNames: [] } },
    );
    assert.match(
      error.message,
      /its stack "organization\/efk\/prod-eu" exports no forwardCsrPem: run the edge stack first/,
    );
  });

  it("refuses, with clientCertAuth false, an edge stack that exports no password", async () => {
    const { outputs } = edgeStackOutputs("prod-eu");
    const { error } = await runProgramExpectingError(
      {
        ...CENTRAL_CONFIG,
        edgeClusters: '["prod-eu"]',
        fluentdExternalHosts: '["logs.example.com"]',
        clientCertAuth: "false",
      },
      {
        "organization/efk/prod-eu": {
          outputs: { forwardCsrPem: outputs.forwardCsrPem },
          secretOutputNames: [],
        },
      },
    );
    assert.match(
      error.message,
      /exports no forwardPassword, which the aggregator checks with efk:clientCertAuth false/,
    );
  });
});

describe("re-keying one edge", () => {
  it("signs its new request and changes nothing of another edge", async () => {
    const run = async (euCsr: string) => {
      const eu = edgeStackOutputs("prod-eu");
      await runProgram(CENTRAL, {
        "organization/efk/prod-eu": { ...eu, outputs: { ...eu.outputs, forwardCsrPem: euCsr } },
      });
      const signed = (c: string) =>
        find("tls:index/locallySignedCert:LocallySignedCert", `efk-pki-edge-${c}`).inputs;
      const clients = find("kubernetes:core/v1:ConfigMap", "efk-fluentd-clients").inputs.data as Record<
        string,
        string
      >;
      return { eu: signed("prod-eu"), us: signed("prod-us"), usFile: clients["prod-us.crt"] };
    };
    const csr = (n: number) =>
      `-----BEGIN CERTIFICATE REQUEST-----\nprod-eu-key-${n}\n-----END CERTIFICATE REQUEST-----\n`;
    const before = await run(csr(1));
    const after = await run(csr(2));
    assert.notDeepEqual(after.eu, before.eu);
    assert.equal(after.eu.certRequestPem, csr(2));
    assert.deepEqual(after.us, before.us);
    assert.equal(after.usFile, before.usFile);
  });
});

describe("migration from a central that made the edges' credentials", () => {
  const legacy = legacyCentralRef({
    "prod-eu": { username: "prod-eu", password: "legacy-eu-password" },
    "prod-us": { username: "prod-us", password: "legacy-us-password" },
  });

  it("keeps shipping with the credentials it had, and makes its own key and request for the new central", async () => {
    const outputs = await runProgram(EDGE_CONFIG, legacy);
    const creds = find("kubernetes:core/v1:Secret", "efk-fluent-bit-credentials").inputs.stringData as Record<
      string,
      string
    >;
    assert.equal(creds.FLUENT_PASSWORD, "legacy-eu-password");
    const values = find("kubernetes:helm.sh/v3:Release", "efk-fluent-bit-release").inputs.values as {
      config: { outputs: string };
    };
    assert.match(values.config.outputs, /Username\s+prod-eu\n/);
    assert.match(String(await valueOf(outputs.forwardCsrPem)), /BEGIN CERTIFICATE REQUEST/);
  });

  it("then, once the central is updated, presents the certificate signed for that key", async () => {
    const first = await asStored(await runProgram(EDGE_CONFIG, legacy));
    const central = await asStored(
      await runProgram(
        { ...CENTRAL_CONFIG, edgeClusters: '["prod-eu"]', fluentdExternalHosts: '["logs.example.com"]' },
        {
          "organization/efk/prod-eu": first,
        },
      ),
    );
    await runProgram(EDGE_CONFIG, { [CENTRAL_STACK]: central });
    const tls = find("kubernetes:core/v1:Secret", "efk-fluent-bit-tls").inputs.stringData as Record<
      string,
      string
    >;
    assert.match(tls["tls.crt"], /mock-cert-efk-pki-edge-prod-eu/);
    assert.equal(
      byType("kubernetes:core/v1:Secret").some((s) => s.name === "efk-fluent-bit-credentials"),
      false,
    );
  });
});
