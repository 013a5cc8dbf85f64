import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import {
  authorityCommonName,
  authorityName,
  caPlan,
  certificateFingerprint,
  trustBundle,
  type CaRotation,
} from "../lib/caRotation";
import { elasticsearchDnsNames, fluentdDnsNames, kibanaDnsNames } from "../lib/names";

export interface PkiArgs {
  /** Namespace the services run in; their in-cluster DNS names go into the certificates. */
  namespace: string;
  /** Whether Elasticsearch has dedicated masters: its certificates then name both node groups. */
  esDedicatedMasters: boolean;
  /** External names of Kibana (ingress, load balancer). */
  kibanaHosts: string[];
  /** External names edge clusters reach the Fluentd aggregator by. */
  fluentdHosts: string[];
  /** External IP addresses edge clusters reach the Fluentd aggregator by. */
  fluentdIps: string[];
  /** Validity of the certificate authorities, in hours. */
  caValidityHours: number;
  /** Validity of the service certificates, in hours. */
  certValidityHours: number;
  /** A `pulumi up` within this many hours of a certificate's expiry replaces it. */
  certRenewalHours: number;
  /** Which generations of the authorities the bundles hold, and which one signs. */
  rotation: CaRotation;
}

/** A server certificate and its key. The key is a Pulumi secret. */
export interface IssuedCert {
  certPem: pulumi.Output<string>;
  privateKeyPem: pulumi.Output<string>;
}

const ORGANIZATION = "efk-pulumi";
const SERVER_USES = ["digital_signature", "key_encipherment", "server_auth"];
// Transport peers are both client and server of each other.
const PEER_USES = [...SERVER_USES, "client_auth"];
const CA_USES = ["cert_signing", "crl_signing", "digital_signature"];
const CLIENT_USES = ["digital_signature", "key_encipherment", "client_auth"];

interface Authority {
  certPem: pulumi.Output<string>;
  privateKeyPem: pulumi.Output<string>;
}

/**
 * The certificate authorities and the service certificates they sign. Two authorities: one that every
 * client trusts (Elasticsearch HTTP, Kibana, Fluentd), and one for Elasticsearch's transport layer only,
 * because the transport verifies peers by CA alone (no host names: nodes dial each other by IP), so a
 * certificate issued to Kibana or Fluentd must not be able to join the cluster.
 *
 * Each authority comes in generations (see `lib/caRotation.ts`): while a rotation is under way two
 * generations of each are trusted, and the service and client certificates are signed by one of them.
 */
export class Pki extends pulumi.ComponentResource {
  /**
   * The CA certificates clients verify Elasticsearch, Kibana and Fluentd with, one PEM bundle of every
   * trusted generation (public). It is also the bundle the aggregator verifies client certificates with.
   */
  public readonly caCertPem: pulumi.Output<string>;
  /** The transport CAs of every trusted generation: Elasticsearch nodes verify each other with them. */
  public readonly transportCaCertPem: pulumi.Output<string>;
  /** The SHA-256 fingerprint of each trusted generation of the client-trusted CA, by generation (public). */
  public readonly caFingerprints: pulumi.Output<Record<string, string>>;
  public readonly elasticsearchHttp: IssuedCert;
  public readonly elasticsearchTransport: IssuedCert;
  public readonly kibana: IssuedCert;
  public readonly fluentd: IssuedCert;

  private readonly args: PkiArgs;
  private readonly ca: Authority;

  constructor(name: string, args: PkiArgs, opts?: pulumi.ComponentResourceOptions) {
    if (args.certRenewalHours >= args.certValidityHours) {
      throw new pulumi.InputPropertyError({
        propertyPath: "certRenewalHours",
        reason: `must be below certValidityHours (${args.certValidityHours}), got ${args.certRenewalHours}`,
      });
    }
    super("efk:security:Pki", name, {}, opts);
    this.args = args;

    // The transport CA rotates with the other, in the same steps: Elasticsearch restarts its nodes one at a
    // time, and a node of the last step and one of this step share a transport CA as edges and the
    // aggregator do.
    const plan = caPlan(args.rotation);
    const generations = (base: string, commonName: string) =>
      plan.trusted.map((g) => this.authority(authorityName(base, g), authorityCommonName(commonName, g)));
    const cas = generations(`${name}-ca`, "efk-pulumi CA");
    const transportCas = generations(`${name}-transport-ca`, "efk-pulumi Elasticsearch transport CA");
    const issuing = plan.trusted.indexOf(plan.issuing);
    const ca = cas[issuing];
    const transportCa = transportCas[issuing];
    this.ca = ca;
    this.caCertPem = pulumi.all(cas.map((a) => a.certPem)).apply(trustBundle);
    this.transportCaCertPem = pulumi.all(transportCas.map((a) => a.certPem)).apply(trustBundle);
    this.caFingerprints = pulumi
      .all(cas.map((a) => a.certPem))
      .apply((pems) =>
        Object.fromEntries(plan.trusted.map((g, i) => [String(g), certificateFingerprint(pems[i])])),
      );

    const ns = args.namespace;
    this.elasticsearchHttp = this.issue(
      `${name}-es-http`,
      ca,
      "elasticsearch",
      elasticsearchDnsNames(ns, args.esDedicatedMasters),
      ["127.0.0.1"],
      SERVER_USES,
    );
    this.elasticsearchTransport = this.issue(
      `${name}-es-transport`,
      transportCa,
      "elasticsearch-transport",
      elasticsearchDnsNames(ns, args.esDedicatedMasters),
      [],
      PEER_USES,
    );
    this.kibana = this.issue(
      `${name}-kibana`,
      ca,
      "kibana",
      kibanaDnsNames(ns, args.kibanaHosts),
      ["127.0.0.1"],
      SERVER_USES,
    );
    this.fluentd = this.issue(
      `${name}-fluentd`,
      ca,
      "fluentd",
      fluentdDnsNames(ns, args.fluentdHosts),
      args.fluentdIps,
      SERVER_USES,
    );

    this.registerOutputs({
      caCertPem: this.caCertPem,
      transportCaCertPem: this.transportCaCertPem,
      caFingerprints: this.caFingerprints,
      elasticsearchHttp: this.elasticsearchHttp,
      elasticsearchTransport: this.elasticsearchTransport,
      kibana: this.kibana,
      fluentd: this.fluentd,
    });
  }

