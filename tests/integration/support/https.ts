/**
 * The HTTPS servers the stand-ins run: on 127.0.0.1, with a certificate of the test PKI. A failed TLS
 * handshake (the client does not trust our CA) is the client's to report, so the server ignores it.
 */
import * as fs from "node:fs";
import * as https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";

/** Listens on `port`, or on one the system chooses; resolves with the server and its port. */
export function listenTls(
  tls: { cert: string; key: string },
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  port = 0,
): Promise<{ server: https.Server; port: number }> {
  const server = https.createServer(
    { cert: fs.readFileSync(tls.cert), key: fs.readFileSync(tls.key) },
    handler,
  );
  server.on("tlsClientError", () => undefined);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") reject(new Error("unexpected server address"));
      else resolve({ server, port: address.port });
    });
  });
}

/** Stops listening and drops every open connection: clients see the server go down. */
export function stopServer(server: https.Server | undefined): Promise<void> {
  if (!server) return Promise.resolve();
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
