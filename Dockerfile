# quorumkv node image: one JVM per container.
#
# Build the jar first (mvn -B package -DskipTests), and the local base image (docker/base-image.sh:
# Debian bookworm minbase + OpenJDK 17 JRE, made with debootstrap; no registry needed). Then:
#   docker build -t quorumkv:latest .        (or: docker-compose build)
FROM quorumkv-base:bookworm

# Run as an unprivileged user; /data is owned by it, so a fresh named volume mounted there
# inherits that ownership.
RUN groupadd --system --gid 10001 quorumkv \
 && useradd --system --uid 10001 --gid quorumkv --home-dir /data --no-create-home \
            --shell /usr/sbin/nologin quorumkv \
 && mkdir -p /app /data \
 && chown quorumkv:quorumkv /data

COPY target/quorumkv.jar /app/quorumkv.jar
# The node JVM's flags (the same file ./kv reads), passed to java as an argument file.
COPY jvm.options /app/jvm.options

# The AppCDS class-data archive of the jar, made here once by a training run (one node alone, a few
# requests, stopped; see docker/cds-train.sh): each node JVM then maps the classes it needs at
# startup instead of loading and verifying them (about half the CPU time of a start, measured with
# ./kv, which makes the same archive). If it does not fit (another JVM), the JVM says so and runs
# without it.
COPY docker/cds-train.sh /app/cds-train.sh
RUN TRAIN_JAVA_OPTS=@/app/jvm.options sh /app/cds-train.sh /app/quorumkv.jar /app/quorumkv.jsa

# Defaults for one node; docker-compose.yml sets the per-node values (NODE_ID, CLUSTER_HOST, ...).
# The JVM flags come from /app/jvm.options; a non-empty JAVA_OPTS replaces them as a whole.
ENV HTTP_PORT=8000 \
    CLUSTER_BIND_HOST=0.0.0.0 \
    CLUSTER_PORT=2550 \
    DATA_DIR=/data

# 8000: HTTP API; 2550: Akka cluster (Artery TCP).
EXPOSE 8000 2550
VOLUME ["/data"]
WORKDIR /data
USER quorumkv

HEALTHCHECK --interval=5s --timeout=3s --start-period=20s --retries=40 \
  CMD curl -fsS --max-time 2 "http://localhost:${HTTP_PORT}/ready" || exit 1

# exec: java is PID 1 and gets SIGTERM directly (Akka coordinated shutdown, clean SQLite close).
# Extra arguments to `docker run IMAGE ...` are passed to the program.
ENTRYPOINT ["/bin/sh", "-c", "exec java ${JAVA_OPTS:-@/app/jvm.options} -XX:SharedArchiveFile=/app/quorumkv.jsa -jar /app/quorumkv.jar \"$@\"", "quorumkv"]
