import "../mocks";
import * as assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { byType, find, recorded, valueOf } from "../mocks";
import {
  CENTRAL_CONFIG,
  CENTRAL_STACK,
  EDGE_CONFIG,
  runProgram,
  runProgramExpectingError,
  type StackRefs,
} from "../harness";
import { RealPki } from "../realPki";
import {
  authorityName,
  caPlan,
  certificateFingerprint,
  EDGES_SHOWN,
  issuerFingerprint,
  pemCertificates,
  rotationProblem,
  trustBundle,
  type EdgeTrust,
} from "../../lib/caRotation";
import type { StackOutputs } from "../../program";

/**
 * The CA rotation played through the real program, with real certificates: the central and an edge are
 * run under the mocks step by step, each `tls` placeholder is replaced by a real certificate signed by the
 * CA the program chose, and every connection is checked with `openssl verify` against the bundle the
 * program put in the Secret its reader mounts.
 */

const SECRET = "kubernetes:core/v1:Secret";
const SELF_SIGNED = "tls:index/selfSignedCert:SelfSignedCert";
const LOCALLY_SIGNED = "tls:index/locallySignedCert:LocallySignedCert";
const EDGE_STACK = "organization/efk/prod-eu";

const CENTRAL = {
  ...CENTRAL_CONFIG,
  edgeClusters: '["prod-eu"]',
  fluentdExternalHosts: '["logs.example.com"]',
};

/** The steps of a rotation from generation 1 to 2, as the central's configuration. */
const STEPS = [
  { caGeneration: "1", caRotation: "none" },
  { caGeneration: "1", caRotation: "trust" },
  { caGeneration: "1", caRotation: "issue" },
  { caGeneration: "2", caRotation: "none" },
] as const;

/** What the central's Secrets and outputs hold after one run, as real PEMs. */
interface CentralSide {
  /** `caCertPem`, what edges verify the aggregator with. */
  caCertPem: string;
  caFingerprints: Record<string, string>;
  /** The certificate signed for prod-eu's key (`forwardEdges`). */
  edgeCert: string;
  /** fluentd-tls: the aggregator's server certificate, and its CA file (clients and Elasticsearch). */
  aggregatorCert: string;
  aggregatorCa: string;
  /** The CA Kibana verifies Elasticsearch with (efk-ca). */
  kibanaEsCa: string;
  /** elasticsearch-master-tls. */
  esHttpCert: string;
  esTransportCert: string;
  esTransportCa: string;
  /** The central's own agents (fluent-bit-tls). */
  ownAgentCert: string;
  ownAgentCa: string;
}

/** What prod-eu deploys (its fluent-bit-tls) and exports after one run. */
interface EdgeSide {
  ca: string;
  cert: string;
  /** Its outputs, as the central's StackReference to it reads them. */
  exported: StackRefs[string];
}

const pki = new RealPki();

function secretData(name: string): Record<string, string> {
  const data = find(SECRET, name).inputs.stringData as Record<string, string>;
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, pki.realize(String(v))]));
}

async function stored(outputs: StackOutputs): Promise<StackRefs[string]> {
  const values: Record<string, unknown> = {};
  const secretOutputNames: string[] = [];
  for (const [name, output] of Object.entries(outputs)) {
    values[name] = await valueOf(output);
    if (await pulumi.isSecret(output)) {
      secretOutputNames.push(name);
    }
  }
  return { outputs: values, secretOutputNames };
}

async function runCentral(step: (typeof STEPS)[number], edge: EdgeSide | undefined): Promise<CentralSide> {
  const outputs = await runProgram({ ...CENTRAL, ...step }, edge ? { [EDGE_STACK]: edge.exported } : {});
  pki.record(recorded);
  const fingerprints = (await valueOf(outputs.caFingerprints)) as Record<string, string>;
  const edges = (await valueOf(outputs.forwardEdges)) as Record<string, { clientCertPem: string }>;
  const fluentd = secretData("efk-fluentd-tls");
  const es = secretData("efk-elasticsearch-tls");
  const own = secretData("efk-fluent-bit-tls");
  return {
    caCertPem: pki.realize(String(await valueOf(outputs.caCertPem))),
    // The mocks fingerprint placeholders; the real central publishes its real CAs'.
    caFingerprints: Object.fromEntries(
      Object.keys(fingerprints).map((g) => [
        g,
        certificateFingerprint(pki.caPem(authorityName("efk-pki-ca", Number(g)))),
      ]),
    ),
    edgeCert: pki.realize(edges["prod-eu"].clientCertPem),
    aggregatorCert: fluentd["tls.crt"],
    aggregatorCa: fluentd["ca.crt"],
    kibanaEsCa: secretData("efk-ca")["ca.crt"],
    esHttpCert: es["http.crt"],
    esTransportCert: es["transport.crt"],
    esTransportCa: es["transport-ca.crt"],
    ownAgentCert: own["tls.crt"],
    ownAgentCa: own["ca.crt"],
  };
}

