import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "./config";
import { Central } from "./components/central";

/** Stack outputs. Everything secret is wrapped in `pulumi.secret` here, whatever the providers declare. */
export type StackOutputs = Record<string, pulumi.Output<unknown>>;

/** Builds the central or the edge composition from validated configuration. */
export function deploy(cfg: StackConfig): StackOutputs {
  if (cfg.role === "central") {
    const central = new Central("efk", cfg);
    return {
      elasticsearchUrl: central.elasticsearchUrl,
      kibanaUrl: central.kibanaUrl,
      caCertPem: central.caCertPem,
      elasticPassword: pulumi.secret(central.elasticPassword),
    };
  }
  throw new Error("edge stacks are not implemented yet");
}
