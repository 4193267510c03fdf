#!/usr/bin/env bash
# ab-writes.sh: one write-throughput run of the local cluster with a given jar and JVM options,
# for before/after comparisons: run it alternately for the variants (A B A B ...) in one sitting
# and compare the lines, since absolute figures on a shared machine drift.
#
#   bench/ab-writes.sh LABEL "JVM OPTIONS" JAR [CLIENTS] [RESULTS_FILE]
#   e.g. bench/ab-writes.sh if4 "-Dquorumkv.replication.max-in-flight=4" target/quorumkv.jar
#
# Starts `./kv up --quorum 3 --no-build` (KV_CDS=0, data wiped before and after), writes 8,000
# unrecorded W=3 writes to the leader from CLIENTS (default 60) clients, then 10,000 recorded ones,
# and appends one line to RESULTS_FILE (default bench/results/ab-writes.txt): throughput, latency
# percentiles, CPU time of the six JVMs per recorded write (utime + stime from /proc/<pid>/stat),
# the load average before and after, and the first follower's journal writes (count, total s).
# Not a test: it exits 0 whatever the figures.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
label=$1; opts=$2; jar=$3; clients=${4:-60}; out=${5:-$ROOT/bench/results/ab-writes.txt}
mkdir -p "$(dirname "$out")"
base=${KV_HTTP_BASE_PORT:-8000}
data=${KV_DATA:-$ROOT/data}
trap './kv down --wipe >/dev/null 2>&1 || true' EXIT
./kv down --wipe >/dev/null 2>&1 || true
KV_JAR=$jar JAVA_OPTS="@$ROOT/jvm.options $opts" KV_CDS=0 ./kv up --quorum 3 --no-build >/dev/null
n=$(curl -s "http://127.0.0.1:$base/status" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["leader"][4:]))')
leader=http://127.0.0.1:$((base + n)); follower=$((base + (n + 1) % 6))
./kv bench --clients "$clients" --w 3 --writes 8000 --quiet --nodes "$leader" >/dev/null 2>&1
ticks() { for p in $(cat "$data"/node*/pid); do awk '{print $14 + $15}' "/proc/$p/stat"; done | paste -sd+ | bc; }
t0=$(ticks); la0=$(cut -d' ' -f1 /proc/loadavg)
result=$(./kv bench --clients "$clients" --w 3 --writes 10000 --quiet --nodes "$leader" 2>&1 \
  | grep -E 'throughput|latency' | sed 's/successful writes.s//; s/latency ms//' | tr -s ' ' | tr '\n' ' ')
t1=$(ticks); la1=$(cut -d' ' -f1 /proc/loadavg)
hz=$(getconf CLK_TCK)
journal=$(curl -s "http://127.0.0.1:$follower/metrics" \
  | awk '/^quorumkv_replica_persist_seconds_(count|sum)/ {sub("quorumkv_replica_persist_seconds_", "", $1); printf "%s=%s ", $1, $2}')
printf '%s c%s load=%s/%s cpu_ms_per_write=%.2f %s| follower journal writes: %s\n' "$label" "$clients" "$la0" "$la1" \
  "$(echo "($t1 - $t0) * 1000 / $hz / 10000" | bc -l)" "$result" "$journal" | tee -a "$out"
