package quorumkv.tools;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.CategorySeries;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.AxesChartStyler;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.markers.Marker;
import org.knowm.xchart.style.markers.SeriesMarkers;
import quorumkv.tools.QuorumAnalysis.QuorumRun;
import quorumkv.tools.QuorumAnalysis.Sweep;

/**
 * The quorum analysis as PNG plots (XChart): latency percentiles, throughput and success rate
 * against W, and the latency distribution of each W. Each plot says in its title and axis titles
 * what was measured and how, so that it reads on its own, away from the JSON and the code.
 */
public final class AnalysisPlots {

  public static final String LATENCY_FILE = "latency-vs-w.png";
  public static final String THROUGHPUT_FILE = "throughput-vs-w.png";
  public static final String HISTOGRAM_FILE = "latency-histograms.png";
  public static final String SUCCESS_RATE_FILE = "success-rate-vs-w.png";

  private static final int WIDTH = 1100;
  private static final int HEIGHT = 620;
  private static final int TARGET_BINS = 60;
  private static final String W_AXIS_TITLE =
      "write quorum W (follower acks awaited besides the leader's own durable write; sent as ?w=W)";

  // Colour-blind-safe (Okabe-Ito); one colour per W in the histograms, in W order.
  private static final Color BLUE = new Color(0, 114, 178);
  private static final Color ORANGE = new Color(230, 159, 0);
  private static final Color GREEN = new Color(0, 158, 115);
  private static final Color VERMILION = new Color(213, 94, 0);
  private static final Color REDDISH_PURPLE = new Color(204, 121, 167);
  private static final Color SKY = new Color(86, 180, 233);
  private static final Color GREY = new Color(90, 90, 90);
  private static final Color[] PER_W = {BLUE, ORANGE, GREEN, VERMILION, REDDISH_PURPLE, SKY};

  /**
   * Common bins for every W's latency histogram: {@code [0, upperMs)} cut into bins of
   * {@code binWidthMs}. The range ends a little above the largest p99, so the slow tail of one W
   * does not squeeze all the others into a few bins; what lies above is counted apart.
   */
  public record HistogramBins(double binWidthMs, double upperMs) {

    public record Counts(long[] perBin, long above) {
      public long total() {
        long total = above;
        for (long count : perBin) {
          total += count;
        }
        return total;
      }
    }

    public static HistogramBins forSweep(Sweep sweep) {
      double largestP99 = sweep.runs().stream()
          .filter(run -> run.result().latency().count() > 0)
          .mapToDouble(run -> run.result().latency().p99Ms())
          .max().orElse(1.0);
      return covering(Math.max(largestP99 * 1.1, 0.01));
    }

    /** Bins of a round width (1, 2, 2.5 or 5 times a power of ten) that cover [0, upperMs]. */
    static HistogramBins covering(double upperMs) {
      double width = niceWidth(upperMs / TARGET_BINS);
      return new HistogramBins(width, Math.ceil(upperMs / width - 1e-9) * width);
    }

    static double niceWidth(double atLeast) {
      double power = Math.pow(10, Math.floor(Math.log10(atLeast)));
      for (double multiple : new double[] {1, 2, 2.5, 5, 10}) {
        if (multiple * power >= atLeast * (1 - 1e-9)) {
          return multiple * power;
        }
      }
      return 10 * power;
    }

    public int binCount() {
      return (int) Math.round(upperMs / binWidthMs);
    }

    public Counts count(double[] samplesMs) {
      long[] perBin = new long[binCount()];
      long above = 0;
      for (double sample : samplesMs) {
        int bin = (int) Math.floor(sample / binWidthMs);
        if (bin >= perBin.length) {
          above++;
        } else {
          perBin[Math.max(bin, 0)]++;
        }
      }
      return new Counts(perBin, above);
    }

    public double centreMs(int bin) {
      return (bin + 0.5) * binWidthMs;
    }
  }

  private AnalysisPlots() {
  }

