import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

/** Passwords: long, and alphanumeric, because the Elasticsearch chart's readiness probe passes them through a shell to curl. */
export function generatedPassword(name: string, parent: pulumi.Resource): random.RandomPassword {
  return new random.RandomPassword(name, { length: 32, special: false }, { parent });
}

/**
 * A Kubernetes Secret with a fixed name, a child of `parent`. Its data is secret in Pulumi's state
 * whatever the inputs are marked: the Kubernetes provider wraps `stringData` itself.
 */
export function kubernetesSecret(
  resourceName: string,
  name: string,
  namespace: pulumi.Input<string>,
  stringData: pulumi.Input<Record<string, pulumi.Input<string>>>,
  parent: pulumi.Resource,
  type = "Opaque",
): k8s.core.v1.Secret {
  return new k8s.core.v1.Secret(
    resourceName,
    { metadata: { name, namespace }, type, stringData },
    { parent },
  );
}
