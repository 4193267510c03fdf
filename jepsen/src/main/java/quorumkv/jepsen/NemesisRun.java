package quorumkv.jepsen;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import quorumkv.harness.Cluster;
import quorumkv.harness.NetworkNamespaces;
import quorumkv.harness.NodeClient;

/**
 * A Jepsen-style run against the real six-node cluster, each node in a network namespace of its
 * own ({@link Cluster#inNetworkNamespaces}): concurrent clients write (at the cluster's write
 * quorum W, from {@code GET /status}, or {@code --write-quorum}) and read
 * ({@code consistency=linearizable}) a handful of keys and record every operation in a
 * {@link History}, while a nemesis kills (SIGKILL) one node or two or three at once and restarts
 * them, pauses nodes (SIGSTOP/SIGCONT; the leader for longer than the election timeout) and
 * partitions the network into a majority and a minority, the leader included.
 * Then it heals everything, waits for the replicas to converge and checks:
 * <ol>
 *   <li>acknowledged writes lost (must be 0): an OK write that nothing could have overwritten, or
 *       whose acknowledged version is above the key's final version, yet is not the final value;
 *   <li>replicas not converged (must be 0): every node must end with the same log index and digest,
 *       following the same leader (a node that formed a cluster of its own never converges);
 *   <li>linearizability of each key's history ({@link LinearizabilityChecker}), the final read of
 *       each key included;
 *   <li>valid requests answered 400 (must be 0): e.g. a build that does not know
 *       {@code consistency=linearizable}, which would leave the reads unchecked;
 *   <li>node processes that exited on their own (must be 0): no node exits because the cluster
 *       declared it dead, so the nemesis restarts only the nodes it killed, never one that exited.
 * </ol>
 * It prints (and writes to {@code report.txt}, {@code report.json}) operations by outcome, faults
 * by kind, leader changes (and any term claimed by two leaders), the longest write unavailability
 * and the anomalies, with {@code history.jsonl} and the node logs beside them. A saved history can
 * be checked again with
 * {@code java -cp jepsen/target/quorumkv-jepsen.jar quorumkv.jepsen.LinearizabilityChecker}.
 *
 * <p>The long run (as root; {@code NemesisIT} is the one-minute run {@code mvn verify} does):
 * <pre>
 * mvn -B package -DskipTests -pl jepsen -am &amp;&amp; cp target/quorumkv.jar /tmp/quorumkv-under-test.jar
 * java -cp jepsen/target/quorumkv-jepsen.jar quorumkv.jepsen.NemesisRun --minutes 10 --jar /tmp/quorumkv-under-test.jar
 * </pre>
 * ({@code --help} lists the options.) If the runner itself is SIGKILLed,
 * {@code java -cp jepsen/target/quorumkv-jepsen.jar quorumkv.harness.NetworkNamespaces --clean-up}
 * (or the next run) removes the node JVMs and namespaces it left.
 *
 * <p>Choices: one fault at a time, each aimed at the leader 40% of the time, with calm between
 * them and a bounded wait for every node to be ready again; a node that exits on its own is
 * recorded and left down, never restarted (that would hide the failure). Clients pick a random
 * node per operation, so writes are also forwarded through nodes on the minority side.
 * <p>Exit status: 0 no anomaly, 1 anomalies, 2 the run itself failed (setup, harness), 3 over its deadline.
 */
public final class NemesisRun {
  /** Time for setup, recovery, checks and teardown beyond the faults. */
  static final Duration OVERHEAD = Duration.ofMinutes(3);
  private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(5);
  /** Each client sends at most one operation per this long (about 50 per second). */
  private static final long MIN_OP_NANOS = Duration.ofMillis(20).toNanos();
  private static final String WRITE_TIMEOUT = "2s";
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private NemesisRun() {}

  // --- options ---

  /**
   * @param faultTime how long clients run and the nemesis injects faults
   * @param readConsistency the clients' read consistency; {@code linearizable} is what the check is for
   * @param writeQuorum the W the clients' writes ask for; null for the cluster's own, from {@code GET /status}
   */
  public record Options(Duration faultTime, Path jar, int clients, int keys, Path out, long seed,
      String readConsistency, Integer writeQuorum) {
    public Options {
      if (faultTime.isNegative() || faultTime.isZero()) throw new IllegalArgumentException("fault time must be > 0");
      if (clients < 1) throw new IllegalArgumentException("--clients must be >= 1");
      if (keys < 1) throw new IllegalArgumentException("--keys must be >= 1");
      if (writeQuorum != null && writeQuorum < 0) throw new IllegalArgumentException("--write-quorum must be >= 0");
    }

    /** What an empty command line gives: the defaults live with the options, in {@link CommandLineOptions}. */
    public static Options defaults() {
      CommandLineOptions none = new CommandLineOptions();
      new CommandLine(none).parseArgs();
      return none.options();
    }

    public Options withFaultTime(Duration d) {
      return new Options(d, jar, clients, keys, out, seed, readConsistency, writeQuorum);
    }

    public Options withJar(Path p) {
      return new Options(faultTime, p, clients, keys, out, seed, readConsistency, writeQuorum);
    }

    public Options withOut(Path p) {
      return new Options(faultTime, jar, clients, keys, p, seed, readConsistency, writeQuorum);
    }

    public Options withSeed(long s) {
      return new Options(faultTime, jar, clients, keys, out, s, readConsistency, writeQuorum);
    }
  }

  /** The command line, and the home of the options' defaults. */
  @Command(name = "NemesisRun", sortOptions = false,
      description = "Kills, pauses and partitions six quorumkv nodes in network namespaces while clients record a"
          + " history, then checks it. Needs root.",
      footer = "exit status: 0 no anomaly, 1 anomalies found, 2 the run failed, 3 deadline exceeded")
  static final class CommandLineOptions implements Callable<Integer> {
    static final Duration DEFAULT_FAULT_TIME = Duration.ofSeconds(60);

    static final class FaultTime {
      @Option(order = 1, names = "--minutes", paramLabel = "M",
          description = "how long to inject faults (default 60 s); the whole run is bounded by this + 3 min")
      Double minutes;

      @Option(order = 2, names = "--seconds", paramLabel = "S", description = "the same in seconds")
      Double seconds;

      Duration duration() {
        return Duration.ofMillis(minutes != null ? (long) (minutes * 60_000) : (long) (seconds * 1000));
      }
    }

    @ArgGroup(order = 1, exclusive = true, multiplicity = "0..1")
    FaultTime faultTime;

    @Option(order = 3, names = "--jar", paramLabel = "PATH", defaultValue = "target/quorumkv.jar",
        description = "the quorumkv jar the nodes run (default ${DEFAULT-VALUE})")
    Path jar;

    @Option(order = 4, names = "--clients", paramLabel = "C", defaultValue = "6",
        description = "concurrent clients (default ${DEFAULT-VALUE})")
    int clients;

    @Option(order = 5, names = "--keys", paramLabel = "K", defaultValue = "5",
        description = "keys k0..k(K-1) (default ${DEFAULT-VALUE})")
    int keys;

    @Option(order = 6, names = "--out", paramLabel = "DIR",
        description = "report.txt, report.json, history.jsonl, logs/ (default target/nemesis-<time>)")
    Path out;

    @Option(order = 7, names = "--seed", paramLabel = "N",
        description = "seeds the clients' and the nemesis' choices (default: the clock)")
    Long seed;

    @Option(order = 8, names = "--read-consistency", paramLabel = "C", defaultValue = "linearizable",
        description = "the clients' reads (default ${DEFAULT-VALUE}; local/leader to see stale reads)")
    String readConsistency;

    @Option(order = 9, names = "--write-quorum", paramLabel = "W",
        description = "the quorum the clients' writes ask for (default: the cluster's, from GET /status)")
    Integer writeQuorum;

    @Option(order = 10, names = {"-h", "--help"}, usageHelp = true, description = "show this help and exit")
    boolean help;

    @Spec
    CommandSpec spec;

