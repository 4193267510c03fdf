package quorumkv.tools;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpServer;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import javax.imageio.ImageIO;
import org.junit.BeforeClass;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;
import picocli.CommandLine.ParameterException;
import quorumkv.tools.QuorumAnalysis.DelayRange;
import quorumkv.tools.QuorumAnalysis.QuorumRun;
import quorumkv.tools.QuorumAnalysis.Sweep;

public class QuorumAnalysisTest {

  private static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  private static final int FOLLOWERS = 5;

  @Rule
  public TemporaryFolder folder = new TemporaryFolder();

  @BeforeClass
  public static void headless() {
    System.setProperty("java.awt.headless", "true");
  }

  @Test
  public void expectedWthFastestOfFiveUniformDelaysIsMinPlusSpreadTimesWOverSix() {
    DelayRange delay = new DelayRange(0.1, 10, "test");

    assertEquals(0.1 + 9.9 * 1 / 6, delay.expectedWthFastestMs(1, FOLLOWERS), 1e-12);
    assertEquals(1.75, delay.expectedWthFastestMs(1, FOLLOWERS), 1e-12);
    assertEquals(5.05, delay.expectedWthFastestMs(3, FOLLOWERS), 1e-12);
    assertEquals(8.35, delay.expectedWthFastestMs(5, FOLLOWERS), 1e-12);
    assertThrows(IllegalArgumentException.class, () -> delay.expectedWthFastestMs(0, FOLLOWERS));
    assertThrows(IllegalArgumentException.class, () -> delay.expectedWthFastestMs(6, FOLLOWERS));
  }

  @Test
  public void expectedWthFastestMatchesTheMeanOfSimulatedOrderStatistics() {
    DelayRange delay = new DelayRange(0.1, 10, "test");
    Random random = new Random(7);
    int trials = 200_000;
    double[] sums = new double[FOLLOWERS];
    double[] acks = new double[FOLLOWERS];
    for (int trial = 0; trial < trials; trial++) {
      for (int follower = 0; follower < FOLLOWERS; follower++) {
        acks[follower] = 0.1 + random.nextDouble() * 9.9;
      }
      Arrays.sort(acks);
      for (int w = 1; w <= FOLLOWERS; w++) {
        sums[w - 1] += acks[w - 1];
      }
    }
    for (int w = 1; w <= FOLLOWERS; w++) {
      assertEquals("W=" + w, delay.expectedWthFastestMs(w, FOLLOWERS), sums[w - 1] / trials, 0.02);
    }
  }

  @Test
  public void delayParsesLikeKvUp() {
    assertEquals(new DelayRange(0.1, 10, "x"), DelayRange.parse("0.1ms..10ms", "x"));
    assertEquals(new DelayRange(0.1, 10, "x"), DelayRange.parse("0.1..10", "x"));
    assertEquals(new DelayRange(0.5, 2000, "x"), DelayRange.parse("500us..2s", "x"));
    assertEquals(new DelayRange(5, 5, "x"), DelayRange.parse("5ms", "x"));
    assertFalse(DelayRange.parse("off", "x").injected());
    assertFalse(DelayRange.parse("0ms..0ms", "x").injected());
    assertThrows(IllegalArgumentException.class, () -> DelayRange.parse("10ms..1ms", "x"));
    assertThrows(IllegalArgumentException.class, () -> DelayRange.parse("fast", "x"));
  }

  @Test
  public void theClusterReportedDelayWinsOverTheOption() {
    Optional<DelayRange> status = Optional.of(new DelayRange(1, 2, "/status"));
    Optional<DelayRange> option = Optional.of(new DelayRange(0.1, 10, "--delay"));

    assertEquals(status, QuorumAnalysis.chooseDelay(status, option));
    assertEquals(option, QuorumAnalysis.chooseDelay(Optional.empty(), option));
    assertEquals(Optional.empty(), QuorumAnalysis.chooseDelay(Optional.empty(), Optional.empty()));
  }

