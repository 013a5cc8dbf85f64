import "../mocks";
import * as assert from "node:assert/strict";
import { CONFIG_KEYS, ConfigError, loadConfig } from "../../config";
import {
  DEFAULT_STACK_VERSION,
  SUPPORTED_RANGE,
  isSupportedStackVersion,
  kibanaAheadOfElasticsearch,
  parseStackVersion,
} from "../../lib/stackVersion";
import { CENTRAL_CONFIG } from "../harness";

function problemsOf(values: Record<string, string>): string[] {
  try {
    loadConfig({
      get: (k) => (Object.hasOwn(values, k) ? values[k] : undefined),
      keys: () => Object.keys(values),
    });
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return e.problems;
  }
  return [];
}

/**
 * Kibana's own rule, as elastic/kibana's `esVersionCompatibleWithKibana` states it
 * (src/core/packages/elasticsearch/server-internal/src/version_check/es_kibana_version_compatability.ts):
 * another major, or an older Elasticsearch minor, is incompatible; patches are not compared.
 */
function kibanaAccepts(es: string, kibana: string): boolean {
  const e = parseStackVersion(es)!;
  const k = parseStackVersion(kibana)!;
  return e.major === k.major && e.minor >= k.minor;
}

describe("Elasticsearch and Kibana versions", () => {
  it("the default is one release of both, in the supported range", () => {
    assert.equal(CONFIG_KEYS.esImageTag.default, DEFAULT_STACK_VERSION);
    assert.equal(CONFIG_KEYS.kibanaImageTag.default, DEFAULT_STACK_VERSION);
    assert.ok(isSupportedStackVersion(DEFAULT_STACK_VERSION));
    assert.equal(SUPPORTED_RANGE, "8.5.0 to 8.19.x");
  });

  for (const key of ["esImageTag", "kibanaImageTag"] as const) {
    const product = key === "esImageTag" ? "Elasticsearch" : "Kibana";
    for (const tag of [
      "7.17.25",
      "9.0.0",
      "9.2.1",
      "8.4.3",
      "8.20.0",
      "latest",
      "8.19.26-SNAPSHOT",
      "8.19",
      "08.19.1",
    ]) {
      it(`refuses ${key} ${tag}, naming the key, the value and the supported range`, () => {
        // Both set, so that only the range is in question, not Kibana against Elasticsearch.
        const problems = problemsOf({ ...CENTRAL_CONFIG, esImageTag: tag, kibanaImageTag: tag });
        const mine = problems.filter((p) => p.startsWith(`efk:${key} `));
        assert.deepEqual(mine, [
          `efk:${key} = "${tag}": must be a release of ${product} from 8.5.0 to 8.19.x (x.y.z, as Elastic tags its images), such as ${DEFAULT_STACK_VERSION}: the pinned 8.5.1 charts run those (9.x is not supported)`,
        ]);
      });
    }
  }

  for (const tag of ["8.5.0", "8.5.1", "8.12.2", "8.19.26", "8.19.40"]) {
    it(`accepts ${tag} for both`, () => {
      assert.deepEqual(problemsOf({ ...CENTRAL_CONFIG, esImageTag: tag, kibanaImageTag: tag }), []);
    });
  }

  it("refuses a Kibana of a newer minor than Elasticsearch, naming both keys and both values", () => {
    assert.deepEqual(problemsOf({ ...CENTRAL_CONFIG, esImageTag: "8.5.1", kibanaImageTag: "8.19.26" }), [
      'efk:kibanaImageTag = "8.19.26": must be no newer than efk:esImageTag ("8.5.1"); it is a newer minor than Elasticsearch\'s, which Kibana refuses to start against. Upgrade Elasticsearch first (efk:esImageTag), then Kibana, or set both to the same release',
    ]);
  });

  it("refuses a Kibana of a newer patch than Elasticsearch, which Kibana itself would only warn about", () => {
    const problems = problemsOf({ ...CENTRAL_CONFIG, esImageTag: "8.19.25", kibanaImageTag: "8.19.26" });
    assert.equal(problems.length, 1);
    assert.match(
      problems[0],
      /^efk:kibanaImageTag = "8\.19\.26": must be no newer than efk:esImageTag \("8\.19\.25"\); it is a newer patch/,
    );
  });

  it("only checks Kibana against Elasticsearch once both tags are valid, so one bad tag gives one problem", () => {
    const problems = problemsOf({ ...CENTRAL_CONFIG, esImageTag: "9.0.0", kibanaImageTag: "8.19.26" });
    assert.deepEqual(
      problems.map((p) => p.split(" =")[0]),
      ["efk:esImageTag"],
    );
  });

  it("accepts Elasticsearch ahead of Kibana: the state halfway through an upgrade", () => {
    assert.deepEqual(problemsOf({ ...CENTRAL_CONFIG, esImageTag: "8.19.26", kibanaImageTag: "8.5.1" }), []);
    assert.deepEqual(problemsOf({ ...CENTRAL_CONFIG, esImageTag: "8.19.26", kibanaImageTag: "8.19.25" }), []);
  });

  it("refuses every pair Kibana's own check refuses, and otherwise only a Kibana ahead by a patch", () => {
    const versions = ["8.5.0", "8.5.1", "8.6.0", "8.18.8", "8.19.0", "8.19.26"];
    let refusedByKibana = 0;
    for (const es of versions) {
      for (const kibana of versions) {
        const ours = kibanaAheadOfElasticsearch(es, kibana);
        if (!kibanaAccepts(es, kibana)) {
          refusedByKibana += 1;
          assert.ok(
            ours,
            `Kibana ${kibana} against Elasticsearch ${es} is refused by Kibana but accepted here`,
          );
        } else if (ours) {
          assert.deepEqual(
            [parseStackVersion(es)!.minor, ours],
            [parseStackVersion(kibana)!.minor, "a newer patch than Elasticsearch's"],
            `Kibana ${kibana} against Elasticsearch ${es}`,
          );
        }
      }
    }
    // Guards the loop against passing vacuously.
    assert.ok(refusedByKibana >= 10, `only ${refusedByKibana} pairs were incompatible`);
  });
});