    Options options() {
      Path defaultOut = Path.of("target",
          "nemesis-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
      return new Options(faultTime == null ? DEFAULT_FAULT_TIME : faultTime.duration(), jar, clients, keys,
          out != null ? out : defaultOut, seed != null ? seed : System.currentTimeMillis(), readConsistency, writeQuorum);
    }

    @Override
    public Integer call() {
      Options options;
      try {
        options = options();
      } catch (IllegalArgumentException e) {
        throw new ParameterException(spec.commandLine(), e.getMessage(), e);
      }
      return execute(options);
    }
  }

  // --- what a run reports ---

  /**
   * One fault the nemesis injected; times in seconds since the run began. {@code leaderBefore} is
   * the leader just before it; {@code aimedAtLeader} says whether the nemesis chose the leader on
   * purpose (it may also hit it by chance).
   */
  public record Fault(String kind, List<String> nodes, boolean aimedAtLeader, String leaderBefore,
      double start, double end, String note) {
    public boolean hitLeader() {
      return leaderBefore != null && nodes.contains(leaderBefore);
    }

    String countKey() {
      return switch (kind) {
        case "partition" -> hitLeader() ? "partition-with-leader" : "partition";
        case "kill-many" -> hitLeader() ? "kill-many-with-leader" : "kill-many";
        case "pause-leader-long" -> kind;
        default -> hitLeader() ? kind + "-leader" : kind;
      };
    }

    @Override
    public String toString() {
      return String.format("%7.1f s - %7.1f s  %-22s %s  (%s; leader before: %s%s)", start, end, countKey(), nodes,
          note, leaderBefore, aimedAtLeader ? ", aimed at it" : "");
    }
  }

  /**
   * A node whose JVM exited without the nemesis killing it: a failure, since no node process
   * exits because the cluster declared it dead. The nemesis does not restart it.
   */
  public record SelfExit(String node, double at, int exitCode, String during, String logHint) {
    @Override
    public String toString() {
      return String.format("%7.1f s  %s exited (code %d) %s; not restarted%s", at, node, exitCode, during,
          logHint.isEmpty() ? "" : "\n             log: " + logHint);
    }
  }

  public record LostWrite(String key, String value, long opId, Long version, String why) {
    @Override
    public String toString() {
      return "op " + opId + " write " + key + " = \"" + value + "\"" + (version == null ? "" : " (version " + version + ")")
          + ": " + why;
    }
  }

  /** A node's replica after healing, and its view of the cluster (leader, term, members it sees Up). */
  public record ReplicaState(String node, Long lastIndex, String digest, boolean converged, String view) {
    @Override
    public String toString() {
      return node + " lastIndex=" + lastIndex + " digest=" + digest + (converged ? "" : "  NOT CONVERGED")
          + (view.isEmpty() ? "" : "  [" + view + "]");
    }
  }

  public record FinalValue(String key, String value, Long version, String consistency, String node) {}

  /** A leader as one node saw it at one moment. */
  public record LeaderChange(double at, String leader, long term, String seenBy) {
    @Override
    public String toString() {
      return String.format("%7.1f s  term %d: %s (seen by %s)", at, term, leader, seenBy);
    }
  }

  /** The longest interval in which writes were attempted but none completed OK. */
  public record Unavailability(double seconds, double from, double to, List<String> duringFaults) {}

