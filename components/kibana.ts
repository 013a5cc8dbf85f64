import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { RELEASES, kibanaUrl } from "../lib/names";
import { KIBANA_CHART, kibanaValues, type KibanaValuesInput } from "../lib/values/kibana";
import { KIBANA_KEY_ENVS, SECRETS } from "../lib/secrets";
import { helmRelease } from "./helm";
import { generatedPassword, kubernetesSecret } from "./secrets";
import { IssuedCert } from "./pki";

export interface KibanaArgs extends KibanaValuesInput {
  /** The Namespace resource's name (must exist). */
  namespaceRef: pulumi.Input<string>;
  /** Helm repository of the chart (the version is pinned with its values builder). */
  chartRepo: string;
  /** How long Helm may wait for the release to be ready. */
  timeoutSeconds: number;
  /** Kibana's server certificate. */
  cert: IssuedCert;
  /** What must be ready first: the Elasticsearch release (the token hook calls its API) and the CA Secret. */
  after: pulumi.Resource[];
}

/**
 * Kibana over HTTPS, verifying Elasticsearch against our CA. It authenticates with a service-account token
 * that the chart's pre-install hook creates (Kibana 8 refuses the `elastic` superuser), so this must be a
 * Helm release, and it must start after Elasticsearch is ready (`after`).
 */
export class Kibana extends pulumi.ComponentResource {
  public readonly url: pulumi.Output<string>;
  public readonly release: k8s.helm.v3.Release;

  constructor(name: string, args: KibanaArgs, opts?: pulumi.ComponentResourceOptions) {
    super("efk:logging:Kibana", name, {}, opts);

    const tlsSecret = kubernetesSecret(
      `${name}-tls`,
      SECRETS.kibanaTls.name,
      args.namespaceRef,
      {
        [SECRETS.kibanaTls.keys.cert]: args.cert.certPem,
        [SECRETS.kibanaTls.keys.key]: args.cert.privateKeyPem,
      },
      this,
      "kubernetes.io/tls",
    );
    const keys: Record<string, pulumi.Output<string>> = {};
    for (const env of KIBANA_KEY_ENVS) {
      keys[env] = generatedPassword(`${name}-${env.toLowerCase().replace(/_/g, "-")}`, this).result;
    }
    const encryptionKeys = kubernetesSecret(
      `${name}-encryption-keys`,
      SECRETS.kibanaEncryptionKeys.name,
      args.namespaceRef,
      keys,
      this,
    );

    this.release = helmRelease(
      `${name}-release`,
      {
        chart: KIBANA_CHART,
        repo: args.chartRepo,
        releaseName: RELEASES.kibana,
        namespace: args.namespaceRef,
        values: kibanaValues(args),
        timeoutSeconds: args.timeoutSeconds,
      },
      { parent: this, dependsOn: [...args.after, tlsSecret, encryptionKeys] },
    );
    this.url = pulumi.output(kibanaUrl(args.namespace));
    this.registerOutputs({ url: this.url, release: this.release });
  }
}
