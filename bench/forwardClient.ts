/**
 * The benchmark's load generator: a forward client that sends what Fluent Bit's forward output sends.
 * - Records travel in chunks already encoded in MessagePack, as PackedForward messages
 *   (`[tag, entries, {chunk, size}]`): Fluent Bit sends its chunk files as they are, so the bench encodes
 *   every chunk before its clock starts and the sender's CPU stays out of the way of the aggregator's.
 * - Secured: TLS verified against the CA, with a client certificate (the aggregator's default) or the
 *   shared-key and user handshake (HELO, PING, PONG, checked both ways), and each chunk acknowledged
 *   before the next is sent, as `Require_ack_response on` does.
 * - Plain: what the common recipe runs: no TLS, no handshake, no acknowledgements; chunks are written as
 *   fast as the socket takes them.
 * The integration tests keep the fluent-logger package, which sends record by record.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as tls from "node:tls";
import { decodeMultiStream, encode } from "@msgpack/msgpack";

export interface ForwardTarget {
  port: number;
  /** Absent: plain TCP, no handshake, no acknowledgements. */
  secured?: {
    ca: string;
    serverName: string;
    /** Client certificate and key files: the identity, when the aggregator knows clusters by key. */
    clientCert?: { cert: string; key: string };
    /** The forward handshake, when the aggregator knows clusters by user. */
    login?: { sharedKey: string; username: string; password: string; clientHostname: string };
  };
}

/** One PackedForward chunk: the entries' bytes and how many records they hold. */
export interface Chunk {
  entries: Buffer;
  records: number;
}

/**
 * `[time, record]` entries as Fluent Bit writes them, the time as an EventTime (ext type 0: seconds and
 * nanoseconds, big-endian).
 */
export function encodeChunk(records: Record<string, unknown>[], timeMs: number): Chunk {
  const time = Buffer.alloc(10);
  time[0] = 0xd7; // fixext 8
  time[1] = 0x00; // EventTime
  time.writeUInt32BE(Math.floor(timeMs / 1000), 2);
  time.writeUInt32BE((timeMs % 1000) * 1_000_000, 6);
  const parts: Buffer[] = [];
  for (const r of records) {
    parts.push(Buffer.from([0x92]), time, Buffer.from(encode(r)));
  }
  return { entries: Buffer.concat(parts), records: records.length };
}

const sha512 = (...parts: (string | Uint8Array)[]) => {
  const h = crypto.createHash("sha512");
  for (const p of parts) h.update(p);
  return h.digest("hex");
};

function connect(t: ForwardTarget): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = t.secured
      ? tls.connect({
          host: "127.0.0.1",
          port: t.port,
          ca: fs.readFileSync(t.secured.ca),
          servername: t.secured.serverName,
          ...(t.secured.clientCert
            ? {
                cert: fs.readFileSync(t.secured.clientCert.cert),
                key: fs.readFileSync(t.secured.clientCert.key),
              }
            : {}),
        })
      : net.connect({ host: "127.0.0.1", port: t.port });
    socket.once(t.secured ? "secureConnect" : "connect", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** The server's messages in order, one per call; throws when the connection ends first. */
function reader(socket: net.Socket): () => Promise<unknown> {
  const it = decodeMultiStream(socket)[Symbol.asyncIterator]();
  return async () => {
    const r = await it.next();
    if (r.done) throw new Error("the aggregator closed the connection");
    return r.value;
  };
}

async function handshake(
  s: NonNullable<NonNullable<ForwardTarget["secured"]>["login"]>,
  socket: net.Socket,
  next: () => Promise<unknown>,
) {
  const helo = (await next()) as [string, { nonce?: Uint8Array; auth?: Uint8Array }];
  if (!Array.isArray(helo) || helo[0] !== "HELO")
    throw new Error(`expected HELO, got ${JSON.stringify(helo)}`);
  const nonce = helo[1].nonce ?? new Uint8Array();
  const authSalt = helo[1].auth ?? new Uint8Array();
  const salt = crypto.randomBytes(16).toString("hex");
  socket.write(
    encode([
      "PING",
      s.clientHostname,
      salt,
      sha512(salt, s.clientHostname, nonce, s.sharedKey),
      s.username,
      sha512(authSalt, s.username, s.password),
    ]),
  );
  const pong = (await next()) as [string, boolean, string, string, string];
  if (!Array.isArray(pong) || pong[0] !== "PONG")
    throw new Error(`expected PONG, got ${JSON.stringify(pong)}`);
  if (!pong[1]) throw new Error(`authentication refused: ${pong[2]}`);
  if (pong[4] !== sha512(salt, pong[3], nonce, s.sharedKey)) {
    throw new Error("the aggregator's PONG digest does not match the shared key");
  }
}

/**
 * Sends the chunks on one connection, in order. Secured: resolves with the records acknowledged, each
 * chunk's acknowledgement awaited before the next chunk; plain: with the records written to the socket.
 */
export async function sendChunks(t: ForwardTarget, tag: string, chunks: Chunk[]): Promise<number> {
  const socket = await connect(t);
  const next = reader(socket);
  let done = 0;
  try {
    if (t.secured?.login) {
      await handshake(t.secured.login, socket, next);
    }
    for (const c of chunks) {
      const id = crypto.randomBytes(16).toString("base64");
      const flushed = socket.write(
        encode([tag, c.entries, { size: c.records, ...(t.secured ? { chunk: id } : {}) }]),
      );
      if (t.secured) {
        const ack = (await next()) as { ack?: string };
        if (ack?.ack !== id) throw new Error(`expected the ack of chunk ${id}, got ${JSON.stringify(ack)}`);
      } else if (!flushed) {
        await new Promise((resolve) => socket.once("drain", resolve));
      }
      done += c.records;
    }
  } finally {
    await new Promise<void>((resolve) => socket.end(resolve));
    socket.destroy();
  }
  return done;
}
