/**
 * Small constructors shared by the translator files: Any packing, Durations, ADS config sources, and
 * the type URLs of the extensions the translator embeds. Kept apart so each translate-*.ts file reads
 * as a mapping from mesh keys to Envoy fields.
 */
import { ApiVersion, type ConfigSource } from "../../gen/envoy/config/core/v3/config_source.js";
import type { Any } from "../../gen/google/protobuf/any.js";
import type { Duration } from "../../gen/google/protobuf/duration.js";

const PREFIX = "type.googleapis.com/";

/** Type URLs of the messages the translator packs into Any. */
export const EmbeddedType = {
  HCM: `${PREFIX}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
  ROUTER: `${PREFIX}envoy.extensions.filters.http.router.v3.Router`,
  UPSTREAM_HTTP_PROTOCOL_OPTIONS: `${PREFIX}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`,
  UPSTREAM_TLS_CONTEXT: `${PREFIX}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`,
  DOWNSTREAM_TLS_CONTEXT: `${PREFIX}envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext`,
  LEAST_REQUEST: `${PREFIX}envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest`,
  ROUND_ROBIN: `${PREFIX}envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin`,
  RANDOM: `${PREFIX}envoy.extensions.load_balancing_policies.random.v3.Random`,
  PREVIOUS_HOSTS: `${PREFIX}envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate`,
} as const;

/** Envoy's well-known extension names (the `name` next to a typed_config). */
export const ExtensionName = {
  HCM: "envoy.filters.network.http_connection_manager",
  ROUTER: "envoy.filters.http.router",
  UPSTREAM_HTTP_PROTOCOL_OPTIONS: "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
  TLS: "envoy.transport_sockets.tls",
  LEAST_REQUEST: "envoy.load_balancing_policies.least_request",
  ROUND_ROBIN: "envoy.load_balancing_policies.round_robin",
  RANDOM: "envoy.load_balancing_policies.random",
  PREVIOUS_HOSTS: "envoy.retry_host_predicates.previous_hosts",
} as const;

/** Anything with ts-proto's `encode`. */
interface Encoder<T> {
  encode(message: T): { finish(): Uint8Array };
}

/** Packs a message into google.protobuf.Any. */
export function pack<T>(typeUrl: string, codec: Encoder<T>, message: T): Any {
  const bytes = codec.encode(message).finish();
  return { typeUrl, value: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}

/** Milliseconds as google.protobuf.Duration. */
export function duration(ms: number): Duration {
  const seconds = Math.floor(ms / 1000);
  return { seconds: BigInt(seconds), nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

/** Milliseconds as a Duration, or nothing (the field left unset, i.e. the receiver's default). */
export function optionalDuration(ms: number | undefined): Duration | undefined {
  return ms === undefined ? undefined : duration(ms);
}

/** `{ads: {}}`: everything comes over the one ADS stream (the only form gRPC clients accept). */
export function adsConfigSource(): ConfigSource {
  return { configSourceSpecifier: { $case: "ads", value: {} }, resourceApiVersion: ApiVersion.V3 };
}
