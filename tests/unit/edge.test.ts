import "../mocks";
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { byType, containsSecret, find, recorded, valueOf } from "../mocks";
import {
  CENTRAL_CA as CA,
  CENTRAL_SHARED_KEY as SHARED_KEY,
  CENTRAL_STACK as CENTRAL,
  EDGE_CLIENT_CERT,
  EDGE_CONFIG,
  centralRef,
  runProgram,
  runProgramExpectingError,
  userCentralRef,
  type StackRefs,
} from "../harness";

const REGISTERED = centralRef();
/** The key this edge makes for itself, as the mocks answer its PrivateKey. */
const OWN_KEY = "-----BEGIN RSA PRIVATE KEY-----\nmock-key-efk-forward-key\n-----END RSA PRIVATE KEY-----\n";
const OWN_PASSWORD = "mockpwefkforwardpassword";

function fluentBitValues() {
  return find("kubernetes:helm.sh/v3:Release", "efk-fluent-bit-release").inputs.values as {
    config: Record<string, string>;
    envFrom: unknown[];
  };
}

describe("edge stack", () => {
  let outputs: Record<string, pulumi.Output<unknown>>;
  before(async () => {
    outputs = await runProgram(EDGE_CONFIG, REGISTERED);
  });

  it("reads the central stack named by efk:centralStack", () => {
    const ref = find("pulumi:pulumi:StackReference", "efk-central");
    assert.equal(ref.inputs.name, CENTRAL);
  });

  it("deploys Fluent Bit only: no Elasticsearch, Kibana or Fluentd", () => {
    const releases = byType("kubernetes:helm.sh/v3:Release").map((r) => r.inputs.name);
    assert.deepEqual(releases, ["fluent-bit"]);
    // Its own forward key and password, and nothing of the central's making.
    assert.deepEqual(
      byType("tls:index/privateKey:PrivateKey").map((r) => r.name),
      ["efk-forward-key"],
    );
    assert.deepEqual(
      byType("random:index/randomPassword:RandomPassword").map((r) => r.name),
      ["efk-forward-password"],
    );
    assert.equal(byType("tls:index/locallySignedCert:LocallySignedCert").length, 0);
  });

  it("creates its namespace, efk:namespace, and puts Fluent Bit and its Secrets in it", () => {
    const namespace = find("kubernetes:core/v1:Namespace", "efk-namespace").inputs.metadata as {
      name: string;
    };
    assert.equal(namespace.name, "logs");
    assert.equal(find("kubernetes:helm.sh/v3:Release", "efk-fluent-bit-release").inputs.namespace, "logs");
    for (const s of byType("kubernetes:core/v1:Secret")) {
      assert.equal((s.inputs.metadata as { namespace: string }).namespace, "logs", s.name);
    }
  });

  it("ships to the central endpoint, verifying its certificate and name against the central CA", () => {
    const out = fluentBitValues().config.outputs;
    assert.match(out, /Host\s+logs\.example\.com\n/);
    assert.match(out, /tls\.vhost\s+logs\.example\.com\n/);
    const tls = find("kubernetes:core/v1:Secret", "efk-fluent-bit-tls").inputs.stringData as Record<
      string,
      string
    >;
    assert.equal(tls["ca.crt"], CA);
  });

  it("presents the certificate the central signed for the key it made itself, and no shared key or password", () => {
    const tls = find("kubernetes:core/v1:Secret", "efk-fluent-bit-tls");
    assert.deepEqual(tls.inputs.stringData, {
      "ca.crt": CA,
      "tls.crt": EDGE_CLIENT_CERT,
      "tls.key": OWN_KEY,
    });
    assert.equal(containsSecret(tls.rawInputs.stringData), true);
    const out = fluentBitValues().config.outputs;
    assert.match(out, /tls\.crt_file\s+\/fluent-bit\/tls\/tls\.crt\n/);
    assert.doesNotMatch(out, /Shared_Key|Username|Password/);
    assert.equal(
      byType("kubernetes:core/v1:Secret").some((r) => r.name === "efk-fluent-bit-credentials"),
      false,
    );
    assert.deepEqual(fluentBitValues().envFrom, []);
  });

  it("exports the request for its own key in plain text and its password as a secret, for the central to read", async () => {
    assert.match(String(await valueOf(outputs.forwardCsrPem)), /BEGIN CERTIFICATE REQUEST/);
    assert.equal(await pulumi.isSecret(outputs.forwardCsrPem), false);
    const csr = find("tls:index/certRequest:CertRequest", "efk-forward-csr").inputs as {
      subject: { commonName: string };
      privateKeyPem: string;
    };
    assert.equal(csr.subject.commonName, "prod-eu");
    assert.equal(csr.privateKeyPem, OWN_KEY);
    assert.equal(await pulumi.isSecret(outputs.forwardPassword), true);
    assert.equal(await valueOf(outputs.forwardPassword), OWN_PASSWORD);
  });

  it("puts no private key or password into anything but Secrets and the providers that make them", () => {
    for (const r of recorded.filter(
      (x) =>
        x.type !== "kubernetes:core/v1:Secret" &&
        x.type !== "pulumi:pulumi:StackReference" &&
        !x.type.startsWith("tls:") &&
        !x.type.startsWith("random:"),
    )) {
      const text = JSON.stringify(r.inputs);
      assert.equal(
        text.includes("PRIVATE KEY") || text.includes(OWN_PASSWORD),
        false,
        `${r.type} ${r.name} holds a secret`,
      );
    }
  });

  it("exports no secret in plain text", async () => {
    for (const [name, output] of Object.entries(outputs)) {
      if (!(await pulumi.isSecret(output))) {
        const text = JSON.stringify(await valueOf(output));
        assert.equal(text.includes("PRIVATE KEY") || text.includes(OWN_PASSWORD), false, name);
      }
    }
  });

  it("logs in with the shared key and its own password when the central knows clusters by user", async () => {
    await runProgram(EDGE_CONFIG, userCentralRef());
    const creds = find("kubernetes:core/v1:Secret", "efk-fluent-bit-credentials");
    assert.deepEqual(creds.inputs.stringData, {
      FLUENT_SHARED_KEY: SHARED_KEY,
      FLUENT_PASSWORD: OWN_PASSWORD,
    });
    assert.equal(containsSecret(creds.rawInputs.stringData), true);
    assert.match(fluentBitValues().config.outputs, /Username\s+prod-eu\n/);
    const tls = find("kubernetes:core/v1:Secret", "efk-fluent-bit-tls");
    assert.deepEqual(tls.inputs.stringData, { "ca.crt": CA });
  });
});

