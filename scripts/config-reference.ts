/**
 * npm run config-reference
 *
 * Prints the README's configuration reference table from the config module, the one place keys, types,
 * defaults and descriptions are defined (a unit test checks that the README lists every key).
 */
import { CONFIG_KEYS } from "../config";

const rows = Object.entries(CONFIG_KEYS).map(([key, spec]) => {
  const shown = "default" in spec ? JSON.stringify(spec.default) : "(required)";
  return `| \`${key}\` | ${spec.type} | \`${shown}\` | ${spec.roles.join(", ")} | ${spec.description} |`;
});
console.log(
  ["| key | type | default | stacks | what it does |", "|---|---|---|---|---|", ...rows].join("\n"),
);
