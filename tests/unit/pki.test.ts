import "../mocks";
import * as assert from "node:assert/strict";
import { byType, find } from "../mocks";
import { CENTRAL_CONFIG, runProgram } from "../harness";

const CERT = "tls:index/locallySignedCert:LocallySignedCert";
const CSR = "tls:index/certRequest:CertRequest";
const CA = "tls:index/selfSignedCert:SelfSignedCert";

describe("PKI", () => {
  before(async () => {
    await runProgram({
      ...CENTRAL_CONFIG,
      namespace: "obs",
      kibanaHosts: '["kibana.example.com"]',
      edgeClusters: '["prod-eu"]',
      fluentdExternalHosts: '["logs.example.com"]',
      fluentdExternalIps: '["203.0.113.10"]',
      certValidityHours: "2000",
      certRenewalHours: "100",
    });
  });

  it("covers every name Elasticsearch is reached by: service, headless service and each pod", () => {
    const dns = find(CSR, "efk-pki-es-http-csr").inputs.dnsNames as string[];
    for (const name of [
      "elasticsearch-master",
      "elasticsearch-master.obs",
      "elasticsearch-master.obs.svc",
      "elasticsearch-master.obs.svc.cluster.local",
      "elasticsearch-master-headless.obs.svc",
      "*.elasticsearch-master-headless.obs.svc.cluster.local",
    ]) {
      assert.ok(dns.includes(name), `${name} missing from ${dns.join(", ")}`);
    }
  });

  it("gives Kibana its service names plus the configured external names", () => {
    const dns = find(CSR, "efk-pki-kibana-csr").inputs.dnsNames as string[];
    assert.ok(dns.includes("kibana-kibana.obs.svc"));
    assert.ok(dns.includes("kibana.example.com"));
  });

  it("gives Fluentd its in-cluster names, external names and external IPs", () => {
    const csr = find(CSR, "efk-pki-fluentd-csr").inputs;
    const dns = csr.dnsNames as string[];
    assert.ok(dns.includes("fluentd.obs.svc"));
    assert.ok(dns.includes("logs.example.com"));
    assert.deepEqual(csr.ipAddresses, ["203.0.113.10"]);
  });

  it("makes two certificate authorities, marked CA, for certificate signing only", () => {
    const cas = byType(CA);
    assert.equal(cas.length, 2);
    for (const ca of cas) {
      assert.equal(ca.inputs.isCaCertificate, true);
      assert.deepEqual(ca.inputs.allowedUses, ["cert_signing", "crl_signing", "digital_signature"]);
    }
  });

  it("signs the transport certificate with the transport-only CA, and the rest with the client-trusted CA", () => {
    const caOf = (cert: string) => String(find(CERT, cert).inputs.caCertPem);
    assert.match(caOf("efk-pki-es-transport-cert"), /mock-cert-efk-pki-transport-ca/);
    for (const cert of ["efk-pki-es-http-cert", "efk-pki-kibana-cert", "efk-pki-fluentd-cert"]) {
      assert.match(caOf(cert), /mock-cert-efk-pki-ca\n/);
    }
  });

  it("issues server certificates for serving, and transport ones for both ends of a connection", () => {
    assert.deepEqual(find(CERT, "efk-pki-kibana-cert").inputs.allowedUses, [
      "digital_signature",
      "key_encipherment",
      "server_auth",
    ]);
    assert.ok(
      (find(CERT, "efk-pki-es-transport-cert").inputs.allowedUses as string[]).includes("client_auth"),
    );
  });

  it("sets the configured validity and renewal window on every certificate", () => {
    const certs = byType(CERT);
    assert.ok(certs.length >= 4);
    for (const c of certs) {
      assert.equal(c.inputs.validityPeriodHours, 2000, c.name);
      assert.equal(c.inputs.earlyRenewalHours, 100, c.name);
    }
    for (const ca of byType(CA)) {
      assert.equal(ca.inputs.earlyRenewalHours, 100, ca.name);
    }
  });
});
