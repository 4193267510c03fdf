#!/usr/bin/env bash
# vs-etcd.sh: quorumkv and etcd side by side on this machine, under the same load tool (wrk) and
# the same load: the same keys, value size, connection count and duration. Not a test: it
# measures and prints one table. See bench/README.md.
#
#   1. a 5-member etcd cluster on 127.0.0.1 (client ports 23791..23795, peer ports 23801..23805,
#      data in a temp dir, fsync ON: no --unsafe-no-fsync), driven through its JSON gateway;
#   2. then, etcd stopped, the 1+5 quorumkv cluster by `./kv up --no-build` (HTTP 8000..8005,
#      cluster 2550..2555, or where KV_HTTP_BASE_PORT / KV_CLUSTER_BASE_PORT move them, as for
#      ./kv), SQLite synchronous=FULL, KV_DATA in the temp dir.
#
# First, on each freshly started system (no prefill, no warm-up):
#   cold-W3-c20    writes, ?w=W, COLD_CONNECTIONS (default 20) to the leader (2 wrk threads), for
#                  COLD_DURATION (default 60s) from the moment the cluster reports ready (etcd:
#                  every member healthy; quorumkv: `./kv up` returned)
#
# Then scenarios, each DURATION long, the same for both systems:
#   write-W3-c64   writes, ?w=W (default 3), CONNECTIONS (default 64)
#   write-W3-c256  writes, ?w=W, 4 x CONNECTIONS
#   write-W1-c64   writes, ?w=1  (etcd has no W: the same etcd run again, as a reference)
#   write-W5-c64   writes, ?w=5  (idem)
#   read-c64       reads: quorumkv GET /kv/{key} (consistency=local), etcd serializable range
#   write-W3-c1    writes, ?w=W, one connection to the leader (1 wrk thread): one client's latency,
#                  with the system as warm as the rows above left it; ONE_CONN_DURATION [DURATION]
#
# Every row also gives the CPU time the servers used per request (utime + stime from
# /proc/<pid>/stat, summed over the 5 etcd processes or the 6 quorumkv JVMs, before and after the
# run, divided by the requests answered 2xx) and the leader changes during the run (etcd: the
# largest increase of etcd_server_leader_changes_seen_total over the members; quorumkv: the
# increase of quorumkv_leader_elections_total summed over the nodes, each election won counted
# once). The summary gives quorumkv_leader_silence_max_seconds: the longest a follower went
# without a message from its leader, and the run during which that maximum was reached.
#
# Load is spread over every member, one wrk thread per member (5 for etcd, 6 for quorumkv), like
# quorumkv's own clients: etcd followers forward writes to their leader, quorumkv nodes forward
# them to theirs. ETCD_TARGET=leader sends all etcd load to its leader instead (2 wrk threads).
# wrk gives every thread CONNECTIONS/threads connections, so the connection count is rounded down
# to a multiple of 30 (divisible by 5 and 6) when it is 30 or more: both systems get the same
# total (64 -> 60, 256 -> 240); the table shows it.
#
# Environment (defaults in brackets):
#   DURATION [30s]  CONNECTIONS [64]  VALUE_SIZE [100]  KEYS [1000]  W [3]  SETTLE [5] (s between runs)
#   SYSTEMS [etcd,quorumkv]   which halves to run
#   ETCD_TARGET [all]         all: every member; leader: the etcd leader only
#   WRK_TIMEOUT [10s]         wrk's per-request timeout (quorumkv answers 503 after 2 s itself)
#   COLD_DURATION [60s]       the cold row's duration; 0 skips it
#   COLD_CONNECTIONS [20]     the cold row's connections (to the leader)
#   ONE_CONN_DURATION [DURATION]  the one-connection row's duration; 0 skips it
#   PREFILL_DURATION [60s]    bound of the pass that writes every key once before the runs
#                             (it ends as soon as the system holds every key)
#   WARMUP [60s]              unrecorded W=W writes at CONNECTIONS after the prefill (JIT
#                             warm-up for the JVM; the same for etcd); 0 skips it
#   READ_WARMUP [20s]         unrecorded reads before the read run (the read path's JIT warm-up;
#                             the same for etcd); 0 skips it
#   QKV_READY_TIMEOUT [300]   seconds ./kv up may take until every node is ready
#   PORT_WAIT [900]           seconds to wait for quorumkv's HTTP and cluster ports to be free
#   KV_DATA [temp dir]        quorumkv's data directory (passed to ./kv): new, empty, or left by
#                             an earlier run of this script (then wiped); wiped at the end
#   KEEP_TMP [0]              1: keep the temp dir (etcd data and logs, quorumkv data and logs)
#   OUT [bench/results/<timestamp>]
#
# Bounded: every wrk run has -d DURATION and a hard `timeout`, etcd and quorumkv startup have
# deadlines, the port wait has PORT_WAIT. Only 127.0.0.1. A trap stops everything it started.
set -euo pipefail

cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
ROOT=$PWD
BENCH=$ROOT/bench
WRK_DIR=$BENCH/wrk

DURATION=${DURATION:-30s}
CONNECTIONS=${CONNECTIONS:-64}
VALUE_SIZE=${VALUE_SIZE:-100}
KEYS=${KEYS:-1000}
W=${W:-3}
SETTLE=${SETTLE:-5}
SYSTEMS=${SYSTEMS:-etcd,quorumkv}
ETCD_TARGET=${ETCD_TARGET:-all}
WRK_TIMEOUT=${WRK_TIMEOUT:-10s}
PREFILL_DURATION=${PREFILL_DURATION:-60s}
COLD_DURATION=${COLD_DURATION:-60s}
COLD_CONNECTIONS=${COLD_CONNECTIONS:-20}
ONE_CONN_DURATION=${ONE_CONN_DURATION:-$DURATION}
WARMUP=${WARMUP:-60s}
READ_WARMUP=${READ_WARMUP:-20s}
QKV_READY_TIMEOUT=${QKV_READY_TIMEOUT:-300}
PORT_WAIT=${PORT_WAIT:-900}
KEEP_TMP=${KEEP_TMP:-0}

readonly HOST=127.0.0.1
readonly ETCD_MEMBERS=5
readonly ETCD_CLIENT_BASE=23791
readonly ETCD_PEER_BASE=23801
# The ports ./kv gives node0 (node N: + N); ./kv reads the same variables.
readonly QKV_NODES=6
readonly QKV_HTTP_BASE=${KV_HTTP_BASE_PORT:-8000}
readonly QKV_CLUSTER_BASE=${KV_CLUSTER_BASE_PORT:-2550}
readonly QKV_PORTS_TEXT="$QKV_HTTP_BASE-$((QKV_HTTP_BASE + QKV_NODES - 1))/$QKV_CLUSTER_BASE-$((QKV_CLUSTER_BASE + QKV_NODES - 1))"
readonly CLK_TCK=$(getconf CLK_TCK)

