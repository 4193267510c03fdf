#!/usr/bin/env bash
# profile-write-path.sh: CPU flame graphs of the write path (with LOAD=wrk-read: the read path)
# under load. Starts the local cluster (`./kv up --quorum W --no-build`, data in a temp dir), warms
# it up, then profiles the leader's JVM and one follower's with async-profiler (from Maven
# Central) for PROFILE_SECONDS under load:
#   LOAD=bench (default): `./kv bench` writes to the leader at CLIENTS connections, after
#                         WARMUP_WRITES unrecorded writes;
#   LOAD=wrk:             wrk writes at CLIENTS connections spread over the six nodes (the load of
#                         bench/vs-etcd.sh: followers forward to the leader), after WARMUP_SECONDS
#                         [120] of the same load;
#   LOAD=wrk-read:        local reads (GET /kv/{key}, the load of bench/vs-etcd.sh's read row) at
#                         CLIENTS connections spread over the six nodes, after 20 s of the wrk
#                         writes (every key written) and WARMUP_SECONDS of the same reads;
# and writes
#   OUT/leader.html, OUT/follower.html       flame graphs (open in a browser)
#   OUT/leader.collapsed, OUT/follower.collapsed   the same stacks, one line per stack
#   OUT/bench.txt                            the load's figures
# Not a test: it prints where the files are and exits 0 whatever the figures.
#
# Environment (defaults in brackets): LOAD [bench]  W [3]  CLIENTS [60]  WARMUP_WRITES [20000]
#   WARMUP_SECONDS [120] (LOAD=wrk, wrk-read)  KEYS [1000] (LOAD=wrk, wrk-read)  JAVA_OPTS / KV_JAR as for ./kv
#   PROFILE_SECONDS [20]  EVENT [itimer] (async-profiler event; cpu needs perf_event_paranoid <= 1)
#   OUT [bench/results/profile-<timestamp>]  KV_HTTP_BASE_PORT / KV_CLUSTER_BASE_PORT as for ./kv
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
LOAD=${LOAD:-bench}; W=${W:-3}; CLIENTS=${CLIENTS:-60}; WARMUP_WRITES=${WARMUP_WRITES:-20000}
WARMUP_SECONDS=${WARMUP_SECONDS:-120}; KEYS=${KEYS:-1000}
PROFILE_SECONDS=${PROFILE_SECONDS:-20}; EVENT=${EVENT:-itimer}
what=writes; [[ $LOAD == wrk-read ]] && what=reads
OUT=${OUT:-$ROOT/bench/results/profile-$(date +%Y%m%d-%H%M%S)}
AP_VERSION=3.0
BASE=${KV_HTTP_BASE_PORT:-8000}
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/quorumkv-profile.XXXXXX)
export KV_DATA=$TMP/data
cleanup() { ./kv down --wipe >/dev/null 2>&1 || true; rm -rf "$TMP"; }
trap cleanup EXIT INT TERM

jar=$HOME/.m2/repository/tools/profiler/async-profiler/$AP_VERSION/async-profiler-$AP_VERSION-linux-x64.jar
[[ -f $jar ]] || mvn -B -q dependency:get -Dartifact=tools.profiler:async-profiler:$AP_VERSION:jar:linux-x64
(cd "$TMP" && unzip -q -o "$jar")
LIB=$TMP/linux-x64/libasyncProfiler.so
# Compiled once: `java Attach.java` compiles on every call, which took ~26 s on a loaded machine.
javac -d "$TMP/cls" "$ROOT/bench/profiler/Attach.java"
attach() { java -cp "$TMP/cls" Attach "$1" "$LIB" "$2"; }

[[ -f target/quorumkv.jar && -f tools/target/quorumkv-tools.jar ]] || mvn -B -q package -DskipTests -pl tools -am
./kv up --quorum "$W" --no-build
leader=$(curl -s "http://127.0.0.1:$BASE/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["leader"])')
n=${leader#node}; follower=node$(( (n + 1) % 6 ))
pid_of() { cat "$KV_DATA/$1/pid"; }
url=http://127.0.0.1:$((BASE + n))
echo "leader $leader (pid $(pid_of "$leader")), profiled follower $follower (pid $(pid_of "$follower"))"
wrk_load() { # seconds output [script: quorumkv-put.lua]
  local targets=
  for i in 0 1 2 3 4 5; do targets+=${targets:+,}127.0.0.1:$((BASE + i)); done
  BENCH_TARGETS=$targets BENCH_KEYS=$KEYS BENCH_VALUE_SIZE=100 BENCH_THREADS=6 BENCH_W=$W BENCH_SEED=42 \
    timeout -k 5 $(($1 + 60)) wrk --latency -t 6 -c "$CLIENTS" -d "$1s" --timeout 10s \
    -s "$ROOT/bench/wrk/${3:-quorumkv-put.lua}" "http://127.0.0.1:$BASE/" >"$2" 2>&1
}
if [[ $LOAD == wrk ]]; then
  wrk_load "$WARMUP_SECONDS" "$OUT/warmup.txt"
  # A load that outlasts the profile: it is stopped once the profile is taken.
  wrk_load $((PROFILE_SECONDS + 30)) "$OUT/bench.txt" &
elif [[ $LOAD == wrk-read ]]; then
  wrk_load 20 "$OUT/writes.txt"
  wrk_load "$WARMUP_SECONDS" "$OUT/warmup.txt" quorumkv-get.lua
  wrk_load $((PROFILE_SECONDS + 30)) "$OUT/bench.txt" quorumkv-get.lua &
else
  ./kv bench --quiet --clients "$CLIENTS" --w "$W" --writes "$WARMUP_WRITES" --nodes "$url" >/dev/null
  ./kv bench --quiet --clients "$CLIENTS" --w "$W" --writes 100000000 --nodes "$url" >"$OUT/bench.txt" 2>&1 &
fi
load=$!
sleep 3
for node in "$leader" "$follower"; do attach "$(pid_of "$node")" "start,event=$EVENT,interval=1ms"; done
sleep "$PROFILE_SECONDS"
for pair in "leader:$leader" "follower:$follower"; do
  role=${pair%%:*}; node=${pair#*:}
  attach "$(pid_of "$node")" "dump,file=$OUT/$role.collapsed,collapsed"
  attach "$(pid_of "$node")" "stop,file=$OUT/$role.html,flamegraph,title=quorumkv $role ($node) $what W=$W c$CLIENTS ($LOAD)"
done
pkill -INT -P "$load" 2>/dev/null || true; kill "$load" 2>/dev/null || true; wait "$load" 2>/dev/null || true
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/bench.txt"
echo "flame graphs: $OUT/leader.html $OUT/follower.html"
