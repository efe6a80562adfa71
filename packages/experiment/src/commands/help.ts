/** What `amcast COMMAND --help` prints: a synopsis, one paragraph, and every option. */
export interface CommandHelp {
  readonly synopsis: string;
  readonly about: string;
  readonly options: readonly (readonly [string, string])[];
  readonly examples?: readonly string[];
}

/**
 * Help for every command. The CLI tests check that each command's help names every option its
 * parser accepts, so the two cannot drift apart.
 */
export const HELP: Record<string, CommandHelp> = {
  experiment: {
    synopsis: "experiment [NAME|FILE] [options]",
    about:
      "Runs experiments/NAME.json (default: quickstart) on the simulator, or on real processes with --runtime net. " +
      "Every run is checked by the oracles and written the moment it finishes to results/NAME/<time>-seed-N/ " +
      "(results/NAME/latest points at the newest): summary.json (with the date, commit, Node, machine and the " +
      "resolved configuration), runs.csv, kinds.csv, samples.csv, aggregate.csv (several seeds: mean and 95% " +
      "confidence interval), figures (SVG with their data as CSV) and index.html, a report with the tables, " +
      "figures, verdicts and a message sequence diagram of the slowest multicast. On the network runtime the results go to " +
      "results/NAME-net/ and the diagram needs --trace. Exit code 1 when a run fails its checks.",
    options: [
      ["--seed N", "run only seed N (an integer >= 0) instead of the experiment's seeds"],
      ["--out DIR", "write the results to DIR instead of a new results/NAME/<time>-seed-N/"],
      [
        "--resume",
        "go on with the latest results of this experiment (or --out DIR): skip the runs already done",
      ],
      [
        "--explain ID",
        "draw the sequence diagram of multicast ID (or RUN/ID) instead of the slowest (net: with --trace)",
      ],
      ["--trace FILE", "write every run's trace (JSON Lines, docs/trace.md)"],
      ["--trace-sends", "record every protocol message (genuineness table; in the trace with --trace)"],
      ["--history FILE", "service experiments: write the clients' histories (JSON Lines, docs/history.md)"],
      ["--json", "print one JSON object with every run's summary as the last line"],
      ["--list", "list the experiments: runs, multicasts, expected size of results, description"],
      ["--full", "run every workload, also those the experiment leaves out by default (defaultWorkloads)"],
      ["--runtime sim|net", "the simulator (default) or real processes on this machine"],
      ["--client-hosts N", "net: client processes (default 1)"],
      ["--no-latency", "net: do not inject the topology's delays"],
      ["--work-dir DIR", "net: where nodes keep their deployment, keys and traces"],
      ["--time-limit-s S", "net: stop a run after S seconds"],
      ["--fsync batch|interval|none", "net: replicas journal what they decide with this fsync policy"],
      [
        "--keep-journal",
        "net: journal every input and keep the whole journal (default: truncated at checkpoints)",
      ],
    ],
    examples: [
      "pnpm run experiment flexcast-vs-skeen",
      "pnpm run experiment byzcast-saturation-lan --resume",
      "pnpm run experiment quickstart --seed 7 --explain c3:120",
      "pnpm run experiment paper-flexcast --full",
    ],
  },
  report: {
    synopsis: "report TRACE [--out DIR] [--explain ID] [--real-time]",
    about:
      "Builds the HTML report of any trace (a simulator run's --trace, or a multi-machine run's merged trace): " +
      "latency tables per run and kind of message, figures, the oracles' verdicts and a message sequence " +
      "diagram (from recorded sends) of the slowest multicast. Written to DIR (default: TRACE's name without " +
      ".jsonl, plus -report/).",
    options: [
      ["--out DIR", "where to write index.html, the CSVs and the figures"],
      ["--explain ID", "draw multicast ID (or RUN/ID) instead of the slowest"],
      ["--real-time", "also check real-time order"],
    ],
  },
  compare: {
    synopsis: "compare DIR DIR",
    about:
      "Prints two result directories (or their summary.json files) side by side: each run's latency, " +
      "throughput and messages per multicast in both, and the ratio second/first. Runs match by label.",
    options: [["--json", "print the comparison as one JSON object"]],
  },
  check: {
    synopsis: "check FILE [--real-time] [--no-liveness] [--json]",
    about:
      "Runs the oracles over a trace file (every run in it) and prints each run's verdict. Exit code 1 on a violation.",
    options: [
      ["--real-time", "also check real-time order (linearizable multicast)"],
      ["--no-liveness", "skip validity and agreement (a run cut short)"],
      ["--json", "print the verdicts as one JSON object"],
    ],
  },
  "check-history": {
    synopsis: "check-history FILE [--model kv] [--time-limit-s S] [--states-max N] [--json]",
    about:
      "Checks a client history (JSON Lines, docs/history.md) for linearizability and prints the verdict, with a " +
      "minimal witness when it is not. Exit code 0 linearizable, 1 not, 4 unknown (a budget ran out), 2 bad input.",
    options: [
      ["--model kv", "the service's model (default kv)"],
      ["--time-limit-s S", "give up after S seconds and answer unknown (default 300)"],
      ["--states-max N", "give up after N search states and answer unknown"],
      ["--json", "print the verdict as one JSON object"],
    ],
  },
  swarm: {
    synopsis:
      "swarm [--protocol NAME] [--seed N] [--seeds COUNT] [--trace FILE] [--linearizable] [--real-time] [--reconfigure] [--delayed] [--mode MODE] [--params JSON]",
    about:
      "Runs swarm seeds (random topologies, workloads, network behaviour and faults, checked by the oracles), " +
      "the same cases pnpm test runs, and prints each failure with the command that replays it.",
    options: [
      ["--protocol NAME", "only this protocol (default: every protocol)"],
      ["--seed N", "the first seed (default 0)"],
      ["--seeds COUNT", "how many seeds from the first (default 100, or 1 with --seed)"],
      ["--trace FILE", "write the trace of the one seed run (with --seed)"],
      ["--linearizable", "the linearizable variant"],
      ["--real-time", "check real-time order"],
      ["--reconfigure", "install random overlays during the runs"],
      [
        "--delayed",
        "give every seed a delayed network (a share of messages held back up to 1 s, links FIFO)",
      ],
      ["--mode solo|crash|byzantine", "keep the seeds to one replication mode"],
      [
        "--params JSON",
        "the protocol's parameters for every seed, as an experiment's protocol entry gives them (e.g. '{\"notifications\":\"chain\"}' for flexcast)",
      ],
    ],
  },
  bench: {
    synopsis:
      "bench [--multicasts N] [--repeat N] [--protocol P] [--mode M] [--groups G] [--json] [--runtime net ...]",
    about:
      "Measures the simulator (message events per second, CPU time per multicast, the garbage collector's share, " +
      "FlexCast's peak history), or with --runtime net the network runtime on loopback. The packages' own " +
      "benchmarks (the replica log's appends, the trace oracles, the linearizability checker) run with " +
      "`pnpm run bench:packages`.",
    options: [
      [
        "--multicasts N",
        "multicasts per benchmark run (simulator default 120000; net, local/global-2: solo 240000/90000, crash 60000/20000, byzantine 6000/2000)",
      ],
      ["--repeat N", "repetitions (simulator default 3, net 1)"],
      ["--json", "print the numbers as one JSON object"],
      ["--runtime sim|net", "what to measure (default sim)"],
      ["--client-hosts N", "net: client processes (default 1)"],
      ["--outstanding N", "net: multicasts in flight per client (default 64)"],
      ["--section loopback|wan|all", "net: which part of the benchmark (default all)"],
      ["--profile DIR", "net: write CPU profiles to DIR"],
      ["--batch-messages-max N", "net: the transport's batch limit"],
      [
        "--batch-delay-ms N",
        "net: how long a batch waits for more messages (default 0: the end of the turn)",
      ],
      ["--fsync off,batch,interval,none", "net: replicated rows, once per journal policy (off: none)"],
      ["--keep-journal", "net, with --fsync: journal every input (default: decided positions, truncated)"],
      ["--protocol NAME", "only this protocol"],
      [
        "--mode solo|crash|byzantine",
        "only the rows of this replication mode (net: f = 1, Byzantine with Ed25519; replicated rows show their ratio to solo)",
      ],
      ["--groups 12|48", "simulator: only the rows of this many groups"],
      ["--workload local|global-2", "net: only this workload"],
    ],
  },
  replica: {
    synopsis:
      "replica --deployment FILE --id ID (--keys FILE | --secret-file FILE) [--trace FILE] [--data-dir DIR [--fsync POLICY]] [--rejoin-empty]",
    about: "Runs one replica of a deployment until SIGINT/SIGTERM (docs/runtime.md).",
    options: [
      ["--deployment FILE", "the deployment file"],
      ["--id ID", "which replica"],
      ["--keys FILE", "this process's keyring (amcast keys)"],
      ["--secret-file FILE", "or the cluster secret"],
      ["--trace FILE", "write this process's trace"],
      ["--host HOST", "replica: the replica a deployment places on host HOST (instead of --id)"],
      ["--listen ADDRESS", "the address to listen on (default: the deployment's host)"],
      ["--health-port PORT", "serve a health check on this port (containers)"],
      ["--data-dir DIR", "journal what the replica decides here; restarted on it, it rebuilds itself"],
      ["--fsync batch|interval|none", "the journal's fsync policy (default: deployment, else batch)"],
      ["--rejoin-empty", "it ran before and lost its data directory: no hard state, votes once caught up"],
    ],
  },
  clients: {
    synopsis: "clients --deployment FILE [--id HOST] (--keys FILE | --secret-file FILE) [--trace FILE]",
    about: "Runs a client host of a deployment: its clients' workload, then a summary (docs/runtime.md).",
    options: [
      ["--deployment FILE", "the deployment file"],
      ["--id HOST", "which client host (default: clients)"],
      ["--keys FILE", "this process's keyring (amcast keys)"],
      ["--secret-file FILE", "or the cluster secret"],
      ["--trace FILE", "write this process's trace"],
      ["--host HOST", "replica: the replica a deployment places on host HOST (instead of --id)"],
      ["--listen ADDRESS", "the address to listen on (default: the deployment's host)"],
      ["--health-port PORT", "serve a health check on this port (containers)"],
      ["--data-dir DIR", "replica: journal what it decides here (refused for a client host)"],
      ["--fsync batch|interval|none", "replica: the journal's fsync policy"],
      ["--rejoin-empty", "replica: it ran before and lost its data directory (refused for a client host)"],
    ],
  },
  keys: {
    synopsis: "keys --deployment FILE --secret-file FILE --out DIR",
    about: "Derives one keyring per process of a deployment from a cluster secret.",
    options: [
      ["--deployment FILE", "the deployment file"],
      ["--secret-file FILE", "the cluster secret"],
      ["--out DIR", "where to write the keyrings"],
    ],
  },
  "merge-traces": {
    synopsis: "merge-traces --out FILE TRACE...",
    about:
      "Merges the traces of a run's processes into one, in time order (then: amcast check, amcast report).",
    options: [["--out FILE", "the merged trace"]],
  },
  parity: {
    synopsis: "parity [--full] [--seed N] [--multicasts N] [--json]",
    about:
      "Runs the same runs on the simulator and on real processes (the cases of pnpm test, or with --full every " +
      "protocol in every mode, plain and linearizable) and prints, per case, the checked properties, the " +
      "deliveries and p50/p90/p99 on both runtimes with their differences. Exit code 1 when a case disagrees " +
      "beyond the tolerance (docs/runtime.md).",
    options: [
      ["--full", "every protocol in every mode, plain and linearizable"],
      ["--seed N", "the seed of every case"],
      ["--multicasts N", "multicasts per client"],
      ["--json", "print the results as one JSON object"],
    ],
  },
  deploy: {
    synopsis: "deploy k8s|compose --experiment NAME [--out DIR] [run selection] [options]",
    about:
      "Writes what runs one run of an experiment in containers: Kubernetes manifests with a kustomize base, or a " +
      "compose file, around one deployment file (docs/deploy.md).",
    options: [
      ["--experiment NAME", "the experiment"],
      ["--out DIR", "where to write the files"],
      ["--protocol P", "run selection: the protocol"],
      ["--mode M", "run selection: the replication mode"],
      ["--workload W", "run selection: the workload"],
      ["--seed N", "run selection: the seed"],
      ["--linearizable", "run selection: the linearizable variant"],
      ["--fault-plan NAME", "run selection: the fault plan"],
      ["--name N", "the deployment's name"],
      ["--image I", "the container image"],
      ["--port P", "the replicas' port"],
      ["--health-port P", "the health-check port"],
      ["--client-hosts N", "client hosts"],
      ["--secret-file F", "the cluster secret"],
      ["--latency-emulation", "inject the topology's delays in the transport"],
    ],
  },
  proxy: {
    synopsis:
      "proxy --cluster FILE (--keys FILE | --secret-file FILE) [--host ID] [--listen ADDRESS] [--port PORT]",
    about:
      "An HTTP front door to a service built on @amcast/smr: POST /multicast answers with every destination " +
      "group's reply, retries deduplicated by client id and sequence number. Runs until SIGINT/SIGTERM.",
    options: [
      ["--cluster FILE", "the cluster object as a JSON file"],
      ["--keys FILE", "this client host's keyring"],
      ["--secret-file FILE", "or the cluster secret"],
      ["--host ID", "which client host of the cluster (default: clients)"],
      ["--listen ADDRESS", "the address to listen on"],
      ["--port PORT", "the HTTP port"],
    ],
  },
  reference: {
    synopsis: "reference",
    about:
      "Prints the configuration reference (every field of experiment, topology and overlay files, with types and " +
      "defaults), generated from the parsers; docs/configuration.md is this output.",
    options: [],
  },
};

