import "../mocks";
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { byType, find, type Recorded, valueOf } from "../mocks";
import { CENTRAL_CONFIG, runProgram } from "../harness";
import { edgeStackOutputs } from "../mocks";
import {
  pendingLimitBytes,
  renderFluentdConfig,
  ROTATION_SUFFIX_RUBY,
  type FluentdConfInput,
} from "../../lib/render/fluentd";

const RELEASE = "kubernetes:helm.sh/v3:Release";
const SECRET = "kubernetes:core/v1:Secret";
const SERVICE = "kubernetes:core/v1:Service";

const WITH_EDGES = {
  ...CENTRAL_CONFIG,
  namespace: "obs",
  edgeClusters: '["prod-eu","prod-us"]',
  fluentdExternalHosts: '["logs.example.com"]',
};

interface FluentdValues {
  kind: string;
  replicaCount: number;
  variant: string;
  image: { tag: string };
  mountVarLogDirectory: boolean;
  mountDockerContainersDirectory: boolean;
  persistence: { enabled: boolean; size: string; storageClass: string };
  service: { ports: { containerPort: number }[] };
  envFrom: { secretRef: { name: string } }[];
  volumes: { name: string; secret: { secretName: string } }[];
  volumeMounts: { name: string; mountPath: string }[];
  fileConfigs: Record<string, string>;
}

function fluentdValues(): FluentdValues {
  return find(RELEASE, "efk-fluentd-release").inputs.values as FluentdValues;
}

function conf(): string {
  return Object.values(fluentdValues().fileConfigs).join("\n");
}

function secretData(name: string): Record<string, string> {
  return find(SECRET, name).inputs.stringData as Record<string, string>;
}

