import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { sha256Hex } from "../lib/digest";
import { ES_DEDICATED_MASTER_COUNTS, RELEASES, elasticsearchUrl } from "../lib/names";
import { setupFiles } from "../lib/render/esSetup";
import {
  FLUENTD_WRITER_USER,
  KIBANA_SETUP_USER,
  ES_EXPORTER_USER,
  elasticsearchReleases,
  serviceTokenBearer,
  serviceTokensFile,
  indexSetupPodSpec,
  usersRolesFile,
  type ElasticsearchValuesInput,
  ELASTICSEARCH_CHART,
} from "../lib/values/elasticsearch";
import { SECRETS } from "../lib/secrets";
import { helmRelease } from "./helm";
import { setupJob } from "./jobs";
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
  /** Whether the file realm holds the exporter's user (metrics are scraped). */
  exporterUser: boolean;
}

/**
 * A secured Elasticsearch: TLS on HTTP and transport with our certificates, our `elastic` password, a
 * least-privilege file-realm user for Fluentd and one for Kibana's setup, and Kibana's service-account
 * token. Passwords reach the pods through Secrets only; the Helm
 * values carry Secret names, never their contents.
 */
export class Elasticsearch extends pulumi.ComponentResource {
  /** In-cluster HTTPS URL; its host name is in the certificate. */
  public readonly url: pulumi.Output<string>;
  /** Password of the `elastic` superuser (secret). */
  public readonly elasticPassword: pulumi.Output<string>;
  /** Password of the user Fluentd writes as (secret). */
  public readonly writerPassword: pulumi.Output<string>;
  /** Kibana's `elastic/kibana` service-account token, as Kibana sends it (secret). */
  public readonly kibanaToken: pulumi.Output<string>;
  /** Password of the file-realm user that creates Kibana's data views (secret). */
  public readonly kibanaSetupPassword: pulumi.Output<string>;
  /** Password of the exporter's file-realm user (secret), when it has one. */
  public readonly exporterPassword: pulumi.Output<string> | undefined;
  /** The release that completes the cluster (with dedicated masters, the data nodes'): clients wait for it. */
  public readonly release: k8s.helm.v3.Release;
  /** Completes once the ILM policy and the index template exist: write only after it. */
  public readonly indexSetup: k8s.batch.v1.Job;

