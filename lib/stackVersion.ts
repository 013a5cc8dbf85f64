/**
 * The Elasticsearch and Kibana versions the pinned 8.5.1 charts are run with: which the program accepts,
 * which it defaults to, and how two of them compare. Pure; the config rules and the README use it.
 */

/** An `<major>.<minor>.<patch>` release, as Elastic tags its images. */
export interface StackVersion {
  major: number;
  minor: number;
  patch: number;
}

/**
 * The newest 8.x release when this was written (elastic/elasticsearch and elastic/kibana tag v8.19.26).
 * 8.19 is the last 8.x minor; later 8.19 patches are accepted without a change here.
 */
export const DEFAULT_STACK_VERSION = "8.19.26";

/**
 * The versions the values builders are written and checked for. The oldest is the charts' own (8.5.1,
 * what earlier versions of this program deployed); 9.x is refused: its upgrade starts from 8.19 and
 * neither the charts nor this program were written for it.
 */
export const SUPPORTED_STACK_VERSIONS = { major: 8, minMinor: 5, maxMinor: 19 } as const;

/** "8.5.0 to 8.19.x": the supported range, as messages and the README say it. */
export const SUPPORTED_RANGE = `${SUPPORTED_STACK_VERSIONS.major}.${SUPPORTED_STACK_VERSIONS.minMinor}.0 to ${SUPPORTED_STACK_VERSIONS.major}.${SUPPORTED_STACK_VERSIONS.maxMinor}.x`;

// No leading zeros, no suffix: "8.19.26" only. A `-SNAPSHOT` or an architecture suffix is not a release.
const VERSION_TAG = /^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$/;

/** The version an image tag names, or undefined when the tag is not a plain `x.y.z` release. */
export function parseStackVersion(tag: string): StackVersion | undefined {
  const m = VERSION_TAG.exec(tag);
  return m ? { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) } : undefined;
}

/** Whether a tag names a release in `SUPPORTED_RANGE`. */
export function isSupportedStackVersion(tag: string): boolean {
  const v = parseStackVersion(tag);
  return (
    v !== undefined &&
    v.major === SUPPORTED_STACK_VERSIONS.major &&
    v.minor >= SUPPORTED_STACK_VERSIONS.minMinor &&
    v.minor <= SUPPORTED_STACK_VERSIONS.maxMinor
  );
}

/** Negative, zero or positive as `a` is older than, the same as or newer than `b`. */
export function compareStackVersions(a: StackVersion, b: StackVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

/**
 * Why Kibana `kibanaTag` must not run against Elasticsearch `esTag`, or undefined when it may. Kibana's
 * own check (`esVersionCompatibleWithKibana`, elastic/kibana
 * src/core/packages/elasticsearch/server-internal/src/version_check/es_kibana_version_compatability.ts)
 * refuses another major and an older Elasticsearch minor: Kibana then never becomes ready ("This version
 * of Kibana ... is incompatible with the following Elasticsearch nodes"); a newer Elasticsearch minor only
 * logs a warning. A newer Kibana patch passes that check but is refused here too: Elasticsearch is upgraded
 * first, so Kibana ahead of it is a mistake in the config, not a step of an upgrade.
 */
export function kibanaAheadOfElasticsearch(esTag: string, kibanaTag: string): string | undefined {
  const es = parseStackVersion(esTag);
  const kibana = parseStackVersion(kibanaTag);
  if (!es || !kibana || compareStackVersions(kibana, es) <= 0) return undefined;
  return kibana.major === es.major && kibana.minor === es.minor
    ? "a newer patch than Elasticsearch's"
    : "a newer minor than Elasticsearch's, which Kibana refuses to start against";
}
