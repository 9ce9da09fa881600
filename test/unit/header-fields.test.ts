/**
 * Regular-field rules (RFC 9113 §8.2) shared by our server's request blocks and our client's response
 * blocks: the table pins each rejection and its message, and both block parsers give the same answer.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkRegularField, type FieldTally } from "../../src/h2/header-fields.js";
import { type ParsedRequest, toRequestHeaders } from "../../src/listener/raw-h2/request-headers.js";
import { type ParsedBlock, toHeaders } from "../../src/upstream/raw-h2/response-headers.js";

/** name, value, why it is malformed ("" when it is not). */
const CASES: readonly (readonly [string, string, string])[] = [
  ["content-type", "application/grpc", ""],
  ["x-ok", "", ""],
  ["x-ok", "a\tb c", ""],
  ["te", "trailers", ""],
  ["", "v", 'bad field name ""'],
  ["X-Upper", "v", 'bad field name "X-Upper"'],
  ["a b", "v", 'bad field name "a b"'],
  ["caf\u00e9", "v", 'bad field name "café"'],
  ["connection", "close", "connection-specific field connection"],
  ["keep-alive", "5", "connection-specific field keep-alive"],
  ["proxy-connection", "x", "connection-specific field proxy-connection"],
  ["transfer-encoding", "chunked", "connection-specific field transfer-encoding"],
  ["upgrade", "h2c", "connection-specific field upgrade"],
  ["te", "gzip", "connection-specific field te"],
  ["x-v", " lead", "bad value for x-v"],
  ["x-v", "trail\t", "bad value for x-v"],
  ["x-v", "a\rb", "bad value for x-v"],
  ["x-v", "a\nb", "bad value for x-v"],
  ["x-v", "a\0b", "bad value for x-v"],
  ["content-length", "12", ""],
  ["content-length", "", "bad content-length"],
  ["content-length", "-1", "bad content-length"],
  ["content-length", "1e3", "bad content-length"],
  ["content-length", "1234567890123456", "bad content-length"],
];

void test("checkRegularField: each rule and its message", () => {
  for (const [name, value, why] of CASES) {
    const tally: FieldTally = { contentLength: -1 };
    assert.equal(checkRegularField(name, value, tally), why, `${JSON.stringify(name)}: ${JSON.stringify(value)}`);
    const expected = why === "" && name === "content-length" ? Number(value) : -1;
    assert.equal(tally.contentLength, expected, `content-length recorded for ${name}`);
  }
});

void test("checkRegularField: content-length repeats must agree", () => {
  const tally: FieldTally = { contentLength: -1 };
  assert.equal(checkRegularField("content-length", "999999999999999", tally), "");
  assert.equal(tally.contentLength, 999_999_999_999_999);
  assert.equal(checkRegularField("content-length", "999999999999999", tally), "");
  assert.equal(checkRegularField("content-length", "7", tally), "conflicting content-length values");
  assert.equal(tally.contentLength, 999_999_999_999_999);
});

void test("request and response blocks apply the same regular-field rules", () => {
  const req: ParsedRequest = { error: "", contentLength: -1 };
  const res: ParsedBlock = { error: "", status: 0, contentLength: -1 };
  const head = [":method", "POST", ":scheme", "http", ":path", "/"];
  for (const [name, value, why] of CASES) {
    toRequestHeaders([...head, name, value], false, req);
    assert.equal(req.error, why, `request ${name}: ${JSON.stringify(value)}`);
    toHeaders([":status", "200", name, value], false, res);
    assert.equal(res.error, why, `response ${name}: ${JSON.stringify(value)}`);
    // Trailers take the same rules.
    toRequestHeaders([name, value], true, req);
    assert.equal(req.error, why, `request trailers ${name}`);
    toHeaders([name, value], true, res);
    assert.equal(res.error, why, `response trailers ${name}`);
  }
  toRequestHeaders([...head, "content-length", "3", "content-length", "4"], false, req);
  assert.equal(req.error, "conflicting content-length values");
  toHeaders([":status", "200", "content-length", "3", "content-length", "3"], false, res);
  assert.equal(res.error, "");
  assert.equal(res.contentLength, 3);
});
