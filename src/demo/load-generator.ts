/**
 * The demo's application: a grpc-js client calling Echo through the client-side sidecar at a steady
 * rate. `lanes` loops run concurrently, each paced to `rate / lanes` calls per second (a lane whose call
 * takes longer than its slot starts the next one at once, so a slow mesh lowers the rate instead of
 * piling up calls). Every outcome lands in the current one-second window and in the run totals.
 */
import { DemoEchoClient, statusName } from "./echo-service.js";
import { LatencyHistogram } from "./latency.js";

/** Outcomes of one window (or of the whole run, for the totals). */
export interface Window {
  requests: number;
  ok: number;
  /** Failed calls by gRPC status name. */
  errors: Map<string, number>;
  /** Successful-call and failed-call latencies, ms. */
  latencies: number[];
}

function emptyWindow(): Window {
  return { requests: 0, ok: 0, errors: new Map(), latencies: [] };
}

export interface LoadGeneratorOptions {
  /** The client sidecar's outbound listener, host:port. */
  readonly target: string;
  /** Calls per second, all lanes together. */
  readonly rate: number;
  /** Concurrent loops. */
  readonly lanes: number;
  /** Deadline of each call, ms. */
  readonly deadlineMs: number;
}

export class LoadGenerator {
  private readonly client: DemoEchoClient;
  private running = false;
  private loops: Promise<void>[] = [];
  private window = emptyWindow();
  private wake = new Set<() => void>();
  /** Calls in flight right now. */
  inFlight = 0;
  /** Run totals. */
  readonly total = { requests: 0, ok: 0, errors: new Map<string, number>(), histogram: new LatencyHistogram() };

  constructor(private readonly options: LoadGeneratorOptions) {
    this.client = new DemoEchoClient(options.target);
  }

  /** One call, outside the paced loops (start-up probe). */
  async probe(deadlineMs: number): Promise<boolean> {
    return (await this.client.echo("probe", deadlineMs)).code === 0;
  }

  start(): void {
    this.running = true;
    const period = (1000 * this.options.lanes) / this.options.rate;
    for (let lane = 0; lane < this.options.lanes; lane++) this.loops.push(this.lane(lane, period));
  }

  /** Hands over the current window and starts a new one. */
  takeWindow(): Window {
    const w = this.window;
    this.window = emptyWindow();
    return w;
  }

  /** Stops issuing calls and waits for the ones in flight; then closes the channel. */
  async stop(): Promise<void> {
    this.running = false;
    for (const w of this.wake) w();
    await Promise.all(this.loops);
    this.client.close();
  }

  private async lane(lane: number, period: number): Promise<void> {
    // Lanes start spread over one period so the calls are evenly spaced.
    let next = performance.now() + (period * lane) / this.options.lanes;
    let seq = 0;
    while (this.running) {
      const wait = next - performance.now();
      if (wait > 0) await this.sleep(wait);
      if (!this.running) break;
      next = Math.max(next + period, performance.now() - period);
      const t0 = performance.now();
      this.inFlight++;
      const r = await this.client.echo(`lane ${lane} call ${seq++}`, this.options.deadlineMs);
      this.inFlight--;
      this.record(r.code, performance.now() - t0);
    }
  }

  private record(code: number, ms: number): void {
    const w = this.window;
    w.requests++;
    this.total.requests++;
    w.latencies.push(ms);
    this.total.histogram.record(ms);
    if (code === 0) {
      w.ok++;
      this.total.ok++;
    } else {
      const name = statusName(code);
      w.errors.set(name, (w.errors.get(name) ?? 0) + 1);
      this.total.errors.set(name, (this.total.errors.get(name) ?? 0) + 1);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake.add(done);
    });
  }
}
