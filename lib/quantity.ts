// Kubernetes resource quantities ("500m", "2Gi", "1.5G"), as the API server accepts them, minus the
// exponent form ("1e3"), which nobody writes for memory or disk and which hides typos such as "30GB".
const QUANTITY = /^(?<num>[0-9]+(?:\.[0-9]+)?)(?<suffix>m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;

const MULTIPLIERS: Record<string, number> = {
  "": 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

export function isQuantity(value: string): boolean {
  return QUANTITY.test(value);
}

/** The quantity's value in base units (bytes for memory and storage, cores for CPU). */
export function quantityValue(value: string): number {
  const m = QUANTITY.exec(value);
  if (!m?.groups) {
    throw new Error(`"${value}" is not a Kubernetes quantity`);
  }
  return Number(m.groups.num) * MULTIPLIERS[m.groups.suffix ?? ""];
}

/**
 * Fluent Bit and Fluentd size strings ("512M", "8g") are decimal-or-binary-ambiguous; we hand them a
 * plain byte count derived from the Kubernetes quantity so that there is only one syntax to learn.
 */
export function quantityBytes(value: string): number {
  return Math.floor(quantityValue(value));
}
