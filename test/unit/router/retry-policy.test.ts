import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { seededRandom } from "../../../src/common/clock.js";
import type { RetryOn } from "../../../src/config/model.js";
import {
  backoffMs,
  CONNECT_FAILURE_OUTCOME,
  parseGrpcStatus,
  PER_TRY_TIMEOUT_OUTCOME,
  REFUSED_STREAM_OUTCOME,
  RESET_OUTCOME,
  retryableOutcome,
  type AttemptOutcome,
} from "../../../src/router/retry-policy.js";
import { retryPolicy } from "./builders.js";

function response(httpStatus: number, grpcStatusInHeaders?: number): AttemptOutcome {
  return { kind: "response", httpStatus, grpcStatusInHeaders };
}

void describe("retryableOutcome", () => {
  const cases: [retryOn: RetryOn[], outcome: AttemptOutcome, expected: boolean, codes?: number[]][] = [
    // 5xx
    [["5xx"], response(500), true],
    [["5xx"], response(503), true],
    [["5xx"], response(599), true],
    [["5xx"], response(499), false],
    [["5xx"], response(200), false],
    [["5xx"], RESET_OUTCOME, true],
    [["5xx"], CONNECT_FAILURE_OUTCOME, true],
    [["5xx"], REFUSED_STREAM_OUTCOME, true],
    [["5xx"], PER_TRY_TIMEOUT_OUTCOME, true],
    // gateway-error
    [["gateway-error"], response(502), true],
    [["gateway-error"], response(503), true],
    [["gateway-error"], response(504), true],
    [["gateway-error"], response(500), false],
    [["gateway-error"], response(501), false],
    [["gateway-error"], CONNECT_FAILURE_OUTCOME, true],
    [["gateway-error"], PER_TRY_TIMEOUT_OUTCOME, true],
    [["gateway-error"], RESET_OUTCOME, true],
    // reset: every reset-like failure, no status code
    [["reset"], RESET_OUTCOME, true],
    [["reset"], CONNECT_FAILURE_OUTCOME, true],
    [["reset"], REFUSED_STREAM_OUTCOME, true],
    [["reset"], PER_TRY_TIMEOUT_OUTCOME, true],
    [["reset"], response(503), false],
    // connect-failure
    [["connect-failure"], CONNECT_FAILURE_OUTCOME, true],
    [["connect-failure"], RESET_OUTCOME, false],
    [["connect-failure"], REFUSED_STREAM_OUTCOME, false],
    [["connect-failure"], PER_TRY_TIMEOUT_OUTCOME, false],
    [["connect-failure"], response(503), false],
    // refused-stream
    [["refused-stream"], REFUSED_STREAM_OUTCOME, true],
    [["refused-stream"], RESET_OUTCOME, false],
    [["refused-stream"], CONNECT_FAILURE_OUTCOME, false],
    [["refused-stream"], response(503), false],
    // retriable-4xx is 409 only
    [["retriable-4xx"], response(409), true],
    [["retriable-4xx"], response(429), false],
    [["retriable-4xx"], response(404), false],
    // retriable-status-codes
    [["retriable-status-codes"], response(429), true, [429, 418]],
    [["retriable-status-codes"], response(418), true, [429, 418]],
    [["retriable-status-codes"], response(500), false, [429, 418]],
    // the codes alone do nothing without the condition
    [["5xx"], response(429), false, [429]],
    // gRPC conditions, from grpc-status in response headers
    [["cancelled"], response(200, 1), true],
    [["deadline-exceeded"], response(200, 4), true],
    [["resource-exhausted"], response(200, 8), true],
    [["internal"], response(200, 13), true],
    [["unavailable"], response(200, 14), true],
    [["unavailable"], response(200, 13), false],
    [["unavailable"], response(200, 0), false],
    [["unavailable"], response(200, 2), false],
    // trailers never trigger: the caller passes undefined for a status that came in trailers
    [["unavailable"], response(200, undefined), false],
    [["cancelled", "deadline-exceeded", "resource-exhausted", "internal", "unavailable"], response(200, 5), false],
    [["unavailable"], RESET_OUTCOME, false],
    // nothing configured: never retry
    [[], response(503), false],
    [[], RESET_OUTCOME, false],
    [[], CONNECT_FAILURE_OUTCOME, false],
  ];
  for (const [retryOn, outcome, expected, codes] of cases) {
    const label = outcome.kind === "response" ? `${outcome.httpStatus}/grpc ${String(outcome.grpcStatusInHeaders)}` : outcome.kind;
    void it(`[${retryOn.join(",")}] ${label} → ${expected ? "retry" : "no retry"}`, () => {
      const policy = retryPolicy(retryOn, { retriableStatusCodes: new Set(codes ?? []) });
      assert.equal(retryableOutcome(policy, outcome), expected);
    });
  }
});

void describe("parseGrpcStatus", () => {
  const cases: [value: string | string[] | undefined, expected: number | undefined][] = [
    ["0", 0],
    ["14", 14],
    ["16", 16],
    [undefined, undefined],
    ["", undefined],
    ["x", undefined],
    ["-1", undefined],
    ["123", undefined],
    [["14"], undefined],
  ];
  for (const [value, expected] of cases) {
    void it(`${JSON.stringify(value)} → ${String(expected)}`, () => assert.equal(parseGrpcStatus(value), expected));
  }
});

void describe("backoffMs", () => {
  void it("stays within [0, min((2^n - 1) * base, max)) and uses the whole range", () => {
    const random = seededRandom(7);
    for (const [attempt, ceiling] of [
      [1, 25],
      [2, 75],
      [3, 175],
      [4, 250],
      [10, 250],
      [2000, 250],
    ] as const) {
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = 0; i < 5000; i++) {
        const b = backoffMs(attempt, 25, 250, random);
        assert.ok(Number.isInteger(b));
        assert.ok(b >= 0 && b < ceiling, `attempt ${attempt}: ${b} outside [0, ${ceiling})`);
        lo = Math.min(lo, b);
        hi = Math.max(hi, b);
      }
      // full jitter: close to both ends of the interval
      assert.ok(lo <= ceiling * 0.02, `attempt ${attempt}: min ${lo}`);
      assert.ok(hi >= Math.floor(ceiling * 0.97) - 1, `attempt ${attempt}: max ${hi}`);
    }
  });

  void it("maps the Random's extremes to the interval's ends", () => {
    assert.equal(backoffMs(2, 25, 250, { next: () => 0 }), 0);
    assert.equal(backoffMs(2, 25, 250, { next: () => 0.999999 }), 74);
    assert.equal(backoffMs(1, 25, 250, { next: () => 0.5 }), 12);
  });

  void it("treats attempt < 1 as the first retry and a zero base as no delay", () => {
    assert.equal(backoffMs(0, 100, 1000, { next: () => 0.999 }), 99);
    assert.equal(backoffMs(3, 0, 1000, { next: () => 0.5 }), 0);
  });
});
