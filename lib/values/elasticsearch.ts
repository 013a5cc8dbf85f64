import type * as k8s from "@pulumi/kubernetes";
import { stringify } from "yaml";
import { ES_CLUSTER_NAME, ES_DATA_NODE_GROUP, ES_NODE_GROUP, ES_UNAME, RELEASES } from "../names";
import { SECRETS } from "../secrets";
import { ES_SETUP_ENV, esSetupEnv, SETUP_FILES } from "../render/esSetup";
import { snapshotKeystore, snapshotNodeSettings, type SnapshotSettings } from "../snapshots";
import { setupPodSpec } from "./setupPod";

export const ES_CONFIG_DIR = "/usr/share/elasticsearch/config";
export const ES_CERTS_DIR = `${ES_CONFIG_DIR}/certs`;

/** The least-privilege role Fluentd writes with: its own data streams, their template and ILM policy. */
export const FLUENTD_WRITER_ROLE = "efk_fluentd_writer";
export const FLUENTD_WRITER_USER = "efk-fluentd";

/** The file-realm user the Elasticsearch exporter reads metrics as, and its role. */
export const ES_EXPORTER_USER = "efk-exporter";
export const ES_EXPORTER_ROLE = "efk_monitor";
/**
 * What the exporter's snapshot and SLM collectors (elasticsearch_exporter v1.11.0 collector/snapshots.go,
 * collector/slm.go) call beyond `monitor`: `GET /_snapshot` and `GET /_snapshot/<repo>/_all` (actions
 * `cluster:admin/repository/get`, `cluster:admin/snapshot/get`: the `monitor_snapshot` privilege,
 * ClusterPrivilegeResolver MONITOR_SNAPSHOT_PATTERN), `GET /_slm/status` and `GET /_slm/stats`
 * (`cluster:admin/slm/status`, `cluster:admin/slm/stats`: no read-only named privilege holds them,
 * `read_slm` has neither, `manage_slm` could change policies, so the two actions by name).
 */
export const ES_EXPORTER_SNAPSHOT_PRIVILEGES = [
  "monitor_snapshot",
  "cluster:admin/slm/status",
  "cluster:admin/slm/stats",
];

/** The file-realm user that creates Kibana's data views and saved search, and its role. */
export const KIBANA_SETUP_USER = "efk-kibana-setup";
export const KIBANA_SETUP_ROLE = "efk_kibana_setup";
/** Kibana's saved objects live in this application (`kibana-<kibana.index>`), in the default space. */
export const KIBANA_APPLICATION = "kibana-.kibana";
/**
 * Kibana feature privileges of the setup user: data views (`indexPatterns`), saved searches (`discover`)
 * and the default data view, a setting (`advancedSettings`). Nothing in Elasticsearch itself. Kibana 8.18
 * replaced the `discover` feature by `discover_v2` but keeps deprecated feature privileges granting what
 * their replacement does (elastic/kibana#186800), so these names hold from 8.5 to 8.19.
 */
export const KIBANA_SETUP_PRIVILEGES = [
  "feature_indexPatterns.all",
  "feature_discover.all",
  "feature_advancedSettings.all",
] as const;

/**
 * Kibana reaches Elasticsearch as the `elastic/kibana` service account (the privileges of the built-in
 * `kibana_system`, nothing more), with a token of ours. Elasticsearch reads such tokens from its
 * `service_tokens` file, one `elastic/kibana/<name>:<hash>` per line, and checks the hash by its prefix
 * (`$2a$` is bcrypt), so the program makes the token the way it makes every password: no hook, no API call.
 */
export const KIBANA_SERVICE_ACCOUNT = "elastic/kibana";
export const KIBANA_TOKEN_NAME = "efk-pulumi";

/** The `service_tokens` file: the token's qualified name and the bcrypt hash of its secret. */
export function serviceTokensFile(secretBcryptHash: string): string {
  return `${KIBANA_SERVICE_ACCOUNT}/${KIBANA_TOKEN_NAME}:${secretBcryptHash}\n`;
}

