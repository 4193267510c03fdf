#!/usr/bin/env bash
# End-to-end test of docker-compose.yml: six quorumkv containers, replication, a stopped node.
#
#   docker/compose-test.sh
#
# Installs docker.io / docker-compose / debootstrap if missing (apt-get), starts dockerd if none is
# reachable (and stops it again at the end), builds the local base image and the jar if needed,
# runs the stack under its own project name (quorumkv-test, so a stack of your own is not
# touched), and always removes the test stack and its volumes at the end.
#
# Environment:
#   QKV_PORT_PREFIX  host ports are ${QKV_PORT_PREFIX}0 .. ${QKV_PORT_PREFIX}5 (default 1800)
#   HEALTH_TIMEOUT   seconds to wait for all six containers to become healthy (default 300; six JVMs
#                    starting on a busy 2-core machine can need 4 minutes)
#   QKV_JAVA_OPTS    JVM flags for the nodes (default: jvm.options, which the image runs with)
#   KEEP_DOCKERD=1   leave a dockerd started by this script running
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PROJECT=quorumkv-test
NODES=(node0 node1 node2 node3 node4 node5)
HEALTH_TIMEOUT="${HEALTH_TIMEOUT:-300}"
DOCKERD_LOG=/tmp/quorumkv-dockerd.log
KEY=compose-test

# The test pins the cluster settings it relies on, whatever the caller's environment says.
export QKV_PORT_PREFIX="${QKV_PORT_PREFIX:-1800}"
# (QKV_JAVA_OPTS, the JVM flags, is passed through when set.)
export WRITE_QUORUM=3 MIN_DELAY=0ms MAX_DELAY=0ms REPLICATION_TIMEOUT=2s
# docker-compose 1.29 builds through docker-py (the classic builder); the docker CLI's BuildKit
# path needs buildx, which Debian's docker.io does not ship.
export COMPOSE_DOCKER_CLI_BUILD=0 DOCKER_BUILDKIT=0

T0=$(date +%s)
DOCKERD_PID=""
STACK_STARTED=0
TMP="$(mktemp -d /tmp/quorumkv-compose-test.XXXXXX)"

