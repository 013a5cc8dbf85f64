/**
 * A throwaway PKI for integration tests, made with the `openssl` CLI: one CA per call of `makeTestPki`
 * (call it twice, with two directories, for a second CA that the first one's clients do not trust).
 * RSA 2048 keys, PEM files, unencrypted keys, valid for two days from now unless a call says otherwise.
 * Nothing is cached across runs.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

/** Paths of a PEM certificate and its unencrypted PEM private key. */
export interface CertPair {
  cert: string;
  key: string;
}

export interface TestPki {
  dir: string;
  /** path of the CA certificate */
  caCert: string;
  /** path of the CA private key (to sign more by hand if a test needs it) */
  caKey: string;
  /** server cert for DNS names and IPs (SANs), signed by this CA; CN = name; valid `days` (default 2) */
  server(name: string, dnsNames: string[], ips?: string[], days?: number): CertPair;
  /** client cert (extendedKeyUsage clientAuth), CN = name, signed by this CA; valid `days` (default 2) */
  client(name: string, days?: number): CertPair;
  /** a new certificate for the key of `pair` (a renewal: same key, same CN), valid `days` */
  renew(pair: CertPair, name: string, days: number, usage: "server" | "client"): CertPair;
}

const VALID_DAYS = "2";

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync("openssl", args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`openssl ${args.join(" ")} failed: ${err.stderr?.toString() ?? err.message}`);
  }
}

/** A CN goes into `-subj /CN=...`: refuse what would need escaping there. */
function checkName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9 ._*@:-]*$/.test(name)) {
    throw new Error(`certificate name ${JSON.stringify(name)}: use letters, digits, space and ._*@:-`);
  }
}

function fileStem(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, "_");
}

/**
 * Minimal `openssl req` config (no prompts, no dependence on the machine's openssl.cnf), with the CA's
 * extensions: OpenSSL 3.0's `req` has no `-extfile`.
 */
const REQ_CONFIG = [
  "[req]",
  "distinguished_name = dn",
  "prompt = no",
  "[dn]",
  "[v3_ca]",
  "basicConstraints = critical,CA:TRUE",
  "keyUsage = critical,keyCertSign,cRLSign",
  "subjectKeyIdentifier = hash",
  "",
].join("\n");

/**
 * Creates `dir` (if needed) with a new CA in it (`ca.crt`, `ca.key`) named `caName`. Each `server()`/
 * `client()` call makes one more key and certificate there (`<name>-server.crt`/`.key`, `<name>-client.crt`/
 * `.key`); a second call with the same name overwrites the first.
 */
export function makeTestPki(dir: string, caName = "efk-test-ca"): TestPki {
  checkName(caName);
  fs.mkdirSync(dir, { recursive: true });
  const reqConfig = path.join(dir, "req.cnf");
  fs.writeFileSync(reqConfig, REQ_CONFIG);

  const caCert = path.join(dir, "ca.crt");
  const caKey = path.join(dir, "ca.key");
  openssl(
    [
      "req",
      "-x509",
      "-config",
      reqConfig,
      "-extensions",
      "v3_ca",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      caKey,
      "-out",
      caCert,
      "-days",
      VALID_DAYS,
      "-sha256",
      "-subj",
      `/CN=${caName}`,
    ],
    dir,
  );

  function issue(
    name: string,
    suffix: string,
    extensions: string[],
    days = VALID_DAYS,
    existingKey?: string,
  ): CertPair {
    checkName(name);
    const stem = path.join(dir, `${fileStem(name)}-${suffix}`);
    const pair = { cert: `${stem}.crt`, key: existingKey ?? `${stem}.key` };
    const csr = `${stem}.csr`;
    const ext = `${stem}.ext`;
    fs.writeFileSync(
      ext,
      [
        "basicConstraints = critical,CA:FALSE",
        "subjectKeyIdentifier = hash",
        "authorityKeyIdentifier = keyid",
        ...extensions,
        "",
      ].join("\n"),
    );
    openssl(
      [
        "req",
        "-new",
        "-config",
        reqConfig,
        ...(existingKey ? ["-key", existingKey] : ["-newkey", "rsa:2048", "-nodes", "-keyout", pair.key]),
        "-out",
        csr,
        "-subj",
        `/CN=${name}`,
      ],
      dir,
    );
    openssl(
      [
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        caCert,
        "-CAkey",
        caKey,
        "-set_serial",
        `0x${randomBytes(8).toString("hex")}`,
        "-days",
        String(days),
        "-sha256",
        "-extfile",
        ext,
        "-out",
        pair.cert,
      ],
      dir,
    );
    fs.rmSync(csr);
    fs.rmSync(ext);
    return pair;
  }

  const serverExtensions = (sans: string[]) => [
    "keyUsage = critical,digitalSignature,keyEncipherment",
    "extendedKeyUsage = serverAuth",
    `subjectAltName = ${sans.join(",")}`,
  ];
  const clientExtensions = [
    "keyUsage = critical,digitalSignature,keyEncipherment",
    "extendedKeyUsage = clientAuth",
  ];

  return {
    dir,
    caCert,
    caKey,
    server(name, dnsNames, ips = [], days = Number(VALID_DAYS)) {
      const sans = [...dnsNames.map((d) => `DNS:${d}`), ...ips.map((ip) => `IP:${ip}`)];
      if (sans.length === 0) throw new Error("a server certificate needs at least one DNS name or IP");
      return issue(name, "server", serverExtensions(sans), String(days));
    },
    client(name, days = Number(VALID_DAYS)) {
      return issue(name, "client", clientExtensions, String(days));
    },
    renew(pair, name, days, usage) {
      const extensions = usage === "client" ? clientExtensions : serverExtensions([`DNS:${name}`]);
      return issue(name, `${usage}-renewed-${days}d`, extensions, String(days), pair.key);
    },
  };
}
