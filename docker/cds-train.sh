#!/bin/sh
# cds-train.sh JAR ARCHIVE: makes the AppCDS class-data archive of the node jar, for the image
# build (Dockerfile). One node runs alone (a one-node cluster on 127.0.0.1, its data in a temp dir),
# answers a few requests of each kind, and is stopped with SIGTERM; the JVM writes the classes it
# loaded to ARCHIVE as it exits (-XX:ArchiveClassesAtExit). A node started later with
# -XX:SharedArchiveFile=ARCHIVE and the same JAR path maps them instead of loading, parsing and
# verifying them again (about half the CPU time of a node's start, measured with ./kv, which
# makes the same archive). The archive fits only this JVM and this jar at this path; with another,
# the JVM says so on startup and runs without it.
#
# JAR is passed to java as given: ./kv gives a path relative to the working directory, as its
# nodes do, so that the archive fits every copy of the jar at that relative place.
#
# Environment: TRAIN_HTTP_PORT [8000], TRAIN_CLUSTER_PORT [2550], TRAIN_JAVA_OPTS [the flags in
# jvm.options beside the script's directory; ./kv and the Dockerfile pass the nodes' flags]
set -eu

jar=$1
archive=$2
http_port=${TRAIN_HTTP_PORT:-8000}
cluster_port=${TRAIN_CLUSTER_PORT:-2550}
url="http://127.0.0.1:$http_port"
dir=$(mktemp -d)

# shellcheck disable=SC2086
env NODE_ID=node0 HTTP_HOST=127.0.0.1 HTTP_PORT="$http_port" CLUSTER_HOST=127.0.0.1 CLUSTER_BIND_HOST= \
  CLUSTER_PORT="$cluster_port" SEED_NODES="127.0.0.1:$cluster_port" DATA_DIR="$dir/node0" \
  FOLLOWERS=0 WRITE_QUORUM=0 \
  java ${TRAIN_JAVA_OPTS:-@$(dirname "$0")/../jvm.options} -XX:ArchiveClassesAtExit="$archive" -jar "$jar" \
  >"$dir/node.log" 2>&1 &
pid=$!
trap 'kill -KILL "$pid" 2>/dev/null; rm -rf "$dir"; exit 130' INT TERM HUP

fail() {
  echo "cds-train: $*" >&2
  tail -n 30 "$dir/node.log" >&2 || true
  kill -KILL "$pid" 2>/dev/null || true
  rm -rf "$dir"
  exit 1
}

tries=0
until curl -fsS -m 2 "$url/ready" >/dev/null 2>&1; do
  kill -0 "$pid" 2>/dev/null || fail "the training node exited before it was ready"
  tries=$((tries + 1))
  [ "$tries" -lt 600 ] || fail "the training node was not ready within about 2 minutes"
  sleep 0.2
done

i=0
while [ "$i" -lt 20 ]; do
  curl -sS -m 5 -o /dev/null -X PUT --data-binary "value-$i" "$url/kv/cds-$i" || true
  curl -sS -m 5 -o /dev/null -X PUT --data-binary "value-$i" "$url/kv/cds-$i?w=0&ifVersion=0" || true
  curl -sS -m 5 -o /dev/null "$url/kv/cds-$i" || true
  curl -sS -m 5 -o /dev/null "$url/kv/cds-$i?consistency=linearizable" || true
  i=$((i + 1))
done
curl -sS -m 5 -o /dev/null -X DELETE "$url/kv/cds-0" || true
curl -sS -m 5 -o /dev/null "$url/kv?prefix=cds-&limit=5" || true
curl -sS -m 5 -o /dev/null -X POST -H 'Content-Type: application/json' --data '{"key":"cds-json","value":"v"}' "$url/set" || true
curl -sS -m 5 -o /dev/null "$url/get?key=cds-json" || true
curl -sS -m 5 -o /dev/null "$url/status" || true
curl -sS -m 5 -o /dev/null "$url/metrics" || true
curl -sS -m 5 -o /dev/null "$url/kv/cds-missing" || true

kill -TERM "$pid"
wait "$pid" || true # 143 after SIGTERM
[ -s "$archive" ] || fail "no archive written to $archive"
chmod 0444 "$archive"
rm -rf "$dir"
echo "cds-train: wrote $archive ($(du -h "$archive" | cut -f1))"