/**
 * The bearer string Kibana sends (Elasticsearch's ServiceAccountToken.asBearerString): the bytes
 * 0x00 0x01 0x00 0x01 (magic, type, reserved, format version), then `elastic/kibana/<name>:<secret>`,
 * in standard Base64 without padding.
 */
export function serviceTokenBearer(secret: string): string {
  if (secret.length < 10) {
    throw new Error(`a service token's secret must be at least 10 characters, got ${secret.length}`);
  }
  const body = Buffer.from(`${KIBANA_SERVICE_ACCOUNT}/${KIBANA_TOKEN_NAME}:${secret}`, "utf8");
  return Buffer.concat([Buffer.from([0, 1, 0, 1]), body])
    .toString("base64")
    .replace(/=+$/, "");
}

/**
 * The chart's roles minus ml, transform and remote_cluster_client, which a logging cluster does not use
 * and which reserve memory (machine learning especially).
 */
export const ES_ROLES = ["master", "data", "data_content", "data_hot", "data_warm", "data_cold", "ingest"];

/** The dedicated masters' roles: cluster state only, no shards, no ingest pipelines. */
export const ES_MASTER_ROLES = ["master"];
/** The data nodes' roles beside dedicated masters: every role of ES_ROLES but master. */
export const ES_DATA_ROLES = ES_ROLES.filter((role) => role !== "master");

/** A dedicated master's size. */
export interface EsMasterResources {
  /** CPU request per master. */
  cpu: string;
  /** Memory request and limit per master; the JVM sizes its (small) heap from it. */
  memory: string;
  /** Size of each master's volume: it holds the cluster state, no shards. */
  storageSize: string;
}

export interface ElasticsearchValuesInput {
  /** Master-eligible data nodes, odd; with dedicated masters, data nodes (one or more). */
  replicas: number;
  /** Dedicated master nodes: 0 for one group of master-eligible data nodes (the default), else 3 or 5. */
  dedicatedMasters: number;
  /** Each dedicated master's size; unused without dedicated masters. */
  masters: EsMasterResources;
  /** Elasticsearch image tag. */
  imageTag: string;
  /** `hard`: one node per Kubernetes node; `soft`: preferred only. */
  antiAffinity: "hard" | "soft";
  /** Whether the chart's privileged init container sets vm.max_map_count. */
  sysctlInitContainer: boolean;
  /** StorageClass of the data volumes; empty for the cluster default. */
  storageClass: string;
  /** Size of each node's data volume (a Kubernetes quantity). */
  storageSize: string;
  /** CPU request per (data) node. */
  cpu: string;
  /** Memory request and limit per (data) node; the JVM sizes its heap from it. */
  memory: string;
  /** Index/data-stream name prefix the Fluentd writer role may write to, e.g. "efk-logs". */
  dataStreamPrefix: string;
  /** The snapshot repository, when snapshots are configured: its credentials go in every node's keystore. */
  snapshots?: SnapshotSettings;
}

/** elasticsearch.yml: security on, TLS on both layers with our CAs; the chart sets none of it when createCert is false. */
export function elasticsearchYml(snapshots?: SnapshotSettings): string {
  const c = (key: keyof typeof SECRETS.esTls.keys) => `${ES_CERTS_DIR}/${SECRETS.esTls.keys[key]}`;
  return stringify({
    "xpack.security.enabled": true,
    "xpack.security.enrollment.enabled": false,
    "xpack.security.http.ssl.enabled": true,
    "xpack.security.http.ssl.key": c("httpKey"),
    "xpack.security.http.ssl.certificate": c("httpCert"),
    "xpack.security.http.ssl.certificate_authorities": [c("ca")],
    "xpack.security.transport.ssl.enabled": true,
    // Nodes dial each other by IP, so host names cannot be checked; trust is the transport-only CA.
    "xpack.security.transport.ssl.verification_mode": "certificate",
    "xpack.security.transport.ssl.client_authentication": "required",
    "xpack.security.transport.ssl.key": c("transportKey"),
    "xpack.security.transport.ssl.certificate": c("transportCert"),
    "xpack.security.transport.ssl.certificate_authorities": [c("transportCa")],
    // File realm first (the Fluentd writer lives there), then the native realm (elastic, service accounts).
    "xpack.security.authc.realms.file.file1.order": 0,
    "xpack.security.authc.realms.native.native1.order": 1,
    // An S3-compatible store's endpoint: a node setting of the repository client, not a secret.
    ...snapshotNodeSettings(snapshots),
  });
}

