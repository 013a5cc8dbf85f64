import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config";
import { CA_KEY, CA_SECRET } from "../lib/names";
import { Elasticsearch } from "./elasticsearch";
import { Kibana } from "./kibana";
import { Pki } from "./pki";

/** Data streams are named `<prefix>-<cluster>`; outside the built-in `logs-*-*` template on purpose. */
export const DATA_STREAM_PREFIX = "efk-logs";

export type CentralArgs = Omit<StackConfig, "role" | "centralStack">;

/**
 * The central cluster: PKI, Elasticsearch, Kibana, in one namespace that this component owns.
 */
export class Central extends pulumi.ComponentResource {
  public readonly namespace: pulumi.Output<string>;
  public readonly elasticsearchUrl: pulumi.Output<string>;
  public readonly kibanaUrl: pulumi.Output<string>;
  /** Public: edges and operators verify our services with it. */
  public readonly caCertPem: pulumi.Output<string>;
  public readonly elasticPassword: pulumi.Output<string>;

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

    const caSecret = new k8s.core.v1.Secret(
      `${name}-ca`,
      {
        metadata: { name: CA_SECRET, namespace: ns },
        type: "Opaque",
        stringData: { [CA_KEY]: pki.caCertPem },
      },
      { parent: this },
    );

    const elasticsearch = new Elasticsearch(
      `${name}-elasticsearch`,
      {
        namespace: ns,
        namespaceName: args.namespace,
        chart: { chart: "elasticsearch", version: args.esChartVersion, repo: args.elasticChartRepo },
        timeoutSeconds: args.helmTimeoutSeconds,
        replicas: args.esReplicas,
        imageTag: args.esImageTag,
        antiAffinity: args.esAntiAffinity,
        storageClass: args.esStorageClass,
        storageSize: args.esStorageSize,
        cpu: args.esCpu,
        memory: args.esMemory,
        dataStreamPrefix: DATA_STREAM_PREFIX,
        caCertPem: pki.caCertPem,
        http: pki.elasticsearchHttp,
        transport: pki.elasticsearchTransport,
        transportCaCertPem: pki.transportCaCertPem,
      },
      { parent: this },
    );

    const kibana = new Kibana(
      `${name}-kibana`,
      {
        namespace: args.namespace,
        namespaceRef: ns,
        chart: { chart: "kibana", version: args.kibanaChartVersion, repo: args.elasticChartRepo },
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

    this.namespace = ns;
    this.elasticsearchUrl = elasticsearch.url;
    this.kibanaUrl = kibana.url;
    this.caCertPem = pki.caCertPem;
    this.elasticPassword = elasticsearch.elasticPassword;
    this.registerOutputs({
      namespace: this.namespace,
      elasticsearchUrl: this.elasticsearchUrl,
      kibanaUrl: this.kibanaUrl,
      caCertPem: this.caCertPem,
      elasticPassword: this.elasticPassword,
    });
  }
}
