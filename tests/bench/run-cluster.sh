#!/usr/bin/env bash
# tests/bench/run-cluster.sh - pushgate cluster benchmark on one machine: starts one Redis
# (/usr/bin/redis-server, no persistence, free port), then for 1, 2 and 3 pushgate nodes (same
# apps, same redis_url, 1 worker each, distinct ports, fresh nodes for every run) and each N runs
#   latency:    a paced run offering the same deliveries/s for every N;
#   throughput: events as fast as the REST API of node 1 takes them (2 requests in flight);
# with pg-bench spreading its N connections round robin over the nodes (--ws-ports) and sending
# every REST event to node 1. Around the publish phase (pg-bench --phase-hook) it reads Redis's
# INFO commandstats / stats and the CPU time of every node and of Redis, so it reports Redis
# commands per REST trigger and the CPU the whole cluster spent per delivery. Prints one table.
#
# Environment (defaults in brackets):
#   NODES ["1 2 3"]        node counts
#   CONNS ["1000 3000"]    values of N
#   PACED_RATE [5000]      deliveries/s offered by the latency runs
#   PACED_SECONDS [8]      length of the latency runs
#   THROUGHPUT_DELIVERIES [300000]  deliveries per throughput run
#   PAYLOAD [100]          bytes of event data
#   BASE_PORT [16100]      nodes listen on BASE_PORT+2k+1 (WebSocket) and +2k+2 (REST), k = 0..
#   REPEAT [1]             run everything this many times (interleaved), then print medians
#   REDIS_SERVER [/usr/bin/redis-server]  REDIS_CLI [redis-cli]
#   NO_BUILD [unset]       skip the cmake build
#   PUSHGATE [$BUILD/pushgate]  OUT [mktemp -d]
# Exit status: 0 when every run passed (every connection subscribed, every event delivered once
# on every node, every node stopped cleanly), 1 otherwise.
set -euo pipefail

# --phase-hook target: "run-cluster.sh __snapshot DIR before|after" saves Redis's counters and
# the CPU ticks of the processes in $SNAP_PIDS to DIR/snap.<when>.
if [[ ${1:-} == __snapshot ]]; then
    dir=$2 when=$3
    {
        echo "t_ms:$(date +%s%3N)"
        "${REDIS_CLI:-redis-cli}" -p "$REDIS_PORT" info commandstats
        "${REDIS_CLI:-redis-cli}" -p "$REDIS_PORT" info stats
        for pid in $SNAP_PIDS; do
            # fields 14 and 15 of /proc/PID/stat (after the ") "): utime, stime in clock ticks
            awk -v pid="$pid" '{sub(/.*\) /, ""); print "cpu_ticks_" pid ":" $12 + $13}' \
                "/proc/$pid/stat"
        done
    } | tr -d '\r' >"$dir/snap.$when"
    exit 0
fi

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SELF=$ROOT/tests/bench/run-cluster.sh
BUILD=${BUILD:-$ROOT/build-bench}
NODES=${NODES:-"1 2 3"}
CONNS=${CONNS:-"1000 3000"}
PACED_RATE=${PACED_RATE:-5000}
PACED_SECONDS=${PACED_SECONDS:-8}
THROUGHPUT_DELIVERIES=${THROUGHPUT_DELIVERIES:-300000}
PAYLOAD=${PAYLOAD:-100}
BASE_PORT=${BASE_PORT:-16100}
REPEAT=${REPEAT:-1}
REDIS_SERVER=${REDIS_SERVER:-/usr/bin/redis-server}
export REDIS_CLI=${REDIS_CLI:-redis-cli}
OUT=${OUT:-$(mktemp -d /tmp/pg-bench-cluster.XXXXXX)}
mkdir -p "$OUT"

[[ -x $REDIS_SERVER ]] || {
    echo "run-cluster.sh: $REDIS_SERVER not found (Debian package redis-server)" >&2
    exit 2
}

if [[ -z ${NO_BUILD:-} ]]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >"$OUT/cmake.log"
    cmake --build "$BUILD" -j"$(nproc)" --target pushgate pg-bench >>"$OUT/cmake.log" 2>&1 ||
        {
            tail -30 "$OUT/cmake.log"
            exit 1
        }
fi
PUSHGATE=${PUSHGATE:-$BUILD/pushgate}
PGBENCH=$BUILD/pg-bench