/**
 * roles.yml: not secret, so it travels in the chart's ConfigMap. Fluentd's role may add documents to our
 * data streams and let Elasticsearch create a stream on its first document, nothing else: no cluster
 * privilege, no read, no delete, no template or policy (the index-setup Job installs those as elastic).
 * The Kibana setup role may manage data views, saved searches and the default data view in the default
 * space, and nothing in Elasticsearch: it creates views without listing their fields. The exporter's role
 * may read cluster health, node and index statistics (`monitor`), and no document.
 */
export function rolesYml(dataStreamPrefix: string, snapshots = false): string {
  return stringify({
    [FLUENTD_WRITER_ROLE]: {
      cluster: [],
      indices: [{ names: [`${dataStreamPrefix}-*`], privileges: ["create_doc", "auto_configure"] }],
    },
    [ES_EXPORTER_ROLE]: {
      cluster: ["monitor", ...(snapshots ? ES_EXPORTER_SNAPSHOT_PRIVILEGES : [])],
      indices: [{ names: [`${dataStreamPrefix}-*`], privileges: ["monitor"] }],
    },
    [KIBANA_SETUP_ROLE]: {
      cluster: [],
      indices: [],
      applications: [
        {
          application: KIBANA_APPLICATION,
          privileges: [...KIBANA_SETUP_PRIVILEGES],
          resources: ["space:default"],
        },
      ],
    },
  });
}

export const ES_IMAGE = "docker.elastic.co/elasticsearch/elasticsearch";
export const SETUP_DIR = "/setup";
const SETUP_CA_DIR = "/ca";

export interface IndexSetupPodInput {
  imageTag: string;
  /** In-cluster HTTPS URL of Elasticsearch. */
  url: string;
  /** ConfigMap holding the policy, the template and the script. */
  configMapName: string;
  /** Secret holding the CA certificate alone, as `ca.crt`. */
  caSecretName: string;
  /** Prefix of the data streams (names the policy and templates the script installs). */
  dataStreamPrefix: string;
  /** Whether the script installs the snapshot repository and policy (else it removes the policy). */
  snapshots: boolean;
}

/**
 * The pod of the index-setup Job: the Elasticsearch image (for its curl), as its non-root user, with the
 * elastic password from the credentials Secret and nothing writable but /tmp.
 */
export function indexSetupPodSpec(v: IndexSetupPodInput): k8s.types.input.core.v1.PodSpec {
  return setupPodSpec(
    {
      name: "index-setup",
      image: `${ES_IMAGE}:${v.imageTag}`,
      command: ["sh", `${SETUP_DIR}/${SETUP_FILES.script}`],
      env: [
        { name: ES_SETUP_ENV.url, value: v.url },
        { name: ES_SETUP_ENV.caFile, value: `${SETUP_CA_DIR}/${SECRETS.ca.keys.ca}` },
        { name: ES_SETUP_ENV.dir, value: SETUP_DIR },
        ...Object.entries(esSetupEnv(v.dataStreamPrefix, v.snapshots)).map(([name, value]) => ({
          name,
          value,
        })),
        {
          name: ES_SETUP_ENV.password,
          valueFrom: {
            secretKeyRef: { name: SECRETS.esCredentials.name, key: SECRETS.esCredentials.keys.password },
          },
        },
      ],
      volumeMounts: [
        { name: "setup", mountPath: SETUP_DIR, readOnly: true },
        { name: "ca", mountPath: SETUP_CA_DIR, readOnly: true },
        { name: "tmp", mountPath: "/tmp" },
      ],
      resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "128Mi" } },
    },
    [
      { name: "setup", configMap: { name: v.configMapName } },
      { name: "ca", secret: { secretName: v.caSecretName } },
      { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
    ],
  );
}

/**
 * `users_roles` of the file realm. The `users` file (password hashes) is built by the component, in a
 * Secret. The exporter's user exists only when metrics are scraped.
 */
