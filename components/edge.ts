import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ForwardEndpoint } from "../lib/centralOutputs";
import { FluentBit, type FluentBitCredentials, type FluentBitSettings } from "./fluentBit";
import { Monitoring, type MonitoringSettings } from "./monitoring";
import { clientKeyRequest, type IssuedCert } from "./pki";
import { generatedPassword } from "./secrets";

/** Where to send, and the CA that verifies the aggregator: what every registered edge reads from the central. */
export interface CentralView {
  endpoint: ForwardEndpoint;
  caCertPem: pulumi.Input<string>;
}

/**
 * What the central stack says about this cluster: not registered yet (or revoked); registered, with the
 * certificate it signed for this cluster's key, or with the shared key when the aggregator knows clusters
 * by user; or a central of an earlier version that made this cluster's credentials itself (migration).
 */
export type EdgeStanding =
  | { state: "unregistered" }
  | (CentralView & { state: "certificate"; clientCertPem: string })
  | (CentralView & { state: "user"; sharedKey: pulumi.Input<string> })
  | (CentralView & {
      state: "legacy";
      sharedKey: pulumi.Input<string>;
      password: pulumi.Input<string>;
      clientCert?: IssuedCert;
    });

export interface EdgeArgs {
  /** This cluster's name: the `cluster` field on its records and its forward identity. */
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
  /** What the central stack says about this cluster. */
  standing: EdgeStanding;
}

/**
 * An edge cluster: its own forward key (and password), made here and never leaving this stack but as a
 * certificate request; and, once the central has registered it, its namespace and Fluent Bit.
 */
export class Edge extends pulumi.ComponentResource {
  /** Undefined until the central has registered this cluster. */
  public readonly namespace: pulumi.Output<string> | undefined;
  /** The request for this cluster's own key, for the central to sign (public). */
  public readonly csrPem: pulumi.Output<string>;
  /** This cluster's forward password, for a central that knows clusters by user (secret). */
  public readonly password: pulumi.Output<string>;

  constructor(name: string, args: EdgeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("efk:stack:Edge", name, {}, opts);
    const key = clientKeyRequest(`${name}-forward`, args.clusterName, this);
    this.csrPem = key.certRequestPem;
    this.password = pulumi.secret(generatedPassword(`${name}-forward-password`, this).result);

    const standing = args.standing;
    if (standing.state !== "unregistered") {
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
          endpoint: standing.endpoint,
          caCertPem: standing.caCertPem,
          credentials: this.credentials(standing, key.privateKeyPem),
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
    }
    this.registerOutputs({ namespace: this.namespace, csrPem: this.csrPem, password: this.password });
  }

  private credentials(standing: EdgeStanding, privateKeyPem: pulumi.Output<string>): FluentBitCredentials {
    switch (standing.state) {
      case "certificate":
        return {
          kind: "certificate",
          cert: { certPem: pulumi.output(standing.clientCertPem), privateKeyPem },
        };
      case "user":
        return { kind: "user", sharedKey: standing.sharedKey, password: this.password };
      case "legacy":
        return {
          kind: "user",
          sharedKey: standing.sharedKey,
          password: standing.password,
          clientCert: standing.clientCert,
        };
      case "unregistered":
        throw new Error("BUG: an unregistered edge has no credentials");
    }
  }
}
