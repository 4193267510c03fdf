#!/usr/bin/env bash
# kv-startup.sh: where the time of `./kv up` goes. Not a test: it measures and prints.
#
# ROUNDS times, for each variant in VARIANTS (taken in turn, A B A B ..., so that the machine's
# drift hits every variant alike): `./kv up --no-build` on an empty data directory, timed from
# outside, then the CPU time each node JVM used until then (/proc/<pid>/stat utime + stime) and,
# from the node logs, when each node (seconds after ./kv launched it) logged its first line
# (the ActorSystem starts), started remoting, joined the cluster, recovered its replica, bound
# HTTP, and when the first leader was elected; then `./kv down --wipe`.
#
# Variants: cds (the default: ./kv's class-data archive), nocds (KV_CDS=0); any other word is
# taken as extra JVM flags for the nodes, e.g. VARIANTS='cds "cds -XX:+UseSerialGC"'.
#
#   ROUNDS [5]  VARIANTS [nocds cds]  KV_HTTP_BASE_PORT / KV_CLUSTER_BASE_PORT (passed to ./kv)
#   LOGS [none]  a directory: each round's node logs are kept there (round-N-VARIANT/nodeK.log)
#
# The jar must be built (mvn -B -q package -DskipTests -pl src -am). The data directory is a
# temp dir; a trap stops the nodes.
set -euo pipefail

cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
ROUNDS=${ROUNDS:-5}
VARIANTS=${VARIANTS:-nocds cds}
[[ -f target/quorumkv.jar ]] || { echo "kv-startup: build target/quorumkv.jar first" >&2; exit 1; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kv-startup.XXXXXX")
export KV_DATA=$TMP/data
cleanup() {
  ./kv down --wipe >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

eval "variants=($VARIANTS)"
RESULTS=$TMP/results.tsv
: >"$RESULTS"

# Seconds of the day of "HH:MM:SS.mmm".
timeline() { # NODE_LOG -> "jvm remoting joined recovered http elected" (seconds after launch, - if absent)
  awk '
    function sod(t,  a) { split(t, a, ":"); return a[1] * 3600 + a[2] * 60 + a[3] }
    /^==== .* \.\/kv starts / { t0 = sod($3); delete at; next }
    t0 == "" { next }
    function mark(k) { if (!(k in at)) at[k] = sprintf("%.1f", sod($1) - t0) }
    /Slf4jLogger started/ { mark("jvm") }
    /Remoting started/ { mark("remoting") }
    /is JOINING itself|Welcome from/ { mark("joined") }
    /Replica node[0-9]+ recovered in/ { mark("recovered") }
    /serving HTTP on/ { mark("http") }
    /Leader on node[0-9]+ elected in term/ { mark("elected") }
    END {
      split("jvm remoting joined recovered http elected", k, " ")
      for (i = 1; i <= 6; i++) printf "%s%s", (k[i] in at ? at[k[i]] : "-"), (i < 6 ? " " : "\n")
    }' "$1"
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for ((round = 1; round <= ROUNDS; round++)); do
  for variant in "${variants[@]}"; do
    ./kv down --wipe >/dev/null 2>&1 || true
    env_args=() opts=
    case $variant in
      cds) ;;
      nocds) env_args=(KV_CDS=0) ;;
      cds\ *) opts=${variant#cds } ;;
      *) opts=$variant ;;
    esac
    [[ -z $opts ]] || env_args+=("JAVA_OPTS=@$PWD/jvm.options $opts")
    load=$(cut -d' ' -f1 /proc/loadavg)
    t0=$(date +%s%N)
    ok=1
    env ${env_args[@]+"${env_args[@]}"} ./kv up --no-build --wait 180 >"$TMP/up.txt" 2>&1 || ok=0
    wall=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
    cpus=()
    for n in 0 1 2 3 4 5; do
      pid=$(cat "$KV_DATA/node$n/pid" 2>/dev/null || true)
      [[ -n $pid && -r /proc/$pid/stat ]] && cpus+=("$(awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$pid/stat")")
    done
    cpu_total=$(printf '%s\n' "${cpus[@]}" | awk '{ s += $1 } END { printf "%.1f", s }')
    cpu_median=$(printf '%s\n' "${cpus[@]}" | median)
    elected=- events=()
    for n in 0 1 2 3 4 5; do
      read -r jvm remoting joined recovered http el < <(timeline "$KV_DATA/node$n/node.log")
      events+=("$jvm $remoting $joined $recovered $http")
      [[ $el == - ]] || elected=$el
    done
    col() { printf '%s\n' "${events[@]}" | awk -v c="$1" '$c != "-" { print $c }' | sort -n; }
    med_max() { local v; v=$(col "$1"); printf '%s/%s' "$(printf '%s\n' "$v" | median)" "$(printf '%s\n' "$v" | tail -n 1)"; }
    term=$(grep -ho 'elected in term [0-9]*' "$KV_DATA"/node*/node.log 2>/dev/null | awk '{ print $4 }' | head -n 1)
    line=$(printf '%-26s ready %5.1f s %s load %5s | cpu/JVM med %5s s, sum %5s s | med/max s after launch: first log %s remoting %s joined %s recovered %s http %s | leader elected %s s (term %s)' \
      "$variant" "$wall" "$( ((ok)) || printf '(FAILED)')" "$load" "$cpu_median" "$cpu_total" \
      "$(med_max 1)" "$(med_max 2)" "$(med_max 3)" "$(med_max 4)" "$(med_max 5)" "$elected" "${term:--}")
    printf 'round %d  %s\n' "$round" "$line"
    printf '%s\t%s\t%s\t%s\t%s\n' "$variant" "$wall" "$ok" "$cpu_median" "$load" >>"$RESULTS"
    if [[ -n ${LOGS:-} ]]; then
      keep="$LOGS/round-$round-${variant// /_}"
      mkdir -p "$keep"
      for n in 0 1 2 3 4 5; do cp -f "$KV_DATA/node$n/node.log" "$keep/node$n.log" 2>/dev/null || true; done
    fi
    ./kv down --wipe >/dev/null 2>&1 || true
  done
done

echo
echo "medians over $ROUNDS rounds (load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
for variant in "${variants[@]}"; do
  w=$(awk -F'\t' -v v="$variant" '$1 == v && $3 == 1 { print $2 }' "$RESULTS" | median)
  c=$(awk -F'\t' -v v="$variant" '$1 == v && $3 == 1 { print $4 }' "$RESULTS" | median)
  l=$(awk -F'\t' -v v="$variant" '$1 == v { print $5 }' "$RESULTS" | median)
  f=$(awk -F'\t' -v v="$variant" '$1 == v && $3 == 0' "$RESULTS" | wc -l)
  printf '  %-26s ./kv up to all six ready: median %s s; CPU per JVM until ready: median %s s; load1 before the runs: median %s%s\n' \
    "$variant" "$w" "$c" "$l" "$( ((f == 0)) || printf '; %d failed' "$f")"
done
if [[ ${variants[0]} == nocds ]]; then
  awk -F'\t' '$3 == 1 { w[$1] = w[$1] " " $2 } END { n = split(w["nocds"], a, " "); split(w["cds"], b, " ");
    for (i = 1; i <= n; i++) if (b[i] > 0) printf "%.2f\n", b[i] / a[i] }' "$RESULTS" | median |
    xargs printf '  ratio cds / nocds, round by round: median %s\n'
fi