/** `amcast COMMAND --help`. */
export function commandHelp(command: string): string {
  const help = HELP[command];
  if (help === undefined) return "";
  const width = Math.max(...help.options.map(([flag]) => flag.length), 0);
  const lines = [`usage: amcast ${help.synopsis}`, "", wrap(help.about, 96)];
  if (help.options.length > 0) {
    lines.push("", "options:");
    for (const [flag, what] of help.options) lines.push(`  ${flag.padEnd(width)}  ${what}`);
    lines.push(`  ${"--help".padEnd(width)}  this text`);
  }
  if (help.examples !== undefined)
    lines.push("", "examples:", ...help.examples.map((example) => `  ${example}`));
  return `${lines.join("\n")}\n`;
}

/** `amcast --help`: one line per command. */
export function overallHelp(): string {
  const width = Math.max(...Object.values(HELP).map((help) => help.synopsis.split(" ")[0]?.length ?? 0));
  const lines = ["usage: amcast <command> [options]   (amcast <command> --help for its options)", ""];
  for (const [name, help] of Object.entries(HELP)) {
    const sentence = help.about.split(/(?<=\.)\s/)[0] ?? "";
    lines.push(`  ${name.padEnd(width)}  ${sentence}`);
  }
  return `${lines.join("\n")}\n`;
}

function wrap(text: string, width: number): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "") lines.push(line);
  return lines.join("\n");
}
