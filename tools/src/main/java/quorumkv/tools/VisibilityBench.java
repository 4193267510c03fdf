package quorumkv.tools;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.locks.LockSupport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import quorumkv.harness.NodeClient;

/**
 * How soon an acknowledged write is visible everywhere: writes keys one at a time to the leader
 * and, from the moment each is acknowledged, asks every other node's local read for that write;
 * reports the time until the last follower shows it (percentiles over the writes).
 *
 * <p>By default each follower is asked once, with {@code minIndex} set to the write's index: the
 * node answers as soon as its replica has applied it. With {@code --poll} each follower is polled
 * instead, which costs five HTTP reads per interval on the same machine as the nodes (1,000 reads/s
 * at 5 ms: on two cores that slows the replicas being measured). Either way the figures include
 * one loopback HTTP round trip.
 *
 * <p>Usage: {@code java -cp tools/target/quorumkv-tools.jar quorumkv.tools.VisibilityBench [--writes 200]}
 */
@Command(name = "VisibilityBench", mixinStandardHelpOptions = true, versionProvider = ToolCommandLine.Version.class,
    sortOptions = false, usageHelpAutoWidth = true,
    description = {"Time from an acknowledged write to its visibility in every follower's local read.",
        "Class: quorumkv.tools.VisibilityBench in tools/target/quorumkv-tools.jar."},
    footer = "Exits 0 when every write became visible on every follower, 1 otherwise, 2 on bad options.")
public final class VisibilityBench implements Callable<Integer> {
  private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(5);

  @Option(names = "--nodes", paramLabel = "URL,URL,...", split = ",", converter = NodeAddresses.UriConverter.class,
      description = "The nodes (default: http://127.0.0.1:8000 .. http://127.0.0.1:8005).")
  List<URI> nodes;

  @Option(names = "--writes", paramLabel = "N", description = "Writes, one at a time (default: ${DEFAULT-VALUE}).")
  int writes = 200;

  @Option(names = "--warmup-reads", paramLabel = "N", description = {"Reads each follower answers before the first",
      "write, so that this client's own HTTP stack is compiled when it measures (default: ${DEFAULT-VALUE})."})
  int warmupReads = 2000;

  @Option(names = "--give-up-ms", paramLabel = "MS",
      description = "A write not visible on a follower after this long counts as never (default: ${DEFAULT-VALUE}).")
  long giveUpMillis = 10_000;

  @Option(names = "--poll", description = {"Poll the followers' plain local reads instead of one read each with",
      "minIndex (for builds without minIndex)."})
  boolean poll;

  @Option(names = "--poll-interval-ms", paramLabel = "MS",
      description = {"With --poll: pause between two polls of one follower (default: ${DEFAULT-VALUE}). 0 polls back",
          "to back: five threads then keep two cores busy with reads and slow the very replicas being measured."})
  double pollIntervalMillis = 1;

  public static void main(String[] args) {
    ToolCommandLine.exit(new VisibilityBench(), args);
  }

