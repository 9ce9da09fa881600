/**
 * TLS in the translated resources. `https` upstreams get an UpstreamTlsContext from their `tls`
 * block; under strict mesh mTLS, mesh-internal upstreams (those naming an `identity`) get one that
 * presents the pod's certificate and expects the identity as URI SAN, and `inbound` listeners get a
 * DownstreamTlsContext requiring a client certificate from the mesh CA with a URI SAN in the trust
 * domain (Istio's STRICT PeerAuthentication, Linkerd's default between meshed pods).
 */
import type { TransportSocket } from "../../gen/envoy/config/core/v3/base.js";
import {
  type SubjectAltNameMatcher,
  SubjectAltNameMatcher_SanType as SanType,
  type TlsCertificate,
} from "../../gen/envoy/extensions/transport_sockets/tls/v3/common.js";
import { DownstreamTlsContext, UpstreamTlsContext } from "../../gen/envoy/extensions/transport_sockets/tls/v3/tls.js";
import type { MeshMtls, MeshUpstream } from "./mesh-model.js";
import { EmbeddedType, ExtensionName, pack } from "./xds-builders.js";

const file = (value: string): { specifier: { $case: "filename"; value: string } } => ({ specifier: { $case: "filename", value } });

function certificate(certFile: string, keyFile: string): TlsCertificate {
  return { certificateChain: file(certFile), privateKey: file(keyFile) };
}

/** `scheme://...` is a URI SAN (SPIFFE IDs), anything else a DNS name. */
function exactSan(name: string): SubjectAltNameMatcher {
  return {
    sanType: /^[a-z][a-z0-9+.-]*:\/\//i.test(name) ? SanType.URI : SanType.DNS,
    matcher: { matchPattern: { $case: "exact", value: name }, ignoreCase: false },
  };
}

/** The cluster's transport socket: `https` TLS, strict-mTLS to a mesh identity, or none (h2c). */
export function upstreamTransportSocket(u: MeshUpstream, mtls: MeshMtls | undefined): TransportSocket | undefined {
  let ctx: UpstreamTlsContext | undefined;
  const tls = u.tls;
  if (tls !== undefined) {
    ctx = UpstreamTlsContext.fromPartial({
      sni: tls.sni ?? "",
      commonTlsContext: {
        tlsCertificates: tls.certFile !== undefined && tls.keyFile !== undefined ? [certificate(tls.certFile, tls.keyFile)] : [],
        validationContextType:
          tls.caFile === undefined
            ? undefined
            : {
                $case: "validationContext",
                value: { trustedCa: file(tls.caFile), matchSubjectAltNames: [], matchTypedSubjectAltNames: (tls.subjectAltNames ?? []).map(exactSan) },
              },
        alpnProtocols: ["h2"],
      },
    });
  } else if (mtls !== undefined && u.identity !== undefined) {
    ctx = UpstreamTlsContext.fromPartial({
      commonTlsContext: {
        tlsCertificates: [certificate(mtls.certFile, mtls.keyFile)],
        validationContextType: {
          $case: "validationContext",
          value: { trustedCa: file(mtls.caFile), matchSubjectAltNames: [], matchTypedSubjectAltNames: [exactSan(u.identity)] },
        },
        alpnProtocols: ["h2"],
      },
    });
  }
  return ctx && { name: ExtensionName.TLS, typedConfig: pack(EmbeddedType.UPSTREAM_TLS_CONTEXT, UpstreamTlsContext, ctx) };
}

/** An inbound listener's transport socket under strict mTLS. */
export function downstreamTransportSocket(mtls: MeshMtls): TransportSocket {
  const ctx = DownstreamTlsContext.fromPartial({
    requireClientCertificate: true,
    commonTlsContext: {
      tlsCertificates: [certificate(mtls.certFile, mtls.keyFile)],
      validationContextType: {
        $case: "validationContext",
        value: {
          trustedCa: file(mtls.caFile),
          matchSubjectAltNames: [],
          matchTypedSubjectAltNames: [
            { sanType: SanType.URI, matcher: { matchPattern: { $case: "prefix", value: `spiffe://${mtls.trustDomain}/` }, ignoreCase: false } },
          ],
        },
      },
      alpnProtocols: ["h2", "http/1.1"],
    },
  });
  return { name: ExtensionName.TLS, typedConfig: pack(EmbeddedType.DOWNSTREAM_TLS_CONTEXT, DownstreamTlsContext, ctx) };
}