say() { printf '%s\n' "$*"; }
step() { printf '\n== %s\n' "$*"; }
warn() { printf 'vs-etcd: %s\n' "$*" >&2; }
die() {
  printf 'vs-etcd: %s\n' "$*" >&2
  exit 1
}

# ---------------------------------------------------------------------------- settings

seconds_of() { # 30s, 2m, 30 -> seconds
  local d=$1
  case $d in
    *ms) die "durations in whole seconds or minutes, not '$d'" ;;
    *s) d=${d%s} ;;
    *m) d=$((${d%m} * 60)) ;;
  esac
  [[ $d =~ ^[1-9][0-9]*$ ]] || die "bad duration '$1' (want e.g. 30s, 2m)"
  printf '%s' "$d"
}
DURATION_S=$(seconds_of "$DURATION")
PREFILL_S=$(seconds_of "$PREFILL_DURATION")
WARMUP_S=0
[[ $WARMUP == 0 || $WARMUP == 0s ]] || WARMUP_S=$(seconds_of "$WARMUP")
READ_WARMUP_S=0
[[ $READ_WARMUP == 0 || $READ_WARMUP == 0s ]] || READ_WARMUP_S=$(seconds_of "$READ_WARMUP")
WRK_TIMEOUT_S=$(seconds_of "$WRK_TIMEOUT")
COLD_S=0
[[ $COLD_DURATION == 0 || $COLD_DURATION == 0s ]] || COLD_S=$(seconds_of "$COLD_DURATION")
ONE_CONN_S=0
[[ $ONE_CONN_DURATION == 0 || $ONE_CONN_DURATION == 0s ]] || ONE_CONN_S=$(seconds_of "$ONE_CONN_DURATION")
for v in CONNECTIONS COLD_CONNECTIONS VALUE_SIZE KEYS SETTLE PORT_WAIT QKV_READY_TIMEOUT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, not '${!v}'"
done
[[ $W =~ ^[0-5]$ ]] || die "W must be 0..5 (followers that must persist a write), not '$W'"
((CONNECTIONS >= 1 && KEYS >= 1 && VALUE_SIZE >= 1)) || die "CONNECTIONS, KEYS and VALUE_SIZE must be at least 1"
[[ $ETCD_TARGET == all || $ETCD_TARGET == leader ]] || die "ETCD_TARGET must be all or leader"
RUN_ETCD=0 RUN_QKV=0
[[ ,$SYSTEMS, == *,etcd,* ]] && RUN_ETCD=1
[[ ,$SYSTEMS, == *,quorumkv,* ]] && RUN_QKV=1
((RUN_ETCD + RUN_QKV > 0)) || die "SYSTEMS must name etcd and/or quorumkv, not '$SYSTEMS'"

# The same total connection count for both: a multiple of 30 (5 members x 6 nodes) when possible.
# Below 30: what wrk really opens for this system, a multiple of its thread count.
effective_connections() { # CONNECTIONS THREADS
  local c=$1 t=$2
  if ((c >= 30)); then
    printf '%s' $((c / 30 * 30))
  elif ((c >= t)); then
    printf '%s' $((c / t * t))
  else
    printf '%s' "$t"
  fi
}

STAMP=$(date +%Y%m%d-%H%M%S)
OUT=${OUT:-$BENCH/results/$STAMP}
mkdir -p "$OUT"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vs-etcd.XXXXXX")
export KV_DATA=${KV_DATA:-$TMP/quorumkv-data}

# ---------------------------------------------------------------------------- cleanup

ETCD_PIDS=()
WRK_PID=
QKV_STARTED=0

