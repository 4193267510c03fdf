package quorumkv.tools;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.IntStream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import quorumkv.harness.Await;
import quorumkv.harness.Cluster;
import quorumkv.harness.Deadline;
import quorumkv.harness.NetworkNamespaces;
import quorumkv.harness.NodeClient;

/**
 * Measures failover: the time from taking the leader away to the first write acknowledged (at
 * the cluster's write quorum W, or {@code --write-quorum}) through another node, in one of three
 * ways: SIGKILL of its JVM ({@code kill}, restarted after the round), a partition that cuts its
 * node off from the other five ({@code partition}, healed after the round), or SIGSTOP of its JVM
 * for {@code --pause-seconds} (10) and then SIGCONT ({@code pause}), after which the old leader
 * must step down: its {@code /status} role is no longer "leader" once another node leads.
 *
 * <p>Every round first writes {@value #KEYS_BEFORE} keys through the leader and, once the cluster
 * has settled again, reads back each acknowledged one (and the round's timed write) at
 * {@code consistency=linearizable}: a different value is an acknowledged write lost. A node
 * process that exits on its own ends the bench with its log: nothing is restarted but what the
 * bench killed. Runs the six nodes in network namespaces ({@link Cluster#inNetworkNamespaces});
 * needs root.
 *
 * <p>Usage: {@code java -cp tools/target/quorumkv-tools.jar quorumkv.tools.FailoverBench
 * [--rounds 10] [--mode kill|partition|pause|all|both] [--jar target/quorumkv.jar] [--write-quorum W]}
 * ({@code both} is kill and partition). Exit status 0 when every round passed its checks, 1 when
 * some did not (a write lost, a leader that did not step down), 2 when the bench itself failed.
 */
@Command(name = "FailoverBench", sortOptions = false,
    description = "Time from losing the leader (kill -9, a partition, or a pause with SIGSTOP) to the first write"
        + " acknowledged through another node, six nodes in network namespaces; checks that no acknowledged write is"
        + " lost and that a paused leader steps down once resumed. Needs root.",
    footer = "exit status: 0 every check passed, 1 a check failed (see the summary), 2 the bench failed")
public final class FailoverBench implements Callable<Integer> {
  private static final Duration ROUND_LIMIT = Duration.ofSeconds(90);
  private static final Duration ALL_READY = Duration.ofMinutes(3);
  /** Every node names the same leader, which says it leads: this long at most. */
  private static final Duration STABLE_LEADER = Duration.ofSeconds(60);
  /** A resumed leader learns of the newer term and steps down: this long at most. */
  private static final Duration STEP_DOWN = Duration.ofSeconds(30);
  private static final Duration READ_BACK = Duration.ofSeconds(30);
  private static final Duration PACE = Duration.ofMillis(50);
  static final int KEYS_BEFORE = 10;

  enum Mode { KILL, PARTITION, PAUSE, ALL, BOTH;
    List<Mode> rounds() {
      return switch (this) {
        case ALL -> List.of(KILL, PARTITION, PAUSE);
        case BOTH -> List.of(KILL, PARTITION);
        default -> List.of(this);
      };
    }
  }

  @Option(order = 1, names = "--rounds", paramLabel = "N", defaultValue = "10",
      description = "rounds per mode (default ${DEFAULT-VALUE})")
  int rounds;

  @Option(order = 2, names = "--mode", paramLabel = "MODE", defaultValue = "all",
      description = "kill, partition, pause, all, or both (kill and partition) (default ${DEFAULT-VALUE})")
  Mode mode;

  @Option(order = 3, names = "--jar", paramLabel = "PATH", defaultValue = "target/quorumkv.jar",
      description = "the quorumkv jar the nodes run (default ${DEFAULT-VALUE})")
  Path jar;

  @Option(order = 4, names = "--write-quorum", paramLabel = "W",
      description = "the quorum the timed writes ask for (default: the cluster's, from GET /status)")
  Integer writeQuorum;

  @Option(order = 5, names = "--pause-seconds", paramLabel = "S", defaultValue = "10",
      description = "how long the pause mode keeps the leader stopped (default ${DEFAULT-VALUE})")
  int pauseSeconds;

  @Option(order = 6, names = "--logs", paramLabel = "DIR",
      description = "where the node logs are copied when the bench ends (default /tmp/failover-bench-<time>)")
  Path logs;

  @Option(names = {"-h", "--help"}, usageHelp = true, description = "show this help and exit")
  boolean help;

  private final NodeClient http = new NodeClient(Duration.ofSeconds(3));

