package quorumkv.tools;

import java.util.Arrays;

/**
 * Latency samples of one benchmark run, in nanoseconds, summarised into percentiles at the end.
 *
 * <p>Safe to record into from several threads: recording is a short critical section, which costs
 * far less than the HTTP request it measures.
 */
public final class LatencyRecorder {

  /** Percentiles and extremes of a run, in milliseconds; all zero when nothing was recorded. */
  public record Summary(int count, double p50Ms, double p95Ms, double p99Ms, double maxMs, double meanMs) {
    public static final Summary EMPTY = new Summary(0, 0, 0, 0, 0, 0);
  }

  private long[] samplesNanos;
  private int count;

  public LatencyRecorder() {
    this(1024);
  }

  /** Sized for the expected number of samples, so recording never has to grow the array. */
  public LatencyRecorder(int expectedSamples) {
    samplesNanos = new long[Math.max(1, expectedSamples)];
  }

  public synchronized void record(long latencyNanos) {
    if (latencyNanos < 0) {
      throw new IllegalArgumentException("latency cannot be negative: " + latencyNanos);
    }
    if (count == samplesNanos.length) {
      samplesNanos = Arrays.copyOf(samplesNanos, count * 2);
    }
    samplesNanos[count++] = latencyNanos;
  }

  public synchronized int count() {
    return count;
  }

  /** A copy of every sample recorded so far, in milliseconds, in no particular order (e.g. for a histogram). */
  public synchronized double[] samplesMillis() {
    double[] millis = new double[count];
    for (int i = 0; i < count; i++) {
      millis[i] = samplesNanos[i] / 1e6;
    }
    return millis;
  }

  /**
   * The nearest-rank percentile: the smallest sample such that at least {@code percent}% of all
   * samples are less than or equal to it, i.e. the sample at rank ceil(percent / 100 * n) in
   * ascending order (rank 1 for percent 0). It is always a sample that was actually recorded,
   * never an interpolation: of the samples 1..100, p50 is 50, p99 is 99 and p100 is 100.
   *
   * @throws IllegalStateException when nothing was recorded
   */
  public synchronized long percentileNanos(double percent) {
    if (percent < 0 || percent > 100) {
      throw new IllegalArgumentException("percentile must be within 0..100: " + percent);
    }
    if (count == 0) {
      throw new IllegalStateException("no latency samples recorded");
    }
    sortSamples();
    return samplesNanos[nearestRank(percent, count) - 1];
  }

  public synchronized Summary summarize() {
    if (count == 0) {
      return Summary.EMPTY;
    }
    sortSamples();
    long totalNanos = 0;
    for (int i = 0; i < count; i++) {
      totalNanos += samplesNanos[i];
    }
    return new Summary(
        count,
        millis(samplesNanos[nearestRank(50, count) - 1]),
        millis(samplesNanos[nearestRank(95, count) - 1]),
        millis(samplesNanos[nearestRank(99, count) - 1]),
        millis(samplesNanos[count - 1]),
        millis((double) totalNanos / count));
  }

  // Sorting in place is harmless: the order in which samples arrived carries no meaning.
  private void sortSamples() {
    Arrays.sort(samplesNanos, 0, count);
  }

  private static int nearestRank(double percent, int sampleCount) {
    // The epsilon keeps binary rounding from pushing an exact rank up by one
    // (99.9 / 100 * 1000 is 999.0000000000001 in doubles, and its ceiling would be 1000).
    int rank = (int) Math.ceil(percent / 100.0 * sampleCount - 1e-9);
    return Math.min(Math.max(rank, 1), sampleCount);
  }

  // Rounded to whole microseconds: finer digits are noise for an HTTP round trip.
  private static double millis(double nanos) {
    return Math.round(nanos / 1_000.0) / 1_000.0;
  }
}
