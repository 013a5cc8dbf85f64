/**
 * A forward client (the fluent-logger package): TLS with the CA and server name it is given, the shared
 * key, a username and password, and acknowledgements. It counts what the aggregator acknowledged.
 */
import * as fs from "node:fs";
import { createFluentSender, type FluentSender, type Options } from "fluent-logger";

export interface SenderOptions {
  port: number;
  /** CA file the client trusts. */
  ca: string;
  /** Name the server certificate must carry. */
  serverName: string;
  sharedKey: string;
  username: string;
  password: string;
  /** Client certificate and key files. */
  clientCert?: { cert: string; key: string };
  /** The client's forward self_hostname (must differ from the aggregator's). */
  clientHostname?: string;
}

export interface SendResult {
  acked: number;
  errors: string[];
}

/** What the sender offers at run time; its bundled type definitions leave out `on` and `end()`. */
type RuntimeSender = FluentSender<Record<string, unknown>> & {
  on(event: "error", listener: (e: Error) => void): void;
  end(): void;
};

const quiet = { info: () => undefined, error: () => undefined };

/**
 * Sends `records` (each tagged with its own cluster field) and resolves once each is acknowledged or has
 * failed, or `timeoutMs` passes; records not acknowledged by then count as not acknowledged.
 */
export async function sendRecords(
  o: SenderOptions,
  records: Record<string, unknown>[],
  timeoutMs = 15000,
): Promise<SendResult> {
  // enableReconnect is read by the sender but missing from its type definitions.
  const options: Options & { enableReconnect: boolean } = {
    host: "127.0.0.1",
    port: o.port,
    tls: true,
    tlsOptions: {
      ca: fs.readFileSync(o.ca),
      servername: o.serverName,
      ...(o.clientCert
        ? { cert: fs.readFileSync(o.clientCert.cert), key: fs.readFileSync(o.clientCert.key) }
        : {}),
    },
    security: {
      clientHostname: o.clientHostname ?? `${o.username}-fluent-bit`,
      sharedKey: o.sharedKey,
      username: o.username,
      password: o.password,
    },
    requireAckResponse: true,
    ackResponseTimeout: timeoutMs,
    enableReconnect: false,
    internalLogger: quiet,
  };
  const sender = createFluentSender("app", options) as RuntimeSender;
  const result: SendResult = { acked: 0, errors: [] };
  sender.on("error", (e: Error) => result.errors.push(e.message));
  const pending = records.map(
    (record) =>
      new Promise<void>((resolve) => {
        sender.emit("log", record, (err?: Error) => {
          if (err) {
            result.errors.push(err.message);
          } else {
            result.acked++;
          }
          resolve();
        });
      }),
  );
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(pending),
    new Promise((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  sender.end();
  return result;
}
