import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ForwardEndpoint } from "../lib/centralOutputs";
import { FluentBit, type FluentBitSettings } from "./fluentBit";
import { Monitoring, type MonitoringSettings } from "./monitoring";
import type { IssuedCert } from "./pki";

export interface EdgeArgs {
  /** This cluster's name: the `cluster` field on its records and its forward user. */
  clusterName: string;
  /** Namespace for the agents (created by this component). */
  namespace: string;
  /** Helm repository of the fluent-bit chart. */
  chartRepo: string;
  /** How long Helm may wait for the release to be ready. */
  timeoutSeconds: number;
  /** What the stack's configuration says about its node agents. */
  fluentBit: FluentBitSettings;
  /** Metrics scraping and the agents' alerts. */
  monitoring: MonitoringSettings;
  /** From the central stack: where to send, and the name its certificate carries. */
  endpoint: ForwardEndpoint;
  /** From the central stack: the CA to verify the aggregator with. */
  caCertPem: pulumi.Input<string>;
  /** From the central stack: the aggregator's shared key (secret). */
  sharedKey: pulumi.Input<string>;
  /** From the central stack: this cluster's forward password (secret). */
  password: pulumi.Input<string>;
  /** From the central stack, when the aggregator requires one: this cluster's client certificate. */
  clientCert?: IssuedCert;
}

/** An edge cluster: its namespace and Fluent Bit, shipping to the central aggregator. */
export class Edge extends pulumi.ComponentResource {
  public readonly namespace: pulumi.Output<string>;

  constructor(name: string, args: EdgeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("efk:stack:Edge", name, {}, opts);
    const namespace = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      { metadata: { name: args.namespace, labels: { "app.kubernetes.io/part-of": "efk-pulumi" } } },
      { parent: this },
    );
    new FluentBit(
      `${name}-fluent-bit`,
      {
        clusterName: args.clusterName,
        namespace: args.namespace,
        namespaceRef: namespace.metadata.name,
        chartRepo: args.chartRepo,
        timeoutSeconds: args.timeoutSeconds,
        settings: args.fluentBit,
        endpoint: args.endpoint,
        caCertPem: args.caCertPem,
        sharedKey: pulumi.secret(args.sharedKey),
        password: pulumi.secret(args.password),
        clientCert: args.clientCert,
      },
      { parent: this },
    );
    new Monitoring(
      `${name}-monitoring`,
      {
        clusterName: args.clusterName,
        namespace: args.namespace,
        namespaceRef: namespace.metadata.name,
        settings: args.monitoring,
      },
      { parent: this },
    );
    this.namespace = namespace.metadata.name;
    this.registerOutputs({ namespace: this.namespace });
  }
}
