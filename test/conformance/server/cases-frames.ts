import type { ServerCase } from "./server-kit.js";

export const FRAME_CASES: readonly ServerCase[] = [];
