package quorumkv.tools;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;
import quorumkv.harness.NodeClient;

/**
 * {@code ./kv analyze}: the lab reports' quorum analysis against a running cluster. For W = 1 up to
 * the number of followers it runs the same closed-loop write benchmark ({@link WriteBench}), each
 * write asking for its quorum with {@code ?w=W}, so nothing is restarted between runs. It writes the
 * results as JSON and as PNG plots ({@link AnalysisPlots}) and prints a summary table.
 *
 * <p>With an injected replication delay uniform in [MIN, MAX], each follower's ack waits for an
 * independent uniform delay, and a write at quorum W waits for the W-th fastest of them. The
 * expected W-th smallest of n uniform samples is MIN + (MAX − MIN)·W/(n + 1); the latency plot
 * shows it beside the measured percentiles. It covers the injected delay only: what lies above it
 * is the rest of the write path (HTTP, the leader, fsyncs, queueing behind other writes).
 *
 * <p>Usage: {@code java -cp tools/target/quorumkv-tools.jar quorumkv.tools.QuorumAnalysis [options]}
 */
@Command(name = "./kv analyze", mixinStandardHelpOptions = true, versionProvider = ToolCommandLine.Version.class,
    sortOptions = false, usageHelpAutoWidth = true,
    description = {"Quorum analysis: for W = 1 up to the cluster's followers (from the first node's /status), "
        + "--writes writes at --clients clients with ?w=W; writes analysis.json and PNG plots and prints a summary table.",
        "Class: quorumkv.tools.QuorumAnalysis in tools/target/quorumkv-tools.jar."},
    footer = {"Exits 0 when the files are written, 1 when the cluster does not answer or no write succeeded at any W, "
        + "2 on bad options."})
public final class QuorumAnalysis implements Callable<Integer> {

  static final String JSON_FILE = "analysis.json";
  private static final Duration STATUS_TIMEOUT = Duration.ofSeconds(3);
  private static final Duration SETTLE_TIMEOUT = Duration.ofSeconds(10);
  private static final int MAX_DEFAULT_WARMUP = 1000;

  @Spec
  private CommandSpec spec;

  @Mixin
  LoadOptions load;

  @Option(names = "--delay", paramLabel = "MIN..MAX", converter = DelayRange.OptionConverter.class,
      description = {"The cluster's injected replication delay, e.g. 0.1ms..10ms (plain numbers are ms; 0 or off: none).",
          "Used for the expected-latency line only; /status wins when it reports the delay."})
  Optional<DelayRange> delay = Optional.empty();

  @Option(names = "--warmup", paramLabel = "N",
      description = "Writes before the sweep, not measured, so that W=1 does not pay for cold JVMs "
          + "(default: as many as --writes, at most " + MAX_DEFAULT_WARMUP + ").")
  Integer warmup;

  @Option(names = "--out", paramLabel = "DIR",
      description = "Where to write analysis.json and the PNG plots (default: analysis/<timestamp>).")
  Optional<Path> out = Optional.empty();

  /** The options of ./kv bench that the sweep chooses itself; named, so that they get a clear answer. */
  @Option(names = {"--w", "--mode", "--json"}, hidden = true)
  void benchOnlyOption(String value) {
    throw new ParameterException(spec.commandLine(), "--w, --mode and --json are not options of the analysis: "
        + "it sweeps W over writes itself and writes its JSON into --out");
  }

  /** The injected replication delay, uniform in [min, max] for every message to every follower. */
  public record DelayRange(double minMs, double maxMs, String source) {
    private static final Pattern DURATION = Pattern.compile("([0-9]+(?:\\.[0-9]+)?)\\s*(ns|us|µs|ms|s)?");

    public DelayRange {
      if (minMs < 0 || maxMs < minMs) {
        throw new IllegalArgumentException("need 0 <= MIN <= MAX, got " + minMs + " ms.." + maxMs + " ms");
      }
    }

