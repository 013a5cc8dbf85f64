import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { sha256Hex } from "../lib/digest";
import { FLUENTD_FORWARD_PORT, FLUENTD_FULLNAME, RELEASES, type FluentdServiceType } from "../lib/names";
import { FLUENTD_ENV, clusterPasswordEnv } from "../lib/render/fluentd";
import {
  FLUENTD_CHART,
  FLUENTD_MAIN_CONFIGMAP,
  fluentdMainFiles,
  fluentdValues,
  type FluentdValuesInput,
} from "../lib/values/fluentd";
import { SECRETS } from "../lib/secrets";
import { helmRelease } from "./helm";
import { generatedPassword, kubernetesSecret } from "./secrets";
import { IssuedCert } from "./pki";

export interface FluentdArgs extends FluentdValuesInput {
  /** The Namespace resource's name (must exist). */
  namespaceRef: pulumi.Input<string>;
  /** Helm repository of the chart (the version is pinned with its values builder). */
  chartRepo: string;
  /** How long Helm may wait for the release to be ready. */
  timeoutSeconds: number;
  /** Fluentd's server certificate (its SANs include the external names edges dial). */
  cert: IssuedCert;
  /** CA that verifies Elasticsearch and, with client certificates on, the forwarders. */
  caCertPem: pulumi.Input<string>;
  /** Password of the Elasticsearch user Fluentd writes as. */
  elasticsearchPassword: pulumi.Input<string>;
  /** How edge clusters reach the aggregator. */
  externalServiceType: FluentdServiceType;
  /** Node port of the external Service, for `NodePort`. */
  nodePort: number;
  /** CIDR ranges allowed to reach the external LoadBalancer; empty leaves the cloud's default. */
  loadBalancerSourceRanges: string[];
  /** What must be ready first (the Elasticsearch release: Fluentd's user lives there). */
  after: pulumi.Resource[];
}

/**
 * The aggregator: a Fluentd StatefulSet with a file buffer on a volume per pod, accepting forward over
 * TLS from registered clusters only, each with its own password, and writing to Elasticsearch.
 */
export class Fluentd extends pulumi.ComponentResource {
  /** The shared key every forwarder presents (secret). */
  public readonly sharedKey: pulumi.Output<string>;
  /** One password per registered cluster, keyed by cluster name (secret). */
  public readonly clusterPasswords: Record<string, pulumi.Output<string>>;
  public readonly release: k8s.helm.v3.Release;

  constructor(name: string, args: FluentdArgs, opts?: pulumi.ComponentResourceOptions) {
    if (new Set(args.clusters).size !== args.clusters.length || args.clusters.length === 0) {
      throw new pulumi.InputPropertyError({
        propertyPath: "clusters",
        reason: `must be a non-empty list of distinct names, got ${JSON.stringify(args.clusters)}`,
      });
    }
    super("efk:logging:Fluentd", name, {}, opts);

    const sharedKey = generatedPassword(`${name}-shared-key`, this);
    this.clusterPasswords = {};
    const env: Record<string, pulumi.Input<string>> = {
      [FLUENTD_ENV.sharedKey]: sharedKey.result,
      [FLUENTD_ENV.esPassword]: args.elasticsearchPassword,
    };
    for (const cluster of args.clusters) {
      // Named after the cluster: removing a cluster deletes its password, and only its password.
      const password = generatedPassword(`${name}-cluster-${cluster}`, this);
      this.clusterPasswords[cluster] = pulumi.secret(password.result);
      env[clusterPasswordEnv(cluster)] = password.result;
    }

    const envSecret = kubernetesSecret(
      `${name}-credentials`,
      SECRETS.fluentdEnv.name,
      args.namespaceRef,
      env,
      this,
    );
    const tlsSecret = kubernetesSecret(
      `${name}-tls`,
      SECRETS.fluentdTls.name,
      args.namespaceRef,
      {
        [SECRETS.fluentdTls.keys.cert]: args.cert.certPem,
        [SECRETS.fluentdTls.keys.key]: args.cert.privateKeyPem,
        [SECRETS.fluentdTls.keys.ca]: args.caCertPem,
      },
      this,
    );

    const mainConfig = new k8s.core.v1.ConfigMap(
      `${name}-main-config`,
      {
        metadata: { name: FLUENTD_MAIN_CONFIGMAP, namespace: args.namespaceRef },
        data: fluentdMainFiles(args),
      },
      { parent: this },
    );

    this.release = helmRelease(
      `${name}-release`,
      {
        chart: FLUENTD_CHART,
        repo: args.chartRepo,
        releaseName: RELEASES.fluentd,
        namespace: args.namespaceRef,
        // Certificates are public: their digest keeps the values readable in a preview.
        values: pulumi
          .all([args.cert.certPem, args.caCertPem])
          .apply((pems) => fluentdValues(args, sha256Hex(pems.join("\n")))),
        timeoutSeconds: args.timeoutSeconds,
      },
      { parent: this, dependsOn: [...args.after, envSecret, tlsSecret, mainConfig] },
    );

    if (args.externalServiceType !== "None") {
      new k8s.core.v1.Service(
        `${name}-external`,
        {
          metadata: {
            name: `${FLUENTD_FULLNAME}-external`,
            namespace: args.namespaceRef,
            // Do not wait for a load balancer address: edges dial the configured names, and a cluster
            // without load balancer support would otherwise hold `pulumi up` for ten minutes.
            annotations: { "pulumi.com/skipAwait": "true" },
          },
          spec: {
            type: args.externalServiceType,
            ...(args.externalServiceType === "LoadBalancer" && args.loadBalancerSourceRanges.length > 0
              ? { loadBalancerSourceRanges: args.loadBalancerSourceRanges }
              : {}),
            // The chart's pod labels (fluentd chart _helpers.tpl selectorLabels).
            selector: { "app.kubernetes.io/name": "fluentd", "app.kubernetes.io/instance": RELEASES.fluentd },
            ports: [
              {
                name: "forward",
                protocol: "TCP",
                port: FLUENTD_FORWARD_PORT,
                targetPort: FLUENTD_FORWARD_PORT,
                ...(args.externalServiceType === "NodePort" ? { nodePort: args.nodePort } : {}),
              },
            ],
          },
        },
        { parent: this, dependsOn: [this.release] },
      );
    }

    this.sharedKey = pulumi.secret(sharedKey.result);
    this.registerOutputs({
      sharedKey: this.sharedKey,
      clusterPasswords: this.clusterPasswords,
      release: this.release,
    });
  }
}
