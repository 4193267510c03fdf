package quorumkv.metrics;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.Extension;
import akka.actor.typed.ExtensionId;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheus.PrometheusConfig;
import io.micrometer.prometheus.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A node's metrics, one registry per ActorSystem (an Akka extension, so actors and routes reach it
 * without being handed it), served at {@code GET /metrics} in Prometheus text format by Micrometer.
 * Meters are created once and cached: recording on the hot path is a map lookup and an add.
 */
public final class Metrics implements Extension {
  private static final ExtensionId<Metrics> ID = new ExtensionId<>() {
    @Override
    public Metrics createExtension(ActorSystem<?> system) {
      return new Metrics();
    }
  };

  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final Map<String, Counter> requests = new ConcurrentHashMap<>();
  private final Map<String, Timer> routeLatency = new ConcurrentHashMap<>();
  private final Map<String, Timer> writeLatency = new ConcurrentHashMap<>();
  private final Map<String, AtomicLong> lagEntries = new ConcurrentHashMap<>();
  private final Map<String, AtomicLong> lagMillis = new ConcurrentHashMap<>();
  private final Map<String, AtomicLong> inFlight = new ConcurrentHashMap<>();
  private final DistributionSummary acks;
  private final DistributionSummary batchEntries;
  private final Timer persistLatency;
  private final Timer journalInsertLatency;
  private final Counter elections;
  private final Counter expiredKeys;
  private final Counter leaderReadsUnderLease;
  private final Counter leaderReadsConfirmed;
  private final AtomicLong term = new AtomicLong();
  private final AtomicLong pendingWrites = new AtomicLong();
  private final AtomicLong forwardedWaiting = new AtomicLong();
  private final DistributionSummary forwardedBatch;
  private final AtomicLong appliedIndex = new AtomicLong();
  private final AtomicLong commitIndex = new AtomicLong();
  private final AtomicLong longestLeaderSilenceNanos = new AtomicLong();
  private final AtomicLong watchStreams = new AtomicLong();
  private final Counter watchEvents;
  private final Counter watchDropped;

  public static Metrics get(ActorSystem<?> system) {
    return ID.apply(system);
  }

  private Metrics() {
    acks = DistributionSummary.builder("quorumkv_write_acks")
        .description("Follower acks a write had when it was answered 200")
        .serviceLevelObjectives(1, 2, 3, 4, 5).register(registry);
    batchEntries = DistributionSummary.builder("quorumkv_replicate_batch_entries")
        .description("Log entries per Replicate message sent by the leader (group commit)")
        .serviceLevelObjectives(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000).register(registry);
    persistLatency = Timer.builder("quorumkv_replica_persist_seconds")
        .description("Time for this node's replica to persist a Replicate (journal write to SQLite)")
        .publishPercentileHistogram().minimumExpectedValue(Duration.ofNanos(100_000)).maximumExpectedValue(Duration.ofSeconds(60)).register(registry);
    journalInsertLatency = Timer.builder("quorumkv_journal_insert_seconds")
        .description("Time of SQLite's part of each journal write of this node: the insert and its commit, the WAL's "
            + "fsync included, on the journal's database thread. quorumkv_replica_persist_seconds less this is "
            + "the rest: the event handler, serialization and the hand-offs between the replica, the journal "
            + "actor, the database thread and back")
        .publishPercentileHistogram().minimumExpectedValue(Duration.ofNanos(50_000)).maximumExpectedValue(Duration.ofSeconds(60)).register(registry);
    forwardedBatch = DistributionSummary.builder("quorumkv_forwarded_batch_writes")
        .description("Writes per WriteBatch this node's forwarder sent to the leader")
        .serviceLevelObjectives(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000).register(registry);
    Gauge.builder("quorumkv_forwarded_writes_waiting", forwardedWaiting, AtomicLong::get)
        .description("Writes this node forwarded to the leader and still waiting for their answer").register(registry);
    elections = Counter.builder("quorumkv_leader_elections_total")
        .description("Times a leader was elected on this node").register(registry);
    expiredKeys = Counter.builder("quorumkv_ttl_expired_keys_total")
        .description("Keys whose TTL had passed that the leader on this node logged as expired (deleted through the log)")
        .register(registry);
    leaderReadsUnderLease = Counter.builder("quorumkv_leader_reads_total").tag("served", "lease")
        .description("Leader-level reads (and range reads) the leader on this node took: served under its lease, or "
            + "after a round of term confirmations because the lease had lapsed")
        .register(registry);
    leaderReadsConfirmed = Counter.builder("quorumkv_leader_reads_total").tag("served", "round")
        .description("Leader-level reads (and range reads) the leader on this node took: served under its lease, or "
            + "after a round of term confirmations because the lease had lapsed")
        .register(registry);
    Gauge.builder("quorumkv_term", term, AtomicLong::get)
        .description("The leader's term, as last seen on this node").register(registry);
    Gauge.builder("quorumkv_pending_writes", pendingWrites, AtomicLong::get)
        .description("Writes logged by the leader on this node and waiting for their quorum").register(registry);
    Gauge.builder("quorumkv_applied_index", appliedIndex, AtomicLong::get)
        .description("The last log index applied by this node's replica").register(registry);
    Gauge.builder("quorumkv_leader_silence_max_seconds", longestLeaderSilenceNanos, v -> v.get() / 1e9)
        .description("The longest time this node's replica went without a message from the leader it follows "
            + "(same leader and term), since the node started: how close the cluster came to an election timeout")
        .register(registry);
    Gauge.builder("quorumkv_commit_index", commitIndex, AtomicLong::get)
        .description("The leader's commit index (on the leader's node)").register(registry);
    Gauge.builder("quorumkv_watch_streams", watchStreams, AtomicLong::get)
        .description("Watch streams open on this node").register(registry);
    watchEvents = Counter.builder("quorumkv_watch_events_sent_total")
        .description("Events sent to watch streams on this node (changes, progress and errors)").register(registry);
    watchDropped = Counter.builder("quorumkv_watch_streams_dropped_total")
        .description("Watch streams disconnected because their client fell too far behind").register(registry);
  }

