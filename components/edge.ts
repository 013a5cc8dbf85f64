import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config";
import type { EdgeCredentials, ForwardEndpoint } from "../lib/centralOutputs";
import { FluentBit } from "./fluentBit";

export type EdgeSettings = Omit<StackConfig, "role">;

export interface EdgeArgs {
  /** This stack's validated configuration. */
  config: EdgeSettings;
  /** From the central stack: where to send, the CA to verify it with, the shared key and our credentials. */
  endpoint: ForwardEndpoint;
  caCertPem: pulumi.Input<string>;
  sharedKey: pulumi.Input<string>;
  credentials: pulumi.Input<EdgeCredentials>;
  /** Whether the central aggregator requires client certificates. */
  clientCert: boolean;
}

/** An edge cluster: its namespace and Fluent Bit, shipping to the central aggregator. */
export class Edge extends pulumi.ComponentResource {
  public readonly namespace: pulumi.Output<string>;

  constructor(name: string, args: EdgeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("efk:stack:Edge", name, {}, opts);
    const c = args.config;
    const namespace = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      { metadata: { name: c.namespace, labels: { "app.kubernetes.io/part-of": "efk-pulumi" } } },
      { parent: this },
    );
    const creds = pulumi.secret(pulumi.output(args.credentials));
    new FluentBit(
      `${name}-fluent-bit`,
      {
        namespaceRef: namespace.metadata.name,
        chartRepo: c.fluentChartRepo,
        timeoutSeconds: c.helmTimeoutSeconds,
        clusterName: c.clusterName,
        namespace: c.namespace,
        imageTag: c.fluentBitImageTag,
        cpu: c.fluentBitCpu,
        memory: c.fluentBitMemory,
        bufferSize: c.fluentBitBufferSize,
        backfillHours: c.fluentBitBackfillHours,
        excludeNamespaces: c.fluentBitExcludeNamespaces,
        excludeContainers: c.fluentBitExcludeContainers,
        host: args.endpoint.host,
        port: args.endpoint.port,
        tlsVhost: args.endpoint.serverName,
        caCertPem: args.caCertPem,
        sharedKey: pulumi.secret(args.sharedKey),
        password: creds.password,
        clientCert: args.clientCert
          ? {
              certPem: creds.apply((x) => x.clientCertPem ?? ""),
              privateKeyPem: creds.apply((x) => x.clientKeyPem ?? ""),
            }
          : undefined,
      },
      { parent: this },
    );
    this.namespace = namespace.metadata.name;
    this.registerOutputs({ namespace: this.namespace });
  }
}
