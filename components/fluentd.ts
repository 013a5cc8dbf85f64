import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { sha256Hex } from "../lib/digest";
import {
  FLUENTD_FORWARD_PORT,
  FLUENTD_FULLNAME,
  FLUENTD_SELECTOR_LABELS,
  RELEASES,
  type FluentdServiceType,
} from "../lib/names";
import { FLUENTD_ENV, clusterPasswordEnv } from "../lib/render/fluentd";
import {
  FLUENTD_CHART,
  FLUENTD_CLIENTS_CONFIGMAP,
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
  /**
   * Who may send. With `clientCertAuth`, every cluster's client certificate (public), admitted by its key;
   * otherwise every cluster's forward password (secret). One entry per cluster of `clusters`.
   */
  identities:
    | { clientCerts: Record<string, pulumi.Input<string>> }
    | { passwords: Record<string, pulumi.Input<string>> };
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
  /** Without client certificates: the shared key every forwarder presents (secret). */
  public readonly sharedKey: pulumi.Output<string> | undefined;
  public readonly release: k8s.helm.v3.Release;

  constructor(name: string, args: FluentdArgs, opts?: pulumi.ComponentResourceOptions) {
    if (new Set(args.clusters).size !== args.clusters.length || args.clusters.length === 0) {
      throw new pulumi.InputPropertyError({
        propertyPath: "clusters",
        reason: `must be a non-empty list of distinct names, got ${JSON.stringify(args.clusters)}`,
      });
    }
    const byCertificate = "clientCerts" in args.identities;
    const known = Object.keys(
      "clientCerts" in args.identities ? args.identities.clientCerts : args.identities.passwords,
    );
    if (byCertificate !== args.clientCertAuth || known.sort().join() !== [...args.clusters].sort().join()) {
      throw new pulumi.InputPropertyError({
        propertyPath: "identities",
        reason: `must hold a ${args.clientCertAuth ? "client certificate" : "password"} for each of ${args.clusters.join(", ")}, got ${byCertificate ? "certificates" : "passwords"} for ${known.join(", ") || "none"}`,
      });
    }
    super("efk:logging:Fluentd", name, {}, opts);

    const env: Record<string, pulumi.Input<string>> = {
      [FLUENTD_ENV.esPassword]: args.elasticsearchPassword,
    };
    let clientCerts: Record<string, pulumi.Input<string>> = {};
    if ("clientCerts" in args.identities) {
      clientCerts = args.identities.clientCerts;
    } else {
      const sharedKey = generatedPassword(`${name}-shared-key`, this);
      this.sharedKey = pulumi.secret(sharedKey.result);
      env[FLUENTD_ENV.sharedKey] = sharedKey.result;
      for (const [cluster, password] of Object.entries(args.identities.passwords)) {
        env[clusterPasswordEnv(cluster)] = password;
      }
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

    // Public certificates: who may send is reviewable in a preview. Named after the cluster: revoking one
    // removes its file, and the pods restart on the checksum below.
    const clientsConfig = byCertificate
      ? [
          new k8s.core.v1.ConfigMap(
            `${name}-clients`,
            {
              metadata: { name: FLUENTD_CLIENTS_CONFIGMAP, namespace: args.namespaceRef },
              data: Object.fromEntries(Object.entries(clientCerts).map(([c, pem]) => [`${c}.crt`, pem])),
            },
            { parent: this },
          ),
        ]
      : [];

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
          .all([args.cert.certPem, args.caCertPem, ...args.clusters.map((c) => clientCerts[c] ?? "")])
          .apply((pems) => fluentdValues(args, sha256Hex(pems.join("\n")))),
        timeoutSeconds: args.timeoutSeconds,
      },
      { parent: this, dependsOn: [...args.after, envSecret, tlsSecret, mainConfig, ...clientsConfig] },
    );

    // The chart (0.6.0) has no PodDisruptionBudget. A drain or a node upgrade takes one replica at a time;
    // the others keep taking forward connections while its buffer waits on its volume.
    new k8s.policy.v1.PodDisruptionBudget(
      `${name}-pdb`,
      {
        metadata: { name: FLUENTD_FULLNAME, namespace: args.namespaceRef },
        spec: { maxUnavailable: 1, selector: { matchLabels: FLUENTD_SELECTOR_LABELS } },
      },
      { parent: this },
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
            selector: FLUENTD_SELECTOR_LABELS,
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

    this.registerOutputs({ sharedKey: this.sharedKey, release: this.release });
  }
}
