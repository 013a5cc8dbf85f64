/**
 * Rotating the certificate authorities with overlap: which generations every trust bundle holds, which one
 * signs, and whether the edges have moved far enough for the central to take the next step. Pure: the PKI
 * component and the edge use these, and the tests run them on real certificates.
 *
 * A rotation from generation G to G+1 is three `pulumi up`s of the central, each followed by every edge:
 *   trust  bundles hold G and G+1, G signs;
 *   issue  bundles hold G and G+1, G+1 signs (refused until every edge trusts G+1);
 *   then `caGeneration` G+1 with `caRotation` none: bundles hold G+1 only (refused until every edge holds a
 *   certificate signed by G+1).
 * Any edge is then at most one step behind the central, and every pair of neighbouring steps shares a CA.
 */
import { createHash, X509Certificate } from "node:crypto";

export const CA_ROTATION_STEPS = ["none", "trust", "issue"] as const;
export type CaRotationStep = (typeof CA_ROTATION_STEPS)[number];

/** Where the stack stands: its settled generation, and how far a rotation to the next one has gone. */
export interface CaRotation {
  /** The generation every certificate comes from when no rotation is under way (1: the first CA). */
  generation: number;
  step: CaRotationStep;
}

/** The generations each trust bundle holds (oldest first) and the one that signs certificates. */
export interface CaPlan {
  trusted: number[];
  issuing: number;
}

export function caPlan(r: CaRotation): CaPlan {
  const next = r.generation + 1;
  switch (r.step) {
    case "none":
      return { trusted: [r.generation], issuing: r.generation };
    case "trust":
      return { trusted: [r.generation, next], issuing: r.generation };
    case "issue":
      return { trusted: [r.generation, next], issuing: next };
  }
}

/**
 * The resource name of generation `g` of an authority. Generation 1 keeps the name it had before
 * rotations existed, so that stacks made then keep their CA.
 */
export function authorityName(base: string, generation: number): string {
  return generation === 1 ? base : `${base}-g${generation}`;
}

/** The subject's common name of generation `g` (generation 1: unchanged, or its CA would be replaced). */
export function authorityCommonName(base: string, generation: number): string {
  return generation === 1 ? base : `${base} (generation ${generation})`;
}

/**
 * One PEM file holding every certificate of `pems`. A single certificate is returned as it is, byte for
 * byte, so a stack that rotates nothing sees no change. OpenSSL (Fluentd's `ca_path` and `ca_file`, Fluent
 * Bit's `tls.ca_file`), Elasticsearch's `certificate_authorities` and Node (Kibana) all read every
 * certificate of such a file.
 */
export function trustBundle(pems: string[]): string {
  if (pems.length === 1) {
    return pems[0];
  }
  return pems.map((p) => (p.endsWith("\n") ? p : `${p}\n`)).join("");
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----\r?\n([\s\S]*?)-----END CERTIFICATE-----\r?\n?/g;

/** Each certificate of a PEM bundle, in order, as its own PEM text. */
export function pemCertificates(bundle: string): string[] {
  return [...bundle.matchAll(PEM_CERTIFICATE)].map((m) => (m[0].endsWith("\n") ? m[0] : `${m[0]}\n`));
}

/**
 * The SHA-256 fingerprint of a PEM certificate, as `openssl x509 -fingerprint -sha256` and Node's
 * `X509Certificate.fingerprint256` print it (colon-separated upper-case hex of the DER's digest). Computed
 * from the DER itself, so it never fails on a certificate Node cannot parse.
 */
export function certificateFingerprint(pem: string): string {
  const body = /-----BEGIN CERTIFICATE-----\r?\n([\s\S]*?)-----END CERTIFICATE-----/.exec(pem)?.[1] ?? pem;
  const der = Buffer.from(body.replace(/\s+/g, ""), "base64");
  return createHash("sha256")
    .update(der)
    .digest("hex")
    .toUpperCase()
    .replace(/(..)(?!$)/g, "$1:");
}

/** The fingerprints of every CA of a bundle, in order. */
export function bundleFingerprints(bundle: string): string[] {
  return pemCertificates(bundle).map(certificateFingerprint);
}

/**
 * The fingerprint of the CA of `bundle` that signed `certPem`: checked by signature, not by name, so two
 * generations with one subject cannot be confused. Undefined when none of them did, or when a certificate
 * cannot be parsed.
 */
export function issuerFingerprint(certPem: string, bundle: string): string | undefined {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    return undefined;
  }
  for (const caPem of pemCertificates(bundle)) {
    try {
      const ca = new X509Certificate(caPem);
      if (cert.checkIssued(ca) && cert.verify(ca.publicKey)) {
        return ca.fingerprint256;
      }
    } catch {
      // Not a certificate Node can read: it cannot have signed this one.
    }
  }
  return undefined;
}

/** A CA as an edge names it: its fingerprint, and its generation as the central published it. */
export interface CaRef {
  fingerprint: string;
  /** Absent when the central's `caFingerprints` does not list the fingerprint (a central of an earlier version). */
  generation?: number;
}

/**
 * What an edge exports about its trust: the CAs it verifies the aggregator with, and the CA that signed
 * the client certificate it holds (absent without one). No CA before the central has registered it: it
 * runs nothing yet. Undefined: an edge of a version that exports neither.
 */
