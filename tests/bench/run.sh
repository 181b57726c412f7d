#!/usr/bin/env bash
# tests/bench/run.sh - pushgate baseline benchmark: builds pushgate and pg-bench (Release, in
# build-bench/), then for each worker count and each N runs
#   latency:    a paced run (the same offered deliveries/s for every N), fresh server;
#               its phase 1 also gives connect time and server RSS per idle subscribed connection;
#   throughput: events as fast as the REST API takes them (2 requests in flight), fresh server;
# and prints one table. Every run gets a fresh server so RSS figures are not polluted by memory a
# previous run freed. Logs and JSON lines stay in $OUT.
#
# Environment (defaults in brackets):
#   WORKERS [1]           worker threads of the main configuration
#   COMPARE_WORKERS [2]   also run everything with this many workers ("" to skip)
#   CONNS ["1000 10000"]  values of N
#   PAYLOAD [100]         bytes of event data
#   WS_PORT [16001] API_PORT [16002]  ports of the benchmark server (not 6001/6002, which a
#                         developer's own pushgate may be using)
#   SOURCE_ADDRS [1]      pg-bench --source-addrs (needed only near the ephemeral port range)
#   CLIENT [epoll]        pg-bench --client: epoll, or lws to cross-check with libwebsockets
#   REPEAT [1]            run everything this many times (interleaved), then print medians
#   NO_BUILD [unset]      skip the cmake build
#   PUSHGATE [$BUILD/pushgate]  server binary under test (e.g. one built from a clean snapshot)
#   OUT [mktemp -d]       where logs go
# Exit status: 0 when every run passed, 1 otherwise.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
WORKERS=${WORKERS:-1}
COMPARE_WORKERS=${COMPARE_WORKERS-2}
CONNS=${CONNS:-"1000 10000"}
PAYLOAD=${PAYLOAD:-100}
WS_PORT=${WS_PORT:-16001}
API_PORT=${API_PORT:-16002}
SOURCE_ADDRS=${SOURCE_ADDRS:-1}
CLIENT=${CLIENT:-epoll}
REPEAT=${REPEAT:-1}
OUT=${OUT:-$(mktemp -d /tmp/pg-bench.XXXXXX)}
mkdir -p "$OUT"

# Paced run per N: events and events/s chosen so every N is offered 20,000 deliveries/s.
latency_args() {
    local n=$1
    local rate=$((20000 / n))
    ((rate >= 1)) || rate=1
    local events=$((rate * 10))
    ((events >= 100)) || events=100
    ((events <= 200)) || events=200
    echo "--events $events --rate $rate"
}
# Saturating run per N: about 2,000,000 deliveries.
throughput_args() {
    local n=$1
    local events=$((2000000 / n))
    ((events >= 100)) || events=100
    echo "--events $events --rate 0"
}

if [[ -z ${NO_BUILD:-} ]]; then
    # BENCH_CFLAGS: extra compiler flags, e.g. -Wno-error=format-truncation should -O3 warn
    # where the usual -O2 build does not.
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
        "-DCMAKE_C_FLAGS=${BENCH_CFLAGS-}" >"$OUT/cmake.log"
    cmake --build "$BUILD" -j"$(nproc)" --target pushgate pg-bench >>"$OUT/cmake.log" 2>&1 ||
        {
            tail -30 "$OUT/cmake.log"
            exit 1
        }
fi
PUSHGATE=${PUSHGATE:-$BUILD/pushgate}
PGBENCH=$BUILD/pg-bench

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
}

SRV_PID=
stop_server() {
    [[ -n $SRV_PID ]] || return 0
    local rc=0
    if kill -0 "$SRV_PID" 2>/dev/null; then
        kill -TERM "$SRV_PID"
        for _ in $(seq 100); do
            kill -0 "$SRV_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$SRV_PID" 2>/dev/null; then
            echo "  !! server $SRV_PID did not stop within 10 s after SIGTERM; killing it"
            kill -KILL "$SRV_PID"
        fi
        wait "$SRV_PID" || rc=$?
    else
        wait "$SRV_PID" || rc=$?
        echo "  !! server exited before it was stopped (status $rc)"
        rc=99
    fi
    SRV_PID=
    return $rc
}
trap 'stop_server || true' EXIT

# start_server WORKERS TAG
start_server() {
    local cfg=$OUT/$2.json
    cat >"$cfg" <<EOF
{
  "host": "127.0.0.1",
  "port": $WS_PORT,
  "api_port": $API_PORT,
  "workers": $1,
  "activity_timeout": 120,
  "out_queue_max_frames": 100000,
  "out_queue_max_kb": 262144,
  "log_level": "info",
  "apps": [{"id": "app-id", "key": "app-key", "secret": "app-secret"}]
}
EOF
    "$PUSHGATE" --config "$cfg" >"$OUT/$2.server.log" 2>&1 &
    SRV_PID=$!
    for _ in $(seq 100); do
        curl -fs "http://127.0.0.1:$API_PORT/ready" >/dev/null 2>&1 && return 0
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "  !! server did not become ready; its log:"
    tail -20 "$OUT/$2.server.log"
    return 1
}

