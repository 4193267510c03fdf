#!/usr/bin/env bash
# The core measurements of the local cluster, as reported in the issue notes:
#   1. time from `./kv up` (jar already built, empty data) until every node is ready;
#   2. write latency and throughput, W=3, 20 concurrent clients, 10,000 writes over 100 keys,
#      without injected delay and with MIN_DELAY..MAX_DELAY = 0.1ms..10ms;
#   3. recovery time of a node holding 100,000 keys after kill -9.
# Bounded: every step has a count or a timeout. Only talks to 127.0.0.1. Wipes ./data.
set -euo pipefail
cd "$(dirname "$0")/.."

WRITES=${WRITES:-10000}
CLIENTS=${CLIENTS:-20}
RECOVERY_KEYS=${RECOVERY_KEYS:-100000}
OUT=${OUT:-target/core-measurements}
mkdir -p "$OUT"

[ -f target/quorumkv.jar ] || mvn -B -q package -DskipTests
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, load $(cut -d' ' -f1-3 /proc/loadavg)"

./kv down --wipe >/dev/null 2>&1 || true
start=$(date +%s.%N)
./kv up --no-build | tail -n 3
echo "time to ready: $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s (./kv up, empty data, jar built)"

echo "== W=3, $CLIENTS clients, $WRITES writes, no injected delay"
./kv bench --writes "$WRITES" --clients "$CLIENTS" --w 3 --keys 100 --quiet --json "$OUT/w3-nodelay.json"
./kv check >/dev/null && echo "replicas consistent after the run"

./kv down >/dev/null
./kv up --no-build --delay 0.1ms..10ms >/dev/null
echo "== W=3, $CLIENTS clients, $WRITES writes, injected delay uniform 0.1..10 ms per follower"
./kv bench --writes "$WRITES" --clients "$CLIENTS" --w 3 --keys 100 --quiet --json "$OUT/w3-delay.json"
./kv check >/dev/null && echo "replicas consistent after the run"

./kv down --wipe >/dev/null
./kv up --no-build >/dev/null
echo "== recovery: $RECOVERY_KEYS distinct keys, then kill -9 node3 and start it again"
./kv bench --writes "$RECOVERY_KEYS" --clients 32 --w 3 --keys "$RECOVERY_KEYS" --quiet >/dev/null
./kv check >/dev/null && echo "replicas consistent: $(curl -s http://127.0.0.1:8003/status | grep -o '"keyCount":[0-9]*')"
./kv kill node3 >/dev/null
start=$(date +%s.%N)
./kv start node3 >/dev/null
echo "node3 ready again after $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s (JVM start + recovery + rejoin)"
grep "recovered in" data/node3/node.log | tail -n 1
ls -la data/node3/replica.db* | awk '{print "  " $5 " bytes  " $9}'
./kv down >/dev/null
