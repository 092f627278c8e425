#!/usr/bin/env bash
# Runs the same mqtt-load cases against m2m-broker, Mosquitto and rumqttd,
# one broker after the other (interleaved when RUNS > 1), each on a fresh
# process listening on 127.0.0.1 on a free port, and prints one Markdown table.
#
# Usage: scripts/broker-compare.sh            (builds the release binaries first)
# Environment (defaults in brackets):
#   RUNS [2]                     rounds; each round runs every broker once
#   BROKERS ["m2m mosquitto rumqttd"]
#   BIN_DIR [$CARGO_TARGET_DIR/release]  where m2m-broker and mqtt-load are
#   NO_BUILD [unset]             set to skip `cargo build`
#   MOSQUITTO [/usr/sbin/mosquitto], RUMQTTD [~/.cargo/bin/rumqttd]
#   IDLE_N [3000] CONN_N [5000] CONN_C [32]
#   FANIN_PUBS [4] FANIN_N [500000] FANOUT_SUBS [4] FANOUT_N [200000] SIZE [64]
#   LAT_RATE [5000] LAT_SECS [5]
#   OUT [a temporary directory]  keeps every RESULT line in $OUT/results.txt
# rumqttd is skipped (with a note) when its binary is missing.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN_DIR=${BIN_DIR:-$TARGET/release}
RUNS=${RUNS:-2}
BROKERS=${BROKERS:-"m2m mosquitto rumqttd"}
MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}
RUMQTTD=${RUMQTTD:-$HOME/.cargo/bin/rumqttd}
IDLE_N=${IDLE_N:-3000}
CONN_N=${CONN_N:-5000}
CONN_C=${CONN_C:-32}
FANIN_PUBS=${FANIN_PUBS:-4}
FANIN_N=${FANIN_N:-500000}
FANOUT_SUBS=${FANOUT_SUBS:-4}
FANOUT_N=${FANOUT_N:-200000}
SIZE=${SIZE:-64}
LAT_RATE=${LAT_RATE:-5000}
LAT_SECS=${LAT_SECS:-5}
OUT=${OUT:-$(mktemp -d /tmp/broker-compare.XXXXXX)}
mkdir -p "$OUT"

# Idle connections need file descriptors in the brokers and the load tool.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((IDLE_N + 200)) ]; then
    echo "ulimit -n is $(ulimit -n): lowering IDLE_N to $(($(ulimit -n) - 200))" >&2
    IDLE_N=$(($(ulimit -n) - 200))
fi

if [ -z "${NO_BUILD:-}" ]; then
    (cd "$ROOT" && cargo build --release -p m2m-examples --bin m2m-broker --bin mqtt-load)
fi
LOAD="$BIN_DIR/mqtt-load"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    return 1
}

PID=
start_broker() { # name port
    local name=$1 port=$2
    case $name in
    m2m)
        printf 'sys_interval = 10\n[[listener]]\nbind = "127.0.0.1:%s"\n' "$port" >"$OUT/m2m.toml"
        "$BIN_DIR/m2m-broker" -c "$OUT/m2m.toml" >"$OUT/m2m.log" 2>&1 &
        ;;
    mosquitto)
        printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_connections -1\npersistence false\nlog_dest stderr\nlog_type error\n' \
            "$port" >"$OUT/mosquitto.conf"
        "$MOSQUITTO" -c "$OUT/mosquitto.conf" >"$OUT/mosquitto.log" 2>&1 &
        ;;
    rumqttd)
        # Its default configuration (rumqttd.toml), MQTT 3.1.1 listener only, on our
        # port, without the 1 ms pause between two accepts (next_connection_delay_ms).
        cat >"$OUT/rumqttd.toml" <<EOF
id = 0

[router]
id = 0
max_connections = 20010
max_outgoing_packet_count = 200
max_segment_size = 104857600
max_segment_count = 10

[v4.1]
name = "v4-1"
listen = "127.0.0.1:$port"
next_connection_delay_ms = 0
    [v4.1.connections]
    connection_timeout_ms = 60000
    max_payload_size = 20480
    max_inflight_count = 100
    dynamic_filters = true
EOF
        "$RUMQTTD" -c "$OUT/rumqttd.toml" -q >"$OUT/rumqttd.log" 2>&1 &
        ;;
    esac
    PID=$!
    wait_port "$port"
}

stop_broker() {
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=
}
trap 'stop_broker' EXIT

# The mqtt-load subcommand among its arguments.
case_name() {
    for a in "$@"; do
        case $a in fan-in | fan-out | latency | conn-rate | idle) echo "$a"; return ;; esac
    done
}

run_case() { # broker run args...
    local broker=$1 run=$2
    shift 2
    local line
    if line=$("$LOAD" "$@" 2>>"$OUT/load.err" | tee -a "$OUT/load.log" | grep '^RESULT'); then
        echo "broker=$broker run=$run ${line#RESULT }" >>"$OUT/results.txt"
        echo "  $broker: ${line#RESULT }"
    else
        echo "broker=$broker run=$run case=$(case_name "$@") status=failed" >>"$OUT/results.txt"
        echo "  $broker: $* failed (see $OUT/load.err)"
    fi
}

for run in $(seq "$RUNS"); do
    for broker in $BROKERS; do
        if [ "$broker" = rumqttd ] && [ ! -x "$RUMQTTD" ]; then
            echo "rumqttd: $RUMQTTD missing, skipped" >&2
            continue
        fi
        port=$(free_port)
        echo "run $run: $broker on 127.0.0.1:$port"
        start_broker "$broker" "$port"
        sleep 0.5
        # Memory first, on a fresh process.
        run_case "$broker" "$run" -p "$port" idle --count "$IDLE_N" --pid "$PID"
        sleep 1
        run_case "$broker" "$run" -p "$port" conn-rate --count "$CONN_N" --concurrency "$CONN_C"
        for qos in 0 1; do
            run_case "$broker" "$run" -p "$port" --threads 2 fan-in --qos "$qos" \
                --publishers "$FANIN_PUBS" --count "$FANIN_N" --size "$SIZE"
            run_case "$broker" "$run" -p "$port" --threads 2 fan-out --qos "$qos" \
                --subscribers "$FANOUT_SUBS" --count "$FANOUT_N" --size "$SIZE"
            run_case "$broker" "$run" -p "$port" latency --qos "$qos" --rate "$LAT_RATE" \
                --secs "$LAT_SECS" --size "$SIZE"
        done
        stop_broker
    done
done

# (mosquitto -h exits non-zero.)
versions="m2m-broker $( ("$BIN_DIR/m2m-broker" --version || true) 2>/dev/null | awk '{print $2}')"
versions="$versions, $( ("$MOSQUITTO" -h || true) 2>/dev/null | head -1)"
if [ -x "$RUMQTTD" ]; then
    versions="$versions, rumqttd $( ("$RUMQTTD" --version || true) 2>/dev/null | awk '{print $2}')"
fi
echo
echo "Versions: $versions. Results: $OUT/results.txt"
python3 "$ROOT/scripts/broker-table.py" "$OUT/results.txt"
