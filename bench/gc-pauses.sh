#!/usr/bin/env bash
# gc-pauses.sh: the nodes' GC pauses under write load, beside wrk's latency. Not a test: it
# measures and prints, and exits 0 whatever the figures.
#
# Starts the local cluster (`./kv up --no-build`, data in a temp dir) with JAVA_OPTS plus a GC
# log per JVM (-Xlog:gc,safepoint), runs WARMUP_SECONDS of wrk W=3 writes at 60 connections
# spread over the six nodes, then MEASURE_SECONDS more with latency recorded, then READ_SECONDS of
# local reads; stops the cluster and prints, per JVM and over all six, the young and full pauses
# logged during the measured writes (their count, median, p90, maximum and sum).
#
# Environment (defaults in brackets): JAVA_OPTS [the flags in jvm.options]  KV_JAR as for ./kv
#   WARMUP_SECONDS [90]  MEASURE_SECONDS [30]  READ_SECONDS [15]  KEYS [1000]  W [3]
#   OUT [a temp dir; the GC logs and wrk's output are kept there]
#   KV_HTTP_BASE_PORT / KV_CLUSTER_BASE_PORT as for ./kv
# Any other variable the nodes read passes through, e.g. WATCH_HISTORY=1000 bash bench/gc-pauses.sh.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
JOPTS=${JAVA_OPTS:-@$ROOT/jvm.options}
WARMUP_SECONDS=${WARMUP_SECONDS:-90}; MEASURE_SECONDS=${MEASURE_SECONDS:-30}; READ_SECONDS=${READ_SECONDS:-15}
KEYS=${KEYS:-1000}; W=${W:-3}
OUT=${OUT:-$(mktemp -d /tmp/quorumkv-gc.XXXXXX)}
BASE=${KV_HTTP_BASE_PORT:-8000}
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/quorumkv-gc-data.XXXXXX)
export KV_DATA=$TMP/data
cleanup() { ./kv down --wipe >/dev/null 2>&1 || true; rm -rf "$TMP"; }
trap cleanup EXIT INT TERM

[[ -f target/quorumkv.jar ]] || mvn -B -q package -DskipTests -pl src -am
rm -f "$OUT"/gc-*.log
JAVA_OPTS="$JOPTS -Xlog:gc,safepoint:file=$OUT/gc-%p.log:uptime" ./kv up --quorum "$W" --no-build | tail -n 1
targets=
for i in 0 1 2 3 4 5; do targets+=${targets:+,}127.0.0.1:$((BASE + i)); done
load() { # script seconds output
  BENCH_TARGETS=$targets BENCH_KEYS=$KEYS BENCH_VALUE_SIZE=100 BENCH_THREADS=6 BENCH_W=$W BENCH_SEED=42 \
    timeout -k 5 $(($2 + 60)) wrk --latency -t 6 -c 60 -d "$2s" --timeout 10s -s "bench/wrk/$1" \
    "http://127.0.0.1:$BASE/" >"$3" 2>&1
}
load quorumkv-put.lua "$WARMUP_SECONDS" "$OUT/warmup.txt"
start=$(date +%s.%N)
load quorumkv-put.lua "$MEASURE_SECONDS" "$OUT/writes.txt"
end=$(date +%s.%N)
load quorumkv-get.lua "$READ_SECONDS" "$OUT/reads.txt"
echo "writes: $(grep -o 'rps=[0-9.]*' "$OUT/writes.txt" | head -1) $(grep -o 'p50_us=[0-9]* p90_us=[0-9]* p99_us=[0-9]*' "$OUT/writes.txt")"
echo "reads:  $(grep -o 'rps=[0-9.]*' "$OUT/reads.txt" | head -1) $(grep -o 'p50_us=[0-9]* p90_us=[0-9]* p99_us=[0-9]*' "$OUT/reads.txt")"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
# When each JVM started, on the wall clock (its GC log counts seconds since then): the process's
# start time in clock ticks after boot, from /proc, before the nodes stop.
for f in "$KV_DATA"/node*/pid; do
  pid=$(cat "$f")
  awk -v pid="$pid" -v hz="$(getconf CLK_TCK)" -v now="$(date +%s.%N)" -v up="$(cut -d' ' -f1 /proc/uptime)" \
    '{ sub(/^.*\) /, ""); printf "%s %.3f\n", pid, now - up + $20 / hz }' "/proc/$pid/stat"
done >"$OUT/jvm-starts.txt"
./kv down --wipe >/dev/null
python3 - "$OUT" "$start" "$end" <<'PY'
import glob, re, statistics, sys
out, start, end = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
starts = dict(line.split() for line in open(out + '/jvm-starts.txt'))
every = []
for f in sorted(glob.glob(out + '/gc-*.log')):
    pid = re.search(r'gc-(\d+)\.log$', f)[1]
    if pid not in starts:
        continue
    lo, hi = start - float(starts[pid]), end - float(starts[pid])
    lines = open(f).read().splitlines()
    pauses = sorted(float(m[3]) for m in (re.match(r'\[([\d.]+)s\].*Pause (Young|Full).* ([\d.]+)ms$', l) for l in lines)
                    if m and lo < float(m[1]) <= hi)
    every += pauses
    if pauses:
        print('  %-22s %3d pauses  median %6.1f ms  p90 %6.1f  max %6.1f  sum %6.0f ms'
              % (f.split('/')[-1], len(pauses), statistics.median(pauses), pauses[int(len(pauses) * .9)], pauses[-1], sum(pauses)))
every.sort()
if every:
    print('  all six: %d pauses, median %.1f ms, p90 %.1f ms, max %.1f ms' % (len(every), statistics.median(every), every[int(len(every) * .9)], every[-1]))
PY
echo "GC logs and wrk output: $OUT"
