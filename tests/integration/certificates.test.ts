/**
 * The expiry of the certificates in use, as the real Fluentd exports it: the rendered aggregator (its
 * `efk_certificates` input and its forward input) with certificates of chosen lifetimes, served by TLS
 * endpoints that stand in for Elasticsearch (HTTPS, and a transport port that requires a client certificate
 * and refuses the probe, which has none) and Kibana. Each exported notAfter is compared with the one in
 * the certificate file, read by Node; the metrics are scraped where Prometheus scrapes them.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { X509Certificate } from "node:crypto";
import { EFK_METRICS, SCRAPE } from "../../lib/monitoring/metrics";
import { CERTIFICATE_KINDS } from "../../lib/render/fluentd";
import { makeTestPki, type CertPair, type TestPki } from "./support/certs";
import { assertBundleInstalled, stopAll, waitFor, scrapeMetrics, type Sample } from "./support/fluentd";
import { renderStackFile, startRenderedAggregator, TEST_SECRETS, type Aggregator } from "./support/rendered";

const STACK = {
  role: "central",
  clusterName: "hub",
  edgeClusters: ["edge-a"],
  fluentdExternalHosts: ["logs.efk.test"],
  fluentdLoadBalancerSourceRanges: ["0.0.0.0/0"],
};
const EXPIRY = EFK_METRICS.certificateExpiry;
const PROBE = EFK_METRICS.certificateProbe;

/** A certificate file's notAfter, in seconds since the epoch, as Node reads it. */
function notAfter(file: string): number {
  return Math.floor(new Date(new X509Certificate(fs.readFileSync(file)).validTo).getTime() / 1000);
}

interface Endpoint {
  server: tls.Server;
  port: number;
  /** Handshakes the server refused (no client certificate, with requestCert). */
  refused: number;
}

/** A TLS server on 127.0.0.1 presenting `pair`; with `requireClientCert`, refusing clients without one. */
async function tlsEndpoint(
  pair: CertPair,
  o: { port?: number; requireClientCert?: { ca: string }; maxVersion?: tls.SecureVersion } = {},
): Promise<Endpoint> {
  const server = tls.createServer({
    cert: fs.readFileSync(pair.cert),
    key: fs.readFileSync(pair.key),
    maxVersion: o.maxVersion ?? "TLSv1.3",
    ...(o.requireClientCert
      ? { requestCert: true, rejectUnauthorized: true, ca: fs.readFileSync(o.requireClientCert.ca) }
      : {}),
  });
  const e: Endpoint = { server, port: 0, refused: 0 };
  server.on("tlsClientError", () => e.refused++);
  server.on("secureConnection", (s) => s.end());
  await new Promise<void>((resolve) => server.listen(o.port ?? 0, "127.0.0.1", resolve));
  e.port = (server.address() as net.AddressInfo).port;
  return e;
}

async function closeEndpoint(e: Endpoint): Promise<void> {
  await new Promise<void>((resolve) => {
    e.server.close(() => resolve());
  });
}

