import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config";
import type { EdgeCredentials, ForwardEndpoint } from "../lib/centralOutputs";
import { CA_KEY, CA_SECRET, externalForwardEndpoint, inClusterForwardEndpoint } from "../lib/names";
import { Elasticsearch } from "./elasticsearch";
import { FluentBit } from "./fluentBit";
import { Fluentd } from "./fluentd";
import { Kibana } from "./kibana";
import { Pki } from "./pki";
import { kubernetesSecret } from "./secrets";

/** Data streams are named `<prefix>-<cluster>`; outside the built-in `logs-*-*` template on purpose. */
export const DATA_STREAM_PREFIX = "efk-logs";

export type CentralArgs = Omit<StackConfig, "role" | "centralStack">;

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
        kibanaHosts: args.kibanaHosts,
        fluentdHosts: args.fluentdExternalHosts,
        fluentdIps: args.fluentdExternalIps,
        caValidityHours: args.caValidityHours,
        certValidityHours: args.certValidityHours,
        certRenewalHours: args.certRenewalHours,
      },
      { parent: this },
    );

    const caSecret = kubernetesSecret(`${name}-ca`, CA_SECRET, ns, { [CA_KEY]: pki.caCertPem }, this);

    const elasticsearch = new Elasticsearch(
      `${name}-elasticsearch`,
      {
        namespace: ns,
        namespaceName: args.namespace,
        chartRepo: args.elasticChartRepo,
        timeoutSeconds: args.helmTimeoutSeconds,
        replicas: args.esReplicas,
        imageTag: args.esImageTag,
        antiAffinity: args.esAntiAffinity,
        sysctlInitContainer: args.esSysctlInitContainer,
        storageClass: args.esStorageClass,
        storageSize: args.esStorageSize,
        cpu: args.esCpu,
        memory: args.esMemory,
        dataStreamPrefix: DATA_STREAM_PREFIX,
        caCertPem: pki.caCertPem,
        http: pki.elasticsearchHttp,
        transport: pki.elasticsearchTransport,
        transportCaCertPem: pki.transportCaCertPem,
        caSecret,
        retentionDays: args.retentionDays,
      },
      { parent: this },
    );

    const kibana = new Kibana(
      `${name}-kibana`,
      {
        namespace: args.namespace,
        namespaceRef: ns,
        chartRepo: args.elasticChartRepo,
        timeoutSeconds: args.helmTimeoutSeconds,
        imageTag: args.kibanaImageTag,
        cpu: args.kibanaCpu,
        memory: args.kibanaMemory,
        hosts: args.kibanaHosts,
        cert: pki.kibana,
        after: [elasticsearch.release, caSecret],
      },
      { parent: this },
    );

    const clusters = [args.clusterName, ...args.edgeClusters];
    const clientCerts = Object.fromEntries(
      clusters.map((c) => [
        c,
        args.clientCertAuth ? pki.issueClientCert(`${name}-pki-client-${c}`, c) : undefined,
      ]),
    );

    const fluentd = new Fluentd(
      `${name}-fluentd`,
      {
        namespace: args.namespace,
        namespaceRef: ns,
        chartRepo: args.fluentChartRepo,
        timeoutSeconds: args.helmTimeoutSeconds,
        replicas: args.fluentdReplicas,
        imageTag: args.fluentdImageTag,
        cpu: args.fluentdCpu,
        memory: args.fluentdMemory,
        storageClass: args.fluentdStorageClass,
        storageSize: args.fluentdStorageSize,
        clusters,
        clientCertAuth: args.clientCertAuth,
        dataStreamPrefix: DATA_STREAM_PREFIX,
        cert: pki.fluentd,
        caCertPem: pki.caCertPem,
        elasticsearchPassword: elasticsearch.writerPassword,
        externalServiceType: args.fluentdServiceType,
        nodePort: args.fluentdNodePort,
        loadBalancerSourceRanges: args.fluentdLoadBalancerSourceRanges,
        // Its user lives in Elasticsearch; its data streams need the template first.
        after: [elasticsearch.release, elasticsearch.indexSetup],
      },
      { parent: this },
    );

    const local = inClusterForwardEndpoint(args.namespace);
    new FluentBit(
      `${name}-fluent-bit`,
      {
        namespaceRef: ns,
        chartRepo: args.fluentChartRepo,
        timeoutSeconds: args.helmTimeoutSeconds,
        clusterName: args.clusterName,
        namespace: args.namespace,
        imageTag: args.fluentBitImageTag,
        cpu: args.fluentBitCpu,
        memory: args.fluentBitMemory,
        bufferSize: args.fluentBitBufferSize,
        backfillHours: args.fluentBitBackfillHours,
        excludeNamespaces: args.fluentBitExcludeNamespaces,
        excludeContainers: args.fluentBitExcludeContainers,
        host: local.host,
        port: local.port,
        tlsVhost: local.serverName,
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
      args.fluentdExternalHosts,
      args.fluentdExternalIps,
      args.fluentdServiceType,
      args.fluentdNodePort,
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