async function runEdge(central: CentralSide): Promise<EdgeSide> {
  const outputs = await runProgram(EDGE_CONFIG, {
    [CENTRAL_STACK]: {
      outputs: {
        forwardEndpoint: { host: "logs.example.com", port: 24224, serverName: "logs.example.com" },
        caCertPem: central.caCertPem,
        caFingerprints: central.caFingerprints,
        forwardAuth: "certificate",
        forwardEdges: { "prod-eu": { clientCertPem: central.edgeCert } },
      },
      secretOutputNames: [],
    },
  });
  const tls = find(SECRET, "efk-fluent-bit-tls").inputs.stringData as Record<string, string>;
  return { ca: tls["ca.crt"], cert: tls["tls.crt"], exported: await stored(outputs) };
}

function accepts(bundle: string, cert: string, what: string): void {
  const result = pki.verify(bundle, cert);
  assert.ok(result.ok, `${what}: ${result.output}`);
}

function refuses(bundle: string, cert: string, what: string): void {
  assert.equal(pki.verify(bundle, cert).ok, false, `${what} was accepted`);
}

/** Every connection of the system at one moment: the central as it is, and prod-eu as it last ran. */
function everyoneConnects(c: CentralSide, edge: EdgeSide, when: string): void {
  accepts(edge.ca, c.aggregatorCert, `${when}: the edge's bundle, the aggregator's certificate`);
  accepts(c.aggregatorCa, edge.cert, `${when}: the aggregator's client bundle, the edge's certificate`);
  accepts(
    c.aggregatorCa,
    c.ownAgentCert,
    `${when}: the aggregator's client bundle, the central's own agents`,
  );
  accepts(c.ownAgentCa, c.aggregatorCert, `${when}: the central's own agents' bundle, the aggregator`);
  accepts(
    c.aggregatorCa,
    c.esHttpCert,
    `${when}: Fluentd's Elasticsearch CA, Elasticsearch's HTTP certificate`,
  );
  accepts(c.kibanaEsCa, c.esHttpCert, `${when}: Kibana's Elasticsearch CA, Elasticsearch's HTTP certificate`);
  accepts(
    c.esTransportCa,
    c.esTransportCert,
    `${when}: Elasticsearch's transport CA, its nodes' certificate`,
  );
  // The aggregator admits a cluster by its key: whichever certificate the edge holds, the key is the one
  // registered in fluentd-clients.
  assert.deepEqual(RealPki.publicKey(edge.cert), RealPki.publicKey(c.edgeCert), `${when}: the edge's key`);
}

/** Pods restart one at a time: one of the last step and one of this step must accept each other. */
function rollingRestartConnects(before: CentralSide, after: CentralSide, when: string): void {
  for (const [a, b, tag] of [
    [before, after, "old bundle, new certificate"],
    [after, before, "new bundle, old certificate"],
  ] as const) {
    accepts(a.aggregatorCa, b.esHttpCert, `${when} (${tag}): Fluentd, Elasticsearch`);
    accepts(a.kibanaEsCa, b.esHttpCert, `${when} (${tag}): Kibana, Elasticsearch`);
    accepts(a.esTransportCa, b.esTransportCert, `${when} (${tag}): Elasticsearch nodes`);
    accepts(a.ownAgentCa, b.aggregatorCert, `${when} (${tag}): the central's agents, the aggregator`);
    accepts(a.aggregatorCa, b.ownAgentCert, `${when} (${tag}): the aggregator, the central's agents`);
  }
}