  /** Everything a run found. {@link #anomalies()} empty means the run passed. */
  public record Report(
      Options options,
      int writeQuorum,
      HistoryStats stats,
      List<Fault> faults,
      List<SelfExit> selfExits,
      int leaderChanges,
      List<Long> terms,
      List<LeaderChange> leaderTimeline,
      List<String> leaderWarnings,
      Unavailability longestWriteUnavailability,
      List<ReplicaState> replicas,
      List<FinalValue> finalValues,
      List<LostWrite> lostWrites,
      LinearizabilityChecker.Result linearizability,
      long rejected400,
      String rejected400Example,
      List<String> finalReadFailures,
      Map<String, Long> errors,
      List<String> notes,
      double setupSeconds,
      double faultsFrom,
      double faultsTo,
      double totalSeconds) {

    public List<ReplicaState> nonConverged() {
      return replicas.stream().filter(r -> !r.converged()).toList();
    }

    public List<LinearizabilityChecker.KeyResult> nonLinearizable() {
      return linearizability.keys().values().stream()
          .filter(k -> k.verdict() == LinearizabilityChecker.Verdict.NOT_LINEARIZABLE).toList();
    }

    public List<LinearizabilityChecker.KeyResult> unknown() {
      return linearizability.keys().values().stream()
          .filter(k -> k.verdict() == LinearizabilityChecker.Verdict.UNKNOWN).toList();
    }

    /** One line per kind of anomaly found; empty when the run passed. */
    public List<String> anomalies() {
      List<String> a = new ArrayList<>();
      if (!lostWrites.isEmpty()) a.add("acknowledged writes lost: " + lostWrites.size());
      if (!nonConverged().isEmpty()) a.add("replicas not converged: " + nonConverged().size());
      if (!nonLinearizable().isEmpty()) a.add("keys not linearizable: " + nonLinearizable().size());
      if (rejected400 > 0) a.add("valid requests rejected with 400: " + rejected400 + " (e.g. " + rejected400Example + ")");
      if (!finalReadFailures.isEmpty()) a.add("final reads that failed after healing: " + finalReadFailures.size());
      if (!selfExits.isEmpty()) a.add("node processes that exited on their own: " + selfExits.size());
      return a;
    }

    public boolean passed() {
      return anomalies().isEmpty();
    }

    public String text() {
      StringBuilder sb = new StringBuilder();
      sb.append("quorumkv nemesis run: ").append(seconds(options.faultTime())).append(" s of faults, ")
          .append(options.clients()).append(" clients, ").append(options.keys()).append(" keys, W=").append(writeQuorum)
          .append(", reads consistency=").append(options.readConsistency()).append(", seed ").append(options.seed())
          .append("\n  jar ").append(options.jar().toAbsolutePath()).append(", output ").append(options.out().toAbsolutePath())
          .append(String.format("%n  times are seconds since the run began: setup until %.1f s, clients and faults"
              + " %.1f s - %.1f s, whole run %.1f s%n", setupSeconds, faultsFrom, faultsTo, totalSeconds));
      sb.append("\noperations: ").append(stats.total()).append('\n');
      for (Operation.Type t : Operation.Type.values()) {
        sb.append(String.format("  %-5s %6d   OK %6d   FAIL %6d   INFO %6d%n", t.name().toLowerCase(), stats.count(t),
            stats.count(t, Operation.Outcome.OK), stats.count(t, Operation.Outcome.FAIL),
            stats.count(t, Operation.Outcome.INFO)));
      }
      if (!errors.isEmpty()) {
        sb.append("  most frequent errors (FAIL/INFO):\n");
        errors.forEach((e, n) -> sb.append(String.format("  %6d  %s%n", n, e)));
      }
      sb.append("\nfaults injected: ").append(faults.size()).append(stats.faults().isEmpty() ? "" : " "
          + stats.faults().entrySet().stream().map(e -> e.getKey() + " " + e.getValue())
          .collect(Collectors.joining(", ", "(", ")"))).append('\n');
      faults.forEach(f -> sb.append("  ").append(f).append('\n'));
      sb.append("node processes that exited on their own (must be 0; never restarted): ").append(selfExits.size())
          .append('\n');
      selfExits.forEach(e -> sb.append("  ").append(e).append('\n'));
      sb.append("\nleader changes: ").append(leaderChanges).append(", terms seen: ").append(terms).append('\n');
      appendLimited(sb, leaderTimeline, 30, "  ");
      appendLimited(sb, leaderWarnings, 10, "  WARNING: ");
      Unavailability u = longestWriteUnavailability;
      sb.append(String.format("longest write unavailability: %.1f s (%.1f s - %.1f s)%s%n", u.seconds(), u.from(), u.to(),
          u.duringFaults().isEmpty() ? "" : ", during " + String.join("; ", u.duringFaults())));
      sb.append("\nreplicas after healing:\n");
      replicas.forEach(r -> sb.append("  ").append(r).append('\n'));
      sb.append("final values:\n");
      finalValues.forEach(v -> sb.append("  ").append(v.key()).append(" = ")
          .append(v.value() == null ? "absent" : "\"" + v.value() + "\"").append(" (version ").append(v.version())
          .append(", consistency=").append(v.consistency()).append(", from ").append(v.node()).append(")\n"));
      finalReadFailures.forEach(f -> sb.append("  FAILED: ").append(f).append('\n'));
      sb.append("linearizability: ").append(linearizability.verdict()).append('\n');
      linearizability.keys().values().forEach(k -> sb.append("  ").append(k.toString().replace("\n", "\n  ")).append('\n'));
      if (!notes.isEmpty()) {
        sb.append("\nnotes:\n");
        notes.forEach(n -> sb.append("  - ").append(n).append('\n'));
      }
      sb.append("\nanomalies:\n");
      sb.append("  acknowledged writes lost: ").append(lostWrites.size()).append('\n');
      appendLimited(sb, lostWrites, 20, "    ");
      sb.append("  replicas not converged: ").append(nonConverged().size()).append('\n');
      sb.append("  keys not linearizable: ").append(nonLinearizable().size())
          .append(nonLinearizable().stream().map(LinearizabilityChecker.KeyResult::key).collect(Collectors.joining(", ", " [", "]")))
          .append(unknown().isEmpty() ? "" : "; unknown (search bound reached, reported, not counted): "
              + unknown().stream().map(LinearizabilityChecker.KeyResult::key).toList())
          .append('\n');
      sb.append("  valid requests rejected with 400: ").append(rejected400)
          .append(rejected400 > 0 ? " (e.g. " + rejected400Example + ")" : "").append('\n');
      sb.append("  final reads failed: ").append(finalReadFailures.size()).append('\n');
      sb.append("  node processes that exited on their own: ").append(selfExits.size()).append('\n');
      sb.append("verdict: ").append(passed() ? "PASS" : "FAIL: " + String.join("; ", anomalies())).append('\n');
      return sb.toString();
    }

    private static void appendLimited(StringBuilder sb, List<?> items, int limit, String prefix) {
      items.stream().limit(limit).forEach(i -> sb.append(prefix).append(i).append('\n'));
      if (items.size() > limit) {
        sb.append(prefix).append("... and ").append(items.size() - limit).append(" more (see report.json)\n");
      }
    }

    Map<String, Object> json() {
      Map<String, Object> j = new LinkedHashMap<>();
      j.put("verdict", passed() ? "PASS" : "FAIL");
      j.put("anomalies", anomalies());
      Map<String, Object> opts = new LinkedHashMap<>();
      opts.put("faultSeconds", seconds(options.faultTime()));
      opts.put("clients", options.clients());
      opts.put("keys", options.keys());
      opts.put("seed", options.seed());
      opts.put("readConsistency", options.readConsistency());
      opts.put("writeQuorum", writeQuorum);
      opts.put("jar", options.jar().toAbsolutePath().toString());
      j.put("options", opts);
      Map<String, Object> ops = new LinkedHashMap<>();
      for (Operation.Type t : Operation.Type.values()) {
        Map<String, Long> byOutcome = new LinkedHashMap<>();
        for (Operation.Outcome o : Operation.Outcome.values()) {
          byOutcome.put(o.name(), stats.count(t, o));
        }
        ops.put(t.name().toLowerCase(), byOutcome);
      }
      j.put("operations", ops);
      j.put("errors", errors);
      j.put("faultCounts", stats.faults());
      j.put("faults", faults);
      j.put("processesExitedOnTheirOwn", selfExits.size());
      j.put("selfExits", selfExits);
      j.put("leaderChanges", leaderChanges);
      j.put("terms", terms);
      j.put("leaderTimeline", leaderTimeline);
      j.put("leaderWarnings", leaderWarnings);
      j.put("longestWriteUnavailability", longestWriteUnavailability);
      j.put("replicas", replicas);
      j.put("finalValues", finalValues);
      j.put("lostWrites", lostWrites);
      Map<String, Object> lin = new LinkedHashMap<>();
      lin.put("verdict", linearizability.verdict().name());
      linearizability.keys().forEach((k, r) -> lin.put(k, Map.of("verdict", r.verdict().name(),
          "operations", r.operations(), "steps", r.steps(), "explanation", r.explanation())));
      j.put("linearizability", lin);
      j.put("rejected400", rejected400);
      j.put("finalReadFailures", finalReadFailures);
      j.put("notes", notes);
      j.put("setupSeconds", setupSeconds);
      j.put("faultsFrom", faultsFrom);
      j.put("faultsTo", faultsTo);
      j.put("totalSeconds", totalSeconds);
      return j;
    }
  }

  // --- main ---

  public static void main(String[] args) {
    System.exit(new CommandLine(new CommandLineOptions()).execute(args));
  }

  /** A whole run from the command line, as its exit status; a run over its deadline exits 3 at once. */
  static int execute(Options options) {
    String why = NetworkNamespaces.unavailableReason();
    if (why != null) {
      System.err.println("NemesisRun cannot run here: " + why);
      return 2;
    }
    long hardDeadlineMillis = options.faultTime().plus(OVERHEAD).plusSeconds(30).toMillis();
    Thread watchdog = new Thread(() -> {
      try {
        Thread.sleep(hardDeadlineMillis);
      } catch (InterruptedException e) {
        return;
      }
      System.err.println("NemesisRun: over its deadline (" + hardDeadlineMillis / 1000 + " s); exiting (the shutdown"
          + " hook removes the nodes and namespaces)");
      System.exit(3);
    }, "nemesis-watchdog");
    watchdog.setDaemon(true);
    watchdog.start();
    try {
      return run(options).passed() ? 0 : 1;
    } catch (Exception e) {
      System.err.println("NemesisRun failed: " + e);
      e.printStackTrace();
      return 2;
    }
  }

  /**
   * Runs the whole thing: cluster up, clients and nemesis for {@code faultTime}, recovery, checks.
   * Prints progress and the report, writes the report files; always removes the cluster.
   */
  public static Report run(Options o) throws IOException, InterruptedException {
    long t0 = System.nanoTime();
    long deadline = t0 + o.faultTime().plus(OVERHEAD).toNanos();
    Files.createDirectories(o.out());
    Run run = new Run(o, deadline);
    try (Cluster<NetworkNamespaces> cluster = Cluster.inNetworkNamespaces(o.jar(), Map.of(), Duration.ofSeconds(60))) {
      run.cluster = cluster;
      try {
        return run.execute(t0);
      } finally {
        cluster.logs().copyTo(o.out().resolve("logs"));
        run.saveHistory();
      }
    }
  }

  // --- one run ---

  private static final class Run {
    final Options o;
    final long deadline;
    final History history = new History();
    final Map<Long, Long> writeVersions = new ConcurrentHashMap<>();
    final AtomicLong rejected400 = new AtomicLong();
    final List<String> rejected400Examples = new CopyOnWriteArrayList<>();
    final List<String> notes = new CopyOnWriteArrayList<>();
    final NodeClient http = new NodeClient(REQUEST_TIMEOUT);
    Cluster<NetworkNamespaces> cluster;
    int writeQuorum;

    Run(Options o, long deadline) {
      this.o = o;
      this.deadline = deadline;
    }

    void log(String message) {
      System.out.printf("[%7.1f s] %s%n", history.now() / 1e9, message);
    }

    Duration remaining(Duration reserve) {
      return Duration.ofNanos(Math.max(0, deadline - System.nanoTime() - reserve.toNanos()));
    }

    void saveHistory() {
      try {
        history.writeJsonLines(o.out().resolve("history.jsonl"));
      } catch (IOException e) {
        System.err.println("could not write history.jsonl: " + e);
      }
    }

