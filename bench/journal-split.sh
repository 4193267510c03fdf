#!/usr/bin/env bash
# journal-split.sh: where a journal write's time goes. Not a test: it measures and prints.
#
# Starts the local cluster (`./kv up --no-build`, data in a temp dir), warms it with WARMUP
# seconds of wrk W=3 writes at 60 connections spread over the six nodes, then runs two phases:
#   one:  W=3 writes over one connection to the leader, PHASE seconds;
#   many: W=3 writes at 60 connections spread over the six nodes, PHASE seconds;
# and prints for each phase and node, from the difference of /metrics before and after it:
#   persist  the mean of quorumkv_replica_persist_seconds (the journal write as the replica sees
#            it: the event handler, serialization, the journal actor, the database thread, back);
#   insert   the mean of quorumkv_journal_insert_seconds (SQLite's part: insert and commit, fsync);
#   rest     persist - insert: what the write costs outside SQLite.
# Then, with the cluster stopped, JournalInsertBench (tools/) times the same insert alone on this
# disk, six files at once: the floor SQLite sets here.
#
#   KV_JAR [target/quorumkv.jar]  WARMUP [60]  PHASE [30]  PAYLOAD [200] (JournalInsertBench's event
#   size; ~200 bytes is one entry of 100, as in the one-connection phase)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
WARMUP=${WARMUP:-60}; PHASE=${PHASE:-30}; PAYLOAD=${PAYLOAD:-200}
TOOLS_JAR=tools/target/quorumkv-tools.jar
[[ -f ${KV_JAR:-target/quorumkv.jar} && -f $TOOLS_JAR ]] || { echo "journal-split: build first (mvn -B -q install -DskipTests)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "journal-split: needs wrk (apt-get install wrk)" >&2; exit 1; }
TMP=$(mktemp -d /tmp/quorumkv-journal-split.XXXXXX)
export KV_DATA=$TMP/data
cleanup() { ./kv down --wipe >/dev/null 2>&1 || true; rm -rf "$TMP"; }
trap cleanup EXIT INT TERM

./kv up --no-build | tail -1
leader=$(./kv status | awk '$5 == "leader" { print $1 }')
leader_port=$((8000 + ${leader#node}))
spread=127.0.0.1:8000,127.0.0.1:8001,127.0.0.1:8002,127.0.0.1:8003,127.0.0.1:8004,127.0.0.1:8005

writes() { # targets connections seconds
  BENCH_TARGETS=$1 BENCH_KEYS=1000 BENCH_VALUE_SIZE=100 BENCH_THREADS=$(($2 < 6 ? $2 : 6)) BENCH_W=3 \
    wrk -t"$(($2 < 6 ? $2 : 6))" -c"$2" -d"$3"s -s bench/wrk/quorumkv-put.lua "http://${1%%,*}/" | grep '^RESULT'
}
snapshot() { # -> "node metric sum count" lines
  for i in 0 1 2 3 4 5; do
    curl -s "http://127.0.0.1:800$i/metrics" | awk -v n="node$i" '
      /^quorumkv_(replica_persist|journal_insert)_seconds_(sum|count) / { print n, $1, $2 }'
  done
}
report() { # before after phase
  paste "$1" "$2" | awk -v leader="$leader" -v phase="$3" '
    { split($2, m, "_seconds_"); v[$1, m[1], m[2]] = $6 - $3; nodes[$1] = 1 }
    END {
      for (n in nodes) {
        pc = v[n, "quorumkv_replica_persist", "count"]; ic = v[n, "quorumkv_journal_insert", "count"]
        if (pc == 0 || ic == 0) continue
        p = 1000 * v[n, "quorumkv_replica_persist", "sum"] / pc; i = 1000 * v[n, "quorumkv_journal_insert", "sum"] / ic
        printf "  %-5s %-7s %-6s journal writes %6d  persist %6.3f ms  insert %6.3f ms  rest %6.3f ms\n",
          phase, n, (n == leader ? "leader" : ""), pc, p, i, p - i
      }
    }' | sort -k2
}

echo "leader $leader; warming up: ${WARMUP} s of W=3 writes, 60 connections spread"
writes "$spread" 60 "$WARMUP" >/dev/null
for phase in one many; do
  snapshot >"$TMP/before"
  if [[ $phase == one ]]; then writes "127.0.0.1:$leader_port" 1 "$PHASE"; else writes "$spread" 60 "$PHASE"; fi
  snapshot >"$TMP/after"
  report "$TMP/before" "$TMP/after" "$phase"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
./kv down --wipe >/dev/null 2>&1
echo "the same insert alone on this disk, six files at once (cluster stopped):"
java -cp "$TOOLS_JAR" quorumkv.tools.JournalInsertBench --replicas 6 --writes 3000 --payload-bytes "$PAYLOAD" --dir "$TMP" | tail -1
