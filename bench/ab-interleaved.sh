#!/usr/bin/env bash
# ab-interleaved.sh: two builds compared on a shared, noisy machine. Both 6-node clusters run at
# once (A: JAR_A, HTTP 8100..8105; B: JAR_B, HTTP 8200..8205), and the load alternates between them
# in short rows, so both see the same background load and the same stage of their JIT warm-up:
#   prefill  every key written once on each (so that a read row's non-2xx are errors, not reads
#            of a key the random writes missed: 5,600 writes over 1,000 keys miss a few);
#   warm-up  2 x 30 s of writes and 10 s of reads on each;
#   ROUNDS   rounds of: W=3 writes, 60 connections spread over the six nodes, 15 s on each; then
#            local reads, 60 connections spread, 10 s on each; with ONE_CONNECTION=1 also W=3
#            writes over one connection to the leader, 10 s on each (the order swaps every round).
# One line per row: requests/s, non-2xx, p50 / p99 (µs), server CPU per request (ms, the six JVMs'
# utime + stime from /proc/<pid>/stat), the load average and the share of the machine's CPU time the
# hypervisor took during the row (steal, from /proc/stat). Compare B/A round by round, and run it
# again with the two jars swapped: the cluster started first was seen to keep a head start.
# Not a test: it exits 0 whatever the figures; both clusters are stopped and wiped on exit, the
# node logs of a cluster that gave any non-2xx answer kept first in OUT/A-logs or OUT/B-logs.
#
# Usage: JAR_A=old.jar JAR_B=new.jar [OPTS_A=..] [OPTS_B=..] [ROUNDS=6] [ONE_CONNECTION=1] [OUT=dir]
#        bash bench/ab-interleaved.sh
# OPTS_A / OPTS_B: the nodes' JAVA_OPTS on each side (default: ./kv's); one jar with two sets of
# options compares settings (-Dakka...=...) the same way.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
: "${JAR_A:?JAR_A: the first build's node jar}" "${JAR_B:?JAR_B: the second build's node jar}"
ROUNDS=${ROUNDS:-6}
OUT=${OUT:-$(mktemp -d /tmp/quorumkv-ab.XXXXXX)}
mkdir -p "$OUT"

