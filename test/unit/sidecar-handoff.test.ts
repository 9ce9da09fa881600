import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { HANDOFF_ENV, handoffEnv, takeHandoff } from "../../src/cli/sidecar-handoff.js";

afterEach(() => {
  delete process.env[HANDOFF_ENV];
});

void test("a handoff survives the environment and is taken once", () => {
  const wire = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff);
  const env = handoffEnv({ file: "/etc/pilotfish/bootstrap.yaml", concurrency: 3, wire });
  assert.deepEqual(Object.keys(env), [HANDOFF_ENV]);
  process.env[HANDOFF_ENV] = env[HANDOFF_ENV];
  const h = takeHandoff();
  assert.ok(h !== undefined);
  assert.equal(h.file, "/etc/pilotfish/bootstrap.yaml");
  assert.equal(h.concurrency, 3);
  assert.deepEqual([...h.wire], [...wire]);
  assert.equal(process.env[HANDOFF_ENV], undefined, "removed, so nothing started later inherits it");
  assert.equal(takeHandoff(), undefined);
});

void test("a view into a larger buffer hands over only its own bytes", () => {
  const backing = Buffer.from("xxxxHELLOyyyy");
  const env = handoffEnv({ file: "f", concurrency: 1, wire: backing.subarray(4, 9) });
  process.env[HANDOFF_ENV] = env[HANDOFF_ENV];
  assert.equal(Buffer.from(takeHandoff()!.wire).toString(), "HELLO");
});

void test("a bootstrap too large for one environment string is not handed over", () => {
  assert.deepEqual(handoffEnv({ file: "f", concurrency: 1, wire: new Uint8Array(64 * 1024 + 1) }), {});
  assert.deepEqual(Object.keys(handoffEnv({ file: "f", concurrency: 1, wire: new Uint8Array(64 * 1024) })), [HANDOFF_ENV]);
});

void test("a malformed handoff is an error naming the variable", () => {
  for (const bad of ["{not json", "null", '{"file":"f","concurrency":0,"bootstrap":""}', '{"file":"f","concurrency":1}', '{"concurrency":1,"bootstrap":""}']) {
    process.env[HANDOFF_ENV] = bad;
    assert.throws(() => takeHandoff(), new RegExp(`^Error: ${HANDOFF_ENV} is not a handoff of a pilotfish sidecar`), bad);
  }
});
