/**
 * One state-of-the-world ADS stream (StreamAggregatedResources).
 *
 * Per type URL the stream tracks the subscription, the last nonce sent and whether that response is
 * still unanswered. Rules (xds_protocol.rst, Envoy PR #14841, go-control-plane#962):
 * - a request carrying the last nonce is an ACK, or a NACK when error_detail is present; a request
 *   with an older nonce is stale and ignored entirely;
 * - a response goes out only when the client has answered the previous one of that type and what this
 *   stream would receive (subscription + resource versions) differs from what it was last sent;
 * - content the node NACKed is never sent to it again, on this stream or a later one, until the content
 *   changes; the exception is a client that announces no state at all (empty version_info on its first
 *   request: a restarted process), which would otherwise wait forever for any config;
 * - a new stream presenting, for a wildcard type (LDS/CDS), the version_info this server would send is
 *   not answered (go-control-plane does the same): versions are content hashes, so a sidecar failing
 *   over from another replica already holds exactly that. RDS/EDS requests on a new stream are answered
 *   (the client may have added names after its last response), and an identical response is a
 *   no-op for the client;
 * - LDS/CDS carry every subscribed resource (all of them for a wildcard); RDS/EDS only the names asked
 *   for; several changed types go out in make-before-break order (CDS, EDS, LDS, RDS).
 */
import { createHash } from "node:crypto";
import type { ServerDuplexStream } from "@grpc/grpc-js";
import { DiscoveryResponse, type DiscoveryRequest } from "../gen/envoy/service/discovery/v3/discovery.js";
import { TYPE_SHORT, type TypeUrl } from "../xds/type-urls.js";
import { isWildcardType, type StreamContext } from "./ads-server-context.js";
import { withEncodedBody } from "./ads-server-encoding.js";
import { AdsStreamSession } from "./ads-server-stream.js";
import type { SnapshotEntry, TypeSnapshot } from "./snapshot.js";

/** Per-type state of one SotW stream. */
interface SotwTypeState {
  /** Explicitly subscribed names. */
  names: Set<string>;
  /** Subscribed to everything ("*", or the legacy empty list before any name was sent). */
  wildcard: boolean;
  /** Whether the client ever sent a non-empty resource_names (ends the legacy empty = wildcard rule). */
  everNamed: boolean;
  /** The subscription as hashed into content keys: "*" for a wildcard, else the sorted names joined by NUL. */
  subscription: string;
  /** The subscription, unambiguously ("*", or the sorted names as JSON): the selection cache key. */
  subscriptionKey: string;
  /** resource_names of the last request that changed the subscription. */
  lastNames: readonly string[] | undefined;
  /** Nonce of the last response sent; undefined before the first. */
  nonce: string | undefined;
  /** A response was sent and neither ACKed nor NACKed yet. */
  awaiting: boolean;
  /** What the last response held (subscription + versions), to send only on change. */
  sentKey: string | undefined;
  /** version_info of the last response. */
  sentVersion: string;
  /** changedAt of the snapshot behind the last response, when it carried a mesh change. */
  sentChangeAt: number | undefined;
  /** The client's first request of this type carried a version_info (it holds some config). */
  clientHasState: boolean;
  /** version_info of the client's first request of this type on this stream. */
  clientVersion: string;
}

/** What a subscription selects from one TypeSnapshot, and the content key of that selection. */
interface Selection {
  readonly entries: readonly SnapshotEntry[];
  /** sha256 over the subscription and the selected (name, version) pairs. */
  readonly key: string;
}

/**
 * Selections per TypeSnapshot and subscription. Every stream of a node group shares the group's
 * snapshot and, nearly always, its subscription: a push to thousands of streams computes each once.
 */
const selections = new WeakMap<TypeSnapshot, Map<string, Selection>>();
/** Distinct subscriptions cached per TypeSnapshot at most. */
const MAX_SELECTIONS = 256;

function selectionOf(typeSnapshot: TypeSnapshot, state: SotwTypeState): Selection {
  let bySubscription = selections.get(typeSnapshot);
  if (bySubscription === undefined) {
    bySubscription = new Map();
    selections.set(typeSnapshot, bySubscription);
  }
  const cached = bySubscription.get(state.subscriptionKey);
  if (cached !== undefined) return cached;
  const all = typeSnapshot.entries;
  let entries: SnapshotEntry[];
  if (state.wildcard) {
    entries = [...all.values()];
  } else {
    entries = [];
    for (const name of [...state.names].sort()) {
      const e = all.get(name);
      if (e !== undefined) entries.push(e);
    }
  }
  // The key includes the subscription so that a new name is answered even when it does not exist
  // (for LDS/CDS an absent name in a response is how the client learns it does not exist).
  const h = createHash("sha256").update(state.subscription);
  for (const e of entries) h.update("\n").update(e.name).update("\0").update(e.version);
  const selection = { entries, key: h.digest("hex") };
  if (bySubscription.size < MAX_SELECTIONS) bySubscription.set(state.subscriptionKey, selection);
  return selection;
}

export class SotwStream {
  private readonly session: AdsStreamSession<DiscoveryRequest, DiscoveryResponse>;
  private readonly types = new Map<TypeUrl, SotwTypeState>();