  constructor(name: string, args: ElasticsearchArgs, opts?: pulumi.ComponentResourceOptions) {
    if (!(ES_DEDICATED_MASTER_COUNTS as readonly number[]).includes(args.dedicatedMasters)) {
      throw new pulumi.InputPropertyError({
        propertyPath: "dedicatedMasters",
        reason: `must be one of ${ES_DEDICATED_MASTER_COUNTS.join(", ")}, got ${args.dedicatedMasters}`,
      });
    }
    // Only master-eligible nodes vote: without dedicated masters, every node does.
    const votersOdd = args.dedicatedMasters > 0 || args.replicas % 2 === 1;
    if (!Number.isInteger(args.replicas) || args.replicas < 1 || !votersOdd) {
      throw new pulumi.InputPropertyError({
        propertyPath: "replicas",
        reason: `must be ${args.dedicatedMasters > 0 ? "positive" : "odd and positive without dedicated masters"}, got ${args.replicas}`,
      });
    }
    super("efk:logging:Elasticsearch", name, {}, opts);

    const elastic = generatedPassword(`${name}-elastic-password`, this);
    const writer = generatedPassword(`${name}-writer-password`, this);
    const kibanaSetup = generatedPassword(`${name}-kibana-setup-password`, this);
    const kibanaToken = generatedPassword(`${name}-kibana-token`, this);
    const exporter = args.exporterUser ? generatedPassword(`${name}-exporter-password`, this) : undefined;

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
    // Elasticsearch reads bcrypt hashes ($2a$) from these files; the passwords themselves never land here.
    const users = pulumi.interpolate`${FLUENTD_WRITER_USER}:${writer.bcryptHash}\n${KIBANA_SETUP_USER}:${kibanaSetup.bcryptHash}\n${
      exporter ? pulumi.interpolate`${ES_EXPORTER_USER}:${exporter.bcryptHash}\n` : ""
    }`;
    const usersRoles = usersRolesFile(args.exporterUser);
    const serviceTokens = kibanaToken.bcryptHash.apply(serviceTokensFile);
    const fileRealm = kubernetesSecret(
      `${name}-file-realm`,
      SECRETS.esFileRealm.name,
      args.namespaceRef,
      { [SECRETS.esFileRealm.keys.users]: users, [SECRETS.esFileRealm.keys.usersRoles]: usersRoles },
      this,
    );
    const serviceTokensSecret = kubernetesSecret(
      `${name}-service-tokens`,
      SECRETS.esServiceTokens.name,
      args.namespaceRef,
      { [SECRETS.esServiceTokens.keys.serviceTokens]: serviceTokens },
      this,
    );
    // A digest of hashes reveals nothing a preview should hide, so it stays readable in the values.
    const credentialsChecksum = pulumi.unsecret(
      pulumi.all([users, serviceTokens]).apply((files) => sha256Hex(usersRoles + files.join("\0"))),
    );

    // One release per node group, each waiting for the one before: data nodes join masters that have
    // formed the cluster (Helm waits for readiness, so `dependsOn` means ready, not merely applied).
    // The same order upgrades the masters first, where Elastic wants them last; creation cannot do without
    // it and the program cannot tell an upgrade from a creation, so the README's upgrade section has the
    // data nodes go first with `pulumi up --target`.
    const releases: k8s.helm.v3.Release[] = [];
    for (const group of elasticsearchReleases(args)) {
      const release = helmRelease(
        // The `elasticsearch` release keeps the resource name it always had (and so its state).
        group.releaseName === RELEASES.elasticsearch
          ? `${name}-release`
          : `${name}-${group.nodeGroup}-release`,
        {
          chart: ELASTICSEARCH_CHART,
          repo: args.chartRepo,
          releaseName: group.releaseName,
          namespace: args.namespaceRef,
          values: credentialsChecksum.apply(group.values),
          timeoutSeconds: args.timeoutSeconds,
        },
        {
          parent: this,
          dependsOn: [credentials, tlsSecret, fileRealm, serviceTokensSecret, ...releases.slice(-1)],
        },
      );
      releases.push(release);
    }
    this.release = releases[releases.length - 1];
    const url = elasticsearchUrl(args.namespace, args.dedicatedMasters > 0);

    // Auto-named: a changed policy or template makes a new ConfigMap, hence a new Job that installs it.
    const setupConfig = new k8s.core.v1.ConfigMap(
      `${name}-index-setup`,
      {
        metadata: { namespace: args.namespaceRef },
        data: setupFiles(args.dataStreamPrefix, args.retentionDays, args.replicas, args.snapshots),
      },
      { parent: this },
    );
    this.indexSetup = setupJob(
      `${name}-index-setup`,
      {
        namespaceRef: args.namespaceRef,
        appName: "efk-index-setup",
        backoffLimit: 10,
        podSpec: pulumi
          .all([setupConfig.metadata.name, args.caSecret.metadata.name])
          .apply(([configMapName, caSecretName]) =>
            indexSetupPodSpec({
              imageTag: args.imageTag,
              url,
              configMapName,
              caSecretName,
              dataStreamPrefix: args.dataStreamPrefix,
              snapshots: args.snapshots !== undefined,
            }),
          ),
      },
      { parent: this, dependsOn: [this.release, credentials] },
    );

    this.url = pulumi.output(url);
    this.elasticPassword = pulumi.secret(elastic.result);
    this.writerPassword = pulumi.secret(writer.result);
    this.kibanaToken = pulumi.secret(kibanaToken.result.apply(serviceTokenBearer));
    this.kibanaSetupPassword = pulumi.secret(kibanaSetup.result);
    this.exporterPassword = exporter ? pulumi.secret(exporter.result) : undefined;

    this.registerOutputs({
      url: this.url,
      elasticPassword: this.elasticPassword,
      writerPassword: this.writerPassword,
      kibanaToken: this.kibanaToken,
      kibanaSetupPassword: this.kibanaSetupPassword,
      release: this.release,
      indexSetup: this.indexSetup,
    });
  }
}
