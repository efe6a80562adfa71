import type { OrderedInput } from "../src/index.js";

/** A client request as an orderer sees it, named by `key` (the orderer tests need no content). */
export function request(key: string): OrderedInput {
  return {
    kind: "request",
    key,
    client: "c",
    seq: 0,
    message: { id: key, client: "c", dst: ["g"], payloadBytes: 0 },
    view: 0,
    settled: 0,
    digest: "",
    signature: "",
    bytes: 16,
  };
}