describe("edge stack before the central registers it", () => {
  it("makes its own key and request, deploys nothing on the cluster, and says which commands come next", async () => {
    const warnings: string[] = [];
    const warn = pulumi.log.warn;
    pulumi.log.warn = (msg: string) => {
      warnings.push(msg);
      return Promise.resolve();
    };
    let outputs: Record<string, pulumi.Output<unknown>>;
    try {
      outputs = await runProgram(EDGE_CONFIG, centralRef({ "prod-us": { clientCertPem: "x" } }));
    } finally {
      pulumi.log.warn = warn;
    }
    assert.deepEqual(recorded.map((r) => r.type).sort(), [
      "efk:stack:Edge",
      "pulumi:pulumi:StackReference",
      "random:index/randomPassword:RandomPassword",
      "tls:index/certRequest:CertRequest",
      "tls:index/privateKey:PrivateKey",
    ]);
    assert.match(String(await valueOf(outputs.forwardCsrPem)), /BEGIN CERTIFICATE REQUEST/);
    assert.equal(outputs.namespace, undefined);
    const message = warnings.join("\n");
    assert.match(message, /cluster "prod-eu" is not registered on the central stack "acme\/efk\/central"/);
    assert.match(message, /pulumi config set --path 'edgeClusters\[1\]' prod-eu --stack acme\/efk\/central/);
    assert.match(message, /pulumi up --stack acme\/efk\/central\n/);
    assert.match(message, /then `pulumi up` this stack again/);
    // Other tenants' names stay out of this edge's logs.
    assert.equal(message.includes("prod-us"), false, message);
  });

  it("does not take an Object property for the registration of a cluster named like one", async () => {
    await runProgram({ ...EDGE_CONFIG, clusterName: "constructor" }, REGISTERED);
    assert.equal(byType("kubernetes:helm.sh/v3:Release").length, 0);
  });
});

