import type * as k8s from "@pulumi/kubernetes";

/** What differs between the setup Jobs' containers; the rest is locked down alike. */
export type SetupContainer = Pick<
  k8s.types.input.core.v1.Container,
  "name" | "image" | "command" | "env" | "volumeMounts" | "resources"
>;

/**
 * The pod of a setup Job: it runs once, as the Elastic images' non-root user (1000), with no
 * service-account token, no privilege escalation, no capability and a read-only root file system.
 */
export function setupPodSpec(
  container: SetupContainer,
  volumes: k8s.types.input.core.v1.Volume[],
): k8s.types.input.core.v1.PodSpec {
  return {
    restartPolicy: "Never",
    automountServiceAccountToken: false,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      seccompProfile: { type: "RuntimeDefault" },
    },
    containers: [
      {
        ...container,
        securityContext: {
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ["ALL"] },
        },
      },
    ],
    volumes,
  };
}
