/**
 * One incremental ADS stream (DeltaAggregatedResources).
 *
 * Per type URL the stream tracks the subscription and, per resource name, the version the client holds
 * (seeded from initial_resource_versions on a reconnect, so unchanged resources are not re-sent). Only
 * resources whose version differs go out, deleted ones go in removed_resources. Rules
 * (xds_protocol.rst §Incremental xDS):
 * - every name in resource_names_subscribe is answered, even one the client may already hold (unless it
 *   reported that very version in initial_resource_versions), and a name that does not exist is
 *   answered in removed_resources so the client need not wait for its timer;
 * - subscription changes are honoured whatever the nonce; the nonce only correlates ACKs and NACKs,
 *   and several responses may be in flight;
 * - a resource version the node NACKed is not sent to it again while it holds some version of that
 *   resource (same stream or a reconnect); the next change of the resource goes out normally.
 */
import type { ServerDuplexStream } from "@grpc/grpc-js";
import { DeltaDiscoveryResponse, type DeltaDiscoveryRequest, type Resource } from "../gen/envoy/service/discovery/v3/discovery.js";
import type { TypeUrl } from "../xds/type-urls.js";
import { isWildcardType, type StreamContext } from "./ads-server-context.js";
import { withEncodedBody } from "./ads-server-encoding.js";
import { AdsStreamSession } from "./ads-server-stream.js";

/** A response awaiting its ACK or NACK. */
interface InFlight {
  /** system_version_info it carried. */
  readonly version: string;
  /** Resource name → version it carried. */
  readonly resources: ReadonlyMap<string, string>;
  /** changedAt of its snapshot when it carried a mesh change. */
  readonly changeAt: number | undefined;
}

/** Per-type state of one delta stream. */
interface DeltaTypeState {
  /** Subscribed to everything ("*", or an empty first subscribe for LDS/CDS). */
  wildcard: boolean;
  /** Explicitly subscribed names. */
  readonly names: Set<string>;
  /** Name → the version we believe the client holds. */
  readonly known: Map<string, string>;
  /** Names subscribed since the last response: must be answered even if unchanged or absent. */
  readonly forced: Set<string>;
  /** Nonce → response, until answered. */
  readonly inFlight: Map<string, InFlight>;
}

/** Responses kept awaiting an answer at most; a client that never ACKs must not grow us. */
const MAX_IN_FLIGHT = 64;

export class DeltaStream {
  private readonly session: AdsStreamSession<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;
  private readonly types = new Map<TypeUrl, DeltaTypeState>();

  constructor(ctx: StreamContext, call: ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>) {
    this.session = new AdsStreamSession(
      ctx,
      call,
      "delta",
      (typeUrl, req) => this.onRequest(typeUrl, req),
      (typeUrl) => {
        const state = this.types.get(typeUrl);
        if (state !== undefined) this.maybeSend(typeUrl, state);
      },
    );
  }

  private onRequest(typeUrl: TypeUrl, req: DeltaDiscoveryRequest): void {
    let state = this.types.get(typeUrl);
    const first = state === undefined;
    if (state === undefined) {
      state = { wildcard: false, names: new Set(), known: new Map(), forced: new Set(), inFlight: new Map() };
      this.types.set(typeUrl, state);
      for (const [name, version] of Object.entries(req.initialResourceVersions)) state.known.set(name, version);
      // Legacy rule: an empty first subscription to LDS/CDS means wildcard.
      if (req.resourceNamesSubscribe.length === 0 && isWildcardType(typeUrl)) state.wildcard = true;
    }
    if (req.responseNonce !== "") this.onAnswer(typeUrl, state, req);
    for (const name of req.resourceNamesSubscribe) {
      if (name === "*") {
        state.wildcard = true;
        continue;
      }
      state.names.add(name);
      const reported = first && Object.hasOwn(req.initialResourceVersions, name);
      if (!reported) state.forced.add(name);
    }
    for (const name of req.resourceNamesUnsubscribe) {
      if (name === "*") {
        state.wildcard = false;
        continue;
      }
      state.names.delete(name);
      state.forced.delete(name);
      state.known.delete(name);
    }
    this.maybeSend(typeUrl, state);
  }