# Paced run: PACED_RATE deliveries/s for about PACED_SECONDS, at least 10 events.
latency_args() {
    local n=$1
    local rate events
    rate=$(awk -v r="$PACED_RATE" -v n="$n" 'BEGIN {printf "%.4f", r / n}')
    events=$(awk -v r="$rate" -v s="$PACED_SECONDS" 'BEGIN {e = int(r * s); print e < 10 ? 10 : e}')
    echo "--events $events --rate $rate"
}
throughput_args() {
    local events=$((THROUGHPUT_DELIVERIES / $1))
    ((events >= 10)) || events=10
    echo "--events $events --rate 0"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

machine() {
    echo "date:      $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit:    $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(
        git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (work tree modified)')"
    echo "cpu:       $(nproc) x $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
    echo "kernel:    $(uname -r)"
    echo "memory:    $(free -g | awk '/^Mem:/ {print $2 " GiB total, " $7 " GiB available"}')"
    echo "load:      $(uptime | sed 's/.*load average/load average/')"
    echo "nofile:    $(ulimit -Hn) (hard)"
    echo "pushgate:  $PUSHGATE: $("$PUSHGATE" --version)"
    echo "redis:     $("$REDIS_SERVER" --version)"
}

# ---- Redis -----------------------------------------------------------------------------------
REDIS_PID=
REDIS_PORT=
for p in $(seq 16379 16479); do
    if port_free "$p"; then
        REDIS_PORT=$p
        break
    fi
done
[[ -n $REDIS_PORT ]] || {
    echo "run-cluster.sh: no free port for Redis in 16379..16479" >&2
    exit 2
}
export REDIS_PORT
rcli() { "$REDIS_CLI" -p "$REDIS_PORT" "$@"; }

# ---- nodes -----------------------------------------------------------------------------------
NODE_PIDS=()
stop_nodes() {
    local rc=0 pid st
    for pid in "${NODE_PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null && kill -TERM "$pid"
    done
    for pid in "${NODE_PIDS[@]}"; do
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "  !! node $pid did not stop within 10 s after SIGTERM; killing it"
            kill -KILL "$pid"
            rc=98
        fi
        st=0
        wait "$pid" || st=$?
        if ((st != 0)); then
            echo "  !! node $pid exited with status $st"
            rc=$st
        fi
    done
    NODE_PIDS=()
    return $rc
}
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    stop_nodes || true
    if [[ -n $REDIS_PID ]]; then
        kill -TERM "$REDIS_PID" 2>/dev/null || true
        wait "$REDIS_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT

ws_port() { echo $((BASE_PORT + 2 * $1 + 1)); }
api_port() { echo $((BASE_PORT + 2 * $1 + 2)); }

# start_nodes COUNT TAG
start_nodes() {
    local count=$1 tag=$2 k cfg
    for ((k = 0; k < count; k++)); do
        for p in "$(ws_port $k)" "$(api_port $k)"; do
            port_free "$p" || {
                echo "  !! port $p is in use (set BASE_PORT)"
                return 1
            }
        done
        cfg=$OUT/$tag.node$k.json
        cat >"$cfg" <<EOF
{
  "host": "127.0.0.1",
  "port": $(ws_port $k),
  "api_port": $(api_port $k),
  "workers": 1,
  "activity_timeout": 120,
  "out_queue_max_frames": 100000,
  "out_queue_max_kb": 262144,
  "log_level": "info",
  "redis_url": "redis://127.0.0.1:$REDIS_PORT",
  "redis_prefix": "pgbench",
  "apps": [{"id": "app-id", "key": "app-key", "secret": "app-secret"}]
}
EOF
        "$PUSHGATE" --config "$cfg" >"$OUT/$tag.node$k.log" 2>&1 &
        NODE_PIDS+=($!)
    done
    for ((k = 0; k < count; k++)); do
        local ok=
        for _ in $(seq 100); do
            if curl -fs "http://127.0.0.1:$(api_port $k)/ready" >/dev/null 2>&1; then
                ok=1
                break
            fi
            kill -0 "${NODE_PIDS[$k]}" 2>/dev/null || break
            sleep 0.1
        done
        [[ -n $ok ]] || {
            echo "  !! node $k did not become ready; its log:"
            tail -20 "$OUT/$tag.node$k.log"
            return 1
        }
    done
    # every node has its PSUBSCRIBE in place before any client connects (PUBSUB NUMPAT counts
    # distinct patterns, and all nodes use the same one, so count the clients instead)
    for _ in $(seq 100); do
        [[ $(rcli client list | grep -c ' psub=1 ') == "$count" ]] && return 0
        sleep 0.1
    done
    echo "  !! Redis has $(rcli client list | grep -c ' psub=1 ') pattern subscribers," \
        "expected $count"
    return 1
}

FAILED=0
RESULTS=$OUT/results.jsonl
: >"$RESULTS"

# snapshot value: sval FILE KEY [FIELD] (FIELD: calls of a cmdstat_ line)
sval() {
    local v
    if [[ -n ${3:-} ]]; then
        v=$(sed -n "s/^$2:\(.*,\)\{0,1\}$3=\([0-9]*\).*/\2/p" "$1")
    else
        v=$(sed -n "s/^$2:\([0-9]*\).*/\1/p" "$1")
    fi
    echo "${v:-0}"
}

# one_run REP NODES N KIND ARGS...
one_run() {
    local rep=$1 nodes=$2 n=$3 kind=$4
    shift 4
    local tag=r$rep-n$nodes-c$n-$kind
    local load
    load=$(cut -d' ' -f1 /proc/loadavg)
    local ports=() k
    for ((k = 0; k < nodes; k++)); do ports+=("$(ws_port $k)"); done
    local plist
    plist=$(
        IFS=,
        echo "${ports[*]}"
    )
    echo "== #$rep nodes=$nodes N=$n $kind (load $load): pg-bench --ws-ports $plist" \
        "--api-port $(api_port 0) --conns $n $* --payload $PAYLOAD"
    rcli flushall >/dev/null
    start_nodes "$nodes" "$tag" || {
        FAILED=1
        stop_nodes || true
        return
    }
    mkdir -p "$OUT/$tag.snap"
    local rc=0
    # "start": before any client connects, so subscribe-time Redis commands can be counted too
    SNAP_PIDS="${NODE_PIDS[*]} $REDIS_PID" "$SELF" __snapshot "$OUT/$tag.snap" start
    SNAP_PIDS="${NODE_PIDS[*]} $REDIS_PID" "$PGBENCH" --ws-ports "$plist" \
        --api-port "$(api_port 0)" --conns "$n" --payload "$PAYLOAD" --label "n$nodes $kind" \
        --phase-hook "$SELF __snapshot $OUT/$tag.snap" --json --quiet "$@" \
        >"$OUT/$tag.out" 2>"$OUT/$tag.err" || rc=$?
    grep -v '^{' "$OUT/$tag.out" || true
    local pids=("${NODE_PIDS[@]}") src=0
    stop_nodes || src=$?
    local line s0="$OUT/$tag.snap/snap.start" b="$OUT/$tag.snap/snap.before"
    local a="$OUT/$tag.snap/snap.after"
    line=$(grep '^{' "$OUT/$tag.out" | tail -1 || true)
    if [[ -n $line && -s $b && -s $a ]]; then
        local pub evs cmds outb nodecpu=0 pid rcpu tck ms subevs
        subevs=$(($(sval "$b" cmdstat_evalsha calls) - $(sval "$s0" cmdstat_evalsha calls)))
        ms=$(($(sval "$a" t_ms) - $(sval "$b" t_ms)))
        pub=$(($(sval "$a" cmdstat_publish calls) - $(sval "$b" cmdstat_publish calls)))
        evs=$(($(sval "$a" cmdstat_evalsha calls) - $(sval "$b" cmdstat_evalsha calls)))
        # every command but the snapshots' own INFO
        cmds=$(($(sval "$a" total_commands_processed) - $(sval "$b" total_commands_processed) -
            $(sval "$a" cmdstat_info calls) + $(sval "$b" cmdstat_info calls)))
        outb=$(($(sval "$a" total_net_output_bytes) - $(sval "$b" total_net_output_bytes)))
        for pid in "${pids[@]}"; do
            nodecpu=$((nodecpu + $(sval "$a" "cpu_ticks_$pid") - $(sval "$b" "cpu_ticks_$pid")))
        done
        rcpu=$(($(sval "$a" "cpu_ticks_$REDIS_PID") - $(sval "$b" "cpu_ticks_$REDIS_PID")))
        tck=$(getconf CLK_TCK)
        echo "  redis       connect + subscribe + idle: $subevs EVALSHA"
        echo "  redis       publish phase, $ms ms: $pub PUBLISH, $evs EVALSHA, $cmds commands (INFO excluded)," \
            "$outb bytes out; CPU: nodes $nodecpu ticks, redis $rcpu ticks (${tck}/s)"
        echo "$line" | jq -c --arg k "$kind" --argjson nodes "$nodes" --argjson src "$src" \
            --argjson load "$load" --argjson rep "$rep" --argjson pub "$pub" --argjson evs "$evs" \
            --argjson cmds "$cmds" --argjson outb "$outb" --argjson ncpu "$nodecpu" \
            --argjson rcpu "$rcpu" --argjson tck "$tck" --argjson ms "$ms" \
            --argjson subevs "$subevs" \
            '. + {kind: $k, nodes: $nodes, server_status: $src, load: $load, rep: $rep,
                  publish: $pub, evalsha: $evs, redis_cmds: $cmds, redis_out_b: $outb,
                  phase2_ms: $ms, subscribe_evalsha: $subevs, evalsha_per_node_s: ($evs / $nodes / ($ms / 1000)),
                  nodes_us_per_delivery: (if .received > 0 then $ncpu / $tck * 1e6 / .received
                                          else 0 end),
                  redis_us_per_delivery: (if .received > 0 then $rcpu / $tck * 1e6 / .received
                                          else 0 end)}' >>"$RESULTS"
    elif [[ -n $line ]]; then
        echo "  !! no Redis snapshots in $OUT/$tag.snap"
        [[ $rc != 0 ]] || rc=1
    fi
    if ((rc != 0 || src != 0)); then
        FAILED=1
        echo "  !! pg-bench status $rc, node stop status $src; pg-bench stderr and node log tails:"
        tail -5 "$OUT/$tag.err" || true
        for ((k = 0; k < nodes; k++)); do
            echo "  -- node $k ($OUT/$tag.node$k.log):"
            tail -20 "$OUT/$tag.node$k.log" || true
        done
    fi
}