stop_etcd() {
  local pid deadline
  ((${#ETCD_PIDS[@]} > 0)) || return 0
  for pid in "${ETCD_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  deadline=$((SECONDS + 15))
  for pid in "${ETCD_PIDS[@]}"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  ETCD_PIDS=()
}

stop_quorumkv() {
  ((QKV_STARTED)) || return 0
  local wipe=(--wipe)
  ((KEEP_TMP)) && wipe=()
  ./kv down ${wipe[@]+"${wipe[@]}"} >/dev/null 2>&1 || warn "./kv down failed (KV_DATA=$KV_DATA): check with ss -ltn"
  if ((!KEEP_TMP)); then
    rm -f "$KV_DATA/.vs-etcd"
    rmdir "$KV_DATA" 2>/dev/null || true
  fi
  QKV_STARTED=0
}

# KV_DATA must be new, empty, or left by an earlier run of this script (then it is wiped): the
# key count and the results assume a cluster that starts empty.
prepare_kv_data() {
  if [[ -d $KV_DATA ]] && [[ -n $(ls -A "$KV_DATA" 2>/dev/null) ]]; then
    [[ -f $KV_DATA/.vs-etcd ]] ||
      die "KV_DATA=$KV_DATA holds files that vs-etcd.sh did not make: point KV_DATA at a new or empty directory"
    ./kv down --wipe >/dev/null 2>&1 || die "could not wipe the earlier run's data in $KV_DATA (./kv down --wipe)"
  fi
  mkdir -p "$KV_DATA"
  : >"$KV_DATA/.vs-etcd"
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n $WRK_PID ]]; then
    kill -TERM "$WRK_PID" 2>/dev/null || true
    wait "$WRK_PID" 2>/dev/null || true
  fi
  stop_etcd
  stop_quorumkv
  if ((KEEP_TMP)); then
    say "temp dir kept: $TMP"
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------- tools

apt_install() {
  local pkgs=("$@")
  command -v apt-get >/dev/null 2>&1 || die "missing ${pkgs[*]} and no apt-get to install them"
  local sudo=()
  ((EUID == 0)) || sudo=(sudo)
  say "installing ${pkgs[*]} (apt-get)"
  if ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${pkgs[@]}" >"$TMP/apt.log" 2>&1; then
    "${sudo[@]}" apt-get update -q >>"$TMP/apt.log" 2>&1 || true
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${pkgs[@]}" >>"$TMP/apt.log" 2>&1 ||
      die "apt-get install ${pkgs[*]} failed: $(tail -n 5 "$TMP/apt.log")"
  fi
}

ensure_tools() {
  local need=()
  command -v wrk >/dev/null 2>&1 || need+=(wrk)
  command -v curl >/dev/null 2>&1 || need+=(curl)
  if ((RUN_ETCD)); then
    command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
    command -v etcdctl >/dev/null 2>&1 || need+=(etcd-client)
  fi
  ((${#need[@]} == 0)) || apt_install "${need[@]}"
  # Debian's etcd-server may start a system etcd on 2379 when a service manager runs; ours uses
  # other ports and does not touch it.
}

now_load() { cut -d' ' -f1-3 /proc/loadavg; }

port_busy() { ss -ltnH "sport = :$1" 2>/dev/null | grep -q .; }

# ---------------------------------------------------------------------------- wrk runs

# Results, one line per run: scenario system conns ok_rps p50_us p99_us errors load1 detail
# cpu_ms_per_op leader_changes steal_pct
RESULTS=$TMP/results.tsv
: >"$RESULTS"

# ---------------------------------------------------------------------------- server-side figures

# The server processes of the system under test (etcd members or quorumkv node JVMs), and a
# command printing one leader-change counter per server, with how to combine their increases
# (max: every member counts each change it saw; sum: each change is counted on one server).
SERVER_PIDS=()
LEADER_COUNTER=
LEADER_AGG=max

server_cpu_ticks() { # utime + stime of SERVER_PIDS, in clock ticks
  local pid st rest total=0
  for pid in ${SERVER_PIDS[@]+"${SERVER_PIDS[@]}"}; do
    st=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    rest=${st##*) }
    # shellcheck disable=SC2086
    set -- $rest
    total=$((total + ${12} + ${13}))
  done
  printf '%s' "$total"
}

# The machine's CPU time stolen by the hypervisor (the "steal" column of /proc/stat) as a share of
# all its CPU time: a virtual machine whose host is busy runs every instruction slower without
# a higher load average, so a row's figures are comparable with another run's only at similar steal.
cpu_stat() { awk '$1 == "cpu" { t = 0; for (i = 2; i <= 9; i++) t += $i; print $9, t; exit }' /proc/stat; }
steal_pct_between() { # "STEAL TOTAL" "STEAL TOTAL"
  awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " "); d = y[2] - x[2]
    if (d > 0) printf "%.0f", (y[1] - x[1]) * 100 / d; else print "-" }'
}

leader_counts() { if [[ -n $LEADER_COUNTER ]]; then "$LEADER_COUNTER"; fi; }

# Increase between two leader_counts outputs (same servers, same order), combined by LEADER_AGG.
leader_changes_between() { # BEFORE AFTER
  awk -v a="$1" -v b="$2" -v how="$LEADER_AGG" 'BEGIN {
    n = split(a, x, " "); m = split(b, y, " ")
    if (n == 0 || n != m) { print "-"; exit }
    v = 0
    for (i = 1; i <= n; i++) { if (x[i] == "-" || y[i] == "-") { print "-"; exit }; d = y[i] - x[i]; if (how == "sum") v += d; else if (d > v) v = d }
    print v }'
}

MEASURE_CPU0=0
MEASURE_LEADERS0=
MEASURE_STAT0=
measure_begin() {
  MEASURE_LEADERS0=$(leader_counts)
  MEASURE_CPU0=$(server_cpu_ticks)
  MEASURE_STAT0=$(cpu_stat)
}
# Sets MEASURE_CPU_TICKS, MEASURE_LEADER_CHANGES and MEASURE_STEAL for the run since measure_begin.
measure_end() {
  MEASURE_CPU_TICKS=$(($(server_cpu_ticks) - MEASURE_CPU0))
  MEASURE_LEADER_CHANGES=$(leader_changes_between "$MEASURE_LEADERS0" "$(leader_counts)")
  MEASURE_STEAL=$(steal_pct_between "$MEASURE_STAT0" "$(cpu_stat)")
}

# quorumkv_leader_silence_max_seconds only grows (a maximum since each node started): read before
# and after every recorded run, it tells in which run (or between which runs) it was reached.
QKV_SILENCE=0
QKV_SILENCE_WHEN=-
silence_check() { # LABEL: what ran since the last check
  local now
  now=$(qkv_metric quorumkv_leader_silence_max_seconds max)
  [[ $now != - ]] || return 0
  if awk -v a="$now" -v b="$QKV_SILENCE" 'BEGIN { exit !(a > b) }'; then
    QKV_SILENCE=$now
    QKV_SILENCE_WHEN=$1
  fi
}

# run_wrk LABEL SCRIPT THREADS CONNS DURATION_S TARGETS [KEY=VALUE...]: sets RESULT_LINE to wrk's
# RESULT line. Not in a $(...) subshell, so that the trap knows WRK_PID. When WRK_UNTIL names a
# command, it is polled every second and wrk is stopped early (SIGINT: wrk then reports as usual)
# once it succeeds.
RESULT_LINE=
WRK_UNTIL=
run_wrk() {
  local label=$1 script=$2 threads=$3 conns=$4 secs=$5 targets=$6
  shift 6
  local first=${targets%%,*} log=$OUT/wrk-$label.txt
  (
    export BENCH_TARGETS=$targets BENCH_KEYS=$KEYS BENCH_VALUE_SIZE=$VALUE_SIZE BENCH_THREADS=$threads \
      BENCH_LABEL=$label BENCH_SEED=42
    unset BENCH_W BENCH_PREFILL
    for kv in "$@"; do export "${kv?}"; done
    exec timeout -k 5 $((secs + 60)) wrk --latency -t "$threads" -c "$conns" -d "${secs}s" \
      --timeout "${WRK_TIMEOUT_S}s" -s "$WRK_DIR/$script" "http://$first/"
  ) >"$log" 2>&1 &
  WRK_PID=$!
  if [[ -n $WRK_UNTIL ]]; then
    while kill -0 "$WRK_PID" 2>/dev/null; do
      sleep 1
      if "$WRK_UNTIL"; then
        kill -INT "$WRK_PID" 2>/dev/null || true # timeout passes it on to wrk
        break
      fi
    done
  fi
  local rc=0
  wait "$WRK_PID" || rc=$?
  WRK_PID=
  RESULT_LINE=$(grep '^RESULT ' "$log" | tail -n 1 || true)
  if ((rc != 0)) || [[ -z $RESULT_LINE ]]; then
    warn "wrk run $label failed (exit $rc); its output:"
    sed 's/^/  | /' "$log" >&2
    return 1
  fi
}

field() { # field NAME "RESULT a=1 b=2" -> value
  local name=$1 line=$2
  printf '%s\n' "$line" | tr ' ' '\n' | awk -F= -v k="$name" '$1 == k { print $2; exit }'
}

# record SCENARIO SYSTEM CONNS RESULT_LINE [CPU_TICKS LEADER_CHANGES STEAL_PCT]
record() {
  local scenario=$1 system=$2 conns=$3 line=$4 cpu_ticks=${5:--} changes=${6:--} steal=${7:--}
  local ok_rps p50 p99 errors ok cpu_ms=-
  ok=$(($(field requests "$line") - $(field non2xx "$line")))
  if [[ $cpu_ticks != - ]] && ((ok > 0)); then
    cpu_ms=$(awk -v t="$cpu_ticks" -v hz="$CLK_TCK" -v n="$ok" 'BEGIN { printf "%.3f", t / hz * 1000 / n }')
  fi
  ok_rps=$(field ok_rps "$line")
  p50=$(field p50_us "$line")
  p99=$(field p99_us "$line")
  errors=$(($(field non2xx "$line") + $(field connect "$line") + $(field read "$line") + $(field write "$line") + $(field timeout "$line")))
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scenario" "$system" "$conns" "$ok_rps" "$p50" "$p99" "$errors" \
    "$(cut -d' ' -f1 /proc/loadavg)" \
    "requests=$(field requests "$line") non2xx=$(field non2xx "$line") socket=$(field connect "$line")/$(field read "$line")/$(field write "$line")/$(field timeout "$line") p90_us=$(field p90_us "$line") p999_us=$(field p999_us "$line") max_us=$(field max_us "$line") cpu_s=$(awk -v t="$cpu_ticks" -v hz="$CLK_TCK" 'BEGIN { if (t == "-") print "-"; else printf "%.2f", t / hz }')" \
    "$cpu_ms" "$changes" "$steal" >>"$RESULTS"
  printf '  %-14s %-9s conns %-4s %9.1f ops/s  p50 %7.2f ms  p99 %8.2f ms  errors %s  cpu %s ms/op  leader changes %s  steal %s%%\n' "$scenario" "$system" "$conns" \
    "$ok_rps" "$(awk -v u="$p50" 'BEGIN { print u / 1000 }')" "$(awk -v u="$p99" 'BEGIN { print u / 1000 }')" "$errors" "$cpu_ms" "$changes" "$steal"
}

# The cold row: COLD_CONNECTIONS to the leader, W=W, for COLD_DURATION, on a system just started.
# $1 system, $2 put script, $3 the leader's host:port, $4 1 if the system has W.
run_cold() {
  local system=$1 put=$2 leader=$3 has_w=$4 wargs=() scenario="cold-W$W-c$COLD_CONNECTIONS"
  ((COLD_S > 0)) || return 0
  ((has_w)) && wargs=("BENCH_W=$W")
  say "$scenario: freshly started, no warm-up: $COLD_CONNECTIONS connections to the leader ($leader), 2 wrk threads, $COLD_DURATION"
  [[ $system != quorumkv ]] || silence_check "startup"
  measure_begin
  run_wrk "$system-$scenario" "$put" 2 "$COLD_CONNECTIONS" "$COLD_S" "$leader" ${wargs[@]+"${wargs[@]}"} || {
    printf '%s\t%s\t%s\t-\t-\t-\t-\t%s\t%s\t-\t-\t-\n' "$scenario" "$system" "$COLD_CONNECTIONS" "$(cut -d' ' -f1 /proc/loadavg)" "wrk failed" >>"$RESULTS"
    return 0
  }
  measure_end
  record "$scenario" "$system" "$COLD_CONNECTIONS" "$RESULT_LINE" "$MEASURE_CPU_TICKS" "$MEASURE_LEADER_CHANGES" "$MEASURE_STEAL"
  [[ $system != quorumkv ]] || silence_check "$scenario"
  sleep "$SETTLE"
}

COUNT_KEYS=
all_keys_present() { [[ $("$COUNT_KEYS") == "$KEYS" ]]; }

# The scenarios against one system. $1 system, $2 put script, $3 read script, $4 targets,
# $5 threads, $6 1 if the system has W (quorumkv), $7 a command printing how many bench-* keys
# the system holds, $8 a command printing the leader's host:port (for the one-connection row).
COVERAGE=
run_scenarios() {
  local system=$1 put=$2 get=$3 targets=$4 threads=$5 has_w=$6 count_keys=$7 find_leader=$8
  local c64 c256 line
  c64=$(effective_connections "$CONNECTIONS" "$threads")
  c256=$(effective_connections $((CONNECTIONS * 4)) "$threads")

  say "prefill: every key once, at $c64 connections (at most $PREFILL_DURATION)"
  local wargs=()
  ((has_w)) && wargs=("BENCH_W=$W")
  COUNT_KEYS=$count_keys
  WRK_UNTIL=all_keys_present
  run_wrk "$system-prefill" "$put" "$threads" "$c64" "$PREFILL_S" "$targets" BENCH_PREFILL=1 ${wargs[@]+"${wargs[@]}"}
  WRK_UNTIL=
  line=$RESULT_LINE
  local have
  have=$("$count_keys")
  say "  $(field requests "$line") writes, $(field non2xx "$line") non-2xx; $have of $KEYS keys present"
  if [[ $have != "$KEYS" ]]; then
    warn "$system: only ${have:-?} of $KEYS keys written by the prefill (raise PREFILL_DURATION): its reads of missing keys count as errors"
    COVERAGE+="${COVERAGE:+; }$system prefill wrote ${have:-?} of $KEYS keys"
  fi
  if ((WARMUP_S > 0)); then
    sleep "$SETTLE"
    say "warm-up: W=$W writes at $c64 connections for ${WARMUP_S}s (not recorded)"
    run_wrk "$system-warmup" "$put" "$threads" "$c64" "$WARMUP_S" "$targets" ${wargs[@]+"${wargs[@]}"}
    line=$RESULT_LINE
    say "  $(field ok_rps "$line") writes/s, p99 $(awk -v u="$(field p99_us "$line")" 'BEGIN { print u / 1000 }') ms"
  fi
  sleep "$SETTLE"

  # name:kind:w:connections, in this order; a name already run is not run again (e.g. W=1).
  local specs=("write-W$W-c$CONNECTIONS:write:$W:$c64" "write-W$W-c$((CONNECTIONS * 4)):write:$W:$c256"
    "write-W1-c$CONNECTIONS:write:1:$c64" "write-W5-c$CONNECTIONS:write:5:$c64" "read-c$CONNECTIONS:read:-:$c64")
  local spec scenario kind w conns script seen=" "
  for spec in "${specs[@]}"; do
    IFS=: read -r scenario kind w conns <<<"$spec"
    [[ $seen != *" $scenario "* ]] || continue
    seen+="$scenario "
    script=$put wargs=()
    if [[ $kind == read ]]; then
      script=$get
      if ((READ_WARMUP_S > 0)); then
        say "read warm-up: reads at $conns connections for ${READ_WARMUP_S}s (not recorded; the write warm-up did not exercise the read path)"
        run_wrk "$system-read-warmup" "$script" "$threads" "$conns" "$READ_WARMUP_S" "$targets" || true
        sleep "$SETTLE"
      fi
    elif ((has_w)); then
      wargs=("BENCH_W=$w")
    fi
    say "$scenario: $conns connections, $DURATION"
    [[ $system != quorumkv ]] || silence_check "the prefill, warm-up or pauses before $scenario"
    measure_begin
    run_wrk "$system-$scenario" "$script" "$threads" "$conns" "$DURATION_S" "$targets" ${wargs[@]+"${wargs[@]}"} || {
      printf '%s\t%s\t%s\t-\t-\t-\t-\t%s\t%s\t-\t-\t-\n' "$scenario" "$system" "$conns" "$(cut -d' ' -f1 /proc/loadavg)" "wrk failed" >>"$RESULTS"
      continue
    }
    measure_end
    record "$scenario" "$system" "$conns" "$RESULT_LINE" "$MEASURE_CPU_TICKS" "$MEASURE_LEADER_CHANGES" "$MEASURE_STEAL"
    [[ $system != quorumkv ]] || silence_check "$scenario"
    sleep "$SETTLE"
  done
  run_one_connection "$system" "$put" "$has_w" "$("$find_leader")"
}

# One client: W=W writes over one connection to the leader, one at a time. $1 system, $2 put
# script, $3 1 if the system has W, $4 the leader's host:port, found just before this row
# (empty: skipped with a warning).
run_one_connection() {
  local system=$1 put=$2 has_w=$3 leader=$4 wargs=() scenario="write-W$W-c1"
  ((ONE_CONN_S > 0)) || return 0
  if [[ -z $leader ]]; then
    warn "$system: no leader known: no one-connection row"
    return 0
  fi
  ((has_w)) && wargs=("BENCH_W=$W")
  say "$scenario: one connection to the leader ($leader), $ONE_CONN_DURATION"
  [[ $system != quorumkv ]] || silence_check "the runs before $scenario"
  measure_begin
  run_wrk "$system-$scenario" "$put" 1 1 "$ONE_CONN_S" "$leader" ${wargs[@]+"${wargs[@]}"} || {
    printf '%s\t%s\t%s\t-\t-\t-\t-\t%s\t%s\t-\t-\t-\n' "$scenario" "$system" 1 "$(cut -d' ' -f1 /proc/loadavg)" "wrk failed" >>"$RESULTS"
    return 0
  }
  measure_end
  record "$scenario" "$system" 1 "$RESULT_LINE" "$MEASURE_CPU_TICKS" "$MEASURE_LEADER_CHANGES" "$MEASURE_STEAL"
  [[ $system != quorumkv ]] || silence_check "$scenario"
  sleep "$SETTLE"
}

# ---------------------------------------------------------------------------- etcd

ETCD_VERSION=-
ETCD_FSYNC=-

etcd_endpoints() {
  local i list=
  for ((i = 0; i < ETCD_MEMBERS; i++)); do list+="${list:+,}http://$HOST:$((ETCD_CLIENT_BASE + i))"; done
  printf '%s' "$list"
}

start_etcd() {
  local i port name cluster=''
  for ((i = 0; i < ETCD_MEMBERS; i++)); do
    for port in $((ETCD_CLIENT_BASE + i)) $((ETCD_PEER_BASE + i)); do
      ! port_busy "$port" || die "127.0.0.1:$port is in use: cannot start the etcd cluster"
    done
    cluster+="${cluster:+,}e$((i + 1))=http://$HOST:$((ETCD_PEER_BASE + i))"
  done
  for ((i = 0; i < ETCD_MEMBERS; i++)); do
    name=e$((i + 1))
    mkdir -p "$TMP/etcd/$name"
    # No ETCD_* variable from our environment reaches etcd (ETCD_UNSAFE_NO_FSYNC would turn
    # fsync off): only the flags below. Defaults kept: WAL fsync on every commit, gateway on.
    (
      for v in $(compgen -e); do [[ $v != ETCD_* ]] || unset "$v"; done
      exec etcd --name "$name" --data-dir "$TMP/etcd/$name/data" \
        --listen-client-urls "http://$HOST:$((ETCD_CLIENT_BASE + i))" \
        --advertise-client-urls "http://$HOST:$((ETCD_CLIENT_BASE + i))" \
        --listen-peer-urls "http://$HOST:$((ETCD_PEER_BASE + i))" \
        --initial-advertise-peer-urls "http://$HOST:$((ETCD_PEER_BASE + i))" \
        --initial-cluster "$cluster" --initial-cluster-token "vs-etcd-$STAMP" \
        --initial-cluster-state new
    ) >"$TMP/etcd/$name/etcd.log" 2>&1 &
    ETCD_PIDS+=($!)
  done
  local deadline=$((SECONDS + 60)) out
  while :; do
    if out=$(ETCDCTL_API=3 etcdctl --endpoints "$(etcd_endpoints)" --dial-timeout 2s --command-timeout 3s endpoint health 2>&1) &&
      (($(grep -c 'is healthy' <<<"$out") == ETCD_MEMBERS)); then
      break
    fi
    for pid in "${ETCD_PIDS[@]}"; do
      kill -0 "$pid" 2>/dev/null || {
        tail -n 20 "$TMP"/etcd/*/etcd.log >&2
        die "an etcd member exited during startup"
      }
    done
    if ((SECONDS >= deadline)); then
      printf '%s\n' "$out" >&2
      die "etcd cluster not healthy within 60 s"
    fi
    sleep 1
  done
  say "etcd: $ETCD_MEMBERS members healthy ($(etcd_endpoints))"
  ! grep -q -- '--unsafe-no-fsync' /proc/"${ETCD_PIDS[0]}"/cmdline 2>/dev/null || die "etcd runs with --unsafe-no-fsync"
}

# etcdctl 3.4 has no --count-only: ask the gateway. Prefix "bench-" is the range [bench-, bench.).
etcd_key_count() {
  curl -fsS -m 5 --noproxy '*' -X POST -d '{"key":"YmVuY2gt","range_end":"YmVuY2gu","count_only":true}' \
    "http://$HOST:$ETCD_CLIENT_BASE/v3/kv/range" 2>/dev/null | grep -o '"count":"[0-9]*"' | tr -dc '0-9' || true
}

etcd_leader() { # prints host:port of the leader's client URL
  ETCDCTL_API=3 etcdctl --endpoints "$(etcd_endpoints)" --command-timeout 3s endpoint status -w simple 2>/dev/null |
    awk -F', ' '$5 == "true" { sub(/^http:\/\//, "", $1); print $1; exit }'
}

# Sum over members of etcd's WAL fsync count and seconds (Prometheus /metrics).
etcd_fsync_stats() {
  local i count=0 sum=0 c s
  for ((i = 0; i < ETCD_MEMBERS; i++)); do
    read -r c s < <(curl -fsS -m 3 --noproxy '*' "http://$HOST:$((ETCD_CLIENT_BASE + i))/metrics" 2>/dev/null |
      awk '$1 == "etcd_disk_wal_fsync_duration_seconds_count" { c = $2 } $1 == "etcd_disk_wal_fsync_duration_seconds_sum" { s = $2 } END { print c + 0, s + 0 }') || continue
    count=$(awk -v a="$count" -v b="$c" 'BEGIN { printf "%.0f", a + b }')
    sum=$(awk -v a="$sum" -v b="$s" 'BEGIN { printf "%.6f", a + b }')
  done
  printf '%s %s' "$count" "$sum"
}

# METRIC of COUNT members whose HTTP ports start at BASE, space-separated ("-" when one does not answer).
metric_per_member() {
  local metric=$1 base=$2 count=$3 i v out=
  for ((i = 0; i < count; i++)); do
    v=$(curl -fsS -m 3 --noproxy '*' "http://$HOST:$((base + i))/metrics" 2>/dev/null |
      awk -v m="$metric" '$1 == m { print $2; exit }') || true
    out+="${out:+ }${v:--}"
  done
  printf '%s' "$out"
}

# Per member: etcd_server_leader_changes_seen_total.
etcd_leader_counts() { metric_per_member etcd_server_leader_changes_seen_total "$ETCD_CLIENT_BASE" "$ETCD_MEMBERS"; }

run_etcd() {
  step "etcd: 5 members, fsync on"
  start_etcd
  SERVER_PIDS=("${ETCD_PIDS[@]}")
  LEADER_COUNTER=etcd_leader_counts
  LEADER_AGG=max
  local leader targets threads
  leader=$(etcd_leader)
  say "etcd leader: ${leader:-unknown}"
  if [[ -n $leader ]]; then
    run_cold etcd etcd-put.lua "$leader" 0
  else
    warn "no etcd leader found: no cold row for etcd"
  fi
  if [[ $ETCD_TARGET == leader ]]; then
    [[ -n $leader ]] || die "no etcd leader found"
    targets=$leader threads=2
    say "load: all connections to the leader ($leader), 2 wrk threads"
  else
    targets=$(etcd_endpoints | sed 's#http://##g')
    threads=$ETCD_MEMBERS
    say "load: spread over all $ETCD_MEMBERS members (followers forward writes to the leader), one wrk thread each"
  fi
  run_scenarios etcd etcd-put.lua etcd-range.lua "$targets" "$threads" 0 etcd_key_count etcd_leader
  say "etcd keys bench-*: $(etcd_key_count) of $KEYS"
  local fs_count fs_sum
  read -r fs_count fs_sum <<<"$(etcd_fsync_stats)"
  ETCD_FSYNC="$fs_count WAL fsyncs over 5 members, mean $(awk -v c="$fs_count" -v s="$fs_sum" 'BEGIN { if (c > 0) printf "%.2f", s / c * 1000; else print "-" }') ms"
  say "etcd: $ETCD_FSYNC"
  SERVER_PIDS=()
  LEADER_COUNTER=
  stop_etcd
  say "etcd stopped"
}

# ---------------------------------------------------------------------------- quorumkv

qkv_ports() {
  local i
  for ((i = 0; i < QKV_NODES; i++)); do printf '%s %s ' $((QKV_HTTP_BASE + i)) $((QKV_CLUSTER_BASE + i)); done
}

wait_qkv_ports() {
  local deadline=$((SECONDS + PORT_WAIT)) busy port announced=0
  while :; do
    busy=()
    for port in $(qkv_ports); do port_busy "$port" && busy+=("$port"); done
    ((${#busy[@]} == 0)) && return 0
    if ((SECONDS >= deadline)); then
      warn "127.0.0.1 ports ${busy[*]} still in use after ${PORT_WAIT} s (another quorumkv cluster?): skipping the quorumkv half"
      return 1
    fi
    if ((!announced)); then
      say "ports ${busy[*]} are in use (./kv uses $QKV_PORTS_TEXT): waiting up to ${PORT_WAIT} s for them"
      announced=1
    fi
    sleep 15
  done
}

# Sum (or max) of one metric over the quorumkv nodes' GET /metrics.
qkv_metric() { # NAME sum|max
  local i
  for ((i = 0; i < QKV_NODES; i++)); do
    curl -fsS -m 3 --noproxy '*' "http://$HOST:$((QKV_HTTP_BASE + i))/metrics" 2>/dev/null |
      awk -v n="$1" '$1 == n { print $2 }'
  done | awk -v how="$2" '{ if (how == "max") { if ($1 > v) v = $1 } else v += $1 } END { printf "%s", (NR ? v : "-") }'
}

# Per node: quorumkv_leader_elections_total, elections won on that node.
qkv_election_counts() { metric_per_member quorumkv_leader_elections_total "$QKV_HTTP_BASE" "$QKV_NODES"; }

# host:port of the leader's HTTP API, from node0's /status ("leader": "nodeN").
qkv_leader() {
  local node
  node=$(curl -fsS -m 3 --noproxy '*' "http://$HOST:$QKV_HTTP_BASE/status" 2>/dev/null |
    grep -oE '"leader"[[:space:]]*:[[:space:]]*"node[0-9]+"' | head -n 1 | grep -oE '[0-9]+"$' | tr -d '"') || true
  [[ -n $node ]] && printf '%s:%s' "$HOST" $((QKV_HTTP_BASE + node))
}

# Every key is a bench-* key: the cluster starts empty in KV_DATA.
qkv_key_count() {
  curl -fsS -m 3 --noproxy '*' "http://$HOST:$QKV_HTTP_BASE/status" 2>/dev/null | grep -o '"keyCount":[0-9]*' | head -n 1 | cut -d: -f2 || true
}

QKV_SKIPPED=
run_quorumkv() {
  step "quorumkv: leader + 5 followers, SQLite synchronous=$SQLITE_SYNC"
  if ! wait_qkv_ports; then
    QKV_SKIPPED="ports $QKV_PORTS_TEXT busy for ${PORT_WAIT} s"
    return 0
  fi
  if [[ ! -f target/quorumkv.jar ]]; then
    say "building target/quorumkv.jar (mvn -B -q package -DskipTests -pl src -am)"
    mvn -B -q package -DskipTests -pl src -am
  fi
  # Nodes inherit our environment: keep the node defaults (FULL fsync, no injected delay).
  unset SQLITE_SYNCHRONOUS MIN_DELAY MAX_DELAY REPLICATION_TIMEOUT WRITE_QUORUM
  prepare_kv_data
  QKV_STARTED=1
  ./kv up --no-build --quorum "$W" --wait "$QKV_READY_TIMEOUT" | tail -n 1
  local i targets= leader pid
  SERVER_PIDS=()
  for ((i = 0; i < QKV_NODES; i++)); do
    pid=$(cat "$KV_DATA/node$i/pid" 2>/dev/null || true)
    [[ -n $pid ]] && SERVER_PIDS+=("$pid")
  done
  ((${#SERVER_PIDS[@]} == QKV_NODES)) || warn "found ${#SERVER_PIDS[@]} of $QKV_NODES node pids: CPU figures cover only those"
  LEADER_COUNTER=qkv_election_counts
  LEADER_AGG=sum
  local elections_before
  elections_before=$(qkv_election_counts)
  leader=$(qkv_leader)
  if [[ -n $leader ]]; then
    run_cold quorumkv quorumkv-put.lua "$leader" 1
  else
    warn "no quorumkv leader known to node0: no cold row for quorumkv"
  fi
  for ((i = 0; i < QKV_NODES; i++)); do targets+="${targets:+,}$HOST:$((QKV_HTTP_BASE + i))"; done
  say "load: spread over all $QKV_NODES nodes (they forward writes to the leader), one wrk thread each"
  run_scenarios quorumkv quorumkv-put.lua quorumkv-get.lua "$targets" "$QKV_NODES" 1 qkv_key_count qkv_leader
  silence_check "the runs after the last recorded one"
  QKV_LEADER_CHANGES=$(leader_changes_between "$elections_before" "$(qkv_election_counts)")
  say "quorumkv leader changes from ./kv up returning to the end: $QKV_LEADER_CHANGES; longest a follower went without a message from its leader: $(awk -v s="$QKV_SILENCE" 'BEGIN { printf "%.0f", s * 1000 }') ms (reached during $QKV_SILENCE_WHEN)"
  say "quorumkv keys on node0: $(qkv_key_count) of $KEYS"
  # The checker ends with a verdict ("N of M replicas match the leader"); when ./kv could not start it (a
  # tools jar that did not build, say) there is none, and the summary says the check did not run.
  local check_rc=0
  ./kv check >"$OUT/kv-check.txt" 2>&1 || check_rc=$?
  if ((check_rc == 0)); then
    QKV_CHECK="consistent (./kv check)"
    say "quorumkv replicas consistent after the runs (./kv check)"
  elif grep -qE "replicas match the leader|cannot check consistency" "$OUT/kv-check.txt"; then
    QKV_CHECK="NOT consistent (./kv check exited $check_rc; see kv-check.txt)"
    warn "./kv check did not report all replicas consistent: see $OUT/kv-check.txt"
  else
    QKV_CHECK="NOT RUN (./kv check exited $check_rc before a verdict: $(tail -n 1 "$OUT/kv-check.txt"))"
    warn "the consistency check did not run: $QKV_CHECK"
  fi
  SERVER_PIDS=()
  LEADER_COUNTER=
  stop_quorumkv
  say "quorumkv stopped"
}

# ---------------------------------------------------------------------------- report

print_table() {
  local table=$OUT/table.txt
  awk -F'\t' '
    function ms(us) { return (us == "-" ? "-" : sprintf("%.2f", us / 1000)) }
    {
      n++; scen[n] = $1; sys[n] = $2; conns[n] = $3; rps[n] = $4; p50[n] = $5; p99[n] = $6; err[n] = $7; load[n] = $8
      cpu[n] = ($10 == "" ? "-" : $10); chg[n] = ($11 == "" ? "-" : $11); st[n] = ($12 == "" ? "-" : $12)
      if ($2 == "etcd") { ercps[$1] = $4; ep99[$1] = $6; ecpu[$1] = cpu[n] }
    }
    END {
      fmt = "%-16s %-9s %6s %12s %9s %9s %8s %10s %7s %14s %13s %13s %6s %6s\n"
      printf fmt, "scenario", "system", "conns", "ops/s", "p50 ms", "p99 ms", "errors", "cpu ms/op", "leader", "qkv/etcd ops/s", "qkv/etcd p99", "qkv/etcd cpu", "load1", "steal"
      printf fmt, "", "", "", "", "", "", "", "", "changes", "", "", "", "", "%"
      for (i = 1; i <= n; i++) {
        r1 = ""; r2 = ""; r3 = ""
        if (sys[i] == "quorumkv" && (scen[i] in ercps) && rps[i] != "-" && ercps[scen[i]] != "-" && ercps[scen[i]] > 0) {
          r1 = sprintf("%.2fx", rps[i] / ercps[scen[i]])
          if (ep99[scen[i]] > 0) r2 = sprintf("%.2fx", p99[i] / ep99[scen[i]])
        }
        if (sys[i] == "quorumkv" && cpu[i] != "-" && (scen[i] in ecpu) && ecpu[scen[i]] != "-" && ecpu[scen[i]] > 0)
          r3 = sprintf("%.2fx", cpu[i] / ecpu[scen[i]])
        unit = (scen[i] ~ /^read/) ? " r/s" : " w/s"
        printf fmt, scen[i], sys[i], conns[i], (rps[i] == "-" ? "-" : sprintf("%.1f%s", rps[i], unit)), ms(p50[i]), ms(p99[i]), err[i], cpu[i], chg[i], r1, r2, r3, load[i], st[i]
      }
    }' "$RESULTS" >"$table"
}

write_files() {
  local csv=$OUT/results.csv json=$OUT/results.json
  {
    printf 'scenario,system,connections,ops_per_s,p50_ms,p99_ms,errors,load1,detail,cpu_ms_per_op,leader_changes,steal_pct\n'
    awk -F'\t' -v OFS=, '{ for (i = 5; i <= 6; i++) if ($i != "-") $i = sprintf("%.3f", $i / 1000); $9 = "\"" $9 "\""; print }' "$RESULTS"
  } >"$csv"
  {
    printf '{\n  "machine": {'
    printf '"nproc": %s, "mem_total_mib": %s, "loadavg_at_start": "%s", "etcd_version": "%s", "wrk_version": "%s", "java": "%s", "sqlite_synchronous": "%s", "tmp_filesystem": "%s", "etcd_wal_fsync": "%s"},\n' \
      "$NPROC" "$MEM_MIB" "$LOAD_START" "$ETCD_VERSION" "$WRK_VERSION" "$JAVA_VERSION" "$SQLITE_SYNC" "$TMP_FS" "$ETCD_FSYNC"
    printf '  "settings": {"duration_s": %s, "connections": %s, "value_size": %s, "keys": %s, "w": %s, "etcd_target": "%s", "wrk_timeout_s": %s'"${QKV_SKIPPED:+, \"quorumkv_skipped\": \"$QKV_SKIPPED\"}"'},\n' \
      "$DURATION_S" "$CONNECTIONS" "$VALUE_SIZE" "$KEYS" "$W" "$ETCD_TARGET" "$WRK_TIMEOUT_S"
    printf '  "results": [\n'
    awk -F'\t' '
      function num(x) { return (x == "-" ? "null" : x) }
      function ms(x) { return (x == "-" ? "null" : sprintf("%.3f", x / 1000)) }
      { if (NR > 1) printf ",\n"
        printf "    {\"scenario\": \"%s\", \"system\": \"%s\", \"connections\": %s, \"ops_per_s\": %s, \"p50_ms\": %s, \"p99_ms\": %s, \"errors\": %s, \"load1\": %s, \"detail\": \"%s\", \"cpu_ms_per_op\": %s, \"leader_changes\": %s, \"steal_pct\": %s}", $1, $2, $3, num($4), ms($5), ms($6), num($7), $8, $9, num($10 == "" ? "-" : $10), num($11 == "" ? "-" : $11), num($12 == "" ? "-" : $12) }
      END { printf "\n" }' "$RESULTS"
    printf '  ]\n}\n'
  } >"$json"
}

# ---------------------------------------------------------------------------- main

ensure_tools
NPROC=$(nproc)
MEM_MIB=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 }' /proc/meminfo)
LOAD_START=$(now_load)
WRK_VERSION=$( (wrk -v 2>&1 || true) | awk 'NR == 1 { print $2 }')
JAVA_VERSION=$( (java -version 2>&1 || true) | awk -F'"' '/version/ { print $2; exit }')
ETCD_VERSION=$( (etcd --version 2>/dev/null || true) | awk '/^etcd Version:/ { print $3 }')
SQLITE_SYNC=$(sed -n 's/^[[:space:]]*synchronous[[:space:]]*=[[:space:]]*"\([A-Za-z]*\)".*/\1/p' application.conf | head -n 1)
TMP_FS=$(df -T "$TMP" | awk 'NR == 2 { print $2 }')

step "quorumkv vs etcd: $DURATION per run, $CONNECTIONS connections (x4 for c$((CONNECTIONS * 4))), $KEYS keys, $VALUE_SIZE-byte values, W=$W"
say "machine: $NPROC cores, $MEM_MIB MiB, load average $LOAD_START; etcd ${ETCD_VERSION:-?}, wrk ${WRK_VERSION:-?}, java ${JAVA_VERSION:-?}"
say "durability: etcd WAL fsync on (no --unsafe-no-fsync); quorumkv SQLite synchronous=${SQLITE_SYNC:-?}; both on $TMP_FS ($TMP)"
say "results: ${OUT#"$ROOT"/}/"

if ((RUN_ETCD)); then run_etcd; fi
if ((RUN_QKV)); then run_quorumkv; fi

step "results ($(date '+%F %T'); load average now $(now_load))"
{
  say "machine: $NPROC cores, $MEM_MIB MiB RAM, load average at start $LOAD_START"
  say "etcd ${ETCD_VERSION:-?} (5 members, WAL fsync on${ETCD_FSYNC:+; $ETCD_FSYNC}), quorumkv 1+5 (SQLite synchronous=${SQLITE_SYNC:-?}), data on $TMP_FS"
  say "wrk ${WRK_VERSION:-?}, closed loop, one thread per member, $DURATION per run, $KEYS keys, $VALUE_SIZE-byte values; etcd load: $ETCD_TARGET"
  [[ -z $QKV_SKIPPED ]] || say "quorumkv half skipped: $QKV_SKIPPED"
  [[ -z ${QKV_CHECK:-} ]] || say "quorumkv replicas after the runs: $QKV_CHECK"
  [[ -z ${QKV_LEADER_CHANGES:-} ]] || say "quorumkv leader changes from ./kv up returning to the end: $QKV_LEADER_CHANGES (quorumkv_leader_elections_total); longest a follower went without a message from its leader: $(awk -v s="$QKV_SILENCE" 'BEGIN { printf "%.0f", s * 1000 }') ms (quorumkv_leader_silence_max_seconds, reached during $QKV_SILENCE_WHEN)"
  say "cpu ms/op: server CPU (utime + stime of the 5 etcd / 6 quorumkv processes) per 2xx request during the run; the load generator is not included"
  [[ -z $COVERAGE ]] || say "warning: $COVERAGE (reads of missing keys count as errors)"
  say "etcd has no W: its write-W1/W5 rows are the same run as W=$W, repeated as a reference"
  say "load1: the 1-minute load average after each run; above $NPROC, other work competed for the CPUs"
  say "steal: the share of the machine's CPU time the hypervisor took during the run (/proc/stat); a row is comparable with another run's only at a similar steal"
  say ""
} | tee "$OUT/summary.txt"
print_table
sed -i 's/[[:space:]]*$//' "$OUT/table.txt"
tee -a "$OUT/summary.txt" <"$OUT/table.txt"
write_files
say ""
say "written: ${OUT#"$ROOT"/}/{summary.txt,table.txt,results.csv,results.json,wrk-*.txt}"
