import "../mocks";
import * as assert from "node:assert/strict";
import { byType, find } from "../mocks";
import { CENTRAL_CONFIG, runProgram } from "../harness";
import {
  excludePaths,
  fluentBitConfFile,
  renderFluentBitConfig,
  type FluentBitConfInput,
} from "../../lib/render/fluentBit";

const INPUT: FluentBitConfInput = {
  clusterName: "prod-eu",
  forward: {
    host: "logs.example.com",
    port: 24224,
    tlsVhost: "logs.example.com",
    caFile: "/fluent-bit/tls/ca.crt",
    userAuth: true,
  },
  bufferLimitBytes: 2147483648,
  backfillHours: 24,
  excludeNamespaces: ["kube-system"],
  excludeContainers: ["istio-proxy"],
  ownNamespace: "logging",
  metricsPort: 2020,
};

/** The value of `key` in the first `[name]` section that has it. */
function setting(text: string, name: string, key: string): string | undefined {
  for (const block of text.split(/^(?=\[)/m)) {
    if (block.startsWith(`[${name}]`)) {
      const m = new RegExp(`^\\s+${key.replace(/\./g, "\\.")}\\s+(.*)$`, "mi").exec(block);
      if (m) {
        return m[1].trim();
      }
    }
  }
  return undefined;
}

describe("Fluent Bit configuration renderer", () => {
  const conf = fluentBitConfFile(renderFluentBitConfig(INPUT));
  // fluentBitBackfillHours 0: no age limit.
  const unbounded = fluentBitConfFile(renderFluentBitConfig({ ...INPUT, backfillHours: 0 }));

  it("tails container logs with the docker and cri multiline parsers, offsets kept on the host", () => {
    // The kubelet's own layout: current files, and the one it rotated last (compressed ones excluded).
    assert.equal(setting(conf, "INPUT", "Path"), "/var/log/pods/*/*/*.log,/var/log/pods/*/*/*.log.*");
    assert.equal(setting(conf, "INPUT", "multiline.parser"), "docker, cri");
    assert.equal(setting(conf, "INPUT", "DB"), "/var/lib/fluent-bit/tail.db");
  });

  it("buffers on the filesystem, bounded by the configured size", () => {
    assert.equal(setting(conf, "SERVICE", "storage.path"), "/var/lib/fluent-bit/storage/");
    assert.equal(setting(conf, "INPUT", "storage.type"), "filesystem");
    assert.equal(setting(conf, "OUTPUT", "storage.total_limit_size"), "2147483648");
  });

  it("adds kubernetes metadata and the cluster field", () => {
    assert.match(conf, /\[FILTER\]\n\s+Name\s+kubernetes\n/);
    assert.match(conf, /Name\s+record_modifier\n\s+Match\s+\*\n\s+Record\s+cluster prod-eu\n/);
  });

  it("forwards over TLS with certificate and host name verified against the central CA", () => {
    assert.equal(setting(conf, "OUTPUT", "Name"), "forward");
    assert.equal(setting(conf, "OUTPUT", "tls"), "On");
    assert.equal(setting(conf, "OUTPUT", "tls.verify"), "On");
    assert.equal(setting(conf, "OUTPUT", "tls.verify_hostname"), "On");
    assert.equal(setting(conf, "OUTPUT", "tls.vhost"), "logs.example.com");
    assert.equal(setting(conf, "OUTPUT", "tls.ca_file"), "/fluent-bit/tls/ca.crt");
    assert.equal(setting(conf, "OUTPUT", "tls.crt_file"), undefined);
  });

  it("authenticates with the shared key and this cluster's user, secrets from the environment", () => {
    assert.equal(setting(conf, "OUTPUT", "Shared_Key"), "${FLUENT_SHARED_KEY}");
    assert.equal(setting(conf, "OUTPUT", "Username"), "prod-eu");
    assert.equal(setting(conf, "OUTPUT", "Password"), "${FLUENT_PASSWORD}");
    assert.equal(setting(conf, "OUTPUT", "Self_Hostname"), "prod-eu-fluent-bit");
  });

  it("sends no shared key, user or password when its client certificate is its identity", () => {
    const text = renderFluentBitConfig({ ...INPUT, forward: { ...INPUT.forward, userAuth: false } }).outputs;
    for (const key of ["Shared_Key", "Username", "Password", "Self_Hostname"]) {
      assert.equal(setting(text, "OUTPUT", key), undefined, key);
    }
  });

  it("sends one tag per cluster, so the aggregator buffers per cluster, not per container", () => {
    assert.equal(setting(conf, "OUTPUT", "Tag"), "efk.prod-eu");
  });

  it("waits for acks, never gives up, and sends events Fluentd 1.19 accepts", () => {
    assert.equal(setting(conf, "OUTPUT", "Require_Ack_Response"), "On");
    assert.equal(setting(conf, "OUTPUT", "Retry_Limit"), "no_limits");
    assert.equal(setting(conf, "OUTPUT", "Retain_Metadata_In_Forward_Mode"), "Off");
  });

  it("presents a client certificate when the aggregator requires one", () => {
    const withCert = fluentBitConfFile(
      renderFluentBitConfig({
        ...INPUT,
        forward: { ...INPUT.forward, clientCert: { certFile: "/c.crt", keyFile: "/c.key" } },
      }),
    );
    assert.equal(setting(withCert, "OUTPUT", "tls.crt_file"), "/c.crt");
    assert.equal(setting(withCert, "OUTPUT", "tls.key_file"), "/c.key");
  });

  it("never reads the files of excluded namespaces and containers, nor the logging stack's own agents", () => {
    assert.equal(
      setting(conf, "INPUT", "Exclude_Path"),
      "*.gz,*.tmp,/var/log/pods/logging_*/fluent-bit/*,/var/log/pods/logging_*/fluentd/*," +
        "/var/log/pods/kube-system_*/*/*,/var/log/pods/*/istio-proxy/*",
    );
    assert.equal(
      excludePaths([], [], "obs"),
      "*.gz,*.tmp,/var/log/pods/obs_*/fluent-bit/*,/var/log/pods/obs_*/fluentd/*",
    );
  });

  it("reads a file its DB does not know from the start, also at startup (files created or rotated while it was down)", () => {
    // Off (the default), a file that appeared while the agent was down is read only from where it stood
    // when the agent started: every line written to it meanwhile is lost.
    assert.equal(setting(conf, "INPUT", "Read_from_Head"), "On");
  });

  it("bounds what a new agent reads back by the files' age, and not at all with 0", () => {
    assert.equal(setting(conf, "INPUT", "Ignore_Older"), "24h");
    assert.equal(setting(unbounded, "INPUT", "Ignore_Older"), undefined);
  });

  it("puts the file and offset of each line into its record, which its id is derived from", () => {
    assert.equal(setting(conf, "INPUT", "Path_Key"), "log_file");
    assert.equal(setting(conf, "INPUT", "Offset_Key"), "log_offset");
  });

  it("follows a rotated file until it is older than Ignore_Older, so the rotated-file pattern never reads it again", () => {
    // Once let go, a rotated file loses its offset and would be read again from its start.
    assert.equal(setting(conf, "INPUT", "Rotate_Wait"), String(25 * 3600));
    assert.equal(setting(unbounded, "INPUT", "Rotate_Wait"), String(365 * 24 * 3600));
  });

  it("gives up on a silent connection after 60 s and sends the chunk again, instead of waiting forever", () => {
    // The default (0) waits for an acknowledgement forever when the aggregator vanished without a reset.
    assert.equal(setting(conf, "OUTPUT", "net.io_timeout"), "60s");
  });

  it("replaces a kept-alive connection after 100 flushes, so agents spread over the aggregator's replicas", () => {
    // Fluent Bit's default (2000) keeps an agent on one replica for a long time.
    assert.equal(setting(conf, "OUTPUT", "net.keepalive_max_recycle"), "100");
    assert.equal(setting(conf, "OUTPUT", "Alias"), "to_aggregator");
  });

  it("retries a chunk at least every 30 s", () => {
    // The default retry cap (2000 s) leaves a backlog waiting up to half an hour after the aggregator is back.
    assert.equal(setting(conf, "SERVICE", "scheduler.cap"), "30");
  });

  it("keeps chunks without checksums, so a chunk being written when the agent is killed is still read", () => {
    assert.equal(setting(conf, "SERVICE", "storage.checksum"), "Off");
    assert.equal(setting(conf, "SERVICE", "storage.sync"), "normal");
  });

  it("names the API server, the service account and the tag prefix the kubernetes filter relies on", () => {
    assert.equal(setting(conf, "FILTER", "Kube_URL"), "https://kubernetes.default.svc:443");
    assert.equal(
      setting(conf, "FILTER", "Kube_Token_File"),
      "/var/run/secrets/kubernetes.io/serviceaccount/token",
    );
    assert.equal(setting(conf, "FILTER", "Kube_Tag_Prefix"), "kube.var.log.pods.");
    assert.equal(setting(conf, "FILTER", "Regex_Parser"), "efk-kubelet-pod-log");
  });

  it("reads namespace, pod and container from a tag of the kubelet's layout, rotated files included", () => {
    const parsers = renderFluentBitConfig(INPUT).customParsers;
    assert.equal(setting(parsers, "PARSER", "Name"), "efk-kubelet-pod-log");
    assert.equal(setting(conf, "SERVICE", "Parsers_File"), "/fluent-bit/etc/parsers.conf");
    assert.match(conf, /Parsers_File\s+\/fluent-bit\/etc\/conf\/custom_parsers\.conf\n/);
    // Fluent Bit's regex engine is Onigmo; these names and this syntax read the same in JavaScript.
    const regex = new RegExp(setting(parsers, "PARSER", "Regex") as string);
    const tag = (path: string) => path.replace(/^\/var\/log\/pods\//, "").replace(/\//g, ".");
    for (const [path, pod] of [
      ["/var/log/pods/shop_web-7d9f.a-1_0a1b2c3d-1111-2222-3333-444455556666/app/0.log", "web-7d9f.a-1"],
      ["/var/log/pods/shop_db-0_0a1b2c3d-1111-2222-3333-444455556666/app/3.log.20261129-103000", "db-0"],
    ]) {
      assert.deepEqual(
        { ...regex.exec(tag(path))?.groups },
        {
          namespace_name: "shop",
          pod_name: pod,
          pod_uid: "0a1b2c3d-1111-2222-3333-444455556666",
          container_name: "app",
        },
      );
    }
  });

  it("nests applications' JSON under one key and reads lines up to 1 MiB", () => {
    assert.equal(setting(conf, "FILTER", "Merge_Log_Key"), "log_processed");
    assert.equal(setting(conf, "INPUT", "Buffer_Max_Size"), "1M");
  });
});

describe("Fluent Bit on the central cluster", () => {
  before(async () => {
    await runProgram({ ...CENTRAL_CONFIG, namespace: "obs", fluentBitExcludeNamespaces: '["kube-system"]' });
  });

  interface FluentBitValues {
    kind: string;
    config: Record<string, string>;
    envFrom: { secretRef: { name: string } }[];
    daemonSetVolumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
    extraVolumes: { name: string; secret: { secretName: string } }[];
    testFramework: { enabled: boolean };
  }

  function values(): FluentBitValues {
    return find("kubernetes:helm.sh/v3:Release", "efk-fluent-bit-release").inputs.values as FluentBitValues;
  }

  it("ships to the in-cluster aggregator Service, verifying its in-cluster name", () => {
    const out = values().config.outputs;
    assert.equal(setting(out, "OUTPUT", "Host"), "fluentd.obs.svc");
    assert.equal(setting(out, "OUTPUT", "tls.vhost"), "fluentd.obs.svc");
    const dns = find("tls:index/certRequest:CertRequest", "efk-pki-fluentd-csr").inputs.dnsNames as string[];
    assert.ok(dns.includes("fluentd.obs.svc"));
  });

  it("presents the certificate the central issued its own cluster, made and kept on the central stack", () => {
    const out = values().config.outputs;
    assert.equal(setting(out, "OUTPUT", "tls.crt_file"), "/fluent-bit/tls/tls.crt");
    assert.equal(setting(out, "OUTPUT", "Username"), undefined);
    const tls = find("kubernetes:core/v1:Secret", "efk-fluent-bit-tls").inputs.stringData as Record<
      string,
      string
    >;
    assert.match(tls["tls.crt"], /mock-cert-efk-pki-client-hub-cert/);
    assert.match(tls["tls.key"], /mock-key-efk-pki-client-hub-key/);
    const subject = find("tls:index/certRequest:CertRequest", "efk-pki-client-hub-csr").inputs.subject as {
      commonName: string;
    };
    assert.equal(subject.commonName, "hub");
  });

  it("is a DaemonSet that reads host logs read-only and keeps its state in a directory of its own", () => {
    const v = values();
    assert.equal(v.kind, "DaemonSet");
    assert.equal(v.testFramework.enabled, false);
    assert.equal(v.daemonSetVolumeMounts.find((m) => m.name === "varlog")?.readOnly, true);
    const state = v.daemonSetVolumeMounts.find((m) => m.name === "state");
    assert.equal(state?.mountPath, "/var/lib/fluent-bit");
    assert.notEqual(state?.readOnly, true);
  });

  it("with clientCertAuth false: fills the environment its configuration reads from a Secret of its own cluster's credentials", async () => {
    await runProgram({
      ...CENTRAL_CONFIG,
      namespace: "obs",
      fluentBitExcludeNamespaces: '["kube-system"]',
      clientCertAuth: "false",
    });
    const v = values();
    const secret = byType("kubernetes:core/v1:Secret").find(
      (s) => (s.inputs.metadata as { name: string }).name === v.envFrom[0].secretRef.name,
    );
    assert.ok(secret);
    const data = secret.inputs.stringData as Record<string, string>;
    for (const m of Object.values(v.config)
      .join("\n")
      .matchAll(/\$\{([A-Z_]+)\}/g)) {
      assert.ok(m[1] in data, `${m[1]} is read but not provided`);
    }
    const aggregator = find("kubernetes:core/v1:Secret", "efk-fluentd-credentials").inputs
      .stringData as Record<string, string>;
    assert.equal(data.FLUENT_PASSWORD, aggregator.FLUENT_PASSWORD_HUB);
    assert.equal(data.FLUENT_SHARED_KEY, aggregator.FLUENT_SHARED_KEY);
  });

  it("mounts the central CA its configuration verifies with", () => {
    const v = values();
    const tls = byType("kubernetes:core/v1:Secret").find(
      (s) => (s.inputs.metadata as { name: string }).name === v.extraVolumes[0].secret.secretName,
    );
    assert.ok(tls);
    assert.match((tls.inputs.stringData as Record<string, string>)["ca.crt"], /mock-cert-efk-pki-ca\n/);
  });
});