  constructor(ctx: StreamContext, call: ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>) {
    this.session = new AdsStreamSession(
      ctx,
      call,
      "sotw",
      (typeUrl, req) => this.onRequest(typeUrl, req),
      (typeUrl) => {
        const state = this.types.get(typeUrl);
        if (state !== undefined) this.maybeSend(typeUrl, state, false);
      },
    );
  }

  private onRequest(typeUrl: TypeUrl, req: DiscoveryRequest): void {
    let state = this.types.get(typeUrl);
    const first = state === undefined;
    if (state === undefined) {
      state = {
        names: new Set(),
        wildcard: false,
        everNamed: false,
        subscription: "",
        subscriptionKey: "",
        lastNames: undefined,
        nonce: undefined,
        awaiting: false,
        sentKey: undefined,
        sentVersion: "",
        sentChangeAt: undefined,
        clientHasState: req.versionInfo !== "",
        clientVersion: req.versionInfo,
      };
      this.types.set(typeUrl, state);
    } else if (state.nonce !== undefined && req.responseNonce !== state.nonce) {
      // Stale: the client has not seen our latest response yet and will answer it separately.
      return;
    } else if (state.awaiting) {
      this.onAnswer(typeUrl, state, req);
    }
    this.updateSubscription(typeUrl, state, req.resourceNames);
    this.maybeSend(typeUrl, state, first);
  }

  /** Records an ACK or NACK of the response whose nonce the request carries. */
  private onAnswer(typeUrl: TypeUrl, state: SotwTypeState, req: DiscoveryRequest): void {
    const { ctx, record } = this.session;
    state.awaiting = false;
    if (req.errorDetail !== undefined) {
      // error_detail, not the version, decides (Envoy PR #14841): grpc-js sends the new version in a
      // NACK whenever part of the response was valid.
      if (state.sentKey !== undefined) ctx.registry.nackMemory(record.node.id).sotw.set(typeUrl, state.sentKey);
      this.session.nacked(typeUrl, state.sentVersion, req.errorDetail.message);
      return;
    }
    const memory = ctx.registry.peekNackMemory(record.node.id)?.sotw;
    if (memory !== undefined && memory.get(typeUrl) === state.sentKey) memory.delete(typeUrl);
    this.session.acked(typeUrl, req.versionInfo, state.sentChangeAt);
    state.sentChangeAt = undefined;
  }

  private updateSubscription(typeUrl: TypeUrl, state: SotwTypeState, names: readonly string[]): void {
    // An ACK repeats the subscription: the same names give the same state (everNamed cannot change).
    const last = state.lastNames;
    if (last !== undefined && last.length === names.length && last.every((n, i) => n === names[i])) return;
    state.lastNames = names;
    const explicit = names.filter((n) => n !== "*");
    state.wildcard = names.includes("*") || (names.length === 0 && !state.everNamed && isWildcardType(typeUrl));
    if (names.length > 0) state.everNamed = true;
    state.names = new Set(explicit);
    const sorted = [...state.names].sort();
    state.subscription = state.wildcard ? "*" : sorted.join("\0");
    state.subscriptionKey = state.wildcard ? "*" : JSON.stringify(sorted);
  }

  private maybeSend(typeUrl: TypeUrl, state: SotwTypeState, first: boolean): void {
    if (state.awaiting) return; // answered when the ACK/NACK of the outstanding response arrives
    const { ctx, record, snapshot } = this.session;
    const typeSnapshot = snapshot.types.get(typeUrl)!;
    const selection = selectionOf(typeSnapshot, state);
    const key = selection.key;
    if (!first && key === state.sentKey) return;
    if (first && state.wildcard && state.clientVersion === typeSnapshot.version) {
      // The client holds this very content (from this replica before a restart, or from another).
      state.sentKey = key;
      state.sentVersion = typeSnapshot.version;
      this.session.holds(typeUrl, typeSnapshot.version);
      return;
    }
    const nacked = ctx.registry.peekNackMemory(record.node.id)?.sotw.get(typeUrl);
    if (key === nacked && (!first || state.clientHasState)) {
      state.sentKey = key;
      ctx.log.info({ stream: record.streamId, node: record.node.id, type: TYPE_SHORT[typeUrl] }, "withholding config this node NACKed");
      return;
    }
    const version = typeSnapshot.version;
    const nonce = this.session.nextNonce();
    const response: DiscoveryResponse = {
      versionInfo: version,
      resources: selection.entries.map((e) => e.resource),
      canary: false,
      typeUrl,
      nonce: "",
      controlPlane: { identifier: ctx.controlPlaneId },
    };
    // Encoded once per snapshot and selection; each stream only adds its nonce.
    const body = ctx.bodies.get(typeSnapshot, key, () => DiscoveryResponse.encode(response).finish());
    response.nonce = nonce;
    state.nonce = nonce;
    state.awaiting = true;
    state.sentKey = key;
    state.sentVersion = version;
    // Latency is measured for mesh changes only, not for a node's initial fetch.
    state.sentChangeAt = this.session.changeAt(snapshot);
    this.session.send(typeUrl, version, withEncodedBody(response, body));
  }
}