  private onAnswer(typeUrl: TypeUrl, state: DeltaTypeState, req: DeltaDiscoveryRequest): void {
    const sent = state.inFlight.get(req.responseNonce);
    if (sent === undefined) return; // a nonce from an earlier stream or already answered
    state.inFlight.delete(req.responseNonce);
    const { ctx, record } = this.session;
    if (req.errorDetail !== undefined) {
      const memory = this.nackMemory(typeUrl);
      for (const [name, version] of sent.resources) memory.set(name, version);
      this.session.nacked(typeUrl, sent.version, req.errorDetail.message);
      return;
    }
    const memory = ctx.registry.peekNackMemory(record.node.id)?.delta.get(typeUrl);
    if (memory !== undefined) for (const [name, version] of sent.resources) if (memory.get(name) === version) memory.delete(name);
    this.session.acked(typeUrl, sent.version, sent.changeAt);
  }

  private nackMemory(typeUrl: TypeUrl): Map<string, string> {
    const all = this.session.ctx.registry.nackMemory(this.session.record.node.id).delta;
    let m = all.get(typeUrl);
    if (m === undefined) {
      m = new Map();
      all.set(typeUrl, m);
    }
    return m;
  }

  private maybeSend(typeUrl: TypeUrl, state: DeltaTypeState): void {
    const { ctx, record, snapshot } = this.session;
    const typeSnapshot = snapshot.types.get(typeUrl)!;
    const interest = new Set(state.names);
    if (state.wildcard) {
      for (const name of typeSnapshot.entries.keys()) interest.add(name);
      for (const name of state.known.keys()) interest.add(name);
    }
    const memory = ctx.registry.peekNackMemory(record.node.id)?.delta.get(typeUrl);
    const resources: Resource[] = [];
    const removed: string[] = [];
    for (const name of [...interest].sort()) {
      const entry = typeSnapshot.entries.get(name);
      const held = state.known.get(name);
      if (entry !== undefined) {
        if (!state.forced.has(name) && held === entry.version) continue;
        // Held some version and this one was rejected: leave the client on what it has.
        if (held !== undefined && memory?.get(name) === entry.version) continue;
        resources.push({ name, version: entry.version, resource: entry.resource, aliases: [] });
        state.known.set(name, entry.version);
      } else if (held !== undefined || state.forced.has(name)) {
        removed.push(name);
        state.known.delete(name);
      }
    }
    state.forced.clear();
    if (resources.length === 0 && removed.length === 0) return;
    const nonce = this.session.nextNonce();
    const response: DeltaDiscoveryResponse = {
      systemVersionInfo: typeSnapshot.version,
      resources,
      typeUrl,
      removedResources: removed,
      nonce: "",
      controlPlane: { identifier: ctx.controlPlaneId },
    };
    // Streams of a node group are mostly sent the same resources: encoded once per snapshot and
    // selection (the versions are the snapshot's, so the names identify the content).
    const selection = JSON.stringify([resources.map((r) => r.name), removed]);
    const body = ctx.bodies.get(typeSnapshot, selection, () => DeltaDiscoveryResponse.encode(response).finish());
    response.nonce = nonce;
    state.inFlight.set(nonce, {
      version: typeSnapshot.version,
      resources: new Map(resources.map((r) => [r.name, r.version])),
      changeAt: this.session.changeAt(snapshot),
    });
    if (state.inFlight.size > MAX_IN_FLIGHT) state.inFlight.delete(state.inFlight.keys().next().value!);
    this.session.send(typeUrl, typeSnapshot.version, withEncodedBody(response, body));
  }
}