  @Test
  public void optionsAreWriteBenchsExceptWhichAnalysisChoosesItself() {
    QuorumAnalysis analysis = parse("--nodes", "127.0.0.1:9700,127.0.0.1:9701", "--writes", "2000", "--clients=8",
        "--delay", "0.1ms..10ms", "--out", "/tmp/x");

    assertEquals(List.of(URI.create("http://127.0.0.1:9700"), URI.create("http://127.0.0.1:9701")),
        analysis.benchOptions().nodes());
    assertEquals(2000, analysis.benchOptions().requests());
    assertEquals(8, analysis.benchOptions().clients());
    assertEquals(OptionalInt.empty(), analysis.benchOptions().writeQuorum());
    assertEquals(Optional.of(new DelayRange(0.1, 10, "--delay")), analysis.delay);
    assertEquals(Optional.of(Path.of("/tmp/x")), analysis.out);
    assertEquals(1000, analysis.warmupWrites());
    assertEquals(200, parse("--writes", "200").warmupWrites());
    assertEquals(0, parse("--warmup", "0").warmupWrites());
  }

  @Test
  public void withoutOptionsTheAnalysisSweepsTheLocalClusterWithBenchDefaults() {
    QuorumAnalysis analysis = parse();

    assertEquals(WriteBench.Options.defaults(), analysis.benchOptions());
    assertEquals(Optional.empty(), analysis.delay);
    assertEquals(Optional.empty(), analysis.out);
  }

  @Test
  public void benchOnlyOptionsAndBadValuesAreUsageErrors() {
    ParameterException w = assertThrows(ParameterException.class, () -> parse("--w", "3"));
    assertTrue(w.getMessage(), w.getMessage().contains("sweeps W"));
    assertThrows(ParameterException.class, () -> parse("--json", "f"));
    assertThrows(ParameterException.class, () -> parse("--mode", "read"));
    assertThrows(ParameterException.class, () -> parse("--warmup", "-1").warmupWrites());
    assertThrows(ParameterException.class, () -> parse("--warmup", "many"));
    assertThrows(ParameterException.class, () -> parse("--clients", "0").benchOptions());
    ParameterException delay = assertThrows(ParameterException.class, () -> parse("--delay", "10ms..1ms"));
    assertTrue(delay.getMessage(), delay.getMessage().contains("--delay"));
  }

  @Test
  public void badUsageExitsWithStatusTwoAndHelpWithZero() {
    StringWriter err = new StringWriter();
    StringWriter out = new StringWriter();

    int bad = ToolCommandLine.of(new QuorumAnalysis()).setErr(new PrintWriter(err)).execute("--warmup", "-1");
    int help = ToolCommandLine.of(new QuorumAnalysis()).setOut(new PrintWriter(out)).execute("--help");

    assertEquals(2, bad);
    assertTrue(err.toString(), err.toString().contains("--warmup must be at least 0, got -1"));
    assertEquals(0, help);
    assertTrue(out.toString(), out.toString().contains("--delay=MIN..MAX"));
  }

  @Test
  public void aStatusWithoutFollowersIsRefusedRatherThanGuessed() {
    ObjectNode status = JsonNodeFactory.instance.objectNode().put("node", "node0").put("writeQuorum", 2);

    assertThrows(IllegalArgumentException.class, () -> QuorumAnalysis.ClusterStatus.of(status));
    assertThrows(IllegalArgumentException.class, () -> QuorumAnalysis.ClusterStatus.of(status.put("followers", 0)));
    QuorumAnalysis.ClusterStatus cluster = QuorumAnalysis.ClusterStatus.of(
        status.put("followers", 3).put("minDelay", 0.5).put("maxDelay", 4.0));
    assertEquals(3, cluster.followers());
    assertEquals(OptionalInt.of(2), cluster.writeQuorum());
    assertEquals(Optional.of(new DelayRange(0.5, 4, "/status")), cluster.delay());
  }

  private static QuorumAnalysis parse(String... args) {
    QuorumAnalysis analysis = new QuorumAnalysis();
    ToolCommandLine.of(analysis).parseArgs(args);
    return analysis;
  }

