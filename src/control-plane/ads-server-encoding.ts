/**
 * Encode a response once per node group, not once per stream.
 *
 * Every stream of a node group is sent the same resources when the mesh changes; only the nonce differs.
 * So the stream handlers attach to a response the encoding of everything but its nonce (cached per
 * TypeSnapshot and selection in `EncodedBodies`), and the server's response serializer appends the
 * nonce field to it. Protobuf fields may come in any order, so the bytes decode to exactly the message
 * the plain encoder would have produced. A response without an attached body is encoded normally.
 *
 * Streams of a group that saw the same history also number their responses alike, so the finished
 * bytes (body + nonce) are kept per nonce too: the 5,000th stream sent nonce "6" reuses the buffer
 * of the first, and a push allocates and copies per group rather than per stream.
 */

const BODY = Symbol("pilotfish.encodedBody");

/** An encoded body and the finished messages built from it, per nonce. */
export interface EncodedBody {
  readonly bytes: Buffer;
  readonly withNonce: Map<string, Buffer>;
}

interface WithBody {
  [BODY]?: EncodedBody;
}

/** Finished messages kept per body at most (distinct nonces). */
const MAX_NONCES_PER_BODY = 8;

/** Bodies kept per TypeSnapshot at most (distinct subscriptions); beyond it, bodies are not cached. */
const MAX_BODIES_PER_OWNER = 256;

/** Encoded response bodies, per TypeSnapshot (weakly held: they go with the snapshot) and selection key. */
export class EncodedBodies {
  private readonly byOwner = new WeakMap<object, Map<string, EncodedBody>>();

  /** The cached body of `owner` + `key`, encoded by `encode` on first use. */
  get(owner: object, key: string, encode: () => Uint8Array): EncodedBody {
    let bodies = this.byOwner.get(owner);
    if (bodies === undefined) {
      bodies = new Map();
      this.byOwner.set(owner, bodies);
    }
    let body = bodies.get(key);
    if (body === undefined) {
      const bytes = encode();
      body = { bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), withNonce: new Map() };
      if (bodies.size < MAX_BODIES_PER_OWNER) bodies.set(key, body);
    }
    return body;
  }
}

/** Marks `response` as encoded by `body` (all of its fields but the nonce). */
export function withEncodedBody<T extends { nonce: string }>(response: T, body: EncodedBody): T {
  (response as WithBody)[BODY] = body;
  return response;
}

/** `body` followed by the nonce as protobuf field 5 (string), its number in both response messages. */
function appendNonce(body: Buffer, nonce: string): Buffer {
  const length = Buffer.byteLength(nonce);
  let varintBytes = 1;
  for (let v = length; v >= 0x80; v >>>= 7) varintBytes++;
  const out = Buffer.allocUnsafe(body.length + 1 + varintBytes + length);
  body.copy(out, 0);
  let pos = body.length;
  out[pos++] = (5 << 3) | 2;
  let v = length;
  while (v >= 0x80) {
    out[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[pos++] = v;
  out.write(nonce, pos, "utf8");
  return out;
}

/** Wraps a generated response serializer: pre-encoded bodies get their nonce appended, others are encoded. */
export function bodyAwareSerializer<T extends { nonce: string }>(encode: (value: T) => Buffer): (value: T) => Buffer {
  return (value: T): Buffer => {
    const body = (value as WithBody)[BODY];
    if (body === undefined) return encode(value);
    if (value.nonce === "") return body.bytes;
    let out = body.withNonce.get(value.nonce);
    if (out === undefined) {
      out = appendNonce(body.bytes, value.nonce);
      if (body.withNonce.size < MAX_NONCES_PER_BODY) body.withNonce.set(value.nonce, out);
    }
    return out;
  };
}
