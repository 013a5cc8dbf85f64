import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { CA_KEY, RELEASES } from "../lib/names";
import { FLUENT_BIT_ENV } from "../lib/render/fluentBit";
import {
  FLUENT_BIT_CHART,
  FLUENT_BIT_SECRETS,
  fluentBitValues,
  type FluentBitValuesInput,
} from "../lib/values/fluentBit";
import { helmRelease } from "./helm";
import { kubernetesSecret } from "./secrets";

export interface FluentBitArgs extends Omit<FluentBitValuesInput, "clientCert"> {
  /** The Namespace resource's name (must exist). */
  namespaceRef: pulumi.Input<string>;
  /** Helm repository of the chart (the version is pinned with its values builder). */
  chartRepo: string;
  /** How long Helm may wait for the release to be ready. */
  timeoutSeconds: number;
  /** The CA that signed the aggregator's certificate. */
  caCertPem: pulumi.Input<string>;
  /** The aggregator's shared key. */
  sharedKey: pulumi.Input<string>;
  /** This cluster's forward password. */
  password: pulumi.Input<string>;
  /** This cluster's client certificate, when the aggregator requires one. */
  clientCert?: { certPem: pulumi.Input<string>; privateKeyPem: pulumi.Input<string> };
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
      FLUENT_BIT_SECRETS.env,
      args.namespaceRef,
      { [FLUENT_BIT_ENV.sharedKey]: args.sharedKey, [FLUENT_BIT_ENV.password]: args.password },
      this,
    );
    const tlsData: Record<string, pulumi.Input<string>> = { [CA_KEY]: args.caCertPem };
    if (args.clientCert) {
      tlsData["tls.crt"] = args.clientCert.certPem;
      tlsData["tls.key"] = args.clientCert.privateKeyPem;
    }
    const tlsSecret = kubernetesSecret(
      `${name}-tls`,
      FLUENT_BIT_SECRETS.tls,
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
        values: fluentBitValues({ ...args, clientCert: args.clientCert !== undefined }),
        timeoutSeconds: args.timeoutSeconds,
      },
      { parent: this, dependsOn: [...(args.after ?? []), envSecret, tlsSecret] },
    );
    this.registerOutputs({ release: this.release });
  }
}
