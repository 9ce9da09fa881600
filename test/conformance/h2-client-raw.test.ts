import { RawH2Pool } from "../../src/upstream/raw-h2-pool.js";
import { conformanceSuite } from "./suite.js";

conformanceSuite("RawH2Pool", (host, cluster, stats) => new RawH2Pool(host, cluster, stats));