  /** One round: seconds to the first acknowledged write, to the step-down (pause only, else -1), and what failed. */
  record Round(int round, int leader, double failoverSeconds, double stepDownSeconds, int acknowledged,
      List<String> lost, String problem) {
    boolean passed() {
      return lost.isEmpty() && problem == null;
    }
  }

  public static void main(String[] args) {
    System.exit(new CommandLine(new FailoverBench()).setCaseInsensitiveEnumValuesAllowed(true).execute(args));
  }

  @Override
  public Integer call() throws InterruptedException {
    Map<Mode, List<Round>> results = new LinkedHashMap<>();
    int[] w = {writeQuorum == null ? -1 : writeQuorum};
    try {
      run(results, w);
    } catch (RuntimeException e) {
      System.out.println(summary(results, w[0], pauseSeconds));
      System.err.println("FailoverBench failed: " + e.getMessage());
      e.printStackTrace();
      return 2;
    }
    System.out.println(summary(results, w[0], pauseSeconds));
    return results.values().stream().flatMap(List::stream).allMatch(Round::passed) ? 0 : 1;
  }

  private void run(Map<Mode, List<Round>> results, int[] quorum) throws InterruptedException {
    Path logsTo = logs != null ? logs : Path.of("/tmp", "failover-bench-"
        + java.time.LocalDateTime.now().format(java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
    try (Cluster<NetworkNamespaces> cluster = Cluster.inNetworkNamespaces(jar, Map.of(), Duration.ofMinutes(5))) {
      try {
        rounds(cluster, results, quorum);
      } finally {
        cluster.logs().copyTo(logsTo);
        System.out.println("node logs in " + logsTo);
      }
    }
  }

  private void rounds(Cluster<NetworkNamespaces> cluster, Map<Mode, List<Round>> results, int[] quorum)
      throws InterruptedException {
    cluster.startAll();
    cluster.awaitAllReady(ALL_READY);
    int w = writeQuorum != null ? writeQuorum : cluster.writeQuorum().orElseThrow(
        () -> new IllegalStateException("no node tells its writeQuorum on GET /status: " + cluster.readiness()));
    quorum[0] = w;
    for (Mode m : mode.rounds()) {
      List<Round> done = new ArrayList<>();
      results.put(m, done);
      for (int round = 1; round <= rounds; round++) {
        Round r = round(cluster, m, w, round);
        done.add(r);
        System.out.printf("%s round %d (leader node%d): first acknowledged write after %.2f s%s; %d acknowledged"
            + " writes read back, %d lost%s%n", name(m), round, r.leader(), r.failoverSeconds(),
            r.stepDownSeconds() < 0 ? "" : String.format(", stepped down %.2f s after SIGCONT", r.stepDownSeconds()),
            r.acknowledged(), r.lost().size(), r.problem() == null ? "" : "; PROBLEM: " + r.problem());
        r.lost().forEach(l -> System.out.println("  LOST: " + l));
      }
    }
  }

  static String summary(Map<Mode, List<Round>> results, int w, int pauseSeconds) {
    StringBuilder sb = new StringBuilder("== failover: time from losing the leader to the first W=" + w
        + " write acknowledged via another node\n");
    results.forEach((m, rs) -> {
      if (rs.isEmpty()) {
        return;
      }
      List<Double> failover = rs.stream().map(Round::failoverSeconds).toList();
      sb.append(String.format("%-9s leader: %d rounds, median %.2f s, worst %.2f s, best %.2f s", name(m), rs.size(),
          median(failover), max(failover), min(failover)));
      if (m == Mode.PAUSE) {
        List<Double> stepDown = rs.stream().map(Round::stepDownSeconds).filter(s -> s >= 0).toList();
        sb.append(String.format("; paused %d s, then stepped down %s", pauseSeconds, stepDown.isEmpty()
            ? "in no round" : String.format("in %d/%d rounds, median %.2f s, worst %.2f s after SIGCONT",
            stepDown.size(), rs.size(), median(stepDown), max(stepDown))));
      }
      long acknowledged = rs.stream().mapToLong(Round::acknowledged).sum();
      long lost = rs.stream().mapToLong(r -> r.lost().size()).sum();
      sb.append(String.format("; acknowledged writes lost: %d of %d%n", lost, acknowledged));
      rs.stream().filter(r -> r.problem() != null)
          .forEach(r -> sb.append("    round ").append(r.round()).append(": ").append(r.problem()).append('\n'));
    });
    return sb.toString();
  }

  private Round round(Cluster<NetworkNamespaces> cluster, Mode mode, int w, int round) throws InterruptedException {
    requireNoneExited(cluster);
    List<String> problems = new ArrayList<>();
    int leader = awaitStableLeader(cluster, problems);
    int writer = (leader + 1 + round % 5) % Cluster.NODES;
    String prefix = "failover-" + name(mode) + "-" + round + "-";
    Map<String, String> acknowledged = new LinkedHashMap<>();
    List<String> refusals = new ArrayList<>();
    for (int i = 0; i < KEYS_BEFORE; i++) {
      String key = prefix + i;
      String value = "before-" + i;
      NodeClient.Response answer = http.put(cluster.uri(leader), key, value, w, "2s");
      if (answer.ok()) {
        acknowledged.put(key, value);
      } else {
        refusals.add(answer.toString());
      }
    }
    require(!acknowledged.isEmpty(), name(mode) + " round " + round + ": the leader node" + leader
        + " acknowledged none of " + KEYS_BEFORE + " writes before the fault; answers: " + refusals
        + "; status of every node: " + statusesOf(cluster));

    long start = System.nanoTime();
    switch (mode) {
      case KILL -> cluster.kill(leader);
      case PARTITION -> cluster.placement().cut(Set.of(leader)); // verified below: the check takes a second or two
      case PAUSE -> cluster.pause(leader);
      default -> throw new IllegalArgumentException(mode.name());
    }
    String timedKey = prefix + "timed";
    long deadline = start + ROUND_LIMIT.toNanos();
    int attempt = 0;
    double seconds = -1;
    while (System.nanoTime() < deadline) {
      attempt++;
      String value = "round-" + round + "-" + attempt;
      // an unanswered request (the node busy or briefly unreachable) is simply tried again
      if (http.put(cluster.uri(writer), timedKey, value, w, "1s").ok()) {
        seconds = (System.nanoTime() - start) / 1e9;
        acknowledged.put(timedKey, value);
        break;
      }
      Thread.sleep(PACE.toMillis()); // paced retry loop of a client
    }
    require(seconds >= 0, name(mode) + " round " + round + ": no write acknowledged within " + ROUND_LIMIT
        + " of losing node" + leader + ": " + cluster.readiness());

    double stepDown = -1;
    switch (mode) {
      case KILL -> cluster.start(leader);
      case PARTITION -> {
        cluster.placement().verifyPartition();
        cluster.placement().heal();
      }
      case PAUSE -> {
        long pauseEnd = start + Duration.ofSeconds(pauseSeconds).toNanos();
        Thread.sleep(Math.max(0, (pauseEnd - System.nanoTime()) / 1_000_000));
        cluster.resume(leader);
        long resumed = System.nanoTime();
        if (awaitSteppedDown(cluster, leader)) {
          stepDown = (System.nanoTime() - resumed) / 1e9;
        } else {
          String problem = "no other node led with node" + leader + " stepped down within " + STEP_DOWN.toSeconds()
              + " s of SIGCONT; node" + leader + "'s GET /status: "
              + http.statusResponse(cluster.uri(leader)) + "; all: " + statuses(cluster);
          problems.add(problem);
          System.out.println("PROBLEM: " + problem);
        }
      }
      default -> throw new IllegalArgumentException(mode.name());
    }
    cluster.awaitAllReady(ALL_READY);
    requireNoneExited(cluster);
    List<String> lost = readBack(cluster, writer, acknowledged);
    return new Round(round, leader, seconds, stepDown, acknowledged.size(), lost,
        problems.isEmpty() ? null : String.join("; ", problems));
  }

  /**
   * Waits until every node answers /status and a majority of them name one leader, which says it
   * leads; that leader. A node that names another leader (e.g. says it leads itself, in an older
   * term) then is a problem of the round, reported, not a reason to stop. Ends the bench if no
   * leader emerges: rounds need a leader to take away.
   */
  private int awaitStableLeader(Cluster<NetworkNamespaces> cluster, List<String> problems) {
    int[] leader = {-1};
    String[] dissent = {null};
    Await.until("a majority of the nodes name the same leader, which says it leads", STABLE_LEADER, () -> {
      Map<Integer, JsonNode> statuses = statusesOf(cluster);
      if (statuses.size() < Cluster.NODES) {
        return false;
      }
      Map<String, Integer> votes = new HashMap<>();
      statuses.values().forEach(s -> votes.merge(s.path("leader").asText(""), 1, Integer::sum));
      String named = votes.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
      int l = Cluster.nodeIndex(named);
      if (l < 0 || 2 * votes.get(named) <= Cluster.NODES || !"leader".equals(statuses.get(l).path("role").asText())) {
        return false;
      }
      leader[0] = l;
      dissent[0] = votes.size() == 1 ? null : "not every node follows " + named + " before the fault: " + statuses(cluster);
      if (dissent[0] != null) { // a moment for the others to catch up before it counts as a problem
        Await.within(Duration.ofSeconds(10), Duration.ofMillis(500),
            () -> statusesOf(cluster).values().stream().allMatch(s -> s.path("leader").asText("").equals(named)));
      }
      return true;
    }, () -> statuses(cluster));
    if (dissent[0] != null && !statusesOf(cluster).values().stream()
        .allMatch(s -> s.path("leader").asText("").equals(Cluster.nodeId(leader[0])))) {
      problems.add(dissent[0]);
      System.out.println("PROBLEM: " + dissent[0]);
    }
    return leader[0];
  }

  /**
   * Waits until another node leads (every other node names it; it says it leads) and the resumed
   * {@code old} leader no longer says it leads; false after {@link #STEP_DOWN}.
   */
  private boolean awaitSteppedDown(Cluster<NetworkNamespaces> cluster, int old) {
    return Await.within(STEP_DOWN, Duration.ofMillis(100), () -> {
      Optional<JsonNode> was = cluster.status(old);
      if (was.isEmpty() || "leader".equals(was.get().path("role").asText())) {
        return false;
      }
      Map<Integer, JsonNode> statuses = statusesOf(cluster);
      Set<String> named = new java.util.HashSet<>();
      statuses.forEach((n, s) -> {
        if (n != old) {
          named.add(s.path("leader").asText(""));
        }
      });
      if (statuses.size() < Cluster.NODES || named.size() != 1) {
        return false;
      }
      int now = Cluster.nodeIndex(named.iterator().next());
      return now >= 0 && now != old && "leader".equals(statuses.get(now).path("role").asText());
    });
  }

  /** Each acknowledged key read at consistency=linearizable; those whose value is not the acknowledged one. */
  private List<String> readBack(Cluster<NetworkNamespaces> cluster, int via, Map<String, String> acknowledged) {
    List<String> lost = new ArrayList<>();
    acknowledged.forEach((key, value) -> {
      Deadline deadline = Deadline.in(READ_BACK);
      NodeClient.Response r;
      do {
        r = http.get(cluster.uri(via), key, "linearizable");
      } while (r.status() != 200 && r.status() != 404 && !deadline.passed() && pace());
      if (r.status() == 404) {
        lost.add(key + " = \"" + value + "\" acknowledged, now absent (read via node" + via + ")");
      } else if (r.status() == 200 && !value.equals(r.body().path("value").asText(null))) {
        lost.add(key + " = \"" + value + "\" acknowledged, now \"" + r.body().path("value").asText() + "\" (read via node"
            + via + ")");
      } else if (r.status() != 200) {
        throw new IllegalStateException("could not read back " + key + " at consistency=linearizable via node" + via
            + " within " + READ_BACK.toSeconds() + " s: " + r);
      }
    });
    return lost;
  }

  private static boolean pace() {
    try {
      Thread.sleep(PACE.toMillis() * 4);
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private static void requireNoneExited(Cluster<NetworkNamespaces> cluster) {
    Map<Integer, Integer> exited = cluster.exitedOnTheirOwn();
    if (!exited.isEmpty()) {
      StringBuilder sb = new StringBuilder("node processes exited on their own (node=exit code): " + exited);
      exited.keySet().forEach(n -> sb.append("\n--- node").append(n).append(" log:\n").append(cluster.logs().tail(n, 60)));
      throw new IllegalStateException(sb.toString());
    }
  }

  private Map<Integer, JsonNode> statusesOf(Cluster<NetworkNamespaces> cluster) {
    Map<Integer, JsonNode> statuses = new HashMap<>();
    IntStream.range(0, Cluster.NODES).filter(cluster::isLive)
        .forEach(n -> cluster.status(n).ifPresent(s -> statuses.put(n, s)));
    return statuses;
  }

  /** E.g. "node0 follower of node3 term 9; node1 no answer; ...". */
  private String statuses(Cluster<NetworkNamespaces> cluster) {
    Map<Integer, JsonNode> statuses = statusesOf(cluster);
    StringBuilder sb = new StringBuilder();
    for (int n = 0; n < Cluster.NODES; n++) {
      JsonNode s = statuses.get(n);
      sb.append(n == 0 ? "" : "; ").append("node").append(n).append(' ').append(s == null ? "no answer"
          : s.path("role").asText() + ", leader " + s.path("leader").asText() + ", term " + s.path("term").asText()
          + ", " + s.path("election").asText());
    }
    return sb.toString();
  }

  private static String name(Mode m) {
    return m.name().toLowerCase();
  }

  static double median(List<Double> values) {
    List<Double> sorted = values.stream().sorted().toList();
    int n = sorted.size();
    return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
  }

  private static double max(List<Double> values) {
    return values.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
  }

  private static double min(List<Double> values) {
    return values.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN);
  }

  private static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalStateException(message);
    }
  }
}
