#!/usr/bin/env bash
# Leader and linearizable reads while W=3 writes run: two builds side by side, rounds alternating.
#
# Usage: JAR_A=old.jar JAR_B=new.jar [ROUNDS=3] [OUT=dir] bash bench/ab-reads-under-writes.sh
#
# Two clusters at once (A on HTTP 8100-8105 / cluster 2650-2655, B on 8200-8205 / 2750-2755), taken
# down on exit. Each row: 20 s of W=3 writes from wrk (30 connections spread over the six nodes) and,
# starting 2 s in, 15 s of reads at the given consistency from wrk (20 connections to the leader).
# One warm-up row per cluster first. Prints per row the reads' rps, p50 and p99 (microseconds) and the
# writes' rps and p50 during them; the wrk outputs stay in OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${JAR_A:?JAR_A=path to the first jar}" "${JAR_B:?JAR_B=path to the second jar}"
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-$(mktemp -d /tmp/quorumkv-ab-reads.XXXXXX)}
mkdir -p "$OUT"

up() { KV_DATA="$OUT/$1" KV_JAR="$2" KV_HTTP_BASE_PORT="$3" KV_CLUSTER_BASE_PORT="$4" ./kv up --no-build >"$OUT/$1-up.log" 2>&1; }
down() { KV_DATA="$OUT/$1" KV_HTTP_BASE_PORT="$2" KV_CLUSTER_BASE_PORT="$3" ./kv down --wipe >/dev/null 2>&1 || true; }
base() { [[ $1 == A ]] && echo 8100 || echo 8200; }
pick() { grep -o "$2" "$1" | head -1 | cut -d= -f2; }

row() { # label http-base consistency
  local base=$2 targets= leader i
  for i in 0 1 2 3 4 5; do targets+=${targets:+,}127.0.0.1:$((base + i)); done
  leader=$(curl -s "http://127.0.0.1:$base/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["leader"])')
  BENCH_TARGETS=$targets BENCH_KEYS=1000 BENCH_THREADS=3 BENCH_W=3 timeout -k 5 80 \
    wrk -t3 -c30 -d20s --timeout 10s -s bench/wrk/quorumkv-put.lua "http://127.0.0.1:$base/" >"$OUT/$1-writes.txt" 2>&1 &
  sleep 2
  BENCH_CONSISTENCY=$3 BENCH_KEYS=1000 BENCH_THREADS=2 timeout -k 5 80 \
    wrk -t2 -c20 -d15s --timeout 10s -s bench/wrk/quorumkv-get.lua "http://127.0.0.1:$((base + ${leader#node}))/" \
    >"$OUT/$1-reads.txt" 2>&1
  wait
  printf '%-18s reads rps=%s p50_us=%s p99_us=%s non2xx=%s | writes rps=%s p50_us=%s | load=%s\n' "$1" \
    "$(pick "$OUT/$1-reads.txt" ' rps=[0-9.]*')" "$(pick "$OUT/$1-reads.txt" 'p50_us=[0-9]*')" \
    "$(pick "$OUT/$1-reads.txt" 'p99_us=[0-9]*')" "$(pick "$OUT/$1-reads.txt" 'non2xx=[0-9]*')" \
    "$(pick "$OUT/$1-writes.txt" ' rps=[0-9.]*')" "$(pick "$OUT/$1-writes.txt" 'p50_us=[0-9]*')" \
    "$(cut -d' ' -f1 /proc/loadavg)"
}

trap 'down A 8100 2650; down B 8200 2750' EXIT INT TERM
up A "$JAR_A" 8100 2650
up B "$JAR_B" 8200 2750
echo "A ($JAR_A): $(tail -1 "$OUT/A-up.log"); B ($JAR_B): $(tail -1 "$OUT/B-up.log")"
for c in A B; do row "warm-$c" "$(base $c)" linearizable >/dev/null; done
for r in $(seq 1 "$ROUNDS"); do
  order="A B"; (( r % 2 )) || order="B A"
  for level in linearizable leader; do
    for c in $order; do row "$level-$c-$r" "$(base $c)" "$level"; done
  done
done
echo "rows in $OUT"
