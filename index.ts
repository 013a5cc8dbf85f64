import * as pulumi from "@pulumi/pulumi";
import { CONFIG_NAMESPACE, loadConfig } from "./config";
import { deploy } from "./program";

// Validation runs before any resource is declared: a bad key stops the whole program, nothing half-applied.
export = async () => deploy(loadConfig(new pulumi.Config(CONFIG_NAMESPACE)));
