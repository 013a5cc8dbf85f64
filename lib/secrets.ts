/**
 * Every Kubernetes Secret the program creates: its name and the keys it holds. Components write exactly
 * these keys, and the values builders mount or reference them from here, so a key renamed on one side
 * cannot leave the other reading a key that no longer exists.
 */
import { ES_CREDENTIALS_SECRET, ES_UNAME, KIBANA_FULLNAME } from "./names";
import { FLUENT_BIT_ENV } from "./render/fluentBit";
import { FLUENTD_ENV } from "./render/fluentd";

/** A server certificate's Secret: Kubernetes' `kubernetes.io/tls` key names, and the CA beside them. */
export const TLS_KEYS = { cert: "tls.crt", key: "tls.key", ca: "ca.crt" } as const;

/** Kibana's encryption keys, each a key of its Secret and the environment variable Kibana reads it from. */
export const KIBANA_KEY_ENVS = [
  "KIBANA_SECURITY_KEY",
  "KIBANA_SAVED_OBJECTS_KEY",
  "KIBANA_REPORTING_KEY",
] as const;

export const SECRETS = {
  /**
   * The CA certificate alone, for clients: Kibana and the index-setup Job mount this whole Secret, so it
   * must never carry a private key.
   */
  ca: { name: "efk-ca", keys: { ca: TLS_KEYS.ca } },
  /** The `elastic` superuser: Elasticsearch's readiness probe and the index-setup Job read it. */
  esCredentials: { name: ES_CREDENTIALS_SECRET, keys: { username: "username", password: "password" } },
  /** Elasticsearch's HTTP and transport certificates, and the CA of each. */
  esTls: {
    name: `${ES_UNAME}-tls`,
    keys: {
      httpCert: "http.crt",
      httpKey: "http.key",
      ca: TLS_KEYS.ca,
      transportCert: "transport.crt",
      transportKey: "transport.key",
      transportCa: "transport-ca.crt",
    },
  },
  /** The file realm: the bcrypt hashes of the Fluentd writer and the Kibana setup user, and their roles. */
  esFileRealm: { name: `${ES_UNAME}-file-realm`, keys: { users: "users", usersRoles: "users_roles" } },
  /** Elasticsearch's `service_tokens` file: the bcrypt hash of Kibana's service-account token. */
  esServiceTokens: { name: `${ES_UNAME}-service-tokens`, keys: { serviceTokens: "service_tokens" } },
  /**
   * Kibana's service-account token, under the one name the kibana chart's Deployment reads it from
   * (`<fullname>-es-token`, key `token`). The program makes it; no chart hook does.
   */
  kibanaEsToken: { name: `${KIBANA_FULLNAME}-es-token`, keys: { token: "token" } },
  /** The password of the file-realm user the Elasticsearch exporter reads metrics as. */
  esExporterCredentials: { name: "elasticsearch-exporter-credentials", keys: { password: "password" } },
  /** The password of the file-realm user that creates Kibana's data views. */
  kibanaSetupCredentials: { name: "kibana-setup-credentials", keys: { password: "password" } },
  kibanaTls: { name: "kibana-tls", keys: { cert: TLS_KEYS.cert, key: TLS_KEYS.key } },
  kibanaEncryptionKeys: { name: "kibana-encryption-keys", keys: KIBANA_KEY_ENVS },
  /** The aggregator's environment: the shared key, its Elasticsearch password, one password per cluster. */
  fluentdEnv: { name: "fluentd-credentials", keys: FLUENTD_ENV },
  fluentdTls: { name: "fluentd-tls", keys: TLS_KEYS },
  /** A node agent's environment: the shared key and its cluster's password. */
  fluentBitEnv: { name: "fluent-bit-credentials", keys: FLUENT_BIT_ENV },
  /** The CA that verifies the aggregator, and the cluster's client certificate when one is required. */
  fluentBitTls: { name: "fluent-bit-tls", keys: TLS_KEYS },
} as const;