  /** Writes the four plots into {@code dir} and returns their paths. */
  public static List<Path> writeAll(Sweep sweep, Path dir) throws IOException {
    List<Path> written = new ArrayList<>();
    written.add(writePng(latencyChart(sweep), dir.resolve(LATENCY_FILE)));
    written.add(writePng(throughputChart(sweep), dir.resolve(THROUGHPUT_FILE)));
    written.add(writePng(histogramChart(sweep), dir.resolve(HISTOGRAM_FILE)));
    written.add(writePng(successRateChart(sweep), dir.resolve(SUCCESS_RATE_FILE)));
    return written;
  }

  static Path writePng(Chart<?, ?> chart, Path file) throws IOException {
    try (OutputStream out = Files.newOutputStream(file)) {
      BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG);
    }
    return file;
  }

  /** p50/p95/p99 against W, and the expected injected delay at each W when there is one. */
  static CategoryChart latencyChart(Sweep sweep) {
    CategoryChart chart = new CategoryChartBuilder().width(WIDTH).height(HEIGHT)
        .title("Write latency vs write quorum W: " + runDescription(sweep))
        .xAxisTitle(W_AXIS_TITLE)
        .build();
    style(chart.getStyler());
    chart.getStyler().setDefaultSeriesRenderStyle(CategorySeries.CategorySeriesRenderStyle.Line);
    // Otherwise each series sits at its own offset within a category, like grouped bars.
    chart.getStyler().setOverlapped(true);
    chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
    chart.getStyler().setLegendLayout(Styler.LegendLayout.Horizontal);

    List<String> ws = wLabels(sweep);
    List<Double> p50 = percentile(sweep, 50);
    List<Double> p95 = percentile(sweep, 95);
    List<Double> p99 = percentile(sweep, 99);
    List<Double> expected = sweep.runs().stream().map(run -> sweep.expectedDelayMs(run.w()).orElse(null)).toList();
    List<Double> plotted = new ArrayList<>();
    for (List<Double> values : List.of(p50, p95, p99, expected)) {
      values.stream().filter(value -> value != null && value > 0).forEach(plotted::add);
    }
    boolean logarithmic = needsLogScale(plotted);
    chart.setYAxisTitle("write latency at the client (ms), successful writes"
        + (logarithmic ? "; log scale" : ""));
    if (logarithmic) {
      chart.getStyler().setYAxisLogarithmic(true);
      chart.getStyler().setYAxisLogarithmicDecadeOnly(false);
    } else {
      chart.getStyler().setYAxisMin(0.0);
    }

    addLine(chart, "p50 (median)", ws, p50, BLUE, SeriesMarkers.CIRCLE, SeriesLines.SOLID);
    addLine(chart, "p95", ws, p95, ORANGE, SeriesMarkers.DIAMOND, SeriesLines.SOLID);
    addLine(chart, "p99", ws, p99, VERMILION, SeriesMarkers.SQUARE, SeriesLines.SOLID);
    if (sweep.expectedDelayMs(1).isPresent()) {
      addLine(chart, String.format(Locale.ROOT,
              "expected W-th fastest of %d uniform %s delays, MIN+(MAX−MIN)·W/%d: the injected delay alone",
              sweep.followers(), sweep.delay().get().label(), sweep.followers() + 1),
          ws, expected, GREY, SeriesMarkers.NONE, SeriesLines.DASH_DASH);
    }
    return chart;
  }

  /** Successful writes per second against W. */
  static CategoryChart throughputChart(Sweep sweep) {
    CategoryChart chart = new CategoryChartBuilder().width(WIDTH).height(HEIGHT)
        .title("Write throughput vs write quorum W: " + runDescription(sweep))
        .xAxisTitle(W_AXIS_TITLE)
        .yAxisTitle("throughput (successful writes/s)")
        .build();
    style(chart.getStyler());
    chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
    chart.getStyler().setYAxisMin(0.0);
    barLabels(chart);
    chart.getStyler().setYAxisDecimalPattern("#,##0");
    List<Double> throughput = sweep.runs().stream().map(run -> run.result().throughputPerSecond()).toList();
    chart.getStyler().setYAxisMax(headroom(throughput.stream().mapToDouble(Double::doubleValue).max().orElse(0)));
    chart.addSeries("successful writes per second, closed loop of "
            + sweep.options().clients() + " clients (each sends its next write when its last is answered)",
        wLabels(sweep), throughput).setFillColor(BLUE);
    return chart;
  }

  /** The share of writes that succeeded (HTTP 200) at each W. */
  static CategoryChart successRateChart(Sweep sweep) {
    CategoryChart chart = new CategoryChartBuilder().width(WIDTH).height(HEIGHT)
        .title("Write success rate vs write quorum W: " + runDescription(sweep))
        .xAxisTitle(W_AXIS_TITLE)
        .yAxisTitle("successful writes (% of " + String.format(Locale.ROOT, "%,d", sweep.options().requests())
            + " sent per W)")
        .build();
    style(chart.getStyler());
    chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
    chart.getStyler().setYAxisMin(0.0);
    // Just above 100: with every bar at exactly the axis maximum, XChart labels 0 and 100 only.
    chart.getStyler().setYAxisMax(100.001);
    barLabels(chart);
    chart.getStyler().setYAxisDecimalPattern("0.##'%'");
    List<Double> rates = sweep.runs().stream().map(QuorumRun::successRatePercent).toList();
    chart.addSeries("HTTP 200 within the " + sweep.options().requestTimeout().toMillis()
            + " ms request timeout; the rest failed (e.g. 503: quorum not reached or replicas unreachable)",
        wLabels(sweep), rates).setFillColor(GREEN);
    return chart;
  }

  /** Each W's latency distribution, as the share of its successful writes per latency bin. */
  static XYChart histogramChart(Sweep sweep) {
    HistogramBins bins = HistogramBins.forSweep(sweep);
    String binWidth = formatMs(bins.binWidthMs());
    // Taller than the others: the legend below the plot has a line per W.
    XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT + 120)
        .title("Write latency distribution per write quorum W: " + runDescription(sweep))
        .xAxisTitle("write latency at the client (ms), successful writes; bins of " + binWidth
            + " ms, axis ends above the largest p99")
        .yAxisTitle("share of that W's successful writes (% per " + binWidth + " ms bin)")
        .build();
    style(chart.getStyler());
    chart.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
    chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
    chart.getStyler().setLegendLayout(Styler.LegendLayout.Vertical);
    chart.getStyler().setMarkerSize(0);
    chart.getStyler().setXAxisMin(0.0);
    chart.getStyler().setXAxisMax(bins.upperMs());
    chart.getStyler().setYAxisMin(0.0);

    for (QuorumRun run : sweep.runs()) {
      Color colour = PER_W[(run.w() - 1) % PER_W.length];
      HistogramBins.Counts counts = bins.count(run.latenciesMs());
      long total = counts.total();
      if (total == 0) {
        // A series needs points: an empty W is listed in the legend with a flat line at zero.
        chart.addSeries("W=" + run.w() + ": no successful write", new double[] {0, bins.upperMs()},
            new double[] {0, 0}).setLineColor(colour).setLineStyle(SeriesLines.DOT_DOT);
        continue;
      }
      double[] x = new double[counts.perBin().length];
      double[] y = new double[counts.perBin().length];
      for (int bin = 0; bin < x.length; bin++) {
        x[bin] = bins.centreMs(bin);
        y[bin] = 100.0 * counts.perBin()[bin] / total;
      }
      LatencyRecorder.Summary latency = run.result().latency();
      String label = String.format(Locale.ROOT, "W=%d: p50 %s ms, p99 %s ms", run.w(),
          formatMs(latency.p50Ms()), formatMs(latency.p99Ms()));
      if (counts.above() > 0) {
        label += String.format(Locale.ROOT, " (%.1f%% above %s ms not shown)",
            100.0 * counts.above() / total, formatMs(bins.upperMs()));
      }
      XYSeries series = chart.addSeries(label, x, y);
      series.setLineColor(colour);
      series.setLineWidth(2.5f);
      series.setMarker(SeriesMarkers.NONE);
    }
    return chart;
  }

  private static void addLine(CategoryChart chart, String name, List<String> ws, List<Double> values, Color colour,
      Marker marker, BasicStroke line) {
    CategorySeries series = chart.addSeries(name, ws, values);
    series.setLineColor(colour);
    series.setMarkerColor(colour);
    series.setMarker(marker);
    series.setLineStyle(line);
    series.setLineWidth(2.5f);
  }

  /** The categories of the x axis; a W where no write succeeded says so, as it has no latency to show. */
  private static List<String> wLabels(Sweep sweep) {
    return sweep.runs().stream()
        .map(run -> run.result().successes() == 0 ? run.w() + " (no write succeeded)" : String.valueOf(run.w()))
        .toList();
  }

  /** A percentile per W, null where no write succeeded (no point is drawn there). */
  private static List<Double> percentile(Sweep sweep, int percent) {
    List<Double> values = new ArrayList<>();
    for (QuorumRun run : sweep.runs()) {
      LatencyRecorder.Summary latency = run.result().latency();
      values.add(latency.count() == 0 ? null : switch (percent) {
        case 50 -> latency.p50Ms();
        case 95 -> latency.p95Ms();
        default -> latency.p99Ms();
      });
    }
    return values;
  }

  private static String runDescription(Sweep sweep) {
    WriteBench.Options options = sweep.options();
    String delay = sweep.delay()
        .map(d -> d.injected() ? "injected delay uniform " + d.label() : "no injected delay")
        .orElse("injected delay unknown");
    return String.format(Locale.ROOT, "%,d writes per W, %d clients, %s", options.requests(), options.clients(),
        delay);
  }

  private static String formatMs(double ms) {
    String text = String.format(Locale.ROOT, ms >= 100 ? "%.0f" : ms >= 10 ? "%.1f" : ms >= 1 ? "%.2f" : "%.3f", ms);
    return text.contains(".") ? text.replaceAll("0+$", "").replaceAll("\\.$", "") : text;
  }

  /** A log scale when the values span more than a factor of 30, e.g. an expected 2 ms beside a measured 500 ms. */
  static boolean needsLogScale(List<Double> positiveValues) {
    double min = positiveValues.stream().mapToDouble(Double::doubleValue).min().orElse(1);
    double max = positiveValues.stream().mapToDouble(Double::doubleValue).max().orElse(1);
    return max > 30 * min;
  }

  /** An axis maximum some 15% above the tallest bar, so that no bar runs into the top of the plot. */
  private static double headroom(double tallest) {
    return tallest <= 0 ? 1 : tallest * 1.15;
  }

  /** The value written inside the top of each bar. */
  private static void barLabels(CategoryChart chart) {
    chart.getStyler().setLabelsVisible(true);
    chart.getStyler().setLabelsPosition(0.92);
    chart.getStyler().setLabelsFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
    chart.getStyler().setLabelsFontColorAutomaticEnabled(false);
    chart.getStyler().setLabelsFontColor(Color.WHITE);
  }

  private static void style(AxesChartStyler styler) {
    styler.setChartBackgroundColor(Color.WHITE);
    styler.setPlotBackgroundColor(Color.WHITE);
    styler.setPlotBorderColor(Color.GRAY);
    styler.setPlotGridLinesColor(new Color(225, 225, 225));
    styler.setChartTitleFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
    styler.setChartTitleBoxVisible(false);
    styler.setAxisTitleFont(new Font(Font.SANS_SERIF, Font.PLAIN, 14));
    styler.setAxisTickLabelsFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
    styler.setLegendFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
    styler.setLegendBorderColor(Color.LIGHT_GRAY);
    styler.setLocale(Locale.ROOT);
    styler.setAntiAlias(true);
  }
}
