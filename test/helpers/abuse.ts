/**
 * What every abuse test measures while an attack runs: legitimate gRPC calls through the same sidecar
 * (success ratio, statuses, none hanging) and the sidecar's resident memory (peak over the baseline).
 */
import * as grpc from "@grpc/grpc-js";
import type { EchoClient, EchoRequest } from "./echo-proto.js";
import type { Sidecar } from "./sidecar.js";
import { delay } from "./util.js";

/** Tally of the legitimate calls. */
export interface LoadTally {
  ok: number;
  /** Failed calls by gRPC status name. */
  errors: Record<string, number>;
  total: number;
  /** ok / total (1 when nothing ran, which the caller must also reject via `total`). */
  successRatio: number;
}

export interface LegitLoad {
  /** Stops issuing calls, waits for those in flight (each has its own deadline), returns the tally. */
  stop(): Promise<LoadTally>;
  /** Calls completed so far. */
  completed(): number;
}

/**
 * Keeps `concurrency` unary calls in flight on `client` until stopped; each call carries a
 * `deadlineMs` deadline, so none can hang: a hang shows up as DEADLINE_EXCEEDED and fails the ratio.
 */
export function startLegitLoad(client: EchoClient, opts: { concurrency?: number; deadlineMs?: number; request?: EchoRequest } = {}): LegitLoad {
  const tally = { ok: 0, errors: {} as Record<string, number>, total: 0 };
  let running = true;
  const req: EchoRequest = opts.request ?? { message: "legit", responseSize: 64 };
  const deadlineMs = opts.deadlineMs ?? 3000;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      client.Unary(req, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err) => {
        tally.total++;
        if (err === null) tally.ok++;
        else {
          const name = grpc.status[err.code] ?? String(err.code);
          tally.errors[name] = (tally.errors[name] ?? 0) + 1;
        }
        resolve();
      });
    });
  const workers = Array.from({ length: opts.concurrency ?? 4 }, async () => {
    while (running) await one();
  });
  return {
    async stop() {
      running = false;
      await Promise.all(workers);
      return { ...tally, successRatio: tally.total === 0 ? 1 : tally.ok / tally.total };
    },
    completed: () => tally.total,
  };
}

export interface RssSampler {
  /** Stops sampling; returns baseline and peak VmRSS in KiB. */
  stop(): Promise<{ baselineKb: number; peakKb: number; growthKb: number }>;
}

/** Samples the sidecar's VmRSS every `intervalMs` (baseline = first sample) until stopped. */
export async function sampleRss(sidecar: Sidecar, intervalMs = 100): Promise<RssSampler> {
  const baselineKb = await sidecar.rssKb();
  let peakKb = baselineKb;
  let running = true;
  const loop = (async () => {
    while (running) {
      await delay(intervalMs);
      const kb = await sidecar.rssKb().catch(() => 0);
      if (kb > peakKb) peakKb = kb;
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { baselineKb, peakKb, growthKb: peakKb - baselineKb };
    },
  };
}

/** One-line summary for assertion messages and the test log. */
export function describeRun(label: string, t: LoadTally, rss: { baselineKb: number; peakKb: number }): string {
  return `${label}: legit ${t.ok}/${t.total} ok (errors ${JSON.stringify(t.errors)}), RSS ${Math.round(rss.baselineKb / 1024)} -> peak ${Math.round(rss.peakKb / 1024)} MiB`;
}
