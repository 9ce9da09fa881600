/**
 * One Kubernetes list+watch loop, driven by hand with client-node's `Watch` (client-go's reflector in
 * miniature). client-node's own ListWatch informer was not used: after an error it stops and waits to
 * be restarted, and a relist there drops objects the API cannot currently list; we need the opposite.
 *
 * - list → replace the store, remember the list's resourceVersion, then watch from it;
 * - a watch that ends (server timeout, proxy closing the stream, network error) resumes from the last
 *   resourceVersion seen (an event's or a BOOKMARK's), so no event is lost and nothing is re-listed;
 * - 410 Gone (as an ERROR event with a Status, or as the HTTP status) means that version is too old:
 *   relist at once;
 * - while the API is unreachable, retries back off (with jitter) and the store keeps its last content:
 *   the discovery server goes on serving the last endpoints it knew.
 */
import { performance } from "node:perf_hooks";
import { type KubeConfig, type KubernetesObject, Watch } from "@kubernetes/client-node";
import { type Random, systemRandom } from "../../common/clock.js";
import type { Logger } from "../../common/logger.js";
import { Backoff } from "../../xds/backoff.js";

/** What to list and watch. */
export interface ListWatchSource<T extends KubernetesObject> {
  /** For logs: e.g. `endpointslices default/echo`. */
  readonly what: string;
  /** A full list; `resourceVersion` is the list's. */
  list(): Promise<{ readonly items: readonly T[]; readonly resourceVersion: string }>;
  /** API path of the collection, e.g. `/apis/discovery.k8s.io/v1/namespaces/default/endpointslices`. */
  readonly path: string;
  /** Selector parameters of both list and watch (labelSelector, fieldSelector). */
  readonly query: Readonly<Record<string, string>>;
}

/** Tuning, for tests. */
export interface ListWatchOptions {
  /** First retry delay after a failure, ms (default 250). */
  readonly retryBaseMs?: number;
  /** Longest retry delay, ms (default 10 s). */
  readonly retryMaxMs?: number;
  /** Server-side watch timeout, s (default 300): the API server ends the watch and we resume it. */
  readonly watchTimeoutSeconds?: number;
  readonly random?: Random;
}

/** The outcome of one watch request. */
type WatchEnd = { readonly kind: "gone" } | { readonly kind: "ended"; readonly error: unknown; readonly events: number };

interface WatchStatus {
  readonly code?: number;
  readonly message?: string;
}

export class KubernetesListWatch<T extends KubernetesObject> {
  /** Current objects by name. Kept as they were when the API becomes unreachable. */
  readonly store = new Map<string, T>();
  /** Last resourceVersion seen ("" before the first list). */
  resourceVersion = "";
  private listed = false;
  private stopped = false;
  private controller: AbortController | undefined;
  private wake: (() => void) | undefined;
  /** Ends the current watchOnce at stop(), even while its request is still connecting. */
  private cancelWatch: (() => void) | undefined;
  private readonly backoff: Backoff;
  private readonly watcher: Watch;
  private readonly syncedWaiters: (() => void)[] = [];
  private loop: Promise<void> | undefined;

  constructor(
    kubeConfig: KubeConfig,
    private readonly source: ListWatchSource<T>,
    /** Called after each change of the store (never during a list's replace). */
    private readonly onChange: () => void,
    private readonly log: Logger,
    private readonly options: ListWatchOptions = {},
  ) {
    this.watcher = new Watch(kubeConfig);
    // Watch aborts a stream silent for 30 s; a quiet Service is normal, and the API server ends the
    // watch itself after timeoutSeconds. The field is private in the typings, public in the code.
    (this.watcher as unknown as { requestTimeoutMs: number }).requestTimeoutMs = ((options.watchTimeoutSeconds ?? 300) + 30) * 1000;
    this.backoff = new Backoff(options.retryBaseMs ?? 250, options.retryMaxMs ?? 10_000, options.random ?? systemRandom);
  }

  /** True once the first list succeeded. */
  get synced(): boolean {
    return this.listed;
  }

  /** Resolves once the first list has succeeded (or the loop was stopped). */
  whenSynced(): Promise<void> {
    if (this.listed || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.syncedWaiters.push(resolve));
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Ends the loop and any open watch; resolves when the loop has exited. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.controller?.abort();
    this.cancelWatch?.();
    this.wake?.();
    for (const w of this.syncedWaiters.splice(0)) w();
    await this.loop;
  }

