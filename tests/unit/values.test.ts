// Pure builders: no Pulumi runtime, no mocks.
import * as assert from "node:assert/strict";
import { parse } from "yaml";
import { elasticsearchDnsNames, kibanaDnsNames, serviceDnsNames } from "../../lib/names";
import { isQuantity, quantityBytes } from "../../lib/quantity";
import { clusterHealthCheckParams, elasticsearchValues, rolesYml } from "../../lib/values/elasticsearch";
import { kibanaValues, nodeHeapMiB } from "../../lib/values/kibana";

const ES_INPUT = {
  replicas: 3,
  dedicatedMasters: 0,
  masters: { cpu: "500m", memory: "1Gi", storageSize: "5Gi" },
  imageTag: "8.5.1",
  antiAffinity: "soft" as const,
  sysctlInitContainer: false,
  storageClass: "",
  storageSize: "30Gi",
  cpu: "1",
  memory: "2Gi",
  dataStreamPrefix: "efk-logs",
};

describe("quantities", () => {
  it("accepts what Kubernetes accepts and refuses look-alikes", () => {
    for (const ok of ["1", "500m", "2Gi", "1.5G", "30Gi", "100Mi"]) {
      assert.equal(isQuantity(ok), true, ok);
    }
    for (const bad of ["30GB", "2 Gi", "-1Gi", "Gi", "", "1gi", "0x10"]) {
      assert.equal(isQuantity(bad), false, bad);
    }
  });

  it("converts binary and decimal suffixes to bytes", () => {
    assert.equal(quantityBytes("2Gi"), 2147483648);
    assert.equal(quantityBytes("1G"), 1e9);
    assert.equal(quantityBytes("512Mi"), 536870912);
  });
});

describe("names", () => {
  it("lists a Service's in-cluster names from short to fully qualified", () => {
    assert.deepEqual(serviceDnsNames("svc", "ns"), [
      "svc",
      "svc.ns",
      "svc.ns.svc",
      "svc.ns.svc.cluster.local",
    ]);
  });

  it("gives Elasticsearch pod wildcard names under its headless Service", () => {
    assert.ok(
      elasticsearchDnsNames("ns", false).includes("*.elasticsearch-master-headless.ns.svc.cluster.local"),
    );
  });

  it("does not repeat an external name that is also an in-cluster one", () => {
    const names = kibanaDnsNames("ns", ["localhost", "kibana.example.com"]);
    assert.equal(names.filter((n) => n === "localhost").length, 1);
  });
});

describe("Elasticsearch values", () => {
  it("waits for green with several nodes, yellow with one (a lone node can never be green)", () => {
    assert.equal(clusterHealthCheckParams(3), "wait_for_status=green&timeout=1s");
    assert.equal(clusterHealthCheckParams(1), "wait_for_status=yellow&timeout=1s");
  });

  it("leaves the storage class out when none is configured, so the cluster default applies", () => {
    const v = elasticsearchValues(ES_INPUT, "checksum");
    assert.equal("storageClassName" in (v.volumeClaimTemplate as object), false);
    assert.equal(v.antiAffinity, "soft");
    assert.deepEqual(v.sysctlInitContainer, { enabled: false });
  });

  it("lets the Fluentd writer add documents to its own data streams and nothing else", () => {
    const roles = parse(rolesYml("efk-logs")) as Record<
      string,
      { cluster: string[]; indices: { names: string[]; privileges: string[] }[] }
    >;
    assert.deepEqual(roles.efk_fluentd_writer, {
      cluster: [],
      indices: [{ names: ["efk-logs-*"], privileges: ["create_doc", "auto_configure"] }],
    });
  });
});

describe("Kibana values", () => {
  it("sizes Node's heap to three quarters of the memory limit", () => {
    assert.equal(nodeHeapMiB("1Gi"), 768);
    assert.equal(nodeHeapMiB("2Gi"), 1536);
  });

  it("takes its encryption keys from a Secret through the environment, never inline", () => {
    const v = kibanaValues(
      { namespace: "ns", esDedicatedMasters: false, imageTag: "8.5.1", cpu: "1", memory: "1Gi", hosts: [] },
      { tlsChecksum: "tls-digest", tokenChecksum: "token-digest", timeoutSeconds: 1200 },
    );
    const yml = parse((v.kibanaConfig as Record<string, string>)["kibana.yml"]) as Record<string, string>;
    assert.equal(yml["xpack.security.encryptionKey"], "${KIBANA_SECURITY_KEY}");
    const env = (v.extraEnvs as { name: string; valueFrom?: { secretKeyRef: { name: string } } }[]).find(
      (e) => e.name === "KIBANA_SECURITY_KEY",
    );
    assert.equal(env?.valueFrom?.secretKeyRef.name, "kibana-encryption-keys");
    assert.equal("server.publicBaseUrl" in yml, false);
  });
});
