#!/usr/bin/env bash
# A multi-host test on one machine: `pnpm run test:netns` (as root; not part of `pnpm test`).
#
# Linux network namespaces joined by veth pairs to a bridge make four "hosts" with their own
# addresses: one per group of experiments/crash-cluster.json (Canada 10.77.0.1, Virginia
# 10.77.0.2, SaoPaulo 10.77.0.3; its three crash-mode replicas listen on ports 7000-7002) and one
# for the client host (10.77.0.4). The replicas and the client host are started with the real
# CLI (amcast keys / replica / clients, one keyring per process), as on real machines. Once a
# third of the workload has completed, Virginia/0 is killed with SIGKILL; the client host must
# still finish every multicast, and the merged trace (with the crash as a fault event) must pass
# the oracles (`amcast check`): nothing lost, nothing duplicated, order kept. It prints latency and
# throughput from the trace.
#
#   pnpm run test:netns               # the namespaces (root)
#   pnpm run test:netns -- --loopback # the same cluster on 127.0.0.1, for comparison (any user)
#   pnpm run test:netns -- --keep     # keep the deployment, logs and traces (kept anyway on failure)
#
# Every namespace and process it made is removed on exit, also on failure or Ctrl-C. The links
# between namespaces are veth pairs: no delay is added (tc netem is not available here), so the
# hosts are as far apart as a kernel bridge makes them.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CLI=(node --max-semi-space-size=32 "$ROOT/packages/experiment/dist/cli.js")
MODE=netns
KEEP=false
for arg in "$@"; do
  case "$arg" in
    --) ;; # pnpm run passes it through
    --loopback) MODE=loopback ;;
    --keep) KEEP=true ;;
    *) echo "test:netns: unknown argument $arg (known: --loopback, --keep)" >&2 && exit 2 ;;
  esac
done
if [[ "$MODE" == netns && "$(id -u)" -ne 0 ]]; then
  echo "test:netns: creating network namespaces needs root; run it as root (or with --loopback)" >&2
  exit 1
fi
if [[ "$MODE" == netns ]] && ! command -v ip > /dev/null; then
  echo "test:netns: needs ip (iproute2)" >&2
  exit 1
fi

TAG="amc$$"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/amcast-netns-XXXXXX")"
GROUPS_=(Canada Virginia SaoPaulo)
REPLICAS_PER_GROUP=3
VICTIM="Virginia/0"
NAMESPACES=()
PIDS=()