export function usersRolesFile(exporter: boolean): string {
  return (
    `${FLUENTD_WRITER_ROLE}:${FLUENTD_WRITER_USER}\n${KIBANA_SETUP_ROLE}:${KIBANA_SETUP_USER}\n` +
    (exporter ? `${ES_EXPORTER_ROLE}:${ES_EXPORTER_USER}\n` : "")
  );
}

/**
 * A restarted node reports ready only once the cluster is green again, so a rolling update never takes
 * down the next node while replicas are unassigned. A single node can never be green (replicas have
 * nowhere to go), so it waits for yellow.
 */
export function clusterHealthCheckParams(replicas: number): string {
  return `wait_for_status=${replicas > 1 ? "green" : "yellow"}&timeout=1s`;
}

/** The chart and the one version these values are written for (see `PinnedChart`). */
export const ELASTICSEARCH_CHART = { chart: "elasticsearch", version: "8.5.1" } as const;

/** The pod annotation that carries `credentialsChecksum` (see `elasticsearchValues`). */
export const CREDENTIALS_CHECKSUM_ANNOTATION = "efk-pulumi/credentials-checksum";

/** One release of the chart: a node group and its values. */
export interface EsNodeGroupRelease {
  /** Helm release name. */
  releaseName: string;
  /** The chart's `nodeGroup`; `<clusterName>-<nodeGroup>` names its StatefulSet and Services. */
  nodeGroup: string;
  /** The group's values, given the digest of the credential files (see `elasticsearchValues`). */
  values: (credentialsChecksum: string) => Record<string, unknown>;
}

/** What differs between node groups; everything else (TLS, credentials, config) every group shares. */
interface NodeGroup {
  nodeGroup: string;
  replicas: number;
  roles: string[];
  cpu: string;
  memory: string;
  storageSize: string;
  /** Values only this group has (none for the single group, whose values stay as they always were). */
  extra: Record<string, unknown>;
}

/**
 * The chart's releases, in the order they must start: one group of master-eligible data nodes, or the
 * dedicated masters and then the data nodes. The chart makes one node group per release (values.yaml
 * `nodeGroup`, `roles`, `masterService`), so dedicated masters are a second release of it.
 */
export function elasticsearchReleases(v: ElasticsearchValuesInput): EsNodeGroupRelease[] {
  if (v.dedicatedMasters === 0) {
    return [
      {
        releaseName: RELEASES.elasticsearch,
        nodeGroup: ES_NODE_GROUP,
        values: (checksum) => elasticsearchValues(v, checksum),
      },
    ];
  }
  const masters: NodeGroup = {
    nodeGroup: ES_NODE_GROUP,
    replicas: v.dedicatedMasters,
    roles: ES_MASTER_ROLES,
    ...v.masters,
    // Only the headless Service, which discovery needs (service.yaml makes it whatever `service.enabled`
    // says): without a client Service, nothing sends searches or bulk requests to a master.
    extra: { service: { enabled: false } },
  };
  const data: NodeGroup = {
    nodeGroup: ES_DATA_NODE_GROUP,
    replicas: v.replicas,
    roles: ES_DATA_ROLES,
    cpu: v.cpu,
    memory: v.memory,
    storageSize: v.storageSize,
    // The chart seeds discovery with `<masterService>-headless` (statefulset.yaml `discovery.seed_hosts`);
    // without `master` in its roles it sets no `cluster.initial_master_nodes`, so data nodes only join.
    extra: { masterService: ES_UNAME },
  };
  return [
    {
      releaseName: RELEASES.elasticsearch,
      nodeGroup: masters.nodeGroup,
      values: (c) => groupValues(v, masters, c),
    },
    {
      releaseName: RELEASES.elasticsearchData,
      nodeGroup: data.nodeGroup,
      values: (c) => groupValues(v, data, c),
    },
  ];
}

/**
 * Values for the elastic/elasticsearch 8.5.1 chart, one group of master-eligible data nodes. Plain data:
 * no secret ever goes through Helm values. `credentialsChecksum` is a digest of the credential files
 * (file realm, service tokens): they are mounted file by file (`subPath`), which Kubernetes never updates
 * in a running pod, so a changed file must roll the nodes, one at a time behind the health check, as a
 * changed roles.yml does through the chart's own checksum.
 */
