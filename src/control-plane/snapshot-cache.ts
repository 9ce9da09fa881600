/**
 * The snapshot cache: one current snapshot per group of nodes, recomputed through a generator when the
 * mesh changes and computed on demand when a node connects. Streams watch their node's snapshot and are
 * told only when its content actually changed.
 *
 * A generator failure or an inconsistent snapshot never replaces a good one: the previous snapshot stays
 * in force and the error is recorded for the admin port.
 */
import { performance } from "node:perf_hooks";
import { PilotfishError, type FieldError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import { buildSnapshot, emptySnapshot, sameContent, snapshotVersions, type Snapshot } from "./snapshot.js";
import type { NodeIdentity, XdsResources } from "./xds-resources.js";

/** Computes the resources one node should hold (the translator, or hand-built resources in tests). */
export type SnapshotGenerator = (node: NodeIdentity) => XdsResources;

/** A failed snapshot computation, as /config shows it. */
export interface SnapshotFailure {
  /** The node the snapshot was computed for. */
  readonly node: string;
  /** What went wrong. */
  readonly message: string;
  /** Field-level details (dangling references, duplicates), when known. */
  readonly details: readonly FieldError[];
  /** ISO time of the failure. */
  readonly time: string;
}

/** Called with a node group's new snapshot. */
export type SnapshotListener = (snapshot: Snapshot) => void;

/** A stream's hold on its node's snapshot. */
export interface SnapshotWatch {
  /** The snapshot in force when the watch was taken. */
  readonly snapshot: Snapshot;
  /** Stops notifications; the last watch of a group lets the cache forget it. */
  release(): void;
}

/** Cache options. */
export interface SnapshotCacheOptions {
  /**
   * Which nodes share a snapshot. The default keys on every NodeIdentity field; a caller whose
   * generator depends only on some of them (the mesh translator uses cluster and proxyless) groups
   * coarser so a fleet of thousands of sidecars costs one translation per group.
   */
  readonly groupKey?: (node: NodeIdentity) => string;
  /** Logger for snapshot failures and pushes. */
  readonly log?: Logger;
}

interface Group {
  readonly node: NodeIdentity;
  snapshot: Snapshot;
  readonly listeners: Set<SnapshotListener>;
}

function defaultGroupKey(node: NodeIdentity): string {
  return `${node.id}\0${node.cluster}\0${String(node.proxyless)}`;
}

export class SnapshotCache {
  private generator: SnapshotGenerator | undefined;
  private readonly groups = new Map<string, Group>();
  private readonly groupKey: (node: NodeIdentity) => string;
  private readonly log: Logger | undefined;
  private failure: SnapshotFailure | null = null;

  /** A cache without a generator serves empty snapshots until setGenerator is called. */
  constructor(generator?: SnapshotGenerator, options: SnapshotCacheOptions = {}) {
    this.generator = generator;
    this.groupKey = options.groupKey ?? defaultGroupKey;
    this.log = options.log;
  }

  /** The last snapshot failure, or null once every group computed cleanly again. */
  lastFailure(): SnapshotFailure | null {
    return this.failure;
  }

  /** Number of node groups currently watched. */
  groupCount(): number {
    return this.groups.size;
  }

  /**
   * Installs a new generator (a new mesh) and recomputes every watched group. Groups whose snapshot
   * fails keep their previous one. Returns the failures (empty when all succeeded).
   */
  setGenerator(generator: SnapshotGenerator, changedAt: number = performance.now()): SnapshotFailure[] {
    this.generator = generator;
    return this.refresh(changedAt);
  }

  /** Recomputes every watched group with the current generator and notifies the changed ones. */
  refresh(changedAt: number = performance.now()): SnapshotFailure[] {
    const failures: SnapshotFailure[] = [];
    for (const group of this.groups.values()) {
      const result = this.compute(group.node, changedAt);
      if ("failure" in result) {
        failures.push(result.failure);
        continue;
      }
      if (sameContent(result.snapshot, group.snapshot)) continue;
      group.snapshot = result.snapshot;
      this.log?.debug({ node: group.node.id, versions: snapshotVersions(result.snapshot) }, "snapshot updated");
      for (const listener of [...group.listeners]) listener(result.snapshot);
    }
    this.failure = failures.at(-1) ?? null;
    return failures;
  }

  /**
   * Starts watching a node's snapshot, computing it if no stream of its group is connected. A node
   * whose first snapshot fails gets an empty one (nothing to serve beats a half-consistent config).
   */
  watch(node: NodeIdentity, listener: SnapshotListener): SnapshotWatch {
    const key = this.groupKey(node);
    let group = this.groups.get(key);
    if (group === undefined) {
      const result = this.compute(node, performance.now());
      const snapshot = "snapshot" in result ? result.snapshot : emptySnapshot(performance.now());
      if ("failure" in result) this.failure = result.failure;
      group = { node, snapshot, listeners: new Set() };
      this.groups.set(key, group);
    }
    const g = group;
    g.listeners.add(listener);
    let released = false;
    return {
      snapshot: g.snapshot,
      release: () => {
        if (released) return;
        released = true;
        g.listeners.delete(listener);
        if (g.listeners.size === 0 && this.groups.get(key) === g) this.groups.delete(key);
      },
    };
  }

  /** The current snapshot of a node's group, if any stream of that group is watching. */
  current(node: NodeIdentity): Snapshot | undefined {
    return this.groups.get(this.groupKey(node))?.snapshot;
  }

  private compute(node: NodeIdentity, changedAt: number): { snapshot: Snapshot } | { failure: SnapshotFailure } {
    if (this.generator === undefined) return { snapshot: emptySnapshot(changedAt) };
    try {
      return { snapshot: buildSnapshot(this.generator(node), changedAt) };
    } catch (err) {
      const failure: SnapshotFailure = {
        node: node.id,
        message: (err as Error).message,
        details: PilotfishError.is(err) ? err.details : [],
        time: new Date().toISOString(),
      };
      this.log?.error({ node: node.id, err: failure.message, details: failure.details }, "snapshot refused; previous stays in force");
      return { failure };
    }
  }
}
