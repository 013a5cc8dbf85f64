import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ForwardAuth, ForwardEndpoint, RegisteredEdge } from "../lib/centralOutputs";
import type { CaRotation } from "../lib/caRotation";
import { externalForwardEndpoint, inClusterForwardEndpoint, type FluentdServiceType } from "../lib/names";
import { SECRETS } from "../lib/secrets";
import { Elasticsearch } from "./elasticsearch";
import type { ElasticsearchValuesInput } from "../lib/values/elasticsearch";
import type { FluentdValuesInput } from "../lib/values/fluentd";
import type { KibanaValuesInput } from "../lib/values/kibana";
import { FluentBit, type FluentBitSettings } from "./fluentBit";
import { Fluentd } from "./fluentd";
import { Kibana } from "./kibana";
import { Monitoring, type CentralMonitoringSettings } from "./monitoring";
import { Pki } from "./pki";
import { generatedPassword, kubernetesSecret } from "./secrets";

/** Data streams are named `<prefix>-<cluster>`; outside the built-in `logs-*-*` template on purpose. */
export const DATA_STREAM_PREFIX = "efk-logs";

/** Where the charts come from and how long a release may take. */
export interface HelmSettings {
  /** Repository of the elasticsearch and kibana charts. */
  elasticRepo: string;
  /** Repository of the fluentd and fluent-bit charts. */
  fluentRepo: string;
  /** How long each release may take to become ready. */
  timeoutSeconds: number;
}

/** Lifetimes of the generated certificates, in hours. */
export interface CertificateSettings {
  /** Validity of the generated certificate authorities. */
  caValidityHours: number;
  /** Validity of each service and client certificate. */
  certValidityHours: number;
  /** A `pulumi up` within this many hours of a certificate's expiry replaces it. */
  certRenewalHours: number;
  /** Which generations of the CAs are trusted and which one signs. */
  rotation: CaRotation;
}

/** The Elasticsearch cluster, and how long it keeps logs. */
export interface ElasticsearchSettings extends Omit<ElasticsearchValuesInput, "dataStreamPrefix"> {
  /** Days a cluster's logs are kept before ILM deletes them. */
  retentionDays: number;
}

/** Kibana. */
export type KibanaSettings = Omit<KibanaValuesInput, "namespace" | "esDedicatedMasters">;

/** The Fluentd aggregator and how edges reach it. */
export interface AggregatorSettings
  extends Omit<FluentdValuesInput, "namespace" | "esDedicatedMasters" | "clusters" | "dataStreamPrefix"> {
  /** How edge clusters reach the aggregator. */
  serviceType: FluentdServiceType;
  /** Node port of the external Service, with `NodePort`. */
  nodePort: number;
  /** DNS names edges reach the aggregator by (in its certificate); the first is their endpoint. */
  externalHosts: string[];
  /** IP addresses edges reach it by (in its certificate); the endpoint when no name is given. */
  externalIps: string[];
  /** CIDR ranges allowed to reach the external LoadBalancer; empty leaves the cloud's default. */
  loadBalancerSourceRanges: string[];
}

/** What the central reads from an edge's stack. */
export interface EdgeRequest {
  /** The certificate request for the key the edge keeps (public). */
  csrPem: string;
  /** The edge's forward password, when the aggregator authenticates users instead of certificates. */
  password?: pulumi.Input<string>;
}

export interface CentralArgs {
  /** This cluster's name: the `cluster` field of its own records. */
  clusterName: string;
  /** Namespace of everything on the central cluster (created by this component). */
  namespace: string;
  /** Clusters allowed to forward here besides this one. */
  edgeClusters: string[];
  /**
   * What each edge's own stack exports for the central to authenticate it (one entry per edge cluster):
   * the request for its own key, which the central signs, and with passwords, its password.
   */
  edgeRequests: Record<string, EdgeRequest>;
  /** Chart repositories and release timeouts. */
  helm: HelmSettings;
  /** Lifetimes of the certificates the stack's own CA issues. */
  certificates: CertificateSettings;
  /** The Elasticsearch nodes, and how long logs are kept. */
  elasticsearch: ElasticsearchSettings;
  /** Kibana. */
  kibana: KibanaSettings;
  /** The Fluentd aggregator and the way edges reach it. */
  fluentd: AggregatorSettings;
  /** The central cluster's own node agents. */
  fluentBit: FluentBitSettings;
  /** Metrics scraping, alerts and the dashboard. */
  monitoring: CentralMonitoringSettings;
}