    /** {@code --delay MIN..MAX} */
    static final class OptionConverter implements ITypeConverter<DelayRange> {
      @Override
      public DelayRange convert(String spec) {
        try {
          return parse(spec, "--delay");
        } catch (IllegalArgumentException invalid) {
          throw new TypeConversionException(invalid.getMessage());
        }
      }
    }

    /** {@code MIN..MAX}, one value for both, or {@code 0}/{@code off}; plain numbers are milliseconds. */
    public static DelayRange parse(String spec, String source) {
      String text = spec.trim().toLowerCase(Locale.ROOT);
      if (text.equals("off")) {
        text = "0";
      }
      int dots = text.indexOf("..");
      String min = dots < 0 ? text : text.substring(0, dots);
      String max = dots < 0 ? text : text.substring(dots + 2);
      try {
        return new DelayRange(millis(min), millis(max), source);
      } catch (IllegalArgumentException bad) {
        throw new IllegalArgumentException("want MIN..MAX like 0.1ms..10ms (plain numbers are ms), got '"
            + spec + "': " + bad.getMessage());
      }
    }

    static double millis(String duration) {
      Matcher m = DURATION.matcher(duration.trim());
      if (!m.matches()) {
        throw new IllegalArgumentException("not a duration: '" + duration + "'");
      }
      double value = Double.parseDouble(m.group(1));
      String unit = m.group(2) == null ? "ms" : m.group(2);
      return switch (unit) {
        case "ns" -> value / 1e6;
        case "us", "µs" -> value / 1e3;
        case "s" -> value * 1e3;
        default -> value;
      };
    }

    public boolean injected() {
      return maxMs > 0;
    }

    /**
     * The expected W-th smallest of {@code followers} independent delays uniform in [MIN, MAX]:
     * MIN + (MAX − MIN)·W/(followers + 1), the injected delay a write at quorum W waits for.
     */
    public double expectedWthFastestMs(int w, int followers) {
      if (w < 1 || w > followers) {
        throw new IllegalArgumentException("W must be within 1.." + followers + ", got " + w);
      }
      return minMs + (maxMs - minMs) * w / (followers + 1);
    }

    public String label() {
      return format(minMs) + "–" + format(maxMs) + " ms";
    }

    private static String format(double ms) {
      return ms == Math.rint(ms) ? String.valueOf((long) ms) : String.valueOf(ms);
    }
  }

  /** One W of the sweep: the benchmark's result and the latency of every successful write. */
  public record QuorumRun(int w, WriteBench.Result result, double[] latenciesMs) {
    public double successRatePercent() {
      int requests = result.options().requests();
      return requests == 0 ? 0 : 100.0 * result.successes() / requests;
    }
  }

  /** The whole sweep. {@code followers} is n in the order statistic; {@code delay} is empty when unknown. */
  public record Sweep(Instant started, WriteBench.Options options, int followers, Optional<DelayRange> delay,
      List<QuorumRun> runs) {
    public Sweep {
      runs = List.copyOf(runs);
    }

    /** The expected injected delay at this W, when a delay is injected. */
    public Optional<Double> expectedDelayMs(int w) {
      return delay.filter(DelayRange::injected).map(d -> d.expectedWthFastestMs(w, followers));
    }
  }

  /** The benchmark's options for every W (the sweep sets W), or a usage error. */
  WriteBench.Options benchOptions() {
    return load.toOptions(WriteBench.Mode.WRITE, OptionalInt.empty());
  }

  /** The unmeasured writes before the sweep, or a usage error. */
  int warmupWrites() {
    if (warmup == null) {
      return Math.min(MAX_DEFAULT_WARMUP, load.requests);
    }
    if (warmup < 0) {
      throw new ParameterException(spec.commandLine(), "--warmup must be at least 0, got " + warmup);
    }
    return warmup;
  }

  /** What the first node's /status says about the cluster, as far as the analysis needs it. */
  record ClusterStatus(String node, String leader, int followers, OptionalInt writeQuorum, Optional<DelayRange> delay) {

