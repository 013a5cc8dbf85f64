import "../mocks";
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { byType, containsSecret, isWrappedSecret, recorded, secretValues, valueOf } from "../mocks";
import { CENTRAL_CONFIG, CENTRAL_SHARED_KEY, EDGE_CONFIG, runProgram, userCentralRef } from "../harness";
import { encodings, leaksIn } from "../leaks";

/** Resource types allowed to hold secret values: Kubernetes Secrets and the providers that make them. */
const SECRET_HOLDERS = new Set([
  "kubernetes:core/v1:Secret",
  "random:index/randomPassword:RandomPassword",
  "tls:index/privateKey:PrivateKey",
  "tls:index/certRequest:CertRequest",
  "tls:index/locallySignedCert:LocallySignedCert",
  "tls:index/selfSignedCert:SelfSignedCert",
]);

const SECRET = "kubernetes:core/v1:Secret";
const PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;

/**
 * Paths of the strings in `inputs` for which `holdsSecret` holds, e.g. `stringData.password`; values
 * marked secret are not searched.
 */
function secretPaths(inputs: unknown, holdsSecret: (s: string) => boolean, path = ""): string[] {
  if (isWrappedSecret(inputs)) {
    return [];
  }
  if (typeof inputs === "string") {
    return holdsSecret(inputs) ? [path] : [];
  }
  if (typeof inputs === "object" && inputs !== null) {
    return Object.entries(inputs).flatMap(([k, v]) => secretPaths(v, holdsSecret, path ? `${path}.${k}` : k));
  }
  return [];
}

/**
 * Checks every Secret the program declared, key by key: each string holding a secret must sit inside a
 * value marked secret (the key's own value or a map around it), wherever in the Secret it is. Returns
 * `<Secret>: <path>` for each secret-bearing string, and the ones left unmarked.
 */
function secretFields(holdsSecret: (s: string) => boolean): { found: string[]; unmarked: string[] } {
  const found: string[] = [];
  const unmarked: string[] = [];
  for (const s of byType(SECRET)) {
    found.push(...secretPaths(s.inputs, holdsSecret).map((p) => `${s.name}: ${p}`));
    unmarked.push(...secretPaths(s.rawInputs, holdsSecret).map((p) => `${s.name}: ${p}`));
  }
  return { found, unmarked };
}

function leaks(value: unknown): string[] {
  return leaksIn(value, secretValues);
}

describe("the leak search", () => {
  const secret = "mockpwsomething-secret";
  it("finds a secret written as is, in base64 at any offset (user:password), in hex and URL-encoded", () => {
    const found = (text: string) => encodings(secret).some((e) => text.includes(e));
    for (const prefix of ["", "u:", "us:", "user:"]) {
      assert.ok(found(Buffer.from(`${prefix}${secret}@host`).toString("base64")), `base64 after "${prefix}"`);
    }
    assert.ok(found(Buffer.from(secret).toString("hex")));
    assert.ok(found(`pw=${encodeURIComponent(secret)}`));
    assert.ok(!found(Buffer.from("user:another-password").toString("base64")));
  });
});

describe("secrets on the central stack", () => {
  let outputs: Record<string, pulumi.Output<unknown>>;
  before(async () => {
    // With an edge and client certificates: every kind of Secret the central stack can create.
    outputs = await runProgram({
      ...CENTRAL_CONFIG,
      kibanaHosts: '["kibana.example.com"]',
      edgeClusters: '["prod-eu"]',
      fluentdExternalHosts: '["logs.example.com"]',
    });
  });

  it("exports no credential at all: every output is something every edge may read", async () => {
    assert.equal(outputs.elasticPassword, undefined);
    for (const [name, output] of Object.entries(outputs)) {
      assert.equal(await pulumi.isSecret(output), false, `${name} is a secret output`);
      assert.deepEqual(leaks(await valueOf(output)), [], `output ${name} holds a secret`);
    }
  });

  it("exports the CA certificate and URLs in plain text, and nothing else secret-looking in plain text", async () => {
    for (const [name, output] of Object.entries(outputs)) {
      const plain = !(await pulumi.isSecret(output));
      if (plain) {
        assert.deepEqual(leaks(await valueOf(output)), [], `plain output ${name} leaks a secret`);
      }
    }
    assert.equal(await pulumi.isSecret(outputs.caCertPem), false);
    assert.match(String(await valueOf(outputs.caCertPem)), /BEGIN CERTIFICATE/);
  });

  it("keeps every password and private key out of all but Kubernetes Secrets", () => {
    assert.ok(secretValues.size >= 10, `only ${secretValues.size} secrets were generated`);
    for (const r of recorded.filter((x) => !SECRET_HOLDERS.has(x.type))) {
      assert.deepEqual(leaks(r.inputs), [], `${r.type} ${r.name} holds a secret value`);
    }
  });

  it("passes Helm values with no secret in them, so preview diffs stay readable and Helm's release record holds none", () => {
    const releases = byType("kubernetes:helm.sh/v3:Release");
    assert.equal(releases.length, 4);
    for (const r of releases) {
      assert.equal(containsSecret(r.rawInputs.values), false, `${r.name} values are marked secret`);
      assert.deepEqual(leaks(r.inputs.values), [], `${r.name} values hold a secret`);
    }
    const charts = byType("kubernetes:helm.sh/v4:Chart");
    assert.equal(charts.length, 1);
    for (const c of charts) {
      assert.equal(containsSecret(c.rawInputs.valueYamlFiles), false, `${c.name} values are marked secret`);
      const text = (c.inputs.valueYamlFiles as { text: string }[])[0].text;
      assert.match(text, /^imageTag: /m, `${c.name}: its values file was not read`);
      assert.deepEqual(leaks(text), [], `${c.name} values hold a secret`);
    }
  });

  it("marks every password and private key it stores in a Secret as secret, key by key", () => {
    const { found, unmarked } = secretFields(
      (v) => PRIVATE_KEY.test(v) || [...secretValues].some((s) => v.includes(s)),
    );
    assert.ok(found.length >= 10, `only ${found.length} secret fields found: ${found.join(", ")}`);
    assert.deepEqual(unmarked, [], "secret values the engine would store in plain text");
  });
});

describe("secrets on an edge stack", () => {
  // What an edge holds: its own key and password, and (knowing clusters by user) the central's shared key.
  const secrets = [CENTRAL_SHARED_KEY, "mockpwefkforwardpassword"];

  before(async () => {
    await runProgram(EDGE_CONFIG, userCentralRef());
  });

  it("marks the shared key, its password and its own key as secret in its Secrets, key by key", () => {
    const { found, unmarked } = secretFields(
      (v) => PRIVATE_KEY.test(v) || secrets.some((s) => v.includes(s)),
    );
    assert.deepEqual(found.sort(), [
      "efk-fluent-bit-credentials: stringData.FLUENT_PASSWORD",
      "efk-fluent-bit-credentials: stringData.FLUENT_SHARED_KEY",
    ]);
    assert.deepEqual(unmarked, [], "secret values the engine would store in plain text");
  });
});