  @Test
  public void histogramBinsHaveARoundWidthAndCountWhatLiesAboveApart() {
    assertEquals(0.5, AnalysisPlots.HistogramBins.niceWidth(0.41), 1e-12);
    assertEquals(2.5, AnalysisPlots.HistogramBins.niceWidth(2.1), 1e-12);
    assertEquals(1.0, AnalysisPlots.HistogramBins.niceWidth(1.0), 1e-12);

    AnalysisPlots.HistogramBins bins = AnalysisPlots.HistogramBins.covering(29);
    assertEquals(0.5, bins.binWidthMs(), 1e-12);
    assertEquals(29.0, bins.upperMs(), 1e-12);
    assertEquals(58, bins.binCount());

    AnalysisPlots.HistogramBins.Counts counts = bins.count(new double[] {0.1, 0.49, 0.5, 28.99, 29, 100});
    assertEquals(2, counts.perBin()[0]);
    assertEquals(1, counts.perBin()[1]);
    assertEquals(1, counts.perBin()[57]);
    assertEquals(2, counts.above());
    assertEquals(6, counts.total());
  }

  @Test
  public void plotsOfASyntheticSweepAreWrittenAsReadablePngs() throws IOException {
    Path dir = folder.newFolder("with-delay").toPath();

    List<Path> written = AnalysisPlots.writeAll(syntheticSweep(Optional.of(new DelayRange(0.1, 10, "--delay")), -1), dir);

    assertEquals(4, written.size());
    for (Path png : written) {
      assertPng(png);
    }
  }

  @Test
  public void aWWithoutAnySuccessfulWriteIsPlottedAsAGapNotAsZeroLatency() throws IOException {
    Path dir = folder.newFolder("failed-w").toPath();
    Sweep sweep = syntheticSweep(Optional.empty(), 5);

    List<Path> written = AnalysisPlots.writeAll(sweep, dir);

    written.forEach(QuorumAnalysisTest::assertPng);
    List<Double> p50 = AnalysisPlots.latencyChart(sweep).getSeriesMap().get("p50 (median)").getYData()
        .stream().map(n -> n == null ? null : n.doubleValue()).toList();
    assertEquals(null, p50.get(4));
    assertEquals("p50, p95, p99 and no expected line without a delay",
        List.of("p50 (median)", "p95", "p99"), List.copyOf(AnalysisPlots.latencyChart(sweep).getSeriesMap().keySet()));
    String table = QuorumAnalysis.summaryTable(sweep);
    assertTrue(table, table.lines().anyMatch(line -> line.matches("\\s*5\\s+-\\s+-\\s+-\\s+-\\s+0\\.0\\s+0\\.00")));
  }

  @Test
  public void summaryTableHasOneRowPerWWithTheExpectedDelay() {
    String table = QuorumAnalysis.summaryTable(syntheticSweep(Optional.of(new DelayRange(0.1, 10, "--delay")), -1));

    List<String> lines = table.lines().toList();
    assertTrue(lines.get(0), lines.get(0).contains("expected ms"));
    assertTrue(lines.get(1), lines.get(1).trim().startsWith("1 "));
    assertTrue(lines.get(1), lines.get(1).contains("1.75"));
    assertTrue(lines.get(5), lines.get(5).contains("8.35"));
    assertTrue(lines.get(6), lines.get(6).startsWith("expected: the W-th fastest of 5 uniform"));
  }

  @Test
  public void jsonHasEveryWWithItsHistogram() {
    Sweep sweep = syntheticSweep(Optional.of(new DelayRange(0.1, 10, "--delay")), -1);
    QuorumAnalysis.ClusterStatus cluster =
        new QuorumAnalysis.ClusterStatus("node0", "node0", FOLLOWERS, OptionalInt.of(3), Optional.empty());

    Map<String, Object> json = QuorumAnalysis.jsonFields(sweep, cluster, URI.create("http://127.0.0.1:9700"), 0);

    List<?> runs = (List<?>) json.get("runs");
    assertEquals(FOLLOWERS, runs.size());
    Map<?, ?> first = (Map<?, ?>) runs.get(0);
    assertEquals(1, first.get("w"));
    assertEquals(1.75, (Double) first.get("expectedInjectedDelayMs"), 1e-9);
    Map<?, ?> histogram = (Map<?, ?>) first.get("latencyHistogram");
    long[] counts = (long[]) histogram.get("counts");
    assertEquals(1000, Arrays.stream(counts).sum() + (Long) histogram.get("aboveUpperMs"));
  }

