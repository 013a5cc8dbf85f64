import { loadConfig, stackConfigSource } from "./config";
import { deploy } from "./program";

// Validation runs before any resource is declared: a bad key stops the whole program, nothing half-applied.
export = async () => deploy(loadConfig(stackConfigSource()));