up() { # name jar http-base cluster-base [java-opts]
  env ${5:+"JAVA_OPTS=$5"} KV_DATA="$OUT/$1" KV_JAR="$2" KV_HTTP_BASE_PORT="$3" KV_CLUSTER_BASE_PORT="$4" ./kv up --no-build >"$OUT/$1-up.log" 2>&1 && return
  # Kept before the exit's wipe: a cluster that does not get ready is a finding, not noise.
  mkdir -p "$OUT/$1-logs"
  for d in "$OUT/$1"/node*; do cp -p "$d/node.log" "$OUT/$1-logs/${d##*/}.log" 2>/dev/null || true; done
  echo "cluster $1 did not get ready (./kv up: $(grep -v '^  |' "$OUT/$1-up.log" | grep 'not ready' | tail -1)); its node logs are in $OUT/$1-logs" >&2
  return 1
}
down() { # name http-base cluster-base
  KV_DATA=$OUT/$1 KV_HTTP_BASE_PORT=$2 KV_CLUSTER_BASE_PORT=$3 ./kv down --wipe >/dev/null 2>&1 || true
}
cpu_stat() { awk '$1 == "cpu" { t = 0; for (i = 2; i <= 9; i++) t += $i; print $9, t; exit }' /proc/stat; }
ticks() { for p in $(cat "$OUT/$1"/node*/pid); do awk '{print $14 + $15}' "/proc/$p/stat"; done | paste -sd+ | bc; }
row() { # cluster http-base write|read|one seconds label
  local targets= script=quorumkv-put.lua t0 t1 s0 s1 requests threads=6 connections=60 leader i
  for i in 0 1 2 3 4 5; do targets+=${targets:+,}127.0.0.1:$(($2 + i)); done
  [[ $3 == read ]] && script=quorumkv-get.lua
  if [[ $3 == one ]]; then
    leader=$(curl -s "http://127.0.0.1:$2/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["leader"])')
    targets=127.0.0.1:$(($2 + ${leader#node})) threads=1 connections=1
  fi
  t0=$(ticks "$1")
  s0=$(cpu_stat)
  BENCH_TARGETS=$targets BENCH_KEYS=1000 BENCH_VALUE_SIZE=100 BENCH_THREADS=$threads BENCH_W=3 BENCH_SEED=42 \
    timeout -k 5 $(($4 + 60)) wrk --latency -t $threads -c $connections -d "$4s" --timeout 10s -s "bench/wrk/$script" \
    "http://127.0.0.1:$2/" >"$OUT/$5.txt" 2>&1
  t1=$(ticks "$1")
  s1=$(cpu_stat)
  requests=$(grep -o 'requests=[0-9]*' "$OUT/$5.txt" | cut -d= -f2)
  printf '%-8s %s %s %s %s cpu_ms=%s load=%s steal=%s%%\n' "$5" "$(grep -o ' rps=[0-9.]*' "$OUT/$5.txt" | head -1)" \
    "$(grep -o 'non2xx=[0-9]*' "$OUT/$5.txt")" "$(grep -o 'p50_us=[0-9]*' "$OUT/$5.txt")" \
    "$(grep -o 'p99_us=[0-9]*' "$OUT/$5.txt")" "$(echo "scale=3; ($t1 - $t0) * 10 / $requests" | bc)" \
    "$(cut -d' ' -f1 /proc/loadavg)" \
    "$(awk -v a="$s0" -v b="$s1" 'BEGIN { split(a, x, " "); split(b, y, " "); d = y[2] - x[2]; if (d > 0) printf "%.0f", (y[1] - x[1]) * 100 / d; else print "-" }')"
}
prefill() { # cluster http-base: every key once, then stops (bounded by 120 s)
  local targets= i pid keys=0
  for i in 0 1 2 3 4 5; do targets+=${targets:+,}127.0.0.1:$(($2 + i)); done
  BENCH_TARGETS=$targets BENCH_KEYS=1000 BENCH_VALUE_SIZE=100 BENCH_THREADS=6 BENCH_W=3 BENCH_PREFILL=1 \
    timeout -k 5 130 wrk -t 6 -c 60 -d 120s --timeout 10s -s bench/wrk/quorumkv-put.lua \
    "http://127.0.0.1:$2/" >"$OUT/prefill-$1.txt" 2>&1 &
  pid=$!
  # wrk waits for -d after its threads stop: it is interrupted once the first node holds every key.
  for ((i = 0; i < 240; i++)); do
    sleep 0.5
    keys=$(curl -s "http://127.0.0.1:$2/status" | grep -o '"keyCount":[0-9]*' | cut -d: -f2)
    [[ ${keys:-0} -ge 1000 ]] && break
    kill -0 "$pid" 2>/dev/null || break
  done
  kill -INT "$pid" 2>/dev/null || true
  wait "$pid" || true
  echo "prefill $1: ${keys:-?} of 1000 keys" >&2
}
base() { [[ $1 == A ]] && echo 8100 || echo 8200; }
keep_logs() { # name: its node logs, before the wipe, when any of its rows had non-2xx answers
  local d
  if grep -qs 'non2xx=[1-9]' "$OUT"/*-"$1"-*.txt "$OUT"/warm-"$1"*.txt "$OUT"/warm-r"$1".txt "$OUT/prefill-$1.txt"; then
    mkdir -p "$OUT/$1-logs"
    for d in "$OUT/$1"/node*; do cp -p "$d/node.log" "$OUT/$1-logs/${d##*/}.log" 2>/dev/null || true; done
    echo "non-2xx answers from $1: its node logs are in $OUT/$1-logs" >&2
  fi
}

trap 'keep_logs A; keep_logs B; down A 8100 2650; down B 8200 2750' EXIT INT TERM
up A "$JAR_A" 8100 2650 "${OPTS_A:-}"
up B "$JAR_B" 8200 2750 "${OPTS_B:-}"
echo "A ($JAR_A ${OPTS_A:-}): $(tail -1 "$OUT/A-up.log"); B ($JAR_B ${OPTS_B:-}): $(tail -1 "$OUT/B-up.log")"
prefill A 8100
prefill B 8200
for i in 1 2; do
  row A 8100 write 30 "warm-A$i" >/dev/null
  row B 8200 write 30 "warm-B$i" >/dev/null
done
row A 8100 read 10 warm-rA >/dev/null
row B 8200 read 10 warm-rB >/dev/null
for r in $(seq 1 "$ROUNDS"); do
  order="A B"; (( r % 2 )) || order="B A"
  for c in $order; do row "$c" "$(base "$c")" write 15 "w-$c-$r"; done
  for c in $order; do row "$c" "$(base "$c")" read 10 "r-$c-$r"; done
  if [[ ${ONE_CONNECTION:-0} == 1 ]]; then
    for c in $order; do row "$c" "$(base "$c")" one 10 "one-$c-$r"; done
  fi
done
echo "rows in $OUT"