  @Test
  public void writeBenchRecordsEverySuccessfulWritesLatencyIntoTheGivenRecorder() throws IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    AtomicInteger served = new AtomicInteger();
    server.createContext("/kv/", exchange -> {
      exchange.getRequestBody().readAllBytes();
      // Every third write misses its quorum, as a node would answer it.
      int status = served.incrementAndGet() % 3 == 0 ? 503 : 200;
      exchange.sendResponseHeaders(status, -1);
      exchange.close();
    });
    server.start();
    try {
      URI node = URI.create("http://127.0.0.1:" + server.getAddress().getPort());
      WriteBench.Options options = new WriteBench.Options(List.of(node), WriteBench.Mode.WRITE, 90, 3,
          OptionalInt.of(2), 10, 10, Duration.ofSeconds(5), false);
      LatencyRecorder latencies = new LatencyRecorder();

      WriteBench.Result result = WriteBench.run(options, latencies);

      assertEquals(60, result.successes());
      assertEquals(30, result.errors());
      assertEquals(60, latencies.samplesMillis().length);
      assertEquals(result.latency(), latencies.summarize());
      assertTrue(Arrays.stream(latencies.samplesMillis()).allMatch(ms -> ms > 0 && ms < 5000));
    } finally {
      server.stop(0);
    }
  }

  /**
   * Five runs of 1,000 writes whose latency grows with W like the order statistic plus 2 ms of
   * overhead; at {@code failingW} every write failed (503), and one W has a few failures.
   */
  private static Sweep syntheticSweep(Optional<DelayRange> delay, int failingW) {
    WriteBench.Options options = new WriteBench.Options(List.of(URI.create("http://127.0.0.1:9700")),
        WriteBench.Mode.WRITE, 1000, 20, OptionalInt.empty(), 100, 100, Duration.ofSeconds(10), false);
    Random random = new Random(42);
    List<QuorumRun> runs = new ArrayList<>();
    for (int w = 1; w <= FOLLOWERS; w++) {
      LatencyRecorder recorder = new LatencyRecorder(1000);
      long failures = w == failingW ? 1000 : (w == 4 ? 12 : 0);
      for (int i = 0; i < 1000 - failures; i++) {
        double[] acks = new double[FOLLOWERS];
        for (int f = 0; f < FOLLOWERS; f++) {
          acks[f] = 0.1 + random.nextDouble() * 9.9;
        }
        Arrays.sort(acks);
        double latencyMs = 2 + acks[w - 1] + (random.nextDouble() < 0.01 ? 40 : 0);
        recorder.record((long) (latencyMs * 1e6));
      }
      Map<String, Long> successes = failures == 1000 ? Map.of() : Map.of("200", 1000 - failures);
      Map<String, Long> errors = failures == 0 ? Map.of() : Map.of("503", failures);
      WriteBench.Result result = new WriteBench.Result(options.withWriteQuorum(w), successes, errors,
          Duration.ofMillis(1000 + 200L * w), recorder.summarize());
      runs.add(new QuorumRun(w, result, recorder.samplesMillis()));
    }
    return new Sweep(Instant.parse("2026-01-01T00:00:00Z"), options, FOLLOWERS, delay, runs);
  }

  private static void assertPng(Path png) {
    try {
      byte[] bytes = Files.readAllBytes(png);
      assertTrue(png + " is empty", bytes.length > PNG_SIGNATURE.length);
      assertArrayEquals(png + " does not start with the PNG signature", PNG_SIGNATURE,
          Arrays.copyOf(bytes, PNG_SIGNATURE.length));
      BufferedImage image = ImageIO.read(png.toFile());
      assertNotNull(png + " cannot be decoded", image);
      assertTrue(png + " is " + image.getWidth() + " pixels wide", image.getWidth() >= 800);
      assertTrue(png + " is " + image.getHeight() + " pixels high", image.getHeight() >= 500);
    } catch (IOException e) {
      throw new AssertionError("cannot read " + png, e);
    }
  }
}
