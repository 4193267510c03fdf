#!/usr/bin/env bash
# Builds the local base image quorumkv-base:bookworm (Debian bookworm minbase + OpenJDK 17 JRE
# headless + curl + ca-certificates) with debootstrap and `docker import`, because this project
# must not depend on an image registry.
#
# Idempotent: does nothing when the image already exists (set FORCE=1 to rebuild).
#
# Environment:
#   BASE_IMAGE   image name            (default quorumkv-base:bookworm)
#   ROOTFS_DIR   scratch rootfs dir    (default /var/tmp/quorumkv-base; removed afterwards)
#   MIRROR       Debian mirror URL     (default: taken from the apt sources of this machine)
#   SUITE        Debian suite          (default bookworm)
#   FORCE=1      rebuild even when the image exists
set -euo pipefail

BASE_IMAGE="${BASE_IMAGE:-quorumkv-base:bookworm}"
ROOTFS_DIR="${ROOTFS_DIR:-/var/tmp/quorumkv-base}"
SUITE="${SUITE:-bookworm}"
PACKAGES="openjdk-17-jre-headless,curl,ca-certificates"

log() { printf '[base-image] %s\n' "$*" >&2; }
die() { printf '[base-image] ERROR: %s\n' "$*" >&2; exit 1; }

command -v docker >/dev/null 2>&1 || die "docker CLI not found (apt-get install docker.io)"
docker info >/dev/null 2>&1 || die "cannot talk to the Docker daemon (is dockerd running?)"

if [[ "${FORCE:-0}" != 1 ]] && docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  log "$BASE_IMAGE already exists; nothing to do (FORCE=1 to rebuild)"
  exit 0
fi

[[ $(id -u) -eq 0 ]] || die "debootstrap needs root"
command -v debootstrap >/dev/null 2>&1 || die "debootstrap not found (apt-get install debootstrap)"

# Prints the first Debian mirror URL that serves "$SUITE" itself (not -updates / -security),
# from /etc/apt/sources.list (one-line format) and /etc/apt/sources.list.d/*.list / *.sources
# (deb822 format). Only files apt itself reads are considered.
find_mirror() {
  local f
  local -a files=()
  [[ -f /etc/apt/sources.list ]] && files+=(/etc/apt/sources.list)
  for f in /etc/apt/sources.list.d/*.list; do [[ -f $f ]] && files+=("$f"); done
  for f in "${files[@]}"; do
    # deb [options] URI suite component...
    awk -v suite="$SUITE" '
      /^[[:space:]]*#/ { next }
      $1 == "deb" {
        i = 2
        if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
        if ($(i + 1) == suite) { print $i; exit }
      }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    # deb822: stanzas separated by blank lines; fields Types, URIs, Suites, Enabled.
    awk -v suite="$SUITE" '
      function flush() {
        if (types ~ /(^|[[:space:]])deb([[:space:]]|$)/ && enabled !~ /^(no|false)$/ && uris != "") {
          n = split(suites, s, /[[:space:]]+/)
          for (k = 1; k <= n; k++) if (s[k] == suite) { split(uris, u, /[[:space:]]+/); print u[1]; found = 1; exit }
        }
        types = ""; uris = ""; suites = ""; enabled = ""
      }
      /^[[:space:]]*#/ { next }
      /^[[:space:]]*$/ { flush(); next }
      {
        line = $0; sub(/^[^:]*:[[:space:]]*/, "", line); sub(/[[:space:]]+$/, "", line)
        key = tolower($1)
        if (key == "types:") types = line
        else if (key == "uris:") uris = line
        else if (key == "suites:") suites = line
        else if (key == "enabled:") enabled = tolower(line)
      }
      END { if (!found) flush() }' "$f"
  done
}

if [[ -z "${MIRROR:-}" ]]; then
  MIRROR="$(find_mirror | grep -E '^(https?|file|ftp)://' | head -n1 || true)"
  if [[ -z "$MIRROR" ]]; then
    MIRROR="http://deb.debian.org/debian"
    log "no $SUITE mirror found in the apt sources; falling back to $MIRROR"
  fi
fi
log "building $BASE_IMAGE from $MIRROR ($SUITE) in $ROOTFS_DIR"

# Only one build at a time (a concurrent run waits, then finds the image and exits).
exec 9>"${ROOTFS_DIR}.lock"
flock 9
if [[ "${FORCE:-0}" != 1 ]] && docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  log "$BASE_IMAGE was built by a concurrent run; nothing to do"
  exit 0
fi

cleanup() {
  # debootstrap may leave proc/sys mounted inside the rootfs when it fails.
  local m
  for m in proc sys dev/pts dev; do
    if mountpoint -q "$ROOTFS_DIR/$m" 2>/dev/null; then umount -l "$ROOTFS_DIR/$m" || true; fi
  done
  rm -rf --one-file-system "$ROOTFS_DIR"
}
trap cleanup EXIT
cleanup

start=$(date +%s)
if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS_DIR" "$MIRROR" \
      >"${ROOTFS_DIR}.debootstrap.log" 2>&1; then
  tail -n 40 "${ROOTFS_DIR}.debootstrap.log" >&2 || true
  [[ -f "$ROOTFS_DIR/debootstrap/debootstrap.log" ]] && tail -n 40 "$ROOTFS_DIR/debootstrap/debootstrap.log" >&2
  die "debootstrap failed (full log: ${ROOTFS_DIR}.debootstrap.log)"
fi

# Slim the image down: package caches and lists are not needed at run time.
rm -rf "$ROOTFS_DIR"/var/cache/apt/archives/*.deb "$ROOTFS_DIR"/var/cache/apt/*.bin \
       "$ROOTFS_DIR"/var/lib/apt/lists/* "$ROOTFS_DIR"/tmp/* "$ROOTFS_DIR"/var/log/*.log
# Point apt inside the image at the same mirror, so `apt-get install` works in derived images.
echo "deb $MIRROR $SUITE main" > "$ROOTFS_DIR/etc/apt/sources.list"

tar --numeric-owner -C "$ROOTFS_DIR" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["/bin/bash"]' \
  --message "debootstrap --variant=minbase $SUITE + $PACKAGES" \
  - "$BASE_IMAGE" >/dev/null

docker run --rm "$BASE_IMAGE" java -version >/dev/null 2>&1 || die "imported $BASE_IMAGE but java does not run in it"
docker run --rm "$BASE_IMAGE" curl --version >/dev/null 2>&1 || die "imported $BASE_IMAGE but curl does not run in it"
rm -f "${ROOTFS_DIR}.debootstrap.log"
log "built $BASE_IMAGE in $(( $(date +%s) - start ))s"