function issuerGeneration(c: CentralSide, cert: string): number | undefined {
  const fingerprint = issuerFingerprint(cert, c.caCertPem);
  const found = Object.entries(c.caFingerprints).find(([, f]) => f === fingerprint);
  return found ? Number(found[0]) : undefined;
}

describe("CA rotation with overlap, on real certificates", function () {
  this.timeout(120_000);
  after(() => pki.dispose());

  it("walks generation 1 to 2 in three steps, each side accepting the other at every step, with the edge a step behind", async () => {
    const central: CentralSide[] = [];
    const edge: EdgeSide[] = [];

    central[0] = await runCentral(STEPS[0], undefined);
    edge[0] = await runEdge(central[0]);
    everyoneConnects(central[0], edge[0], "step 0");
    // The fingerprints edges and the central compare are OpenSSL's and Node's.
    const ca = pki.caPem("efk-pki-ca");
    assert.equal(central[0].caFingerprints["1"], new X509Certificate(ca).fingerprint256);
    assert.equal(`sha256 Fingerprint=${certificateFingerprint(ca)}`, pki.fingerprint(ca));
    assert.equal(pemCertificates(edge[0].ca).length, 1);
    assert.deepEqual(edge[0].exported.outputs.forwardTrustedCas, [
      { fingerprint: central[0].caFingerprints["1"], generation: 1 },
    ]);
    assert.deepEqual(edge[0].exported.outputs.forwardClientCertIssuer, {
      fingerprint: central[0].caFingerprints["1"],
      generation: 1,
    });

    // Step 1: both generations trusted everywhere, generation 1 still signs (no certificate changes).
    central[1] = await runCentral(STEPS[1], edge[0]);
    assert.deepEqual(Object.keys(central[1].caFingerprints), ["1", "2"]);
    for (const bundle of [
      central[1].caCertPem,
      central[1].aggregatorCa,
      central[1].kibanaEsCa,
      central[1].ownAgentCa,
    ]) {
      assert.equal(pemCertificates(bundle).length, 2);
    }
    assert.equal(pemCertificates(central[1].esTransportCa).length, 2);
    assert.equal(central[1].aggregatorCert, central[0].aggregatorCert);
    assert.equal(central[1].esTransportCert, central[0].esTransportCert);
    everyoneConnects(central[1], edge[0], "step 1, the edge not run yet");
    rollingRestartConnects(central[0], central[1], "step 0 to 1");
    edge[1] = await runEdge(central[1]);
    everyoneConnects(central[1], edge[1], "step 1");
    assert.deepEqual(
      (edge[1].exported.outputs.forwardTrustedCas as { generation: number }[]).map((c) => c.generation),
      [1, 2],
    );

    // Step 2: generation 2 signs every certificate, both still trusted.
    central[2] = await runCentral(STEPS[2], edge[1]);
    for (const cert of [
      central[2].aggregatorCert,
      central[2].esHttpCert,
      central[2].edgeCert,
      central[2].ownAgentCert,
    ]) {
      assert.equal(issuerGeneration(central[2], cert), 2);
    }
    const transportIssuer = issuerFingerprint(central[2].esTransportCert, central[2].esTransportCa);
    assert.equal(transportIssuer, certificateFingerprint(pki.caPem("efk-pki-transport-ca-g2")));
    everyoneConnects(central[2], edge[1], "step 2, the edge not run yet");
    rollingRestartConnects(central[1], central[2], "step 1 to 2");
    edge[2] = await runEdge(central[2]);
    everyoneConnects(central[2], edge[2], "step 2");
    assert.deepEqual(edge[2].exported.outputs.forwardClientCertIssuer, {
      fingerprint: central[2].caFingerprints["2"],
      generation: 2,
    });

    // Step 3: generation 1 retired.
    central[3] = await runCentral(STEPS[3], edge[2]);
    assert.deepEqual(Object.keys(central[3].caFingerprints), ["2"]);
    assert.equal(central[3].caCertPem, pki.caPem("efk-pki-ca-g2"));
    assert.deepEqual(
      byType(SELF_SIGNED)
        .map((r) => r.name)
        .sort(),
      ["efk-pki-ca-g2", "efk-pki-transport-ca-g2"],
    );
    everyoneConnects(central[3], edge[2], "step 3, the edge not run yet");
    rollingRestartConnects(central[2], central[3], "step 2 to 3");
    edge[3] = await runEdge(central[3]);
    everyoneConnects(central[3], edge[3], "step 3");

    // The old CA is really gone: what it signed is refused on both sides from now on.
    refuses(
      edge[3].ca,
      central[0].aggregatorCert,
      "the edge's bundle after the rotation, a generation-1 server certificate",
    );
    refuses(
      central[3].aggregatorCa,
      edge[0].cert,
      "the aggregator after the rotation, a generation-1 client certificate",
    );
    refuses(
      central[3].esTransportCa,
      central[0].esTransportCert,
      "the transport CA after the rotation, a generation-1 node",
    );
    // Which is why an edge may lag one step and no more: two steps behind, it would be refused.
    refuses(
      central[3].aggregatorCa,
      edge[1].cert,
      "the aggregator at step 3, an edge that last ran at step 1",
    );
    refuses(
      edge[0].ca,
      central[2].aggregatorCert,
      "an edge that last ran at step 0, the aggregator at step 2",
    );
  });

  it("refuses to jump from step 0 to step 3, naming the edge and the command, before declaring any resource", async () => {
    const c0 = await runCentral(STEPS[0], undefined);
    const e0 = await runEdge(c0);
    const { error } = await runProgramExpectingError(
      { ...CENTRAL, ...STEPS[3] },
      { [EDGE_STACK]: e0.exported },
    );
    assert.match(error.message, /efk:caGeneration 2 with efk:caRotation none .* refused/);
    assert.match(
      error.message,
      /1 of 1 edge clusters do not hold a client certificate signed by the CA of generation 2 yet: prod-eu/,
    );
    assert.match(error.message, /pulumi up --stack organization\/efk\/prod-eu/);
    assert.deepEqual(
      recorded.filter((r) => r.type !== "pulumi:pulumi:StackReference").map((r) => r.type),
      [],
    );
  });

  it("refuses step 2 until the edge has run after step 1, and step 3 until it has run after step 2", async () => {
    const c0 = await runCentral(STEPS[0], undefined);
    const e0 = await runEdge(c0);
    const c1 = await runCentral(STEPS[1], e0);
    const early = await runProgramExpectingError({ ...CENTRAL, ...STEPS[2] }, { [EDGE_STACK]: e0.exported });
    assert.match(early.error.message, /efk:caRotation issue .* refused/);
    assert.match(early.error.message, /do not trust the CA of generation 2 yet: prod-eu/);
    assert.match(early.error.message, /stay at efk:caRotation trust/);
    const e1 = await runEdge(c1);
    await runCentral(STEPS[2], e1);
    const late = await runProgramExpectingError({ ...CENTRAL, ...STEPS[3] }, { [EDGE_STACK]: e1.exported });
    assert.match(
      late.error.message,
      /do not hold a client certificate signed by the CA of generation 2 yet: prod-eu/,
    );
  });

  it("refuses a step past an edge of an earlier version, which exports no trust, and says what to do", async () => {
    const { error } = await runProgramExpectingError(
      { ...CENTRAL, ...STEPS[2] },
      {
        [EDGE_STACK]: {
          outputs: {
            forwardCsrPem: "-----BEGIN CERTIFICATE REQUEST-----\nold\n-----END CERTIFICATE REQUEST-----\n",
          },
          secretOutputNames: [],
        },
      },
    );
    assert.match(
      error.message,
      /1 of 1 edge clusters run an earlier version of this program, which does not export forwardTrustedCas: prod-eu/,
    );
    assert.match(
      error.message,
      /Update their program to this version and run them, or take them out of efk:edgeClusters/,
    );
  });
});

