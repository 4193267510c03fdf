package quorumkv.tools;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import quorumkv.harness.Await;
import quorumkv.harness.Cluster;
import quorumkv.harness.NetworkNamespaces;
import quorumkv.harness.NodeClient;

/**
 * Measures failover: the time from taking the leader away (SIGKILL of its JVM, or a partition
 * that cuts its node off from the other five) to the first write acknowledged (at the cluster's
 * write quorum W, or {@code --write-quorum}) through another node. Runs the six nodes in network
 * namespaces ({@link Cluster#inNetworkNamespaces}); needs root.
 *
 * <p>Usage: {@code java -cp tools/target/quorumkv-tools.jar quorumkv.tools.FailoverBench
 * [--rounds 10] [--mode kill|partition|both] [--jar target/quorumkv.jar] [--write-quorum W]}
 */
@Command(name = "FailoverBench", sortOptions = false,
    description = "Time from losing the leader (kill -9, or a partition) to the first write acknowledged through"
        + " another node, six nodes in network namespaces. Needs root.")
public final class FailoverBench implements Callable<Integer> {
  private static final Duration ROUND_LIMIT = Duration.ofSeconds(90);
  private static final Duration ALL_READY = Duration.ofMinutes(3);
  /** A node cut off by a partition is downed by the others and exits; this long at most. */
  private static final Duration CUT_OFF_EXITS = Duration.ofSeconds(60);
  private static final Duration PACE = Duration.ofMillis(50);

  enum Mode { KILL, PARTITION, BOTH }

  @Option(order = 1, names = "--rounds", paramLabel = "N", defaultValue = "10",
      description = "rounds per mode (default ${DEFAULT-VALUE})")
  int rounds;

  @Option(order = 2, names = "--mode", paramLabel = "MODE", defaultValue = "both",
      description = "kill, partition or both (default ${DEFAULT-VALUE})")
  Mode mode;

  @Option(order = 3, names = "--jar", paramLabel = "PATH", defaultValue = "target/quorumkv.jar",
      description = "the quorumkv jar the nodes run (default ${DEFAULT-VALUE})")
  Path jar;

  @Option(order = 4, names = "--write-quorum", paramLabel = "W",
      description = "the quorum the timed writes ask for (default: the cluster's, from GET /status)")
  Integer writeQuorum;

  @Option(names = {"-h", "--help"}, usageHelp = true, description = "show this help and exit")
  boolean help;

  private final NodeClient http = new NodeClient(Duration.ofSeconds(3));

  public static void main(String[] args) {
    System.exit(new CommandLine(new FailoverBench()).setCaseInsensitiveEnumValuesAllowed(true).execute(args));
  }

  @Override
  public Integer call() throws InterruptedException {
    try (Cluster<NetworkNamespaces> cluster = Cluster.inNetworkNamespaces(jar, Map.of(), Duration.ofMinutes(5))) {
      cluster.startAll();
      require(cluster.awaitAllReadyRestartingExited(ALL_READY, System.out::println),
          "cluster not ready: " + cluster.readiness());
      int w = writeQuorum != null ? writeQuorum : cluster.writeQuorum().orElseThrow(
          () -> new IllegalStateException("no node tells its writeQuorum on GET /status: " + cluster.readiness()));
      List<String> report = new ArrayList<>();
      for (Mode m : mode == Mode.BOTH ? List.of(Mode.KILL, Mode.PARTITION) : List.of(mode)) {
        String name = m.name().toLowerCase();
        List<Double> seconds = new ArrayList<>();
        for (int round = 1; round <= rounds; round++) {
          double s = round(cluster, m, w, round);
          seconds.add(s);
          System.out.printf("%s round %d: first acknowledged write after %.2f s%n", name, round, s);
        }
        List<Double> sorted = seconds.stream().sorted().toList();
        double median = sorted.size() % 2 == 1 ? sorted.get(sorted.size() / 2)
            : (sorted.get(sorted.size() / 2 - 1) + sorted.get(sorted.size() / 2)) / 2;
        report.add(String.format("%-9s leader: %d rounds, median %.2f s, worst %.2f s, best %.2f s",
            name, sorted.size(), median, sorted.get(sorted.size() - 1), sorted.get(0)));
      }
      System.out.println("== failover: time from losing the leader to the first W=" + w
          + " write acknowledged via another node");
      report.forEach(System.out::println);
    }
    return 0;
  }

  private double round(Cluster<NetworkNamespaces> cluster, Mode mode, int w, int round) throws InterruptedException {
    int leader = leaderOf(cluster).orElseThrow(() -> new IllegalStateException("no leader known"));
    int writer = (leader + 1 + round % 5) % Cluster.NODES;
    String key = "failover-" + mode.name().toLowerCase();
    long start = System.nanoTime();
    if (mode == Mode.KILL) {
      cluster.kill(leader);
    } else {
      cluster.placement().partition(Set.of(leader));
    }
    long deadline = start + ROUND_LIMIT.toNanos();
    int attempt = 0;
    double seconds = -1;
    while (System.nanoTime() < deadline) {
      attempt++;
      // an unanswered request (the node busy or briefly unreachable) is simply tried again
      if (http.put(cluster.uri(writer), key, "round-" + round + "-" + attempt, w, "1s").ok()) {
        seconds = (System.nanoTime() - start) / 1e9;
        break;
      }
      Thread.sleep(PACE.toMillis()); // paced retry loop of a client
    }
    require(seconds >= 0, mode + " round " + round + ": no write acknowledged within " + ROUND_LIMIT);
    if (mode == Mode.PARTITION) {
      cluster.placement().heal();
    }
    // Bring the old leader back: a cut-off node has been downed by the others and exits.
    Await.within(CUT_OFF_EXITS, Duration.ofMillis(500), () -> !cluster.isRunning(leader));
    cluster.reapExited(leader);
    if (!cluster.isRunning(leader)) {
      cluster.start(leader);
    }
    require(cluster.awaitAllReadyRestartingExited(ALL_READY, System.out::println),
        "cluster not ready again: " + cluster.readiness());
    return seconds;
  }

  private static Optional<Integer> leaderOf(Cluster<NetworkNamespaces> cluster) {
    for (int n = 0; n < Cluster.NODES; n++) {
      Optional<JsonNode> s = cluster.status(n);
      if (s.isPresent() && s.get().hasNonNull("leader") && "leader".equals(s.get().path("role").asText())) {
        return Optional.of(Cluster.nodeIndex(s.get().get("leader").asText()));
      }
    }
    return Optional.empty();
  }

  private static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalStateException(message);
    }
  }
}
