import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

export interface SetupJobArgs {
  namespaceRef: pulumi.Input<string>;
  /** The pods' `app.kubernetes.io/name`. */
  appName: string;
  /** Pod retries before the Job fails. */
  backoffLimit: number;
  podSpec: pulumi.Input<k8s.types.input.core.v1.PodSpec>;
}

/**
 * A Job that sets something up once (auto-named: a changed pod spec makes a new Job). A failed one is
 * replaced by the next `pulumi up` (`pulumi.com/replaceUnready`); without that, Pulumi would wait on it, and
 * fail, at every update.
 */
export function setupJob(
  name: string,
  args: SetupJobArgs,
  opts: pulumi.CustomResourceOptions,
): k8s.batch.v1.Job {
  return new k8s.batch.v1.Job(
    name,
    {
      metadata: {
        namespace: args.namespaceRef,
        labels: { "app.kubernetes.io/part-of": "efk-pulumi" },
        annotations: { "pulumi.com/replaceUnready": "true" },
      },
      spec: {
        backoffLimit: args.backoffLimit,
        template: { metadata: { labels: { "app.kubernetes.io/name": args.appName } }, spec: args.podSpec },
      },
    },
    opts,
  );
}