    Report execute(long t0) throws IOException, InterruptedException {
      log("nemesis run: " + seconds(o.faultTime()) + " s of faults, " + o.clients() + " clients, " + o.keys()
          + " keys, seed " + o.seed() + "; " + cluster);
      Nemesis nemesis = new Nemesis(cluster, history, new Random(o.seed()), this::log);
      cluster.startAll();
      Duration setupWait = min(Duration.ofSeconds(150), remaining(Duration.ofSeconds(60).plus(o.faultTime())));
      if (!nemesis.awaitAllReady(System.nanoTime() + setupWait.toNanos())) {
        throw new IllegalStateException("the cluster did not become ready within " + setupWait.toSeconds() + " s: "
            + cluster.readiness());
      }
      if (!nemesis.selfExits().isEmpty()) {
        String note = "node processes exited on their own while the cluster formed (not restarted): "
            + nemesis.selfExits();
        notes.add(note);
        log(note);
      }
      double setupSeconds = (System.nanoTime() - t0) / 1e9;
      writeQuorum = o.writeQuorum() != null ? o.writeQuorum() : cluster.writeQuorum().orElseThrow(
          () -> new IllegalStateException("no node tells its writeQuorum on GET /status: " + cluster.readiness()));
      log(String.format("all six nodes ready after %.1f s; leader %s; writes ask for W=%d%s", setupSeconds,
          leaderOf(cluster).orElse(null), writeQuorum, o.writeQuorum() != null ? "" : " (the cluster's)"));

      LeaderWatch watch = new LeaderWatch(cluster, history, new Random(o.seed() ^ 0x5eed));
      Thread watchThread = daemon(watch, "nemesis-leader-watch");
      AtomicBoolean stop = new AtomicBoolean();
      List<Thread> clientThreads = new ArrayList<>();
      long clientsStart = history.now();
      for (int c = 0; c < o.clients(); c++) {
        clientThreads.add(daemon(new Client(c, new Random(o.seed() * 31 + c), stop), "nemesis-client-" + c));
      }
      long faultsEnd = System.nanoTime() + o.faultTime().toNanos();
      try {
        nemesis.run(faultsEnd);
      } catch (RuntimeException e) {
        watch.stop();
        throw e;
      } finally {
        stop.set(true);
        for (Thread t : clientThreads) {
          t.join(REQUEST_TIMEOUT.plusSeconds(5).toMillis());
        }
      }
      long clientsEnd = history.now();
      log("faults over; clients stopped; healing, resuming and restarting what the nemesis killed");

      nemesis.recoverAll();
      Duration readyWait = min(Duration.ofSeconds(90), remaining(Duration.ofSeconds(50)));
      if (!nemesis.awaitAllReady(System.nanoTime() + readyWait.toNanos())) {
        String note = "not every node was ready " + readyWait.toSeconds() + " s after healing: " + cluster.readiness();
        notes.add(note);
        log(note);
      } else {
        log(nemesis.exitedCount() == 0 ? "all six nodes ready again"
            : "every node still running is ready again; " + nemesis.exitedCount() + " exited on their own");
      }
      watch.stop();
      watchThread.join(5_000);

      List<ReplicaState> replicas = awaitConvergence(min(Duration.ofSeconds(60), remaining(Duration.ofSeconds(30))));
      List<String> finalReadFailures = new ArrayList<>();
      List<FinalValue> finalValues = finalReads(finalReadFailures);

      List<Operation> ops = history.operations();
      log("checking " + ops.size() + " operations");
      List<LostWrite> lost = lostWrites(ops, finalValues, writeVersions);
      LinearizabilityChecker.Result lin = new LinearizabilityChecker().check(ops);
      HistoryStats stats = HistoryStats.of(ops).withFaults(nemesis.faultCounts());
      LeaderSummary leaders = watch.summary();
      if (rejected400.get() > 0) {
        notes.add(rejected400.get() + " valid requests were answered 400; the history cannot check what they should"
            + " have done (e.g. " + rejected400Examples.get(0) + ")");
      }
      if (stats.count(Operation.Type.READ, Operation.Outcome.OK) <= o.keys()) {
        notes.add("no client read completed OK: linearizability was checked on writes and the final reads only");
      }
      Report report = new Report(o, writeQuorum, stats, nemesis.faults(), nemesis.selfExits(), leaders.changes(), leaders.terms(),
          leaders.timeline(), leaders.warnings(),
          longestWriteUnavailability(ops, clientsStart, clientsEnd, nemesis.faults()), replicas, finalValues, lost, lin,
          rejected400.get(), rejected400Examples.isEmpty() ? "" : rejected400Examples.get(0), finalReadFailures,
          topErrors(ops, 10), List.copyOf(notes), setupSeconds, clientsStart / 1e9, clientsEnd / 1e9,
          (System.nanoTime() - t0) / 1e9);
      String text = report.text();
      System.out.println();
      System.out.println(text);
      Files.writeString(o.out().resolve("report.txt"), text);
      JSON.writeValue(o.out().resolve("report.json").toFile(), report.json());
      log("wrote " + o.out().toAbsolutePath() + "/{report.txt,report.json,history.jsonl,logs/}");
      return report;
    }

    /**
     * Polls until every node has the same log position and digest and names the same leader; the
     * state of each at the end. A node is converged when it has the position most nodes share (on
     * a tie, the majority leader's) and follows the leader most nodes follow: a node that formed a
     * cluster of its own is not, whatever its digest.
     */
    List<ReplicaState> awaitConvergence(Duration timeout) {
      long end = System.nanoTime() + timeout.toNanos();
      Map<Integer, JsonNode> statuses = new TreeMap<>();
      while (true) {
        statuses.clear();
        for (int n = 0; n < Cluster.NODES; n++) {
          final int node = n;
          cluster.status(n).ifPresent(s -> statuses.put(node, s));
        }
        Set<String> positions = statuses.values().stream().map(Run::position).collect(Collectors.toSet());
        Set<String> leaders = statuses.values().stream().map(Run::leaderIn).collect(Collectors.toSet());
        if (statuses.size() == Cluster.NODES && positions.size() == 1 && leaders.size() == 1) {
          log("replicas converged: " + positions.iterator().next() + ", leader " + leaders.iterator().next());
          break;
        }
        if (System.nanoTime() > end) {
          log("replicas did not converge within " + timeout.toSeconds() + " s");
          break;
        }
        sleepQuietly(Duration.ofMillis(500));
      }
      String leader = mostCommon(statuses.values().stream().map(Run::leaderIn).toList(), s -> 0);
      String reference = mostCommon(statuses.values().stream().map(Run::position).toList(),
          p -> statuses.values().stream().anyMatch(s -> s.path("node").asText().equals(leader)
              && position(s).equals(p)) ? 1 : 0);
      List<ReplicaState> replicas = new ArrayList<>();
      for (int n = 0; n < Cluster.NODES; n++) {
        JsonNode s = statuses.get(n);
        replicas.add(s == null
            ? new ReplicaState(Cluster.nodeId(n), null, "(no answer to GET /status)", false,
                cluster.isRunning(n) ? "running" : "not running")
            : new ReplicaState(Cluster.nodeId(n), s.path("lastIndex").asLong(), s.path("digest").asText(),
                position(s).equals(reference) && leaderIn(s).equals(leader), view(s)));
      }
      return replicas;
    }

    static String leaderIn(JsonNode status) {
      return status.path("leader").isNull() ? "none" : status.path("leader").asText("none");
    }

    /** The most frequent of {@code values}; ties broken by {@code tieBreak} (higher wins). */
    static String mostCommon(List<String> values, java.util.function.ToIntFunction<String> tieBreak) {
      Map<String, Long> counts = values.stream().collect(Collectors.groupingBy(v -> v, Collectors.counting()));
      return counts.keySet().stream()
          .max(Comparator.<String>comparingLong(counts::get).thenComparingInt(tieBreak))
          .orElse("");
    }