echo "pushgate cluster benchmark, logs in $OUT"
"$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize no >"$OUT/redis.log" 2>&1 &
REDIS_PID=$!
for _ in $(seq 50); do
    rcli ping >/dev/null 2>&1 && break
    sleep 0.1
done
rcli ping >/dev/null || {
    echo "run-cluster.sh: redis-server did not start:" >&2
    tail "$OUT/redis.log" >&2
    exit 2
}
machine | tee "$OUT/machine.txt"
echo "redis port: $REDIS_PORT (pid $REDIS_PID)"
echo

for rep in $(seq "$REPEAT"); do
    for n in $CONNS; do
        for nodes in $NODES; do
            # shellcheck disable=SC2046 # the helpers return several words on purpose
            one_run "$rep" "$nodes" "$n" latency $(latency_args "$n")
            # shellcheck disable=SC2046
            one_run "$rep" "$nodes" "$n" throughput $(throughput_args "$n")
        done
    done
done

echo
echo "load after: $(uptime | sed 's/.*load average/load average/')"
echo
# shellcheck disable=SC2016 # jq programs, not shell expansions
JQ_DEFS='def r2: . * 100 | round / 100;
def r1: . * 10 | round / 10;
def rate: if .rate == 0 then "max" else "\(.rate * .conns | round)/s" end;
def median: sort | if length % 2 == 1 then .[length / 2 | floor]
                   else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def ok: .ok and .server_status == 0;'
{
    echo "Every run (deliveries offered: paced rate x N; per trigger = per REST event sent):"
    echo
    echo '| # | nodes | N | run | load | events @ deliveries/s | deliveries/s | p50 ms | p99 ms | max ms | nodes us/delivery | redis us/delivery | EVALSHA/subscribe | PUBLISH/trigger | EVALSHA/trigger | EVALSHA/s per node | redis cmds/trigger | redis bytes out/trigger | missing | ok |'
    echo '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|'
    jq -r "$JQ_DEFS"'
"| \(.rep) | \(.nodes) | \(.conns) | \(.kind) | \(.load) | \(.events) @ \(rate) | \(.deliveries_per_s) | \(.p50_ms | r2) | \(.p99_ms | r2) | \(.max_ms | r2) | \(.nodes_us_per_delivery | r1) | \(.redis_us_per_delivery | r1) | \(.subscribe_evalsha / .conns | r2) | \(.publish / .sent | r2) | \(.evalsha / .sent | r2) | \(.evalsha_per_node_s | r2) | \(.redis_cmds / .sent | r2) | \(.redis_out_b / .sent | round) | \(.missing) | \(if ok then "yes" else "NO" end) |"' "$RESULTS"
    echo
    echo "Side by side (median over $REPEAT run(s); deliveries/s as median [min-max]):"
    echo
    echo '| N | run | nodes | deliveries/s | p50 ms | p99 ms | nodes us/delivery | EVALSHA/subscribe | PUBLISH/trigger | EVALSHA/trigger | failed runs |'
    echo '|---|---|---|---|---|---|---|---|---|---|---|'
    jq -rs "$JQ_DEFS"'
group_by([.conns, (.kind == "throughput"), .nodes]) | .[] |
"| \(.[0].conns) | \(.[0].kind) | \(.[0].nodes) | \(map(.deliveries_per_s) | median | round) [\(map(.deliveries_per_s) | min)-\(map(.deliveries_per_s) | max)] | \(map(.p50_ms) | median | r2) | \(map(.p99_ms) | median | r2) | \(map(.nodes_us_per_delivery) | median | r1) | \(map(.subscribe_evalsha / .conns) | median | r2) | \(map(.publish / .sent) | median | r2) | \(map(.evalsha / .sent) | median | r2) | \(map(select(ok | not)) | length) |"' "$RESULTS"
} | tee "$OUT/table.md"
echo
echo "payload $PAYLOAD B; latency runs offer $PACED_RATE deliveries/s; throughput runs publish with"
echo "2 REST requests in flight to node 1, so their latency is time spent queued in the servers."
exit $FAILED
