import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";

/**
 * A chart and the exact version a values builder is written for (the `*_CHART` constants of lib/values):
 * another version's values differ in shape and would be applied silently, so a new chart version comes
 * with its values, in a release of this project.
 */
export interface PinnedChart {
  /** Chart name in the repository, e.g. "elasticsearch". */
  readonly chart: string;
  /** Exact chart version. */
  readonly version: string;
}

export interface ReleaseArgs {
  /** Chart and version, pinned next to the values builder. */
  chart: PinnedChart;
  /** Repository URL (a mirror may serve it). */
  repo: string;
  /** Helm release name: explicit, because chart object names (and so certificate SANs) derive from it. */
  releaseName: string;
  namespace: pulumi.Input<string>;
  /** Values built by a pure function; they must hold no secret, so `pulumi preview` diffs stay readable. */
  values: pulumi.Input<Record<string, unknown>>;
  /** How long Helm may wait for the release's objects to be ready. */
  timeoutSeconds: number;
}

/** The chart, its version and repository, and the release name and namespace it renders with. */
function chartSource(args: Omit<ReleaseArgs, "values" | "timeoutSeconds">) {
  return {
    name: args.releaseName,
    chart: args.chart.chart,
    version: args.chart.version,
    repositoryOpts: { repo: args.repo },
    namespace: args.namespace,
  };
}

/**
 * A `helm.v3.Release`: Helm applies the chart and waits for readiness, so that `dependsOn` orders the
 * stack by real availability. A Release runs the chart's hooks; a chart whose hooks must not run is a
 * `helmChart` instead.
 */
export function helmRelease(
  name: string,
  args: ReleaseArgs,
  opts: pulumi.CustomResourceOptions,
): k8s.helm.v3.Release {
  return new k8s.helm.v3.Release(
    name,
    {
      ...chartSource(args),
      createNamespace: false,
      values: args.values,
      timeout: args.timeoutSeconds,
      // A failed install is rolled back rather than left half-applied.
      atomic: true,
      cleanupOnFail: true,
      maxHistory: 10,
      // Values use null to delete a chart default (Helm merges maps); Pulumi drops nulls otherwise.
      allowNullValues: true,
    },
    opts,
  );
}

export type ChartArgs = Omit<ReleaseArgs, "timeoutSeconds">;

/**
 * A `helm.v4.Chart`: Pulumi renders the chart (`helm template --no-hooks`) and owns each object as a
 * resource of its own, so a preview shows each object's diff. Helm hooks are neither applied nor run, on
 * install, upgrade or delete; `helm.v3.Release` cannot promise that (its `disableWebhooks` covers install
 * only, upgrade hooks follow `disableCRDHooks`, and delete hooks always run). Pulumi waits for each object to be ready.
 *
 * Values go in as a YAML file, as `helm template -f` takes them, so that a null deletes a chart default.
 */
export function helmChart(
  name: string,
  args: ChartArgs,
  opts: pulumi.ComponentResourceOptions,
): k8s.helm.v4.Chart {
  return new k8s.helm.v4.Chart(
    name,
    {
      ...chartSource(args),
      valueYamlFiles: [
        pulumi.output(args.values).apply((v) => new pulumi.asset.StringAsset(chartValuesYaml(v))),
      ],
    },
    opts,
  );
}

/** The values file `helmChart` hands to Helm. */
export function chartValuesYaml(values: Record<string, unknown>): string {
  return stringify(values, { lineWidth: 0 });
}
