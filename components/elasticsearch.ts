import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { RELEASES, elasticsearchUrl } from "../lib/names";
import { setupFiles } from "../lib/render/esSetup";
import {
  FLUENTD_WRITER_USER,
  elasticsearchValues,
  indexSetupPodSpec,
  usersRolesFile,
  type ElasticsearchValuesInput,
  ELASTICSEARCH_CHART,
} from "../lib/values/elasticsearch";
import { SECRETS } from "../lib/secrets";
import { helmRelease } from "./helm";
import { generatedPassword, kubernetesSecret } from "./secrets";
import { IssuedCert } from "./pki";

export interface ElasticsearchArgs extends ElasticsearchValuesInput {
  /** The namespace to deploy into, for the URL clients use. */
  namespace: string;
  /** The Namespace resource's name output: what the release waits for. */
  namespaceRef: pulumi.Input<string>;
  /** Helm repository of the chart (the version is pinned with its values builder). */
  chartRepo: string;
  /** How long Helm may wait for the release to be ready. */
  timeoutSeconds: number;
  /** CA certificate clients verify the HTTP layer with. */
  caCertPem: pulumi.Input<string>;
  http: IssuedCert;
  transport: IssuedCert;
  transportCaCertPem: pulumi.Input<string>;
  /** The Secret holding the CA certificate alone (`ca.crt`), mounted by the index-setup Job. */
  caSecret: k8s.core.v1.Secret;
  /** Days logs are kept before ILM deletes them. */
  retentionDays: number;
}

/**
 * A secured Elasticsearch: TLS on HTTP and transport with our certificates, our `elastic` password, and a
 * least-privilege file-realm user for Fluentd. Passwords reach the pods through Secrets only; the Helm
 * values carry Secret names, never their contents.
 */
export class Elasticsearch extends pulumi.ComponentResource {
  /** In-cluster HTTPS URL; its host name is in the certificate. */
  public readonly url: pulumi.Output<string>;
  /** Password of the `elastic` superuser (secret). */
  public readonly elasticPassword: pulumi.Output<string>;
  /** Password of the user Fluentd writes as (secret). */
  public readonly writerPassword: pulumi.Output<string>;
  public readonly release: k8s.helm.v3.Release;
  /** Completes once the ILM policy and the index template exist: write only after it. */
  public readonly indexSetup: k8s.batch.v1.Job;

  constructor(name: string, args: ElasticsearchArgs, opts?: pulumi.ComponentResourceOptions) {
    if (!Number.isInteger(args.replicas) || args.replicas < 1 || args.replicas % 2 === 0) {
      throw new pulumi.InputPropertyError({
        propertyPath: "replicas",
        reason: `must be odd and positive, got ${args.replicas}`,
      });
    }
    super("efk:logging:Elasticsearch", name, {}, opts);

    const elastic = generatedPassword(`${name}-elastic-password`, this);
    const writer = generatedPassword(`${name}-writer-password`, this);

    const credentials = kubernetesSecret(
      `${name}-credentials`,
      SECRETS.esCredentials.name,
      args.namespaceRef,
      {
        [SECRETS.esCredentials.keys.username]: "elastic",
        [SECRETS.esCredentials.keys.password]: elastic.result,
      },
      this,
    );
    const tlsSecret = kubernetesSecret(
      `${name}-tls`,
      SECRETS.esTls.name,
      args.namespaceRef,
      {
        [SECRETS.esTls.keys.httpCert]: args.http.certPem,
        [SECRETS.esTls.keys.httpKey]: args.http.privateKeyPem,
        [SECRETS.esTls.keys.ca]: args.caCertPem,
        [SECRETS.esTls.keys.transportCert]: args.transport.certPem,
        [SECRETS.esTls.keys.transportKey]: args.transport.privateKeyPem,
        [SECRETS.esTls.keys.transportCa]: args.transportCaCertPem,
      },
      this,
    );
    const fileRealm = kubernetesSecret(
      `${name}-file-realm`,
      SECRETS.esFileRealm.name,
      args.namespaceRef,
      {
        // Elasticsearch reads bcrypt hashes ($2a$) from the file realm; the password itself never lands here.
        [SECRETS.esFileRealm.keys.users]: pulumi.interpolate`${FLUENTD_WRITER_USER}:${writer.bcryptHash}\n`,
        [SECRETS.esFileRealm.keys.usersRoles]: usersRolesFile(),
      },
      this,
    );

    this.release = helmRelease(
      `${name}-release`,
      {
        chart: ELASTICSEARCH_CHART,
        repo: args.chartRepo,
        releaseName: RELEASES.elasticsearch,
        namespace: args.namespaceRef,
        values: elasticsearchValues(args),
        timeoutSeconds: args.timeoutSeconds,
      },
      { parent: this, dependsOn: [credentials, tlsSecret, fileRealm] },
    );

    // Auto-named: a changed policy or template makes a new ConfigMap, hence a new Job that installs it.
    const setupConfig = new k8s.core.v1.ConfigMap(
      `${name}-index-setup`,
      {
        metadata: { namespace: args.namespaceRef },
        data: setupFiles(args.dataStreamPrefix, args.retentionDays, args.replicas),
      },
      { parent: this },
    );
    this.indexSetup = new k8s.batch.v1.Job(
      `${name}-index-setup`,
      {
        metadata: { namespace: args.namespaceRef, labels: { "app.kubernetes.io/part-of": "efk-pulumi" } },
        spec: {
          backoffLimit: 10,
          template: {
            metadata: { labels: { "app.kubernetes.io/name": "efk-index-setup" } },
            spec: pulumi
              .all([setupConfig.metadata.name, args.caSecret.metadata.name])
              .apply(([configMapName, caSecretName]) =>
                indexSetupPodSpec({
                  imageTag: args.imageTag,
                  url: elasticsearchUrl(args.namespace),
                  configMapName,
                  caSecretName,
                }),
              ),
          },
        },
      },
      { parent: this, dependsOn: [this.release, credentials] },
    );

    this.url = pulumi.output(elasticsearchUrl(args.namespace));
    this.elasticPassword = pulumi.secret(elastic.result);
    this.writerPassword = pulumi.secret(writer.result);

    this.registerOutputs({
      url: this.url,
      elasticPassword: this.elasticPassword,
      writerPassword: this.writerPassword,
      release: this.release,
      indexSetup: this.indexSetup,
    });
  }
}
