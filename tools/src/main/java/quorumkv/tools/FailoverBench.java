package quorumkv.tools;

import quorumkv.harness.NetnsCluster;
import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Measures failover: the time from taking the leader away (SIGKILL of its JVM, or a partition
 * that cuts its node off from the other five) to the first write acknowledged (W=3) through
 * another node. Runs the six nodes in network namespaces ({@link NetnsCluster}); needs root.
 *
 * <p>Usage: {@code java -cp quorumkv.jar quorumkv.faults.FailoverBench [--rounds 10]
 * [--mode kill|partition|both] [--jar target/quorumkv.jar]}
 */
public final class FailoverBench {
  private static final Duration ROUND_LIMIT = Duration.ofSeconds(90);

  private FailoverBench() {}

  public static void main(String[] args) throws Exception {
    int rounds = 10;
    String mode = "both";
    Path jar = Path.of("target/quorumkv.jar");
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--rounds" -> rounds = Integer.parseInt(args[++i]);
        case "--mode" -> mode = args[++i];
        case "--jar" -> jar = Path.of(args[++i]);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(1)).build();
    try (NetnsCluster cluster = new NetnsCluster(jar, Map.of(), Duration.ofMinutes(5))) {
      cluster.startAll();
      require(awaitAllReady(cluster, Duration.ofMinutes(3)), "cluster not ready: " + cluster.readiness());
      List<String> report = new ArrayList<>();
      for (String m : mode.equals("both") ? List.of("kill", "partition") : List.of(mode)) {
        List<Double> seconds = new ArrayList<>();
        for (int round = 1; round <= rounds; round++) {
          double s = round(cluster, http, m, round);
          seconds.add(s);
          System.out.printf("%s round %d: first acknowledged write after %.2f s%n", m, round, s);
        }
        List<Double> sorted = seconds.stream().sorted().toList();
        double median = sorted.size() % 2 == 1 ? sorted.get(sorted.size() / 2)
            : (sorted.get(sorted.size() / 2 - 1) + sorted.get(sorted.size() / 2)) / 2;
        report.add(String.format("%-9s leader: %d rounds, median %.2f s, worst %.2f s, best %.2f s",
            m, sorted.size(), median, sorted.get(sorted.size() - 1), sorted.get(0)));
      }
      System.out.println("== failover: time from losing the leader to the first W=3 write acknowledged via another node");
      report.forEach(System.out::println);
    }
  }

  private static double round(NetnsCluster cluster, HttpClient http, String mode, int round) throws Exception {
    int leader = leaderOf(cluster).orElseThrow(() -> new IllegalStateException("no leader known"));
    int writer = (leader + 1 + round % 5) % NetnsCluster.NODES;
    long start = System.nanoTime();
    if (mode.equals("kill")) {
      cluster.kill(leader);
    } else {
      cluster.partition(Set.of(leader));
    }
    long deadline = start + ROUND_LIMIT.toNanos();
    int attempt = 0;
    double seconds = -1;
    while (System.nanoTime() < deadline) {
      attempt++;
      HttpRequest put = HttpRequest.newBuilder(NetnsCluster.uri(writer, "/kv/failover-" + mode + "?w=3&timeout=1s"))
          .timeout(Duration.ofSeconds(3))
          .PUT(HttpRequest.BodyPublishers.ofString("round-" + round + "-" + attempt)).build();
      try {
        if (http.send(put, HttpResponse.BodyHandlers.ofString()).statusCode() == 200) {
          seconds = (System.nanoTime() - start) / 1e9;
          break;
        }
      } catch (java.io.IOException e) {
        // the node may be busy or briefly unreachable: try again
      }
      Thread.sleep(50); // paced retry loop of a client
    }
    require(seconds >= 0, mode + " round " + round + ": no write acknowledged within " + ROUND_LIMIT);
    if (mode.equals("partition")) {
      cluster.heal();
    }
    // Bring the old leader back: a cut-off node has been downed by the others and exits.
    long settle = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (System.nanoTime() < settle && cluster.isRunning(leader)) {
      Thread.sleep(500);
    }
    cluster.reapExited(leader);
    if (!cluster.isRunning(leader)) {
      cluster.start(leader);
    }
    require(awaitAllReady(cluster, Duration.ofMinutes(3)), "cluster not ready again: " + cluster.readiness());
    return seconds;
  }

  /** Waits for all six; a node downed for starting slowly on a busy machine exits and is started again. */
  private static boolean awaitAllReady(NetnsCluster cluster, Duration timeout) {
    long end = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < end) {
      for (int n = 0; n < NetnsCluster.NODES; n++) {
        if (cluster.reapExited(n).isPresent()) {
          cluster.start(n);
        }
      }
      if (cluster.awaitAllReady(Duration.ofSeconds(5))) {
        return true;
      }
    }
    return false;
  }

  private static Optional<Integer> leaderOf(NetnsCluster cluster) {
    for (int n = 0; n < NetnsCluster.NODES; n++) {
      Optional<JsonNode> s = cluster.status(n);
      if (s.isPresent() && s.get().hasNonNull("leader") && "leader".equals(s.get().path("role").asText())) {
        return Optional.of(NetnsCluster.nodeIndex(s.get().get("leader").asText()));
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
