/**
 * Time and chance, injected wherever behaviour depends on them so that tests can control both
 * (Envoy's TimeSource and RandomGenerator).
 */

/** A source of time and timers. */
export interface Clock {
  /** Monotonic milliseconds (not wall time). */
  now(): number;
  /** Schedules `fn` after `ms`; returns a handle for cancel(). */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer returned by setTimeout; a no-op for fired or cancelled timers. */
  clearTimeout(handle: TimerHandle): void;
}

/** Opaque timer handle. */
export type TimerHandle = { readonly __timer: unique symbol } | NodeJS.Timeout;

/** A source of uniform random numbers. */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
}

/** The real clock: performance.now() and unref'd Node timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Math.random. */
export const systemRandom: Random = { next: () => Math.random() };

/** A deterministic Random for tests (mulberry32). */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return {
    next() {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}