  @Override
  public Integer call() throws Exception {
    List<URI> all = nodes == null || nodes.isEmpty() ? NodeAddresses.LOCAL.uris() : nodes;
    NodeClient client = new NodeClient(REQUEST_TIMEOUT);
    Optional<URI> leader = findLeader(client, all);
    if (leader.isEmpty()) {
      System.err.println("VisibilityBench: no node reports itself as leader in GET /status");
      return 1;
    }
    List<URI> followers = all.stream().filter(n -> !n.equals(leader.get())).toList();
    ExecutorService pollers = Executors.newFixedThreadPool(followers.size());
    warmUp(client, followers, pollers);
    long[] lastVisibleMicros = new long[writes];
    long[] ackMicros = new long[writes];
    long[] repeatMicros = new long[writes];
    long[][] perFollowerMicros = new long[followers.size()][writes];
    int failed = 0;
    try {
      String prefix = "visibility-" + System.currentTimeMillis() + "-";
      for (int i = 0; i < writes; i++) {
        String key = prefix + i;
        long sent = System.nanoTime();
        NodeClient.Response r = client.put(leader.get(), key, "v" + i, null);
        if (!r.ok()) {
          System.err.println("VisibilityBench: write " + i + " answered " + r);
          failed++;
          lastVisibleMicros[i] = -1;
          continue;
        }
        long acked = System.nanoTime();
        ackMicros[i] = (acked - sent) / 1000;
        long version = r.body().path("version").asLong();
        List<Future<Long>> polls = new ArrayList<>();
        for (URI f : followers) {
          polls.add(pollers.submit(() -> poll ? pollVisible(client, f, key, version, acked)
              : awaitVisible(client, f, key, version, acked)));
        }
        long slowest = 0;
        for (int f = 0; f < polls.size(); f++) {
          long micros = polls.get(f).get();
          perFollowerMicros[f][i] = micros;
          slowest = micros < 0 || slowest < 0 ? -1 : Math.max(slowest, micros);
        }
        lastVisibleMicros[i] = slowest;
        if (slowest < 0) {
          failed++;
          continue;
        }
        // The same reads again, now that every follower has applied the write: what the loopback
        // HTTP round trip alone adds to the figure above.
        long again = System.nanoTime();
        List<Future<Long>> repeats = new ArrayList<>();
        for (URI f : followers) {
          repeats.add(pollers.submit(() -> awaitVisible(client, f, key, version, again)));
        }
        long slowestRepeat = 0;
        for (Future<Long> p : repeats) {
          slowestRepeat = Math.max(slowestRepeat, p.get());
        }
        repeatMicros[i] = slowestRepeat;
      }
    } finally {
      pollers.shutdownNow();
    }
    long[] visible = Arrays.stream(lastVisibleMicros).filter(m -> m >= 0).sorted().toArray();
    System.out.printf("writes %d to %s, %d followers %s; visible on every follower after the ack (ms):%n",
        writes, leader.get(), followers.size(), poll ? String.format("polled every %.1f ms", pollIntervalMillis)
            : "asked once each with minIndex");
    if (visible.length > 0) {
      System.out.printf("  p50 %.2f  p90 %.2f  p99 %.2f  max %.2f%n", pct(visible, 50), pct(visible, 90),
          pct(visible, 99), visible[visible.length - 1] / 1000.0);
    }
    System.out.printf("  never visible within %d ms, or not acknowledged: %d%n", giveUpMillis, failed);
    System.out.printf("  the write's own answer (ms): %s%n", summary(ackMicros));
    if (!poll) {
      System.out.printf("  the same %d reads again once applied everywhere, slowest of them (ms): %s%n",
          followers.size(), summary(repeatMicros));
    }
    for (int f = 0; f < followers.size(); f++) {
      System.out.printf("  %s alone (ms): %s%n", followers.get(f), summary(perFollowerMicros[f]));
    }
    return failed == 0 ? 0 : 1;
  }

  /**
   * This JVM's HTTP client runs interpreted for its first few thousand requests: without this, the
   * first writes' figures measure the client as much as the nodes.
   */
  private void warmUp(NodeClient client, List<URI> followers, ExecutorService pollers) throws Exception {
    List<Future<?>> done = new ArrayList<>();
    for (URI f : followers) {
      done.add(pollers.submit(() -> {
        for (int i = 0; i < warmupReads; i++) {
          client.get(f, "visibility-warm-up");
        }
      }));
    }
    for (Future<?> d : done) {
      d.get();
    }
  }

  /** Microseconds from the ack until the follower answers a local read at minIndex {@code version}, or -1. */
  private long awaitVisible(NodeClient client, URI follower, String key, long version, long ackedNanos) {
    NodeClient.Response r = client.request(follower, "GET", "/kv/" + NodeClient.encode(key) + "?minIndex=" + version
        + "&timeout=" + giveUpMillis + "ms", null, Duration.ofMillis(giveUpMillis).plus(REQUEST_TIMEOUT));
    long micros = (System.nanoTime() - ackedNanos) / 1000;
    if (r.ok() && r.body().path("version").asLong() >= version) {
      return micros;
    }
    System.err.println("VisibilityBench: " + follower + " answered " + r + " for minIndex " + version);
    return -1;
  }

  /** Microseconds from the ack until a poll of the follower's local read shows {@code version}, or -1. */
  private long pollVisible(NodeClient client, URI follower, String key, long version, long ackedNanos) {
    long deadline = ackedNanos + giveUpMillis * 1_000_000;
    while (System.nanoTime() < deadline) {
      NodeClient.Response r = client.get(follower, key);
      if (r.ok() && r.body().path("version").asLong() >= version) {
        return (System.nanoTime() - ackedNanos) / 1000;
      }
      LockSupport.parkNanos((long) (pollIntervalMillis * 1_000_000));
    }
    return -1;
  }

  private static Optional<URI> findLeader(NodeClient client, List<URI> nodes) {
    for (URI n : nodes) {
      Optional<JsonNode> s = client.status(n);
      if (s.isPresent() && "leader".equals(s.get().path("role").asText())) {
        return Optional.of(n);
      }
    }
    return Optional.empty();
  }

  private static String summary(long[] micros) {
    long[] sorted = Arrays.stream(micros).filter(m -> m > 0).sorted().toArray();
    return sorted.length == 0 ? "-" : String.format("p50 %.2f  p90 %.2f  p99 %.2f  max %.2f", pct(sorted, 50),
        pct(sorted, 90), pct(sorted, 99), sorted[sorted.length - 1] / 1000.0);
  }

  private static double pct(long[] sorted, int p) {
    int i = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(sorted.length - 1, i))] / 1000.0;
  }
}
