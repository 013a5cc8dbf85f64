/**
 * Hostile forward clients for the integration tests, on raw TLS sockets (node:tls) with frames built by
 * hand or with @msgpack/msgpack: a client streams what it likes until the server closes the connection
 * (or a cap), and a scan tries each cipher and protocol version in turn. Only 127.0.0.1.
 */
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as tls from "node:tls";
import { decodeMulti } from "@msgpack/msgpack";
import type { CertPair } from "./certs";
import { mib, MiB } from "./memory";

/** However the server behaves, a hostile connection stops after this much or this long. */
export const STREAM_CAP = { bytes: 1024 * MiB, ms: 30_000 };

export interface TlsClient {
  port: number;
  /** The CA the client trusts, and the name the server's certificate must carry. */
  ca: string;
  serverName: string;
  /** A client certificate; none: the client presents no certificate. */
  cert?: CertPair;
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
  ciphers?: string;
}

function tlsOptions(c: TlsClient): tls.ConnectionOptions {
  return {
    host: "127.0.0.1",
    port: c.port,
    servername: c.serverName,
    ca: fs.readFileSync(c.ca),
    ...(c.cert ? { cert: fs.readFileSync(c.cert.cert), key: fs.readFileSync(c.cert.key) } : {}),
    ...(c.minVersion ? { minVersion: c.minVersion } : {}),
    ...(c.maxVersion ? { maxVersion: c.maxVersion } : {}),
    ...(c.ciphers ? { ciphers: c.ciphers } : {}),
  };
}

/** Resolves with the socket once the client's side of the handshake is done; rejects when it fails. */
export function connectTls(c: TlsClient): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(tlsOptions(c));
    const fail = (e: Error) => {
      socket.destroy();
      reject(e);
    };
    socket.once("error", fail);
    socket.once("close", () => fail(new Error("closed during the handshake")));
    socket.once("secureConnect", () => {
      socket.removeAllListeners("error");
      socket.removeAllListeners("close");
      resolve(socket);
    });
  });
}

/**
 * The first `count` MessagePack objects the server sends; rejects when the connection ends or `timeoutMs`
 * pass first.
 */
export function readMessages(socket: tls.TLSSocket, count: number, timeoutMs: number): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const finish = (e: Error | undefined, value: unknown[] = []) => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", onClose);
      if (e) reject(e);
      else resolve(value);
    };
    const onData = (data: Buffer) => {
      received = Buffer.concat([received, data]);
      const messages: unknown[] = [];
      try {
        for (const m of decodeMulti(received)) messages.push(m);
      } catch (e) {
        // The last object is not whole yet.
        if (!(e instanceof RangeError)) return finish(e as Error);
      }
      if (messages.length >= count) finish(undefined, messages.slice(0, count));
    };
    const onClose = () => finish(new Error("the server closed the connection"));
    const timer = setTimeout(() => finish(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    socket.on("data", onData);
    socket.once("close", onClose);
  });
}

export const readMessage = async (socket: tls.TLSSocket, timeoutMs: number) =>
  (await readMessages(socket, 1, timeoutMs))[0];

/** What became of a message: the server's answer, or whether it closed the connection without one. */
export interface Sent {
  answer?: unknown;
  closedByServer: boolean;
  error?: string;
}

/** Sends `message` on a connection of its own and waits up to 20 s for an answer. */
export async function sendMessage(c: TlsClient, message: Buffer): Promise<Sent> {
  const socket = await connectTls(c);
  let closed = false;
  socket.on("error", () => undefined);
  socket.once("close", () => (closed = true));
  socket.write(message);
  try {
    return { answer: await readMessage(socket, 20_000), closedByServer: false };
  } catch (e) {
    return { closedByServer: closed, error: (e as Error).message };
  } finally {
    socket.destroy();
  }
}

export function describeSent(s: Sent): string {
  if (s.answer !== undefined) return `answered ${JSON.stringify(s.answer)}`;
  return s.closedByServer ? "closed by the server, no answer" : `no answer (${s.error ?? "no error"})`;
}

export interface Streamed {
  /** Bytes the socket took (TLS plaintext): what reached the kernel's buffers, not what the server read. */
  written: number;
  /** Whether the server closed the connection (rather than the cap or the caller's `stop`). */
  closedByServer: boolean;
  ms: number;
  error?: string;
}

/**
 * Writes `header`, then `filler` over and over, until the server closes the connection, `stop()` says so,
 * or STREAM_CAP is reached; then closes the connection if it is still open.
 */
export async function streamUntilClosed(
  socket: tls.TLSSocket,
  header: Uint8Array,
  filler: Buffer,
  stop: () => boolean = () => false,
): Promise<Streamed> {
  const started = Date.now();
  let closed = false;
  let error: string | undefined;
  socket.on("error", (e: Error) => (error = e.message));
  socket.once("close", () => (closed = true));
  let written = header.length;
  socket.write(header);
  while (!closed && !stop() && written < STREAM_CAP.bytes && Date.now() - started < STREAM_CAP.ms) {
    written += filler.length;
    if (!socket.write(filler)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          socket.off("drain", done);
          socket.off("close", done);
          resolve();
        };
        const timer = setTimeout(done, 100);
        socket.once("drain", done);
        socket.once("close", done);
      });
    }
  }
  const closedByServer = closed;
  socket.destroy();
  return { written, closedByServer, ms: Date.now() - started, error };
}