    /** E.g. "leader node4, term 4, members Up: node0 node1 ...". */
    static String view(JsonNode status) {
      List<String> up = new ArrayList<>();
      status.path("members").forEach(m -> {
        if (m.path("status").asText().equals("Up")) {
          up.add(m.path("node").asText() + (m.path("reachable").asBoolean(true) ? "" : "(unreachable)"));
        }
      });
      return "leader " + (status.path("leader").isNull() ? "none" : status.path("leader").asText("none"))
          + ", term " + status.path("term").asText() + ", members Up: " + String.join(" ", up);
    }

    /** appliedIndex if the node reports one, else lastIndex; with the digest. */
    static String position(JsonNode status) {
      JsonNode index = status.has("appliedIndex") ? status.get("appliedIndex") : status.path("lastIndex");
      return "index " + index.asText() + " digest " + status.path("digest").asText();
    }

    /**
     * Reads every key once more, after the faults and the convergence wait, as an extra client
     * whose reads are appended to the history: linearizable, or the leader's replica if this build
     * refuses linearizable reads (noted).
     */
    List<FinalValue> finalReads(List<String> failures) {
      int client = o.clients();
      List<FinalValue> values = new ArrayList<>();
      String consistency = "linearizable";
      for (int k = 0; k < o.keys(); k++) {
        String key = key(k);
        long handle = history.invokeRead(client, key);
        String lastError = "";
        boolean done = false;
        long end = System.nanoTime() + min(Duration.ofSeconds(20), remaining(Duration.ofSeconds(15))).toNanos();
        while (!done && System.nanoTime() < end) {
          int node = leaderOf(cluster).map(Cluster::nodeIndex).filter(n -> n >= 0)
              .orElse(new Random().nextInt(Cluster.NODES));
          NodeClient.Response r = http.get(cluster.uri(node), key, consistency);
          JsonNode body = r.body();
          if (r.status() == 200 || r.status() == 404) {
            String value = r.status() == 200 ? body.path("value").asText(null) : null;
            Long version = r.status() == 200 && body.has("version") ? body.get("version").asLong() : null;
            history.ok(handle, value);
            values.add(new FinalValue(key, value, version, consistency, Cluster.nodeId(node)));
            done = true;
          } else if (r.status() == 400 && consistency.equals("linearizable")) {
            notes.add("the final reads used consistency=leader: this build answers consistency=linearizable with 400 ("
                + body.path("error").asText(r.text()) + ")");
            consistency = "leader";
          } else {
            lastError = r.answered() ? r.status() + " " + body.path("error").asText(r.text()) : r.text();
            sleepQuietly(Duration.ofMillis(500));
          }
        }
        if (!done) {
          history.info(handle, "final read failed: " + lastError);
          failures.add("final read of " + key + ": " + lastError);
        }
      }
      return values;
    }

    /**
     * One client: random key, random node; a third each write, read, or compare-and-set (a read,
     * then {@code PUT ?ifVersion=} the version it returned, expecting the value it returned), each
     * recorded in the history.
     */
    final class Client implements Runnable {
      final int id;
      final Random random;
      final AtomicBoolean stop;
      long seq;

      Client(int id, Random random, AtomicBoolean stop) {
        this.id = id;
        this.random = random;
        this.stop = stop;
      }

      @Override
      public void run() {
        while (!stop.get() && !Thread.currentThread().isInterrupted()) {
          long started = System.nanoTime();
          String key = key(random.nextInt(o.keys()));
          int node = random.nextInt(Cluster.NODES);
          switch (random.nextInt(3)) {
            case 0 -> write(node, key, "c" + id + "-" + (++seq));
            case 1 -> read(node, key);
            default -> compareAndSet(node, key, "c" + id + "-" + (++seq));
          }
          long rest = MIN_OP_NANOS - (System.nanoTime() - started);
          if (rest > 0) {
            sleepQuietly(Duration.ofNanos(rest));
          }
        }
      }

      void write(int node, String key, String value) {
        long h = history.invokeWrite(id, key, value);
        NodeClient.Response r = answer(h, () -> http.put(cluster.uri(node), key, value, writeQuorum, WRITE_TIMEOUT));
        if (r == null) {
          return;
        }
        recordWrite(h, r, "PUT");
      }

      /** Completes write (or compare-and-set) h from its answer: OK with its version, FAIL, or INFO (in doubt). */
      void recordWrite(long h, NodeClient.Response r, String method) {
        JsonNode body = r.body();
        String error = body.path("error").asText(null);
        switch (classifyWrite(r.status(), error)) {
          case OK -> {
            history.ok(h);
            if (body.has("version")) {
              writeVersions.put(h, body.get("version").asLong());
            }
          }
          case FAIL -> {
            history.fail(h, r.status() + " " + error);
            count400(r.status(), method, error);
          }
          case INFO -> history.info(h, r.status() + " " + (error == null ? r.text() : error));
        }
      }

      /**
       * Reads the key, then writes {@code value} only if the key still has the version read. The
       * read is an operation of the history like any other. Written values are unique, so the
       * version read stands for the value read: the compare-and-set expects that value. A 412
       * (the key changed meanwhile) is a FAIL: it wrote nothing.
       */
      void compareAndSet(int node, String key, String value) {
        long rh = history.invokeRead(id, key);
        NodeClient.Response read = answer(rh, () -> http.get(cluster.uri(node), key, o.readConsistency()));
        if (read == null) {
          return;
        }
        String expected;
        long version;
        switch (read.status()) {
          case 200 -> {
            expected = read.body().path("value").asText(null);
            version = read.body().path("version").asLong();
          }
          case 404 -> {
            expected = null;
            version = 0;
          }
          default -> {
            String error = read.body().path("error").asText(null);
            history.info(rh, read.status() + " " + (error == null ? read.text() : error));
            return;
          }
        }
        history.ok(rh, expected);
        long h = history.invokeCas(id, key, expected, value);
        NodeClient.Response r = answer(h, () -> http.request(cluster.uri(node), "PUT", "/kv/" + NodeClient.encode(key)
            + "?ifVersion=" + version + "&w=" + writeQuorum + "&timeout=" + WRITE_TIMEOUT, value));
        if (r == null) {
          return;
        }
        if (r.status() == 412) {
          history.fail(h, "412 " + r.body().path("error").asText(null));
          return;
        }
        recordWrite(h, r, "PUT ifVersion");
      }

      void read(int node, String key) {
        long h = history.invokeRead(id, key);
        NodeClient.Response r = answer(h, () -> http.get(cluster.uri(node), key, o.readConsistency()));
        if (r == null) {
          return;
        }
        JsonNode body = r.body();
        String error = body.path("error").asText(null);
        switch (r.status()) {
          case 200 -> history.ok(h, body.path("value").asText(null));
          case 404 -> history.ok(h, null);
          case 400 -> {
            history.fail(h, "400 " + error);
            count400(400, "GET", error);
          }
          default -> history.info(h, r.status() + " " + (error == null ? r.text() : error));
        }
      }

      /** The node's answer to operation h's request; null, with h recorded as INFO, when none came. */
      NodeClient.Response answer(long h, Supplier<NodeClient.Response> request) {
        NodeClient.Response r;
        try {
          r = request.get();
        } catch (IllegalStateException e) {
          if (!Thread.currentThread().isInterrupted()) {
            throw e;
          }
          history.info(h, "interrupted");
          return null;
        }
        if (!r.answered()) {
          history.info(h, r.text());
          return null;
        }
        return r;
      }

      void count400(int status, String method, String error) {
        if (status == 400) {
          rejected400.incrementAndGet();
          if (rejected400Examples.size() < 3) {
            rejected400Examples.add(method + " ... -> 400 " + error);
          }
        }
      }
    }

    String key(int k) {
      return "k" + k;
    }
  }

  /**
   * A write's outcome from its HTTP answer: 200 OK; 400 and a 503 that says nothing was written
   * FAIL; anything else (a 503 in doubt, no answer from the leader, 5xx) INFO.
   */
  static Operation.Outcome classifyWrite(int status, String error) {
    if (status == 200) {
      return Operation.Outcome.OK;
    }
    if (status == 400 || (status == 503 && error != null && error.contains("nothing was written"))) {
      return Operation.Outcome.FAIL;
    }
    return Operation.Outcome.INFO;
  }

