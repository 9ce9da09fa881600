/**
 * Micro-benchmark: Picker.pick() per LB policy against host count (1 .. 10,000), equal and unequal
 * weights, and with one host excluded (a retry). Not a test; `npm run bench:micro`.
 *
 * Prints ns per pick. Hosts' active counts move as the picks go (each pick adds one to its host, and a
 * random host loses one), so least request sees a live, uneven load as it would in the sidecar.
 */
import { systemClock, systemRandom } from "../../src/common/clock.js";
import type { LbPolicy, LeastRequestConfig } from "../../src/config/model.js";
import { createPicker } from "../../src/lb/load-balancer.js";
import { Host } from "../../src/upstream/host.js";

const COUNTS = [1, 10, 100, 1000, 10_000];
const POLICIES: LbPolicy[] = ["ROUND_ROBIN", "RANDOM", "LEAST_REQUEST"];
const LR: LeastRequestConfig = { choiceCount: 2, activeRequestBias: 1 };
const PICKS = Number(process.env.PICKS ?? 300_000);

function hosts(n: number, weighted: boolean): Host[] {
  return Array.from(
    { length: n },
    (_, i) => new Host({ address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 8080 }, weighted ? 1 + (i % 5) : 1, undefined, "HEALTHY"),
  );
}

let sink = 0;
function measure(policy: LbPolicy, n: number, weighted: boolean, excludeOne: boolean): number {
  const hs = hosts(n, weighted);
  const picker = createPicker(policy, hs, LR, systemRandom, systemClock);
  const exclude = excludeOne ? [hs[0]] : undefined;
  const run = (count: number): void => {
    for (let i = 0; i < count; i++) {
      const h = picker.pick(exclude);
      if (h !== undefined) {
        h.activeRequests++;
        sink += h.activeRequests;
      }
      const r = hs[(i * 7919) % n];
      if (r.activeRequests > 0) r.activeRequests--;
    }
  };
  run(PICKS / 10);
  const start = process.hrtime.bigint();
  run(PICKS);
  return Number(process.hrtime.bigint() - start) / PICKS;
}

console.log(`pick() cost, ns per pick (${PICKS} picks per cell, Node ${process.version})\n`);
console.log(`| policy | weights | exclude | ${COUNTS.map((c) => `${c} hosts`).join(" | ")} |`);
console.log(`|---|---|---|${COUNTS.map(() => "---").join("|")}|`);
for (const policy of POLICIES) {
  for (const weighted of [false, true]) {
    for (const excludeOne of [false, true]) {
      const cells = COUNTS.map((n) => measure(policy, n, weighted, excludeOne).toFixed(1));
      console.log(`| ${policy} | ${weighted ? "1..5" : "equal"} | ${excludeOne ? "1 host" : "none"} | ${cells.join(" | ")} |`);
    }
  }
}
if (sink < 0) console.log(sink);