describe("certificate expiry, exported by the real Fluentd from the certificates in use", function () {
  this.timeout(180_000);
  let dir: string;
  let pki: TestPki;
  let transportPki: TestPki;
  let render: string;
  let agg: Aggregator;
  let es: Endpoint;
  let transport: Endpoint;
  let kibana: Endpoint;
  let certs: { es: CertPair; transport: CertPair; kibana: CertPair; hub: CertPair; edgeA: CertPair };
  let transportCaDir: string;

  const scrape = () => scrapeMetrics(agg.relocation.metricsPort, SCRAPE.fluentd.path);
  const series = (samples: Sample[], name: string, labels: Record<string, string>) =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  /** The one series of `kind` (and `labels`); fails when there are none or several. */
  const one = (samples: Sample[], kind: string, labels: Record<string, string> = {}) => {
    const found = series(samples, EXPIRY, { kind, ...labels });
    assert.equal(found.length, 1, `${kind} ${JSON.stringify(labels)}: ${JSON.stringify(found)}`);
    return found[0];
  };
  /** Scrapes until `cond` holds (a probe round is 1 s here); returns the last scrape. */
  const scrapeUntil = async (cond: (s: Sample[]) => boolean, what: string): Promise<Sample[]> => {
    let last: Sample[] = [];
    await waitFor(
      async () => {
        last = await scrape();
        return cond(last);
      },
      20_000,
      what,
    );
    return last;
  };

  before(async () => {
    assertBundleInstalled();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "efk-certificates-"));
    pki = makeTestPki(path.join(dir, "pki"), "efk-test-ca");
    transportPki = makeTestPki(path.join(dir, "transport-pki"), "efk-test-transport-ca");
    // Each certificate its own lifetime, so that one kind's value cannot pass for another's.
    certs = {
      es: pki.server("elasticsearch", ["localhost"], ["127.0.0.1"], 5),
      transport: transportPki.server("elasticsearch-transport", ["localhost"], ["127.0.0.1"], 3),
      kibana: pki.server("kibana", ["localhost"], ["127.0.0.1"], 7),
      hub: pki.client("hub", 30),
      edgeA: pki.client("edge-a", 2),
    };
    transportCaDir = path.join(dir, "es-transport-ca");
    fs.mkdirSync(transportCaDir);
    fs.copyFileSync(transportPki.caCert, path.join(transportCaDir, "transport-ca.crt"));
    es = await tlsEndpoint(certs.es);
    transport = await tlsEndpoint(certs.transport, { requireClientCert: { ca: transportPki.caCert } });
    kibana = await tlsEndpoint(certs.kibana);
    render = renderStackFile(path.join(dir, "stack"), "hub", STACK);
    agg = await startRenderedAggregator(render, path.join(dir, "agg"), {
      pki,
      serverNames: ["logs.efk.test"],
      esPort: es.port,
      env: TEST_SECRETS,
      clients: { hub: certs.hub.cert, "edge-a": certs.edgeA.cert },
      certificates: {
        transportCaDir,
        esHttpPort: es.port,
        esTransportPort: transport.port,
        kibanaPort: kibana.port,
        intervalSeconds: 1,
      },
    });
  });

  after(async () => {
    await stopAll();
    for (const e of [es, transport, kibana]) if (e) await closeEndpoint(e).catch(() => undefined);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("exports each file's and each endpoint's certificates with their notAfter, and a successful probe for each", async () => {
    const s = await scrapeUntil(
      (x) => series(x, EXPIRY, { kind: CERTIFICATE_KINDS.kibana }).length > 0,
      "the first probe round",
    );
    const tlsDir = agg.relocation.tlsDir;
    const expected: [string, string, Record<string, string>][] = [
      [CERTIFICATE_KINDS.forwardServer, path.join(tlsDir, "tls.crt"), { ca: "false" }],
      [CERTIFICATE_KINDS.ca, path.join(tlsDir, "ca.crt"), { ca: "true" }],
      [CERTIFICATE_KINDS.elasticsearchTransportCa, transportPki.caCert, { ca: "true" }],
      [CERTIFICATE_KINDS.registeredClient, certs.hub.cert, { cluster: "hub" }],
      [CERTIFICATE_KINDS.registeredClient, certs.edgeA.cert, { cluster: "edge-a" }],
      [CERTIFICATE_KINDS.elasticsearchHttp, certs.es.cert, { source: `localhost:${es.port}` }],
      [
        CERTIFICATE_KINDS.elasticsearchTransport,
        certs.transport.cert,
        { source: `127.0.0.1:${transport.port}`, ca: "false" },
      ],
      // OpenSSL's server sends the CA it holds (for client certificates) with its own: the chain's CA, too.
      [
        CERTIFICATE_KINDS.elasticsearchTransport,
        transportPki.caCert,
        { source: `127.0.0.1:${transport.port}`, ca: "true" },
      ],
      [CERTIFICATE_KINDS.kibana, certs.kibana.cert, { source: `localhost:${kibana.port}`, ca: "false" }],
    ];
    for (const [kind, file, labels] of expected) {
      const got = one(s, kind, labels);
      assert.equal(got.value, notAfter(file), `${kind} ${JSON.stringify(labels)}`);
      assert.equal(
        got.labels.subject,
        `CN=${new X509Certificate(fs.readFileSync(file)).subject.split("=")[1]}`,
      );
    }
    // The transport stand-in refused the probe (no client certificate), and its certificate was read all the same.
    assert.ok(transport.refused > 0, "the transport stand-in never refused a handshake");
    const probes = series(s, PROBE, {});
    assert.ok(probes.length >= 7, JSON.stringify(probes));
    assert.deepEqual(
      probes.filter((p) => p.value !== 1),
      [],
      "every probe succeeded",
    );
  });

  it("exports the client certificate an edge presents, labelled with its cluster, once it connects", async () => {
    const before = await scrape();
    assert.deepEqual(series(before, EXPIRY, { kind: CERTIFICATE_KINDS.edgeClient }), []);
    const connect = async (pair: CertPair) => {
      const socket = tls.connect({
        host: "127.0.0.1",
        port: agg.relocation.forwardPort,
        servername: "logs.efk.test",
        ca: fs.readFileSync(pki.caCert),
        cert: fs.readFileSync(pair.cert),
        key: fs.readFileSync(pair.key),
      });
      await new Promise<void>((resolve, reject) => {
        socket.once("secureConnect", resolve);
        socket.once("error", reject);
      });
      return socket;
    };
    const first = await connect(certs.edgeA);
    let s = await scrapeUntil(
      (x) => series(x, EXPIRY, { kind: CERTIFICATE_KINDS.edgeClient }).length > 0,
      "edge-a's certificate from its handshake",
    );
    const presented = one(s, CERTIFICATE_KINDS.edgeClient, { cluster: "edge-a", source: "handshake" });
    assert.equal(presented.value, notAfter(certs.edgeA.cert));
    first.destroy();

    // Renewed (same key, a year): the new certificate takes the old one's place, no stale series is left.
    const renewed = pki.renew(certs.edgeA, "edge-a", 365, "client");
    const second = await connect(renewed);
    s = await scrapeUntil(
      (x) =>
        series(x, EXPIRY, { kind: CERTIFICATE_KINDS.edgeClient, cluster: "edge-a" })[0]?.value ===
        notAfter(renewed.cert),
      "edge-a's renewed certificate",
    );
    assert.equal(series(s, EXPIRY, { kind: CERTIFICATE_KINDS.edgeClient }).length, 1);
    second.destroy();
  });

  it("reads a renewed endpoint certificate on the next round, under TLS 1.2 too, and drops the old one", async () => {
    await closeEndpoint(transport);
    const renewed = transportPki.renew(certs.transport, "elasticsearch-transport", 9, "server");
    transport = await tlsEndpoint(renewed, {
      port: transport.port,
      requireClientCert: { ca: transportPki.caCert },
      maxVersion: "TLSv1.2",
    });
    const s = await scrapeUntil(
      (x) =>
        series(x, EXPIRY, { kind: CERTIFICATE_KINDS.elasticsearchTransport, ca: "false" })[0]?.value ===
        notAfter(renewed.cert),
      "the renewed transport certificate",
    );
    assert.equal(
      series(s, EXPIRY, { kind: CERTIFICATE_KINDS.elasticsearchTransport, ca: "false" }).length,
      1,
    );
    assert.ok(transport.refused > 0, "the TLS 1.2 transport stand-in never refused a handshake");
  });

  it("reports an unreachable endpoint as a failed probe, and no longer exports its certificate", async () => {
    await closeEndpoint(kibana);
    const source = `localhost:${kibana.port}`;
    const s = await scrapeUntil(
      (x) => series(x, PROBE, { kind: CERTIFICATE_KINDS.kibana, source })[0]?.value === 0,
      "Kibana's probe to fail",
    );
    assert.deepEqual(series(s, EXPIRY, { kind: CERTIFICATE_KINDS.kibana }), []);
    // The others still succeed.
    assert.equal(series(s, PROBE, { kind: CERTIFICATE_KINDS.elasticsearchHttp })[0]?.value, 1);
  });
});