FAILED=0
RESULTS=$OUT/results.jsonl
: >"$RESULTS"

# one_run REP WORKERS N KIND ARGS...
one_run() {
    local rep=$1 w=$2 n=$3 kind=$4
    shift 4
    local tag=r$rep-w$w-n$n-$kind
    local load
    load=$(cut -d' ' -f1 /proc/loadavg)
    echo "== #$rep workers=$w N=$n $kind (load $load): pg-bench --conns $n $* --payload $PAYLOAD"
    start_server "$w" "$tag" || {
        FAILED=1
        return
    }
    local rc=0
    "$PGBENCH" --ws-port "$WS_PORT" --api-port "$API_PORT" --conns "$n" --payload "$PAYLOAD" \
        --source-addrs "$SOURCE_ADDRS" --client "$CLIENT" --server-pid "$SRV_PID" --label "w$w $kind" --json \
        --quiet "$@" >"$OUT/$tag.out" 2>"$OUT/$tag.err" || rc=$?
    grep -v '^{' "$OUT/$tag.out" || true
    local src=0
    stop_server || src=$?
    local line
    line=$(grep '^{' "$OUT/$tag.out" | tail -1 || true)
    if [[ -n $line ]]; then
        echo "$line" | jq -c --arg k "$kind" --argjson w "$w" --argjson src "$src" \
            --argjson load "$load" --argjson rep "$rep" \
            '. + {kind: $k, workers: $w, server_status: $src, load: $load, rep: $rep}' >>"$RESULTS"
    fi
    if ((rc != 0 || src != 0)); then
        FAILED=1
        echo "  !! pg-bench status $rc, server stop status $src; pg-bench stderr and server log tail:"
        tail -5 "$OUT/$tag.err" || true
        tail -20 "$OUT/$tag.server.log" || true
    fi
}

echo "pushgate benchmark, logs in $OUT"
machine | tee "$OUT/machine.txt"
echo

for rep in $(seq "$REPEAT"); do
    for w in $WORKERS $COMPARE_WORKERS; do
        for n in $CONNS; do
            # shellcheck disable=SC2046 # the helpers return several words on purpose
            one_run "$rep" "$w" "$n" latency $(latency_args "$n")
            # shellcheck disable=SC2046
            one_run "$rep" "$w" "$n" throughput $(throughput_args "$n")
        done
    done
done

echo
echo "load after: $(uptime | sed 's/.*load average/load average/')"
echo
# shellcheck disable=SC2016 # jq programs, not shell expansions
JQ_DEFS='def r3: . * 1000 | round / 1000;
def r2: . * 100 | round / 100;
def r1: . * 10 | round / 10;
def rate: if .rate == 0 then "max" else "\(.rate)/s" end;
def median: sort | if length % 2 == 1 then .[length / 2 | floor]
                   else (.[length / 2 - 1] + .[length / 2]) / 2 end;'
{
    echo "Every run:"
    echo
    echo '| # | workers | N | run | load | events @ rate | connect s | RSS/idle conn KiB | deliveries/s | p50 ms | p99 ms | max ms | server us/delivery | pg-bench us/delivery | missing | ok |'
    echo '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|'
    jq -r "$JQ_DEFS"'
"| \(.rep) | \(.workers) | \(.conns) | \(.kind) | \(.load) | \(.events) @ \(rate) | \(.subscribed_s) | \(.rss_per_conn_b / 1024 | r2) | \(.deliveries_per_s) | \(.p50_ms | r2) | \(.p99_ms | r2) | \(.max_ms | r2) | \(.server_us_per_delivery | r1) | \(.bench_us_per_delivery | r1) | \(.missing) | \(if .ok and .server_status == 0 then "yes" else "NO" end) |"' "$RESULTS"
    if ((REPEAT > 1)); then
        echo
        echo "Medians over $REPEAT runs (deliveries/s as median [min-max]):"
        echo
        echo '| workers | N | run | connect s | RSS/idle conn KiB | deliveries/s | p50 ms | p99 ms | server us/delivery | failed runs |'
        echo '|---|---|---|---|---|---|---|---|---|---|'
        jq -rs "$JQ_DEFS"'
group_by([.workers, .conns, (.kind == "throughput")]) | .[] |
"| \(.[0].workers) | \(.[0].conns) | \(.[0].kind) | \(map(.subscribed_s) | median | r3) | \(map(.rss_per_conn_b) | median / 1024 | r2) | \(map(.deliveries_per_s) | median | round) [\(map(.deliveries_per_s) | min)-\(map(.deliveries_per_s) | max)] | \(map(.p50_ms) | median | r2) | \(map(.p99_ms) | median | r2) | \(map(.server_us_per_delivery) | median | r1) | \(map(select((.ok and .server_status == 0) | not)) | length) |"' "$RESULTS"
    fi
} | tee "$OUT/table.md"
echo
echo "client $CLIENT; payload $PAYLOAD B; latency runs offer 20,000 deliveries/s; throughput runs"
echo "publish with 2 REST requests in flight, so their latency is time spent queued in the server."
exit $FAILED
