#!/usr/bin/env bash
# write-split.sh: what spreading the load over the nodes costs a write. One local cluster; after a
# warm-up, rows of W=3 writes at CONNECTIONS alternate between spread over the six nodes (one wrk
# thread each; followers forward their writes to the leader) and all on the leader (2 wrk threads).
# Per row: writes/s, p50/p99, the server CPU per write (utime + stime of the six JVMs from
# /proc/<pid>/stat), the entries per Replicate (quorumkv_replicate_batch_entries) and the writes
# per forwarded batch (quorumkv_forwarded_batch_writes), summed over the nodes. Not a test: it
# prints numbers and exits 0 whatever they are.
#
# Environment [defaults]: ROUNDS [2]  WARMUP [90] (s, spread)  DURATION [20] (s per row)
#   CONNECTIONS [60]  KV_DATA [temp dir]  KV_HTTP_BASE_PORT [8000] (as for ./kv)
# Bounded: every wrk run has -d and a hard timeout; a trap stops the cluster and deletes KV_DATA
# when it made it. Only 127.0.0.1.
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."

ROUNDS=${ROUNDS:-2}
WARMUP=${WARMUP:-90}
DURATION=${DURATION:-20}
CONNECTIONS=${CONNECTIONS:-60}
BASE=${KV_HTTP_BASE_PORT:-8000}
OWN_DATA=
if [[ -z ${KV_DATA:-} ]]; then
  KV_DATA=$(mktemp -d /tmp/quorumkv-write-split.XXXXXX)
  OWN_DATA=1
fi
export KV_DATA
OUT=$(mktemp -d /tmp/quorumkv-write-split-out.XXXXXX)

cleanup() {
  ./kv down --wipe >/dev/null 2>&1 || true
  [[ -n $OWN_DATA ]] && rm -rf "$KV_DATA"
  rm -rf "$OUT"
}
trap cleanup EXIT INT TERM

command -v wrk >/dev/null || { echo "write-split.sh: needs wrk (apt-get install wrk)" >&2; exit 1; }
./kv up >"$OUT/up.log" 2>&1 || { cat "$OUT/up.log" >&2; exit 1; }

nodes=(0 1 2 3 4 5)
cpu_ticks() {
  local t=0 n pid
  for n in "${nodes[@]}"; do
    pid=$(cat "$KV_DATA/node$n/pid")
    t=$((t + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$t"
}
metric_sum() { # the sum over the nodes of one metric's value
  local n t=0 v
  for n in "${nodes[@]}"; do
    v=$(curl -fsS -m 5 "http://127.0.0.1:$((BASE + n))/metrics" | awk -v k="$1" '$1 == k { print $2 }')
    t=$(awk -v a="$t" -v b="${v:-0}" 'BEGIN { printf "%.0f", a + b }')
  done
  echo "$t"
}
counters() {
  echo "$(cpu_ticks) $(metric_sum quorumkv_replicate_batch_entries_sum) $(metric_sum quorumkv_replicate_batch_entries_count)" \
    "$(metric_sum quorumkv_forwarded_batch_writes_sum) $(metric_sum quorumkv_forwarded_batch_writes_count)"
}
leader_node=$(curl -fsS -m 5 "http://127.0.0.1:$BASE/status" |
  grep -oE '"leader"[[:space:]]*:[[:space:]]*"node[0-9]+"' | head -n 1 | grep -oE '[0-9]+"$' | tr -d '"')
leader=127.0.0.1:$((BASE + leader_node))
spread=$(printf '127.0.0.1:%s,' $(seq "$BASE" $((BASE + 5))))
spread=${spread%,}

run_wrk() { # label threads targets seconds
  BENCH_TARGETS=$3 BENCH_KEYS=1000 BENCH_VALUE_SIZE=100 BENCH_THREADS=$2 BENCH_LABEL=$1 BENCH_SEED=42 BENCH_W=3 \
    timeout -k 5 $(($4 + 60)) wrk --latency -t "$2" -c "$CONNECTIONS" -d "${4}s" --timeout 10s \
    -s bench/wrk/quorumkv-put.lua "http://${3%%,*}/" >"$OUT/wrk-$1.txt" 2>&1
  grep '^RESULT' "$OUT/wrk-$1.txt"
}

echo "write-split: leader $leader, $CONNECTIONS connections, W=3, warm-up ${WARMUP} s spread, rows of ${DURATION} s"
run_wrk warmup 6 "$spread" "$WARMUP" >/dev/null
printf '| row | writes/s | p50 ms | p99 ms | non-2xx | CPU per write ms | entries per Replicate | writes per forwarded batch | load |\n'
printf '| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n'
clk=$(getconf CLK_TCK)
for round in $(seq "$ROUNDS"); do
  for mode in spread leader; do
    if [[ $mode == spread ]]; then targets=$spread threads=6; else targets=$leader threads=2; fi
    before=$(counters)
    result=$(run_wrk "$mode-$round" "$threads" "$targets" "$DURATION")
    after=$(counters)
    awk -v r="$result" -v b="$before" -v a="$after" -v clk="$clk" -v row="$mode $round" \
      -v load="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
        n = split(r, f, " "); for (i = 2; i <= n; i++) { split(f[i], kv, "="); x[kv[1]] = kv[2] }
        split(b, B, " "); split(a, A, " ")
        ok = x["requests"] - x["non2xx"]
        printf "| %s | %.0f | %.1f | %.1f | %d | %.3f | %.1f | %.2f | %s |\n", row, x["ok_rps"], x["p50_us"] / 1000,
          x["p99_us"] / 1000, x["non2xx"], (ok > 0 ? (A[1] - B[1]) * 1000 / clk / ok : 0),
          ((A[3] - B[3]) > 0 ? (A[2] - B[2]) / (A[3] - B[3]) : 0), ((A[5] - B[5]) > 0 ? (A[4] - B[4]) / (A[5] - B[5]) : 0), load }'
  done
done
