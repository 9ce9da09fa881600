/**
 * The node registry: every open ADS stream with what it was sent, what it ACKed and what it NACKed
 * (GET /nodes), plus a per-node memory of NACKed content that outlives a stream, so a sidecar that
 * reconnects after rejecting a config is not handed the same config again (the NACK loop of
 * go-control-plane#962 / istio#8471).
 */
import type { Node } from "../gen/envoy/config/core/v3/base.js";
import { TYPE_SHORT, type TypeUrl } from "../xds/type-urls.js";
import type { NodeIdentity } from "./xds-resources.js";

/** SotW or incremental ADS. */
export type StreamKind = "sotw" | "delta";

/** The last NACK of one type on one stream. */
export interface NackRecord {
  /** The version the NACKed response carried (the server's version, not the client's version_info). */
  readonly version: string;
  /** error_detail.message, as the client wrote it. */
  readonly error: string;
  /** ISO time the NACK arrived. */
  readonly time: string;
}

/** Per-type state of one stream, as /nodes shows it. */
export interface TypeStatus {
  /** version_info (SotW) or system_version_info (delta) of the last response sent; "" before any. */
  versionSent: string;
  /** The version the client last ACKed; "" before any ACK. */
  versionAcked: string;
  /** The last NACK, or null. */
  lastNack: NackRecord | null;
}

/** One open ADS stream. */
export interface StreamRecord {
  /** Process-unique stream id (for logs). */
  readonly streamId: number;
  /** SotW or delta. */
  readonly kind: StreamKind;
  /** The node as its first request described it. */
  readonly node: NodeIdentity;
  /** node.user_agent_name. */
  readonly userAgentName: string;
  /** node.metadata (a Struct), e.g. `pilotfish.admin`, the sidecar's admin address (the dashboard reads it). */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** node.user_agent_version. */
  readonly userAgentVersion: string;
  /** ISO time the stream identified itself. */
  readonly connectedAt: string;
  /** Per subscribed type URL. */
  readonly types: Map<TypeUrl, TypeStatus>;
}

/** What a node rejected, kept across its streams. */
export interface NackMemory {
  /** SotW: per type, the content key of the NACKed response. */
  readonly sotw: Map<TypeUrl, string>;
  /** Delta: per type, resource name → the NACKed resource version. */
  readonly delta: Map<TypeUrl, Map<string, string>>;
}

/** Nodes remembered at most; the oldest is forgotten first (a fleet churning node ids must not leak). */
const MAX_NACK_MEMORY = 10_000;

/** Identity derived from an xDS Node: proxyless gRPC clients announce themselves as "gRPC ...". */
export function nodeIdentityOf(node: Node): NodeIdentity {
  return { id: node.id, cluster: node.cluster, proxyless: node.userAgentName.startsWith("gRPC") };
}

export class NodeRegistry {
  private readonly streams = new Map<number, StreamRecord>();
  private readonly nacks = new Map<string, NackMemory>();
  private nextId = 1;

  /** Registers a stream once its first request named the node. */
  open(kind: StreamKind, node: Node): StreamRecord {
    const record: StreamRecord = {
      streamId: this.nextId++,
      kind,
      node: nodeIdentityOf(node),
      userAgentName: node.userAgentName,
      metadata: node.metadata ?? {},
      userAgentVersion: node.userAgentVersion,
      connectedAt: new Date().toISOString(),
      types: new Map(),
    };
    this.streams.set(record.streamId, record);
    return record;
  }

  /** Forgets a closed stream (its node's NACK memory stays). */
  close(record: StreamRecord): void {
    this.streams.delete(record.streamId);
  }

  /** The per-type status of a stream, created on first use. */
  typeStatus(record: StreamRecord, typeUrl: TypeUrl): TypeStatus {
    let s = record.types.get(typeUrl);
    if (s === undefined) {
      s = { versionSent: "", versionAcked: "", lastNack: null };
      record.types.set(typeUrl, s);
    }
    return s;
  }

  /** The NACK memory of a node id, created on first use. */
  nackMemory(nodeId: string): NackMemory {
    let m = this.nacks.get(nodeId);
    if (m === undefined) {
      m = { sotw: new Map(), delta: new Map() };
      this.nacks.set(nodeId, m);
      if (this.nacks.size > MAX_NACK_MEMORY) {
        const oldest = this.nacks.keys().next().value;
        if (oldest !== undefined) this.nacks.delete(oldest);
      }
    }
    return m;
  }

  /** The NACK memory of a node id if it ever NACKed (lookups on the push path must not create one). */
  peekNackMemory(nodeId: string): NackMemory | undefined {
    return this.nacks.get(nodeId);
  }

  /** Number of open streams of a kind (or all). */
  count(kind?: StreamKind): number {
    if (kind === undefined) return this.streams.size;
    let n = 0;
    for (const s of this.streams.values()) if (s.kind === kind) n++;
    return n;
  }

  /** Open streams, oldest first. */
  list(): StreamRecord[] {
    return [...this.streams.values()];
  }

  /** The JSON GET /nodes serves: snake_case like the rest of xDS, types by short name (lds, rds, ...). */
  toJSON(): unknown {
    return {
      nodes: this.list().map((s) => ({
        id: s.node.id,
        cluster: s.node.cluster,
        user_agent_name: s.userAgentName,
        user_agent_version: s.userAgentVersion,
        proxyless: s.node.proxyless,
        stream: s.kind,
        stream_id: s.streamId,
        connected_at: s.connectedAt,
        types: Object.fromEntries(
          [...s.types.entries()].map(([t, st]) => [
            TYPE_SHORT[t],
            { version_sent: st.versionSent, version_acked: st.versionAcked, last_nack: st.lastNack },
          ]),
        ),
      })),
    };
  }
}