  // --- the nemesis ---

  /**
   * Injects one fault at a time, with 5-10 s of calm between faults (and, bounded, until every node
   * is ready again), 40% of the time aimed at the leader:
   * <ul>
   *   <li>{@code kill}: SIGKILL of one node, restarted 2-6 s later;
   *   <li>{@code kill-many}: SIGKILL of two or three nodes at once, each restarted 2-10 s later, so
   *       in random order; a third of the time one of three stays dead for 25-35 s, long after
   *       the others must have let the restarted two in without it;
   *   <li>{@code pause}: SIGSTOP of one node for 3-15 s, then SIGCONT;
   *   <li>{@code pause-leader-long}: SIGSTOP of the leader for 3-6 s, longer than the election
   *       timeout (1-2 s), then SIGCONT: the others elect a leader, the paused one must step down;
   *   <li>{@code partition}: 1-2 nodes cut off from the rest for 5-20 s.
   * </ul>
   * Each fault ends before the fault time does, and only ever touches the processes and network
   * namespaces of this run's cluster. The nemesis restarts only nodes it killed itself: a node
   * whose JVM exits on its own is recorded as a {@link SelfExit} (a failure: no node process
   * exits because the cluster declared it dead) and left down, so that the run shows it.
   */
  static final class Nemesis {
    /** How long, beyond the calm between faults, the nemesis waits for every node to be ready again. */
    static final Duration RECOVERY_WAIT = Duration.ofSeconds(30);
    /** Every fault is over this long before the fault time is. */
    private static final long FAULT_MARGIN_NANOS = 1_000_000_000L;
    private final Cluster<NetworkNamespaces> cluster;
    private final History history;
    private final Random random;
    private final java.util.function.Consumer<String> log;
    private final boolean[] killedByUs = new boolean[Cluster.NODES];
    private final boolean[] exitedOnItsOwn = new boolean[Cluster.NODES];
    private final List<Fault> faults = new ArrayList<>();
    private final List<SelfExit> selfExits = new ArrayList<>();
    private String currentFault = "while the cluster formed";

    Nemesis(Cluster<NetworkNamespaces> cluster, History history, Random random, java.util.function.Consumer<String> log) {
      this.cluster = cluster;
      this.history = history;
      this.random = random;
      this.log = log;
    }

    void run(long endNanos) {
      currentFault = "between faults";
      while (true) {
        long calm = Duration.ofMillis(5_000 + random.nextInt(5_001)).toNanos();
        if (!watchUntil(Math.min(System.nanoTime() + calm, endNanos))) {
          return;
        }
        awaitRecovery(Math.min(System.nanoTime() + RECOVERY_WAIT.toNanos(), endNanos - 4_000_000_000L));
        if (endNanos - System.nanoTime() < 4_000_000_000L) {
          return;
        }
        double kind = random.nextDouble();
        boolean atLeader = random.nextDouble() < 0.4;
        Optional<String> leader = leaderOf(cluster);
        OptionalInt leaderNode = leader.map(Cluster::nodeIndex).filter(n -> n >= 0)
            .map(OptionalInt::of).orElse(OptionalInt.empty());
        if (kind < 0.2) {
          kill(pickTarget(atLeader, leaderNode, true), atLeader, leader, endNanos);
        } else if (kind < 0.4) {
          killMany(atLeader ? leaderNode : OptionalInt.empty(), leader, endNanos);
        } else if (kind < 0.55) {
          pause(pickTarget(atLeader, leaderNode, false), atLeader, leader, endNanos);
        } else if (kind < 0.75) {
          pauseLeaderLong(leaderNode, leader, endNanos);
        } else {
          partition(atLeader ? leaderNode : OptionalInt.empty(), leader, endNanos);
        }
      }
    }

    /**
     * One fault at a time: before the next, every node should have recovered from the last (a
     * restarted JVM takes a while to rejoin). Waits until all are ready, or until {@code byNanos}.
     */
    private void awaitRecovery(long byNanos) {
      if (!awaitAllReady(byNanos)) {
        log.accept("not every node is ready again: " + cluster.readiness());
      }
    }

    /**
     * Waits until every node is ready, recording (never restarting) any that exits on its own,
     * which is then no longer waited for; false if {@code byNanos} passes first.
     */
    boolean awaitAllReady(long byNanos) {
      while (true) {
        supervise();
        if (IntStream.range(0, Cluster.NODES).filter(n -> !exitedOnItsOwn[n]).allMatch(cluster::ready)) {
          return true;
        }
        if (System.nanoTime() >= byNanos) {
          return false;
        }
        sleepQuietly(Duration.ofMillis(500));
      }
    }

    private int pickTarget(boolean atLeader, OptionalInt leader, boolean anyRunning) {
      if (atLeader && leader.isPresent() && cluster.isLive(leader.getAsInt())) {
        return leader.getAsInt();
      }
      List<Integer> live = IntStream.range(0, Cluster.NODES)
          .filter(n -> anyRunning ? cluster.isRunning(n) : cluster.isLive(n)).boxed().toList();
      return live.isEmpty() ? -1 : live.get(random.nextInt(live.size()));
    }

    private static String leaderMark(int n, Optional<String> leader) {
      return leader.isPresent() && leader.get().equals(Cluster.nodeId(n)) ? " (the leader)" : "";
    }

    private long faultEnd(long endNanos, int minSeconds, int maxSeconds) {
      long chosen = Duration.ofMillis(minSeconds * 1000L + random.nextInt((maxSeconds - minSeconds) * 1000 + 1)).toNanos();
      return Math.min(System.nanoTime() + chosen, endNanos - FAULT_MARGIN_NANOS);
    }

    private void kill(int n, boolean atLeader, Optional<String> leader, long endNanos) {
      if (n < 0 || !cluster.isRunning(n)) {
        return;
      }
      long until = faultEnd(endNanos, 2, 6);
      double start = now();
      currentFault = "while the nemesis had killed " + Cluster.nodeId(n);
      log.accept("fault: kill -9 " + Cluster.nodeId(n) + leaderMark(n, leader) + " pid " + cluster.pid(n));
      killedByUs[n] = true;
      cluster.kill(n);
      watchUntil(until);
      restartKilled(n);
      faults.add(new Fault("kill", List.of(Cluster.nodeId(n)), atLeader, leader.orElse(null), start, now(),
          "SIGKILL, then restarted"));
      currentFault = "after the kill of " + Cluster.nodeId(n);
    }

    /**
     * SIGKILL of two or three running nodes at once (the leader among them if {@code leader} is
     * given), each restarted at its own time 2-10 s later, so in random order; of three, a third
     * of the time the last one only 25-35 s later.
     */
    private void killMany(OptionalInt leader, Optional<String> leaderName, long endNanos) {
      List<Integer> running = new ArrayList<>(IntStream.range(0, Cluster.NODES).filter(cluster::isRunning).boxed().toList());
      java.util.Collections.shuffle(running, random);
      List<Integer> victims = new ArrayList<>();
      if (leader.isPresent() && running.remove((Integer) leader.getAsInt())) {
        victims.add(leader.getAsInt());
      }
      int size = 2 + random.nextInt(2);
      while (victims.size() < size && !running.isEmpty()) {
        victims.add(running.remove(0));
      }
      if (victims.size() < 2) {
        return;
      }
      long start = System.nanoTime();
      Map<Integer, Long> restartAt = new HashMap<>();
      for (int n : victims) {
        restartAt.put(n, Math.min(start + Duration.ofMillis(2_000 + random.nextInt(8_001)).toNanos(),
            endNanos - FAULT_MARGIN_NANOS));
      }
      if (victims.size() == 3 && random.nextInt(3) == 0) {
        // One stays dead well past down-unreachable-after (20 s, halved while restarted nodes
        // wait): the restarted two are let in without it (the leader, or with no leader the
        // cluster's own, counts them and downs it).
        restartAt.put(victims.get(2), Math.min(start + Duration.ofMillis(25_000 + random.nextInt(10_001)).toNanos(),
            endNanos - FAULT_MARGIN_NANOS));
      }
      List<Integer> order = victims.stream().sorted(Comparator.comparingLong(restartAt::get)).toList();
      List<String> names = victims.stream().sorted().map(Cluster::nodeId).toList();
      double startSeconds = now();
      currentFault = "while the nemesis had killed " + names;
      log.accept("fault: kill -9 " + names + " at once" + (leaderName.isPresent() && names.contains(leaderName.get())
          ? " (with the leader " + leaderName.get() + ")" : "") + "; restarts in the order "
          + order.stream().map(Cluster::nodeId).toList() + String.format(" after %s s", order.stream()
          .map(n -> String.format("%.1f", (restartAt.get(n) - start) / 1e9)).toList()));
      victims.forEach(n -> killedByUs[n] = true);
      cluster.killTogether(victims);
      for (int n : order) {
        watchUntil(restartAt.get(n));
        restartKilled(n);
      }
      faults.add(new Fault("kill-many", names, leader.isPresent(), leaderName.orElse(null), startSeconds, now(),
          "SIGKILL together, restarted in the order " + order.stream().map(Cluster::nodeId).toList()));
      currentFault = "after the kill of " + names;
    }

