import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { EdgeCredentials, ForwardEndpoint } from "../lib/centralOutputs";
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
import { kubernetesSecret } from "./secrets";

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
}

/** The Elasticsearch cluster, and how long it keeps logs. */
export interface ElasticsearchSettings extends Omit<ElasticsearchValuesInput, "dataStreamPrefix"> {
  /** Days a cluster's logs are kept before ILM deletes them. */
  retentionDays: number;
}

/** Kibana. */
export type KibanaSettings = Omit<KibanaValuesInput, "namespace">;

/** The Fluentd aggregator and how edges reach it. */
export interface AggregatorSettings
  extends Omit<FluentdValuesInput, "namespace" | "clusters" | "dataStreamPrefix"> {
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

export interface CentralArgs {
  /** This cluster's name: the `cluster` field of its own records. */
  clusterName: string;
  /** Namespace of everything on the central cluster (created by this component). */
  namespace: string;
  /** Clusters allowed to forward here besides this one; each gets its own user and password. */
  edgeClusters: string[];
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
  /** Public: edges and operators verify our services with it. */
  public readonly caCertPem: pulumi.Output<string>;
  public readonly elasticPassword: pulumi.Output<string>;
  /** Where edges send; undefined when no external Service is configured. */
  public readonly forwardEndpoint: ForwardEndpoint | undefined;
  public readonly forwardSharedKey: pulumi.Output<string>;
  /** Per edge cluster: its username, password and (when required) client certificate. Secret. */
  public readonly edgeCredentials: pulumi.Output<Record<string, EdgeCredentials>>;

  constructor(name: string, args: CentralArgs, opts?: pulumi.ComponentResourceOptions) {
    super("efk:stack:Central", name, {}, opts);

    const namespace = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      { metadata: { name: args.namespace, labels: { "app.kubernetes.io/part-of": "efk-pulumi" } } },
      { parent: this },
    );
    const ns = namespace.metadata.name;

    const pki = new Pki(
      `${name}-pki`,
      {
        namespace: args.namespace,
        kibanaHosts: args.kibana.hosts,
        fluentdHosts: args.fluentd.externalHosts,
        fluentdIps: args.fluentd.externalIps,
        caValidityHours: args.certificates.caValidityHours,
        certValidityHours: args.certificates.certValidityHours,
        certRenewalHours: args.certificates.certRenewalHours,
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
        namespaceRef: ns,
        chartRepo: args.helm.elasticRepo,
        timeoutSeconds: args.helm.timeoutSeconds,
        cert: pki.kibana,
        serviceToken: elasticsearch.kibanaToken,
        setupPassword: elasticsearch.kibanaSetupPassword,
        dataStreamPrefix: DATA_STREAM_PREFIX,
        clusters,
        after: [elasticsearch.release, caSecret],
      },
      { parent: this },
    );

    const clientCerts = Object.fromEntries(
      clusters.map((c) => [
        c,
        args.fluentd.clientCertAuth ? pki.issueClientCert(`${name}-pki-client-${c}`, c) : undefined,
      ]),
    );

    const { serviceType, nodePort, externalHosts, externalIps, loadBalancerSourceRanges, ...aggregator } =
      args.fluentd;
    const fluentd = new Fluentd(
      `${name}-fluentd`,
      {
        ...aggregator,
        namespace: args.namespace,
        namespaceRef: ns,
        chartRepo: args.helm.fluentRepo,
        timeoutSeconds: args.helm.timeoutSeconds,
        clusters,
        dataStreamPrefix: DATA_STREAM_PREFIX,
        cert: pki.fluentd,
        caCertPem: pki.caCertPem,
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
          dataStreamPrefix: DATA_STREAM_PREFIX,
          timeoutSeconds: args.helm.timeoutSeconds,
          exporterPassword: elasticsearch.exporterPassword ?? "",
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
        sharedKey: fluentd.sharedKey,
        password: fluentd.clusterPasswords[args.clusterName],
        clientCert: clientCerts[args.clusterName],
        after: [fluentd.release],
      },
      { parent: this },
    );

    this.namespace = ns;
    this.elasticsearchUrl = elasticsearch.url;
    this.kibanaUrl = kibana.url;
    this.caCertPem = pki.caCertPem;
    this.elasticPassword = elasticsearch.elasticPassword;
    this.forwardEndpoint = externalForwardEndpoint(
      args.namespace,
      externalHosts,
      externalIps,
      serviceType,
      nodePort,
    );
    this.forwardSharedKey = fluentd.sharedKey;
    this.edgeCredentials = pulumi.secret(
      pulumi.all(
        Object.fromEntries(
          args.edgeClusters.map((c) => [
            c,
            pulumi
              .all([fluentd.clusterPasswords[c], clientCerts[c]?.certPem, clientCerts[c]?.privateKeyPem])
              .apply(
                ([password, clientCertPem, clientKeyPem]): EdgeCredentials => ({
                  username: c,
                  password,
                  ...(clientCertPem && clientKeyPem ? { clientCertPem, clientKeyPem } : {}),
                }),
              ),
          ]),
        ),
      ),
    );
    this.registerOutputs({
      namespace: this.namespace,
      elasticsearchUrl: this.elasticsearchUrl,
      kibanaUrl: this.kibanaUrl,
      caCertPem: this.caCertPem,
      elasticPassword: this.elasticPassword,
      forwardEndpoint: this.forwardEndpoint,
      forwardSharedKey: this.forwardSharedKey,
      edgeCredentials: this.edgeCredentials,
    });
  }
}