/**
 * The central cluster: PKI, Elasticsearch, Kibana, the Fluentd aggregator and a Fluent Bit for its own
 * nodes, in one namespace that this component owns.
 */
export class Central extends pulumi.ComponentResource {
  public readonly namespace: pulumi.Output<string>;
  public readonly elasticsearchUrl: pulumi.Output<string>;
  public readonly kibanaUrl: pulumi.Output<string>;
  /** Public: edges and operators verify our services with it (every trusted generation, one bundle). */
  public readonly caCertPem: pulumi.Output<string>;
  /** Public: the fingerprint of each trusted CA generation, which edges name the CAs they trust by. */
  public readonly caFingerprints: pulumi.Output<Record<string, string>>;
  /** Where edges send; undefined when no external Service is configured. */
  public readonly forwardEndpoint: ForwardEndpoint | undefined;
  /** How edges prove who they are. */
  public readonly forwardAuth: ForwardAuth;
  /** Without client certificates: the shared key every forwarder presents (secret). */
  public readonly forwardSharedKey: pulumi.Output<string> | undefined;
  /** The registered edges, each with the certificate signed for its own key (public). */
  public readonly forwardEdges: pulumi.Output<Record<string, RegisteredEdge>>;

  constructor(name: string, args: CentralArgs, opts?: pulumi.ComponentResourceOptions) {
    super("efk:stack:Central", name, {}, opts);

    const namespace = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      { metadata: { name: args.namespace, labels: { "app.kubernetes.io/part-of": "efk-pulumi" } } },
      { parent: this },
    );
    const ns = namespace.metadata.name;
    // Clients, and the certificates they check, follow Elasticsearch's node groups.
    const esDedicatedMasters = args.elasticsearch.dedicatedMasters > 0;

    const pki = new Pki(
      `${name}-pki`,
      {
        namespace: args.namespace,
        esDedicatedMasters,
        kibanaHosts: args.kibana.hosts,
        fluentdHosts: args.fluentd.externalHosts,
        fluentdIps: args.fluentd.externalIps,
        caValidityHours: args.certificates.caValidityHours,
        certValidityHours: args.certificates.certValidityHours,
        certRenewalHours: args.certificates.certRenewalHours,
        rotation: args.certificates.rotation,
      },
      { parent: this },
    );

    const caSecret = kubernetesSecret(
      `${name}-ca`,
      SECRETS.ca.name,
      ns,
      { [SECRETS.ca.keys.ca]: pki.caCertPem },
      this,
    );

    const elasticsearch = new Elasticsearch(
      `${name}-elasticsearch`,
      {
        ...args.elasticsearch,
        namespace: args.namespace,
        namespaceRef: ns,
        chartRepo: args.helm.elasticRepo,
        timeoutSeconds: args.helm.timeoutSeconds,
        dataStreamPrefix: DATA_STREAM_PREFIX,
        caCertPem: pki.caCertPem,
        http: pki.elasticsearchHttp,
        transport: pki.elasticsearchTransport,
        transportCaCertPem: pki.transportCaCertPem,
        caSecret,
        exporterUser: args.monitoring.style !== "none",
      },
      { parent: this },
    );

    const clusters = [args.clusterName, ...args.edgeClusters];
    const kibana = new Kibana(
      `${name}-kibana`,
      {
        ...args.kibana,
        namespace: args.namespace,
        esDedicatedMasters,
        namespaceRef: ns,
        chartRepo: args.helm.elasticRepo,
        timeoutSeconds: args.helm.timeoutSeconds,
        cert: pki.kibana,
        serviceToken: elasticsearch.kibanaToken,
        setupPassword: elasticsearch.kibanaSetupPassword,
        dataStreamPrefix: DATA_STREAM_PREFIX,
        clusters,
        layout: { kind: args.fluentd.indexLayout, dedicated: args.fluentd.dedicatedStreams },
        after: [elasticsearch.release, caSecret],
      },
      { parent: this },
    );

