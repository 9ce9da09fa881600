/** Every error code is documented in docs/errors.md (codes are promises to operators). */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { ErrorCode } from "../../src/common/errors.js";

void test("every ErrorCode appears in docs/errors.md", () => {
  const doc = readFileSync(new URL("../../docs/errors.md", import.meta.url), "utf8");
  for (const code of Object.values(ErrorCode)) assert.ok(doc.includes(`\`${code}\``), `${code} is not documented`);
});