  private async run(): Promise<void> {
    let mustList = true;
    while (!this.stopped) {
      if (mustList) {
        if (!(await this.relist())) {
          await this.sleep(this.backoff.next());
          continue;
        }
        mustList = false;
      }
      const startedAt = performance.now();
      const end = await this.watchOnce();
      if (this.stopped) return;
      if (end.kind === "gone") {
        this.log.info({ source: this.source.what, resource_version: this.resourceVersion }, "kubernetes watch expired (410 Gone); relisting");
        mustList = true;
        // A server failing every fresh watch at once must not get a relist loop at full speed.
        if (performance.now() - startedAt < 1000) await this.sleep(this.backoff.next());
        continue;
      }
      if (end.error !== null && end.error !== undefined) {
        this.log.warn({ source: this.source.what, err: errorText(end.error) }, "kubernetes watch failed; resuming from the last resourceVersion");
        await this.sleep(this.backoff.next());
      } else if (end.events > 0 || performance.now() - startedAt >= 1000) {
        // A watch that worked for a while and ended (server timeout, proxy): resume at once.
        this.backoff.reset();
      } else {
        // Closed at once without a single event: pace the retries rather than spin.
        await this.sleep(this.backoff.next());
      }
    }
  }

  /** Lists and replaces the store; false (store untouched) when the API cannot be reached. */
  private async relist(): Promise<boolean> {
    let result: Awaited<ReturnType<ListWatchSource<T>["list"]>>;
    try {
      result = await this.source.list();
    } catch (err) {
      this.log.warn({ source: this.source.what, err: errorText(err) }, "kubernetes list failed; keeping the last known objects");
      return false;
    }
    if (this.stopped) return true;
    this.store.clear();
    for (const item of result.items) {
      const name = item.metadata?.name;
      if (name !== undefined) this.store.set(name, item);
    }
    this.resourceVersion = result.resourceVersion;
    this.backoff.reset();
    if (!this.listed) {
      this.listed = true;
      for (const w of this.syncedWaiters.splice(0)) w();
    }
    this.onChange();
    return true;
  }

  /** One watch request from the current resourceVersion, until it ends. */
  private watchOnce(): Promise<WatchEnd> {
    return new Promise<WatchEnd>((resolve) => {
      this.cancelWatch = () => resolve({ kind: "ended", error: null, events: 0 });
      let events = 0;
      let gone = false;
      const query = {
        ...this.source.query,
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: "true",
        timeoutSeconds: String(this.options.watchTimeoutSeconds ?? 300),
      };
      const onEvent = (type: string, obj: unknown): void => {
        if (this.stopped || gone) return;
        if (type === "ERROR") {
          const status = obj as WatchStatus;
          // Any other in-stream error: treat as expired too, as client-go's reflector relists on it.
          gone = true;
          if (status.code !== 410) this.log.warn({ source: this.source.what, code: status.code, message: status.message }, "kubernetes watch error event");
          this.controller?.abort();
          return;
        }
        const o = obj as T;
        const rv = o.metadata?.resourceVersion;
        if (rv !== undefined && rv !== "") this.resourceVersion = rv;
        events++;
        if (type === "BOOKMARK") return;
        const name = o.metadata?.name;
        if (name === undefined) return;
        if (type === "DELETED") this.store.delete(name);
        else if (type === "ADDED" || type === "MODIFIED") this.store.set(name, o);
        else return;
        this.backoff.reset();
        this.onChange();
      };
      const onDone = (err: unknown): void => {
        this.controller = undefined;
        this.cancelWatch = undefined;
        if (gone || statusCodeOf(err) === 410) resolve({ kind: "gone" });
        else resolve({ kind: "ended", error: this.stopped ? null : err, events });
      };
      this.watcher.watch(this.source.path, query, onEvent, onDone).then(
        (controller) => {
          this.controller = controller;
          if (this.stopped) controller.abort();
        },
        (err: unknown) => onDone(err),
      );
    });
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }
}

function statusCodeOf(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as { statusCode?: unknown; code?: unknown };
  if (typeof e.statusCode === "number") return e.statusCode;
  return typeof e.code === "number" ? e.code : undefined;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
