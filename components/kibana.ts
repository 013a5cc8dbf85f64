import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { IndexLayout } from "../lib/capacity";
import { sha256Hex } from "../lib/digest";
import { RELEASES, kibanaUrl } from "../lib/names";
import { kibanaObjects, kibanaSetupFiles } from "../lib/render/kibanaSetup";
import { KIBANA_SETUP_ROLE, KIBANA_SETUP_USER } from "../lib/values/elasticsearch";
import { KIBANA_CHART, kibanaSetupPodSpec, kibanaValues, type KibanaValuesInput } from "../lib/values/kibana";
import { KIBANA_KEY_ENVS, SECRETS } from "../lib/secrets";
import { helmChart } from "./helm";
import { setupJob } from "./jobs";
import { generatedPassword, kubernetesSecret } from "./secrets";
import { IssuedCert } from "./pki";

export interface KibanaArgs extends KibanaValuesInput {
  /** The Namespace resource's name (must exist). */
  namespaceRef: pulumi.Input<string>;
  /** Helm repository of the chart (the version is pinned with its values builder). */
  chartRepo: string;
  /** How long Kibana's rollout may take, and the setup Job waits for Kibana to be ready. */
  timeoutSeconds: number;
  /** Kibana's server certificate. */
  cert: IssuedCert;
  /** Kibana's `elastic/kibana` service-account token, as Kibana sends it (secret). */
  serviceToken: pulumi.Input<string>;
  /** Password of the file-realm user that creates the data views (secret). */
  setupPassword: pulumi.Input<string>;
  /** Data stream prefix: the data views' index patterns are `<prefix>-<cluster>` and `<prefix>-*`. */
  dataStreamPrefix: string;
  /** The registered clusters (the central one and its edges): a saved search each. */
  clusters: string[];
  /** Which data streams exist (a data view each). */
  layout: { kind: IndexLayout; dedicated: string[] };
  /** What must be ready first: the Elasticsearch release (it holds the token and the setup user) and the CA Secret. */
  after: pulumi.Resource[];
}

/**
 * Kibana over HTTPS, verifying Elasticsearch against our CA, reaching it as the `elastic/kibana` service
 * account (Kibana 8 refuses the `elastic` superuser) with a token the program made. The chart is rendered
 * without its hooks, which would log in as `elastic` to make a token and delete it on every upgrade; so an
 * upgrade changes Kibana's objects and nothing else. Once Kibana is ready, a Job creates its data views
 * and saved search.
 */
export class Kibana extends pulumi.ComponentResource {
  public readonly url: pulumi.Output<string>;
  public readonly chart: k8s.helm.v4.Chart;
  /** Completes once the data views and the saved search exist. */
  public readonly setup: k8s.batch.v1.Job;

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

    const token = kubernetesSecret(
      `${name}-es-token`,
      SECRETS.kibanaEsToken.name,
      args.namespaceRef,
      { [SECRETS.kibanaEsToken.keys.token]: args.serviceToken },
      this,
    );

    this.chart = helmChart(
      `${name}-chart`,
      {
        chart: KIBANA_CHART,
        repo: args.chartRepo,
        releaseName: RELEASES.kibana,
        namespace: args.namespaceRef,
        // Digests, not secrets: the values stay readable in a preview.
        values: pulumi.unsecret(
          pulumi.all([args.cert.certPem, args.serviceToken]).apply(([pem, token]) =>
            kibanaValues(args, {
              tlsChecksum: sha256Hex(pem),
              tokenChecksum: sha256Hex(token),
              timeoutSeconds: args.timeoutSeconds,
            }),
          ),
        ),
      },
      { parent: this, dependsOn: [...args.after, tlsSecret, encryptionKeys, token] },
    );

    const setupCredentials = kubernetesSecret(
      `${name}-setup-credentials`,
      SECRETS.kibanaSetupCredentials.name,
      args.namespaceRef,
      { [SECRETS.kibanaSetupCredentials.keys.password]: args.setupPassword },
      this,
    );
    // Auto-named: new objects (a cluster added) make a new ConfigMap, hence a new Job that creates them.
    const setupConfig = new k8s.core.v1.ConfigMap(
      `${name}-setup`,
      {
        metadata: { namespace: args.namespaceRef },
        data: kibanaSetupFiles(
          kibanaObjects(args.dataStreamPrefix, args.clusters, args.layout, {
            name: KIBANA_SETUP_USER,
            role: KIBANA_SETUP_ROLE,
            secret: SECRETS.kibanaSetupCredentials.name,
          }),
        ),
      },
      { parent: this },
    );
    this.url = pulumi.output(kibanaUrl(args.namespace));
    this.setup = setupJob(
      `${name}-setup`,
      {
        namespaceRef: args.namespaceRef,
        appName: "efk-kibana-setup",
        backoffLimit: 3,
        podSpec: setupConfig.metadata.name.apply((configMapName) =>
          kibanaSetupPodSpec({
            imageTag: args.imageTag,
            url: kibanaUrl(args.namespace),
            user: KIBANA_SETUP_USER,
            configMapName,
            waitSeconds: args.timeoutSeconds,
          }),
        ),
      },
      {
        parent: this,
        dependsOn: [this.chart, setupCredentials, ...args.after],
        // The script waits up to timeoutSeconds for Kibana; Pulumi waits a little longer for the script.
        customTimeouts: { create: `${args.timeoutSeconds + 120}s`, update: `${args.timeoutSeconds + 120}s` },
      },
    );
    this.registerOutputs({ url: this.url, chart: this.chart, setup: this.setup });
  }
}