describe("CA rotation: a stack that rotates nothing", () => {
  it("keeps its authorities' names, subjects and PEMs byte for byte", async () => {
    await runProgram(CENTRAL);
    assert.deepEqual(
      byType(SELF_SIGNED).map((r) => [r.name, (r.inputs.subject as { commonName: string }).commonName]),
      [
        ["efk-pki-ca", "efk-pulumi CA"],
        ["efk-pki-transport-ca", "efk-pulumi Elasticsearch transport CA"],
      ],
    );
    const ca = String(find(SELF_SIGNED, "efk-pki-ca").outputs.certPem);
    assert.equal((find(SECRET, "efk-ca").inputs.stringData as Record<string, string>)["ca.crt"], ca);
    for (const cert of byType(LOCALLY_SIGNED).filter((r) => r.name !== "efk-pki-es-transport-cert")) {
      assert.equal(cert.inputs.caCertPem, ca, cert.name);
    }
  });
});

describe("CA rotation: the pure rules", () => {
  it("plans each step's trusted and signing generations", () => {
    assert.deepEqual(caPlan({ generation: 3, step: "none" }), { trusted: [3], issuing: 3 });
    assert.deepEqual(caPlan({ generation: 3, step: "trust" }), { trusted: [3, 4], issuing: 3 });
    assert.deepEqual(caPlan({ generation: 3, step: "issue" }), { trusted: [3, 4], issuing: 4 });
  });

  it("keeps one CA byte for byte and ends every certificate of a bundle on a line of its own", () => {
    const a = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----";
    const b = "-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n";
    assert.equal(trustBundle([a]), a);
    assert.equal(trustBundle([a, b]), `${a}\n${b}`);
    assert.deepEqual(pemCertificates(trustBundle([a, b])), [`${a}\n`, b]);
  });

  it("names the first edges not yet moved, counts the rest, and gives the command for each shown", () => {
    const behind: EdgeTrust = { trustedCas: [{ fingerprint: "X", generation: 1 }] };
    const moved: EdgeTrust = {
      trustedCas: [
        { fingerprint: "X", generation: 1 },
        { fingerprint: "Y", generation: 2 },
      ],
    };
    const edges: Record<string, EdgeTrust | undefined> = {};
    for (let i = 0; i < 1000; i++) {
      edges[`edge-${String(i).padStart(4, "0")}`] = i < 25 ? behind : moved;
    }
    edges["not-deployed"] = { trustedCas: [] };
    const problem = rotationProblem({
      rotation: { generation: 1, step: "issue" },
      byCertificate: true,
      edges,
      stackOf: (c) => `acme/efk/${c}`,
    });
    assert.ok(problem);
    assert.match(
      problem,
      /25 of 1001 edge clusters do not trust the CA of generation 2 yet: edge-0000, .*edge-0009, and 15 more\./,
    );
    assert.equal(problem.match(/pulumi up --stack acme\/efk\/edge-\d+/g)?.length, EDGES_SHOWN);
    assert.match(problem, /\.\.\. and 15 more/);
    assert.doesNotMatch(problem, /not-deployed/);
    assert.equal(
      rotationProblem({
        rotation: { generation: 1, step: "issue" },
        byCertificate: true,
        edges: { a: moved },
        stackOf: (c) => c,
      }),
      undefined,
    );
  });

  it("without client certificates, retires the old generation once every edge trusts the new one", () => {
    const check = (trusted: number[]) =>
      rotationProblem({
        rotation: { generation: 2, step: "none" },
        byCertificate: false,
        edges: {
          a: { trustedCas: trusted.map((generation) => ({ fingerprint: `F${generation}`, generation })) },
        },
        stackOf: (c) => c,
      });
    assert.match(check([1]) ?? "", /1 of 1 edge clusters do not trust the CA of generation 2 yet: a\./);
    assert.equal(check([1, 2]), undefined);
  });

  it("refuses an unknown step and a generation below 1, naming each key, before declaring anything", async () => {
    const { error, registered } = await runProgramExpectingError({
      ...CENTRAL,
      caRotation: "retire",
      caGeneration: "0",
    });
    assert.match(error.message, /efk:caGeneration = 0: must be at least 1/);
    assert.match(error.message, /efk:caRotation = "retire": must be one of: none, trust, issue/);
    assert.equal(registered, 0);
  });

  it("asks nothing of the edges at the trust step, nor at the first generation", () => {
    for (const rotation of [
      { generation: 1, step: "trust" },
      { generation: 1, step: "none" },
    ] as const) {
      assert.equal(
        rotationProblem({ rotation, byCertificate: true, edges: { a: undefined }, stackOf: (c) => c }),
        undefined,
      );
    }
  });
});
