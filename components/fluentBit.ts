import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ForwardEndpoint } from "../lib/centralOutputs";
import { RELEASES } from "../lib/names";
import { SECRETS } from "../lib/secrets";
import {
  FLUENT_BIT_CHART,
  NODE_AGENT_PRIORITY_CLASS,
  fluentBitValues,
  type FluentBitSettings,
} from "../lib/values/fluentBit";
import { helmRelease } from "./helm";
import type { IssuedCert } from "./pki";
import { kubernetesSecret } from "./secrets";

export type { FluentBitSettings };

/**
 * How a cluster's agents prove who they are: by their client certificate (its key the identity), or by the
 * shared key and the cluster's password (and, from a central of an earlier version, a certificate too).
 */
export type FluentBitCredentials =
  | { kind: "certificate"; cert: IssuedCert }
  | {
      kind: "user";
      sharedKey: pulumi.Input<string>;
      password: pulumi.Input<string>;
      clientCert?: IssuedCert;
    };

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
  /** How this cluster proves who it is to the aggregator. */
  credentials: FluentBitCredentials;
  /** What must be ready first (on the central cluster, the aggregator). */
  after?: pulumi.Resource[];
}

/** Fluent Bit on every node of one cluster, forwarding to the aggregator over verified TLS. */
export class FluentBit extends pulumi.ComponentResource {
  public readonly release: k8s.helm.v3.Release;

  constructor(name: string, args: FluentBitArgs, opts?: pulumi.ComponentResourceOptions) {
    super("efk:logging:FluentBit", name, {}, opts);

    const creds = args.credentials;
    const envSecret =
      creds.kind === "user"
        ? [
            kubernetesSecret(
              `${name}-credentials`,
              SECRETS.fluentBitEnv.name,
              args.namespaceRef,
              {
                [SECRETS.fluentBitEnv.keys.sharedKey]: pulumi.secret(creds.sharedKey),
                [SECRETS.fluentBitEnv.keys.password]: pulumi.secret(creds.password),
              },
              this,
            ),
          ]
        : [];
    const clientCert = creds.kind === "certificate" ? creds.cert : creds.clientCert;
    const keys = SECRETS.fluentBitTls.keys;
    const tlsData: Record<string, pulumi.Input<string>> = { [keys.ca]: args.caCertPem };
    if (clientCert) {
      tlsData[keys.cert] = clientCert.certPem;
      tlsData[keys.key] = clientCert.privateKeyPem;
    }
    const tlsSecret = kubernetesSecret(
      `${name}-tls`,
      SECRETS.fluentBitTls.name,
      args.namespaceRef,
      tlsData,
      this,
    );

    // Cluster-scoped; the pods name it, and the API server refuses a pod whose class does not exist yet.
    const priorityClass = new k8s.scheduling.v1.PriorityClass(
      `${name}-priority`,
      {
        metadata: { name: NODE_AGENT_PRIORITY_CLASS.name },
        value: NODE_AGENT_PRIORITY_CLASS.value,
        preemptionPolicy: "PreemptLowerPriority",
        globalDefault: false,
        description: "efk-pulumi's Fluent Bit agents: on every node, before the workloads they log.",
      },
      { parent: this },
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
          clientCert: clientCert !== undefined,
          userAuth: creds.kind === "user",
        }),
        timeoutSeconds: args.timeoutSeconds,
      },
      { parent: this, dependsOn: [...(args.after ?? []), ...envSecret, tlsSecret, priorityClass] },
    );
    this.registerOutputs({ release: this.release });
  }
}