export function elasticsearchValues(
  v: ElasticsearchValuesInput,
  credentialsChecksum: string,
): Record<string, unknown> {
  return groupValues(
    v,
    {
      nodeGroup: ES_NODE_GROUP,
      replicas: v.replicas,
      roles: ES_ROLES,
      cpu: v.cpu,
      memory: v.memory,
      storageSize: v.storageSize,
      extra: {},
    },
    credentialsChecksum,
  );
}

/** One node group's values: its size and roles; TLS, credentials and configuration shared by every group. */
function groupValues(
  v: ElasticsearchValuesInput,
  group: NodeGroup,
  credentialsChecksum: string,
): Record<string, unknown> {
  return {
    clusterName: ES_CLUSTER_NAME,
    nodeGroup: group.nodeGroup,
    replicas: group.replicas,
    roles: group.roles,
    ...group.extra,
    imageTag: v.imageTag,
    antiAffinity: v.antiAffinity,
    sysctlInitContainer: { enabled: v.sysctlInitContainer },
    // Our own CA and certificates, and our own credentials Secret (the chart's would be regenerated on every render).
    createCert: false,
    secret: { enabled: false },
    protocol: "https",
    extraEnvs: [
      // The chart only sets ELASTIC_PASSWORD when it owns the Secret (statefulset.yaml: `<uname>-credentials`
      // with `secret.enabled`); its readiness probe needs it. Every node group reads our one Secret.
      {
        name: "ELASTIC_PASSWORD",
        valueFrom: {
          secretKeyRef: { name: SECRETS.esCredentials.name, key: SECRETS.esCredentials.keys.password },
        },
      },
    ],
    podAnnotations: { [CREDENTIALS_CHECKSUM_ANNOTATION]: credentialsChecksum },
    esConfig: {
      "elasticsearch.yml": elasticsearchYml(v.snapshots),
      "roles.yml": rolesYml(v.dataStreamPrefix, v.snapshots !== undefined),
    },
    // The repository's credentials, from the operator's Secret into the keystore, on every node group: each
    // master and data node verifies the repository, and data nodes write to it.
    ...(v.snapshots ? { keystore: snapshotKeystore(v.snapshots) } : {}),
    secretMounts: [
      { name: "tls", secretName: SECRETS.esTls.name, path: ES_CERTS_DIR, defaultMode: 0o440 },
      {
        name: "file-realm-users",
        secretName: SECRETS.esFileRealm.name,
        path: `${ES_CONFIG_DIR}/users`,
        subPath: SECRETS.esFileRealm.keys.users,
        defaultMode: 0o440,
      },
      {
        name: "file-realm-users-roles",
        secretName: SECRETS.esFileRealm.name,
        path: `${ES_CONFIG_DIR}/users_roles`,
        subPath: SECRETS.esFileRealm.keys.usersRoles,
        defaultMode: 0o440,
      },
      {
        name: "service-tokens",
        secretName: SECRETS.esServiceTokens.name,
        path: `${ES_CONFIG_DIR}/${SECRETS.esServiceTokens.keys.serviceTokens}`,
        subPath: SECRETS.esServiceTokens.keys.serviceTokens,
        defaultMode: 0o440,
      },
    ],
    resources: {
      requests: { cpu: group.cpu, memory: group.memory },
      // Memory limit = request: the JVM sizes its heap from it. No CPU limit, which only throttles: null
      // deletes the chart's default one (Helm merges maps), so the release passes null values through.
      limits: { cpu: null, memory: group.memory },
    },
    volumeClaimTemplate: {
      accessModes: ["ReadWriteOnce"],
      ...(v.storageClass ? { storageClassName: v.storageClass } : {}),
      resources: { requests: { storage: group.storageSize } },
    },
    persistence: { enabled: true },
    // Every group waits for the health that the data nodes can reach: a restarted master too, since one
    // data node can never make the cluster green.
    clusterHealthCheckParams: clusterHealthCheckParams(v.replicas),
    // The chart's test pod hard-codes the chart-generated certificate Secret, which we do not use.
    tests: { enabled: false },
  };
}
