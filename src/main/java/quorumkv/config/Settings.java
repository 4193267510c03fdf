package quorumkv.config;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/** Every setting quorumkv reads, typed, read once at start-up from application.conf (+ env). */
public record Settings(
    String nodeId,
    String httpHost,
    int httpPort,
    Duration askTimeout,
    String clusterHost,
    String clusterBindHost,
    int clusterPort,
    List<String> seedNodes,
    Duration downUnreachableAfter,
    Path dataDir,
    Replication replication,
    int snapshotEvery,
    Duration commitFlushDelay,
    int maxKeyBytes,
    int maxValueBytes,
    long readyMaxLag,
    Duration joinRetryInterval,
    boolean formNewCluster,
    Optional<Path> restoreFrom,
    Watch watch) {

  /**
   * Watch streams: the history of changes kept for {@code since} / {@code Last-Event-ID} (at most
   * {@code historyChanges} key changes and about {@code historyBytes}), the events one stream may
   * have queued before it counts as too slow, how often an idle stream gets a progress event, and
   * how long applied changes may wait before they are written to the history's file together.
   */
  public record Watch(int historyChanges, long historyBytes, int streamBuffer, Duration progressInterval,
      Duration historyWriteDelay) {
    public Watch {
      if (historyChanges < 1 || historyBytes < 1) {
        throw new IllegalArgumentException("WATCH_HISTORY and WATCH_HISTORY_BYTES must be positive, got "
            + historyChanges + " and " + historyBytes);
      }
      if (streamBuffer < 1) {
        throw new IllegalArgumentException("WATCH_STREAM_BUFFER must be positive, got " + streamBuffer);
      }
      if (historyWriteDelay.isNegative()) {
        throw new IllegalArgumentException("WATCH_HISTORY_WRITE_DELAY must not be negative, got " + historyWriteDelay);
      }
    }
  }

  public record Replication(
      int writeQuorum,
      int followers,
      Duration timeout,
      Duration minDelay,
      Duration maxDelay,
      int retainedEntries,
      int maxBatchEntries,
      long maxBatchBytes,
      int maxInFlight,
      Duration resendAfter,
      int maxPendingWrites,
      int stateTransferChunk,
      Election election) {

    public Replication {
      if (followers < 0) throw new IllegalArgumentException("followers must be >= 0, got " + followers);
      if (writeQuorum < 0 || writeQuorum > followers) {
        throw new IllegalArgumentException(
            "WRITE_QUORUM must be between 0 and FOLLOWERS (" + followers + "), got " + writeQuorum);
      }
      if (minDelay.isNegative() || maxDelay.compareTo(minDelay) < 0) {
        throw new IllegalArgumentException("need 0 <= MIN_DELAY <= MAX_DELAY, got " + minDelay + ".." + maxDelay);
      }
    }
  }

  /**
   * Leader election: this node's index among the followers + 1 nodes (its terms are those equal to
   * it modulo the cluster size), the leader's heartbeat interval, the randomized election timeout,
   * and the tick at which the leader actor looks at its timers.
   */
  public record Election(
      int nodeIndex, Duration heartbeatInterval, Duration timeoutMin, Duration timeoutMax, Duration tick) {

    public Election {
      if (tick.isZero() || tick.isNegative()) {
        throw new IllegalArgumentException("ELECTION_TICK must be positive, got " + tick);
      }
      if (timeoutMin.compareTo(tick) < 0 || timeoutMax.compareTo(timeoutMin) < 0) {
        throw new IllegalArgumentException("need ELECTION_TICK <= ELECTION_TIMEOUT_MIN <= ELECTION_TIMEOUT_MAX, got "
            + tick + ", " + timeoutMin + ".." + timeoutMax);
      }
      if (heartbeatInterval.compareTo(timeoutMin) >= 0) {
        throw new IllegalArgumentException("HEARTBEAT_INTERVAL (" + heartbeatInterval
            + ") must be well below ELECTION_TIMEOUT_MIN (" + timeoutMin + ")");
      }
    }

    /** Election timeouts in ticks, as the election core counts them. */
    public int ticks(Duration d) {
      return (int) Math.max(1, d.toNanos() / tick.toNanos());
    }
  }

  /** {@code node-index}, or when it is -1 the number at the end of {@code nodeId} (node3 -> 3). */
  public static int nodeIndex(int configured, String nodeId, int clusterSize) {
    int index = configured;
    if (index < 0) {
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d+)$").matcher(nodeId);
      if (!m.find()) {
        throw new IllegalArgumentException("NODE_ID '" + nodeId
            + "' does not end in a number: set NODE_INDEX (0.." + (clusterSize - 1) + ")");
      }
      index = Integer.parseInt(m.group(1));
    }
    if (index >= clusterSize) {
      throw new IllegalArgumentException("node index " + index + " of " + nodeId + " is not below the cluster size "
          + clusterSize + " (FOLLOWERS + 1): set NODE_INDEX");
    }
    return index;
  }

  public static Settings from(Config config) {
    Config q = config.getConfig("quorumkv");
    Config r = q.getConfig("replication");
    return new Settings(
        q.getString("node-id"),
        q.getString("http.host"),
        q.getInt("http.port"),
        q.getDuration("http.ask-timeout"),
        q.getString("cluster.host"),
        q.getString("cluster.bind-host"),
        q.getInt("cluster.port"),
        Arrays.stream(q.getString("cluster.seed-nodes").split(","))
            .map(String::trim)
            .filter(s -> !s.isEmpty())
            .toList(),
        q.getDuration("cluster.down-unreachable-after"),
        Path.of(q.getString("data-dir")),
        new Replication(
            r.getInt("write-quorum"),
            r.getInt("followers"),
            r.getDuration("timeout"),
            r.getDuration("min-delay"),
            r.getDuration("max-delay"),
            r.getInt("retained-entries"),
            r.getInt("max-batch-entries"),
            r.getBytes("max-batch-bytes"),
            r.getInt("max-in-flight"),
            r.getDuration("resend-after"),
            r.getInt("max-pending-writes"),
            r.getInt("state-transfer-chunk"),
            new Election(
                nodeIndex(q.getInt("node-index"), q.getString("node-id"), r.getInt("followers") + 1),
                r.getDuration("election.heartbeat-interval"),
                r.getDuration("election.timeout-min"),
                r.getDuration("election.timeout-max"),
                r.getDuration("election.tick"))),
        q.getInt("storage.snapshot-every"),
        q.getDuration("storage.commit-flush-delay"),
        q.getBytes("limits.max-key-bytes").intValue(),
        q.getBytes("limits.max-value-bytes").intValue(),
        q.getLong("ready-max-lag"),
        q.getDuration("cluster.join-retry-interval"),
        q.getBoolean("cluster.form-new-cluster"),
        q.getString("restore-from").isBlank() ? Optional.empty() : Optional.of(Path.of(q.getString("restore-from"))),
        new Watch(
            q.getInt("watch.history"),
            q.getBytes("watch.history-bytes"),
            q.getInt("watch.stream-buffer"),
            q.getDuration("watch.progress-interval"),
            q.getDuration("watch.history-write-delay")));
  }
}
