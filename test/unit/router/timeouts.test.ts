import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { MaxStreamDurationConfig } from "../../../src/config/model.js";
import {
  DEFAULT_HTTP_ROUTE_TIMEOUT_MS,
  effectiveTimeoutMs,
  formatGrpcTimeout,
  parseGrpcTimeout,
} from "../../../src/router/timeouts.js";
import { routeAction } from "./builders.js";

void describe("parseGrpcTimeout", () => {
  const cases: [value: string | undefined, expected: number | undefined][] = [
    ["1H", 3_600_000],
    ["2M", 120_000],
    ["30S", 30_000],
    ["250m", 250],
    ["0m", 0],
    ["00000100m", 100],
    ["99999999m", 99_999_999],
    ["1000u", 1],
    ["1500u", 2],
    ["1u", 1],
    ["1000000n", 1],
    ["1n", 1],
    ["0n", 0],
    // invalid
    [undefined, undefined],
    ["", undefined],
    ["m", undefined],
    ["100", undefined],
    ["100x", undefined],
    ["100ms", undefined],
    ["100000000m", undefined],
    ["-1m", undefined],
    ["+1m", undefined],
    [" 1m", undefined],
    ["1.5S", undefined],
    ["1s", undefined],
    ["1h", undefined],
  ];
  for (const [value, expected] of cases) {
    void it(`${JSON.stringify(value)} → ${String(expected)}`, () => assert.equal(parseGrpcTimeout(value), expected));
  }
});

void describe("formatGrpcTimeout", () => {
  const cases: [ms: number, expected: string][] = [
    [250, "250m"],
    [1, "1m"],
    [0.4, "1m"],
    [0, "0m"],
    [-5, "0m"],
    [99_999_999, "99999999m"],
    [100_000_000, "100000S"],
    [100_000_001, "100001S"],
    [99_999_999_000 + 1, "1666667M"],
    [Number.MAX_SAFE_INTEGER, "99999999H"],
  ];
  for (const [ms, expected] of cases) {
    void it(`${ms} → ${expected}`, () => assert.equal(formatGrpcTimeout(ms), expected));
  }

  void it("round-trips through parse exactly when milliseconds fit, and never shortens otherwise", () => {
    for (const ms of [1, 7, 999, 1000, 15_000, 86_400_000, 99_999_999]) {
      assert.equal(parseGrpcTimeout(formatGrpcTimeout(ms)), ms);
    }
    for (const ms of [100_000_000, 123_456_789_012, 9_000_000_000_000]) {
      const back = parseGrpcTimeout(formatGrpcTimeout(ms));
      assert.ok(back !== undefined && back >= ms, `${ms} → ${back}`);
      assert.ok(back - ms < 3_600_000, `${ms} → ${back}: more than one unit longer`);
    }
    for (const header of ["250m", "30S", "5M", "2H"]) {
      assert.equal(formatGrpcTimeout(parseGrpcTimeout(header)!), `${parseGrpcTimeout(header)}m`);
    }
  });

  void it("always produces a value parseGrpcTimeout accepts", () => {
    for (const ms of [0, 0.001, 1, 12_345, 1e8, 1e11, 1e13, 1e15, Number.MAX_SAFE_INTEGER]) {
      assert.notEqual(parseGrpcTimeout(formatGrpcTimeout(ms)), undefined, String(ms));
    }
  });
});

void describe("effectiveTimeoutMs", () => {
  const msd = (o: Partial<MaxStreamDurationConfig>): MaxStreamDurationConfig => ({
    maxStreamDurationMs: undefined,
    grpcTimeoutHeaderMaxMs: undefined,
    grpcTimeoutHeaderOffsetMs: 0,
    ...o,
  });
  const cases: [
    name: string,
    timeoutMs: number | undefined,
    maxStream: Partial<MaxStreamDurationConfig>,
    isGrpc: boolean,
    grpcTimeout: number | undefined,
    expected: number,
    hcmMax?: number,
  ][] = [
    ["unset route timeout, HTTP → Envoy's 15 s", undefined, {}, false, undefined, DEFAULT_HTTP_ROUTE_TIMEOUT_MS],
    ["unset route timeout, gRPC without deadline → none", undefined, {}, true, undefined, 0],
    ["unset route timeout, gRPC with deadline → deadline", undefined, {}, true, 60_000, 60_000],
    ["explicit timeout applies to HTTP", 2000, {}, false, undefined, 2000],
    ["explicit timeout applies to gRPC", 2000, {}, true, undefined, 2000],
    ["explicit 0 disables for HTTP", 0, {}, false, undefined, 0],
    ["explicit 0 disables for gRPC", 0, {}, true, undefined, 0],
    ["grpc-timeout shorter than route timeout wins", 5000, {}, true, 1000, 1000],
    ["grpc-timeout never lengthens the route timeout", 5000, {}, true, 9000, 5000],
    ["grpc-timeout with route timeout disabled", 0, {}, true, 9000, 9000],
    ["grpc-timeout ignored for plain HTTP", 5000, {}, false, 1000, 5000],
    ["grpc-timeout capped by grpcTimeoutHeaderMaxMs", undefined, { grpcTimeoutHeaderMaxMs: 3000 }, true, 10_000, 3000],
    ["cap 0 means uncapped", undefined, { grpcTimeoutHeaderMaxMs: 0 }, true, 10_000, 10_000],
    ["cap does not apply without a header", undefined, { grpcTimeoutHeaderMaxMs: 3000 }, true, undefined, 0],
    ["offset subtracted", undefined, { grpcTimeoutHeaderOffsetMs: 100 }, true, 1000, 900],
    ["offset not applied when it would reach zero", undefined, { grpcTimeoutHeaderOffsetMs: 1000 }, true, 1000, 1000],
    ["offset then cap", undefined, { grpcTimeoutHeaderOffsetMs: 100, grpcTimeoutHeaderMaxMs: 500 }, true, 1000, 500],
    ["an expired deadline fails fast instead of meaning none", undefined, {}, true, 0, 1],
    ["max stream duration caps HTTP", 20_000, { maxStreamDurationMs: 10_000 }, false, undefined, 10_000],
    ["max stream duration bounds gRPC with no other timeout", undefined, { maxStreamDurationMs: 10_000 }, true, undefined, 10_000],
    ["max stream duration caps the deadline", undefined, { maxStreamDurationMs: 10_000 }, true, 60_000, 10_000],
    ["max stream duration longer than the route timeout", 1000, { maxStreamDurationMs: 10_000 }, false, undefined, 1000],
    ["HCM max stream duration applies when the route's is unset", undefined, {}, true, undefined, 7000, 7000],
    ["route's max stream duration 0 overrides the HCM's", undefined, { maxStreamDurationMs: 0 }, true, undefined, 0, 7000],
    ["route's max stream duration replaces the HCM's", undefined, { maxStreamDurationMs: 9000 }, true, undefined, 9000, 7000],
  ];
  for (const [name, timeoutMs, maxStream, isGrpc, grpcTimeout, expected, hcmMax] of cases) {
    void it(name, () => {
      const action = routeAction({ timeoutMs, maxStreamDuration: msd(maxStream) });
      assert.equal(effectiveTimeoutMs(action, isGrpc, grpcTimeout, hcmMax), expected);
    });
  }
});