  private authority(name: string, commonName: string): Authority {
    const key = new tls.PrivateKey(`${name}-key`, { algorithm: "RSA", rsaBits: 4096 }, { parent: this });
    const cert = new tls.SelfSignedCert(
      name,
      {
        privateKeyPem: key.privateKeyPem,
        subject: { commonName, organization: ORGANIZATION },
        isCaCertificate: true,
        allowedUses: CA_USES,
        validityPeriodHours: this.args.caValidityHours,
        // Kept as it was, so that existing CAs see no change; the drift workflow never renews a CA (its
        // replacement would be a rotation without overlap): see README, Certificate renewal.
        earlyRenewalHours: this.args.certRenewalHours,
      },
      { parent: this },
    );
    return { certPem: cert.certPem, privateKeyPem: pulumi.secret(key.privateKeyPem) };
  }

  /** A client certificate for a forwarding cluster, signed by the CA the aggregator verifies clients with. */
  public issueClientCert(name: string, commonName: string): IssuedCert {
    return this.issue(name, this.ca, commonName, [], [], CLIENT_USES);
  }

  /**
   * A client certificate for a key the cluster keeps (an edge's request, read from its stack): only the
   * certificate is ours. The request's subject is the edge's to choose, so the aggregator admits the
   * certificate by its key, registered under the cluster's name, never by the name written in it.
   */
  public signClientRequest(name: string, certRequestPem: pulumi.Input<string>): pulumi.Output<string> {
    return this.sign(name, this.ca, certRequestPem, CLIENT_USES);
  }

  private sign(
    name: string,
    ca: Authority,
    certRequestPem: pulumi.Input<string>,
    allowedUses: string[],
  ): pulumi.Output<string> {
    return new tls.LocallySignedCert(
      name,
      {
        certRequestPem,
        caPrivateKeyPem: ca.privateKeyPem,
        caCertPem: ca.certPem,
        allowedUses,
        validityPeriodHours: this.args.certValidityHours,
        earlyRenewalHours: this.args.certRenewalHours,
      },
      { parent: this },
    ).certPem;
  }

  private issue(
    name: string,
    ca: Authority,
    commonName: string,
    dnsNames: string[],
    ipAddresses: string[],
    allowedUses: string[],
  ): IssuedCert {
    const key = new tls.PrivateKey(`${name}-key`, { algorithm: "RSA", rsaBits: 2048 }, { parent: this });
    const csr = new tls.CertRequest(
      `${name}-csr`,
      {
        privateKeyPem: key.privateKeyPem,
        subject: { commonName, organization: ORGANIZATION },
        dnsNames,
        ipAddresses,
      },
      { parent: this },
    );
    return {
      certPem: this.sign(`${name}-cert`, ca, csr.certRequestPem, allowedUses),
      privateKeyPem: pulumi.secret(key.privateKeyPem),
    };
  }
}

/** A forwarding cluster's own key and its certificate request, kept in the cluster's own stack. */
export interface ClientKeyRequest {
  /** Secret: it never leaves the stack that made it. */
  privateKeyPem: pulumi.Output<string>;
  /** Public: the central reads it from this stack and signs it. */
  certRequestPem: pulumi.Output<string>;
}

/** Makes `clusterName`'s forward key and certificate request as children of `parent`. */
export function clientKeyRequest(
  name: string,
  clusterName: string,
  parent: pulumi.Resource,
): ClientKeyRequest {
  const key = new tls.PrivateKey(`${name}-key`, { algorithm: "RSA", rsaBits: 2048 }, { parent });
  const csr = new tls.CertRequest(
    `${name}-csr`,
    { privateKeyPem: key.privateKeyPem, subject: { commonName: clusterName, organization: ORGANIZATION } },
    { parent },
  );
  return { privateKeyPem: pulumi.secret(key.privateKeyPem), certRequestPem: csr.certRequestPem };
}
