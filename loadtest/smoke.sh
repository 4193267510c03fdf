#!/usr/bin/env bash
# Smoke-runs the load simulations against a running quorumkv cluster: each for a few seconds
# with a few users. Exits non-zero if any run fails (a Gatling assertion failed, i.e. fewer
# than 95% of requests succeeded, or the build/run itself failed).
#
# Usage: loadtest/smoke.sh [NODES] [extra mvn options...]
#   NODES  comma-separated base URLs (default: the six nodes of `./kv up`,
#          http://127.0.0.1:8000,...,http://127.0.0.1:8005); also settable as $NODES.
#   Extra options go to every mvn call: -D settings for the simulations (-Dw=2), and Maven's
#   own (-q, -o, -Dmaven.repo.local=...).
# Environment:
#   DURATION (3)  seconds per simulation      USERS (4)  concurrent users
#   SIMULATIONS   class names to run (default: WriteThroughputSimulation
#                 ReadWriteMixSimulation SpreadWritesSimulation)
#   MVN           the maven command (default: mvn)
# Example: loadtest/smoke.sh http://127.0.0.1:9600,http://127.0.0.1:9601 -Dw=2
set -euo pipefail

cd "$(dirname "$0")"

DEFAULT_NODES="http://127.0.0.1:8000,http://127.0.0.1:8001,http://127.0.0.1:8002,http://127.0.0.1:8003,http://127.0.0.1:8004,http://127.0.0.1:8005"
if [[ $# -gt 0 && "$1" != -* ]]; then
  NODES="$1"
  shift
fi
NODES="${NODES:-$DEFAULT_NODES}"
DURATION="${DURATION:-3}"
USERS="${USERS:-4}"
MVN="${MVN:-mvn}"
SIMULATIONS="${SIMULATIONS:-WriteThroughputSimulation ReadWriteMixSimulation SpreadWritesSimulation}"

# Fail fast with a clear message when a node is not up, rather than a run full of KOs.
IFS=',' read -r -a node_list <<< "$NODES"
for node in "${node_list[@]}"; do
  node="${node%/}"
  if ! curl -fsS -m 5 -o /dev/null "$node/health"; then
    echo "smoke: node $node does not answer $node/health; is the cluster up?" >&2
    exit 2
  fi
done

echo "smoke: compiling the simulations"
"$MVN" -B -q test-compile "$@"

failed=()
for sim in $SIMULATIONS; do
  echo "smoke: running $sim (users=$USERS duration=${DURATION}s nodes=$NODES)"
  if "$MVN" -B gatling:test \
      "-Dgatling.simulationClass=quorumkv.loadtest.$sim" \
      "-Dusers=$USERS" "-Dduration=$DURATION" "-Dnodes=$NODES" "$@"; then
    echo "smoke: $sim passed"
  else
    echo "smoke: $sim FAILED" >&2
    failed+=("$sim")
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "smoke: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "smoke: all passed ($SIMULATIONS); reports under $(pwd)/target/gatling/"
