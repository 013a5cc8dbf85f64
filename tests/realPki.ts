/**
 * Real X.509 certificates for what the program declares under the mocks. The mock engine answers each
 * `tls` resource with a placeholder PEM (`mock-cert-<resource name>`); this makes, with the `openssl` CLI,
 * a real certificate for each: a self-signed CA per `SelfSignedCert`, and per `LocallySignedCert` a
 * certificate signed by the real CA whose placeholder the program passed as `caCertPem`. Keys are kept per
 * resource name across program runs, as Pulumi keeps a `PrivateKey` in its state; a certificate is signed
 * again only when its CA changes, as the tls provider replaces it only then. `realize` then swaps every
 * placeholder in a text for the real PEM, so a Secret's contents can be verified with `openssl verify`.
 */
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Recorded } from "./mocks";

const SELF_SIGNED = "tls:index/selfSignedCert:SelfSignedCert";
const LOCALLY_SIGNED = "tls:index/locallySignedCert:LocallySignedCert";
const PLACEHOLDER = /-----BEGIN CERTIFICATE-----\nmock-cert-([A-Za-z0-9_-]+)\n-----END CERTIFICATE-----\n/g;

const CONFIG = [
  "[req]",
  "distinguished_name = dn",
  "prompt = no",
  "[dn]",
  "[ca]",
  "basicConstraints = critical,CA:TRUE",
  "keyUsage = critical,keyCertSign,cRLSign,digitalSignature",
  "subjectKeyIdentifier = hash",
  "[leaf]",
  "basicConstraints = critical,CA:FALSE",
  "keyUsage = critical,digitalSignature,keyEncipherment",
  "extendedKeyUsage = serverAuth,clientAuth",
  "authorityKeyIdentifier = keyid",
  "",
].join("\n");

export class RealPki {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "efk-real-pki-"));
  /** Real PEM of each CA, by resource name. */
  private readonly cas = new Map<string, string>();
  /** Real PEM of each signed certificate, by resource name and the CA resource that signed it. */
  private readonly signed = new Map<string, string>();
  /** The current real PEM of each placeholder name (the last run's CA for a signed certificate). */
  private readonly current = new Map<string, string>();

  constructor() {
    fs.writeFileSync(this.file("openssl.cnf"), CONFIG);
  }

  private file(name: string): string {
    return path.join(this.dir, name);
  }

  private openssl(args: string[]): string {
    try {
      return execFileSync("openssl", args, { cwd: this.dir, stdio: ["ignore", "pipe", "pipe"] }).toString();
    } catch (e) {
      const err = e as { stderr?: Buffer; message: string };
      throw new Error(`openssl ${args.join(" ")} failed: ${err.stderr?.toString() ?? err.message}`);
    }
  }

  /** One key per name, made once: what Pulumi's state keeps for a PrivateKey resource. */
  private key(name: string): string {
    const key = this.file(`${name}.key`);
    if (!fs.existsSync(key)) {
      this.openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key]);
    }
    return key;
  }

  private ca(name: string, commonName: string): string {
    let pem = this.cas.get(name);
    if (pem === undefined) {
      const cert = this.file(`${name}.crt`);
      this.openssl([
        ...["req", "-x509", "-new", "-key", this.key(name), "-days", "2", "-config", "openssl.cnf"],
        ...["-extensions", "ca", "-subj", `/O=efk-pulumi/CN=${commonName}`, "-out", cert],
      ]);
      pem = fs.readFileSync(cert, "utf8");
      this.cas.set(name, pem);
    }
    return pem;
  }

  private sign(name: string, caName: string): string {
    const id = `${name}@${caName}`;
    let pem = this.signed.get(id);
    if (pem === undefined) {
      const csr = this.file(`${name}.csr`);
      const cert = this.file(`${id}.crt`);
      this.openssl(["req", "-new", "-key", this.key(name), "-subj", `/O=efk-pulumi/CN=${name}`, "-out", csr]);
      this.openssl([
        ...["x509", "-req", "-in", csr, "-CA", `${caName}.crt`, "-CAkey", this.key(caName)],
        ...["-CAcreateserial", "-days", "1", "-extfile", "openssl.cnf", "-extensions", "leaf", "-out", cert],
      ]);
      pem = fs.readFileSync(cert, "utf8");
      this.signed.set(id, pem);
    }
    return pem;
  }

  /** Makes (or keeps) the real certificate of every `tls` certificate one program run declared. */
  record(recorded: Recorded[]): void {
    for (const r of recorded.filter((x) => x.type === SELF_SIGNED)) {
      const subject = r.inputs.subject as { commonName: string };
      this.current.set(r.name, this.ca(r.name, subject.commonName));
    }
    for (const r of recorded.filter((x) => x.type === LOCALLY_SIGNED)) {
      const issuers = [...String(r.inputs.caCertPem).matchAll(PLACEHOLDER)].map((m) => m[1]);
      if (issuers.length !== 1 || !this.cas.has(issuers[0])) {
        throw new Error(`${r.name}: signed by ${issuers.join(", ") || "no CA"}, not one CA of this run`);
      }
      this.current.set(r.name, this.sign(r.name, issuers[0]));
    }
  }

  /** `text` with every placeholder certificate replaced by the real one; fails on a placeholder it does not know. */
  realize(text: string): string {
    return text.replace(PLACEHOLDER, (_, name: string) => {
      const pem = this.current.get(name);
      if (pem === undefined) {
        throw new Error(`no real certificate for ${name}`);
      }
      return pem;
    });
  }

  /** The real PEM of a CA resource. */
  caPem(name: string): string {
    const pem = this.cas.get(name);
    if (pem === undefined) {
      throw new Error(`no CA ${name}`);
    }
    return pem;
  }

  /**
   * Whether `openssl verify` accepts `certPem` with `bundlePem` as its only trust anchors (the
   * machine's default store left out), and OpenSSL's reason when it does not.
   */
  verify(bundlePem: string, certPem: string): { ok: boolean; output: string } {
    const bundle = this.file("verify-bundle.pem");
    const cert = this.file("verify-cert.pem");
    fs.writeFileSync(bundle, bundlePem);
    fs.writeFileSync(cert, certPem);
    try {
      const output = execFileSync(
        "openssl",
        ["verify", "-no-CApath", "-no-CAstore", "-CAfile", bundle, cert],
        {
          stdio: ["ignore", "pipe", "pipe"],
        },
      ).toString();
      return { ok: true, output };
    } catch (e) {
      const err = e as { stdout?: Buffer; stderr?: Buffer };
      return { ok: false, output: `${err.stdout?.toString() ?? ""}${err.stderr?.toString() ?? ""}` };
    }
  }

  /** `openssl x509 -fingerprint -sha256` of a certificate. */
  fingerprint(certPem: string): string {
    const cert = this.file("fingerprint.pem");
    fs.writeFileSync(cert, certPem);
    return this.openssl(["x509", "-noout", "-fingerprint", "-sha256", "-in", cert]).trim();
  }

  /** The DER of a certificate's public key: the aggregator admits a cluster by it. */
  static publicKey(certPem: string): Buffer {
    return new X509Certificate(certPem).publicKey.export({ type: "spki", format: "der" });
  }

  dispose(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
