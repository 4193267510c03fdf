#!/usr/bin/env bash
# Leader failover through plain ./kv (no network namespaces): ROUNDS times, find the leader,
# kill -9 it, and time until a W=3 write is acknowledged through another node; then start the old
# leader again and wait until all six are ready. Prints each round and the median and worst.
#
# Usage: bench/kv-failover.sh [ROUNDS]      (default 20; a running ./kv cluster is used, or started)
# Environment: KV_DATA as for ./kv.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${1:-20}
PROBE_EVERY=0.05
ROUND_LIMIT_S=60

leader() {
  local i s
  for i in 0 1 2 3 4 5; do
    s=$(curl -fsS -m 2 "http://127.0.0.1:800$i/status" 2>/dev/null) || continue
    if grep -q '"role":"leader"' <<<"$s"; then printf 'node%s' "$i"; return 0; fi
  done
  return 1
}

./kv status >/dev/null 2>&1 || true
if ! leader >/dev/null; then ./kv up; fi

times=()
for ((round = 1; round <= ROUNDS; round++)); do
  old=
  for _ in $(seq 1 100); do old=$(leader) && break; sleep 0.2; done
  [[ -n $old ]] || { echo "round $round: no leader found" >&2; exit 1; }
  writer=$(( (${old#node} + 1 + round % 5) % 6 ))
  ./kv kill "$old" >/dev/null
  t0=$(date +%s%N)
  while :; do
    code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' -X PUT --data-binary "r$round" \
      "http://127.0.0.1:800$writer/kv/failover-$round?w=3&timeout=1s" || true)
    [[ $code == 200 ]] && break
    if (( ($(date +%s%N) - t0) / 1000000000 > ROUND_LIMIT_S )); then
      echo "round $round: no W=3 write acknowledged within ${ROUND_LIMIT_S} s" >&2
      exit 1
    fi
    sleep "$PROBE_EVERY"
  done
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  times+=("$ms")
  new=$(leader || echo '?')
  echo "round $round: killed $old, W=3 write through node$writer acknowledged after $ms ms (leader now $new); load $(cut -d' ' -f1 /proc/loadavg)"
  ./kv start "$old" >/dev/null
done

printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END {
  m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
  printf "rounds %d: median %.0f ms, worst %d ms, best %d ms\n", NR, m, a[NR], a[1] }'