    const missing = args.edgeClusters.filter((c) => !Object.hasOwn(args.edgeRequests, c));
    if (missing.length > 0) {
      throw new pulumi.ResourceError(
        `no request read from the stacks of edge clusters ${missing.join(", ")}`,
        this,
      );
    }
    // This cluster's own agents: a key made here. Each edge: the certificate for the key it keeps.
    const own = args.fluentd.clientCertAuth
      ? pki.issueClientCert(`${name}-pki-client-${args.clusterName}`, args.clusterName)
      : undefined;
    const ownPassword = args.fluentd.clientCertAuth
      ? undefined
      : pulumi.secret(generatedPassword(`${name}-forward-password-${args.clusterName}`, this).result);
    const edgeCerts: Record<string, pulumi.Output<string>> = args.fluentd.clientCertAuth
      ? Object.fromEntries(
          args.edgeClusters.map((c) => [
            c,
            pki.signClientRequest(`${name}-pki-edge-${c}`, args.edgeRequests[c].csrPem),
          ]),
        )
      : {};
    const identities = args.fluentd.clientCertAuth
      ? { clientCerts: { [args.clusterName]: own?.certPem ?? "", ...edgeCerts } }
      : {
          passwords: {
            [args.clusterName]: ownPassword ?? "",
            ...Object.fromEntries(
              args.edgeClusters.map((c) => [c, pulumi.secret(args.edgeRequests[c].password ?? "")]),
            ),
          },
        };

    const { serviceType, nodePort, externalHosts, externalIps, loadBalancerSourceRanges, ...aggregator } =
      args.fluentd;
    const fluentd = new Fluentd(
      `${name}-fluentd`,
      {
        ...aggregator,
        namespace: args.namespace,
        esDedicatedMasters,
        namespaceRef: ns,
        chartRepo: args.helm.fluentRepo,
        timeoutSeconds: args.helm.timeoutSeconds,
        clusters,
        dataStreamPrefix: DATA_STREAM_PREFIX,
        cert: pki.fluentd,
        caCertPem: pki.caCertPem,
        identities,
        elasticsearchPassword: elasticsearch.writerPassword,
        externalServiceType: serviceType,
        nodePort,
        loadBalancerSourceRanges,
        // Its user lives in Elasticsearch; its data streams need the template first.
        after: [elasticsearch.release, elasticsearch.indexSetup],
      },
      { parent: this },
    );

    new Monitoring(
      `${name}-monitoring`,
      {
        clusterName: args.clusterName,
        namespace: args.namespace,
        namespaceRef: ns,
        settings: args.monitoring,
        central: {
          clusters,
          dashboard: args.monitoring.dashboard,
          exporterChartRepo: args.monitoring.exporterChartRepo,
          snapshotIntervalHours: args.monitoring.snapshotIntervalHours,
          certRenewalHours: args.certificates.certRenewalHours,
          dataStreamPrefix: DATA_STREAM_PREFIX,
          timeoutSeconds: args.helm.timeoutSeconds,
          exporterPassword: elasticsearch.exporterPassword ?? "",
          esDedicatedMasters,
          after: [elasticsearch.release, caSecret],
        },
      },
      { parent: this },
    );

    new FluentBit(
      `${name}-fluent-bit`,
      {
        clusterName: args.clusterName,
        namespace: args.namespace,
        namespaceRef: ns,
        chartRepo: args.helm.fluentRepo,
        timeoutSeconds: args.helm.timeoutSeconds,
        settings: args.fluentBit,
        endpoint: inClusterForwardEndpoint(args.namespace),
        caCertPem: pki.caCertPem,
        credentials: own
          ? { kind: "certificate", cert: own }
          : { kind: "user", sharedKey: fluentd.sharedKey ?? "", password: ownPassword ?? "" },
        after: [fluentd.release],
      },
      { parent: this },
    );

    this.namespace = ns;
    this.elasticsearchUrl = elasticsearch.url;
    this.kibanaUrl = kibana.url;
    this.caCertPem = pki.caCertPem;
    this.caFingerprints = pki.caFingerprints;
    this.forwardEndpoint = externalForwardEndpoint(
      args.namespace,
      externalHosts,
      externalIps,
      serviceType,
      nodePort,
    );
    this.forwardAuth = args.fluentd.clientCertAuth ? "certificate" : "user";
    this.forwardSharedKey = fluentd.sharedKey;
    this.forwardEdges = pulumi.all(
      Object.fromEntries(
        args.edgeClusters.map((c) => [
          c,
          edgeCerts[c] ? edgeCerts[c].apply((clientCertPem): RegisteredEdge => ({ clientCertPem })) : {},
        ]),
      ),
    );
    this.registerOutputs({
      namespace: this.namespace,
      elasticsearchUrl: this.elasticsearchUrl,
      kibanaUrl: this.kibanaUrl,
      caCertPem: this.caCertPem,
      caFingerprints: this.caFingerprints,
      forwardEndpoint: this.forwardEndpoint,
      forwardAuth: this.forwardAuth,
      forwardSharedKey: this.forwardSharedKey,
      forwardEdges: this.forwardEdges,
    });
  }
}