    /** The cluster's shape; W runs up to {@code followers}, so a status without them is no use. */
    static ClusterStatus of(JsonNode status) {
      if (!status.path("followers").canConvertToInt()) {
        throw new IllegalArgumentException("its /status does not report followers: " + status);
      }
      int followers = status.path("followers").asInt();
      if (followers < 1) {
        throw new IllegalArgumentException("the cluster has no followers: there is no W to sweep");
      }
      OptionalInt writeQuorum = status.path("writeQuorum").canConvertToInt()
          ? OptionalInt.of(status.path("writeQuorum").asInt()) : OptionalInt.empty();
      return new ClusterStatus(status.path("node").asText("?"), status.path("leader").asText(null), followers,
          writeQuorum, delayOf(status));
    }

    /** The delay when a node reports it as minDelay/maxDelay (milliseconds, or durations like "10ms"). */
    private static Optional<DelayRange> delayOf(JsonNode status) {
      JsonNode min = status.path("minDelay");
      JsonNode max = status.path("maxDelay");
      if (min.isMissingNode() || max.isMissingNode() || min.isNull() || max.isNull()) {
        return Optional.empty();
      }
      try {
        return Optional.of(new DelayRange(
            min.isNumber() ? min.asDouble() : DelayRange.millis(min.asText()),
            max.isNumber() ? max.asDouble() : DelayRange.millis(max.asText()),
            "/status"));
      } catch (IllegalArgumentException unreadable) {
        return Optional.empty();
      }
    }
  }

  public QuorumAnalysis() {
  }

  /** {@code ./kv analyze}: run with {@code --help} for the options. */
  public static void main(String[] args) {
    // The plots are drawn off screen: no display is needed, nor wanted (e.g. over ssh).
    System.setProperty("java.awt.headless", "true");
    ToolCommandLine.exit(new QuorumAnalysis(), args);
  }

