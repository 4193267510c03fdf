package quorumkv.config;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

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
    Path dataDir,
    Replication replication,
    int snapshotEvery,
    int maxKeyBytes,
    int maxValueBytes,
    long readyMaxLag) {

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
      int stateTransferChunk) {

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
            r.getInt("state-transfer-chunk")),
        q.getInt("storage.snapshot-every"),
        q.getBytes("limits.max-key-bytes").intValue(),
        q.getBytes("limits.max-value-bytes").intValue(),
        q.getLong("ready-max-lag"));
  }
}
