/**
 * The contract between the central stack and its edges: the outputs an edge reads through a
 * StackReference, their names and their shapes. The central builds its outputs to these types; the edge
 * checks what it reads against these schemas before it declares anything, so a central deployed by
 * another version of this program fails at preview with a message naming the field, never a value.
 */
import { z } from "zod";
import type { EdgeTrust } from "./caRotation";

/**
 * Names of the central stack's outputs that edge stacks read. An edge's state holds every output of the
 * central stack (a StackReference stores them all), so each of these is something every edge may see.
 */
export const CENTRAL_OUTPUTS = {
  endpoint: "forwardEndpoint",
  caCertPem: "caCertPem",
  /** The SHA-256 fingerprint of each trusted CA generation (public): edges name the CAs they trust by it. */
  caFingerprints: "caFingerprints",
  /** How edges prove who they are: `certificate` or `user` (see FORWARD_AUTHS). */
  forwardAuth: "forwardAuth",
  /** The registered edges, each with the client certificate the central signed for its key (public). */
  edges: "forwardEdges",
  /** With `user` only: the forward protocol's shared key, the one secret every edge holds. */
  sharedKey: "forwardSharedKey",
  /** Written by versions before edges made their own keys; read only while a central is migrated. */
  legacyEdgeCredentials: "edgeCredentials",
} as const;

/**
 * Names of an edge stack's outputs that the central stack reads: what it needs to authenticate that edge,
 * and nothing else of it.
 */
export const EDGE_OUTPUTS = {
  /** The certificate request for the edge's own key (public): the central signs it. */
  csrPem: "forwardCsrPem",
  /** With `user` only: the edge's forward password (secret), which the aggregator checks. */
  password: "forwardPassword",
  /**
   * The CAs the edge verifies the aggregator with, `{fingerprint, generation}` each (public; empty until it
   * is registered): the central takes a CA rotation's `issue` step only once every edge trusts the new CA.
   */
  trustedCas: "forwardTrustedCas",
  /**
   * The CA that signed the client certificate the edge holds, `{fingerprint, generation}` (public; absent
   * without one): the central stops trusting the old CA only once every edge holds one of the new CA's.
   */
  clientCertIssuer: "forwardClientCertIssuer",
} as const;

/** How edges prove who they are to the aggregator. */
export const FORWARD_AUTHS = ["certificate", "user"] as const;
export type ForwardAuth = (typeof FORWARD_AUTHS)[number];

const NOT_AN_OBJECT = "it is not an object";
const filled = (field: string) => {
  const message = `${field} must be a non-empty string`;
  return z.string({ error: message }).min(1, message);
};
const PORT = "port must be a whole number from 1 to 65535";

/** Where a forwarder sends: the address it dials, and the name it checks the certificate against. */
export const FORWARD_ENDPOINT = z.object(
  {
    host: filled("host"),
    port: z.number({ error: PORT }).int(PORT).min(1, PORT).max(65535, PORT),
    serverName: filled("serverName"),
  },
  { error: NOT_AN_OBJECT },
);
export type ForwardEndpoint = z.output<typeof FORWARD_ENDPOINT>;

/** One registered edge in `forwardEdges`: with `certificate`, its signed client certificate. */
export interface RegisteredEdge {
  clientCertPem?: string;
}

/** The central's `forwardEdges`: registered edge names, each with its certificate when there is one. */
export const REGISTERED_EDGES: z.ZodType<Record<string, RegisteredEdge>> = z.record(
  z.string(),
  z.object({ clientCertPem: filled("clientCertPem").optional() }, { error: NOT_AN_OBJECT }),
  { error: NOT_AN_OBJECT },
);

export const FORWARD_AUTH = z.enum(FORWARD_AUTHS, { error: `must be one of: ${FORWARD_AUTHS.join(", ")}` });

/** A PEM certificate request, as an edge exports it. */
export const CSR_PEM = filled("forwardCsrPem").refine(
  (v) => v.includes("-----BEGIN CERTIFICATE REQUEST-----"),
  {
    error: "forwardCsrPem must be a PEM certificate request",
  },
);

const FINGERPRINT_RULE = "a SHA-256 fingerprint (32 colon-separated hex bytes)";
const FINGERPRINT = z
  .string({ error: FINGERPRINT_RULE })
  .regex(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/, FINGERPRINT_RULE);

const GENERATION = "generation must be a whole number from 1";
const CA_REF = z.object(
  {
    fingerprint: FINGERPRINT,
    generation: z.number({ error: GENERATION }).int(GENERATION).min(1, GENERATION).optional(),
  },
  { error: NOT_AN_OBJECT },
);

/** An edge's `forwardTrustedCas` and `forwardClientCertIssuer`, read together. */
export const EDGE_TRUST: z.ZodType<EdgeTrust> = z.object(
  {
    trustedCas: z.array(CA_REF, { error: "forwardTrustedCas must be a list" }),
    clientCertIssuer: CA_REF.optional(),
  },
  { error: NOT_AN_OBJECT },
);

/** The central's `caFingerprints`: a fingerprint per generation. */
export const CA_FINGERPRINTS: z.ZodType<Record<string, string>> = z.record(
  z.string().regex(/^[1-9][0-9]*$/, "caFingerprints must be keyed by generation"),
  FINGERPRINT,
  { error: NOT_AN_OBJECT },
);

/** What an edge of an older version read from `edgeCredentials` (migration only). */
export interface LegacyEdgeCredentials {
  username: string;
  password: string;
  clientCertPem?: string;
  clientKeyPem?: string;
}

/** One cluster's entry of the legacy `edgeCredentials`. */
export function legacyEdgeCredentialsSchema(clusterName: string): z.ZodType<LegacyEdgeCredentials> {
  const pem = (field: string) => filled(field).optional();
  return z
    .object(
      {
        username: z.literal(clusterName, { error: `username must be "${clusterName}"` }),
        password: filled("password"),
        clientCertPem: pem("clientCertPem"),
        clientKeyPem: pem("clientKeyPem"),
      },
      { error: NOT_AN_OBJECT },
    )
    .refine((c) => (c.clientCertPem === undefined) === (c.clientKeyPem === undefined), {
      error: "clientCertPem and clientKeyPem must come together: one is missing",
    });
}

/**
 * `value` checked against `schema`: the value (unknown fields dropped, so nothing unexpected from the
 * central reaches the edge), or what is wrong with it. The messages name fields, never their values: the
 * credentials are secret.
 */
export function checkOutput<T>(schema: z.ZodType<T>, value: unknown): { value: T } | { problems: string[] } {
  const result = schema.safeParse(value);
  if (result.success) {
    return { value: result.data };
  }
  return { problems: [...new Set(result.error.issues.map((i) => i.message))] };
}