export interface EdgeTrust {
  trustedCas: CaRef[];
  clientCertIssuer?: CaRef;
}

/**
 * What an edge that deploys `bundle` (and, with client certificates, `clientCertPem`) exports. The
 * generations come from the central's `caFingerprints`, matched against the certificates the edge
 * actually installs: an edge trusts generation G only if the CA the central published as G is in its
 * bundle, byte for byte.
 */
export function edgeTrust(
  bundle: string | undefined,
  clientCertPem: string | undefined,
  centralFingerprints: Record<string, string>,
): EdgeTrust {
  if (bundle === undefined) {
    return { trustedCas: [] };
  }
  const generationOf = new Map(Object.entries(centralFingerprints).map(([g, f]) => [f, Number(g)]));
  const ref = (fingerprint: string): CaRef => {
    const generation = generationOf.get(fingerprint);
    return generation === undefined ? { fingerprint } : { fingerprint, generation };
  };
  const issuer = clientCertPem === undefined ? undefined : issuerFingerprint(clientCertPem, bundle);
  return {
    trustedCas: bundleFingerprints(bundle).map(ref),
    ...(issuer === undefined ? {} : { clientCertIssuer: ref(issuer) }),
  };
}

/** Edges named in a refusal; the rest are counted. */
export const EDGES_SHOWN = 10;

export interface RotationCheck {
  rotation: CaRotation;
  /** Whether edges hold client certificates (`clientCertAuth`). */
  byCertificate: boolean;
  /** What each registered edge's stack exports, by cluster; undefined for an edge of an earlier version. */
  edges: Record<string, EdgeTrust | undefined>;
  /** The stack of an edge cluster. */
  stackOf: (cluster: string) => string;
}

function named(clusters: string[]): string {
  const more = clusters.length - EDGES_SHOWN;
  return `${clusters.slice(0, EDGES_SHOWN).join(", ")}${more > 0 ? `, and ${more} more` : ""}`;
}

function commands(clusters: string[], stackOf: (c: string) => string): string {
  const shown = clusters.slice(0, EDGES_SHOWN).map((c) => `  pulumi up --stack ${stackOf(c)}`);
  const more = clusters.length - shown.length;
  return [...shown, ...(more > 0 ? [`  ... and ${more} more`] : [])].join("\n");
}

/**
 * Why the central must not take the step its configuration asks for, or undefined when every registered
 * edge has moved far enough: `issue` needs every edge to trust the next generation; a settled generation
 * after the first needs every edge to hold a certificate it signed (to trust it, without client
 * certificates). Checked before any resource is declared, from what the edges' stacks export. An edge
 * registered but not deployed yet runs nothing and holds nothing: it takes whatever this update gives it.
 */
export function rotationProblem(c: RotationCheck): string | undefined {
  const { generation, step } = c.rotation;
  let wanted: number;
  let moved: (t: EdgeTrust) => boolean;
  let what: string;
  let setting: string;
  let stay: string;
  if (step === "issue") {
    wanted = generation + 1;
    moved = (t) => t.trustedCas.some((ca) => ca.generation === wanted);
    what = `trust the CA of generation ${wanted}`;
    setting = `efk:caRotation issue (generation ${wanted} would sign every certificate from this update on)`;
    stay = `efk:caRotation trust`;
  } else if (step === "none" && generation > 1) {
    wanted = generation;
    moved = c.byCertificate
      ? (t) => t.clientCertIssuer?.generation === wanted
      : (t) => t.trustedCas.some((ca) => ca.generation === wanted);
    what = c.byCertificate
      ? `hold a client certificate signed by the CA of generation ${wanted}`
      : `trust the CA of generation ${wanted}`;
    setting = `efk:caGeneration ${generation} with efk:caRotation none (generation ${generation - 1} would no longer be trusted)`;
    stay = `efk:caGeneration ${generation - 1} with efk:caRotation issue`;
  } else {
    return undefined;
  }
  const clusters = Object.keys(c.edges).sort();
  const older = clusters.filter((e) => c.edges[e] === undefined);
  const behind = clusters.filter((e) => {
    const t = c.edges[e];
    return t !== undefined && t.trustedCas.length > 0 && !moved(t);
  });
  if (older.length === 0 && behind.length === 0) {
    return undefined;
  }
  const parts = [`${setting} refused.`];
  if (behind.length > 0) {
    parts.push(
      `${behind.length} of ${clusters.length} edge clusters do not ${what} yet: ${named(behind)}. ` +
        `Run \`pulumi up\` on each of their stacks (the deploy workflow's edge jobs run them all):\n` +
        commands(behind, c.stackOf),
    );
  }
  if (older.length > 0) {
    parts.push(
      `${older.length} of ${clusters.length} edge clusters run an earlier version of this program, which does not ` +
        `export forwardTrustedCas: ${named(older)}. Update their program to this version and run them, ` +
        `or take them out of efk:edgeClusters:\n` +
        commands(older, c.stackOf),
    );
  }
  parts.push(`Then run this stack again. Until then, stay at ${stay}.`);
  return parts.join("\n");
}