    private void restartKilled(int n) {
      cluster.start(n);
      killedByUs[n] = false;
      log.accept("restarted " + Cluster.nodeId(n));
    }

    private void pause(int n, boolean atLeader, Optional<String> leader, long endNanos) {
      if (n < 0 || !cluster.isLive(n)) {
        return;
      }
      pauseFor(n, faultEnd(endNanos, 3, 15), "pause", atLeader, leader);
    }

    /** SIGSTOP of the leader for longer than the election timeout (1-2 s): 3-6 s. */
    private void pauseLeaderLong(OptionalInt leaderNode, Optional<String> leader, long endNanos) {
      if (leaderNode.isEmpty() || !cluster.isLive(leaderNode.getAsInt())) {
        log.accept("no live leader known to pause; skipping this fault");
        return;
      }
      pauseFor(leaderNode.getAsInt(), faultEnd(endNanos, 3, 6), "pause-leader-long", true, leader);
    }

    private void pauseFor(int n, long until, String kind, boolean atLeader, Optional<String> leader) {
      double start = now();
      currentFault = "while " + Cluster.nodeId(n) + " was paused or after its pause";
      log.accept(String.format("fault: SIGSTOP %s%s for %.1f s", Cluster.nodeId(n), leaderMark(n, leader),
          (until - System.nanoTime()) / 1e9));
      cluster.pause(n);
      watchUntil(until);
      String note = "SIGSTOP, then SIGCONT";
      if (cluster.isRunning(n)) {
        cluster.resume(n);
        log.accept("resumed " + Cluster.nodeId(n));
      } else {
        note += " (but it was gone)";
      }
      faults.add(new Fault(kind, List.of(Cluster.nodeId(n)), atLeader, leader.orElse(null), start, now(), note));
      currentFault = "after the pause of " + Cluster.nodeId(n);
    }

    private void partition(OptionalInt leader, Optional<String> leaderName, long endNanos) {
      int size = 1 + random.nextInt(2);
      Set<Integer> minority = new TreeSet<>();
      if (leader.isPresent()) {
        minority.add(leader.getAsInt());
      }
      while (minority.size() < size) {
        minority.add(random.nextInt(Cluster.NODES));
      }
      long until = faultEnd(endNanos, 5, 20);
      double start = now();
      List<String> names = minority.stream().map(Cluster::nodeId).toList();
      currentFault = "during the partition of " + names;
      boolean withLeader = leaderName.isPresent() && names.contains(leaderName.get());
      log.accept(String.format("fault: partition %s | rest%s for %.1f s", names, withLeader ? " (with the leader)" : "",
          (until - System.nanoTime()) / 1e9));
      cluster.placement().partition(minority);
      log.accept("partition verified: " + names + " cannot reach the others (TCP connects blocked), clients reach all");
      watchUntil(until);
      cluster.placement().heal();
      log.accept("healed (verified: every node reaches every other)");
      faults.add(new Fault("partition", names, leader.isPresent(), leaderName.orElse(null), start, now(),
          "blackhole routes both ways"));
      currentFault = "after the partition of " + names;
    }

    /** Sleeps until {@code untilNanos}, recording nodes that exit on their own; false if that time is past. */
    private boolean watchUntil(long untilNanos) {
      if (System.nanoTime() >= untilNanos) {
        return false;
      }
      while (System.nanoTime() < untilNanos) {
        supervise();
        sleepQuietly(Duration.ofNanos(Math.min(250_000_000L, Math.max(0, untilNanos - System.nanoTime()))));
      }
      return true;
    }

    /** Records every node whose JVM exited without the nemesis killing it. Restarts none. */
    private void supervise() {
      cluster.exitedOnTheirOwn().forEach((n, code) -> {
        if (!exitedOnItsOwn[n]) {
          exitedOnItsOwn[n] = true;
          selfExits.add(new SelfExit(Cluster.nodeId(n), now(), code, currentFault, exitHint(n)));
          log.accept(Cluster.nodeId(n) + " EXITED ON ITS OWN (code " + code + ") " + currentFault
              + "; not restarted");
        }
      });
    }

    /** After the run: no partition, nothing paused, every node the nemesis killed running again. */
    void recoverAll() {
      currentFault = "after the faults";
      if (!cluster.placement().partitionedMinority().isEmpty()) {
        cluster.placement().heal();
      }
      for (int n = 0; n < Cluster.NODES; n++) {
        if (cluster.isPaused(n)) {
          cluster.resume(n);
        }
        if (killedByUs[n]) {
          restartKilled(n);
        }
      }
      supervise();
    }

    /** The line of the node's log that best says why its process went away, if there is one. */
    private String exitHint(int n) {
      List<String> lines = List.of(cluster.logs().tail(n, 300).split("\n"));
      for (String marker : List.of("failed to start", "stopped:", "OutOfMemory", "Downing itself", "incarnation",
          "Exception")) {
        for (int i = lines.size() - 1; i >= 0; i--) {
          if (lines.get(i).contains(marker)) {
            String hint = lines.get(i).strip();
            return hint.length() > 300 ? hint.substring(0, 300) + "..." : hint;
          }
        }
      }
      return "";
    }

    private double now() {
      return history.now() / 1e9;
    }

    List<Fault> faults() {
      return List.copyOf(faults);
    }

    List<SelfExit> selfExits() {
      return List.copyOf(selfExits);
    }

    /** How many nodes' processes exited on their own so far, and are not waited for. */
    long exitedCount() {
      return IntStream.range(0, Cluster.NODES).filter(n -> exitedOnItsOwn[n]).count();
    }

    Map<String, Long> faultCounts() {
      Map<String, Long> counts = new LinkedHashMap<>();
      for (String k : FAULT_KINDS) {
        long c = faults.stream().filter(f -> f.countKey().equals(k)).count();
        if (c > 0) {
          counts.put(k, c);
        }
      }
      return counts;
    }
  }

  /** Every kind of fault, as {@link Fault#countKey} counts them. */
  static final List<String> FAULT_KINDS = List.of("kill", "kill-leader", "kill-many", "kill-many-with-leader", "pause",
      "pause-leader", "pause-leader-long", "partition", "partition-with-leader");

  // --- leader watch ---

  record LeaderSummary(int changes, List<Long> terms, List<LeaderChange> timeline, List<String> warnings) {}

  /**
   * Every ~500 ms, asks a random live node who leads and in which term. Each (term, leader) pair
   * seen for the first time is a leader change; two leaders reported for one term (which a correct
   * election never produces, e.g. two clusters after a split) are reported once per pair as a
   * warning.
   */
  static final class LeaderWatch implements Runnable {
    private final Cluster<NetworkNamespaces> cluster;
    private final History history;
    private final Random random;
    private final AtomicBoolean stop = new AtomicBoolean();
    private final List<LeaderChange> timeline = new ArrayList<>();
    private final Map<Long, List<String>> leadersByTerm = new TreeMap<>();
    private final List<String> warnings = new ArrayList<>();

