import { isIPv4, isIPv6 } from "node:net";
import { z } from "zod";
import { isQuantity, quantityValue } from "../lib/quantity";
import { UNREGISTERED_CLUSTER } from "../lib/records";
import { SHARED_STREAM } from "../lib/capacity";
import { DEFAULT_STACK_VERSION, isSupportedStackVersion, SUPPORTED_RANGE } from "../lib/stackVersion";

/**
 * The rules config values are checked against. Each message completes "must be ...", because the
 * loader reports `efk:<key> = <value>: must be <message>`.
 */

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_LABEL_RULE =
  "a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters";
// A host name a certificate can carry: DNS-1123 subdomain, optionally with a leading wildcard label.
const HOSTNAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const IPV4 =
  /^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}$/;
const IPV6 = /^[0-9a-fA-F:]+:[0-9a-fA-F:.]*$/;
// pulumi stack names: "stack", "project/stack" or "org/project/stack".
export const STACK_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*\/){0,2}[A-Za-z0-9][-A-Za-z0-9_.]*$/;
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const QUANTITY_RULE =
  "a Kubernetes quantity such as 512Mi, 2Gi, 30Gi, 500m or 1 (binary suffixes Ki Mi Gi Ti)";
// No leading zeros: "/08" is more likely a typo than a prefix length.
const PREFIX_LENGTH = /^(0|[1-9][0-9]{0,2})$/;

export const label = z.string().refine((v) => v.length <= 63 && DNS1123_LABEL.test(v), DNS1123_LABEL_RULE);

/** A cluster name: also names its data stream, so it must not be the one Fluentd keeps for strays, nor the shared one. */
export const clusterName = label
  .refine(
    (v) => v !== UNREGISTERED_CLUSTER,
    `a name other than "${UNREGISTERED_CLUSTER}": Fluentd sends records whose cluster is not registered to the data stream of that name`,
  )
  .refine(
    (v) => v !== SHARED_STREAM,
    `a name other than "${SHARED_STREAM}": the data stream every cluster shares is named so`,
  );

// `abort`: later rules assume a well-formed quantity.
const quantity = z.string().refine(isQuantity, { message: QUANTITY_RULE, abort: true });
export const positiveQuantity = quantity.refine((v) => quantityValue(v) > 0, "a quantity greater than zero");

const hostname = z
  .string()
  .refine(
    (v) => v.length <= 253 && HOSTNAME.test(v),
    "a DNS name (lowercase, dot-separated labels, optionally starting with '*.')",
  );
export const ip = z.string().refine((v) => IPV4.test(v) || IPV6.test(v), "an IPv4 or IPv6 address");

function isCidr(v: string): boolean {
  const parts = v.split("/");
  if (parts.length !== 2 || !PREFIX_LENGTH.test(parts[1])) {
    return false;
  }
  const bits = Number(parts[1]);
  return (isIPv4(parts[0]) && bits <= 32) || (isIPv6(parts[0]) && bits <= 128);
}
export const cidr = z
  .string()
  .refine(
    isCidr,
    "a CIDR range: an IPv4 address with /0 to /32 (203.0.113.0/24) or an IPv6 address with /0 to /128 (2001:db8::/32)",
  );

export const imageTag = z.string().refine((v) => IMAGE_TAG.test(v), "a container image tag");
/** An Elasticsearch or Kibana image tag: a release the values builders are written for (lib/stackVersion). */
export const stackVersionTag = (product: "Elasticsearch" | "Kibana") =>
  z
    .string()
    .refine(
      isSupportedStackVersion,
      `a release of ${product} from ${SUPPORTED_RANGE} (x.y.z, as Elastic tags its images), such as ${DEFAULT_STACK_VERSION}: the pinned 8.5.1 charts run those (9.x is not supported)`,
    );
export const httpsUrl = z
  .string()
  .refine((v) => /^(https|oci):\/\/[^\s]+$/.test(v), "an https:// or oci:// chart repository URL");
export const storageClass = z
  .string()
  .refine((v) => v === "" || DNS1123_LABEL.test(v) || HOSTNAME.test(v), "a StorageClass name");
export const hours = z.number().int("a whole number of hours").positive("a positive number of hours");

/** A Kubernetes label as `key=value`: an optional DNS prefix and `/`, a name, and a value of up to 63 characters. */
export const labelPair = z
  .string()
  .refine(
    (v) =>
      /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?=([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/.test(
        v,
      ),
    "a label as key=value (key: an optional prefix/ then letters, digits, '-', '_' or '.'; value: the same, at most 63 characters)",
  );

export const uniqueList = <T extends z.ZodType<string>>(item: T) =>
  z.array(item).refine((a) => new Set(a).size === a.length, "a list without duplicates");

/**
 * Host names for a certificate whose first entry is also used as an address, where a wildcard means
 * nothing. `firstUse` says what the first entry becomes.
 */
export const hostList = (firstUse: string) =>
  uniqueList(hostname).refine((hosts) => !hosts[0]?.startsWith("*."), {
    message: `a host name without a wildcard, because the first entry ${firstUse}; later entries may be wildcards (they only go into the certificate)`,
    path: [0],
  });
