/**
 * Why the key-value service refused or could not finish an operation:
 * - `unknown-shard`: no shard holds the key (a range partitioning that does not cover it), or a
 *   partitioning names a group the service does not have;
 * - `key-too-large`, `value-too-large`, `too-many-keys`: over the client's limits (`KvLimits`);
 * - `bad-argument`: not a string, an empty key list, a range whose end is below its start;
 * - `rejected`: a replica refused the command (a malformed command from another client);
 * - `unavailable`: the cluster did not answer (the operation may or may not have taken effect).
 */
export type KvErrorCode =
  | "unknown-shard"
  | "key-too-large"
  | "value-too-large"
  | "too-many-keys"
  | "bad-argument"
  | "rejected"
  | "unavailable";

export class KvError extends Error {
  override readonly name = "KvError";

  constructor(
    readonly code: KvErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}