/** A MessagePack str32 header announcing `bytes` bytes of string. */
export function str32Header(bytes: number): Buffer {
  const header = Buffer.alloc(5);
  header[0] = 0xdb;
  header.writeUInt32BE(bytes, 1);
  return header;
}

/** What follows a str32 header: its characters, 64 KiB a write. */
export const STRING_FILLER = Buffer.alloc(64 * 1024, "a");
/** Random bytes, 64 KiB a write. */
export const GARBAGE = crypto.randomBytes(64 * 1024);

export interface Attempt extends Partial<Streamed> {
  /** The client's side of the TLS handshake completed. */
  connected: boolean;
  /** How the handshake or the stream ended, as the client saw it. */
  error?: string;
  ms: number;
}

/**
 * Connects; after `beforeStreaming` (the forward handshake's first step, say), streams `header` and
 * `filler` until the server closes the connection.
 */
export async function attempt(
  client: TlsClient,
  header: Uint8Array,
  filler: Buffer,
  o: { beforeStreaming?: (s: tls.TLSSocket) => Promise<void>; stop?: () => boolean } = {},
): Promise<Attempt> {
  const started = Date.now();
  let socket: tls.TLSSocket;
  try {
    socket = await connectTls(client);
  } catch (e) {
    return { connected: false, error: (e as Error).message, ms: Date.now() - started };
  }
  try {
    await o.beforeStreaming?.(socket);
  } catch (e) {
    socket.destroy();
    return { connected: true, error: (e as Error).message, ms: Date.now() - started };
  }
  const streamed = await streamUntilClosed(socket, header, filler, o.stop);
  return { connected: true, ...streamed, ms: Date.now() - started };
}

/** An error's gist: OpenSSL's reason without its file and line. */
function gist(error: string | undefined): string {
  return error ? (/SSL routines:[^:]*:([^:\n]+)/.exec(error)?.[1] ?? error.split("\n")[0]) : "no error";
}

export function describeAttempt(a: Attempt): string {
  const wrote = `wrote ${mib(a.written ?? 0)}`;
  if (!a.connected) return `handshake failed after ${a.ms} ms (${gist(a.error)}), ${wrote}`;
  const end = a.closedByServer ? "server closed the connection" : "connection still open at the cap";
  return `${end} after ${a.ms} ms, ${wrote}${a.error ? ` (${gist(a.error)})` : ""}`;
}

export interface Handshake {
  ok: boolean;
  protocol?: string;
  cipher?: string;
  error?: string;
}

/** One handshake; `ok` once the client's side is done. */
export async function handshake(c: TlsClient): Promise<Handshake> {
  let socket: tls.TLSSocket;
  try {
    socket = await connectTls(c);
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
  const result = { ok: true, protocol: socket.getProtocol() ?? undefined, cipher: socket.getCipher().name };
  socket.destroy();
  return result;
}

/** What `openssl ciphers` knows, TLS 1.2 and older: OpenSSL's names. */
export function opensslCiphers(): string[] {
  return execFileSync("openssl", ["ciphers", "-V", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"], { encoding: "utf8" })
    .split("\n")
    .map((l) => /^\s*0x[0-9A-F]{2},0x[0-9A-F]{2} - (\S+)/.exec(l)?.[1])
    .filter((name): name is string => name !== undefined && !name.startsWith("TLS_"));
}

export interface Scan {
  /** TLS 1.2 and older: each cipher the server accepted when offered alone. */
  accepted: string[];
  /** Ciphers this Node's OpenSSL cannot offer, so untried. */
  untried: string[];
  versions: Record<"TLSv1" | "TLSv1.1" | "TLSv1.2" | "TLSv1.3", Handshake>;
}

export async function scan(base: TlsClient, ciphers: string[]): Promise<Scan> {
  const accepted: string[] = [];
  const untried: string[] = [];
  for (const cipher of ciphers) {
    const h = await handshake({
      ...base,
      ciphers: `${cipher}:@SECLEVEL=0`,
      minVersion: "TLSv1",
      maxVersion: "TLSv1.2",
    });
    if (h.ok) accepted.push(cipher);
    else if (/no cipher match/i.test(h.error ?? "")) untried.push(cipher);
  }
  const legacy = { ciphers: "DEFAULT:@SECLEVEL=0" };
  return {
    accepted,
    untried,
    versions: {
      TLSv1: await handshake({ ...base, ...legacy, minVersion: "TLSv1", maxVersion: "TLSv1" }),
      "TLSv1.1": await handshake({ ...base, ...legacy, minVersion: "TLSv1.1", maxVersion: "TLSv1.1" }),
      "TLSv1.2": await handshake({ ...base, minVersion: "TLSv1.2", maxVersion: "TLSv1.2" }),
      "TLSv1.3": await handshake({ ...base, minVersion: "TLSv1.3", maxVersion: "TLSv1.3" }),
    },
  };
}

/** What a scan shows that the front door must not allow. */
export function weaknesses(s: Scan): string[] {
  return [
    ...s.accepted.filter((c) => !/^(ECDHE|DHE)-/.test(c)).map((c) => `${c}: no forward secrecy`),
    ...s.accepted.filter((c) => !/GCM|CHACHA20|CCM/.test(c)).map((c) => `${c}: not AEAD`),
    ...(["TLSv1", "TLSv1.1"] as const).filter((v) => s.versions[v].ok).map((v) => `${v} accepted`),
  ];
}
