// A program outside the amcast repository: it imports the packed packages as a user's project
// would (see the README, "Installing amcast in your project"). The install test runs it in a
// fresh npm project.
import { checkLinearizability, kvModel } from "@amcast/check";
import { HistoryRecorder, KvClient, KvShard, Partitioning } from "@amcast/kv";
import { createSimCluster } from "@amcast/smr";

const partitioning = Partitioning.hash(["eu", "us"]);
const cluster = createSimCluster({
  groups: ["eu", "us"],
  protocol: "flexcast",
  linearizable: true,
  application: (group) => new KvShard(group, partitioning).application,
  latencyMs: [
    [1, 40],
    [40, 1],
  ],
});
const history = [];
const kv = new KvClient(cluster.client(), {
  partitioning,
  history: new HistoryRecorder((event) => history.push(event)),
});
await kv.multiPut({ apple: "red", pear: "green", plum: "purple" });
await kv.compareAndSet("pear", "green", "yellow");
const fruit = await kv.range("", null);
const { verdict } = checkLinearizability(history, kvModel);
console.log(JSON.stringify({ fruit, verdict }));
