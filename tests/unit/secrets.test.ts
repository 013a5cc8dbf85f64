import "../mocks";
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { byType, containsSecret, recorded, secretValues, valueOf } from "../mocks";
import { CENTRAL_CONFIG, runProgram } from "../harness";

/** Resource types allowed to hold secret values: Kubernetes Secrets and the providers that make them. */
const SECRET_HOLDERS = new Set([
  "kubernetes:core/v1:Secret",
  "random:index/randomPassword:RandomPassword",
  "tls:index/privateKey:PrivateKey",
  "tls:index/certRequest:CertRequest",
  "tls:index/locallySignedCert:LocallySignedCert",
  "tls:index/selfSignedCert:SelfSignedCert",
]);

function leaks(value: unknown): string[] {
  const text = JSON.stringify(value);
  return [...secretValues].filter((s) => text.includes(s) || text.includes(JSON.stringify(s).slice(1, -1)));
}

describe("secrets on the central stack", () => {
  let outputs: Record<string, pulumi.Output<unknown>>;
  before(async () => {
    outputs = await runProgram({ ...CENTRAL_CONFIG, kibanaHosts: '["kibana.example.com"]' });
  });

  it("exports the elastic password as a Pulumi secret", async () => {
    assert.ok(outputs.elasticPassword, "no elasticPassword output");
    assert.equal(await pulumi.isSecret(outputs.elasticPassword), true);
    assert.equal(await valueOf(outputs.elasticPassword), "mockpwefkelasticsearchelasticpassword");
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
  });

  it("marks the private keys it stores in Secrets as secret", () => {
    for (const name of ["efk-elasticsearch-tls", "efk-kibana-tls", "efk-elasticsearch-credentials"]) {
      const s = recorded.find((r) => r.name === name);
      assert.ok(s, name);
      assert.equal(containsSecret(s.rawInputs.stringData), true, `${name} data is not marked secret`);
    }
  });
});
