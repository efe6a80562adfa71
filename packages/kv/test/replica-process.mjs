// One replica of the key-value service in a process of its own, as a deployment would run it:
// node replica-process.mjs CLUSTER_JSON REPLICA_ID PARTITIONING_JSON, the cluster secret (hex)
// in AMCAST_SECRET. It tells its parent "ready" once it listens (or { failed: code } if it could
// not start, EADDRINUSE when another process took its port), and stops on SIGTERM.
// It runs the built package (dist), as an installed service would.
import { startReplica } from "@amcast/smr";
import { KvShard, Partitioning } from "../dist/index.js";

const [clusterJson, id, partitioningJson] = process.argv.slice(2);
const cluster = JSON.parse(clusterJson);
const partitioning = Partitioning.fromSpec(JSON.parse(partitioningJson), "partitioning");
const group = id.split("/")[0];
let replica;
try {
  replica = await startReplica({
    cluster,
    id,
    secret: Buffer.from(process.env.AMCAST_SECRET ?? "", "hex"),
    application: new KvShard(group, partitioning).application,
    log: () => {},
  });
} catch (error) {
  if (process.send === undefined) throw error;
  process.send({ failed: error?.code ?? String(error) }, () => process.exit(1));
  // Exits once the parent has the message.
  await new Promise(() => {});
}
process.on("SIGTERM", () => {
  replica.stop().then(() => process.exit(0));
});
process.send?.("ready");
