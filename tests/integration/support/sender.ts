/**
 * A forward client (the fluent-logger package). Secured (the default): TLS with the CA and server name it
 * is given, the shared key, a username and password, and acknowledgements; it counts what the aggregator
 * acknowledged. Plain: what the common recipe runs, no TLS, no auth, no acknowledgements.
 */
import * as fs from "node:fs";
import { createFluentSender, type FluentSender, type Options } from "fluent-logger";
import { RECORD_FIELDS } from "../../../lib/records";

/** The fields Fluent Bit's tail input gives a line: where it was read, its time and stream, the line. */
export function tailRecord(file: string, offset: number, line: string): Record<string, unknown> {
  return {
    [RECORD_FIELDS.file]: file,
    [RECORD_FIELDS.offset]: offset,
    [RECORD_FIELDS.time]: new Date().toISOString(),
    [RECORD_FIELDS.stream]: "stdout",
    [RECORD_FIELDS.log]: line,
  };
}

export interface SecuredSender {
  port: number;
  /** CA file the client trusts. */
  ca: string;
  /** Name the server certificate must carry. */
  serverName: string;
  /** The forward handshake's shared key, user and password; none of them for an aggregator that knows clients by certificate. */
  sharedKey?: string;
  username?: string;
  password?: string;
  /** Client certificate and key files. */
  clientCert?: { cert: string; key: string };
  /** The client's forward self_hostname (must differ from the aggregator's). */
  clientHostname?: string;
}
export type SenderOptions = SecuredSender;

export interface PlainSender {
  port: number;
  plain: true;
}

export interface SendResult {
  /** Records acknowledged (secured) or written to the socket (plain). */
  acked: number;
  errors: string[];
}

/** What the sender offers at run time; its bundled type definitions leave out `on` and `end()`. */
type RuntimeSender = FluentSender<Record<string, unknown>> & {
  on(event: "error", listener: (e: Error) => void): void;
  end(): void;
};

const quiet = { info: () => undefined, error: () => undefined };

function senderOptions(o: SecuredSender | PlainSender, timeoutMs: number, packed: boolean): Options {
  // enableReconnect is read by the sender but missing from its type definitions.
  const common: Options & { enableReconnect: boolean } = {
    host: "127.0.0.1",
    port: o.port,
    enableReconnect: false,
    internalLogger: quiet,
    ...(packed ? { eventMode: "PackedForward", flushInterval: 50, sendQueueSizeLimit: 8 * 1024 * 1024 } : {}),
  };
  if ("plain" in o) {
    return common;
  }
  return {
    ...common,
    tls: true,
    tlsOptions: {
      ca: fs.readFileSync(o.ca),
      servername: o.serverName,
      ...(o.clientCert
        ? { cert: fs.readFileSync(o.clientCert.cert), key: fs.readFileSync(o.clientCert.key) }
        : {}),
    },
    ...(o.sharedKey === undefined
      ? {}
      : {
          security: {
            clientHostname: o.clientHostname ?? `${o.username ?? "efk"}-fluent-bit`,
            sharedKey: o.sharedKey,
            username: o.username ?? "",
            password: o.password ?? "",
          },
        }),
    requireAckResponse: true,
    ackResponseTimeout: timeoutMs,
  };
}

/**
 * Sends `records` and resolves once each is acknowledged (or written, for a plain sender) or has failed,
 * or `timeoutMs` passes; records not acknowledged by then count as not acknowledged. `packed` batches
 * records into PackedForward messages, as Fluent Bit does.
 */
export async function sendRecords(
  o: SecuredSender | PlainSender,
  records: Record<string, unknown>[],
  timeoutMs = 15000,
  packed = false,
): Promise<SendResult> {
  const sender = createFluentSender("app", senderOptions(o, timeoutMs, packed)) as RuntimeSender;
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
