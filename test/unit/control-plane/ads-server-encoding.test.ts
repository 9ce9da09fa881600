import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { bodyAwareSerializer, EncodedBodies, withEncodedBody } from "../../../src/control-plane/ads-server-encoding.js";
import { DeltaDiscoveryResponse, DiscoveryResponse } from "../../../src/gen/envoy/service/discovery/v3/discovery.js";
import { TypeUrl } from "../../../src/xds/type-urls.js";

const plainSotw = (v: DiscoveryResponse): Buffer => Buffer.from(DiscoveryResponse.encode(v).finish());
const plainDelta = (v: DeltaDiscoveryResponse): Buffer => Buffer.from(DeltaDiscoveryResponse.encode(v).finish());

function sotwResponse(nonce: string): DiscoveryResponse {
  return {
    versionInfo: "v1",
    resources: [{ typeUrl: TypeUrl.CLUSTER, value: Buffer.from([8, 1, 18, 3, 97, 98, 99]) }],
    canary: false,
    typeUrl: TypeUrl.CLUSTER,
    nonce,
    controlPlane: { identifier: "test" },
  };
}

void describe("pre-encoded response bodies", () => {
  void test("a body plus the nonce decodes to the message the plain encoder writes (SotW)", () => {
    const serialize = bodyAwareSerializer(plainSotw);
    const body = new EncodedBodies().get({}, "k", () => plainSotw(sotwResponse("")));
    for (const nonce of ["1", "42", "x".repeat(300)]) {
      const bytes = serialize(withEncodedBody(sotwResponse(nonce), body));
      assert.deepEqual(DiscoveryResponse.decode(bytes), DiscoveryResponse.decode(plainSotw(sotwResponse(nonce))));
    }
  });

  void test("a body plus the nonce decodes to the message the plain encoder writes (delta)", () => {
    const serialize = bodyAwareSerializer(plainDelta);
    const make = (nonce: string): DeltaDiscoveryResponse => ({
      systemVersionInfo: "s1",
      resources: [{ name: "a", version: "1", aliases: [], resource: { typeUrl: TypeUrl.ENDPOINT, value: Buffer.from([10, 1, 97]) } }],
      typeUrl: TypeUrl.ENDPOINT,
      removedResources: ["gone"],
      nonce,
      controlPlane: { identifier: "test" },
    });
    const bytes = serialize(withEncodedBody(make("7"), new EncodedBodies().get({}, "k", () => plainDelta(make("")))));
    assert.deepEqual(DeltaDiscoveryResponse.decode(bytes), DeltaDiscoveryResponse.decode(plainDelta(make("7"))));
  });

  void test("a response without a body is encoded normally", () => {
    const serialize = bodyAwareSerializer(plainSotw);
    assert.deepEqual(serialize(sotwResponse("3")), plainSotw(sotwResponse("3")));
  });

  void test("bodies are encoded once per owner and key", () => {
    const bodies = new EncodedBodies();
    const owner = {};
    let encodes = 0;
    const encode = (): Uint8Array => {
      encodes++;
      return new Uint8Array([1, 2, 3]);
    };
    const a = bodies.get(owner, "k", encode);
    const b = bodies.get(owner, "k", encode);
    bodies.get(owner, "other", encode);
    bodies.get({}, "k", encode);
    assert.equal(a, b);
    assert.equal(encodes, 3);
    // The finished message is shared by the streams that send this body with the same nonce.
    const serialize = bodyAwareSerializer(plainSotw);
    const first = serialize(withEncodedBody(sotwResponse("5"), a));
    assert.equal(serialize(withEncodedBody(sotwResponse("5"), a)), first);
    assert.deepEqual([...first], [1, 2, 3, 42, 1, 53]);
  });
});
