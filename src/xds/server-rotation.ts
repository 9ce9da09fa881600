/**
 * Which discovery-server endpoint the ADS client dials next, and after how long.
 *
 * The bootstrap's xDS cluster may list several endpoints (discovery-server replicas serving the same
 * mesh). The client holds one stream to one of them. Rules:
 * - every reconnect dials the next endpoint in the cluster's order (wrapping around), so a dead
 *   replica is left at once and a set of replicas is tried in turn;
 * - a stream that had been up for at least `minHealthyMs` (the server answered: response headers or
 *   a response) and then broke is replaced at once, without waiting: the server went away, another
 *   replica is very likely fine, and the sidecar should not sit without a control plane (with a
 *   single endpoint, a Service address, the new connection may land on another replica too);
 * - any other failure (cannot connect, or a stream that broke right after it opened) waits the
 *   jittered exponential backoff, which grows across endpoints until a response arrives (as Envoy's
 *   GrpcStream resets its backoff on a received message). A flapping server therefore cannot make
 *   the client reconnect in a tight loop.
 * The endpoint list is read at every reconnect, so a cluster whose hosts change (DNS) is followed.
 */
import type { Backoff } from "./backoff.js";

/** The next connection attempt. */
export interface NextAttempt {
  /** `host:port` to dial. */
  readonly target: string;
  /** Milliseconds to wait before dialling. */
  readonly delayMs: number;
}

export class ServerRotation {
  private last: string | undefined;

  constructor(
    /** The xDS cluster's endpoints (`host:port`), in the cluster's order; read at each attempt. */
    private readonly targets: () => readonly string[],
    private readonly backoff: Backoff,
    /** How long a stream must have been up for its loss to be retried at once. */
    private readonly minHealthyMs = 1000,
  ) {}

  /** The endpoint of the current (or last) attempt, if any. */
  get current(): string | undefined {
    return this.last;
  }

  /** The first endpoint to dial, or undefined when the cluster has none. */
  first(): string | undefined {
    this.last = this.targets()[0];
    return this.last;
  }

  /**
   * The attempt after a stream ended. `upForMs` is how long the stream had been established (the
   * server answered), or undefined when it never was. Undefined when the cluster has no endpoint.
   */
  next(upForMs: number | undefined): NextAttempt | undefined {
    const list = this.targets();
    if (list.length === 0) return undefined;
    const i = this.last === undefined ? -1 : list.indexOf(this.last);
    const target = list[(i + 1) % list.length];
    this.last = target;
    // After a stream that was really up, go now (with one endpoint too: behind a Service address the
    // new connection may reach another replica). A failure to connect, or a stream that broke right
    // away: back off.
    const immediate = upForMs !== undefined && upForMs >= this.minHealthyMs;
    return { target, delayMs: immediate ? 0 : this.backoff.next() };
  }

  /** A response arrived: the next failure starts the backoff from its first step. */
  healthy(): void {
    this.backoff.reset();
  }
}