describe("edge stack refusals", () => {
  it("refuses a central stack without a way in for edges", async () => {
    const refs = REGISTERED;
    const { forwardEndpoint: _drop, ...withoutEndpoint } = refs[CENTRAL].outputs;
    const { error, registered } = await runProgramExpectingError(EDGE_CONFIG, {
      [CENTRAL]: { ...refs[CENTRAL], outputs: withoutEndpoint },
    });
    assert.match(error.message, /exports no forwardEndpoint: set efk:fluentdServiceType/);
    assert.equal(registered, 1);
  });

  it("refuses a stack that is not a central stack", async () => {
    const { error } = await runProgramExpectingError(EDGE_CONFIG, {
      [CENTRAL]: { outputs: { somethingElse: 1 }, secretOutputNames: [] },
    });
    assert.match(error.message, /exports no caCertPem or forwardAuth/);
  });

  it("refuses a central that knows clusters by user but exports no shared key", async () => {
    const { error } = await runProgramExpectingError(
      EDGE_CONFIG,
      centralRef({ "prod-eu": {} }, { forwardAuth: "user" }),
    );
    assert.match(error.message, /exports no forwardSharedKey, which its forwardAuth user needs/);
  });
});

/** A central stack like REGISTERED with one output replaced. */
function withOutput(name: string, value: unknown): StackRefs {
  return {
    [CENTRAL]: { ...REGISTERED[CENTRAL], outputs: { ...REGISTERED[CENTRAL].outputs, [name]: value } },
  };
}

const ENDPOINT = { host: "logs.example.com", port: 24224, serverName: "logs.example.com" };

/** Central outputs this program cannot use, each with what the refusal must say. */
const MALFORMED: { title: string; refs: StackRefs; expect: RegExp }[] = [
  {
    title: "an endpoint port of 0",
    refs: withOutput("forwardEndpoint", { ...ENDPOINT, port: 0 }),
    expect: /exports a malformed forwardEndpoint: port must be a whole number from 1 to 65535/,
  },
  {
    title: "an endpoint port above 65535",
    refs: withOutput("forwardEndpoint", { ...ENDPOINT, port: 70000 }),
    expect: /exports a malformed forwardEndpoint: port must be a whole number from 1 to 65535/,
  },
  {
    title: "an endpoint port given as a string",
    refs: withOutput("forwardEndpoint", { ...ENDPOINT, port: "24224" }),
    expect: /exports a malformed forwardEndpoint: port must be a whole number from 1 to 65535/,
  },
  {
    title: "an endpoint with an empty host",
    refs: withOutput("forwardEndpoint", { ...ENDPOINT, host: "" }),
    expect: /exports a malformed forwardEndpoint: host must be a non-empty string/,
  },
  {
    title: "an endpoint without a server name",
    refs: withOutput("forwardEndpoint", { host: "logs.example.com", port: 24224 }),
    expect: /exports a malformed forwardEndpoint: serverName must be a non-empty string/,
  },
  {
    title: "an endpoint that is not an object",
    refs: withOutput("forwardEndpoint", "logs.example.com:24224"),
    expect: /exports a malformed forwardEndpoint: it is not an object/,
  },
  {
    title: "an unknown way of knowing clusters",
    refs: withOutput("forwardAuth", "password"),
    expect: /exports a malformed forwardAuth or forwardEdges: must be one of: certificate, user/,
  },
  {
    title: "a registration that is not an object",
    refs: centralRef({ "prod-eu": "a certificate" }),
    expect: /exports a malformed forwardAuth or forwardEdges: it is not an object/,
  },
  {
    title: "a registration with an empty certificate",
    refs: centralRef({ "prod-eu": { clientCertPem: "" } }),
    expect: /exports a malformed forwardAuth or forwardEdges: clientCertPem must be a non-empty string/,
  },
  {
    title: "a registration without a certificate where one is required",
    refs: centralRef({ "prod-eu": {} }),
    expect: /registers "prod-eu" without a client certificate although it requires one/,
  },
];

describe("edge stack refusals of malformed central outputs", () => {
  for (const c of MALFORMED) {
    it(`refuses ${c.title}, naming the central stack and the output, and declares nothing of its own`, async () => {
      const { error, registered } = await runProgramExpectingError(EDGE_CONFIG, c.refs);
      assert.ok(error instanceof pulumi.RunError, `expected a RunError, got ${String(error)}`);
      assert.match(error.message, /the central stack "acme\/efk\/central" \(efk:centralStack\)/);
      assert.match(error.message, c.expect);
      assert.equal(registered, 1);
      assert.equal(recorded[0].type, "pulumi:pulumi:StackReference");
    });
  }
});