    LeaderWatch(Cluster<NetworkNamespaces> cluster, History history, Random random) {
      this.cluster = cluster;
      this.history = history;
      this.random = random;
    }

    @Override
    public void run() {
      while (!stop.get()) {
        long started = System.nanoTime();
        List<Integer> live = IntStream.range(0, Cluster.NODES).filter(cluster::isLive).boxed().toList();
        if (!live.isEmpty()) {
          int n = live.get(random.nextInt(live.size()));
          cluster.status(n).ifPresent(s -> observe(Cluster.nodeId(n), s));
        }
        sleepQuietly(Duration.ofNanos(Math.max(0, 500_000_000L - (System.nanoTime() - started))));
      }
    }

    void stop() {
      stop.set(true);
    }

    private synchronized void observe(String seenBy, JsonNode status) {
      if (status.path("leader").isNull() || status.path("leader").asText("").isEmpty()) {
        return;
      }
      String leader = status.path("leader").asText();
      // The leader's own term: "term" is the newest this node knows, which can be above the term of
      // the leader it last heard from (it promised a newer campaign that has not won yet), and
      // pairing the two reported terms with two leaders that never shared one.
      long term = status.has("leaderTerm") ? status.path("leaderTerm").asLong() : status.path("term").asLong();
      List<String> leaders = leadersByTerm.computeIfAbsent(term, t -> new ArrayList<>());
      if (leaders.contains(leader)) {
        return;
      }
      double at = history.now() / 1e9;
      if (!leaders.isEmpty()) {
        warnings.add(String.format("term %d has more than one leader: %s, and from %.1f s %s (seen by %s)", term,
            String.join(", ", leaders), at, leader, seenBy));
      }
      leaders.add(leader);
      timeline.add(new LeaderChange(at, leader, term, seenBy));
    }

    synchronized LeaderSummary summary() {
      return new LeaderSummary(Math.max(0, timeline.size() - 1), List.copyOf(leadersByTerm.keySet()),
          List.copyOf(timeline), List.copyOf(warnings));
    }
  }

  /**
   * The leader most live nodes report (on a tie, the one with the higher term): after a split
   * into two clusters, the majority's.
   */
  static Optional<String> leaderOf(Cluster<NetworkNamespaces> cluster) {
    Map<String, Integer> votes = new HashMap<>();
    Map<String, Long> terms = new HashMap<>();
    for (int n = 0; n < Cluster.NODES; n++) {
      if (!cluster.isLive(n)) {
        continue;
      }
      Optional<JsonNode> s = cluster.status(n);
      if (s.isPresent() && !s.get().path("leader").isNull() && !s.get().path("leader").asText("").isEmpty()) {
        String leader = s.get().path("leader").asText();
        votes.merge(leader, 1, Integer::sum);
        terms.merge(leader, s.get().path("term").asLong(), Math::max);
      }
    }
    return votes.keySet().stream()
        .max(Comparator.<String>comparingInt(votes::get).thenComparingLong(terms::get));
  }

  // --- checks ---

  /**
   * Acknowledged writes the final state does not account for. An OK write W is lost when the
   * key's final value is not W's and either (a) no other write that may have taken effect (not
   * FAIL) completed after W was invoked, so nothing could have overwritten W; or (b) W was
   * acknowledged at a log index above the final value's, while replicas apply the log in order.
   * Writes are never deletes here, so an absent final value counts as version 0.
   */
  static List<LostWrite> lostWrites(List<Operation> ops, List<FinalValue> finals, Map<Long, Long> writeVersions) {
    Map<String, FinalValue> byKey = finals.stream().collect(Collectors.toMap(FinalValue::key, f -> f));
    List<LostWrite> lost = new ArrayList<>();
    Map<String, List<Operation>> writesByKey = ops.stream()
        .filter(op -> op.type() != Operation.Type.READ && op.outcome() != Operation.Outcome.FAIL)
        .collect(Collectors.groupingBy(Operation::key, TreeMap::new, Collectors.toList()));
    writesByKey.forEach((key, writes) -> {
      FinalValue fin = byKey.get(key);
      if (fin == null) {
        return; // no final read: reported as a final read failure
      }
      long finalVersion = fin.value() == null ? 0 : fin.version() == null ? Long.MAX_VALUE : fin.version();
      for (Operation w : writes) {
        if (w.outcome() != Operation.Outcome.OK || java.util.Objects.equals(w.value(), fin.value())) {
          continue;
        }
        List<String> why = new ArrayList<>();
        boolean overwritable = writes.stream().anyMatch(other -> other != w && other.completedAt() > w.invokedAt());
        if (!overwritable) {
          why.add("no other write to " + key + " could have come after it, yet the final value is "
              + Operation.quoted(fin.value()));
        }
        Long v = writeVersions.get(w.id());
        if (v != null && v > finalVersion) {
          why.add("acknowledged at version " + v + ", above the final value's version "
              + (fin.value() == null ? "(absent)" : fin.version()));
        }
        if (!why.isEmpty()) {
          lost.add(new LostWrite(key, w.value(), w.id(), v, String.join("; ", why)));
        }
      }
    });
    return lost;
  }

  /**
   * The longest stretch of [start, end] without an OK write completing, counting only stretches in
   * which some write was invoked (clients were trying).
   */
  static Unavailability longestWriteUnavailability(List<Operation> ops, long start, long end, List<Fault> faults) {
    List<Long> oks = new ArrayList<>();
    oks.add(start);
    ops.stream().filter(op -> op.type() == Operation.Type.WRITE && op.outcome() == Operation.Outcome.OK)
        .map(Operation::completedAt).filter(t -> t >= start && t <= end).sorted().forEach(oks::add);
    oks.add(end);
    List<Long> invocations = ops.stream().filter(op -> op.type() == Operation.Type.WRITE)
        .map(Operation::invokedAt).sorted().toList();
    long bestFrom = start;
    long bestTo = start;
    for (int i = 0; i + 1 < oks.size(); i++) {
      long a = oks.get(i);
      long b = oks.get(i + 1);
      if (b - a > bestTo - bestFrom && invocations.stream().anyMatch(t -> t >= a && t < b)) {
        bestFrom = a;
        bestTo = b;
      }
    }
    double from = bestFrom / 1e9;
    double to = bestTo / 1e9;
    List<String> during = faults.stream().filter(f -> f.start() < to && f.end() > from)
        .map(f -> f.countKey() + " " + f.nodes() + String.format(" %.1f-%.1f s", f.start(), f.end())).toList();
    return new Unavailability((bestTo - bestFrom) / 1e9, from, to, during);
  }

  /** FAIL and INFO errors by kind (digits masked), most frequent first. */
  static Map<String, Long> topErrors(List<Operation> ops, int limit) {
    Map<String, Long> counts = ops.stream().filter(op -> op.outcome() != Operation.Outcome.OK)
        .map(op -> op.type().name().toLowerCase() + " " + op.outcome() + ": "
            + (op.error() == null ? "(no answer)" : op.error().replaceAll("\\d+", "N")))
        .map(s -> s.length() > 160 ? s.substring(0, 160) + "..." : s)
        .collect(Collectors.groupingBy(s -> s, Collectors.counting()));
    Map<String, Long> top = new LinkedHashMap<>();
    counts.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue().reversed()).limit(limit)
        .forEach(e -> top.put(e.getKey(), e.getValue()));
    return top;
  }

  // --- helpers ---

  private static Thread daemon(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    t.start();
    return t;
  }

  private static void sleepQuietly(Duration d) {
    try {
      Thread.sleep(Math.max(0, d.toMillis()), (int) (d.toNanos() % 1_000_000));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }

  private static double seconds(Duration d) {
    return d.toMillis() / 1000.0;
  }
}