  public void watchOpened() {
    watchStreams.incrementAndGet();
  }

  public void watchClosed() {
    watchStreams.decrementAndGet();
  }

  public void watchEventSent() {
    watchEvents.increment();
  }

  public void watchDropped() {
    watchDropped.increment();
  }

  /** One HTTP request answered; {@code route} is the first path segment. */
  /**
   * One HTTP request answered: counted by route and status, and its latency (from routing to the
   * response's headers; for a watch stream, until the stream is opened) by method and route.
   */
  public void request(String method, String route, int status, long nanos) {
    requests.computeIfAbsent(method + ' ' + route + ' ' + status, k -> Counter.builder("quorumkv_http_requests_total")
        .description("HTTP requests by route and status")
        .tags("method", method, "route", route, "status", Integer.toString(status)).register(registry)).increment();
    routeLatency.computeIfAbsent(method + ' ' + route, k -> Timer.builder("quorumkv_http_request_seconds")
        .description("Server-side latency of HTTP requests by method and route, from routing to the response's headers")
        .tags("method", method, "route", route)
        .publishPercentileHistogram().minimumExpectedValue(Duration.ofNanos(100_000))
        .maximumExpectedValue(Duration.ofSeconds(60)).register(registry))
        .record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
  }

  /** A write's latency as its client saw it from this node, by write quorum and outcome. */
  public void write(int writeQuorum, String outcome, long nanos) {
    String w = writeQuorum < 0 ? "default" : Integer.toString(writeQuorum);
    writeLatency.computeIfAbsent(w + ' ' + outcome, k -> Timer.builder("quorumkv_write_latency_seconds")
        .description("Write latency by write quorum (w) and outcome")
        .tags("w", w, "outcome", outcome)
        .publishPercentileHistogram().minimumExpectedValue(Duration.ofNanos(100_000)).maximumExpectedValue(Duration.ofSeconds(60)).register(registry))
        .record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
  }

  public void acks(int count) {
    acks.record(count);
  }

  public void batch(int entries) {
    batchEntries.record(entries);
  }

  public void persisted(long nanos) {
    persistLatency.record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
  }

  /** SQLite inserted and committed one journal write in {@code nanos}. */
  public void journalInserted(long nanos) {
    journalInsertLatency.record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
  }

  /** The replica heard from the leader it already followed, {@code nanos} after the previous message. */
  public void leaderSilence(long nanos) {
    longestLeaderSilenceNanos.accumulateAndGet(nanos, Math::max);
  }

  /** The leader on this node logged an expiry entry for {@code keys} keys. */
  public void expired(int keys) {
    expiredKeys.increment(keys);
  }

  /** A leader-level read arrived at the leader on this node; {@code underLease}: served without a round. */
  public void leaderRead(boolean underLease) {
    (underLease ? leaderReadsUnderLease : leaderReadsConfirmed).increment();
  }

  public void elected(long newTerm) {
    elections.increment();
    term.set(newTerm);
  }

  /** The forwarder sent a batch of {@code writes}; {@code waiting} writes now await an answer. */
  public void forwarded(int writes, int waiting) {
    forwardedBatch.record(writes);
    forwardedWaiting.set(waiting);
  }

  public void forwardedWaiting(int waiting) {
    forwardedWaiting.set(waiting);
  }

  public void pendingWrites(int n) {
    pendingWrites.set(n);
  }

  public void applied(long index) {
    appliedIndex.set(index);
  }

  public void committed(long index) {
    commitIndex.set(index);
  }

  /** A follower's replication progress as the leader sees it. */
  public void follower(String node, long lagInEntries, long msSinceLastAck, int replicateInFlight) {
    gauge(lagEntries, node, "quorumkv_replication_lag_entries", "Log entries the leader has that the follower has not acked")
        .set(lagInEntries);
    gauge(lagMillis, node, "quorumkv_replication_lag_seconds", "Time since the follower last answered the leader")
        .set(msSinceLastAck);
    gauge(inFlight, node, "quorumkv_replicate_in_flight", "Replicate messages sent to the follower and not yet answered")
        .set(replicateInFlight);
  }

  private AtomicLong gauge(Map<String, AtomicLong> gauges, String node, String name, String description) {
    return gauges.computeIfAbsent(node, n -> {
      AtomicLong value = new AtomicLong();
      Gauge.builder(name, value, v -> name.endsWith("_seconds") ? v.get() / 1000.0 : v.get())
          .description(description).tag("follower", n).register(registry);
      return value;
    });
  }

  /** The Prometheus text exposition of every meter. */
  public String scrape() {
    return registry.scrape();
  }
}