log()  { printf '[compose-test %4ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }
fail() { printf '[compose-test %4ss] FAIL: %s\n' "$(( $(date +%s) - T0 ))" "$*" >&2; exit 1; }

compose() { docker-compose -p "$PROJECT" -f "$ROOT/docker-compose.yml" "$@"; }
port_of() { echo "${QKV_PORT_PREFIX}${1#node}"; }   # node3 -> 18003

on_exit() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  if [[ $STACK_STARTED == 1 ]]; then
    if [[ $rc != 0 ]]; then
      echo "---------------- docker-compose ps ----------------" >&2
      compose ps >&2
      echo "---------------- last 50 log lines of each container ----------------" >&2
      compose logs --no-color --tail=50 >&2
    fi
    log "removing the test stack (docker-compose -p $PROJECT down -v)"
    timeout 120 docker-compose -p "$PROJECT" -f "$ROOT/docker-compose.yml" \
      down -v --remove-orphans --timeout 10 >/dev/null 2>&1 \
      || echo "WARNING: docker-compose down -v failed; remove the stack by hand" >&2
  fi
  if [[ -n $DOCKERD_PID && "${KEEP_DOCKERD:-0}" != 1 ]]; then
    log "stopping the dockerd this script started (pid $DOCKERD_PID)"
    kill "$DOCKERD_PID" 2>/dev/null
    for _ in $(seq 1 30); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 1; done
    if kill -0 "$DOCKERD_PID" 2>/dev/null; then
      echo "WARNING: dockerd (pid $DOCKERD_PID) did not stop within 30 s; sending SIGKILL" >&2
      kill -9 "$DOCKERD_PID" 2>/dev/null
    fi
  fi
  rm -rf "$TMP"
  if [[ $rc != 0 ]]; then
    echo "compose-test: FAILED (exit $rc) after $(( $(date +%s) - T0 ))s" >&2
  fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# http METHOD URL [BODY]: sets CODE and BODY (CODE 000 when the connection failed).
http() {
  local method=$1 url=$2 out="$TMP/body"
  local -a args=(-sS -o "$out" -w '%{http_code}' --max-time 15 -X "$method")
  [[ $# -ge 3 ]] && args+=(--data-binary "$3")
  CODE="$(curl "${args[@]}" "$url" 2>"$TMP/curl.err" || true)"
  [[ -n $CODE ]] || CODE=000
  BODY="$(cat "$out" 2>/dev/null || true)"
  [[ $CODE != 000 ]] || BODY="$(cat "$TMP/curl.err")"
  rm -f "$out"
}

# --- 1. tools -----------------------------------------------------------------------------------
missing=()
command -v docker         >/dev/null 2>&1 || missing+=(docker.io)
command -v dockerd        >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v debootstrap    >/dev/null 2>&1 || missing+=(debootstrap)
command -v curl           >/dev/null 2>&1 || missing+=(curl)
if [[ ${#missing[@]} -gt 0 ]]; then
  [[ $(id -u) -eq 0 ]] || fail "missing packages ${missing[*]} and not root; install them first"
  log "installing ${missing[*]} (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq || fail "apt-get update failed"
  # shellcheck disable=SC2046
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(printf '%s\n' "${missing[@]}" | sort -u) \
    || fail "apt-get install ${missing[*]} failed"
fi

# --- 2. Docker daemon ---------------------------------------------------------------------------
if ! docker info >/dev/null 2>&1; then
  [[ $(id -u) -eq 0 ]] || fail "no Docker daemon is reachable and starting one needs root"
  log "no Docker daemon reachable; starting dockerd --iptables=false --bridge=none (log: $DOCKERD_LOG)"
  nohup dockerd --iptables=false --bridge=none >"$DOCKERD_LOG" 2>&1 &
  DOCKERD_PID=$!
  for i in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$DOCKERD_PID" 2>/dev/null || { DOCKERD_PID=""; tail -n 20 "$DOCKERD_LOG" >&2; fail "dockerd exited at startup (see $DOCKERD_LOG)"; }
    [[ $i == 60 ]] && { tail -n 20 "$DOCKERD_LOG" >&2; fail "dockerd not ready within 60 s (see $DOCKERD_LOG)"; }
    sleep 1
  done
  log "dockerd is up (pid $DOCKERD_PID)"
fi

# --- 3. base image, jar, stack image -------------------------------------------------------------
"$ROOT/docker/base-image.sh" || fail "docker/base-image.sh failed"

if [[ ! -f target/quorumkv.jar ]]; then
  command -v mvn >/dev/null 2>&1 || fail "target/quorumkv.jar is missing and mvn is not installed"
  log "building target/quorumkv.jar (mvn -B -q package -DskipTests)"
  mvn -B -q package -DskipTests || fail "mvn package failed"
  [[ -f target/quorumkv.jar ]] || fail "mvn package did not produce target/quorumkv.jar"
fi

# Leftovers of an interrupted earlier run of this test would hold the ports and the volumes.
compose down -v --remove-orphans --timeout 5 >/dev/null 2>&1 || true

for n in "${NODES[@]}"; do
  p=$(port_of "$n")
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    fail "port 127.0.0.1:$p is already in use (another quorumkv stack?); stop it or run with QKV_PORT_PREFIX=2800"
  fi
done

log "docker-compose build"
compose build >"$TMP/build.log" 2>&1 || { tail -n 30 "$TMP/build.log" >&2; fail "docker-compose build failed"; }

log "docker-compose up -d (project $PROJECT, ports $(port_of node0)..$(port_of node5))"
STACK_STARTED=1
compose up -d || fail "docker-compose up -d failed"

# --- 4. wait until all six are healthy -----------------------------------------------------------
# Container ids once (docker-compose itself is slow to start; plain docker is not).
declare -A CID
for n in "${NODES[@]}"; do
  CID[$n]="$(docker ps -a -q --no-trunc \
    --filter "label=com.docker.compose.project=$PROJECT" \
    --filter "label=com.docker.compose.service=$n" | head -n1)"
  [[ -n ${CID[$n]} ]] || fail "no container for service $n after docker-compose up"
done
log "waiting up to ${HEALTH_TIMEOUT}s for all six containers to be healthy"
deadline=$(( $(date +%s) + HEALTH_TIMEOUT ))
last_report=0
while :; do
  healthy=0; summary=()
  for n in "${NODES[@]}"; do
    cid="${CID[$n]}"
    read -r state health restarts < <(docker inspect -f \
      '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.RestartCount}}' "$cid")
    case $state in
      exited|dead) fail "container $n is $state (exit code $(docker inspect -f '{{.State.ExitCode}}' "$cid"))" ;;
    esac
    # restart: unless-stopped brings a node back after a crash at startup (e.g. a timeout on a
    # starved machine); once is tolerated, a loop is not.
    [[ $restarts -ge 3 ]] && fail "container $n keeps restarting ($restarts restarts)"
    [[ $health == healthy ]] && healthy=$((healthy + 1))
    summary+=("$n=$health$([[ $restarts == 0 ]] || echo "(restarts:$restarts)")")
  done
  [[ $healthy == "${#NODES[@]}" ]] && break
  now=$(date +%s)
  if (( now >= deadline )); then
    fail "only $healthy/6 containers healthy after ${HEALTH_TIMEOUT}s: ${summary[*]}"
  fi
  if (( now - last_report >= 10 )); then log "  ${summary[*]}"; last_report=$now; fi
  sleep 2
done
HEALTHY_AFTER=$(( $(date +%s) - T0 ))
log "all six containers are healthy"

# --- 5a. a w=5 write through node2 reaches all six replicas --------------------------------------
url="http://127.0.0.1:$(port_of node2)/kv/$KEY?w=5"
http PUT "$url" hello
[[ $CODE == 200 ]] || fail "PUT $url returned $CODE: $BODY"
log "PUT $KEY=hello w=5 via node2: 200 $BODY"

# grep pattern for "value":"<v>" in compact or spaced JSON
value_re() { printf '"value"[[:space:]]*:[[:space:]]*"%s"' "$1"; }

read_back() {  # read_back NODE VALUE: polls GET on NODE for up to 10 s
  local n=$1 v=$2 url i
  url="http://127.0.0.1:$(port_of "$n")/kv/$KEY"
  for i in $(seq 1 20); do
    http GET "$url"
    if [[ $CODE == 200 ]] && grep -qE "$(value_re "$v")" <<<"$BODY"; then
      log "  GET via $n: $BODY"; return 0
    fi
    sleep 0.5
  done
  fail "GET $url did not return \"value\":\"$v\" within 10 s (last: $CODE $BODY)"
}
for n in "${NODES[@]}"; do read_back "$n" hello; done

# --- 5b. node5 stopped: a w=3 write through node1 still succeeds ---------------------------------
log "docker-compose stop node5"
compose stop -t 20 node5 >/dev/null 2>&1 || fail "docker-compose stop node5 failed"
[[ "$(docker inspect -f '{{.State.Running}}' "${CID[node5]}")" == false ]] || fail "node5 is still running after docker-compose stop"
http GET "http://127.0.0.1:$(port_of node5)/ready"
[[ $CODE == 000 ]] || fail "node5 still answers HTTP after being stopped ($CODE)"
log "node5 is stopped"

# If node5 happened to host the leader, the singleton moves and writes get 503 until the new
# leader is ready; allow that (503 only) for a bounded time, and report how many attempts it took.
url="http://127.0.0.1:$(port_of node1)/kv/$KEY?w=3"
attempts=0; deadline=$(( $(date +%s) + 45 ))
while :; do
  attempts=$((attempts + 1))
  http PUT "$url" after-node5-stopped
  [[ $CODE == 200 ]] && break
  [[ $CODE == 503 ]] || fail "PUT $url with node5 stopped returned $CODE: $BODY"
  (( $(date +%s) < deadline )) || fail "PUT $url with node5 stopped: last answer $CODE $BODY (after $attempts attempts)"
  log "  attempt $attempts: $CODE $BODY; retrying"
  sleep 1
done
log "PUT $KEY=after-node5-stopped w=3 via node1: 200 $BODY (attempt $attempts)"
read_back node0 after-node5-stopped

# --- 5c. summary ---------------------------------------------------------------------------------
echo "PASS: compose-test: 6/6 containers healthy after ${HEALTHY_AFTER}s; w=5 write via node2 read back on all 6 nodes; with node5 stopped, w=3 write via node1 (attempts: $attempts) read back on node0; total $(( $(date +%s) - T0 ))s"
