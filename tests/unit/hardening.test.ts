import "../mocks";
import * as assert from "node:assert/strict";
import { find } from "../mocks";
import { CENTRAL_CONFIG, runProgram } from "../harness";

const RELEASE = "kubernetes:helm.sh/v3:Release";

/** The labels the fluentd chart puts on its pods (_helpers.tpl `fluentd.selectorLabels`, release "fluentd"). */
const AGGREGATOR_POD_LABELS = {
  "app.kubernetes.io/name": "fluentd",
  "app.kubernetes.io/instance": "fluentd",
};

interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  fsGroup?: number;
  seccompProfile?: { type: string };
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
}

interface PodValues {
  podSecurityContext?: SecurityContext;
  securityContext?: SecurityContext;
  initContainers?: { name: string; securityContext?: SecurityContext }[];
  volumes?: { name: string; emptyDir?: { medium?: string } }[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  env?: { name: string; value: string }[];
  topologySpreadConstraints?: unknown[];
  priorityClassName?: string;
}

const values = (release: string) => find(RELEASE, release).inputs.values as PodValues;

describe("hardened pods on the central stack", () => {
  before(async function () {
    // One program run; more than mocha's default 2 s on a loaded machine.
    this.timeout(20_000);
    await runProgram(CENTRAL_CONFIG);
  });

  describe("the aggregator", () => {
    const aggregator = () => values("efk-fluentd-release");
    const bufferWorkers = () => aggregator().initContainers?.find((c) => c.name === "buffer-workers");

    it("runs as the image's fluent user and group (999), never as root, with its buffer volume given to that group", () => {
      const { runAsNonRoot, runAsUser, runAsGroup, fsGroup } = aggregator().podSecurityContext ?? {};
      assert.deepEqual(
        { runAsNonRoot, runAsUser, runAsGroup, fsGroup },
        {
          runAsNonRoot: true,
          runAsUser: 999,
          runAsGroup: 999,
          fsGroup: 999,
        },
      );
      // Neither container takes it back.
      for (const c of [aggregator().securityContext, bufferWorkers()?.securityContext]) {
        assert.equal(c?.runAsUser, undefined);
        assert.notEqual(c?.runAsNonRoot, false);
      }
    });

    it("confines Fluentd and its init container to the runtime's default seccomp profile", () => {
      assert.deepEqual(aggregator().podSecurityContext?.seccompProfile, { type: "RuntimeDefault" });
      for (const c of [aggregator().securityContext, bufferWorkers()?.securityContext]) {
        assert.equal(c?.seccompProfile, undefined, "a container overrides the pod's profile");
      }
    });

    it("keeps Fluentd's root filesystem read-only: /tmp is a tmpfs (sticky, as Ruby wants it), evacuated chunks go to the volume", () => {
      const v = aggregator();
      assert.equal(v.securityContext?.readOnlyRootFilesystem, true);
      const tmp = v.volumeMounts?.find((m) => m.mountPath === "/tmp");
      assert.ok(tmp && tmp.readOnly !== true, "no writable /tmp");
      assert.equal(v.volumes?.find((vol) => vol.name === tmp.name)?.emptyDir?.medium, "Memory");
      assert.equal(v.env?.find((e) => e.name === "FLUENT_BACKUP_DIR")?.value, "/var/log/fluent/backup");
    });

    it("drops every capability from Fluentd and forbids it to gain privileges", () => {
      const c = aggregator().securityContext;
      assert.deepEqual(c?.capabilities, { drop: ["ALL"] });
      assert.equal(c?.allowPrivilegeEscalation, false);
    });

    it("hardens the buffer-workers init container like Fluentd: read-only root, no capability, no escalation", () => {
      assert.deepEqual(bufferWorkers()?.securityContext, {
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
      });
    });

    it("lets a drain or an upgrade take one aggregator replica at a time", () => {
      const pdb = find("kubernetes:policy/v1:PodDisruptionBudget", "efk-fluentd-pdb").inputs as {
        metadata: { namespace: string };
        spec: { maxUnavailable: number; selector: { matchLabels: Record<string, string> } };
      };
      assert.equal(pdb.spec.maxUnavailable, 1);
      assert.deepEqual(pdb.spec.selector.matchLabels, AGGREGATOR_POD_LABELS);
      assert.equal(pdb.metadata.namespace, find(RELEASE, "efk-fluentd-release").inputs.namespace);
    });

    it("spreads the replicas over nodes and zones, softly, so none is left Pending where they cannot spread", () => {
      assert.deepEqual(
        aggregator().topologySpreadConstraints,
        ["kubernetes.io/hostname", "topology.kubernetes.io/zone"].map((topologyKey) => ({
          maxSkew: 1,
          topologyKey,
          whenUnsatisfiable: "ScheduleAnyway",
          labelSelector: { matchLabels: AGGREGATOR_POD_LABELS },
        })),
      );
    });
  });

  describe("the agents", () => {
    it("runs the agents in a PriorityClass above workloads and below the system classes, created before them", () => {
      const pc = find("kubernetes:scheduling.k8s.io/v1:PriorityClass", "efk-fluent-bit-priority");
      const inputs = pc.inputs as { metadata: { name: string }; value: number; preemptionPolicy: string };
      assert.equal(inputs.metadata.name, "efk-node-agent");
      // User-defined classes may go up to 1,000,000,000; system-cluster-critical is 2,000,000,000.
      assert.ok(inputs.value > 0 && inputs.value <= 1_000_000_000, `value ${inputs.value}`);
      assert.equal(inputs.preemptionPolicy, "PreemptLowerPriority");
      const release = find(RELEASE, "efk-fluent-bit-release");
      assert.equal(values("efk-fluent-bit-release").priorityClassName, inputs.metadata.name);
      // The API server refuses a pod that names a class it does not have.
      assert.ok(release.dependencies.includes(pc.urn), "the release does not wait for the PriorityClass");
    });

    it("confines the agents to the runtime's default seccomp profile", () => {
      assert.deepEqual(values("efk-fluent-bit-release").podSecurityContext?.seccompProfile, {
        type: "RuntimeDefault",
      });
    });
  });
});