describe("Fluentd aggregator release", () => {
  let outputs: Record<string, pulumi.Output<unknown>>;
  before(async () => {
    outputs = await runProgram({ ...WITH_EDGES, fluentdStorageSize: "10Gi", retentionDays: "14" });
  });

  it("is a StatefulSet of the Elasticsearch 8 variant with 3 replicas and no host log mounts", () => {
    const v = fluentdValues();
    const r = find(RELEASE, "efk-fluentd-release").inputs;
    assert.deepEqual([r.chart, r.version, r.name], ["fluentd", "0.6.0", "fluentd"]);
    assert.equal(v.kind, "StatefulSet");
    assert.equal(v.replicaCount, 3);
    assert.equal(v.variant, "elasticsearch8");
    assert.match(v.image.tag, /elasticsearch8/);
    assert.equal(v.mountVarLogDirectory, false);
    assert.equal(v.mountDockerContainersDirectory, false);
    // The chart tests truthiness: the string "false" would still render the dashboard ConfigMap.
    assert.equal((v as unknown as { dashboards: { enabled: unknown } }).dashboards.enabled, false);
  });

  it("keeps its file buffer on the volume the chart mounts at /var/log/fluent", () => {
    const v = fluentdValues();
    assert.equal(v.persistence.enabled, true);
    assert.equal(v.persistence.size, "10Gi");
    assert.match(
      conf(),
      /<buffer tag, cluster>\n\s+@type file\n\s+path \/var\/log\/fluent\/buffer\/elasticsearch\n/,
    );
  });

  it("bounds the file buffer to 80% of its volume", () => {
    assert.match(conf(), new RegExp(`total_limit_size ${Math.floor(10 * 2 ** 30 * 0.8)}\\n`));
  });

  it("listens for forward on 24224 with our input, TLS from our certificate, and a registered client certificate required", () => {
    const text = conf();
    assert.deepEqual(
      fluentdValues().service.ports.map((p) => p.containerPort),
      [24224],
    );
    assert.match(text, /@type efk_forward\n[\s\S]*port 24224\n[\s\S]*<transport tls>/);
    assert.match(text, /identity certificate\n\s+client_certs_dir \/fluentd\/clients\n/);
    assert.match(text, /cert_path \/fluentd\/tls\/tls\.crt/);
    assert.match(text, /ca_path \/fluentd\/tls\/ca\.crt\n\s+client_cert_auth true/);
    // The key is the identity: no secret every edge would have to hold.
    assert.doesNotMatch(text, /<security>|shared_key|user_auth|FLUENT_PASSWORD/);
  });

  it("offers TLS 1.2 only with forward-secret AEAD suites, and TLS 1.3", () => {
    const text = conf();
    assert.match(text, /min_version TLSv1_2\n\s+max_version TLSv1_3\n/);
    const ciphers = /ciphers (\S+)\n/.exec(text)?.[1].split(":") ?? [];
    assert.ok(ciphers.length >= 4, `ciphers: ${ciphers.join(", ")}`);
    for (const c of ciphers) {
      assert.match(c, /^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/, c);
    }
  });

  it("bounds each message at 8 MiB (16 KiB before a handshake) and emits by the sender's identity", () => {
    const text = conf();
    assert.match(
      text,
      /message_limit 8388608\n\s+handshake_limit 16384\n\s+pending_limit \d+\n\s+tag_prefix efk\n\s+record_key cluster\n/,
    );
    assert.match(text, /oversized_metric efk_fluentd_forward_oversized_messages_total\n/);
    // Over all its connections, a worker holds a fifth of its memory (512Mi, one worker here) in messages.
    assert.match(text, /pending_limit 107374182\n/);
    assert.equal(pendingLimitBytes(512 * 2 ** 20, 2), Math.floor((256 * 2 ** 20) / 5));
    // Never below two whole messages, however small the pod.
    assert.equal(pendingLimitBytes(64 * 2 ** 20, 4), 2 * 8 * 2 ** 20);
    assert.match(text, /impersonation_metric efk_fluentd_forward_impersonated_records_total\n/);
  });

  it("fills every environment variable the configuration reads from the Secret it mounts", () => {
    const v = fluentdValues();
    const envSecret = byType(SECRET).find(
      (s) => (s.inputs.metadata as { name: string }).name === v.envFrom[0].secretRef.name,
    ) as Recorded;
    const read = [...conf().matchAll(/ENV\.fetch\('([A-Z0-9_]+)'\)/g)].map((m) => m[1]);
    assert.ok(read.length >= 1);
    for (const name of read) {
      assert.ok(name in (envSecret.inputs.stringData as object), `${name} is read but not provided`);
    }
  });

  it("mounts the certificate files its configuration names", () => {
    const v = fluentdValues();
    const mount = v.volumeMounts.find((m) => m.name === "tls");
    const volume = v.volumes.find((m) => m.name === "tls");
    assert.ok(mount && volume);
    const data = secretData("efk-fluentd-tls");
    assert.equal(
      (find(SECRET, "efk-fluentd-tls").inputs.metadata as { name: string }).name,
      volume.secret.secretName,
    );
    const files = [...conf().matchAll(/(?:cert_path|private_key_path|ca_file|ca_path) (\S+)/g)].map(
      (m) => m[1],
    );
    assert.ok(files.length >= 3);
    for (const f of files) {
      assert.ok(f.startsWith(`${mount.mountPath}/`), f);
      assert.ok(f.slice(mount.mountPath.length + 1) in data, `${f} is not in the TLS Secret`);
    }
  });

  it("writes to Elasticsearch over verified HTTPS as the least-privilege user, never as elastic", () => {
    const text = conf();
    assert.match(text, /@type elasticsearch\n/);
    assert.match(
      text,
      /host elasticsearch-master\.obs\.svc\n\s+port 9200\n\s+scheme https\n\s+ssl_verify true/,
    );
    assert.match(text, /user efk-fluentd\n/);
    assert.doesNotMatch(text, /user elastic\b/);
    assert.equal(
      secretData("efk-fluentd-credentials").ES_WRITER_PASSWORD,
      "mockpwefkelasticsearchwriterpassword",
    );
  });

  it("creates documents in the data stream every cluster shares, outside logs-*-*", () => {
    const text = conf();
    assert.match(text, /index_name efk-logs-shared\n/);
    assert.doesNotMatch(text, /target_index_key|efk_stream/);
    // Data streams accept only op_type create.
    assert.match(text, /write_operation create\n/);
    // Data streams need @timestamp: the cluster filter copies the line's own timestamp (a DateTime per
    // record in the output cost about 5% of the aggregator's CPU on real records).
    assert.match(text, /include_timestamp false\n/);
    const filter = text.slice(text.indexOf("@type record_modifier"), text.indexOf("</record>"));
    assert.ok(
      filter.includes(`@timestamp "\${t = record['time']; t.is_a?(String) && t.match?(/\\\\A[0-9]{4}-`),
      filter,
    );
    assert.doesNotMatch(text, /elasticsearch_data_stream|template_name|ilm/);
  });

  it("gives each record an id before it is buffered, so a resent chunk creates nothing twice", () => {
    const text = conf();
    const filter = text.indexOf("@type elasticsearch_genid");
    assert.ok(
      filter > 0 && filter < text.indexOf("@type elasticsearch\n"),
      "id filter missing or after the output",
    );
    assert.match(text, /hash_id_key efk_id\n/);
    assert.match(text, /  id_key efk_id\n/);
    // Removing the id from the record blinds the plugin's error handler to refused items.
    assert.doesNotMatch(text, /remove_keys/);
  });

  it("names a line read from a rotated file after the container's log, before its id is derived", () => {
    const text = conf();
    const rewrite = text.indexOf(
      `key log_file\n      expression ${ROTATION_SUFFIX_RUBY}\n      replace .log\n`,
    );
    assert.ok(rewrite > 0 && rewrite < text.indexOf("@type elasticsearch_genid"), "no rewrite before the id");
    // The same pattern, read as JavaScript: the kubelet's rotation suffix goes, nothing else does.
    const suffix = new RegExp(ROTATION_SUFFIX_RUBY.slice(1, -1));
    const strip = (f: string) => f.replace(suffix, ".log");
    assert.equal(strip("/var/log/pods/ns_p_u/app/0.log.20261129-103000"), "/var/log/pods/ns_p_u/app/0.log");
    assert.equal(strip("/var/log/pods/ns_p_u/app/0.log"), "/var/log/pods/ns_p_u/app/0.log");
    assert.equal(
      strip("/var/log/pods/ns_p_u/app/0.log.20261129-103000.gz"),
      "/var/log/pods/ns_p_u/app/0.log.20261129-103000.gz",
    );
  });

  it("derives each id from where the line was read and the line itself, not at random", () => {
    const text = conf();
    // A random id (the filter's default) makes every resend of a line a second document.
    assert.match(text, /use_record_as_seed true\n/);
    assert.match(text, /record_keys cluster,log_file,log_offset,time,stream,log\n/);
    // A separator that no field but the last (the raw line) can contain: no two field lists join alike.
    assert.match(text, /separator "\\n"\n/);
    assert.match(text, /hash_type sha256\n/);
  });

  it("keeps records Elasticsearch refuses for good in a dead-letter file on the buffer volume", () => {
    assert.match(
      conf(),
      /<label @ERROR>\n[\s\S]*@type file\n[\s\S]*path \/var\/log\/fluent\/dead-letter\/records\n/,
    );
  });

  it("blocks instead of dropping, retries forever and flushes at shutdown", () => {
    const text = conf();
    assert.match(text, /overflow_action block/);
    assert.match(text, /retry_forever true/);
    assert.match(text, /flush_at_shutdown true/);
  });

  it("sizes the Elasticsearch buffer for memory: 2 threads of 2 MB chunks, each chunk one bulk request, flushed back to back", () => {
    const text = conf();
    assert.match(text, /flush_thread_count 2\n/);
    assert.match(text, /chunk_limit_size 2MB\n/);
    assert.match(text, /flush_thread_burst_interval 0.1\n/);
    // Room in the queue for every cluster's chunk (hub, prod-eu, prod-us), not only the flush threads' 2.
    assert.match(text, /queued_chunks_limit_size 3\n/);
    // Splitting a chunk into several requests sends a request that fails mid-chunk to @ERROR, unretried.
    assert.doesNotMatch(text, /bulk_message_request_threshold/);
  });

  it("reads every secret with ENV.fetch, so a missing one stops Fluentd instead of becoming empty", () => {
    assert.doesNotMatch(conf(), /ENV\[/);
  });

  it("takes each record's cluster from its sender's identity (the tag), and only registered names", () => {
    // The whole value, start to end of string (\A, \z): Ruby's ^ and $ would match at a line break.
    assert.ok(
      conf().includes(
        "cluster \"${tag_parts[1].match?(/\\\\A(?:hub|prod-eu|prod-us)\\\\z/) ? tag_parts[1] : 'unregistered'}\"",
      ),
      "no filter sets the cluster from the tag and sends the rest to unregistered",
    );
    assert.doesNotMatch(conf(), /record\['cluster'\]/);
  });

  it("opens an external LoadBalancer Service to the aggregator's pods for edges", () => {
    const svc = find(SERVICE, "efk-fluentd-external").inputs as {
      spec: { type: string; selector: Record<string, string>; ports: { port: number; targetPort: number }[] };
    };
    assert.equal(svc.spec.type, "LoadBalancer");
    assert.deepEqual(svc.spec.selector, {
      "app.kubernetes.io/name": "fluentd",
      "app.kubernetes.io/instance": "fluentd",
    });
    assert.deepEqual([svc.spec.ports[0].port, svc.spec.ports[0].targetPort], [24224, 24224]);
  });

  it("exports the endpoint edges dial, a name in the Fluentd certificate", async () => {
    const endpoint = (await valueOf(outputs.forwardEndpoint)) as {
      host: string;
      port: number;
      serverName: string;
    };
    assert.deepEqual(endpoint, { host: "logs.example.com", port: 24224, serverName: "logs.example.com" });
    const dns = find("tls:index/certRequest:CertRequest", "efk-pki-fluentd-csr").inputs.dnsNames as string[];
    assert.ok(dns.includes(endpoint.serverName));
  });

  it("exports each registered edge with the certificate it signed for that edge's own request, and no secret", async () => {
    assert.equal(await pulumi.isSecret(outputs.forwardEdges), false);
    assert.equal(outputs.forwardSharedKey, undefined);
    assert.equal(await valueOf(outputs.forwardAuth), "certificate");
    const edges = (await valueOf(outputs.forwardEdges)) as Record<string, { clientCertPem: string }>;
    assert.deepEqual(Object.keys(edges).sort(), ["prod-eu", "prod-us"]);
    assert.match(edges["prod-eu"].clientCertPem, /mock-cert-efk-pki-edge-prod-eu/);
    assert.doesNotMatch(JSON.stringify(edges), /PRIVATE KEY/);
  });

  it("admits exactly the registered clusters' certificates, from a ConfigMap it mounts at client_certs_dir", () => {
    const cm = find("kubernetes:core/v1:ConfigMap", "efk-fluentd-clients").inputs as {
      metadata: { name: string };
      data: Record<string, string>;
    };
    assert.deepEqual(Object.keys(cm.data).sort(), ["hub.crt", "prod-eu.crt", "prod-us.crt"]);
    assert.match(cm.data["prod-eu.crt"], /mock-cert-efk-pki-edge-prod-eu/);
    const v = fluentdValues() as unknown as {
      volumes: { name: string; configMap?: { name: string } }[];
      volumeMounts: { name: string; mountPath: string }[];
    };
    const volume = v.volumes.find((x) => x.configMap?.name === cm.metadata.name);
    assert.ok(volume, "the clients ConfigMap is not a volume");
    assert.deepEqual(
      v.volumeMounts.filter((m) => m.name === volume.name).map((m) => m.mountPath),
      ["/fluentd/clients"],
    );
  });
});

describe("Fluentd aggregator: data stream layouts", () => {
  it("with indexLayout per-cluster: a stream per cluster, named from the buffer's cluster key", async () => {
    await runProgram({ ...WITH_EDGES, indexLayout: "per-cluster" });
    assert.match(conf(), /index_name efk-logs-\$\{cluster\}\n/);
    assert.match(conf(), /<buffer tag, cluster>/);
  });

  it("with dedicated streams: those clusters' own streams, the others' the shared one, the routing field never stored", async () => {
    await runProgram({ ...WITH_EDGES, dedicatedStreams: '["prod-us"]' });
    const text = conf();
    assert.match(text, /index_name efk-logs-shared\n\s+target_index_key efk_stream\n/);
    assert.ok(
      text.includes(
        "efk_stream \"${tag_parts[1].match?(/\\\\A(?:prod-us)\\\\z/) ? 'efk-logs-' + tag_parts[1] : 'efk-logs-shared'}\"",
      ),
      text,
    );
    // target_index_key takes the field off the record before it is sent: nothing else may read it.
    assert.doesNotMatch(text, /record_keys [^\n]*efk_stream/);
  });
});

describe("Fluentd aggregator with clientCertAuth false", () => {
  it("gives each cluster a fair share of the Elasticsearch output's buffer once it is half full", async () => {
    await runProgram(WITH_EDGES);
    assert.match(
      conf(),
      /fair_share_output out_elasticsearch\n\s+fair_share_from 0\.5\n\s+fair_share_factor 2\n\s+fair_share_window 10s\n\s+deferred_metric efk_fluentd_forward_deferred_messages_total\n/,
    );
    // The id it names is the output's.
    assert.match(conf(), /@type elasticsearch\n\s+@id out_elasticsearch\n/);
  });

  it("with clientCertAuth false: the shared key and one user per cluster, read from the environment", async () => {
    await runProgram({ ...WITH_EDGES, clientCertAuth: "false" });
    const text = conf();
    assert.match(text, /identity user\n/);
    assert.match(text, /shared_key "#\{ENV\.fetch\('FLUENT_SHARED_KEY'\)\}"/);
    assert.match(text, /user_auth true/);
    for (const cluster of ["hub", "prod-eu", "prod-us"]) {
      const env = `FLUENT_PASSWORD_${cluster.toUpperCase().replace("-", "_")}`;
      assert.match(text, new RegExp(`username ${cluster}\\n\\s+password "#\\{ENV\\.fetch\\('${env}'\\)\\}"`));
    }
    assert.doesNotMatch(text, /client_cert_auth|client_certs_dir/);
    // Each edge's password is the one its own stack made; the hub's is made here.
    const env = secretData("efk-fluentd-credentials");
    assert.equal(env.FLUENT_PASSWORD_PROD_EU, "edge-password-prod-eu");
    assert.equal(env.FLUENT_PASSWORD_PROD_US, "edge-password-prod-us");
    assert.equal(env.FLUENT_PASSWORD_HUB, "mockpwefkforwardpasswordhub");
    const read = [...text.matchAll(/ENV\.fetch\('([A-Z0-9_]+)'\)/g)].map((m) => m[1]);
    assert.deepEqual(
      read.filter((n) => !(n in env)),
      [],
      "read but not provided",
    );
  });
});

describe("Fluentd aggregator: registering and revoking clusters", () => {
  it("revokes a cluster removed from edgeClusters: no certificate, no file to admit it by, nothing exported", async () => {
    const outputs = await runProgram({ ...WITH_EDGES, edgeClusters: '["prod-us"]' });
    assert.doesNotMatch(conf(), /prod-eu/);
    const cm = find("kubernetes:core/v1:ConfigMap", "efk-fluentd-clients").inputs.data as Record<
      string,
      string
    >;
    assert.deepEqual(Object.keys(cm).sort(), ["hub.crt", "prod-us.crt"]);
    assert.equal(
      byType("tls:index/locallySignedCert:LocallySignedCert").some((r) => r.name.includes("prod-eu")),
      false,
    );
    assert.equal(
      byType("pulumi:pulumi:StackReference").some((r) => r.name.includes("prod-eu")),
      false,
    );
    assert.deepEqual(Object.keys((await valueOf(outputs.forwardEdges)) as object), ["prod-us"]);
  });

  it("signs each edge's own request for client authentication only, read from that edge's stack", async () => {
    await runProgram(WITH_EDGES);
    const ref = find("pulumi:pulumi:StackReference", "efk-edge-prod-eu");
    assert.equal(ref.inputs.name, "organization/efk/prod-eu");
    const cert = find("tls:index/locallySignedCert:LocallySignedCert", "efk-pki-edge-prod-eu").inputs;
    assert.deepEqual(cert.allowedUses, ["digital_signature", "key_encipherment", "client_auth"]);
    assert.match(String(cert.certRequestPem), /mock-csr-edge-prod-eu/);
    // The central makes no key for an edge: the edge keeps its own.
    assert.equal(
      byType("tls:index/privateKey:PrivateKey").some((r) => r.name.includes("prod-eu")),
      false,
    );
  });

  it("reads each edge's stack under efk:edgeStackName", async () => {
    await runProgram(
      { ...WITH_EDGES, edgeStackName: "acme/efk-edges/edge-{cluster}" },
      {
        "acme/efk-edges/edge-prod-eu": edgeStackOutputs("prod-eu"),
        "acme/efk-edges/edge-prod-us": edgeStackOutputs("prod-us"),
      },
    );
    assert.deepEqual(
      byType("pulumi:pulumi:StackReference")
        .map((r) => r.inputs.name)
        .sort(),
      ["acme/efk-edges/edge-prod-eu", "acme/efk-edges/edge-prod-us"],
    );
  });

  it("uses a node port when configured so, and no external Service for None", async () => {
    let outputs = await runProgram({
      ...WITH_EDGES,
      fluentdServiceType: "NodePort",
      fluentdNodePort: "31000",
    });
    const svc = find(SERVICE, "efk-fluentd-external").inputs as {
      spec: { type: string; ports: { nodePort: number }[] };
    };
    assert.equal(svc.spec.type, "NodePort");
    assert.equal(svc.spec.ports[0].nodePort, 31000);
    assert.equal(((await valueOf(outputs.forwardEndpoint)) as { port: number }).port, 31000);

    outputs = await runProgram({ ...CENTRAL_CONFIG, fluentdServiceType: "None" });
    assert.equal(byType(SERVICE).length, 0);
    assert.equal(outputs.forwardEndpoint, undefined);
  });
});

describe("Fluentd aggregator: workers", () => {
  interface WorkerValues {
    podAnnotations: Record<string, string>;
    initContainers: {
      name: string;
      image: string;
      command: string[];
      volumeMounts: { name: string; mountPath: string }[];
    }[];
  }
  const mainFiles = () =>
    find("kubernetes:core/v1:ConfigMap", "efk-fluentd-main-config").inputs.data as Record<string, string>;

  it("runs one worker per CPU the pod requests, rounded up, when fluentdWorkers is 0", async function () {
    // Four runs of the program: more than mocha's default 2 s on a loaded machine.
    this.timeout(20_000);
    for (const [cpu, workers] of [
      ["500m", 1],
      ["1", 1],
      ["1500m", 2],
      ["4", 4],
    ] as const) {
      await runProgram({ ...CENTRAL_CONFIG, fluentdCpu: cpu });
      const system = /<system>\n\s+workers (\d+)\n/.exec(mainFiles()["fluent.conf"]);
      assert.equal(system ? Number(system[1]) : 1, workers, `fluentdCpu ${cpu}`);
    }
  });

  it("with fluentdWorkers 3: three processes sharing the buffer limit, and an init container that hands on gone workers' chunks", async () => {
    await runProgram({ ...CENTRAL_CONFIG, fluentdWorkers: "3", fluentdStorageSize: "10Gi" });
    assert.match(mainFiles()["fluent.conf"], /<system>\n\s+workers 3\n<\/system>/);
    // Each worker buffers on its own: a third of the pod's limit each.
    assert.match(conf(), new RegExp(`total_limit_size ${Math.floor(Math.floor(10 * 2 ** 30 * 0.8) / 3)}\\n`));
    const v = fluentdValues() as unknown as WorkerValues;
    const init = v.initContainers.find((c) => c.name === "buffer-workers");
    assert.ok(init, "no init container");
    assert.deepEqual(init.command, [
      "sh",
      "/etc/fluent/buffer-workers.sh",
      "3",
      "/var/log/fluent/buffer/elasticsearch",
      "/var/log/fluent/buffer/dead-letter",
    ]);
    assert.equal(
      init.image,
      `fluent/fluentd-kubernetes-daemonset:${(v as unknown as FluentdValues).image.tag}`,
    );
    assert.deepEqual(
      init.volumeMounts.map((m) => [m.name, m.mountPath]),
      [
        ["etcfluentd-main", "/etc/fluent"],
        ["fluentd-buffer", "/var/log/fluent"],
      ],
    );
    assert.ok(mainFiles()["buffer-workers.sh"].startsWith("#!/bin/sh"));
  });

  it("loads our counter plugin into the image's plugin directory from the main ConfigMap, and rolls the pods when it changes", async () => {
    await runProgram(CENTRAL_CONFIG);
    const v = fluentdValues() as unknown as WorkerValues & {
      volumeMounts: { name: string; mountPath: string; subPath?: string; readOnly?: boolean }[];
    };
    assert.deepEqual(
      v.volumeMounts.filter((m) => m.mountPath.startsWith("/fluentd/plugins")),
      [
        "filter_efk_count.rb",
        "in_efk_forward.rb",
        "in_efk_certificates.rb",
        "efk_certificate_metrics.rb",
      ].map((file) => ({
        name: "etcfluentd-main",
        mountPath: `/fluentd/plugins/${file}`,
        subPath: file,
        readOnly: true,
      })),
    );
    const files = mainFiles();
    assert.match(files["filter_efk_count.rb"], /register_filter\('efk_count', self\)/);
    assert.match(files["in_efk_forward.rb"], /register_input\('efk_forward', self\)/);
    // Every counter in the configuration is ours; none labels each record with the prometheus filter.
    const text = `${conf()}\n${files["fluent.conf"]}`;
    assert.equal((text.match(/@type efk_count\n/g) ?? []).length, 3);
    assert.doesNotMatch(text, /@type prometheus\n\s+<metric>/);
    assert.equal(
      v.podAnnotations["efk-pulumi/main-config-checksum"],
      createHash("sha256")
        .update(
          JSON.stringify({
            "fluent.conf": files["fluent.conf"],
            "buffer-workers.sh": files["buffer-workers.sh"],
            "filter_efk_count.rb": files["filter_efk_count.rb"],
            "in_efk_forward.rb": files["in_efk_forward.rb"],
            "in_efk_certificates.rb": files["in_efk_certificates.rb"],
            "efk_certificate_metrics.rb": files["efk_certificate_metrics.rb"],
          }),
        )
        .digest("hex"),
    );
  });

  it("restarts the aggregator when its certificate, its CA or a client's is renewed or revoked: their digest is a pod annotation", async () => {
    await runProgram(CENTRAL_CONFIG);
    const pem = (name: string) =>
      String(find("tls:index/locallySignedCert:LocallySignedCert", name).outputs.certPem);
    const ca = String(find("tls:index/selfSignedCert:SelfSignedCert", "efk-pki-ca").outputs.certPem);
    const annotations = (fluentdValues() as unknown as WorkerValues).podAnnotations;
    assert.equal(
      annotations["efk-pulumi/tls-checksum"],
      createHash("sha256")
        .update(`${pem("efk-pki-fluentd-cert")}\n${ca}\n${pem("efk-pki-client-hub-cert")}`)
        .digest("hex"),
    );
  });

  it("runs on jemalloc, which the image ships and leaves off, with one arena that hands freed pages back", async () => {
    await runProgram(CENTRAL_CONFIG);
    const env = (fluentdValues() as unknown as { env: { name: string; value: string }[] }).env;
    assert.deepEqual(
      env.filter((e) => e.name === "LD_PRELOAD" || e.name === "MALLOC_CONF"),
      [
        { name: "LD_PRELOAD", value: "/usr/lib/libjemalloc.so.2" },
        { name: "MALLOC_CONF", value: "narenas:1,dirty_decay_ms:1000,muzzy_decay_ms:0" },
      ],
    );
  });

  it("rolls the pods when the worker count changes: our fluent.conf's checksum is a pod annotation", async () => {
    const checksum = async (workers: string) => {
      await runProgram({ ...CENTRAL_CONFIG, fluentdWorkers: workers });
      return (fluentdValues() as unknown as WorkerValues).podAnnotations["efk-pulumi/main-config-checksum"];
    };
    const [one, two] = [await checksum("1"), await checksum("2")];
    assert.match(one, /^[0-9a-f]{64}$/);
    assert.notEqual(one, two);
  });
});

describe("Fluentd configuration renderer", () => {
  const base: FluentdConfInput = {
    forwardPort: 24224,
    metricsPort: 24231,
    tls: { certPath: "/t/tls.crt", keyPath: "/t/tls.key" },
    identity: { kind: "user" },
    layout: { kind: "shared", dedicated: [] },
    pendingLimitBytes: 64 * 2 ** 20,
    clusters: ["a"],
    elasticsearch: { host: "es", port: 9200, caPath: "/t/ca.crt", user: "w" },
    dataStreamPrefix: "efk-logs",
    bufferDir: "/b",
    deadLetterDir: "/d",
    bufferLimitBytes: 1000,
    workers: 1,
  };

  it("refuses to render an aggregator nobody may forward to", () => {
    assert.throws(() => renderFluentdConfig({ ...base, clusters: [] }), /no cluster is registered/);
  });

  it("keeps the prometheus source the chart's probes call", () => {
    assert.match(
      renderFluentdConfig(base)["01_sources.conf"],
      /@type prometheus\n\s+@id in_prometheus\n\s+bind 0\.0\.0\.0\n\s+port 24231/,
    );
  });
});
