/**
 * The contract between the central stack and its edges: the outputs an edge reads through a
 * StackReference, their names and their shapes. The central builds its outputs to these types; the edge
 * checks what it reads against these schemas before it declares anything, so a central deployed by
 * another version of this program fails at preview with a message naming the field, never a value.
 */
import { z } from "zod";

/** Names of the central stack's outputs that edge stacks read. */
export const CENTRAL_OUTPUTS = {
  endpoint: "forwardEndpoint",
  caCertPem: "caCertPem",
  sharedKey: "forwardSharedKey",
  edgeCredentials: "edgeCredentials",
} as const;

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

/** What an edge cluster needs to forward to the central: everything but the endpoint and CA is secret. */
export interface EdgeCredentials {
  username: string;
  password: string;
  /** Present, with the key, when the aggregator requires client certificates. */
  clientCertPem?: string;
  clientKeyPem?: string;
}

/** One cluster's entry of `edgeCredentials`: its own name as user, a password, a certificate with its key or neither. */
export function edgeCredentialsSchema(clusterName: string): z.ZodType<EdgeCredentials> {
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