cleanup() {
  local code=$?
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2> /dev/null || true; done
  wait 2> /dev/null || true
  for ns in "${NAMESPACES[@]}"; do ip netns delete "$ns" 2> /dev/null || true; done
  if [[ "$MODE" == netns ]] && ip netns list | grep -q "^$TAG-"; then
    echo "test:netns: namespaces left behind: $(ip netns list | grep "^$TAG-" | tr '\n' ' ')" >&2
    code=1
  fi
  if [[ $code -ne 0 ]]; then
    echo "test:netns: FAILED; logs and traces kept in $WORK" >&2
  elif [[ "$KEEP" == true ]]; then
    echo "test:netns: logs and traces kept in $WORK"
  else
    rm -rf "$WORK"
  fi
  exit $code
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the hosts -------------------------------------------------------------------------------
# ADDRESS[NAME] is the address of host NAME ("canada", ..., "clients"); `runIn NAME CMD...` runs
# CMD there, replacing the calling (background) shell, so that $! is the process itself.
declare -A ADDRESS
if [[ "$MODE" == netns ]]; then
  switch="$TAG-switch"
  ip netns add "$switch"
  NAMESPACES+=("$switch")
  ip -n "$switch" link add br0 type bridge
  ip -n "$switch" link set br0 up
  index=1
  for name in canada virginia saopaulo clients; do
    ns="$TAG-$name"
    ip netns add "$ns"
    NAMESPACES+=("$ns")
    ip -n "$switch" link add "port$index" type veth peer name eth0 netns "$ns"
    ip -n "$switch" link set "port$index" master br0 up
    ip -n "$ns" addr add "10.77.0.$index/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    ADDRESS[$name]="10.77.0.$index"
    index=$((index + 1))
  done
  runIn() {
    local name=$1
    shift
    exec ip netns exec "$TAG-$name" "$@"
  }
else
  for name in canada virginia saopaulo clients; do ADDRESS[$name]=127.0.0.1; done
  runIn() {
    shift
    exec "$@"
  }
fi

# --- the deployment, the secret and one keyring per process -----------------------------------
portOf() { if [[ "$MODE" == netns ]]; then echo $((7000 + $2)); else echo $((17000 + 10 * $1 + $2)); fi; }
{
  echo '{ "kind": "deployment", "name": "netns-hosts",'
  echo "  \"experiment\": \"$ROOT/experiments/crash-cluster.json\","
  echo '  "replicas": ['
  separator=""
  for g in "${!GROUPS_[@]}"; do
    group="${GROUPS_[$g]}"
    for ((i = 0; i < REPLICAS_PER_GROUP; i++)); do
      printf '%s    { "id": "%s/%d", "host": "%s", "port": %d }' "$separator" "$group" "$i" \
        "${ADDRESS[${group,,}]}" "$(portOf "$g" "$i")"
      separator=$',\n'
    done
  done
  printf '\n  ] }\n'
} > "$WORK/deployment.json"
head -c 32 /dev/urandom > "$WORK/cluster.secret"
"${CLI[@]}" keys --deployment "$WORK/deployment.json" --secret-file "$WORK/cluster.secret" --out "$WORK/keys" > /dev/null

# --- the replicas, then the client host ---------------------------------------------------------
declare -A PID_OF
stem() { echo "${1//\//-}"; }
for group in "${GROUPS_[@]}"; do
  for ((i = 0; i < REPLICAS_PER_GROUP; i++)); do
    id="$group/$i"
    runIn "${group,,}" "${CLI[@]}" replica --deployment "$WORK/deployment.json" --id "$id" \
      --keys "$WORK/keys/${group}%2F$i.keys.json" --trace "$WORK/$(stem "$id").trace.jsonl" \
      2> "$WORK/$(stem "$id").log" &
    PIDS+=($!)
    PID_OF[$id]=$!
  done
done
started=$(date +%s%3N)
runIn clients "${CLI[@]}" clients --deployment "$WORK/deployment.json" \
  --keys "$WORK/keys/clients.keys.json" --trace "$WORK/clients.trace.jsonl" 2> "$WORK/clients.log" &
CLIENTS=$!
PIDS+=("$CLIENTS")

# --- a crash mid-run: SIGKILL, written down as a fault event on the traces' (wall) clock ----------
completed() { grep -c '"ev":"complete"' "$WORK/clients.trace.jsonl" 2> /dev/null || true; }
total=$(( ${#GROUPS_[@]} * 2 * 200 )) # crash-cluster: 2 clients per group, 200 multicasts each
deadline=$(( $(date +%s) + 120 ))
while [[ "$(completed)" -lt $((total / 3)) ]]; do
  if ! kill -0 "$CLIENTS" 2> /dev/null; then echo "test:netns: the client host exited early" >&2; cat "$WORK/clients.log" >&2; exit 1; fi
  if [[ $(date +%s) -gt $deadline ]]; then echo "test:netns: no progress in 120 s" >&2; exit 1; fi
  sleep 0.05
done
kill -9 "${PID_OF[$VICTIM]}"
killed_at=$(date +%s%3N)
echo "{\"ev\":\"fault\",\"proc\":\"$VICTIM\",\"kind\":\"crash\",\"t\":$killed_at}" > "$WORK/faults.trace.jsonl"
echo "test:netns ($MODE): killed $VICTIM with SIGKILL after $(completed) of $total multicasts completed"

# --- the client host must finish; then the replicas stop (SIGTERM: they write out their traces) ---
status=0
wait "$CLIENTS" || status=$?
finished=$(date +%s%3N)
if [[ $status -ne 0 ]]; then echo "test:netns: the client host failed (exit $status)" >&2; cat "$WORK/clients.log" >&2; exit 1; fi
for id in "${!PID_OF[@]}"; do [[ "$id" != "$VICTIM" ]] && kill -TERM "${PID_OF[$id]}" 2> /dev/null || true; done
for id in "${!PID_OF[@]}"; do [[ "$id" != "$VICTIM" ]] && { wait "${PID_OF[$id]}" || true; }; done

"${CLI[@]}" merge-traces --out "$WORK/run.jsonl" "$WORK"/*.trace.jsonl > /dev/null
"${CLI[@]}" check "$WORK/run.jsonl"
node - "$WORK/run.jsonl" "$MODE" "$((finished - started))" << 'EOF'
const [file, mode, wallMs] = process.argv.slice(2);
const lines = require("node:fs").readFileSync(file, "utf8").split("\n").filter(Boolean).map(JSON.parse);
const sent = new Map();
const latencies = [];
let first = Infinity, last = -Infinity;
for (const e of lines) {
  if (e.ev === "multicast") { sent.set(e.id, e.t); first = Math.min(first, e.t); }
  if (e.ev === "complete" && sent.has(e.id)) { latencies.push(e.t - sent.get(e.id)); last = Math.max(last, e.t); }
}
latencies.sort((a, b) => a - b);
const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
const mean = latencies.reduce((a, b) => a + b, 0) / latencies.length;
if (latencies.length !== sent.size) { console.error(`test:netns: ${sent.size - latencies.length} multicasts never completed`); process.exit(1); }
console.log("mode      multicasts  completed  mean ms  p50 ms  p99 ms  multicasts/s  wall s");
console.log(`${mode.padEnd(9)} ${String(sent.size).padStart(10)} ${String(latencies.length).padStart(10)} ${mean.toFixed(2).padStart(8)} ${q(0.5).toFixed(2).padStart(7)} ${q(0.99).toFixed(2).padStart(7)} ${(latencies.length / ((last - first) / 1000)).toFixed(0).padStart(13)} ${(Number(wallMs) / 1000).toFixed(1).padStart(7)}`);
EOF
echo "test:netns ($MODE): passed"
