/**
 * A bootstrap already validated by loadBootstrapFile(), as proto wire bytes → the domain model. This is
 * the serving process's way in (src/cli/sidecar-handoff.ts): it needs only the generated code, not
 * the YAML parser nor the reflected proto schema that validated the file.
 */
import { ErrorCode, PilotfishError } from "../common/errors.js";
import { deepFreeze } from "../common/freeze.js";
import { Bootstrap as PbBootstrap } from "../gen/envoy/config/bootstrap/v3/bootstrap.js";
import { decodeBootstrapMessage } from "./decode/bootstrap.js";
import { Errors } from "./decode/field-errors.js";
import type { Bootstrap } from "./model.js";

/** Decodes envoy.config.bootstrap.v3.Bootstrap wire bytes; throws PF_CONFIG_INVALID with every error. */
export function decodeBootstrapWire(bytes: Uint8Array, source: string): Bootstrap {
  const errors = new Errors();
  let value: Bootstrap;
  try {
    value = decodeBootstrapMessage(PbBootstrap.decode(bytes), errors);
  } catch (err) {
    throw new PilotfishError(ErrorCode.CONFIG_INVALID, `${source}: the bootstrap's wire form does not decode: ${(err as Error).message}`);
  }
  if (errors.count > 0) {
    const n = errors.count;
    throw new PilotfishError(ErrorCode.CONFIG_INVALID, `${source}: ${n} error${n === 1 ? "" : "s"} in the bootstrap`, errors.list);
  }
  return deepFreeze(value);
}
