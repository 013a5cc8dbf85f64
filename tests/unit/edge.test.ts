import "../mocks";
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { byType, containsSecret, find, recorded, valueOf } from "../mocks";
import {
  CENTRAL_CA as CA,
  CENTRAL_SHARED_KEY as SHARED_KEY,
  CENTRAL_STACK as CENTRAL,
  EDGE_CONFIG,
  EDGE_PASSWORD as PASSWORD,
  centralRef,
  runProgram,
  runProgramExpectingError,
  type StackRefs,
} from "../harness";

const REGISTERED = centralRef({ "prod-eu": { username: "prod-eu", password: PASSWORD } });

function fluentBitValues() {
  return find("kubernetes:helm.sh/v3:Release", "efk-fluent-bit-release").inputs.values as {
    config: Record<string, string>;
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
    assert.equal(byType("tls:index/privateKey:PrivateKey").length, 0);
    assert.equal(byType("random:index/randomPassword:RandomPassword").length, 0);
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

  it("authenticates with its own credentials and the shared key, read from the central stack, kept secret", () => {
    const creds = find("kubernetes:core/v1:Secret", "efk-fluent-bit-credentials");
    assert.deepEqual(creds.inputs.stringData, { FLUENT_SHARED_KEY: SHARED_KEY, FLUENT_PASSWORD: PASSWORD });
    assert.equal(containsSecret(creds.rawInputs.stringData), true);
    assert.match(fluentBitValues().config.outputs, /Username\s+prod-eu\n/);
  });

  it("puts no shared key or password into anything but Secrets", () => {
    for (const r of recorded.filter(
      (x) => x.type !== "kubernetes:core/v1:Secret" && x.type !== "pulumi:pulumi:StackReference",
    )) {
      const text = JSON.stringify(r.inputs);
      assert.equal(
        text.includes(SHARED_KEY) || text.includes(PASSWORD),
        false,
        `${r.type} ${r.name} holds a secret`,
      );
    }
  });

  it("exports no secret in plain text", async () => {
    for (const [name, output] of Object.entries(outputs)) {
      if (!(await pulumi.isSecret(output))) {
        const text = JSON.stringify(await valueOf(output));
        assert.equal(text.includes(SHARED_KEY) || text.includes(PASSWORD), false, name);
      }
    }
  });

  it("uses the client certificate the central stack issued it, when the central requires one", async () => {
    await runProgram(
      EDGE_CONFIG,
      centralRef({
        "prod-eu": {
          username: "prod-eu",
          password: PASSWORD,
          clientCertPem: "CLIENT-CERT",
          clientKeyPem: "CLIENT-KEY",
        },
      }),
    );
    const tls = find("kubernetes:core/v1:Secret", "efk-fluent-bit-tls");
    assert.deepEqual(tls.inputs.stringData, {
      "ca.crt": CA,
      "tls.crt": "CLIENT-CERT",
      "tls.key": "CLIENT-KEY",
    });
    assert.equal(containsSecret(tls.rawInputs.stringData), true);
    assert.match(fluentBitValues().config.outputs, /tls\.crt_file\s+\/fluent-bit\/tls\/tls\.crt\n/);
  });
});

describe("edge stack refusals", () => {
  it("refuses a cluster the central stack does not know, saying which key to add on which stack", async () => {
    const { error, registered } = await runProgramExpectingError(
      EDGE_CONFIG,
      centralRef({ "prod-us": { username: "prod-us", password: "x" } }),
    );
    assert.match(
      error.message,
      /cluster "prod-eu" \(efk:clusterName\) is not registered on the central stack "acme\/efk\/central"/,
    );
    assert.match(error.message, /it knows 1 edge cluster\./);
    // The other clusters' names come from a secret output and belong to other tenants.
    assert.equal(error.message.includes("prod-us"), false, error.message);
    assert.match(
      error.message,
      /pulumi config set --path 'edgeClusters\[1\]' prod-eu --stack acme\/efk\/central/,
    );
    // Only the read of the central stack; nothing of the edge's own.
    assert.equal(registered, 1);
    assert.equal(recorded[0].type, "pulumi:pulumi:StackReference");
  });

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
    assert.match(error.message, /exports no caCertPem, forwardSharedKey or edgeCredentials/);
  });
});

/** A central stack like REGISTERED with one output replaced. */
function withOutput(name: string, value: unknown): StackRefs {
  return {
    [CENTRAL]: { ...REGISTERED[CENTRAL], outputs: { ...REGISTERED[CENTRAL].outputs, [name]: value } },
  };
}

const ENDPOINT = { host: "logs.example.com", port: 24224, serverName: "logs.example.com" };
const CREDENTIALS = { username: "prod-eu", password: PASSWORD };

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
    title: "credentials under another user name",
    refs: centralRef({ "prod-eu": { username: "prod-us", password: PASSWORD } }),
    expect: /exports edgeCredentials whose entry for "prod-eu" is malformed: username must be "prod-eu"/,
  },
  {
    title: "credentials with an empty password",
    refs: centralRef({ "prod-eu": { username: "prod-eu", password: "" } }),
    expect:
      /exports edgeCredentials whose entry for "prod-eu" is malformed: password must be a non-empty string/,
  },
  {
    title: "credentials without a password",
    refs: centralRef({ "prod-eu": { username: "prod-eu" } }),
    expect:
      /exports edgeCredentials whose entry for "prod-eu" is malformed: password must be a non-empty string/,
  },
  {
    title: "a client certificate without its key",
    refs: centralRef({ "prod-eu": { ...CREDENTIALS, clientCertPem: "CLIENT-CERT" } }),
    expect: /malformed: clientCertPem and clientKeyPem must come together/,
  },
  {
    title: "a client key without its certificate",
    refs: centralRef({ "prod-eu": { ...CREDENTIALS, clientKeyPem: "CLIENT-KEY" } }),
    expect: /malformed: clientCertPem and clientKeyPem must come together/,
  },
  {
    title: "credentials that are not an object",
    refs: centralRef({ "prod-eu": PASSWORD }),
    expect: /exports edgeCredentials whose entry for "prod-eu" is malformed: it is not an object/,
  },
];

describe("edge stack refusals of malformed central outputs", () => {
  for (const c of MALFORMED) {
    it(`refuses ${c.title}, naming the central stack and the output, and declares nothing of its own`, async () => {
      const { error, registered } = await runProgramExpectingError(EDGE_CONFIG, c.refs);
      assert.ok(error instanceof pulumi.RunError, `expected a RunError, got ${String(error)}`);
      assert.match(error.message, /the central stack "acme\/efk\/central" \(efk:centralStack\)/);
      assert.match(error.message, c.expect);
      for (const secret of [PASSWORD, SHARED_KEY, "CLIENT-CERT", "CLIENT-KEY"]) {
        assert.equal(error.message.includes(secret), false, `the message shows a secret: ${error.message}`);
      }
      assert.equal(registered, 1);
      assert.equal(recorded[0].type, "pulumi:pulumi:StackReference");
    });
  }

  it("does not take an Object property for the credentials of a cluster named like one", async () => {
    const { error, registered } = await runProgramExpectingError(
      { ...EDGE_CONFIG, clusterName: "constructor" },
      REGISTERED,
    );
    assert.match(error.message, /cluster "constructor" \(efk:clusterName\) is not registered/);
    assert.equal(registered, 1);
  });
});
