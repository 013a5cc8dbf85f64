import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ForwardEndpoint } from "../lib/centralOutputs";
import { RELEASES } from "../lib/names";
import { SECRETS } from "../lib/secrets";
import { FLUENT_BIT_CHART, fluentBitValues, type FluentBitSettings } from "../lib/values/fluentBit";
import { helmRelease } from "./helm";
import type { IssuedCert } from "./pki";
import { kubernetesSecret } from "./secrets";

export type { FluentBitSettings };

export interface FluentBitArgs {
  /** This cluster's name: the `cluster` field on its records and its forward user. */
  clusterName: string;
  /** The namespace Fluent Bit is deployed to. */
  namespace: string;
  /** The Namespace resource's name output: what the release waits for. */
  namespaceRef: pulumi.Input<string>;
  /** Helm repository of the chart (the version is pinned with its values builder). */
  chartRepo: string;
  /** How long Helm may wait for the release to be ready. */
  timeoutSeconds: number;
  /** What the stack's configuration says about its node agents. */
  settings: FluentBitSettings;
  /** Where the aggregator is, and the name its certificate must carry. */
  endpoint: ForwardEndpoint;
  /** The CA that signed the aggregator's certificate. */
  caCertPem: pulumi.Input<string>;
  /** The aggregator's shared key. */
  sharedKey: pulumi.Input<string>;
  /** This cluster's forward password. */
  password: pulumi.Input<string>;
  /** This cluster's client certificate, when the aggregator requires one. */
  clientCert?: IssuedCert;
  /** What must be ready first (on the central cluster, the aggregator). */
  after?: pulumi.Resource[];
}

/** Fluent Bit on every node of one cluster, forwarding to the aggregator over verified TLS. */
export class FluentBit extends pulumi.ComponentResource {
  public readonly release: k8s.helm.v3.Release;

  constructor(name: string, args: FluentBitArgs, opts?: pulumi.ComponentResourceOptions) {
    super("efk:logging:FluentBit", name, {}, opts);

    const envSecret = kubernetesSecret(
      `${name}-credentials`,
      SECRETS.fluentBitEnv.name,
      args.namespaceRef,
      {
        [SECRETS.fluentBitEnv.keys.sharedKey]: args.sharedKey,
        [SECRETS.fluentBitEnv.keys.password]: args.password,
      },
      this,
    );
    const keys = SECRETS.fluentBitTls.keys;
    const tlsData: Record<string, pulumi.Input<string>> = { [keys.ca]: args.caCertPem };
    if (args.clientCert) {
      tlsData[keys.cert] = args.clientCert.certPem;
      tlsData[keys.key] = args.clientCert.privateKeyPem;
    }
    const tlsSecret = kubernetesSecret(
      `${name}-tls`,
      SECRETS.fluentBitTls.name,
      args.namespaceRef,
      tlsData,
      this,
    );

    this.release = helmRelease(
      `${name}-release`,
      {
        chart: FLUENT_BIT_CHART,
        repo: args.chartRepo,
        releaseName: RELEASES.fluentBit,
        namespace: args.namespaceRef,
        values: fluentBitValues({
          ...args.settings,
          clusterName: args.clusterName,
          namespace: args.namespace,
          endpoint: args.endpoint,
          clientCert: args.clientCert !== undefined,
        }),
        timeoutSeconds: args.timeoutSeconds,
      },
      { parent: this, dependsOn: [...(args.after ?? []), envSecret, tlsSecret] },
    );
    this.registerOutputs({ release: this.release });
  }
}