  @Override
  public Integer call() {
    WriteBench.Options options = benchOptions();
    int warmup = warmupWrites();
    NodeClient client = new NodeClient(STATUS_TIMEOUT);
    URI statusNode = options.nodes().get(0);
    NodeClient.Response status = client.statusResponse(statusNode);
    if (!status.ok()) {
      System.err.println("analyze: no status from " + statusNode + " (" + ConsistencyCheck.whyNoStatus(status)
          + "): is the cluster running? (./kv up)");
      return 1;
    }
    ClusterStatus cluster;
    try {
      cluster = ClusterStatus.of(status.body());
    } catch (IllegalArgumentException unusable) {
      System.err.println("analyze: " + statusNode + ": " + unusable.getMessage());
      return 1;
    }
    Optional<DelayRange> delay = chooseDelay(cluster.delay(), this.delay);
    Path out = this.out.orElse(Path.of("analysis",
        LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss", Locale.ROOT))));
    try {
      Files.createDirectories(out); // before the sweep, not after minutes of it
    } catch (IOException e) {
      System.err.println("analyze: cannot create " + out + ": " + e);
      return 1;
    }

    System.err.printf(Locale.ROOT, "quorum analysis: W = 1..%d, %d writes per W at %d clients over %d nodes "
            + "(%d keys, %d B values); leader %s; injected delay %s%n",
        cluster.followers(), options.requests(), options.clients(), options.nodes().size(), options.keys(),
        options.valueSizeBytes(), cluster.leader() == null ? "unknown" : cluster.leader(),
        delay.map(d -> d.injected() ? d.label() + " (from " + d.source() + ")" : "none (from " + d.source() + ")")
            .orElse("unknown (--delay MIN..MAX draws the expected line)"));

    Instant started = Instant.now();
    if (warmup > 0) {
      System.err.printf(Locale.ROOT, "warm-up: %d writes at the server's W, not measured%n", warmup);
      WriteBench.run(new WriteBench.Options(options.nodes(), WriteBench.Mode.WRITE, warmup, options.clients(),
          OptionalInt.empty(), options.keys(), options.valueSizeBytes(), options.requestTimeout(), false));
    }
    List<QuorumRun> runs = new ArrayList<>();
    for (int w = 1; w <= cluster.followers(); w++) {
      settle(client, options.nodes());
      System.err.printf(Locale.ROOT, "W=%d of 1..%d: %d writes%n", w, cluster.followers(), options.requests());
      LatencyRecorder latencies = new LatencyRecorder(options.requests());
      WriteBench.Result result = WriteBench.run(options.withWriteQuorum(w), latencies);
      runs.add(new QuorumRun(w, result, latencies.samplesMillis()));
      if (result.errors() > 0) {
        System.err.printf(Locale.ROOT, "  W=%d: %d of %d writes failed (%s)%n", w, result.errors(),
            options.requests(), result.errorsByStatus());
      }
    }
    Sweep sweep = new Sweep(started, options, cluster.followers(), delay, runs);

    List<Path> written = new ArrayList<>();
    try {
      Path json = out.resolve(JSON_FILE);
      Files.writeString(json, new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
          .writeValueAsString(jsonFields(sweep, cluster, statusNode, warmup)) + "\n");
      written.add(json);
      written.addAll(AnalysisPlots.writeAll(sweep, out));
    } catch (IOException e) {
      System.err.println("analyze: cannot write to " + out + ": " + e.getMessage());
      return 1;
    }
    System.out.print(summaryTable(sweep));
    System.out.println();
    System.out.println("written:");
    written.forEach(path -> System.out.println("  " + path));
    return runs.stream().anyMatch(run -> run.result().successes() > 0) ? 0 : 1;
  }

  /** What the cluster reports wins over the command line, which may be out of date. */
  static Optional<DelayRange> chooseDelay(Optional<DelayRange> fromStatus, Optional<DelayRange> fromOption) {
    if (fromStatus.isPresent() && fromOption.isPresent()
        && (fromStatus.get().minMs() != fromOption.get().minMs() || fromStatus.get().maxMs() != fromOption.get().maxMs())) {
      System.err.println("note: the cluster reports an injected delay of " + fromStatus.get().label()
          + ", not the " + fromOption.get().label() + " of --delay: using the cluster's");
    }
    return fromStatus.isPresent() ? fromStatus : fromOption;
  }

  /**
   * Waits (a few seconds at most) until every replica that answers has applied what the leader has,
   * so that one W's run does not inherit the replication backlog of the one before.
   */
  private static void settle(NodeClient client, List<URI> nodes) {
    long deadline = System.nanoTime() + SETTLE_TIMEOUT.toNanos();
    while (System.nanoTime() < deadline) {
      List<ConsistencyCheck.Replica> replicas = nodes.stream()
          .map(node -> ConsistencyCheck.fetch(client, node))
          .filter(ConsistencyCheck.Replica::up)
          .toList();
      if (ConsistencyCheck.leaderOf(replicas) == null || ConsistencyCheck.allConsistent(replicas)) {
        return; // caught up, or no leader among these nodes to compare with
      }
      try {
        Thread.sleep(100); // a command-line tool polling between runs, not a request path
      } catch (InterruptedException interrupted) {
        Thread.currentThread().interrupt();
        return;
      }
    }
    System.err.println("note: the replicas did not all catch up with the leader within "
        + SETTLE_TIMEOUT.toSeconds() + " s; measuring anyway");
  }

  static Map<String, Object> jsonFields(Sweep sweep, ClusterStatus cluster, URI statusNode, int warmup) {
    WriteBench.Options options = sweep.options();
    Map<String, Object> settings = new LinkedHashMap<>();
    settings.put("writesPerW", options.requests());
    settings.put("clients", options.clients());
    settings.put("keys", options.keys());
    settings.put("valueSizeBytes", options.valueSizeBytes());
    settings.put("timeoutMs", options.requestTimeout().toMillis());
    settings.put("warmupWrites", warmup);
    settings.put("nodes", options.nodes().stream().map(URI::toString).toList());

    Map<String, Object> clusterFields = new LinkedHashMap<>();
    clusterFields.put("statusFrom", statusNode.toString());
    clusterFields.put("leader", cluster.leader());
    clusterFields.put("followers", cluster.followers());
    clusterFields.put("serverWriteQuorum", cluster.writeQuorum().isPresent() ? cluster.writeQuorum().getAsInt() : null);

    Map<String, Object> delay = null;
    if (sweep.delay().isPresent()) {
      delay = new LinkedHashMap<>();
      delay.put("minMs", sweep.delay().get().minMs());
      delay.put("maxMs", sweep.delay().get().maxMs());
      delay.put("source", sweep.delay().get().source());
    }

    AnalysisPlots.HistogramBins bins = AnalysisPlots.HistogramBins.forSweep(sweep);
    List<Map<String, Object>> runs = new ArrayList<>();
    for (QuorumRun run : sweep.runs()) {
      Map<String, Object> fields = new LinkedHashMap<>();
      fields.put("w", run.w());
      fields.put("successRatePercent", round(run.successRatePercent(), 2));
      fields.put("expectedInjectedDelayMs", sweep.expectedDelayMs(run.w()).map(ms -> round(ms, 3)).orElse(null));
      fields.put("result", run.result().jsonFields());
      AnalysisPlots.HistogramBins.Counts counts = bins.count(run.latenciesMs());
      Map<String, Object> histogram = new LinkedHashMap<>();
      histogram.put("counts", counts.perBin());
      histogram.put("aboveUpperMs", counts.above());
      fields.put("latencyHistogram", histogram);
      runs.add(fields);
    }

    Map<String, Object> histogram = new LinkedHashMap<>();
    histogram.put("binWidthMs", bins.binWidthMs());
    histogram.put("upperMs", bins.upperMs());
    histogram.put("note", "bin i counts successful writes with latency in [i*binWidthMs, (i+1)*binWidthMs)");

    Map<String, Object> json = new LinkedHashMap<>();
    json.put("started", sweep.started().toString());
    json.put("settings", settings);
    json.put("cluster", clusterFields);
    json.put("injectedDelay", delay);
    json.put("expectedInjectedDelay", "MIN + (MAX - MIN) * W / (followers + 1): the expected W-th fastest of "
        + sweep.followers() + " uniform delays");
    json.put("latencyHistogram", histogram);
    json.put("runs", runs);
    return json;
  }

  /** The table printed at the end: one line per W. */
  static String summaryTable(Sweep sweep) {
    StringBuilder table = new StringBuilder();
    table.append(String.format(Locale.ROOT, "%3s  %9s  %9s  %9s  %11s  %14s  %9s%n",
        "W", "p50 ms", "p95 ms", "p99 ms", "expected ms", "throughput w/s", "success %"));
    for (QuorumRun run : sweep.runs()) {
      LatencyRecorder.Summary latency = run.result().latency();
      boolean measured = latency.count() > 0;
      table.append(String.format(Locale.ROOT, "%3d  %9s  %9s  %9s  %11s  %14.1f  %9.2f%n",
          run.w(),
          measured ? String.format(Locale.ROOT, "%.2f", latency.p50Ms()) : "-",
          measured ? String.format(Locale.ROOT, "%.2f", latency.p95Ms()) : "-",
          measured ? String.format(Locale.ROOT, "%.2f", latency.p99Ms()) : "-",
          sweep.expectedDelayMs(run.w()).map(ms -> String.format(Locale.ROOT, "%.2f", ms)).orElse("-"),
          run.result().throughputPerSecond(),
          run.successRatePercent()));
    }
    if (sweep.expectedDelayMs(1).isPresent()) {
      table.append(String.format(Locale.ROOT,
          "expected: the W-th fastest of %d uniform %s delays, MIN + (MAX - MIN)*W/%d (the injected delay alone)%n",
          sweep.followers(), sweep.delay().get().label(), sweep.followers() + 1));
    }
    return table.toString();
  }

  private static double round(double value, int decimals) {
    double scale = Math.pow(10, decimals);
    return Math.round(value * scale) / scale;
  }
}
